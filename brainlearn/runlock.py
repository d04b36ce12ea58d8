"""One writer per run directory: an operating-system lock on a file inside it.

A run directory is written by one process at a time. :func:`lock_run` takes an exclusive
``fcntl.flock`` on ``RUN_DIR/.brainlearn.lock`` before anything is written and releases it
when its block ends, on success, on an exception and on Ctrl-C alike. A second writer is
refused at once with :class:`RunInUseError`, whose one-line message names the holder's
process id (written into the lock file).

Why a kernel lock and not a "pid file": the kernel releases a ``flock`` when the last file
descriptor of the locked open file is closed, which happens when the holder exits *for any
reason*, ``kill -9`` and a power cut included. A lock file left by a killed process is
therefore never held: the next writer takes it over and writes its own process id into it.
The lock's descriptor is inherited by the compiler that Brian2 starts (``make`` through
``os.system``), so a compile that outlives a killed brainlearn process keeps the directory
locked until it ends; a later writer then waits for it (it says so), rather than compiling
into the same build folder at the same time. (Brian2 starts the compiled binary with
``close_fds``; :mod:`brainlearn.standalone` makes the binary end with its parent instead.)

The lock is re-entrant within one process (``train`` then ``evaluate`` of the same run, in
one command), and a child process created with ``fork`` never releases its parent's lock.
Local file systems only: ``flock`` over NFS is emulated with byte-range locks on some kernels
and absent on others.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

__all__ = ["LOCK", "RunInUseError", "lock_run", "locked", "check_free", "lock_holder"]

#: name of the lock file inside a run directory (removed again on a clean release)
LOCK = ".brainlearn.lock"

#: how long a writer waits for what a killed holder left running (a compiler) to end
LEFTOVER_WAIT_S = 900.0

F = TypeVar("F", bound=Callable)


class RunInUseError(RuntimeError):
    """The run directory is being written by another process."""


# realpath of the run directory -> [fd, depth, pid of the process that took it]
_held: dict[str, list[int]] = {}
_guard = threading.Lock()


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def lock_holder(run_dir: str | os.PathLike) -> int | None:
    """The process id written into the run directory's lock file (None when there is none).

    The number is the last holder's; whether it still holds the lock is what
    :func:`check_free` asks the kernel.
    """
    try:
        text = (Path(run_dir) / LOCK).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _try_lock(path: Path) -> int | None:
    """An open, locked descriptor of ``path`` (created if missing), or None when it is held.

    A lock file unlinked by a releasing holder between our open and our lock is not the file
    at ``path`` any more: then try again with the new one.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def _refusal(run_dir, pid: int | None) -> RunInUseError:
    who = f"process {pid}" if pid else "another process"
    hint = f" (stop it with: kill {pid})" if pid else ""
    return RunInUseError(f"run directory {run_dir} is in use by {who}: one process at a time "
                         f"may write a run; wait for it to finish{hint}")


def _acquire(run_dir: str | os.PathLike, path: Path, wait_leftovers: bool) -> int:
    fd = _try_lock(path)
    deadline = time.monotonic() + LEFTOVER_WAIT_S
    told = False
    while fd is None:
        pid = lock_holder(path.parent)
        if pid is not None and _alive(pid):
            raise _refusal(run_dir, pid)
        # the recorded holder has ended but the lock is held: by what it started (a
        # compiler inherits the descriptor), or by a holder that has not written its id yet
        if not wait_leftovers or time.monotonic() > deadline:
            raise _refusal(run_dir, pid)
        if not told and pid is not None:
            print(f"run directory {run_dir}: waiting for what the ended process {pid} left "
                  "running (a compiler) to finish ...", file=sys.stderr)
            told = True
        time.sleep(0.2)
        fd = _try_lock(path)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    os.set_inheritable(fd, True)  # held by the compiler Brian2 starts, see the module docstring
    return fd


@contextlib.contextmanager
def lock_run(run_dir: str | os.PathLike, wait_leftovers: bool = True) -> Iterator[Path]:
    """Hold the exclusive lock of ``run_dir`` for the block (creating the directory).

    Parameters
    ----------
    run_dir : path
        The run directory; created (with its parents) if missing, and removed again at the
        end of the block if this call created it and nothing but the lock was written.
    wait_leftovers : bool
        When the recorded holder has ended but something it started (a compiler) still
        holds the lock, wait for that to end (up to ``LEFTOVER_WAIT_S``) instead of refusing.

    Yields
    ------
    Path
        ``run_dir``.

    Raises
    ------
    RunInUseError
        Another process holds the lock (its process id is in the message).
    """
    root = Path(run_dir)
    if root.exists() and not root.is_dir():
        raise FileExistsError(f"{run_dir} is a file, not a run directory")
    created = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the run directory {run_dir}: {exc.strerror}") from None
    key = os.path.realpath(root)
    path = root / LOCK
    with _guard:
        entry = _held.get(key)
        if entry is not None and entry[2] == os.getpid():
            entry[1] += 1
        else:
            try:
                fd = _acquire(run_dir, path, wait_leftovers)
            except BaseException:
                if created:
                    with contextlib.suppress(OSError):
                        root.rmdir()
                raise
            entry = _held[key] = [fd, 1, os.getpid()]
    try:
        yield root
    finally:
        with _guard:
            entry[1] -= 1
            if entry[1] == 0:
                _held.pop(key, None)
                _release(entry, path, root if created else None)


def _release(entry: list[int], path: Path, created: Path | None) -> None:
    """Remove the lock file, then unlock (the kernel would unlock on exit anyway).

    A child created by ``fork`` inside the block only closes its copy of the descriptor:
    the lock (shared with its parent) and the file stay.
    """
    if entry[2] != os.getpid():
        os.close(entry[0])
        return
    with contextlib.suppress(OSError):
        path.unlink()
    os.close(entry[0])  # our (last) descriptor: the flock is released
    if created is not None:
        with contextlib.suppress(OSError):
            created.rmdir()  # only when empty: nothing was written


def locked(func: F) -> F:
    """Decorate a function whose first argument is a run directory: it runs holding the lock
    (:func:`lock_run`)."""

    @functools.wraps(func)
    def wrapper(run_dir, *args, **kwargs):
        with lock_run(run_dir):
            return func(run_dir, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def check_free(run_dir: str | os.PathLike) -> None:
    """Raise :class:`RunInUseError` when another process holds the lock of ``run_dir``.

    A directory without a lock file, or with one nobody holds (its holder was killed), is
    free. Nothing is created or changed.
    """
    path = Path(run_dir) / LOCK
    if not path.is_file() or os.path.realpath(run_dir) in _held:
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise _refusal(run_dir, lock_holder(run_dir)) from None
        raise
    finally:
        os.close(fd)
