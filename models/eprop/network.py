"""An e-prop network in Brian2: build it, run chunks of sequences, read the weights back.

The equations are in :mod:`brainlearn.models.eprop.equations` (Bellec et al. 2020, Nat.
Commun. 11:3625; NEST's ``*_bsshslm_2020`` models). Everything runs in Brian2 generated code,
so a long training is one ``cpp_standalone`` binary re-executed in chunks with ``run_args``
(:class:`EpropSimulation`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from brian2 import (
    Network,
    NeuronGroup,
    SpikeMonitor,
    StateMonitor,
    Synapses,
    TimedArray,
    defaultclock,
    device,
)

from brainlearn.devices import use_device
from brainlearn.models.eprop.equations import (
    ELIGIBILITY_ACCUMULATE,
    ELIGIBILITY_CLOSE,
    ELIGIBILITY_EQUATIONS,
    ELIGIBILITY_TRACES,
    INPUT_EQUATIONS,
    INPUT_STEP,
    READOUT_CLOSE,
    READOUT_EQUATIONS,
    READOUT_ERROR,
    READOUT_LOSS,
    READOUT_ORDER,
    READOUT_PI,
    READOUT_RESET_SEQ,
    READOUT_STEP,
    READOUT_SYN_ACCUMULATE,
    READOUT_SYN_CLOSE,
    READOUT_SYN_EQUATIONS,
    REC_CLOSE,
    REC_EQUATIONS,
    REC_ORDER,
    REC_RESET,
    REC_RESET_SEQ,
    REC_STEP,
    REC_THRESHOLD,
    SCHEDULE,
    optimizer_code,
    pairs,
)
from brainlearn.models.eprop.params import EpropParams, EpropWeights, initial_optimizer_state
from brainlearn.standalone import run_standalone

__all__ = ["EpropResult", "EpropSimulation", "build_network", "run_sequences"]


def build_network(params: EpropParams, weights: EpropWeights, n_sequences: int,
                  stim: np.ndarray | None = None, target: np.ndarray | None = None,
                  record: bool = True, record_states: bool = False) -> dict:
    """Create the Brian2 objects of an e-prop network on the current device.

    Parameters
    ----------
    params : EpropParams
    weights : EpropWeights
        Initial weights and optimizer state.
    n_sequences : int
        Sequences the network will run (the run lasts ``n_sequences * steps + 1`` steps: the
        extra step closes the last sequence and applies its update).
    stim : ndarray (n_sequences * steps, n_in), optional
        Input spikes (0/1) per step; zeros if omitted (set later, e.g. through ``run_args``).
    target : ndarray (n_sequences * steps, n_out), optional
        Target output per step.
    record : bool
        Record recurrent and input spikes and the readout ``yhat`` every step.
    record_states : bool
        Also record ``v``, ``A``, ``psi`` of the recurrent neurons and ``y``.

    Returns
    -------
    dict
        ``network``, the groups (``inp``, ``rec``, ``out``), synapses (``s_in``, ``s_rec``,
        ``s_out``, ``s_fb``), the TimedArrays (``stim``, ``target``) and the monitors.
    """
    p = params
    steps = p.steps * n_sequences
    stim_ta, target_ta = _tables(p, n_sequences, stim, target)
    ns = dict(p.constants(), stim=stim_ta, target=target_ta)
    inp, rec, out = _neuron_groups(p, weights, ns)
    objects = [inp, rec, out]
    syn = _eligibility_synapses(p, weights, ns, inp, rec, objects)
    syn.update(_readout_synapses(p, weights, ns, rec, out, objects))
    _neuron_operations(p, inp, rec, out, objects)
    result = {"inp": inp, "rec": rec, "out": out, "stim": stim_ta, "target": target_ta, **syn}
    result.update(_monitors(p, inp, rec, out, objects, record, record_states))
    result["network"] = Network(objects)
    result["duration"] = (steps + 1) * p.dt
    return result


def _tables(p: EpropParams, n_sequences: int, stim: np.ndarray | None,
            target: np.ndarray | None) -> tuple[TimedArray, TimedArray]:
    """The input and target TimedArrays (one row per step, one extra step at the end)."""
    steps = p.steps * n_sequences
    stim_tab = np.zeros((steps + 1, p.n_in))
    if stim is not None:
        stim_tab[:steps] = stim
    # row t of the target table is the target of the readout of step t-1 (see READOUT_ERROR)
    target_tab = np.zeros((steps + 1, p.n_out))
    if target is not None:
        target_tab[1:] = target
    return (TimedArray(stim_tab, dt=p.dt, name="eprop_stim"),
            TimedArray(target_tab, dt=p.dt, name="eprop_target"))


def _op(objects: list, group, code: str, key: str, every=None) -> None:
    """Add ``code`` as a ``run_regularly`` of ``group`` at its :data:`SCHEDULE` slot."""
    when, order = SCHEDULE[key]
    kwargs = {"dt": every} if every is not None else {}
    objects.append(group.run_regularly(code, when=when, order=order,
                                       name=f"{group.name}_{key}", **kwargs))


def _neuron_groups(p: EpropParams, weights: EpropWeights, ns: dict) -> tuple:
    """The input, recurrent (LIF, then ALIF) and readout groups."""
    dt = p.dt
    inp = NeuronGroup(p.n_in, INPUT_EQUATIONS, threshold="x > 0.5", reset="", namespace=ns,
                      dt=dt, name="eprop_input", order=REC_ORDER)
    rec = NeuronGroup(p.n_rec, REC_EQUATIONS, threshold=REC_THRESHOLD, reset=REC_RESET,
                      namespace=ns, dt=dt, name="eprop_rec", order=REC_ORDER)
    rec.beta = np.r_[np.zeros(p.n_rec - p.n_adaptive), np.full(p.n_adaptive, p.adapt_beta)]
    rec.seq0 = weights.sequences
    out_eqs = READOUT_EQUATIONS + ("norm : 1\n" if p.loss == "cross_entropy" else "")
    out = NeuronGroup(p.n_out, out_eqs, namespace=ns, dt=dt, name="eprop_out",
                      order=READOUT_ORDER)
    return inp, rec, out


def _eligibility_synapses(p: EpropParams, weights: EpropWeights, ns: dict, inp, rec,
                          objects: list) -> dict:
    """Input and recurrent synapses with their eligibility traces and optimizer."""
    inp_summed = "I_in_post = w*x_pre : 1 (summed)"
    rec_summed = "I_rec_post = w*z_pre : 1 (summed)"
    optimizer = optimizer_code(p, "seq0_post")
    syn = {}
    for key, pre, summed, w, autapses in (("s_in", inp, inp_summed, weights.w_in, True),
                                           ("s_rec", rec, rec_summed, weights.w_rec, False)):
        s = Synapses(pre, rec, ELIGIBILITY_EQUATIONS.format(summed=summed), namespace=ns,
                     dt=p.dt, name=f"eprop_{key}")
        i, j = pairs(pre.N, rec.N, autapses)
        s.connect(i=i, j=j)
        s.w = w[j, i]
        name = key[2:]
        if p.optimizer == "adam" and f"m_{name}" in weights.adam:
            s.m = weights.adam[f"m_{name}"][j, i]
            s.vv = weights.adam[f"v_{name}"][j, i]
        _op(objects, s, ELIGIBILITY_ACCUMULATE, "accumulate")
        _op(objects, s, ELIGIBILITY_CLOSE + optimizer, "close_synapses", p.sequence)
        _op(objects, s, ELIGIBILITY_TRACES, "traces")
        syn[key] = s
        objects.append(s)
    return syn


def _readout_synapses(p: EpropParams, weights: EpropWeights, ns: dict, rec, out,
                      objects: list) -> dict:
    """Readout weights (with their optimizer), random feedback, the softmax normalisation."""
    dt = p.dt
    out_summed = "L_pre = w*err_post : 1 (summed)" if p.feedback == "symmetric" else ""
    s_out = Synapses(rec, out, READOUT_SYN_EQUATIONS.format(summed=out_summed),
                     on_pre="I_out_post += w", namespace=ns, dt=dt, name="eprop_s_out")
    i, j = pairs(p.n_rec, p.n_out)
    s_out.connect(i=i, j=j)
    s_out.w = weights.w_out[j, i]
    if p.optimizer == "adam" and "m_out" in weights.adam:
        s_out.m = weights.adam["m_out"][j, i]
        s_out.vv = weights.adam["v_out"][j, i]
    _op(objects, s_out, READOUT_SYN_ACCUMULATE, "accumulate")
    _op(objects, s_out, READOUT_SYN_CLOSE + optimizer_code(p, "seq0_pre"), "close_synapses",
        p.sequence)
    objects.append(s_out)
    syn = {"s_out": s_out}
    if p.feedback == "random":
        s_fb = Synapses(out, rec, "B : 1 (constant)\nL_post = B*err_pre : 1 (summed)",
                        namespace=ns, dt=dt, name="eprop_s_fb")
        i, j = pairs(p.n_out, p.n_rec)
        s_fb.connect(i=i, j=j)
        s_fb.B = weights.feedback[j, i]
        objects.append(s_fb)
        syn["s_fb"] = s_fb
    if p.loss == "cross_entropy":
        s_norm = Synapses(out, out, "norm_post = exp(y_pre) : 1 (summed)", namespace=ns,
                          dt=dt, name="eprop_s_norm")
        s_norm.connect()
        objects.append(s_norm)
    return syn


def _neuron_operations(p: EpropParams, inp, rec, out, objects: list) -> None:
    """The per-step and per-sequence code of the three groups, in :data:`SCHEDULE` order."""
    period = p.sequence
    _op(objects, out, "\n".join([READOUT_PI[p.loss], READOUT_LOSS[p.loss], READOUT_ERROR]),
        "readout_error")
    _op(objects, out, READOUT_CLOSE, "close_neurons", period)
    _op(objects, out, READOUT_RESET_SEQ, "reset", period)
    _op(objects, out, READOUT_STEP, "readout")
    _op(objects, rec, REC_CLOSE, "close_neurons", period)
    _op(objects, rec, REC_RESET_SEQ, "reset", period)
    _op(objects, rec, REC_STEP, "neurons")
    _op(objects, inp, "zbar = 0", "reset", period)
    _op(objects, inp, INPUT_STEP, "neurons")


def _monitors(p: EpropParams, inp, rec, out, objects: list, record: bool,
              record_states: bool) -> dict:
    """The per-sequence loss and output; spikes, readout and neuron states when asked."""
    result = {}
    # per-sequence loss and mean output over the window, read after each sequence's close
    mon_seq = StateMonitor(out, ["loss_seq", "pi_seq"], record=True, dt=p.sequence,
                           when="groups", order=SCHEDULE["reset"][1], name="eprop_mon_seq")
    objects.append(mon_seq)
    result["mon_seq"] = mon_seq
    if record:
        result["spikes_rec"] = SpikeMonitor(rec, name="eprop_spikes_rec")
        result["spikes_in"] = SpikeMonitor(inp, name="eprop_spikes_in")
        result["mon_out"] = StateMonitor(out, ["y", "yhat"], record=True, when="end", order=0,
                                         name="eprop_mon_out")
        objects += [result["spikes_rec"], result["spikes_in"], result["mon_out"]]
    if record_states:
        # the state after the neuron update of each step (before the threshold)
        result["mon_rec"] = StateMonitor(rec, ["v", "A", "psi"], record=True, when="groups",
                                         order=SCHEDULE["neurons"][1] + 1, name="eprop_mon_rec")
        objects.append(result["mon_rec"])
    return result


@dataclass
class EpropResult:
    """What a run of sequences returns.

    Attributes
    ----------
    weights : EpropWeights
        Weights and optimizer state after the run.
    loss : ndarray (n_sequences,)
        Loss of every sequence (MSE: ``0.5 sum_t (y - y*)^2``; cross entropy: mean over the
        learning window of ``-sum_k pi*_k log pi_k``), as NEST's tests define them.
    output : ndarray (n_sequences, n_out)
        Readout ``yhat`` averaged over the learning window.
    wall_seconds : float
    records : dict
        Spikes and readout traces (when recorded): ``rec_i, rec_t`` (step), ``in_i, in_t``,
        ``y`` and ``yhat`` (steps x n_out, the readout of each step).
    """

    weights: EpropWeights
    loss: np.ndarray
    output: np.ndarray
    wall_seconds: float
    records: dict = field(default_factory=dict)

    def error(self, labels: np.ndarray) -> np.ndarray:
        """Classification error per sequence (argmax of the window-averaged output)."""
        return (np.argmax(self.output, axis=1) != np.asarray(labels)).astype(float)


def _read(objs: dict, params: EpropParams, weights: EpropWeights, n_sequences: int,
          wall: float, record: bool) -> EpropResult:
    p = params
    new = weights.copy()
    for key, name in (("s_in", "in"), ("s_rec", "rec"), ("s_out", "out")):
        s = objs[key]
        i, j = np.asarray(s.i[:]), np.asarray(s.j[:])
        mat = getattr(new, f"w_{name}")
        mat[j, i] = np.asarray(s.w_[:])
        if p.optimizer == "adam":
            for moment, var in (("m", "m_"), ("v", "vv_")):
                arr = new.adam.setdefault(f"{moment}_{name}", np.zeros_like(mat))
                arr[j, i] = np.asarray(getattr(s, var)[:])
    new.sequences = weights.sequences + n_sequences
    new.updates = new.sequences // p.batch_size
    mon = objs["mon_seq"]
    loss = np.asarray(mon.loss_seq_[:])[:, 1:n_sequences + 1].sum(axis=0)
    output = np.asarray(mon.pi_seq_[:])[:, 1:n_sequences + 1].T
    records = {}
    if record:
        steps = n_sequences * p.steps
        dt = float(p.dt)
        sr, si = objs["spikes_rec"], objs["spikes_in"]
        records["rec_i"] = np.asarray(sr.i[:])
        records["rec_t"] = np.round(np.asarray(sr.t_[:]) / dt).astype(int)
        records["in_i"] = np.asarray(si.i[:])
        records["in_t"] = np.round(np.asarray(si.t_[:]) / dt).astype(int)
        mo = objs["mon_out"]
        records["y"] = np.asarray(mo.y_[:]).T[:steps]
        records["yhat"] = np.asarray(mo.yhat_[:]).T[1:steps + 1]   # yhat of step t sits at t+1
        keep = records["rec_t"] < steps
        records["rec_i"], records["rec_t"] = records["rec_i"][keep], records["rec_t"][keep]
        keep = records["in_t"] < steps
        records["in_i"], records["in_t"] = records["in_i"][keep], records["in_t"][keep]
    if "mon_rec" in objs:
        mr = objs["mon_rec"]
        steps = n_sequences * p.steps
        for var in ("v", "A", "psi"):
            records[var] = np.asarray(getattr(mr, var + "_")[:]).T[:steps]
    return EpropResult(new, loss, output, wall, records)


class EpropSimulation:
    """An e-prop network that runs chunks of sequences, state carried between chunks.

    Under ``cpp_standalone`` the network is generated and compiled once, and every chunk is
    one execution of the binary with the chunk's inputs, targets, weights and optimizer state
    passed through ``run_args``; in runtime mode the network is rebuilt for every chunk.

    Parameters
    ----------
    params : EpropParams
    n_sequences : int
        Sequences per chunk (a multiple of the batch size).
    device_name : str
        ``"runtime"`` or ``"cpp_standalone"``.
    directory : path, optional
        Build directory (standalone).
    record : bool
        Record spikes and readout traces.
    record_states : bool
        Record ``v``, ``A``, ``psi`` too (runtime tests).
    """

    def __init__(self, params: EpropParams, n_sequences: int, device_name: str = "runtime",
                 directory: str | Path | None = None, record: bool = True,
                 record_states: bool = False) -> None:
        if n_sequences % params.batch_size:
            raise ValueError(f"sequences per chunk ({n_sequences}) must be a multiple of the "
                             f"batch size ({params.batch_size})")
        if device_name not in ("runtime", "cpp_standalone"):
            raise ValueError(f"device must be 'runtime' or 'cpp_standalone', got {device_name!r}")
        self.params = params
        self.n_sequences = n_sequences
        self.device_name = device_name
        self.directory = Path(directory) if directory is not None else None
        self.record = record
        self.record_states = record_states
        self.objects: dict | None = None
        self.compile_seconds = 0.0
        # the device this simulation holds: entered by the first run, given back by close()
        self._device = contextlib.ExitStack()

    def _compile(self, weights: EpropWeights) -> None:
        start = time.perf_counter()
        if self.directory is None:
            raise ValueError("cpp_standalone needs a build directory")
        self._device.enter_context(use_device("cpp_standalone", self.directory))
        try:
            defaultclock.dt = self.params.dt
            self.objects = build_network(self.params, initial_optimizer_state(weights),
                                         self.n_sequences, record=self.record)
            device.apply_run_args()
            self.objects["network"].run(self.objects["duration"], report=None, namespace={})
            device.build(directory=str(self.directory), compile=True, run=False,
                         with_output=False)
        except BaseException:
            self.close()  # a failed build must not leave the standalone device active
            raise
        self.compile_seconds = time.perf_counter() - start

    def run(self, weights: EpropWeights, stim: np.ndarray, target: np.ndarray) -> EpropResult:
        """Run one chunk from ``weights``.

        Parameters
        ----------
        weights : EpropWeights
        stim : ndarray (n_sequences * steps, n_in)
            Input spikes (0/1) of the chunk.
        target : ndarray (n_sequences * steps, n_out)
            Target output per step.
        """
        p = self.params
        steps = self.n_sequences * p.steps
        stim = np.asarray(stim, dtype=float)
        target = np.asarray(target, dtype=float)
        if stim.shape != (steps, p.n_in) or target.shape != (steps, p.n_out):
            raise ValueError(f"stim must be ({steps}, {p.n_in}) and target ({steps}, "
                             f"{p.n_out}), got {stim.shape} and {target.shape}")
        if p.optimizer == "adam" and not weights.adam:
            weights = initial_optimizer_state(weights)
        if self.device_name != "runtime" and self.objects is None:
            self._compile(weights)
        start = time.perf_counter()
        if self.device_name == "runtime":
            self.close()  # a fresh runtime device for every run, reset by close()
            self._device.enter_context(use_device("runtime"))
            defaultclock.dt = p.dt
            objs = self.objects = build_network(p, weights, self.n_sequences, stim, target,
                                                record=self.record,
                                                record_states=self.record_states)
            objs["network"].run(objs["duration"], report=None, namespace={})
        else:
            objs = self.objects
            stim_tab = np.zeros((steps + 1, p.n_in))
            stim_tab[:steps] = stim
            target_tab = np.zeros((steps + 1, p.n_out))
            target_tab[1:] = target
            run_args = {objs["stim"]: stim_tab, objs["target"]: target_tab,
                        objs["rec"].seq0: weights.sequences}
            for key, name in (("s_in", "in"), ("s_rec", "rec"), ("s_out", "out")):
                s = objs[key]
                i, j = self._indices(key)
                run_args[s.w] = getattr(weights, f"w_{name}")[j, i]
                if p.optimizer == "adam":
                    run_args[s.m] = weights.adam[f"m_{name}"][j, i]
                    run_args[s.vv] = weights.adam[f"v_{name}"][j, i]
            if "s_fb" in objs:
                i, j = self._indices("s_fb")
                run_args[objs["s_fb"].B] = weights.feedback[j, i]
            # staged inputs; a read error of the compiled program fails the run
            run_standalone(self.directory, run_args=run_args)
        wall = time.perf_counter() - start
        return _read(objs, p, weights, self.n_sequences, wall, self.record)

    def _indices(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        sizes = {"s_in": (p.n_in, p.n_rec, True), "s_rec": (p.n_rec, p.n_rec, False),
                 "s_out": (p.n_rec, p.n_out, True), "s_fb": (p.n_out, p.n_rec, True)}
        return pairs(*sizes[key])

    def close(self) -> None:
        """Give Brian2's device back (runtime mode, preferences restored)."""
        self._device.close()


def run_sequences(params: EpropParams, weights: EpropWeights, stim: np.ndarray,
                  target: np.ndarray, device_name: str = "runtime",
                  directory: str | Path | None = None, record: bool = True,
                  record_states: bool = False) -> EpropResult:
    """Train on ``len(stim) / steps`` sequences in one run (see :class:`EpropSimulation`).

    Parameters
    ----------
    params : EpropParams
    weights : EpropWeights
    stim : ndarray (n_sequences * steps, n_in)
    target : ndarray (n_sequences * steps, n_out)
    device_name, directory, record, record_states
        As for :class:`EpropSimulation`.
    """
    n = len(stim) // params.steps
    sim = EpropSimulation(params, n, device_name, directory, record, record_states)
    try:
        return sim.run(weights, stim, target)
    finally:
        sim.close()
