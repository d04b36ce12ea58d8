"""Wall time of one converted-SNN evaluation on Brian2's runtime (numpy, cython) and cpp_standalone.

Prints seconds per device and the ratio to the numpy runtime measured in the same run; also the
cost of a second cpp_standalone run of twice the images (compile time is paid per build).

    python benchmarks/convert_devices.py --mlp runs/mlp500/mlp.npz --images 200 --steps 64
    python benchmarks/convert_devices.py            # trains a small MLP on the embedded subset
"""

from __future__ import annotations

import argparse
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mlp", help="mlp.npz from `brainlearn convert train`")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--source", default="full", choices=("full", "embedded"))
    parser.add_argument("--skip", default="", help="comma list of devices to skip")
    args = parser.parse_args()

    from brian2 import prefs

    from brainlearn.data import load_mnist
    from brainlearn.lanes import preprocess
    from brainlearn.models.conversion import MLP, convert, simulate, train_mlp

    source = args.source if args.mlp else "embedded"
    x_train, y_train = load_mnist("train", n=1000, seed=0, source=source)
    x_test, y_test = load_mnist("test", n=args.images, source=source)
    mlp = MLP.load(args.mlp) if args.mlp else train_mlp(preprocess(x_train), y_train,
                                                         hidden=(100,), epochs=10, seed=0)
    conv = convert(mlp, x_train, "99.9")
    steps = (args.steps,)
    skip = set(args.skip.split(","))
    times = {}
    accuracy = {}
    for name, device, target in [("numpy", "runtime", "numpy"), ("cython", "runtime", "cython"),
                                 ("cpp_standalone", "cpp_standalone", None)]:
        if name in skip:
            continue
        if target:
            prefs.codegen.target = target
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            res = simulate(conv, x_test, steps=steps, device=device, directory=tmp)[0]
            times[name] = time.perf_counter() - start
        accuracy[name] = float(res.accuracy(y_test)[0])
    base = times.get("numpy")
    print(f"{args.images} images, T = {args.steps}, analog, 99.9th percentile, reset subtract")
    for name, seconds in times.items():
        ratio = f"{base / seconds:6.2f}x numpy" if base else ""
        print(f"  {name:<15} {seconds:8.1f} s  {ratio}  accuracy {accuracy[name]:.4f}")


if __name__ == "__main__":
    main()
