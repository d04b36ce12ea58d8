"""Export never leaves a temporary file, never overwrites silently, never writes a format
under another's extension, and tells what a run lacks (issue 28, item 5)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from analysis_helpers import labelled_table, make_run_dir

from brainlearn import rundir
from brainlearn.atomic import STALE_AFTER, atomic_path, sweep_stale, temporary_name
from brainlearn.cli import main


@pytest.fixture
def run_dir(tmp_path):
    return make_run_dir(tmp_path / "run", labelled_table(3000), np.random.default_rng(0).random((784, 20)))


def _error(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2, argv
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def _temporaries(folder):
    return sorted(p.name for p in folder.rglob(".*.tmp*"))


def test_an_existing_output_is_kept_unless_force(run_dir, tmp_path, capsys):
    out = tmp_path / "mine.csv"
    out.write_text("my own notes\n")
    err = _error(capsys, ["export", str(run_dir), "--format", "csv", "--out", str(out)])
    assert str(out) in err and "--force" in err
    assert out.read_text() == "my own notes\n"
    assert main(["export", str(run_dir), "--format", "csv", "--out", str(out), "--force"]) == 0
    assert out.read_text().startswith("population,")
    # the default output too: a second export is refused, --force replaces it
    assert main(["export", str(run_dir), "--format", "parquet"]) == 0
    _error(capsys, ["export", str(run_dir), "--format", "parquet"])
    assert main(["export", str(run_dir), "--format", "parquet", "--force"]) == 0


@pytest.mark.parametrize("fmt, name", [("nwb", "x.csv"), ("csv", "x.nwb"), ("sonata", "x"),
                                       ("neo", "x.parquet")])
def test_the_extension_must_match_the_format(fmt, name, run_dir, tmp_path, capsys):
    out = tmp_path / name
    err = _error(capsys, ["export", str(run_dir), "--format", fmt, "--out", str(out)])
    assert str(out) in err and f"a {fmt} file ends in" in err
    assert not out.exists() and not _temporaries(tmp_path)


def test_a_run_never_evaluated_says_evaluate_it_first(tmp_path, capsys):
    run = tmp_path / "n10"
    rundir.write_config(run, {"neurons": 10, "seed": 0, "model": "diehl-cook-2015"},
                        kind="diehl_cook")
    err = _error(capsys, ["export", str(run), "--format", "csv"])
    assert f"evaluate it first: brainlearn mnist evaluate {run}" in err
    assert not (run / "export").exists()
    # a folder that holds no run at all still says so
    (tmp_path / "empty").mkdir()
    assert "is it a brainlearn run directory" in _error(
        capsys, ["export", str(tmp_path / "empty"), "--format", "csv"])


#: a child that exports RUN to each format and, after the first chunk is written, receives
#: each signal in turn; it prints the exit code of every export
CHILD = textwrap.dedent("""
    import os, signal, sys
    from brainlearn.analysis import run as run_module
    from brainlearn.cli import main

    streamed = run_module._stream_run
    current = {}

    def interrupted(*args, **kwargs):
        stream = streamed(*args, **kwargs)
        chunks = stream.chunks

        def then_signal():
            for i, chunk in enumerate(chunks):
                if i == 1:
                    os.kill(os.getpid(), getattr(signal, current["signal"]))
                yield chunk
        stream.chunks = then_signal()
        return stream

    run_module._stream_run = interrupted
    # the CLI leaves alone a signal someone else set (nohup ignores SIGHUP): start from the
    # default disposition whatever this test was started under
    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_DFL if name != "SIGINT"
                      else signal.default_int_handler)
    run, out = sys.argv[1], sys.argv[2]
    for fmt, suffix in (("csv", ".csv"), ("sonata", ".h5")):
        for name in ("SIGTERM", "SIGINT", "SIGHUP"):
            current["signal"] = name
            code = main(["export", run, "--format", fmt, "--chunk-size", "100",
                         "--out", os.path.join(out, f"spikes_{name}{suffix}")])
            print(fmt, name, code, flush=True)
