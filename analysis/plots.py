"""Figures from spike tables and weights (matplotlib, no pyplot: Agg rendering).

Every function returns a :class:`matplotlib.figure.Figure`; :func:`save_figure`
writes it atomically. Figures are built with ``matplotlib.figure.Figure`` directly,
so nothing touches pyplot's global state or the user's interactive backend.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn.atomic import atomic_path

from .stats import firing_rates, psth

__all__ = ["new_figure", "raster", "psth_figure", "rate_histogram", "receptive_fields", "weight_histogram", "save_figure"]


def new_figure(width: float = 7.0, height: float = 4.0):
    """A matplotlib ``Figure`` (no pyplot state, constrained layout) of ``width`` x ``height`` inches."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def raster(spikes: pd.DataFrame, max_examples: int | None = 10, examples: pd.DataFrame | None = None):
    """Raster plot: one dot per spike, one row per neuron, populations stacked.

    Parameters
    ----------
    spikes : DataFrame
        A spike table.
    max_examples : int, optional
        Show only the first examples (keeps huge runs readable); None shows all.
    examples : DataFrame, optional
        The presented examples (``example``, ``start`` in s, ...): a line marks each start.
    """
    if max_examples is not None and "example" in spikes.columns and len(spikes):
        first = np.sort(np.unique(spikes["example"]))[:max_examples]
        spikes = spikes[spikes["example"].isin(first)]
    fig = new_figure()
    ax = fig.add_subplot()
    base = 0
    sizes = spikes.attrs.get("n_neurons", {})
    for pop in spikes["population"].cat.categories:
        part = spikes[spikes["population"] == pop]
        ax.scatter(part["t"], part["neuron"] + base, s=2, marker="|", label=pop, rasterized=True)
        base += sizes.get(pop, int(part["neuron"].max()) + 1 if len(part) else 0)
    if "example" in spikes.columns and len(spikes):
        shown = np.unique(spikes["example"])
        starts = None
        if examples is not None:
            starts = examples.set_index("example")["start"].reindex(shown).to_numpy()
        elif "example_duration" in spikes.attrs:
            starts = spikes.attrs.get("t_offset", 0.0) + shown * spikes.attrs["example_duration"]
        for start in [] if starts is None else starts:
            ax.axvline(start, color="0.85", lw=0.5, zorder=0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("neuron")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title("spike raster")
    if len(spikes["population"].cat.categories) > 1:
        ax.legend(loc="upper right", markerscale=4)
    return fig


def psth_figure(spikes: pd.DataFrame, bin_size, examples: pd.DataFrame | None = None):
    """Population PSTH (rate per neuron, Hz) over the example window; see :func:`psth`."""
    table = psth(spikes, bin_size, examples=examples)
    fig = new_figure()
    ax = fig.add_subplot()
    width = float(np.asarray(bin_size))
    for pop, part in table.groupby("population", sort=False):
        edges = np.append(part["t"].to_numpy(), part["t"].iloc[-1] + width)
        ax.stairs(part["rate"].to_numpy(), edges, label=str(pop))
    ax.set_xlabel("time from example onset (s)" if "example" in spikes.columns else "time (s)")
    ax.set_ylabel("rate per neuron (Hz)")
    ax.set_title("PSTH")
    ax.legend(loc="upper right")
    return fig


def rate_histogram(spikes: pd.DataFrame, duration=None, bins: int = 30):
    """Histogram of the neurons' mean firing rates, per population."""
    rates = firing_rates(spikes, duration)
    fig = new_figure()
    ax = fig.add_subplot()
    for pop, part in rates.groupby("population", sort=False):
        ax.hist(part["rate"], bins=bins, alpha=0.6, label=str(pop))
    ax.set_xlabel("firing rate (Hz)")
    ax.set_ylabel("neurons")
    ax.set_title("firing rates")
    ax.legend(loc="upper right")
    return fig


def receptive_fields(weights: np.ndarray, shape: tuple[int, int] = (28, 28), max_neurons: int = 100):
    """Grid of each neuron's input weights as an image (Diehl & Cook 2015, Fig. 2).

    Parameters
    ----------
    weights : array (n_inputs, n_neurons)
        Input-to-neuron weights, e.g. 784 x N.
    shape : (int, int)
        Image shape of one receptive field; ``shape[0] * shape[1] == n_inputs``.
    max_neurons : int
        Show at most this many neurons (the first ones).
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != shape[0] * shape[1]:
        raise ValueError(f"weights must be (n_inputs={shape[0] * shape[1]}, n_neurons), got {w.shape}")
    n = min(w.shape[1], max_neurons)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols)) if n else 1
    h, v = shape[0] + 1, shape[1] + 1  # one blank pixel between fields
    grid = np.full((rows * h - 1, cols * v - 1), np.nan)
    for k in range(n):
        r, c = divmod(k, cols)
        grid[r * h : r * h + shape[0], c * v : c * v + shape[1]] = w[:, k].reshape(shape)
    fig = new_figure(6, 6)
    ax = fig.add_subplot()
    from matplotlib import colormaps

    cmap = colormaps["hot_r"].with_extremes(bad="0.8")
    image = ax.imshow(grid, cmap=cmap, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"receptive fields ({n} of {w.shape[1]} neurons)")
    fig.colorbar(image, ax=ax, shrink=0.8, label="weight")
    return fig


def weight_histogram(weights: np.ndarray, bins: int = 50):
    """Histogram of all weights (e.g. to see STDP drive them to the bounds)."""
    fig = new_figure()
    ax = fig.add_subplot()
    ax.hist(np.asarray(weights, dtype=np.float64).ravel(), bins=bins)
    ax.set_xlabel("weight")
    ax.set_ylabel("synapses")
    ax.set_title("weight distribution")
    return fig


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save a figure atomically (format from the suffix, e.g. ``.png``)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    return Path(path)
