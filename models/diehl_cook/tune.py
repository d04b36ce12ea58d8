"""Choosing the threshold increment on training data alone: ``brainlearn mnist tune``.

Diehl & Cook (2015) give one ``theta_plus`` (0.05 mV) for every network size; a small network
then runs short of spikes (``DiehlCookParams.spike_budget``). :func:`tune` trains the network
once per candidate ``theta_plus`` and seed with the last ``validation`` training images held
out (``TrainConfig.validation``: never trained on), scores each run on those held-out images
(labels assigned on the others, the paper's vote readout and a logistic readout) and writes

- ``tune.csv``: one row per run (candidate, seed, validation accuracy, presentations per
  image, spikes, wall time, commit);
- ``tune.md``: per candidate the mean and spread over seeds, best first;
- ``tune.png``: validation accuracy against ``theta_plus``.

The test set is never read. Like :func:`~brainlearn.models.diehl_cook.reproduce.reproduce`
it is resumable: a finished run is read back, an interrupted one continues from its
checkpoint. The chosen value is then trained with ``validation=0`` and scored on the test set
(``brainlearn mnist train --theta-plus``; ``--params sized`` carries the value chosen for
N=100, see ``DiehlCookParams.sized``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from brian2 import Quantity, mV

from brainlearn.atomic import atomic_path
from brainlearn.models.diehl_cook.reproduce import PAPER_ROWS, code_version
from brainlearn.units import check_quantity, parse_quantity

__all__ = ["tune", "tune_directory", "tune_summary", "write_tune_tables"]


def tune_directory(out: str | Path, neurons: int, theta_plus: Quantity, seed: int) -> Path:
    """Run directory of one candidate and seed: ``n{N}_tp{theta_plus in mV}mV_s{seed}``
    (e.g. ``n100_tp0.0125mV_s1``)."""
    return Path(out) / f"n{int(neurons)}_tp{float(theta_plus / mV):g}mV_s{int(seed)}"


def _scored_on_validation(run_dir: Path) -> bool:
    # a finished run of the search: trained and evaluated on its held-out images
    path = run_dir / "metrics.json"
    return path.exists() and json.loads(path.read_text()).get("scored_on") == "validation"


def tune_summary(run_dir: str | Path) -> dict:
    """One row of ``tune.csv`` from a finished run directory."""
    run_dir = Path(run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    examples = metrics["train_examples"]
    return {
        "neurons": int(config["neurons"]),
        "theta_plus_mV": metrics["theta_plus_mV"],
        "seed": int(config["seed"]),
        "validation_vote": 100 * metrics["accuracy_vote"],
        "validation_logistic": 100 * metrics.get("accuracy_logistic", float("nan")),
        "validation_examples": metrics["test_examples"],
        "assign_examples": metrics["assign_examples"],
        "train_examples": examples,
        "presentations_per_image": metrics["presentations"] / max(examples, 1),
        "spikes_per_image": metrics["test_spikes_per_example"],
        "train_seconds": metrics["train_seconds"],
        "eval_seconds": metrics["eval_seconds"],
        "integration": config.get("integration", "euler"),
        "code_version": config.get("code_version"),
        "run_dir": run_dir.name,
    }


def write_tune_tables(out: str | Path, rows: list[dict]) -> pd.DataFrame:
    """Write ``tune.csv`` (every run) and ``tune.md`` (per candidate: mean, standard
    deviation and number of seeds of the validation accuracy, best mean vote first) in
    ``out``, atomically; return the per-candidate summary."""
    out = Path(out)
    runs = pd.DataFrame(rows).sort_values(["neurons", "theta_plus_mV", "seed"])
    with atomic_path(out / "tune.csv") as tmp:
        runs.to_csv(tmp, index=False, float_format="%.6g")
    summary = (runs.groupby(["neurons", "theta_plus_mV"])
               .agg(seeds=("seed", "count"),
                    validation_vote=("validation_vote", "mean"),
                    vote_sd=("validation_vote", "std"),
                    validation_logistic=("validation_logistic", "mean"),
                    presentations_per_image=("presentations_per_image", "mean"),
                    spikes_per_image=("spikes_per_image", "mean"))
               .reset_index()
               .sort_values(["neurons", "validation_vote"], ascending=[True, False]))
    with atomic_path(out / "tune.md") as tmp:
        tmp.write_text("Validation accuracy (%) on held-out training images, mean over seeds; "
                       "best first.\n\n" + summary.to_markdown(index=False, floatfmt=".4g") + "\n")
    return summary


def tune(
    out: str | Path,
    theta_plus: Sequence[Quantity | str] | str,
    *,
    neurons: int = 100,
    seeds: Sequence[int] = (0,),
    validation: int = 10000,
    epochs: float | None = None,
    examples: int | None = None,
    assign_examples: int | None = None,
    data: str = "full",
    integration: str = "implicit_euler",
    chunk: int = 1000,
    progress: bool = True,
    plot: bool = True,
) -> pd.DataFrame:
    """Train and score each candidate ``theta_plus`` on held-out training images.

    Parameters
    ----------
    out : path
        Directory of the search (created); one run directory per candidate and seed
        (:func:`tune_directory`).
    theta_plus : sequence of Quantity, or str
        Candidate threshold increments (volts), e.g. ``[0.00625 * mV, 0.0125 * mV]``, or
        written with their units, comma-separated: ``"0.00625 mV,0.0125 mV"``.
    neurons : int
        Excitatory cells N.
    seeds : sequence of int
        Seeds; every candidate runs once per seed.
    validation : int
        Training images held out (the last ones of the training split) and scored.
    epochs, examples : optional
        Training amount (default: the paper's passes for ``neurons``, else one), over the
        training images less the held-out ones.
    assign_examples : int, optional
        Training images whose responses assign the labels (default: all that are trained on).
    data, integration, chunk, progress
        As for :class:`~brainlearn.models.diehl_cook.TrainConfig`.
    plot : bool
        Write ``tune.png`` (validation accuracy against ``theta_plus``).

    Returns
    -------
    pandas.DataFrame
        Per candidate: seeds, mean validation vote and logistic accuracy (%), spread of the
        vote over seeds, presentations and spikes per image; best mean vote first.
    """
    from brainlearn.models.diehl_cook import TrainConfig, evaluate, train
    from brainlearn.models.diehl_cook.config import training_images

    if isinstance(theta_plus, str):
        theta_plus = [text.strip() for text in theta_plus.split(",") if text.strip()]
    candidates = [parse_quantity("theta_plus", value, mV) if isinstance(value, str)
                  else check_quantity("theta_plus", value, mV) for value in theta_plus]
    if not candidates:
        raise ValueError("give at least one theta_plus candidate")
    if int(validation) < 1:
        raise ValueError(f"validation must be a positive number of images, got {validation}")
    if epochs is None and examples is None:
        epochs = PAPER_ROWS.get(int(neurons), (1, None))[0]
    out = Path(out)
    version = code_version()
    plan = [(tune_directory(out, neurons, value, seed),
             TrainConfig.create(neurons=neurons, epochs=epochs, examples=examples,
                                seed=int(seed), data=data, chunk=chunk, theta_plus=value,
                                integration=integration, validation=int(validation)))
            for value in candidates for seed in seeds]
    training_images(plan[0][1])  # a validation larger than the training split fails here
    out.mkdir(parents=True, exist_ok=True)
    for run_dir, config in plan:
        if not _scored_on_validation(run_dir):
            train(run_dir, config.replace(code_version=version), progress=progress)
            evaluate(run_dir, assign_examples, None, progress=progress,
                     readouts=("vote", "logistic"))
    rows = [tune_summary(d) for d in sorted(out.iterdir()) if _scored_on_validation(d)]
    summary = write_tune_tables(out, rows)
    if plot:
        from brainlearn.models.diehl_cook.plots import plot_tune

        plot_tune(out)
    return summary
