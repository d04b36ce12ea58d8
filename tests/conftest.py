"""Shared test setup: make the helper modules in ``tests/`` importable (no ``__init__.py``)."""

from __future__ import annotations

import os
import sys

_TESTS = os.path.dirname(os.path.abspath(__file__))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
