"""NEST itself as the oracle: run a brainlearn e-prop task in NEST and return its losses.

:func:`nest_losses` builds the network of NEST's own e-prop tests (nest-simulator,
``testsuite/pytests/synapses/test_eprop_bsshslm_2020_plasticity.py`` for the first generation,
``test_eprop_plasticity.py`` for the newer one) from a :class:`~brainlearn.models.eprop.tasks.Task`
(the same weights, input spikes and targets brainlearn simulates), simulates it in NEST and
computes the loss per iteration as those tests do. NEST is optional (``pip install
"brainlearn[nest]"``); without it :func:`require_nest` raises :class:`NestNotInstalled` with
one line saying so.
"""

from __future__ import annotations

import os

import numpy as np
from brian2 import Hz, ms

from brainlearn.models.eprop.tasks import Task

__all__ = ["NestNotInstalled", "INSTALL_HINT", "nest_installed", "require_nest", "nest_losses",
           "spike_generator_params",
           "task_loss"]

#: how to get NEST (the ``nest`` extra pins the version brainlearn is checked against)
INSTALL_HINT = 'pip install "brainlearn[nest]"'

# NEST's layout: spikes enter one step after the generator (parrot neurons), every
# connection has a 1-step delay; the recorded readout starts at the total offset
_OFFSET_GEN = 1


class NestNotInstalled(RuntimeError):
    """NEST (the ``nest-simulator`` package) cannot be imported."""


def nest_installed() -> bool:
    """Whether ``import nest`` works (without importing it when it is absent)."""
    import importlib.util

    return importlib.util.find_spec("nest") is not None


def require_nest():
    """Import and return NEST, quietly; :class:`NestNotInstalled` (one line) without it."""
    if not nest_installed():
        raise NestNotInstalled(f"NEST is not installed; install it with: {INSTALL_HINT}")
    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    return nest


def task_loss(readout: np.ndarray, target: np.ndarray, steps: int, window: int,
              loss: str) -> np.ndarray:
    """Loss per sequence from readout and target signals, as NEST's tests compute it.

    ``readout`` and ``target`` are ``(n_out, n_sequences * steps)``; only the last ``window``
    steps of each sequence count:

    * ``"mse"``: ``1/2 mean_k sum_t (y_k[t] - y*_k[t])^2``;
    * ``"cross_entropy"``: ``-1/T_w sum_t sum_k pi*_k[t] log pi_k[t]``.

    Returns
    -------
    ndarray (n_sequences,)
    """
    n_out = readout.shape[0]
    y = readout.reshape(n_out, -1, steps)[:, :, -window:]
    t = target.reshape(n_out, -1, steps)[:, :, -window:]
    if loss == "mse":
        return 0.5 * np.mean(np.sum((y - t) ** 2, axis=2), axis=0)
    return -np.mean(np.sum(t * np.log(y), axis=0), axis=1)


def nest_losses(task: Task, generation: str = "bsshslm_2020") -> np.ndarray:
    """Simulate ``task`` in NEST; the loss per iteration (mean over the batch).

    Parameters
    ----------
    task : ~brainlearn.models.eprop.tasks.Task
        Parameters, initial weights, input spikes and targets (as brainlearn simulates them).
    generation : str
        ``"bsshslm_2020"`` (``eprop_iaf_bsshslm_2020`` ..., updates at the end of each batch)
        or ``"2023"`` (``eprop_iaf``, ``eprop_iaf_adapt``, ``eprop_readout``,
        ``eprop_synapse``: updates at presynaptic spikes).

    Returns
    -------
    ndarray (n_iterations,)
    """
    nest = require_nest()
    builders = {"bsshslm_2020": _build_bsshslm_2020, "2023": _build_2023}
    if generation not in builders:
        raise ValueError(f"generation must be 'bsshslm_2020' or '2023', got {generation!r}")
    build = builders[generation]
    p = task.params
    nest.ResetKernel()
    nest.set(print_time=False, resolution=float(p.dt / ms), total_num_virtual_procs=1,
             rng_seed=1)
    mm_out, sim_steps = build(nest, task)
    nest.Simulate(float(sim_steps))
    ev = mm_out.get("events")
    senders = ev["senders"]
    n_steps = task.stim.shape[0]
    readout = np.array([ev["readout_signal"][senders == s] for s in np.unique(senders)])
    target = np.array([ev["target_signal"][senders == s] for s in np.unique(senders)])
    readout, target = readout[:, :n_steps], target[:, :n_steps]
    per_seq = task_loss(readout, target, p.steps, p.window_steps, p.loss)
    return per_seq.reshape(-1, p.batch_size).mean(axis=1)


