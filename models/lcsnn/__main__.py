"""Train and evaluate LC-SNN run directories from the shell.

``python -m brainlearn.models.lcsnn train --filters 100 --seed 0 --out runs/lcsnn100_s0``
trains one pass over the 60,000 training images (resumes a killed run with the same
command); ``python -m brainlearn.models.lcsnn evaluate runs/lcsnn100_s0`` fits the readouts on
10,000 training images and scores them on the 10,000 test images. ``python -m brainlearn.models.lcsnn curve --out runs/lcsnn_curve`` trains and evaluates
the published curve (:data:`CURVE`), resumable. ``brainlearn compare`` then reads the run directories like any other model's.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "curve", "curve_table", "figure", "CURVE", "PAPER"]

#: the published curve: filters -> (mean, sd) test accuracy in % (the authors' plot script
#: ``plot_lcsnn_dac_performance_comp.py``)
PAPER = {25: (84.01, 2.28), 50: (88.21, 1.79), 100: (91.68, 1.31), 250: (93.71, 0.68),
         500: (94.59, 0.61)}

#: the published curve (Saunders et al. 2019): (filters, seed), smallest sizes first
CURVE = tuple((f, s) for f in (25, 50, 100) for s in (0, 1, 2)) + ((250, 0), (500, 0))


def figure(runs: list[str], out: str, extra: str | None = None) -> list:
    """``brainlearn compare`` of ``runs`` (plus the rows of an earlier comparison CSV) and
    the side-by-side figure ``lcsnn_vs_diehl_cook.png`` in ``out``."""
    from pathlib import Path

    import pandas as pd

    from brainlearn.analysis.compare import comparison_table, write_comparison
    from brainlearn.models import compare_runs
    from brainlearn.models.lcsnn.plots import side_by_side

    table = compare_runs(runs)
    if extra:
        table = comparison_table([*table.to_dict("records"),
                                  *pd.read_csv(extra).to_dict("records")])
    paths = list(write_comparison(table, out))
    return [*paths, side_by_side(table, Path(out) / "lcsnn_vs_diehl_cook.png")]


def curve_table(folder: str, out: str):
    """One row per size with at least one evaluated run under ``folder``: the runs' mean and
    sd (over seeds) of every readout's test accuracy, beside the paper's; written to ``out``."""
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from brainlearn import rundir
    from brainlearn.atomic import atomic_path

    runs = []
    for run in sorted(Path(folder).iterdir()):
        metrics = rundir.read_metrics(run) if run.is_dir() else {}
        if "accuracy" in metrics:
            runs.append({**rundir.read_config(run), **metrics})
    if not runs:
        raise ValueError(f"{folder} holds no evaluated LC-SNN run")
    frame = pd.DataFrame(runs)
    rows = []
    for filters, group in frame.groupby("n_filters"):
        row = {"filters": int(filters),
               "kernel/stride": f"{group['kernel'].iloc[0]}/{group['stride'].iloc[0]}",
               "cells": int(group["neurons"].iloc[0]), "synapses": int(group["synapses"].iloc[0]),
               "seeds": len(group), "train images": int(group["train_examples"].iloc[0]),
               "test images": int(group["test_examples"].iloc[0])}
        for readout in ("vote", "ngram", "logistic", "online"):
            values = 100 * group[f"accuracy_{readout}"].to_numpy(dtype=float)
            sd = f" +- {np.std(values, ddof=1):.2f}" if len(values) > 1 else ""
            row[f"{readout} %"] = f"{values.mean():.2f}{sd}"
        mean, sd = PAPER.get(int(filters), (np.nan, np.nan))
        row["paper %"] = f"{mean:.2f} +- {sd:.2f}"
        row["train h"] = f"{group['train_seconds'].mean() / 3600:.2f}"
        rows.append(row)
    table = pd.DataFrame(rows)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    return table


def curve(out: str, threads: int | None = None) -> None:
    """Train and evaluate every run of :data:`CURVE` in ``out/f{filters}_s{seed}``, one
    after the other; finished runs are skipped and an unfinished one resumes, so the same
    command continues a stopped curve."""
    from pathlib import Path

    from brainlearn import rundir
    from brainlearn.models.lcsnn.training import evaluate, train

    for filters, seed in CURVE:
        run = Path(out) / f"f{filters}_s{seed}"
        metrics = rundir.read_metrics(run) if run.is_dir() else {}
        if "accuracy" in metrics:
            continue
        if "train_examples" not in metrics:
            train(run, n_filters=filters, seed=seed, threads=threads)
        evaluate(run)
        print(f"lcsnn curve: {run} done", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status (1 with a one-line message on errors)."""
    parser = argparse.ArgumentParser(prog="python -m brainlearn.models.lcsnn",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train (or resume) a run directory")
    tr.add_argument("--filters", type=int, default=25, help="filters per location (25)")
    tr.add_argument("--kernel", type=int, default=None, help="patch side (paper's for the size)")
    tr.add_argument("--stride", type=int, default=None, help="stride (paper's for the size)")
    tr.add_argument("--examples", type=int, default=None, help="training images per pass (all)")
    tr.add_argument("--epochs", type=int, default=1)
    tr.add_argument("--data", choices=("full", "embedded"), default="full")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--threads", type=int, default=None, help="OpenMP threads")
    tr.add_argument("--out", required=True, help="run directory")
    ev = sub.add_parser("evaluate", help="fit the readouts and score the test set")
    ev.add_argument("run_dir")
    ev.add_argument("--assign-examples", type=int, default=None,
                    help="training images the readouts are fitted on (10,000 / all embedded)")
    ev.add_argument("--test-examples", type=int, default=None, help="test images (all)")
    cu = sub.add_parser("curve", help="the published curve: every size and seed, in order")
    cu.add_argument("--out", required=True, help="folder of the run directories")
    cu.add_argument("--threads", type=int, default=None, help="OpenMP threads")
    ta = sub.add_parser("table", help="the curve's table: measured sizes beside the paper's")
    ta.add_argument("folder", help="folder of evaluated run directories (curve --out)")
    ta.add_argument("--out", required=True, help="CSV file to write")
    fi = sub.add_parser("figure", help="brainlearn compare of the runs, plus the side-by-side "
                        "figure against Diehl & Cook")
    fi.add_argument("runs", nargs="+", help="evaluated run directories (any registered model)")
    fi.add_argument("--with", dest="extra", default=None,
                    help="a comparison.csv of earlier brainlearn compare rows to add")
    fi.add_argument("--out", required=True, help="output directory")
    args = parser.parse_args(argv)
    from brainlearn.models.lcsnn.training import evaluate, train

    try:
        if args.command == "train":
            metrics = train(args.out, n_filters=args.filters, kernel=args.kernel,
                            stride=args.stride, examples=args.examples, epochs=args.epochs,
                            data=args.data, seed=args.seed, threads=args.threads)
            print(f"trained {metrics['train_examples']} images, "
                  f"{metrics['ms_per_example']:.1f} ms per image: {args.out}")
        elif args.command == "table":
            print(curve_table(args.folder, args.out).to_string(index=False))
        elif args.command == "figure":
            print("written:", ", ".join(str(p) for p in figure(args.runs, args.out, args.extra)))
        elif args.command == "curve":
            curve(args.out, threads=args.threads)
        else:
            metrics = evaluate(args.run_dir, assign_examples=args.assign_examples,
                               test_examples=args.test_examples)
            print(", ".join(f"{k[9:]} {100 * v:.2f} %" for k, v in metrics.items()
                            if k.startswith("accuracy_")))
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
