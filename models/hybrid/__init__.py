"""The STDP + BP hybrid: a frozen Diehl & Cook layer feeding a LIF output layer trained by BPTT.

The hidden layer is the excitatory layer of a finished Diehl & Cook run (P. U. Diehl, M. Cook
2015, Front. Comput. Neurosci. 9:99), learned without labels by STDP and frozen. The run
recorded, for its label-assignment (training) images and its test images, the spikes of that
layer in each image's 350 ms input window (``assign_spikes.parquet``, ``test_spikes.parquet``;
:func:`brainlearn.rundir.read_window_spikes`). On those spike trains, binned into ``steps``
steps per image (:func:`brainlearn.encoding.spike_trains`), a layer of 10
:class:`~brainlearn.neurons.DiscreteLIF` neurons (reset by subtraction) is trained with a
surrogate gradient (E. O. Neftci, H. Mostafa, F. Zenke 2019, IEEE Signal Process. Mag. 36:51)::

    I[t] = z[t] W + b                              z[t]: hidden spikes of step t, (N,)
    U[t] = beta U[t-1] + I[t] - theta S[t-1]       (S[t-1] detached)
    S[t] = H(U[t] - theta)                         H' replaced by the ATan surrogate

by backpropagation through time with Adam: unsupervised STDP features, then supervised
gradient-trained spiking output, the "STDP pre-training followed by supervised fine-tuning"
line of C. Lee, P. Panda, G. Srinivasan, K. Roy (2018), Front. Neurosci. 12:435 (here only the
output layer is trained; the STDP layer stays as it is). The class is the output neuron with the
most spikes, ties broken by the larger summed membrane (:func:`brainlearn.models.surrogate.network.decode`).

The input current of all steps is one matrix product ``(T, B, N) @ (N, 10)``; only the
10-neuron scan over ``T`` runs step by step.

Defaults, chosen on training images only (the N=100 run's assignment spikes: 10,000 images
trained, 5,000 others held out, 4 epochs):

- ``steps`` = 350, 1 ms bins of the 350 ms window. The excitatory neurons are refractory for
  5 ms, so no neuron spikes twice within 1 ms and every recorded spike survives the binning,
  timed to the millisecond (a step longer than the network's 0.5 ms). The e-prop readout's 50
  steps of 7 ms, where spikes can merge, held out as well (84.6 % against 84.4 %) in a tenth
  of the time; ``steps=50`` is the fast option.
- ``loss`` = ``"count_ce"``: 83.8 % held out against 81.0 % for ``"membrane_ce"`` (Adam,
  ``lr`` 1e-2; 3e-3 and 3e-2 did worse, batches of 512 too).
- ``beta`` = 0.95 (0.99: 81.0 %); a half-cosine learning-rate decay steadies the last epochs
  (constant ``lr`` made the held-out accuracy of the full training swing between 81.7 % and
  84.3 % from epoch to epoch).
- no bias: 83.0 % held out against 83.7 % with one, but 9 output spikes per image instead of
  58; with a bias the output neurons learn to fire tonically.

:func:`simulate` runs the trained layer in Brian2: a ``SpikeGeneratorGroup`` replays the binned
hidden spikes (the trainer's input, step for step) through ``Synapses`` (``v_post += w``) into
a :class:`~brainlearn.neurons.DiscreteLIF` ``NeuronGroup``; many images run side by side
(:mod:`brainlearn.lanes`). :func:`evaluate` compares its predictions with the trainer's.

>>> from brainlearn.models.hybrid import train_run, evaluate_run      # doctest: +SKIP
>>> train_run("runs/n100")            # writes runs/n100/hybrid/       # doctest: +SKIP
>>> evaluate_run("runs/n100")         # trainer, Brian2, agreement     # doctest: +SKIP

One module per job: ``spikes`` (:class:`RecordedSpikes`, :class:`DenseSpikes`), ``layer``
(:class:`HybridLayer`), ``training`` (:func:`train`, :func:`forward`), ``brian2_net``
(:func:`simulate`), ``evaluation`` (:func:`evaluate`), ``runs`` (:func:`train_run`,
:func:`evaluate_run`), ``estimator`` (:class:`HybridClassifier`), ``spec`` (the registry
entry ``stdp-bp-hybrid``). Importing this package imports neither PyTorch nor Brian2.
"""

from __future__ import annotations

import lazy_loader

# every public name, loaded from its module on first use (lazy_loader, as scikit-image does)
__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "spikes": ["RecordedSpikes", "DenseSpikes"],
    "layer": ["HybridLayer"],
    "training": ["LOSSES", "train", "forward"],
    "brian2_net": ["simulate"],
    "evaluation": ["evaluate"],
    "runs": ["SUBDIR", "train_run", "evaluate_run"],
    "estimator": ["HybridClassifier"],
})
