"""``brainlearn compare``: STDP + readouts, converted SNN, ANN and surrogate-gradient SNN."""

from __future__ import annotations

import argparse

EPILOG = """example:
  brainlearn mnist evaluate runs/n400 --readout vote,logistic,online
  brainlearn convert evaluate runs/mlp500 --steps 8,16,32,64,128,256
  brainlearn surrogate evaluate runs/sg1000
  brainlearn compare --mnist-run runs/n400 --convert-run runs/mlp500 \
      --surrogate-run runs/sg1000 --pixel-baseline full --out runs/compare
  brainlearn compare --surrogate-run runs/sg1000 --surrogate-run runs/sj_single \
      --surrogate-run runs/sj_two --out runs/compare_surrogate
  brainlearn compare --convert-run runs/mlp500 --cnn-run runs/cnn --out runs/compare
"""


def register(subparsers) -> None:
    """Add the ``compare`` command."""
    parser = subparsers.add_parser(
        "compare", help="one table: Diehl & Cook + readouts, converted SNN, ANN, surrogate SNN",
        description="Collect the evaluated runs into comparison.csv, comparison.md and a figure "
        "of accuracy against spikes per inference. Columns: accuracy, training wall time, "
        "inference steps, simulated ms and spikes per inference, learned parameters, and "
        "whether learning is local and online.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--mnist-run", action="append",
                        help="an evaluated Diehl & Cook run directory (repeatable)")
    parser.add_argument("--convert-run", action="append",
                        help="an evaluated conversion run directory (repeatable)")
    parser.add_argument("--cnn-run", action="append",
                        help="a `brainlearn convert cnn` run directory (repeatable)")
    parser.add_argument("--surrogate-run", action="append",
                        help="an evaluated surrogate-gradient run directory (repeatable: one "
                        "per preset, e.g. the snnTorch and SpikingJelly tutorials)")
    parser.add_argument("--pixel-baseline", choices=["full", "embedded"],
                        help="add logistic regression on raw pixels of this MNIST (the "
                        "reference for the readouts; about a minute on the full set)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.set_defaults(func=_compare)


def _compare(args) -> int:
    from brainlearn.compare import comparison_table, write_comparison

    table = comparison_table(args.mnist_run, args.convert_run, args.surrogate_run,
                             pixel_baseline=args.pixel_baseline, cnn_run=args.cnn_run)
    paths = write_comparison(table, args.out)
    print((paths[1]).read_text())
    print("written:", ", ".join(str(p) for p in paths))
    return 0