""")


def test_a_signal_during_export_leaves_no_temporary_file(run_dir, tmp_path):
    """SIGTERM, SIGINT and SIGHUP half-way through a streamed export (CSV, SONATA): the
    command ends with the shell's code for the signal, and neither the output nor its
    hidden temporary file is left."""
    out = tmp_path / "out"
    child = subprocess.run([sys.executable, "-c", CHILD, str(run_dir), str(out)],
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr
    codes = {(fmt, name): int(code) for fmt, name, code in
             re.findall(r"^(\w+) (SIG\w+) (-?\d+)$", child.stdout, flags=re.M)}
    expected = {"SIGTERM": 143, "SIGINT": 130, "SIGHUP": 129}
    assert codes == {(fmt, name): code for fmt in ("csv", "sonata")
                     for name, code in expected.items()}, child.stdout
    assert "Traceback" not in child.stderr
    assert not list(out.glob("spikes_*")) and not _temporaries(tmp_path)


def test_a_temporary_file_still_open_at_exit_is_removed(tmp_path):
    """A write that never unwinds (a daemon thread frozen mid-write when the program exits)
    has its temporary file removed at exit (atexit)."""
    script = textwrap.dedent(f"""
        import threading, time
        from brainlearn.atomic import atomic_path
        started = threading.Event()

        def writer():
            with atomic_path({str(tmp_path / "out.csv")!r}) as tmp:
                tmp.write_text("half")
                started.set()
                time.sleep(600)

        threading.Thread(target=writer, daemon=True).start()
        started.wait(60)
        raise SystemExit(3)
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert child.returncode == 3, child.stderr
    assert not _temporaries(tmp_path) and not (tmp_path / "out.csv").exists()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_export_sweeps_what_kill_9_left_behind(run_dir, tmp_path, capsys):
    """Temporary files of dead writers (``kill -9``) go at the next write of that file;
    those of a live process, of another file, and fresh ones without a process id stay."""
    out = tmp_path / "spikes.csv"
    dead = tmp_path / f".spikes.csv.{_dead_pid()}-0a1b2c3d.tmp.csv"
    live = tmp_path / f".spikes.csv.{os.getppid()}-0a1b2c3d.tmp.csv"
    old = tmp_path / ".spikes.csv.deadbeef.tmp.csv"          # written before names had a pid
    fresh = tmp_path / ".spikes.csv.cafebabe.tmp.csv"
    other = tmp_path / f".other.csv.{_dead_pid()}-0a1b2c3d.tmp.csv"
    for path in (dead, live, old, fresh, other):
        path.write_text("x" * 100)
    past = time.time() - 2 * STALE_AFTER
    os.utime(old, (past, past))
    assert main(["export", str(run_dir), "--format", "csv", "--out", str(out)]) == 0
    assert not dead.exists() and not old.exists()
    assert live.exists() and fresh.exists() and other.exists()
    assert sweep_stale(tmp_path / "other.csv") == [other]


def test_temporary_names_carry_the_process_id_and_a_failed_write_removes_its_file(tmp_path):
    assert f".x.csv.{os.getpid()}-" in temporary_name(tmp_path / "x.csv").name
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "x.csv") as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert not list(tmp_path.iterdir())


def test_sweep_records_are_strict_json(tmp_path):
    text = rundir.json_text({"loss": float("nan"), "x": np.float32(1.5)})
    assert json.loads(text) == {"loss": None, "x": 1.5}


def test_a_full_disk_during_export_names_the_file_and_the_cause(tmp_path):
    """The streaming writers (pyarrow's Parquet, the CSV writer) cut short by a file size limit
    (as a full disk would) say which file and why, and leave nothing behind. HDF5 (SONATA,
    NWB) may abort the process on a failed write, so those exports are refused before
    anything is written when the file cannot fit (what a crash would leave is swept by the
    next export, see above)."""
    run = make_run_dir(tmp_path / "run", labelled_table(30000))
    out = tmp_path / "out"
    script = textwrap.dedent("""
        import resource, sys
        from brainlearn.cli import main
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
        for fmt, suffix in (("parquet", ".parquet"), ("csv", ".csv"), ("sonata", ".h5"),
                            ("nwb", ".nwb")):
            print(fmt, main(["export", sys.argv[1], "--format", fmt, "--out",
                             f"{sys.argv[2]}/spikes{suffix}"]), flush=True)
    """)
    child = subprocess.run([sys.executable, "-c", script, str(run), str(out)],
                           capture_output=True, text=True, timeout=300)
    codes = dict(line.split() for line in child.stdout.splitlines())
    assert codes == {"parquet": "2", "csv": "2", "sonata": "2", "nwb": "2"}, child.stderr
    errors = [line for line in child.stderr.splitlines() if line.startswith("brainlearn: error")]
    assert len(errors) == 4, child.stderr
    for line, suffix in zip(errors, (".parquet", ".csv"), strict=False):
        assert f"cannot write {out}/spikes{suffix}: the file size limit was reached" in line, line
    for line, suffix in zip(errors[2:], (".h5", ".nwb"), strict=True):
        assert f"cannot write {out}/spikes{suffix}: it needs at least" in line, line
        assert "the file size limit (ulimit -f) is 20,000" in line, line
    assert not list(out.iterdir())


@pytest.mark.parametrize("fmt, suffix", [("sonata", ".h5"), ("nwb", ".nwb")])
def test_an_hdf5_export_too_big_for_the_disk_is_refused_before_writing(fmt, suffix, run_dir,
                                                                        tmp_path, capsys,
                                                                        monkeypatch):
    """A SONATA or NWB file that cannot fit in the free space is refused up front, with the
    file, the size it needs and the space there is: HDF5 could abort half-way."""
    from brainlearn import atomic

    monkeypatch.setattr(atomic, "_free_bytes", lambda folder: 1000)
    out = tmp_path / "out" / f"spikes{suffix}"
    err = _error(capsys, ["export", str(run_dir), "--format", fmt, "--out", str(out)])
    assert f"cannot write {out}: it needs at least" in err and "has 1,000 free" in err, err
    assert not out.parent.exists() or not list(out.parent.iterdir())
    monkeypatch.undo()
    assert main(["export", str(run_dir), "--format", fmt, "--out", str(out)]) == 0
