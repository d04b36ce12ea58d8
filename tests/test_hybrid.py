"""The STDP + BP hybrid: a LIF output layer trained by BPTT on a Diehl & Cook layer's recorded
spikes, and the same layer in Brian2.

The run directory is a synthetic stand-in for a finished Diehl & Cook run (training one takes
minutes): its ``assign_spikes.parquet`` and ``test_spikes.parquet`` hold, per image, Poisson
spike trains of 30 hidden neurons with 5 ms refractoriness on the network's 0.5 ms grid, each
class driving its own overlapping set of neurons. The independent reference for the accuracy
is a logistic regression on the same images' spike counts (:class:`brainlearn.readout
.LogisticReadout`, the run's "logistic" readout).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

pytest.importorskip("torch")

from brainlearn import rundir  # noqa: E402
from brainlearn.cli import main  # noqa: E402

N_HIDDEN, WINDOW, DT = 30, 0.35, 0.0005


def _poisson_stage(rng, labels, preferred, rate_on=10.0, rate_off=4.0, refractory=0.005):
    """Spikes (neuron, t, example) of every image: Poisson with dead time (intervals of
    ``refractory`` plus an exponential), rate_on for the class's neurons, on the 0.5 ms grid."""
    rates = np.where(preferred[labels], rate_on, rate_off)  # (images, neurons)
    intervals = refractory + rng.exponential(1 / rates[..., None], (*rates.shape, 40))
    t = np.floor(np.cumsum(intervals, axis=-1) / DT) * DT
    example, neuron, _ = np.nonzero(t < WINDOW)
    return neuron, t[t < WINDOW], example


@pytest.fixture(scope="module")
def spike_run(tmp_path_factory):
    """A run directory with recorded hidden spikes of 600 training and 300 test images."""
    rng = np.random.default_rng(3)
    preferred = np.zeros((10, N_HIDDEN), dtype=bool)
    for c in range(10):
        preferred[c, rng.choice(N_HIDDEN, 6, replace=False)] = True
    run = tmp_path_factory.mktemp("hybrid") / "run"
    run.mkdir()
    for stage, n in (("assign", 600), ("test", 300)):
        labels = rng.integers(0, 10, n)
        neuron, t, example = _poisson_stage(rng, labels, preferred)
        rundir.write_window_spikes(run, stage, neuron, t, example, labels, population="exc",
                                   n_neurons=N_HIDDEN, window=WINDOW)
    (run / "metrics.json").write_text(json.dumps({
        "neurons": N_HIDDEN, "accuracy": 0.5, "accuracy_vote": 0.5, "test_examples": 300,
        "train_seconds": 100.0, "test_spikes_per_example": 20.0}))
    return run


def _counts(run, stage):
    spikes, attrs = rundir.read_window_spikes(run, stage)
    counts = np.zeros((attrs["n_examples"], N_HIDDEN))
    np.add.at(counts, (spikes["example"], spikes["neuron"]), 1)
    return counts, attrs["labels"]


def _digest(run):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def trained_run(spike_run):
    """``brainlearn hybrid train`` and ``evaluate`` on the synthetic run (CLI)."""
    before = _digest(spike_run)
    assert main(["hybrid", "train", str(spike_run), "--epochs", "15", "--batch-size", "64",
                 "--threads", "1", "--no-progress"]) == 0
    assert main(["hybrid", "evaluate", str(spike_run)]) == 0
    return spike_run, before


