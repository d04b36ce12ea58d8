"""brainlearn compare: rows from evaluated run directories, written as CSV/markdown/figure."""

from __future__ import annotations

import json
from dataclasses import asdict

import pandas as pd
import pytest
from brian2 import ms

from brainlearn.cli import main
from brainlearn.models import compare_runs
from brainlearn.models.diehl_cook.model import DiehlCookParams

#: the Diehl & Cook run of the fixture: a shorter input window than the paper's 350 ms, so the
#: steps per inference must come from the run's own parameters
DC_PARAMS = DiehlCookParams(t_input=200 * ms)


@pytest.fixture
def runs(tmp_path):
    mnist = tmp_path / "dc"
    mnist.mkdir()
    (mnist / "config.json").write_text(json.dumps(
        {"kind": "diehl_cook", "params": {k: str(v) for k, v in asdict(DC_PARAMS).items()}}))
    (mnist / "metrics.json").write_text(json.dumps({
        "neurons": 100, "accuracy": 0.8, "accuracy_vote": 0.8, "accuracy_logistic": 0.9,
        "train_seconds": 600.0, "test_spikes_per_example": 20.0, "test_examples": 10000,
    }))
    conv = tmp_path / "mlp"
    conv.mkdir()
    (conv / "config.json").write_text(json.dumps(
        {"kind": "conversion", "hidden": [500], "test_accuracy": 0.98, "train_seconds": 300.0}))
    pd.DataFrame({
        "steps": [8, 32], "input": "analog", "norm": "99.9", "reset": "subtract",
        "accuracy": [0.95, 0.979], "ann_accuracy": 0.98, "spikes_per_example": [200.0, 900.0],
        "n_examples": 10000,
    }).to_csv(conv / "results.csv", index=False)
    return mnist, conv


@pytest.fixture
def surrogate_run(tmp_path):
    run = tmp_path / "sg"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(
        {"kind": "surrogate", "hidden": [1000], "steps": 25, "surrogate": "atan",
         "train_seconds": 200.0}))
    pd.DataFrame({
        "implementation": ["trainer", "brian2"], "accuracy": [0.94, 0.941],
        "spikes_per_inference": [3000.0, 3000.0], "steps": 25, "n_examples": [10000, 10000],
    }).to_csv(run / "results.csv", index=False)
    return run


def test_table_has_one_row_per_method_and_readout(runs):
    mnist, conv = runs
    table = compare_runs([mnist, conv])
    methods = list(table["method"])
    assert sum(m.startswith("Diehl & Cook") for m in methods) == 2  # vote, logistic
    assert sum(m.startswith("converted SNN") for m in methods) == 2
    assert any(m.startswith("ANN") for m in methods)
    row = table[table["method"].str.contains("T=32")].iloc[0]
    assert row["accuracy"] == pytest.approx(0.979)
    assert row["sim_ms_per_inference"] == 32


def test_cli_writes_csv_markdown_and_figure(runs, tmp_path):
    mnist, conv = runs
    out = tmp_path / "cmp"
    assert main(["compare", "--mnist-run", str(mnist), "--convert-run", str(conv),
                 "--out", str(out)]) == 0
    for name in ("comparison.csv", "comparison.md", "accuracy_vs_spikes.png"):
        assert (out / name).stat().st_size > 0
    assert len(pd.read_csv(out / "comparison.csv")) == 5


def test_unevaluated_run_gives_a_clear_error(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"neurons": 10}))
    with pytest.raises(ValueError, match="not evaluated"):
        compare_runs([tmp_path])


def test_surrogate_rows_trainer_and_brian2(runs, surrogate_run):
    mnist, conv = runs
    table = compare_runs([mnist, conv, surrogate_run])
    sg = table[table["method"].str.startswith("surrogate")]
    assert len(sg) == 2
    assert set(sg["inference_steps"]) == {25}
    # 784-1000-10 with biases
    assert set(sg["parameters"]) == {784 * 1000 + 1000 + 1000 * 10 + 10}
    assert sg["local_online_learning"].str.startswith("no").all()
    assert len(table) == 7  # the earlier rows are still there


def test_several_surrogate_runs_each_labelled_by_preset(surrogate_run, tmp_path):
    single = tmp_path / "sj_single"
    single.mkdir()
    (single / "config.json").write_text(json.dumps(
        {"kind": "surrogate", "hidden": [], "steps": 100, "surrogate": "atan", "encoder": "poisson",
         "preset": "spikingjelly-single"}))
    (single / "metrics.json").write_text(json.dumps(
        {"sizes": [784, 10], "parameters": 7840, "train_seconds": 4000.0}))
    pd.DataFrame({
        "implementation": ["trainer", "brian2"], "accuracy": [0.928, 0.928],
        "spikes_per_inference": [98.0, 98.0], "steps": 100, "n_examples": [10000, 10000],
    }).to_csv(single / "results.csv", index=False)
    out = tmp_path / "cmp"
    assert main(["compare", "--surrogate-run", str(surrogate_run), "--surrogate-run",
                 str(single), "--out", str(out)]) == 0
    table = pd.read_csv(out / "comparison.csv")
    assert len(table) == 4
    sj = table[table["method"].str.contains("spikingjelly-single: 784-10 ")]
    assert len(sj) == 2 and sj["method"].str.contains("Poisson input").all()
    assert set(sj["parameters"]) == {7840} and set(sj["inference_steps"]) == {100}
    assert table["method"].str.contains("784-1000-10").sum() == 2


