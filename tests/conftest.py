"""Shared test setup: the helper modules in ``tests/`` importable (no ``__init__.py``),
Brian2's runtime code generation target fixed to numpy for every test, and one compile at a
time across the workers of a run (``BRAINLEARN_COMPILE_LOCK``)."""

from __future__ import annotations

import os
import sys

_TESTS = os.path.dirname(os.path.abspath(__file__))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import pytest  # noqa: E402

_LOCK = "BRAINLEARN_COMPILE_LOCK"


def pytest_configure(config):
    """Builds of the same network take turns in the whole run (every xdist worker and every
    command a test starts inherits the variable, set before the workers start), so the later
    ones take the compiled files from ccache (``brainlearn.devices.compile_lock_command``).
    A value already set is kept."""
    if hasattr(config, "workerinput") or os.environ.get(_LOCK):
        return
    import tempfile

    folder = tempfile.mkdtemp(prefix="brainlearn-compile-locks-")
    os.environ[_LOCK] = folder
    config._brainlearn_compile_locks = folder


def pytest_unconfigure(config):
    folder = getattr(config, "_brainlearn_compile_locks", None)
    if folder:
        import shutil

        os.environ.pop(_LOCK, None)
        shutil.rmtree(folder, ignore_errors=True)


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
