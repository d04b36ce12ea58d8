"""``brainlearn mnist reproduce``: rows of the paper's table, resumable row by row."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from brainlearn.models.diehl_cook.model import SIZED_REFERENCE, DiehlCookParams
from brainlearn.models.diehl_cook.reproduce import PAPER_ROWS, reproduce, row_directory


def test_sized_parameters_keep_the_spike_budget_of_the_reference_size():
    from brian2 import mV

    from brainlearn.models.diehl_cook import TrainConfig
    paper = DiehlCookParams()
    reference = paper.spike_budget(SIZED_REFERENCE, 42 * mV)
    for n in (50, 100, SIZED_REFERENCE - 1):
        sized = paper.sized(n)
        assert sized.spike_budget(n, 42 * mV) == pytest.approx(reference)
        assert sized.exc.theta_plus < paper.exc.theta_plus
    assert paper.sized(SIZED_REFERENCE) == paper  # from the reference size up: the paper's
    assert paper.sized(1600) == paper
    # a sized run written before the reference was recorded keeps the 400 it ran with
    old = TrainConfig.from_json({"neurons": 100, "param_set": "sized", "seed": 0})
    assert float(old.params().exc.theta_plus / mV) == pytest.approx(0.05 * 100 / 400)
    new = TrainConfig.create(neurons=100, params="sized")
    assert new.to_json()["sized_reference"] == SIZED_REFERENCE
    assert TrainConfig.from_json(new.to_json()).params() == paper.sized(100)
    assert "sized_reference" not in TrainConfig.create(neurons=100).to_json()


def test_reproduce_writes_the_table_and_skips_finished_rows(tmp_path):
    # 40 training images in one chunk. The chunk size (the network's pixel table) is the quick
    # start demo's, 250 (brainlearn.models.diehl_cook.runs.demo: N=100): the frozen network
    # is then the demo's and the training network differs from it only where theta_plus
    # enters, so a test run compiles them once (ccache, BRAINLEARN_COMPILE_LOCK). The claim
    # (rows written, finished rows skipped) does not depend on the chunk size.
    kwargs = dict(data="embedded", examples=40, assign_examples=100, test_examples=50,
                  chunk=250, progress=False, plot=False)
    table = reproduce(tmp_path, [100], param_set="sized", seeds=[0, 1], **kwargs)
    assert list(table["run_dir"]) == ["n100_sized", "n100_sized_s1"]
    assert (table["paper_accuracy"] == PAPER_ROWS[100][1]).all()
    assert np.allclose(table["theta_plus_mV"], 0.05 * 100 / SIZED_REFERENCE)
    assert (table["presentations_per_image"] >= 1).all()
    for column in ("accuracy_vote", "accuracy_logistic", "accuracy_online"):
        assert table[column].between(0, 100).all()
    on_disk = pd.read_csv(tmp_path / "table.csv")
    assert len(on_disk) == 2 and "| n100_sized_s1 |" in (tmp_path / "table.md").read_text()
    config = json.loads((row_directory(tmp_path, 100, "sized", 1) / "config.json").read_text())
    assert config["param_set"] == "sized" and config["seed"] == 1
    # a second call finds both rows finished: nothing is trained or evaluated again
    metrics = row_directory(tmp_path, 100, "sized", 0) / "metrics.json"
    before = metrics.stat().st_mtime_ns
    again = reproduce(tmp_path, [100], param_set="sized", seeds=[0, 1], **kwargs)
    assert metrics.stat().st_mtime_ns == before
    pd.testing.assert_frame_equal(again, table)


def test_reproduce_rejects_rows_outside_the_paper_table(tmp_path):
    with pytest.raises(ValueError, match="rows must be sizes of the paper's table"):
        reproduce(tmp_path / "x", [300])
    assert not (tmp_path / "x").exists()



def test_tune_scores_held_out_training_images_and_never_reads_the_test_set(tmp_path, monkeypatch):
    from brian2 import mV

    from brainlearn.models.diehl_cook import config as dc_config
    from brainlearn.models.diehl_cook.tune import tune, tune_directory

    read = []
    load = dc_config.load_images

    def recording_load(data, split):
        read.append(split)
        return load(data, split)

    monkeypatch.setattr(dc_config, "load_images", recording_load)
    # small held-out and assignment sets: the claim (which images are scored, which assign
    # the labels, the test set never read) does not depend on their size. 100 neurons in
    # chunks of 250: the 0.05 mV candidate is the quick start demo's network (and that of
    # test_diehl_cook.py's killed-and-resumed run and of the estimator's fit), the 0.025 mV
    # one the sized N=100 row's above, so their builds compile once in a test run (ccache,
    # BRAINLEARN_COMPILE_LOCK)
    held_out, assign, n = 50, 100, 100
    kwargs = dict(neurons=n, seeds=[0], validation=held_out, examples=40,
                  assign_examples=assign, data="embedded", chunk=250, progress=False)
    summary = tune(tmp_path, [0.05 * mV, 0.025 * mV], **kwargs)
    assert "test" not in read and "train" in read
    # best mean vote first, one row per candidate
    assert list(summary["validation_vote"]) == sorted(summary["validation_vote"], reverse=True)
    assert sorted(summary["theta_plus_mV"]) == [0.025, 0.05]
    _, labels = load("embedded", "train")
    run = tune_directory(tmp_path, n, 0.025 * mV, 0)
    assert run.name == f"n{n}_tp0.025mV_s0"
    counts = np.load(run / "eval_counts.npz")
    # scored on the last `held_out` training images; labels assigned on the first `assign`
    np.testing.assert_array_equal(counts["test_labels"], labels[-held_out:])
    np.testing.assert_array_equal(counts["assign_labels"], labels[:assign])
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["scored_on"] == "validation" and metrics["theta_plus_mV"] == pytest.approx(0.025)
    runs = pd.read_csv(tmp_path / "tune.csv")
    assert len(runs) == 2 and "validation_vote" in (tmp_path / "tune.md").read_text()
    assert (tmp_path / "tune.png").stat().st_size > 0
    # a second call finds both runs finished
    before = (run / "metrics.json").stat().st_mtime_ns
    tune(tmp_path, [0.05 * mV, 0.025 * mV], **kwargs)
    assert (run / "metrics.json").stat().st_mtime_ns == before


def test_validation_leaves_the_held_out_images_out_of_training(tmp_path):
    from brainlearn.models.diehl_cook import TrainConfig
    from brainlearn.models.diehl_cook.config import evaluation_images, training_images

    config = TrainConfig.create(data="embedded", validation=300)
    (x_train, y_train), passes = training_images(config), evaluation_images(config)
    x_all, y_all = training_images(config.replace(validation=0))
    # trained on the first 700 images; labels assigned on those, scored on the last 300
    assert len(x_train) == len(x_all) - 300
    np.testing.assert_array_equal(x_train, x_all[:-300])
    np.testing.assert_array_equal(passes["assign"][0], x_train)
    np.testing.assert_array_equal(passes["assign"][1], y_train)
    np.testing.assert_array_equal(passes["test"][0], x_all[-300:])
    np.testing.assert_array_equal(passes["test"][1], y_all[-300:])
    with pytest.raises(ValueError, match="validation 1000 leaves no training images"):
        training_images(config.replace(validation=1000))
    with pytest.raises(ValueError, match="validation must be 0 or a number of images"):
        TrainConfig.create(validation=-1)
    # tune checks the split before it creates its directory
    from brian2 import mV

    from brainlearn.models.diehl_cook.tune import tune

    with pytest.raises(ValueError, match="validation 5000 leaves no training images"):
        tune(tmp_path / "t", [0.025 * mV], data="embedded", validation=5000, progress=False)
    assert not (tmp_path / "t").exists()


def test_reproduce_trains_rows_under_the_timer_reading_asked_for(tmp_path, monkeypatch):
    """``--timer brian2`` reaches every row's configuration and gives the rows directories of
    their own, so a reading's run never resumes the other's (training mocked: no network)."""
    import brainlearn.models.diehl_cook as diehl_cook
    from brainlearn.cli import main

    trained = []

    def train(run_dir, config, **kw):
        run_dir.mkdir(parents=True)
        trained.append((run_dir.name, config.timer))

    monkeypatch.setattr(diehl_cook, "train", train)
    with pytest.raises(SystemExit):
        main(["mnist", "reproduce", "--rows", "6400", "--timer", "brian3", "--out",
              str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()
    for name in ("sharded.evaluate_on_workers", "plots.plot_run"):
        monkeypatch.setattr(f"brainlearn.models.diehl_cook.{name}", lambda *a, **kw: None)
    assert main(["mnist", "reproduce", "--rows", "6400", "--timer", "brian2", "--no-progress",
                 "--out", str(tmp_path / "t")]) == 0
    assert trained == [("n6400_brian2", "brian2")]
    reproduce(tmp_path / "t", [6400], plot=False, progress=False)
    assert trained[-1] == ("n6400", "brian1")
    assert row_directory(tmp_path / "t", 6400, timer="brian2").name == "n6400_brian2"
