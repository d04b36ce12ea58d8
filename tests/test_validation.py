"""Bad values are refused in one line before anything is written (issue 28, items 3 and 4).

Every check here fails before a network is built or compiled, so the file runs in seconds.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

from brainlearn import rundir
from brainlearn.checks import MAX_SEED, check_count, check_memory, check_number, check_seed
from brainlearn.cli import build_parser, main
from brainlearn.commands._args import COUNTS, COUNTS_OR_ZERO, POSITIVE, SEEDS, check_options


def _one_line_error(capsys, argv: list[str]) -> str:
    """Run the CLI; it must fail with exit code 2 and one line on stderr, no traceback."""
    capsys.readouterr()
    assert main(argv) == 2, argv
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("brainlearn: error: ") and "Traceback" not in err, err
    return err


TRAIN = ["mnist", "train", "--neurons", "10", "--data", "embedded", "--chunk", "5", "--no-progress"]


@pytest.mark.parametrize("option, value", [
    ("--epochs", "0"), ("--epochs", "-1"), ("--epochs", "inf"), ("--epochs", "nan"),
    ("--examples", "0"), ("--examples", "-5"),
    ("--seed", "-1"), ("--seed", str(2**32)),
    ("--threads", "0"), ("--chunk", "0"), ("--neurons", "0"),
])
def test_train_refuses_a_bad_count_or_seed_and_leaves_no_directory(option, value, tmp_path, capsys):
    out = tmp_path / "run"
    err = _one_line_error(capsys, [*TRAIN, option, value, "--out", str(out)])
    assert option in err and value in err
    assert not out.exists()


def test_train_refuses_a_network_the_machine_cannot_hold(tmp_path, capsys):
    """N=10^9 needs ~14 EiB (784 N input and N (N - 1) inhibitory synapses): refused up front,
    naming the size and both memories, before any array is allocated."""
    out = tmp_path / "run"
    err = _one_line_error(capsys, ["mnist", "train", "--neurons", "1000000000", "--data",
                                   "embedded", "--examples", "20", "--out", str(out)])
    assert "N=1000000000" in err and "EiB" in err and "this machine has" in err
    assert not out.exists()


def test_the_library_checks_the_same_values_before_writing(tmp_path):
    """A Python caller gets the same checks (TrainConfig, train_run, evaluate_run)."""
    from brainlearn.models.diehl_cook.config import TrainConfig
    from brainlearn.models.diehl_cook.runs import evaluate_run, train_run

    for bad in ({"epochs": 0}, {"epochs": math.inf}, {"epochs": math.nan}, {"examples": -5},
                {"seed": -1}, {"seed": 2**32}, {"neurons": 10**9}, {"examples": 2.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrainConfig.create(**{"neurons": 10, "data": "embedded", **bad})
        with pytest.raises(ValueError):
            train_run(tmp_path / "run", **{"neurons": 10, "data": "embedded", **bad})
        assert not (tmp_path / "run").exists()
    for workers in (0, -3):
        with pytest.raises(ValueError, match="workers must be a whole number >= 1"):
            evaluate_run(tmp_path / "no_such_run", workers=workers)


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_evaluate_refuses_workers_below_one(workers, tmp_path, capsys):
    err = _one_line_error(capsys, ["mnist", "evaluate", str(tmp_path), "--workers", workers])
    assert "--workers" in err and workers in err


@pytest.mark.parametrize("argv", [
    ["mnist", "evaluate", "RUN", "--test-examples", "0"],
    ["mnist", "reproduce", "--rows", "100", "--examples", "-5", "--out", "OUT"],
    ["mnist", "reproduce", "--rows", "100", "--seeds", str(2**32), "--out", "OUT"],
    ["mnist", "tune", "--theta-plus", "0.05 mV", "--epochs", "nan", "--out", "OUT"],
    ["demo", "--seed", "-1", "--out", "OUT"],
    ["convert", "train", "--epochs", "0", "--out", "OUT"],
    ["surrogate", "train", "--seed", "-1", "--out", "OUT"],
    ["eprop", "train", "--iterations", "0", "--out", "OUT"],
    ["hybrid", "train", "RUN", "--validation", "nan"],
    ["protocol", "run", "song", "--duration", "inf", "--out", "OUT"],
    ["sweep", "--experiment", "protocol", "--workers", "0", "--out", "OUT"],
    ["export", "RUN", "--format", "csv", "--chunk-size", "0"],
    ["analyze", "RUN", "--bin-ms", "-25"],
])
def test_every_command_checks_its_counts_and_seeds_before_starting(argv, tmp_path, capsys):
    argv = [str(tmp_path / a) if a in ("RUN", "OUT") else a for a in argv]
    _one_line_error(capsys, argv)
    assert not (tmp_path / "OUT").exists()


def _numeric_options():
    """(command, dest, action) of every int or float option of every command."""
    parser = build_parser()
    stack = [("brainlearn", parser)]
    while stack:
        name, p = stack.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend((f"{name} {n}", sub) for n, sub in action.choices.items())
            elif action.type in (int, float) or getattr(action.type, "__name__", "") in (
                    "int_list", "float_list", "_positive_int"):
                yield name, action.dest, action


def test_every_count_and_seed_option_is_classified_and_its_default_passes():
    """A new numeric option is checked like the others: counts and seeds by name, every other
    number finite; every command's defaults pass the checks."""
    known = COUNTS | COUNTS_OR_ZERO | POSITIVE | SEEDS
    unclassified = {(cmd, dest) for cmd, dest, action in _numeric_options()
                    if action.type is int and dest not in known}
    assert not unclassified, f"integer options without a check: {sorted(unclassified)}"
    for _cmd, dest, action in _numeric_options():
        check_options(argparse.Namespace(**{dest: action.default}))
    check_options(argparse.Namespace(brian2_examples=0, validation=0, seed=0))  # 0 means none


