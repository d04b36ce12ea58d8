"""Nothing lost, nothing silently wrong (issue 28, items 1 and 2).

A tiny Diehl & Cook run (10 neurons, 40 embedded images, chunks of 5) is trained once without
interruption; every other run here starts from a copy of its configuration and compiled build
folder (so nothing recompiles from scratch), is killed, damaged, starved of disk or raced,
and must end with the same weights and thresholds, bit for bit.
"""

from __future__ import annotations

import errno
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from brainlearn.atomic import save_npz
from brainlearn.runlock import LOCK, lock_holder
from brainlearn.standalone import read_errors, remove_broken_objects, write_input

HERE = Path(__file__).resolve().parent
CHILD = HERE / "fault_child.py"
TRAIN = ["mnist", "train", "--neurons", "10", "--examples", "40", "--chunk", "5",
         "--data", "embedded", "--seed", "3", "--no-progress"]


def _cli(fault: str, *args: str, limit_bytes: int | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess:
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, str(CHILD), fault, "--", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=HERE.parent,
                          preexec_fn=limit if limit_bytes else None)


def _final(run: Path) -> dict[str, np.ndarray]:
    with np.load(run / "weights.npz") as data:
        return {k: data[k] for k in ("weights", "theta")}


def _assert_same(run: Path, reference: dict[str, np.ndarray]) -> None:
    final = _final(run)
    for key, expected in reference.items():
        assert np.array_equal(final[key], expected), (
            f"{key}: largest difference {np.abs(final[key] - expected).max()}")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run: its directory and final weights and thresholds."""
    run = tmp_path_factory.mktemp("reference") / "run"
    proc = _cli("none", *TRAIN, "--out", str(run))
    assert proc.returncode == 0, proc.stderr
    assert not (run / LOCK).exists()  # released (and removed) on a clean exit
    return run, _final(run)


def _copy(reference_run: Path, dest: Path) -> Path:
    """A new run directory with the reference's config and compiled build, not yet trained."""
    dest.mkdir(parents=True)
    shutil.copy2(reference_run / "config.json", dest / "config.json")
    shutil.copytree(reference_run / "build_train", dest / "build_train", symlinks=True)
    return dest


# -- item 2: inputs written whole and checked; faults at random points ----------------------

def test_damaged_input_file_is_rewritten_and_an_intact_one_kept(tmp_path):
    path = tmp_path / "init_syn_w_0123.dat"
    data = np.arange(7840, dtype=np.float64).tobytes()
    assert write_input(path, data)
    stamp = path.stat().st_mtime_ns
    assert not write_input(path, data) and path.stat().st_mtime_ns == stamp  # reused as it is
    os.truncate(path, 32768)  # what kill -9 or a full disk left under Brian2's name
    assert write_input(path, data) and path.read_bytes() == data
    path.write_bytes(bytes(len(data)))  # right size, wrong bytes
    assert write_input(path, data) and path.read_bytes() == data
    assert not list(tmp_path.glob(".*tmp*"))


def test_a_run_in_chunks_keeps_only_the_current_chunks_input_files(reference):
    """Brian2 names each run's inputs by their values' digest and keeps them all; the run
    keeps one file per variable (eight chunks here), and the network's own arrays."""
    run, _ = reference
    folder = run / "build_train" / "build" / "static_arrays"
    names = [p.name for p in folder.iterdir() if p.name.startswith("init_") and p.suffix == ".dat"]
    variables = [re.sub(r"_[0-9a-f]{32}\.dat$", "", name) for name in names]
    assert "init_syn_w" in variables and len(variables) == len(set(variables)), sorted(names)
    assert any(p.name.startswith("_static_array_") for p in folder.iterdir())


def test_read_errors_are_found_in_brian2s_own_words():
    # the two messages of Brian2's objects.cpp (set_variable_from_file)
    text = ("Error reading 'static_arrays/init_syn_w_ab.dat': file size 32768 does not match "
            "expected size 62720\nsome other line\nError reading 'static_arrays/x.dat'\n")
    assert read_errors(text) == [
        ("static_arrays/init_syn_w_ab.dat", "file size 32768 does not match expected size 62720"),
        ("static_arrays/x.dat", "")]
    assert read_errors("all fine\n") == []


