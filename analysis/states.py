"""State snapshots (theta per neuron, weight matrices, v traces) as HDF5 or Parquet.

A snapshot set is a mapping ``name -> numpy array`` (any shape), e.g.
``{"theta": theta, "weights": W}`` with ``W`` of shape (784, N).

HDF5 (``.h5``): one dataset per array under ``/states``, dtype and shape unchanged.
Parquet (``.parquet``): a long table ``state`` (dictionary), ``index`` (flat C-order
index), ``value`` (float64), with each array's shape and dtype in the schema metadata;
arrays whose values float64 cannot hold exactly are refused (use ``.h5``).
Both round trips are exact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from brainlearn.atomic import atomic_path

__all__ = ["write_states", "read_states"]

_TAG = "brainlearn-states"


def write_states(states: Mapping[str, np.ndarray], path: str | os.PathLike) -> Path:
    """Write named arrays to ``.h5`` or ``.parquet`` (atomic).

    Parameters
    ----------
    states : mapping of str to array
        The snapshots; Brian2 quantities are stored as their SI values (use ``W[:]``
        or ``G.theta_`` for the unitless values).
    path : path
        Output file, ``.h5``/``.hdf5`` or ``.parquet``.
    """
    arrays = {str(k): np.asarray(v) for k, v in states.items()}
    for name, arr in arrays.items():
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"state {name!r} must be numeric, got dtype {arr.dtype}")
    suffix = Path(path).suffix.lower()
    if suffix in (".h5", ".hdf5"):
        import h5py

        with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=True) as f:
            group = f.create_group("states", track_order=True)
            group.attrs["format"] = _TAG
            for name, arr in arrays.items():
                group.create_dataset(name, data=arr)
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        meta = {"format": _TAG, "arrays": {}}
        for name, arr in arrays.items():
            if not np.array_equal(arr.astype(np.float64).astype(arr.dtype), arr):
                raise ValueError(f"state {name!r} ({arr.dtype}) does not fit float64 exactly; write .h5")
            meta["arrays"][name] = {"shape": list(arr.shape), "dtype": arr.dtype.str}
        names = list(arrays)
        sizes = [arrays[n].size for n in names]
        table = pa.table({
            "state": pa.DictionaryArray.from_arrays(
                pa.array(np.repeat(np.arange(len(names), dtype=np.int32), sizes)), pa.array(names, pa.string())
            ),
            "index": np.concatenate([np.arange(s, dtype=np.int64) for s in sizes] or [np.zeros(0, np.int64)]),
            "value": np.concatenate([arrays[n].astype(np.float64).ravel() for n in names] or [np.zeros(0)]),
        }).replace_schema_metadata({b"brainlearn": json.dumps(meta).encode()})
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
    else:
        raise ValueError(f"states go to .h5 or .parquet, got {path}")
    return Path(path)


def read_states(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the arrays written by :func:`write_states`."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such states file: {path}")
    suffix = Path(path).suffix.lower()
    if suffix in (".h5", ".hdf5"):
        import h5py

        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from None
        with f:
            group = f.get("states")
            if not isinstance(group, h5py.Group) or group.attrs.get("format") != _TAG:
                raise ValueError(f"{path}: not a brainlearn states file (no /states group)")
            return {name: ds[()] for name, ds in group.items()}
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
            meta = json.loads((table.schema.metadata or {})[b"brainlearn"])
            if meta.get("format") != _TAG:
                raise KeyError("format")
        except (pa.ArrowException, OSError, KeyError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a brainlearn states Parquet file ({exc})") from None
        values = table.column("value").to_numpy()
        start, out = 0, {}
        for name, spec in meta["arrays"].items():
            size = int(np.prod(spec["shape"], dtype=np.int64))
            out[name] = values[start : start + size].astype(np.dtype(spec["dtype"])).reshape(spec["shape"])
            start += size
        return out
    raise ValueError(f"states are read from .h5 or .parquet, got {path}")
