"""e-prop: online learning of recurrent spiking networks as Brian2 equations.

Eligibility propagation (Bellec et al. 2020, *A solution to the learning dilemma for recurrent
networks of spiking neurons*, Nat. Commun. 11:3625) factors the gradient of the loss into a
per-neuron learning signal ``L_j`` and a per-synapse eligibility trace ``e_ji``::

    dE/dW_ji = sum_t L_j[t] * ebar_ji[t]        (+ firing-rate regularisation)

Everything here runs in Brian2 generated code: the neurons, the eligibility traces (synaptic
variables), the learning signal (a summed variable from the readout errors through feedback
weights) and the gradient-descent or Adam update at the end of every batch of sequences (a
``run_regularly`` on the synapses). No Python runs per time step, so a long training runs as
one ``cpp_standalone`` binary re-executed in chunks with ``run_args``.

Time is discrete (one Brian2 step ``dt`` is one step of the paper); the membrane potential is
dimensionless, as in the authors' TensorFlow code and NEST's ``*_bsshslm_2020`` models (NEST's
mV and pA map one to one with ``C_m = 1``). Within sequence step ``t`` (state reset at ``t=0``):

* recurrent LIF / ALIF neuron ``j`` (ALIF: ``beta_j > 0``)::

      v_j[t] = alpha v_j[t-1] + f_in (sum_i Win_ji x_i[t] + sum_l Wrec_jl z_l[t-1]) - v_th z_j[t-1]
      a_j[t] = rho a_j[t-1] + z_j[t-1],        A_j[t] = v_th + beta_j a_j[t]
      z_j[t] = H(v_j[t] - A_j[t])  (not within n_ref steps after a spike)
      psi_j[t] = gamma / v_th * max(0, 1 - |v_j[t] - A_j[t]| / v_th)   (0 when refractory)

  with ``alpha = exp(-dt/tau_m)``, ``rho = exp(-dt/tau_adapt)``, ``f_in = 1 - alpha`` (or 1
  with ``regular_spike_arrival``);
* eligibility (presynaptic trace ``zbar_i[t] = alpha zbar_i[t-1] + f_in s_i[t]``, ``s_i`` the
  input spike that reaches ``v_j[t]``)::

      e_ji[t] = psi_j[t] (zbar_i[t] - beta_j eps_ji[t-1]),    eps_ji[t] = rho eps_ji[t-1] + e_ji[t]
      ebar_ji[t] = kappa ebar_ji[t-1] + (1 - kappa) e_ji[t]

* leaky readout ``y_k[t] = kappa y_k[t-1] + f_out sum_j Wout_kj z_j[t]`` (``kappa =
  exp(-dt/tau_out)``), output ``pi_k = y_k`` (mean squared error) or ``softmax(y)_k``
  (cross entropy), error ``err_k[t] = pi_k[t] - pi*_k[t]`` inside the learning window (the last
  ``learning_window`` steps), 0 before;
* learning signal ``L_j[t] = sum_k B_jk err_k[t]``, with random ``B`` or ``B = Wout^T``
  (symmetric e-prop);
* gradients per sequence: ``sum_t L_j ebar_ji + c_reg (nu_j - f_target) / T sum_t e_ji``
  (``nu_j`` the neuron's spikes per step in the sequence) for input and recurrent weights,
  ``sum_t err_k zbar_out_j`` for readout weights (``zbar_out`` filtered with ``kappa``);
  optionally divided by the learning window, summed over the batch and divided by its size,
  then ``W -= eta G`` or Adam (Kingma & Ba 2015), clipped to ``[w_min, w_max]``.

These are the equations of NEST's ``eprop_iaf_bsshslm_2020``, ``eprop_iaf_adapt_bsshslm_2020``,
``eprop_readout_bsshslm_2020`` and ``eprop_synapse_bsshslm_2020``, which reproduce the authors'
TensorFlow code; NEST's transmission delays (one step each, compensated by its history
shifts) have no counterpart here: Brian2 evaluates every step in a fixed order
(:data:`SCHEDULE`), so the readout of step ``t`` is computed at the end of step ``t`` and its
error reaches the synapses at the start of step ``t+1``.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from brian2 import (
    Hz,
    Network,
    NeuronGroup,
    Quantity,
    SpikeMonitor,
    StateMonitor,
    Synapses,
    TimedArray,
    defaultclock,
    device,
    ms,
)

from brainlearn.devices import use_device
from brainlearn.units import NUMBER, CheckedParams, qfield

__all__ = [
    "EpropParams",
    "EpropWeights",
    "EpropResult",
    "EpropSimulation",
    "SCHEDULE",
    "build_network",
    "run_sequences",
    "initial_optimizer_state",
    "optimizer_code",
]

#: order of the operations inside one time step (slot, order): Brian2 runs ``groups`` before
#: ``thresholds``, ``synapses`` and ``end``; inside a slot, lower order first
SCHEDULE = {
    "softmax_norm": ("groups", 0),    # summed exp(y) over readouts (updater of the readout group)
    "readout_error": ("groups", 2),   # yhat, err of the previous step, loss accumulation
    "summed_inputs": ("groups", 3),   # I_in, I_rec, L (updaters of the recurrent group)
    "accumulate": ("groups", 5),      # g += L * ebar (previous step), readout g += err * zbar
    "close_neurons": ("groups", 6),   # every sequence: firing-rate regularisation, loss
    "close_synapses": ("groups", 7),  # every sequence: gradient into the batch sum, optimizer
    "reset": ("groups", 8),           # every sequence: state back to 0
    "neurons": ("groups", 9),         # v, a, psi; presynaptic traces
    "traces": ("groups", 10),         # e, eps, ebar, sum_e
    "readout": ("end", -1),           # y of this step from the spikes of this step
}
_READOUT_ORDER = 1   # summed-variable updaters run at (target order - 1)
_REC_ORDER = 4


@dataclass(frozen=True)
class EpropParams(CheckedParams):
    """Parameters of an e-prop network (defaults: NEST's evidence-accumulation test).

    Parameters
    ----------
    n_in, n_rec, n_out : int
        Input channels, recurrent neurons, readout neurons.
    n_adaptive : int
        How many of the recurrent neurons (the last ones) are ALIF neurons; the rest are LIF.
    sequence : Quantity
        Duration of one sequence (the neurons are reset at its start, the gradient is
        collected over it).
    learning_window : Quantity
        The last part of each sequence in which the readout error counts (default: all).
    dt : Quantity
        Time step (one step of the discrete model).
    tau_m, tau_out, tau_adapt : Quantity
        Membrane time constants of recurrent and readout neurons; adaptation time constant.
    v_th : float
        Threshold (dimensionless membrane).
    adapt_beta : float
        Adaptation strength ``beta`` of the ALIF neurons.
    t_ref : Quantity
        Refractory period (NEST counts ``t_ref/dt - 1`` blocked steps after the spike step).
    regular_spike_arrival, readout_regular_arrival : bool
        Input weights enter the membrane unscaled (True) or times ``1 - alpha`` (False).
    gamma : float
        Height of the piecewise-linear pseudo-derivative at threshold, times ``v_th``.
    loss : str
        ``"mse"`` (readout = membrane) or ``"cross_entropy"`` (softmax readout).
    c_reg : float
        Firing-rate regularisation strength.
    f_target : Quantity
        Target firing rate.
    optimizer : str
        ``"gradient_descent"`` or ``"adam"``.
    eta : float
        Learning rate.
    adam_beta1, adam_beta2, adam_epsilon : float
        Adam's parameters.
    batch_size : int
        Sequences per weight update.
    average_gradient : bool
        Divide each sequence's gradient by the learning window (in steps).
    w_min, w_max : float
        Bounds of every weight.
    feedback : str
        ``"random"`` (fixed ``B``) or ``"symmetric"`` (``B = Wout^T``, following the readout).
    """

    n_in: int = 40
    n_rec: int = 100
    n_out: int = 2
    n_adaptive: int = 50
    sequence: Quantity = qfield(2250 * ms)
    learning_window: Quantity | None = None
    dt: Quantity = qfield(1 * ms)
    tau_m: Quantity = qfield(20 * ms)
    tau_out: Quantity = qfield(20 * ms)
    tau_adapt: Quantity = qfield(2000 * ms)
    v_th: float = 0.6
    adapt_beta: float = 1.7 * (1 - math.exp(-1 / 2000)) / (1 - math.exp(-1 / 20))
    t_ref: Quantity = qfield(5 * ms)
    regular_spike_arrival: bool = True
    readout_regular_arrival: bool = False
    gamma: float = 0.3
    loss: str = "cross_entropy"
    c_reg: float = 300.0
    f_target: Quantity = qfield(10 * Hz)
    optimizer: str = "adam"
    eta: float = 5e-3
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    batch_size: int = 1
    average_gradient: bool = True
    w_min: float = -100.0
    w_max: float = 100.0
    feedback: str = "random"

    _units = {"sequence": ms, "learning_window": ms, "dt": ms, "tau_m": ms, "tau_out": ms,
              "tau_adapt": ms, "v_th": NUMBER, "adapt_beta": NUMBER, "t_ref": ms,
              "gamma": NUMBER, "c_reg": NUMBER, "f_target": Hz, "eta": NUMBER,
              "adam_beta1": NUMBER, "adam_beta2": NUMBER, "adam_epsilon": NUMBER,
              "w_min": NUMBER, "w_max": NUMBER}

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_in", "n_rec", "n_out", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not 0 <= self.n_adaptive <= self.n_rec:
            raise ValueError(f"n_adaptive must be in [0, n_rec={self.n_rec}], "
                             f"got {self.n_adaptive!r}")
        choices = {"loss": ("mse", "cross_entropy"), "optimizer": ("gradient_descent", "adam"),
                   "feedback": ("random", "symmetric")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.steps < 1 or abs(self.steps - float(self.sequence / self.dt)) > 1e-6:
            raise ValueError(f"sequence must be a whole number of steps dt={self.dt}, "
                             f"got {self.sequence}")
        if not 1 <= self.window_steps <= self.steps:
            raise ValueError(f"learning_window must be within (0, sequence], got "
                             f"{self.learning_window}")

    @property
    def steps(self) -> int:
        """Time steps per sequence."""
        return int(round(float(self.sequence / self.dt)))

    @property
    def window_steps(self) -> int:
        """Time steps of the learning window."""
        if self.learning_window is None:
            return self.steps
        return int(round(float(self.learning_window / self.dt)))

    @property
    def ref_steps(self) -> int:
        """``t_ref`` in steps (a spike at step t blocks steps t+1 .. t+ref_steps-1)."""
        return int(round(float(self.t_ref / self.dt)))

    def constants(self) -> dict:
        """The dimensionless constants of the generated code."""
        alpha = math.exp(-float(self.dt / self.tau_m))
        kappa = math.exp(-float(self.dt / self.tau_out))
        return {
            "alpha": alpha, "kappa": kappa, "rho": math.exp(-float(self.dt / self.tau_adapt)),
            "f_in": 1.0 if self.regular_spike_arrival else 1.0 - alpha,
            "f_out": 1.0 if self.readout_regular_arrival else 1.0 - kappa,
            "v_th": self.v_th, "gamma": self.gamma, "n_ref": self.ref_steps,
            "n_steps": self.steps, "n_window": self.window_steps, "c_reg": self.c_reg,
            "f_target_step": float(self.f_target * self.dt),
            "grad_norm": float(self.window_steps) if self.average_gradient else 1.0,
            "batch": int(self.batch_size), "eta": self.eta, "b1": self.adam_beta1,
            "b2": self.adam_beta2, "eps_adam": self.adam_epsilon, "w_min": self.w_min,
            "w_max": self.w_max,
        }

    def describe(self) -> dict:
        """JSON-ready parameters (quantities as strings)."""
        out = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = str(value) if isinstance(value, Quantity) else value
        return out


@dataclass
class EpropWeights:
    """Weights and optimizer state of an e-prop network (matrices indexed [post, pre]).

    Parameters
    ----------
    w_in : ndarray (n_rec, n_in)
    w_rec : ndarray (n_rec, n_rec), diagonal ignored (no autapses)
    w_out : ndarray (n_out, n_rec)
    feedback : ndarray (n_rec, n_out)
        Random feedback ``B`` (ignored with symmetric feedback).
    adam : dict
        Adam moments ``m_in, v_in, m_rec, ...`` (same shapes as the weights).
    updates : int
        Optimizer steps taken (Adam's bias correction).
    sequences : int
        Sequences seen.
    """

    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    feedback: np.ndarray
    adam: dict = field(default_factory=dict)
    updates: int = 0
    sequences: int = 0

    def copy(self) -> EpropWeights:
        """A deep copy."""
        return EpropWeights(self.w_in.copy(), self.w_rec.copy(), self.w_out.copy(),
                            self.feedback.copy(), {k: v.copy() for k, v in self.adam.items()},
                            self.updates, self.sequences)

    def arrays(self) -> dict:
        """Everything as arrays (for ``np.savez``)."""
        out = {"w_in": self.w_in, "w_rec": self.w_rec, "w_out": self.w_out,
               "feedback": self.feedback, "updates": np.array(self.updates),
               "sequences": np.array(self.sequences)}
        out.update({f"adam_{k}": v for k, v in self.adam.items()})
        return out

    @classmethod
    def from_arrays(cls, arrays) -> EpropWeights:
        """Inverse of :meth:`arrays`."""
        adam = {k[5:]: np.asarray(arrays[k], dtype=float) for k in arrays if k.startswith("adam_")}
        return cls(np.asarray(arrays["w_in"], float), np.asarray(arrays["w_rec"], float),
                   np.asarray(arrays["w_out"], float), np.asarray(arrays["feedback"], float),
                   adam, int(arrays["updates"]), int(arrays["sequences"]))


def initial_optimizer_state(weights: EpropWeights) -> EpropWeights:
    """``weights`` with zero Adam moments and no updates taken."""
    w = weights.copy()
    w.adam = {f"{m}_{name}": np.zeros_like(getattr(w, f"w_{name}"))
              for name in ("in", "rec", "out") for m in ("m", "v")}
    w.updates = 0
    return w


def _pairs(n_pre: int, n_post: int, autapses: bool = True) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
    i, j = i.ravel(), j.ravel()
    if not autapses:
        keep = i != j
        i, j = i[keep], j[keep]
    return i, j


# ---- the model as Brian2 code -------------------------------------------------------------

REC_EQUATIONS = """
v : 1
z : 1
a : 1
A : 1
psi : 1
r : integer
nspk : integer
zbar : 1
reg : 1
beta : 1 (constant)
seq0 : integer (shared)
I_in : 1
I_rec : 1
L : 1
"""
#: one step of the recurrent neurons (LIF when beta = 0, ALIF otherwise)
REC_STEP = """
r = r - int(r > 0)
zbar = alpha*zbar + f_in*z
v = alpha*v + f_in*(I_in + I_rec) - v_th*z
a = rho*a + z
A = v_th + beta*a
psi = int(r == 0)*gamma/v_th*clip(1 - abs(v - A)/v_th, 0, 1)
z = 0
"""
REC_THRESHOLD = "v >= A and r == 0"
REC_RESET = "z = 1\nr = n_ref\nnspk += 1"
REC_CLOSE = "reg = c_reg*(1.0*nspk/n_steps - f_target_step)/n_steps"
#: I_rec already holds the last spikes of the previous sequence: they are dropped (as NEST)
REC_RESET_SEQ = "v = 0\nz = 0\na = 0\nr = 0\nnspk = 0\nzbar = 0\nI_rec = 0"

INPUT_EQUATIONS = "x = stim(t, i) : 1\nzbar : 1"
INPUT_STEP = "zbar = alpha*zbar + f_in*x"

READOUT_EQUATIONS = """
y : 1
I_out : 1
err : 1
yhat : 1
loss_acc : 1
loss_seq : 1
pi_acc : 1
pi_seq : 1
ystar = target(t, i) : 1
win = int((timestep(t, dt) + n_steps - 1) % n_steps >= n_steps - n_window) : 1
"""
READOUT_STEP = "y = kappa*y + f_out*I_out\nI_out = 0"
READOUT_PI = {"mse": "yhat = y", "cross_entropy": "yhat = exp(y)/norm"}
READOUT_LOSS = {"mse": "loss_acc += win*0.5*(yhat - ystar)**2",
                "cross_entropy": "loss_acc += win*(-ystar*log(yhat))/n_window"}
READOUT_ERROR = "err = win*(yhat - ystar)\npi_acc += win*yhat/n_window"
READOUT_CLOSE = "loss_seq = loss_acc\nloss_acc = 0\npi_seq = pi_acc\npi_acc = 0"
READOUT_RESET_SEQ = "y = 0"

#: synapses onto recurrent neurons: eligibility traces
ELIGIBILITY_EQUATIONS = """
w : 1
elig : 1
eps : 1
ebar : 1
sum_e : 1
g : 1
gacc : 1
m : 1
vv : 1
{summed}
"""
ELIGIBILITY_ACCUMULATE = "g += L_post*ebar"
ELIGIBILITY_TRACES = """
elig = psi_post*(zbar_pre - beta_post*eps)
eps = rho*eps + elig
ebar = kappa*ebar + (1 - kappa)*elig
sum_e += elig
"""
ELIGIBILITY_CLOSE = """
gacc += (g + reg_post*sum_e)/grad_norm
g = 0
sum_e = 0
elig = 0
eps = 0
ebar = 0
"""
READOUT_SYN_EQUATIONS = """
w : 1
zbar_syn : 1
g : 1
gacc : 1
m : 1
vv : 1
{summed}
"""
READOUT_SYN_ACCUMULATE = "zbar_syn = kappa*zbar_syn + f_out*z_pre\ng += err_post*zbar_syn"
READOUT_SYN_CLOSE = "gacc += g/grad_norm\ng = 0\nzbar_syn = 0"

#: end of a batch: ``upd`` is 1 after the last sequence of a batch, else 0 (exact no-op)
_SEQ = "(timestep(t, dt)//n_steps + {seq0})"
OPTIMIZER_CODE = {
    "gradient_descent": """
w = upd*clip(w - eta*gacc/batch, w_min, w_max) + (1 - upd)*w
gacc = (1 - upd)*gacc
""",
    "adam": """
m = upd*(b1*m + (1 - b1)*gacc/batch) + (1 - upd)*m
vv = upd*(b2*vv + (1 - b2)*(gacc/batch)**2) + (1 - upd)*vv
w = upd*clip(w - eta*sqrt(1 - b2**nupd)/(1 - b1**nupd)*m/(sqrt(vv) + eps_adam), w_min, w_max) + (1 - upd)*w
gacc = (1 - upd)*gacc
""",
}


def optimizer_code(params: EpropParams, seq0: str) -> str:
    """The end-of-sequence optimizer code of a synapse group.

    ``upd`` is 1 after the last sequence of a batch (sequence count ``timestep // steps`` plus
    the sequences of earlier runs, the shared variable ``seq0``), else 0, and every update is
    written ``upd * new + (1 - upd) * old``, which is exact for 0 and 1.

    Parameters
    ----------
    params : EpropParams
    seq0 : str
        The name of the ``seq0`` variable as the synapses see it (``seq0_pre``/``seq0_post``).
    """
    seq = _SEQ.format(seq0=seq0)
    upd = f"int(timestep(t, dt) > 0 and {seq} % batch == 0)"
    nupd = f"clip({seq}//batch, 1, {seq}//batch + 1)"   # the Adam step (>= 1)
    code = OPTIMIZER_CODE[params.optimizer]
    return code.replace("nupd", f"({nupd})").replace("upd", f"({upd})")


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
    c = p.constants()
    steps = p.steps * n_sequences
    dt = p.dt
    stim_tab = np.zeros((steps + 1, p.n_in))
    if stim is not None:
        stim_tab[:steps] = stim
    # row t of the target table is the target of the readout of step t-1 (see READOUT_ERROR)
    target_tab = np.zeros((steps + 1, p.n_out))
    if target is not None:
        target_tab[1:] = target
    stim_ta = TimedArray(stim_tab, dt=dt, name="eprop_stim")
    target_ta = TimedArray(target_tab, dt=dt, name="eprop_target")
    ns = dict(c, stim=stim_ta, target=target_ta)
    period = p.sequence

    inp = NeuronGroup(p.n_in, INPUT_EQUATIONS, threshold="x > 0.5", reset="", namespace=ns,
                      dt=dt, name="eprop_input", order=_REC_ORDER)
    rec = NeuronGroup(p.n_rec, REC_EQUATIONS, threshold=REC_THRESHOLD, reset=REC_RESET,
                      namespace=ns, dt=dt, name="eprop_rec", order=_REC_ORDER)
    rec.beta = np.r_[np.zeros(p.n_rec - p.n_adaptive), np.full(p.n_adaptive, p.adapt_beta)]
    rec.seq0 = weights.sequences
    out_eqs = READOUT_EQUATIONS + ("norm : 1\n" if p.loss == "cross_entropy" else "")
    out = NeuronGroup(p.n_out, out_eqs, namespace=ns, dt=dt, name="eprop_out",
                      order=_READOUT_ORDER)
    objects = [inp, rec, out]

    def op(group, code, key, every=None):
        when, order = SCHEDULE[key]
        kwargs = {"dt": every} if every is not None else {}
        objects.append(group.run_regularly(code, when=when, order=order,
                                           name=f"{group.name}_{key}", **kwargs))

    inp_summed = "I_in_post = w*x_pre : 1 (summed)"
    rec_summed = "I_rec_post = w*z_pre : 1 (summed)"
    out_summed = "L_pre = w*err_post : 1 (summed)" if p.feedback == "symmetric" else ""
    optimizer = optimizer_code(p, "seq0_post")
    syn = {}
    for key, pre, summed, w, autapses in (("s_in", inp, inp_summed, weights.w_in, True),
                                           ("s_rec", rec, rec_summed, weights.w_rec, False)):
        s = Synapses(pre, rec, ELIGIBILITY_EQUATIONS.format(summed=summed), namespace=ns,
                     dt=dt, name=f"eprop_{key}")
        i, j = _pairs(pre.N, rec.N, autapses)
        s.connect(i=i, j=j)
        s.w = w[j, i]
        name = key[2:]
        if p.optimizer == "adam" and f"m_{name}" in weights.adam:
            s.m = weights.adam[f"m_{name}"][j, i]
            s.vv = weights.adam[f"v_{name}"][j, i]
        op(s, ELIGIBILITY_ACCUMULATE, "accumulate")
        op(s, ELIGIBILITY_CLOSE + optimizer, "close_synapses", period)
        op(s, ELIGIBILITY_TRACES, "traces")
        syn[key] = s
        objects.append(s)
    s_out = Synapses(rec, out, READOUT_SYN_EQUATIONS.format(summed=out_summed),
                     on_pre="I_out_post += w", namespace=ns, dt=dt, name="eprop_s_out")
    i, j = _pairs(p.n_rec, p.n_out)
    s_out.connect(i=i, j=j)
    s_out.w = weights.w_out[j, i]
    if p.optimizer == "adam" and "m_out" in weights.adam:
        s_out.m = weights.adam["m_out"][j, i]
        s_out.vv = weights.adam["v_out"][j, i]
    op(s_out, READOUT_SYN_ACCUMULATE, "accumulate")
    op(s_out, READOUT_SYN_CLOSE + optimizer_code(p, "seq0_pre"), "close_synapses", period)
    objects.append(s_out)
    syn["s_out"] = s_out
    if p.feedback == "random":
        s_fb = Synapses(out, rec, "B : 1 (constant)\nL_post = B*err_pre : 1 (summed)",
                        namespace=ns, dt=dt, name="eprop_s_fb")
        i, j = _pairs(p.n_out, p.n_rec)
        s_fb.connect(i=i, j=j)
        s_fb.B = weights.feedback[j, i]
        objects.append(s_fb)
        syn["s_fb"] = s_fb
    if p.loss == "cross_entropy":
        s_norm = Synapses(out, out, "norm_post = exp(y_pre) : 1 (summed)", namespace=ns,
                          dt=dt, name="eprop_s_norm")
        s_norm.connect()
        objects.append(s_norm)

    op(out, "\n".join([READOUT_PI[p.loss], READOUT_LOSS[p.loss], READOUT_ERROR]),
       "readout_error")
    op(out, READOUT_CLOSE, "close_neurons", period)
    op(out, READOUT_RESET_SEQ, "reset", period)
    op(out, READOUT_STEP, "readout")
    op(rec, REC_CLOSE, "close_neurons", period)
    op(rec, REC_RESET_SEQ, "reset", period)
    op(rec, REC_STEP, "neurons")
    op(inp, "zbar = 0", "reset", period)
    op(inp, INPUT_STEP, "neurons")

    result = {"inp": inp, "rec": rec, "out": out, "stim": stim_ta, "target": target_ta, **syn}
    # per-sequence loss and mean output over the window, read after each sequence's close
    mon_seq = StateMonitor(out, ["loss_seq", "pi_seq"], record=True, dt=period,
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
    result["network"] = Network(objects)
    result["duration"] = (steps + 1) * dt
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
            device.run(directory=str(self.directory), with_output=False, run_args=run_args)
        wall = time.perf_counter() - start
        return _read(objs, p, weights, self.n_sequences, wall, self.record)

    def _indices(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        sizes = {"s_in": (p.n_in, p.n_rec, True), "s_rec": (p.n_rec, p.n_rec, False),
                 "s_out": (p.n_rec, p.n_out, True), "s_fb": (p.n_out, p.n_rec, True)}
        return _pairs(*sizes[key])

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
