"""Calcium-based plasticity (Graupner & Brunel 2012, PNAS 109:3991) and its lanes runner.

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

:func:`run_calcium_protocol` estimates ``U`` and ``D`` from ``repetitions`` synapses started
DOWN and as many started UP per protocol, all lanes of one Brian2 run; a synapse counts as
UP at the end when ``rho > rho_star``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from brian2 import Quantity, ms, second

from brainlearn.plasticity import PlasticityRule, SynapseCode
from brainlearn.units import NUMBER, check_number, check_quantity, qfield

__all__ = ["QUIET_GAP", "GraupnerBrunelSTDP", "GB_PRESETS", "CALCIUM_FREE", "run_calcium_protocol", "strength_ratio"]

#: Graupner & Brunel (2012) parameter sets (Table S1): DP, the set of their Fig. 2 STDP curve.
GB_PRESETS: dict[str, dict] = {
    "DP": dict(
        tau_Ca=20 * ms, C_pre=1.0, C_post=2.0, D=13.7 * ms, theta_d=1.0, theta_p=1.3, gamma_d=200.0,
        gamma_p=321.808, tau=150 * second, rho_star=0.5, sigma=2.8284, beta=0.5, b=5.0,
    ),
}

#: shortened silence (stretched drift) between the units of a protocol used by the protocol
#: engine (``brainlearn.gaps``, :func:`run_calcium_protocol`)
QUIET_GAP = 100 * ms


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

    def render(self, on_pre_effect: str = "") -> SynapseCode:
        """Synapse code; the presynaptic pathway needs the delay ``D`` (``Synapses(delay=...)``)
        and :meth:`step_code` runs once per time step."""
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


#: rule parameters :func:`run_calcium_protocol` can vary per synapse (``params``)
CALCIUM_FREE = ("theta_d", "theta_p", "gamma_d", "gamma_p", "C_pre", "C_post", "sigma", "rho_star")


def run_calcium_protocol(
    rule: GraupnerBrunelSTDP,
    protocols,
    repetitions: int = 100,
    seed: int = 0,
    *,
    dt=0.1 * ms,
    target: str = "cython",
    record: bool = False,
    params: dict | None = None,
    quiet_gap=None,
    tail=None,
) -> pd.DataFrame | tuple[pd.DataFrame, dict]:
    """Run every protocol on ``2 * repetitions`` independent synapses, all in one Brian2 run.

    Parameters
    ----------
    rule : GraupnerBrunelSTDP
        The rule.
    protocols : list of Protocol
        ``brainlearn.protocols.Protocol`` spike patterns (imposed pre and post spikes).
    repetitions : int
        Synapses started DOWN (``rho = 0``) and, as many, started UP (``rho = 1``) per protocol.
    seed : int
        Seed of the noise (``brian2.seed``).
    dt : Quantity
        Time step (0.1 ms: puts ``D = 13.7 ms`` on the grid); spike times are rounded to it.
    target : str
        Code generation target.
    record : bool
        Also return ``c`` and ``rho`` of every lane at every step (end of the step).
    params : dict, optional
        ``{name: K values}`` of :data:`CALCIUM_FREE` (thresholds, rates, jumps, noise) varied
        side by side: every set gets its own ``2 * repetitions`` synapses per protocol
        (lanes set-major, then protocol-major) and the frame a ``set`` column. One seed for
        all sets: set ``k`` sees other random numbers than a run of set ``k`` alone.
    quiet_gap : Quantity, optional
        Shorten the silence between a protocol's units (``brainlearn.gaps``). The first
        ``D + 10 tau_Ca`` after a unit's last spike are simulated at full length (the calcium
        falls below ``exp(-10)`` of its peak, far below ``theta_d``, so the calcium terms and
        the noise are off); the rest of the silence is replaced by ``quiet_gap`` in which the
        cubic drift, the only term left, is integrated with a step ``stretch * dt`` (``stretch``
        = real silence / ``quiet_gap``; 100 ms for a 10 s period: 9.7 ms steps against
        ``tau = 150 s``). ``None`` (default) simulates every protocol as it is.
    tail : Quantity, optional
        Time simulated after the last spike of the longest protocol (default ``D + 10
        tau_Ca``, so that every lane's calcium has decayed when ``rho`` is read).

    Returns
    -------
    pandas.DataFrame
        One row per protocol: ``name``, ``U``, ``D`` (transition probabilities), ``ratio``
        (Eq. 4), ``dw`` (``ratio - 1``), ``n_pre``, ``n_post``; with ``record`` also a dict of
        traces (``t``, ``c``, ``rho``, shape (lanes, steps); lanes are protocol-major, DOWN
        starts first).
    """
    from brian2 import Network, SpikeGeneratorGroup, StateMonitor, Synapses, prefs
    from brian2 import seed as brian_seed

    from brainlearn.gaps import unit_schedule

    if not getattr(rule, "stochastic", False):
        raise ValueError(f"{type(rule).__name__} is not a calcium-based rule")
    protocols = list(protocols)
    if not protocols:
        raise ValueError("protocols is empty: pass at least one Protocol")
    reps = int(check_number("repetitions", repetitions))
    if reps < 1:
        raise ValueError(f"repetitions must be a positive integer, got {repetitions!r}")
    check_quantity("dt", dt, ms)
    d_steps = float(rule.D / dt)
    if abs(d_steps - round(d_steps)) > 1e-6:
        raise ValueError(f"D={rule.D!r} is not a multiple of dt={dt}; pass a dt that divides it")
    free = {}
    for name, values in (params or {}).items():
        if name not in CALCIUM_FREE:
            raise ValueError(f"{name!r} cannot be varied per synapse; choose from {', '.join(CALCIUM_FREE)}")
        free[name] = np.atleast_1d(np.asarray(values, dtype=float))
    n_sets = len(next(iter(free.values()))) if free else 1
    if any(v.size != n_sets for v in free.values()):
        raise ValueError("every entry of params needs the same number of values")
    settle = rule.D + 10 * rule.tau_Ca
    tail_steps = int(round(float((settle if tail is None else check_quantity("tail", tail, ms)) / dt)))
    dt_s = float(dt / second)
    lanes = 2 * reps
    n_p = len(protocols)
    per_set = lanes * n_p
    n = n_sets * per_set
    pre_i, pre_t, post_i, post_t = [], [], [], []
    period_steps, active_steps, stretch, last_start = [], [], [], []
    for k, p in enumerate(protocols):
        sched = unit_schedule(p, quiet_gap, settle=settle)
        pre, post = sched.pre, sched.post
        steps = int(round(sched.period / dt_s))
        for s in range(n_sets):
            idx = s * per_set + k * lanes + np.arange(lanes)
            pre_i.append(np.repeat(idx, pre.size))
            pre_t.append(np.tile(np.round(pre / dt_s), lanes))
            post_i.append(np.repeat(idx, post.size))
            post_t.append(np.tile(np.round(post / dt_s), lanes))
        period_steps.append(steps)
        active_steps.append(steps - int(round(sched.kept / dt_s)))
        stretch.append(sched.stretch)
        last_start.append((p.repetitions - 1) * steps)
    pre_i, pre_t = np.concatenate(pre_i).astype(int), np.concatenate(pre_t)
    post_i, post_t = np.concatenate(post_i).astype(int), np.concatenate(post_t)
    n_steps = int(max(pre_t.max(initial=0) + round(d_steps), post_t.max(initial=0))) + 2 + tail_steps
    start_up = np.tile(np.r_[np.zeros(reps), np.ones(reps)], n_p * n_sets)

    def per_lane(values):  # one value per protocol -> one per synapse (set-major, protocol-major)
        return np.tile(np.repeat(np.asarray(values), lanes), n_sets)

    old = prefs.codegen.target
    prefs.codegen.target = target
    try:
        brian_seed(int(seed))
        pre_g = SpikeGeneratorGroup(n, pre_i, pre_t * dt, dt=dt, name="calcium_pre*")
        post_g = SpikeGeneratorGroup(n, post_i, post_t * dt, dt=dt, name="calcium_post*")
        code = rule.render()
        namespace = dict(code.namespace)
        model = code.model
        step_code = rule.step_code()
        shortened = any(s > 1 for s in stretch)
        if shortened:
            model += ("\nperiod_steps : integer (constant)\nactive_steps : integer (constant)"
                      "\nlast_start : integer (constant)\nstretch : 1 (constant)")
            step_code = step_code.replace(
                "rho += dt * ",
                "rho += (1 + (stretch - 1) * int(timestep(t, dt) % period_steps >= active_steps)"
                " * int(timestep(t, dt) < last_start)) * dt * ", 1)
        for name in free:
            namespace.pop(name)
            model += f"\n{name} : 1 (constant)"
        syn = Synapses(pre_g, post_g, model=model, on_pre=code.on_pre, on_post=code.on_post,
                       namespace=namespace, delay={"pre": rule.D}, method="exact", dt=dt,
                       name="calcium_syn*")
        syn.connect(j="i")
        syn.rho = start_up
        if shortened:
            syn.period_steps = per_lane(period_steps)
            syn.active_steps = per_lane(active_steps)
            syn.last_start = per_lane(last_start)
            syn.stretch = per_lane(stretch)
        for name, values in free.items():
            setattr(syn, name, np.repeat(values, per_set))
        step = syn.run_regularly(step_code, when="start", name="calcium_rho*")
        objects = [pre_g, post_g, syn, step]
        mon = None
        if record:
            mon = StateMonitor(syn, ["c", "rho"], record=True, when="end", dt=dt)
            objects.append(mon)
        Network(*objects).run(n_steps * dt, namespace={})
        rho = np.asarray(syn.rho[:], dtype=float)
        traces = None
        if record:
            traces = {"t": np.asarray(mon.t / second), "c": np.asarray(mon.c), "rho": np.asarray(mon.rho)}
    finally:
        prefs.codegen.target = old
    if "rho_star" in free:
        rho_star = np.repeat(free["rho_star"], per_set)
    else:
        rho_star = rule.rho_star
    up = (rho > rho_star).reshape(n_sets * n_p, lanes)
    U = up[:, :reps].mean(axis=1)
    D = 1.0 - up[:, reps:].mean(axis=1)
    ratio = strength_ratio(U, D, rule.beta, rule.b)
    frame = pd.DataFrame({
        "set": np.repeat(np.arange(n_sets), n_p),
        "name": [p.name for p in protocols] * n_sets, "U": U, "D": D, "ratio": ratio, "dw": ratio - 1.0,
        "n_pre": [p.repetitions * len(p.pre) for p in protocols] * n_sets,
        "n_post": [p.repetitions * len(p.post) for p in protocols] * n_sets,
    })
    if not free:
        frame = frame.drop(columns="set")
    return (frame, traces) if record else frame
