"""Plasticity rules as data: each renders Brian2 Synapses ``model``/``on_pre``/``on_post`` code.

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

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd
from brian2 import Quantity, ms, second

import brainlearn.integration  # noqa: F401  (registers method="implicit_euler" with Brian2)
from brainlearn.units import NUMBER, CheckedParams, check_number, check_quantity, qfield

__all__ = [
    "SynapseCode",
    "PlasticityRule",
    "PairSTDP",
    "TripletSTDP",
    "DiehlCookSTDP",
    "TRIPLET_PRESETS",
    "replay",
    "render_rule",
]

SCHEMES = ("all-to-all", "nearest")


@dataclass(frozen=True)
class SynapseCode:
    """Rendered Brian2 code of a rule: pass ``model``, ``on_pre``, ``on_post``, ``namespace``
    to ``brian2.Synapses``.

    A rule may keep state on the post-synaptic group instead of every synapse (traces that
    are the same for all synapses of a cell): ``post_model`` holds those equations (to add to
    the group's, integrated with ``post_method``), ``post_reset`` the statements its reset
    runs on a spike (after the synapses' ``on_post``, so ``on_post`` reads the traces from
    before the spike), ``post_namespace`` their constants. Empty for rules that keep all
    their state on the synapses. ``initial`` gives synaptic variables whose initial value
    is not zero (e.g. the time of a last pre spike that has not happened).
    """

    model: str
    on_pre: str
    on_post: str
    namespace: dict
    post_model: str = ""
    post_reset: str = ""
    post_namespace: dict = field(default_factory=dict)
    post_method: str = "euler"
    #: initial values of synaptic variables other than zero (set them after ``connect``)
    initial: dict = field(default_factory=dict)

    def kwargs(self) -> dict:
        """Keyword arguments for ``brian2.Synapses``."""
        return {
            "model": self.model,
            "on_pre": self.on_pre,
            "on_post": self.on_post,
            "namespace": dict(self.namespace),
        }


class PlasticityRule(CheckedParams):
    """Shared behaviour of the rules: parameter checks, ``replace`` and rendering."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in self._units:
            value = getattr(self, name)
            if name.startswith("tau") and value is not None and not value > 0 * ms:
                raise ValueError(f"{name} must be a positive time in ms, got {value!r}")
        scheme = getattr(self, "scheme", None)
        if scheme is not None and scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        w_min, w_max = getattr(self, "w_min", None), getattr(self, "w_max", None)
        if w_min is not None and w_max is not None and not w_min < w_max:
            raise ValueError(f"w_min must be below w_max, got w_min={w_min}, w_max={w_max}")

    def params(self) -> dict:
        """The rule's parameters by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def namespace(self) -> dict:
        """Numeric parameters for the Brian2 namespace (no upper bound: ``w_max = inf``)."""
        ns = super().namespace()
        if "w_max" in self._units and self.w_max is None:
            ns["w_max"] = np.inf
        return ns

    def _clip(self, expr: str) -> str:
        return f"w = clip({expr}, w_min, w_max)"

    def _trace(self, name: str) -> str:
        return f"{name} += 1" if getattr(self, "scheme", "nearest") == "all-to-all" else f"{name} = 1"

    def render(self, on_pre_effect: str = "", dt: Quantity | None = None) -> SynapseCode:  # pragma: no cover - abstract
        """Render the Synapses code; ``on_pre_effect`` (e.g. ``"ge_post += w"``) runs first.

        ``dt`` is the simulation time step, for rules whose rendering depends on it (state
        on the post-synaptic group that decays step by step); the others ignore it.
        """
        raise NotImplementedError


def _join(*lines: str) -> str:
    return "\n".join(line for line in lines if line)


@dataclass(frozen=True)
class PairSTDP(PlasticityRule):
    """Pair-based STDP with exponential traces.

    On a post spike ``w += A_plus * f_+(w) * apre``; on a pre spike
    ``w -= A_minus * f_-(w) * apost``; ``apre`` decays with ``tau_plus``, ``apost`` with
    ``tau_minus``. Additive (``mu_plus = mu_minus = 0``, ``f = 1``) with hard bounds, or
    weight-dependent as NEST ``stdp_synapse`` (Guetig et al. 2003):
    ``f_+(w) = (1 - w / w_max) ** mu_plus``, ``f_-(w) = (w / w_max) ** mu_minus``
    (``A_plus = lambda * W_max``, ``A_minus = alpha * lambda * W_max`` in NEST's terms).
    ``scheme="all-to-all"`` adds 1 to a trace per spike, ``"nearest"`` sets it to 1.
    ``w_max=None`` removes the upper bound (additive rule only).
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
        model = _join(
            "w : 1",
            "dapre/dt = -apre / tau_plus : 1 (event-driven)",
            "dapost/dt = -apost / tau_minus : 1 (event-driven)",
        )
        on_pre = _join(
            on_pre_effect,
            self._clip(f"w - A_minus{f_minus} * apost"),
            self._trace("apre"),
        )
        on_post = _join(self._clip(f"w + A_plus{f_plus} * apre"), self._trace("apost"))
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
        model = _join(
            "w : 1",
            "dr1/dt = -r1 / tau_plus : 1 (event-driven)",
            "dr2/dt = -r2 / tau_x : 1 (event-driven)" if has_r2 else "",
            "do1/dt = -o1 / tau_minus : 1 (event-driven)",
            "do2/dt = -o2 / tau_y : 1 (event-driven)",
        )
        ltd = "o1 * (A2_minus + A3_minus * r2)" if has_r2 else "o1 * A2_minus"
        on_pre = _join(
            on_pre_effect,
            self._clip(f"w - {ltd}"),
            self._trace("r1"),
            self._trace("r2") if has_r2 else "",
        )
        on_post = _join(
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
        self, on_pre_effect: str = "", dt: Quantity | None = None, weight_sum: str | None = None,
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
        model = _join("w : 1", "tpre : second", "pre : 1" if all_to_all else "")
        on_pre = _join(
            on_pre_effect,
            f"pre = {pre_now} + 1" if all_to_all else "",
            "tpre = t",
            before,
            self._clip("w - nu_pre * post1_post"),
            after,
        )
        on_post = _join(before, self._clip(f"w + nu_post * {pre_now} * post2_post"), after)
        post_model = _join(
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


def render_rule(rule: PlasticityRule, on_pre_effect: str = "", dt: Quantity | None = None) -> SynapseCode:
    """``rule.render(on_pre_effect, dt=dt)``, or without ``dt`` for a rule whose ``render``
    does not take it (rules written by users before renderings could depend on the step).

    Parameters
    ----------
    rule : PlasticityRule
        The rule.
    on_pre_effect : str
        Code run first on a pre spike.
    dt : Quantity, optional
        The simulation time step.

    Returns
    -------
    SynapseCode
    """
    import inspect

    params = inspect.signature(rule.render).parameters.values()
    if any(p.name == "dt" or p.kind is p.VAR_KEYWORD for p in params):
        return rule.render(on_pre_effect, dt=dt)
    return rule.render(on_pre_effect)


def _spike_steps(name: str, times, dt) -> np.ndarray:
    check_quantity(name, times, second, allow_array=True)
    values = np.atleast_1d(np.asarray(times / dt, dtype=float))
    if values.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of times, got shape {values.shape}")
    if np.any(values < 0):
        raise ValueError(f"{name} must be non-negative times")
    steps = np.round(values)
    if np.any(np.abs(values - steps) > 1e-6):
        raise ValueError(f"{name} are not on the simulation grid dt={dt}; pass a smaller dt")
    steps = steps.astype(np.int64)
    if np.unique(steps).size != steps.size:
        raise ValueError(f"{name} has two spikes in one time step (dt={dt})")
    return np.sort(steps)


def _post_group(code: SynapseCode, post_steps: np.ndarray, n_steps: int, dt):
    """The post-synaptic side of ``replay``: spikes at ``post_steps``, with the rule's
    post-synaptic state (``code.post_model``) where it has any."""
    from brian2 import NeuronGroup, SpikeGeneratorGroup, TimedArray

    if not code.post_model:
        return SpikeGeneratorGroup(1, np.zeros(post_steps.size, int), post_steps * dt, dt=dt)
    train = np.zeros(n_steps + 1)
    train[post_steps] = 1.0
    return NeuronGroup(
        1, code.post_model, threshold="post_train(t) > 0.5", reset=code.post_reset,
        method=code.post_method, dt=dt,
        namespace={**code.post_namespace, "post_train": TimedArray(train, dt=dt)},
    )


def replay(rule: PlasticityRule, pre_times, post_times, w0: float = 0.5, dt=0.1 * ms) -> pd.DataFrame:
    """Drive one synapse with given pre and post spike times and record its weight.

    The synapse runs the code the rule renders (``rule.render(dt=dt)``); a rule that keeps
    state on the post-synaptic cell (``SynapseCode.post_model``, e.g. Diehl & Cook's post
    traces) gets a post-synaptic group with that state, its reset and its integration
    method, made to spike at ``post_times``.

    Parameters
    ----------
    rule : PlasticityRule
        The learning rule.
    pre_times, post_times : Quantity
        Spike times (arrays of Brian2 times, on the ``dt`` grid).
    w0 : float
        Initial weight.
    dt : Quantity
        Simulation time step.

    Returns
    -------
    pandas.DataFrame
        One row per spike event in time order (``pre`` before ``post`` at equal times, the
        order Brian2 processes them): ``t`` (seconds), ``kind`` (``"pre"``/``"post"``),
        ``w`` (the weight right after that event). A rule that reads the membrane potential
        (``needs_voltage``, Clopath et al. 2010) drives its neuron instead:
        :func:`brainlearn.plasticity_voltage.replay_voltage`.
    """
    if getattr(rule, "needs_voltage", False):
        from brainlearn.plasticity_voltage import replay_voltage

        return replay_voltage(rule, pre_times, post_times, w0=w0, dt=dt)
    from brian2 import (
        Network,
        SpikeGeneratorGroup,
        StateMonitor,
        Synapses,
        get_device,
        prefs,
    )
    from brian2.devices.device import RuntimeDevice

    check_quantity("dt", dt, ms)
    if not dt > 0 * ms:
        raise ValueError(f"dt must be a positive time in ms, got {dt!r}")
    w0 = check_number("w0", w0)
    if not isinstance(get_device(), RuntimeDevice):
        raise RuntimeError("replay runs in Brian2 runtime mode; call set_device('runtime') first")
    pre_steps = _spike_steps("pre_times", pre_times, dt)
    post_steps = _spike_steps("post_times", post_times, dt)
    n_steps = int(max(pre_steps.max(initial=0), post_steps.max(initial=0))) + 2

    code = render_rule(rule, dt=dt)
    old_target = prefs.codegen.target
    prefs.codegen.target = "numpy"
    try:
        pre = SpikeGeneratorGroup(1, np.zeros(pre_steps.size, int), pre_steps * dt, dt=dt)
        post = _post_group(code, post_steps, n_steps, dt)
        syn = Synapses(
            pre,
            post,
            model=code.model + "\nw_at_pre_event : 1\nw_at_post_event : 1",
            on_pre=code.on_pre + "\nw_at_pre_event = w",
            on_post=code.on_post + "\nw_at_post_event = w",
            namespace=dict(code.namespace),
            dt=dt,
        )
        syn.connect()
        syn.w = w0
        for name, value in code.initial.items():
            setattr(syn, name, value)
        mon = StateMonitor(syn, ["w_at_pre_event", "w_at_post_event"], record=0, when="end", dt=dt)
        Network(pre, post, syn, mon).run(n_steps * dt)
        w_pre = np.asarray(mon.w_at_pre_event[0])
        w_post = np.asarray(mon.w_at_post_event[0])
    finally:
        prefs.codegen.target = old_target

    frame = pd.DataFrame(
        {
            "step": np.concatenate([pre_steps, post_steps]),
            "order": np.r_[np.zeros(pre_steps.size, int), np.ones(post_steps.size, int)],
            "w": np.concatenate([w_pre[pre_steps], w_post[post_steps]]),
        }
    )
    frame = frame.sort_values(["step", "order"], kind="stable").reset_index(drop=True)
    frame.insert(0, "t", frame["step"] * float(dt / second))
    frame.insert(1, "kind", np.where(frame["order"] == 0, "pre", "post"))
    return frame[["t", "kind", "w"]]
