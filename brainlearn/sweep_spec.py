"""Sweep specs: the YAML file (or command-line options) that says what ``brainlearn sweep`` runs.

A spec is a mapping::

    experiment: protocol
    grid:
      dataset: [sjostrom2001, froemke2006, nevian2006]
      rule: [pair, triplet]
    seeds: 2                     # seeds 0 and 1 (or a list: [0, 7, 42])
    out: runs/sweep_protocols
    # workers: 8                 # LocalCluster size (default: one process per core)
    # scheduler: tcp://HOST:8786 # an existing Dask cluster instead
    # retries: 1

:func:`run_spec` merges a spec with overrides (the command line's), resumes from the
``sweep.json`` a sweep directory keeps, and runs :func:`brainlearn.sweep.sweep`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

__all__ = ["SPEC_KEYS", "load_spec", "parse_grid", "parse_seeds", "run_spec"]

#: the keys a sweep spec may hold
SPEC_KEYS = ("experiment", "grid", "seeds", "out", "workers", "scheduler", "retries")


def load_spec(path: str | os.PathLike) -> dict:
    """Read a sweep spec (YAML mapping with ``experiment``, ``grid``, ``seeds``, ``out`` ...)."""
    import yaml

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{path}: no such sweep spec")
    try:
        spec = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: a sweep spec is a mapping (experiment:, grid:, seeds:, out:)")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(SPEC_KEYS))}")
    return spec


def parse_grid(items: list[str] | None) -> dict:
    """``["rule=pair,triplet", "A_plus=0.01"]`` -> ``{"rule": ["pair", "triplet"], "A_plus": [0.01]}``
    (every value read as a YAML scalar)."""
    import yaml

    grid: dict = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ValueError(f"--grid takes KEY=V1,V2,... items, got {item!r}")
        grid[key.strip()] = [yaml.safe_load(v.strip()) for v in values.split(",")]
    return grid


def parse_seeds(text) -> int | list[int] | None:
    """``"3"`` -> 3 (seeds 0..2), ``"0,7,42"`` -> ``[0, 7, 42]``; an int or list as it is."""
    if text is None or isinstance(text, (int, list)):
        return text
    try:
        values = [int(p) for p in str(text).split(",") if p.strip()]
    except ValueError:
        raise ValueError(f"--seeds takes a count K or a list like 0,7,42, got {text!r}") from None
    if not values:
        raise ValueError(f"--seeds takes a count K or a list like 0,7,42, got {text!r}")
    return values[0] if len(values) == 1 and "," not in str(text) else values


def _resolve(spec_path, overrides: dict, resume: bool) -> dict:
    """The spec file merged with the overrides (or the stored spec of a resumed sweep)."""
    spec = load_spec(spec_path) if spec_path else {}
    out = overrides.get("out") or spec.get("out")
    if not spec_path and resume and out and (Path(out) / "sweep.json").exists():
        stored = json.loads((Path(out) / "sweep.json").read_text())
        spec = {"experiment": stored["experiment"], "grid": stored["grid"], "seeds": stored["seeds"]}
    experiment = overrides.get("experiment") or spec.get("experiment")
    if not experiment:
        raise ValueError("name the experiment: a SPEC.yaml with 'experiment:' or --experiment NAME "
                         "(brainlearn sweep --list shows them)")
    grid = spec.get("grid") or {}
    extra = overrides.get("grid") or {}
    if extra:
        if not isinstance(grid, dict):
            raise ValueError("--grid adds to a grid given as a mapping, not a list of points")
        grid = {**grid, **extra}
    seeds = overrides.get("seeds") if overrides.get("seeds") is not None else spec.get("seeds", 1)
    retries = overrides.get("retries")
    return {
        "experiment": experiment, "grid": grid, "seeds": seeds,
        "out": out or f"runs/sweep_{experiment}",
        "scheduler": overrides.get("scheduler") or spec.get("scheduler"),
        "workers": overrides.get("workers") or spec.get("workers"),
        "retries": retries if retries is not None else int(spec.get("retries", 1)),
    }


def run_spec(spec_path: str | os.PathLike | None = None, *, experiment: str | None = None,
             grid: dict | None = None, seeds=None, out: str | os.PathLike | None = None,
             workers: int | None = None, scheduler: str | None = None, serial: bool = False,
             retries: int | None = None, resume: bool = False, progress: bool = True) -> tuple[pd.DataFrame, str]:
    """Run the sweep a spec describes; the keyword arguments override the spec's values.

    Parameters
    ----------
    spec_path : path, optional
        A YAML spec (:func:`load_spec`). Without one, ``experiment`` is needed, or ``resume``
        with an ``out`` that holds a sweep (its stored spec is used).
    experiment, grid, seeds, out, workers, scheduler, retries
        Overrides of the spec's keys (``grid`` adds to the spec's grid; ``seeds`` as
        :func:`parse_seeds` reads it).
    serial : bool
        Run the tasks in this process, one after another.
    resume : bool
        Skip the tasks ``out`` already finished.
    progress : bool
        Show a progress bar.

    Returns
    -------
    (pandas.DataFrame, str)
        The results table (:func:`brainlearn.sweep.sweep`) and the sweep directory.
    """
    from brainlearn.sweep import sweep

    spec = _resolve(spec_path, {"experiment": experiment, "grid": grid, "seeds": parse_seeds(seeds),
                                "out": out, "workers": workers, "scheduler": scheduler,
                                "retries": retries}, resume)
    client = "serial" if serial else spec["scheduler"]
    frame = sweep(spec["experiment"], spec["grid"], spec["seeds"], client, out=spec["out"], resume=resume,
                  workers=spec["workers"], retries=spec["retries"], progress=progress)
    return frame, str(spec["out"])
