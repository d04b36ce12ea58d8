"""Training of a Diehl & Cook run in chunks, checkpointed after every chunk.

``train`` continues from the checkpoint when there is one, so ``--resume`` (or simply running
again) after Ctrl-C or a kill ends with the same examples seen and the same result as an
uninterrupted run: chunk seeds derive from the run seed and the chunk index. After every pass
over the training images a snapshot of the network is kept and scored cheaply
(:mod:`~brainlearn.models.diehl_cook.passes`: ``RUN/passes/``, ``passes.csv``), between
chunks and with its own seeds, so the training is the same with or without it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
from brian2 import mV
from tqdm.auto import tqdm

from brainlearn import rundir
from brainlearn.atomic import atomic_path, save_npz
from brainlearn.models.diehl_cook.config import (
    TrainConfig,
    chunk_seed,
    load_npz,
    read_run_config,
    training_images,
)
from brainlearn.models.diehl_cook.model import N_INPUTS, DiehlCookParams
from brainlearn.models.diehl_cook.network import ChunkResult, StopOnSigterm, make_sim, present_chunk
from brainlearn.models.diehl_cook.passes import (
    passes_ended,
    save_snapshot,
    save_weights,
    score_passes,
)
from brainlearn.models.diehl_cook.state import NetworkState
from brainlearn.readout import VoteReadout

#: the model's name in ``brainlearn.models.MODELS`` (``config.json``'s ``"model"``)
MODEL_NAME = "diehl-cook-2015"

__all__ = ["MODEL_NAME", "TrainProgress", "Checkpoint", "train", "write_untrained_run", "write_profile"]


@dataclass
class TrainProgress:
    """Where a training run stands (the checkpoint's ``meta``)."""

    position: int = 0  # images finished
    chunk_index: int = 0
    presentations: int = 0
    capped: int = 0
    train_seconds: float = 0.0
    compile_seconds: float = 0.0
    training_accuracy: list = field(default_factory=list)  # [images seen, accuracy] pairs

    def add(self, result: ChunkResult) -> None:
        """Count one finished run."""
        self.position += result.done
        self.chunk_index += 1
        self.presentations += result.shown
        self.capped += result.capped
        self.train_seconds += result.wall_seconds


@dataclass
class Checkpoint:
    """The state of a training run after its last finished chunk (``checkpoint.npz``).

    ``prev_counts``/``prev_labels``: the last chunk's counts, to which the next chunk's
    training accuracy is scored (a vote fitted on them).
    """

    state: NetworkState
    progress: TrainProgress
    prev_counts: np.ndarray | None = None
    prev_labels: np.ndarray | None = None

    def save(self, path: Path) -> None:
        """Write it atomically."""
        extra = {}
        if self.prev_counts is not None:
            extra = {"prev_counts": self.prev_counts, "prev_labels": self.prev_labels}
        save_npz(path, meta=np.array(json.dumps(asdict(self.progress))),
                 **self.state.to_arrays(), **extra)

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        """Read one (:func:`load_npz`: a damaged file raises one clear error)."""
        arrays = load_npz(path)
        meta = json.loads(str(arrays["meta"]))
        known = {f.name for f in fields(TrainProgress)}
        return cls(NetworkState.from_arrays(arrays),
                   TrainProgress(**{k: v for k, v in meta.items() if k in known}),
                   arrays.get("prev_counts"), arrays.get("prev_labels"))


def _training_accuracy(ckpt: Checkpoint, result: ChunkResult, labels: np.ndarray) -> None:
    """Score the chunk's counts with a vote fitted on the previous chunk's, then keep them."""
    if ckpt.prev_counts is not None and result.done:
        acc = VoteReadout().fit(ckpt.prev_counts, ckpt.prev_labels).score(result.counts, labels)
        ckpt.progress.training_accuracy.append([ckpt.progress.position + result.done, acc])
    if result.done:
        ckpt.prev_counts, ckpt.prev_labels = result.counts, labels


def _run_config(run_dir: Path, config) -> tuple[TrainConfig, bool]:
    """The config of a resumed run (its ``config.json``) or of a new one, and whether new."""
    if (run_dir / rundir.CONFIG).exists():
        return read_run_config(run_dir), False
    if config is None:
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json) to resume")
    return TrainConfig.of(config), True


