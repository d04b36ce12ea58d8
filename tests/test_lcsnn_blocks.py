"""The authors' running readouts and best training block (:mod:`brainlearn.models.lcsnn.blocks`).

The readouts are replayed against an independent transcription of BindsNET's functions of
the authors' time (``assign_labels``, ``all_activity``, ``proportion_weighting``,
``update_ngram_scores``, ``ngram``), which work on dense ``(images, time, cells)`` spike
tensors where brainlearn works on spike lists; the block loop is the one of
``crop_locally_connected.py`` (score the block with the readouts so far, keep the network if
it beats every earlier block, then add the block).
"""

from __future__ import annotations

from itertools import product

import numpy as np
import pandas as pd

from brainlearn import rundir
from brainlearn.models import comparison_rows
from brainlearn.models.lcsnn.blocks import (
    BEST,
    BEST_RUN,
    BLOCKS,
    TRAIN_SPIKES,
    BlockRecord,
    RunningReadouts,
)
from brainlearn.models.lcsnn.readouts import firing_steps

N_CLASSES = 10


# --- the reference: BindsNET's evaluation functions on dense spike tensors -----------------

def _assign_labels(spikes, labels, rates):
    counts = spikes.sum(1)
    for i in range(N_CLASSES):
        n = np.sum(labels == i)
        if n > 0:
            rates[:, i] = rates[:, i] + counts[labels == i].sum(0) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        proportions = rates / rates.sum(1, keepdims=True)
    proportions[proportions != proportions] = 0
    return np.argmax(proportions, 1), proportions, rates


def _all_activity(spikes, assignments):
    counts = spikes.sum(1)
    rates = np.zeros((len(spikes), N_CLASSES))
    for i in range(N_CLASSES):
        n = np.sum(assignments == i)
        if n > 0:
            rates[:, i] = counts[:, assignments == i].sum(1) / n
    return np.argmax(rates, 1)


def _proportion_weighting(spikes, assignments, proportions):
    counts = spikes.sum(1)
    rates = np.zeros((len(spikes), N_CLASSES))
    for i in range(N_CLASSES):
        n = np.sum(assignments == i)
        if n > 0:
            rates[:, i] += (proportions[:, i] * counts)[:, assignments == i].sum(1) / n
    return np.argmax(rates, 1)


def _fire_order(activity):
    return [list(np.flatnonzero(activity[t])) for t in range(len(activity))
            if activity[t].any()]


def _update_ngram_scores(spikes, labels, scores, n=2):
    for activity, label in zip(spikes, labels, strict=True):
        order = _fire_order(activity)
        for window in zip(*(order[k:] for k in range(n)), strict=False):
            for sequence in product(*window):
                scores.setdefault(tuple(int(c) for c in sequence), np.zeros(N_CLASSES))
                scores[tuple(int(c) for c in sequence)][label] += 1
    return scores


def _ngram(spikes, scores, n=2):
    out = []
    for activity in spikes:
        order = [c for step in _fire_order(activity) for c in step]
        score = np.zeros(N_CLASSES)
        for j in range(len(order) - n):  # the version of the authors' runs
            score += scores.get(tuple(int(c) for c in order[j:j + n]), 0)
        out.append(np.argmax(score))
    return np.array(out)


def _dense(n_images, steps, cells, rng):
    """Sparse random spikes, several cells in some steps."""
    return (rng.random((n_images, steps, cells)) < 0.04).astype(np.int64)


def _lists(spikes):
    example, step, neuron = np.nonzero(spikes)
    return example, step, neuron


def test_the_running_readouts_are_bindsnets_block_by_block():
    rng = np.random.default_rng(4)
    cells, steps, per_block = 12, 30, 40
    blocks = [(_dense(per_block, steps, cells, rng), rng.integers(0, 4, per_block))
              for _ in range(4)]  # four classes seen: the others have no cells
    ours = RunningReadouts(cells)
    assignments = -np.ones(cells, dtype=int)
    proportions, rates, scores = np.zeros((cells, N_CLASSES)), np.zeros((cells, N_CLASSES)), {}
    for spikes, labels in blocks:
        firing = firing_steps(*_lists(spikes), len(spikes))
        predicted = ours.predict(spikes.sum(1), firing)
        assert np.array_equal(predicted["vote"], _all_activity(spikes, assignments))
        assert np.array_equal(predicted["proportion"],
                              _proportion_weighting(spikes, assignments, proportions))
        assert np.array_equal(predicted["ngram"], _ngram(spikes, scores))
        ours.update(spikes.sum(1), firing, labels)
        assignments, proportions, rates = _assign_labels(spikes, labels, rates)
        scores = _update_ngram_scores(spikes, labels, scores)
        assert np.array_equal(ours.assignments, assignments)
        assert np.allclose(ours.proportions, proportions)
    again = ours.predict(blocks[0][0].sum(1), firing_steps(*_lists(blocks[0][0]), per_block))
    assert all(len(set(v)) > 1 for v in again.values())  # the readouts say something


