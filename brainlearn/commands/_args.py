"""The one parser of comma-separated lists on the command line (``8,16,32``, ``pair,triplet``).

:func:`split_list` is the function; :func:`list_type` wraps it as an ``argparse`` ``type=``
(errors become argparse's usage errors). The names ``int_list``, ``float_list`` and
``str_list`` of :mod:`brainlearn.commands` are made with it. Library functions that accept a
list take a sequence; commands split the text here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["split_list", "list_type", "check_options", "COUNTS", "COUNTS_OR_ZERO", "POSITIVE", "SEEDS"]

#: how an error names the expected items, by converter
_WHAT = {int: "integers", float: "numbers", str: "names"}


def split_list(text: str, convert: Callable[[str], Any] = str, *, choices: Iterable[str] | None = None,
               minimum: float | None = None, flag: str | None = None) -> tuple:
    """Split ``text`` at commas, strip and convert every item; blank items are skipped.

    Parameters
    ----------
    text : str
        The command-line value, e.g. ``"8,16,32"``.
    convert : callable
        Converter of one item (``int``, ``float``, ``str`` or any ``str -> value``).
    choices : iterable of str, optional
        Allowed items (for names).
    minimum : number, optional
        Smallest allowed value (e.g. 1 for positive integers).
    flag : str, optional
        The option's name, for the error message (e.g. ``"--seeds"``).

    Returns
    -------
    tuple
        The converted items (at least one).

    Raises
    ------
    ValueError
        One line naming the option, the expected items and the text given.
    """
    what = _WHAT.get(convert, "values")
    if choices:
        what = ", ".join(choices)
    elif minimum is not None:
        what = f"{what} >= {minimum:g}"
    where = f"{flag} takes" if flag else "expected"
    expected = f"{where} a comma-separated list of {what}, got {text!r}"
    try:
        values = tuple(convert(v.strip()) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise ValueError(expected) from None
    if not values:
        raise ValueError(expected)
    if choices and any(v not in set(choices) for v in values):
        raise ValueError(expected)
    if minimum is not None and min(values) < minimum:
        raise ValueError(expected)
    return values


def list_type(convert: Callable[[str], Any] = str, **options) -> Callable[[str], tuple]:
    """An ``argparse`` ``type=`` that parses a comma-separated list with :func:`split_list`."""

    def parse(text: str) -> tuple:
        try:
            return split_list(text, convert, **options)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = f"{getattr(convert, '__name__', 'value')}_list"
    return parse


#: options (argparse ``dest``) that are counts of at least 1 (images, neurons, workers, ...)
COUNTS = frozenset({
    "neurons", "examples", "chunk", "threads", "workers", "assign_examples", "test_examples",
    "train_examples", "fast_examples", "norm_examples", "iterations",
    "batch_size", "lanes", "steps", "window", "hidden", "chunk_size", "maxiter", "points",
})
#: counts that may be 0 (``convert cnn --brian2-examples 0`` skips Brian2)
COUNTS_OR_ZERO = frozenset({"validation", "shift", "retries", "brian2_examples"})
#: numbers that must be above 0 (a whole number is checked as a count)
POSITIVE = frozenset({"epochs", "duration", "bin_ms", "lr", "eta"})
#: random seeds (one, or a list of them)
SEEDS = frozenset({"seed", "seeds"})


def check_options(args: argparse.Namespace) -> None:
    """Check every count, number and seed option of a parsed command line.

    Run by :func:`brainlearn.cli.main` before any command starts, so a bad value is refused
    in one line (``brainlearn: error: epochs must be ...``) before anything is written.
    Counts (:data:`COUNTS`, :data:`COUNTS_OR_ZERO`) must be whole numbers of at least 1 (or
    0), :data:`POSITIVE` numbers above 0, seeds within 0 .. 2**32 - 1, and every other number
    finite (no ``nan`` or ``inf``). Text options (e.g. ``sweep --seeds 2``) are the library's
    to check. The same :mod:`brainlearn.checks` functions guard the library itself.
    """
    from brainlearn.checks import check_count, check_number, check_seed

    for dest, value in vars(args).items():
        if value is None or isinstance(value, (bool, str)) or callable(value):
            continue
        name = "--" + dest.replace("_", "-")
        for item in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(item, (bool, str)) or not isinstance(item, (int, float)):
                continue
            if dest in SEEDS:
                check_seed(name, item)
            elif dest in COUNTS or (dest in POSITIVE and isinstance(item, int)):
                check_count(name, item)
            elif dest in COUNTS_OR_ZERO:
                if isinstance(item, int):
                    check_count(name, item, minimum=0)
                else:
                    check_number(name, item, minimum=0)
            else:
                check_number(name, item, positive=dest in POSITIVE)
