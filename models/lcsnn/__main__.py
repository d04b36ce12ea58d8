"""Train and evaluate LC-SNN run directories from the shell.

``python -m brainlearn.models.lcsnn train --filters 100 --seed 0 --out runs/lcsnn100_s0``
trains one pass over the 60,000 training images (resumes a killed run with the same
command); ``python -m brainlearn.models.lcsnn evaluate runs/lcsnn100_s0`` fits the readouts on
all 60,000 training images and scores them on the 10,000 test images (a killed evaluation
resumes from its kept chunks with the same command; ``--workers 2`` shares them between two
processes, with the same result). ``python -m brainlearn.models.lcsnn curve --out
runs/lcsnn_curve`` trains and evaluates the published curve (:data:`CURVE`), resumable.
``brainlearn compare`` then reads the run directories like any other model's.
"""

from __future__ import annotations

import argparse
import sys

from brainlearn.encoding import INTERVALS

__all__ = ["main", "curve", "curve_table", "curve_command", "figure", "CURVE", "PAPER"]

#: the published curve: filters -> (mean, sd) test accuracy in % (the authors' plot script
#: ``plot_lcsnn_dac_performance_comp.py``)
PAPER = {25: (84.01, 2.28), 50: (88.21, 1.79), 100: (91.68, 1.31), 250: (93.71, 0.68),
         500: (94.59, 0.61)}

#: the published curve (Saunders et al. 2019): (filters, seed), smallest sizes first
CURVE = tuple((f, s) for f in (25, 50, 100) for s in (0, 1, 2)) + ((250, 0), (500, 0))


def figure(runs: list[str], out: str, extra: str | None = None) -> list:
    """``brainlearn compare`` of ``runs`` (plus the rows of an earlier comparison CSV whose
    method no run of ``runs`` gives) and the side-by-side figure ``lcsnn_vs_diehl_cook.png``
    in ``out``: every LC-SNN size beside every Diehl & Cook size among the rows."""
    from pathlib import Path

    import pandas as pd

    from brainlearn.analysis.compare import comparison_table, write_comparison
    from brainlearn.models import compare_runs
    from brainlearn.models.lcsnn.plots import side_by_side

    table = compare_runs(runs)
    if extra:  # rows of the earlier table that no run given here has already
        earlier = pd.read_csv(extra)
        earlier = earlier[~earlier["method"].isin(set(table["method"]))]
        table = comparison_table([*table.to_dict("records"), *earlier.to_dict("records")])
    paths = list(write_comparison(table, out))
    return [*paths, side_by_side(table, Path(out) / "lcsnn_vs_diehl_cook.png")]


def curve_command(filters: int, out: str = "runs/lcsnn", one_spike: bool = False,
                  seeds: list[int] | None = None, input_intervals: str = "exponential") -> str:
    """The command that trains and evaluates every seed of size ``filters`` of the curve
    (``seeds``: those instead of :data:`CURVE`'s; ``one_spike``: with ``--one-spike``;
    ``input_intervals`` other than exponential: with ``--input-intervals``)."""
    seeds = [s for f, s in CURVE if f == filters] if seeds is None else seeds
    flag = " --one-spike" if one_spike else ""
    if input_intervals != "exponential":
        flag += f" --input-intervals {input_intervals}"
    return (f"python -m brainlearn.models.lcsnn curve --out {out} --filters {filters} "
            f"--seeds {' '.join(str(s) for s in seeds)}{flag}")


def _params(one_spike: bool, input_intervals: str) -> dict | None:
    """The ``LCSNNParams`` changes of the command's options (None: the defaults)."""
    changes = {"one_spike": True} if one_spike else {}
    if input_intervals != "exponential":
        changes["input_intervals"] = input_intervals
    return changes or None


def _seeds(folder, filters: int) -> list[int]:
    """The seeds of size ``filters``: :data:`CURVE`'s and those of any further run directory
    ``f{filters}_s{seed}`` in ``folder`` (``curve --filters F --seeds ...`` trains any)."""
    found = {int(run.name.rsplit("_s", 1)[1]) for run in folder.glob(f"f{filters}_s*")
             if run.is_dir() and run.name.rsplit("_s", 1)[1].isdigit()}
    return sorted({s for f, s in CURVE if f == filters} | found)


