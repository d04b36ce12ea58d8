"""The side-by-side figure: LC-SNN and Diehl & Cook test accuracy against synapses, cells,
training time and spikes per image, from comparison tables (``brainlearn compare``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["side_by_side", "family_rows", "plot_run"]

#: (column, axis label) of the four panels
PANELS = (("synapses", "plastic synapses"), ("cells", "cells"),
          ("train_hours", "training time (h)"), ("spikes_per_inference", "spikes per test image"))


def family_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the figure: LC-SNN and Diehl & Cook vote rows, and LC-SNN n-gram rows
    (the offline readout; the rows of the authors' protocol are left out), with ``family``,
    ``cells``, ``synapses`` and ``train_hours`` added (cells from the method's ``N=``;
    synapses 784 per Diehl & Cook cell, from ``parameters`` for LC-SNN)."""
    rows = []
    for _, row in table.iterrows():
        method = str(row["method"])
        match = re.search(r"N=(\d+)", method)
        if match is None:
            continue
        cells = int(match.group(1))
        if "authors' protocol" in method:  # the figure's n-gram is the offline readout's
            continue
        if method.startswith("LC-SNN") and ("vote" in method or "n-gram" in method):
            family = "LC-SNN, " + ("n-gram" if "n-gram" in method else "vote")
            readout = cells if "vote" in method else None
            synapses = (int(row["parameters"]) - 2 * cells) if readout else np.nan
        elif method.startswith("Diehl & Cook") and "vote" in method:
            family, synapses = "Diehl & Cook, vote", 784 * cells
        else:
            continue
        rows.append({**row.to_dict(), "family": family, "cells": cells, "synapses": synapses,
                     "train_hours": float(row["train_seconds"]) / 3600})
    out = pd.DataFrame(rows)
    if len(out):  # n-gram rows share their run's synapse count with its vote row
        by_source = out.dropna(subset=["synapses"]).set_index("source")["synapses"]
        out["synapses"] = out["synapses"].fillna(out["source"].map(by_source))
    return out


def side_by_side(table: pd.DataFrame, out: str | Path) -> Path:
    """Four panels of test accuracy (%) against synapses, cells, training hours and spikes
    per test image, one line per family (mean over seeds at each size); written to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from brainlearn.atomic import atomic_path

    rows = family_rows(table)
    if rows.empty:
        raise ValueError("no LC-SNN or Diehl & Cook rows to plot")
    fig, axes = plt.subplots(1, 4, figsize=(16, 4), sharey=True)
    for ax, (column, label) in zip(axes, PANELS, strict=True):
        for family, group in rows.groupby("family"):
            mean = (group.groupby("cells", as_index=False)
                    .agg({column: "mean", "accuracy": "mean"}).sort_values(column))
            ax.plot(mean[column], 100 * mean["accuracy"], "o-", label=family)
        ax.set_xscale("log")
        low, high = ax.get_xlim()
        # under a decade there is no major tick to label: label the minor ones instead
        ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}")
                                     if high / low < 10 else matplotlib.ticker.NullFormatter())
        ax.set_xlabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return out


def plot_run(run_dir: str | Path) -> list[Path]:
    """Write a run's figures into its directory and return their paths.

    ``receptive_fields.png``: every filter's kernel at the centre location (the weights of
    cells ``f * L**2 + L**2 // 2``), as the paper's filter figures; ``theta.png``: the adaptive
    thresholds; once evaluated, ``confusion.png``: the vote readout on the test images.
    Uses the core's plots (:mod:`brainlearn.analysis.plots`), as Diehl & Cook's runs do.
    """
    from brainlearn import rundir
    from brainlearn.analysis.plots import new_figure, receptive_fields, save_figure
    from brainlearn.models.lcsnn.runs import EVALUATION, fit_readout, trained_state

    run = rundir.open_run(run_dir)
    config, p, weights, theta = trained_state(run)
    k2, n_loc2 = p.kernel ** 2, p.locations ** 2
    kernels = weights.reshape(p.n_neurons, k2)[n_loc2 // 2::n_loc2].T  # (k*k, filters)
    written = [save_figure(receptive_fields(kernels, (p.kernel, p.kernel), p.n_filters),
                           run / "receptive_fields.png")]
    fig = new_figure(5, 3.5)
    ax = fig.add_subplot()
    ax.hist(theta * 1e3, bins=30, color="tab:orange")
    ax.set(xlabel="theta (mV)", ylabel="cells", title="adaptive thresholds after training")
    written.append(save_figure(fig, run / "theta.png"))
    if (run / EVALUATION).exists():
        with np.load(run / EVALUATION) as f:
            arrays = {k: f[k] for k in f.files}
        truth = arrays["test_labels"]
        pred = fit_readout("vote", arrays, config.get("seed", 0)).predict(arrays["test_counts"])
        confusion = np.zeros((10, 10), dtype=int)
        np.add.at(confusion, (truth, pred), 1)
        fig = new_figure(5, 4.5)
        ax = fig.add_subplot()
        image = ax.imshow(confusion, cmap="Blues")
        ax.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10),
               title=f"vote readout (accuracy {100 * (truth == pred).mean():.1f} %)")
        fig.colorbar(image, ax=ax, shrink=0.8)
        written.append(save_figure(fig, run / "confusion.png"))
    return written
