"""Run directories: read the spikes, configuration and states a run wrote; export them.

What a run directory holds, and how its files are named and read, is defined once in
:mod:`brainlearn.rundir`; this module reads through it. ``config.json`` keys ``neurons`` and
``example_duration_s`` fill in the table's ``n_neurons`` / ``example_duration`` when the
spike file lacks them, and a run whose examples (``examples.parquet``) all lasted equally
long gets that ``example_duration``. Runs whose examples vary in length (Diehl & Cook
retries) carry their durations in :func:`load_run_examples`.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from brainlearn import rundir
from brainlearn.atomic import check_room
from brainlearn.checks import check_count

from .formats import FORMATS, write_spikes
from .states import read_states
from .stream import DEFAULT_CHUNK, SpikeStream, collect

__all__ = [
    "load_run_config", "load_run_spikes", "load_run_examples", "load_run_states", "export_run",
    "SPIKES_FILE", "RunNotEvaluatedError",
]

SPIKES_FILE = rundir.SPIKES

#: float64 / int64 values an HDF5 format stores per spike at the least (SONATA: timestamps,
#: node_ids, t_s and the table's other columns; NWB: the spike time)
_HDF5_VALUES_PER_SPIKE = {"sonata": len, "nwb": lambda columns: 1}


def load_run_config(run_dir: str | os.PathLike) -> dict:
    """``config.json`` of a run as a dict (empty when the file is absent)."""
    return rundir.read_config(run_dir)


def load_run_examples(run_dir: str | os.PathLike) -> pd.DataFrame | None:
    """The presented examples of a run (``example``, ``start``, ``duration`` in s, ``label``),
    or None when the run recorded none; see :func:`brainlearn.rundir.examples_table`."""
    return rundir.read_examples(run_dir)


class RunNotEvaluatedError(FileNotFoundError):
    """A run directory that holds a run but no recorded spikes yet: it needs evaluating."""


def _stream_run(run_dir: Path, chunk_size: int, evaluate_command: str | None = None) -> SpikeStream:
    from .io_tabular import iter_parquet

    path = run_dir / SPIKES_FILE
    if not path.exists():
        if (run_dir / rundir.CONFIG).exists():
            how = evaluate_command or "its model's evaluate command (brainlearn models list)"
            raise RunNotEvaluatedError(f"{run_dir} holds a run that was never evaluated (no "
                                       f"{SPIKES_FILE} yet): evaluate it first: {how}")
        raise FileNotFoundError(f"{run_dir} holds no {SPIKES_FILE}; is it a brainlearn run directory?")
    stream = iter_parquet(path, chunk_size)
    attrs = stream.meta["attrs"]
    config = load_run_config(run_dir)
    pops = stream.meta["populations"]
    if "n_neurons" not in attrs and "neurons" in config and len(pops) == 1:
        attrs["n_neurons"] = {pops[0]: int(config["neurons"])}
    if "example_duration" not in attrs and "example" in stream.meta["columns"]:
        examples = rundir.read_examples(run_dir)
        if examples is not None and len(examples) and examples["duration"].nunique() == 1:
            attrs["example_duration"] = float(examples["duration"].iloc[0])
        elif examples is None and "example_duration_s" in config:
            attrs["example_duration"] = float(config["example_duration_s"])
    return stream


def _check_target(target: Path, format: str, force: bool) -> None:
    """Refuse an output whose extension is not ``format``'s, or that exists (unless ``force``)."""
    if target.is_dir():
        raise IsADirectoryError(f"cannot write {target}: it is a directory; give a file name")
    suffixes = FORMATS[format]
    if target.suffix.lower() not in suffixes:
        raise ValueError(f"{target}: a {format} file ends in {' or '.join(suffixes)}, not "
                         f"{target.suffix or 'no extension'}; give --out {target.stem}{suffixes[0]} "
                         "(or the --format that the extension names)")
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists: it is kept; give --force to replace it, or "
                              "another --out")


