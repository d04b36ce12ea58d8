"""Wall times of ``protocol table --data`` for large and laboratory-like tables (issue 28, item 6).

Scores the fast event-driven rules on three tables and prints, per rule, the time of the
exact event path (:func:`brainlearn.protocols.event_driven.train_weights`, what
``score_table`` uses) and of the old stepped path (one Brian2 run of every row,
``run_protocol``), measured in the same run, with their largest difference:

* ``lab``: 42 protocols as a laboratory table has them (plastyfire's format): 1-10 pairings
  at 0.1-50 Hz, dt from -50 to +50 ms (multiples of 5 ms: the old path steps at 5 ms),
  repeated in 10 to 100 sweeps of 5 s; ``lab1ms``: the same with dt of +-7 and +-15 ms among
  them (the old path steps at 1 ms, as for most recorded tables);
* ``50k``: 50,000 random rows (1-10 pairs at 1-50 Hz, 1-15 sweeps of 10 s);
* ``1M``: a million such rows (the first 50,000 are the ``50k`` table; the old path is timed
  on them, once for both tables, and scaled by 20).

    python benchmarks/protocol_table_speed.py                 # all three tables
    python benchmarks/protocol_table_speed.py --tables lab --rules pair,diehl-cook
    python benchmarks/protocol_table_speed.py --tables 1M --no-old       # event path only
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from brainlearn.protocols import make_rule, run_protocol
from brainlearn.protocols.user_table import score_table, table_protocols

RULES = ("pair", "pair-nearest", "pair-multiplicative", "triplet:visual-aa-minimal", "triplet:visual-aa-full",
         "triplet:visual-nn-minimal", "triplet:visual-nn-full", "diehl-cook")


def _rule(label: str):
    name, _, preset = label.partition(":")
    return make_rule(name, preset or None)


def lab_table(seed: int = 0, dts=(-50.0, -25.0, -10.0, -5.0, 5.0, 10.0, 25.0, 50.0)) -> pd.DataFrame:
    """42 laboratory-like protocols: pairings repeated in 10 to 100 sweeps of 5 s."""
    rng = np.random.default_rng(seed)
    n = 42
    return _kept(pd.DataFrame({
        "dt_train": rng.choice(np.asarray(dts, dtype=float), n),
        "frequency_train": rng.choice([0.1, 1.0, 5.0, 10.0, 20.0, 50.0], n),
        "n_stimuli_train": rng.integers(1, 11, n),
        "n_sweep": np.where(np.arange(n) < 6, 100, rng.integers(10, 101, n)),
        "period_sweep": 5.0,
    }).pipe(_fit_in_period))


def random_table(n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` random rows: 1-10 pairs at 1-50 Hz, dt -50..+50 ms, 1-15 sweeps of 10 s."""
    rng = np.random.default_rng(seed)
    return _kept(pd.DataFrame({
        "dt_train": rng.integers(-50, 51, n).astype(float),
        "frequency_train": rng.choice([1.0, 5.0, 10.0, 20.0, 40.0, 50.0], n),
        "n_stimuli_train": rng.integers(1, 11, n),
        "n_sweep": rng.integers(1, 16, n),
        "period_sweep": 10.0,
    }).pipe(_fit_in_period))


def _fit_in_period(frame: pd.DataFrame) -> pd.DataFrame:
    """0.1 Hz trains of many pairs do not fit in 5 s: such rows get one pairing."""
    long = (frame["n_stimuli_train"] - 1) / frame["frequency_train"] + 0.06 >= frame["period_sweep"]
    frame.loc[long, "n_stimuli_train"] = 1
    return frame


def _kept(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns ``read_protocol_table`` adds (what ``score_table`` reads)."""
    frame["label"] = [f"row{k}" for k in range(len(frame))]
    frame["protocol"] = "pairing_train"
    frame["dt_ms"], frame["rho_hz"], frame["n_post"] = frame["dt_train"], frame["frequency_train"], np.nan
    frame["dw_mean"], frame["dw_sem"] = 0.0, 0.1
    return frame


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _old(rule, kept: pd.DataFrame) -> np.ndarray:
    return run_protocol(rule, table_protocols(kept), w0=1.0)["dw"].to_numpy()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="lab,50k,1M")
    parser.add_argument("--rules", default=",".join(RULES))
    parser.add_argument("--old-rows", type=int, default=50_000, help="most rows timed on the old path "
                        "(a larger table is timed on its first rows, scaled)")
    parser.add_argument("--no-old", action="store_true", help="time the event path only")
    args = parser.parse_args(argv)
    tables = {"lab": lambda: lab_table(), "lab1ms": lambda: lab_table(dts=(-50, -15, -10, -7, 7, 10, 15, 50)), "50k": lambda: random_table(1_000_000).iloc[:50_000].copy(),
              "1M": lambda: random_table(1_000_000)}
    measured = {}  # (rule, first rows) -> (seconds, dw) of the old path, shared by 50k and 1M
    print(f"{'table':>5} {'rule':>26} {'rows':>8} {'event s':>8} {'old s':>9} {'ratio':>7} {'max |diff|':>10}")
    for name in args.tables.split(","):
        kept = tables[name]()
        for label in args.rules.split(","):
            rule = _rule(label)
            t_new, score = _timed(lambda rule=rule, kept=kept: score_table(rule, kept))
            new = score.points["dw_model"].to_numpy()
            old_s, diff, note = float("nan"), float("nan"), ""
            if not args.no_old:
                sample = kept if len(kept) <= args.old_rows else kept.iloc[:args.old_rows].reset_index(drop=True)
                key = (label, len(sample), name != "lab")
                if key not in measured:
                    measured[key] = _timed(lambda rule=rule, sample=sample: _old(rule, sample))
                t_old, old = measured[key]
                old_s = t_old * len(kept) / len(sample)
                diff = float(np.max(np.abs(old - new[:len(sample)])))
                note = "" if len(sample) == len(kept) else f" (old: {len(sample)} rows, scaled)"
            print(f"{name:>5} {label:>26} {len(kept):>8} {t_new:8.2f} {old_s:9.1f} {old_s / t_new:7.1f} "
                  f"{diff:10.2e}{note}", flush=True)


if __name__ == "__main__":
    main()
