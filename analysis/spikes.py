"""The spike table: brainlearn's one long-format representation of spikes.

A spike table is a :class:`pandas.DataFrame` with one row per spike:

==============  ===========  ==================================================
column          dtype        meaning
==============  ===========  ==================================================
``population``  category     name of the neuron group (categories list *every*
                             population, also those that never spiked)
``neuron``      int64        index of the neuron inside its population
``t``           float64      spike time in seconds, exactly as Brian2 stored it
``example``     int64        index of the presented example (optional)
``label``       int64        class label of that example (optional)
==============  ===========  ==================================================

Rows are in *canonical order*: by population (category order), then time, then
neuron. ``df.attrs`` carries what a table of spikes cannot show by itself (see
:data:`META_KEYS`): ``n_neurons`` (population -> size, so silent neurons are
known), ``duration`` (recorded time in s), ``example_duration`` and ``t_offset``
(s). Every writer in :mod:`brainlearn.analysis` stores these, so a written then
read table is identical, attrs included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "SPIKE_COLUMNS",
    "META_KEYS",
    "spike_table",
    "spikes_from_monitor",
    "state_table",
    "concat_spike_tables",
    "canonical_order",
    "group_by_neuron",
    "neuron_ids",
    "check_spike_table",
    "population_dtype",
    "table_meta",
]

#: Column names and dtypes of a spike table, in order (example/label optional).
SPIKE_COLUMNS: dict[str, str] = {
    "population": "category",
    "neuron": "int64",
    "t": "float64",
    "example": "int64",
    "label": "int64",
}
#: Keys of ``df.attrs`` that every format stores and restores.
META_KEYS = ("n_neurons", "duration", "example_duration", "t_offset")
_OPTIONAL = ("example", "label")


def population_dtype(populations: Iterable[str]) -> pd.CategoricalDtype:
    """The categorical dtype of the ``population`` column for these population names."""
    names = [str(p) for p in populations]
    if len(set(names)) != len(names):
        raise ValueError(f"population names must be unique, got {names}")
    return pd.CategoricalDtype(pd.Index(names, dtype=object), ordered=False)


def _seconds(name: str, value, *, allow_array: bool = False) -> np.ndarray | float:
    """A Brian2 time quantity as float64 seconds (the exact stored values)."""
    from brian2 import second

    from brainlearn.units import check_quantity

    check_quantity(name, value, second, allow_array=allow_array)
    return np.asarray(value, dtype=np.float64) if allow_array else float(value)


def spike_table(
    i,
    t,
    population: str = "neurons",
    *,
    n_neurons: int | None = None,
    example_duration=None,
    labels: Sequence[int] | np.ndarray | None = None,
    t_offset=None,
    duration=None,
) -> pd.DataFrame:
    """Build a spike table from neuron indices and spike times.

    Parameters
    ----------
    i : array of int
        Neuron index of each spike.
    t : Quantity
        Spike times (an array with time units, e.g. ``monitor.t``). Stored as float64
        seconds, bit for bit the values Brian2 holds.
    population : str
        Name of the population.
    n_neurons : int, optional
        Size of the population (so silent neurons count in rates and exports).
    example_duration : Quantity, optional
        Time per presented example. When given, ``example = floor((t - t_offset) /
        example_duration)`` and spikes before ``t_offset`` are dropped.
    labels : array of int, optional
        Label of each example; adds ``label = labels[example]``. Needs
        ``example_duration``.
    t_offset : Quantity, optional
        Start time of example 0 (default 0 s).
    duration : Quantity, optional
        Recorded time (for rates); stored in ``attrs["duration"]``.

    Returns
    -------
    DataFrame
        A spike table in canonical order (see the module docstring).
    """
    times = _seconds("t", t, allow_array=True).ravel()
    idx = np.asarray(i)
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"i must hold integer neuron indices, got dtype {idx.dtype}")
    idx = idx.astype(np.int64, copy=False).ravel()
    if idx.shape != times.shape:
        raise ValueError(f"i and t must have the same length, got {idx.size} and {times.size}")
    attrs: dict = {}
    if n_neurons is not None:
        n_neurons = int(n_neurons)
        if idx.size and (idx.min() < 0 or idx.max() >= n_neurons):
            raise ValueError(f"neuron indices must lie in [0, {n_neurons}), got {idx.min()}..{idx.max()}")
        attrs["n_neurons"] = {str(population): n_neurons}
    if duration is not None:
        attrs["duration"] = _seconds("duration", duration)
    columns = {"neuron": idx, "t": times}
    if labels is not None and example_duration is None:
        raise ValueError("labels need example_duration (the time per example), e.g. 0.5*second")
    if example_duration is not None:
        period = _seconds("example_duration", example_duration)
        if period <= 0:
            raise ValueError(f"example_duration must be positive, got {example_duration!r}")
        offset = 0.0 if t_offset is None else _seconds("t_offset", t_offset)
        keep = times >= offset
        if not keep.all():
            columns = {k: v[keep] for k, v in columns.items()}
        example = np.floor((columns["t"] - offset) / period).astype(np.int64)
        columns["example"] = example
        attrs["example_duration"] = period
        attrs["t_offset"] = offset
        if labels is not None:
            lab = np.asarray(labels).astype(np.int64).ravel()
            if example.size and example.max() >= lab.size:
                raise ValueError(
                    f"spikes fall in example {example.max()} but only {lab.size} labels were given"
                )
            columns["label"] = lab[example]
    elif t_offset is not None:
        attrs["t_offset"] = _seconds("t_offset", t_offset)
    n = columns["t"].size
    frame = pd.DataFrame(
        {
            "population": pd.Categorical.from_codes(
                np.zeros(n, dtype=np.int8), dtype=population_dtype([population])
            ),
            **columns,
        }
    )
    frame.attrs.update(attrs)
    return canonical_order(frame)


def spikes_from_monitor(
    monitor,
    population: str | None = None,
    example_duration=None,
    labels=None,
    t_offset=None,
) -> pd.DataFrame:
    """Build a spike table from a Brian2 :class:`~brian2.monitors.SpikeMonitor`.

    Parameters
    ----------
    monitor : SpikeMonitor
        A monitor that recorded spikes (``record=True``), after the run.
    population : str, optional
        Population name; defaults to the name of the monitored group.
    example_duration, labels, t_offset
        As in :func:`spike_table`.

    Returns
    -------
    DataFrame
        The spike table, with ``attrs["n_neurons"]`` set to the size of the group and
        ``attrs["duration"]`` to the monitor's clock time minus ``t_offset``.
    """
    from brian2 import second

    variables = getattr(monitor, "variables", None)
    if variables is None or "i" not in variables or "t" not in variables:
        raise ValueError(
            f"{monitor!r} is not a SpikeMonitor that records spikes (record=True)"
        )
    source = monitor.source
    name = population if population is not None else source.name
    offset = 0.0 if t_offset is None else _seconds("t_offset", t_offset)
    t_now = float(monitor.clock.t_[:])
    return spike_table(
        variables["i"].get_value(),
        np.array(variables["t"].get_value(), dtype=np.float64) * second,
        name,
        n_neurons=len(source),
        example_duration=example_duration,
        labels=labels,
        t_offset=t_offset,
        duration=max(t_now - offset, 0.0) * second,
    )


def state_table(monitor, variables: Sequence[str] | None = None, population: str | None = None):
    """Long-format table of a Brian2 :class:`~brian2.monitors.StateMonitor`.

    Parameters
    ----------
    monitor : StateMonitor
        The monitor, after the run.
    variables : list of str, optional
        Variables to include (default: every recorded one).
    population : str, optional
        Population name; defaults to the name of the monitored group.

    Returns
    -------
    DataFrame
        Columns ``population``, ``neuron``, ``t`` (s) and one float64 column per
        variable in SI base units (volts for ``v``), one row per neuron and time step.
    """
    recorded = list(getattr(monitor, "record_variables", []))
    if not recorded:
        raise ValueError(f"{monitor!r} is not a StateMonitor that records variables")
    names = recorded if variables is None else list(variables)
    missing = [v for v in names if v not in recorded]
    if missing:
        raise ValueError(f"variables {missing} were not recorded; recorded are {recorded}")
    store = monitor.variables
    times = np.asarray(store["t"].get_value(), dtype=np.float64)
    neurons = np.asarray(store["_indices"].get_value(), dtype=np.int64)
    name = population if population is not None else monitor.source.name
    n = neurons.size * times.size
    frame = pd.DataFrame(
        {
            "population": pd.Categorical.from_codes(
                np.zeros(n, dtype=np.int8), dtype=population_dtype([name])
            ),
            "neuron": np.repeat(neurons, times.size),
            "t": np.tile(times, neurons.size),
        }
    )
    for var in names:  # stored as (time, neuron); rows here are neuron-major
        frame[var] = np.asarray(store[var].get_value(), dtype=np.float64).T.ravel()
    return frame


def canonical_order(df: pd.DataFrame) -> pd.DataFrame:
    """Sort a spike table by population (category order), time, then neuron.

    A table already in that order is returned as is (no copy).
    """
    codes = df["population"].cat.codes.to_numpy()
    t = df["t"].to_numpy()
    neuron = df["neuron"].to_numpy()
    if len(df) < 2 or _is_canonical(codes, t, neuron):
        return df
    order = np.lexsort((neuron, t, codes))
    out = df.iloc[order].reset_index(drop=True)
    out.attrs = dict(df.attrs)
    return out


def _is_canonical(codes: np.ndarray, t: np.ndarray, neuron: np.ndarray) -> bool:
    dc = np.diff(codes.astype(np.int64))
    dt = np.diff(t)
    dn = np.diff(neuron)
    return bool(np.all((dc > 0) | ((dc == 0) & ((dt > 0) | ((dt == 0) & (dn >= 0))))))


def neuron_ids(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Neuron indices of every population: ``range(n_neurons)`` when the size is known
    (silent neurons included), else the neurons that spiked."""
    sizes = df.attrs.get("n_neurons", {})
    pops = df["population"]
    return {
        pop: np.arange(sizes[pop]) if pop in sizes
        else np.unique(df["neuron"].to_numpy()[(pops == pop).to_numpy()])
        for pop in pops.cat.categories
    }


