"""Benchmark: sharded (Dask) against serial evaluation of a Diehl & Cook network.

Builds a run directory with the network's initial weights (the evaluation's cost does not
depend on training), then times ``evaluate(...)`` in this process
and ``evaluate_sharded(..., workers=W)``, checks that their counts are identical and prints
the ratio (compile time included and excluded: every worker compiles its own binary once).

    python benchmarks/sharded_eval.py [--neurons 100] [--assign 1000] [--test 500]
                                      [--chunk 100] [--workers 2] [--device cpp_standalone]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_run(run_dir: Path, neurons: int, chunk: int, device: str, seed: int = 0) -> Path:
    from brainlearn.models.diehl_cook import TrainConfig, write_untrained_run

    return write_untrained_run(run_dir, TrainConfig.create(
        neurons=neurons, examples=1, seed=seed, device=device, data="embedded", chunk=chunk))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=100)
    parser.add_argument("--assign", type=int, default=1000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpp_standalone")
    args = parser.parse_args()

    from sweep_speed import parallel_capacity

    from brainlearn.models.diehl_cook import evaluate
    from brainlearn.models.diehl_cook.sharded import evaluate_sharded

    capacity = parallel_capacity(args.workers)
    with tempfile.TemporaryDirectory(prefix="bench_shard_") as tmp:
        run_dir = make_run(Path(tmp) / "run", args.neurons, args.chunk, args.device)
        start = time.perf_counter()
        serial = evaluate(run_dir, args.assign, args.test, progress=False)
        t_serial = time.perf_counter() - start
        counts = dict(np.load(run_dir / "eval_counts.npz"))
        start = time.perf_counter()
        sharded = evaluate_sharded(run_dir, args.assign, args.test, workers=args.workers,
                                   progress=False)
        t_sharded = time.perf_counter() - start
        same = all(np.array_equal(v, counts[k]) for k, v in np.load(run_dir / "eval_counts.npz").items())
    n = args.assign + args.test
    c_serial, c_sharded = serial["eval_compile_seconds"], sharded["eval_compile_seconds"]
    print(f"N={args.neurons}, {args.assign} + {args.test} images in chunks of {args.chunk}, "
          f"{args.device}, {sharded['shards']} shards on {args.workers} workers")
    print(f"serial:  {t_serial:7.1f} s  (compile {c_serial:5.1f} s)")
    print(f"sharded: {t_sharded:7.1f} s  (compile {c_sharded:5.1f} s per worker, in parallel; "
          "cluster start included)")
    print(f"speed-up: {t_serial / t_sharded:.2f}x; without compiling: "
          f"{(t_serial - c_serial) / (t_sharded - c_sharded):.2f}x "
          f"({1000 * (t_serial - c_serial) / n:.1f} vs {1000 * (t_sharded - c_sharded) / n:.1f} ms/image)")
    print(f"accuracy {serial['accuracy']:.4f} serial, {sharded['accuracy']:.4f} sharded; "
          f"identical counts: {same}")
    print(f"cores this machine gave {args.workers} busy processes at the start: {capacity:.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
