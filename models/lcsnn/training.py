"""Training and evaluation of LC-SNN run directories.

A run directory holds ``config.json`` (``"model": "lcsnn"``), ``checkpoint.npz`` (weights,
thresholds and position, rewritten after every chunk: a killed run resumes from its last
chunk with the same command), ``weights.npz`` when trained, ``metrics.json``, the record of
the training blocks when trained on MNIST (``train_spikes/``, ``blocks.csv``,
``best_block.npz``: the authors' running readouts and best block,
:mod:`~brainlearn.models.lcsnn.blocks`) and, once
evaluated, ``evaluation.npz`` (spike counts and spikes of the assignment and test images,
from which every readout is refitted without running the network again). While an evaluation
is under way, ``evaluation_parts/`` keeps its finished chunks (a stopped evaluation resumes
from them, :mod:`~brainlearn.models.lcsnn.evaluation`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from brainlearn import rundir
from brainlearn.atomic import save_npz
from brainlearn.models.lcsnn.blocks import (
    BEST,
    BEST_RUN,
    TRAIN_SPIKES,
    BlockRecord,
    replay,
    score_test,
)
from brainlearn.models.lcsnn.model import LCSNNParams, crop_images
from brainlearn.models.lcsnn.readouts import READOUTS
from brainlearn.models.lcsnn.runs import (
    DEFAULT_EXAMPLES,
    EVALUATION,
    TEST_EXAMPLES,
    fit_readout,
    load_images,
    load_params,
    score_readouts,
    trained_state,
)

__all__ = ["NAME", "KIND", "train", "evaluate", "evaluate_authors", "load_params", "load_images",
           "score_readouts", "CHECKPOINT", "EVALUATION", "DEFAULT_EXAMPLES"]

NAME = "lcsnn"
KIND = "lcsnn"
CHECKPOINT = "checkpoint.npz"
_CONFIG_KEYS = ("n_filters", "kernel", "stride", "examples", "epochs", "data", "seed", "params")


def _config(n_filters: int, data: str, seed: int, examples: int | None, epochs: int,
            kernel: int | None, stride: int | None, device: str, threads: int | None,
            params: dict | None) -> dict:
    config = {"model": NAME, "n_filters": int(n_filters), "data": data, "seed": int(seed),
              "examples": int(examples or DEFAULT_EXAMPLES.get(data, 0)), "epochs": int(epochs),
              "device": device, "threads": threads, "params": dict(params or {})}
    probe = load_params({**config, **({"kernel": kernel} if kernel else {}),
                         **({"stride": stride} if stride else {})})
    config.update(kernel=probe.kernel, stride=probe.stride, neurons=probe.n_neurons,
                  synapses=probe.n_synapses)
    if config["epochs"] < 1 or config["examples"] < 1:
        raise ValueError(f"examples and epochs must be positive, got {examples}, {epochs}")
    return config


def train(run_dir: str | Path, *, n_filters: int = 25, data: str = "full", seed: int = 0,
          examples: int | None = None, epochs: int = 1, kernel: int | None = None,
          stride: int | None = None, device: str = "cpp_standalone", threads: int | None = None,
          params: dict | None = None, images: np.ndarray | None = None,
          progress: bool = True) -> dict:
    """Train (or resume) an LC-SNN run directory, one pass over ``examples`` images per epoch.

    Parameters
    ----------
    run_dir : path
        The run directory (created; an unfinished one with the same configuration resumes).
    n_filters : int
        Filters per location (cells: 9 per filter).
    data : str
        ``full`` or ``embedded`` MNIST, or ``arrays`` with ``images`` given (the estimator).
    seed : int
        Seed of the initial weights and of every chunk's spike trains.
    examples, epochs : int
        Training images per pass (default all: 60,000 / 1,000) and passes.
    kernel, stride : int, optional
        Patch size and stride (default: the paper's for ``n_filters``, see ``PAPER_SIZES``).
    device, threads : str, int
        ``cpp_standalone`` (default) or ``runtime``; OpenMP threads.
    params : dict, optional
        Other :class:`LCSNNParams` fields (quantities as strings, ``"100 ms"``).
    images : ndarray, optional
        Training images for ``data="arrays"``.
    progress : bool
        One line per chunk on stderr.

    Returns
    -------
    dict
        The run's metrics.
    """
    from brainlearn.models.lcsnn.network import chunk_seed, compile_network, present_chunk

    run_dir = Path(run_dir)
    config = _config(n_filters, data if images is None else "arrays", seed, examples or
                     (len(images) if images is not None else None), epochs, kernel, stride,
                     device, threads, params)
    p = load_params(config)
    labels = None  # the block record needs labels: MNIST runs, not the estimator's arrays
    if images is None:
        images, labels = load_images(data, "train", config["examples"])
    with rundir.new_run(run_dir, keep=(CHECKPOINT,)) as run:
        old = rundir.read_config(run)
        if old and any(old.get(k) != config.get(k) for k in _CONFIG_KEYS):
            raise ValueError(f"{run_dir} holds a run of another configuration; "
                             "give a new directory")
        rundir.write_config(run, config, kind=KIND)
        state = _start_state(run, p, config["seed"])
        record = (None if labels is None else
                  BlockRecord(run, labels, p.n_neurons, int(state["position"])))
        total = config["examples"] * config["epochs"]
        pixels = crop_images(images, p.crop)
        chunk = p.decay_every
        sim = None
        try:
            while state["position"] < total:
                if sim is None:
                    sim = compile_network(p, chunk, run, device=device,
                                          threads=threads)
                    state["compile_seconds"] += sim.compile_seconds
                pos = int(state["position"])
                idx = np.arange(pos, min(pos + chunk, total)) % len(pixels)
                start = time.perf_counter()
                out = present_chunk(sim, p, pixels[idx], state["weights"], state["theta"],
                                    seed=chunk_seed(config["seed"], pos // chunk),
                                    learning_rate=p.learning_rate(pos))
                if record is not None:  # before the checkpoint: a resume reads what it names
                    record.add(pos, out.spike_example, out.spike_step, out.spike_neuron,
                               out.counts, out.weights, out.theta)
                state.update(weights=out.weights, theta=out.theta, position=pos + len(idx))
                state["train_seconds"] += time.perf_counter() - start
                state["shown"] += out.shown
                state["capped"] += out.capped
                state["spikes"] += int(out.counts.sum())
                save_npz(run / CHECKPOINT, **state)
                if progress:
                    ms = 1000 * state["train_seconds"] / state["position"]
                    print(f"lcsnn: {state['position']}/{total} images, {ms:.1f} ms/image",
                          file=sys.stderr)
        finally:
            if sim is not None:
                sim.close()
        rundir.write_weights(run, state["weights"], theta=state["theta"])
        blocks = record.finish() if record is not None else {}
        if config["data"] != "arrays":
            _plots(run)
        return rundir.update_metrics(run, {**blocks,
            "neurons": p.n_neurons, "synapses": p.n_synapses, "filters": p.n_filters,
            "train_examples": int(state["position"]),
            "train_seconds": float(state["train_seconds"]),
            "compile_seconds": float(state["compile_seconds"]),
            "ms_per_example": 1000 * float(state["train_seconds"]) / max(state["position"], 1),
            "presentations": int(state["shown"]), "capped_images": int(state["capped"]),
            "train_spikes_per_example": float(state["spikes"]) / max(state["position"], 1),
        })


def _start_state(run: Path, p: LCSNNParams, seed: int) -> dict:
    """The checkpoint to resume from, or the initial state."""
    path = run / CHECKPOINT
    if path.exists():
        with np.load(path) as f:
            state = {k: f[k] for k in f.files}
        return {k: (v if v.ndim else v.item()) for k, v in state.items()}
    rng = np.random.default_rng(seed)
    return {"weights": p.initial_weights(rng), "theta": np.zeros(p.n_neurons),
            "position": 0, "train_seconds": 0.0, "compile_seconds": 0.0, "shown": 0,
            "capped": 0, "spikes": 0}


@rundir.locked  # one writer per run directory (brainlearn.runlock)
def evaluate(run_dir: str | Path, *, assign_examples: int | None = None,
             test_examples: int | None = None, readouts: tuple[str, ...] = READOUTS,
             device: str | None = None, workers: int = 1, network: str = "auto",
             progress: bool = True) -> dict:
    """Show the frozen network training images (labels for the readouts) and the test set.

    ``assign_examples`` training images (default: all, 60,000 of full MNIST or the 1,000
    embedded, as the paper's n-gram scores count the whole training pass) fit the readouts;
    ``test_examples`` (default: all) score them. The spike counts and spikes of both go to
    ``evaluation.npz``; accuracies to ``metrics.json`` (``accuracy``: the vote,
    ``accuracy_<readout>`` each).

    The images run in chunks of ``decay_every`` (250), each from the trained state with its
    own seed (:mod:`~brainlearn.models.lcsnn.evaluation`): every finished chunk is kept in
    ``RUN_DIR/evaluation_parts`` at once, so the same call after an interruption runs only
    the missing chunks, and ``workers`` processes (a local Dask cluster, each building the
    network in ``RUN_DIR/build_eval_wNAME``) share them. The result is the same either way,
    bit for bit. Other image counts, or other weights, start over.

    Parameters
    ----------
    run_dir : path
        A trained run directory.
    assign_examples, test_examples : int, optional
        Training images the readouts are fitted on and test images (default: all).
    readouts : tuple of str
        Readouts fitted and scored (:data:`~brainlearn.models.lcsnn.readouts.READOUTS`).
    device : str, optional
        ``cpp_standalone`` or ``runtime`` (default: the run's).
    workers : int
        Processes that show the chunks (1: this process, the default).
    network : str
        ``frozen``: the network built without plasticity (in ``RUN_DIR/build_eval``; fixed
        weights and thresholds, the same spikes as the training binary, faster);
        ``training``: the training binary, frozen by its run values (compiled already);
        ``auto`` (default): the frozen network from 5,000 images on.
    progress : bool
        One line per chunk on stderr.

    Returns
    -------
    dict
        The run's metrics, with ``eval_workers``, ``eval_resumed_images`` (images whose chunks
        an earlier, interrupted call had kept) and ``eval_ms_per_example`` (this call's wall
        time, compilation included, per image it showed).
    """
    from brainlearn.models.lcsnn.evaluation import (
        NETWORKS,
        PARTS,
        EvaluationPlan,
        PartStore,
        check_workers,
        merge_stage,
        run_on_workers,
        run_serial,
        use_frozen,
    )

    workers = check_workers(workers)
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}")
    run = rundir.open_run(run_dir)
    config, p, weights, theta = trained_state(run)
    data = config["data"]
    if data not in DEFAULT_EXAMPLES:
        raise ValueError(f"{run_dir} was fitted on arrays of its own: score it with "
                         "LCSNNClassifier.load(RUN).score(X, y)")
    unknown = [r for r in readouts if r not in READOUTS]
    if unknown:
        raise ValueError(f"unknown readout {unknown[0]!r}; choose from {', '.join(READOUTS)}")
    _, y_assign = load_images(data, "train", assign_examples or DEFAULT_EXAMPLES[data])
    _, y_test = load_images(data, "test", test_examples or TEST_EXAMPLES[data])
    plan = EvaluationPlan(run, data, {"assign": len(y_assign), "test": len(y_test)},
                          p.decay_every, int(config["seed"]),
                          device or config.get("device", "cpp_standalone"),
                          config.get("threads"),
                          use_frozen(network, len(y_assign) + len(y_test)))
    store = PartStore.open(run / PARTS, plan.key())
    todo = [task for task in plan.tasks() if not store.has(*task)]
    start = time.perf_counter()
    if todo and workers > 1:
        run_on_workers(plan, store, todo, workers, progress)
    elif todo:
        run_serial(plan, store, todo, progress)
    eval_seconds = time.perf_counter() - start
    shown = sum(plan.chunk_images(*task).stop - plan.chunk_images(*task).start for task in todo)
    arrays, counts = {}, {}
    for stage, labels in (("assign", y_assign), ("test", y_test)):
        out = merge_stage(store, plan, stage, weights, theta)
        counts[stage] = out.counts
        arrays.update({f"{stage}_counts": out.counts, f"{stage}_labels": labels,
                       f"{stage}_spike_example": out.spike_example,
                       f"{stage}_spike_step": out.spike_step,
                       f"{stage}_spike_neuron": out.spike_neuron})
    save_npz(run / EVALUATION, **arrays)
    _plots(run)
    accuracies = score_readouts(arrays, readouts, seed=config["seed"])
    metrics = rundir.update_metrics(run, {
        **{f"accuracy_{k}": v for k, v in accuracies.items()},
        "accuracy": accuracies.get("vote", next(iter(accuracies.values()))),
        "assign_examples": int(len(y_assign)), "test_examples": int(len(y_test)),
        "test_spikes_per_example": float(counts["test"].sum()) / len(y_test),
        "eval_seconds": eval_seconds, "eval_workers": workers,
        "eval_network": "frozen" if plan.frozen else "training",
        "eval_resumed_images": int(len(y_assign) + len(y_test) - shown),
        "eval_ms_per_example": 1000 * eval_seconds / shown if shown else None,
        "ngram_parameters": _ngram_size(arrays) if "ngram" in readouts else None,
    })
    store.remove()
    return metrics


def _plots(run: Path) -> None:
    from brainlearn.models.lcsnn.plots import plot_run

    plot_run(run)


def _ngram_size(arrays: dict) -> int:
    return fit_readout("ngram", arrays).n_parameters


def describe(run_dir: str | Path) -> str:
    """One line: the run's size and where it stands."""
    config = rundir.read_config(run_dir)
    metrics = rundir.read_metrics(run_dir)
    return json.dumps({k: config.get(k) for k in ("n_filters", "kernel", "stride", "seed")}
                      | {k: metrics.get(k) for k in ("train_examples", "accuracy")})


@rundir.locked  # one writer per run directory: the metrics are merged into the run's
def evaluate_authors(run_dir: str | Path, *, test_examples: int | None = None,
                     workers: int = 1, progress: bool = True) -> dict:
    """The authors' test protocol: the best block's network, frozen, on the test set, scored
    with the running readouts of the blocks before it (:mod:`~brainlearn.models.lcsnn.blocks`).

    When the best block is the last one and the run is evaluated on as many test images, the
    run's own test spikes are read. Otherwise the best block's weights and thresholds go to
    ``RUN_DIR/authors/best_block/`` (a run directory of the same configuration), whose
    evaluation (:func:`~brainlearn.models.lcsnn.training.evaluate`, the same frozen network,
    chunks, seeds, resume and ``workers``; its own readouts fitted on one chunk of training
    images only) gives the test spikes. When the run's own
    ``evaluation.npz`` exists, the running readouts of the whole pass also score the final
    network's test spikes (``running_accuracy_<readout>``), which separates the two choices of
    the protocol: which network, and which readouts.

    Parameters
    ----------
    run_dir : path
        A trained LC-SNN run directory with ``best_block.npz`` (every run trained on MNIST
        since the block record was added).
    test_examples : int, optional
        Test images (default: all).
    workers : int
        Processes that share the test images (same result).
    progress : bool
        One line per chunk on stderr.

    Returns
    -------
    dict
        The run's metrics, with ``authors_accuracy_<readout>`` for vote, proportion and
        n-gram, ``authors_block_end`` (images learnt by the chosen network),
        ``authors_network`` (``final``, or where the best block's network was evaluated),
        ``authors_ngram_parameters``, ``authors_test_spikes_per_example`` and, when the run
        is evaluated, ``running_accuracy_<readout>``.
    """
    run = rundir.open_run(run_dir)
    config, p, _, _ = trained_state(run)
    if not (run / BEST).exists() or not (run / TRAIN_SPIKES).is_dir():
        raise ValueError(f"{run_dir} has no record of its training blocks ({BEST}): it was "
                         "trained before brainlearn kept one, or on arrays; train it again")
    with np.load(run / BEST) as f:
        best = {k: f[k] for k in f.files}
    _, labels = load_images(config["data"], "train", config["examples"])
    start = time.perf_counter()
    n_test = int(test_examples or TEST_EXAMPLES[config["data"]])
    # the run's own evaluation holds the test spikes when the best block is the last one
    where = run if _evaluated(run, best, n_test) else run / BEST_RUN
    if not _evaluated(where, best, n_test):  # a second call reads the first's spikes
        where.mkdir(parents=True, exist_ok=True)
        rundir.write_config(where, {**config, "best_block_of": str(run.name),
                                    "best_block_end": int(best["end"])}, kind=config["model"])
        rundir.write_weights(where, best["weights"], theta=best["theta"])
        evaluate(where, assign_examples=p.decay_every, test_examples=n_test,
                 readouts=("vote",), workers=workers, progress=progress)
    readouts, _ = replay(run, labels, p.n_neurons, int(best["start"]))
    out = {"authors_block_end": int(best["end"]),
           "authors_network": "final" if where == run else BEST_RUN,
           "authors_ngram_parameters": readouts.ngram.n_parameters}
    with np.load(where / EVALUATION) as f:
        out.update({f"authors_accuracy_{k}": v for k, v in score_test(readouts, f).items()})
        out["authors_test_spikes_per_example"] = float(f["test_counts"].sum()) / len(
            f["test_labels"])
    if (run / EVALUATION).exists() and rundir.read_metrics(run).get("test_examples") == n_test:
        # the readouts of the whole pass: the same ones, continued from the best block on
        everything, _ = replay(run, labels, p.n_neurons, np.iinfo(np.int64).max,
                               readouts=readouts, since=int(best["start"]))
        with np.load(run / EVALUATION) as f:
            out.update({f"running_accuracy_{k}": v for k, v in score_test(everything, f).items()})
    out["authors_seconds"] = time.perf_counter() - start
    return rundir.update_metrics(run, out)


def _evaluated(sub: Path, best: dict, test_examples: int) -> bool:
    """Whether run directory ``sub`` holds the test spikes of this best block's network."""
    metrics = rundir.read_metrics(sub) if sub.is_dir() else {}
    stored = rundir.read_weights(sub) if "accuracy" in metrics else None
    return (stored is not None and (sub / "evaluation.npz").exists()
            and np.array_equal(stored["weights"], best["weights"])
            and np.array_equal(stored["theta"], best["theta"])
            and metrics.get("test_examples") == test_examples)
