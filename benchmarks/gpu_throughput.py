"""Benchmark: Diehl & Cook training throughput at N=6400 (ms per image), GPU when there is one.

Trains a fresh network on the embedded MNIST subset (no download) for ``--images`` images in
one chunk (one compiled binary, one run) and prints the training time per image without the
compile time. ``--device auto`` uses ``cuda_standalone`` when brian2cuda imports and ``nvcc``
is found (the ``cuda`` extra and the CUDA toolkit), ``cpp_standalone`` with every core
otherwise. ``--json PATH`` also writes the numbers. Under ``cuda_standalone`` a run lasts
exactly ``--images`` presentations (a GPU kernel cannot stop it), so images that needed a
retry are finished in a second run that then idles: the time per image includes that idle
tail, an upper bound.

    python benchmarks/gpu_throughput.py                        # N=6400, 300 images, auto
    python benchmarks/gpu_throughput.py --device cpp_standalone --images 50 --neurons 400
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


def cuda_available() -> tuple[bool, str]:
    """Whether cuda_standalone can run here, and why not."""
    try:
        import brian2cuda  # noqa: F401
    except ImportError:
        return False, "brian2cuda is not installed (pip install 'brainlearn[cuda]')"
    if shutil.which("nvcc") is None and not os.environ.get("CUDA_PATH"):
        return False, "nvcc (the CUDA toolkit) is not on PATH and CUDA_PATH is not set"
    if shutil.which("nvidia-smi") is None:
        return False, "no NVIDIA driver (nvidia-smi) found"
    return True, ""


def gpu_name() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                         capture_output=True, text=True)
    return out.stdout.strip() or None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=6400)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--device", default="auto", choices=["auto", "cuda_standalone", "cpp_standalone"])
    parser.add_argument("--threads", type=int, default=None,
                        help="OpenMP threads of cpp_standalone (default: every core)")
    parser.add_argument("--out", help="run directory (default: a temporary one)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    device, why = args.device, ""
    if device == "auto":
        ok, why = cuda_available()
        device = "cuda_standalone" if ok else "cpp_standalone"
    threads = args.threads if args.threads is not None else (os.cpu_count() if device == "cpp_standalone" else None)

    from brainlearn.models.diehl_cook import TrainConfig, train

    run_dir = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="gpu_throughput_")) / "run"
    config = TrainConfig.create(neurons=args.neurons, examples=args.images, seed=0, device=device,
                                threads=threads, data="embedded", chunk=args.images)
    print(f"device {device}" + (f" (no GPU run: {why})" if why else "")
          + f", N={args.neurons}, {args.images} images, threads={threads}, gpu={gpu_name()}",
          flush=True)
    start = time.perf_counter()
    metrics = train(run_dir, config, progress=False)
    wall = time.perf_counter() - start
    result = {
        "device": device, "neurons": args.neurons, "images": metrics["train_examples"],
        "ms_per_image": metrics["ms_per_example"], "compile_seconds": metrics["compile_seconds"],
        "train_seconds": metrics["train_seconds"], "wall_seconds": wall,
        "presentations": metrics["presentations"], "threads": threads, "gpu": gpu_name(),
        "fallback_reason": why or None,
    }
    print(f"{result['ms_per_image']:.1f} ms per image ({result['presentations']} presentations incl. "
          f"retries), compile {result['compile_seconds']:.1f} s, wall {wall:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
