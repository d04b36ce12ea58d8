"""Atomic file writes: write under a temporary name, rename when complete.

The temporary file (``.NAME.PID-HEX.tmp.SUFFIX``, hidden, beside the final one, carrying the
writer's process id) never outlives its writer where that can be helped: it is removed when
the write fails or is interrupted (``KeyboardInterrupt``, and SIGTERM, which the command line
turns into one), and at interpreter exit (``atexit``) for any still open. Only ``kill -9`` or
a crash leaves one behind: the next write of the same file removes those whose process is
gone (:func:`sweep_stale`).

A write that fails because the disk is full or a file size limit (``ulimit -f``) was reached
raises an ``OSError`` that names the file and the cause in those words
(:func:`write_error`), not ``[Errno 27] File too large`` or numpy's ``7840 requested and
1024 written``.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import glob
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "check_room", "save_npz", "write_error", "write_bytes",
           "sweep_stale", "temporary_name"]

#: temporary files being written by this process (removed at exit if still there)
_OPEN: set[Path] = set()
#: ``.NAME.PID-HEX.tmp...``: the writer's process id; older names (``.NAME.HEX.tmp...``)
#: carry none and count as stale once untouched for :data:`STALE_AFTER` seconds
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?:(?P<pid>\d+)-)?[0-9a-f]{8}\.tmp(?:\..*)?$")
STALE_AFTER = 3600.0


@atexit.register
def _remove_open() -> None:
    for tmp in list(_OPEN):
        with contextlib.suppress(OSError):
            tmp.unlink()
    _OPEN.clear()


def temporary_name(path: str | os.PathLike) -> Path:
    """A fresh temporary path beside ``path``: hidden, this process's id in it, same suffix."""
    final = Path(path)
    return final.with_name(f".{final.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{final.suffix}")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


def sweep_stale(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of ``path`` that a killed writer left behind.

    A temporary file of ``path`` (:func:`temporary_name`) is stale when the process named in
    it no longer runs (or, for a name without a process id, when it was not modified for
    :data:`STALE_AFTER` seconds); this process's own open files are kept. Returns the paths
    removed. Called by :func:`atomic_path` before every write.
    """
    final = Path(path)
    removed = []
    for item in final.parent.glob(f".{glob.escape(final.name)}.*.tmp*"):
        match = _TEMP.match(item.name)
        if match is None or match["name"] != final.name or item in _OPEN:
            continue
        pid = match["pid"]
        try:
            stale = (not _alive(int(pid)) if pid is not None
                     else time.time() - item.stat().st_mtime > STALE_AFTER)
            if stale:
                item.unlink()
                removed.append(item)
        except OSError:
            continue
    return removed


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
    sweep_stale(final)
    tmp = temporary_name(final)
    try:  # fail here, naming the user's path, rather than in a writer naming the temp file
        tmp.touch()
    except OSError as exc:
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from None
    _OPEN.add(tmp)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and _space_cause(exc) is not None:
            raise write_error(path, exc) from None
        raise
    finally:
        _OPEN.discard(tmp)


#: errno -> what it means to a user
_CAUSES = {
    errno.ENOSPC: "the disk is full (no space left on the device)",
    errno.EFBIG: "the file size limit was reached (ulimit -f)",
    errno.EDQUOT: "the disk quota is exceeded",
}


#: the strerror of each cause, as libraries that drop the errno (pyarrow, HDF5) quote it
_CAUSE_TEXTS = {os.strerror(code): code for code in _CAUSES}


def _space_cause(exc: OSError) -> str | None:
    if exc.errno in _CAUSES:
        return _CAUSES[exc.errno]
    for text, code in _CAUSE_TEXTS.items():  # e.g. pyarrow: "... error: File too large"
        if text.lower() in str(exc).lower():
            return _CAUSES[code]
    # numpy's tofile: "7840 requested and 1024 written"
    if re.search(r"\d+ requested and \d+ written", str(exc)):
        return "the write was cut short (the disk is full or a file size limit was reached)"
    return None


def write_error(path: str | os.PathLike, exc: OSError) -> OSError:
    """An ``OSError`` naming ``path`` and, in words, why writing it failed.

    ``ENOSPC``, ``EFBIG`` (``ulimit -f``), ``EDQUOT`` and numpy's short-write message are named
    as a full disk, a file size limit or a quota; anything else keeps its own text. The
    ``errno`` is kept, so callers can still test it.
    """
    space = _space_cause(exc)
    text = (f"{space}; nothing was written under that name: free some space (or raise the "
            "limit) and run the command again") if space else (exc.strerror or str(exc))
    error = OSError(f"cannot write {path}: {text}")
    named = next((c for t, c in _CAUSE_TEXTS.items() if t.lower() in str(exc).lower()), None)
    error.errno = exc.errno or named or errno.EIO  # for callers; the message stays one line
    return error


def check_room(path: str | os.PathLike, nbytes: int) -> None:
    """Refuse, before anything is written, a file of at least ``nbytes`` that cannot fit.

    For writers that cannot stop cleanly when the disk fills (HDF5 may abort the process on
    a failed write): the file's folder (or its nearest existing parent) must have ``nbytes``
    free, and the file size limit (``ulimit -f``, ``RLIMIT_FSIZE``) must allow them.

    Raises
    ------
    OSError
        ``ENOSPC`` or ``EFBIG``, naming ``path``, the size needed and what allows less.
    """
    folder = Path(path).absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    for room, code, what, remedy in (
            (_free_bytes(folder), errno.ENOSPC, f"the disk ({folder}) has {{}} free",
             "free some space"),
            (_size_limit(), errno.EFBIG, "the file size limit (ulimit -f) is {}",
             "raise the limit")):
        if room is not None and nbytes > room:
            error = OSError(f"cannot write {path}: it needs at least {nbytes:,} bytes and "
                            + what.replace("{}", f"{room:,}")
                            + f"; nothing was written: {remedy} and run the command again")
            error.errno = code
            raise error


def _free_bytes(folder: Path) -> int | None:
    import shutil

    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _size_limit() -> int | None:
    """The soft ``RLIMIT_FSIZE`` in bytes, ``None`` when unlimited or unknown."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else int(soft)


def write_bytes(path: str | os.PathLike, data: bytes | memoryview) -> Path:
    """Write ``data`` to ``path`` atomically (temp file, then rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(path)


def save_npz(path: str | os.PathLike, **arrays) -> Path:
    """Save ``arrays`` to the ``.npz`` file ``path`` atomically and return the path."""
    import numpy as np

    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
    return Path(path)
