"""Spike statistics on spike tables: rates, ISI, CV, Fano factor, PSTH.

Small pure functions, one table in, one table out, with the definitions Elephant uses
(``elephant.statistics``), against which the tests check them. For anything beyond
these, convert with :func:`brainlearn.analysis.to_neo` and call Elephant directly.
Silent neurons are included wherever the table knows its population sizes
(``attrs["n_neurons"]``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .spikes import check_spike_table, neuron_ids

__all__ = ["firing_rates", "class_rates", "isi", "cv", "fano_factor", "psth"]


def _seconds_attr(spikes: pd.DataFrame, value, key: str, what: str) -> float:
    if value is not None:
        from brian2 import second

        from brainlearn.units import check_quantity

        return float(check_quantity(what, value, second))
    if key not in spikes.attrs:
        raise ValueError(f"the spike table has no attrs[{key!r}]; pass {what}=... (a time)")
    return float(spikes.attrs[key])


def _neuron_index(spikes: pd.DataFrame) -> pd.MultiIndex:
    ids = neuron_ids(spikes)
    return pd.MultiIndex.from_tuples(
        [(pop, int(n)) for pop, ns in ids.items() for n in ns], names=["population", "neuron"]
    )


def _counts(spikes: pd.DataFrame, by: list[str]) -> pd.Series:
    keys = [spikes["population"].astype(object)] + [spikes[c] for c in by[1:]]
    return spikes.groupby(keys, sort=True).size().rename_axis(by)


def firing_rates(spikes: pd.DataFrame, duration=None) -> pd.DataFrame:
    """Mean firing rate of every neuron.

    ``rate = N / T`` with ``N`` the neuron's spike count and ``T`` the recorded time
    (``elephant.statistics.mean_firing_rate``).

    Parameters
    ----------
    spikes : DataFrame
        A spike table.
    duration : Quantity, optional
        Recorded time ``T``; default ``spikes.attrs["duration"]``.

    Returns
    -------
    DataFrame
        ``population``, ``neuron``, ``count``, ``rate`` (Hz); silent neurons have 0.
    """
    check_spike_table(spikes)
    period = _seconds_attr(spikes, duration, "duration", "duration")
    counts = _counts(spikes, ["population", "neuron"]).reindex(_neuron_index(spikes), fill_value=0)
    out = counts.rename("count").reset_index()
    out["rate"] = out["count"] / period
    return out


def _check_examples(examples: pd.DataFrame) -> pd.DataFrame:
    missing = {"example", "start", "duration"} - set(examples.columns)
    if missing:
        raise ValueError(f"examples must have the columns example, start, duration; missing {sorted(missing)}")
    return examples.set_index("example").sort_index()


def class_rates(spikes: pd.DataFrame, labels=None, examples: pd.DataFrame | None = None) -> pd.DataFrame:
    """Mean firing rate of every neuron for each class of examples.

    ``rate[n, c] = N[n, c] / (E_c * D)`` with ``N[n, c]`` the spikes of neuron ``n``
    during examples of class ``c``, ``E_c`` the number of examples of that class and
    ``D`` the example duration: the quantity Diehl & Cook (2015) use to assign a class
    to each excitatory neuron. With ``examples`` (whose durations may differ, e.g. images
    shown again after too few spikes), ``E_c * D`` becomes the summed duration of the
    class's examples.

    Parameters
    ----------
    spikes : DataFrame
        A spike table with ``example`` and ``label`` columns and
        ``attrs["example_duration"]``.
    labels : array of int, optional
        Label of every presented example. Without it ``E_c`` counts only the examples
        that drew at least one spike.
    examples : DataFrame, optional
        The presented examples (``example``, ``start``, ``duration`` in s, ``label``), as
        :func:`brainlearn.analysis.load_run_examples` returns them; replaces ``labels``
        and ``attrs["example_duration"]``.

    Returns
    -------
    DataFrame
        ``population``, ``neuron``, ``label``, ``rate`` (Hz), every neuron x class.
    """
    check_spike_table(spikes)
    if "label" not in spikes.columns:
        raise ValueError("class_rates needs a spike table with example and label columns")
    if examples is not None:
        table = _check_examples(examples)
        if "label" not in table.columns:
            raise ValueError("class_rates needs examples with a label column")
        per_class, period = table.groupby("label")["duration"].sum(), 1.0  # exposure (s)
    else:
        period = _seconds_attr(spikes, None, "example_duration", "example_duration")
        if labels is None:
            per_class = spikes.drop_duplicates("example")["label"].value_counts()
        else:
            per_class = pd.Series(np.asarray(labels, dtype=np.int64)).value_counts()
    classes = np.sort(per_class.index.to_numpy())
    neurons = _neuron_index(spikes)
    full = pd.MultiIndex.from_tuples(
        [(p, n, int(c)) for p, n in neurons for c in classes], names=["population", "neuron", "label"]
    )
    counts = _counts(spikes, ["population", "neuron", "label"]).reindex(full, fill_value=0)
    out = counts.rename("count").reset_index()
    out["rate"] = out["count"] / (out["label"].map(per_class).to_numpy() * period)
    return out.drop(columns="count")


def isi(spikes: pd.DataFrame) -> pd.DataFrame:
    """Inter-spike intervals ``t[k+1] - t[k]`` of every neuron (``elephant.statistics.isi``).

    Returns
    -------
    DataFrame
        ``population``, ``neuron``, ``isi`` (s), in neuron then time order.
    """
    check_spike_table(spikes)
    codes = spikes["population"].cat.codes.to_numpy()
    neuron = spikes["neuron"].to_numpy()
    t = spikes["t"].to_numpy()
    order = np.lexsort((t, neuron, codes))
    c, n, ts = codes[order], neuron[order], t[order]
    same = (c[1:] == c[:-1]) & (n[1:] == n[:-1])
    return pd.DataFrame({
        "population": pd.Categorical.from_codes(c[1:][same], dtype=spikes["population"].dtype),
        "neuron": n[1:][same],
        "isi": np.diff(ts)[same],
    })


def cv(spikes: pd.DataFrame) -> pd.DataFrame:
    """Coefficient of variation of the inter-spike intervals of every neuron.

    ``CV = std(ISI) / mean(ISI)`` with the population standard deviation (ddof 0), as
    ``elephant.statistics.cv`` (Holt et al. 1996, J Neurophysiol 75:1806). 1 for a
    Poisson process, 0 for a regular one; NaN for neurons with fewer than 2 intervals.

    Returns
    -------
    DataFrame
        ``population``, ``neuron``, ``cv``.
    """
    intervals = isi(spikes)
    grouped = intervals.groupby([intervals["population"].astype(object), "neuron"])["isi"]
    values = (grouped.std(ddof=0) / grouped.mean()).where(grouped.size() >= 2)
    values = values.rename_axis(["population", "neuron"]).reindex(_neuron_index(spikes))
    return values.rename("cv").reset_index()


def fano_factor(spikes: pd.DataFrame, n_examples: int | None = None) -> pd.DataFrame:
    """Fano factor of every neuron's spike count across examples.

    ``F = Var(N) / E[N]`` of the counts ``N`` per example (ddof 0), as
    ``elephant.statistics.fanofactor`` applied to one neuron's spike trains across
    trials (Fano 1947, Phys Rev 72:26). NaN for a neuron that never spiked.

    Parameters
    ----------
    spikes : DataFrame
        A spike table with an ``example`` column.
    n_examples : int, optional
        Number of presented examples (``0 .. n_examples-1``); default: the examples
        that occur in the table.

    Returns
    -------
    DataFrame
        ``population``, ``neuron``, ``fano``.
    """
    check_spike_table(spikes)
    if "example" not in spikes.columns:
        raise ValueError("fano_factor needs a spike table with an example column")
    examples = np.arange(n_examples) if n_examples is not None else np.unique(spikes["example"])
    neurons = _neuron_index(spikes)
    counts = _counts(spikes, ["population", "neuron", "example"]).unstack("example", fill_value=0)
    counts = counts.reindex(index=neurons, columns=examples, fill_value=0).to_numpy(dtype=np.float64)
    mean = counts.mean(axis=1) if examples.size else np.full(len(neurons), np.nan)
    var = counts.var(axis=1) if examples.size else mean
    with np.errstate(invalid="ignore", divide="ignore"):
        fano = np.where(mean > 0, var / np.where(mean > 0, mean, 1), np.nan)
    return pd.DataFrame({"population": neurons.get_level_values(0), "neuron": neurons.get_level_values(1), "fano": fano})


def psth(spikes: pd.DataFrame, bin_size, window=None, examples: pd.DataFrame | None = None) -> pd.DataFrame:
    """Peri-stimulus time histogram of every population.

    With examples, spike times are taken from the start of their example
    (``t - t_offset - example * example_duration``) and pooled over examples;
    without, the histogram runs over the recording from ``t_offset``.
    ``rate[b] = N[b] / (K * M * bin_size)`` with ``N[b]`` the spikes in bin ``b``,
    ``K`` the number of neurons and ``M`` the number of examples (1 without), as
    ``elephant.statistics.time_histogram(..., output="rate")``. With an ``examples``
    table, times are taken from each example's recorded ``start``, and ``M`` of a bin
    counts the examples that lasted past the bin's start (examples differ in length when
    images are shown again).

    Parameters
    ----------
    spikes : DataFrame
        A spike table.
    bin_size : Quantity
        Bin width.
    window : Quantity, optional
        Histogram length; default the example duration (or the recorded duration; with
        ``examples``, the longest example).
    examples : DataFrame, optional
        The presented examples (``example``, ``start``, ``duration`` in s), as
        :func:`brainlearn.analysis.load_run_examples` returns them.

    Returns
    -------
    DataFrame
        ``population``, ``t`` (bin start, s), ``count``, ``rate`` (Hz).
    """
    from brian2 import second

    from brainlearn.units import check_quantity

    check_spike_table(spikes)
    width = float(check_quantity("bin_size", bin_size, second))
    if width <= 0:
        raise ValueError(f"bin_size must be positive, got {bin_size!r}")
    offset = float(spikes.attrs.get("t_offset", 0.0))
    t = spikes["t"].to_numpy() - offset
    trials = None
    if examples is not None:
        if "example" not in spikes.columns:
            raise ValueError("psth with examples needs a spike table with an example column")
        table = _check_examples(examples)
        t = spikes["t"].to_numpy() - table["start"].reindex(spikes["example"].to_numpy()).to_numpy()
        durations = table["duration"].to_numpy()
        n_trials, default = max(len(table), 1), float(durations.max()) if len(durations) else None
        trials = durations
    elif "example" in spikes.columns:
        period = _seconds_attr(spikes, None, "example_duration", "example_duration")
        t = t - spikes["example"].to_numpy() * period
        n_trials = max(int(np.unique(spikes["example"]).size), 1)
        default = period
    else:
        n_trials, default = 1, spikes.attrs.get("duration")
    length = float(check_quantity("window", window, second)) if window is not None else default
    if length is None:
        raise ValueError("the spike table has no attrs['duration']; pass window=... (a time)")
    n_bins = max(int(round(length / width)), 1)
    edges = np.arange(n_bins + 1) * width
    if trials is not None:  # examples still running at each bin's start
        n_trials = np.maximum((trials[None, :] > edges[:-1, None]).sum(axis=1), 1)
    codes = spikes["population"].cat.codes.to_numpy()
    sizes = {p: len(ids) for p, ids in neuron_ids(spikes).items()}
    frames = []
    for code, pop in enumerate(spikes["population"].cat.categories):
        counts, _ = np.histogram(t[codes == code], bins=edges)
        norm = max(sizes[pop], 1) * n_trials * width
        frames.append(pd.DataFrame({"population": pop, "t": edges[:-1], "count": counts, "rate": counts / norm}))
    return pd.concat(frames, ignore_index=True)
