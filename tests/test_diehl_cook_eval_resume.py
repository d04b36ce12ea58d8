"""An interrupted Diehl & Cook evaluation resumes: only its missing chunks run again.

Every chunk of the frozen passes is kept in ``RUN/eval_chunks/`` as it ends
(``evaluation.chunk_store``); a second call with the same arguments merges the kept chunks
with the ones it runs into exactly the files an uninterrupted evaluation writes. Chunks kept
for another evaluation (other weights, other image counts) or damaged are run again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brainlearn import rundir

#: one chunk of assignment images (10 each) and two of test images: the second test chunk's
#: spike times follow the first's simulated time
SIZES = (10, 20)
OUTPUTS = ("spikes.parquet", "examples.parquet", "assign_spikes.parquet", "test_spikes.parquet")


def _run(run_dir: Path) -> Path:
    """An untrained run of 8 cells (the seed fixes its weights) on the runtime device."""
    from brainlearn.models.diehl_cook import TrainConfig, write_untrained_run

    return write_untrained_run(run_dir, TrainConfig.create(
        neurons=8, examples=1, seed=3, device="runtime", data="embedded", chunk=10))


def _count_chunks(monkeypatch, stop_at: int | None = None) -> list:
    """Record the ``(stage, chunk)`` of every chunk the evaluation runs; raise
    KeyboardInterrupt (a kill) when chunk number ``stop_at`` (from 1) starts."""
    from brainlearn.models.diehl_cook import evaluation

    real = getattr(evaluation.frozen_chunks, "real", evaluation.frozen_chunks)  # unwrapped
    calls = []

    def counted(net, images, state, n_examples, stage, seed, chunks, *args, **kwargs):
        calls.extend((stage, int(k)) for k in chunks)
        if stop_at is not None and len(calls) >= stop_at:
            raise KeyboardInterrupt
        return real(net, images, state, n_examples, stage, seed, chunks, *args, **kwargs)

    counted.real = real
    monkeypatch.setattr(evaluation, "frozen_chunks", counted)
    return calls


def _assert_same_outputs(run: Path, reference: Path) -> None:
    expected = dict(np.load(reference / "eval_counts.npz"))
    for name, values in np.load(run / "eval_counts.npz").items():
        np.testing.assert_array_equal(values, expected[name], err_msg=name)
    assert expected["assign_counts"].sum() > 0  # not a comparison of empty tables
    for name in OUTPUTS:
        pd.testing.assert_frame_equal(pd.read_parquet(run / name),
                                      pd.read_parquet(reference / name), check_exact=True)


def test_an_interrupted_evaluation_runs_only_its_missing_chunks_to_the_same_result(
        tmp_path, monkeypatch):
    from brainlearn.models.diehl_cook.evaluation import CHUNKS_DIR, evaluate

    whole, stopped = _run(tmp_path / "whole"), _run(tmp_path / "stopped")
    expected = evaluate(whole, *SIZES, progress=False, readouts=("vote", "logistic"))
    assert expected["eval_resumed_images"] == 0

    calls = _count_chunks(monkeypatch, stop_at=3)  # killed in the second test chunk
    with pytest.raises(KeyboardInterrupt):
        evaluate(stopped, *SIZES, progress=False, readouts=("vote", "logistic"))
    assert "accuracy" not in rundir.read_metrics(stopped)
    assert sorted(p.name for p in (stopped / CHUNKS_DIR).iterdir()) == [
        "assign_000000.npz", "key.json", "test_000000.npz"]

    calls = _count_chunks(monkeypatch)
    resumed = evaluate(stopped, *SIZES, progress=False, readouts=("vote", "logistic"))
    assert calls == [("test", 1)]  # the kept chunks did not run again
    assert resumed["eval_resumed_images"] == 20
    for name in ("accuracy", "accuracy_vote", "accuracy_logistic", "test_spikes_per_example"):
        assert resumed[name] == expected[name], name
    _assert_same_outputs(stopped, whole)
    assert not (stopped / CHUNKS_DIR).exists() and not (whole / CHUNKS_DIR).exists()
    assert not list(stopped.glob(".*tmp*"))


def _part(index: int = 0):
    from brian2 import second

    from brainlearn.models.diehl_cook.evaluation import ChunkPart, PassRecord

    spikes = pd.DataFrame({"neuron": np.array([3, 1, 7], np.int32), "t": [0.0105, 0.2, 0.5125],
                           "example": np.array([10, 10, 11], np.int64)})
    shown = pd.DataFrame({"example": np.array([10, 11, 11], np.int64), "start": [0.0, 0.384, 0.768]})
    return ChunkPart(index, PassRecord(np.arange(16).reshape(2, 8), spikes, shown), 1.152 * second, None)


def test_a_kept_chunk_reads_back_whole_and_serves_only_its_own_evaluation(tmp_path):
    from brainlearn.models.diehl_cook.evaluation import (
        CHUNKS_DIR,
        chunk_key,
        chunk_store,
        keep_chunk,
        kept_chunk,
        open_evaluation,
    )

    run = _run(tmp_path / "run")
    ev = open_evaluation(run, *SIZES)
    keep_chunk(chunk_store(ev), "assign", _part(1))
    part = kept_chunk(chunk_store(ev), "assign", 1)  # the same evaluation, opened again
    assert part.index == 1 and part.end_time == _part().end_time and part.state is None
    np.testing.assert_array_equal(part.record.counts, _part().record.counts)
    pd.testing.assert_frame_equal(part.record.spikes, _part().record.spikes, check_exact=True)
    pd.testing.assert_frame_equal(part.record.presentations, _part().record.presentations,
                                  check_exact=True)
    assert kept_chunk(chunk_store(ev), "assign", 0) is None  # never kept
    assert kept_chunk(chunk_store(ev), "test", 1) is None

    # another evaluation of the run: more images, other weights, another start
    others = [open_evaluation(run, 30, 10), open_evaluation(run, 20, 5),
              open_evaluation(run, *SIZES, start="carried")]
    weights = dict(np.load(run / "weights.npz"))
    weights["theta"] = weights["theta"] + 1e-3
    np.savez(run / "weights.npz", **weights)
    others.append(open_evaluation(run, *SIZES))
    for other in others:
        assert chunk_key(other) != chunk_key(ev)
        keep_chunk(chunk_store(ev), "assign", _part(1))
        assert kept_chunk(chunk_store(other), "assign", 1) is None  # discarded
        assert not (run / CHUNKS_DIR / "assign_000001.npz").exists()

    keep_chunk(chunk_store(ev), "assign", _part(1))
    (run / CHUNKS_DIR / "assign_000001.npz").write_bytes(b"not an npz")  # damaged
    assert kept_chunk(chunk_store(ev), "assign", 1) is None
    assert not (run / CHUNKS_DIR / "assign_000001.npz").exists()  # so it runs again
