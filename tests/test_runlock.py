"""One writer per run directory (issue 28, item 1): the lock of ``brainlearn.runlock``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from brainlearn import rundir
from brainlearn.runlock import LOCK, RunInUseError, check_free, lock_holder, lock_run


def _holder(run, extra: str = "", hold: float = 60.0) -> subprocess.Popen:
    """A Python process that takes the lock of ``run``, says so, runs ``extra`` and waits."""
    code = textwrap.dedent(f"""
        import sys, time, os
        from brainlearn.runlock import lock_run
        with lock_run({str(run)!r}):
            {extra or "pass"}
            print("locked", flush=True)
            time.sleep({hold})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_writer_is_refused_in_one_line_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    proc = _holder(run)
    try:
        assert lock_holder(run) == proc.pid
        with pytest.raises(RunInUseError, match=rf"in use by process {proc.pid}\b") as info:
            with lock_run(run):
                pass
        assert "\n" not in str(info.value)
        with pytest.raises(RunInUseError, match=str(proc.pid)):
            check_free(run)
        with pytest.raises(RunInUseError, match=str(proc.pid)):
            with rundir.new_run(run):
                pass
    finally:
        proc.kill()
        proc.wait()


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    run = tmp_path / "run"
    proc = _holder(run)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (run / LOCK).exists() and lock_holder(run) == proc.pid  # left behind by kill -9
    check_free(run)  # nobody holds it: the kernel released it when the holder died
    with lock_run(run):
        assert lock_holder(run) == os.getpid()
    assert not (run / LOCK).exists()


def test_lock_is_released_on_error_and_a_created_empty_directory_removed(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(KeyError):
        with lock_run(run):
            assert (run / LOCK).exists()
            raise KeyError("boom")
    assert not run.exists()  # nothing but the lock was written: no directory left
    with lock_run(run):
        (run / "config.json").write_text("{}")
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]


def test_lock_is_reentrant_within_one_process(tmp_path):
    run = tmp_path / "run"
    with lock_run(run):
        with lock_run(run):  # train then evaluate in one command
            pass
        assert lock_holder(run) == os.getpid()  # the outer block still holds it
        proc = subprocess.run([sys.executable, "-c",
                               f"from brainlearn.runlock import check_free; check_free({str(run)!r})"],
                              capture_output=True, text=True)
        assert proc.returncode != 0 and f"process {os.getpid()}" in proc.stderr
    check_free(run)


def test_a_compile_left_running_by_a_killed_holder_is_waited_for(tmp_path):
    # the lock's descriptor is inherited by what the holder starts through os.system (Brian2's
    # make): a killed holder's compile keeps the directory until it ends
    run = tmp_path / "run"
    proc = _holder(run, extra='os.system("sleep 2 &")')
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    start = time.monotonic()
    with lock_run(run):
        waited = time.monotonic() - start
    assert 0.5 < waited < 30
