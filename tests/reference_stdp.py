"""Independent event-by-event reference for the STDP rules of ``brainlearn.plasticity``.

Written in plain Python from the rules' documented equations (``stdp.md``,
``diehl_cook_2015.md`` and the class docstrings), not from their rendered Brian2 code: the
only things read from a rule object are its parameter values. Between two events every
trace decays exactly by ``exp(-delta_t / tau)``; at an event the weight update reads the
traces as they are just before the spike, then the spiking side's traces are incremented
(``"all-to-all"``: ``+= 1``; ``"nearest"``: ``= 1``). Weights are clipped to
``[w_min, w_max]`` after every update, as the rules' hard bounds.

Coincident spikes follow the convention documented in ``brainlearn/plasticity/stdp.py``: in one
time step the pre spike is processed before the post spike.
"""

from __future__ import annotations

import math

from brian2 import second

from brainlearn.plasticity import DiehlCookSTDP, PairSTDP, TripletSTDP

__all__ = ["Trace", "events_from_steps", "handlers", "reference_replay"]


class Trace:
    """One synaptic trace with exact exponential decay between events."""

    def __init__(self, tau_s: float, all_to_all: bool) -> None:
        self.tau_s = tau_s
        self.all_to_all = all_to_all
        self.value = 0.0
        self.t_s = 0.0

    def at(self, t_s: float) -> float:
        """Decay the trace to time ``t_s`` (seconds) and return its value."""
        self.value *= math.exp(-(t_s - self.t_s) / self.tau_s)
        self.t_s = t_s
        return self.value

    def spike(self, t_s: float) -> None:
        """Register a spike at time ``t_s``: add 1 (all-to-all) or set to 1 (nearest)."""
        self.at(t_s)
        self.value = self.value + 1.0 if self.all_to_all else 1.0


def events_from_steps(pre_steps, post_steps) -> list[tuple[int, str]]:
    """Merge integer spike steps into ``(step, kind)`` events, pre before post in a step."""
    events = [(int(s), 0) for s in pre_steps] + [(int(s), 1) for s in post_steps]
    events.sort()
    return [(step, "pre" if order == 0 else "post") for step, order in events]


def _seconds(q) -> float:
    return float(q / second)


def _bounds(rule) -> tuple[float, float]:
    w_max = math.inf if rule.w_max is None else float(rule.w_max)
    return float(rule.w_min), w_max


def _clip(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def _pair_handlers(rule: PairSTDP):
    aa = rule.scheme == "all-to-all"
    apre = Trace(_seconds(rule.tau_plus), aa)
    apost = Trace(_seconds(rule.tau_minus), aa)
    lo, hi = _bounds(rule)

    def f_plus(w: float) -> float:
        return 1.0 if rule.mu_plus == 0 else (1.0 - w / hi) ** rule.mu_plus

    def f_minus(w: float) -> float:
        return 1.0 if rule.mu_minus == 0 else (w / hi) ** rule.mu_minus

    def on_pre(w: float, t: float) -> float:
        w = _clip(w - rule.A_minus * f_minus(w) * apost.at(t), lo, hi)
        apre.spike(t)
        return w

    def on_post(w: float, t: float) -> float:
        w = _clip(w + rule.A_plus * f_plus(w) * apre.at(t), lo, hi)
        apost.spike(t)
        return w

    return on_pre, on_post


def _triplet_handlers(rule: TripletSTDP):
    aa = rule.scheme == "all-to-all"
    r1 = Trace(_seconds(rule.tau_plus), aa)
    r2 = Trace(_seconds(rule.tau_x), aa) if rule.tau_x is not None else None
    o1 = Trace(_seconds(rule.tau_minus), aa)
    o2 = Trace(_seconds(rule.tau_y), aa)
    lo, hi = _bounds(rule)

    def on_pre(w: float, t: float) -> float:
        r2_before = r2.at(t) if r2 is not None else 0.0
        w = _clip(w - o1.at(t) * (rule.A2_minus + rule.A3_minus * r2_before), lo, hi)
        r1.spike(t)
        if r2 is not None:
            r2.spike(t)
        return w

    def on_post(w: float, t: float) -> float:
        o2_before = o2.at(t)
        w = _clip(w + r1.at(t) * (rule.A2_plus + rule.A3_plus * o2_before), lo, hi)
        o1.spike(t)
        o2.spike(t)
        return w

    return on_pre, on_post


def _diehl_cook_handlers(rule: DiehlCookSTDP):
    aa = rule.scheme == "all-to-all"
    pre = Trace(_seconds(rule.tau_pre), aa)
    post1 = Trace(_seconds(rule.tau_post1), aa)
    post2 = Trace(_seconds(rule.tau_post2), aa)
    lo, hi = _bounds(rule)

    def on_pre(w: float, t: float) -> float:
        pre.spike(t)
        return _clip(w - rule.nu_pre * post1.at(t), lo, hi)

    def on_post(w: float, t: float) -> float:
        post2_before = post2.at(t)
        w = _clip(w + rule.nu_post * pre.at(t) * post2_before, lo, hi)
        post1.spike(t)
        post2.spike(t)
        return w

    return on_pre, on_post


def handlers(rule):
    """``(on_pre, on_post)`` of one synapse under ``rule``: each takes the weight and the
    event time in seconds and returns the new weight, keeping the synapse's traces."""
    if isinstance(rule, PairSTDP):
        return _pair_handlers(rule)
    if isinstance(rule, TripletSTDP):
        return _triplet_handlers(rule)
    if isinstance(rule, DiehlCookSTDP):
        return _diehl_cook_handlers(rule)
    raise TypeError(f"no reference for {type(rule).__name__}")  # pragma: no cover


def reference_replay(rule, pre_steps, post_steps, w0: float, dt_s: float) -> list[tuple]:
    """Weights after every event of one synapse, computed event by event.

    Parameters
    ----------
    rule : PairSTDP, TripletSTDP or DiehlCookSTDP
        The rule whose parameters are used.
    pre_steps, post_steps : sequence of int
        Spike times as integer multiples of ``dt_s`` (one spike per step and train).
    w0 : float
        Initial weight.
    dt_s : float
        Time step in seconds.

    Returns
    -------
    list of (t, kind, w)
        One tuple per event in processing order: time in seconds, ``"pre"``/``"post"``
        and the weight right after the event.
    """
    on_pre, on_post = handlers(rule)
    w = float(w0)
    out = []
    for step, kind in events_from_steps(pre_steps, post_steps):
        t = step * dt_s
        w = on_pre(w, t) if kind == "pre" else on_post(w, t)
        out.append((t, kind, w))
    return out