def _progress(run) -> str:
    """Where an unfinished run stands: trained images so far, or waiting for evaluation."""
    import numpy as np

    from brainlearn import rundir
    from brainlearn.models.lcsnn.training import CHECKPOINT

    metrics = rundir.read_metrics(run)
    if "train_examples" in metrics:
        return "evaluating"
    if (run / CHECKPOINT).exists():
        with np.load(run / CHECKPOINT) as f:
            return f"training, {int(f['position']):,} images"
    return "started"


def _status(done: list[dict], running: list[str], seeds: list[int]) -> str:
    """``seeds 0, 1 done; seed 2 training, 4,000 images; seeds 3 queued``."""
    started = {r["seed"] for r in done} | {int(x.split()[1]) for x in running}
    parts = [f"seed{'s' * (len(done) > 1)} {', '.join(str(r['seed']) for r in done)} done"
             ] if done else []
    queued = [str(s) for s in seeds if s not in started]
    parts += running
    if queued:
        parts.append(f"seed{'s' * (len(queued) > 1)} {', '.join(queued)} queued")
    return "; ".join(parts)


def curve_table(folder: str, out: str, runs_out: str = "runs/lcsnn"):
    """One row per size of the published curve (:data:`PAPER`): the evaluated runs' mean
    +- sd over seeds (sample sd, ``ddof=1``; :data:`CURVE`'s seeds and any further seed's run
    directory in ``folder``) of every readout's test accuracy beside the paper's, which seeds
    are done or still under way in ``folder`` (``status``), and the command that trains and
    evaluates the size (``command``, run directories in ``runs_out``; ``--one-spike`` when
    its runs had one spike per step, column ``one spike``, and ``--input-intervals`` when
    they drew the authors' input, column ``input intervals``); written to ``out``. ``ngram,
    authors' protocol %`` is the n-gram readout as the authors' script scores it (the best
    training block's network and the readouts counted while it learnt,
    :mod:`~brainlearn.models.lcsnn.blocks`), over the runs that have it.
    Sizes with no evaluated run keep blank accuracies."""
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from brainlearn import rundir
    from brainlearn.atomic import atomic_path
    from brainlearn.models.lcsnn.model import LCSNNParams

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}")
    rows, evaluated = [], 0
    for filters in sorted(PAPER):
        seeds = _seeds(folder, filters)
        done, running, one_spike, intervals = [], [], set(), set()
        for seed in seeds:
            run = folder / f"f{filters}_s{seed}"
            metrics = rundir.read_metrics(run) if run.is_dir() else {}
            if run.is_dir():
                params = (rundir.read_config(run) or {}).get("params") or {}
                one_spike.add(bool(params.get("one_spike", False)))
                intervals.add(params.get("input_intervals", "exponential"))
            if "accuracy" in metrics:
                done.append({**rundir.read_config(run), **metrics})
                evaluated += 1
            elif run.is_dir():
                running.append(f"seed {seed} {_progress(run)}")
        p = LCSNNParams.paper(filters)
        row = {"filters": filters, "kernel/stride": f"{p.kernel}/{p.stride}",
               "cells": p.n_neurons, "synapses": p.n_synapses,
               "seeds": f"{len(done)} of {len(seeds)}",
               "one spike": {frozenset(): "", frozenset({True}): "yes",
                             frozenset({False}): "no"}.get(frozenset(one_spike), "mixed"),
               "input intervals": (next(iter(intervals)) if len(intervals) == 1 else
                                   "mixed" if intervals else "")}
        common = row["input intervals"] if len(intervals) == 1 else "exponential"
        columns = [(r, f"accuracy_{r}") for r in ("vote", "ngram", "logistic", "online")]
        for readout, key in (*columns, ("ngram, authors' protocol", "authors_accuracy_ngram")):
            values = 100 * np.array([r[key] for r in done if key in r], dtype=float)
            sd = f" +- {np.std(values, ddof=1):.2f}" if len(values) > 1 else ""
            row[f"{readout} %"] = f"{values.mean():.2f}{sd}" if len(values) else ""
        mean, sd = PAPER[filters]
        row["paper %"] = f"{mean:.2f} +- {sd:.2f}"
        row["train h"] = (f"{np.mean([r['train_seconds'] for r in done]) / 3600:.2f}"
                          if done else "")
        for key, column in (("train_examples", "train images"),
                            ("assign_examples", "readout images"), ("test_examples", "test images")):
            row[column] = ", ".join(sorted({f"{r[key]:,}" for r in done}))
        row["status"] = _status(done, running, seeds)
        row["command"] = curve_command(filters, runs_out, one_spike == {True}, seeds, common)
        rows.append(row)
    if not evaluated:
        raise ValueError(f"{folder} holds no evaluated LC-SNN run of the curve")
    table = pd.DataFrame(rows)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    return table


