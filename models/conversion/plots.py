"""Accuracy against the number of time steps, for any table of :func:`evaluate`."""

from __future__ import annotations

import pandas as pd

__all__ = ["plot_accuracy"]


def _label(row: pd.Series, columns: list[str]) -> str:
    parts = []
    for column in columns:
        value = row[column]
        parts.append({"input": f"{value}", "norm": f"norm {value}", "reset": f"reset {value}",
                      "v_init": f"v_init {value:g}" if column == "v_init" else "",
                      "readout": f"{value} readout"}[column])
    return ", ".join(parts)


def plot_accuracy(results: pd.DataFrame):
    """Accuracy versus time steps ``T``: one line per configuration, the ANN dashed, the rate
    model dotted (where scored).

    Rows of the PyTorch replica (``simulator == "torch"``) are drawn as lines and Brian2's as
    large markers beside them; a table of Brian2 rows alone is drawn as lines. ``results`` is
    a table of :func:`~brainlearn.models.conversion.evaluate` (one split); returns a matplotlib
    ``Figure``.
    """
    from brainlearn.analysis.plots import new_figure

    results = results.copy()
    if "simulator" not in results:
        results["simulator"] = "brian2"
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    torch_rows = results[results["simulator"] == "torch"]
    brian = results[results["simulator"] == "brian2"]
    keys = [c for c in ("input", "norm", "reset", "v_init", "readout")
            if c in results and results[c].nunique(dropna=True) > 1]
    keys = keys or [c for c in ("input", "norm", "reset") if c in results]
    for name, part, style in (("IF (PyTorch)", torch_rows, dict(marker=".", lw=1)),
                              ("IF (Brian2)", brian,
                               dict(marker="D", ms=8, mfc="none", mew=1.5, ls="none")
                               if len(torch_rows) else dict(marker="o"))):
        if not len(part):
            continue
        for _, group in part.groupby(keys, dropna=False):
            group = group.sort_values("steps")
            ax.plot(group["steps"], 100 * group["accuracy"],
                    label=f"{name}, {_label(group.iloc[0], keys)}", **style)
    widest = results.loc[results["n_examples"].idxmax()]
    ann = widest["ann_accuracy"]
    ax.axhline(100 * ann, color="k", ls="--", lw=1,
               label=f"ANN {100 * ann:.2f} % ({int(widest['n_examples'])} images)")
    rate = results.dropna(subset=["rate_accuracy"]) if "rate_accuracy" in results else results[:0]
    if len(rate):
        r = rate.loc[rate["n_examples"].idxmax()]
        ax.axhline(100 * r["rate_accuracy"], color="0.4", ls=":", lw=1.5,
                   label=f"rate model {100 * r['rate_accuracy']:.2f} %")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("time steps T")
    ax.set_ylabel("test accuracy (%)")
    low = min(100 * results["accuracy"].min() - 2, 100 * ann - 3)
    ax.set_ylim(max(0, low), 100)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    return fig