def test_one_ms_bins_keep_every_recorded_spike(spike_run):
    """With 5 ms refractoriness no neuron spikes twice in a 1 ms bin: 350 steps hold every
    spike of the 350 ms window, at the step of its millisecond."""
    from brainlearn.models.hybrid import RecordedSpikes

    spikes = RecordedSpikes.from_run(spike_run, "test")
    counts, _ = _counts(spike_run, "test")
    trains = spikes.trains(np.arange(len(spikes)), 350)
    np.testing.assert_array_equal(trains.sum(axis=1), counts)
    frame, _ = rundir.read_window_spikes(spike_run, "test")
    first = frame.iloc[0]
    step = int(np.floor(first["t"] * 1000 + 1e-9))
    assert trains[int(first["example"]), step, int(first["neuron"])] == 1
    # the sparse form Brian2's spike generator is fed, built in chunks, is the same spikes
    for got, expected in zip(spikes.binned(np.arange(len(spikes)), 350, chunk=7),
                             np.nonzero(trains), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_hybrid_learns_as_well_as_a_logistic_readout_of_the_counts(trained_run):
    from brainlearn.readout import LogisticReadout

    run, _ = trained_run
    results = (run / "hybrid" / "results.csv").read_text()
    assert "brian2" in results
    metrics = rundir.read_metrics(run / "hybrid")
    x, y = _counts(run, "assign")
    xt, yt = _counts(run, "test")
    reference = LogisticReadout(random_state=0).fit(x, y).score(xt, yt)
    assert reference > 0.6  # the task is learnable from the counts (chance: 10 %)
    assert metrics["accuracy_trainer"] > 0.6
    assert metrics["accuracy_trainer"] > reference - 0.12, (metrics, reference)


def test_brian2_run_of_the_trained_layer_agrees_with_the_trainer(trained_run):
    """Same binned input, same DiscreteLIF update order: every prediction agrees, and the
    output spike counts are equal image by image."""
    from brainlearn.models.hybrid import HybridLayer, RecordedSpikes, forward, simulate

    run, _ = trained_run
    metrics = rundir.read_metrics(run / "hybrid")
    assert metrics["agreement"] == 1.0
    assert metrics["accuracy_brian2"] == metrics["accuracy_trainer"]
    layer = HybridLayer.load(run / "hybrid" / "layer.npz")
    spikes = RecordedSpikes.from_run(run, "test")
    examples = np.arange(60)
    ref = forward(layer, spikes, examples)
    act = simulate(layer, spikes, examples, lanes=20)  # 3 images per lane, one after another
    assert ref.counts.sum() > 0  # the output layer spikes
    np.testing.assert_array_equal(act.counts, ref.counts)
    np.testing.assert_allclose(act.membrane, ref.membrane, rtol=1e-9, atol=1e-9)


def test_brian2_agrees_with_the_trainer_with_a_bias_and_longer_bins(spike_run):
    """The bias enters as a constant input every step (a ``run_regularly`` before the
    threshold), and 50 steps of 7 ms merge some spikes: the trainer and Brian2 still see the
    same input and give the same output spikes."""
    from brainlearn.models.hybrid import RecordedSpikes, forward, simulate, train

    spikes = RecordedSpikes.from_run(spike_run, "assign").take(np.arange(200))
    layer = train(spikes, steps=50, bias=True, epochs=3, batch_size=32, threads=1)
    assert np.any(layer.bias != 0)
    test = RecordedSpikes.from_run(spike_run, "test").take(np.arange(40))
    ref, act = forward(layer, test), simulate(layer, test, lanes=8)
    assert ref.counts.sum() > 0
    np.testing.assert_array_equal(act.counts, ref.counts)
    np.testing.assert_array_equal(act.predict(), ref.predict())


def test_outputs_go_to_the_hybrid_folder_and_the_run_is_untouched(trained_run):
    run, before = trained_run
    assert _digest(run) == before
    assert {"layer.npz", "metrics.json", "config.json", "train_metrics.csv",
            "results.csv"} <= {p.name for p in (run / "hybrid").iterdir()}
    assert rundir.read_config(run / "hybrid")["kind"] == "hybrid"


def test_layer_file_round_trips(trained_run, tmp_path):
    from brainlearn.models.hybrid import HybridLayer, RecordedSpikes, forward

    run, _ = trained_run
    layer = HybridLayer.load(run / "hybrid" / "layer.npz")
    again = HybridLayer.load(layer.save(tmp_path / "copy.npz"))
    np.testing.assert_array_equal(again.weights, layer.weights)
    np.testing.assert_array_equal(again.bias, layer.bias)
    assert (again.beta, again.threshold, again.steps, again.window, again.surrogate) == (
        layer.beta, layer.threshold, layer.steps, layer.window, layer.surrogate)
    assert again.config == layer.config and len(again.history) == 15
    spikes = RecordedSpikes.from_run(run, "test").take(np.arange(50))
    np.testing.assert_array_equal(forward(again, spikes).counts, forward(layer, spikes).counts)


def test_compare_table_shows_the_hybrid_beside_the_vote(trained_run):
    from brainlearn.models import compare_runs

    run, _ = trained_run
    table = compare_runs([run])
    row = table[table["method"].str.contains("STDP + BP hybrid", regex=False)].iloc[0]
    metrics = rundir.read_metrics(run / "hybrid")
    assert row["accuracy"] == metrics["accuracy_brian2"]
    assert row["local_online_learning"].startswith("no")
    assert row["parameters"] == 784 * N_HIDDEN + N_HIDDEN + 10 * N_HIDDEN  # no bias (default)
    assert row["train_seconds"] == pytest.approx(100.0 + metrics["train_seconds"])
    assert row["spikes_per_inference"] > 0
    assert any(table["method"].str.contains("vote"))


def test_a_run_without_recorded_spikes_says_how_to_get_them(tmp_path, capsys):
    run = tmp_path / "old_run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"neurons": 10, "accuracy": 0.5}))
    assert main(["hybrid", "train", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "assign_spikes.parquet" in err and f"brainlearn mnist evaluate {run}" in err
    assert not (run / "hybrid").exists()
    assert main(["hybrid", "evaluate", str(run)]) == 2
    assert "brainlearn hybrid train" in capsys.readouterr().err


def test_bad_settings_are_named(spike_run):
    from brainlearn.models.hybrid import RecordedSpikes, train

    spikes = RecordedSpikes.from_run(spike_run, "assign")
    with pytest.raises(ValueError, match="beta"):
        train(spikes, beta=1.5)
    with pytest.raises(ValueError, match="loss.*'mse'"):
        train(spikes, loss="mse")
    with pytest.raises(ValueError, match="validation.*1.5"):
        train(spikes, validation=1.5)


@pytest.mark.slow
def test_hybrid_on_a_diehl_cook_run_trained_on_the_embedded_subset(tmp_path):
    """The whole path on a real (small) network: STDP training and evaluation record the
    hidden spikes, the hybrid trains on them, beats chance by far and Brian2 agrees."""
    run = str(tmp_path / "dc")
    assert main(["mnist", "train", "--neurons", "50", "--examples", "600", "--data", "embedded",
                 "--seed", "1", "--no-progress", "--out", run]) == 0
    assert main(["mnist", "evaluate", run, "--assign-examples", "1000", "--test-examples", "500",
                 "--no-progress"]) == 0
    assert main(["hybrid", "train", run, "--epochs", "20", "--no-progress"]) == 0
    assert main(["hybrid", "evaluate", run]) == 0
    metrics = rundir.read_metrics(tmp_path / "dc" / "hybrid")
    # chance is 10 %; the vote of this network reaches about 50-60 %
    assert metrics["accuracy_trainer"] > 0.45
    assert metrics["agreement"] == 1.0 and metrics["n_examples_brian2"] == 500


# --------------------------------------------------------------------------------------------
# the scikit-learn estimator
# --------------------------------------------------------------------------------------------
def test_estimator_passes_every_scikit_learn_check():
    """With one step per example the layer reads any real features as input current."""
    from sklearn.utils.estimator_checks import check_estimator

    from brainlearn.models.hybrid import HybridClassifier

    clf = HybridClassifier(steps=1, epochs=10, batch_size=32, loss="membrane_ce", lr=5e-2)
    rows = check_estimator(clf, on_fail=None)
    failed = [(str(r["check_name"]), repr(r["exception"])) for r in rows
              if r["status"] == "failed"]
    assert failed == []


def test_estimator_loads_the_cli_layer_and_predicts_its_spike_trains(trained_run, tmp_path):
    from sklearn.base import clone

    from brainlearn.models.hybrid import HybridClassifier, HybridLayer, RecordedSpikes, forward

    run, _ = trained_run
    clf = HybridClassifier.load(run)
    layer = HybridLayer.load(run / "hybrid" / "layer.npz")
    spikes = RecordedSpikes.from_run(run, "test")
    examples = np.arange(80)
    trains = spikes.trains(examples, 350)
    expected = forward(layer, spikes, examples).predict()
    np.testing.assert_array_equal(clf.predict(trains), expected)
    np.testing.assert_array_equal(clf.predict(trains.reshape(80, -1)), expected)  # flattened
    np.testing.assert_array_equal(HybridClassifier.load(run / "hybrid").predict(trains),
                                  expected)
    again = HybridClassifier.load(clf.save(tmp_path / "copy"))
    np.testing.assert_array_equal(again.predict(trains), expected)
    assert clone(clf).get_params() == clf.get_params() and clf.get_params()["epochs"] == 15


def test_estimator_fit_on_binned_trains_learns_the_task(spike_run):
    from brainlearn.models.hybrid import HybridClassifier, RecordedSpikes

    train_spikes = RecordedSpikes.from_run(spike_run, "assign")
    test_spikes = RecordedSpikes.from_run(spike_run, "test")
    x = train_spikes.trains(np.arange(len(train_spikes)), 50)
    xt = test_spikes.trains(np.arange(len(test_spikes)), 50)
    clf = HybridClassifier(steps=50, epochs=10, batch_size=64).fit(x, train_spikes.labels)
    assert clf.score(xt, test_spikes.labels) > 0.6  # chance: 10 %