def test_learning_locality_and_steps_per_method(runs):
    mnist, conv = runs
    table = compare_runs([mnist, conv]).set_index("method")
    dc = table[table.index.str.startswith("Diehl")]
    assert (dc["inference_steps"] == round(float(DC_PARAMS.t_input / DC_PARAMS.dt))).all()
    assert (dc["inference_steps"] == 400).all()  # 200 ms at dt = 0.5 ms
    assert (dc["sim_ms_per_inference"] == 200.0).all()
    assert dc["local_online_learning"].str.contains("STDP yes").all()
    conv_row = table.loc["converted SNN, T=8 (analog, 99.9 %, subtract)"]
    assert conv_row["inference_steps"] == 8
    assert conv_row["parameters"] == 784 * 500 + 500 + 500 * 10 + 10


def test_pixel_baseline_row_is_a_fitted_logistic_regression():
    from brainlearn.analysis.compare import COLUMNS, pixel_baseline_row

    row = pixel_baseline_row("embedded")
    assert set(row) == set(COLUMNS)
    # 1000 training images, 500 test images: far above chance, below a perfect fit
    assert 0.7 < row["accuracy"] < 1.0
    assert row["test_examples"] == 500 and row["parameters"] == 7850


def test_cnn_rows_ann_and_converted_cnn_per_T(runs, tmp_path):
    """A `convert cnn` run gives its ANN row and one converted-CNN row per T, with the
    run's parameter count; the figure gets them as their own series."""
    _, conv = runs
    cnn = tmp_path / "cnn"
    cnn.mkdir()
    (cnn / "config.json").write_text(json.dumps({"kind": "conversion_cnn", "channels": [32, 64]}))
    (cnn / "metrics.json").write_text(json.dumps({"train_seconds": 500.0,
                                                  "parameters": 421642}))
    pd.DataFrame({"steps": [32, 64], "accuracy": [0.988, 0.991], "ann_accuracy": 0.992,
                  "spikes_per_example": 2.3e5, "ms_per_image": 100.0, "n_examples": 1000,
                  "synapses": 3717120, "norm": 99.9}).to_csv(cnn / "results.csv", index=False)
    table = compare_runs([conv, cnn]).set_index("method")
    assert table.loc["ANN (CNN, channels 32-64)", "accuracy"] == 0.992
    row = table.loc["converted CNN, T=64 (analog, 99.9 %, subtract)"]
    assert row["accuracy"] == 0.991 and row["inference_steps"] == 64
    assert row["parameters"] == 421642 and row["test_examples"] == 1000
    out = tmp_path / "cmp"
    assert main(["compare", "--convert-run", str(conv), "--cnn-run", str(cnn),
                 "--out", str(out)]) == 0
    assert (out / "accuracy_vs_spikes.png").stat().st_size > 0


def test_cnn_rows_take_brian2_and_fill_other_t_from_the_replica(tmp_path):
    """A run with Brian2 and PyTorch-replica rows: Brian2 gives its T, the replica (same
    v_init and readout, test split) the others; validation rows never enter the table."""
    cnn = tmp_path / "cnn"
    cnn.mkdir()
    (cnn / "config.json").write_text(json.dumps({"kind": "conversion_cnn", "channels": [32, 64],
                                                 "v_init": 0.5, "readout": "count"}))
    base = {"ann_accuracy": 0.993, "spikes_per_example": 1e5, "ms_per_image": 90.0,
            "n_examples": 10000, "synapses": 3717120, "norm": 99.9}
    rows = [dict(base, simulator="brian2", split="test", steps=64, v_init=0.5,
                 readout="count", accuracy=0.991)]
    for split in ("test", "validation"):
        for v0 in (0.0, 0.5):
            for T in (32, 64, 128):
                rows.append(dict(base, simulator="torch", split=split, steps=T, v_init=v0,
                                 readout="count", accuracy=0.9 + T / 10000 + v0 / 100))
    pd.DataFrame(rows).to_csv(cnn / "results.csv", index=False)
    table = compare_runs([cnn])
    converted = table[table["method"].str.startswith("converted CNN")]
    assert list(converted["inference_steps"]) == [32, 64, 128]
    t64 = converted[converted["inference_steps"] == 64].iloc[0]
    assert t64["accuracy"] == 0.991 and "PyTorch" not in t64["method"]
    t128 = converted[converted["inference_steps"] == 128].iloc[0]
    assert "PyTorch replica" in t128["method"] and t128["accuracy"] == 0.9 + 128 / 10000 + 0.005


def test_shorter_brian2_cnn_rows_do_not_carry_the_longest_runs_spike_count(tmp_path):
    """Brian2 counts spikes over its longest T: a shorter Brian2 row takes the replica's count
    at its own T (same v_init), or none, never the longer run's."""
    cnn = tmp_path / "cnn"
    cnn.mkdir()
    (cnn / "config.json").write_text(json.dumps({"kind": "conversion_cnn", "channels": [32, 64]}))
    base = {"ann_accuracy": 0.993, "ms_per_image": 90.0, "synapses": 3717120, "norm": 99.9,
            "split": "test", "readout": "count"}
    rows = [dict(base, simulator="brian2", steps=T, v_init=0.5, accuracy=0.99,
                 spikes_per_example=1e5, n_examples=10000) for T in (16, 32, 64)]
    rows += [dict(base, simulator="torch", steps=T, v_init=v0, accuracy=0.99,
                  spikes_per_example=1000.0 * T + 7 * v0, n_examples=1000)
             for T in (16, 64) for v0 in (0.0, 0.5)]
    pd.DataFrame(rows).to_csv(cnn / "results.csv", index=False)
    table = compare_runs([cnn])
    spikes = dict(zip(table["inference_steps"], table["spikes_per_inference"], strict=True))
    assert spikes[64] == 1e5                    # Brian2's own count, over its 64 steps
    assert spikes[16] == 1000.0 * 16 + 3.5      # the replica at T=16, v_init 0.5
    assert spikes[32] != spikes[32]             # NaN: no count for T=32: left out, not overstated
