"""e-prop: online learning of recurrent spiking networks as Brian2 equations.

Eligibility propagation (Bellec et al. 2020, *A solution to the learning dilemma for recurrent
networks of spiking neurons*, Nat. Commun. 11:3625) factors the gradient of the loss into a
per-neuron learning signal and a per-synapse eligibility trace; here both run in Brian2
generated code, matched loss for loss against NEST's ``*_bsshslm_2020`` models.

=================  ============================================================================
module             contents
=================  ============================================================================
``params``         :class:`EpropParams` (with units, NEST's defaults), :class:`EpropWeights`
``equations``      the model as Brian2 code: neurons, eligibility traces, readout, optimizer,
                   and the order of one time step (:data:`SCHEDULE`), with the formulas
``network``        :func:`build_network`, :class:`EpropSimulation` (chunks of sequences, one
                   compiled binary), :func:`run_sequences`, :class:`EpropResult`
``tasks``          sine-wave regression and evidence accumulation as NEST's tests draw them
``nest``           :func:`nest_comparison`: NEST's test protocols, Brian2's loss beside NEST's
``runs``           :func:`train`: a task into a run directory, checkpointed and resumable
``plots``          :func:`plot_run`: the paper-style figure of a run
``trains``         spike trains for the readout: :func:`spike_trains` (recorded timing),
                   :func:`counts_to_spike_trains`, :func:`recorded_trains`
``readout``        :class:`EpropReadout`, the e-prop readout as a scikit-learn classifier
``mnist_readout``  :func:`evaluate_run`: the readout of a finished Diehl & Cook run
``spec``           the ``eprop-readout`` and ``eprop-rsnn`` entries of the model registry
=================  ============================================================================

Every name below is importable from ``brainlearn.models.eprop`` itself; the submodule is
imported on first use, so ``import brainlearn.models.eprop`` stays light (no Brian2).
"""

from __future__ import annotations

import importlib

#: public name -> the submodule that defines it
_WHERE = {
    "EpropParams": "params", "EpropWeights": "params", "initial_optimizer_state": "params",
    "SCHEDULE": "equations", "optimizer_code": "equations",
    "EpropResult": "network", "EpropSimulation": "network", "build_network": "network",
    "run_sequences": "network",
    "Task": "tasks", "TASKS": "tasks", "sine_waves": "tasks", "evidence_accumulation": "tasks",
    "sine_waves_params": "tasks", "evidence_accumulation_params": "tasks",
    "NEST_LOSSES": "nest", "TF_LOSSES": "nest", "nest_comparison": "nest",
    "write_comparison": "nest",
    "DEFAULTS": "runs", "train": "runs", "train_task": "runs", "chunk_task": "runs",
    "plot_run": "plots",
    "spike_trains": "trains", "counts_to_spike_trains": "trains",
    "recorded_trains": "trains",
    "EpropReadout": "readout",
    "evaluate_run": "mnist_readout", "load_run": "mnist_readout",
}

__all__ = list(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
