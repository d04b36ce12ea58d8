"""Wall times of the protocol engine: the 41-point window and the Sjostrom sweep, one run each.

Prints each time and its ratio to a baseline measured in the same run: the same protocols
as a Python loop of separate ``replay`` calls (one Brian2 run per condition, dt = 1 ms).

    python benchmarks/protocols_speed.py
"""

from __future__ import annotations

import time

import numpy as np
from brian2 import Hz, ms, second

from brainlearn.plasticity import replay
from brainlearn.protocols import Protocol, dataset_protocols, make_rule, run_protocol


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _loop(rule, protocols):
    for p in protocols:
        pre, post = p.spike_times()
        replay(rule, pre * second, post * second, w0=1.0, dt=1 * ms)


def main() -> None:
    rule = make_rule("triplet", "visual-aa-minimal")
    window = [Protocol.pairing(d * ms, 60, 1 * Hz) for d in np.arange(-100, 101, 5)]
    sweep = dataset_protocols("sjostrom2001")
    run_protocol(rule, window[:2])  # warm-up: imports and Brian2 setup
    t_window = _timed(lambda: run_protocol(rule, window))
    t_sweep = _timed(lambda: run_protocol(rule, sweep))
    t_loop = _timed(lambda: _loop(rule, window[:4])) * len(window) / 4
    print(f"window (41 dt x 60 pairs at 1 Hz), one run:     {t_window:6.2f} s")
    print(f"Sjostrom sweep (10 conditions, 490 s), one run:  {t_sweep:6.2f} s")
    print(f"baseline: window as a loop of replay() calls:    {t_loop:6.2f} s (4 timed, scaled to 41)")
    print(f"speed-up of the one-run window over the loop:    {t_loop / t_window:6.1f}x")


if __name__ == "__main__":
    main()
