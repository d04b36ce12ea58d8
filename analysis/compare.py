"""One table for the learning methods on the same MNIST test set.

Each model answers for its own rows (``rows`` of its :class:`brainlearn.models.contract.ModelSpec`);
this module only puts rows together, writes them and draws them, so it knows no model. Columns:
:data:`COLUMNS`: test accuracy, training wall time, inference steps and simulated time per
inference, mean spikes per inference (an energy proxy), learned parameters, whether learning is
local and online, the number of test examples, the run directory the row came from, and the
registry name of the model that wrote it.

>>> table = comparison_table([{"method": "chance", "accuracy": 0.1, "model": "none"}])
>>> list(table.columns) == COLUMNS
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn.atomic import atomic_path

__all__ = ["COLUMNS", "comparison_table", "write_comparison", "pixel_baseline_row"]

COLUMNS = ["method", "accuracy", "train_seconds", "inference_steps", "sim_ms_per_inference",
           "spikes_per_inference", "parameters", "local_online_learning", "test_examples",
           "source", "model"]


def pixel_baseline_row(data: str = "full", seed: int = 0) -> dict:
    """Logistic regression on raw pixels: the reference a readout on spike counts must beat.

    The same estimator as the spike-count readout (:class:`brainlearn.readout.LogisticReadout`:
    standardised features, multinomial, L2 with C = 1), fitted on the 784 pixels of the
    training images and scored on the test images.

    Parameters
    ----------
    data : str
        ``"full"`` (MNIST from the cache) or ``"embedded"`` (the shipped subset).
    seed : int
        Random state of the solver.

    Returns
    -------
    dict
        One row with the columns :data:`COLUMNS`.
    """
    import time

    from brainlearn.data import load_mnist
    from brainlearn.readout import LogisticReadout

    x, y = load_mnist("train", source=data)
    xt, yt = load_mnist("test", source=data)
    start = time.perf_counter()
    model = LogisticReadout(random_state=seed).fit(x.reshape(len(x), -1) / 255.0, y)
    seconds = time.perf_counter() - start
    return {
        "method": "logistic regression on raw pixels (no spikes)",
        "accuracy": model.score(xt.reshape(len(xt), -1) / 255.0, yt),
        "train_seconds": seconds, "inference_steps": np.nan, "sim_ms_per_inference": np.nan,
        "spikes_per_inference": np.nan, "parameters": 785 * 10,
        "local_online_learning": "no (batch fit)", "test_examples": len(yt),
        "source": f"MNIST ({data})", "model": "pixels",
    }


def comparison_table(rows: Iterable[Mapping]) -> pd.DataFrame:
    """The comparison rows as one DataFrame with the columns :data:`COLUMNS`, in order.

    Parameters
    ----------
    rows : iterable of mappings
        One per method, as the models' ``rows`` callables return them
        (:func:`brainlearn.models.contract.comparison_rows`) or :func:`pixel_baseline_row`.
        A missing column is NaN; an extra key is an error (a typo would otherwise vanish).

    Returns
    -------
    pandas.DataFrame
        One row per method.
    """
    rows = [dict(row) for row in rows]
    if not rows:
        raise ValueError("no rows to compare: give at least one evaluated run directory")
    for row in rows:
        extra = sorted(set(row) - set(COLUMNS))
        if extra:
            raise ValueError(f"comparison row {row.get('method', '?')!r} has unknown "
                             f"column(s) {', '.join(extra)}; the columns are {', '.join(COLUMNS)}")
    return pd.DataFrame(rows, columns=COLUMNS)


def write_comparison(table: pd.DataFrame, out: str | Path) -> list[Path]:
    """Write ``comparison.csv``, ``comparison.md`` and ``accuracy_vs_spikes.png`` to ``out``."""
    from .plots import new_figure, save_figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "comparison.csv"
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False)
    shown = table.drop(columns=["source", "model"]).copy()
    shown["accuracy"] = (100 * shown["accuracy"]).round(2)
    shown["train_seconds"] = shown["train_seconds"].round(0)
    shown["spikes_per_inference"] = shown["spikes_per_inference"].round(1)
    for column in ("train_seconds", "inference_steps", "sim_ms_per_inference", "parameters"):
        shown[column] = [f"{v:g}" if pd.notna(v) else "" for v in shown[column]]
    md = out / "comparison.md"
    with atomic_path(md) as tmp:
        tmp.write_text(shown.rename(columns={"accuracy": "accuracy (%)"}).to_markdown(index=False)
                       + "\n")
    fig = new_figure(6.5, 4)
    ax = fig.add_subplot()
    spiking = table.dropna(subset=["spikes_per_inference"])
    for model, group in spiking.groupby("model", sort=False):
        ax.plot(group["spikes_per_inference"], 100 * group["accuracy"],
                "o-" if group["inference_steps"].nunique() > 1 else "s", label=model)
    references = table[table["spikes_per_inference"].isna()].drop_duplicates("method")
    for (_, row), ls in zip(references.iterrows(), ("--", ":", "-.") * len(references),
                            strict=False):
        ax.axhline(100 * row["accuracy"], color="k", ls=ls, lw=1, label=row["method"])
    ax.set(xscale="log", xlabel="spikes per inference", ylabel="test accuracy (%)",
           title="accuracy against spikes per inference")
    ax.legend(loc="lower right", fontsize="small")
    png = save_figure(fig, out / "accuracy_vs_spikes.png")
    return [csv, md, png]
