"""``brainlearn demo``: the main job on the embedded MNIST subset, in about a minute."""

from __future__ import annotations

import argparse

EPILOG = """example:
  brainlearn demo                  # N=100, 1000 embedded training images, writes runs/demo
  brainlearn demo --out /tmp/demo --neurons 50
"""


def register(subparsers) -> None:
    """Add the ``demo`` command."""
    parser = subparsers.add_parser(
        "demo", help="train and evaluate Diehl & Cook on the embedded MNIST subset",
        description="Train N=100 Diehl & Cook neurons on the 1000 embedded training images, "
        "assign labels, test on the 500 embedded test images, write the figures.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="runs/demo", help="run directory (default runs/demo)")
    parser.add_argument("--neurons", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpp_standalone",
                        choices=["cpp_standalone", "runtime", "cuda_standalone"])
    parser.set_defaults(func=_demo)


def _demo(args) -> int:
    from brainlearn.models.diehl_cook.runs import demo

    metrics = demo(args.out, neurons=args.neurons, seed=args.seed, device=args.device)
    print(f"\nDiehl & Cook N={args.neurons} on the embedded subset: accuracy "
          f"{100 * metrics['accuracy']:.1f} % on {metrics['test_examples']} test images "
          f"(chance 10 %); training {metrics['ms_per_example']:.1f} ms per image.")
    print(f"run directory: {metrics['run_dir']} (config.json, metrics.json, weights.npz, "
          f"spikes.parquet, {len(metrics['figures'])} figures)")
    return 0
