"""Sub-commands of the ``brainlearn`` CLI.

Every module in this package defines ``register(subparsers)``, which adds one
top-level command with ``set_defaults(func=handler)``; ``handler(args)`` returns
the exit code. Modules are discovered automatically, so a new command is a new
file. Keep imports of heavy libraries (brian2, torch) inside the handlers so
``brainlearn --help`` stays fast.
"""

from __future__ import annotations

import argparse

__all__ = ["int_list", "seed_list", "float_list", "str_list"]


def int_list(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated positive integers, e.g. ``8,16,32``."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def seed_list(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated seeds (non-negative integers), e.g. ``0,1,2``."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected seeds 0, 1, 2, ..., got {text!r}")
    return values


def float_list(text: str) -> tuple[float, ...]:
    """argparse type: comma-separated numbers, e.g. ``0,0.5``."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one number, got {text!r}")
    return values


def str_list(choices):
    """argparse type: comma-separated names, each one of ``choices`` (any, if empty)."""
    def parse(text: str) -> tuple[str, ...]:
        values = tuple(v.strip() for v in text.split(",") if v.strip())
        bad = [v for v in values if choices and v not in choices]
        if not values or bad:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {', '.join(choices)}, got {text!r}")
        return values
    return parse
