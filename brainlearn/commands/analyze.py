"""``brainlearn analyze``: rates, CV, Fano factor tables and raster/PSTH figures of a run."""

from __future__ import annotations

import argparse

__all__ = ["register", "handler"]

EPILOG = """examples:
  brainlearn analyze runs/dc400                      # -> runs/dc400/analysis/
  brainlearn analyze runs/dc400 --bin-ms 10 --out /tmp/dc400-analysis
  brainlearn analyze runs/sweep                      # a sweep: tasks.csv, summary.csv, metrics.png,
                                                     # and tasks/KEY/ for every task's run directory
"""


def register(subparsers) -> None:
    """Add the ``analyze`` command."""
    parser = subparsers.add_parser(
        "analyze",
        help="firing rates, CV, raster and PSTH figures of a run",
        description=(
            "Analyse the spikes of a run directory: writes rates.csv, cv.csv, "
            "fano.csv (with examples), class_rates.csv (with labels) and raster.png, psth.png, "
            "rates.png, plus receptive_fields.png and weights.png when the run saved weights. "
            "A sweep directory gets one summary across its tasks (tasks.csv: every task's "
            "parameters and metrics; summary.csv: each metric over the seeds of every parameter "
            "set; metrics.png) and the analysis of every run directory its tasks wrote."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run directory of any brainlearn command, or a sweep directory")
    parser.add_argument("--out", metavar="DIR", help="output folder (default RUN_DIR/analysis)")
    parser.add_argument("--bin-ms", type=float, default=25.0, help="PSTH bin width in ms (default 25)")
    parser.set_defaults(func=handler)


def handler(args) -> int:
    """Run the analysis and print the written files."""
    from brian2 import ms

    from brainlearn.analysis import analyze_run

    for path in analyze_run(args.run_dir, args.out, args.bin_ms * ms):
        print(path)
    return 0