def group_by_neuron(df: pd.DataFrame, neurons: Mapping[str, np.ndarray] | None = None):
    """Spikes of each neuron, silent ones included.

    Parameters
    ----------
    df : DataFrame
        A spike table.
    neurons : dict, optional
        Population -> neuron indices to list (default :func:`neuron_ids`).

    Returns
    -------
    order : array of int
        Row order of ``df`` sorted by (population, neuron, time).
    groups : list of (str, int, slice)
        ``(population, neuron, rows)``: ``df.iloc[order[rows]]`` are that neuron's
        spikes in time order (an empty slice for a silent neuron).
    """
    codes = df["population"].cat.codes.to_numpy()
    neuron = df["neuron"].to_numpy()
    order = np.lexsort((df["t"].to_numpy(), neuron, codes))
    sc, sn = codes[order], neuron[order]
    neurons = neuron_ids(df) if neurons is None else neurons
    groups = []
    for code, pop in enumerate(df["population"].cat.categories):
        lo, hi = np.searchsorted(sc, [code, code + 1])
        ids = np.asarray(neurons[pop], dtype=np.int64)
        starts = lo + np.searchsorted(sn[lo:hi], ids, side="left")
        stops = lo + np.searchsorted(sn[lo:hi], ids, side="right")
        groups += [(pop, int(i), slice(a, b)) for i, a, b in zip(ids, starts, stops, strict=True)]
    listed = sum(g[2].stop - g[2].start for g in groups)
    if listed != len(df):
        raise ValueError(
            f"{len(df) - listed} spikes belong to neurons outside n_neurons {df.attrs.get('n_neurons')}"
        )
    return order, groups


