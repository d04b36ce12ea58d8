"""The registry entries of the models that do not have their own package yet.

Conversion (MLP and CNN); e-prop's entries are in :mod:`brainlearn.models.eprop.spec`, the
surrogate networks' in :mod:`brainlearn.models.surrogate.spec` and the STDP + BP hybrid's in
:mod:`brainlearn.models.hybrid.spec`. Each entry moves into its model's package
(``<package>/spec.py``) as that package is formed; nothing here imports a simulator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn import rundir
from brainlearn.experiments import Experiment
from brainlearn.models.contract import (
    ModelSpec,
    mlp_parameters,
    register_model,
    run_info,
)

__all__ = ["conversion_rows", "cnn_rows"]


def _kind(*kinds: str):
    def owns(run_dir: Path) -> bool:
        return rundir.read_config(run_dir).get("kind") in kinds
    owns.__doc__ = f"A run directory whose config.json says kind {' or '.join(kinds)}."
    return owns


def _results(run_dir: Path, command: str) -> pd.DataFrame:
    path = Path(run_dir) / "results.csv"
    if not path.exists():
        raise ValueError(f"{run_dir} is not evaluated yet: run {command} {run_dir}")
    return pd.read_csv(path)


def _metrics(run_dir: Path) -> dict:
    return rundir.read_metrics(run_dir)


# ------------------------------------------------------------------------------ conversion
def conversion_rows(run_dir: Path, dt_ms: float = 1.0) -> list[dict]:
    """The ANN and the converted SNN (analog input, 99.9 %, reset by subtraction) at every T."""
    config = run_info(run_dir)
    results = _results(run_dir, "brainlearn convert evaluate")
    best = results[(results["input"] == "analog") & (results["norm"].astype(str) == "99.9")
                   & (results["reset"] == "subtract")].sort_values("steps")
    hidden = "-".join(str(h) for h in config.get("hidden", []))
    parameters = mlp_parameters((784, *config.get("hidden", []), 10))
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


def _cnn_ann_row(config: dict, results: pd.DataFrame, run_dir: Path) -> dict:
    channels = "-".join(str(c) for c in config.get("channels", [32, 64]))
    return {
        "method": f"ANN (CNN, channels {channels})",
        # the ANN on the most test images of any row (metrics.json: the whole test split)
        "accuracy": config.get("ann_accuracy",
                               results.loc[results["n_examples"].idxmax(), "ann_accuracy"]),
        "train_seconds": config.get("train_seconds", np.nan),
        "inference_steps": np.nan, "sim_ms_per_inference": np.nan,
        "spikes_per_inference": np.nan, "parameters": config.get("parameters", np.nan),
        "local_online_learning": "no (backprop on the ANN, offline)",
        "test_examples": int(results["n_examples"].max()), "source": str(run_dir),
    }


def cnn_rows(run_dir: Path, dt_ms: float = 1.0) -> list[dict]:
    """The ANN and the converted SNN at every T of a ``brainlearn convert cnn`` run.

    Brian2's rows first; the PyTorch replica of the same IF network (identical spikes in
    float64) fills in the T that Brian2 did not run, for the v_init and readout Brian2 ran.
    """
    config = run_info(run_dir)
    path = Path(run_dir) / "results.csv"
    if not path.exists():
        raise ValueError(f"{run_dir} has no results.csv: run brainlearn convert cnn again")
    results = pd.read_csv(path).sort_values("steps")
    rows = [_cnn_ann_row(config, results, run_dir)]
    if "simulator" not in results:  # runs written before the PyTorch replica
        results = results.assign(simulator="brian2", split="test")
    results = results[results["split"] == "test"]
    brian = results[results["simulator"] == "brian2"]
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
    if "v_init" in results:
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
            "spikes_per_inference": spikes, "parameters": config.get("parameters", np.nan),
            "local_online_learning": "no (backprop on the ANN, offline)",
            "test_examples": int(r["n_examples"]), "source": str(run_dir),
        })
    return rows


def conversion_train(run_dir, *, data: str = "full", seed: int = 0, **options) -> dict:
    """:func:`brainlearn.models.conversion.train_run` (``data`` is its ``source``)."""
    from brainlearn.models.conversion import train_run

    return train_run(run_dir, source=data, seed=seed, **options)


def conversion_evaluate(run_dir, *, data: str = "full", **options) -> dict:
    """:func:`brainlearn.models.conversion.evaluate_run`; returns the run's metrics."""
    from brainlearn.models.conversion import evaluate_run

    evaluate_run(run_dir, source=data, **options)
    return _metrics(run_dir)


def conversion_demo(out, *, seed: int = 0) -> dict:
    """784-500-10 on the embedded subset, converted and simulated at T = 16, 32, 64."""
    conversion_train(out, data="embedded", seed=seed, hidden=(500,), progress=False)
    return conversion_evaluate(out, data="embedded", norm_examples=1000, steps=(16, 32, 64),
                               seed=seed)


