"""Spike tables as HDF5 in the SONATA spike layout (h5py), written in chunks.

Layout (SONATA "spike file", https://github.com/AllenInstitute/sonata/blob/master/docs/SONATA_DEVELOPER_GUIDE.md#spike-file)::

    /                       attrs magic=0x0A7A, version=[0, 1]
    /spikes                 attr brainlearn = table description (JSON)
    /spikes/<population>    attr sorting = "by_time" | "by_id" | "none"
        timestamps          float64, attr units="ms"   (t * 1000, for SONATA readers)
        node_ids            uint64
        t_s                 float64 seconds            (brainlearn: the exact times)
        example, label      int64                      (brainlearn, when the table has them)

Exactness: ``t * 1000 / 1000 == t`` fails for some float64 values, so milliseconds
alone cannot give back the seconds bit for bit. The writer therefore also stores
the seconds themselves in ``t_s`` (ignored by SONATA readers) and the reader takes
``t_s`` when present, after checking it still matches ``timestamps``. A SONATA file
from another simulator (no ``t_s``) is read as ``timestamps / 1000`` seconds.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

from brainlearn.atomic import atomic_path

from .stream import SpikeStream, check_meta, table_from_arrays

__all__ = ["write_sonata", "read_sonata"]

_H5_CHUNK = 1 << 16
_PER_SECOND = {"ms": 1000.0, "s": 1.0}  # SONATA timestamp units per second


class _PopulationWriter:
    """Appends one population's spikes to resizable datasets; tracks the sort order."""

    def __init__(self, group, columns: list[str]):
        self.group = group
        self.names = ["timestamps", "node_ids", "t_s", *columns[3:]]
        dtypes = {"node_ids": np.uint64, "example": np.int64, "label": np.int64}
        for name in self.names:
            group.create_dataset(
                name, shape=(0,), maxshape=(None,), chunks=(_H5_CHUNK,),
                dtype=dtypes.get(name, np.float64),
            )
        group["timestamps"].attrs["units"] = "ms"
        self.last = (-np.inf, -1)
        self.by_time = self.by_id = True

    def append(self, part: pd.DataFrame) -> None:
        t = part["t"].to_numpy()
        neuron = part["neuron"].to_numpy()
        if neuron.size and neuron.min() < 0:
            raise ValueError("SONATA node_ids must be >= 0, got a negative neuron index")
        self.by_time &= bool(np.all(np.diff(t, prepend=self.last[0]) >= 0))
        self.by_id &= bool(np.all(np.diff(neuron, prepend=self.last[1]) >= 0))
        if t.size:
            self.last = (t[-1], neuron[-1])
        values = {"timestamps": t * 1000.0, "node_ids": neuron, "t_s": t}
        for name in self.names:
            data = values[name] if name in values else part[name].to_numpy()
            ds = self.group[name]
            start = ds.shape[0]
            ds.resize((start + data.size,))
            ds[start:] = data

    def close(self) -> None:
        self.group.attrs["sorting"] = "by_time" if self.by_time else "by_id" if self.by_id else "none"


def write_sonata(stream: SpikeStream, path: str | os.PathLike) -> None:
    """Write a spike stream as a SONATA spike file (atomic, chunked)."""
    import h5py

    meta = stream.meta
    bad = [p for p in meta["populations"] if "/" in p or p in ("", ".")]
    if bad:
        raise ValueError(f"population names {bad} cannot be HDF5 group names (no '/')")
    with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=True) as f:
        f.attrs["magic"] = np.uint32(0x0A7A)
        f.attrs["version"] = np.array([0, 1], dtype=np.uint32)
        spikes = f.create_group("spikes", track_order=True)
        spikes.attrs["brainlearn"] = json.dumps(meta)
        writers = [
            _PopulationWriter(spikes.create_group(p), meta["columns"]) for p in meta["populations"]
        ]
        for chunk in stream.chunks:
            codes = chunk["population"].cat.codes.to_numpy()
            for code in np.unique(codes):
                writers[code].append(chunk[codes == code] if len(writers) > 1 else chunk)
        for writer in writers:
            writer.close()


def read_sonata(path: str | os.PathLike) -> pd.DataFrame:
    """Read a SONATA spike file into a spike table.

    Files written by :func:`write_sonata` come back exactly; other SONATA files give
    ``population``, ``neuron`` (node id) and ``t`` = timestamps converted to seconds.
    """
    import h5py

    if not os.path.exists(path):
        raise FileNotFoundError(f"no such spike file: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        spikes = f.get("spikes")
        if not isinstance(spikes, h5py.Group):
            raise ValueError(f"{path}: no /spikes group, not a SONATA spike file")
        raw = spikes.attrs.get("brainlearn")
        if raw is not None:
            meta = check_meta(json.loads(raw), str(path))
        else:
            pops = [k for k, v in spikes.items() if isinstance(v, h5py.Group)]
            if not pops:
                raise ValueError(f"{path}: /spikes holds no population groups (old or foreign layout)")
            meta = {"populations": pops, "columns": ["population", "neuron", "t"], "attrs": {}}
        codes, arrays = [], {c: [] for c in meta["columns"][1:]}
        for code, pop in enumerate(meta["populations"]):
            part = _read_population(spikes.get(pop), str(path), pop, meta["columns"])
            codes.append(np.full(part["t"].size, code, dtype=np.int32))
            for c in arrays:
                arrays[c].append(part[c])
    return table_from_arrays(meta, np.concatenate(codes), {c: np.concatenate(v) for c, v in arrays.items()})


def _read_population(group, path: str, pop: str, columns: list[str]) -> dict[str, np.ndarray]:
    import h5py

    where = f"{path}: /spikes/{pop}"
    need = ["timestamps", "node_ids", *(c for c in columns[3:])]
    if not isinstance(group, h5py.Group) or any(n not in group for n in need):
        raise ValueError(f"{where} is missing (needs datasets {need}); corrupt spike file")
    try:
        stamps = group["timestamps"][()]
        out = {"neuron": group["node_ids"][()].astype(np.int64)}
        for c in columns[3:]:
            out[c] = group[c][()]
        if "t_s" in group:
            out["t"] = group["t_s"][()]
            if not np.array_equal(out["t"] * 1000.0, stamps):
                raise ValueError(f"{where}: t_s and timestamps disagree; corrupt spike file")
        else:
            unit = group["timestamps"].attrs.get("units", "ms")
            unit = unit.decode() if isinstance(unit, bytes) else str(unit)
            if unit not in _PER_SECOND:
                raise ValueError(f"{where}: unknown timestamp units {unit!r}")
            out["t"] = stamps.astype(np.float64) / _PER_SECOND[unit]
    except OSError as exc:
        raise ValueError(f"{where}: corrupt dataset ({exc})") from None
    if len({a.size for a in out.values()} | {stamps.size}) != 1:
        raise ValueError(f"{where}: datasets have different lengths; corrupt spike file")
    return out
