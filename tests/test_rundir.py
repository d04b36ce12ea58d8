"""The run-directory contract: what producers write is what analysis reads.

``brainlearn analyze`` runs on a real run directory of each producer here (conversion,
surrogate, protocols); the Diehl & Cook one is in ``test_diehl_cook.py`` (it reuses that
file's trained run).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brainlearn import rundir
from brainlearn.analysis import load_run_examples, load_run_spikes
from brainlearn.cli import main


def test_an_example_shown_three_times_lasts_three_periods_from_its_first_start():
    # example 1 was retried twice (shown at 0.5, 1.0 and 1.5 s), the others once
    examples = rundir.examples_from_presentations(
        example=[0, 1, 1, 1, 2], start=[0.0, 0.5, 1.0, 1.5, 2.0], period=0.5, labels=[7, 3, 9],
    )
    assert examples["start"].tolist() == [0.0, 0.5, 2.0]
    assert examples["duration"].tolist() == [0.5, 1.5, 0.5]
    assert examples["label"].tolist() == [7, 3, 9]
    with pytest.raises(ValueError, match=r"never presented"):
        rundir.examples_from_presentations([0, 2], [0.0, 0.5], 0.5)


def test_a_failed_start_leaves_no_run_directory(tmp_path):
    target = tmp_path / "runs" / "n100"
    with pytest.raises(FileNotFoundError):
        with rundir.new_run(target) as run:
            rundir.write_config(run, {"neurons": 100}, kind="test")
            raise FileNotFoundError("MNIST is not in the cache")
    assert not target.exists()
    # a directory that was there before is left alone
    target.mkdir(parents=True)
    (target / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError):
        with rundir.new_run(target):
            raise RuntimeError("compiler missing")
    assert (target / "notes.txt").read_text() == "mine"


def test_spikes_written_by_a_producer_read_back_exactly_with_their_examples(tmp_path):
    rng = np.random.default_rng(0)
    examples = rundir.examples_from_presentations([0, 1, 1, 2], [0.0, 0.5, 1.0, 1.5], 0.5,
                                                  labels=[4, 5, 6])
    example = rng.integers(0, 3, 200)
    t = examples["start"].to_numpy()[example] + rng.random(200) * examples["duration"].to_numpy()[example]
    neuron = rng.integers(0, 7, 200)
    run = tmp_path / "run"
    run.mkdir()
    rundir.write_spikes(run, neuron, t, population="exc", n_neurons=9, example=example,
                        examples=examples)
    spikes = load_run_spikes(run)
    order = np.lexsort((neuron, t))
    np.testing.assert_array_equal(spikes["t"].to_numpy(), t[order])
    np.testing.assert_array_equal(spikes["neuron"].to_numpy(), neuron[order])
    np.testing.assert_array_equal(spikes["label"].to_numpy(), np.array([4, 5, 6])[example[order]])
    assert spikes.attrs["n_neurons"] == {"exc": 9}
    assert spikes.attrs["duration"] == 2.0  # the end of the last example
    assert "example_duration" not in spikes.attrs  # they differ: the table holds them
    pd.testing.assert_frame_equal(load_run_examples(run), examples)


def test_class_rates_divide_by_the_time_each_class_was_shown(tmp_path):
    # class 5 was shown for 1.5 s (one retried example), class 4 for 0.5 s; 3 spikes each
    run = tmp_path / "run"
    run.mkdir()
    examples = rundir.examples_from_presentations([0, 1, 1, 1], [0.0, 0.5, 1.0, 1.5], 0.5,
                                                  labels=[4, 5])
    rundir.write_spikes(run, [0, 0, 0, 0, 0, 0], [0.1, 0.2, 0.3, 0.6, 1.1, 1.9],
                        population="exc", n_neurons=1, example=[0, 0, 0, 1, 1, 1],
                        examples=examples)
    assert main(["analyze", str(run)]) == 0
    rates = pd.read_csv(run / "analysis" / "class_rates.csv").set_index("label")["rate"]
    assert rates[4] == pytest.approx(3 / 0.5)
    assert rates[5] == pytest.approx(3 / 1.5)


def _assert_analyzed(run, expected):
    assert main(["analyze", str(run)]) == 0
    written = {p.name for p in (run / "analysis").iterdir()}
    assert set(expected) <= written, written
    assert not list((run / "analysis").glob(".*tmp*"))


def test_analyze_runs_on_a_conversion_run_and_draws_its_first_layer(tmp_path):
    from brainlearn.models.conversion import MLP, train_run

    run = tmp_path / "mlp"
    metrics = train_run(run, hidden=(16,), epochs=1, source="embedded", train_examples=200,
                        progress=False)
    assert rundir.read_config(run)["kind"] == "conversion"
    assert rundir.read_metrics(run)["test_accuracy"] == metrics["test_accuracy"]
    saved = rundir.read_weights(run)["weights"]
    np.testing.assert_array_equal(saved, MLP.load(run / "mlp.npz").weights[0])
    _assert_analyzed(run, ["receptive_fields.png", "weights.png"])


def test_analyze_runs_on_a_surrogate_run(tmp_path):
    pytest.importorskip("torch", reason="the surrogate trainer needs the torch extra")
    from brainlearn.models.surrogate import train_run

    run = tmp_path / "sg"
    train_run(run, hidden=(16,), steps=5, source="embedded", train_examples=200, progress=False)
    assert rundir.read_config(run)["kind"] == "surrogate"
    assert rundir.read_weights(run)["weights"].shape == (784, 16)
    _assert_analyzed(run, ["receptive_fields.png", "weights.png"])


def test_analyze_runs_on_a_protocol_run_with_its_imposed_spikes(tmp_path):
    from brainlearn.protocols import dataset_protocols
    from brainlearn.protocols.runs import run_experiment

    run = tmp_path / "nevian"
    run_experiment("nevian2006", run, rule="pair")
    spikes = load_run_spikes(run)
    protocols = dataset_protocols("nevian2006")
    assert spikes.attrs["n_neurons"] == {"pre": len(protocols), "post": len(protocols)}
    for k, protocol in enumerate(protocols):
        pre, post = protocol.spike_times()
        mine = spikes[spikes["neuron"] == k]
        np.testing.assert_array_equal(mine[mine["population"] == "pre"]["t"], pre)
        np.testing.assert_array_equal(mine[mine["population"] == "post"]["t"], post)
    assert "E" in rundir.read_metrics(run)
    _assert_analyzed(run, ["rates.csv", "cv.csv", "raster.png", "psth.png"])


def test_a_failed_producer_start_leaves_no_directory_and_the_same_command_then_works(tmp_path):
    run = tmp_path / "bad"
    assert main(["protocol", "run", "nevian2006", "--rule", "no-such-rule", "--out", str(run)]) == 2
    assert not run.exists()
    assert main(["protocol", "run", "nevian2006", "--rule", "pair", "--out", str(run)]) == 0
    assert (run / "spikes.parquet").exists()


def test_analyze_of_a_directory_without_records_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["analyze", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path / "empty") in err
    assert not (tmp_path / "empty" / "analysis").exists()


def test_new_run_keeps_a_created_directory_that_can_resume(tmp_path):
    """A failure removes the directory the call created, unless it already holds one of the
    ``keep`` files (a checkpoint to resume from)."""
    from brainlearn import rundir

    for name, checkpoint in (("fresh", False), ("resumable", True)):
        run = tmp_path / name
        with pytest.raises(RuntimeError), rundir.new_run(run, keep=("checkpoint.pt",)) as path:
            if checkpoint:
                (path / "checkpoint.pt").write_bytes(b"state")
            raise RuntimeError("interrupted")
        assert run.exists() == checkpoint
