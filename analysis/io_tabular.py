"""Spike tables as Parquet (pyarrow) and CSV files, written and read in chunks.

Parquet: the columns of the spike table (``population`` as a dictionary column, so
``pandas.read_parquet`` gives a categorical) plus the table description as JSON in
the schema metadata under ``brainlearn``. float64 and int64 are stored as such, so
the round trip is exact.

CSV: an ordinary CSV that a plain ``pandas.read_csv(path)`` reads, with the table
description beside it in ``<path>.json`` (:func:`csv_meta_path`). pandas writes floats with
Python's shortest round-trip ``repr`` and the reader parses them with
``float_precision="round_trip"``, so times come back bit for bit. (Files of earlier
versions, with the description as a first line ``# brainlearn-spikes {json}``, still read.)
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

from brainlearn.atomic import atomic_path
from brainlearn.rundir import SPIKE_META_KEY, spike_schema

from .spikes import SPIKE_COLUMNS, canonical_order, check_spike_table, population_dtype
from .stream import DEFAULT_CHUNK, SpikeStream, check_meta, stream_table, table_from_arrays

__all__ = ["write_parquet", "read_parquet", "iter_parquet", "write_csv", "read_csv", "csv_meta_path"]

_CSV_PREFIX = "# brainlearn-spikes "


def write_parquet(stream: SpikeStream, path: str | os.PathLike) -> None:
    """Write a spike stream to a Parquet file, one row group per chunk (atomic)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = stream.meta
    schema = spike_schema(meta)
    dictionary = pa.array(meta["populations"], pa.string())
    with atomic_path(path) as tmp:
        with pq.ParquetWriter(tmp, schema) as writer:
            for chunk in stream.chunks:
                codes = pa.array(chunk["population"].cat.codes.to_numpy().astype(np.int32))
                arrays = [pa.DictionaryArray.from_arrays(codes, dictionary)]
                arrays += [pa.array(chunk[c].to_numpy()) for c in meta["columns"][1:]]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))


def _open_parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such spike file: {path}") from None
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None
    raw = (pf.schema_arrow.metadata or {}).get(SPIKE_META_KEY)
    if raw is None and {"population", "neuron", "t"} <= set(pf.schema_arrow.names):
        return pf, None  # a plain table (e.g. DataFrame.to_parquet): see _plain_frame
    try:
        meta = json.loads(raw) if raw is not None else None
    except json.JSONDecodeError:
        meta = None
    return pf, check_meta(meta, str(path))


def _plain_frame(table, path) -> pd.DataFrame:
    """A spike table from a Parquet file without brainlearn metadata.

    Populations keep their categorical order (else sorted names), attrs are empty and
    rows are put in canonical order.
    """
    frame = table.to_pandas()
    frame.attrs = {}  # pandas may have stored attrs of another table; they are not trusted
    extra = [c for c in frame.columns if c not in SPIKE_COLUMNS]
    if extra:
        raise ValueError(f"{path}: not a spike table, unexpected columns {extra}")
    pops = frame["population"]
    names = pops.cat.categories if isinstance(pops.dtype, pd.CategoricalDtype) else np.unique(pops.astype(str))
    frame["population"] = pops.astype(str).astype(population_dtype(names))
    for col in frame.columns[1:]:
        values = frame[col].to_numpy()
        cast = values.astype(SPIKE_COLUMNS[col])
        if not np.array_equal(cast, values):
            raise ValueError(f"{path}: column {col} does not convert exactly to {SPIKE_COLUMNS[col]}")
        frame[col] = cast
    frame = frame[[c for c in SPIKE_COLUMNS if c in frame.columns]]
    return canonical_order(check_spike_table(frame))


def _codes(column, populations: list[str]) -> np.ndarray:
    """Population codes (index into ``populations``) of a pyarrow column."""
    import pyarrow as pa

    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    out = []
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            names = chunk.dictionary.to_pylist()
            unknown = [n for n in names if n not in populations]
            if unknown:
                raise ValueError(f"populations {unknown} are not listed in the file's metadata")
            lookup = np.array([populations.index(n) for n in names], dtype=np.int32)
            out.append(lookup[chunk.indices.to_numpy(zero_copy_only=False)])
        else:
            out.append(_codes_of(np.asarray(chunk.to_pylist(), dtype=object), populations))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int32)


