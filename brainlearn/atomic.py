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

    Examples
    --------
    >>> with atomic_path("spikes.csv") as tmp:          # doctest: +SKIP
    ...     df.to_csv(tmp)
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp{final.suffix}")
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
