"""A run directory exports to every format and reads back exactly; the CLI analyses it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import EXAMPLE, N_EXAMPLES, assert_identical, labelled_table, make_run_dir

from brainlearn.analysis import export_run, load_run_spikes, load_run_states, read_spikes
from brainlearn.cli import main

FORMATS = {"parquet": ".parquet", "csv": ".csv", "sonata": ".h5", "nwb": ".nwb", "neo": ".mat"}


@pytest.fixture
def run_dir(tmp_path):
    weights = np.random.default_rng(0).random((784, 20))
    return make_run_dir(tmp_path / "run", labelled_table(3000), weights)


@pytest.mark.parametrize("fmt", FORMATS)
def test_run_exports_to_every_format_and_reads_back_exactly(fmt, run_dir, capsys):
    original = load_run_spikes(run_dir)
    assert main(["export", str(run_dir), "--format", fmt, "--chunk-size", "700"]) == 0
    path = run_dir / "export" / f"spikes{FORMATS[fmt]}"
    assert capsys.readouterr().out.strip() == str(path)
    assert_identical(original, read_spikes(path))


def test_export_to_a_chosen_file_and_config_fills_missing_attrs(tmp_path, run_dir):
    df = labelled_table(500)
    df.attrs = {}  # a spike file without metadata: config.json supplies size and timing
    df = df[df["population"] == "exc"].assign(population=lambda d: d["population"].cat.remove_unused_categories())
    bare = make_run_dir(tmp_path / "bare", df)
    spikes = load_run_spikes(bare)
    assert spikes.attrs == {"n_neurons": {"exc": 20}, "example_duration": float(EXAMPLE)}
    out = tmp_path / "elsewhere" / "run.nwb"
    assert main(["export", str(bare), "--format", "nwb", "--out", str(out)]) == 0
    assert_identical(spikes, read_spikes(out))


def test_export_errors_are_one_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope"), "--format", "csv"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["export", str(tmp_path / "empty"), "--format", "csv"]) == 2
    assert "spikes.parquet" in capsys.readouterr().err


def test_analyze_writes_tables_and_figures(run_dir):
    assert main(["analyze", str(run_dir)]) == 0
    out = run_dir / "analysis"
    for name in ("rates.csv", "cv.csv", "fano.csv", "class_rates.csv", "raster.png", "psth.png",
                 "rates.png", "receptive_fields.png", "weights.png"):
        assert (out / name).stat().st_size > 0, name
    assert load_run_states(run_dir)["weights"].shape == (784, 20)


def test_elephant_analysis_runs_on_the_neo_export(run_dir):
    """Neo's layout for one recording: one Segment, one SpikeTrain per neuron, the examples as
    an Epoch; Elephant reads it and agrees with the table."""
    neo = pytest.importorskip("neo", reason="the neo extra is not installed")
    elephant_stats = pytest.importorskip("elephant.statistics", reason="the neo extra is not installed")
    main(["export", str(run_dir), "--format", "neo"])
    block = neo.io.NeoMatlabIO(str(run_dir / "export" / "spikes.mat")).read_block()
    (segment,) = block.segments
    assert len(segment.spiketrains) == 25  # 20 exc (one silent) + 5 silent inh
    (epoch,) = segment.epochs
    spikes = load_run_spikes(run_dir)
    assert len(epoch) == N_EXAMPLES
    first_label = spikes.drop_duplicates("example").set_index("example")["label"]
    assert [int(x) for x in epoch.labels[first_label.index]] == first_label.tolist()
    np.testing.assert_allclose(epoch.durations.rescale("s").magnitude, float(EXAMPLE))
    exc = [st for st in segment.spiketrains if st.annotations["population"] == "exc"]
    counts = [len(st) for st in exc]
    assert counts == np.bincount(spikes[spikes["population"] == "exc"]["neuron"], minlength=20).tolist()
    rates = [float(elephant_stats.mean_firing_rate(st).rescale("Hz")) for st in exc]
    duration = float((exc[0].t_stop - exc[0].t_start).rescale("s"))
    np.testing.assert_allclose(rates, np.array(counts) / duration)
    # per-example trials of neuron 0, cut with the epoch, for the Fano factor
    trials = [exc[0].time_slice(t0, t0 + d) for t0, d in zip(epoch.times, epoch.durations, strict=True)]
    per_trial = [len(tr) for tr in trials]
    mine = spikes[(spikes["population"] == "exc") & (spikes["neuron"] == 0)]
    assert sum(per_trial) == len(mine)
    fano = elephant_stats.fanofactor(trials)
    assert fano == pytest.approx(np.var(per_trial) / np.mean(per_trial))


def test_a_plain_pandas_spike_file_is_accepted_and_sorted(tmp_path):
    """A run that wrote its table with DataFrame.to_parquet still exports exactly."""
    df = labelled_table(800)
    shuffled = df[df["population"] == "exc"].sample(frac=1.0, random_state=0)
    plain = shuffled.assign(population=shuffled["population"].astype(str))
    run = make_run_dir(tmp_path / "plain", df.iloc[:0])
    plain.to_parquet(run / "spikes.parquet", index=False)
    spikes = load_run_spikes(run)
    assert np.array_equal(spikes["t"], np.sort(plain["t"]))
    assert spikes.attrs == {"n_neurons": {"exc": 20}, "example_duration": float(EXAMPLE)}
    for fmt in FORMATS:
        assert main(["export", str(run), "--format", fmt]) == 0
        assert_identical(spikes, read_spikes(run / "export" / f"spikes{FORMATS[fmt]}"))


def _unwritable_dir(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root writes anyway: use a read-only file system
        locked = Path("/sys/brainlearn-test")
        if not Path("/sys").is_dir():
            pytest.skip("no read-only folder available to this user")
    return locked


@pytest.mark.parametrize("fmt", ["csv", "sonata", "parquet"])
def test_export_to_a_path_that_cannot_be_written_is_one_line_naming_it(fmt, tmp_path, run_dir, capsys):
    (tmp_path / "a_file").write_text("not a folder")
    targets = {
        "read-only folder": _unwritable_dir(tmp_path) / f"spikes{FORMATS[fmt]}",
        "through a file": tmp_path / "a_file" / f"spikes{FORMATS[fmt]}",
        "a directory": tmp_path,
    }
    for what, target in targets.items():
        capsys.readouterr()
        assert main(["export", str(run_dir), "--format", fmt, "--out", str(target)]) == 2, what
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, (what, err)
        assert str(target) in err and "Traceback" not in err and ".tmp" not in err, (what, err)
    assert not list(tmp_path.rglob(".*tmp*"))


def test_csv_export_is_read_by_plain_pandas(run_dir):
    """No comment line to skip: ``pandas.read_csv`` gives the spikes, the description sits beside."""
    assert main(["export", str(run_dir), "--format", "csv"]) == 0
    path = run_dir / "export" / "spikes.csv"
    plain = pd.read_csv(path, float_precision="round_trip")
    spikes = load_run_spikes(run_dir)
    assert list(plain.columns) == list(spikes.columns)
    np.testing.assert_array_equal(plain["t"].to_numpy(), spikes["t"].to_numpy())
    np.testing.assert_array_equal(plain["population"].to_numpy(), spikes["population"].astype(str).to_numpy())
    assert json.loads((run_dir / "export" / "spikes.csv.json").read_text())["attrs"] == spikes.attrs


def test_a_10k_example_run_exports_to_neo_in_seconds_and_reads_back_exactly(tmp_path):
    pytest.importorskip("neo", reason="the neo extra is not installed")
    import time

    from brainlearn import rundir

    rng = np.random.default_rng(0)
    n_examples, n_neurons, n_spikes = 10_000, 100, 300_000
    examples = rundir.examples_from_presentations(np.arange(n_examples), np.arange(n_examples) * 0.5,
                                                  0.5, labels=rng.integers(0, 10, n_examples))
    example = rng.integers(0, n_examples, n_spikes)
    run = tmp_path / "big"
    run.mkdir()
    rundir.write_spikes(run, rng.integers(0, n_neurons, n_spikes), example * 0.5 + rng.random(n_spikes) * 0.5,
                        population="exc", n_neurons=n_neurons, example=example, examples=examples)
    start = time.perf_counter()
    path = export_run(run, "neo", progress=False)
    back = read_spikes(path)
    assert time.perf_counter() - start < 30  # 1.3 s measured on the project's 2-core machine
    assert path.stat().st_size < 20e6  # 300k spikes: float64 times and int64 examples, ~5 MB
    assert_identical(load_run_spikes(run), back)
