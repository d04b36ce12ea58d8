"""Datasets for brainlearn: MNIST from a verified cache, plus a small embedded subset.

>>> from brainlearn.data import load_mnist
>>> images, labels = load_mnist("train", n=100, seed=0, source="embedded")

The full MNIST is fetched once with ``brainlearn data fetch mnist`` (or
:func:`fetch_mnist`) into :func:`data_dir` (``$BRAINLEARN_DATA/mnist``, default
``platformdirs.user_cache_dir("brainlearn")/mnist``).
"""

from brainlearn.data.cache import data_dir, verify_mnist
from brainlearn.data.fetch import fetch_mnist
from brainlearn.data.idx import read_idx, write_idx
from brainlearn.data.mnist import MNISTNotCached, load_embedded, load_mnist

__all__ = ["MNISTNotCached", "data_dir", "fetch_mnist", "load_embedded", "load_mnist", "read_idx",
           "verify_mnist", "write_idx"]
