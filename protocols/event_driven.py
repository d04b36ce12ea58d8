"""Exact event-by-event scoring of the event-driven rules, vectorised over protocols.

The weight change of an event-driven rule (:class:`~brainlearn.plasticity.PairSTDP`,
:class:`~brainlearn.plasticity.TripletSTDP`, :class:`~brainlearn.plasticity.DiehlCookSTDP`)
depends only on the spike times: between two spikes every trace ``x`` decays exactly,

    x(t_2) = x(t_1) exp(-(t_2 - t_1) / tau),

and at a spike the rule reads its traces, changes ``w`` (clipped to ``[w_min, w_max]``) and
bumps (``all-to-all``) or resets (``nearest``) the traces of that cell. So a silence between
two sweeps costs one multiplication however long it is, and nothing has to be stepped.

This module plays those equations directly: all protocols advance together, one spike per
protocol per step of a loop over the spike index (never over time), in chunks of rows sorted
by their number of spikes. It reproduces :func:`~brainlearn.protocols.run_protocol` (imposed
spikes, one Brian2 run) to float precision, with the engine's conventions: spike times on a
1 us grid, a presynaptic spike handled before a coincident postsynaptic one (Brian2 runs a
Synapses' ``pre`` pathway first), the post-synaptic traces of Diehl & Cook read before the
post spike resets them.

:func:`train_weights` takes the trains of a per-protocol table as arrays (a million rows
need no :class:`~brainlearn.protocols.Protocol` objects); :func:`protocol_weights` takes
protocols. Other rules are refused (:func:`is_event_driven` says which run here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from brian2 import Hz, ms, second

from brainlearn.plasticity import DiehlCookSTDP, PairSTDP, PlasticityRule, TripletSTDP
from brainlearn.units import check_quantity

__all__ = ["EVENT_DRIVEN_RULES", "is_event_driven", "train_weights", "protocol_weights", "run_events"]

#: rule classes scored here (exact types: a subclass may render other code)
EVENT_DRIVEN_RULES = (PairSTDP, TripletSTDP, DiehlCookSTDP)

#: spike times are put on this grid (us), as the protocol engine's ``auto_dt`` does
_QUANTUM_US = 1e-6
#: largest number of (row, spike slot) cells held at once: bounds the memory of a chunk
_CELLS = 1 << 22
#: most rows in one chunk (the loop over spikes is shared by a chunk)
_ROWS = 1 << 16


def is_event_driven(rule) -> bool:
    """Whether ``rule`` is one of :data:`EVENT_DRIVEN_RULES` on imposed spikes (scored
    exactly here; a rule carrying its own neuron runs in Brian2)."""
    return type(rule) in EVENT_DRIVEN_RULES and getattr(rule, "neuron", None) is None


@dataclass(frozen=True)
class _Kernel:
    """One rule as traces and the two weight updates (``w``, traces -> new ``w``)."""

    taus: dict
    pre_traces: tuple
    post_traces: tuple
    add: bool
    on_pre: Callable
    on_post: Callable
    w_min: float
    w_max: float


def _s(value) -> float:
    return float(value / second)


def _kernel(rule: PlasticityRule) -> _Kernel:
    """The event-driven equations of ``rule``, as :meth:`render` writes them for Brian2."""
    if not is_event_driven(rule):
        raise ValueError(f"{type(rule).__name__} is not event-driven; exact event scoring takes "
                         f"{', '.join(c.__name__ for c in EVENT_DRIVEN_RULES)}")
    w_min = float(rule.w_min)
    w_max = np.inf if rule.w_max is None else float(rule.w_max)
    add = rule.scheme == "all-to-all"
    if isinstance(rule, PairSTDP):
        a_plus, a_minus, mu_p, mu_m = rule.A_plus, rule.A_minus, rule.mu_plus, rule.mu_minus

        def f_plus(w):  # (1 - w / w_max) ** mu_plus, Guetig et al. (2003)
            return 1.0 if mu_p == 0 else (1 - w / w_max) ** mu_p

        def f_minus(w):  # (w / w_max) ** mu_minus
            return 1.0 if mu_m == 0 else (w / w_max) ** mu_m

        return _Kernel({"apre": _s(rule.tau_plus), "apost": _s(rule.tau_minus)}, ("apre",), ("apost",), add,
                       lambda w, x: w - a_minus * f_minus(w) * x["apost"],
                       lambda w, x: w + a_plus * f_plus(w) * x["apre"], w_min, w_max)
    if isinstance(rule, TripletSTDP):  # Pfister & Gerstner (2006), Eqs. 3-4
        a2p, a3p, a2m, a3m = rule.A2_plus, rule.A3_plus, rule.A2_minus, rule.A3_minus
        taus = {"r1": _s(rule.tau_plus), "o1": _s(rule.tau_minus), "o2": _s(rule.tau_y)}
        has_r2 = rule.tau_x is not None
        if has_r2:
            taus["r2"] = _s(rule.tau_x)

        def ltd(w, x):
            return w - x["o1"] * ((a2m + a3m * x["r2"]) if has_r2 else a2m)

        return _Kernel(taus, ("r1", "r2") if has_r2 else ("r1",), ("o1", "o2"), add, ltd,
                       lambda w, x: w + x["r1"] * (a2p + a3p * x["o2"]), w_min, w_max)
    nu_pre, nu_post = rule.nu_pre, rule.nu_post  # Diehl & Cook (2015)
    return _Kernel({"pre": _s(rule.tau_pre), "post1": _s(rule.tau_post1), "post2": _s(rule.tau_post2)},
                   ("pre",), ("post1", "post2"), add,
                   lambda w, x: w - nu_pre * x["post1"],
                   lambda w, x: w + nu_post * x["pre"] * x["post2"], w_min, w_max)


def _play(kernel: _Kernel, times: np.ndarray, is_post: np.ndarray, length: np.ndarray, sweeps: np.ndarray,
          period: np.ndarray, w0: float) -> np.ndarray:
    """Final weights of rows whose unit (``times`` in us, ``is_post``: padded to the longest,
    ``length`` spikes) is repeated ``sweeps`` times every ``period`` us.

    Spike ``k`` of every row is played at once: traces decay by ``exp(-gap / tau)`` since the
    row's previous spike, ``w`` takes the pre or post update (clipped), then the spiking
    cell's traces are bumped (``x += 1``) or reset (``x = 1``). Rows are sorted by their
    spike count, so the rows still playing at step ``k`` are a contiguous tail.
    """
    total = length * sweeps
    order = np.argsort(total, kind="stable")  # rows that run out of spikes first come first
    times, is_post, total = times[order], is_post[order], total[order]
    safe, period = np.maximum(length[order], 1), period[order]
    rows = np.arange(total.size)
    w = np.full(total.size, float(w0))
    traces = {name: np.zeros(total.size) for name in kernel.taus}
    rates = {name: _QUANTUM_US / tau for name, tau in kernel.taus.items()}  # per us
    last = np.zeros(total.size, dtype=np.int64)
    for k in range(int(total.max(initial=0))):
        lo = int(np.searchsorted(total, k, side="right"))  # rows lo: play their spike k
        slot = k % safe[lo:]
        now = (k // safe[lo:]) * period[lo:] + times[rows[lo:], slot]
        gap = (now - last[lo:]).astype(float)
        last[lo:] = now
        x = {}
        for name, rate in rates.items():  # exact decay since the row's last spike
            traces[name][lo:] *= np.exp(-gap * rate)
            x[name] = traces[name][lo:]
        post = is_post[rows[lo:], slot]
        w_pre = np.clip(kernel.on_pre(w[lo:], x), kernel.w_min, kernel.w_max)
        w_post = np.clip(kernel.on_post(w[lo:], x), kernel.w_min, kernel.w_max)
        w[lo:] = np.where(post, w_post, w_pre)
        for names, when in ((kernel.pre_traces, ~post), (kernel.post_traces, post)):
            for name in names:
                bumped = x[name] + 1.0 if kernel.add else 1.0
                x[name][:] = np.where(when, bumped, x[name])
    out = np.empty_like(w)
    out[order] = w
    return out


def _weights(rule, units: Callable, width: np.ndarray, sweeps: np.ndarray, w0: float, progress: bool,
             desc: str) -> np.ndarray:
    """Final weights of all rows, played in chunks of rows with similar spike counts.

    ``units(index)`` gives the rows' ``(times, is_post, length, period)`` (unit spikes in us,
    padded to the chunk's widest unit; period in us); ``width`` is each row's unit spike
    count, ``sweeps`` its repetitions. A chunk holds at most ``_CELLS`` (row, slot) cells.
    """
    from tqdm.auto import tqdm

    kernel = _kernel(rule)
    n_rows = width.size
    order = np.argsort(width * sweeps, kind="stable")
    out = np.empty(n_rows)
    with tqdm(total=n_rows, desc=desc, unit="row", disable=not progress) as bar:
        start = 0
        while start < n_rows:
            widest = np.maximum.accumulate(np.maximum(width[order[start:start + _ROWS]], 1))
            fits = np.arange(1, widest.size + 1) * widest <= _CELLS
            stop = start + max(1, int(np.count_nonzero(fits)))
            index = order[start:stop]
            times, is_post, length, period = units(index)
            out[index] = _play(kernel, times, is_post, length, sweeps[index], period, w0)
            bar.update(stop - start)
            start = stop
    return out


def _merge(pre_us: np.ndarray, post_us: np.ndarray, pre_n: np.ndarray, post_n: np.ndarray):
    """Unit spikes of every row in time order (pre before a coincident post), padded."""
    width = pre_us.shape[1]
    times = np.concatenate([pre_us, post_us], axis=1)
    is_post = np.zeros(times.shape, dtype=bool)
    is_post[:, width:] = True
    cols = np.arange(times.shape[1])[None, :]
    valid = np.where(is_post, cols - width < post_n[:, None], cols < pre_n[:, None])
    key = np.where(valid, times, np.iinfo(np.int64).max // 4) * 2 + is_post  # time, then pre first
    idx = np.argsort(key, axis=1, kind="stable")
    times = np.take_along_axis(np.where(valid, times, 0), idx, axis=1)
    return times, np.take_along_axis(is_post, idx, axis=1), pre_n + post_n


def _us(seconds) -> np.ndarray:
    return np.round(np.asarray(seconds, dtype=float) / _QUANTUM_US).astype(np.int64)


def train_weights(rule: PlasticityRule, dt, rate, pairs, sweeps, period, w0: float = 1.0, *,
                  progress: bool = False, desc: str = "rows") -> np.ndarray:
    """Final weight of every train protocol (one per row), exactly and without stepping.

    Row ``k`` is :meth:`Protocol.burst_pairing(dt[k], rate[k], pairs[k], sweeps[k], period[k])
    <brainlearn.protocols.Protocol.burst_pairing>`: ``pairs`` pre/post pairs with
    ``dt = t_post - t_pre`` at ``rate``, repeated ``sweeps`` times every ``period``.

    Parameters
    ----------
    rule : PairSTDP, TripletSTDP or DiehlCookSTDP
        An event-driven rule (:func:`is_event_driven`).
    dt : Quantity array
        ``t_post - t_pre`` of every pair.
    rate : Quantity array
        Pairing frequency within a train.
    pairs, sweeps : int arrays
        Pairs per train (>= 1) and trains per protocol (>= 1).
    period : Quantity array
        Time from one train's start to the next.
    w0 : float
        Initial weight of every synapse.
    progress : bool
        Show a progress bar over the rows (tqdm).
    desc : str
        Label of the progress bar.

    Returns
    -------
    numpy.ndarray
        The weights after the protocols (``w / w0 - 1`` is the fractional change).
    """
    d = np.atleast_1d(np.asarray(check_quantity("dt", dt, ms, allow_array=True) / second, dtype=float))
    step = 1.0 / np.atleast_1d(np.asarray(check_quantity("rate", rate, Hz, allow_array=True) / Hz, dtype=float))
    per = _us(np.atleast_1d(np.asarray(check_quantity("period", period, second, allow_array=True) / second)))
    n = np.atleast_1d(np.asarray(pairs)).astype(np.int64)
    reps = np.atleast_1d(np.asarray(sweeps)).astype(np.int64)
    if not (d.size == step.size == per.size == n.size == reps.size):
        raise ValueError(f"dt, rate, pairs, sweeps and period need one value per row, got sizes "
                         f"{[a.size for a in (d, step, n, reps, per)]}")
    if np.any(n < 1) or np.any(reps < 1) or not np.all(np.isfinite(step)) or np.any(step <= 0):
        raise ValueError("every row needs pairs >= 1, sweeps >= 1 and a positive finite rate")

    def units(index):
        count = n[index]
        starts = np.arange(count.max())[None, :] * step[index, None]
        lead = np.maximum(-d[index], 0.0)[:, None]  # dt < 0: the post spike leads
        pre = _us(starts + lead)
        post = _us(starts + lead + d[index, None])
        times, is_post, length = _merge(pre, post, count, count)
        return times, is_post, length, per[index]

    return _weights(rule, units, 2 * n, reps, w0, progress, desc)


def protocol_weights(rule: PlasticityRule, protocols, w0: float = 1.0, *, progress: bool = False) -> np.ndarray:
    """Final weight of every :class:`~brainlearn.protocols.Protocol`, exactly and without stepping.

    The same numbers as ``run_protocol(rule, protocols, w0)["w_after"]`` (imposed spikes) to
    float precision, at a cost that does not grow with the silences.
    """
    protocols = list(protocols)
    pre = [np.asarray(p.pre / second, dtype=float) for p in protocols]
    post = [np.asarray(p.post / second, dtype=float) for p in protocols]
    pre_n = np.array([a.size for a in pre], dtype=np.int64)
    post_n = np.array([a.size for a in post], dtype=np.int64)
    reps = np.array([p.repetitions for p in protocols], dtype=np.int64)
    per = _us([float(p.period / second) for p in protocols])

    def padded(arrays, index, count):
        out = np.zeros((index.size, max(1, int(count[index].max()))), dtype=np.int64)
        for row, k in enumerate(index):
            out[row, :count[k]] = _us(arrays[k])
        return out

    def units(index):
        times, is_post, length = _merge(padded(pre, index, pre_n), padded(post, index, post_n),
                                        pre_n[index], post_n[index])
        return times, is_post, length, per[index]

    return _weights(rule, units, pre_n + post_n, reps, w0, progress, "protocols")


def run_events(rule: PlasticityRule, protocols, w0: float = 1.0) -> pd.DataFrame:
    """:func:`~brainlearn.protocols.run_protocol`'s frame (imposed spikes, no parameter sets)
    from :func:`protocol_weights`: ``name``, ``w_before``, ``w_after``, ``dw``, ``n_pre``, ``n_post``."""
    protocols = list(protocols)
    w = protocol_weights(rule, protocols, w0)
    return pd.DataFrame({
        "name": [p.name for p in protocols], "w_before": np.full(len(protocols), float(w0)), "w_after": w,
        "dw": w / w0 - 1.0, "n_pre": [p.repetitions * len(p.pre) for p in protocols],
        "n_post": [p.repetitions * len(p.post) for p in protocols],
    })
