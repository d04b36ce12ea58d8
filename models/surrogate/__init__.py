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

import importlib

#: public name -> module of this package that defines it
_WHERE = {
    "SURROGATES": "gradients", "DEFAULT_SCALE": "gradients", "Surrogate": "gradients",
    "require_torch": "gradients",
    "NEURONS": "lif", "RESETS": "lif", "lif_scan": "lif", "scan_layers": "lif",
    "ENCODERS": "network", "SpikingMLP": "network", "Activity": "network", "decode": "network",
    "PRESETS": "presets", "MODEL_NAMES": "presets", "resolve_settings": "presets",
    "forward": "torch_net", "run_steps": "torch_net", "input_drive": "torch_net",
    "LOSSES": "training", "train": "training",
    "simulate": "brian2_net",
    "evaluate": "evaluation",
    "train_run": "runs", "evaluate_run": "runs", "read_run": "runs",
    "plot_history": "plots",
    "SurrogateClassifier": "estimator",
}

__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
