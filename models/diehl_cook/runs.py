"""What the ``brainlearn mnist`` and ``brainlearn demo`` commands call: one function each.

The commands parse their options and print; the checks, defaults and file handling are here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from brainlearn import rundir
from brainlearn.checks import check_count

__all__ = ["TrainResult", "train_run", "evaluate_run", "demo", "replace_run"]


@dataclass
class TrainResult:
    """A finished training call: its run directory, metrics and, with ``profile``, the
    profile table (``profile.csv``: seconds and share per code object, largest first)."""

    run_dir: Path
    metrics: dict
    profile: pd.DataFrame | None = None


def train_run(out: str | Path | None = None, resume: str | Path | None = None, *,
              progress: bool = True, profile: bool = False, **options) -> TrainResult:
    """Train a new run into ``out``, or continue the run ``resume`` from its checkpoint.

    Parameters
    ----------
    out : path, optional
        The new run directory (must not hold a run).
    resume : path, optional
        A run directory to continue (its own ``config.json``; ``options`` are not allowed).
    progress, profile : bool
        Progress bar; Brian2's profiling (``profile.csv``, see :func:`train`).
    **options
        :meth:`TrainConfig.create` options of a new run (``neurons``, ``epochs``,
        ``examples``, ``seed``, ``device``, ``params``, ``theta_plus`` (a Quantity or
        ``"0.0125 mV"``), ``integration``, ``validation``, ...).
    """
    from brainlearn.models.diehl_cook.config import TrainConfig
    from brainlearn.models.diehl_cook.training import train

    if (out is None) == (resume is None):
        raise ValueError("give --out RUN_DIR for a new run or --resume RUN_DIR, not both"
                         if out is not None else
                         "--out RUN_DIR is required for a new run (or --resume RUN_DIR)")
    if resume is not None:
        run_dir = rundir.open_run(resume)
        metrics = train(run_dir, progress=progress, profile=profile)
    else:
        run_dir = Path(out)
        rundir.check_free(run_dir)  # being written by another process: say so, not --resume
        if (run_dir / rundir.CONFIG).exists():
            raise ValueError(f"{run_dir} already holds a run: use --resume {run_dir}")
        config = TrainConfig.create(**options)
        metrics = train(run_dir, config, progress=progress, profile=profile)
    table = pd.read_csv(run_dir / "profile.csv") if profile else None
    return TrainResult(run_dir, metrics, table)


def evaluate_run(run_dir: str | Path, assign_examples: int | None = None,
                 test_examples: int | None = None, *, readouts: tuple[str, ...] = ("vote",),
                 workers: int | None = None, scheduler=None, progress: bool = True,
                 device: str | None = None) -> dict:
    """Evaluate a run on ``workers`` processes (1 serially; default every core for a large
    evaluation, :func:`~brainlearn.models.diehl_cook.sharded.evaluate_on_workers`) or on the
    Dask cluster at ``scheduler``
    (:func:`~brainlearn.models.diehl_cook.sharded.evaluate_sharded`); the result is the same
    either way. Returns the metrics."""
    from brainlearn.models.diehl_cook.evaluation import check_readouts
    from brainlearn.models.diehl_cook.sharded import evaluate_on_workers, evaluate_sharded

    check_readouts(readouts)
    check_count("assign_examples", assign_examples, allow_none=True)
    check_count("test_examples", test_examples, allow_none=True)
    check_count("workers", workers, allow_none=True)
    if workers is not None and scheduler is not None:
        raise ValueError("give --workers or --scheduler, not both")
    if scheduler is not None:
        return evaluate_sharded(run_dir, assign_examples, test_examples, client=scheduler,
                                progress=progress, device=device, readouts=readouts)
    return evaluate_on_workers(run_dir, assign_examples, test_examples, workers=workers,
                               progress=progress, device=device, readouts=readouts)


def replace_run(run_dir: str | Path) -> Path:
    """Empty a finished run directory so the same run can be written again, keeping its
    ``build_*`` folders (nothing recompiles). A directory that holds no run
    (no ``config.json``) is left as it is."""
    run_dir = Path(run_dir)
    rundir.check_free(run_dir)  # never empty a run another process is writing
    if (run_dir / rundir.CONFIG).exists():
        for child in run_dir.iterdir():
            if not child.name.startswith("build_"):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    return run_dir


def demo(out: str | Path = "runs/demo", *, seed: int = 0, neurons: int = 100,
         device: str = "cpp_standalone", progress: bool = True, plot: bool = True) -> dict:
    """The main job on the embedded subset in about a minute: N=``neurons`` trained on the
    1,000 embedded training images, labels assigned on them, tested on the 500 embedded test
    images, figures written. A finished demo in ``out`` is replaced (:func:`replace_run`).

    Returns the metrics, plus ``figures`` (the paths written) and ``run_dir``.
    """
    from brainlearn.models.diehl_cook.config import TrainConfig
    from brainlearn.models.diehl_cook.evaluation import evaluate
    from brainlearn.models.diehl_cook.training import train

    config = TrainConfig.create(neurons=neurons, examples=1000, seed=seed, device=device,
                                data="embedded", chunk=250)
    run_dir = replace_run(out)
    train(run_dir, config, progress=progress)
    metrics = evaluate(run_dir, progress=progress)
    figures = []
    if plot:
        from brainlearn.models.diehl_cook.plots import plot_run

        figures = plot_run(run_dir)
    return {**metrics, "figures": [str(p) for p in figures], "run_dir": str(run_dir.resolve())}
