"""Readouts: the Diehl & Cook vote by hand, logistic regression, and the online delta rule."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import check_estimator

from brainlearn.readout import LogisticReadout, OnlineReadout, VoteReadout

READOUTS = [VoteReadout(), LogisticReadout(), OnlineReadout(epochs=3)]


#: checks that do not apply, and why
NOT_APPLICABLE = {
    "VoteReadout": {
        "check_classifiers_train": "needs 83 % on 2-feature blobs of 3 classes; a vote gives "
        "each neuron one class, so 2 neurons can never predict 3 classes",
    },
    "OnlineReadout": {
        "check_classifiers_train": "scales each example by its largest count (c / max c), "
        "which keeps the spike pattern but not the magnitude the 2-feature blobs differ in",
    },
}


@pytest.mark.parametrize("readout", READOUTS, ids=lambda r: type(r).__name__)
def test_readouts_pass_scikit_learn_estimator_checks(readout):
    # every check of scikit-learn's estimator suite that applies to a classifier
    expected = NOT_APPLICABLE.get(type(readout).__name__, {})
    rows = check_estimator(readout, on_fail=None, expected_failed_checks=expected)
    failed = [str(row["check_name"]) for row in rows if row["status"] == "failed"]
    assert failed == []
    assert sum(row["status"] == "passed" for row in rows) > 40


@pytest.mark.parametrize("readout", READOUTS, ids=lambda r: type(r).__name__)
def test_clone_keeps_parameters_and_a_second_fit_starts_afresh(readout):
    x, y = _blocks(120, seed=4)
    other_x, other_y = _blocks(60, n_classes=3, per_class=3, seed=5)
    copy = clone(readout)
    assert copy.get_params() == readout.get_params()
    fitted = clone(readout).fit(other_x, other_y).fit(x, y)
    fresh = clone(readout).fit(x, y)
    assert fitted.n_features_in_ == fresh.n_features_in_ == 20
    np.testing.assert_array_equal(fitted.classes_, [0, 1, 2, 3])
    np.testing.assert_array_equal(fitted.predict(x), fresh.predict(x))


def test_labels_of_any_kind_come_back_as_given():
    x, y = _blocks(120, seed=6)
    names = np.array(["zero", "one", "two", "three"])
    for readout in READOUTS:
        fitted = clone(readout).fit(x, names[y])
        assert set(fitted.predict(x)) <= set(names)
        assert fitted.score(x, names[y]) > 0.9


def test_partial_fit_continues_where_fit_starts_over():
    x, y = _blocks(80, seed=7)
    once = OnlineReadout(random_state=1).partial_fit(x, y, classes=[0, 1, 2, 3])
    twice = clone(once).partial_fit(x, y, classes=[0, 1, 2, 3]).partial_fit(x, y)
    assert twice.n_seen_ == 2 * once.n_seen_ == 160
    refit = OnlineReadout(random_state=1).fit(x, y).fit(x, y)
    assert refit.n_seen_ == 80
    np.testing.assert_array_equal(refit.weights_, once.weights_)


def test_vote_assignment_matches_hand_computation():
    # 4 neurons, 3 classes, 6 examples (2 per class).
    counts = np.array([
        [4, 0, 1, 0],  # class 0
        [2, 0, 3, 0],  # class 0
        [1, 5, 0, 0],  # class 1
        [1, 3, 0, 0],  # class 1
        [0, 1, 2, 0],  # class 2
        [0, 1, 2, 0],  # class 2
    ])
    labels = np.array([0, 0, 1, 1, 2, 2])
    # By hand: neuron 0 means (3, 1, 0) -> class 0; neuron 1 (0, 4, 1) -> class 1;
    # neuron 2 (2, 0, 2): tie between 0 and 2 -> lowest, class 0; neuron 3 silent -> -1.
    ro = VoteReadout(n_classes=3).fit(counts, labels)
    np.testing.assert_array_equal(ro.assignments_, [0, 1, 0, -1])
    np.testing.assert_allclose(ro.class_means_[:, 0], [3, 1, 0])
    # Vote: class 0's neurons {0, 2}, class 1's {1}, class 2 has none and is never chosen.
    test = np.array([[1, 0, 1, 9], [0, 2, 3, 0], [0, 2, 1, 0]])
    # scores: ex0 (1.0, 0, -inf) -> 0; ex1 (1.5, 2, -inf) -> 1; ex2 (0.5, 2) -> 1
    np.testing.assert_array_equal(ro.predict(test), [0, 1, 1])
    assert ro.score(test, [0, 1, 2]) == pytest.approx(2 / 3)


def test_vote_rejects_bad_input():
    with pytest.raises(ValueError, match="labels must lie"):
        VoteReadout(n_classes=2).fit(np.ones((2, 3)), [0, 5])
    with pytest.raises(NotFittedError):
        VoteReadout().predict(np.ones((1, 3)))
    ro = VoteReadout(n_classes=2).fit(np.eye(2), [0, 1])
    with pytest.raises(ValueError, match="3 features.*expecting 2"):
        ro.predict(np.ones((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        VoteReadout().fit(np.array([[1.0, np.nan], [0.0, 1.0]]), [0, 1])


def _blocks(n_examples, n_classes=4, per_class=5, seed=0, high=8.0, low=0.5):
    """Poisson counts where class c drives its own block of neurons."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_examples)
    rates = np.full((n_examples, n_classes * per_class), low)
    for k, c in enumerate(labels):
        rates[k, c * per_class:(c + 1) * per_class] = high
    return rng.poisson(rates), labels


