"""Spike tables as Neo objects (for Elephant) and Neo files (``NeoMatlabIO``, ``.mat``).

:func:`to_neo` builds the layout Neo and Elephant expect for one recording: a
:class:`neo.Block` with **one** :class:`neo.Segment` holding **one** :class:`neo.SpikeTrain`
per neuron (silent neurons too; times in seconds as float64, annotated with ``population``
and ``neuron``), and the presented examples as a :class:`neo.Epoch` named ``examples``
(epoch ``k`` is example ``k``: its start, its duration and its label as the epoch label).
Each spike train also carries the example of each of its spikes (annotation ``example``), so
the table comes back exactly; the table description is the block annotation ``brainlearn``::

    from elephant.statistics import mean_firing_rate
    block = to_neo(spikes)
    trains = block.segments[0].spiketrains            # one per neuron, whole recording
    rates = [mean_firing_rate(st) for st in trains]
    examples = block.segments[0].epochs[0]            # start, duration, label of each example
    first = [st.time_slice(examples.times[0], examples.times[0] + examples.durations[0])
             for st in trains]

Files are written with Neo's ``NeoMatlabIO`` (it needs only scipy). Exactness: the float64
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


def _example_epochs(df: pd.DataFrame, examples: pd.DataFrame | None):
    """Start, duration (s) and label text of examples ``0 .. n-1``."""
    ex = df["example"].to_numpy()
    n = int(ex.max()) + 1 if ex.size else 0
    if examples is not None:
        n = max(n, int(examples["example"].max()) + 1 if len(examples) else 0)
    labels = np.full(n, "", dtype=object)
    if "label" in df.columns and ex.size:
        shown, first = np.unique(ex, return_index=True)
        labels[shown] = df["label"].to_numpy()[first].astype(str)
    if examples is not None:
        table = examples.set_index("example").reindex(range(n))
        start = table["start"].to_numpy(np.float64)
        duration = table["duration"].to_numpy(np.float64)
        if "label" in table.columns:
            known = table["label"].notna().to_numpy()
            labels[known] = table["label"].to_numpy()[known].astype(np.int64).astype(str)
    elif "example_duration" in df.attrs:
        period = df.attrs["example_duration"]
        start = df.attrs.get("t_offset", 0.0) + np.arange(n) * period
        duration = np.full(n, period)
    else:  # the span of each example's spikes
        t = df["t"].to_numpy()
        start, stop = np.full(n, np.nan), np.full(n, np.nan)
        np.fmin.at(start, ex, t)
        np.fmax.at(stop, ex, t)
        duration = stop - start
    return np.nan_to_num(start), np.nan_to_num(duration), labels.astype(str)


def to_neo(df: pd.DataFrame, examples: pd.DataFrame | None = None):
    """Convert a spike table to a :class:`neo.Block` (see the module docstring).

    Parameters
    ----------
    df : DataFrame
        The spike table.
    examples : DataFrame, optional
        The presented examples (``example``, ``start``, ``duration`` in s, ``label``) for the
        ``examples`` epoch; default: from ``attrs["example_duration"]``, else the span of each
        example's spikes.

    Returns
    -------
    neo.Block
        One Segment, one SpikeTrain per neuron, the examples as an Epoch.
    """
    neo, pq = _require_neo()
    meta = table_meta(df)
    block = neo.Block(name="brainlearn spikes")
    block.annotate(brainlearn=json.dumps(meta))
    t = df["t"].to_numpy()
    start = df.attrs.get("t_offset", 0.0)
    stop = start + df.attrs.get("duration", 0.0)
    segment = neo.Segment(name="recording")
    if "example" in df.columns:
        ex_start, ex_duration, labels = _example_epochs(df, examples)
        epoch = neo.Epoch(times=ex_start * pq.s, durations=ex_duration * pq.s,
                          labels=labels, name="examples")
        segment.epochs.append(epoch)
        if ex_start.size:
            start = min(start, float(ex_start.min()))
            stop = max(stop, float((ex_start + ex_duration).max()))
    if t.size:
        start, stop = min(start, float(t.min())), max(stop, float(t.max()))
    order, groups = group_by_neuron(df, neuron_ids(df))
    times = t[order]
    example = df["example"].to_numpy()[order] if "example" in df.columns else None
    for pop, neuron, rows in groups:
        train = neo.SpikeTrain(times[rows], units=pq.s, t_start=start * pq.s, t_stop=stop * pq.s,
                               dtype=np.float64, name=f"{pop}:{neuron}")
        train.annotate(population=pop, neuron=neuron)
        if example is not None:
            train.annotate(example=np.asarray(example[rows], dtype=np.int64))
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
    pops, neurons, times, examples = [], [], [], []
    labels = None
    for segment in block.segments:
        for epoch in segment.epochs:
            if epoch.name == "examples":
                labels = np.array([int(x) if str(x) else -1 for x in np.asarray(epoch.labels)],
                                  dtype=np.int64)
        for train in segment.spiketrains:
            n = len(train)
            try:
                pops.append(np.full(n, train.annotations["population"], dtype=object))
                neurons.append(np.full(n, train.annotations["neuron"], dtype=np.int64))
                if "example" in extras:
                    examples.append(np.atleast_1d(np.asarray(train.annotations["example"],
                                                             dtype=np.int64)))
            except KeyError as exc:
                raise ValueError(f"Neo block: spike train lacks annotation {exc}") from None
            times.append(np.asarray(train.rescale("s").magnitude, dtype=np.float64))

    def cat(parts, dtype):
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    codes = pd.Categorical(cat(pops, object), categories=meta["populations"]).codes
    arrays = {"neuron": cat(neurons, np.int64), "t": cat(times, np.float64)}
    if "example" in extras:
        arrays["example"] = cat(examples, np.int64)
    if "label" in extras:
        if labels is None:
            raise ValueError("Neo block: labelled spikes but no 'examples' epoch")
        arrays["label"] = labels[arrays["example"]]
    return canonical_order(table_from_arrays(meta, codes, arrays))


def write_neo(df: pd.DataFrame, path: str | os.PathLike,
              examples: pd.DataFrame | None = None) -> None:
    """Write a spike table as a Neo file with ``NeoMatlabIO`` (``.mat``, atomic); see
    :func:`to_neo` for ``examples``."""
    neo, _ = _require_neo()
    if not str(path).endswith(".mat"):
        raise ValueError(f"Neo files are written with NeoMatlabIO and must end in .mat, got {path}")
    block = to_neo(df, examples)
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
