"""``brainlearn models``: every trainable system, its citation and the commands that run it;
``train`` and ``evaluate`` run any registered model's own ``train`` and ``evaluate`` (the model
contract), with its options given as ``--set KEY=VALUE``."""

from __future__ import annotations

import argparse

__all__ = ["register", "handle_list", "handle_train", "handle_evaluate", "parse_options"]

EPILOG = """examples:
  brainlearn models list
  brainlearn models list --embedded        # the commands for the shipped subset
  brainlearn models list --format csv > models.csv
  brainlearn models train --model lcsnn --set n_filters=100 --seed 0 --out runs/lcsnn100
  brainlearn models evaluate runs/lcsnn100
"""


def parse_options(items) -> dict:
    """``["n_filters=100", "data=full"]`` -> ``{"n_filters": 100, "data": "full"}`` (numbers,
    ``true``/``false`` and JSON values converted; anything else stays text)."""
    import json

    options = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(text)
        except ValueError:
            options[key] = text
    return options


def handle_train(args: argparse.Namespace) -> int:
    """Run ``brainlearn models train``: the model's ``train`` on a run directory."""
    from brainlearn.models import get_model

    spec = get_model(args.model)
    metrics = spec.train(args.out, data=args.data, seed=args.seed, **parse_options(args.set))
    print(f"{args.model}: trained {args.out}"
          + (f" ({metrics['train_examples']} images)" if "train_examples" in metrics else ""))
    return 0


def handle_evaluate(args: argparse.Namespace) -> int:
    """Run ``brainlearn models evaluate``: the evaluation of the model that wrote the run."""
    from brainlearn.models import model_of

    spec = model_of(args.run)
    metrics = spec.evaluate(args.run, **parse_options(args.set))
    scores = {k: v for k, v in metrics.items() if k.startswith("accuracy") and v is not None}
    print(f"{spec.name}: " + ", ".join(f"{k} {100 * v:.2f} %" for k, v in scores.items()))
    return 0


def handle_list(args: argparse.Namespace) -> int:
    """Run ``brainlearn models list``."""
    from brainlearn.models import MODELS, models_table

    if args.format == "csv":
        print(models_table().to_csv(index=False), end="")
        return 0
    for model in MODELS.values():
        commands = model.embedded if args.embedded else model.commands
        sweep = f"  sweep: {model.sweep.name}" if model.sweep is not None else ""
        print(f"{model.name}  [{model.family}]  {model.module}{sweep}")
        print(f"  {model.title}")
        print(f"  cite: {model.citation}")
        if args.embedded and not commands:
            print("  (runs on its own task data; no embedded-subset variant)")
        for command in commands:
            print(f"  $ {command}")
        print()
    return 0


def register(subparsers) -> None:
    """Add ``brainlearn models`` with ``list``."""
    parser = subparsers.add_parser(
        "models", help="list every trainable system with its citation and commands",
        description="The registry of brainlearn.models: each system's name, family, the paper "
        "it reproduces and the commands that train and evaluate it.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="models_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: parser.print_help() or 0)
    listing = sub.add_parser("list", help="name, family, citation and commands of every model",
                             epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    listing.add_argument("--embedded", action="store_true",
                         help="show the commands for the embedded 1,000/500 MNIST subset")
    listing.add_argument("--format", choices=("text", "csv"), default="text",
                         help="text (default) or a CSV table of the registry")
    listing.set_defaults(func=handle_list)
    train = sub.add_parser("train", help="train a run directory with any registered model",
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--model", required=True, help="registered model name (models list)")
    train.add_argument("--out", required=True, help="run directory")
    train.add_argument("--data", choices=("full", "embedded"), default="full")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--set", nargs="+", action="extend", metavar="KEY=VALUE",
                       help="the model's own training options")
    train.set_defaults(func=handle_train)
    evaluate = sub.add_parser("evaluate", help="evaluate a run directory (its model found "
                              "from the directory)", epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_argument("run", help="a trained run directory")
    evaluate.add_argument("--set", nargs="+", action="extend", metavar="KEY=VALUE",
                          help="the model's own evaluation options")
    evaluate.set_defaults(func=handle_evaluate)