@rundir.locked  # one writer per run directory (brainlearn.runlock)
def train(run_dir: str | Path, config: TrainConfig | Mapping | None = None,
          progress: bool = True, profile: bool = False,
          images: tuple[np.ndarray, np.ndarray] | None = None, score: bool = True) -> dict:
    """Train (or continue training) the network of a run directory.

    Parameters
    ----------
    run_dir : path
        The run directory; created with ``config`` if new, resumed from its checkpoint if not.
    config : TrainConfig, optional
        The configuration of a new run (ignored when resuming).
    progress : bool
        Show a progress bar.
    profile : bool
        Run the chunks of this call with Brian2's profiling and write ``profile.csv`` in the
        run directory: seconds and share of the simulation time per generated code object
        (state updaters, thresholds, resets, synaptic pathways, monitors), summed over the
        chunks. The weights are the same as without it.
    images : (pixels, labels), optional
        The training images of a run whose config has ``data="arrays"`` (pixel rows
        ``(n, 784)``, 0-255, and their labels, which only score the training accuracy):
        what :meth:`DiehlCookClassifier.fit` trains on. A resumed ``"arrays"`` run needs the
        same images again.
    score : bool
        Score every pass's snapshot cheaply as soon as it is kept (``passes.csv``, see
        :mod:`~brainlearn.models.diehl_cook.passes`); the snapshots are kept either way.

    Returns
    -------
    dict
        The training metrics (also written to ``metrics.json``).
    """
    run_dir = Path(run_dir)
    config, new = _run_config(run_dir, config)
    params = config.params()
    # the data is loaded before anything is written: a failed start leaves no run directory
    images, labels = _given_images(config, images) if images is not None else \
        training_images(config)
    if config.examples is None:
        config = config.replace(examples=int(round((config.epochs or 1.0) * len(images))))
        new = True  # (rewritten) with the number of images
    if new:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_run_config(run_dir, config, params)
    total = config.examples
    ckpt_path = run_dir / "checkpoint.npz"
    if ckpt_path.exists():
        ckpt = Checkpoint.load(ckpt_path)
    else:
        ckpt = Checkpoint(NetworkState.initial(params, config.neurons, config.seed), TrainProgress())
        ckpt.save(ckpt_path)
    pass_size = len(images)
    if score:  # snapshots a killed run kept but did not score yet
        _score_passes(run_dir, config, ckpt.progress.position, pass_size, progress)
    bar = tqdm(total=total, initial=ckpt.progress.position, unit="img", desc="train",
               disable=not progress, dynamic_ncols=True)
    net = None
    profiled: dict[str, float] = {}
    try:
        with StopOnSigterm():
            while ckpt.progress.position < total:
                if net is None:
                    delays = np.asarray(ckpt.state.delays).reshape(N_INPUTS, -1)
                    net = make_sim(config, params, run_dir, True, delays, profile=profile)
                    ckpt.progress.compile_seconds += net.compile_seconds
                position = ckpt.progress.position
                result = present_chunk(net, images, ckpt.state, position, total,
                                       chunk_seed(config.seed, "train", ckpt.progress.chunk_index))
                _training_accuracy(ckpt, result,
                                   labels[np.arange(position, position + result.done) % len(images)])
                if profile:
                    for name, seconds in net.sim.profiling_info().items():
                        profiled[name] = profiled.get(name, 0.0) + seconds
                ended = passes_ended(position, position + result.done, pass_size)
                if ended:  # kept before the checkpoint: a rerun of the chunk writes it again
                    save_snapshot(run_dir, ended[-1], result.state, position + result.done,
                                  ckpt.progress.presentations + result.shown)
                ckpt.state = result.state
                ckpt.progress.add(result)
                ckpt.save(ckpt_path)
                bar.update(result.done)
                if ended and score:
                    if config.data != "arrays":  # (given images are not scored)
                        net.close()  # the frozen network takes Brian2's device; recompiled
                        net = None
                    _score_passes(run_dir, config, ckpt.progress.position, pass_size, progress)
                if result.capped:
                    tqdm.write(f"warning: {result.capped} image(s) reached the retry cap "
                               f"({int(params.max_retries)} retries) with fewer than "
                               f"{int(params.min_spikes)} spikes")
    finally:
        bar.close()
        if net is not None:
            net.close()
    _save_weights(run_dir, ckpt.state)
    if profile:
        write_profile(run_dir / "profile.csv", profiled)
    return _write_train_metrics(run_dir, config, params, ckpt.progress)


