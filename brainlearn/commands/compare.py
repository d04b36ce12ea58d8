"""``brainlearn compare``: every evaluated run directory's rows in one table."""

from __future__ import annotations

import argparse

EPILOG = """examples:
  brainlearn mnist evaluate runs/n400 --readout vote,logistic,online
  brainlearn convert evaluate runs/mlp500 --steps 8,16,32,64,128,256
  brainlearn surrogate evaluate runs/sg1000
  brainlearn compare runs/n400 runs/mlp500 runs/sg1000 --pixel-baseline full --out runs/compare
  brainlearn compare runs/sg1000 runs/sj_single runs/sj_two --out runs/compare_surrogate

Each run directory is asked of every registered model (brainlearn models list): a Diehl & Cook
run gives its readouts' rows (and its e-prop readout's, and RUN/hybrid's STDP + BP hybrid).
"""

#: the options of earlier versions, one per model family; they add run directories like RUN
LEGACY = ("--mnist-run", "--convert-run", "--cnn-run", "--surrogate-run")


def register(subparsers) -> None:
    """Add the ``compare`` command."""
    parser = subparsers.add_parser(
        "compare", help="one table of every evaluated run: accuracy, time, spikes, parameters",
        description="Collect the rows of evaluated run directories of any registered model "
        "into comparison.csv, comparison.md and a figure of accuracy against spikes per "
        "inference. Columns: accuracy, training wall time, inference steps, simulated ms and "
        "spikes per inference, learned parameters, and whether learning is local and online.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", nargs="*", metavar="RUN", help="evaluated run directories")
    for flag in LEGACY:
        parser.add_argument(flag, action="append", dest="legacy_runs", metavar="RUN",
                            help=argparse.SUPPRESS)
    parser.add_argument("--pixel-baseline", choices=["full", "embedded"],
                        help="add logistic regression on raw pixels of this MNIST (the "
                        "reference for the readouts; about a minute on the full set)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.set_defaults(func=_compare)


def _compare(args) -> int:
    from brainlearn.analysis.compare import write_comparison
    from brainlearn.models import compare_runs

    table = compare_runs([*args.runs, *(args.legacy_runs or [])],
                         pixel_baseline=args.pixel_baseline)
    paths = write_comparison(table, args.out)
    print(paths[1].read_text())
    print("written:", ", ".join(str(p) for p in paths))
    return 0
