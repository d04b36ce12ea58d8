"""Checks of the values a user gives: counts, numbers, seeds, and the memory a size needs.

Every function raises a one-line ``ValueError`` that names the option and quotes the value
("epochs must be a positive, finite number, got inf"), the way Brian2's own guards do, and
returns the value converted (``int`` or ``float``). The library calls them before anything
is written, and the command line checks every count, number and seed option with them
before a command starts (:func:`brainlearn.commands._args.check_options`), so a bad value
never leaves a half-made run directory behind.

Examples
--------
>>> check_count("examples", 500)
500
>>> check_count("examples", -5)
Traceback (most recent call last):
...
ValueError: examples must be a whole number >= 1, got -5
>>> check_seed("seed", 2**32)
Traceback (most recent call last):
...
ValueError: seed must be a whole number from 0 to 4294967295, got 4294967296
"""

from __future__ import annotations

import math
import numbers
import os

__all__ = ["MAX_SEED", "check_count", "check_number", "check_seed", "check_memory",
           "machine_memory", "format_bytes"]

#: the largest seed: numpy's legacy generator and Brian2's ``seed()`` take 0 .. 2**32 - 1
MAX_SEED = 2**32 - 1


def _is_whole(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Integral):
        return True
    return isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer()


def check_count(name: str, value, *, minimum: int = 1, allow_none: bool = False) -> int | None:
    """``value`` as an ``int`` that is at least ``minimum`` (a count: images, neurons, workers).

    Parameters
    ----------
    name : str
        The option's name, for the message.
    value : int
        The value given; a float is accepted when it is whole (``3.0``).
    minimum : int
        The smallest allowed count (default 1; 0 for e.g. held-out images).
    allow_none : bool
        Let ``None`` ("not given") through.

    Raises
    ------
    ValueError
        When ``value`` is not a whole number, is below ``minimum``, or is None (unless allowed).
    """
    if value is None and allow_none:
        return None
    if not _is_whole(value) or int(value) < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def check_number(name: str, value, *, positive: bool = False, minimum: float | None = None,
                 allow_none: bool = False) -> float | None:
    """``value`` as a finite ``float`` (``positive``: above 0; ``minimum``: at least that).

    Raises
    ------
    ValueError
        For ``nan``, ``inf``, text, a value not above 0 (``positive``) or below ``minimum``.
    """
    if value is None and allow_none:
        return None
    what = "a positive, finite number" if positive else "a finite number"
    if minimum is not None:
        what = f"a finite number >= {minimum:g}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    number = float(value)
    if (not math.isfinite(number) or (positive and number <= 0)
            or (minimum is not None and number < minimum)):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return number


def check_seed(name: str, value) -> int:
    """``value`` as a random seed: a whole number from 0 to :data:`MAX_SEED`."""
    if not _is_whole(value) or not 0 <= int(value) <= MAX_SEED:
        raise ValueError(f"{name} must be a whole number from 0 to {MAX_SEED}, got {value!r}")
    return int(value)


def machine_memory() -> int | None:
    """The physical memory of this machine in bytes (None where it cannot be told)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): psutil, from Dask
        try:
            import psutil
        except ImportError:
            return None
        return int(psutil.virtual_memory().total)


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units, e.g. ``'5.70 TiB'``."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    for unit in units[:-1]:
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} {units[-1]}"


def check_memory(what: str, needed: float, available: int | None = None) -> None:
    """Refuse a size whose estimated memory ``needed`` (bytes) exceeds the machine's.

    Parameters
    ----------
    what : str
        What needs it, for the message (e.g. ``"a network of N=1000000000 neurons"``).
    needed : float
        The estimated bytes.
    available : int, optional
        The memory to compare with (default :func:`machine_memory`; nothing is checked where
        it cannot be told).

    Raises
    ------
    ValueError
        "{what} needs about 13.88 EiB of memory; this machine has 23.40 GiB".
    """
    available = machine_memory() if available is None else available
    if available is not None and needed > available:
        raise ValueError(f"{what} needs about {format_bytes(needed)} of memory; this machine "
                         f"has {format_bytes(available)}")
