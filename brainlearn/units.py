"""Parameter guards: every public quantity is checked once, at the API boundary."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import field

import numpy as np
from brian2 import Quantity, Unit, get_dimensions, get_unit
from brian2.units.fundamentalunits import DIMENSIONLESS, have_same_dimensions

__all__ = ["check_quantity", "check_number", "parse_quantity", "qfield", "si_unit", "NUMBER", "CheckedParams"]


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
    expected = unit if isinstance(unit, Unit) else get_unit(get_dimensions(unit))
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
        raise ValueError(f"{name} must be a finite quantity in {expected}, got {value!r}")
    return value


def parse_quantity(name: str, text: str, unit) -> Quantity:
    """Read a quantity written as ``"<number> <unit>"`` (e.g. ``"0.025 mV"``, ``"25 uvolt"``).

    Parameters
    ----------
    name : str
        Parameter name, used in the error message.
    text : str
        The number and a Brian2 unit name (``mV``, ``uvolt``, ``ms``, ``Hz``, ...).
    unit : Unit
        A unit with the expected dimensions.

    Returns
    -------
    Quantity
        The checked quantity (see :func:`check_quantity`).
    """
    import re

    from brian2 import units
    from brian2.units import allunits

    expected = unit if isinstance(unit, Unit) else get_unit(get_dimensions(unit))
    match = re.fullmatch(r"\s*([-+0-9.eE]+)\s*\*?\s*([A-Za-z]+)\s*", str(text))
    found = None
    if match is not None:
        found = getattr(units, match.group(2), None) or getattr(allunits, match.group(2), None)
    known = isinstance(found, Unit)
    if not known:
        raise ValueError(f"{name} must be a number and a unit such as '1.5 {expected}', "
                         f"got {text!r}")
    try:
        number = float(match.group(1))
    except ValueError:
        raise ValueError(f"{name}: {match.group(1)!r} is not a number") from None
    return check_quantity(name, number * found, unit)


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
        raise ValueError(f"{name} must be a finite dimensionless number, got {value!r}")
    return number


def si_unit(value):
    """The SI unit of a parameter value (``1`` for a plain number), e.g. ``second``, ``volt``.

    Parameters varied per synapse (protocol lanes, fits) travel as SI floats and are
    multiplied by this unit; ``repr`` of it is a unit string Brian2's equations accept.
    """
    if isinstance(value, Quantity) and get_dimensions(value) is not DIMENSIONLESS:
        return get_unit(get_dimensions(value))
    return 1


def qfield(value):
    """A dataclass field whose default is the quantity ``value``.

    Brian2 quantities are numpy arrays (unhashable), which dataclasses reject as plain
    defaults; a default factory returning the same quantity is equivalent.
    """
    return field(default_factory=lambda: value)


#: marker in a ``_units`` table for a dimensionless number
NUMBER = "number"


class CheckedParams:
    """Mixin for frozen dataclasses of parameters: checks every field listed in ``_units``.

    ``_units`` maps a field name to a Brian2 unit, or to ``NUMBER`` for a dimensionless number;
    ``None`` values are left alone (optional parameters).
    """

    _units: dict = {}

    def __post_init__(self) -> None:
        for name, unit in self._units.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(unit, str):
                object.__setattr__(self, name, check_number(name, value))
            else:
                check_quantity(name, value, unit)

    def namespace(self) -> dict:
        """The parameters that are set, by name, for a Brian2 ``namespace``."""
        return {k: getattr(self, k) for k in self._units if getattr(self, k) is not None}

    def replace(self, **changes):
        """Return a copy with some parameters changed (checked again)."""
        return dataclasses.replace(self, **changes)