def load_run_spikes(run_dir: str | os.PathLike) -> pd.DataFrame:
    """The evaluation spikes of a run directory as a spike table."""
    return collect(_stream_run(rundir.open_run(run_dir), DEFAULT_CHUNK))


def load_run_states(run_dir: str | os.PathLike) -> dict:
    """The state snapshots of a run (``states.h5`` or ``states.parquet``; {} if none)."""
    root = rundir.open_run(run_dir)
    for name in rundir.STATES:
        if (root / name).exists():
            return read_states(root / name)
    return {}


def export_run(
    run_dir: str | os.PathLike,
    format: str,
    out: str | os.PathLike | None = None,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    progress: bool = True,
    force: bool = False,
    evaluate_command: str | None = None,
) -> Path:
    """Export a run's spikes to ``format``.

    Parquet, CSV and SONATA stream ``spikes.parquet`` chunk by chunk (the whole table
    is never in memory); NWB and Neo regroup spikes per neuron, so they load it. Neo gets
    the run's examples (``examples.parquet``) as its ``examples`` epoch. An export that takes
    more than two seconds shows a progress bar (spikes read).

    Parameters
    ----------
    run_dir : path
        The run directory.
    format : str
        ``parquet``, ``csv``, ``sonata``, ``nwb`` or ``neo``.
    out : path, optional
        Output file (default ``RUN_DIR/export/spikes<suffix>``).
    chunk_size : int
        Rows per chunk when streaming.
    progress : bool
        Show the progress bar.
    force : bool
        Replace an existing output file (otherwise it is kept and the export refused).
    evaluate_command : str, optional
        The command that evaluates this run, named in the error when the run was never
        evaluated (:class:`RunNotEvaluatedError`).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ValueError
        When ``out``'s extension is not one of ``format``'s (``.nwb`` for ``nwb``, ...).
    FileExistsError
        When ``out`` exists and ``force`` is not given.
    RunNotEvaluatedError
        When the run has no recorded spikes yet.
    """
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    root = rundir.open_run(run_dir)
    if format not in FORMATS:
        raise ValueError(f"unknown export format {format!r}; choose from {sorted(FORMATS)}")
    check_count("chunk_size", chunk_size)
    target = Path(out) if out is not None else root / "export" / f"spikes{FORMATS[format][0]}"
    if target.resolve() == (root / SPIKES_FILE).resolve():
        raise ValueError(f"refusing to overwrite the run's own {SPIKES_FILE}; choose another output file")
    _check_target(target, format, force)
    stream = _stream_run(root, chunk_size, evaluate_command)
    options = {}
    if format == "neo":
        options = {"examples": load_run_examples(root)}
    if format == "nwb":
        config = load_run_config(root)
        stamp = (root / "config.json").stat().st_mtime if (root / "config.json").exists() else None
        options = {
            "session_description": f"brainlearn run {root.resolve().name}",
            "identifier": f"brainlearn-{root.resolve().name}",
            "session_start_time": datetime.fromtimestamp(stamp, timezone.utc) if stamp else None,
            "config": config,
        }
    rows = pq.ParquetFile(root / SPIKES_FILE).metadata.num_rows
    if format in _HDF5_VALUES_PER_SPIKE:  # HDF5 cannot stop cleanly on a full disk: check first
        check_room(target, rows * 8 * _HDF5_VALUES_PER_SPIKE[format](stream.meta["columns"]))
    bar = tqdm(total=rows, unit="spike",
               unit_scale=True, desc=f"export {format}", delay=2.0, disable=not progress)

    def counted(chunks):
        for chunk in chunks:
            bar.update(len(chunk))
            yield chunk

    stream.chunks = counted(stream.chunks)
    try:
        return write_spikes(stream, target, format, chunk_size=chunk_size, **options)
    finally:
        bar.close()
