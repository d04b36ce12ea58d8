"""Calcium-based plasticity (Graupner & Brunel 2012, PNAS 109:3991).

Each synapse has a calcium concentration ``c`` (dimensionless) and a synaptic efficacy
``rho`` with two stable states (DOWN ``rho = 0``, UP ``rho = 1``)::

    dc/dt = -c / tau_Ca,   c += C_pre at each presynaptic spike (arriving D later),
                           c += C_post at each postsynaptic spike
    tau drho/dt = -rho (1 - rho) (rho_star - rho) + gamma_p (1 - rho) H(c - theta_p)
                  - gamma_d rho H(c - theta_d) + sigma sqrt(tau) sqrt(H(c - theta_d) + H(c - theta_p)) eta(t)

(``H`` the Heaviside step, ``eta`` Gaussian white noise). In one time step ``rho`` makes an
Euler-Maruyama step with the calcium at the start of the step (slot ``start``), then ``c``
decays exactly and the spikes add to it; every run takes a ``seed``. A synaptic strength is ``w_DOWN`` or
``w_UP = b * w_DOWN``; with a fraction ``beta`` of synapses initially DOWN, the change of
strength after a protocol, from the probabilities ``U`` (DOWN -> UP) and ``D`` (UP -> DOWN), is
(the paper's Eq. 4)::

    ratio = ((1 - U) beta + D (1 - beta) + b (U beta + (1 - D) (1 - beta))) / (beta + (1 - beta) b)

The protocol runner (:func:`brainlearn.protocols.runners.calcium.run_calcium_protocol`)
estimates ``U`` and ``D`` from ``repetitions`` synapses started DOWN and as many started UP
per protocol, all lanes of one Brian2 run; a synapse counts as UP at the end when
``rho > rho_star``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import Quantity, ms, second

from brainlearn.plasticity.base import PlasticityRule, SynapseCode
from brainlearn.units import NUMBER, qfield

__all__ = ["GraupnerBrunelSTDP", "GB_PRESETS", "strength_ratio"]

#: Graupner & Brunel (2012) parameter sets (Table S1): DP, the set of their Fig. 2 STDP curve.
GB_PRESETS: dict[str, dict] = {
    "DP": dict(
        tau_Ca=20 * ms, C_pre=1.0, C_post=2.0, D=13.7 * ms, theta_d=1.0, theta_p=1.3, gamma_d=200.0,
        gamma_p=321.808, tau=150 * second, rho_star=0.5, sigma=2.8284, beta=0.5, b=5.0,
    ),
}


@dataclass(frozen=True)
class GraupnerBrunelSTDP(PlasticityRule):
    """Calcium-based rule of Graupner & Brunel (2012): see the module docstring.

    Parameters
    ----------
    tau_Ca : Quantity
        Calcium decay time (20 ms).
    C_pre, C_post : float
        Calcium jumps per pre and post spike (1, 2).
    D : Quantity
        Delay of the presynaptic calcium transient (13.7 ms).
    theta_d, theta_p : float
        Depression and potentiation thresholds (1, 1.3).
    gamma_d, gamma_p : float
        Depression and potentiation rates (200, 321.808).
    tau : Quantity
        Time constant of the efficacy (150 s).
    rho_star : float
        Boundary between the basins of the DOWN and UP states (0.5).
    sigma : float
        Noise amplitude (2.8284; 0 gives the deterministic model).
    beta : float
        Fraction of synapses initially DOWN (0.5).
    b : float
        w_UP / w_DOWN (5).
    repetitions : int
        Synapses started DOWN, and as many started UP, per protocol when the protocol engine
        (``brainlearn.protocols.run_protocol``, ``score``, ``fit_rule``) runs the rule (100).
    seed : int
        Seed of the noise in those runs (0).
    """

    tau_Ca: Quantity = qfield(20 * ms)
    C_pre: float = 1.0
    C_post: float = 2.0
    D: Quantity = qfield(13.7 * ms)
    theta_d: float = 1.0
    theta_p: float = 1.3
    gamma_d: float = 200.0
    gamma_p: float = 321.808
    tau: Quantity = qfield(150 * second)
    rho_star: float = 0.5
    sigma: float = 2.8284
    beta: float = 0.5
    b: float = 5.0
    repetitions: int = 100
    seed: int = 0

    _units = {
        "tau_Ca": ms, "C_pre": NUMBER, "C_post": NUMBER, "D": ms, "theta_d": NUMBER, "theta_p": NUMBER,
        "gamma_d": NUMBER, "gamma_p": NUMBER, "tau": ms, "rho_star": NUMBER, "sigma": NUMBER,
        "beta": NUMBER, "b": NUMBER, "repetitions": NUMBER, "seed": NUMBER,
    }

    #: the rule is stochastic: runs need repetitions and a seed
    stochastic = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.D < 0 * ms:
            raise ValueError(f"D must be a non-negative time in ms, got {self.D!r}")
        if not 0 < self.rho_star < 1:
            raise ValueError(f"rho_star must lie between the two states 0 and 1, got {self.rho_star!r}")
        if not 0 <= self.beta <= 1:
            raise ValueError(f"beta is a fraction in [0, 1], got {self.beta!r}")
        if int(self.repetitions) != self.repetitions or self.repetitions < 1:
            raise ValueError(f"repetitions must be a positive integer, got {self.repetitions!r}")
        if self.sigma < 0 or self.b <= 0:
            raise ValueError(f"sigma must be >= 0 and b > 0, got sigma={self.sigma!r}, b={self.b!r}")

    @classmethod
    def preset(cls, name: str, **overrides) -> GraupnerBrunelSTDP:
        """A parameter set of the paper (``DP``)."""
        if name not in GB_PRESETS:
            raise ValueError(f"unknown Graupner-Brunel preset {name!r}; choose from {sorted(GB_PRESETS)}")
        return cls(**{**GB_PRESETS[name], **overrides})

    def namespace(self) -> dict:
        ns = super().namespace()
        for name in ("beta", "b", "repetitions", "seed"):
            ns.pop(name)
        return ns

    def render(self, on_pre_effect: str = "", dt: Quantity | None = None) -> SynapseCode:
        """Synapse code; the presynaptic pathway needs the delay ``D`` (``Synapses(delay=...)``)
        and :meth:`step_code` runs once per time step (the code does not depend on ``dt``)."""
        model = "dc/dt = -c / tau_Ca : 1 (clock-driven)\nrho : 1"
        on_pre = "\n".join(line for line in (on_pre_effect, "c += C_pre") if line)
        return SynapseCode(model, on_pre, "c += C_post", self.namespace())

    def step_code(self) -> str:
        """One Euler-Maruyama step of ``rho`` (synapses, slot ``start`` of every time step).

        Brian2's integrators refuse a noise term gated by another state variable (``c``) as
        "multiplicative noise"; the gate does not depend on ``rho``, so the Ito and
        Stratonovich readings agree and the explicit step below is the Euler-Maruyama scheme.
        """
        return (
            "rho += dt * (-rho * (1 - rho) * (rho_star - rho) + gamma_p * (1 - rho) * int(c > theta_p)"
            " - gamma_d * rho * int(c > theta_d)) / tau"
            " + sigma * sqrt(int(c > theta_d) + int(c > theta_p)) * sqrt(dt / tau) * randn()"
        )


def strength_ratio(U, D, beta: float, b: float):
    """Strength after / before (Graupner & Brunel 2012, Eq. 4) from the transition probabilities."""
    U, D = np.asarray(U, dtype=float), np.asarray(D, dtype=float)
    after = (1 - U) * beta + D * (1 - beta) + b * (U * beta + (1 - D) * (1 - beta))
    return after / (beta + (1 - beta) * b)
