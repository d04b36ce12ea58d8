"""Per-pass snapshots of a Diehl & Cook training run, and their cheap scores.

After every pass over the training images :func:`~brainlearn.models.diehl_cook.train` keeps a
snapshot of the network in the run directory, ``RUN/passes/pass_01/`` ... (``weights.npz``:
weights, theta and delays, the format of the run's own ``weights.npz``; ``snapshot.json``:
the images seen and presentations shown). Each snapshot is then scored cheaply by the frozen
network: labels assigned on the first ``PASS_ASSIGN_IMAGES`` (10,000) training images, a
vote on the first ``PASS_TEST_IMAGES`` (2,000) test images (or the held-out images of a run
with ``validation``), and the logistic and online readouts fitted on the same counts (the
evaluation's, :func:`~brainlearn.models.diehl_cook.evaluation.readout_scores`): they ignore
a cell that fires alike for every image, which the vote cannot. ``RUN/passes.csv`` holds one
row per pass, so the curve of accuracy against passes is known while a long run trains, and
if it has to stop early. Nothing is chosen from these scores: the run trains the passes it
was configured for.

The snapshot is taken at the end of the chunk in which the pass ends: exactly at the pass
boundary when the chunk size divides the number of training images (the default 1,000 does
for MNIST's 60,000), else up to one chunk later (``images_seen`` says where). It is written
before the checkpoint, so a run killed between the two repeats the chunk, bit for bit, and
writes the same snapshot again. Scoring uses its own seeds (the evaluation's, see
:func:`~brainlearn.models.diehl_cook.chunk_seed`) and runs between chunks, so the training's
random stream, its checkpoints and its result are those of a run without it. A pass that ended
before the code that keeps snapshots ran (an older run resumed) has no snapshot: its row in
``passes.csv`` says ``no snapshot`` and has no accuracy.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from brian2 import mV, volt

from brainlearn import rundir
from brainlearn.atomic import atomic_path, save_npz
from brainlearn.models.diehl_cook.config import (
    TrainConfig,
    evaluation_images,
    load_npz,
    read_run_config,
)
from brainlearn.models.diehl_cook.model import (
    FROZEN_START,
    N_INPUTS,
    DiehlCookParams,
    rest_theta,
)
from brainlearn.models.diehl_cook.state import NetworkState

__all__ = ["PASSES_DIR", "PASSES_CSV", "PASS_ASSIGN_IMAGES", "PASS_TEST_IMAGES",
           "pass_directory", "passes_ended", "save_weights", "save_snapshot", "score_passes",
           "pass_table", "rest_theta", "PASS_COLUMNS"]

#: folder of the snapshots in a run directory
PASSES_DIR = "passes"
#: the accuracy per pass, in the run directory
PASSES_CSV = "passes.csv"
#: training images the labels of a snapshot's cheap score are assigned on
PASS_ASSIGN_IMAGES = 10_000
#: test images its vote is scored on
PASS_TEST_IMAGES = 2_000
#: the columns of ``passes.csv`` (:func:`pass_table`)
PASS_COLUMNS = ["pass", "images_seen", "accuracy_vote", "accuracy_logistic", "accuracy_online",
                "assign_examples", "test_examples",
                "scored_on", "mean_theta_mV", "test_spikes_per_example", "cells_fire_at_rest",
                "snapshot"]


def pass_directory(run_dir: str | Path, index: int) -> Path:
    """The snapshot folder of pass ``index`` (from 1): ``RUN/passes/pass_01``."""
    return Path(run_dir) / PASSES_DIR / f"pass_{int(index):02d}"


def passes_ended(before: int, after: int, pass_size: int) -> list[int]:
    """The passes (from 1) that end among images ``before..after`` (after excluded from
    ``before``, included at ``after``): a chunk from position ``before`` to ``after``."""
    return list(range(before // pass_size + 1, after // pass_size + 1))


def save_weights(path: str | Path, state: NetworkState) -> Path:
    """Write ``state``'s weights ``(784, n)``, theta (V) and delays (s) as a run's
    ``weights.npz`` (atomically)."""
    path = Path(path)
    save_npz(path, weights=state.weights, theta=np.asarray(state.theta),
             delays=np.asarray(state.delays).reshape(N_INPUTS, -1))
    return path


def save_snapshot(run_dir: str | Path, index: int, state: NetworkState, images_seen: int,
                  presentations: int) -> Path:
    """Keep the network of pass ``index``: ``weights.npz`` and ``snapshot.json``; any score
    of an earlier snapshot of that pass is dropped. Returns the folder."""
    folder = pass_directory(run_dir, index)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "score.json").unlink(missing_ok=True)
    save_weights(folder / "weights.npz", state)
    rundir.write_json(folder / "snapshot.json", {
        "pass": int(index), "images_seen": int(images_seen),
        "presentations": int(presentations)})
    return folder


def _snapshots(run_dir: Path) -> list[Path]:
    root = run_dir / PASSES_DIR
    if not root.is_dir():
        return []
    return sorted(d for d in root.glob("pass_*") if (d / "snapshot.json").exists()
                  and (d / "weights.npz").exists())


def _scored_start(folder: Path) -> str:
    """The frozen start a snapshot's score was made with (scores without one: ``"rest"``)."""
    return rundir.read_json(folder / "score.json").get("frozen_start", "rest")


