"""The Diehl & Cook (2015) network in the model registry (:mod:`brainlearn.models.contract`).

Light on purpose: importing it imports no simulator; each callable imports the package's
training or evaluation code when it runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainlearn import rundir
from brainlearn.experiments import Experiment
from brainlearn.models.contract import ModelSpec, register_model

__all__ = ["SPEC", "NAME", "train_run", "evaluate_run", "comparison_rows", "demo",
           "sweep_task", "input_window", "owns", "load"]

NAME = "diehl-cook-2015"
#: Diehl & Cook defaults when the run's config.json does not say (350 ms input, dt 0.5 ms)
INPUT_MS, DT_MS = 350.0, 0.5


def _ms(text, default: float) -> float:
    """Milliseconds from a config string such as ``"0.35 s"`` or ``"150. ms"``."""
    try:
        value, unit = str(text).split()
        return float(value) * {"s": 1000.0, "ms": 1.0, "us": 1e-3}[unit]
    except (ValueError, KeyError):
        return default


def input_window(run_dir: str | Path) -> tuple[float, float]:
    """``(t_input, dt)`` in ms of a Diehl & Cook run (its ``config.json``, else the paper's)."""
    params = rundir.read_config(run_dir).get("params", {})
    return _ms(params.get("t_input"), INPUT_MS), _ms(params.get("dt"), DT_MS)


def owns(run_dir: Path) -> bool:
    """A directory ``brainlearn mnist train`` wrote: ``config.json`` says ``kind``
    ``diehl_cook``; one without a kind (written before it was recorded) counts when its
    ``metrics.json`` has the network size."""
    kind = rundir.read_config(run_dir).get("kind")
    if kind is not None:
        return kind == "diehl_cook"
    return "neurons" in rundir.read_metrics(run_dir)


def train_run(run_dir: str | Path, *, data: str = "full", seed: int = 0, progress: bool = True,
              **options) -> dict:
    """Train (or resume) a run directory: :func:`brainlearn.models.diehl_cook.train`.

    ``options`` are :class:`~brainlearn.models.diehl_cook.TrainConfig` fields (``neurons``,
    ``examples``, ``epochs``, ``params``, ``integration``, ...).
    """
    from brainlearn.models.diehl_cook import TrainConfig, train

    config = TrainConfig.create(data=data, seed=seed, **options)
    return train(run_dir, config, progress=progress)


def evaluate_run(run_dir: str | Path, **options) -> dict:
    """Label assignment and test, serial or sharded:
    :func:`brainlearn.models.diehl_cook.runs.evaluate_run`."""
    from brainlearn.models.diehl_cook.runs import evaluate_run as run

    return run(run_dir, **options)


def comparison_rows(run_dir: str | Path) -> list[dict]:
    """One row per readout of an evaluated run: vote, logistic, online (where scored)."""
    run_dir = Path(run_dir)
    metrics = rundir.read_metrics(run_dir)
    if rundir.read_config(run_dir).get("data") == "arrays":
        raise ValueError(f"{run_dir} was fitted by DiehlCookClassifier on images of its own: "
                         "it has no test accuracy to compare (score it with "
                         "DiehlCookClassifier.load(RUN).score(X, y))")
    if "accuracy" not in metrics:
        raise ValueError(f"{run_dir} is not evaluated yet: run brainlearn mnist evaluate {run_dir}")
    n = metrics["neurons"]
    t_input, dt = input_window(run_dir)
    stdp_parameters = 784 * n + n  # input weights and adaptive thresholds (theta)
    readouts = {  # name: (label, readout parameters, local and online)
        "vote": ("vote (label assignment)", n, "STDP yes; labels assigned offline"),
        "logistic": ("+ logistic readout", 10 * n + 10, "STDP yes; readout no (batch fit)"),
        "online": ("+ online delta-rule readout", 10 * n + 10, "yes (STDP + delta rule)"),
    }
    rows = []
    for key, (label, readout_parameters, local) in readouts.items():
        accuracy = metrics.get(f"accuracy_{key}")
        if accuracy is None:
            continue
        rows.append({
            "method": f"Diehl & Cook STDP, N={n}, {label}",
            "accuracy": accuracy,
            "train_seconds": metrics.get("train_seconds", np.nan),
            "inference_steps": round(t_input / dt),
            # the input window; an image that evokes < 5 spikes is shown again (+500 ms)
            "sim_ms_per_inference": t_input,
            "parameters": stdp_parameters + readout_parameters,
            "local_online_learning": local,
            "spikes_per_inference": metrics.get("test_spikes_per_example", np.nan),
            "test_examples": metrics.get("test_examples"),
            "source": str(run_dir),
        })
    return rows


def demo(out: str | Path, *, seed: int = 0, neurons: int = 100, device: str = "cpp_standalone",
         progress: bool = True) -> dict:
    """N=100 on the 1,000 embedded training images, tested on the 500 embedded test images
    (a finished demo in ``out`` is replaced): :func:`brainlearn.models.diehl_cook.runs.demo`."""
    from brainlearn.models.diehl_cook.runs import demo as run

    return run(out, seed=seed, neurons=neurons, device=device, progress=progress)


def load(run_dir: str | Path):
    """The run directory as a fitted :class:`~brainlearn.models.diehl_cook.DiehlCookClassifier`."""
    from brainlearn.models import diehl_cook

    return diehl_cook.DiehlCookClassifier.load(run_dir)


def sweep_task(params: dict, seed: int, workdir: Path) -> dict:
    """A training run in ``workdir/run``, optionally followed by its evaluation."""
    from brainlearn.models.diehl_cook import TrainConfig, evaluate, train

    config = TrainConfig.create(
        neurons=int(params.get("neurons", 100)), examples=int(params.get("examples", 1000)),
        seed=seed, device=params.get("device", "cpp_standalone"),
        threads=params.get("threads"), data=params.get("data", "embedded"),
        timer=params.get("timer", "brian1"), chunk=int(params.get("chunk", 1000)),
    )
    run_dir = workdir / "run"
    metrics = train(run_dir, config, progress=False)
    out = {k: metrics[k] for k in ("train_examples", "ms_per_example", "compile_seconds",
                                    "capped_images")}
    n_assign = int(params.get("assign_examples", 1000))
    if n_assign > 0:
        ev = evaluate(run_dir, n_assign, int(params.get("test_examples", 500)), progress=False)
        out.update(accuracy=ev["accuracy"], eval_ms_per_example=ev["eval_ms_per_example"])
    out["run_dir"] = str(run_dir)
    return out


SPEC = register_model(ModelSpec(
    name=NAME,
    title="784 Poisson inputs -> N adaptive-threshold excitatory cells with lateral "
          "inhibition, unsupervised STDP; labels assigned by vote",
    family="STDP",
    citation="P. U. Diehl, M. Cook (2015), Unsupervised learning of digit recognition "
             "using spike-timing-dependent plasticity, Front. Comput. Neurosci. 9:99",
    module="brainlearn.models.diehl_cook",
    train=train_run, evaluate=evaluate_run, rows=comparison_rows, demo=demo, load=load,
    owns=owns,
    sweep=Experiment(
        "mnist", sweep_task,
        "Diehl & Cook 2015 training (run directory in the task's workdir), then evaluation",
        {"neurons": "100", "examples": "1000", "data": "embedded | full",
         "device": "cpp_standalone | runtime | cuda_standalone", "chunk": "1000",
         "timer": "brian1 | brian2", "threads": "OpenMP threads",
         "assign_examples": "1000 (0: no evaluation)", "test_examples": "500"}),
    commands=("brainlearn mnist train --neurons 400 --epochs 3 --out runs/n400",
              "brainlearn mnist evaluate runs/n400 --readout vote,logistic,online",
              "brainlearn mnist predict runs/n400 --images digits.npy --out predictions.csv"),
    embedded=("brainlearn mnist train --neurons 100 --examples 1000 --data embedded "
              "--out runs/demo",
              "brainlearn mnist evaluate runs/demo --assign-examples 1000 --test-examples 500"),
    local_online=True,
))
