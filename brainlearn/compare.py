"""One table for the learning methods on the same MNIST test set.

Rows come from finished run directories: a Diehl & Cook run (``brainlearn mnist train`` +
``evaluate --readout vote,logistic,online``: STDP alone and the hybrids STDP layer + supervised
readout; with ``brainlearn hybrid train`` + ``evaluate`` also the STDP + BP hybrid, a LIF output
layer trained by BPTT on the layer's spikes), a conversion run (``brainlearn convert train`` + ``evaluate``), a converted-CNN run
(``brainlearn convert cnn``) and a surrogate-gradient
run (``brainlearn surrogate train`` + ``evaluate``: the trainer's forward pass and the same
network in Brian2). Columns: test accuracy, training wall time, inference steps and simulated
time per inference, mean spikes per inference (an energy proxy), learned parameters, and
whether learning is local and online.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn import rundir
from brainlearn.atomic import atomic_path

__all__ = ["comparison_table", "write_comparison", "pixel_baseline_row"]

COLUMNS = ["method", "accuracy", "train_seconds", "inference_steps", "sim_ms_per_inference",
           "spikes_per_inference", "parameters", "local_online_learning", "test_examples",
           "source"]

#: Diehl & Cook defaults when the run's config.json does not say (350 ms input, dt 0.5 ms)
DC_INPUT_MS, DC_DT_MS = 350.0, 0.5


def _json(path: Path) -> dict:
    if not path.exists():
        raise FileNotFoundError(f"{path} not found")
    return rundir.read_json(path)


def _run_info(run_dir: Path) -> dict:
    """config.json with metrics.json over it (runs written before metrics.json held the
    training results kept them in config.json)."""
    return {**_json(run_dir / rundir.CONFIG), **rundir.read_metrics(run_dir)}


def _ms(text, default: float) -> float:
    """Milliseconds from a config string such as ``"0.35 s"`` or ``"150. ms"``."""
    try:
        value, unit = str(text).split()
        return float(value) * {"s": 1000.0, "ms": 1.0, "us": 1e-3}[unit]
    except (ValueError, KeyError):
        return default


def _mlp_parameters(sizes) -> int:
    return int(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True)))


def _diehl_cook_rows(run_dir: Path) -> list[dict]:
    metrics = _json(run_dir / "metrics.json")
    if "accuracy" not in metrics:
        raise ValueError(f"{run_dir} is not evaluated yet: run brainlearn mnist evaluate {run_dir}")
    n = metrics["neurons"]
    params = {}
    if (run_dir / "config.json").exists():
        params = _json(run_dir / "config.json").get("params", {})
    t_input = _ms(params.get("t_input"), DC_INPUT_MS)
    dt = _ms(params.get("dt"), DC_DT_MS)
    stdp_parameters = 784 * n + n  # input weights and adaptive thresholds (theta)
    names = {"vote": "vote (label assignment)", "logistic": "+ logistic readout",
             "online": "+ online delta-rule readout",
             "eprop": "+ e-prop readout (Brian2)"}
    readout_parameters = {"vote": n, "logistic": 10 * n + 10, "online": 10 * n + 10,
                          "eprop": 10 * n}
    local = {"vote": "STDP yes; labels assigned offline",
             "logistic": "STDP yes; readout no (batch fit)",
             "online": "yes (STDP + delta rule)",
             "eprop": "yes (STDP + e-prop readout, local & online)"}
    if "eprop_input" in metrics:  # what the e-prop readout was trained and scored on
        names["eprop"] = f"+ e-prop readout (Brian2, {metrics['eprop_input']})"
    else:  # runs from before spike timing was recorded: counts spread evenly
        names["eprop"] = "+ e-prop readout (Brian2, counts spread evenly)"
    rows = []
    for key, label in names.items():
        acc = metrics.get(f"accuracy_{key}")
        if acc is None:
            continue
        rows.append({
            "method": f"Diehl & Cook STDP, N={n}, {label}",
            "accuracy": acc,
            "train_seconds": metrics.get("train_seconds", np.nan),
            "inference_steps": round(t_input / dt),
            # the input window; an image that evokes < 5 spikes is shown again (+500 ms)
            "sim_ms_per_inference": t_input,
            "parameters": stdp_parameters + readout_parameters[key],
            "local_online_learning": local[key],
            "spikes_per_inference": metrics.get("test_spikes_per_example", np.nan),
            "test_examples": metrics.get("test_examples"),
            "source": str(run_dir),
        })
    hybrid = _hybrid_row(run_dir, n, stdp_parameters, t_input, dt, metrics)
    if hybrid is not None:
        rows.append(hybrid)
    return rows


def _hybrid_row(run_dir: Path, n: int, stdp_parameters: int, t_input: float, dt: float,
                metrics: dict) -> dict | None:
    """The STDP + BP hybrid of a Diehl & Cook run (``brainlearn hybrid train`` + ``evaluate``).

    Read from ``RUN_DIR/hybrid/`` (:data:`brainlearn.models.hybrid.SUBDIR`): the accuracy of
    the layer in Brian2 (the trainer's where Brian2 did not run), training time of the STDP
    layer plus the BPTT of the output layer, spikes per inference of both layers.
    """
    out = run_dir / "hybrid"
    if not (out / "results.csv").exists():
        return None
    hybrid = rundir.read_metrics(out)
    config = rundir.read_config(out)
    where = "Brian2" if "accuracy_brian2" in hybrid else "PyTorch"
    accuracy = hybrid.get("accuracy_brian2", hybrid.get("accuracy_trainer"))
    examples = hybrid.get("n_examples_brian2", hybrid.get("n_examples_trainer"))
    steps = config.get("steps")
    return {
        "method": f"Diehl & Cook STDP, N={n}, + BPTT-trained LIF output layer "
                  f"(STDP + BP hybrid, {steps} steps, {where})",
        "accuracy": accuracy,
        "train_seconds": metrics.get("train_seconds", np.nan) + hybrid.get("train_seconds",
                                                                           np.nan),
        "inference_steps": round(t_input / dt),
        "sim_ms_per_inference": t_input,
        "spikes_per_inference": hybrid.get("spikes_per_inference", np.nan),
        "parameters": stdp_parameters + hybrid.get("parameters", 10 * n + 10),
        "local_online_learning": "no (STDP layer local; output layer BPTT, offline)",
        "test_examples": examples,
        "source": str(out),
    }


def _conversion_rows(run_dir: Path, dt_ms: float = 1.0) -> list[dict]:
    config = _run_info(run_dir)
    path = run_dir / "results.csv"
    if not path.exists():
        raise ValueError(f"{run_dir} is not evaluated yet: run brainlearn convert evaluate {run_dir}")
    results = pd.read_csv(path)
    best = results[(results["input"] == "analog") & (results["norm"].astype(str) == "99.9")
                   & (results["reset"] == "subtract")].sort_values("steps")
    hidden = "-".join(str(h) for h in config.get("hidden", []))
    parameters = _mlp_parameters((784, *config.get("hidden", []), 10))
    local = "no (backprop on the ANN, offline)"
    rows = [{
        "method": f"ANN (ReLU MLP 784-{hidden}-10)",
        "accuracy": config.get("test_accuracy", results["ann_accuracy"].iloc[0]),
        "train_seconds": config.get("train_seconds", np.nan),
        "inference_steps": np.nan, "sim_ms_per_inference": np.nan,
        "spikes_per_inference": np.nan, "parameters": parameters, "local_online_learning": local,
        "test_examples": int(results["n_examples"].max()), "source": str(run_dir),
    }]
    for _, r in best.iterrows():
        rows.append({
            "method": f"converted SNN, T={int(r['steps'])} (analog, 99.9 %, subtract)",
            "accuracy": r["accuracy"], "train_seconds": config.get("train_seconds", np.nan),
            "inference_steps": int(r["steps"]), "sim_ms_per_inference": r["steps"] * dt_ms,
            "spikes_per_inference": r["spikes_per_example"],
            "parameters": parameters, "local_online_learning": local,
            "test_examples": int(r["n_examples"]), "source": str(run_dir),
        })
    return rows


def _cnn_rows(run_dir: Path, dt_ms: float = 1.0) -> list[dict]:
    """The ANN and the converted SNN at every T of a ``brainlearn convert cnn`` run."""
    config = _run_info(run_dir)
    path = run_dir / "results.csv"
    if not path.exists():
        raise ValueError(f"{run_dir} has no results.csv: run brainlearn convert cnn again")
    results = pd.read_csv(path).sort_values("steps")
    channels = "-".join(str(c) for c in config.get("channels", [32, 64]))
    local = "no (backprop on the ANN, offline)"
    parameters = config.get("parameters", np.nan)
    rows = [{
        "method": f"ANN (CNN, channels {channels})",
        # the ANN on the most test images of any row (metrics.json: the whole test split)
        "accuracy": config.get("ann_accuracy",
                               results.loc[results["n_examples"].idxmax(), "ann_accuracy"]),
        "train_seconds": config.get("train_seconds", np.nan),
        "inference_steps": np.nan, "sim_ms_per_inference": np.nan,
        "spikes_per_inference": np.nan, "parameters": parameters,
        "local_online_learning": local, "test_examples": int(results["n_examples"].max()),
        "source": str(run_dir),
    }]
    if "simulator" not in results:  # runs written before the PyTorch replica
        results = results.assign(simulator="brian2", split="test")
    results = results[results["split"] == "test"]
    brian = results[results["simulator"] == "brian2"]
    # the PyTorch replica of the same IF network (identical spikes in float64) fills in the
    # T that Brian2 did not run, for the v_init and readout Brian2 ran (or the run's choice)
    choice = brian.iloc[0] if len(brian) else pd.Series(config)
    fast = results[results["simulator"] == "torch"]
    if len(fast):
        fast = fast[(fast["v_init"] == choice.get("v_init", 0.5))
                    & (fast["readout"] == choice.get("readout", "count"))
                    & ~fast["steps"].isin(brian["steps"])]
    # Brian2 counts the IF spikes over the longest T it ran (the same number in each of its
    # rows); a shorter row takes the replica's count at its own T (same v_init) where the run
    # has one, else it is left out (NaN) rather than overstated
    replica_spikes = {}
    if "simulator" in results and "v_init" in results:
        torch_rows = results[(results["simulator"] == "torch")
                             & (results["v_init"] == choice.get("v_init", 0.5))]
        replica_spikes = dict(zip(torch_rows["steps"], torch_rows["spikes_per_example"],
                                  strict=True))
    longest = brian["steps"].max() if len(brian) else np.nan
    for _, r in pd.concat([brian, fast]).sort_values("steps").iterrows():
        spikes = r["spikes_per_example"]
        if r["simulator"] == "brian2" and r["steps"] < longest:
            spikes = replica_spikes.get(r["steps"], np.nan)
        options = "analog, {:g} %, subtract".format(r["norm"])
        if "v_init" in r:
            options += f", v_init {r['v_init']:g}, {r['readout']} readout"
        if r["simulator"] == "torch":
            options += ", PyTorch replica"
        rows.append({
            "method": f"converted CNN, T={int(r['steps'])} ({options})",
            "accuracy": r["accuracy"], "train_seconds": config.get("train_seconds", np.nan),
            "inference_steps": int(r["steps"]), "sim_ms_per_inference": r["steps"] * dt_ms,
            "spikes_per_inference": spikes, "parameters": parameters,
            "local_online_learning": local, "test_examples": int(r["n_examples"]),
            "source": str(run_dir),
        })
    return rows


def _surrogate_rows(run_dir: Path, dt_ms: float = 1.0) -> list[dict]:
    config = _run_info(run_dir)
    path = run_dir / "results.csv"
    if not path.exists():
        raise ValueError(f"{run_dir} is not evaluated yet: run brainlearn surrogate evaluate {run_dir}")
    results = pd.read_csv(path)
    hidden = config.get("hidden", [])
    net = "-".join(str(size) for size in config.get("sizes", (784, *hidden, 10)))
    preset = config.get("preset")
    recipe = f"BPTT, {config.get('surrogate', 'atan')}"
    if config.get("encoder") == "poisson":
        recipe += ", Poisson input"
    label = f"{preset}: {net}" if preset else net
    names = {"trainer": "trainer forward pass (PyTorch)", "brian2": "same network in Brian2"}
    rows = []
    for _, r in results.iterrows():
        rows.append({
            "method": f"surrogate-gradient SNN {label} ({recipe}), "
                      f"{names.get(r['implementation'], r['implementation'])}",
            "accuracy": r["accuracy"], "train_seconds": config.get("train_seconds", np.nan),
            "inference_steps": int(r["steps"]), "sim_ms_per_inference": r["steps"] * dt_ms,
            "spikes_per_inference": r["spikes_per_inference"],
            "parameters": config.get("parameters", _mlp_parameters((784, *hidden, 10))),
            "local_online_learning": "no (BPTT through time and layers, offline)",
            "test_examples": int(r["n_examples"]), "source": str(run_dir),
        })
    return rows


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
        "source": f"MNIST ({data})",
    }


def _paths(runs) -> list[Path]:
    """``None``, one path or a sequence of paths as a list of paths."""
    if runs is None:
        return []
    if isinstance(runs, str | Path):
        return [Path(runs)]
    return [Path(r) for r in runs]


def comparison_table(mnist_run=None, convert_run=None, surrogate_run=None,
                     pixel_baseline: str | None = None, cnn_run=None) -> pd.DataFrame:
    """Collect the comparison rows of the given run directories into one DataFrame.

    Every run argument takes one path or a list of paths (e.g. several surrogate-gradient
    presets); rows appear in the order given.

    Parameters
    ----------
    mnist_run : path or list of paths, optional
        Evaluated Diehl & Cook runs (STDP with its readouts, e-prop readout and STDP + BP
        hybrid where the run has them).
    convert_run : path or list of paths, optional
        Evaluated conversion runs (ANN and converted SNN rows).
    surrogate_run : path or list of paths, optional
        Evaluated surrogate-gradient runs (trainer and Brian2 rows, labelled by preset).
    pixel_baseline : str, optional
        ``"full"`` or ``"embedded"``: add :func:`pixel_baseline_row` on that MNIST.
    cnn_run : path or list of paths, optional
        ``brainlearn convert cnn`` runs (the CNN and the converted CNN at every T).

    Returns
    -------
    pandas.DataFrame
        One row per method, columns :data:`COLUMNS`.
    """
    rows: list[dict] = []
    for run in _paths(mnist_run):
        rows += _diehl_cook_rows(run)
    for run in _paths(convert_run):
        rows += _conversion_rows(run)
    for run in _paths(surrogate_run):
        rows += _surrogate_rows(run)
    for run in _paths(cnn_run):
        rows += _cnn_rows(run)
    if pixel_baseline is not None:
        rows.append(pixel_baseline_row(pixel_baseline))
    if not rows:
        raise ValueError("give at least one run directory (a Diehl & Cook, conversion or "
                         "surrogate run)")
    return pd.DataFrame(rows, columns=COLUMNS)


def write_comparison(table: pd.DataFrame, out: str | Path) -> list[Path]:
    """Write ``comparison.csv``, ``comparison.md`` and ``accuracy_vs_spikes.png`` to ``out``."""
    from brainlearn.analysis.plots import new_figure, save_figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "comparison.csv"
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False)
    shown = table.drop(columns=["source"]).copy()
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
    for method, group, style in (
            ("Diehl & Cook", table[table["method"].str.startswith("Diehl")], "s"),
            ("converted SNN", table[table["method"].str.startswith("converted SNN")], "o-"),
            ("converted CNN", table[table["method"].str.startswith("converted CNN")], "D-"),
            ("surrogate gradient", table[table["method"].str.startswith("surrogate")], "^")):
        ok = group.dropna(subset=["spikes_per_inference"])
        if len(ok):
            ax.plot(ok["spikes_per_inference"], 100 * ok["accuracy"], style, label=method)
    for prefix, ls, label in (("ANN (ReLU MLP", "--", "ANN (MLP)"), ("ANN (CNN", ":", "ANN (CNN)")):
        ann = table[table["method"].str.startswith(prefix)]
        if len(ann):
            ax.axhline(100 * ann["accuracy"].iloc[0], color="k", ls=ls, label=label)
    ax.set(xscale="log", xlabel="spikes per inference", ylabel="test accuracy (%)",
           title="accuracy against spikes per inference")
    ax.legend(loc="lower right")
    png = save_figure(fig, out / "accuracy_vs_spikes.png")
    return [csv, md, png]
