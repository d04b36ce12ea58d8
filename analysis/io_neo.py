"""Spike tables as Neo objects (for Elephant) and Neo files (``NeoMatlabIO``, ``.mat``).

:func:`to_neo` builds a :class:`neo.Block` with one :class:`neo.Segment` per example
(a single segment when the table has no examples) and, in every segment, one
:class:`neo.SpikeTrain` per neuron (silent neurons too), times in seconds as float64.
Segments are annotated with ``example`` and ``label``, spike trains with
``population`` and ``neuron``; the table description is the block annotation
``brainlearn``. These are the objects Elephant's functions take::

    from elephant.statistics import mean_firing_rate
    block = to_neo(spikes)
    rates = [mean_firing_rate(st) for st in block.segments[0].spiketrains]

Files are written with Neo's ``NeoMatlabIO`` (a Neo IO that writes and reads back
every object and annotation used here; it needs only scipy). Exactness: the float64
seconds are stored unchanged and the reader puts the spikes back in canonical order.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

from brainlearn.atomic import atomic_path

from .spikes import canonical_order, group_by_neuron, neuron_ids, table_meta
from .stream import check_meta, table_from_arrays

__all__ = ["to_neo", "from_neo", "write_neo", "read_neo"]


def _require_neo():
    try:
        import neo
        import quantities as pq
    except ImportError:
        raise RuntimeError("Neo export needs neo: pip install 'brainlearn[neo]'") from None
    return neo, pq


def _segment_window(t: np.ndarray, attrs: dict, example: int | None) -> tuple[float, float]:
    """Segment bounds: the example's window (or the recording) widened to hold every spike."""
    offset = attrs.get("t_offset", 0.0)
    if example is not None and "example_duration" in attrs:
        start = offset + example * attrs["example_duration"]
        stop = start + attrs["example_duration"]
    else:
        start = offset
        stop = offset + attrs["duration"] if "duration" in attrs else start
    if t.size:
        start, stop = min(start, float(t.min())), max(stop, float(t.max()))
    return start, stop


def to_neo(df: pd.DataFrame):
    """Convert a spike table to a :class:`neo.Block` (see the module docstring).

    Parameters
    ----------
    df : DataFrame
        The spike table.

    Returns
    -------
    neo.Block
        One Segment per example (or one in all), one SpikeTrain per neuron in each.
    """
    neo, pq = _require_neo()
    meta = table_meta(df)
    block = neo.Block(name="brainlearn spikes")
    block.annotate(brainlearn=json.dumps(meta))
    neurons = neuron_ids(df)  # the same spike trains in every segment
    if "example" in df.columns:
        by_example = np.argsort(df["example"].to_numpy(), kind="stable")
        sorted_ex = df["example"].to_numpy()[by_example]
        examples = np.unique(sorted_ex)
        starts = np.searchsorted(sorted_ex, examples, side="left")
        stops = np.searchsorted(sorted_ex, examples, side="right")
    else:
        examples = [None]
    for j, k in enumerate(examples):
        part = df if k is None else df.iloc[by_example[starts[j] : stops[j]]]
        start, stop = _segment_window(part["t"].to_numpy(), df.attrs, k)
        segment = neo.Segment(name="all spikes" if k is None else f"example {k}")
        if k is not None:
            segment.index = int(k)
            segment.annotate(example=int(k))
            if "label" in df.columns:
                labels = np.unique(part["label"].to_numpy())
                if labels.size != 1:
                    raise ValueError(f"example {k} has several labels {labels.tolist()}")
                segment.annotate(label=int(labels[0]))
        order, groups = group_by_neuron(part, neurons)
        times = part["t"].to_numpy()[order]
        for pop, neuron, rows in groups:
            train = neo.SpikeTrain(
                times[rows], units=pq.s, t_start=start * pq.s, t_stop=stop * pq.s,
                dtype=np.float64, name=f"{pop}:{neuron}",
            )
            train.annotate(population=pop, neuron=neuron)
            segment.spiketrains.append(train)
        block.segments.append(segment)
    return block


def from_neo(block) -> pd.DataFrame:
    """Convert a Block made by :func:`to_neo` (or read by :func:`read_neo`) to a spike table."""
    raw = block.annotations.get("brainlearn")
    try:
        meta = json.loads(raw) if raw is not None else None
    except (TypeError, json.JSONDecodeError):
        meta = None
    meta = check_meta(meta, f"Neo block {block.name!r}")
    extras = meta["columns"][3:]
    pops, neurons, times, cols = [], [], [], {c: [] for c in extras}
    for segment in block.segments:
        for train in segment.spiketrains:
            n = len(train)
            try:
                pops.append(np.full(n, train.annotations["population"], dtype=object))
                neurons.append(np.full(n, train.annotations["neuron"], dtype=np.int64))
                for c in extras:
                    cols[c].append(np.full(n, segment.annotations[c], dtype=np.int64))
            except KeyError as exc:
                raise ValueError(f"Neo block: spike train or segment lacks annotation {exc}") from None
            times.append(np.asarray(train.rescale("s").magnitude, dtype=np.float64))

    def cat(parts, dtype):
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    codes = pd.Categorical(cat(pops, object), categories=meta["populations"]).codes
    arrays = {"neuron": cat(neurons, np.int64), "t": cat(times, np.float64)}
    arrays.update({c: cat(v, np.int64) for c, v in cols.items()})
    return canonical_order(table_from_arrays(meta, codes, arrays))


def write_neo(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a spike table as a Neo file with ``NeoMatlabIO`` (``.mat``, atomic)."""
    neo, _ = _require_neo()
    if not str(path).endswith(".mat"):
        raise ValueError(f"Neo files are written with NeoMatlabIO and must end in .mat, got {path}")
    block = to_neo(df)
    with atomic_path(path) as tmp:
        neo.io.NeoMatlabIO(str(tmp)).write_block(block)


def read_neo(path: str | os.PathLike) -> pd.DataFrame:
    """Read a spike table from a Neo ``.mat`` file written by :func:`write_neo`."""
    neo, _ = _require_neo()
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such spike file: {path}")
    try:
        block = neo.io.NeoMatlabIO(str(path)).read_block()
    except Exception as exc:  # scipy/neo raise many types for foreign files
        raise ValueError(f"{path}: not a readable Neo .mat file ({type(exc).__name__}: {exc})") from None
    return from_neo(block)
