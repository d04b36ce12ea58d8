"""SurrogateClassifier: the surrogate-gradient network as a scikit-learn estimator."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="surrogate training needs the torch extra")

from sklearn.base import clone  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from brainlearn.cli import main  # noqa: E402
from brainlearn.models.surrogate import SurrogateClassifier, forward, read_run  # noqa: E402

#: small enough that a fit takes a fraction of a second (16 hidden LIF neurons, 8 steps)
SMALL = dict(hidden=(16,), steps=8, lr=1e-2, batch_size=32, epochs=8, loss="membrane_ce",
             threads=1)


def toy_task(n: int, seed: int):
    """Two classes of 20 features: the bright half is the label (as in test_surrogate)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    x = rng.random((n, 20)).astype(np.float32) * 0.3
    x[labels == 0, :10] += 0.6
    x[labels == 1, 10:] += 0.6
    return x, labels


def test_passes_every_scikit_learn_estimator_check():
    """All of scikit-learn's classifier checks pass: fitted state only in fit, classes_ of any
    label type, errors on NaN, wrong shapes and unfitted use, pickling, idempotent fit."""
    rows = check_estimator(SurrogateClassifier(**SMALL), on_fail=None)
    failed = [(str(r["check_name"]), repr(r["exception"])) for r in rows
              if r["status"] == "failed"]
    assert failed == []
    assert sum(r["status"] == "passed" for r in rows) > 50


def test_learns_string_labels_and_round_trips_through_a_run_directory(tmp_path):
    x, y = toy_task(256, seed=0)
    x_test, y_test = toy_task(200, seed=1)
    names = np.array(["left", "right"])
    clf = SurrogateClassifier(**SMALL).fit(x, names[y])
    assert clf.score(x_test, names[y_test]) >= 0.95
    assert clf.n_features_in_ == 20 and list(clf.classes_) == ["left", "right"]
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params()
    assert not any(k.endswith("_") for k in vars(fresh))
    again = SurrogateClassifier.load(clf.save(tmp_path / "sg"))
    np.testing.assert_array_equal(again.predict(x_test), clf.predict(x_test))
    np.testing.assert_array_equal(again.spike_counts(x_test), clf.spike_counts(x_test))
    assert again.get_params()["hidden"] == (16,) and again.get_params()["steps"] == 8


def test_loads_the_directory_the_cli_writes(tmp_path):
    from brainlearn.data import load_mnist

    run = tmp_path / "sg"
    assert main(["surrogate", "train", "--hidden", "16", "--steps", "5", "--train-examples",
                 "300", "--data", "embedded", "--lr", "2e-3", "--threads", "1",
                 "--out", str(run)]) == 0
    clf = SurrogateClassifier.load(run)
    x, y = load_mnist("test", n=100, source="embedded")
    expected = forward(read_run(run), x).predict()  # the library's own pass on the images
    np.testing.assert_array_equal(clf.predict(x.reshape(len(x), -1) / 255.0), expected)
    np.testing.assert_array_equal(clf.predict(x), expected)  # uint8 (n, 28, 28) images
    assert list(clf.classes_) == list(range(10)) and clf.n_features_in_ == 784
    assert clf.get_params()["preset"] == "snntorch-tutorial5"