def conversion_sweep(params: dict, seed: int, workdir: Path) -> dict:
    """An MLP trained on the embedded subset, converted and scored against the ANN."""
    from brainlearn.data import load_mnist
    from brainlearn.lanes import preprocess
    from brainlearn.models.conversion import evaluate, train_mlp

    hidden = tuple(int(h) for h in str(params.get("hidden", 500)).split("-"))
    x_train, y_train = load_mnist("train", source="embedded")
    x_test, y_test = load_mnist("test", source="embedded")
    n_test = int(params.get("test_examples", 500))
    x_norm = preprocess(x_train)
    mlp = train_mlp(x_norm, y_train, hidden=hidden, epochs=int(params.get("epochs", 10)), seed=seed)
    frame = evaluate(
        mlp, x_test[:n_test], y_test[:n_test], x_norm, steps=(int(params.get("steps", 64)),),
        inputs=(params.get("input", "analog"),), norms=(str(params.get("norm", "99.9")),),
        resets=(params.get("reset", "subtract"),), seed=seed,
        device=params.get("device", "runtime"), directory=workdir / "build",
    )
    row = frame.iloc[0]
    return {k: row[k] for k in ("accuracy", "ann_accuracy", "rate_accuracy", "spikes_per_example")}


def cnn_train(run_dir, *, data: str = "full", seed: int = 0, **options) -> dict:
    """:func:`brainlearn.models.conversion_cnn.cnn_run`: trains, converts and evaluates."""
    from brainlearn.models.conversion_cnn import cnn_run

    cnn_run(run_dir, source=data, seed=seed, **options)
    return _metrics(run_dir)


def cnn_evaluate(run_dir, **options) -> dict:
    """The CNN run's metrics: ``brainlearn convert cnn`` evaluates as it trains."""
    run_info(run_dir)  # a clear error for a directory that is no run
    return _metrics(run_dir)


def cnn_demo(out, *, seed: int = 0) -> dict:
    """The CNN for 15 epochs on the embedded subset, converted, 100 test images."""
    return cnn_train(out, data="embedded", seed=seed, epochs=15, test_examples=100,
                     progress=False)


_CONVERSION = ("B. Rueckauer et al. (2017), Conversion of continuous-valued deep networks "
               "to efficient event-driven networks for image classification, Front. "
               "Neurosci. 11:682; P. U. Diehl et al. (2015), Fast-classifying, "
               "high-accuracy spiking deep networks through weight and threshold "
               "balancing, IJCNN")
_SJ = ("W. Fang et al. (2023), SpikingJelly: An open-source machine learning infrastructure "
       "platform for spike-based intelligence, Sci. Adv. 9:eadi1480")

register_model(ModelSpec(
    name="converted-mlp",
    title="784-500-10 ReLU MLP (scikit-learn MLPClassifier), 99.9th-percentile "
          "normalisation, IF neurons with reset by subtraction in Brian2",
    family="ANN-to-SNN conversion", citation=_CONVERSION, module="brainlearn.models.conversion",
    train=conversion_train, evaluate=conversion_evaluate, rows=conversion_rows,
    demo=conversion_demo, owns=_kind("conversion"),
    sweep=Experiment(
        "conversion", conversion_sweep,
        "ANN-to-SNN conversion on the embedded MNIST subset: SNN vs ANN accuracy",
        {"hidden": "500 (one layer) or '500-300'", "epochs": "10", "steps": "64",
         "input": "analog | poisson", "norm": "99.9 | max | a percentile",
         "reset": "subtract | zero", "test_examples": "500",
         "device": "runtime | cpp_standalone"}),
    commands=("brainlearn convert train --hidden 500 --epochs 20 --out runs/mlp500",
              "brainlearn convert evaluate runs/mlp500 --steps 8,16,32,64,128,256"),
    embedded=("brainlearn convert train --hidden 500 --data embedded --out runs/mlp_demo",
              "brainlearn convert evaluate runs/mlp_demo --data embedded --norm-examples 1000 "
              "--steps 16,32,64"),
))

register_model(ModelSpec(
    name="converted-cnn",
    title="MNIST CNN (conv 1->32, avg pool, conv 32->64, avg pool, fc 3136->128, fc "
          "128->10; PyTorch), 99.9th-percentile normalisation, IF neurons in Brian2 with "
          "the convolutions unrolled into Synapses",
    family="ANN-to-SNN conversion",
    citation="B. Rueckauer et al. (2017), Front. Neurosci. 11:682; P. U. Diehl et al. "
             "(2015), IJCNN; SpikingJelly's ANN-to-SNN conversion tutorial (" + _SJ + ")",
    module="brainlearn.models.conversion_cnn",
    train=cnn_train, evaluate=cnn_evaluate, rows=cnn_rows, demo=cnn_demo,
    owns=_kind("conversion_cnn"),
    commands=("brainlearn convert cnn --epochs 24 --batch-size 128 --lr 3e-3 --schedule "
              "onecycle --shift 1 --validation 5000 --fast-steps 16,32,64 --fast-v-init 0.5 "
              "--fast-examples 250 --brian2-examples 0 --out runs/cnn_e24_s1",
              "brainlearn convert cnn --weights runs/cnn_e24_s1/cnn.npz --validation 5000 "
              "--fast-steps 8,16,32,64,128 --fast-v-init 0,0.5 --fast-examples 1000 "
              "--v-init 0.5 --steps 16,32,64 --chunk 5000 --out runs/cnn"),
    embedded=("brainlearn convert cnn --data embedded --epochs 15 --test-examples 100 "
              "--out runs/cnn_demo",),
))
