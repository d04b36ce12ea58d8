"""One entry point for every spike format: pick the writer or reader from the suffix."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .spikes import canonical_order, check_spike_table
from .stream import DEFAULT_CHUNK, SpikeStream, collect, stream_table

__all__ = ["FORMATS", "format_of", "write_spikes", "read_spikes"]

#: Format name -> file suffixes (the first is the default for exports).
FORMATS: dict[str, tuple[str, ...]] = {
    "parquet": (".parquet", ".pq"),
    "csv": (".csv",),
    "sonata": (".h5", ".hdf5"),
    "nwb": (".nwb",),
    "neo": (".mat",),
}
_STREAMING = ("parquet", "csv", "sonata")


def format_of(path: str | os.PathLike, format: str | None = None) -> str:
    """The format name for ``path``: ``format`` if given, else guessed from the suffix."""
    if format is not None:
        if format not in FORMATS:
            raise ValueError(f"unknown spike format {format!r}; choose from {sorted(FORMATS)}")
        return format
    suffix = Path(path).suffix.lower()
    for name, suffixes in FORMATS.items():
        if suffix in suffixes:
            return name
    known = ", ".join(s for v in FORMATS.values() for s in v)
    raise ValueError(f"cannot tell the spike format of {path} from its suffix; use one of {known}")


def write_spikes(
    spikes: pd.DataFrame | SpikeStream,
    path: str | os.PathLike,
    format: str | None = None,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    **options,
) -> Path:
    """Write a spike table to ``path``; the format comes from the suffix.

    Parameters
    ----------
    spikes : DataFrame or SpikeStream
        The spike table, or a stream of chunks (Parquet, CSV and SONATA only).
    path : path
        Output file: ``.parquet``, ``.csv``, ``.h5`` (SONATA), ``.nwb`` or ``.mat`` (Neo).
    format : str, optional
        Force a format (``parquet``, ``csv``, ``sonata``, ``nwb``, ``neo``).
    chunk_size : int
        Rows written at a time by the streaming formats.
    **options
        Passed to the writer (NWB session metadata, see :func:`write_nwb`).

    Returns
    -------
    Path
        ``path``. The file appears there only once complete (temp name + rename).

    Notes
    -----
    Tables are stored in canonical order (population, time, neuron), the order every
    reader returns; brainlearn's own tables are already in it. A stream is written in
    the order given.
    """
    fmt = format_of(path, format)
    if fmt in _STREAMING:
        from . import io_sonata, io_tabular

        writer = {
            "parquet": io_tabular.write_parquet,
            "csv": io_tabular.write_csv,
            "sonata": io_sonata.write_sonata,
        }[fmt]
        stream = spikes if isinstance(spikes, SpikeStream) else stream_table(canonical_order(check_spike_table(spikes)), chunk_size)
        writer(stream, path, **options)
    else:
        if isinstance(spikes, SpikeStream):
            spikes = collect(spikes)
        if fmt == "nwb":
            from .io_nwb import write_nwb

            write_nwb(spikes, path, **options)
        else:
            from .io_neo import write_neo

            write_neo(spikes, path, **options)
    return Path(path)


def read_spikes(path: str | os.PathLike, format: str | None = None) -> pd.DataFrame:
    """Read a spike table from any supported file; the format comes from the suffix."""
    fmt = format_of(path, format)
    if fmt == "parquet":
        from .io_tabular import read_parquet as reader
    elif fmt == "csv":
        from .io_tabular import read_csv as reader
    elif fmt == "sonata":
        from .io_sonata import read_sonata as reader
    elif fmt == "nwb":
        from .io_nwb import read_nwb as reader
    else:
        from .io_neo import read_neo as reader
    return reader(path)
