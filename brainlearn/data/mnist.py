"""Load MNIST: the full set from the verified cache, or the embedded subset.

Subsets: ``load_mnist(split, n=N)`` returns the first ``N`` examples;
``load_mnist(split, n=N, seed=S)`` a seeded, class-balanced random subset
(``N // 10`` examples of each digit, the ``N % 10`` left over given to
randomly chosen digits; a digit with too few examples gives its share to the
others), in a seeded random order. Same seed, same subset.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

from brainlearn.data.cache import MNIST_FILES, SPLIT_FILES, data_dir, verified_once
from brainlearn.data.idx import read_idx

__all__ = ["EMBEDDED_PATH", "MNISTNotCached", "load_mnist", "load_embedded", "subset_indices"]


class MNISTNotCached(FileNotFoundError):
    """The full MNIST is not (completely, or not intact) in the cache.

    The command line adds how to use the embedded subset instead (``--data embedded``).
    """

#: The shipped class-balanced subset (1,000 train / 500 test).
EMBEDDED_PATH = Path(__file__).resolve().parent / "embedded" / "mnist_subset.npz"
_SOURCES = ("full", "embedded")


def _check_split(split: str) -> None:
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def subset_indices(labels: np.ndarray, n: int, seed: int | None = None) -> np.ndarray:
    """Indices of an ``n``-example subset of a labelled set.

    Parameters
    ----------
    labels : numpy.ndarray
        1-D integer labels of the whole set.
    n : int
        Subset size, ``0 <= n <= len(labels)``.
    seed : int, optional
        ``None``: the first ``n`` indices. Otherwise a class-balanced random
        subset drawn with ``numpy.random.default_rng(seed)``, in random order.

    Returns
    -------
    numpy.ndarray
        ``n`` distinct int64 indices into ``labels``.
    """
    labels = np.asarray(labels)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise ValueError(f"n must be an integer number of examples, got {n!r}")
    if not 0 <= n <= len(labels):
        raise ValueError(f"n must be between 0 and {len(labels)} (the split size), got {n}")
    if seed is None:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    classes, inverse = np.unique(labels, return_inverse=True)
    available = np.bincount(inverse, minlength=len(classes))
    counts = np.zeros_like(available)
    remaining = int(n)
    while remaining > 0:  # water-filling: equal shares, capped by what each class has
        open_ = np.flatnonzero(counts < available)
        share, extra = divmod(remaining, len(open_))
        add = np.full(len(open_), share)
        add[rng.choice(len(open_), extra, replace=False)] += 1
        add = np.minimum(add, available[open_] - counts[open_])
        counts[open_] += add
        remaining -= int(add.sum())
    chosen = [
        rng.choice(np.flatnonzero(inverse == k), counts[k], replace=False)
        for k in range(len(classes))
    ]
    return rng.permutation(np.concatenate(chosen).astype(np.int64))


def load_embedded(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Load the embedded MNIST subset shipped with brainlearn.

    Parameters
    ----------
    split : {"train", "test"}
        ``"train"``: 1,000 images (100 per digit); ``"test"``: 500 (50 per digit).

    Returns
    -------
    images : numpy.ndarray
        uint8, shape ``(n, 28, 28)``.
    labels : numpy.ndarray
        uint8, shape ``(n,)``.
    """
    _check_split(split)
    with np.load(EMBEDDED_PATH) as archive:
        return archive[f"{split}_images"].copy(), archive[f"{split}_labels"].copy()


def _load_full(split: str) -> tuple[np.ndarray, np.ndarray]:
    directory = data_dir("mnist")
    image_name, label_name = SPLIT_FILES[split]
    missing = [n for n in (image_name, label_name) if not (directory / n).is_file()]
    if missing:
        raise MNISTNotCached(
            f"MNIST {split} files not in the cache {directory} (missing {', '.join(missing)}); "
            "fetch them with `brainlearn data fetch mnist`, or use the embedded subset"
        )
    for name in (image_name, label_name):  # a partial or damaged file, before parsing it
        size = (directory / name).stat().st_size
        if size != MNIST_FILES[name]:
            raise MNISTNotCached(
                f"{directory / name}: {size} bytes, expected {MNIST_FILES[name]} (a partial or "
                "damaged file); replace it with `brainlearn data fetch mnist`"
            )
        if not verified_once(directory / name):
            raise MNISTNotCached(
                f"{directory / name}: its sha256 is not MNIST's (a damaged file); replace it "
                "with `brainlearn data fetch mnist`"
            )
    images = read_idx(directory / image_name, ndim=3)
    labels = read_idx(directory / label_name, ndim=1)
    if images.shape[1:] != (28, 28) or images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise ValueError(
            f"{directory / image_name}: expected uint8 28x28 images and uint8 labels, got "
            f"{images.dtype} {images.shape} and {labels.dtype} {labels.shape}"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{directory}: {image_name} has {len(images)} images but {label_name} "
            f"has {len(labels)} labels"
        )
    return images, labels


def load_mnist(
    split: str,
    n: int | None = None,
    seed: int | None = None,
    source: str = "full",
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST images and labels.

    Parameters
    ----------
    split : {"train", "test"}
        Which split.
    n : int, optional
        Number of examples; ``None`` for all (in seeded random order if
        ``seed`` is given).
    seed : int, optional
        With ``n``: draw a seeded class-balanced random subset (see
        :func:`subset_indices`). Without: the first ``n`` examples.
    source : {"full", "embedded"}
        ``"full"`` reads the verified cache (60,000 / 10,000 examples; fetch
        it first with ``brainlearn data fetch mnist``); ``"embedded"`` the
        shipped subset (1,000 / 500 examples).

    Returns
    -------
    images : numpy.ndarray
        uint8, shape ``(n, 28, 28)``, pixel values 0-255.
    labels : numpy.ndarray
        uint8, shape ``(n,)``, digits 0-9.

    Raises
    ------
    FileNotFoundError
        ``source="full"`` and the cache does not hold the files.
    ValueError
        Bad ``split``, ``source`` or ``n``, or a damaged cached file.

    Examples
    --------
    >>> from brainlearn.data import load_mnist
    >>> x, y = load_mnist("train", n=100, seed=0, source="embedded")
    >>> x.shape, y.dtype
    ((100, 28, 28), dtype('uint8'))
    """
    _check_split(split)
    if source not in _SOURCES:
        raise ValueError(f"source must be 'full' or 'embedded', got {source!r}")
    images, labels = load_embedded(split) if source == "embedded" else _load_full(split)
    if n is None and seed is None:
        return images, labels
    index = subset_indices(labels, len(labels) if n is None else n, seed)
    return images[index], labels[index]
