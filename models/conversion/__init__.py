"""ANN-to-SNN conversion: a ReLU MLP or a small CNN, normalised, and run as IF neurons in Brian2.

The recipe is Rueckauer et al. (2017, Front. Neurosci. 11:682): data-based normalisation of every
layer by a percentile of its ReLU activations on training data (the 99.9th by default, ``"max"``
for the 100th, Diehl et al. 2015), biases as constant input currents, non-leaky IF neurons
(:class:`brainlearn.neurons.IFNeuron`, threshold 1) with reset by subtraction (reset to zero as an
ablation), and analog (constant current) or Poisson input. The output is decoded by spike count
(or by the membrane potential of a non-spiking copy of the output layer).

Two architectures go through the same steps; the CNN is a second network, not a second
pipeline:

=====================  =========================================================================
module                 what it does
=====================  =========================================================================
``ann``                the MLP (scikit-learn) and the CNN (PyTorch): definitions and training
``normalise``          :func:`convert`: percentile normalisation of either network
``unroll``             the CNN's convolutions and pools as explicit synapses
``network``            :func:`simulate`: the IF network in Brian2 (many examples side by side)
``replica``            :func:`simulate_torch`: the CNN's IF network clock-driven in PyTorch
``rate``               :func:`rate_model`: the rate limit, run in Brian2
``evaluation``         :func:`evaluate`: the accuracy table at every ``T``
``plots``              :func:`plot_accuracy`
``runs``               run directories (:func:`train_run`, :func:`evaluate_run`)
``estimator``          :class:`ConvertedMLPClassifier`, :class:`ConvertedCNNClassifier`
``spec``               the registry entries ``converted-mlp`` and ``converted-cnn``
=====================  =========================================================================

>>> from brainlearn.models.conversion import train_mlp, evaluate
>>> mlp = train_mlp(x_train, y_train, hidden=(500,), epochs=20, schedule="cosine", seed=0)
>>> table = evaluate(mlp, x_test, y_test, x_norm=x_train[:10000], steps=(8, 16, 32, 64))

The names below are imported on first use, so that importing the package (as the model
registry does) loads neither Brian2, scikit-learn nor PyTorch.
"""

from __future__ import annotations

import lazy_loader

# every public name, loaded from its module on first use (lazy_loader, as scikit-image does)
__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "ann": ["MLP", "CNN", "SCHEDULES", "MLP_SCHEDULES", "mlp_classifier", "mlp_from_classifier", "epoch_learning_rate", "fit_classifier", "train_mlp", "shift_images", "train_cnn"],
    "normalise": ["ConvertedNet", "convert", "rescale", "parse_norm"],
    "unroll": ["ConvertedCNN", "SparseLayer", "conv_synapses", "pool_synapses", "fold_pools"],
    "network": ["SimulationResult", "simulate", "build_network", "INPUTS", "RESETS"],
    "replica": ["simulate_torch"],
    "rate": ["rate_network", "rate_model", "compare_rates"],
    "evaluation": ["evaluate", "READOUTS", "SIMULATORS"],
    "plots": ["plot_accuracy"],
    "runs": ["MLPRunConfig", "CNNRunConfig", "train_run", "evaluate_run", "load_ann"],
    "estimator": ["ConvertedMLPClassifier", "ConvertedCNNClassifier"],
})
