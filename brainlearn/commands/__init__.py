"""Sub-commands of the ``brainlearn`` CLI.

Every module in this package defines ``register(subparsers)``, which adds one
top-level command with ``set_defaults(func=handler)``; ``handler(args)`` returns
the exit code. Modules are discovered automatically, so a new command is a new
file. Keep imports of heavy libraries (brian2, torch) inside the handlers so
``brainlearn --help`` stays fast. Modules whose name starts with ``_`` are helpers, not
commands (``_args``: the one comma-separated list parser).
"""

from __future__ import annotations

from brainlearn.commands._args import list_type, split_list

__all__ = ["int_list", "float_list", "str_list", "list_type", "split_list"]


#: argparse type: comma-separated positive integers, e.g. ``8,16,32``
int_list = list_type(int, minimum=1)

#: argparse type: comma-separated numbers, e.g. ``0,0.5``
float_list = list_type(float)


def str_list(choices):
    """argparse type: comma-separated names, each one of ``choices`` (any, if empty)."""
    return list_type(str, choices=tuple(choices) or None)
