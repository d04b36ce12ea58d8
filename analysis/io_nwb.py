"""Spike tables as NWB files (pynwb): one file per run, one ``Units`` row per neuron.

Layout: ``units`` has one row per neuron of every population (silent neurons get an
empty spike train), with the float64 ``spike_times`` in seconds and columns
``population`` and ``neuron``; when the table has examples, the ragged columns
``spike_examples`` / ``spike_labels`` give each spike's example and label, and the
``trials`` table lists the examples (start, stop, label). The table description
(JSON) is kept in ``scratch/brainlearn_spike_table`` and the run configuration in
the file's ``notes``.

Exactness: NWB stores the float64 seconds unchanged; the reader regroups spikes per
neuron back into the canonical order (population, time, neuron), so a table in
canonical order (as every brainlearn function returns it) comes back identical.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from brainlearn.atomic import atomic_path

from .spikes import canonical_order, group_by_neuron, table_meta
from .stream import check_meta, table_from_arrays

__all__ = ["write_nwb", "read_nwb"]

_SCRATCH = "brainlearn_spike_table"


def _require_pynwb():
    try:
        import pynwb
    except ImportError:
        raise RuntimeError(
            "NWB export needs pynwb: pip install 'brainlearn[nwb]'"
        ) from None
    return pynwb


def write_nwb(
    df: pd.DataFrame,
    path: str | os.PathLike,
    *,
    session_description: str = "brainlearn spiking network run",
    identifier: str | None = None,
    session_start_time: datetime | None = None,
    config: dict | None = None,
) -> None:
    """Write a spike table to an NWB file (atomic).

    Parameters
    ----------
    df : DataFrame
        The spike table.
    path : path
        Output ``.nwb`` file.
    session_description, identifier, session_start_time
        NWB session metadata (defaults: a generic description, a random UUID, now).
    config : dict, optional
        Run configuration, stored as JSON in the file's ``notes``.
    """
    pynwb = _require_pynwb()
    meta = table_meta(df)
    nwb = pynwb.NWBFile(
        session_description=session_description,
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=session_start_time or datetime.now(timezone.utc),
        notes=json.dumps(config or {}, sort_keys=True, default=str),
        source_script="brainlearn.analysis.write_nwb",
        source_script_file_name="brainlearn/analysis/io_nwb.py",
    )
    nwb.add_scratch(json.dumps(meta), name=_SCRATCH, description="brainlearn spike-table description")
    order, groups = group_by_neuron(df)
    if groups:  # columns built whole: pynwb's add_unit, row by row, is ~100x slower
        from hdmf.common import VectorData, VectorIndex
        from pynwb.misc import Units

        ends = np.array([rows.stop for _, _, rows in groups], dtype=np.int64)  # rows tile

        def ragged(name: str, description: str, values: np.ndarray) -> list:
            data = VectorData(name=name, description=description, data=values[order])
            return [data, VectorIndex(name=f"{name}_index", data=ends, target=data)]

        columns = ragged("spike_times", "spike times (s)", df["t"].to_numpy())
        columns += [
            VectorData(name="population", description="population (neuron group) name",
                       data=np.array([g[0] for g in groups], dtype=object)),
            VectorData(name="neuron", description="neuron index inside its population",
                       data=np.array([g[1] for g in groups], dtype=np.int64)),
        ]
        for c in ("example", "label"):
            if c in df.columns:
                columns += ragged(f"spike_{c}s", f"{c} of each spike", df[c].to_numpy())
        nwb.units = Units(name="units", description="brainlearn spike trains, one per neuron",
                          id=np.arange(len(groups)), columns=columns)
    _add_trials(nwb, df)
    with atomic_path(path) as tmp, pynwb.NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwb)


def _add_trials(nwb, df: pd.DataFrame) -> None:
    """One trial per example (start, stop, label), when the example timing is known."""
    period, offset = df.attrs.get("example_duration"), df.attrs.get("t_offset")
    if "example" not in df.columns or period is None or offset is None or df.empty:
        return
    first = df.drop_duplicates("example").sort_values("example")
    if "label" in df.columns:
        nwb.add_trial_column(name="label", description="class label of the example")
    for row in first.itertuples():
        extra = {"label": int(row.label)} if "label" in df.columns else {}
        start = offset + row.example * period
        nwb.add_trial(start_time=start, stop_time=start + period, **extra)


def read_nwb(path: str | os.PathLike) -> pd.DataFrame:
    """Read a spike table written by :func:`write_nwb`."""
    pynwb = _require_pynwb()
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such spike file: {path}")
    try:
        io = pynwb.NWBHDF5IO(str(path), "r")
        nwb = io.read()
    except Exception as exc:  # pynwb/hdmf raise many types for foreign files
        raise ValueError(f"{path}: not a readable NWB file ({type(exc).__name__}: {exc})") from None
    with io:
        try:
            raw = nwb.get_scratch(_SCRATCH)
            meta = json.loads(raw if isinstance(raw, str) else raw[()])
        except (KeyError, ValueError, TypeError):
            meta = None
        meta = check_meta(meta, str(path))
        units = nwb.units
        if units is None:
            counts = np.zeros(0, dtype=np.int64)
            flat = {"t": np.zeros(0), "pop": np.zeros(0, object), "neuron": np.zeros(0, np.int64)}
        else:
            index = units["spike_times"]  # a VectorIndex; .target holds the flat times
            ends = index.data[()]
            counts = np.diff(ends, prepend=0)
            pops = np.asarray([p.decode() if isinstance(p, bytes) else p for p in units["population"].data[()]], dtype=object)
            flat = {
                "t": index.target.data[()],
                "pop": np.repeat(pops, counts),
                "neuron": np.repeat(units["neuron"].data[()], counts),
            }
            for c in meta["columns"][3:]:
                flat[c] = units[f"spike_{c}s"].target.data[()]
    codes = pd.Categorical(flat["pop"], categories=meta["populations"]).codes
    arrays = {"neuron": flat["neuron"], "t": flat["t"], **{c: flat[c] for c in meta["columns"][3:]}}
    return canonical_order(table_from_arrays(meta, codes, arrays))