def _codes_of(values: np.ndarray, populations: list[str]) -> np.ndarray:
    codes = pd.Categorical(values, categories=populations).codes
    if (codes < 0).any():
        bad = sorted(set(values[codes < 0].tolist()))[:5]
        raise ValueError(f"populations {bad} are not listed in the file's metadata")
    return codes


def _frame(table, meta: dict) -> pd.DataFrame:
    missing = [c for c in meta["columns"] if c not in table.column_names]
    if missing:
        raise ValueError(f"corrupt spike file: columns {missing} missing")
    codes = _codes(table.column("population"), meta["populations"])
    arrays = {c: table.column(c).to_numpy() for c in meta["columns"][1:]}
    return table_from_arrays(meta, codes, arrays)


def read_parquet(path: str | os.PathLike) -> pd.DataFrame:
    """Read a spike table written by :func:`write_parquet` (or a plain pandas one)."""
    import pyarrow as pa

    pf, meta = _open_parquet(path)
    try:
        table = pf.read()
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{path}: corrupt Parquet file ({exc})") from None
    return _plain_frame(table, path) if meta is None else _frame(table, meta)


def iter_parquet(path: str | os.PathLike, chunk_size: int = DEFAULT_CHUNK) -> SpikeStream:
    """Stream a Parquet spike file in chunks of at most ``chunk_size`` rows."""
    import pyarrow as pa

    pf, meta = _open_parquet(path)
    if meta is None:  # a plain table must be sorted first, so it is read whole
        return stream_table(read_parquet(path), chunk_size)

    def chunks():
        try:
            batches = pf.iter_batches(batch_size=chunk_size)
            any_batch = False
            for batch in batches:
                any_batch = True
                yield _frame(pa.Table.from_batches([batch]), meta)
            if not any_batch:
                yield table_from_arrays(meta, np.zeros(0, np.int32), _empty(meta))
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"{path}: corrupt Parquet file ({exc})") from None

    return SpikeStream(meta, chunks())


def _empty(meta: dict) -> dict[str, np.ndarray]:
    return {c: np.zeros(0) for c in meta["columns"][1:]}


def csv_meta_path(path: str | os.PathLike) -> str:
    """The file beside a spike CSV that holds its description (``spikes.csv.json``)."""
    return f"{os.fspath(path)}.json"


def write_csv(stream: SpikeStream, path: str | os.PathLike) -> None:
    """Write a spike stream as a plain CSV and its description beside it (both atomic; the
    description is written once the CSV is complete, just before the CSV takes its name)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            first = True
            for chunk in stream.chunks:
                chunk.to_csv(fh, header=first, index=False, lineterminator="\n")
                first = False
        with atomic_path(csv_meta_path(path)) as side:
            side.write_text(json.dumps(stream.meta, indent=1) + "\n", encoding="utf-8")


def read_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a spike table written by :func:`write_csv`."""
    try:
        fh = open(path, encoding="utf-8", newline="")
    except FileNotFoundError:
        raise FileNotFoundError(f"no such spike file: {path}") from None
    with fh:
        try:
            first = fh.readline()
        except UnicodeDecodeError:
            first = ""
        meta = None
        if first.startswith(_CSV_PREFIX):  # the earlier layout: description in line 1
            try:
                meta = json.loads(first[len(_CSV_PREFIX) :])
            except json.JSONDecodeError:
                pass
        else:
            fh.seek(0)
            side = csv_meta_path(path)
            if os.path.exists(side):
                try:
                    with open(side, encoding="utf-8") as meta_fh:
                        meta = json.load(meta_fh)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    pass
        meta = check_meta(meta, f"{path} (description {csv_meta_path(path)})")
        dtypes = {"population": object, "neuron": "int64", "t": "float64"}
        dtypes.update({c: "int64" for c in meta["columns"][3:]})
        try:
            frame = pd.read_csv(
                fh, dtype=dtypes, float_precision="round_trip", keep_default_na=False
            )
        except (ValueError, pd.errors.ParserError) as exc:
            raise ValueError(f"{path}: corrupt spike CSV ({exc})") from None
    if list(frame.columns) != meta["columns"]:
        raise ValueError(f"{path}: corrupt spike CSV, columns {list(frame.columns)}")
    codes = _codes_of(frame["population"].to_numpy(dtype=object), meta["populations"])
    return table_from_arrays(meta, codes, {c: frame[c].to_numpy() for c in meta["columns"][1:]})
