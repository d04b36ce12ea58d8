"""Analysis of a sweep directory (``brainlearn sweep``): one summary across its tasks.

A sweep directory (``config.json`` of kind ``sweep``, see :mod:`brainlearn.sweep`) holds one
record per task and the tasks' working directories (``work/KEY``). :func:`analyze_sweep`
writes, into ``SWEEP/analysis`` (or ``out``):

- ``tasks.csv``: every task's parameters, seed, status and metrics (the sweep's results
  table), plus ``analysis``: where that task's own analysis went, or why it has none;
- ``summary.csv``: every numeric metric over the seeds of each parameter set (``n``,
  ``mean``, ``std``, ``min``, ``max``; failed tasks left out, counted in ``failed``);
- ``tasks/KEY/...``: the analysis of every run directory a task wrote in its working
  directory (:func:`brainlearn.analysis.report.analyze_one_run`: rates, CV, figures);
- ``metrics.png``: each numeric metric against the first parameter that varies (mean and
  standard deviation over seeds), when one varies.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn import rundir

__all__ = ["analyze_sweep", "sweep_summary", "task_run_dirs"]

#: result columns that describe the task rather than measure it
_NOT_METRICS = {"key", "experiment", "seed", "status", "attempts", "error", "traceback", "worker"}


def task_run_dirs(workdir: str | os.PathLike) -> list[Path]:
    """Run directories inside a task's working directory (folders holding ``config.json``
    with spikes or weights), sorted."""
    workdir = Path(workdir)
    if not workdir.is_dir():
        return []
    found = []
    for config in sorted(workdir.rglob(rundir.CONFIG)):
        run = config.parent
        if (run / rundir.SPIKES).exists() or (run / rundir.WEIGHTS).exists():
            found.append(run)
    return found


def _params(results: pd.DataFrame, sweep_config: dict) -> list[str]:
    grid = sweep_config.get("grid") or {}
    names = list(grid) if isinstance(grid, dict) else list(dict.fromkeys(k for g in grid for k in g))
    return [n for n in names if n in results.columns]


def sweep_summary(results: pd.DataFrame, params: list[str]) -> pd.DataFrame:
    """Every numeric metric of ``results`` over the seeds of each parameter set.

    Parameters
    ----------
    results : pandas.DataFrame
        A sweep's results table (:func:`brainlearn.sweep.load_results`).
    params : list of str
        The parameter columns that define a set.

    Returns
    -------
    pandas.DataFrame
        One row per parameter set: the parameters, ``tasks``, ``failed`` and, per metric,
        ``METRIC_n``, ``METRIC_mean``, ``METRIC_std`` (ddof 1; NaN for one seed),
        ``METRIC_min``, ``METRIC_max``.
    """
    ok = results[results["status"] == "ok"]
    metrics = [c for c in results.columns if c not in _NOT_METRICS and c not in params
               and pd.api.types.is_numeric_dtype(results[c]) and not pd.api.types.is_bool_dtype(results[c])]
    keys = [p for p in params if p in results.columns]
    groups = results.groupby(keys, dropna=False, sort=False) if keys else [((), results)]
    rows = []
    for values, part in groups:
        values = values if isinstance(values, tuple) else (values,)
        row = dict(zip(keys, values, strict=True))
        good = ok.loc[ok.index.intersection(part.index)]
        row["tasks"] = len(part)
        row["failed"] = int((part["status"] != "ok").sum())
        for m in metrics:
            x = pd.to_numeric(good[m], errors="coerce").dropna()
            row.update({f"{m}_n": len(x), f"{m}_mean": x.mean() if len(x) else np.nan,
                        f"{m}_std": x.std(ddof=1) if len(x) > 1 else np.nan,
                        f"{m}_min": x.min() if len(x) else np.nan, f"{m}_max": x.max() if len(x) else np.nan})
        rows.append(row)
    return pd.DataFrame(rows)


def _metrics_figure(summary: pd.DataFrame, params: list[str]):
    from . import plots

    varied = [p for p in params if summary[p].nunique(dropna=False) > 1]
    metrics = [c[:-5] for c in summary.columns if c.endswith("_mean")]
    if not varied or not metrics:
        return None
    x_name = varied[0]
    fig = plots.new_figure(4 * len(metrics), 3.2)
    axes = fig.subplots(1, len(metrics), squeeze=False)
    others = varied[1:]
    for ax, m in zip(axes[0], metrics, strict=True):
        for label, part in (summary.groupby(others, sort=False) if others else [("", summary)]):
            x = part[x_name].to_numpy()
            numeric = pd.api.types.is_numeric_dtype(part[x_name])
            pos = x if numeric else np.arange(len(x))
            ax.errorbar(pos, part[f"{m}_mean"], yerr=part[f"{m}_std"].fillna(0.0), marker="o", capsize=3,
                        label=str(label) if others else None)
            if not numeric:
                ax.set_xticks(pos, [str(v) for v in x])
        ax.set_xlabel(x_name)
        ax.set_ylabel(f"{m} (mean +/- sd over seeds)")
        if others:
            ax.legend(fontsize=7, title=",".join(others))
    return fig


def analyze_sweep(sweep_dir: str | os.PathLike, out: str | os.PathLike | None = None, bin_size=None,
                  progress: bool = True) -> list[Path]:
    """Write the summary across the tasks of a sweep and every task's own analysis.

    Parameters
    ----------
    sweep_dir : path
        A sweep directory (``brainlearn sweep --out``).
    out : path, optional
        Output folder (default ``SWEEP_DIR/analysis``).
    bin_size : Quantity, optional
        PSTH bin width of the tasks' run analyses (default 25 ms).
    progress : bool
        Show a progress bar over the tasks.

    Returns
    -------
    list of Path
        The written files (``tasks.csv``, ``summary.csv``, ``metrics.png`` and every task's
        analysis files).
    """
    from tqdm.auto import tqdm

    from brainlearn.atomic import atomic_path
    from brainlearn.sweep import load_results

    from . import plots
    from .report import analyze_one_run

    root = Path(sweep_dir)
    config = rundir.read_config(root)
    if config.get("kind") != "sweep":
        raise ValueError(f"{sweep_dir} is not a sweep directory (config.json kind is {config.get('kind')!r}); "
                         "use brainlearn.analysis.analyze_run for a run directory")
    results = load_results(root)
    if results.empty:
        raise FileNotFoundError(f"{sweep_dir}: no task has finished yet (no tasks/KEY.json); nothing to analyse")
    target = Path(out) if out is not None else root / "analysis"
    params = _params(results, config)
    written, where = [], []
    for row in tqdm(list(results.itertuples(index=False)), desc="tasks", disable=not progress):
        runs = task_run_dirs(root / "work" / row.key)
        if not runs:
            where.append("no run directory in work/" + row.key)
            continue
        places = []
        for run in runs:
            rel = run.relative_to(root / "work" / row.key)
            dest = target / "tasks" / row.key / rel
            written += analyze_one_run(run, dest, bin_size, progress=False)
            places.append(str(dest.relative_to(target)))
        where.append(";".join(places))
    tasks = results.drop(columns=["traceback"], errors="ignore").assign(analysis=where)
    summary = sweep_summary(results, params)
    for name, frame in (("tasks.csv", tasks), ("summary.csv", summary)):
        with atomic_path(target / name) as tmp:
            frame.to_csv(tmp, index=False)
        written.append(target / name)
    fig = _metrics_figure(summary, params)
    if fig is not None:
        plots.save_figure(fig, target / "metrics.png")
        written.append(target / "metrics.png")
    return written
