"""e-prop: online learning of recurrent spiking networks as Brian2 equations.

Eligibility propagation (Bellec et al. 2020, *A solution to the learning dilemma for recurrent
networks of spiking neurons*, Nat. Commun. 11:3625) factors the gradient of the loss into a
per-neuron learning signal and a per-synapse eligibility trace; here both run in Brian2
generated code, matched loss for loss against NEST's ``*_bsshslm_2020`` models and its newer
``eprop_iaf``/``eprop_readout`` generation.

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
``nest_live``      :func:`nest_losses`: the same tasks simulated by NEST itself (optional)
``gen2023``        NEST's newer generation (``eprop_iaf``, ``eprop_iaf_adapt``,
                   ``eprop_readout``): :func:`run_2023`, :func:`comparison_2023`
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

import lazy_loader

# every public name, loaded from its module on first use (lazy_loader, as scikit-image does)
__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "params": ["EpropParams", "EpropWeights", "initial_optimizer_state"],
    "equations": ["SCHEDULE", "optimizer_code"],
    "network": ["EpropResult", "EpropSimulation", "build_network", "run_sequences"],
    "tasks": ["Task", "TASKS", "sine_waves", "evidence_accumulation", "sine_waves_params", "evidence_accumulation_params"],
    "nest": ["NEST_LOSSES", "TF_LOSSES", "nest_comparison", "write_comparison",
             "largest_difference"],
    "nest_live": ["NestNotInstalled", "nest_installed", "require_nest", "nest_losses"],
    "gen2023": ["Eprop2023Params", "sine_waves_2023", "run_2023", "comparison_2023",
                "PROTOCOLS_2023", "NEST_LOSSES_2023"],
    "runs": ["DEFAULTS", "train", "train_task", "chunk_task"],
    "plots": ["plot_run"],
    "trains": ["spike_trains", "counts_to_spike_trains", "recorded_trains"],
    "readout": ["EpropReadout"],
    "mnist_readout": ["evaluate_run", "load_run"],
})
