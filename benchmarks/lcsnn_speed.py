"""LC-SNN training speed: this checkout against a baseline commit, in the same run.

One command times ``python -m brainlearn.models.lcsnn train`` (cpp_standalone, seed 0, the
same first training images of full MNIST) twice per number of filters: once with this
checkout's code and once with the code of a baseline commit, exported from this repository
(``git archive``) and installed into a private folder (``pip install --no-deps --target``; no
network), as ``benchmarks/diehl_cook_speed.py`` does for Diehl & Cook. Each run is a separate
process; the two alternate per size. Compilation is not timed (``train_seconds`` of each
run's ``metrics.json``).

Prints ms per training image (250 ms presentations, retries included), both versions and
their ratio (baseline / this checkout), and whether the two trained to the same state
(weights, thresholds, presentations and spike count of the checkpoint, compared bit for bit):
a speed-up that keeps the model exactly says ``same``.

    python benchmarks/lcsnn_speed.py --filters 100,250 --baseline 399762d
    python benchmarks/lcsnn_speed.py --filters 250 --examples 40 --repeat 2

``--examples`` is one count for all sizes or one per size (default 250 at 100 filters, 60 at
250 and 500). ``--keep DIR`` keeps the runs (and the baseline install) in DIR; a baseline
already installed there is reused.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import tempfile
from pathlib import Path

DEFAULT_EXAMPLES = {25: 500, 50: 500, 100: 250, 250: 60, 500: 60}
CLI = ("import sys, brainlearn; "
       "print('brainlearn from', brainlearn.__file__, file=sys.stderr); "
       "from brainlearn.models.lcsnn.__main__ import main; sys.exit(main())")
STATE = ("weights", "theta", "shown", "spikes", "capped", "position")


def _diehl_cook_speed():
    # Diehl & Cook's benchmark: the baseline install and the state comparison live there
    spec = importlib.util.spec_from_file_location(
        "diehl_cook_speed", Path(__file__).with_name("diehl_cook_speed.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train_once(filters: int, k: int, run_dir: Path, site: Path | None,
               threads: int | None) -> dict:
    """One training process; its ``metrics.json`` plus the checkpoint's state."""
    import numpy as np

    args = ["train", "--filters", str(filters), "--examples", str(k), "--seed", "0",
            "--data", "full", "--out", str(run_dir)]
    if threads:
        args += ["--threads", str(threads)]
    metrics = _diehl_cook_speed().run_cli(CLI, args, run_dir, site, f"{filters} filters")
    with np.load(run_dir / "checkpoint.npz") as z:
        metrics["state"] = {key: z[key].copy() for key in STATE if key in z.files}
    return metrics


def same_state(a: dict | None, b: dict | None) -> str:
    """``same`` when every array of ``a`` equals ``b``'s bit for bit (Diehl & Cook's test)."""
    return _diehl_cook_speed().same_state(a, b)


def ms_per_image(m: dict) -> float:
    return 1000.0 * m["train_seconds"] / m["train_examples"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filters", default="100,250",
                        help="comma-separated filter counts (default 100,250)")
    parser.add_argument("--examples", default=None,
                        help="training images per run: one count, or one per size")
    parser.add_argument("--baseline", default="399762d",
                        help="commit to time against (default 399762d, the curve's code)")
    parser.add_argument("--no-baseline", action="store_true", help="time this checkout only")
    parser.add_argument("--repeat", type=int, default=1,
                        help="timed runs of each version per size (the best is reported)")
    parser.add_argument("--threads", type=int, default=None, help="OpenMP threads of both")
    parser.add_argument("--keep", default=None, help="keep runs and the baseline install here")
    args = parser.parse_args()
    speed = _diehl_cook_speed()
    sizes, examples = speed.counts_per_size(args.filters, args.examples, DEFAULT_EXAMPLES,
                                            "filters")

    def once(name: str, f: int, k: int, run_dir: Path, where: Path | None) -> dict:
        m = train_once(f, k, run_dir, where, args.threads)
        print(f"{f} filters {name:8s} run {run_dir.name.rsplit('_', 1)[1]}: "
              f"{ms_per_image(m):8.1f} ms per image ({m['presentations']} presentations, "
              f"{m['train_seconds']:.1f} s, compile {m['compile_seconds']:.0f} s)", flush=True)
        return m

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bl_lcsnn_speed_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        site = None if args.no_baseline else speed.install_baseline(args.baseline, work)
        rows = speed.alternate(sizes, examples, args.repeat, site, work, bool(args.keep), once,
                               ms_per_image)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\nLC-SNN training speed, full MNIST, seed 0, cpp_standalone (ms per training image; "
          f"best of {args.repeat}; same run)")
    print(f"{'filters':>7s} {'images':>7s} {'baseline ' + args.baseline[:10]:>20s} "
          f"{'this checkout':>14s} {'speed-up':>9s}  trained state")
    for f, k, best in rows:
        cur = ms_per_image(best["current"])
        base = best["baseline"]
        base_ms = f"{ms_per_image(base):20.1f}" if base else f"{'-':>20s}"
        ratio = f"{ms_per_image(base) / cur:8.2f}x" if base else f"{'-':>9s}"
        state = same_state((base or {}).get("state"), best["current"]["state"])
        print(f"{f:7d} {k:7d} {base_ms} {cur:14.1f} {ratio}  {state}")


if __name__ == "__main__":
    main()