def _score_passes(run_dir: Path, config: TrainConfig, position: int, pass_size: int,
                  progress: bool) -> None:
    # the cheap score never stops the training: a failure is reported, the snapshot stays
    # unscored and is scored again after the next pass or when the run resumes
    try:
        score_passes(run_dir, config, position, pass_size, progress=progress)
    except Exception as exc:  # noqa: BLE001 (a kill, KeyboardInterrupt, still stops the run)
        tqdm.write(f"warning: scoring the pass snapshots of {run_dir} failed, training goes "
                   f"on ({type(exc).__name__}: {exc})")


def _given_images(config: TrainConfig, given) -> tuple[np.ndarray, np.ndarray]:
    # the pixel rows and labels handed to train() (a run of data="arrays")
    if config.data != "arrays":
        raise ValueError(f"images are given to train() only for a run of data='arrays', "
                         f"this run reads data={config.data!r}")
    pixels, labels = given
    pixels = np.asarray(pixels, dtype=np.float64).reshape(len(pixels), -1)
    return pixels, np.asarray(labels).astype(np.int64)


def write_profile(path: str | Path, seconds: Mapping[str, float]) -> pd.DataFrame:
    """Write a profile (seconds per code object) as CSV, largest first, with its share.

    Columns: ``code_object``, ``seconds``, ``share`` (of the profiled total).
    """
    table = pd.DataFrame({"code_object": list(seconds), "seconds": list(seconds.values())})
    table = table.sort_values("seconds", ascending=False, ignore_index=True)
    total = table["seconds"].sum()
    table["share"] = table["seconds"] / total if total > 0 else 0.0
    with atomic_path(Path(path)) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    return table


def _write_train_metrics(run_dir: Path, config: TrainConfig, params: DiehlCookParams,
                         p: TrainProgress) -> dict:
    metrics = rundir.read_metrics(run_dir)
    metrics.update(
        neurons=config.neurons, train_examples=p.position, presentations=p.presentations,
        train_seconds=p.train_seconds, compile_seconds=p.compile_seconds,
        ms_per_example=1000 * p.train_seconds / max(p.position, 1),
        capped_images=p.capped, training_accuracy=p.training_accuracy,
        device=config.device, timer=config.timer, data=config.data,
        theta_plus_mV=float(params.exc.theta_plus / mV), param_set=config.param_set,
        integration=params.integration,
    )
    rundir.write_json(run_dir / rundir.METRICS, metrics)
    return metrics


def _write_run_config(run_dir: Path, config: TrainConfig, params: DiehlCookParams) -> None:
    # keys a newer or other writer added to config.json are kept
    old = rundir.read_json(run_dir / rundir.CONFIG)
    rundir.write_config(run_dir, {**old, **config.to_json(), "model": MODEL_NAME,
                                  "params": _describe(params)},
                        kind="diehl_cook")


def _describe(params: DiehlCookParams) -> dict:
    return {k: str(v) for k, v in asdict(params).items()}


def write_untrained_run(run_dir: str | Path, config: TrainConfig) -> Path:
    """Create a run directory holding the network's initial (untrained) weights and theta.

    For benchmarks and tests of evaluation: ``evaluate`` reads it like a trained run.

    Parameters
    ----------
    run_dir : path
        New directory (must not exist).
    config : TrainConfig
        The run's configuration.

    Returns
    -------
    Path
        ``run_dir``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True)
    params = config.params()
    _write_run_config(run_dir, config, params)
    state = NetworkState.initial(params, config.neurons, config.seed)
    _save_weights(run_dir, state)
    return run_dir


def _save_weights(run_dir: Path, state: NetworkState) -> None:
    save_weights(run_dir / "weights.npz", state)
