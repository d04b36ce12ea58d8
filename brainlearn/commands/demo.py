"""``brainlearn demo``: a registered model's demo on the embedded data, in about a minute."""

from __future__ import annotations

import argparse

EPILOG = """examples:
  brainlearn demo                  # Diehl & Cook N=100, 1000 embedded training images, runs/demo
  brainlearn demo --out /tmp/demo --neurons 50
  brainlearn demo --model eprop-rsnn --out runs/eprop_demo
  brainlearn models list           # the models (those with a demo say so)

A finished demo in the same directory is replaced (its compiled builds are kept).
"""


def register(subparsers) -> None:
    """Add the ``demo`` command."""
    parser = subparsers.add_parser(
        "demo", help="train and evaluate a model on the embedded data (default Diehl & Cook)",
        description="Run a registered model's demo: train it on the embedded data, evaluate "
        "it, write its run directory. The default, Diehl & Cook, trains N=100 neurons on the "
        "1000 embedded training images, assigns labels, tests on the 500 embedded test images "
        "and writes the figures.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default="diehl-cook-2015",
                        help="registered model (brainlearn models list; default diehl-cook-2015)")
    parser.add_argument("--out", default="runs/demo", help="run directory (default runs/demo)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--neurons", type=int, default=None,
                        help="network size, for a demo that takes one (Diehl & Cook: default 100)")
    parser.add_argument("--device", default=None,
                        choices=["cpp_standalone", "runtime", "cuda_standalone"],
                        help="Brian2 device, for a demo that takes one (default its own)")
    parser.set_defaults(func=_demo)


def _demo(args) -> int:
    import inspect
    from pathlib import Path

    from brainlearn.models import MODELS, get_model

    spec = get_model(args.model)
    if spec.demo is None:
        raise ValueError(f"model {args.model!r} has no demo; models with one: "
                         + ", ".join(n for n, s in MODELS.items() if s.demo is not None))
    options = {k: v for k, v in (("neurons", args.neurons), ("device", args.device))
               if v is not None}
    try:
        inspect.signature(spec.demo).bind(Path(args.out), seed=args.seed, **options)
    except TypeError:
        raise ValueError(f"the demo of {args.model} takes no --{' --'.join(options)}") from None
    metrics = spec.demo(Path(args.out), seed=args.seed, **options)
    line = f"\n{args.model} demo on the embedded data"
    if "accuracy" in metrics:
        line += f": accuracy {100 * metrics['accuracy']:.1f} %"
        if "test_examples" in metrics:
            line += f" on {metrics['test_examples']} test images (chance 10 %)"
    if "ms_per_example" in metrics:
        line += f"; training {metrics['ms_per_example']:.1f} ms per image"
    print(line + ".")
    figures = metrics.get("figures", [])
    print(f"run directory: {metrics.get('run_dir', args.out)}"
          + (f" ({len(figures)} figures)" if figures else ""))
    return 0
