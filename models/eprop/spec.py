"""The registry entries of e-prop: ``eprop-readout`` and ``eprop-rsnn``.

``eprop-readout`` is the e-prop readout of a finished Diehl & Cook run (its results live in
that run's ``metrics.json``, the fitted readout beside them); ``eprop-rsnn`` a recurrent
LIF/ALIF network trained on one of the paper's tasks in a run directory of its own. Nothing
here imports a simulator: each callable imports the package's modules when called.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainlearn import rundir
from brainlearn.experiments import Experiment
from brainlearn.models.contract import ModelSpec, register_model, run_info

__all__ = ["READOUT", "RSNN", "readout_rows", "readout_owns", "readout_train", "readout_load",
           "readout_evaluate", "rsnn_owns", "rsnn_train", "rsnn_evaluate", "rsnn_demo",
           "rsnn_sweep", "READOUT_SPEC",
           "RSNN_SPEC"]

READOUT = "eprop-readout"
RSNN = "eprop-rsnn"
_EPROP = ("G. Bellec et al. (2020), A solution to the learning dilemma for recurrent "
          "networks of spiking neurons, Nat. Commun. 11:3625")
#: the tasks of ``brainlearn eprop train`` (as :data:`brainlearn.models.eprop.tasks.TASKS`)
_TASKS = ("sine-waves", "evidence-accumulation")


def readout_rows(run_dir: Path) -> list[dict]:
    """The e-prop readout of a Diehl & Cook run (where ``brainlearn eprop mnist-readout`` ran)."""
    from brainlearn.models.diehl_cook.spec import input_window

    metrics = rundir.read_metrics(run_dir)
    if metrics.get("accuracy_eprop") is None:
        return []
    n = metrics["neurons"]
    t_input, dt = input_window(run_dir)
    if "eprop_input" in metrics:  # what the e-prop readout was trained and scored on
        label = f"+ e-prop readout (Brian2, {metrics['eprop_input']})"
    else:  # runs from before spike timing was recorded: counts spread evenly
        label = "+ e-prop readout (Brian2, counts spread evenly)"
    return [{
        "method": f"Diehl & Cook STDP, N={n}, {label}",
        "accuracy": metrics["accuracy_eprop"],
        "train_seconds": metrics.get("train_seconds", np.nan),
        "inference_steps": round(t_input / dt), "sim_ms_per_inference": t_input,
        "parameters": 784 * n + n + 10 * n,
        "local_online_learning": "yes (STDP + e-prop readout, local & online)",
        "spikes_per_inference": metrics.get("test_spikes_per_example", np.nan),
        "test_examples": metrics.get("test_examples"), "source": str(run_dir),
    }]


def readout_owns(run_dir: Path) -> bool:
    """A run directory whose ``metrics.json`` holds the e-prop readout's accuracy."""
    return "accuracy_eprop" in rundir.read_metrics(run_dir)


def readout_train(run_dir, *, data: str = "full", seed: int = 0, **options) -> dict:
    """:func:`brainlearn.models.eprop.mnist_readout.evaluate_run` (trains and scores the
    readout of an evaluated Diehl & Cook run; ``seed`` orders the training images)."""
    from brainlearn.models.eprop.mnist_readout import evaluate_run

    return evaluate_run(run_dir, seed=seed, **options)


def readout_evaluate(run_dir, **options) -> dict:
    """:func:`brainlearn.models.eprop.mnist_readout.evaluate_run` (the readout trains and is
    scored in one pass)."""
    from brainlearn.models.eprop.mnist_readout import evaluate_run

    return evaluate_run(run_dir, **options)


def readout_load(run_dir: Path):
    """The fitted :class:`~brainlearn.models.eprop.readout.EpropReadout` of a run."""
    from brainlearn.models.eprop.mnist_readout import load_run

    return load_run(run_dir)


def rsnn_owns(run_dir: Path) -> bool:
    """A run directory of ``brainlearn eprop train`` (also those written before its
    ``config.json`` named the model): its config names one of the e-prop tasks."""
    config = rundir.read_config(run_dir)
    return config.get("task") in _TASKS and "params" in config


def rsnn_train(run_dir, *, data: str = "full", seed: int = 0, **options) -> dict:
    """:func:`brainlearn.models.eprop.runs.train` with ``options`` as its config."""
    from brainlearn.models.eprop.runs import train

    return train(run_dir, {"seed": seed, **options})


def rsnn_evaluate(run_dir, **options) -> dict:
    """The run's metrics: the e-prop network is scored on its task as it trains."""
    run_info(run_dir)
    return rundir.read_metrics(run_dir)


def rsnn_demo(out, *, seed: int = 0, device: str = "cpp_standalone") -> dict:
    """Sine-wave regression (Bellec et al. 2020, Fig. 2): NEST's example, 200 iterations in
    chunks of 20, one compiled binary (``seed=1`` is NEST's pattern)."""
    from brainlearn.models.eprop.runs import train

    return train(out, {"task": "sine-waves", "seed": seed, "device": device}, progress=False)


def rsnn_sweep(params: dict, seed: int, workdir: Path) -> dict:
    """One e-prop training of ``params["task"]`` in ``workdir/eprop`` (one chunk, no plot
    of its own beyond the run's figure); the run's metrics."""
    from brainlearn.models.eprop.runs import train

    iterations = int(params.get("iterations", 20))
    config = {"task": params.get("task", "sine-waves"), "iterations": iterations,
              "chunk": int(params.get("chunk", iterations)), "seed": seed,
              "device": params.get("device", "runtime")}
    if "batch_size" in params:
        config["batch_size"] = int(params["batch_size"])
    return train(Path(workdir) / "eprop", config, progress=False)


READOUT_SPEC = register_model(ModelSpec(
    name=READOUT,
    title="softmax readout of a finished Diehl & Cook network, trained online with "
          "e-prop (one update per image) in Brian2",
    family="e-prop", citation=_EPROP, module="brainlearn.models.eprop.readout",
    train=readout_train, evaluate=readout_evaluate, rows=readout_rows, owns=readout_owns,
    load=readout_load,
    commands=("brainlearn mnist train --neurons 400 --epochs 3 --out runs/n400",
              "brainlearn mnist evaluate runs/n400",
              "brainlearn eprop mnist-readout runs/n400"),
    embedded=("brainlearn mnist train --neurons 100 --examples 1000 --data embedded "
              "--out runs/demo",
              "brainlearn mnist evaluate runs/demo --assign-examples 1000 --test-examples 500",
              "brainlearn eprop mnist-readout runs/demo"),
    local_online=True,
))

RSNN_SPEC = register_model(ModelSpec(
    name=RSNN,
    title="recurrent LIF/ALIF network trained online with e-prop on the paper's tasks "
          "(sine-wave regression, evidence accumulation), in Brian2",
    family="e-prop", citation=_EPROP, module="brainlearn.models.eprop",
    train=rsnn_train, evaluate=rsnn_evaluate, owns=rsnn_owns, demo=rsnn_demo,
    sweep=Experiment(
        "eprop-rsnn", rsnn_sweep,
        "e-prop training of a recurrent LIF/ALIF network on one of the paper's tasks",
        {"task": "sine-waves | evidence-accumulation", "iterations": "20",
         "batch_size": "the task's (1 | 32)", "chunk": "iterations per run (default: all)",
         "device": "runtime | cpp_standalone"}),
    commands=("brainlearn eprop train --task evidence-accumulation --out runs/eprop_ea",),
    local_online=True,
))
