"""The ``brainlearn`` command-line entry point (a thin shell over the library)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from brainlearn import __version__, commands

__all__ = ["build_parser", "main"]

EPILOG = """examples:
  brainlearn demo                      # small end-to-end run on the embedded MNIST subset
  brainlearn data fetch mnist          # put the full MNIST into the cache
  brainlearn <command> --help          # every command has its own example
"""


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every discovered sub-command."""
    parser = argparse.ArgumentParser(
        prog="brainlearn",
        description="Learning in spiking neural networks on Brian2.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"brainlearn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):  # helpers of the commands, not commands
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `brainlearn data info | head`
        sys.stderr.close()
        return 0
    except (ValueError, OSError, RuntimeError) as exc:
        from brainlearn.data.mnist import MNISTNotCached

        hint = " (or add --data embedded for the shipped subset)" if (
            isinstance(exc, MNISTNotCached) and (hasattr(args, "data") or hasattr(args, "source"))) else ""
        print(f"brainlearn: error: {exc}{hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
