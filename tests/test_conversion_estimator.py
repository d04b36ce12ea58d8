"""ConvertedMLPClassifier: the ANN-to-SNN converter as a scikit-learn estimator."""

from __future__ import annotations

import numpy as np
import pytest
from conversion_helpers import blobs
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator

from brainlearn.models.conversion import ConvertedMLPClassifier

#: small enough that every check's Brian2 runs take seconds (8 hidden IF neurons, 16 steps)
SMALL = dict(hidden=(8,), epochs=100, steps=16, random_state=0)


def test_passes_every_scikit_learn_estimator_check():
    """All of scikit-learn's classifier checks pass with no expected failures: fitted state
    only in fit (trailing underscore), n_features_in_, classes_ of any label type, errors on
    NaN, wrong shapes and unfitted use, pickling, idempotent fit, predictions independent of
    the batch an example is in (every example runs in its own lane from rest)."""
    rows = check_estimator(ConvertedMLPClassifier(**SMALL), on_fail=None)
    failed = [(str(r["check_name"]), repr(r["exception"])) for r in rows
              if r["status"] == "failed"]
    assert failed == []
    assert sum(r["status"] == "passed" for r in rows) > 50


def test_clone_keeps_parameters_and_drops_fitted_state():
    x, y = blobs(120, dtype=np.float64)
    clf = ConvertedMLPClassifier(hidden=(8, 6), norm="max", steps=20, random_state=3)
    assert clf.get_params()["hidden"] == (8, 6) and not hasattr(clf, "classes_")
    clf.fit(x, y)
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params()
    assert not any(k.endswith("_") for k in vars(fresh))
    assert clf.n_features_in_ == 16 and list(clf.classes_) == [0, 1, 2]


def test_second_fit_starts_afresh():
    x, y = blobs(150, seed=1, dtype=np.float64)
    x2, y2 = blobs(150, n_features=10, seed=2, dtype=np.float64)
    clf = ConvertedMLPClassifier(**SMALL).fit(x, y).fit(x2, y2)
    fresh = ConvertedMLPClassifier(**SMALL).fit(x2, y2)
    assert clf.n_features_in_ == 10
    for a, b in zip(clf.converted_.weights, fresh.converted_.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(clf.predict(x2), fresh.predict(x2))


def test_snn_predictions_follow_the_ann_and_spike_counts_decide():
    """At 32 steps the converted network predicts what its ANN predicts on separable blobs,
    and ``predict`` is the argmax of the recorded output spike counts where they differ."""
    x, y = blobs(200, seed=4, dtype=np.float64)
    clf = ConvertedMLPClassifier(hidden=(12,), epochs=100, steps=32, random_state=0).fit(x, y)
    xt, yt = blobs(100, seed=5, dtype=np.float64)
    ann = clf.ann_.predict(xt)
    snn = clf.predict(xt)
    assert np.mean(ann == yt) > 0.95 and np.mean(snn == ann) >= 0.95
    counts = clf.spike_counts(xt)
    clear = np.sort(counts, axis=1)[:, -1] > np.sort(counts, axis=1)[:, -2]
    assert clear.mean() > 0.5
    np.testing.assert_array_equal(snn[clear], clf.classes_[np.argmax(counts[clear], axis=1)])


def test_poisson_input_needs_features_in_unit_interval():
    x, y = blobs(60, dtype=np.float64)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\].*X / 255"):
        ConvertedMLPClassifier(input="poisson", **SMALL).fit(255 * x, y)
    with pytest.raises(ValueError, match="input must be one of analog, poisson"):
        ConvertedMLPClassifier(input="spikes").fit(x, y)