def test_the_checks_quote_the_value_and_name_the_option():
    assert check_count("examples", 3.0) == 3 and check_count("x", None, allow_none=True) is None
    assert check_seed("seed", MAX_SEED) == MAX_SEED and check_seed("seed", np.int64(7)) == 7
    assert check_number("epochs", 0.5, positive=True) == 0.5
    for call, text in [
        (lambda: check_count("examples", True), "examples must be a whole number >= 1, got True"),
        (lambda: check_count("validation", -1, minimum=0), "validation must be a whole number >= 0"),
        (lambda: check_number("epochs", float("nan"), positive=True),
         "epochs must be a positive, finite number, got nan"),
        (lambda: check_number("lr", "1e-3"), "lr must be a finite number, got '1e-3'"),
        (lambda: check_seed("seed", -1), f"seed must be a whole number from 0 to {MAX_SEED}"),
        (lambda: check_memory("a network of N=5", 3 * 2**30, available=2**30),
         "a network of N=5 needs about 3.00 GiB of memory; this machine has 1.00 GiB"),
    ]:
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value).startswith(text)
    check_memory("small", 1, available=2**30)  # fits: nothing raised


def test_evaluate_of_a_config_without_neurons_is_one_line_before_compiling(tmp_path, capsys):
    """A config.json that lost a required key is named before any network is built
    (formerly: Brian2's size-mismatch traceback after a 22 s compile)."""
    from brainlearn.models.diehl_cook.config import REQUIRED_KEYS, TrainConfig
    from brainlearn.models.diehl_cook.training import write_untrained_run

    run = write_untrained_run(tmp_path / "run", TrainConfig.create(neurons=10, data="embedded"))
    config = json.loads((run / rundir.CONFIG).read_text())
    for key in REQUIRED_KEYS:
        damaged = {k: v for k, v in config.items() if k != key}
        (run / rundir.CONFIG).write_text(json.dumps(damaged))
        err = _one_line_error(capsys, ["mnist", "evaluate", str(run), "--no-progress"])
        assert str(run / rundir.CONFIG) in err and key in err
    (run / rundir.CONFIG).write_text(json.dumps({**config, "neurons": "ten"}))
    err = _one_line_error(capsys, ["mnist", "evaluate", str(run), "--no-progress"])
    assert str(run / rundir.CONFIG) in err and "neurons" in err
    assert not list(run.glob("build_*"))  # nothing was compiled


def test_metrics_json_is_strict_json_with_null_for_nan(tmp_path):
    """NaN and infinities (numpy's too) are written as null: any JSON reader accepts the file."""
    def strict(text):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))

    rundir.update_metrics(tmp_path, {"loss": float("nan"), "ok": 1.5,
                                     "curve": [np.float64("inf"), 2.0, -math.inf],
                                     "nested": {"r": np.array([np.nan, 1.0])}})
    metrics = strict((tmp_path / rundir.METRICS).read_text())
    assert metrics == {"loss": None, "ok": 1.5, "curve": [None, 2.0, None],
                       "nested": {"r": [None, 1.0]}}
    assert rundir.read_metrics(tmp_path)["loss"] is None


def test_a_failed_compile_says_what_a_command_line_user_can_do(tmp_path, monkeypatch):
    """Brian2 advises ``clean=True``, an argument no CLI user can pass: the error names the
    build folder to remove instead."""
    from brainlearn import devices

    class Failing:
        def build(self, **kwargs):
            raise RuntimeError('Project compilation failed (error code: 2). Consider running '
                               'with "clean=True" to force a complete rebuild.')

    monkeypatch.setattr(devices, "device", Failing())
    with pytest.raises(RuntimeError) as info:
        devices.build(tmp_path / "build_x")
    text = str(info.value)
    assert "clean=True" not in text and "\n" not in text
    assert f"rm -rf {tmp_path / 'build_x'}" in text and "code 2" in text
