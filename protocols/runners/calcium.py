"""The calcium rule's protocol runner: every protocol on noise lanes of one Brian2 run.

:func:`run_calcium_protocol` estimates the transition probabilities ``U`` (DOWN -> UP) and
``D`` (UP -> DOWN) of Graupner & Brunel (2012) from ``repetitions`` synapses started DOWN and
as many started UP per protocol, and the change of strength from them (the paper's Eq. 4,
:func:`brainlearn.plasticity.calcium.strength_ratio`); a synapse counts as UP at the end when
``rho > rho_star``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from brian2 import ms, second

from brainlearn.plasticity.calcium import GraupnerBrunelSTDP, strength_ratio
from brainlearn.units import check_number, check_quantity

from .gaps import unit_schedule

__all__ = ["QUIET_GAP", "CALCIUM_FREE", "run_calcium_protocol"]

#: shortened silence (stretched drift) between the units of a protocol used by the protocol
#: engine (:mod:`brainlearn.protocols.runners.gaps`, :func:`run_calcium_protocol`)
QUIET_GAP = 100 * ms

#: rule parameters :func:`run_calcium_protocol` can vary per synapse (``params``)
CALCIUM_FREE = ("theta_d", "theta_p", "gamma_d", "gamma_p", "C_pre", "C_post", "sigma", "rho_star")


@dataclass
class _Lanes:
    """Spikes and silence bookkeeping of every lane (steps of ``dt``)."""

    n: int
    reps: int
    n_sets: int
    n_p: int
    pre_i: np.ndarray
    pre_t: np.ndarray
    post_i: np.ndarray
    post_t: np.ndarray
    period_steps: list
    active_steps: list
    stretch: list
    last_start: list

    @property
    def per_set(self) -> int:
        return 2 * self.reps * self.n_p

    def per_lane(self, values) -> np.ndarray:
        """One value per protocol -> one per synapse (set-major, protocol-major)."""
        return np.tile(np.repeat(np.asarray(values), 2 * self.reps), self.n_sets)


def _check_params(params: dict | None) -> tuple[dict, int]:
    free = {}
    for name, values in (params or {}).items():
        if name not in CALCIUM_FREE:
            raise ValueError(f"{name!r} cannot be varied per synapse; choose from {', '.join(CALCIUM_FREE)}")
        free[name] = np.atleast_1d(np.asarray(values, dtype=float))
    n_sets = len(next(iter(free.values()))) if free else 1
    if any(v.size != n_sets for v in free.values()):
        raise ValueError("every entry of params needs the same number of values")
    return free, n_sets


def _lanes(protocols: list, reps: int, n_sets: int, dt, quiet_gap, settle) -> _Lanes:
    """Lay out ``2 * reps`` lanes per protocol and parameter set, with their spike trains."""
    dt_s = float(dt / second)
    lanes = 2 * reps
    n_p = len(protocols)
    pre_i, pre_t, post_i, post_t = [], [], [], []
    period_steps, active_steps, stretch, last_start = [], [], [], []
    for k, p in enumerate(protocols):
        sched = unit_schedule(p, quiet_gap, settle=settle)
        pre, post = sched.pre, sched.post
        steps = int(round(sched.period / dt_s))
        for s in range(n_sets):
            idx = s * lanes * n_p + k * lanes + np.arange(lanes)
            pre_i.append(np.repeat(idx, pre.size))
            pre_t.append(np.tile(np.round(pre / dt_s), lanes))
            post_i.append(np.repeat(idx, post.size))
            post_t.append(np.tile(np.round(post / dt_s), lanes))
        period_steps.append(steps)
        active_steps.append(steps - int(round(sched.kept / dt_s)))
        stretch.append(sched.stretch)
        last_start.append((p.repetitions - 1) * steps)
    return _Lanes(
        n_sets * lanes * n_p, reps, n_sets, n_p,
        np.concatenate(pre_i).astype(int), np.concatenate(pre_t),
        np.concatenate(post_i).astype(int), np.concatenate(post_t),
        period_steps, active_steps, stretch, last_start,
    )


def _simulate(rule: GraupnerBrunelSTDP, lanes: _Lanes, free: dict, n_steps: int, seed: int, dt, target: str,
              record: bool) -> tuple[np.ndarray, dict | None]:
    """Build and run the Brian2 network; the final ``rho`` of every lane (and the traces)."""
    from brian2 import Network, SpikeGeneratorGroup, StateMonitor, Synapses, prefs
    from brian2 import seed as brian_seed

    n = lanes.n
    start_up = np.tile(np.r_[np.zeros(lanes.reps), np.ones(lanes.reps)], lanes.n_p * lanes.n_sets)
    old = prefs.codegen.target
    prefs.codegen.target = target
    try:
        brian_seed(int(seed))
        pre_g = SpikeGeneratorGroup(n, lanes.pre_i, lanes.pre_t * dt, dt=dt, name="calcium_pre*")
        post_g = SpikeGeneratorGroup(n, lanes.post_i, lanes.post_t * dt, dt=dt, name="calcium_post*")
        code = rule.render(dt=dt)
        namespace = dict(code.namespace)
        model = code.model
        step_code = rule.step_code()
        shortened = any(s > 1 for s in lanes.stretch)
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
            syn.period_steps = lanes.per_lane(lanes.period_steps)
            syn.active_steps = lanes.per_lane(lanes.active_steps)
            syn.last_start = lanes.per_lane(lanes.last_start)
            syn.stretch = lanes.per_lane(lanes.stretch)
        for name, values in free.items():
            setattr(syn, name, np.repeat(values, lanes.per_set))
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
    return rho, traces


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
        Shorten the silence between a protocol's units (:mod:`brainlearn.protocols.runners.gaps`).
        The first ``D + 10 tau_Ca`` after a unit's last spike are simulated at full length (the
        calcium falls below ``exp(-10)`` of its peak, far below ``theta_d``, so the calcium terms
        and the noise are off); the rest of the silence is replaced by ``quiet_gap`` in which the
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
    free, n_sets = _check_params(params)
    settle = rule.D + 10 * rule.tau_Ca
    tail_steps = int(round(float((settle if tail is None else check_quantity("tail", tail, ms)) / dt)))
    lanes = _lanes(protocols, reps, n_sets, dt, quiet_gap, settle)
    n_steps = int(max(lanes.pre_t.max(initial=0) + round(d_steps), lanes.post_t.max(initial=0))) + 2 + tail_steps
    rho, traces = _simulate(rule, lanes, free, n_steps, seed, dt, target, record)
    n_p = len(protocols)
    rho_star = np.repeat(free["rho_star"], lanes.per_set) if "rho_star" in free else rule.rho_star
    up = (rho > rho_star).reshape(n_sets * n_p, 2 * reps)
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
