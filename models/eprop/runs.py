"""Train an e-prop task into a run directory: chunked, checkpointed, resumable.

A run directory holds ``config.json``, ``checkpoint.npz`` (weights, Adam moments, the
iteration reached and the loss history, written atomically after every chunk),
``loss.csv`` (loss and, for classification, error per iteration), ``metrics.json`` and
``figure.png`` (input raster, recurrent raster, readout against target, loss curve, the
layout of Bellec et al. 2020, Fig. 2/3). Under ``cpp_standalone`` every chunk of iterations
is one execution of one compiled binary (inputs, targets, weights and optimizer state passed
through ``run_args``). The inputs of chunk ``k`` derive from ``(seed, k)`` alone, so a resumed
run sees the same data and ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn import rundir
from brainlearn.atomic import atomic_path, save_npz
from brainlearn.models.eprop.network import EpropResult, EpropSimulation
from brainlearn.models.eprop.params import EpropWeights
from brainlearn.models.eprop.plots import plot_run
from brainlearn.models.eprop.tasks import TASKS, Task

__all__ = ["DEFAULTS", "STOP_BATCHES", "MODEL", "train", "train_task", "summary", "chunk_task"]

#: the registry name that ``config.json`` records (:mod:`brainlearn.models.contract`)
MODEL = "eprop-rsnn"

#: defaults per task: iterations (NEST's example: 200 for sine waves; the original code's
#: maximum, 2000, for evidence accumulation), batch size, iterations per chunk, stop criterion
DEFAULTS = {
    "sine-waves": {"iterations": 200, "batch_size": 1, "chunk": 20, "stop_error": None},
    "evidence-accumulation": {"iterations": 2000, "batch_size": 32, "chunk": 1,
                              "stop_error": 0.07},
}
#: batches whose mean error must be below ``stop_error`` (the original code checks 8 batches)
STOP_BATCHES = 8


def _chunk_seed(seed: int, chunk: int) -> int:
    if chunk == 0:
        return int(seed)   # chunk 0 with seed 1 is NEST's test protocol
    return int(np.random.SeedSequence([int(seed), int(chunk)]).generate_state(1)[0])


def chunk_task(config: dict, chunk: int) -> Task:
    """Inputs, targets (and initial weights) of chunk ``chunk`` of a run.

    Parameters
    ----------
    config : dict
        The run's configuration (``task``, ``chunk``, ``batch_size``, ``seed``).
    chunk : int
        Chunk index.
    """
    make = TASKS[config["task"]]
    kwargs = {"n_iter": config["chunk"], "seed": _chunk_seed(config["seed"], chunk)}
    if config["task"] == "evidence-accumulation":
        kwargs["batch_size"] = config["batch_size"]
    else:
        kwargs["seed"] = config["seed"]   # one frozen pattern (NEST's and the paper's task)
        kwargs["n_iter"] = config["chunk"] * config["batch_size"]
        kwargs["batch_size"] = config["batch_size"]
    return make(**kwargs)


def _write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(rundir.json_text(data, indent=2) + "\n")


def _checkpoint(path: Path, weights: EpropWeights, meta: dict, history: pd.DataFrame) -> None:
    arrays = weights.arrays()
    arrays["meta"] = np.array(json.dumps(meta))
    for col in history.columns:
        arrays[f"history_{col}"] = history[col].to_numpy()
    save_npz(path, **arrays)


def _load_checkpoint(path: Path) -> tuple[EpropWeights, dict, pd.DataFrame]:
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays.pop("meta")))
    history = pd.DataFrame({k[8:]: v for k, v in arrays.items() if k.startswith("history_")})
    weights = EpropWeights.from_arrays({k: v for k, v in arrays.items()
                                        if not k.startswith("history_")})
    return weights, meta, history


def _iteration_table(result: EpropResult, task: Task, first_iteration: int) -> pd.DataFrame:
    batch = task.params.batch_size
    loss = result.loss.reshape(-1, batch).mean(axis=1)
    table = pd.DataFrame({"iteration": first_iteration + np.arange(len(loss)), "loss": loss})
    if task.labels is not None:
        table["error"] = result.error(task.labels).reshape(-1, batch).mean(axis=1)
    return table


def train(run_dir: str | Path, config: dict | None = None, progress: bool = True) -> dict:
    """Train (or resume) the e-prop task of a run directory.

    Parameters
    ----------
    run_dir : path
        Created with ``config`` if new; resumed from ``checkpoint.npz`` otherwise.
    config : dict, optional
        ``task`` (``sine-waves`` or ``evidence-accumulation``), ``iterations``,
        ``batch_size``, ``chunk`` (iterations per binary execution), ``seed``, ``device``
        (``cpp_standalone`` or ``runtime``), ``stop_error`` (stop when the error of the last
        batch and the mean of the last :data:`STOP_BATCHES` batches are below it).
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        The metrics (also written to ``metrics.json``).
    """
    run_dir = Path(run_dir)
    config = _open_config(run_dir, config)
    ckpt_path = run_dir / "checkpoint.npz"
    if ckpt_path.exists():
        weights, meta, history = _load_checkpoint(ckpt_path)
    else:
        weights = chunk_task(config, 0).weights
        meta = {"iteration": 0, "train_seconds": 0.0, "compile_seconds": 0.0, "stopped": False}
        history = pd.DataFrame()
    result, task, history = _train_chunks(run_dir, config, weights, meta, history, progress)
    metrics = _metrics(config, meta, history)
    _write_json(run_dir / "metrics.json", metrics)
    if result is not None and result.records:
        plot_run(run_dir / "figure.png", result, task, history)
    return metrics


def train_task(run_dir: str | Path | None, task: str | None = None, *, resume: bool = False,
               progress: bool = True, **options) -> dict:
    """Start a run of ``task`` in ``run_dir``, or resume the run there (``brainlearn eprop train``).

    Parameters
    ----------
    run_dir : path
        The run directory.
    task : str, optional
        A key of :data:`~brainlearn.models.eprop.tasks.TASKS` (a new run needs it).
    resume : bool
        Continue the run in ``run_dir`` from its checkpoint (its ``config.json`` holds the
        options).
    progress : bool
        Show a progress bar.
    **options
        ``iterations``, ``batch_size``, ``chunk``, ``seed``, ``device``, ``stop_error`` (see
        :func:`train`; ``None`` takes the task's default).
    """
    if resume:
        if run_dir is None:
            raise ValueError("resume needs the run directory to continue")
        return train(run_dir, None, progress=progress)
    if run_dir is None or task is None:
        raise ValueError("a new e-prop run needs a task and a run directory (--task and --out), "
                         "or --resume DIR to continue one")
    return train(run_dir, {"task": task, **options}, progress=progress)


def summary(metrics: dict) -> str:
    """One line on a finished run: loss, error and time (what ``brainlearn eprop train`` prints)."""
    text = (f"{metrics['task']}: {metrics['iterations']} iterations, loss "
            f"{metrics['final_loss']:.4g}, {metrics['train_seconds']:.1f} s training")
    if "final_error" in metrics:
        text += (f", error {metrics['final_error']:.3f} (mean of last batches "
                 f"{metrics['mean_error_last_batches']:.3f})")
        if metrics["stopped_early"]:
            text += f", below {metrics['stop_error']} at iteration {metrics['stop_iteration']}"
    return text


def _open_config(run_dir: Path, config: dict | None) -> dict:
    """The run's configuration: read back when it exists, else completed and written."""
    if (run_dir / "config.json").exists():
        return json.loads((run_dir / "config.json").read_text())
    if config is None:
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json) to resume")
    task = config.get("task")
    if task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
    config = {**DEFAULTS[task], "seed": 1, "device": "cpp_standalone",
              **{k: v for k, v in config.items() if v is not None}, "model": MODEL}
    if config["iterations"] % config["chunk"]:
        raise ValueError(f"iterations ({config['iterations']}) must be a multiple of the "
                         f"chunk ({config['chunk']} iterations)")
    run_dir.mkdir(parents=True, exist_ok=True)
    config["params"] = chunk_task(config, 0).params.describe()
    _write_json(run_dir / "config.json", config)
    return config


