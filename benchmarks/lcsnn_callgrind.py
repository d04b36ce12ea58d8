"""LC-SNN training, counted in instructions per image per code object (valgrind's callgrind).

Compiles one training build for ``2 k`` images and runs its program twice under callgrind
(with its cache model: 32 KB L1 data cache, 1 MB last level, the size of this machine's L2),
over the first ``k`` and the first ``2 k`` images from the same start state; the difference
divided by ``k`` is the cost per image, set-up and compilation left out. Counts do not
depend on the machine's load, unlike wall time.

    python benchmarks/lcsnn_callgrind.py --filters 250 --k 2 --out /tmp/cg250 \\
        --state RUN/checkpoint.npz --position 1500

``--state`` starts from a run's checkpoint (weights and thresholds; ``--position`` is where
in the training set it stopped, which picks the images and the learning rate), otherwise
from the initial weights of seed 0. It profiles the brainlearn that the interpreter imports:
for a baseline commit, put its install first on ``PYTHONPATH`` (``benchmarks/lcsnn_speed.py
--keep DIR`` leaves one in ``DIR``) and run this from outside the checkout. Needs
``valgrind`` and full MNIST.
"""

from __future__ import annotations

import argparse
import inspect
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

CACHE = ["--cache-sim=yes", "--D1=32768,8,64", "--LL=1048576,16,64"]


def profile(filters: int, k: int, out: Path, state: str | None, position: int) -> None:
    """The two callgrind runs (``out/cg_K.out``, ``out/cg_2K.out``) and their outputs."""
    from brian2 import prefs

    import brainlearn
    from brainlearn.models.lcsnn.model import LCSNNParams, crop_images
    from brainlearn.models.lcsnn.network import compile_network, present_chunk
    from brainlearn.models.lcsnn.training import load_images

    print("brainlearn from", brainlearn.__file__, file=sys.stderr)
    p = LCSNNParams.paper(filters)
    images, _ = load_images("full", "train", 2 * k + position)
    pixels = crop_images(images, p.crop)[position:]
    if state:
        with np.load(state) as z:
            weights, theta = z["weights"].astype(float), z["theta"].astype(float)
    else:
        weights, theta = p.initial_weights(np.random.default_rng(0)), np.zeros(p.n_neurons)
    # the curve's code (399762d) compiled a training build apart (``plastic=True``)
    extra = {"plastic": True} if "plastic" in inspect.signature(compile_network).parameters \
        else {}
    sim = compile_network(p, 2 * k, out / "run", **extra)
    key = "devices.cpp_standalone.run_cmd_unix"
    saved = prefs[key]
    try:
        for n in (k, 2 * k):
            prefs[key] = ["valgrind", "--tool=callgrind", *CACHE,
                          f"--callgrind-out-file={out}/cg_{n}.out", "./main"]
            o = present_chunk(sim, p, pixels[:n], weights, theta, seed=7,
                              learning_rate=p.learning_rate(position))
            prefs[key] = saved
            np.savez(out / f"state_{n}.npz", weights=o.weights, theta=o.theta, counts=o.counts,
                     step=o.spike_step, neuron=o.spike_neuron, example=o.spike_example)
            print(f"{n} images: {o.shown} presentations, {o.counts.sum()} spikes",
                  file=sys.stderr)
    finally:
        prefs[key] = saved
        sim.close()


def _counts(path: Path) -> tuple[dict, dict]:
    """Program totals and inclusive counts of each code object in a callgrind output."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                           "--show-percs=no", "--auto=no", str(path)],
                          capture_output=True, text=True, check=True).stdout
    events, rows, total = None, {}, {}
    for line in text.splitlines():
        if line.startswith("Events shown:"):
            events = line.split(":", 1)[1].split()
        m = re.match(r"^\s*([\d,]+(?:\s+[\d,.]+)*)\s+(.*)$", line)
        if not m or events is None:
            continue
        nums = [int(x.replace(",", "").replace(".", "0")) for x in m.group(1).split()]
        if len(nums) != len(events):
            continue
        if "PROGRAM TOTALS" in m.group(2):
            total = dict(zip(events, nums, strict=True))
            continue
        f = re.search(r":_run_(\w+)\(\)", m.group(2))
        if f:
            rows[f.group(1)] = dict(zip(events, nums, strict=True))
    return total, rows


def table(out: Path, k: int) -> str:
    """Per image: instructions, L1 data and last-level misses per code object (M)."""
    (t1, r1), (t2, r2) = _counts(out / f"cg_{k}.out"), _counts(out / f"cg_{2 * k}.out")

    def per(a: dict, b: dict) -> tuple[float, float, float]:
        d = {e: (b.get(e, 0) - a.get(e, 0)) / k / 1e6 for e in set(a) | set(b)}
        return (d.get("Ir", 0.0), d.get("D1mr", 0.0) + d.get("D1mw", 0.0),
                d.get("DLmr", 0.0) + d.get("DLmw", 0.0))

    total = per(t1, t2)
    lines = [f"per image, (cg_{2 * k} - cg_{k}) / {k}, millions",
             f"{'code object':48s} {'instructions':>12s} {'L1 misses':>10s} {'LL misses':>10s}"]
    rows = sorted(((name, per(r1.get(name, {}), r2.get(name, {})))
                   for name in set(r1) | set(r2)), key=lambda x: -x[1][0])
    for name, (ir, d1, ll) in rows:
        if ir >= 0.001 * total[0]:
            lines.append(f"{name:48s} {ir:12.1f} {d1:10.2f} {ll:10.2f}")
    lines.append(f"{'total':48s} {total[0]:12.1f} {total[1]:10.2f} {total[2]:10.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filters", type=int, default=250)
    parser.add_argument("--k", type=int, default=2, help="images of the shorter run (2)")
    parser.add_argument("--out", required=True, help="folder for the build and the outputs")
    parser.add_argument("--state", default=None, help="a run's checkpoint.npz to start from")
    parser.add_argument("--position", type=int, default=0,
                        help="training images the checkpoint had seen (0)")
    parser.add_argument("--table-only", action="store_true",
                        help="print the table of an earlier --out without running")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not args.table_only:
        profile(args.filters, args.k, out, args.state, args.position)
    print(table(out, args.k))


if __name__ == "__main__":
    main()
