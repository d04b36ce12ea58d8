"""Benchmark: milliseconds per image of Diehl & Cook training against its evaluation.

For each network size, in one run: train ``--train`` embedded images (the plastic network),
then evaluate the run on ``--assign`` training + ``--test`` test images four ways:

* ``old``: ``brainlearn mnist evaluate`` of the ``--baseline`` commit (exported from this
  repository with ``git archive`` and installed privately, as ``diehl_cook_speed.py`` does),
  on a copy of the run: the frozen network of that time, a 500 ms presentation carried from
  image to image;
* ``serial``: this checkout's ``evaluate``: every presentation from rest, 384 ms per
  presentation;
* ``workers``: this checkout's ``evaluate_on_workers(..., workers=W)`` (``--workers``, what
  ``brainlearn mnist evaluate`` runs) on a local Dask cluster, which must give exactly the
  serial counts, predictions and accuracy.

It prints ms per image of each (compilation excluded: the training's and each evaluation's
``compile_seconds``; the workers' figure is wall time including the cluster's start, with
their compilation, in parallel, subtracted once), the ratios of training to each, and the
accuracies. Exit status 1 if the workers' result differs from the serial one.

    python benchmarks/diehl_cook_eval_speed.py [--neurons 400 1600] [--train 300]
                                                [--assign 600] [--test 400] [--chunk 100]
                                                [--workers 2] [--baseline 0708d6a] [--csv PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: the last commit whose evaluation carried the state from image to image (500 ms each)
BASELINE = "0708d6a"


def old_evaluation(run: Path, site: Path, args) -> dict:
    """The baseline's ``brainlearn mnist evaluate`` on a copy of ``run``; its metrics."""
    from diehl_cook_speed import CLI

    copy = run.parent / f"{run.name}_old"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("build_*"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    cmd = [sys.executable, "-c", CLI, "mnist", "evaluate", str(copy), "--assign-examples",
           str(args.assign), "--test-examples", str(args.test), "--no-progress"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=run.parent)
    if done.returncode != 0 or str(site) not in done.stderr:
        sys.exit(f"the baseline's evaluation failed:\n{done.stderr[-3000:]}")
    return json.loads((copy / "metrics.json").read_text())


def measure(root: Path, neurons: int, site: Path, args) -> tuple[dict, bool]:
    """One size: training and the three evaluations; returns the row and whether the
    workers' result equals the serial one."""
    from brainlearn.models.diehl_cook import TrainConfig, evaluate, train
    from brainlearn.models.diehl_cook.sharded import evaluate_on_workers

    run = root / f"n{neurons}"
    config = TrainConfig.create(neurons=neurons, examples=args.train, seed=0, data="embedded",
                                chunk=args.chunk)
    trained = train(run, config, progress=False, score=False)
    n_eval = args.assign + args.test
    old = old_evaluation(run, site, args)
    serial = evaluate(run, args.assign, args.test, progress=False)
    serial_counts = dict(np.load(run / "eval_counts.npz"))
    start = time.perf_counter()
    parallel = evaluate_on_workers(run, args.assign, args.test, progress=False,
                                   workers=args.workers)
    wall = time.perf_counter() - start
    same = all(np.array_equal(v, np.load(run / "eval_counts.npz")[k])
               for k, v in serial_counts.items())
    same &= parallel["accuracy"] == serial["accuracy"]
    train_ms = trained["ms_per_example"]
    row = {
        "neurons": neurons, "train_images": trained["train_examples"], "eval_images": n_eval,
        "workers": args.workers, "train_ms": train_ms,
        "old_eval_ms": old["eval_ms_per_example"],
        "serial_ms": serial["eval_ms_per_example"],
        "workers_ms": 1000 * (wall - parallel["eval_compile_seconds"]) / n_eval,
        "accuracy_old": old["accuracy"], "accuracy_serial": serial["accuracy"],
        "accuracy_workers": parallel["accuracy"], "workers_equal_serial": same,
    }
    for name in ("old_eval", "serial", "workers"):
        row[f"ratio_{name}"] = train_ms / row[f"{name}_ms"]
    return row, same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, nargs="+", default=[400, 1600])
    parser.add_argument("--train", type=int, default=300)
    parser.add_argument("--assign", type=int, default=600)
    parser.add_argument("--test", type=int, default=400)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline", default=BASELINE,
                        help=f"commit of the old evaluation (default {BASELINE})")
    parser.add_argument("--csv", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()

    import pandas as pd
    from diehl_cook_speed import install_baseline
    from sweep_speed import parallel_capacity

    capacity = parallel_capacity(args.workers)
    rows, ok = [], True
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as tmp:
        site = install_baseline(args.baseline, Path(tmp))
        for n in args.neurons:
            row, same = measure(Path(tmp), n, site, args)
            rows.append(row)
            ok &= same
            print(f"N={n}: train {row['train_ms']:.2f} ms/image; evaluate old "
                  f"{row['old_eval_ms']:.2f} ({row['ratio_old_eval']:.2f}x), serial "
                  f"{row['serial_ms']:.2f} ({row['ratio_serial']:.2f}x), on {args.workers} "
                  f"workers {row['workers_ms']:.2f} ms/image ({row['ratio_workers']:.2f}x); "
                  f"accuracy {row['accuracy_old']:.4f} / {row['accuracy_serial']:.4f} / "
                  f"{row['accuracy_workers']:.4f}; workers == serial: {same}", flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"cores this machine gave {args.workers} busy processes at the start: {capacity:.2f}")
    if args.csv is not None:
        table.to_csv(args.csv, index=False, float_format="%.4g")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