def spike_generator_params(stim: np.ndarray, offset: int = _OFFSET_GEN) -> list[dict]:
    """``spike_generator`` parameters: the steps where ``stim`` is nonzero, plus ``offset``."""
    timeline = np.arange(stim.shape[0], dtype=float) + offset
    return [{"spike_times": timeline[stim[:, i] > 0].astype(np.float32)}
            for i in range(stim.shape[1])]


def _recorders(nest, offset: int, n_steps: int):
    """The readout multimeter of NEST's tests (one sample per step of the task)."""
    return nest.Create("multimeter", params={
        "interval": 1.0, "record_from": ["readout_signal", "target_signal"],
        "start": float(offset), "stop": float(offset + n_steps)})


def _targets(nest, task: Task, offset: int):
    """``step_rate_generator`` per readout holding the target of every step from ``offset``."""
    n_steps = task.target.shape[0]
    gen = nest.Create("step_rate_generator", task.params.n_out)
    times = np.arange(n_steps, dtype=float) + offset
    gen.set([{"amplitude_times": times, "amplitude_values": task.target[:, k]}
             for k in range(task.params.n_out)])
    return gen


def _rec_params_bsshslm_2020(p, adaptive: bool) -> dict:
    """Recurrent-neuron parameters of ``eprop_iaf(_adapt)_bsshslm_2020`` from ``p``."""
    out = {"C_m": 1.0, "c_reg": p.c_reg, "E_L": 0.0, "f_target": float(p.f_target / Hz),
           "I_e": 0.0, "regular_spike_arrival": bool(p.regular_spike_arrival),
           "surrogate_gradient_function": "piecewise_linear",
           "surrogate_gradient_height": p.gamma / p.v_th,
           "surrogate_gradient_width": abs(p.v_th), "t_ref": float(p.t_ref / ms),
           "tau_m": float(p.tau_m / ms), "V_m": 0.0, "V_th": p.v_th}
    if adaptive:
        out.update(adapt_tau=float(p.tau_adapt / ms), adaptation=0.0, adapt_beta=p.adapt_beta)
    return out


def _build_bsshslm_2020(nest, task: Task):
    """NEST's first-generation network (``*_bsshslm_2020``) for ``task``."""
    p, w = task.params, task.weights
    n_steps = task.stim.shape[0]
    offset = _OFFSET_GEN + 3          # delays input->rec, rec->out, out->normalisation
    nest.set(eprop_learning_window=float(p.window_steps), eprop_reset_neurons_on_update=True,
             eprop_update_interval=float(p.steps))
    gen_in = nest.Create("spike_generator", p.n_in)
    nrns_in = nest.Create("parrot_neuron", p.n_in)
    n_lif = p.n_rec - p.n_adaptive
    nrns_rec = nest.Create("eprop_iaf_bsshslm_2020", n_lif, _rec_params_bsshslm_2020(p, False))
    if p.n_adaptive:
        nrns_rec += nest.Create("eprop_iaf_adapt_bsshslm_2020", p.n_adaptive,
                                _rec_params_bsshslm_2020(p, True))
    nrns_out = nest.Create("eprop_readout_bsshslm_2020", p.n_out, {
        "C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "tau_m": float(p.tau_out / ms), "V_m": 0.0,
        "loss": "mean_squared_error" if p.loss == "mse" else "cross_entropy",
        "regular_spike_arrival": bool(p.readout_regular_arrival)})
    optimizer = {"type": p.optimizer, "batch_size": int(p.batch_size), "eta": p.eta,
                 "Wmin": p.w_min, "Wmax": p.w_max}
    if p.optimizer == "adam":
        optimizer.update(beta_1=p.adam_beta1, beta_2=p.adam_beta2, epsilon=p.adam_epsilon)
    nest.SetDefaults("eprop_synapse_bsshslm_2020", {
        "optimizer": optimizer, "average_gradient": bool(p.average_gradient)})
    syn = {"synapse_model": "eprop_synapse_bsshslm_2020", "delay": 1.0,
           "tau_m_readout": float(p.tau_out / ms)}
    all_to_all = {"rule": "all_to_all", "allow_autapses": False}
    static = {"synapse_model": "static_synapse", "delay": 1.0}
    _connect(nest, (gen_in, nrns_in, nrns_rec, nrns_out), w, syn, all_to_all, static,
             "eprop_learning_signal_connection_bsshslm_2020")
    nest.Connect(_targets(nest, task, offset), nrns_out, {"rule": "one_to_one"},
                 {"synapse_model": "rate_connection_delayed", "delay": 1.0, "receptor_type": 2})
    if p.loss == "cross_entropy":
        nest.Connect(nrns_out, nrns_out, all_to_all, {
            "synapse_model": "rate_connection_delayed", "delay": 1.0, "receptor_type": 1,
            "weight": 1.0})
    mm_out = _recorders(nest, offset, n_steps)
    nest.Connect(mm_out, nrns_out, all_to_all, static)
    gen_in.set(spike_generator_params(task.stim))
    return mm_out, n_steps + offset + 1


