"""The side-by-side figure: LC-SNN and Diehl & Cook test accuracy against synapses, cells,
training time and spikes per image, from comparison tables (``brainlearn compare``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["side_by_side", "family_rows"]

#: (column, axis label) of the four panels
PANELS = (("synapses", "plastic synapses"), ("cells", "cells"),
          ("train_hours", "training time (h)"), ("spikes_per_inference", "spikes per test image"))


def family_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the figure: LC-SNN and Diehl & Cook vote rows, and LC-SNN n-gram rows,
    with ``family``, ``cells``, ``synapses`` and ``train_hours`` added (cells from the
    method's ``N=``; synapses 784 per Diehl & Cook cell, from ``parameters`` for LC-SNN)."""
    rows = []
    for _, row in table.iterrows():
        method = str(row["method"])
        match = re.search(r"N=(\d+)", method)
        if match is None:
            continue
        cells = int(match.group(1))
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
