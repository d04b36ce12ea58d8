"""Evaluation of a trained Diehl & Cook run: frozen passes over training images (label
assignment) and test images, in chunks, and the readouts fitted on their spike counts.

The frozen network (weights and theta fixed, no plasticity code) starts every presentation
from the rest state inside its generated code (``model.REST``: v at rest, ``ge = gi = 0``,
not refractory), so it needs no 150 ms rest to settle: its rest is only as long as the
longest input delay, so that the last input spikes of one image arrive before the next one
starts (:func:`frozen_params`; 384 ms per presentation instead of 500 ms with the paper's
parameters). Given its Poisson input, an image's counts then do not depend on the images
before it. Every chunk of ``config.chunk`` images starts from the same initial state with its
own seed (:func:`frozen_chunks`), so chunks can run anywhere: :func:`evaluate` runs them
serially in this process, the sharded evaluation spreads them over worker processes
(:mod:`brainlearn.models.diehl_cook.sharded`), with identical counts, predictions and accuracy
for any number of workers. ``brainlearn mnist evaluate``
(:func:`~brainlearn.models.diehl_cook.sharded.evaluate_on_workers`) runs a large evaluation on
every core by default (:func:`evaluation_workers`).

``start="carried"`` (:data:`~brainlearn.models.diehl_cook.model.FROZEN_STARTS`) runs the
paper's test protocol instead (``Diehl&Cook_spiking_MNIST.py`` with ``test_mode``): the
images follow each other with the network's state carried over, the 150 ms rest with the
input off simulated between them; every chunk starts from the initial state (v at
``v_init``, -105 mV), where the paper runs its 10,000 test images in one sequence. The two
agree within the evaluation's noise while every theta is above 7 mV. Below, a cell's fixed
threshold is below rest and below its reset: from rest it fires once at the start of every
image; carried, it stays silent while the inhibition of the cells that answer the images
holds it down, but once it fires it keeps firing every refractory period, silencing the
others (frozen, its theta no longer rises with its spikes as in training).

An evaluation keeps every chunk as soon as it ends in ``RUN/eval_chunks/``
(:func:`chunk_store`, :func:`keep_chunk`) until its metrics are written: an evaluation
stopped part-way (a kill, a full disk, the end of a session) runs only its missing chunks
when it is started again, with the same result as an uninterrupted one. The chunks kept
belong to one evaluation (:func:`chunk_key`: the weights, the config, the image counts, how
presentations start, the code); another evaluation of the run discards them.

The pieces are shared by the serial :func:`evaluate` and the sharded evaluation:
:func:`open_evaluation`, :meth:`Evaluation.network`, :func:`frozen_chunks`,
:func:`merge_chunks`, :func:`chunk_store`, :func:`finish_evaluation`.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from brian2 import Quantity, second
from tqdm.auto import tqdm

from brainlearn import rundir
from brainlearn.atomic import save_npz
from brainlearn.models.diehl_cook.config import (
    TrainConfig,
    chunk_seed,
    evaluation_images,
    load_npz,
    read_run_config,
)
from brainlearn.models.diehl_cook.model import (
    FROZEN_START,
    DiehlCookParams,
    check_frozen_start,
    rest_theta,
)
from brainlearn.models.diehl_cook.network import (
    CompiledNetwork,
    StopOnSigterm,
    make_sim,
    present_chunk,
)
from brainlearn.models.diehl_cook.state import NetworkState, frozen_state
from brainlearn.readout import VoteReadout

__all__ = ["PassRecord", "ChunkPart", "CHUNKS_DIR", "chunk_key", "chunk_store", "keep_chunk",
           "kept_chunk", "kept_chunks", "frozen_chunks", "merge_chunks", "Evaluation",
           "open_evaluation", "READOUTS", "check_readouts", "evaluate", "window_mask",
           "window_spikes", "finish_evaluation", "ONLINE_EPOCHS", "frozen_params",
           "evaluation_workers", "PARALLEL_MIN_IMAGES", "readout_scores", "window_part",
           "unselective_cells"]

#: an evaluation of at least this many images (both passes) uses every core by default:
#: starting a local cluster's worker processes costs seconds on a quiet machine, and on the
#: loaded 2-core machine about as much as 2,400 images of serial evaluation at N=400
#: (``benchmarks/diehl_cook_eval_speed.py``)
PARALLEL_MIN_IMAGES = 5_000


#: presentations of one run for which the frozen network's period must stay on the step grid
#: (a chunk of up to 100,000 images with a retry each)
_GRID_PRESENTATIONS = 200_000


def frozen_params(params: DiehlCookParams, start: str = FROZEN_START) -> DiehlCookParams:
    """The parameters the frozen network runs with for ``start``
    (:data:`~brainlearn.models.diehl_cook.model.FROZEN_STARTS`).

    ``"rest"`` (default): ``t_rest`` cut to about the longest input delay (384 ms per
    presentation with the paper's parameters). ``"carried"`` (the paper's protocol): the
    training's, the 150 ms rest included.

    With ``"rest"`` every presentation of the frozen network starts from the rest state
    (``model.REST``), so the rest between presentations only has to let the input spikes of
    the last ``max_delay`` arrive: the last input spike of a presentation falls before ``t_input``
    and arrives at most ``max_delay`` later, before the next presentation starts. The input
    window, and with it the counts' definition, is unchanged.

    The rest is the shortest whole number of steps, at least ``max_delay`` (and one step),
    whose period keeps the presentation clock on the time step's grid: Brian2's standalone
    loop runs two clocks in one step only when their times agree within 1e-14 s, and
    ``k * period`` drifts from ``(k * steps) * dt`` in floating point for most periods (a
    360 ms period after 186 presentations); the stop at the end of a chunk would then come
    before its step. The training's period is kept if no shorter one qualifies.
    """
    if check_frozen_start(start) == "carried":
        return params
    dt = float(params.dt / second)
    first = max(1, int(np.ceil(float(params.max_delay / second) / dt - 1e-9)))
    last = int(round(float(params.t_rest / second) / dt))
    k = np.arange(1, _GRID_PRESENTATIONS + 1, dtype=np.float64)
    for rest_steps in range(first, last):
        candidate = params.replace(t_rest=rest_steps * params.dt)
        period = float(candidate.period / second)
        steps = round(period / dt)
        if np.all(np.abs(k * period - (k * steps) * dt) <= 1e-14):
            return candidate
    return params


def evaluation_workers(workers: int | None, n_images: int, device: str = "cpp_standalone") -> int:
    """Worker processes an evaluation of ``n_images`` images runs on.

    ``workers`` given: that many (1 is the serial evaluation in this process). Default: every
    core this process may use for an evaluation of :data:`PARALLEL_MIN_IMAGES` images or more
    on a CPU device, else 1. The result is the same for any number of workers.
    """
    if workers is not None:
        if int(workers) < 1:
            raise ValueError(f"workers must be positive, got {workers}")
        return int(workers)
    if device == "cuda_standalone" or n_images < PARALLEL_MIN_IMAGES:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores)


@dataclass
class PassRecord:
    """What a frozen pass over images recorded.

    ``counts`` ``(images, n)``: each image's last presentation's input-window spike counts;
    ``spikes`` (``neuron``, ``t`` in s, ``example``) and ``presentations`` (``example``,
    ``start`` in s: every presentation shown, retries included) on the pass's clock.
    """

    counts: np.ndarray
    spikes: pd.DataFrame
    presentations: pd.DataFrame


@dataclass
class ChunkPart:
    """One chunk of a frozen pass (:func:`frozen_chunks`): its record on a clock from the
    chunk's start, global example indices, its simulated time and its final state (None
    for a chunk read back by :func:`kept_chunk`)."""

    index: int
    record: PassRecord
    end_time: Quantity
    state: NetworkState | None


# Chunk k holds the images [k * chunk, (k + 1) * chunk) and starts from the pass's initial
# state (initial values of v, ge, gi, the controller; theta and weights are frozen anyway) with
# seed chunk_seed(seed, stage, k), so every chunk's counts depend on that chunk alone: shards
# of whole chunks on different workers give exactly the serial result. (By default every
# presentation starts from rest, model.REST, and a chunk's images share only the random
# stream; with frozen_start="carried" the state is carried from image to image within a chunk,
# the paper's protocol.)
# A chunk whose run ends before its last image (retries used up the run's time) continues from
# where it stopped, with its state carried, in further runs seeded chunk_seed(seed, stage, k,
# part).
def frozen_chunks(net: CompiledNetwork, images: np.ndarray, state: NetworkState,
                  n_examples: int, stage: str, seed: int, chunks, bar=None,
                  span: int | None = None) -> list[ChunkPart]:
    """Run whole chunks (indices ``chunks``, ``span`` images each, default the table size) of
    a frozen pass over the first ``n_examples`` of ``images``, each from ``state``.

    ``stage`` (``"assign"`` or ``"test"``) and ``seed`` (the run's) seed the runs.
    """
    size = span or net.table_size
    return [_frozen_chunk(net, images, state, k * size, min((k + 1) * size, n_examples),
                          lambda run, k=k: chunk_seed(seed, stage, k, run), k, bar)
            for k in chunks]


def _frozen_chunk(net, images, state, position, end, seed_of, index, bar) -> ChunkPart:
    """Images ``position..end-1`` in as many runs as they take (the state carried)."""
    run, t0 = 0, 0.0
    counts, spikes, shows = [], [], []
    while position < end:
        res = present_chunk(net, images, state, position, end, seed_of(run))
        state = res.state
        last = res.done + int(res.pending)  # an undecided presentation's image is ``done``
        s = res.spikes[res.spikes["example"] < last]
        spikes.append(s.assign(example=s["example"] + position, t=s["t"] + t0))
        p = res.presentations[res.presentations["example"] < last]
        shows.append(p.assign(example=p["example"] + position, start=p["start"] + t0))
        t0 += float(res.end_time / second)
        counts.append(res.counts)
        position += res.done
        run += 1
        if bar is not None:
            bar.update(res.done)
    record = PassRecord(np.concatenate(counts), pd.concat(spikes, ignore_index=True),
                        pd.concat(shows, ignore_index=True))
    return ChunkPart(index, record, t0 * second, state)


def merge_chunks(parts: list[ChunkPart]) -> PassRecord:
    """The record of a pass from its chunks (any order; times made continuous)."""
    parts = sorted(parts, key=lambda p: p.index)
    offset, spikes, shows = 0.0, [], []
    for p in parts:
        spikes.append(p.record.spikes.assign(t=p.record.spikes["t"] + offset))
        shows.append(p.record.presentations.assign(start=p.record.presentations["start"] + offset))
        offset += float(p.end_time / second)
    return PassRecord(np.concatenate([p.record.counts for p in parts]),
                      pd.concat(spikes, ignore_index=True), pd.concat(shows, ignore_index=True))


def window_part(part: ChunkPart, stage: str, params: DiehlCookParams) -> ChunkPart:
    """``part`` as an evaluation keeps it: an assignment chunk with only the spikes its counts
    were taken from (:func:`window_mask`; all that :func:`finish_evaluation` reads of the
    assignment pass), a test chunk whole."""
    if stage != "assign":
        return part
    r = part.record
    kept = r.spikes[window_mask(r.spikes, r.presentations, float(params.t_input / second))]
    return replace(part, record=replace(r, spikes=kept.reset_index(drop=True)))


@dataclass
class Evaluation:
    """What an evaluation of a run needs: its config and parameters, trained weights, and
    the labelled images of both passes (``assign``: training images, ``test``)."""

    run_dir: Path
    config: TrainConfig
    params: DiehlCookParams
    weights: dict
    images: dict  # stage -> pixel rows of the pass
    labels: dict  # stage -> labels of the pass
    start: str = FROZEN_START  # how the presentations start (model.FROZEN_STARTS)

    @property
    def n_examples(self) -> dict[str, int]:
        """Images per pass."""
        return {stage: len(y) for stage, y in self.labels.items()}

    def network(self, build_name: str | None = None) -> CompiledNetwork:
        """The frozen network (close it when done); ``params`` are already
        :func:`frozen_params`."""
        return make_sim(self.config, self.params, self.run_dir, False, self.weights["delays"],
                        build_name, frozen_start=self.start)

    def initial_state(self) -> NetworkState:
        """The state every pass (and, reset per chunk, every chunk) starts from."""
        return frozen_state(self.config, self.params, self.weights)


def open_evaluation(run_dir: str | Path, assign_examples: int | None = None,
                    test_examples: int | None = None, device: str | None = None,
                    images: bool = True, start: str = FROZEN_START) -> Evaluation:
    """Read what an evaluation of ``run_dir`` needs (see :func:`evaluate` for the options;
    ``images=False`` leaves the pixels out; ``start``: how the frozen network's presentations
    start, :data:`~brainlearn.models.diehl_cook.model.FROZEN_STARTS`)."""
    run_dir = Path(run_dir)
    config = read_run_config(run_dir, device)
    if not (run_dir / "weights.npz").exists():
        raise FileNotFoundError(f"{run_dir} has no trained weights (weights.npz): train first")
    weights = load_npz(run_dir / "weights.npz")
    pixels, labels = {}, {}
    passes = evaluation_images(config)
    for stage, wanted in (("assign", assign_examples), ("test", test_examples)):
        x, y = passes[stage]
        n = len(x) if wanted is None else min(int(wanted), len(x))
        if n < 1:
            raise ValueError("assign and test examples must be positive")
        pixels[stage], labels[stage] = (x if images else None), y[:n]
    return Evaluation(run_dir, config, frozen_params(config.params(), start), weights, pixels,
                      labels, check_frozen_start(start))


#: the folder of a run directory that keeps the finished chunks of an evaluation in progress
CHUNKS_DIR = "eval_chunks"


def chunk_key(ev: Evaluation) -> dict:
    """What every chunk of ``ev`` depends on: a digest of the weights and theta, the run's
    config, the images per pass, how presentations start and the code's version
    (:func:`brainlearn.rundir.code_version`)."""
    from brainlearn import __version__

    digest = hashlib.sha256()
    for name in sorted(ev.weights):
        values = np.ascontiguousarray(ev.weights[name])
        digest.update(f"{name} {values.dtype.str} {values.shape}".encode())
        digest.update(values.data)
    return {"weights_sha256": digest.hexdigest(), "config": ev.config.to_json(),
            "examples": ev.n_examples, "start": ev.start,
            "code": rundir.code_version() or __version__}


def chunk_store(ev: Evaluation) -> rundir.PartStore:
    """The finished chunks of ``ev`` kept in ``RUN/eval_chunks/`` (emptied first when it
    holds another evaluation's, :func:`chunk_key`)."""
    return rundir.PartStore.open(ev.run_dir / CHUNKS_DIR, chunk_key(ev))


def keep_chunk(store: rundir.PartStore, stage: str, part: ChunkPart) -> None:
    """Keep ``part``, one finished chunk of ``stage``: counts, spikes, presentations and
    simulated time (not its final state, which no evaluation reads)."""
    r = part.record
    arrays = {"end_time": np.float64(part.end_time / second), "counts": r.counts}
    for name, frame in (("spikes", r.spikes), ("presentations", r.presentations)):
        arrays[f"{name}_columns"] = np.array([str(c) for c in frame.columns])
        arrays.update({f"{name}__{c}": frame[c].to_numpy() for c in frame.columns})
    store.save(stage, part.index, **arrays)


def kept_chunk(store: rundir.PartStore, stage: str, k: int) -> ChunkPart | None:
    """Chunk ``k`` of ``stage`` as :func:`keep_chunk` kept it, or None."""
    arrays = store.kept(stage, k)
    if arrays is None:
        return None
    frames = {name: pd.DataFrame({c: arrays[f"{name}__{c}"] for c in arrays[f"{name}_columns"].tolist()})
              for name in ("spikes", "presentations")}
    return ChunkPart(int(k), PassRecord(arrays["counts"], frames["spikes"], frames["presentations"]),
                     float(arrays["end_time"]) * second, None)


def kept_chunks(store: rundir.PartStore, n_examples: dict[str, int],
                size: int) -> tuple[dict[str, list[ChunkPart | None]], int]:
    """Every chunk of each stage's ``n_examples`` images (``size`` per chunk) as
    :func:`kept_chunk` reads it (None where it is missing), and the images the kept ones hold."""
    parts = {stage: [kept_chunk(store, stage, k) for k in range(-(-n // size))]
             for stage, n in n_examples.items()}
    return parts, sum(len(p.record.counts) for kept in parts.values() for p in kept if p is not None)


READOUTS = ("vote", "logistic", "online")


@rundir.locked  # one writer per run directory (brainlearn.runlock)
def evaluate(
    run_dir: str | Path,
    assign_examples: int | None = None,
    test_examples: int | None = None,
    progress: bool = True,
    device: str | None = None,
    readouts: tuple[str, ...] = ("vote",),
) -> dict:
    """Label assignment on training images, then accuracy on test images (theta frozen),
    serially in this process.

    Every presentation starts from the rest state and every chunk from the same initial
    state with its own seed (see the module's text), so the sharded evaluation gives exactly
    this result; :func:`~brainlearn.models.diehl_cook.sharded.evaluate_on_workers` (what
    ``brainlearn mnist evaluate`` runs) chooses between the two, every core by default.
    Every chunk is kept as it ends (``RUN/eval_chunks/``, :func:`chunk_store`): called again
    after an interruption, with the same arguments, it runs only the chunks it lacks.

    Parameters
    ----------
    run_dir : path
        A trained run directory.
    assign_examples : int, optional
        Training images used to assign labels (default: all of the data set's training split).
    test_examples : int, optional
        Test images (default: all).
    progress : bool
        Show progress bars.
    device : str, optional
        Override the run's device.
    readouts : tuple of str
        Readouts fitted on the assignment counts and scored on the test counts: ``vote``
        (Diehl & Cook), ``logistic`` (multinomial logistic regression) and ``online`` (the
        delta-rule readout layer, replayed over the recorded counts of the compiled run).

    Returns
    -------
    dict
        The metrics (also merged into ``metrics.json``), with ``eval_resumed_images`` (images
        whose chunks an interrupted call had kept) and ``eval_ms_per_example`` (this call's wall time per
        image it ran, compilation excluded; None when it ran none).
    """
    check_readouts(readouts)
    ev = open_evaluation(run_dir, assign_examples, test_examples, device)
    store = chunk_store(ev)  # chunks an interrupted evaluation kept are not run again
    n = ev.n_examples
    size = ev.config.chunk
    parts, resumed = kept_chunks(store, n, size)
    state = ev.initial_state()
    start = time.perf_counter()
    net, compile_seconds, images_run = None, 0.0, 0
    bar = tqdm(total=sum(n.values()), unit="img", desc="evaluate", disable=not progress,
               dynamic_ncols=True)
    bar.update(resumed)
    try:
        with StopOnSigterm():
            for stage, kept in parts.items():
                for k, part in enumerate(kept):
                    if part is not None:
                        continue
                    if net is None:  # not built when every chunk was kept
                        net = ev.network()
                        compile_seconds = net.compile_seconds
                    part = frozen_chunks(net, ev.images[stage], state, n[stage], stage,
                                         ev.config.seed, [k], bar, span=size)[0]
                    kept[k] = window_part(part, stage, ev.params)
                    keep_chunk(store, stage, kept[k])
                    images_run += len(part.record.counts)
    finally:
        bar.close()
        if net is not None:
            net.close()
    eval_seconds = time.perf_counter() - start
    metrics = finish_evaluation(
        ev, readouts, merge_chunks(parts["assign"]), merge_chunks(parts["test"]),
        eval_seconds=eval_seconds, eval_compile_seconds=compile_seconds,
        eval_ms_per_example=(1000 * (eval_seconds - compile_seconds) / images_run
                             if images_run else None),
        workers=1, eval_resumed_images=resumed,
    )
    store.remove()
    return metrics


def check_readouts(readouts) -> None:
    """Raise if a name in ``readouts`` is not one of :data:`READOUTS`."""
    unknown = [r for r in readouts if r not in READOUTS]
    if unknown:
        raise ValueError(f"unknown readout(s) {unknown}; choose from {READOUTS}")


def _last_starts(presentations: pd.DataFrame) -> np.ndarray:
    """Start of every example's last presentation (NaN for an example never shown)."""
    shown = presentations["example"].to_numpy(np.int64)
    start = presentations["start"].to_numpy(float)
    last = np.full(int(shown.max()) + 1 if len(shown) else 0, np.nan)
    by_start = np.argsort(start, kind="stable")
    last[shown[by_start]] = start[by_start]  # later presentations overwrite earlier ones
    return last


def window_mask(spikes: pd.DataFrame, presentations: pd.DataFrame, t_input: float) -> np.ndarray:
    """Which spikes of a pass its spike counts were taken from.

    An image's counts are those of the input window of its last presentation (an image that
    evoked too few spikes is shown again, and the new presentation replaces the old).

    Parameters
    ----------
    spikes : DataFrame
        The pass's spikes: ``example``, ``t`` (s).
    presentations : DataFrame
        Every presentation shown in the pass: ``example``, ``start`` (s), on the spikes' clock.
    t_input : float
        Length of the input window in seconds.
    """
    if not len(spikes):
        return np.zeros(0, dtype=bool)
    rel = spikes["t"].to_numpy(float) - _last_starts(presentations)[spikes["example"].to_numpy()]
    # the tolerance of present_chunk's counts (spikes and starts lie on the dt grid)
    return (rel > -1e-9) & (rel < t_input - 1e-9)


def window_spikes(spikes: pd.DataFrame, presentations: pd.DataFrame, params) -> pd.DataFrame:
    """The spikes a pass's counts were taken from, timed from the start of their window.

    Returns a DataFrame with ``neuron``, ``t`` (s from the start of the example's last
    presentation, on the ``dt`` grid) and ``example``: per example, the spike trains whose
    counts are the pass's counts (see :func:`window_mask`).
    """
    kept = spikes[window_mask(spikes, presentations, float(params.t_input / second))]
    example = kept["example"].to_numpy(np.int64)
    dt = float(params.dt / second)
    steps = np.round((kept["t"].to_numpy(float) - _last_starts(presentations)[example]) / dt)
    return pd.DataFrame({"neuron": kept["neuron"].to_numpy(np.int64), "t": steps * dt,
                         "example": example})


def finish_evaluation(ev: Evaluation, readouts, assign: PassRecord, test: PassRecord,
                      **extra) -> dict:
    """Fit the readouts on the assignment counts, score them on the test counts and write
    the results (serial and sharded evaluations).

    Writes ``eval_counts.npz``, the test pass's spikes and examples (``spikes.parquet``,
    ``examples.parquet``: each example's start and the duration of its presentations), the
    spikes the counts of both passes were taken from, timed from each example's window
    (``assign_spikes.parquet``, ``test_spikes.parquet``: what the e-prop readout trains and
    is scored on) and ``metrics.json`` (with ``extra``, ``cells_fire_at_rest``: the cells
    whose frozen theta lies below :func:`~brainlearn.models.diehl_cook.model.rest_theta`, and
    the cells above rest that answer no digit, :func:`unselective_cells`).
    ``assign.spikes`` may hold only the spikes :func:`window_mask` keeps.
    """
    run_dir, config, params = ev.run_dir, ev.config, ev.params
    assign_labels, test_labels = ev.labels["assign"], ev.labels["test"]
    vote = VoteReadout().fit(assign.counts, assign_labels)
    predictions = vote.predict(test.counts)
    accuracy = float((predictions == test_labels).mean())
    save_npz(run_dir / "eval_counts.npz", assign_counts=assign.counts.astype(np.int32),
             assign_labels=assign_labels, test_counts=test.counts.astype(np.int32),
             test_labels=test_labels, assignments=vote.assignments_, predictions=predictions)
    examples = rundir.examples_from_presentations(
        test.presentations["example"], test.presentations["start"],
        float(params.period / second), labels=test_labels)
    rundir.write_spikes(run_dir, test.spikes["neuron"], test.spikes["t"], population="exc",
                        n_neurons=config.neurons, example=test.spikes["example"],
                        examples=examples)
    for stage, record in (("assign", assign), ("test", test)):
        window = window_spikes(record.spikes, record.presentations, params)
        rundir.write_window_spikes(run_dir, stage, window["neuron"], window["t"],
                                   window["example"], ev.labels[stage], population="exc",
                                   n_neurons=config.neurons,
                                   window=float(params.t_input / second))
    metrics = rundir.read_metrics(run_dir)
    metrics.update(readout_scores(readouts, assign.counts, assign_labels, test.counts,
                                  test_labels, config.seed))
    # cells whose frozen threshold lies below rest: each fires at every image's start
    at_rest = np.asarray(ev.weights["theta"]) * 1e3 < rest_theta(params)
    metrics["cells_fire_at_rest"] = int(np.count_nonzero(at_rest))
    metrics.update(unselective_cells(test.counts, at_rest))
    metrics.update(
        neurons=config.neurons, assign_examples=len(assign_labels),
        test_examples=len(test_labels), accuracy=accuracy, accuracy_vote=accuracy,
        scored_on="validation" if int(config.validation) else "test",
        test_spikes_per_example=float(test.counts.sum(axis=1).mean()),
        frozen_start=ev.start, **extra,
    )
    rundir.write_json(run_dir / rundir.METRICS, metrics)
    return metrics


def unselective_cells(counts: np.ndarray, at_rest: np.ndarray) -> dict:
    """The cells above rest that fire in more than half of the scored images, and the busiest.

    No digit class holds half of MNIST's images, so a cell that answers one class (or a few)
    fires in fewer than half of them; one that fires in more answers none. Below rest a cell
    fires at the start of every image (``cells_fire_at_rest``); a threshold at or just above
    rest does much the same, and such a cell's inhibition can silence the layer on the images
    where it fires often (the N=6400 row's pass 8: one cell 1.5 mV above rest fired in 89 % of
    the test images and cost the vote 6 points).

    Parameters
    ----------
    counts : ndarray
        Spike counts ``(n_images, n_cells)`` of the scored images.
    at_rest : ndarray of bool
        The cells whose frozen threshold lies below rest (``n_cells``).

    Returns
    -------
    dict
        ``unselective_cells`` (how many cells above rest fire in more than half of the
        images), ``busiest_cell`` (the cell above rest with the most spikes; of all cells
        when none lies above rest), ``busiest_cell_images`` (the fraction of the images in
        which it fires) and ``busiest_cell_spike_share`` (its fraction of all the spikes).
    """
    counts, above = np.asarray(counts), ~np.asarray(at_rest, dtype=bool)
    fires = (counts > 0).mean(axis=0) if len(counts) else np.zeros(counts.shape[1])
    per_cell = counts.sum(axis=0)
    busiest = int(np.argmax(np.where(above, per_cell, -1) if above.any() else per_cell))
    return {"unselective_cells": int(np.count_nonzero((fires > 0.5) & above)),
            "busiest_cell": busiest, "busiest_cell_images": float(fires[busiest]),
            "busiest_cell_spike_share": float(per_cell[busiest] / max(per_cell.sum(), 1))}


#: passes of the online readout over the assignment counts
ONLINE_EPOCHS = 3


def readout_scores(readouts, train_counts, train_labels, test_counts, test_labels,
                   seed: int) -> dict:
    """Fit each named readout on training counts and score it on test counts.

    Parameters
    ----------
    readouts : iterable of str
        Names from :data:`READOUTS`: ``vote`` (Diehl & Cook's label assignment),
        ``logistic`` (:class:`~brainlearn.readout.LogisticReadout`), ``online``
        (:class:`~brainlearn.readout.OnlineReadout`, the delta rule, ``ONLINE_EPOCHS`` passes).
    train_counts, test_counts : numpy.ndarray
        Spike counts ``(examples, cells)``.
    train_labels, test_labels : numpy.ndarray
        Digit labels.
    seed : int
        Random state of the fitted readouts.

    Returns
    -------
    dict
        ``accuracy_<name>`` for each readout, a fraction.
    """
    from brainlearn.readout import LogisticReadout, OnlineReadout

    scores = {}
    for name in readouts:
        if name == "logistic":
            model = LogisticReadout(random_state=seed).fit(train_counts, train_labels)
        elif name == "online":
            # schedule chosen on a 50k/10k split of the N=400 run's training counts (not the
            # test set): the rate halves after one pass, three passes
            model = OnlineReadout(lr=0.5, lr_decay=float(len(train_counts)),
                                  epochs=ONLINE_EPOCHS, random_state=seed)
            model.fit(train_counts, train_labels)
        else:
            model = VoteReadout().fit(train_counts, train_labels)
        scores[f"accuracy_{name}"] = model.score(test_counts, test_labels)
    return scores