def curve(out: str, threads: int | None = None, filters: tuple[int, ...] | None = None,
          seeds: tuple[int, ...] | None = None, workers: int = 1, one_spike: bool = False,
          input_intervals: str = "exponential") -> None:
    """Train and evaluate every run of :data:`CURVE` in ``out/f{filters}_s{seed}``, one
    after the other (only the given ``filters`` and ``seeds``, when given); finished runs
    are skipped and an unfinished one resumes (its training from its checkpoint, its
    evaluation from its kept chunks), so the same command continues a stopped curve.
    ``workers`` processes share each evaluation's images (the result is the same).
    ``one_spike``: the runs have one spike per step (``LCSNNParams.one_spike``, the authors'
    nodes), ``input_intervals`` the input's intervals (``LCSNNParams.input_intervals``); a
    folder holds one kind of run (a run of the other kind is refused). Each run
    with a record of its training blocks is also scored by the authors' test protocol
    (:func:`~brainlearn.models.lcsnn.training.evaluate_authors`)."""
    from pathlib import Path

    from brainlearn import rundir
    from brainlearn.models.lcsnn.blocks import BEST
    from brainlearn.models.lcsnn.evaluation import check_workers
    from brainlearn.models.lcsnn.training import evaluate, evaluate_authors, train

    check_workers(workers)
    todo = [(f, s) for f, s in CURVE if (not filters or f in filters) and (not seeds or s in seeds)]
    if filters and seeds:
        todo += [(f, s) for f in filters for s in seeds if (f, s) not in todo]
    for size, seed in todo:
        run = Path(out) / f"f{size}_s{seed}"
        metrics = rundir.read_metrics(run) if run.is_dir() else {}
        recorded = (run / BEST).exists()  # runs trained before the block record have none
        if "accuracy" in metrics and ("authors_accuracy_ngram" in metrics or not recorded):
            continue
        if "train_examples" not in metrics:
            train(run, n_filters=size, seed=seed, threads=threads,
                  params=_params(one_spike, input_intervals))
        if "accuracy" not in metrics:
            evaluate(run, workers=workers)
        if (run / BEST).exists():
            evaluate_authors(run, workers=workers)
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
    tr.add_argument("--one-spike", action="store_true",
                    help="one crossing cell spikes per step, as the authors' BindsNET nodes "
                    "(DiehlAndCookNodes(one_spike=True); default: every crossing cell)")
    tr.add_argument("--input-intervals", choices=INTERVALS, default="exponential",
                    help="input spike intervals: exponential (a Poisson process, default) or "
                    "poisson_steps (whole steps from a Poisson distribution, as the BindsNET "
                    "encoder of the authors' runs)")
    tr.add_argument("--out", required=True, help="run directory")
    ev = sub.add_parser("evaluate", help="fit the readouts and score the test set")
    ev.add_argument("run_dir")
    ev.add_argument("--assign-examples", type=int, default=None,
                    help="training images the readouts are fitted on (all)")
    ev.add_argument("--test-examples", type=int, default=None, help="test images (all)")
    ev.add_argument("--workers", type=int, default=1,
                    help="processes that share the images (1: this one; same result)")
    ev.add_argument("--network", choices=("auto", "frozen", "training"), default="auto",
                    help="the network without plasticity (frozen), the training binary frozen "
                    "by its run values (training), or frozen from 5,000 images on (auto); "
                    "the same spikes")
    au = sub.add_parser("authors", help="the authors' test protocol: the best training "
                        "block's network and running readouts on the test set")
    au.add_argument("run_dir")
    au.add_argument("--test-examples", type=int, default=None, help="test images (all)")
    au.add_argument("--workers", type=int, default=1,
                    help="processes that share the images (1: this one; same result)")
    cu = sub.add_parser("curve", help="the published curve: every size and seed, in order")
    cu.add_argument("--out", required=True, help="folder of the run directories")
    cu.add_argument("--threads", type=int, default=None, help="OpenMP threads")
    cu.add_argument("--filters", type=int, nargs="+", default=None,
                    help="only these sizes (default: all five, smallest first)")
    cu.add_argument("--seeds", type=int, nargs="+", default=None,
                    help="only these seeds (default: the curve's, 0-2 or 0)")
    cu.add_argument("--workers", type=int, default=1,
                    help="processes that share each evaluation's images (1; same result)")
    cu.add_argument("--one-spike", action="store_true",
                    help="one crossing cell spikes per step (the authors' BindsNET nodes)")
    cu.add_argument("--input-intervals", choices=INTERVALS, default="exponential",
                    help="input spike intervals (poisson_steps: the authors' BindsNET "
                    "encoder)")
    ta = sub.add_parser("table", help="the curve's table: measured sizes beside the paper's")
    ta.add_argument("folder", help="folder of evaluated run directories (curve --out)")
    ta.add_argument("--out", required=True, help="CSV file to write")
    ta.add_argument("--runs-out", default="runs/lcsnn",
                    help="folder the table's commands write their runs to (runs/lcsnn)")
    fi = sub.add_parser("figure", help="brainlearn compare of the runs, plus the side-by-side "
                        "figure against Diehl & Cook")
    fi.add_argument("runs", nargs="+", help="evaluated run directories (any registered model)")
    fi.add_argument("--with", dest="extra", default=None,
                    help="a comparison.csv of earlier brainlearn compare rows to add")
    fi.add_argument("--out", required=True, help="output directory")
    args = parser.parse_args(argv)
    from brainlearn.models.lcsnn.training import evaluate, evaluate_authors, train
    from brainlearn.standalone import keep_sigint_ignored

    keep_sigint_ignored()

    try:
        if args.command == "train":
            metrics = train(args.out, n_filters=args.filters, kernel=args.kernel,
                            stride=args.stride, examples=args.examples, epochs=args.epochs,
                            data=args.data, seed=args.seed, threads=args.threads,
                            params=_params(args.one_spike, args.input_intervals))
            print(f"trained {metrics['train_examples']} images, "
                  f"{metrics['ms_per_example']:.1f} ms per image: {args.out}")
        elif args.command == "table":
            print(curve_table(args.folder, args.out, args.runs_out).to_string(index=False))
        elif args.command == "figure":
            print("written:", ", ".join(str(p) for p in figure(args.runs, args.out, args.extra)))
        elif args.command == "authors":
            metrics = evaluate_authors(args.run_dir, test_examples=args.test_examples,
                                       workers=args.workers)
            print(f"best block: the network after {metrics['authors_block_end']} images; "
                  + ", ".join(f"{k[17:]} {100 * v:.2f} %" for k, v in metrics.items()
                              if k.startswith("authors_accuracy_")))
            running = [f"{k[17:]} {100 * v:.2f} %" for k, v in metrics.items()
                       if k.startswith("running_accuracy_")]
            if running:
                print("the final network with the running readouts: " + ", ".join(running))
        elif args.command == "curve":
            curve(args.out, threads=args.threads, filters=args.filters, seeds=args.seeds,
                  workers=args.workers, one_spike=args.one_spike,
                  input_intervals=args.input_intervals)
        else:
            metrics = evaluate(args.run_dir, assign_examples=args.assign_examples,
                               test_examples=args.test_examples, workers=args.workers,
                               network=args.network)
            print(", ".join(f"{k[9:]} {100 * v:.2f} %" for k, v in metrics.items()
                            if k.startswith("accuracy_")))
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
