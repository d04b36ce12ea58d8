"""Read and write IDX files (the MNIST file format), plain or gzip-compressed.

An IDX file starts with a 4-byte magic number ``0x00 0x00 TYPE NDIM``, then
NDIM big-endian uint32 dimensions, then the data in C order, big-endian.
MNIST images have magic 2051 (``0x00000803``: uint8, 3 dims) and labels
2049 (``0x00000801``: uint8, 1 dim).

Every problem with a file (truncated, trailing bytes, wrong magic, wrong
number of dimensions, broken gzip stream, not an IDX file at all) raises one
``ValueError`` whose message starts with the file name and says what is wrong.
"""

from __future__ import annotations

import gzip
import os
import tempfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["read_idx", "write_idx", "IDX_TYPES"]

#: IDX type code -> big-endian numpy dtype.
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _load_bytes(path: Path) -> bytes:
    """Return the (decompressed) content of ``path``; gzip is detected by its magic bytes."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    if raw[:2] != _GZIP_MAGIC:
        if path.suffix == ".gz":
            raise ValueError(f"{path}: not a gzip file (name ends in .gz, content does not)")
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: corrupted gzip data ({exc})") from None


def read_idx(path: str | os.PathLike, *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (plain or ``.gz``) into a numpy array.

    Parameters
    ----------
    path : str or path-like
        The file. Gzip compression is recognised from the content, not the name.
    ndim : int, optional
        If given, the number of dimensions the file must have (3 for MNIST
        images, 1 for MNIST labels).

    Returns
    -------
    numpy.ndarray
        The data with the shape from the header, in native byte order
        (``uint8`` for MNIST).

    Raises
    ------
    ValueError
        One line naming the file and the problem: truncated file, trailing
        bytes, bad magic number, unknown data type, unexpected number of
        dimensions, corrupted gzip stream.
    FileNotFoundError
        If the file does not exist.
    """
    path = Path(path)
    data = _load_bytes(path)
    size = len(data)
    if size < 4:
        raise ValueError(f"{path}: too short for an IDX header ({size} bytes)")
    zero, type_code, dims_count = data[:2], data[2], data[3]
    if zero != b"\x00\x00" or type_code not in IDX_TYPES:
        raise ValueError(
            f"{path}: not an IDX file (magic bytes {data[:4].hex(' ')}; expected "
            "00 00 <type> <ndim>, e.g. 00 00 08 03 for MNIST images, 00 00 08 01 for labels)"
        )
    if dims_count == 0:
        raise ValueError(f"{path}: IDX header declares 0 dimensions")
    if ndim is not None and dims_count != ndim:
        raise ValueError(
            f"{path}: wrong number of dimensions: header says {dims_count}, expected {ndim} "
            f"(magic {int.from_bytes(data[:4], 'big')})"
        )
    header_size = 4 + 4 * dims_count
    if size < header_size:
        raise ValueError(
            f"{path}: truncated: header needs {header_size} bytes for {dims_count} "
            f"dimensions, file has {size}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", dims_count, offset=4))
    dtype = IDX_TYPES[type_code]
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size != expected:
        problem = "truncated" if size < expected else "trailing data"
        dims_text = "x".join(str(d) for d in shape)
        raise ValueError(
            f"{path}: {problem}: header says {dims_text} = {expected} bytes, file has {size}"
        )
    array = np.frombuffer(data, dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file, atomically (temp name, then rename).

    Parameters
    ----------
    path : str or path-like
        Destination; a name ending in ``.gz`` is written gzip-compressed.
    array : numpy.ndarray
        At least one dimension, dtype one of uint8, int8, int16, int32,
        float32, float64.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    path = Path(path)
    array = np.asarray(array)
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx: array must have 1 to 255 dimensions, got {array.ndim}")
    matches = [
        (code, dtype)
        for code, dtype in IDX_TYPES.items()
        if array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize
    ]
    if not matches:
        raise ValueError(
            f"write_idx: dtype {array.dtype} has no IDX type code; use one of "
            "uint8, int8, int16, int32, float32, float64"
        )
    code, dtype = matches[0]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=dtype).tobytes()
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
