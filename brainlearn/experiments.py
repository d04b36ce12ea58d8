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
``selftest``    pure Python, no Brian2: a seeded number (and an optional failure), to check a
                cluster or the sweep machinery in a second
==============  ===========================================================================

Models register their own sweep task through their registry entry
(:class:`brainlearn.models.contract.ModelSpec`'s ``sweep``: ``mnist`` for Diehl & Cook,
``conversion`` for the converted MLP); importing :mod:`brainlearn.models` and using its
``MODELS`` registers them. The protocols register ``protocol``, ``bi_poo`` and ``song``
(:mod:`brainlearn.protocols.sweep_tasks`). Both are found through the
``brainlearn.experiments`` entry point (:func:`load_plugins`). Register more with the
:func:`register` decorator (the function must be importable on the workers, e.g. defined in an
installed module: :func:`brainlearn.sweep.sweep` sends the registered experiment itself to the
workers, so they import the module that defines it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Experiment", "register", "get_experiment", "list_experiments", "load_plugins",
           "EXPERIMENTS", "ENTRY_POINT_GROUP"]

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


#: the entry-point group of packages that register experiments (``setup.py``: the models'
#: registry, the protocols); a third-party package registers its own the same way
ENTRY_POINT_GROUP = "brainlearn.experiments"
_plugins_loaded = False


def load_plugins() -> None:
    """Load every ``brainlearn.experiments`` entry point once (each registers experiments).

    The core names no package built on it: the models and the protocols announce their
    experiments through this entry-point group, as a third-party package can.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        loaded = point.load()
        if callable(loaded):
            loaded()


def get_experiment(name: str) -> Experiment:
    """The registered experiment ``name`` (ValueError listing the names if unknown)."""
    if name not in EXPERIMENTS:
        load_plugins()
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(sorted(EXPERIMENTS))}")
    return EXPERIMENTS[name]


def list_experiments() -> pd.DataFrame:
    """One row per registered experiment: ``name``, ``description``, ``params``."""
    load_plugins()
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


