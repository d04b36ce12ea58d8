"""Scoring rules against data: E = (1/p) sum(((dw_exp - dw_model) / SEM)^2), and fits.

E is the fit error of Pfister & Gerstner (2006). :func:`fit_rule` minimises it with scipy's
differential evolution, evaluating a whole population of parameter sets in one simulation
(:class:`~brainlearn.protocols.engine.PopulationRun`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from brian2 import Quantity, second

from brainlearn.plasticity import PlasticityRule
from brainlearn.protocols.datasets import dataset_protocols, load_dataset
from brainlearn.protocols.engine import PopulationRun, run_protocol
from brainlearn.protocols.event_driven import is_event_driven, run_events
from brainlearn.units import si_unit

__all__ = ["Score", "Fit", "fit_error", "score", "score_together", "fit_rule"]


def fit_error(dw_exp, dw_model, sem) -> float:
    """E = mean(((dw_exp - dw_model) / sem) ** 2)."""
    dw_exp, dw_model, sem = (np.asarray(a, dtype=float) for a in (dw_exp, dw_model, sem))
    return float(np.mean(((dw_exp - dw_model) / sem) ** 2))


@dataclass(frozen=True)
class Score:
    """A rule scored on a dataset: per-point values and the fit error ``E``."""

    dataset: str
    points: pd.DataFrame
    E: float

    def to_frame(self) -> pd.DataFrame:
        """The per-point table (``label``, ``dw_exp``, ``sem``, ``dw_model``, ``z``)."""
        return self.points.copy()


@dataclass(frozen=True)
class Fit:
    """A fitted rule, its error ``E`` and the fitted parameters (SI floats)."""

    rule: PlasticityRule
    E: float
    params: dict
    E_before: float

    def to_frame(self) -> pd.DataFrame:
        """One row: ``E_before``, ``E`` and every fitted parameter."""
        return pd.DataFrame([{"E_before": self.E_before, "E": self.E, **self.params}])


def _points(data: pd.DataFrame, dw_model, dataset: str) -> pd.DataFrame:
    frame = pd.DataFrame({
        "dataset": dataset,
        "label": data["label"],
        "protocol": data["protocol"],
        "dt_ms": data["dt_ms"],
        "rho_hz": data["rho_hz"],
        "n_post": data["n_post"],
        "dw_exp": data["dw_mean"],
        "sem": data["dw_sem"],
        "dw_model": np.asarray(dw_model, dtype=float),
    })
    frame["z"] = (frame["dw_exp"] - frame["dw_model"]) / frame["sem"]
    return frame


def score(rule: PlasticityRule, dataset: str, *, structure: str = "bursts", target: str = "numpy") -> Score:
    """Run the protocols of ``dataset`` with ``rule`` at ``w0 = 1`` and score them.

    Parameters
    ----------
    rule : PlasticityRule
        The rule (use no upper bound for the published fractional data, see ``rules.make_rule``).
    dataset : str
        A bundled dataset (:func:`~brainlearn.protocols.datasets.load_dataset`).
    structure : {"bursts", "pfister"}
        Sjostrom pairing structure.
    target : str
        Brian2 code generation target.

    Returns
    -------
    Score
        ``points`` (one row per data point with ``dw_model``) and ``E``.
    """
    data = load_dataset(dataset)
    frame = run_protocol(rule, dataset_protocols(dataset, structure), w0=1.0, target=target)
    points = _points(data, frame["dw"], dataset)
    return Score(dataset, points, fit_error(points["dw_exp"], points["dw_model"], points["sem"]))


def score_together(rule: PlasticityRule, columns, extra=(), *, target: str = "numpy"):
    """Score ``rule`` on several datasets in ONE protocol run (the slow rules: one 0.1 ms
    simulation for the whole bench instead of one per dataset; the event-driven rules are
    played spike by spike, :func:`~brainlearn.protocols.event_driven.run_events`).

    Parameters
    ----------
    rule : PlasticityRule
        The rule.
    columns : list of (str, str)
        ``(dataset, structure)`` pairs.
    extra : list of Protocol
        More protocols run alongside (e.g. the Bi & Poo window); their rows come back as is.
    target : str
        Brian2 code generation target.

    Returns
    -------
    (list of Score, pandas.DataFrame)
        One :class:`Score` per column, in order, and the engine's rows of ``extra``.
    """
    parts = [dataset_protocols(d, s) for d, s in columns]
    protocols = [p for part in parts for p in part] + list(extra)
    if is_event_driven(rule):  # exact, spike by spike: the silences cost nothing
        frame = run_events(rule, protocols, w0=1.0)
    else:
        frame = run_protocol(rule, protocols, w0=1.0, target=target)
    scores, start = [], 0
    for (dataset, _), part in zip(columns, parts, strict=True):
        dw = frame["dw"].iloc[start:start + len(part)].to_numpy()
        start += len(part)
        points = _points(load_dataset(dataset), dw, dataset)
        scores.append(Score(dataset, points, fit_error(points["dw_exp"], points["dw_model"], points["sem"])))
    return scores, frame.iloc[start:].reset_index(drop=True)


def _default_bounds(rule: PlasticityRule, name: str) -> tuple[float, float]:
    value = rule.params()[name]
    if isinstance(value, Quantity) and value.dim == second.dim:
        return (1e-3, 0.5)
    x = float(value / si_unit(value))
    if isinstance(value, Quantity) and x < 0:  # a threshold below zero (e.g. in volts): +/- 50 %
        return (1.5 * x, 0.5 * x)
    return (0.0, max(5 * abs(x), 0.02) if not isinstance(value, Quantity) else 5 * abs(x))


def fit_rule(
    rule: PlasticityRule,
    dataset,
    free: list[str],
    *,
    protocols: list | None = None,
    bounds: dict | None = None,
    structure: str = "bursts",
    device: str = "runtime",
    popsize: int = 12,
    maxiter: int = 40,
    seed: int = 0,
) -> Fit:
    """Fit ``free`` parameters of ``rule`` to ``dataset`` by minimising E.

    Parameters
    ----------
    rule : PlasticityRule
        Starting rule (its other parameters stay fixed).
    dataset : str or pandas.DataFrame
        Bundled dataset name, or a table of the user's with ``dw_mean`` and ``dw_sem`` per
        row (then ``protocols`` gives the protocol of every row).
    free : list of str
        Parameter names to fit (e.g. ``["A_plus", "A_minus"]``; quantities in SI units:
        seconds, volts, 1/volt ...).
    protocols : list of Protocol, optional
        The protocols of a ``dataset`` given as a table (one per row).
    bounds : dict, optional
        ``{name: (low, high)}`` in SI units; default amplitudes ``[0, max(5 * value, 0.02)]``,
        times ``[1 ms, 500 ms]``, other quantities ``[0, 5 * value]`` (negative ones
        ``[1.5 * value, 0.5 * value]``).
    structure : {"bursts", "pfister"}
        Sjostrom pairing structure.
    device : {"runtime", "cpp_standalone"}
        ``cpp_standalone`` compiles once (~10 s) then evaluates each generation in ~0.1 s.
        Rules with their own runner (Clopath's neuron, Graupner & Brunel's noise lanes) run
        every generation as one runtime run (cython) whatever is asked.
    popsize, maxiter, seed : int
        ``scipy.optimize.differential_evolution`` settings (the seed makes fits repeatable).

    Returns
    -------
    Fit
        The fitted rule, its ``E``, the parameters and ``E_before`` (the starting rule's E).
    """
    from scipy.optimize import differential_evolution

    free = list(free)
    if not free:
        raise ValueError("free is empty: name at least one parameter to fit")
    if isinstance(dataset, pd.DataFrame):
        if protocols is None or len(protocols) != len(dataset):
            raise ValueError("a dataset given as a table needs protocols=[one Protocol per row], "
                             f"got {0 if protocols is None else len(protocols)} for {len(dataset)} rows")
        data = dataset
    else:
        if protocols is not None:
            raise ValueError(f"protocols is only for a dataset given as a table, not the bundled {dataset!r}")
        data = load_dataset(dataset)
        protocols = dataset_protocols(dataset, structure)
    bounds = dict(bounds or {})
    box = [tuple(bounds.get(n, _default_bounds(rule, n))) for n in free]
    n_sets = popsize * len(free)
    if getattr(rule, "needs_voltage", False) or getattr(rule, "stochastic", False):
        device = "runtime"
    runner = PopulationRun(rule, protocols, free, n_sets=n_sets + 1, device=device)
    params = rule.params()
    start = np.array([[float(params[n] / si_unit(params[n]))]
                      for n in free])
    exp, sem = data["dw_mean"].to_numpy(), data["dw_sem"].to_numpy()

    def errors(matrix):
        dw = runner(matrix)
        return np.mean(((exp[None, :] - dw) / sem[None, :]) ** 2, axis=1)

    try:
        E_before = float(errors(start)[0])
        result = differential_evolution(
            errors, box, popsize=popsize, maxiter=maxiter, seed=seed, vectorized=True,
            updating="deferred", polish=False, tol=1e-6,
        )
        best = np.asarray(result.x, dtype=float)
        E = float(errors(best[:, None])[0])
    finally:
        runner.close()
    fitted = {n: (v * si_unit(params[n]) if isinstance(params[n], Quantity) else float(v))
              for n, v in zip(free, best, strict=True)}
    return Fit(rule.replace(**fitted), E, dict(zip(free, best.tolist(), strict=True)), E_before)
