"""Profile: instructions per image of the frozen Diehl & Cook network, per function (callgrind).

Runs the frozen network of a trained run (``brainlearn mnist train`` folder) on its first
``2k`` test images once normally (which compiles it in ``RUN/<build>``), then its compiled
``main`` under ``valgrind --tool=callgrind`` on the first ``k`` and on the first ``2k`` images
(same seed, so the first ``k`` images spike alike), and prints ``(cost(2k) - cost(k)) / k``
per function: the per-image cost with the program's start, file reading and set-up taken out.
Instruction counts are what a loaded machine cannot blur; they do not count system calls.
The program is compiled for AVX2 (``diehl_cook_callgrind.FLAGS``): valgrind cannot run the
AVX-512 code that Brian2's ``-march=native`` gives on CPUs that have it.

    python benchmarks/diehl_cook_eval_profile.py RUN [--images 50] [--build build_profile]
                                                     [--top 20] [--out DIR]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from diehl_cook_callgrind import FLAGS  # noqa: E402  (the same AVX2 build flags)


def _costs(path: Path) -> dict[str, int]:
    """Exclusive instruction counts per function of a callgrind output file."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", str(path)],
                         capture_output=True, text=True, check=True).stdout
    costs: dict[str, int] = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(\S.*)", line)
        if m:
            name = re.sub(r" \[.*", "", m.group(2).strip()).replace("???:", "")
            costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
    return costs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a trained run's folder")
    parser.add_argument("--images", type=int, default=50, help="k (default 50)")
    parser.add_argument("--build", default="build_profile", help="build folder in RUN")
    parser.add_argument("--top", type=int, default=20, help="functions shown")
    parser.add_argument("--out", type=Path, default=None, help="keep the callgrind files here")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        sys.exit("this profile needs valgrind (callgrind_annotate) on PATH")
    if args.images < 1:
        sys.exit(f"--images must be at least 1, got {args.images}")

    from brian2 import prefs

    from brainlearn.models.diehl_cook.config import evaluation_images, load_npz, read_run_config
    from brainlearn.models.diehl_cook.frozen import FrozenNetwork

    config = read_run_config(args.run)
    x = np.asarray(evaluation_images(config)["test"][0], dtype=float)
    x = x.reshape(len(x), -1)
    k = min(args.images, len(x) // 2)
    out = args.out or Path(tempfile.mkdtemp(prefix="eval_profile_"))
    out.mkdir(parents=True, exist_ok=True)
    key = "devices.cpp_standalone.run_cmd_unix"
    prefs["codegen.cpp.extra_compile_args_gcc"] = FLAGS
    with FrozenNetwork(config, load_npz(args.run / "weights.npz"), args.run, args.build) as net:
        reference = net.counts(x[:2 * k])
        for m in (k, 2 * k):
            prefs[key] = ["valgrind", "--tool=callgrind",
                          f"--callgrind-out-file={out / f'callgrind_{m}.out'}", "./main"]
            try:
                same = np.array_equal(net.counts(x[:m]), reference[:m])
            finally:
                prefs[key] = "./main"
            if not same:
                sys.exit("the counts under callgrind differ from the normal run's")
    small, large = _costs(out / f"callgrind_{k}.out"), _costs(out / f"callgrind_{2 * k}.out")
    per_image = sorted(((large[f] - small.get(f, 0)) / k, f) for f in large)[::-1]
    print(f"N={config.neurons}, instructions per image (M), from {k} and {2 * k} test images:")
    for cost, name in per_image[:args.top + 1]:
        print(f"{cost / 1e6:9.3f}  {name[:110]}")
    print(f"callgrind files: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
