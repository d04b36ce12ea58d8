"""The analysis of one run directory: tables of rates, CV, Fano factors and class rates, and
raster, PSTH, rate and weight figures (what ``brainlearn analyze RUN`` writes).

:func:`brainlearn.analysis.analyze_run` is the entry point for any directory: it sends a sweep
directory to :func:`brainlearn.analysis.sweeps.analyze_sweep` (which runs
:func:`analyze_one_run` on every task's run directory) and a run directory here.
"""

from __future__ import annotations

import os
from pathlib import Path

from brainlearn import rundir
from brainlearn.atomic import atomic_path

from .run import SPIKES_FILE, load_run_examples, load_run_spikes, load_run_states

__all__ = ["analyze_one_run"]


def analyze_one_run(run_dir: str | os.PathLike, out: str | os.PathLike | None = None,
                    bin_size=None, progress: bool = True) -> list[Path]:
    """Write the analysis tables and figures of a run directory; return the written paths.

    Tables: ``rates.csv``, ``cv.csv``, ``fano.csv`` (with examples) and ``class_rates.csv``
    (with labels); figures: ``raster.png``, ``psth.png``, ``rates.png`` and, from the weights
    the run saved (``weights.npz``, or ``weights`` in its states), ``weights.png`` and
    ``receptive_fields.png`` (784 inputs). Per-example durations come from the run's
    ``examples.parquet`` (the presentations actually shown), so runs whose images were shown
    again are analysed correctly. A run that recorded no spikes gets the weight figures only.
    Everything is read and computed before the first file is written.

    Parameters
    ----------
    run_dir : path
        A run directory of any brainlearn producer.
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
    from brian2 import ms
    from tqdm.auto import tqdm

    from . import plots, stats

    root = rundir.open_run(run_dir)
    bin_size = 25 * ms if bin_size is None else bin_size
    target = Path(out) if out is not None else root / "analysis"
    weights = rundir.read_weights(root)
    weights = weights.get("weights") if weights is not None else load_run_states(root).get("weights")
    has_spikes = (root / SPIKES_FILE).exists()
    if not has_spikes and weights is None:
        kind = rundir.read_config(root).get("kind")
        what = f"{run_dir} (a {kind} run directory)" if kind else str(run_dir)
        raise FileNotFoundError(f"{what} holds neither {SPIKES_FILE} nor {rundir.WEIGHTS}: "
                                "nothing to analyse")
    tables, figures = {}, {}
    if has_spikes:
        spikes = load_run_spikes(root)
        examples = load_run_examples(root) if "example" in spikes.columns else None
        if "duration" not in spikes.attrs:
            spikes.attrs["duration"] = float(spikes["t"].max() - spikes.attrs.get("t_offset", 0.0)) if len(spikes) else 1.0
        timed = examples is not None or "example_duration" in spikes.attrs
        tables["rates.csv"] = stats.firing_rates(spikes)
        tables["cv.csv"] = stats.cv(spikes)
        if "example" in spikes.columns:
            tables["fano.csv"] = stats.fano_factor(spikes, None if examples is None else len(examples))
        if "label" in spikes.columns and timed:
            tables["class_rates.csv"] = stats.class_rates(spikes, examples=examples)
        figures["raster.png"] = plots.raster(spikes, examples=examples)
        if timed or "example" not in spikes.columns:
            figures["psth.png"] = plots.psth_figure(spikes, bin_size, examples=examples)
        figures["rates.png"] = plots.rate_histogram(spikes)
    if weights is not None:
        figures["weights.png"] = plots.weight_histogram(weights)
        if weights.ndim == 2 and weights.shape[0] == 784:
            figures["receptive_fields.png"] = plots.receptive_fields(weights)
    written = []
    outputs = [*tables.items(), *figures.items()]
    for name, made in tqdm(outputs, desc="analyze", unit="output", disable=not progress):
        path = target / name
        if name.endswith(".csv"):
            with atomic_path(path) as tmp:
                made.to_csv(tmp, index=False)
        else:
            plots.save_figure(made, path)
        written.append(path)
    return written
