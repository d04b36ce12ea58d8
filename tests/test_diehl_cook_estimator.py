"""DiehlCookClassifier and ``brainlearn mnist predict``: a trained network used on new images.

One small network (100 neurons, 350 embedded training images in chunks of 250: the network
of the quick start demo and of the end-to-end run in ``test_diehl_cook.py``, so a test run
compiles it once; well above the 10 % of chance) is fitted once for the module; every test
reuses its compiled frozen network.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from brainlearn.cli import main
from brainlearn.data import load_embedded
from brainlearn.data.images import invert_images, read_images
from brainlearn.models.diehl_cook import DiehlCookClassifier, TrainConfig, check_images

N_TRAIN, N_NEURONS = 350, 100


@pytest.fixture(scope="module")
def data():
    x, y = load_embedded("train")
    xt, yt = load_embedded("test")
    return x[:N_TRAIN], y[:N_TRAIN], xt, yt


@pytest.fixture(scope="module")
def fitted(data, tmp_path_factory):
    x, y, _, _ = data
    clf = DiehlCookClassifier(n_neurons=N_NEURONS, examples=N_TRAIN, chunk=250, seed=1,
                              run_dir=tmp_path_factory.mktemp("dc") / "fit")
    clf.fit(x, y)
    yield clf
    clf.close()


def test_fit_learns_digits_it_then_recognises_in_images_it_never_saw(fitted, data):
    _, _, xt, yt = data
    # chance is 10 %
    assert fitted.score(xt, yt) > 0.35
    assert fitted.weights_.shape == (784, N_NEURONS) and fitted.theta_.shape == (N_NEURONS,)
    assert list(fitted.classes_) == list(range(10))
    assert fitted.config_.data == "arrays" and fitted.config_.examples == N_TRAIN


def test_the_frozen_network_is_compiled_once_and_reused(fitted, data):
    _, _, xt, _ = data
    first = fitted.predict(xt[:40])
    builds = fitted._network.builds
    again = fitted.predict(xt[:40].reshape(40, 784))
    assert fitted._network.builds == builds == 1  # the assignment's build, reused
    np.testing.assert_array_equal(first, again)  # same images, same seeds: same answers


def test_save_then_load_predicts_the_same(fitted, data, tmp_path):
    _, _, xt, _ = data
    before = fitted.predict(xt[:100])
    saved = fitted.save(tmp_path / "saved")
    assert {"config.json", "weights.npz", "assignments.npz"} <= {p.name for p in saved.iterdir()}
    assert not list(saved.glob("build_*"))
    # build_dir: reuse the fitted network's build folder (same network: nothing recompiles)
    with DiehlCookClassifier.load(saved, build_dir=fitted.run_dir_) as loaded:
        np.testing.assert_array_equal(loaded.weights_, fitted.weights_)
        np.testing.assert_array_equal(loaded.readout_.assignments_,
                                      fitted.readout_.assignments_)
        np.testing.assert_array_equal(loaded.predict(xt[:100]), before)
        assert loaded.get_params()["n_neurons"] == N_NEURONS and loaded.get_params()["seed"] == 1
    with pytest.raises(FileExistsError, match="already exists"):
        fitted.save(saved)


def test_clone_is_an_unfitted_copy_with_the_same_hyper_parameters(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "readout_") and not hasattr(copy, "weights_")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        copy.predict(np.zeros((1, 784)))


def test_a_run_of_mnist_train_loads_with_the_labels_of_mnist_evaluate(tmp_path):
    """A directory ``brainlearn mnist train`` writes (weights, config) plus the
    ``eval_counts.npz`` of ``brainlearn mnist evaluate``: its vote is refitted from the
    recorded counts; without them the error names the command that assigns the labels."""
    from brainlearn.atomic import save_npz
    from brainlearn.models.diehl_cook import write_untrained_run

    run = write_untrained_run(tmp_path / "run", TrainConfig.create(neurons=4, examples=10,
                                                                   data="embedded"))
    with pytest.raises(ValueError, match="brainlearn mnist evaluate"):
        DiehlCookClassifier.load(run)
    counts = np.array([[5, 0, 0, 0], [0, 3, 0, 0], [0, 0, 0, 2]] * 2)
    labels = np.array([7, 1, 4] * 2)
    save_npz(run / "eval_counts.npz", assign_counts=counts, assign_labels=labels)
    clf = DiehlCookClassifier.load(run)
    assert list(clf.readout_.assignments_) == [2, 0, -1, 1]  # classes (1, 4, 7) by index
    assert clf.get_params()["n_neurons"] == 4 and clf.config_.data == "embedded"
    # a pickled copy carries its weights and assignment: it saves without the original run
    import pickle
    import shutil

    copy = pickle.loads(pickle.dumps(clf))
    shutil.rmtree(run)
    again = DiehlCookClassifier.load(copy.save(tmp_path / "copy"))
    np.testing.assert_array_equal(again.weights_, clf.weights_)
    np.testing.assert_array_equal(again.readout_.assignments_, clf.readout_.assignments_)


@pytest.mark.parametrize("images, message", [
    (np.zeros((3, 28, 27)), "shape"),
    (np.full((2, 784), 300.0), "0-255"),
    (np.full((2, 784), np.nan), "0-255"),
    (np.full((2, 784), 0.5), "scaled to 0-1"),
    (np.array([["a"] * 784]), "numeric"),
])
def test_images_outside_mnist_format_are_refused_naming_what_was_given(images, message):
    with pytest.raises(ValueError, match=message):
        check_images(images)
    with pytest.raises(ValueError, match=message):
        DiehlCookClassifier().fit(images, np.zeros(len(images)))


def test_dark_digits_on_light_paper_are_inverted_and_mnist_images_are_not(data):
    x, _, _, _ = data
    rows = x[:3].reshape(3, 784).astype(float)
    paper = 255.0 - rows
    both = invert_images(np.concatenate([rows, paper]), "auto")
    np.testing.assert_array_equal(both[:3], rows)
    np.testing.assert_array_equal(both[3:], rows)
    np.testing.assert_array_equal(invert_images(rows, "yes"), paper)


def _write_pngs(folder, images, mode="L", invert=False):
    from PIL import Image

    folder.mkdir()
    names = []
    for i, img in enumerate(images):
        pixels = (255 - img if invert else img).astype(np.uint8)
        name = f"digit_{i:02d}.png"
        Image.fromarray(pixels, "L").convert(mode).save(folder / name)
        names.append(name)
    return names


def test_png_folders_read_as_the_same_pixels_in_grey_rgb_and_dark_on_light(data, tmp_path):
    x, _, _, _ = data
    images = x[:5].reshape(5, 28, 28)
    _write_pngs(tmp_path / "grey", images)
    _write_pngs(tmp_path / "rgb", images, mode="RGB")
    _write_pngs(tmp_path / "paper", images, invert=True)
    for folder in ("grey", "rgb", "paper"):
        names, pixels = read_images(tmp_path / folder)
        assert names == [f"digit_{i:02d}.png" for i in range(5)]
        np.testing.assert_array_equal(pixels, images.reshape(5, 784))
    from PIL import Image

    (tmp_path / "big").mkdir()
    Image.fromarray(np.kron(images[0], np.ones((2, 2))).astype(np.uint8)).save(
        tmp_path / "big" / "a.png")
    assert read_images(tmp_path / "big")[1].shape == (1, 784)  # 56x56 resized to 28x28


def test_mnist_predict_writes_one_row_per_image_from_npy_and_from_pngs(fitted, data, tmp_path,
                                                                       capsys):
    _, _, xt, _ = data
    images = xt[:12].reshape(12, 28, 28)
    expected = fitted.predict(images)
    np.save(tmp_path / "digits.npy", images)
    out = tmp_path / "predictions.csv"
    assert main(["mnist", "predict", str(fitted.run_dir_), "--images",
                 str(tmp_path / "digits.npy"), "--out", str(out), "--no-progress"]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["image", "label"] + [f"spikes_{c}" for c in range(10)]
    assert list(table["image"]) == list(range(12))
    np.testing.assert_array_equal(table["label"], expected)
    assert (table.filter(like="spikes_").to_numpy() >= 0).all()
    # the same images as dark digits on white PNGs: inverted (auto), same answers
    _write_pngs(tmp_path / "pngs", images, invert=True)
    out_png = tmp_path / "png.csv"
    assert main(["mnist", "predict", str(fitted.run_dir_), "--images", str(tmp_path / "pngs"),
                 "--out", str(out_png), "--no-progress"]) == 0
    from_png = pd.read_csv(out_png)
    assert from_png["image"].iloc[0] == "digit_00.png"
    np.testing.assert_array_equal(from_png["label"], expected)
    assert "12 images classified" in capsys.readouterr().out


def test_mnist_predict_refuses_bad_input_in_one_line_and_writes_nothing(fitted, tmp_path,
                                                                       capsys):
    from PIL import Image

    (tmp_path / "wide").mkdir()
    Image.new("L", (30, 20)).save(tmp_path / "wide" / "a.png")
    (tmp_path / "empty").mkdir()
    np.save(tmp_path / "flat.npy", np.zeros((3, 100)))
    (tmp_path / "notes.txt").write_text("hello")
    untrained = tmp_path / "untrained"
    from brainlearn.models.diehl_cook import write_untrained_run

    write_untrained_run(untrained, TrainConfig.create(neurons=4, examples=10, data="embedded"))
    np.save(tmp_path / "ok.npy", np.zeros((2, 28, 28)))
    run = str(fitted.run_dir_)
    cases = [
        ([run, "--images", str(tmp_path / "missing.npy")], "does not exist"),
        ([run, "--images", str(tmp_path / "wide")], "30x20"),
        ([run, "--images", str(tmp_path / "empty")], "no .png"),
        ([run, "--images", str(tmp_path / "flat.npy")], "(3, 100)"),
        ([run, "--images", str(tmp_path / "notes.txt")], ".npy array or a folder"),
        ([str(untrained), "--images", str(tmp_path / "ok.npy")], "brainlearn mnist evaluate"),
    ]
    for args, message in cases:
        out = tmp_path / "out.csv"
        assert main(["mnist", "predict", *args, "--out", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("brainlearn: error:") and err.count("\n") == 1, err
        assert message in err, err
        assert not out.exists()
    out = tmp_path / "no_such_folder" / "out.csv"
    assert main(["mnist", "predict", run, "--images", str(tmp_path / "ok.npy"), "--out",
                 str(out), "--no-progress"]) == 2
    assert "does not exist" in capsys.readouterr().err
