"""Spike-timing-dependent plasticity rules with exponential traces: pair, triplet and the
rule of Diehl & Cook (2015).

Sign convention: ``dt = t_post - t_pre`` (``dt > 0``, pre before post, potentiates).
Amplitudes are dimensionless weight changes (weights normalised to ``w_max``), time
constants Brian2 times. Traces are event-driven (exact exponential decay between events).

Coincident spikes (``dt = 0``): Brian2 runs a Synapses object's ``pre`` pathway before its
``post`` pathway in the same time step, so a coincident pair is treated as pre-before-post:
the pre spike depresses with the post trace *before* the post spike, then the post spike
potentiates with the pre trace that already includes the pre spike. For additive pair STDP an
isolated coincident pair therefore changes the weight by ``+A_plus`` (``replay`` and the tests
use and check this convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from brian2 import Quantity, ms, second

from brainlearn.plasticity.base import SCHEMES, PlasticityRule, SynapseCode, join_lines
from brainlearn.units import NUMBER, check_quantity, qfield

__all__ = ["PairSTDP", "TripletSTDP", "DiehlCookSTDP", "TRIPLET_PRESETS"]


@dataclass(frozen=True)
class PairSTDP(PlasticityRule):
    """Pair-based STDP with exponential traces.

    On a post spike ``w += A_plus * f_+(w) * apre``; on a pre spike
    ``w -= A_minus * f_-(w) * apost``; ``apre`` decays with ``tau_plus``, ``apost`` with
    ``tau_minus``. Additive (``mu_plus = mu_minus = 0``, ``f = 1``) with hard bounds, or
    weight-dependent as NEST ``stdp_synapse`` (Guetig et al. 2003):
    ``f_+(w) = (1 - w / w_max) ** mu_plus``, ``f_-(w) = (w / w_max) ** mu_minus``
    (``A_plus = lambda * W_max``, ``A_minus = alpha * lambda * W_max`` in NEST's terms).
    ``scheme="all-to-all"`` adds 1 to a trace per spike, ``"nearest"`` sets it to 1
    (symmetric nearest-neighbour: each spike pairs with the nearest earlier spike of the other
    cell). The two other nearest-neighbour schemes of Morrison et al. (2008, Biol Cybern
    98:459, Fig. 7), as NEST implements them, reset the trace a spike has just read:
    ``"nearest-pre-centered"`` (``apre += 1`` at a pre spike and ``apre = 0`` after a post
    spike potentiated: a post spike pairs with every pre spike since the last post spike, a
    pre spike with the nearest earlier post spike; NEST ``stdp_nn_pre_centered_synapse``) and
    ``"nearest-restricted"`` (traces set to 1 and reset to 0 once read: a pair counts only
    between neighbouring spikes with no other spike of either cell in between; NEST
    ``stdp_nn_restr_synapse``). ``w_max=None`` removes the upper bound (additive rule only).
    """

    A_plus: float = 0.01
    A_minus: float = 0.0105
    tau_plus: Quantity = qfield(16.8 * ms)
    tau_minus: Quantity = qfield(33.7 * ms)
    w_min: float = 0.0
    w_max: float | None = 1.0
    mu_plus: float = 0.0
    mu_minus: float = 0.0
    scheme: str = "all-to-all"

    _units = {
        "A_plus": NUMBER, "A_minus": NUMBER, "tau_plus": ms, "tau_minus": ms, "w_min": NUMBER, "w_max": NUMBER,
        "mu_plus": NUMBER, "mu_minus": NUMBER,
    }

    #: the schemes of the pair rule (:data:`~brainlearn.plasticity.base.SCHEMES` and the two
    #: reset variants of the nearest-neighbour rule)
    schemes = (*SCHEMES, "nearest-pre-centered", "nearest-restricted")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.w_max is None and (self.mu_plus or self.mu_minus):
            raise ValueError("w_max is needed by the weight-dependent rule (mu_plus/mu_minus != 0)")

    @staticmethod
    def _factor(base: str, mu: float) -> str:
        if mu == 0:
            return ""
        if mu == 1:
            return f" * ({base})"
        return f" * ({base}) ** mu"

    def render(self, on_pre_effect: str = "", dt: Quantity | None = None) -> SynapseCode:
        f_plus = self._factor("1 - w / w_max", self.mu_plus).replace("** mu", "** mu_plus")
        f_minus = self._factor("w / w_max", self.mu_minus).replace("** mu", "** mu_minus")
        model = join_lines(
            "w : 1",
            "dapre/dt = -apre / tau_plus : 1 (event-driven)",
            "dapost/dt = -apost / tau_minus : 1 (event-driven)",
        )
        pre_trace = "apre += 1" if self.scheme in ("all-to-all", "nearest-pre-centered") else "apre = 1"
        post_trace = "apost += 1" if self.scheme == "all-to-all" else "apost = 1"
        on_pre = join_lines(
            on_pre_effect,
            self._clip(f"w - A_minus{f_minus} * apost"),
            "apost = 0" if self.scheme == "nearest-restricted" else "",
            pre_trace,
        )
        on_post = join_lines(
            self._clip(f"w + A_plus{f_plus} * apre"),
            "apre = 0" if self.scheme in ("nearest-pre-centered", "nearest-restricted") else "",
            post_trace,
        )
        return SynapseCode(model, on_pre, on_post, self.namespace())


#: Visual-cortex parameter sets of Pfister & Gerstner (2006), Table 4 (fitted to Sjostrom 2001).
TRIPLET_PRESETS: dict[str, dict] = {
    "visual-aa-full": dict(
        scheme="all-to-all", tau_x=101 * ms, tau_y=125 * ms,
        A2_plus=5e-10, A3_plus=6.2e-3, A2_minus=7e-3, A3_minus=2.3e-4,
    ),
    "visual-aa-minimal": dict(
        scheme="all-to-all", tau_x=None, tau_y=114 * ms,
        A2_plus=0.0, A3_plus=6.5e-3, A2_minus=7.1e-3, A3_minus=0.0,
    ),
    "visual-nn-full": dict(
        scheme="nearest", tau_x=714 * ms, tau_y=40 * ms,
        A2_plus=8.8e-11, A3_plus=5.3e-2, A2_minus=6.6e-3, A3_minus=3.1e-3,
    ),
    "visual-nn-minimal": dict(
        scheme="nearest", tau_x=None, tau_y=40 * ms,
        A2_plus=0.0, A3_plus=5.2e-2, A2_minus=8e-3, A3_minus=0.0,
    ),
}


@dataclass(frozen=True)
class TripletSTDP(PlasticityRule):
    """Triplet STDP (Pfister & Gerstner 2006, J Neurosci 26:9673).

    On a post spike ``w += r1 * (A2_plus + A3_plus * o2)``; on a pre spike
    ``w -= o1 * (A2_minus + A3_minus * r2)``, reading the slow trace (``o2``, ``r2``) before
    the spike increments it. Traces: ``r1`` (``tau_plus``), ``r2`` (``tau_x``), ``o1``
    (``tau_minus``), ``o2`` (``tau_y``). ``tau_x=None`` drops ``r2`` (minimal models, where
    ``A3_minus = 0``). ``w_max=None`` (the default) leaves no upper bound, as in the fits.
    """

    A2_plus: float = 5e-10
    A3_plus: float = 6.2e-3
    A2_minus: float = 7e-3
    A3_minus: float = 2.3e-4
    tau_plus: Quantity = qfield(16.8 * ms)
    tau_minus: Quantity = qfield(33.7 * ms)
    tau_x: Quantity | None = qfield(101 * ms)
    tau_y: Quantity = qfield(125 * ms)
    w_min: float = 0.0
    w_max: float | None = None
    scheme: str = "all-to-all"

    _units = {
        "A2_plus": NUMBER, "A3_plus": NUMBER, "A2_minus": NUMBER, "A3_minus": NUMBER, "tau_plus": ms,
        "tau_minus": ms, "tau_x": ms, "tau_y": ms, "w_min": NUMBER, "w_max": NUMBER,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tau_x is None and self.A3_minus != 0:
            raise ValueError("tau_x is needed when A3_minus != 0")

    @classmethod
    def preset(cls, name: str, **overrides) -> TripletSTDP:
        """One of the visual-cortex parameter sets of stdp.md (a row is a package).

        Parameters
        ----------
        name : str
            ``visual-aa-full``, ``visual-aa-minimal``, ``visual-nn-full`` or
            ``visual-nn-minimal``.
        **overrides
            Parameters to change (e.g. ``w_max=1.0``).
        """
        if name not in TRIPLET_PRESETS:
            raise ValueError(f"unknown triplet preset {name!r}; choose from {sorted(TRIPLET_PRESETS)}")
        return cls(**{**TRIPLET_PRESETS[name], **overrides})

    def render(self, on_pre_effect: str = "", dt: Quantity | None = None) -> SynapseCode:
        has_r2 = self.tau_x is not None
        model = join_lines(
            "w : 1",
            "dr1/dt = -r1 / tau_plus : 1 (event-driven)",
            "dr2/dt = -r2 / tau_x : 1 (event-driven)" if has_r2 else "",
            "do1/dt = -o1 / tau_minus : 1 (event-driven)",
            "do2/dt = -o2 / tau_y : 1 (event-driven)",
        )
        ltd = "o1 * (A2_minus + A3_minus * r2)" if has_r2 else "o1 * A2_minus"
        on_pre = join_lines(
            on_pre_effect,
            self._clip(f"w - {ltd}"),
            self._trace("r1"),
            self._trace("r2") if has_r2 else "",
        )
        on_post = join_lines(
            self._clip("w + r1 * (A2_plus + A3_plus * o2)"),
            self._trace("o1"),
            self._trace("o2"),
        )
        return SynapseCode(model, on_pre, on_post, self.namespace())


@dataclass(frozen=True)
class DiehlCookSTDP(PlasticityRule):
    """The STDP rule of Diehl & Cook (2015), from their original code.

    On a pre spike ``w = clip(w - nu_pre * post1, w_min, w_max)`` and ``pre = 1``; on a post
    spike ``w = clip(w + nu_post * pre * post2_before, w_min, w_max)`` then
    ``post1 = post2 = 1``. Traces: ``pre`` (``tau_pre``), ``post1`` (``tau_post1``),
    ``post2`` (``tau_post2``). The original sets traces to 1 (``scheme="nearest"``);
    ``"all-to-all"`` adds 1 instead.

    :meth:`render` gives the form the Diehl & Cook network trains with (and ``replay``
    runs): the post traces live on the post-synaptic cells (they are the same for all its
    input synapses) and decay by ``exp(-dt / tau)`` every step inside the cells' Euler state
    update (written with ``tau_eff = dt / (1 - exp(-dt / tau))``, so it needs ``dt``); the
    pre trace, delayed per synapse, is stored as the time ``tpre`` of the last pre spike's
    arrival and read as ``exp(-(t - tpre) / tau_pre)`` (times the trace's value at ``tpre``
    for ``"all-to-all"``). Both are exact exponentials, as in the original.
    """

    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    tau_pre: Quantity = qfield(20 * ms)
    tau_post1: Quantity = qfield(20 * ms)
    tau_post2: Quantity = qfield(40 * ms)
    w_min: float = 0.0
    w_max: float = 1.0
    scheme: str = "nearest"

    _units = {
        "nu_pre": NUMBER, "nu_post": NUMBER, "tau_pre": ms, "tau_post1": ms, "tau_post2": ms,
        "w_min": NUMBER, "w_max": NUMBER,
    }

    def render(
        self, on_pre_effect: str = "", dt: Quantity | None = None, *, weight_sum: str | None = None,
        method: str = "euler",
    ) -> SynapseCode:
        """Render the rule with its traces as the network keeps them.

        Parameters
        ----------
        on_pre_effect : str
            Code run first on a pre spike (e.g. ``"ge_post += w"``).
        dt : Quantity
            Time step of the post-synaptic group (the post traces decay once per step).
        weight_sum : str, optional
            Name of a post-synaptic variable that every weight change keeps equal to the
            sum of the cell's input weights (for normalisation; added to ``post_model``).
        method : str
            Integration method of the post-synaptic group: ``"euler"`` (the traces' time
            constants become ``tau_eff``), ``"exponential_euler"`` or ``"implicit_euler"``
            (both exact for the traces' linear decay as written). Either way a trace is multiplied by ``exp(-dt / tau)``
            every step.

        Returns
        -------
        SynapseCode
        """
        if dt is None:
            raise ValueError("DiehlCookSTDP.render needs the time step dt (e.g. dt=0.5*ms): "
                             "its post traces decay once per step on the post-synaptic group")
        check_quantity("dt", dt, ms)
        all_to_all = self.scheme == "all-to-all"
        decay = "exp((tpre - t) / tau_pre)"
        pre_now = f"pre * {decay}" if all_to_all else decay
        track = weight_sum is not None
        before, after = ("w_old = w", f"{weight_sum}_post += w - w_old") if track else ("", "")
        model = join_lines("w : 1", "tpre : second", "pre : 1" if all_to_all else "")
        on_pre = join_lines(
            on_pre_effect,
            f"pre = {pre_now} + 1" if all_to_all else "",
            "tpre = t",
            before,
            self._clip("w - nu_pre * post1_post"),
            after,
        )
        on_post = join_lines(before, self._clip(f"w + nu_post * {pre_now} * post2_post"), after)
        post_model = join_lines(
            "dpost1/dt = -post1 / tau_eff1 : 1",
            "dpost2/dt = -post2 / tau_eff2 : 1",
            f"{weight_sum} : 1" if track else "",
        )
        step = "+= 1" if all_to_all else "= 1"
        if method == "euler":
            post_namespace = {
                "tau_eff1": dt / (1 - np.exp(-float(dt / self.tau_post1))),
                "tau_eff2": dt / (1 - np.exp(-float(dt / self.tau_post2))),
            }
        elif method in ("exponential_euler", "implicit_euler"):
            post_namespace = {"tau_eff1": self.tau_post1, "tau_eff2": self.tau_post2}
        else:
            raise ValueError("method must be 'euler', 'exponential_euler' or 'implicit_euler', "
                             f"got {method!r}")
        return SynapseCode(
            model, on_pre, on_post, self.namespace(), post_model=post_model,
            post_reset=f"post1 {step}\npost2 {step}", post_namespace=post_namespace,
            post_method=method, initial={"tpre": -1e9 * second},  # no pre spike yet
        )


