"""Spike tables in chunks: what the streaming writers consume and the readers rebuild."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .spikes import META_KEYS, SPIKE_COLUMNS, check_spike_table, population_dtype, table_meta

__all__ = [
    "DEFAULT_CHUNK", "SpikeStream", "stream_table", "collect", "check_meta", "table_from_arrays",
]

#: Rows per chunk when streaming (about 30 MB of columns).
DEFAULT_CHUNK = 1_000_000


@dataclass
class SpikeStream:
    """A spike table as its description (``meta``) and an iterator of row chunks.

    ``meta`` is :func:`brainlearn.analysis.spikes.table_meta` of the table; every chunk
    is a spike table with the same columns and population categories.
    """

    meta: dict
    chunks: Iterator[pd.DataFrame] = field(repr=False)


def stream_table(df: pd.DataFrame, chunk_size: int = DEFAULT_CHUNK) -> SpikeStream:
    """Stream an in-memory spike table in row slices of ``chunk_size``."""
    meta = table_meta(df)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")

    def chunks():
        for start in range(0, max(len(df), 1), chunk_size):
            yield df.iloc[start : start + chunk_size]

    return SpikeStream(meta, chunks())


def collect(stream: SpikeStream) -> pd.DataFrame:
    """Gather a stream into one in-memory spike table."""
    parts = list(stream.chunks)
    codes = [p["population"].cat.codes.to_numpy() for p in parts]
    arrays = {
        c: np.concatenate([p[c].to_numpy() for p in parts]) if parts else np.zeros(0)
        for c in stream.meta["columns"][1:]
    }
    return table_from_arrays(stream.meta, np.concatenate(codes) if parts else np.zeros(0, np.int8), arrays)


def check_meta(meta, source: str) -> dict:
    """Validate a stored table description; ``source`` names the file in the error."""
    if not isinstance(meta, dict) or meta.get("format") != "brainlearn-spikes":
        raise ValueError(f"{source}: not a brainlearn spike file (no brainlearn-spikes metadata)")
    if meta.get("version") != 1:
        raise ValueError(f"{source}: unsupported brainlearn spike format version {meta.get('version')}")
    columns = meta.get("columns", [])
    if columns[:3] != ["population", "neuron", "t"] or any(c not in SPIKE_COLUMNS for c in columns):
        raise ValueError(f"{source}: corrupt metadata, bad column list {columns}")
    if any(k not in META_KEYS for k in meta.get("attrs", {})):
        raise ValueError(f"{source}: corrupt metadata, unknown attrs {list(meta['attrs'])}")
    return meta


def table_from_arrays(meta: dict, codes: np.ndarray, arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """Rebuild a spike table from population codes, column arrays and its description.

    Parameters
    ----------
    meta : dict
        The stored description (populations, columns, attrs).
    codes : array of int
        Index into ``meta["populations"]`` for each row.
    arrays : dict
        ``neuron``, ``t`` and the optional ``example``/``label`` arrays.
    """
    dtype = population_dtype(meta["populations"])
    data = {"population": pd.Categorical.from_codes(np.asarray(codes), dtype=dtype)}
    for col in meta["columns"][1:]:
        data[col] = np.asarray(arrays[col]).astype(SPIKE_COLUMNS[col], copy=False)
    frame = pd.DataFrame(data)
    attrs = dict(meta.get("attrs", {}))
    if "n_neurons" in attrs:
        attrs["n_neurons"] = {str(k): int(v) for k, v in attrs["n_neurons"].items()}
    frame.attrs = attrs
    return check_spike_table(frame)