def test_logistic_and_offline_online_readouts_learn_separable_counts():
    x, y = _blocks(200, seed=1)
    xt, yt = _blocks(100, seed=2)
    assert LogisticReadout(n_classes=4).fit(x, y).score(xt, yt) == 1.0
    online = OnlineReadout(n_classes=4, random_state=0).fit(x, y)
    assert online.score(xt, yt) == 1.0
    assert online.n_seen_ == 200


def test_online_fit_is_seeded():
    x, y = _blocks(50, seed=3)
    a = OnlineReadout(n_classes=4, random_state=5).fit(x, y).weights_
    b = OnlineReadout(n_classes=4, random_state=5).fit(x, y).weights_
    np.testing.assert_array_equal(a, b)
    c = OnlineReadout(n_classes=4, random_state=6).fit(x, y).weights_
    assert not np.array_equal(a, c)  # the seed sets the example order


def test_online_readout_learns_toy_task_inside_brian2_run():
    """network_operation path, runtime mode, on a real Poisson input layer."""
    from brian2 import Hz, Network, PoissonGroup, TimedArray, ms, prefs, seed

    old_target, prefs.codegen.target = prefs.codegen.target, "numpy"
    seed(11)
    n_classes, per_class, duration = 4, 5, 50 * ms
    rng = np.random.default_rng(0)
    train = rng.integers(0, n_classes, 40)
    test = rng.integers(0, n_classes, 20)
    labels = np.concatenate([train, test])
    rates = np.full((len(labels), n_classes * per_class), 5.0)
    for k, c in enumerate(labels):
        rates[k, c * per_class:(c + 1) * per_class] = 100.0
    stimulus = TimedArray(rates * Hz, dt=duration)
    layer = PoissonGroup(n_classes * per_class, rates="stimulus(t, i)", dt=1 * ms,
                         namespace={"stimulus": stimulus})
    readout = OnlineReadout(n_classes=n_classes, lr=0.5)
    net = Network(layer)
    net.add(readout.attach(layer, duration, train))
    net.run(len(train) * duration)
    w_trained = readout.weights_.copy()
    readout.present(test, learn=False)
    net.run(len(test) * duration)
    prefs.codegen.target = old_target

    history = readout.history()
    assert len(history) == len(labels)
    assert history["learned"].sum() == len(train)
    tested = history[~history["learned"]]
    assert (tested["prediction"].to_numpy() == test).mean() == 1.0
    # Frozen during the test phase; Brian2 synapses hold the learned weights.
    np.testing.assert_array_equal(readout.weights_, w_trained)
    syn = net["readout_synapses"]
    np.testing.assert_allclose(syn.w[:], w_trained[syn.i[:], syn.j[:]])
    # Each class's own block got the largest weight to its output unit.
    block_of = np.arange(n_classes * per_class) // per_class
    assert np.all(np.argmax(w_trained, axis=1) == block_of)


def test_online_readout_attaches_to_converted_hidden_layer():
    """The same network_operation readout on the hidden IF layer of a converted MLP."""
    from brian2 import ms, prefs

    from brainlearn.models.conversion import build_network, convert, train_mlp

    old_target, prefs.codegen.target = prefs.codegen.target, "numpy"
    rng = np.random.default_rng(0)
    protos = rng.random((3, 16))
    labels = rng.integers(0, 3, 180)
    x = np.clip(protos[labels] + 0.1 * rng.standard_normal((180, 16)), 0, 1)
    mlp = train_mlp(x[:100], labels[:100], hidden=(12,), epochs=20, batch_size=20, lr=3e-3,
                    seed=0)
    train, test = slice(100, 160), slice(160, 180)
    net, layers = build_network(convert(mlp, x[:100], "99.9"), x[100:180], 20)
    readout = OnlineReadout(n_classes=3, lr=0.5)
    net.add(readout.attach(layers[0], 20 * ms, labels[train]))
    net.run(60 * 20 * ms)
    readout.present(labels[test], learn=False)
    net.run(20 * 20 * ms)
    prefs.codegen.target = old_target
    tested = readout.history().query("not learned")
    assert (tested["prediction"].to_numpy() == labels[test]).mean() >= 0.9
