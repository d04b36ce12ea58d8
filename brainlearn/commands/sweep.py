"""``brainlearn sweep``: a grid of a registered experiment as Dask tasks (local or a cluster)."""

from __future__ import annotations

import argparse

__all__ = ["register", "handler", "load_spec", "parse_grid"]

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

Command-line options override the spec. Results: OUT/results.parquet and OUT/results.csv, one
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


def parse_grid(items: list[str] | None) -> dict:
    """``["rule=pair,triplet", "A_plus=0.01"]`` -> ``{"rule": ["pair", "triplet"], "A_plus": [0.01]}``."""
    import yaml

    grid: dict = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ValueError(f"--grid takes KEY=V1,V2,... items, got {item!r}")
        grid[key.strip()] = [yaml.safe_load(v.strip()) for v in values.split(",")]
    return grid


def load_spec(path: str) -> dict:
    """Read a sweep spec (YAML mapping with ``experiment``, ``grid``, ``seeds``, ``out`` ...)."""
    from pathlib import Path

    import yaml

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{path}: no such sweep spec")
    try:
        spec = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: a sweep spec is a mapping (experiment:, grid:, seeds:, out:)")
    known = {"experiment", "grid", "seeds", "out", "workers", "scheduler", "retries"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return spec


def _seeds(text):
    if text is None:
        return None
    if isinstance(text, (int, list)):
        return text
    parts = [p for p in str(text).split(",") if p.strip()]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"--seeds takes a count K or a list like 0,7,42, got {text!r}") from None
    return values[0] if len(values) == 1 and "," not in str(text) else values


def handler(args: argparse.Namespace) -> int:
    """Run ``brainlearn sweep``."""
    import json
    from pathlib import Path

    from brainlearn.experiments import list_experiments

    if args.list:
        for row in list_experiments().itertuples():
            print(f"{row.name:<11} {row.description}")
            if row.params:
                print(f"{'':<11}   params: {row.params}")
        return 0
    spec = load_spec(args.spec) if args.spec else {}
    out = args.out or spec.get("out")
    if not args.spec and args.resume and out and (Path(out) / "sweep.json").exists():
        stored = json.loads((Path(out) / "sweep.json").read_text())
        spec = {"experiment": stored["experiment"], "grid": stored["grid"], "seeds": stored["seeds"]}
    experiment = args.experiment or spec.get("experiment")
    if not experiment:
        raise ValueError("name the experiment: a SPEC.yaml with 'experiment:' or --experiment NAME "
                         "(brainlearn sweep --list shows them)")
    grid = spec.get("grid") or {}
    extra = parse_grid(args.grid)
    if extra:
        if not isinstance(grid, dict):
            raise ValueError("--grid adds to a grid given as a mapping, not a list of points")
        grid = {**grid, **extra}
    seeds = _seeds(args.seeds) if args.seeds is not None else spec.get("seeds", 1)
    out = out or f"runs/sweep_{experiment}"
    client = None
    if args.serial:
        client = "serial"
    elif args.scheduler or spec.get("scheduler"):
        client = args.scheduler or spec["scheduler"]
    workers = args.workers or spec.get("workers")
    retries = args.retries if args.retries is not None else int(spec.get("retries", 1))

    from brainlearn.sweep import sweep

    frame = sweep(experiment, grid, seeds, client, out=out, resume=args.resume, workers=workers,
                  retries=retries, progress=not args.no_progress)
    n_failed = int((frame["status"] != "ok").sum()) if len(frame) else 0
    print(f"{len(frame)} task(s): {len(frame) - n_failed} ok, {n_failed} failed; "
          f"results: {out}/results.parquet, {out}/results.csv")
    for row in frame[frame["status"] != "ok"].itertuples() if n_failed else []:
        print(f"  failed {row.key} (seed {row.seed}): {row.error}; traceback in {out}/tasks/{row.key}.json")
    return 1 if n_failed else 0
