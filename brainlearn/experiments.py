"""The experiment registry: named functions that a parameter sweep runs as tasks.

An experiment is ``fn(params: dict, seed: int, workdir: Path) -> dict``: it reads its
parameters from ``params`` (plain values from a grid: numbers, strings, booleans), uses
``seed`` for everything stochastic, writes whatever it builds (standalone projects, run
directories) under ``workdir`` and returns a flat dict of results (one row of the sweep's
table). Brian2 state is global per process: :func:`brainlearn.sweep.sweep` runs every task in
its own worker process slot, gives it its own directories and resets the device afterwards.

The registry lives here; the experiments register from their own packages when those are
imported: ``protocol``, ``bi_poo`` and ``song`` from :mod:`brainlearn.protocols`
(:mod:`brainlearn.protocols.sweep_tasks`), the models' from :mod:`brainlearn.models`.
Registered here:

==============  ===========================================================================
``mnist``       a Diehl & Cook (2015) training run, optionally followed by its evaluation
``conversion``  an ANN-to-SNN conversion evaluated on the embedded MNIST subset
``selftest``    pure Python, no Brian2: a seeded number (and an optional failure), to check a
                cluster or the sweep machinery in a second
==============  ===========================================================================

Register more with the :func:`register` decorator (the function must be importable on the
workers, e.g. defined in an installed module: :func:`brainlearn.sweep.sweep` sends the
registered experiment itself to the workers, so they import the module that defines it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Experiment", "register", "get_experiment", "list_experiments", "EXPERIMENTS"]

ExperimentFn = Callable[[dict, int, Path], dict]


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: its ``name``, function and the parameters it reads."""

    name: str
    fn: ExperimentFn
    description: str
    params: dict

    def __call__(self, params: dict, seed: int, workdir: Path) -> dict:
        unknown = sorted(set(params) - set(self.params)) if self.params else []
        if unknown and "*" not in self.params:
            raise ValueError(
                f"experiment {self.name!r} has no parameter(s) {', '.join(unknown)}; "
                f"it reads {', '.join(sorted(self.params))}"
            )
        return self.fn(dict(params), int(seed), Path(workdir))


#: name -> Experiment
EXPERIMENTS: dict[str, Experiment] = {}


def register(name: str, description: str = "", params: dict | None = None):
    """Decorator registering ``fn(params, seed, workdir) -> dict`` under ``name``.

    Parameters
    ----------
    name : str
        The name a sweep spec or ``--experiment`` uses.
    description : str
        One line for ``brainlearn sweep --list``.
    params : dict, optional
        ``{parameter: "default and meaning"}``; a key ``"*"`` lets any further name through.
        Unknown parameters raise a ValueError naming the known ones.
    """

    def wrap(fn: ExperimentFn) -> ExperimentFn:
        EXPERIMENTS[name] = Experiment(name, fn, description, dict(params or {}))
        return fn

    return wrap


def get_experiment(name: str) -> Experiment:
    """The registered experiment ``name`` (ValueError listing the names if unknown)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(sorted(EXPERIMENTS))}")
    return EXPERIMENTS[name]


def list_experiments() -> pd.DataFrame:
    """One row per registered experiment: ``name``, ``description``, ``params``."""
    rows = [{"name": e.name, "description": e.description,
             "params": ", ".join(f"{k}={v}" for k, v in e.params.items())}
            for e in EXPERIMENTS.values()]
    return pd.DataFrame(rows, columns=["name", "description", "params"])


# ------------------------------------------------------------------ the experiments
@register("selftest", "pure Python: value = offset + seeded noise; fail=true raises",
          {"offset": "0.0", "scale": "1.0", "fail": "false", "sleep": "seconds to wait (0)"})
def _selftest(params: dict, seed: int, workdir: Path) -> dict:
    if params.get("fail"):
        raise RuntimeError(f"selftest asked to fail (offset={params.get('offset', 0.0)}, seed={seed})")
    if params.get("sleep"):
        time.sleep(float(params["sleep"]))
    rng = np.random.default_rng(seed)
    value = float(params.get("offset", 0.0)) + float(params.get("scale", 1.0)) * rng.standard_normal()
    return {"value": value, "draws": [float(x) for x in rng.random(3)]}


@register("mnist", "Diehl & Cook 2015 training (run directory in the task's workdir), then evaluation",
          {"neurons": "100", "examples": "1000", "data": "embedded | full",
           "device": "cpp_standalone | runtime | cuda_standalone", "chunk": "1000",
           "timer": "brian1 | brian2", "threads": "OpenMP threads",
           "assign_examples": "1000 (0: no evaluation)", "test_examples": "500"})
def _mnist(params: dict, seed: int, workdir: Path) -> dict:
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


@register("conversion", "ANN-to-SNN conversion on the embedded MNIST subset: SNN vs ANN accuracy",
          {"hidden": "500 (one layer) or '500-300'", "epochs": "10", "steps": "64",
           "input": "analog | poisson", "norm": "99.9 | max | a percentile",
           "reset": "subtract | zero", "test_examples": "500",
           "device": "runtime | cpp_standalone"})
def _conversion(params: dict, seed: int, workdir: Path) -> dict:
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
