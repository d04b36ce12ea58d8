"""``analyze_run``: the analysis of any directory brainlearn writes, a run or a sweep."""

from __future__ import annotations

import os
from pathlib import Path

from brainlearn import rundir

from .report import analyze_one_run
from .sweeps import analyze_sweep

__all__ = ["analyze_run"]


def analyze_run(run_dir: str | os.PathLike, out: str | os.PathLike | None = None,
                bin_size=None, progress: bool = True) -> list[Path]:
    """Write the analysis tables and figures of a run or sweep directory; return the written paths.

    A run directory gets its own tables and figures (:func:`~brainlearn.analysis.report.analyze_one_run`:
    ``rates.csv``, ``cv.csv``, ``fano.csv``, ``class_rates.csv``, ``raster.png``, ``psth.png``,
    ``rates.png``, ``weights.png``, ``receptive_fields.png``, as the run allows); a sweep
    directory (``config.json`` of kind ``sweep``) gets the summary across its tasks and every
    task's analysis (:func:`~brainlearn.analysis.sweeps.analyze_sweep`).

    Parameters
    ----------
    run_dir : path
        A run directory of any brainlearn producer, or a sweep directory.
    out : path, optional
        Output folder (default ``RUN_DIR/analysis``).
    bin_size : Quantity, optional
        PSTH bin width (default 25 ms).
    progress : bool
        Show a progress bar while writing.

    Returns
    -------
    list of Path
        The written files.
    """
    root = rundir.open_run(run_dir)
    if rundir.read_config(root).get("kind") == "sweep":
        return analyze_sweep(root, out, bin_size, progress=progress)
    return analyze_one_run(run_dir, out, bin_size, progress=progress)
