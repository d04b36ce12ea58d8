"""The e-prop model as Brian2 code: equations, the order of one step, the optimizer.

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

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from brainlearn.models.eprop.params import EpropParams

__all__ = [
    "SCHEDULE", "REC_EQUATIONS", "REC_STEP", "REC_THRESHOLD", "REC_RESET", "REC_CLOSE",
    "REC_RESET_SEQ", "INPUT_EQUATIONS", "INPUT_STEP", "READOUT_EQUATIONS", "READOUT_STEP",
    "READOUT_PI", "READOUT_LOSS", "READOUT_ERROR", "READOUT_CLOSE", "READOUT_RESET_SEQ",
    "ELIGIBILITY_EQUATIONS", "ELIGIBILITY_ACCUMULATE", "ELIGIBILITY_TRACES",
    "ELIGIBILITY_CLOSE", "READOUT_SYN_EQUATIONS", "READOUT_SYN_ACCUMULATE",
    "READOUT_SYN_CLOSE", "OPTIMIZER_CODE", "optimizer_code", "pairs", "READOUT_ORDER", "REC_ORDER",
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
READOUT_ORDER = 1   # summed-variable updaters run at (target order - 1)
REC_ORDER = 4


def pairs(n_pre: int, n_post: int, autapses: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """All-to-all ``(i, j)`` index pairs, presynaptic-major (the order of ``connect``)."""
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
