"""The ``brainlearn`` command-line entry point (a thin shell over the library)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import pkgutil
import signal
import sys
import threading

from brainlearn import __version__, commands
from brainlearn.commands._args import check_options

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


#: signals that end a command the way Ctrl-C does (temporary files removed, locks released)
_STOP_SIGNALS = ("SIGTERM", "SIGHUP")


@contextlib.contextmanager
def _signals_interrupt():
    """SIGTERM and SIGHUP raise ``KeyboardInterrupt(128 + signal)`` while a command runs, so
    every ``finally`` and ``except`` runs as for Ctrl-C: no temporary file is left behind
    (:mod:`brainlearn.atomic`) and the exit code is the shell's 143 / 129. Signals whose
    handler is not the default (set by whoever embeds the CLI) are left alone."""
    def stop(signum, frame):
        raise KeyboardInterrupt(128 + signum)

    saved = {}
    if threading.current_thread() is threading.main_thread():
        for name in _STOP_SIGNALS:
            number = getattr(signal, name, None)
            if number is not None and signal.getsignal(number) is signal.SIG_DFL:
                saved[number] = signal.signal(number, stop)
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    from brainlearn.standalone import keep_sigint_ignored, skip_exit_collection

    skip_exit_collection()  # the process ends when the command does, not a second later
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    keep_sigint_ignored()
    try:
        with _signals_interrupt():
            check_options(args)  # counts, numbers, seeds: refused before anything is written
            return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 130
        print("terminated" if code != 130 else "interrupted", file=sys.stderr)
        return code
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
