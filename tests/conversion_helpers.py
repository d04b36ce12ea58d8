"""Data the conversion tests share: small separable classes, generated, no MNIST."""

from __future__ import annotations

import numpy as np

__all__ = ["blobs"]


def blobs(n, n_features=16, n_classes=3, seed=0, dtype=np.float32):
    """Linearly separable-ish classes: a prototype per class plus noise, clipped to [0, 1]."""
    rng = np.random.default_rng(seed)
    protos = np.random.default_rng(99).random((n_classes, n_features))
    labels = rng.integers(0, n_classes, n)
    x = np.clip(protos[labels] + 0.15 * rng.standard_normal((n, n_features)), 0, 1)
    return x.astype(dtype), labels
