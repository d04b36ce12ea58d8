"""Feed-forward LIF networks trained with surrogate gradients, and the same networks in Brian2.

Training is backpropagation through time over ``steps`` steps (PyTorch, the optional
``brainlearn[torch]`` extra); the spike's Heaviside step passes a smooth surrogate derivative
backwards. The tutorials of snnTorch and SpikingJelly are reproduced by name
(:data:`~brainlearn.models.surrogate.presets.PRESETS`), and every trained network runs again
in Brian2 with the same weights (and the same input spikes) for an image-by-image check.

One module per job:

=================  ==========================================================================
``gradients``      :class:`Surrogate` (the four surrogate derivatives), :func:`require_torch`
``lif``            :func:`lif_scan`, the one LIF time-step scan (also the hybrid's)
``network``        :class:`SpikingMLP` (weights and settings), :class:`Activity`, :func:`decode`
``presets``        :data:`PRESETS`, :func:`resolve_settings`
``torch_net``      the trainer's forward pass :func:`forward` (and :func:`run_steps`)
``training``       :func:`train` (BPTT with Adam, checkpoints)
``brian2_net``     :func:`simulate`: the network in Brian2, many images side by side
``evaluation``     :func:`evaluate`: trainer and Brian2 accuracy, agreement
``runs``           :func:`train_run`, :func:`evaluate_run`: run directories
``plots``          :func:`plot_history`
``estimator``      :class:`SurrogateClassifier`, the scikit-learn estimator
``spec``           the registry entries (``surrogate-mlp``, ``spikingjelly-single``,
                   ``spikingjelly-two-layer``)
=================  ==========================================================================

>>> from brainlearn.models.surrogate import SurrogateClassifier     # doctest: +SKIP
>>> clf = SurrogateClassifier(hidden=(100,), epochs=1).fit(x_train, y_train)   # doctest: +SKIP
>>> clf.score(x_test, y_test)                                       # doctest: +SKIP

Importing this package imports neither PyTorch nor Brian2: every name loads its module on
first use.
"""

from __future__ import annotations

import lazy_loader

# every public name, loaded from its module on first use (lazy_loader, as scikit-image does)
__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "gradients": ["SURROGATES", "DEFAULT_SCALE", "Surrogate", "require_torch"],
    "lif": ["NEURONS", "RESETS", "lif_scan", "scan_layers"],
    "network": ["ENCODERS", "SpikingMLP", "Activity", "decode"],
    "presets": ["PRESETS", "MODEL_NAMES", "resolve_settings"],
    "torch_net": ["forward", "run_steps", "input_drive"],
    "training": ["LOSSES", "train"],
    "brian2_net": ["simulate"],
    "evaluation": ["evaluate"],
    "runs": ["train_run", "evaluate_run", "read_run"],
    "plots": ["plot_history"],
    "estimator": ["SurrogateClassifier"],
})
