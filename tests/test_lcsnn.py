"""The LC-SNN (Saunders et al. 2019): geometry, n-gram readout, estimator, and the model
contract (``models list``, ``compare``, ``predict``, ``sweep``) reaching it by registration.

One small network (10 filters, 90 cells, 500 embedded training images) is fitted once for
the module by :class:`LCSNNClassifier`; the binary that trained it shows images frozen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from brainlearn import rundir
from brainlearn.cli import main
from brainlearn.data import load_embedded
from brainlearn.models import MODELS, comparison_rows, model_of
from brainlearn.models.lcsnn.estimator import LCSNNClassifier
from brainlearn.models.lcsnn.model import (
    LCSNNParams,
    _without_depression,
    inhibition_pairs,
    learning_rule,
    plastic_code,
    receptive_fields,
    synapse_order,
)
from brainlearn.models.lcsnn.readouts import NgramReadout, firing_steps

N_TRAIN = 500


@pytest.mark.parametrize(("filters", "cells", "synapses"), [
    (25, 225, 32_400), (50, 450, 64_800), (100, 900, 129_600), (250, 2_250, 576_000),
    (500, 4_500, 1_152_000)])
def test_the_paper_sizes_have_the_published_cells_and_synapses(filters, cells, synapses):
    # the issue's table (from the authors' plot script); 1.15 million is 1,152,000 rounded
    p = LCSNNParams.paper(filters)
    assert (p.n_neurons, p.n_synapses) == (cells, synapses)
    pixel, cell = receptive_fields(p)
    assert len(pixel) == synapses and np.bincount(cell).tolist() == [p.kernel ** 2] * cells


def test_each_cell_sees_its_own_patch_and_is_inhibited_by_its_location_only():
    p = LCSNNParams(n_filters=3, kernel=12, stride=4)
    pixel, cell = receptive_fields(p)
    rows, cols = np.divmod(pixel, p.side)
    # cell f * 9 + c sees rows/cols 4 * (c // 3) .. + 11 and 4 * (c % 3) .. + 11
    for j in (0, 4, 8, 9 + 5, 18 + 7):
        c = j % 9
        assert rows[cell == j].min() == 4 * (c // 3) and rows[cell == j].max() == 4 * (c // 3) + 11
        assert cols[cell == j].min() == 4 * (c % 3) and cols[cell == j].max() == 4 * (c % 3) + 11
    i, j = inhibition_pairs(p)
    assert len(i) == 9 * 3 * 2 and np.all(i % 9 == j % 9) and np.all(i != j)


def test_the_stored_order_makes_each_pixel_one_block_and_keeps_each_cell_in_pixel_order():
    p = LCSNNParams.paper(250)
    pixel, cell = receptive_fields(p)
    order = synapse_order(p)
    assert np.array_equal(np.sort(order), np.arange(p.n_synapses))  # a permutation
    pre, post = pixel[order], cell[order]
    # one input spike's synapses: one block of consecutive indices, targets increasing
    starts = np.flatnonzero(np.diff(pre)) + 1
    assert np.all(np.diff(pre) >= 0) and len(starts) == len(np.unique(pre)) - 1
    assert all(np.all(np.diff(block) > 0) for block in np.split(post, starts))
    # a cell's own synapses keep the pixel order they have in receptive_fields
    for j in (0, 7, 1000, p.n_neurons - 1):
        assert np.array_equal(pre[post == j], pixel[cell == j])


def test_the_plastic_code_leaves_out_only_the_unused_post_trace():
    p = LCSNNParams()
    code = plastic_code(p)
    assert "apost" not in code.model + code.on_pre + code.on_post
    # the bound still applies on a pre spike (to weights the normalisation took above 1),
    # through a term that is zero times a finite number, as the trace's was
    assert "w = clip(w - A_minus * lastupdate / second, w_min, w_max)" in code.on_pre
    assert code.namespace["A_minus"] == 0.0
    assert "w = clip(w + A_plus * apre, w_min, w_max)" in code.on_post
    assert "apost" in learning_rule(p).render(on_pre_effect="v_post += w").model
    # with depression the trace is used: the rendering stays whole
    depressing = learning_rule(p).replace(A_minus=0.01).render(on_pre_effect="v_post += w")
    assert _without_depression(depressing) == depressing


def test_the_ngram_readout_counts_sequences_over_consecutive_active_steps():
    # image 0: cell 1 at step 3, cells 2 and 5 at step 7, cell 4 at step 9 (class 0);
    # image 1: cell 5 then 4 (class 1)
    firing = firing_steps(np.array([0, 0, 0, 0, 1, 1]), np.array([7, 3, 9, 7, 0, 1]),
                          np.array([5, 1, 4, 2, 5, 4]), 2)
    assert [[s.tolist() for s in steps] for steps in firing] == [[[1], [2, 5], [4]], [[5], [4]]]
    readout = NgramReadout(n=2, n_classes=3).fit(firing, [0, 1])
    assert set(readout.scores_) == {(1, 2), (1, 5), (2, 4), (5, 4)}
    assert readout.scores_[(5, 4)].tolist() == [1, 1, 0]
    # prediction reads the flat order 1 2 5 ... and, as BindsNET, skips the last pair
    test = firing_steps(np.array([0, 0, 0]), np.array([0, 1, 2]), np.array([1, 2, 7]), 1)
    assert readout.class_scores(test).tolist() == [[1, 0, 0]]
    assert readout.predict(firing_steps(np.array([0, 0, 0]), np.array([0, 1, 2]),
                                        np.array([5, 4, 9]), 1)).tolist() == [0]


@pytest.fixture(scope="module")
def data():
    x, y = load_embedded("train")
    xt, yt = load_embedded("test")
    return x[:N_TRAIN], y[:N_TRAIN], xt[:250], yt[:250]


@pytest.fixture(scope="module")
def fitted(data, tmp_path_factory):
    x, y, _, _ = data
    clf = LCSNNClassifier(n_filters=10, seed=1, run_dir=tmp_path_factory.mktemp("lc") / "fit")
    clf.fit(x, y)
    yield clf
    clf.close()


def test_fit_learns_digits_it_then_recognises_in_images_it_never_saw(fitted, data):
    _, _, xt, yt = data
    predicted = fitted.predict(xt)
    assert predicted.shape == (len(xt),) and set(np.unique(predicted)) <= set(range(10))
    # chance is 10 %; 90 cells after 500 images recognise about half
    assert np.mean(predicted == yt) > 0.35
    assert fitted.score(xt, yt) == np.mean(predicted == yt)  # reproducible: seeded trains
    metrics = rundir.read_metrics(fitted.run_dir_)
    assert metrics["train_examples"] == N_TRAIN and metrics["neurons"] == 90


def test_clone_keeps_the_parameters_and_drops_the_fit(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "readout_")
    with pytest.raises(ValueError, match="readout must be one of"):
        LCSNNClassifier(readout="nearest").fit(np.zeros((2, 28, 28)), [0, 1])


def test_saved_estimator_predicts_the_same_through_brainlearn_predict(fitted, data, tmp_path):
    _, _, xt, _ = data
    images = xt[:40]
    expected = fitted.predict(images)
    saved = fitted.save(tmp_path / "saved")
    fitted.close()  # give Brian2's device to the loaded estimator
    assert model_of(saved).name == "lcsnn"  # found by the registry, not by name
    loaded = LCSNNClassifier.load(saved)
    assert np.array_equal(loaded.readout_.assignments_, fitted.readout_.assignments_)
    assert np.array_equal(loaded.weights_, fitted.weights_)
    np.save(tmp_path / "digits.npy", images)
    assert main(["predict", str(saved), "--images", str(tmp_path / "digits.npy"),
                 "--out", str(tmp_path / "pred.csv")]) == 0
    table = pd.read_csv(tmp_path / "pred.csv")
    assert table["label"].tolist() == expected.tolist()


def _evaluated_run(path, filters=25, accuracy=0.9):
    """A run directory as evaluate leaves it (metrics written by hand: no network)."""
    p = LCSNNParams.paper(filters)
    rundir.write_config(path, {"model": "lcsnn", "n_filters": filters, "kernel": p.kernel,
                               "stride": p.stride, "data": "full", "seed": 0}, kind="lcsnn")
    rundir.update_metrics(path, {
        "neurons": p.n_neurons, "synapses": p.n_synapses, "accuracy": accuracy,
        "accuracy_vote": accuracy, "accuracy_ngram": accuracy + 0.01, "train_seconds": 100.0,
        "test_spikes_per_example": 80.0, "test_examples": 10000, "ngram_parameters": 1000})
    return path


def test_models_list_and_compare_reach_the_model_by_registration(tmp_path, capsys):
    assert "lcsnn" in MODELS
    assert main(["models", "list"]) == 0
    assert "lcsnn" in capsys.readouterr().out
    run = _evaluated_run(tmp_path / "lc25")
    rows = comparison_rows([run])
    assert [r["model"] for r in rows] == ["lcsnn", "lcsnn"]
    assert rows[0]["parameters"] == 32_400 + 225 + 225  # weights, thresholds, vote labels
    assert rows[1]["accuracy"] == pytest.approx(0.91) and "n-gram" in rows[1]["method"]
    assert main(["compare", str(run), "--out", str(tmp_path / "cmp")]) == 0
    table = pd.read_csv(next((tmp_path / "cmp").glob("*.csv")))
    assert table["method"].str.contains("LC-SNN").sum() == 2
    assert not any("one spike" in r["method"] or "intervals" in r["method"] for r in rows)
    # a run with the authors' cells and input says so in every row's method
    config = rundir.read_config(run)
    rundir.write_config(run, {**config, "params": {"one_spike": True,
                                                   "input_intervals": "poisson_steps"}},
                        kind="lcsnn")
    assert all(r["method"].startswith("LC-SNN (Saunders et al. 2019), 25 filters 12x12/4, "
                                      "N=225, one spike per step, poisson_steps input intervals, ")
               for r in comparison_rows([run]))


def test_sweep_lists_the_models_task(capsys):
    assert main(["sweep", "--list"]) == 0
    assert "lcsnn" in capsys.readouterr().out


@pytest.mark.slow
def test_a_sweep_trains_and_evaluates_through_the_registered_task(tmp_path):
    out = tmp_path / "sweep"
    assert main(["sweep", "--experiment", "lcsnn", "--grid", "n_filters=4", "examples=250",
                 "test_examples=100", "--seeds", "1", "--serial", "--no-progress",
                 "--out", str(out)]) == 0
    results = pd.read_csv(next(out.rglob("*.csv")))
    assert results["accuracy_vote"].between(0.1, 1.0).all()


def test_the_side_by_side_figure_puts_lcsnn_beside_every_diehl_cook_size(tmp_path):
    from brainlearn.models.lcsnn.__main__ import figure
    from brainlearn.models.lcsnn.plots import family_rows

    run = _evaluated_run(tmp_path / "lc25")
    sizes = (100, 400, 1600, 6400)  # the results table's Diehl & Cook rows
    earlier = pd.DataFrame([{"method": f"Diehl & Cook STDP, N={n}, vote (label assignment)",
                             "accuracy": 0.8 + n / 1e5, "train_seconds": 4.0 * n,
                             "parameters": 786 * n, "spikes_per_inference": 19.0,
                             "source": f"dc{n}"} for n in sizes])
    mine = comparison_rows([run])[0]  # a row the run gives again: kept once
    earlier = pd.concat([earlier, pd.DataFrame([mine])])
    earlier.to_csv(tmp_path / "earlier.csv", index=False)
    paths = figure([str(run)], str(tmp_path / "fig"), str(tmp_path / "earlier.csv"))
    assert paths[-1].name == "lcsnn_vs_diehl_cook.png" and paths[-1].stat().st_size > 0
    table = pd.read_csv(tmp_path / "fig" / "comparison.csv")
    assert (table["method"] == mine["method"]).sum() == 1
    rows = family_rows(table)
    dc = rows[rows["family"] == "Diehl & Cook, vote"]
    assert sorted(dc["cells"]) == list(sizes)
    assert sorted(dc["synapses"]) == [784 * n for n in sizes]
    assert sorted(set(rows["family"])) == ["Diehl & Cook, vote", "LC-SNN, n-gram",
                                            "LC-SNN, vote"]
    assert set(rows.loc[rows["family"] != "Diehl & Cook, vote", "synapses"]) == {32_400}


def test_a_killed_training_resumes_from_its_last_chunk_to_the_same_weights(tmp_path,
                                                                           monkeypatch):
    from brainlearn.models.lcsnn import network, training

    options = dict(n_filters=1, data="embedded", examples=10, seed=2, device="runtime",
                   params={"decay_every": 5}, progress=False)  # chunks of 5 images
    whole = training.train(tmp_path / "whole", **options)
    real, calls = network.present_chunk, []

    def dies_in_the_second_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(network, "present_chunk", dies_in_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        training.train(tmp_path / "killed", **options)
    assert rundir.read_weights(tmp_path / "killed") is None  # not trained: resumable
    monkeypatch.setattr(network, "present_chunk", real)
    resumed = training.train(tmp_path / "killed", **options)
    assert resumed["train_examples"] == whole["train_examples"] == 10
    a, b = rundir.read_weights(tmp_path / "whole"), rundir.read_weights(tmp_path / "killed")
    assert np.array_equal(a["weights"], b["weights"]) and np.array_equal(a["theta"], b["theta"])
    with pytest.raises(ValueError, match="another configuration"):
        training.train(tmp_path / "killed", **{**options, "seed": 3})
