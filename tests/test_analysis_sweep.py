"""``brainlearn analyze`` on a sweep directory: one summary across the tasks (issue 15)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainlearn import rundir
from brainlearn.sweep import sweep


def poisson_run(params: dict, seed: int, workdir: Path) -> dict:
    """A task that writes a run directory: 4 Poisson neurons at ``rate`` Hz for 2 s."""
    rate = float(params["rate"])
    rng = np.random.default_rng(seed)
    n = rng.poisson(rate * 2.0 * 4)
    neuron, t = rng.integers(0, 4, n), np.sort(rng.uniform(0, 2.0, n))
    with rundir.new_run(workdir / "run") as run:
        rundir.write_config(run, {"rate": rate}, kind="selftest_poisson")
        rundir.write_spikes(run, neuron, t, population="cells", n_neurons=4, duration=2.0)
    return {"spikes": int(n), "rate_hz": n / 8.0}


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sw") / "sweep"
    sweep(poisson_run, {"rate": [5.0, 20.0]}, seeds=3, client="serial", out=out, progress=False)
    return out


def test_analyze_sweep_writes_the_summary_across_tasks(sweep_dir):
    from brainlearn.analysis import analyze_run

    written = analyze_run(sweep_dir, progress=False)  # the run-directory entry point dispatches
    target = sweep_dir / "analysis"
    tasks = pd.read_csv(target / "tasks.csv")
    assert len(tasks) == 6 and (tasks["status"] == "ok").all()
    assert tasks["analysis"].str.startswith("tasks/").all()
    summary = pd.read_csv(target / "summary.csv").set_index("rate")
    assert list(summary.index) == [5.0, 20.0] and (summary["tasks"] == 3).all()
    # the summary is the mean over the three seeds of each rate, from the tasks' own numbers
    for rate, part in tasks.groupby("rate"):
        assert summary.loc[rate, "rate_hz_mean"] == pytest.approx(part["rate_hz"].mean())
        assert summary.loc[rate, "rate_hz_std"] == pytest.approx(part["rate_hz"].std(ddof=1))
    assert 3 < summary.loc[5.0, "rate_hz_mean"] < 7 and 16 < summary.loc[20.0, "rate_hz_mean"] < 24
    # every task's run directory analysed: its rates table matches the task's own result
    for row in tasks.itertuples():
        rates = pd.read_csv(target / row.analysis / "rates.csv")
        assert rates["rate"].mean() == pytest.approx(row.rate_hz)
    assert (target / "metrics.png").stat().st_size > 1000
    assert target / "summary.csv" in written


def test_analyze_cli_on_a_sweep_directory(sweep_dir, tmp_path, capsys):
    from brainlearn.cli import main

    assert main(["analyze", str(sweep_dir), "--out", str(tmp_path / "a")]) == 0
    assert "summary.csv" in capsys.readouterr().out
    assert (tmp_path / "a" / "tasks.csv").exists()
