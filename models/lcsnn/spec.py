"""The LC-SNN of Saunders et al. (2019) in the model registry (:mod:`brainlearn.models.contract`).

Light on purpose: importing it imports no simulator; each callable imports the package's
training or evaluation code when it runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from brainlearn import rundir
from brainlearn.experiments import Experiment
from brainlearn.models.contract import ModelSpec, register_model

__all__ = ["SPEC", "NAME", "train_run", "evaluate_run", "comparison_rows", "demo", "load",
           "sweep_task"]

NAME = "lcsnn"
T_INPUT_MS, DT_MS = 250.0, 1.0
_LABELS = {"vote": "vote (label assignment)", "ngram": "n-gram readout",
           "logistic": "+ logistic readout", "online": "+ online delta-rule readout",
           "authors": "n-gram readout, the authors' protocol (best training block)"}
_LOCAL = {"vote": "STDP yes; labels assigned offline", "ngram": "STDP yes; n-grams counted offline",
          "logistic": "STDP yes; readout no (batch fit)", "online": "yes (STDP + delta rule)",
          "authors": "yes (STDP; n-grams counted while learning)"}
#: metrics of each row: accuracy and test spikes per image
_KEYS = {key: (f"accuracy_{key}", "test_spikes_per_example") for key in _LABELS} | {
    "authors": ("authors_accuracy_ngram", "authors_test_spikes_per_example")}


def train_run(run_dir: str | Path, *, data: str = "full", seed: int = 0, progress: bool = True,
              **options) -> dict:
    """Train (or resume) a run directory: :func:`brainlearn.models.lcsnn.training.train`
    (``options``: ``n_filters``, ``examples``, ``epochs``, ``kernel``, ``stride``, ...;
    ``one_spike`` and ``input_intervals``, fields of
    :class:`~brainlearn.models.lcsnn.model.LCSNNParams`, go to ``params``)."""
    from brainlearn.models.lcsnn.training import train

    moved = {key: options.pop(key) for key in _PARAM_OPTIONS if key in options}
    if moved:
        options["params"] = {**(options.get("params") or {}), **moved}
    return train(run_dir, data=data, seed=seed, progress=progress, **options)


#: training options that are :class:`~brainlearn.models.lcsnn.model.LCSNNParams` fields
_PARAM_OPTIONS = ("one_spike", "input_intervals")


def evaluate_run(run_dir: str | Path, **options) -> dict:
    """Readouts fitted on training images, scored on the test set:
    :func:`brainlearn.models.lcsnn.training.evaluate`."""
    from brainlearn.models.lcsnn.training import evaluate

    return evaluate(run_dir, **options)


def comparison_rows(run_dir: str | Path) -> list[dict]:
    """One row per readout of an evaluated run: vote, n-gram, logistic, online, and the
    n-gram readout of the authors' protocol when the run was scored by it
    (:func:`~brainlearn.models.lcsnn.training.evaluate_authors`)."""
    run_dir = Path(run_dir)
    metrics = rundir.read_metrics(run_dir)
    config = rundir.read_config(run_dir)
    if config.get("data") == "arrays":
        raise ValueError(f"{run_dir} was fitted by LCSNNClassifier on images of its own: it has "
                         "no test accuracy to compare")
    if "accuracy" not in metrics:
        raise ValueError(f"{run_dir} is not evaluated yet: evaluate it through the lcsnn model")
    n, synapses = metrics["neurons"], metrics["synapses"]
    readout_parameters = {"vote": n, "ngram": metrics.get("ngram_parameters") or 0,
                          "logistic": 10 * n + 10, "online": 10 * n + 10,
                          "authors": metrics.get("authors_ngram_parameters") or 0}
    params = config.get("params") or {}
    intervals = params.get("input_intervals", "exponential")
    title = (f"LC-SNN (Saunders et al. 2019), {config['n_filters']} filters "
             f"{config['kernel']}x{config['kernel']}/{config['stride']}, N={n}"
             + (", one spike per step" if params.get("one_spike") else "")
             + (f", {intervals} input intervals" if intervals != "exponential" else ""))
    rows = []
    for key, label in _LABELS.items():
        accuracy_key, spikes_key = _KEYS[key]
        accuracy = metrics.get(accuracy_key)
        if accuracy is None:
            continue
        rows.append({
            "method": f"{title}, {label}", "accuracy": accuracy,
            "train_seconds": metrics.get("train_seconds", np.nan),
            "inference_steps": round(T_INPUT_MS / DT_MS),
            # an image that evokes < 5 spikes is shown again at twice the rate (+250 ms)
            "sim_ms_per_inference": T_INPUT_MS,
            "parameters": synapses + n + readout_parameters[key],  # weights, thetas, readout
            "local_online_learning": _LOCAL[key],
            "spikes_per_inference": metrics.get(spikes_key, np.nan),
            "test_examples": metrics.get("test_examples"), "source": str(run_dir),
        })
    return rows


def demo(out: str | Path, *, seed: int = 0, n_filters: int = 25,
         device: str = "cpp_standalone", progress: bool = True) -> dict:
    """25 filters on the 1,000 embedded training images, all four readouts fitted on them
    and scored on the 500 embedded test images (a finished demo in ``out`` is replaced)."""
    from brainlearn.models.lcsnn.training import evaluate, train

    out = Path(out)
    if (out / rundir.METRICS).exists():
        shutil.rmtree(out)
    train(out, n_filters=n_filters, data="embedded", seed=seed, device=device,
          progress=progress)
    return evaluate(out, progress=progress)


def load(run_dir: str | Path):
    """The run directory as a fitted :class:`~brainlearn.models.lcsnn.LCSNNClassifier`."""
    from brainlearn.models.lcsnn.estimator import LCSNNClassifier

    return LCSNNClassifier.load(run_dir)


def sweep_task(params: dict, seed: int, workdir: Path) -> dict:
    """A training run in ``workdir/run``, followed by its evaluation."""
    from brainlearn.models.lcsnn.training import evaluate, train

    run_dir = workdir / "run"
    data = params.get("data", "embedded")
    metrics = train(run_dir, n_filters=int(params.get("n_filters", 25)), data=data, seed=seed,
                    examples=int(params["examples"]) if "examples" in params else None,
                    device=params.get("device", "cpp_standalone"), progress=False,
                    params={k: params[k] for k in _PARAM_OPTIONS if k in params} or None)
    out = {k: metrics[k] for k in ("train_examples", "ms_per_example", "compile_seconds")}
    n_test = int(params.get("test_examples", 0)) or None
    ev = evaluate(run_dir, test_examples=n_test, progress=False)
    out.update({k: v for k, v in ev.items() if k.startswith("accuracy")})
    out["run_dir"] = str(run_dir)
    return out


SPEC = register_model(ModelSpec(
    name=NAME,
    title="400 Poisson inputs (cropped 20x20) -> filters x 3x3 locations of locally connected "
          "adaptive-threshold cells, inhibition within a location, unsupervised STDP; "
          "vote or n-gram readout",
    family="STDP",
    citation="D. J. Saunders, D. Patel, H. Hazan, H. T. Siegelmann, R. Kozma (2019), Locally "
             "connected spiking neural networks for unsupervised feature learning, "
             "Neural Networks 119:332-340",
    module="brainlearn.models.lcsnn",
    train=train_run, evaluate=evaluate_run, rows=comparison_rows, demo=demo, load=load,
    sweep=Experiment(
        "lcsnn", sweep_task,
        "LC-SNN (Saunders et al. 2019) training (run directory in the task's workdir), "
        "then evaluation with every readout",
        {"n_filters": "25", "examples": "1000 (default: all of data)",
         "data": "embedded | full", "device": "cpp_standalone | runtime",
         "test_examples": "all",
         "one_spike": "false | true (one crossing cell spikes per step; cpp_standalone)",
         "input_intervals": "exponential | poisson_steps (BindsNET's encoder)"}),
    commands=("brainlearn models train --model lcsnn --set n_filters=100 --seed 0 "
              "--out runs/lcsnn/f100_s0",
              "brainlearn models evaluate runs/lcsnn/f100_s0"),
    embedded=("brainlearn models train --model lcsnn --data embedded --out runs/lcsnn_demo",
              "brainlearn models evaluate runs/lcsnn_demo"),
    local_online=True,
))
