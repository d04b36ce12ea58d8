"""Parameter guards: every public quantity is checked once, at the API boundary."""

from __future__ import annotations

import math

import numpy as np
from brian2 import Quantity, get_dimensions, get_unit
from brian2.units.fundamentalunits import DIMENSIONLESS, have_same_dimensions

__all__ = ["check_quantity", "check_number"]


def check_quantity(name: str, value, unit, *, allow_array: bool = False) -> Quantity:
    """Check that ``value`` is a finite Brian2 quantity with the dimensions of ``unit``.

    Parameters
    ----------
    name : str
        Parameter name, used in the error message.
    value : Quantity
        The value to check.
    unit : Unit
        A Brian2 unit with the expected dimensions (e.g. ``ms``, ``mV``).
    allow_array : bool
        Accept array quantities (all elements must be finite).

    Returns
    -------
    Quantity
        ``value`` unchanged.

    Raises
    ------
    ValueError
        If ``value`` has no unit, the wrong unit, or is NaN/infinite. The message names
        the parameter and the expected unit.
    """
    expected = get_unit(get_dimensions(unit))
    if not isinstance(value, Quantity) or get_dimensions(value) is DIMENSIONLESS:
        if have_same_dimensions(unit, 1):
            return check_number(name, value)
        raise ValueError(
            f"{name} must be a quantity in {expected}, got {value!r} (no unit); "
            f"did you mean {value!r}*{expected}?"
        )
    if not have_same_dimensions(value, unit):
        raise ValueError(
            f"{name} must be a quantity in {expected}, got {value!r} "
            f"(dimensions {get_dimensions(value)})"
        )
    arr = np.asarray(value)
    if arr.ndim and not allow_array:
        raise ValueError(f"{name} must be a scalar quantity in {expected}, got an array")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def check_number(name: str, value) -> float:
    """Check that ``value`` is a finite dimensionless number and return it as float.

    Raises
    ------
    ValueError
        If ``value`` carries a unit, is not a number, or is NaN/infinite.
    """
    if isinstance(value, Quantity) and get_dimensions(value) is not DIMENSIONLESS:
        raise ValueError(f"{name} must be a dimensionless number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number