def _connect(nest, groups: tuple, w, syn: dict, all_to_all: dict, static: dict,
             feedback_model: str) -> None:
    """The connections both generations share: generators to parrots one to one (``static``),
    input, recurrent and output e-prop synapses (``syn``) with ``w``'s weights, and the
    learning signal from the readout back to the recurrent cells through ``feedback_model``."""
    gen_in, nrns_in, nrns_rec, nrns_out = groups
    nest.Connect(gen_in, nrns_in, {"rule": "one_to_one"}, static)
    nest.Connect(nrns_in, nrns_rec, all_to_all, {**syn, "weight": _f(w.w_in)})
    nest.Connect(nrns_rec, nrns_rec, all_to_all, {**syn, "weight": _f(w.w_rec)})
    nest.Connect(nrns_rec, nrns_out, all_to_all, {**syn, "weight": _f(w.w_out)})
    nest.Connect(nrns_out, nrns_rec, all_to_all, {
        "synapse_model": feedback_model, "delay": 1.0, "weight": _f(w.feedback)})


def _f(matrix: np.ndarray) -> np.ndarray:
    """A weight matrix as NEST's tests pass it (float32, [post, pre])."""
    return np.asarray(matrix, dtype=np.float32)


def _rec_params_2023(p) -> dict:
    """Recurrent-neuron parameters of ``eprop_iaf`` / ``eprop_iaf_adapt`` from ``p``."""
    out = {"C_m": 1.0, "c_reg": p.c_reg, "E_L": 0.0, "eprop_isi_trace_cutoff": p.isi_cutoff,
           "f_target": float(p.f_target / Hz), "flush_event_send_interval": float(p.steps),
           "I_e": 0.0, "kappa": p.kappa, "kappa_reg": p.kappa_reg,
           "surrogate_gradient_function": "piecewise_linear",
           "surrogate_gradient_height": p.gamma, "surrogate_gradient_width": p.width,
           "t_ref": float(p.t_ref / ms), "tau_m": float(p.tau_m / ms), "V_m": 0.0,
           "V_th": p.v_th}
    if p.adapt_beta:
        out.update(adapt_beta=p.adapt_beta, adapt_tau=float(p.tau_adapt / ms),
                   adaptation=0.0)
    return out


def _build_2023(nest, task: Task):
    """NEST's newer-generation network (``eprop_iaf(_adapt)``, ``eprop_readout``) for ``task``."""
    p, w = task.params, task.weights
    n_steps = task.stim.shape[0]
    offset = _OFFSET_GEN + 1          # delay input->rec
    model = "eprop_iaf_adapt" if p.adapt_beta else "eprop_iaf"
    gen_in = nest.Create("spike_generator", p.n_in)
    nrns_in = nest.Create("parrot_neuron", p.n_in)
    nrns_rec = nest.Create(model, p.n_rec, _rec_params_2023(p))
    nrns_out = nest.Create("eprop_readout", p.n_out, {
        "C_m": 1.0, "E_L": 0.0, "eprop_isi_trace_cutoff": p.isi_cutoff, "I_e": 0.0,
        "tau_m": float(p.tau_out / ms), "V_m": 0.0})
    gen_window = nest.Create("step_rate_generator")
    gen_window.set(amplitude_times=[float(offset)], amplitude_values=[1.0])
    optimizer = {"type": p.optimizer, "batch_size": 1, "eta": p.eta, "optimize_each_step": True,
                 "Wmin": p.w_min, "Wmax": p.w_max}
    if p.optimizer == "adam":
        optimizer.update(beta_1=p.adam_beta1, beta_2=p.adam_beta2, epsilon=p.adam_epsilon)
    nest.SetDefaults("eprop_synapse", {"optimizer": optimizer})
    syn = {"synapse_model": "eprop_synapse", "delay": 1.0}
    all_to_all = {"rule": "all_to_all", "allow_autapses": False}
    static = {"synapse_model": "static_synapse", "delay": 1.0}
    rate = {"synapse_model": "rate_connection_delayed", "delay": 1.0}
    _connect(nest, (gen_in, nrns_in, nrns_rec, nrns_out), w, syn, all_to_all, static,
             "eprop_learning_signal_connection")
    nest.Connect(_targets(nest, task, offset), nrns_out, {"rule": "one_to_one"},
                 {**rate, "receptor_type": 2})
    nest.Connect(gen_window, nrns_out, all_to_all, {**rate, "receptor_type": 1})
    mm_out = _recorders(nest, offset, n_steps)
    nest.Connect(mm_out, nrns_out, all_to_all, static)
    gen_in.set(spike_generator_params(task.stim))
    return mm_out, n_steps + offset + 3
