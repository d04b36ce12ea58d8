"""The experiment registry: named functions that a parameter sweep runs as tasks.

An experiment is ``fn(params: dict, seed: int, workdir: Path) -> dict``: it reads its
parameters from ``params`` (plain values from a grid: numbers, strings, booleans), uses
``seed`` for everything stochastic, writes whatever it builds (standalone projects, run
directories) under ``workdir`` and returns a flat dict of results (one row of the sweep's
table). Brian2 state is global per process: :func:`brainlearn.sweep.sweep` runs every task in
its own worker process slot, gives it its own directories and resets the device afterwards.

Registered here:

==============  ===========================================================================
``protocol``    a rule scored on a bundled plasticity dataset (E of Pfister & Gerstner 2006)
``bi_poo``      the STDP window of a rule and its exponential fit
``song``        Song, Miller & Abbott (2000) competitive learning (bimodality of the weights)
``selftest``    pure Python, no Brian2: a seeded number (and an optional failure), to check a
                cluster or the sweep machinery in a second
==============  ===========================================================================

Models register their own sweep task through their registry entry
(:class:`brainlearn.models.contract.ModelSpec`'s ``sweep``: ``mnist`` for Diehl & Cook,
``conversion`` for the converted MLP); importing :mod:`brainlearn.models` and using its
``MODELS`` registers them. Register more with the :func:`register` decorator (the function must
be importable on the workers, e.g. defined in an installed module).
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


# ------------------------------------------------------------------------- helpers
def _rule(params: dict):
    """A named rule (``rule``, ``preset``) with overrides: numbers as they are, ``*_ms`` times."""
    from brian2 import ms

    from brainlearn.protocols import make_rule

    rule = make_rule(params.pop("rule", "pair"), params.pop("preset", None))
    known = rule.params()
    overrides = {}
    for key in list(params):
        name = key[:-3] if key.endswith("_ms") else key
        if name not in known:
            raise ValueError(f"{key!r} is not a parameter of {type(rule).__name__} (nor of the "
                             f"experiment); the rule has {', '.join(sorted(known))} (times as NAME_ms)")
        value = params.pop(key)
        overrides[name] = float(value) * ms if key.endswith("_ms") else value
    return rule.replace(**overrides) if overrides else rule


_RULE_PARAMS = {
    "rule": "pair | pair-nearest | pair-multiplicative | triplet | diehl-cook (default pair)",
    "preset": "triplet preset",
    "*": "rule parameters: A_plus=0.01, tau_plus_ms=16.8 (times with _ms)",
}


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


@register("protocol", "a rule scored on a bundled dataset (fit error E, deterministic)",
          {"dataset": "sjostrom2001 | sjostrom2001_alt | froemke2006 | nevian2006",
           "structure": "bursts | pfister", "target": "numpy | cython", **_RULE_PARAMS})
def _protocol(params: dict, seed: int, workdir: Path) -> dict:
    from brainlearn.protocols import score

    dataset = params.pop("dataset", "sjostrom2001")
    structure = params.pop("structure", "bursts")
    target = params.pop("target", "numpy")
    rule = _rule(params)
    _no_leftovers("protocol", params)
    result = score(rule, dataset, structure=structure, target=target)
    z = result.points["z"].to_numpy()
    return {"E": result.E, "points": len(z), "max_abs_z": float(np.max(np.abs(z)))}


@register("bi_poo", "the STDP window of a rule (60 pairs at 1 Hz) and its exponential fit",
          {"n_pairs": "60", "target": "numpy | cython", **_RULE_PARAMS})
def _bi_poo(params: dict, seed: int, workdir: Path) -> dict:
    from brainlearn.protocols import bi_poo

    n_pairs = int(params.pop("n_pairs", 60))
    target = params.pop("target", "numpy")
    rule = _rule(params)
    _no_leftovers("bi_poo", params)
    return dict(bi_poo(rule, n_pairs=n_pairs, target=target).params)


@register("song", "Song, Miller & Abbott 2000: final weight distribution (seeded)",
          {"ratio": "1.05", "duration_s": "100", "n_inputs": "1000", "amplitude": "0.01",
           "device": "runtime | cpp_standalone"})
def _song(params: dict, seed: int, workdir: Path) -> dict:
    from brian2 import second

    from brainlearn.protocols import song

    device = params.get("device", "runtime")
    result = song(
        ratio=float(params.get("ratio", 1.05)), n_inputs=int(params.get("n_inputs", 1000)),
        duration=float(params.get("duration_s", 100.0)) * second, seed=seed,
        amplitude=float(params.get("amplitude", 0.01)), device=device,
        directory=str(workdir / "build") if device == "cpp_standalone" else None,
    )
    return result.to_frame().iloc[0].to_dict()


def _no_leftovers(name: str, params: dict) -> None:
    if params:
        raise ValueError(f"experiment {name!r}: unknown parameter(s) {', '.join(sorted(params))}")
