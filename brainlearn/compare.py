"""One table for the learning methods on the same MNIST test set.

Rows come from finished run directories: a Diehl & Cook run (``brainlearn mnist train`` +
``evaluate --readout vote,logistic,online``) and a conversion run (``brainlearn convert train``
+ ``evaluate``). Columns: test accuracy, training wall time, simulated time per inference and
mean spikes per inference (an energy proxy).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["comparison_table", "write_comparison"]

COLUMNS = ["method", "accuracy", "train_seconds", "sim_ms_per_inference",
           "spikes_per_inference", "test_examples", "source"]


def _json(path: Path) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"{path} not found")
    return json.loads(path.read_text())


def _diehl_cook_rows(run_dir: Path) -> list[dict]:
    metrics = _json(run_dir / "metrics.json")
    if "accuracy" not in metrics:
        raise ValueError(f"{run_dir} is not evaluated yet: run brainlearn mnist evaluate {run_dir}")
    n = metrics["neurons"]
    names = {"vote": "vote (label assignment)", "logistic": "+ logistic readout",
             "online": "+ online delta-rule readout"}
    rows = []
    for key, label in names.items():
        acc = metrics.get(f"accuracy_{key}")
        if acc is None:
            continue
        rows.append({
            "method": f"Diehl & Cook STDP, N={n}, {label}",
            "accuracy": acc,
            "train_seconds": metrics.get("train_seconds", np.nan),
            # the input window; an image that evokes < 5 spikes is shown again (+500 ms)
            "sim_ms_per_inference": 350.0,
            "spikes_per_inference": metrics.get("test_spikes_per_example", np.nan),
            "test_examples": metrics.get("test_examples"),
            "source": str(run_dir),
        })
    return rows


def _conversion_rows(run_dir: Path, dt_ms: float = 1.0) -> list[dict]:
    config = _json(run_dir / "config.json")
    path = run_dir / "results.csv"
    if not path.exists():
        raise ValueError(f"{run_dir} is not evaluated yet: run brainlearn convert evaluate {run_dir}")
    results = pd.read_csv(path)
    best = results[(results["input"] == "analog") & (results["norm"].astype(str) == "99.9")
                   & (results["reset"] == "subtract")].sort_values("steps")
    hidden = "-".join(str(h) for h in config.get("hidden", []))
    rows = [{
        "method": f"ANN (ReLU MLP 784-{hidden}-10)",
        "accuracy": config.get("test_accuracy", results["ann_accuracy"].iloc[0]),
        "train_seconds": config.get("train_seconds", np.nan),
        "sim_ms_per_inference": np.nan, "spikes_per_inference": np.nan,
        "test_examples": int(results["n_examples"].max()), "source": str(run_dir),
    }]
    for _, r in best.iterrows():
        rows.append({
            "method": f"converted SNN, T={int(r['steps'])} (analog, 99.9 %, subtract)",
            "accuracy": r["accuracy"], "train_seconds": config.get("train_seconds", np.nan),
            "sim_ms_per_inference": r["steps"] * dt_ms,
            "spikes_per_inference": r["spikes_per_example"],
            "test_examples": int(r["n_examples"]), "source": str(run_dir),
        })
    return rows


def comparison_table(mnist_run: str | Path | None = None,
                     convert_run: str | Path | None = None) -> pd.DataFrame:
    """Collect the comparison rows of the given run directories into one DataFrame."""
    rows: list[dict] = []
    if mnist_run is not None:
        rows += _diehl_cook_rows(Path(mnist_run))
    if convert_run is not None:
        rows += _conversion_rows(Path(convert_run))
    if not rows:
        raise ValueError("give at least one run directory (--mnist-run, --convert-run)")
    return pd.DataFrame(rows, columns=COLUMNS)


def write_comparison(table: pd.DataFrame, out: str | Path) -> list[Path]:
    """Write ``comparison.csv``, ``comparison.md`` and ``accuracy_vs_spikes.png`` to ``out``."""
    from brainlearn.analysis.plots import _figure, save_figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "comparison.csv"
    tmp = csv.with_name(".comparison.csv.tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(csv)
    shown = table.drop(columns=["source"]).copy()
    shown["accuracy"] = (100 * shown["accuracy"]).round(2)
    shown["train_seconds"] = shown["train_seconds"].round(0)
    shown["spikes_per_inference"] = shown["spikes_per_inference"].round(1)
    md = out / "comparison.md"
    md.write_text(shown.rename(columns={"accuracy": "accuracy (%)"}).to_markdown(index=False) + "\n")
    fig = _figure(6.5, 4)
    ax = fig.add_subplot()
    for method, group in (("Diehl & Cook", table[table["method"].str.startswith("Diehl")]),
                          ("converted SNN", table[table["method"].str.startswith("converted")])):
        ok = group.dropna(subset=["spikes_per_inference"])
        if len(ok):
            ax.plot(ok["spikes_per_inference"], 100 * ok["accuracy"], "o-" if
                    method.startswith("conv") else "s", label=method)
    ann = table[table["method"].str.startswith("ANN")]
    if len(ann):
        ax.axhline(100 * ann["accuracy"].iloc[0], color="k", ls="--", label="ANN")
    ax.set(xscale="log", xlabel="spikes per inference", ylabel="test accuracy (%)",
           title="accuracy against spikes per inference")
    ax.legend(loc="lower right")
    png = save_figure(fig, out / "accuracy_vs_spikes.png")
    return [csv, md, png]