def concat_spike_tables(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Join spike tables of different populations into one canonical table.

    Population lists, ``n_neurons`` and the other attrs are merged; conflicting attrs
    (two different ``example_duration``) raise ``ValueError``.
    """
    if not tables:
        raise ValueError("need at least one spike table to concatenate")
    populations: list[str] = []
    attrs: dict = {}
    for table in tables:
        check_spike_table(table)
        for pop in table["population"].cat.categories:
            if pop in populations:
                raise ValueError(f"population {pop!r} appears in more than one table")
            populations.append(pop)
        for key, value in table.attrs.items():
            if key == "n_neurons":
                attrs.setdefault("n_neurons", {}).update(value)
            elif key in attrs and attrs[key] != value:
                raise ValueError(f"tables disagree on {key}: {attrs[key]!r} vs {value!r}")
            else:
                attrs[key] = value
    columns = list(tables[0].columns)
    if any(list(t.columns) != columns for t in tables):
        raise ValueError("spike tables to concatenate must have the same columns")
    dtype = population_dtype(populations)
    parts = [t.assign(population=t["population"].astype(str).astype(dtype)) for t in tables]
    frame = pd.concat(parts, ignore_index=True)
    frame["population"] = frame["population"].astype(dtype)
    frame.attrs = attrs
    return canonical_order(frame)


def check_spike_table(df: pd.DataFrame) -> pd.DataFrame:
    """Check that ``df`` is a spike table; raise ``ValueError`` saying what is wrong.

    Returns ``df`` unchanged.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"a spike table must be a pandas DataFrame, got {type(df).__name__}")
    required = ["population", "neuron", "t"]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(
            f"not a spike table: missing columns {missing} (have {list(df.columns)}); "
            "build one with brainlearn.analysis.spike_table or spikes_from_monitor"
        )
    extra = [c for c in df.columns if c not in SPIKE_COLUMNS]
    if extra:
        raise ValueError(f"not a spike table: unexpected columns {extra}")
    if "label" in df.columns and "example" not in df.columns:
        raise ValueError("a spike table with a label column needs an example column")
    if not isinstance(df["population"].dtype, pd.CategoricalDtype):
        raise ValueError("the population column must be categorical (see population_dtype)")
    for col in df.columns[1:]:
        if str(df[col].dtype) != SPIKE_COLUMNS[col]:
            raise ValueError(f"column {col} must be {SPIKE_COLUMNS[col]}, got {df[col].dtype}")
    unknown = [k for k in df.attrs if k not in META_KEYS]
    if unknown:
        raise ValueError(f"unknown spike-table attrs {unknown}; allowed are {list(META_KEYS)}")
    return df


def table_meta(df: pd.DataFrame) -> dict:
    """The JSON-serialisable description every format stores next to the spikes."""
    check_spike_table(df)
    return {
        "format": "brainlearn-spikes",
        "version": 1,
        "populations": [str(p) for p in df["population"].cat.categories],
        "columns": list(df.columns),
        "attrs": _plain(df.attrs),
    }


def _plain(attrs: Mapping) -> dict:
    """attrs with numpy scalars turned into Python numbers (exact for JSON)."""
    out: dict = {}
    for key, value in attrs.items():
        if isinstance(value, Mapping):
            out[key] = {str(k): int(v) for k, v in value.items()}
        else:
            out[key] = float(value)
    return out
