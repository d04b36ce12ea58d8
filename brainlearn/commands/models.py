"""``brainlearn models``: every trainable system, its citation and the commands that run it."""

from __future__ import annotations

import argparse

__all__ = ["register", "handle_list"]

EPILOG = """examples:
  brainlearn models list
  brainlearn models list --embedded        # the commands for the shipped subset
  brainlearn models list --format csv > models.csv
"""


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
