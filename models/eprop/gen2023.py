"""e-prop, NEST's newer generation (``eprop_iaf``, ``eprop_iaf_adapt``, ``eprop_readout``).

NEST 3.9 replaced its first e-prop models (:mod:`brainlearn.models.eprop.equations`, the
``*_bsshslm_2020`` models) by a generation without sequences: the network runs on, nothing is
reset, and every ``eprop_synapse`` updates its weight when its presynaptic neuron spikes,
from the history the postsynaptic neuron kept since the previous spike (Korcsak-Gorzo et al.
2024, *Event-driven eligibility propagation in large sparse networks*, arXiv:2412.15053).
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
#: protocol -> (neuron model, optimizer, steps per sequence)
PROTOCOLS_2023 = {
    "iaf-adam": ("eprop_iaf", "adam", 100),
    "iaf-adapt-gd": ("eprop_iaf_adapt", "gradient_descent", 100),
    "iaf-adam-1000": ("eprop_iaf", "adam", 1000),
    "iaf-adapt-gd-1000": ("eprop_iaf_adapt", "gradient_descent", 1000),
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
