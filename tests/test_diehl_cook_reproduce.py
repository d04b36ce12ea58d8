"""``brainlearn mnist reproduce``: rows of the paper's table, resumable row by row."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from brainlearn.models.diehl_cook_2015 import DiehlCookParams
from brainlearn.models.diehl_cook_reproduce import PAPER_ROWS, reproduce, row_directory


def test_sized_parameters_keep_the_spike_budget_of_400_cells():
    from brian2 import mV

    paper = DiehlCookParams()
    budget_400 = paper.spike_budget(400, 42 * mV)
    for n in (100, 200):
        assert paper.sized(n).spike_budget(n, 42 * mV) == pytest.approx(budget_400)
    assert float(paper.sized(100).exc.theta_plus / mV) == pytest.approx(0.0125)
    assert paper.sized(1600) == paper  # large networks keep the paper's parameters


def test_reproduce_writes_the_table_and_skips_finished_rows(tmp_path):
    kwargs = dict(data="embedded", examples=40, assign_examples=100, test_examples=50,
                  chunk=40, progress=False, plot=False)
    table = reproduce(tmp_path, [100], param_set="sized", seeds=[0, 1], **kwargs)
    assert list(table["run_dir"]) == ["n100_sized", "n100_sized_s1"]
    assert (table["paper_accuracy"] == PAPER_ROWS[100][1]).all()
    assert np.allclose(table["theta_plus_mV"], 0.0125)
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

