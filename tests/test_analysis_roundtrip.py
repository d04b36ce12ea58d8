"""Every format gives back exactly the spikes it was given (issue 6, items 2-4)."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from analysis_helpers import assert_identical, labelled_table
from brian2 import second

from brainlearn.analysis import (
    SpikeStream,
    read_spikes,
    read_states,
    spike_table,
    stream_table,
    write_spikes,
    write_states,
)

SUFFIXES = {"parquet": ".parquet", "csv": ".csv", "sonata": ".h5", "nwb": ".nwb", "neo": ".mat"}


def roundtrip(df, tmp_path, fmt, **kw):
    path = tmp_path / f"spikes{SUFFIXES[fmt]}"
    write_spikes(df, path, **kw)
    return read_spikes(path)


@pytest.mark.parametrize("fmt", SUFFIXES)
def test_labelled_table_with_silent_neuron_empty_population_and_coincident_spikes(fmt, tmp_path):
    df = labelled_table()
    assert df["t"].value_counts().max() > 100  # coincident spikes present
    assert 3 not in set(df["neuron"]) and len(df[df["population"] == "inh"]) == 0
    assert_identical(df, roundtrip(df, tmp_path, fmt))


@pytest.mark.parametrize("fmt", SUFFIXES)
def test_empty_table_round_trips(fmt, tmp_path):
    df = spike_table(np.zeros(0, int), np.zeros(0) * second, "exc", n_neurons=3)
    assert_identical(df, roundtrip(df, tmp_path, fmt))


@pytest.mark.parametrize("fmt", SUFFIXES)
def test_a_million_spikes_round_trip_bit_for_bit(fmt, tmp_path):
    rng = np.random.default_rng(7)
    n = 10**6
    # times that do not survive t*1000/1000 (checked below), unsorted on input
    t = rng.random(n) * 5.0
    df = spike_table(rng.integers(0, 100, n), t * second, "exc", n_neurons=100,
                     example_duration=0.5 * second, labels=rng.integers(0, 10, 10), duration=5 * second)
    assert not np.array_equal(df["t"].to_numpy() * 1000.0 / 1000.0, df["t"].to_numpy())
    assert_identical(df, roundtrip(df, tmp_path, fmt, chunk_size=250_000))


def test_unlabelled_table_without_examples_round_trips_everywhere(tmp_path):
    rng = np.random.default_rng(3)
    df = spike_table(rng.integers(0, 7, 500), rng.random(500) * second, "neurons")
    for fmt in SUFFIXES:
        assert_identical(df, roundtrip(df, tmp_path, fmt))


def test_parquet_is_written_in_chunks_and_readable_by_pandas(tmp_path):
    df = labelled_table(10_000)
    path = write_spikes(df, tmp_path / "s.parquet", chunk_size=1_000)
    assert pq.ParquetFile(path).num_row_groups == 10
    plain = pd.read_parquet(path)  # a pandas user needs no brainlearn to read it
    assert np.array_equal(plain["t"].to_numpy(), df["t"].to_numpy())


def test_sonata_layout_follows_the_spec(tmp_path):
    df = labelled_table()
    path = write_spikes(df, tmp_path / "s.h5", chunk_size=300)
    with h5py.File(path) as f:
        exc = f["spikes/exc"]
        assert exc.attrs["sorting"] == "by_time"
        assert exc["timestamps"].attrs["units"] == "ms"
        assert exc["node_ids"].dtype == np.uint64
        assert np.array_equal(exc["timestamps"][()], df["t"].to_numpy() * 1000.0)
        assert list(f["spikes"]) == ["exc", "inh"] and f["spikes/inh/timestamps"].shape == (0,)


def test_foreign_sonata_file_reads_timestamps_in_ms(tmp_path):
    path = tmp_path / "nest.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("spikes/v1")
        g.attrs["sorting"] = "by_time"
        g["timestamps"] = np.array([1.5, 2.0, 10.25])
        g["timestamps"].attrs["units"] = "ms"
        g["node_ids"] = np.array([4, 0, 4], dtype=np.uint64)
    df = read_spikes(path)
    assert list(df["population"]) == ["v1"] * 3
    assert np.array_equal(df["t"].to_numpy(), np.array([1.5, 2.0, 10.25]) / 1000)
    assert list(df["neuron"]) == [4, 0, 4]


def _failing_stream(df):
    def chunks():
        yield df.iloc[:100]
        raise RuntimeError("simulated crash mid-export")

    return SpikeStream(stream_table(df).meta, chunks())


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".h5"])
def test_a_failed_write_leaves_no_file_under_the_final_name(suffix, tmp_path):
    df = labelled_table()
    with pytest.raises(RuntimeError, match="simulated crash"):
        write_spikes(_failing_stream(df), tmp_path / f"s{suffix}")
    assert list(tmp_path.iterdir()) == []  # neither the final name nor a temp file


@pytest.mark.parametrize("suffix", list(SUFFIXES.values()))
def test_corrupt_file_gives_a_clear_error(suffix, tmp_path):
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(b"\x89garbage, not a spike file\n" * 10)
    with pytest.raises(ValueError, match="bad"):
        read_spikes(path)


def test_foreign_files_name_what_is_missing(tmp_path):
    pd.DataFrame({"a": [1.0]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(ValueError, match="not a brainlearn spike file"):
        read_spikes(tmp_path / "x.parquet")
    pd.DataFrame({"population": ["a"], "neuron": [0], "t": [0.1]}).to_csv(tmp_path / "x.csv")
    with pytest.raises(ValueError, match="not a brainlearn spike file"):
        read_spikes(tmp_path / "x.csv")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["data"] = [1, 2]
    with pytest.raises(ValueError, match="no /spikes group"):
        read_spikes(tmp_path / "x.h5")
    with pytest.raises(ValueError, match="suffix"):
        read_spikes(tmp_path / "x.txt")
    with pytest.raises(FileNotFoundError):
        read_spikes(tmp_path / "missing.parquet")


def test_missing_extra_is_named(monkeypatch, tmp_path):
    monkeypatch.setitem(__import__("sys").modules, "pynwb", None)
    monkeypatch.setitem(__import__("sys").modules, "neo", None)
    df = labelled_table()
    with pytest.raises(RuntimeError, match=r"brainlearn\[nwb\]"):
        write_spikes(df, tmp_path / "s.nwb")
    with pytest.raises(RuntimeError, match=r"brainlearn\[neo\]"):
        write_spikes(df, tmp_path / "s.mat")


@pytest.mark.parametrize("suffix", [".h5", ".parquet"])
def test_states_round_trip_exactly(suffix, tmp_path):
    rng = np.random.default_rng(1)
    states = {
        "weights": rng.random((784, 10)),
        "theta": rng.random(10).astype(np.float32),
        "v": rng.normal(size=(10, 7)) * 1e-3,
        "ids": np.arange(5, dtype=np.int32),
    }
    back = read_states(write_states(states, tmp_path / f"states{suffix}"))
    assert list(back) == list(states)
    for name, arr in states.items():
        assert back[name].dtype == arr.dtype and back[name].shape == arr.shape
        assert np.array_equal(back[name], arr)


@pytest.mark.slow
def test_ten_million_spikes_stream_without_a_second_copy(tmp_path):
    import tracemalloc

    from brainlearn.analysis import export_run

    n, chunk = 10**7, 500_000
    rng = np.random.default_rng(0)
    meta = stream_table(spike_table([0], [0.0] * second, "exc", n_neurons=400)).meta

    def chunks():
        for k in range(n // chunk):
            t = np.sort(rng.random(chunk)) + k
            yield spike_table(rng.integers(0, 400, chunk), t * second, "exc", n_neurons=400)

    run = tmp_path / "run"
    write_spikes(SpikeStream(meta, chunks()), run / "spikes.parquet")
    table_bytes = n * (8 + 8 + 1)
    for fmt in ("csv", "sonata", "parquet"):
        tracemalloc.start()
        out = export_run(run, fmt, tmp_path / f"out.{fmt}", chunk_size=chunk)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < table_bytes / 2, (fmt, peak)
        assert out.exists()
    back = read_spikes(tmp_path / "out.sonata", format="sonata")
    assert len(back) == n and back["t"].is_monotonic_increasing
