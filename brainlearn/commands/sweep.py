"""``brainlearn sweep``: a grid of a registered experiment as Dask tasks (local or a cluster)."""

from __future__ import annotations

import argparse

__all__ = ["register", "handler"]

EPILOG = """SPEC.yaml names the experiment, the grid (every combination of the listed values runs;
a single value is fixed), the seeds and the output directory:

  experiment: protocol
  grid:
    dataset: [sjostrom2001, froemke2006, nevian2006]
    rule: [pair, triplet]
    A_plus: [0.005, 0.01]
  seeds: 2                     # seeds 0 and 1 (or a list: [0, 7, 42])
  out: runs/sweep_protocols
  # workers: 8                 # LocalCluster size (default: one process per core)
  # scheduler: tcp://HOST:8786 # an existing Dask cluster instead
  # retries: 1

Command-line options override the spec (brainlearn.sweep_spec reads it). Results: OUT/results.parquet and OUT/results.csv, one
row per task keyed by a hash of its parameters and seed; OUT/tasks/KEY.json records each task
as it finishes (with the traceback of a failure), so --resume skips what is done. The exit
code is 1 when a task failed (after its retry), 0 otherwise.

examples:
  brainlearn sweep --list
  brainlearn sweep spec.yaml
  brainlearn sweep --experiment protocol --grid rule=pair,triplet dataset=sjostrom2001,froemke2006 --seeds 2 --out runs/sw
  brainlearn sweep spec.yaml --workers 2
  brainlearn sweep spec.yaml --resume                  # after Ctrl-C or a kill
  brainlearn sweep --resume --out runs/sw              # same, the spec is in runs/sw/sweep.json
  brainlearn sweep spec.yaml --scheduler tcp://10.0.0.5:8786

On SLURM: run 'dask scheduler' on a login node and submit single-threaded workers
('dask worker tcp://HOST:8786 --nthreads 1'), or start them from Python with dask-jobqueue's
SLURMCluster (see brainlearn.sweep's documentation); OUT must be on a shared file system.
"""


def register(subparsers) -> None:
    """Add the ``sweep`` command."""
    parser = subparsers.add_parser(
        "sweep", help="run a parameter/seed grid of an experiment on Dask",
        description="Run a grid of a registered experiment (protocols, Diehl & Cook training, "
                    "conversion, ...) as Dask tasks on a LocalCluster or an existing cluster.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", nargs="?", help="sweep spec (YAML)")
    parser.add_argument("--experiment", help="registered experiment (see --list)")
    parser.add_argument("--grid", nargs="+", action="extend", metavar="KEY=V1,V2",
                        help="grid values (YAML scalars), added to the spec's grid")
    parser.add_argument("--seeds", help="number of seeds K (0..K-1) or a list 0,7,42")
    parser.add_argument("--out", help="sweep directory (default runs/sweep_EXPERIMENT)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="LocalCluster worker processes (default: cores)")
    where.add_argument("--scheduler", metavar="ADDR", help="existing Dask scheduler, tcp://HOST:PORT")
    where.add_argument("--serial", action="store_true", help="run the tasks in this process, in turn")
    parser.add_argument("--retries", type=int, help="retries of a failed task (default 1)")
    parser.add_argument("--resume", action="store_true", help="skip tasks OUT already finished")
    parser.add_argument("--list", action="store_true", help="list the registered experiments")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    """Run ``brainlearn sweep``."""
    from brainlearn.experiments import list_experiments
    from brainlearn.sweep_spec import parse_grid, run_spec

    if args.list:
        for row in list_experiments().itertuples():
            print(f"{row.name:<11} {row.description}")
            if row.params:
                print(f"{'':<11}   params: {row.params}")
        return 0
    frame, out = run_spec(args.spec, experiment=args.experiment, grid=parse_grid(args.grid), seeds=args.seeds,
                          out=args.out, workers=args.workers, scheduler=args.scheduler, serial=args.serial,
                          retries=args.retries, resume=args.resume, progress=not args.no_progress)
    n_failed = int((frame["status"] != "ok").sum()) if len(frame) else 0
    print(f"{len(frame)} task(s): {len(frame) - n_failed} ok, {n_failed} failed; "
          f"results: {out}/results.parquet, {out}/results.csv")
    for row in frame[frame["status"] != "ok"].itertuples() if n_failed else []:
        print(f"  failed {row.key} (seed {row.seed}): {row.error}; traceback in {out}/tasks/{row.key}.json")
    return 1 if n_failed else 0
