"""``brainlearn analyze``: rates, CV, Fano factor tables and raster/PSTH figures of a run."""

from __future__ import annotations

import argparse

__all__ = ["register", "handler", "analyze_run"]

EPILOG = """examples:
  brainlearn analyze runs/dc400                      # -> runs/dc400/analysis/
  brainlearn analyze runs/dc400 --bin-ms 10 --out /tmp/dc400-analysis
"""


def register(subparsers) -> None:
    """Add the ``analyze`` command."""
    parser = subparsers.add_parser(
        "analyze",
        help="firing rates, CV, raster and PSTH figures of a run",
        description=(
            "Analyse the evaluation spikes of a run directory: writes rates.csv, cv.csv, "
            "fano.csv (with examples), class_rates.csv (with labels) and raster.png, psth.png, "
            "rates.png, plus receptive_fields.png and weights.png when the run saved weights."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory holding spikes.parquet")
    parser.add_argument("--out", metavar="DIR", help="output folder (default RUN_DIR/analysis)")
    parser.add_argument("--bin-ms", type=float, default=25.0, help="PSTH bin width in ms (default 25)")
    parser.set_defaults(func=handler)


def analyze_run(run_dir, out=None, bin_ms: float = 25.0) -> list:
    """Write the analysis tables and figures of ``run_dir``; return the written paths."""
    from pathlib import Path

    from brian2 import ms
    from tqdm import tqdm

    from brainlearn.analysis import load_run_spikes, load_run_states, plots, stats
    from brainlearn.atomic import atomic_path

    spikes = load_run_spikes(run_dir)
    target = Path(out) if out is not None else Path(run_dir) / "analysis"
    if "duration" not in spikes.attrs:
        spikes.attrs["duration"] = float(spikes["t"].max() - spikes.attrs.get("t_offset", 0.0)) if len(spikes) else 1.0
    tables = {"rates.csv": lambda: stats.firing_rates(spikes), "cv.csv": lambda: stats.cv(spikes)}
    figures = {
        "raster.png": lambda: plots.raster(spikes),
        "psth.png": lambda: plots.psth_figure(spikes, bin_ms * ms),
        "rates.png": lambda: plots.rate_histogram(spikes),
    }
    if "example" in spikes.columns:
        tables["fano.csv"] = lambda: stats.fano_factor(spikes)
    if "label" in spikes.columns and "example_duration" in spikes.attrs:
        tables["class_rates.csv"] = lambda: stats.class_rates(spikes)
    weights = load_run_states(run_dir).get("weights")
    if weights is not None:
        figures["weights.png"] = lambda: plots.weight_histogram(weights)
        if weights.ndim == 2 and weights.shape[0] == 784:
            figures["receptive_fields.png"] = lambda: plots.receptive_fields(weights)
    written = []
    for name, make in tqdm([*tables.items(), *figures.items()], desc="analyze", unit="output"):
        path = target / name
        if name.endswith(".csv"):
            with atomic_path(path) as tmp:
                make().to_csv(tmp, index=False)
        else:
            plots.save_figure(make(), path)
        written.append(path)
    return written


def handler(args) -> int:
    """Run the analysis and print the written files."""
    for path in analyze_run(args.run_dir, args.out, args.bin_ms):
        print(path)
    return 0
