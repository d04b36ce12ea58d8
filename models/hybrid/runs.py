"""Run directories of the hybrid: ``RUN/hybrid/`` inside an evaluated Diehl & Cook run.

``train_run`` reads the run's recorded assignment (training) spikes and writes
``hybrid/layer.npz``, ``hybrid/train_metrics.csv``, ``hybrid/config.json`` (``kind``
``"hybrid"``, ``model`` ``"stdp-bp-hybrid"``) and ``hybrid/metrics.json``; ``evaluate_run``
adds ``hybrid/results.csv`` and the accuracies. The run's own files are not touched.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd

from brainlearn import rundir
from brainlearn.atomic import atomic_path
from brainlearn.models.hybrid.layer import HybridLayer
from brainlearn.models.hybrid.spikes import RecordedSpikes

__all__ = ["SUBDIR", "LAYER_FILE", "MODEL", "hybrid_dir", "train_run", "evaluate_run",
           "write_layer"]

#: the folder inside a Diehl & Cook run directory that holds the hybrid's files
SUBDIR = "hybrid"
#: the trained layer's file inside it
LAYER_FILE = "layer.npz"
#: the registry name (``config.json``'s ``model``)
MODEL = "stdp-bp-hybrid"


def hybrid_dir(run_dir) -> tuple[Path, Path]:
    """The Diehl & Cook run directory and its hybrid folder; ``run_dir`` may be either."""
    root = rundir.open_run(run_dir)
    if root.name == SUBDIR and (root / LAYER_FILE).is_file():
        return root.parent, root
    return root, root / SUBDIR


def write_layer(out: str | Path, layer: HybridLayer, config: dict, *, wall: float) -> dict:
    """Write a trained layer, its training curve, config and metrics into ``out``.

    Parameters
    ----------
    out : path
        The hybrid's run directory (created if needed).
    layer : HybridLayer
        The trained layer.
    config : dict
        More entries of ``config.json`` (the Diehl & Cook run, hidden size, window).
    wall : float
        Seconds the training took.

    Returns
    -------
    dict
        The metrics written: ``train_seconds``, ``parameters``, ``train_examples``, the last
        epoch's ``train_accuracy`` and ``validation_accuracy``, ``steps``, ``step_ms``.
    """
    with rundir.new_run(out) as run:
        (run / "results.csv").unlink(missing_ok=True)  # an evaluation of an earlier layer
        layer.save(run / LAYER_FILE)
        with atomic_path(run / "train_metrics.csv") as tmp:
            layer.history.to_csv(tmp, index=False)
        rundir.write_config(run, {**layer.config, **config, "model": MODEL}, kind="hybrid")
        last = layer.history.iloc[-1]
        metrics = {"train_seconds": round(wall, 2), "parameters": layer.n_parameters,
                   "train_examples": layer.config["train_examples"],
                   "train_accuracy": float(last["train_accuracy"]),
                   "validation_accuracy": (None if math.isnan(last["validation_accuracy"])
                                           else float(last["validation_accuracy"])),
                   "steps": layer.steps, "step_ms": 1000 * layer.window / layer.steps}
        rundir.write_json(run / rundir.METRICS, metrics)
        return metrics


def train_run(run_dir: str | Path, *, progress: bool = True, **kwargs) -> dict:
    """Train the hybrid on a finished Diehl & Cook run; write ``RUN_DIR/hybrid/``.

    A run without recorded spike timing raises ``FileNotFoundError`` saying to evaluate it
    again.

    Parameters
    ----------
    run_dir : path
        An evaluated Diehl & Cook run directory.
    progress : bool
        A progress bar over batches.
    **kwargs
        Passed to :func:`~brainlearn.models.hybrid.training.train`.

    Returns
    -------
    dict
        The metrics of :func:`write_layer`.
    """
    from brainlearn.models.hybrid.training import train

    root, out = hybrid_dir(run_dir)
    spikes = RecordedSpikes.from_run(root, "assign")
    RecordedSpikes.from_run(root, "test")  # fail now, not after training, if it is missing
    start = time.perf_counter()
    layer = train(spikes, progress=progress, **kwargs)
    wall = time.perf_counter() - start
    return write_layer(out, layer, {"run_dir": str(root), "hidden_neurons": spikes.n_neurons,
                                    "window_s": spikes.window}, wall=wall)


def evaluate_run(run_dir: str | Path, *, brian2: bool = True, examples: int | None = None,
                 brian2_examples: int | None = None, dtype: str = "float64",
                 device: str = "runtime", lanes: int | None = None,
                 codegen: str | None = None) -> pd.DataFrame:
    """Score the trained hybrid of ``run_dir`` on the run's recorded test spikes.

    Writes ``hybrid/results.csv`` (:func:`~brainlearn.models.hybrid.evaluation.evaluate`) and
    merges ``accuracy_trainer``, ``accuracy_brian2``, ``agreement`` and
    ``spikes_per_inference`` into ``hybrid/metrics.json``; ``brainlearn compare RUN_DIR``
    shows the row. ``codegen`` (``"numpy"``, ``"cython"``) sets Brian2's code generation
    target in runtime mode.
    """
    from brainlearn.models.hybrid.evaluation import evaluate
    from brainlearn.models.surrogate.runs import set_codegen

    root, out = hybrid_dir(run_dir)
    layer = HybridLayer.load(out / LAYER_FILE)
    spikes = RecordedSpikes.from_run(root, "test")
    set_codegen(device, codegen)
    directory = out / "build" if device == "cpp_standalone" else None
    table = evaluate(layer, spikes, brian2=brian2, examples=examples,
                     brian2_examples=brian2_examples, dtype=dtype, device=device, lanes=lanes,
                     directory=directory)
    table["device"] = device
    with atomic_path(out / "results.csv") as tmp:
        table.to_csv(tmp, index=False)
    metrics = {f"accuracy_{r.implementation}": float(r.accuracy) for r in table.itertuples()}
    metrics.update({f"n_examples_{r.implementation}": int(r.n_examples)
                    for r in table.itertuples()})
    if brian2:
        metrics["agreement"] = float(table["agreement"].iloc[-1])
    metrics["spikes_per_inference"] = float(table["spikes_per_inference"].iloc[-1])
    rundir.update_metrics(out, metrics)
    return table
