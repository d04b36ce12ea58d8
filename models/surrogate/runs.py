"""Run directories of surrogate-gradient networks: train one, evaluate one, write one.

A run directory (:mod:`brainlearn.rundir`) holds ``snn.npz`` (the network), ``weights.npz``
(its first layer), ``config.json`` (``kind`` ``"surrogate"``, ``model`` the registry name, the
preset and every setting), ``metrics.json``, ``train_metrics.csv`` with ``accuracy.png`` (one
row per epoch), ``checkpoint.pt`` while training, and ``results.csv`` once evaluated.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn import rundir
from brainlearn.atomic import atomic_path
from brainlearn.models.surrogate.gradients import Surrogate, require_torch
from brainlearn.models.surrogate.network import SpikingMLP, decode
from brainlearn.models.surrogate.presets import MODEL_NAMES, resolve_settings

__all__ = ["SNN_FILE", "train_run", "evaluate_run", "write_run", "read_run", "train_kwargs",
           "set_codegen"]

#: the network's file inside a run directory
SNN_FILE = "snn.npz"
#: settings of :func:`resolve_settings` that are not arguments of ``train``
_NOT_TRAIN = ("preset", "surrogate", "surrogate_scale", "beta", "tau", "decay_input", "reset",
              "detach_reset")


def train_kwargs(settings: dict) -> dict:
    """The arguments of :func:`~brainlearn.models.surrogate.training.train` for ``settings``."""
    model = {k: v for k, v in settings.items() if k not in _NOT_TRAIN}
    if settings["neuron"] == "snntorch":
        model["beta"] = settings["beta"]
    else:
        model.update(tau=settings["tau"], decay_input=settings["decay_input"],
                     reset=settings["reset"], detach_reset=settings["detach_reset"])
    return model


def _write_history(history: pd.DataFrame, root: Path, title: str) -> None:
    from brainlearn.analysis.plots import save_figure
    from brainlearn.models.surrogate.plots import plot_history

    with atomic_path(root / "train_metrics.csv") as tmp:
        history.to_csv(tmp, index=False)
    save_figure(plot_history(history, title), root / "accuracy.png")


def train_run(out, *, preset: str | None = "snntorch-tutorial5", hidden=None,
              beta: float | None = None, threshold: float | None = None,
              steps: int | None = None, surrogate: str | None = None,
              surrogate_scale: float | None = None, loss: str | None = None,
              lr: float | None = None, batch_size: int | None = None,
              epochs: int | None = None, neuron: str | None = None, tau: float | None = None,
              decay_input: bool | None = None, reset: str | None = None,
              detach_reset: bool | None = None, encoder: str | None = None,
              bias: bool | None = None, seed: int = 0, threads: int | None = 2,
              torch_device: str = "cpu", source: str = "full",
              train_examples: int | None = None, test_examples: int | None = None,
              test_every_epoch: bool = True, progress: bool = True) -> dict:
    """Train with surrogate gradients and write a run directory (see :mod:`brainlearn.rundir`).

    The settings are the ``preset``'s (:data:`~brainlearn.models.surrogate.presets.PRESETS`,
    default ``"snntorch-tutorial5"``) except those given (not ``None``). Writes the files of
    the module docstring; ``checkpoint.pt`` after every epoch, so a killed run continues where
    it stopped when the same command is run again. PyTorch and the data are checked before
    anything is written, and a run that fails before its first epoch ends leaves no directory
    behind.

    Returns
    -------
    dict
        ``test_accuracy``, ``best_test_accuracy``, ``best_epoch``, ``train_seconds`` (the
        epochs' wall time summed, across resumes), ``seconds_per_epoch``, ``sizes``,
        ``test_examples``.
    """
    from brainlearn.data import load_mnist
    from brainlearn.models.surrogate.torch_net import forward
    from brainlearn.models.surrogate.training import train

    require_torch()
    settings = resolve_settings(preset, hidden=hidden, beta=beta, threshold=threshold,
                                steps=steps, surrogate=surrogate,
                                surrogate_scale=surrogate_scale, loss=loss, lr=lr,
                                batch_size=batch_size, epochs=epochs, neuron=neuron, tau=tau,
                                decay_input=decay_input, reset=reset,
                                detach_reset=detach_reset, encoder=encoder, bias=bias)
    rule = Surrogate(settings["surrogate"], settings["surrogate_scale"])
    x_train, y_train = load_mnist("train", n=train_examples, source=source)
    x_test, y_test = load_mnist("test", n=test_examples, source=source)
    title = f"{settings['preset']}: {'-'.join(map(str, (784, *settings['hidden'], 10)))}"
    resuming = (Path(out) / "checkpoint.pt").is_file()
    # a run that finished no epoch leaves nothing; one with a checkpoint can resume
    with rundir.new_run(out, keep=("checkpoint.pt",)) as run:
        start = time.perf_counter()
        net = train(x_train, y_train, surrogate=rule, seed=seed, threads=threads,
                    device=torch_device, progress=progress, **train_kwargs(settings),
                    test=(x_test, y_test) if test_every_epoch else None,
                    checkpoint=run / "checkpoint.pt",
                    on_epoch=lambda history: _write_history(history, run, title))
        wall = time.perf_counter() - start
        history = net.history.copy()
        if "test_accuracy" not in history:
            act = forward(net, x_test, threads=threads)
            history["test_accuracy"] = float("nan")
            history.loc[history.index[-1], "test_accuracy"] = float(
                (decode(act.counts, act.membrane) == y_test).mean())
        config = {"source": source, "threads": threads, "torch_device": torch_device,
                  "resumed": resuming, "train_examples": len(x_train),
                  "test_examples": len(x_test)}
        return write_run(run, net, settings, config, history=history, wall=wall,
                         test_examples=len(x_test))


def write_run(run: Path, net: SpikingMLP, settings: dict, config: dict, *,
              history: pd.DataFrame, wall: float, test_examples: int) -> dict:
    """Write a trained network into the run directory ``run``; return its metrics.

    Parameters
    ----------
    run : Path
        The run directory (it exists).
    net : SpikingMLP
        The trained network (``snn.npz`` keeps its own ``history``).
    settings : dict
        :func:`~brainlearn.models.surrogate.presets.resolve_settings` of the training.
    config : dict
        More entries of ``config.json`` (data source, threads, ...).
    history : pandas.DataFrame
        One row per epoch with ``test_accuracy`` (NaN where not measured).
    wall : float
        Wall time of the training call, seconds.
    test_examples : int
        Test images behind ``test_accuracy``.
    """
    name = settings["preset"]
    net.save(run / SNN_FILE)
    rundir.write_weights(run, np.asarray(net.weights[0]))
    _write_history(history, run,
                   f"{name}: {'-'.join(map(str, (784, *settings['hidden'], 10)))}")
    rundir.write_config(run, {**settings, **net.config, "hidden": list(settings["hidden"]),
                              **config, "model": MODEL_NAMES.get(name, "surrogate-mlp")},
                        kind="surrogate")
    test = history["test_accuracy"].to_numpy(dtype=float)
    best = int(np.nanargmax(test)) if np.isfinite(test).any() else len(test) - 1
    metrics = {"test_accuracy": float(test[-1]), "parameters": net.n_parameters,
               "test_examples": test_examples,
               # every epoch's wall time, also those of earlier calls of a resumed run
               "train_seconds": round(max(float(history["seconds"].sum()), wall), 1),
               "seconds_per_epoch": round(float(history["seconds"].mean()), 3),
               "best_test_accuracy": float(test[best]),
               "best_epoch": int(history["epoch"].iloc[best]),
               "epochs": int(history["epoch"].iloc[-1]), "preset": name,
               "sizes": list(net.sizes)}
    rundir.update_metrics(run, metrics)
    return metrics


def set_codegen(device: str, codegen: str | None) -> None:
    """Set Brian2's code generation target (``prefs.codegen.target``) for a runtime run."""
    if device == "runtime" and codegen:
        from brian2 import prefs

        prefs.codegen.target = codegen


def read_run(run_dir) -> SpikingMLP:
    """The trained network of a run directory (``snn.npz``)."""
    return SpikingMLP.load(rundir.open_run(run_dir) / SNN_FILE)


def evaluate_run(run_dir, *, test_examples: int | None = None, brian2: bool = True,
                 brian2_examples: int | None = None, dtype: str = "float32",
                 device: str = "runtime", lanes: int | None = None,
                 source: str = "full", seed: int = 0,
                 codegen: str | None = None) -> pd.DataFrame:
    """Evaluate the network of a :func:`train_run` directory
    (:func:`~brainlearn.models.surrogate.evaluation.evaluate`); write ``results.csv`` and the
    accuracies into ``metrics.json``; return the table. ``codegen`` (``"numpy"``,
    ``"cython"``) sets Brian2's code generation target in runtime mode."""
    from brainlearn.data import load_mnist
    from brainlearn.models.surrogate.evaluation import evaluate

    root = rundir.open_run(run_dir)
    net = read_run(root)
    set_codegen(device, codegen)
    x_test, y_test = load_mnist("test", n=test_examples, source=source)
    table = evaluate(net, x_test, y_test, brian2=brian2, brian2_examples=brian2_examples,
                     dtype=dtype, device=device, lanes=lanes, seed=seed)
    table["device"] = device
    with atomic_path(root / "results.csv") as tmp:
        table.to_csv(tmp, index=False)
    updates = {f"accuracy_{row.implementation}": float(row.accuracy)
               for row in table.itertuples()}
    if "brian2" in set(table["implementation"]):
        updates["agreement_brian2"] = float(table.set_index("implementation")
                                            .loc["brian2", "agreement"])
    rundir.update_metrics(root, updates)
    return table
