"""Atomic file writes: write under a temporary name, rename when complete."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "save_npz"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    The temporary name keeps the suffix of ``path`` (some writers insist on it) and
    is hidden (leading dot). If the block raises, the temporary file is removed and
    ``path`` is left as it was, so no half-written file ever sits under the final name.
    A destination that cannot be written (read-only folder, a path through a file, a
    directory) raises an ``OSError`` naming ``path`` before the block runs.

    Examples
    --------
    >>> with atomic_path("spikes.csv") as tmp:          # doctest: +SKIP
    ...     df.to_csv(tmp)
    """
    final = Path(path)
    if final.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a directory; give a file name")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise NotADirectoryError(f"cannot write {path}: a part of the path is a file, "
                                 "not a folder") from None
    except OSError as exc:
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from None
    tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp{final.suffix}")
    try:  # fail here, naming the user's path, rather than in a writer naming the temp file
        tmp.touch()
    except OSError as exc:
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_npz(path: str | os.PathLike, **arrays) -> Path:
    """Save ``arrays`` to the ``.npz`` file ``path`` atomically and return the path."""
    import numpy as np

    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
    return Path(path)
