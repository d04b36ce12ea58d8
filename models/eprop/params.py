"""Parameters and weights of an e-prop network: :class:`EpropParams`, :class:`EpropWeights`.

The defaults are those of NEST's evidence-accumulation test (``eprop_iaf_adapt_bsshslm_2020``;
Bellec et al. 2020, Nat. Commun. 11:3625, Fig. 3). The equations these parameters enter are
in :mod:`brainlearn.models.eprop.equations`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from brian2 import Hz, Quantity, ms

from brainlearn.units import NUMBER, CheckedParams, qfield

__all__ = ["EpropParams", "EpropWeights", "initial_optimizer_state"]


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
