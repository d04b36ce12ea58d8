"""Shared test setup: the helper modules in ``tests/`` importable (no ``__init__.py``), and
Brian2's runtime code generation target fixed to numpy for every test."""

from __future__ import annotations

import os
import sys

_TESTS = os.path.dirname(os.path.abspath(__file__))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def brian2_numpy_target():
    """Runtime-mode Brian2 generates numpy code in the tests (no Cython builds), set for every
    test and restored after it, instead of leaking from whichever test ran first."""
    from brian2 import prefs

    old = prefs.codegen.target
    prefs.codegen.target = "numpy"
    yield
    prefs.codegen.target = old


@pytest.fixture
def brian2_scope():
    """A fresh Brian2 scope (``start_scope``) for modules that build magic-network objects:
    use with ``pytestmark = pytest.mark.usefixtures("brian2_scope")``."""
    from brian2 import start_scope

    start_scope()
