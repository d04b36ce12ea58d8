"""The LC-SNN's frozen network against the training binary frozen by its run values.

For each size, the same images (the first test images of full MNIST, or embedded with
``--data embedded``) go through the plastic network with learning switched off per run (what
``evaluate`` has shown images with) and through the network built without plasticity
(``compile_network(..., frozen=True)``: fixed weights and thresholds as constants, the input
effect alone on_pre). Each (size, network) runs in a process of its own, alternating
``--repeats`` times, so both are timed in the same minutes; the script checks that both give
the same counts and spikes and prints ms per image (the program's own wall time, and the
whole chunk call with its inputs and outputs).

    python benchmarks/lcsnn_frozen_speed.py --filters 100 500 --images 200 \\
        --weights 100=runs/lcsnn/f100_s0/weights.npz

Weights: a run's ``weights.npz`` (or a ``checkpoint.npz``) per size, else the initial random
weights of seed 0 (thresholds zero).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _weights(p, path: str | None):
    if path:
        with np.load(path) as f:
            return f["weights"], f["theta"]
    return p.initial_weights(np.random.default_rng(0)), np.zeros(p.n_neurons)


def one(filters: int, frozen: bool, images: int, data: str, weights: str | None,
        folder: Path, out: Path) -> None:
    """Show the images to one network in one process; write its outputs and timings."""
    from brainlearn.models.lcsnn.model import LCSNNParams, crop_images
    from brainlearn.models.lcsnn.network import chunk_seed, compile_network, present_chunk
    from brainlearn.models.lcsnn.runs import load_images

    p = LCSNNParams.paper(filters)
    w, theta = _weights(p, weights)
    x, _ = load_images(data, "test", images)
    pixels = crop_images(x, p.crop)
    chunk = min(p.decay_every, images)
    arrays, wall, call = {}, 0.0, 0.0
    with compile_network(p, chunk, folder, build="build_frozen" if frozen else "build",
                         frozen=frozen) as sim:
        for k, start in enumerate(range(0, images, chunk)):
            t0 = time.perf_counter()
            part = present_chunk(sim, p, pixels[start:start + chunk], w, theta,
                                 seed=chunk_seed(0, k, stage=1))
            call += time.perf_counter() - t0
            wall += part.wall_seconds
            for name in ("counts", "spike_example", "spike_step", "spike_neuron"):
                arrays.setdefault(name, []).append(getattr(part, name))
    np.savez(out, **{k: np.concatenate(v) for k, v in arrays.items()})
    out.with_suffix(".json").write_text(json.dumps({
        "program_ms": 1000 * wall / images, "call_ms": 1000 * call / images,
        "compile_s": sim.compile_seconds}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filters", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data", choices=("full", "embedded"), default="full")
    parser.add_argument("--weights", nargs="*", default=[], metavar="FILTERS=NPZ")
    parser.add_argument("--work", default="/tmp/lcsnn_frozen_speed")
    parser.add_argument("--one", nargs=3, metavar=("FILTERS", "NETWORK", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    given = dict(item.split("=", 1) for item in args.weights)
    if args.one:
        filters, network, out = args.one
        one(int(filters), network == "frozen", args.images, args.data, given.get(filters),
            Path(args.work) / f"f{filters}", Path(out))
        return 0
    rows = []
    for filters in args.filters:
        times = {"plastic": [], "frozen": []}
        for r in range(args.repeats):
            for network in ("plastic", "frozen"):
                out = Path(args.work) / f"f{filters}_{network}_{r}.npz"
                out.parent.mkdir(parents=True, exist_ok=True)
                cmd = [sys.executable, __file__, "--one", str(filters), network, str(out),
                       "--images", str(args.images), "--data", args.data, "--work", args.work,
                       "--weights", *args.weights]
                subprocess.run(cmd, check=True)
                times[network].append(json.loads(out.with_suffix(".json").read_text()))
        a = np.load(Path(args.work) / f"f{filters}_plastic_0.npz")
        b = np.load(Path(args.work) / f"f{filters}_frozen_0.npz")
        same = all(np.array_equal(a[k], b[k]) for k in a.files)
        row = {"filters": filters, "images": args.images, "same_spikes": same,
               "spikes_per_image": float(a["counts"].sum()) / args.images}
        for network, runs in times.items():
            row[f"{network}_program_ms"] = [round(t["program_ms"], 2) for t in runs]
            row[f"{network}_call_ms"] = [round(t["call_ms"], 2) for t in runs]
        row["speedup_program"] = round(np.mean(row["plastic_program_ms"])
                                       / np.mean(row["frozen_program_ms"]), 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return 0 if all(r["same_spikes"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