def _train_chunks(run_dir: Path, config: dict, weights: EpropWeights, meta: dict,
                  history: pd.DataFrame, progress: bool):
    """Run chunk after chunk from the checkpoint; checkpoint and ``loss.csv`` after each."""
    from tqdm import tqdm

    total = config["iterations"]
    sim = result = task = None
    bar = tqdm(total=total, initial=meta["iteration"], unit="it", desc=config["task"],
               disable=not progress, dynamic_ncols=True)
    try:
        while meta["iteration"] < total and not meta["stopped"]:
            task = chunk_task(config, meta["iteration"] // config["chunk"])
            if sim is None:
                sim = EpropSimulation(task.params, config["chunk"] * config["batch_size"],
                                      config["device"], run_dir / "build")
            result = sim.run(weights, task.stim, task.target)
            if sim.compile_seconds and not meta["compile_seconds"]:
                meta["compile_seconds"] = round(sim.compile_seconds, 2)
            weights = result.weights
            history = pd.concat([history, _iteration_table(result, task, meta["iteration"])],
                                ignore_index=True)
            meta["iteration"] += config["chunk"]
            meta["train_seconds"] += result.wall_seconds
            _check_stop(config, meta, history)
            _checkpoint(run_dir / "checkpoint.npz", weights, meta, history)
            with atomic_path(run_dir / "loss.csv") as tmp:
                history.to_csv(tmp, index=False)
            bar.update(config["chunk"])
            last = history.iloc[-1]
            bar.set_postfix(loss=f"{last['loss']:.4g}",
                            **({"error": f"{last['error']:.3f}"} if "error" in last else {}))
    finally:
        bar.close()
        if sim is not None:
            sim.close()
    return result, task, history


def _check_stop(config: dict, meta: dict, history: pd.DataFrame) -> None:
    """Mark the run stopped when the last batch and the last few are below ``stop_error``."""
    stop = config.get("stop_error")
    if stop is not None and "error" in history and len(history) >= STOP_BATCHES:
        recent = history["error"].to_numpy()
        if recent[-1] < stop and recent[-STOP_BATCHES:].mean() < stop:
            meta["stopped"] = True
            meta["stop_iteration"] = int(meta["iteration"])


def _metrics(config: dict, meta: dict, history: pd.DataFrame) -> dict:
    metrics = {"task": config["task"], "iterations": int(meta["iteration"]),
               "batch_size": config["batch_size"],
               "train_seconds": round(meta["train_seconds"], 2),
               "compile_seconds": meta["compile_seconds"],
               "final_loss": float(history["loss"].iloc[-1]) if len(history) else None,
               "stopped_early": bool(meta["stopped"]), "device": config["device"]}
    if "error" in history:
        metrics["final_error"] = float(history["error"].iloc[-1])
        metrics["mean_error_last_batches"] = float(history["error"].iloc[-STOP_BATCHES:].mean())
        metrics["stop_error"] = config.get("stop_error")
        metrics["stop_iteration"] = meta.get("stop_iteration")
    return metrics
