"""Build the embedded MNIST subset shipped in ``brainlearn/data/embedded/``.

Run once, with the full MNIST in the cache (``brainlearn data fetch mnist``)::

    python -m brainlearn.data.make_embedded

It draws a class-balanced subset with a fixed seed (1,000 training images,
100 per digit; 500 test images, 50 per digit), keeps the examples in their
original MNIST order, and writes ``mnist_subset.npz`` (compressed; keys
``train_images``, ``train_labels``, ``test_images``, ``test_labels``,
``train_indices``, ``test_indices``) and ``README.md`` (attribution, seed,
indices). Same seed and same verified MNIST give the same arrays.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from brainlearn.data.mnist import EMBEDDED_PATH, load_mnist, subset_indices

__all__ = ["SEED", "SIZES", "build_embedded", "main"]

SEED = 20150801  # fixed; any change re-draws the subset
SIZES = {"train": 1000, "test": 500}

_README = """\
# Embedded MNIST subset

`mnist_subset.npz` is a small class-balanced subset of THE MNIST DATABASE of handwritten
digits, shipped so that brainlearn's demos and tests run without downloading anything.

- train: {n_train} images ({per_train} per digit), from the 60,000 MNIST training images
- test: {n_test} images ({per_test} per digit), from the 10,000 MNIST test images
- keys: `train_images`, `test_images` (uint8, n x 28 x 28, 0-255), `train_labels`,
  `test_labels` (uint8), `train_indices`, `test_indices` (positions in the original files)
- examples are kept in their original MNIST order (sorted indices)

## Source and licence

Y. LeCun, C. Cortes and C. J. C. Burges, *THE MNIST DATABASE of handwritten digits*,
http://yann.lecun.com/exdb/mnist/. MNIST is commonly stated to be available under the
Creative Commons Attribution-Share Alike 3.0 licence (CC BY-SA 3.0); this subset is a
derivative of it and is distributed under the same terms.

The source files were verified against these sha256 (of the uncompressed IDX files):

{hashes}

## How it was made

`python -m brainlearn.data.make_embedded` (file `brainlearn/data/make_embedded.py`):
`brainlearn.data.mnist.subset_indices(labels, n, seed={seed})` per split (class-balanced,
`numpy.random.default_rng({seed})`), indices then sorted.

Train indices (into `train-*-ubyte`):

```
{train_indices}
```

Test indices (into `t10k-*-ubyte`):

```
{test_indices}
```
"""


def _atomic_write_bytes(path: Path, payload: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_embedded(out_dir: str | os.PathLike | None = None, seed: int = SEED) -> Path:
    """Draw the subset from the full cached MNIST and write the npz and README.

    Parameters
    ----------
    out_dir : str or path-like, optional
        Output directory; default ``brainlearn/data/embedded``.
    seed : int
        Seed of the class-balanced draw.

    Returns
    -------
    pathlib.Path
        The written ``mnist_subset.npz``.
    """
    from brainlearn.data.cache import SHA256
    from brainlearn.data.fetch import fetch_mnist

    fetch_mnist(use_network=False, quiet=True)  # re-verifies the cached files' sha256
    out = Path(out_dir) if out_dir is not None else EMBEDDED_PATH.parent
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for split, n in SIZES.items():
        images, labels = load_mnist(split, source="full")
        index = np.sort(subset_indices(labels, n, seed))
        arrays[f"{split}_images"] = images[index]
        arrays[f"{split}_labels"] = labels[index]
        arrays[f"{split}_indices"] = index.astype(np.uint16)
    npz = out / EMBEDDED_PATH.name
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".mnist_subset.", suffix=".npz")
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, npz)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

    def wrap(index: np.ndarray) -> str:
        return "\n".join(textwrap.wrap(" ".join(map(str, index.tolist())), 96))

    readme = _README.format(
        n_train=SIZES["train"],
        per_train=SIZES["train"] // 10,
        n_test=SIZES["test"],
        per_test=SIZES["test"] // 10,
        seed=seed,
        hashes="\n".join(f"- `{name}`: `{digest}`" for name, digest in SHA256.items()),
        train_indices=wrap(arrays["train_indices"]),
        test_indices=wrap(arrays["test_indices"]),
    )
    _atomic_write_bytes(out / "README.md", readme.encode("utf-8"))
    return npz


def main() -> int:
    """Build the embedded subset into the package directory."""
    path = build_embedded()
    print(f"wrote {path} ({path.stat().st_size} bytes) and {path.parent / 'README.md'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
