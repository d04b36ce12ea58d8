"""e-prop, NEST's newer generation (``eprop_iaf``, ``eprop_iaf_adapt``, ``eprop_readout``).

NEST 3.9 replaced its first e-prop models (:mod:`brainlearn.models.eprop.equations`, the
``*_bsshslm_2020`` models) by a generation without sequences: the network runs on, nothing is
reset, and every ``eprop_synapse`` updates its weight when its presynaptic neuron spikes,
from the history the postsynaptic neuron kept since the previous spike (Korcsak-Gorzo et al.
2025, *Event-driven eligibility propagation in large sparse networks: efficiency shaped by
biological realism*, arXiv:2511.21674; the reference NEST's ``eprop_iaf`` cites).
Here the same computation runs every time step in Brian2 (runtime, numpy), which gives the
same weights at every presynaptic spike, the only times a weight acts.

Per time step ``t`` (1 ms; every connection delays by one step):

* neuron ``j`` (``eprop_iaf``; ``eprop_iaf_adapt`` with ``beta > 0``)::

      v_j[t] = alpha v_j[t-1] + sum_i W_ji s_i[t-1] - v_th z_j[t-1]
      a_j[t] = rho a_j[t-1] + z_j[t-1],      A_j[t] = v_th + beta a_j[t]
      z_j[t] = H(v_j[t] - A_j[t]),            psi_j[t] = h max(0, 1 - |v_j[t] - A_j[t]| / w)

  (no spike and ``psi = 0`` while refractory); firing-rate regularisation
  ``f_j[t] = kappa_reg f_j[t-1] + (1 - kappa_reg) z_j[t]``, ``r_j[t] = c_reg (f_j[t] - f_target dt)``;
* readout ``y_k[t] = kappa_out y_k[t-1] + sum_j W_kj z_j[t-1]``, error
  ``err_k[t] = (y_k[t] - y*_k[t])`` inside the learning window, learning signal
  ``L_j[t-1] = sum_k B_jk err_k[t]``;
* synapse ``i -> j``, ``x_i[t] = 1`` when a spike of ``i`` arrives at step ``t``::

      zbar[t] = alpha zbar[t-1] + x_i[t],   e[t] = psi_j[t] (zbar[t] - beta eps[t-1])
      eps[t] = rho eps[t-1] + e[t],          ebar[t] = kappa ebar[t-1] + e[t]
      ebar_reg[t] = kappa_reg ebar_reg[t-1] + (1 - kappa_reg) e[t]
      g[t] = L_j[t] ebar[t] + r_j[t] ebar_reg[t]

  and for readout synapses ``zbar`` with ``kappa_out`` and ``g[t] = err_k[t] zbar[t]``;
  the optimizer (gradient descent or Adam, NEST's per-synapse step counter) takes ``g[t]``
  every step, only within ``eprop_isi_trace_cutoff`` steps of the last presynaptic spike
  (NEST skips the rest, the traces only decay), only after the first one, and a spike
  emitted at step ``t`` carries the weight of step ``t - 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from brian2 import Hz, Quantity, ms

from brainlearn.models.eprop.params import EpropWeights
from brainlearn.models.eprop.tasks import Task
from brainlearn.units import NUMBER, CheckedParams, qfield

__all__ = ["Eprop2023Params", "sine_waves_2023", "run_2023", "comparison_2023",
           "PROTOCOLS_2023", "NEST_LOSSES_2023"]

#: losses asserted by NEST's test suite for its sine-wave protocol (nest-simulator,
#: testsuite/pytests/synapses/test_eprop_plasticity.py, v3.10; seed 1, 100-step sequences)
NEST_LOSSES_2023 = {
    "iaf-adam": [0.14000491891386, 0.28735818029752, 0.22263713699860, 0.23015072431384,
                 0.17565248170694],
    "iaf-adapt-gd": [0.02242584487453, 0.01916753791522, 0.00571493935652, 0.00037875376195,
                     0.00037823157578],
}
#: protocol -> :func:`sine_waves_2023` arguments: NEST's two regression cases (100-step
#: sequences, a zero target) and the 1000-step task whose target is the sum of sines (with a
#: learning rate at which its loss falls within a few iterations)
PROTOCOLS_2023 = {
    "iaf-adam": {"model": "eprop_iaf", "optimizer": "adam", "steps": 100},
    "iaf-adapt-gd": {"model": "eprop_iaf_adapt", "optimizer": "gradient_descent", "steps": 100},
    "iaf-adam-1000": {"model": "eprop_iaf", "optimizer": "adam", "steps": 1000, "eta": 1e-6},
}


@dataclass(frozen=True)
class Eprop2023Params(CheckedParams):
    """Parameters of NEST's newer e-prop models (defaults: NEST's sine-wave test).

    Parameters
    ----------
    n_in, n_rec, n_out : int
        Inputs, recurrent neurons, readouts.
    sequence : Quantity
        Length of one iteration (the loss is reported per sequence; nothing is reset).
    dt : Quantity
        Time step.
    tau_m, tau_out, tau_adapt : Quantity
        Membrane time constants (recurrent, readout), adaptation time constant.
    v_th : float
        Threshold (and the reset: ``v -= v_th`` after a spike).
    adapt_beta : float
        Adaptation strength (0: ``eprop_iaf``; > 0: ``eprop_iaf_adapt``).
    t_ref : Quantity
        Refractory period.
    gamma, width : float
        Height and width of the piecewise-linear surrogate gradient.
    kappa, kappa_reg : float
        Low-pass filters of the eligibility trace and of the regularisation.
    c_reg : float
        Firing-rate regularisation strength.
    f_target : Quantity
        Target rate.
    isi_cutoff : int
        ``eprop_isi_trace_cutoff``: steps after a presynaptic spike that update the weight.
    optimizer : str
        ``"gradient_descent"`` or ``"adam"`` (one step per time step, batch size 1).
    eta, adam_beta1, adam_beta2, adam_epsilon : float
        Learning rate, Adam's parameters.
    w_min, w_max : float
        Weight bounds.
    """

    n_in: int = 100
    n_rec: int = 100
    n_out: int = 1
    sequence: Quantity = qfield(100 * ms)
    dt: Quantity = qfield(1 * ms)
    tau_m: Quantity = qfield(30 * ms)
    tau_out: Quantity = qfield(30 * ms)
    tau_adapt: Quantity = qfield(2000 * ms)
    v_th: float = 0.03
    adapt_beta: float = 0.0
    t_ref: Quantity = qfield(0 * ms)
    gamma: float = 10.0
    width: float = 0.03
    kappa: float = 0.97
    kappa_reg: float = 0.97
    c_reg: float = 3.0
    f_target: Quantity = qfield(10 * Hz)
    isi_cutoff: int = 100
    optimizer: str = "adam"
    eta: float = 1e-4 * 0.03 ** 2
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-7
    w_min: float = -100.0
    w_max: float = 100.0

    _units = {"sequence": ms, "dt": ms, "tau_m": ms, "tau_out": ms, "tau_adapt": ms,
              "v_th": NUMBER, "adapt_beta": NUMBER, "t_ref": ms, "gamma": NUMBER,
              "width": NUMBER, "kappa": NUMBER, "kappa_reg": NUMBER, "c_reg": NUMBER,
              "f_target": Hz, "eta": NUMBER, "adam_beta1": NUMBER, "adam_beta2": NUMBER,
              "adam_epsilon": NUMBER, "w_min": NUMBER, "w_max": NUMBER}

    #: what NEST's tests and :func:`brainlearn.models.eprop.nest_live.task_loss` need
    loss = "mse"
    batch_size = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_in", "n_rec", "n_out", "isi_cutoff"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.optimizer not in ("gradient_descent", "adam"):
            raise ValueError(f"optimizer must be 'gradient_descent' or 'adam', "
                             f"got {self.optimizer!r}")
        if self.steps < 1 or abs(self.steps - float(self.sequence / self.dt)) > 1e-6:
            raise ValueError(f"sequence must be a whole number of steps dt={self.dt}, "
                             f"got {self.sequence}")

    @property
    def steps(self) -> int:
        """Time steps per sequence."""
        return int(round(float(self.sequence / self.dt)))

    @property
    def window_steps(self) -> int:
        """The loss counts every step of a sequence."""
        return self.steps

    def constants(self) -> dict:
        """The dimensionless constants of the generated code."""
        dt = float(self.dt / ms)
        return {
            "alpha": math.exp(-dt / float(self.tau_m / ms)),
            "kappa_out": math.exp(-dt / float(self.tau_out / ms)),
            "rho": math.exp(-dt / float(self.tau_adapt / ms)), "beta": self.adapt_beta,
            "v_th": self.v_th, "h_sg": self.gamma, "w_sg": self.width,
            "n_ref": int(round(float(self.t_ref / self.dt))), "kappa": self.kappa,
            "kappa_reg": self.kappa_reg, "c_reg": self.c_reg,
            "f_target_step": float(self.f_target * self.dt), "cutoff": int(self.isi_cutoff),
            "eta": self.eta, "b1": self.adam_beta1, "b2": self.adam_beta2,
            "eps_adam": self.adam_epsilon, "w_min": self.w_min, "w_max": self.w_max,
        }


def sine_waves_2023(n_iter: int = 5, seed: int = 1, steps: int = 100,
                    model: str = "eprop_iaf", optimizer: str = "adam", **changes) -> Task:
    """The sine-wave regression of NEST's ``test_eprop_plasticity.py``, drawn from ``seed``.

    The random numbers are drawn in NEST's order (numpy's legacy generator: weights, the
    frozen input pattern with spike probability 0.05 per step, amplitudes and phases of four
    sines with periods 1000, 500, 333 and 200 steps). With NEST's 100-step sequences each sine
    covers ``steps // period = 0`` periods, so the target is identically zero; with
    ``steps=1000`` it is the sum of 1, 2, 3 and 5 periods and the loss falls with training.

    Parameters
    ----------
    n_iter : int
        Iterations (sequences; the same input pattern and target each time).
    seed : int
        Seed of numpy's legacy generator (NEST's test: 1).
    steps : int
        Steps per sequence (NEST's test: 100).
    model : str
        ``"eprop_iaf"`` or ``"eprop_iaf_adapt"`` (``adapt_beta = 0.0174``, 2 s).
    optimizer : str
        ``"adam"`` or ``"gradient_descent"``.
    **changes
        Other :class:`Eprop2023Params` fields.
    """
    if model not in ("eprop_iaf", "eprop_iaf_adapt"):
        raise ValueError(f"model must be 'eprop_iaf' or 'eprop_iaf_adapt', got {model!r}")
    base = {"sequence": steps * ms, "c_reg": 300.0 / steps, "optimizer": optimizer,
            "adapt_beta": 0.0174 if model == "eprop_iaf_adapt" else 0.0}
    params = Eprop2023Params(**{**base, **changes})
    rs = np.random.RandomState(seed)
    n_in, n_rec, n_out = params.n_in, params.n_rec, params.n_out
    f32, scale = np.float32, 1.0 - params.kappa
    w_in = np.array(rs.randn(n_in, n_rec).T / np.sqrt(n_in), dtype=f32) * scale
    w_rec = np.array(rs.randn(n_rec, n_rec).T / np.sqrt(n_rec), dtype=f32)
    np.fill_diagonal(w_rec, 0.0)
    w_rec = w_rec * scale
    w_out = np.array(rs.randn(n_rec, n_out).T / np.sqrt(n_rec), dtype=f32) * scale
    feedback = np.array(rs.randn(n_rec, n_out) / np.sqrt(n_rec), dtype=f32) * scale
    weights = EpropWeights(*(np.asarray(m, dtype=f32).astype(float)
                             for m in (w_in, w_rec, w_out, feedback)))
    spikes = rs.rand(steps, n_in) < 0.05
    amplitudes = rs.uniform(0.5, 2.0, size=4)
    phases = rs.uniform(0.0, 2.0 * np.pi, size=4)
    signal = sum(a * np.sin(np.linspace(phi, phi + 2.0 * np.pi * (steps // period), steps))
                 for a, phi, period in zip(amplitudes, phases, (1000, 500, 333, 200),
                                           strict=True))
    signal = signal - signal[0]
    signal /= max(np.abs(signal).max(), 1e-6)
    stim = np.tile(spikes.astype(float), (n_iter, 1))
    target = np.tile(signal[:, None], (n_iter, n_out))
    return Task(params, weights, stim, target)


# ---- the model as Brian2 code (one step: readout, learning signal, neurons, synapses) ---------

REC_EQUATIONS_2023 = """
v : 1
z : 1
a : 1
A : 1
psi : 1
psi_prev : 1
r : 1
fav : 1
reg : 1
reg_prev : 1
I_syn : 1
L : 1
"""
#: one step of ``eprop_iaf`` / ``eprop_iaf_adapt`` (NEST's update order)
REC_STEP_2023 = """
psi_prev = psi
reg_prev = reg
r = r - int(r > 0)
v = alpha*v + I_syn
I_syn = 0
a = rho*a + z
A = v_th + beta*a
psi = int(r == 0)*h_sg*clip(1 - abs(v - A)/w_sg, 0, 1)
z = int(v >= A)*int(r == 0)
v = v - v_th*z
r = z*n_ref + (1 - z)*r
fav = kappa_reg*fav + (1 - kappa_reg)*z
reg = c_reg*(fav - f_target_step)
"""
READOUT_EQUATIONS_2023 = """
y : 1
I_out : 1
err : 1
err_prev : 1
y_win : 1
target_win : 1
ystar = target(t, i) : 1
win = window(t) : 1
"""
READOUT_STEP_2023 = """
err_prev = err
y = kappa_out*y + I_out
I_out = 0
err = (y - ystar)*win
y_win = y*win
target_win = ystar*win
"""
SYN_EQUATIONS_2023 = """
w : 1
q1 : 1
q2 : 1
last_e : 1
zbar : 1
eps : 1
ebar : 1
ebar_reg : 1
m : 1
vv : 1
b1p : 1
b2p : 1
ostep : 1
"""
#: history step h = t - 1 of a synapse (its learning signal arrives with the error of step t)
SYN_TRACE_2023 = {
    "rec": """
h = timestep(t, dt) - 1
act = int(last_e >= 0)*int(h - last_e < cutoff)
x = q2
q2 = q1
q1 = 0
zbar = alpha*zbar + x
e = act*psi_prev_post*(zbar - beta*eps)
eps = rho*eps + e
ebar = kappa*ebar + e
ebar_reg = kappa_reg*ebar_reg + (1 - kappa_reg)*e
g = L_post*ebar + reg_prev_post*ebar_reg
""",
    "out": """
h = timestep(t, dt) - 1
act = int(last_e >= 0)*int(h - last_e < cutoff)
x = q2
q2 = q1
q1 = 0
zbar = kappa_out*zbar + x
g = err_prev_post*zbar
""",
}
OPTIMIZER_2023 = {
    "gradient_descent": "w = act*clip(w - eta*g, w_min, w_max) + (1 - act)*w\n",
    # NEST's per-synapse Adam: the step counter is the time step; steps skipped by the cut-off
    # are caught up at the next update as zero-gradient steps after the current one
    "adam": """
nz = act*(h + 1 - ostep)
b1n = b1p*b1
b2n = b2p*b2
m_new = b1*m + (1 - b1)*g
v_new = b2*vv + (1 - b2)*g**2
w_new = adam_idle(w - eta*sqrt(1 - b2n)/(1 - b1n)*m_new/(sqrt(v_new) + eps_adam), m_new, v_new, b1n, b2n, nz, eta, b1, b2, eps_adam)
w = act*clip(w_new, w_min, w_max) + (1 - act)*w
m = act*m_new*b1**nz + (1 - act)*m
vv = act*v_new*b2**nz + (1 - act)*vv
b1p = act*b1n*b1**nz + (1 - act)*b1p
b2p = act*b2n*b2**nz + (1 - act)*b2p
ostep = act*(h + 2) + (1 - act)*ostep
""",
}
ON_PRE_2023 = {"rec": "I_syn_post += w\nq1 = 1\nlast_e = timestep(t, dt)",
               "out": "I_out_post += w\nq1 = 1\nlast_e = timestep(t, dt)"}


def _adam_idle(w, m, v, b1p, b2p, n, eta, b1, b2, eps):
    """``n`` zero-gradient Adam steps after the one that gave ``w, m, v, b1p, b2p``."""
    w, m, v = (np.array(np.broadcast_to(x, np.shape(w)), dtype=float) for x in (w, m, v))
    b1p, b2p = (np.array(np.broadcast_to(x, np.shape(w)), dtype=float) for x in (b1p, b2p))
    n = np.broadcast_to(np.rint(n).astype(int), np.shape(w))
    for k in range(1, int(n.max(initial=0)) + 1):
        sel = n >= k
        b1p[sel] *= b1
        b2p[sel] *= b2
        m[sel] *= b1
        v[sel] *= b2
        step = eta * np.sqrt(1.0 - b2p[sel]) / (1.0 - b1p[sel])
        w[sel] -= step * m[sel] / (np.sqrt(v[sel]) + eps)
    return w


def comparison_2023(protocols: tuple[str, ...] | None = None, *, seed: int = 1,
                    iterations: int | None = None, live: bool = False) -> pd.DataFrame:
    """The newer generation in Brian2, loss per iteration beside NEST's.

    Parameters
    ----------
    protocols : tuple of str, optional
        Keys of :data:`PROTOCOLS_2023` (default: all).
    seed : int
        Seed of the task's draws (NEST's test: 1).
    iterations : int, optional
        Iterations per protocol (default 5, NEST's).
    live : bool
        Run NEST itself (:func:`brainlearn.models.eprop.nest_live.nest_losses`); otherwise the
        ``nest`` column holds NEST's asserted losses (seed 1, its two protocols) or NaN.

    Returns
    -------
    pandas.DataFrame
        Columns as :func:`brainlearn.models.eprop.nest.nest_comparison`.
    """
    import time

    from brainlearn.models.eprop.nest_live import nest_losses, require_nest

    protocols = tuple(PROTOCOLS_2023) if protocols is None else tuple(protocols)
    unknown = [name for name in protocols if name not in PROTOCOLS_2023]
    if unknown:
        raise ValueError(f"protocols must be among {sorted(PROTOCOLS_2023)}, got {unknown}")
    n_iter = 5 if iterations is None else int(iterations)
    if n_iter < 1:
        raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
    if live:
        require_nest()
    rows = []
    for name in protocols:
        task = sine_waves_2023(n_iter, seed, **PROTOCOLS_2023[name])
        start = time.perf_counter()
        loss, _ = run_2023(task)
        wall = time.perf_counter() - start
        if live:
            nest = nest_losses(task, "2023")
        else:
            nest = np.full(n_iter, np.nan)
            known = NEST_LOSSES_2023.get(name, []) if seed == 1 else []
            nest[:min(n_iter, len(known))] = known[:n_iter]
        for k in range(n_iter):
            rows.append({"protocol": name, "iteration": k, "brian2": loss[k], "nest": nest[k],
                         "tensorflow": np.nan, "rel_diff_nest": loss[k] / nest[k] - 1,
                         "wall_seconds": round(wall, 2)})
    return pd.DataFrame(rows)


def _offsets() -> tuple[int, int]:
    """(input emission offset, first recorded step): NEST's generator -> parrot -> neuron."""
    return 1, 2


def build_2023(task: Task) -> dict:
    """The Brian2 objects of ``task`` (runtime device; call inside ``use_device``)."""
    from brian2 import (
        Function,
        Network,
        NeuronGroup,
        SpikeGeneratorGroup,
        StateMonitor,
        Synapses,
        TimedArray,
    )

    from brainlearn.models.eprop.equations import pairs

    p, w = task.params, task.weights
    n_task = task.stim.shape[0]
    emit, first = _offsets()
    n_total = n_task + first
    k, i = np.nonzero(task.stim)
    inp = SpikeGeneratorGroup(p.n_in, i, (k + emit) * p.dt, dt=p.dt)
    rec = NeuronGroup(p.n_rec, REC_EQUATIONS_2023, threshold="z > 0.5", reset="", order=5,
                      dt=p.dt)
    rec.run_regularly(REC_STEP_2023, when="groups", order=5)
    target = np.zeros((n_total + 1, p.n_out))
    target[first:first + n_task] = task.target
    window = np.zeros(n_total + 1)
    window[first:] = 1.0
    out = NeuronGroup(p.n_out, READOUT_EQUATIONS_2023, order=0, dt=p.dt)
    out.run_regularly(READOUT_STEP_2023, when="groups", order=0)
    fb = Synapses(out, rec, "B : 1\nL_post = B*err_pre : 1 (summed)", dt=p.dt)
    fi, fj = pairs(p.n_out, p.n_rec)
    fb.connect(i=fi, j=fj)
    fb.B = w.feedback[fj, fi]
    syns = {}
    for key, (source, dest, matrix, kind, autapses) in {
            "s_in": (inp, rec, w.w_in, "rec", True), "s_rec": (rec, rec, w.w_rec, "rec", False),
            "s_out": (rec, out, w.w_out, "out", True)}.items():
        s = Synapses(source, dest, SYN_EQUATIONS_2023, on_pre=ON_PRE_2023[kind], dt=p.dt)
        si, sj = pairs(len(source), len(dest), autapses)
        s.connect(i=si, j=sj)
        s.w = matrix[sj, si]
        s.last_e = -1
        s.b1p = s.b2p = s.ostep = 1
        s.run_regularly(SYN_TRACE_2023[kind] + OPTIMIZER_2023[p.optimizer], when="groups",
                        order=6)
        syns[key] = (s, si, sj)
    mon = StateMonitor(out, ["y_win", "target_win"], record=True, when="end")
    namespace = dict(p.constants())
    namespace["target"] = TimedArray(target, dt=p.dt)
    namespace["window"] = TimedArray(window, dt=p.dt)
    namespace["adam_idle"] = Function(_adam_idle, arg_units=[1] * 10, return_unit=1,
                                      stateless=True)
    net = Network(inp, rec, out, fb, mon, *(s for s, _, _ in syns.values()))
    return {"network": net, "namespace": namespace, "steps": n_total, "mon": mon,
            "synapses": syns, "first": first, "n_task": n_task}


def run_2023(task: Task) -> tuple[np.ndarray, EpropWeights]:
    """Simulate ``task`` with NEST's newer e-prop models in Brian2 (runtime, numpy).

    Returns
    -------
    tuple
        Loss per iteration (``1/2 mean_k sum_t (y_k[t] - y*_k[t])^2`` over each sequence, as
        NEST's test computes it) and the final weights.
    """
    from brian2 import defaultclock

    from brainlearn.devices import use_device
    from brainlearn.models.eprop.nest_live import task_loss

    p = task.params
    with use_device("runtime"):
        defaultclock.dt = p.dt
        objs = build_2023(task)
        objs["network"].run(objs["steps"] * p.dt, namespace=objs["namespace"], report=None)
        first, n_task = objs["first"], objs["n_task"]
        mon = objs["mon"]
        readout = np.asarray(mon.y_win[:])[:, first:first + n_task]
        target = np.asarray(mon.target_win[:])[:, first:first + n_task]
        final = {}
        for key, (s, si, sj) in objs["synapses"].items():
            shape = {"s_in": (p.n_rec, p.n_in), "s_rec": (p.n_rec, p.n_rec),
                     "s_out": (p.n_out, p.n_rec)}[key]
            matrix = np.zeros(shape)
            matrix[sj, si] = np.asarray(s.w[:])
            final[key] = matrix
    loss = task_loss(readout, target, p.steps, p.window_steps, p.loss)
    weights = EpropWeights(final["s_in"], final["s_rec"], final["s_out"],
                           task.weights.feedback.copy())
    return loss, weights
