"""Benchmark: a 16-task protocol sweep on 2 Dask workers against the same tasks serially.

Each mode runs as its own ``brainlearn sweep`` command (a fresh interpreter: Brian2's import,
the cluster's start and every task are in the timing), on the same grid: 4 datasets x 2 rules
x 2 seeds of the ``protocol`` experiment. Prints both wall times, their ratio (goal >= 1.7 on
2 cores) and checks that both tables hold the same numbers.

    python benchmarks/sweep_speed.py [--workers 2] [--seeds 2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

GRID = ["dataset=sjostrom2001,sjostrom2001_alt,froemke2006,nevian2006", "rule=pair,triplet"]


def parallel_capacity(n: int = 2, loops: int = 20_000_000) -> float:
    """How many cores this machine gives right now: n busy processes' work rate vs one's."""
    code = f"x = 0\nfor i in range({loops}): x += i"

    def timed(k: int) -> float:
        start = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(k)]
        for p in procs:
            p.wait()
        return time.perf_counter() - start

    one = timed(1)
    return n * one / timed(n)


def run(mode: list[str], out: Path, seeds: int) -> float:
    cmd = [sys.executable, "-m", "brainlearn.cli", "sweep", "--experiment", "protocol",
           "--grid", *GRID, "--seeds", str(seeds), "--out", str(out), "--no-progress", *mode]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    capacity = parallel_capacity(args.workers)
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        tmp = Path(tmp)
        serial = run(["--serial"], tmp / "serial", args.seeds)
        dask = run(["--workers", str(args.workers)], tmp / "dask", args.seeds)
        a = pd.read_parquet(tmp / "serial" / "results.parquet")
        b = pd.read_parquet(tmp / "dask" / "results.parquet")
        n = len(a)
        assert (a["status"] == "ok").all() and (b["status"] == "ok").all()
        pd.testing.assert_frame_equal(a[["key", "E", "points"]], b[["key", "E", "points"]],
                                      check_exact=True)
        task_s = a["wall_seconds"].mean()
    print(f"{n} protocol tasks ({task_s:.2f} s each in the serial run)")
    print(f"serial (one process):         {serial:7.1f} s")
    print(f"dask, {args.workers} worker processes:   {dask:7.1f} s   (cluster start included)")
    print(f"speed-up: {serial / dask:.2f}x   (same results: yes)")
    print(f"cores this machine gave {args.workers} busy processes at the start: {capacity:.2f} "
          "(the ceiling of the speed-up; other users' jobs lower it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
