"""Diehl & Cook training, counted in instructions per image per code object (callgrind).

Runs ``brainlearn mnist train`` (seed 0, full MNIST, from image 0) for ``k`` and for ``2 k``
images with its compiled program under valgrind's callgrind (with its cache model: 32 KB L1
data cache, 32 MB last level), and prints the difference divided by ``k``: the cost per image
of each code object, set-up and compilation left out. Counts do not depend on the machine's
load, unlike wall time, so this runs beside other jobs. The program is compiled for AVX2
(``-march=haswell``): valgrind cannot run AVX-512 code, which ``-march=native`` gives on
machines that have it.

    python benchmarks/diehl_cook_callgrind.py --neurons 6400 --k 4 --out /tmp/cg6400
    python benchmarks/diehl_cook_callgrind.py --neurons 6400 --k 4 --out /tmp/cg_base \\
        --baseline-site /tmp/bench/baseline_476c6f3f7001

``--baseline-site`` profiles a brainlearn installed in a folder (``benchmarks/diehl_cook_speed.py
--keep DIR`` leaves the baseline's install in ``DIR``) instead of this checkout's. Needs
``valgrind`` and full MNIST (``brainlearn data fetch mnist``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lcsnn_callgrind import table  # noqa: E402  (the same per-image table)

CACHE = ["--cache-sim=yes", "--D1=32768,8,64", "--LL=33554432,16,64"]
FLAGS = ["-w", "-O3", "-ffast-math", "-fno-finite-math-only", "-march=haswell", "-std=c++11"]
CLI = ("import sys, brainlearn, brainlearn.cli; "
       "print('brainlearn from', brainlearn.__file__, file=sys.stderr); "
       "sys.exit(brainlearn.cli.main())")


def profile(neurons: int, k: int, out: Path, site: str | None) -> None:
    """The two callgrind runs, ``out/cg_K.out`` and ``out/cg_2K.out``."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if site:
        env["PYTHONPATH"] = str(Path(site).resolve())
    for n in (k, 2 * k):
        # Brian2 reads ./brian_preferences of the working directory: the run command and flags
        (out / "brian_preferences").write_text(
            "devices.cpp_standalone.run_cmd_unix = "
            f"{['valgrind', '--tool=callgrind', *CACHE, f'--callgrind-out-file={out}/cg_{n}.out', './main']!r}\n"
            f"codegen.cpp.extra_compile_args_gcc = {FLAGS!r}\n")
        run = out / f"run_{n}"
        done = subprocess.run([sys.executable, "-c", CLI, "mnist", "train", "--neurons", str(neurons),
                               "--examples", str(n), "--data", "full", "--seed", "0", "--out",
                               str(run), "--no-progress"], cwd=out, env=env, capture_output=True,
                              text=True)
        if done.returncode != 0 or not (out / f"cg_{n}.out").exists():
            sys.exit(f"the run of {n} images failed:\n{done.stderr[-2000:]}")
        print(done.stderr.splitlines()[0], f"({n} images)", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--neurons", type=int, default=6400)
    parser.add_argument("--k", type=int, default=4, help="images of the shorter run (4)")
    parser.add_argument("--out", required=True, help="an empty folder for the runs and outputs")
    parser.add_argument("--baseline-site", default=None,
                        help="a folder with another brainlearn installed (pip --target)")
    parser.add_argument("--table-only", action="store_true",
                        help="print the table of an earlier --out without running")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not args.table_only:
        profile(args.neurons, args.k, out, args.baseline_site)
    print(table(out, args.k))


if __name__ == "__main__":
    main()
