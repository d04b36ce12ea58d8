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
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_EXAMPLES = {25: 500, 50: 500, 100: 250, 250: 60, 500: 60}
CLI = ("import sys, brainlearn; "
       "print('brainlearn from', brainlearn.__file__, file=sys.stderr); "
       "from brainlearn.models.lcsnn.__main__ import main; sys.exit(main())")
STATE = ("weights", "theta", "shown", "spikes", "capped", "position")


def _install_baseline(commit: str, where: Path) -> Path:
    # the same install as Diehl & Cook's benchmark (one place for it)
    spec = importlib.util.spec_from_file_location(
        "diehl_cook_speed", Path(__file__).with_name("diehl_cook_speed.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.install_baseline(commit, where)


def train_once(filters: int, k: int, run_dir: Path, site: Path | None,
               threads: int | None) -> dict:
    """One training process; its ``metrics.json`` plus the checkpoint's state."""
    import numpy as np

    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    cmd = [sys.executable, "-c", CLI, "train", "--filters", str(filters), "--examples", str(k),
           "--seed", "0", "--data", "full", "--out", str(run_dir)]
    if threads:
        cmd += ["--threads", str(threads)]
    # from the run's parent folder: the checkout's own brainlearn/ would shadow the baseline's
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=run_dir.parent)
    origin = next((line for line in done.stderr.splitlines() if "brainlearn from" in line), "")
    expected = str(site) if site is not None else str(REPO)
    if done.returncode != 0 or expected not in origin:
        sys.exit(f"training {filters} filters ({'baseline' if site else 'this checkout'}) "
                 f"failed ({origin or 'no brainlearn'}):\n{done.stderr[-3000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    with np.load(run_dir / "checkpoint.npz") as z:
        metrics["state"] = {key: z[key].copy() for key in STATE if key in z.files}
    return metrics


def same_state(a: dict | None, b: dict | None) -> str:
    if not a or not b:
        return "-"
    import numpy as np

    differ = [k for k in a if k not in b or not np.array_equal(a[k], b[k])]
    return "same" if not differ else "differs: " + ",".join(differ)


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
    try:
        sizes = [int(v) for v in args.filters.split(",") if v.strip()]
        counts = [int(v) for v in (args.examples or "").split(",") if v.strip()]
    except ValueError:
        sys.exit(f"--filters and --examples take comma-separated integers, got "
                 f"{args.filters!r} and {args.examples!r}")
    if counts and len(counts) not in (1, len(sizes)):
        sys.exit(f"--examples gives {len(counts)} counts for {len(sizes)} sizes")
    examples = {f: (counts[0] if len(counts) == 1 else counts[i]) if counts
                else DEFAULT_EXAMPLES.get(f, 100) for i, f in enumerate(sizes)}

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bl_lcsnn_speed_"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        site = None if args.no_baseline else _install_baseline(args.baseline, work)
        for f in sizes:
            k = examples[f]
            best: dict = {"baseline": None, "current": None}
            for r in range(args.repeat):
                for name, where in (("baseline", site), ("current", None)):
                    if name == "baseline" and site is None:
                        continue
                    run_dir = work / f"{name}_{f}_{r}"
                    shutil.rmtree(run_dir, ignore_errors=True)
                    m = train_once(f, k, run_dir, where, args.threads)
                    print(f"{f} filters {name:8s} run {r}: {ms_per_image(m):8.1f} ms per image "
                          f"({m['presentations']} presentations, {m['train_seconds']:.1f} s, "
                          f"compile {m['compile_seconds']:.0f} s)", flush=True)
                    if best[name] is None or ms_per_image(m) < ms_per_image(best[name]):
                        best[name] = m
                    if not args.keep:
                        shutil.rmtree(run_dir, ignore_errors=True)
            rows.append((f, k, best))
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
