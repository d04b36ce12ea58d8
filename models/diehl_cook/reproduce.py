"""The paper's Table 1 in one call: train, evaluate and plot each row, then tabulate.

Diehl & Cook (2015) report test accuracy for 100, 400, 1600 and 6400 excitatory cells,
trained for 1, 3, 7 and 15 passes over the 60,000 training images (``PAPER_ROWS``).
:func:`reproduce` runs the rows asked for into one directory, one run directory per row
(``n400``, ``n100_sized_s1``, ...): each row trains (resuming from its checkpoint), is
evaluated with the vote, logistic and online readouts, and plotted; rows already finished are
read back, so an interrupted call continues row by row where it stopped. After every row
``table.csv`` and ``table.md`` are rewritten with what is done: the paper's accuracy, the
measured accuracy of each readout, train and evaluation wall time, presentations per image
and the code version (git commit) the row was trained with. Every row also keeps a snapshot
after each training pass, scored cheaply into its ``passes.csv`` while it trains
(:mod:`~brainlearn.models.diehl_cook.passes`; ``passes_scored`` in the table, ``passes.png``
among its figures).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from brainlearn.atomic import atomic_path
from brainlearn.models.diehl_cook.model import PARAM_SETS
from brainlearn.rundir import code_version

__all__ = ["PAPER_ROWS", "READOUTS", "code_version", "row_directory", "reproduce", "row_summary", "write_table"]

#: excitatory cells -> (training passes, test accuracy in %), Diehl & Cook (2015), Table 1
PAPER_ROWS: dict[int, tuple[int, float]] = {100: (1, 82.9), 400: (3, 87.0), 1600: (7, 91.9),
                                             6400: (15, 95.0)}
READOUTS = ("vote", "logistic", "online")


def row_directory(out: str | Path, neurons: int, param_set: str = "paper", seed: int = 0,
                  timer: str = "brian1") -> Path:
    """Run directory of one row: ``n{N}``, plus ``_{param_set}`` unless ``paper``,
    ``_{timer}`` unless ``brian1`` and ``_s{seed}`` unless seed 0 (e.g. ``n100_sized_s2``,
    ``n6400_brian2``)."""
    name = f"n{int(neurons)}"
    if param_set != "paper":
        name += f"_{param_set}"
    if timer != "brian1":
        name += f"_{timer}"
    if int(seed) != 0:
        name += f"_s{int(seed)}"
    return Path(out) / name


def row_summary(run_dir: str | Path) -> dict:
    """One table row from a finished run directory (``config.json`` and ``metrics.json``)."""
    run_dir = Path(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    n = int(config["neurons"])
    epochs, paper = PAPER_ROWS.get(n, (None, None))
    examples = metrics["train_examples"]
    return {
        "neurons": n,
        "param_set": config.get("param_set", "paper"),
        "seed": int(config["seed"]),
        "epochs": examples / 60000 if config.get("data") == "full" else None,
        "paper_epochs": epochs,
        "paper_accuracy": paper,
        "accuracy_vote": 100 * metrics["accuracy_vote"],
        "accuracy_logistic": 100 * metrics.get("accuracy_logistic", float("nan")),
        "accuracy_online": 100 * metrics.get("accuracy_online", float("nan")),
        "theta_plus_mV": metrics.get("theta_plus_mV"),
        "integration": config.get("integration", "euler"),
        "timer": config.get("timer", "brian1"),
        "train_seconds": metrics["train_seconds"],
        "eval_seconds": metrics["eval_seconds"],
        "eval_shards": metrics.get("shards", 0),
        "presentations_per_image": metrics["presentations"] / max(examples, 1),
        "ms_per_presentation": 1000 * metrics["train_seconds"] / max(metrics["presentations"], 1),
        "code_version": config.get("code_version"),
        "passes_scored": _passes_scored(run_dir),
        "run_dir": run_dir.name,
    }


def _passes_scored(run_dir: Path) -> int:
    # snapshots of the row scored in its passes.csv (rows of older runs: 0)
    path = run_dir / "passes.csv"
    if not path.exists():
        return 0
    return int(pd.read_csv(path)["accuracy_vote"].notna().sum())


def write_table(out: str | Path, rows: list[dict]) -> pd.DataFrame:
    """Write ``table.csv`` and ``table.md`` in ``out`` (atomically) and return the table."""
    out = Path(out)
    table = pd.DataFrame(rows)
    keys = [k for k in ("neurons", "param_set", "timer", "seed") if k in table]
    table = table.sort_values(keys).reset_index(drop=True)
    with atomic_path(out / "table.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.4g")
    with atomic_path(out / "table.md") as tmp:
        tmp.write_text(table.to_markdown(index=False, floatfmt=".4g") + "\n")
    return table


def reproduce(
    out: str | Path,
    rows: list[int] | tuple[int, ...] = (100, 400, 1600),
    *,
    param_set: str = "paper",
    integration: str = "implicit_euler",
    timer: str = "brian1",
    seeds: list[int] | tuple[int, ...] = (0,),
    data: str = "full",
    examples: int | None = None,
    assign_examples: int | None = None,
    test_examples: int | None = None,
    chunk: int = 1000,
    progress: bool = True,
    plot: bool = True,
    workers: int | None = None,
    scheduler=None,
    device: str = "cpp_standalone",
) -> pd.DataFrame:
    """Train, evaluate and plot the paper's rows; write ``table.csv`` and ``table.md``.

    Parameters
    ----------
    out : path
        Directory of the reproduction (created); one run directory per row and seed.
    rows : sequence of int
        Network sizes, each a row of the paper's Table 1 (100, 400, 1600, 6400).
    param_set : str
        ``"paper"`` or ``"sized"`` (``DiehlCookParams.sized``).
    integration : str
        The cells' integration: ``"implicit_euler"`` (default), ``"exponential_euler"`` or
        ``"euler"`` (the original's; see ``DiehlCookParams``).
    timer : str
        Reading of the original threshold's timer: ``"brian1"`` (default, as Brian 1 ran the
        original code) or ``"brian2"`` (the official Brian2 port's 50 ms block; see
        ``DiehlCookParams``). Rows of another reading get run directories of their own.
    seeds : sequence of int
        Seeds; each row is run once per seed.
    data : str
        ``"full"`` MNIST (the paper's passes) or ``"embedded"`` (a quick check).
    examples : int, optional
        Training images per row instead of the paper's passes (quick checks).
    assign_examples, test_examples : int, optional
        Evaluation sizes (default: all training images for the labels, all test images).
    chunk : int
        Images per compiled run between checkpoints.
    progress : bool
        Progress bars.
    plot : bool
        Write each row's figures.
    workers, scheduler : optional
        Run each row's frozen evaluation on a local Dask cluster of ``workers`` processes
        (1: serially) or the cluster at ``scheduler`` (``tcp://HOST:PORT`` or a
        ``dask.distributed.Client``), as ``brainlearn mnist evaluate --workers`` does. The
        result is the same for any number of workers; the table records the shards in
        ``eval_shards``. Default: every core for a large evaluation
        (:func:`~brainlearn.models.diehl_cook.evaluation.evaluation_workers`).
    device : str
        Brian2 device of new rows (``"cpp_standalone"``: one compiled binary per chunk;
        ``"runtime"``, ``"cuda_standalone"``); a resumed row keeps its own.

    Returns
    -------
    pandas.DataFrame
        The table of the rows finished so far in ``out`` (this call's and earlier ones').
    """
    from brainlearn.models.diehl_cook import TrainConfig, train
    from brainlearn.models.diehl_cook.plots import plot_run
    from brainlearn.models.diehl_cook.sharded import evaluate_on_workers, evaluate_sharded

    unknown = [n for n in rows if int(n) not in PAPER_ROWS]
    if unknown:
        raise ValueError(f"rows must be sizes of the paper's table {sorted(PAPER_ROWS)}, got {unknown}")
    if param_set not in PARAM_SETS:
        raise ValueError(f"param_set must be one of {PARAM_SETS}, got {param_set!r}")
    out = Path(out)
    version = code_version()
    # validate every row's configuration before the first long run starts
    plan = []
    for n in rows:
        for seed in seeds:
            epochs = None if examples is not None else PAPER_ROWS[int(n)][0]
            config = TrainConfig.create(neurons=int(n), epochs=epochs, examples=examples,
                                        seed=int(seed), data=data, chunk=chunk,
                                        params=param_set, integration=integration,
                                        device=device, timer=timer)
            plan.append((row_directory(out, n, param_set, seed, timer), config))
    out.mkdir(parents=True, exist_ok=True)
    for run_dir, config in plan:
        metrics_path = run_dir / "metrics.json"
        metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
        if "accuracy_vote" not in metrics:
            # a new row starts; an interrupted one resumes from its checkpoint (its own config)
            train(run_dir, config.replace(code_version=version), progress=progress)
            if scheduler is not None:
                evaluate_sharded(run_dir, assign_examples, test_examples, workers=workers,
                                 client=scheduler, progress=progress, readouts=READOUTS)
            else:
                evaluate_on_workers(run_dir, assign_examples, test_examples, workers=workers,
                                    progress=progress, readouts=READOUTS)
            if plot:
                plot_run(run_dir)
        finished = [row_summary(d) for d in sorted(out.iterdir())
                    if (d / "metrics.json").exists() and "accuracy_vote" in
                    json.loads((d / "metrics.json").read_text())]
        table = write_table(out, finished)
    return table
