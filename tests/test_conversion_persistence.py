"""The converted classifiers on new data: save/load round trips, run directories as
estimators, and the converted CNN as a scikit-learn classifier of images."""

from __future__ import annotations

import numpy as np
import pytest
from conversion_helpers import blobs
from sklearn.base import clone

from brainlearn.models.conversion import ConvertedMLPClassifier


@pytest.fixture(autouse=True)
def _numpy_target():
    from brian2 import prefs

    old = prefs.codegen.target
    prefs.codegen.target = "numpy"
    yield
    prefs.codegen.target = old


def test_mlp_classifier_predicts_the_same_after_save_and_load(tmp_path):
    x, y = blobs(150, seed=6, dtype=np.float64)
    labels = np.array(["ant", "bee", "cat"])[y]  # any labels survive the round trip
    clf = ConvertedMLPClassifier(hidden=(8,), epochs=60, steps=24, input="poisson",
                                 random_state=2).fit(x, labels)
    xt, _ = blobs(40, seed=7, dtype=np.float64)
    before = clf.predict(xt)
    back = ConvertedMLPClassifier.load(clf.save(tmp_path / "clf"))
    assert back.get_params() == clf.get_params()
    np.testing.assert_array_equal(back.predict(xt), before)
    np.testing.assert_array_equal(back.classes_, clf.classes_)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ConvertedMLPClassifier.load(tmp_path / "clf" / "nothing")


def test_cosine_schedule_anneals_the_learning_rate_and_keeps_adam_state():
    """The epoch-by-epoch loop is scikit-learn's own fit with another rate: its first epoch
    (at the full rate) is one fit's first epoch, the later ones anneal; the cosine starts at
    lr and falls to near zero."""
    from brainlearn.models.conversion import epoch_learning_rate, train_mlp

    x, y = blobs(200, seed=8)
    constant = train_mlp(x, y, hidden=(6,), epochs=5, batch_size=32, seed=1)
    cosine = train_mlp(x, y, hidden=(6,), epochs=5, batch_size=32, seed=1, schedule="cosine")
    assert len(cosine.history) == 5
    assert cosine.history["loss"].iloc[0] == constant.history["loss"].iloc[0]
    assert cosine.history["loss"].iloc[1] != constant.history["loss"].iloc[1]
    rates = [epoch_learning_rate("cosine", 1e-3, e, 20) for e in range(20)]
    assert rates[0] == 1e-3 and all(b < a for a, b in zip(rates, rates[1:], strict=False))
    assert rates[-1] == pytest.approx(1e-3 * (1 + np.cos(np.pi * 19 / 20)) / 2)
    with pytest.raises(ValueError, match="schedule must be one of constant, cosine"):
        epoch_learning_rate("onecycle", 1e-3, 0, 20)


def test_a_convert_train_directory_loads_as_a_fitted_classifier(tmp_path):
    from brainlearn.data import load_mnist
    from brainlearn.models.conversion import train_run

    run = tmp_path / "mlp"
    metrics = train_run(run, hidden=(32,), epochs=3, source="embedded", progress=False)
    clf = ConvertedMLPClassifier.load(run, steps=32, norm_examples=200)
    x, y = load_mnist("test", source="embedded")
    x = x[:60].reshape(60, -1) / 255
    assert clf.n_features_in_ == 784 and list(clf.classes_) == list(range(10))
    # the converted network classifies as well as its ANN, within a few images
    assert clf.score(x, y[:60]) >= metrics["test_accuracy"] - 0.1


torch = pytest.importorskip("torch", reason="the converted CNN needs the torch extra")


@pytest.fixture(scope="module")
def cnn_fit():
    from brainlearn.data import load_mnist
    from brainlearn.models.conversion import ConvertedCNNClassifier

    torch.set_num_threads(1)
    x, y = load_mnist("train", source="embedded")
    clf = ConvertedCNNClassifier(channels=(4, 8), hidden=32, epochs=6, lr=3e-3, steps=32,
                                 random_state=0).fit(x, y)
    return clf


def test_cnn_classifier_predicts_images_it_never_saw(cnn_fit):
    """Fitted on the embedded training images (0-255), it classifies the embedded test
    images far above chance and close to its own ANN."""
    from brainlearn.data import load_mnist

    xt, yt = load_mnist("test", source="embedded")
    xt, yt = xt[:60], yt[:60]
    ann = float(np.mean(cnn_fit.ann_.predict(xt) == yt))
    snn = cnn_fit.score(xt, yt)
    assert ann > 0.7 and snn >= ann - 0.1
    # flat rows and [0, 1] floats are the same images
    np.testing.assert_array_equal(cnn_fit.predict(xt.reshape(60, -1) / 255.0),
                                  cnn_fit.predict(xt))


def test_cnn_classifier_round_trip_and_clone(cnn_fit, tmp_path):
    from brainlearn.data import load_mnist
    from brainlearn.models.conversion import ConvertedCNNClassifier

    xt, _ = load_mnist("test", source="embedded")
    before = cnn_fit.predict(xt[:20])
    back = ConvertedCNNClassifier.load(cnn_fit.save(tmp_path / "cnn"))
    np.testing.assert_array_equal(back.predict(xt[:20]), before)
    fresh = clone(cnn_fit)
    assert fresh.get_params() == cnn_fit.get_params()
    assert not any(k.endswith("_") for k in vars(fresh))
    with pytest.raises(ValueError, match="expecting 784 features"):
        cnn_fit.predict(np.zeros((2, 30)))
    with pytest.raises(ValueError, match="square images.*got 30 features"):
        fresh.fit(np.zeros((4, 30)), [0, 1, 0, 1])


def test_cnn_rows_of_a_shared_network_run_keep_brian2s_own_spikes_at_every_t(tmp_path):
    """Runs of the shared IF network (results with an ``input`` column) count Brian2's spikes
    up to each T: every Brian2 row keeps its own count, none is borrowed from the replica."""
    import json

    import pandas as pd

    from brainlearn.models.conversion.spec import cnn_rows

    run = tmp_path / "cnn"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"kind": "conversion_cnn", "model": "converted-cnn"}))
    base = {"ann_accuracy": 0.99, "ms_per_image": 90.0, "synapses": 3717120, "norm": "99.9",
            "split": "test", "readout": "count", "input": "analog", "reset": "subtract",
            "v_init": 0.5, "accuracy": 0.98}
    rows = [dict(base, simulator="brian2", steps=T, spikes_per_example=100.0 * T,
                 n_examples=100) for T in (16, 32)]
    rows += [dict(base, simulator="torch", steps=16, spikes_per_example=5.0, n_examples=100)]
    pd.DataFrame(rows).to_csv(run / "results.csv", index=False)
    spikes = {r["inference_steps"]: r["spikes_per_inference"] for r in cnn_rows(run)[1:]}
    assert spikes == {16: 1600.0, 32: 3200.0}
