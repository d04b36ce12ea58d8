"""Benchmark: milliseconds per image of Diehl & Cook training against its evaluation.

For each network size, in one run: train ``--train`` embedded images (the plastic network),
then evaluate the run three ways on ``--assign`` training + ``--test`` test images:

* ``serial``: ``evaluate`` as ``brainlearn mnist evaluate`` runs it by default (the state
  carried from chunk to chunk);
* ``serial, chunks from rest``: ``evaluate(..., reset_state_per_chunk=True)``;
* ``sharded``: ``evaluate_sharded(..., workers=W)`` (``--workers``), every chunk from rest.

It prints ms per image of each (compilation excluded: the training's and each evaluation's
``compile_seconds``; the sharded figure is wall time, its workers' compilation in parallel
subtracted once) and the ratio to training, and checks that the sharded evaluation's counts,
predictions and accuracy equal the serial ones from rest, and reports the accuracy of the
default serial path beside them. Exit status 1 if they differ.

    python benchmarks/diehl_cook_eval_speed.py [--neurons 400 1600] [--train 300]
                                                [--assign 600] [--test 400] [--chunk 100]
                                                [--workers 2] [--csv PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def measure(root: Path, neurons: int, args) -> tuple[dict, bool]:
    """One size: training and the three evaluations; returns the row and whether the sharded
    result equals the serial one from rest."""
    from brainlearn.models.diehl_cook import TrainConfig, evaluate, train
    from brainlearn.models.diehl_cook.sharded import evaluate_sharded

    run = root / f"n{neurons}"
    config = TrainConfig.create(neurons=neurons, examples=args.train, seed=0, data="embedded",
                                chunk=args.chunk)
    trained = train(run, config, progress=False, score=False)
    n_eval = args.assign + args.test
    serial = evaluate(run, args.assign, args.test, progress=False)
    rest = evaluate(run, args.assign, args.test, progress=False, reset_state_per_chunk=True)
    rest_counts = dict(np.load(run / "eval_counts.npz"))
    start = time.perf_counter()
    sharded = evaluate_sharded(run, args.assign, args.test, workers=args.workers,
                               progress=False)
    wall = time.perf_counter() - start
    sharded_counts = dict(np.load(run / "eval_counts.npz"))
    same = all(np.array_equal(sharded_counts[k], v) for k, v in rest_counts.items())
    ms_sharded = 1000 * (wall - sharded["eval_compile_seconds"]) / n_eval
    row = {
        "neurons": neurons, "train_images": trained["train_examples"],
        "eval_images": n_eval, "workers": args.workers,
        "train_ms": trained["ms_per_example"],
        "train_presentations_per_image": trained["presentations"] / trained["train_examples"],
        "serial_ms": serial["eval_ms_per_example"],
        "serial_rest_ms": rest["eval_ms_per_example"],
        "sharded_ms": ms_sharded,
        "accuracy_serial": serial["accuracy"], "accuracy_serial_rest": rest["accuracy"],
        "accuracy_sharded": sharded["accuracy"], "sharded_equals_serial_rest": same,
    }
    return row, same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, nargs="+", default=[400, 1600])
    parser.add_argument("--train", type=int, default=300)
    parser.add_argument("--assign", type=int, default=600)
    parser.add_argument("--test", type=int, default=400)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--csv", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()

    import pandas as pd
    from sweep_speed import parallel_capacity

    capacity = parallel_capacity(args.workers)
    rows, ok = [], True
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as tmp:
        for n in args.neurons:
            row, same = measure(Path(tmp), n, args)
            rows.append(row)
            ok &= same
            print(f"N={n}: train {row['train_ms']:.2f} ms/image; evaluate serial "
                  f"{row['serial_ms']:.2f} ({row['train_ms'] / row['serial_ms']:.2f}x), "
                  f"from rest {row['serial_rest_ms']:.2f}, sharded on {args.workers} "
                  f"{row['sharded_ms']:.2f} ms/image ({row['train_ms'] / row['sharded_ms']:.2f}x); "
                  f"accuracy {row['accuracy_serial']:.4f} / {row['accuracy_serial_rest']:.4f} / "
                  f"{row['accuracy_sharded']:.4f}; sharded == serial from rest: {same}",
                  flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"cores this machine gave {args.workers} busy processes at the start: {capacity:.2f}")
    if args.csv is not None:
        table.to_csv(args.csv, index=False, float_format="%.4g")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
