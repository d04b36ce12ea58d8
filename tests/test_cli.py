"""The brainlearn command line: version, help with an example on every command."""

from __future__ import annotations

import argparse

import pytest

from brainlearn import __version__
from brainlearn.cli import build_parser, main


def _commands(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _commands(sub, (*prefix, name))


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_every_command_has_help_with_an_example():
    commands = list(_commands(build_parser()))
    names = {c[0] for c, _ in commands}
    assert {"data", "demo", "mnist", "protocol", "export", "analyze", "convert",
            "compare"} <= names
    for path, parser in commands:
        text = parser.format_help()
        assert "example" in text.lower(), f"brainlearn {' '.join(path)} --help has no example"


def test_user_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    code = main(["mnist", "evaluate", str(tmp_path / "missing")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("brainlearn: error:") and err.count("\n") == 1


def test_cli_offers_every_integration_of_the_model():
    """The command line's list (kept free of Brian2 imports) is the model's list."""
    from brainlearn.commands.mnist import INTEGRATIONS as CLI_INTEGRATIONS
    from brainlearn.models.diehl_cook.model import INTEGRATIONS, DiehlCookParams

    assert sorted(CLI_INTEGRATIONS) == sorted(INTEGRATIONS)
    assert CLI_INTEGRATIONS[0] == DiehlCookParams().integration  # the default, first


def test_mnist_train_refuses_a_directory_that_holds_a_run(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{}")
    assert main(["mnist", "train", "--out", str(tmp_path), "--no-progress"]) == 2
    assert f"use --resume {tmp_path}" in capsys.readouterr().err
    assert main(["mnist", "train", "--out", str(tmp_path), "--resume", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err


def test_mnist_evaluate_names_the_cells_that_fire_from_rest(monkeypatch, capsys):
    """The evaluation counts the cells whose frozen threshold lies below rest, and the cells
    above rest that fire in most images; the command says how many, and why the vote
    suffers, only when there are any."""
    from brainlearn.models.diehl_cook import runs

    metrics = {"accuracy": 0.0885, "accuracy_vote": 0.0885, "accuracy_logistic": 0.915,
               "test_examples": 2000, "assign_examples": 10000, "neurons": 6400,
               "cells_fire_at_rest": 891}
    monkeypatch.setattr(runs, "evaluate_run", lambda *a, **k: dict(metrics))
    assert main(["mnist", "evaluate", "runs/x", "--readout", "vote,logistic",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "note: 891 of 6,400 cells have a frozen threshold below rest" in out
    assert "logistic  91.50 %" in out
    assert "above rest" not in out
    metrics["cells_fire_at_rest"] = 0
    assert main(["mnist", "evaluate", "runs/x", "--no-progress"]) == 0
    assert "note:" not in capsys.readouterr().out
    # a cell just above rest that fires in most images (the N=6400 row's pass 8)
    metrics.update(unselective_cells=1, busiest_cell=383, busiest_cell_images=0.8915,
                   busiest_cell_spike_share=0.0629)
    assert main(["mnist", "evaluate", "runs/x", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert ("note: 1 of 6,400 cells above rest fire in more than half of the test images"
            in out)
    assert "cell 383, fires in 89 % of them and gives 6.3 % of their spikes" in out


def test_list_options_are_checked_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        main(["mnist", "evaluate", "runs/x", "--readout", "vote,bogus"])
    assert "vote, logistic, online" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["mnist", "reproduce", "--seeds", "0,-1", "--out", "runs/x"])
    assert "--seeds" in capsys.readouterr().err


def test_a_finished_demo_is_replaced_but_its_compiled_builds_are_kept(tmp_path):
    """``brainlearn demo`` run twice into one directory: the library empties the finished
    run (the command itself deletes nothing) and keeps ``build_*`` so nothing recompiles."""
    from brainlearn.models.diehl_cook.runs import replace_run

    run = tmp_path / "demo"
    (run / "build_train" / "build").mkdir(parents=True)
    (run / "spikes").mkdir()
    for name in ("config.json", "metrics.json", "weights.npz"):
        (run / name).write_text("x")
    replace_run(run)
    assert sorted(p.name for p in run.iterdir()) == ["build_train"]
    assert (run / "build_train" / "build").is_dir()
    other = tmp_path / "not_a_run"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    replace_run(other)  # no config.json: not a run, left alone
    assert (other / "notes.txt").exists()


def test_protocol_nest_without_nest_says_how_to_install_it(monkeypatch, capsys):
    """``brainlearn protocol nest`` where NEST cannot be imported: one line naming the extra,
    exit code 2, nothing run."""
    import sys

    monkeypatch.setitem(sys.modules, "nest", None)  # import nest raises ImportError
    assert main(["protocol", "nest", "pair", "--seed", "1"]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ['NEST is not installed: pip install "brainlearn[nest]"']


def test_a_command_started_with_sigint_ignored_keeps_ignoring_it(tmp_path):
    """A background job of a shell script starts with SIGINT ignored. Brian2's import puts its
    own handler over that (which then raises a TypeError, or stops a running simulation
    early); the CLI puts the ignore setting back, so a command sent SIGINT all through its
    run finishes and writes what it writes without them."""
    import signal
    import subprocess
    import sys
    import time

    def run(out, signals):
        child = subprocess.Popen(
            [sys.executable, "-m", "brainlearn.cli", "protocol", "run", "bi_poo", "--out", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        deadline = time.monotonic() + 300
        while signals and child.poll() is None and time.monotonic() < deadline:
            child.send_signal(signal.SIGINT)
            time.sleep(0.02)
        _, stderr = child.communicate(timeout=300)
        return child.returncode, stderr

    code, stderr = run(tmp_path / "signalled", signals=True)
    assert code == 0 and "Traceback" not in stderr and "stop requested" not in stderr, stderr
    assert run(tmp_path / "quiet", signals=False)[0] == 0
    assert (tmp_path / "signalled" / "results.csv").read_text() == (tmp_path / "quiet" / "results.csv").read_text()
