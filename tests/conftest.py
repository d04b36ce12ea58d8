"""Shared test setup: the helper modules in ``tests/`` importable (no ``__init__.py``),
Brian2's runtime code generation target fixed to numpy for every test, one compile at a
time across the workers of a run (``BRAINLEARN_COMPILE_LOCK``), the longest test files
handed to the workers first (:data:`LONGEST_FIRST`), and the imported modules' objects kept
out of the garbage collector's walks (``pytest_collection_finish``)."""

from __future__ import annotations

import os
import sys

_TESTS = os.path.dirname(os.path.abspath(__file__))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import pytest  # noqa: E402

_LOCK = "BRAINLEARN_COMPILE_LOCK"

#: The test files that take longest (compiled Brian2 networks, NEST), longest first, from the
#: suite's ``--durations`` (CI on a quiet machine, 2 workers: the faults' reference run 55 s,
#: ten kills 55 s, read error 35 s, disk full 29 s; the killed-and-resumed run 129 s; the
#: LC-SNN fit 72 s, a cold compile of its own; ``reproduce`` 57 s; the sweeps 23, 20 and 19 s;
#: the conversion estimator's checks 20 s) and the compiles the files share: the
#: killed-and-resumed run compiles the quick start demo's networks, which the quick start,
#: ``reproduce``, ``tune`` and the Diehl & Cook estimator then take from ccache (the last two
#: files come last of them, so the demo's builds are done by then), and
#: ``test_diehl_cook.py``'s standalone/runtime check, last in its file, takes the faults'
#: reference network.
#: They run first, in this order, and the short files fill in behind them, so the two workers
#: finish together (longest-first list scheduling) instead of one of them starting a
#: ten-minute file when the other is nearly done. ``--dist loadfile`` hands files to the
#: workers in collection order (``--no-loadscope-reorder`` in ``setup.cfg``: xdist would
#: otherwise order them by their number of tests).
LONGEST_FIRST = (
    "test_faults.py",
    "test_diehl_cook.py",
    "test_lcsnn.py",
    "test_diehl_cook_reproduce.py",
    "test_sweep.py",
    "test_conversion_estimator.py",
    "test_quickstart.py",
    "test_diehl_cook_estimator.py",
)


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


def pytest_collection_modifyitems(session, config, items):
    """The files of :data:`LONGEST_FIRST` first, in its order; the others after them in
    collection order; the tests of each file keep their order."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_collection_finish(session):
    """Everything alive once the test modules are imported (Brian2, scikit-learn, torch,
    pandas: about 400,000 objects) is moved to the collector's permanent generation
    (:func:`gc.freeze`), so that each ``gc.collect()`` of a build
    (:class:`brainlearn.chunked.ChunkedSimulation`) and the interpreter's own full collections
    walk only what the tests created since (0.45 s a collection down to microseconds, with
    hundreds of builds in a run). Collected first: no garbage is frozen, and what the tests
    create and drop later is collected as before."""
    import gc

    gc.collect()
    gc.freeze()


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