def test_truncated_objects_of_a_killed_compile_are_removed(tmp_path):
    elf = Path(shutil.which("true") or "/bin/true").resolve()
    whole, cut = tmp_path / "network.o", tmp_path / "objects.o"
    shutil.copy(elf, whole)
    cut.write_bytes(elf.read_bytes()[: elf.stat().st_size // 2])
    (tmp_path / "main").write_bytes(elf.read_bytes())
    removed = remove_broken_objects(tmp_path)
    assert set(removed) == {cut, tmp_path / "main"}  # the program is linked again
    assert whole.exists() and not cut.exists()


def test_disk_full_error_names_the_file_and_the_cause(tmp_path):
    code = ("import resource, numpy as np, sys\n"
            "from brainlearn.atomic import save_npz\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))\n"
            "try:\n    save_npz(sys.argv[1], w=np.zeros(100000))\n"
            "except OSError as exc:\n    print(exc); print(exc.errno)\n")
    target = tmp_path / "checkpoint.npz"
    out = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                         text=True, timeout=120).stdout.splitlines()
    assert str(target) in out[0] and "file size limit" in out[0], out
    assert int(out[1]) == errno.EFBIG
    assert not target.exists() and not list(tmp_path.iterdir())  # no partial file either
    save_npz(target, w=np.zeros(3))  # and a later write works


def test_read_error_fails_the_command_and_the_next_run_is_correct(reference, tmp_path):
    ref_run, expected = reference
    run = _copy(ref_run, tmp_path / "run")
    proc = _cli("damage", *TRAIN[:2], "--resume", str(run), "--no-progress")
    assert proc.returncode != 0
    assert "could not read its input" in proc.stderr and "init_syn_w" in proc.stderr
    proc = _cli("none", *TRAIN[:2], "--resume", str(run), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    _assert_same(run, expected)


def test_ten_kills_at_random_points_then_resume_is_bit_identical(reference, tmp_path):
    ref_run, expected = reference
    run = _copy(ref_run, tmp_path / "run")
    rng = random.Random(28)
    faults = ["compile", "chunk", "checkpoint", "input", "external"] * 2
    rng.shuffle(faults)
    resume = [*TRAIN[:2], "--resume", str(run), "--no-progress"]
    killed = 0
    for fault in faults:
        if fault == "compile":
            fault = f"compile:{rng.uniform(0.0, 3.0):.2f}"
        elif fault == "chunk":
            fault = f"chunk:{rng.uniform(0.0, 0.3):.3f}"
        if fault == "external":  # kill -9 from outside, at a random moment of the run
            proc = subprocess.Popen([sys.executable, str(CHILD), "none", "--", *resume],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    cwd=HERE.parent)
            # once the run is under way (its lock names it: a kill before that, while Python
            # starts, would test nothing and leave no lock), then at a random moment
            deadline = time.monotonic() + 120
            while (lock_holder(run) != proc.pid and proc.poll() is None
                   and time.monotonic() < deadline):
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 4.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            rc = proc.returncode
        else:
            rc = _cli(fault, *resume).returncode
        assert rc in (-signal.SIGKILL, 0), (fault, rc)
        if rc == -signal.SIGKILL:  # the killed holder's lock file stays, and is taken over
            killed += 1
            assert lock_holder(run) is not None
    # (a round may finish the run on a fast machine; later rounds then find nothing to do)
    assert killed >= 3, killed
    proc = _cli("none", *resume)
    assert proc.returncode == 0, proc.stderr
    _assert_same(run, expected)


def test_disk_full_names_the_file_and_a_later_run_is_correct(reference, tmp_path):
    ref_run, expected = reference
    run = _copy(ref_run, tmp_path / "run")
    resume = [*TRAIN[:2], "--resume", str(run), "--no-progress"]
    # 100 kB: the first checkpoint (about 190 kB) does not fit
    proc = _cli("none", *resume, limit_bytes=100_000)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert "checkpoint.npz" in last and "file size limit" in last, proc.stderr
    # with a checkpoint, 50 kB: the network's static arrays (62720 bytes each) do not fit
    assert _cli("chunk:0.0", *resume).returncode == -signal.SIGKILL
    proc = _cli("none", *resume, limit_bytes=50_000)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert "static_arrays" in last and "file size limit" in last, proc.stderr
    proc = _cli("none", *resume)
    assert proc.returncode == 0, proc.stderr
    _assert_same(run, expected)


# -- item 1: one writer per run directory ----------------------------------------------------

def test_second_resume_is_refused_and_the_first_ends_as_uninterrupted(reference, tmp_path):
    ref_run, expected = reference
    run = _copy(ref_run, tmp_path / "run")
    resume = [*TRAIN[:2], "--resume", str(run), "--no-progress"]
    first = subprocess.Popen([sys.executable, str(CHILD), "none", "--", *resume],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             cwd=HERE.parent)
    deadline = time.monotonic() + 300
    while lock_holder(run) != first.pid:
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    first.send_signal(signal.SIGSTOP)  # hold it mid-run, whatever the machine's speed
    try:
        second = _cli("none", *resume)
        new = _cli("none", *TRAIN, "--out", str(run))
    finally:
        first.send_signal(signal.SIGCONT)
    for proc in (second, new):
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and f"in use by process {first.pid}" in lines[0], proc.stderr
        assert "--resume" not in lines[0]
    assert first.wait(timeout=600) == 0, first.stderr.read()
    _assert_same(run, expected)