def score_passes(run_dir: str | Path, config: TrainConfig, position: int, pass_size: int,
                 assign_examples: int = PASS_ASSIGN_IMAGES,
                 test_examples: int = PASS_TEST_IMAGES, progress: bool = False,
                 rescore_other: bool = False) -> pd.DataFrame:
    """Score every snapshot of ``run_dir`` not yet scored, then write ``passes.csv``.

    A snapshot's score (``score.json``): labels assigned by the vote on the counts of the
    first ``assign_examples`` training images, accuracy of the vote on the first
    ``test_examples`` test images (the held-out images of a run with ``validation``), the
    frozen network compiled once in ``RUN/build_eval`` (the build of ``brainlearn mnist
    evaluate``). A run of ``data="arrays"`` has no evaluation images: its snapshots are kept,
    unscored.

    Parameters
    ----------
    run_dir : path
        The run directory.
    config : TrainConfig
        Its configuration.
    position : int
        Images trained so far (passes ended by then without a snapshot are listed as such).
    pass_size : int
        Training images per pass.
    assign_examples, test_examples : int
        Sizes of the cheap score.
    progress : bool
        Progress bars.
    rescore_other : bool
        Score again the snapshots scored by another frozen evaluation than the default one
        (``score.json``'s ``frozen_start``,
        :data:`~brainlearn.models.diehl_cook.model.FROZEN_STARTS`; a score without it was made
        from rest).

    Returns
    -------
    pandas.DataFrame
        The table written (:func:`pass_table`).
    """
    run_dir = Path(run_dir)
    pending = [d for d in _snapshots(run_dir) if not (d / "score.json").exists()
               or (rescore_other and _scored_start(d) != FROZEN_START)]
    if pending and config.data != "arrays":
        _score(run_dir, config, pending, assign_examples, test_examples, progress)
    table = pass_table(run_dir, position // pass_size, config.params())
    if len(table):  # nothing before the first pass ends
        with atomic_path(run_dir / PASSES_CSV) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
    return table


def _score(run_dir: Path, config: TrainConfig, folders: list[Path], assign_examples: int,
           test_examples: int, progress: bool) -> None:
    from brainlearn.models.diehl_cook.evaluation import readout_scores
    from brainlearn.models.diehl_cook.frozen import FrozenNetwork

    passes = evaluation_images(config)
    x_a, y_a = (a[:assign_examples] for a in passes["assign"])
    x_t, y_t = (a[:test_examples] for a in passes["test"])
    network = None
    try:
        for folder in folders:
            start = time.perf_counter()
            weights = load_npz(folder / "weights.npz")
            if network is None:
                network = FrozenNetwork(config, weights, run_dir)
            else:
                network.use_weights(weights)
            assign = network.counts(x_a, "assign", progress, desc=f"score {folder.name}")
            test = network.counts(x_t, "test", progress, desc=f"score {folder.name}")
            scores = readout_scores(("vote", "logistic", "online"), assign, y_a, test, y_t,
                                    int(config.seed))
            rundir.write_json(folder / "score.json", {
                **{name: float(value) for name, value in scores.items()},
                "assign_examples": len(y_a), "test_examples": len(y_t),
                "scored_on": "validation" if int(config.validation) else "test",
                "test_spikes_per_example": float(test.sum(axis=1).mean()),
                "frozen_start": network.start,
                "score_seconds": time.perf_counter() - start})
    finally:
        if network is not None:
            network.close()


def _run_params(run_dir: Path) -> DiehlCookParams | None:
    try:
        return read_run_config(run_dir).params()
    except (OSError, ValueError):  # no config.json (a bare folder of snapshots)
        return None


def pass_table(run_dir: str | Path, passes_done: int | None = None,
               params: DiehlCookParams | None = None) -> pd.DataFrame:
    """The accuracy per pass of a run directory, one row per pass.

    Columns (:data:`PASS_COLUMNS`): ``pass``, ``images_seen``, ``accuracy_vote`` (a fraction;
    NaN until scored, or without a snapshot), ``accuracy_logistic`` and ``accuracy_online``
    (NaN for a snapshot scored before they were), ``assign_examples``, ``test_examples``,
    ``scored_on``, ``mean_theta_mV``, ``test_spikes_per_example`` (of the score),
    ``cells_fire_at_rest`` (cells whose theta is below :func:`rest_theta`: they fire from rest
    with no input), ``snapshot`` (``passes/pass_01``, ``no snapshot`` or ``not scored``).
    ``passes_done``: passes the run has finished (default: those with snapshots).
    ``params``: the run's network parameters (default: from its ``config.json``; without
    one, ``cells_fire_at_rest`` is left empty).
    """
    run_dir = Path(run_dir)
    params = params if params is not None else _run_params(run_dir)
    limit = rest_theta(params) if params is not None else None
    rows = {}
    for folder in _snapshots(run_dir):
        meta = rundir.read_json(folder / "snapshot.json")
        score = rundir.read_json(folder / "score.json")
        with np.load(folder / "weights.npz") as data:
            theta = np.asarray(data["theta"]) * volt / mV
        rows[int(meta["pass"])] = {
            "pass": int(meta["pass"]), "images_seen": int(meta["images_seen"]),
            "accuracy_vote": score.get("accuracy_vote", np.nan),
            "accuracy_logistic": score.get("accuracy_logistic", np.nan),
            "accuracy_online": score.get("accuracy_online", np.nan),
            "assign_examples": score.get("assign_examples", 0),
            "test_examples": score.get("test_examples", 0),
            "scored_on": score.get("scored_on", ""), "mean_theta_mV": float(np.mean(theta)),
            "test_spikes_per_example": score.get("test_spikes_per_example", np.nan),
            "cells_fire_at_rest": (int(np.count_nonzero(theta < limit)) if limit is not None
                                   else pd.NA),
            "snapshot": f"{PASSES_DIR}/{folder.name}" if score else "not scored"}
    last = max([int(passes_done or 0), *rows])
    for k in range(1, last + 1):
        rows.setdefault(k, {"pass": k, "images_seen": 0, "accuracy_vote": np.nan,
                            "accuracy_logistic": np.nan, "accuracy_online": np.nan,
                            "assign_examples": 0, "test_examples": 0, "scored_on": "",
                            "mean_theta_mV": np.nan, "test_spikes_per_example": np.nan,
                            "cells_fire_at_rest": pd.NA, "snapshot": "no snapshot"})
    table = pd.DataFrame([rows[k] for k in sorted(rows)], columns=PASS_COLUMNS)
    table["cells_fire_at_rest"] = table["cells_fire_at_rest"].astype("Int64")
    return table