def _chunks(n_chunks, per_chunk, cells, rng):
    out = []
    for k in range(n_chunks):
        spikes = _dense(per_chunk, 20, cells, rng)
        out.append((k * per_chunk, *_lists(spikes), spikes.sum(1).astype(np.int32),
                    rng.random(7), rng.random(cells)))
    return out


def test_a_resumed_record_keeps_the_same_blocks_and_best_network(tmp_path):
    rng = np.random.default_rng(0)
    cells, per_chunk = 8, 25
    labels = rng.integers(0, N_CLASSES, 100)
    chunks = _chunks(4, per_chunk, cells, rng)
    (tmp_path / "whole").mkdir()
    whole = BlockRecord(tmp_path / "whole", labels, cells, 0)
    for chunk in chunks:
        whole.add(*chunk)
    (tmp_path / "cut").mkdir()
    cut = BlockRecord(tmp_path / "cut", labels, cells, 0)
    for chunk in chunks[:3]:
        cut.add(*chunk)
    # killed after the third chunk was stored but before its checkpoint: position 50
    resumed = BlockRecord(tmp_path / "cut", labels, cells, 2 * per_chunk)
    assert len(resumed.rows) == 2
    for chunk in chunks[2:]:
        resumed.add(*chunk)
    assert whole.finish() == resumed.finish()
    # a run that trained 50 images before the record existed resumes without one
    (tmp_path / "older").mkdir()
    older = BlockRecord(tmp_path / "older", labels, cells, 2 * per_chunk)
    assert older.add(*chunks[2]) == {} and older.finish() == {}
    assert not any((tmp_path / "older").iterdir())
    a = pd.read_csv(tmp_path / "whole" / BLOCKS)
    assert a.equals(pd.read_csv(tmp_path / "cut" / BLOCKS)) and len(a) == 4
    with np.load(tmp_path / "whole" / BEST) as x, np.load(tmp_path / "cut" / BEST) as y:
        assert all(np.array_equal(x[k], y[k]) for k in x.files)
        # the best block is the first to beat every earlier one, its network the one after it
        top = a[["vote", "proportion", "ngram"]].max(axis=1)
        first = int(np.argmax(top.to_numpy() >= top.max()))
        assert int(x["end"]) == a["end"][first]
        assert np.array_equal(x["weights"], chunks[first][5])


def test_the_authors_protocol_scores_the_best_blocks_network_with_the_earlier_readouts(
        tmp_path, capsys):
    from brainlearn.models.lcsnn import training
    from brainlearn.models.lcsnn.__main__ import main

    options = dict(n_filters=2, data="embedded", examples=15, seed=1, device="runtime",
                   params={"decay_every": 5}, progress=False)  # three blocks of 5 images
    run = tmp_path / "run"
    metrics = training.train(run, **options)
    blocks = pd.read_csv(run / BLOCKS)
    assert list(blocks["end"]) == [5, 10, 15] and len(list((run / TRAIN_SPIKES).glob("*"))) == 3
    end = metrics["best_block_end"]
    # the kept network is the one a run stopped at that block trains
    short = training.train(tmp_path / "short", **{**options, "examples": end})
    with np.load(run / BEST) as best:
        assert np.array_equal(best["weights"], rundir.read_weights(tmp_path / "short")["weights"])
    # before the run's own evaluation: the best block's network is evaluated in BEST_RUN
    assert main(["authors", str(run), "--test-examples", "10"]) == 0
    assert f"after {end} images" in capsys.readouterr().out
    first = rundir.read_metrics(run)
    assert first["authors_block_end"] == end == short["train_examples"]
    assert first["authors_network"] == BEST_RUN and "running_accuracy_ngram" not in first
    assert {f"authors_accuracy_{k}" for k in ("vote", "proportion", "ngram")} <= set(first)
    tested = rundir.read_weights(run / BEST_RUN)
    assert np.array_equal(tested["weights"], rundir.read_weights(tmp_path / "short")["weights"])
    shown = rundir.read_metrics(run / BEST_RUN)["eval_seconds"]
    training.evaluate(run, assign_examples=5, test_examples=10, progress=False)
    assert main(["authors", str(run), "--test-examples", "10"]) == 0
    assert "running readouts" in capsys.readouterr().out
    result = rundir.read_metrics(run)
    assert rundir.read_metrics(run / BEST_RUN)["eval_seconds"] == shown  # nothing shown again
    # the last block's network is read from the run's own evaluation: the same test spikes
    assert result["authors_network"] == ("final" if end == 15 else BEST_RUN)
    assert all(result[f"authors_accuracy_{k}"] == first[f"authors_accuracy_{k}"]
               for k in ("vote", "proportion", "ngram"))
    rows = [r for r in comparison_rows([run]) if "authors' protocol" in r["method"]]
    assert len(rows) == 1 and rows[0]["accuracy"] == result["authors_accuracy_ngram"]
    assert rows[0]["parameters"] > 18 * 9  # weights, thresholds and the counted n-grams
    (run / BEST).unlink()
    assert main(["authors", str(run)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no record of its training blocks" in err

