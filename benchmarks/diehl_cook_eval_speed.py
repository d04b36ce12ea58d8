"""Benchmark: milliseconds per image of Diehl & Cook training against its evaluation.

For each network size, in one run: train ``--train`` embedded images (the plastic network),
then evaluate the run on ``--assign`` training + ``--test`` test images several ways:

* ``old_<commit>``: ``brainlearn mnist evaluate`` of each ``--baseline`` commit
  (exported from this repository with ``git archive`` and installed privately, as
  ``diehl_cook_speed.py`` does), on a copy of the run (one process below 5,000 images); by default 0708d6a (the frozen network
  of that time, a 500 ms presentation carried from image to image) and d4831cf (every
  presentation from rest, 384 ms, before the frozen network lost its plasticity variables);
* ``serial``: this checkout's ``evaluate``, one process;
* ``workers``: this checkout's ``evaluate_sharded`` on a new local Dask cluster of
  ``--workers`` processes (what ``brainlearn mnist evaluate`` runs for a large evaluation):
  wall time including the cluster's start, the workers' compilation (in parallel)
  subtracted once;
* ``steady``: the same evaluation again on the same cluster, its workers' networks already
  built: the per-image time of a long evaluation (20,000 images), where the start is
  amortised. Both must give exactly the serial counts, predictions and accuracy.

It prints ms per image of each (compilation excluded: the training's and each evaluation's
``compile_seconds``), the ratios of training to each, the accuracies, and how many workers
``brainlearn mnist evaluate`` would use by default for that evaluation
(``evaluation_workers``). Exit status 1 if a workers' result differs from the serial one.

``--data full`` trains and evaluates on the full MNIST (downloaded once to the data cache)
instead of the embedded subset (1,000 training and 500 test images), so that a realistic
evaluation (``--assign 10000 --test 10000``) is measured and the per-image figure is not
dominated by the program's start; ``--baseline`` with no commit skips the old evaluations.

    python benchmarks/diehl_cook_eval_speed.py [--neurons 400 1600] [--train 300]
                                                [--assign 600] [--test 400] [--chunk 100]
                                                [--workers 2] [--baseline 0708d6a d4831cf]
                                                [--data embedded|full] [--csv PATH]
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

#: 0708d6a: the last evaluation that carried the state from image to image (500 ms each);
#: d4831cf: presentations from rest (384 ms), before the frozen network's trimming
BASELINES = ("0708d6a", "d4831cf")


def old_evaluation(run: Path, site: Path, args) -> dict:
    """A baseline's ``brainlearn mnist evaluate`` (one process) on a copy of ``run``."""
    from diehl_cook_speed import CLI

    copy = run.parent / f"{run.name}_old_{site.name}"
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


def _same(run: Path, serial_counts: dict, serial: dict, other: dict) -> bool:
    counts = np.load(run / "eval_counts.npz")
    return (all(np.array_equal(v, counts[k]) for k, v in serial_counts.items())
            and other["accuracy"] == serial["accuracy"])


def measure(root: Path, neurons: int, sites: dict[str, Path], args) -> tuple[dict, bool]:
    """One size: training and the evaluations; returns the row and whether the workers'
    results equal the serial one."""
    from brainlearn.models.diehl_cook import TrainConfig, evaluate, train
    from brainlearn.models.diehl_cook.evaluation import evaluation_workers
    from brainlearn.models.diehl_cook.sharded import evaluate_sharded
    from brainlearn.sweep import close_client, local_client

    run = root / f"n{neurons}"
    config = TrainConfig.create(neurons=neurons, examples=args.train, seed=0, data=args.data,
                                chunk=args.chunk)
    trained = train(run, config, progress=False, score=False)
    n_eval = args.assign + args.test
    train_ms = trained["ms_per_example"]
    row = {"neurons": neurons, "train_images": trained["train_examples"],
           "eval_images": n_eval, "workers": args.workers, "train_ms": train_ms,
           "default_workers": evaluation_workers(None, n_eval)}
    for name, site in sites.items():
        old = old_evaluation(run, site, args)
        row[f"old_{name}_ms"] = old["eval_ms_per_example"]
        row[f"accuracy_old_{name}"] = old["accuracy"]
    serial = evaluate(run, args.assign, args.test, progress=False)
    serial_counts = dict(np.load(run / "eval_counts.npz"))
    start = time.perf_counter()
    client = local_client(args.workers)
    try:
        cold = evaluate_sharded(run, args.assign, args.test, client=client, progress=False)
        wall = time.perf_counter() - start
        same = _same(run, serial_counts, serial, cold)
        steady = evaluate_sharded(run, args.assign, args.test, client=client, progress=False)
        same &= _same(run, serial_counts, serial, steady) and steady["eval_compile_seconds"] == 0
    finally:
        close_client(client, True)
    row.update(serial_ms=serial["eval_ms_per_example"],
               workers_ms=1000 * (wall - cold["eval_compile_seconds"]) / n_eval,
               steady_ms=steady["eval_ms_per_example"],
               accuracy_serial=serial["accuracy"], accuracy_workers=cold["accuracy"],
               workers_equal_serial=same)
    for name in [f"old_{k}" for k in sites] + ["serial", "workers", "steady"]:
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
    parser.add_argument("--baseline", nargs="*", default=list(BASELINES),
                        help=f"commits of the old evaluations (default {' '.join(BASELINES)})")
    parser.add_argument("--data", choices=("embedded", "full"), default="embedded",
                        help="MNIST images: the embedded subset (default) or the full set")
    parser.add_argument("--csv", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()

    import pandas as pd
    from diehl_cook_speed import install_baseline
    from sweep_speed import parallel_capacity

    capacity = parallel_capacity(args.workers)
    rows, ok = [], True
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as tmp:
        sites = {c: install_baseline(c, Path(tmp)) for c in args.baseline}
        for n in args.neurons:
            row, same = measure(Path(tmp), n, sites, args)
            rows.append(row)
            ok &= same
            olds = ", ".join(f"old {c} {row[f'old_{c}_ms']:.2f} ({row[f'ratio_old_{c}']:.2f}x)"
                             for c in sites)
            print(f"N={n}: train {row['train_ms']:.2f} ms/image; evaluate {olds}, serial "
                  f"{row['serial_ms']:.2f} ({row['ratio_serial']:.2f}x), {args.workers} "
                  f"workers with the cluster's start {row['workers_ms']:.2f} "
                  f"({row['ratio_workers']:.2f}x), steady state {row['steady_ms']:.2f} "
                  f"({row['ratio_steady']:.2f}x); accuracy serial {row['accuracy_serial']:.4f}, "
                  f"workers {row['accuracy_workers']:.4f}; workers == serial: {same}; "
                  f"default workers {row['default_workers']}",
                  flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"cores this machine gave {args.workers} busy processes at the start: {capacity:.2f}")
    if args.csv is not None:
        table.to_csv(args.csv, index=False, float_format="%.4g")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
