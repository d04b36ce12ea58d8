"""Sharded evaluation of a Diehl & Cook run on Dask: assignment and test images split by chunk.

Every chunk of the evaluation starts from the same initial state with a seed derived from the
run seed, the stage and the chunk index, and every presentation from the rest state (see
``diehl_cook.evaluation``), so a shard is a contiguous range of whole chunks, run on any
worker: the merged counts, the label assignment, the predictions and the accuracy equal the
serial ``evaluate(run_dir, ..., workers=1)`` exactly, for any number of workers.
:func:`evaluate_on_workers` (what ``brainlearn mnist evaluate`` and ``reproduce`` run) chooses
between the serial and the sharded evaluation: every core for a large evaluation by default.

It is built from the same public pieces as the serial evaluation
(``diehl_cook.evaluation.open_evaluation``, ``Evaluation.network``, ``frozen_chunks``,
``chunk_store``, ``merge_chunks``, ``finish_evaluation``). Each worker process opens the
evaluation (config, weights, images) and builds the frozen network once in its own directory
(``RUN_DIR/build_eval_wNAME``), and reuses both for all of its shards, of both stages. Each
worker keeps every chunk it finishes in ``RUN_DIR/eval_chunks/`` (``keep_chunk``), so an
interrupted evaluation, serial or sharded, runs only the chunks it lacks when started again.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from brainlearn import rundir

__all__ = ["evaluate_sharded", "evaluate_on_workers", "plan_shards"]

#: per worker process: the evaluation and frozen network last opened (reused across shards)
_WORKER: dict = {}


def plan_shards(n_chunks: dict[str, int], n_shards: int) -> list[tuple[str, int, int]]:
    """Split the chunks of each stage into contiguous shards ``(stage, first, stop)``.

    ``n_shards`` is shared among the stages in proportion to their chunks (at least one each,
    never more shards than chunks).
    """
    total = sum(n_chunks.values())
    shards = []
    for stage, n in n_chunks.items():
        if n == 0:
            continue
        k = min(n, max(1, round(n_shards * n / total)))
        edges = np.linspace(0, n, k + 1).round().astype(int)
        shards += [(stage, int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    return shards


def _worker_network(run_dir: Path, device: str | None):
    """The worker's evaluation of ``run_dir`` and its frozen network (opened and built on
    first use, then reused while the run's weights stay the same)."""
    from brainlearn.models.diehl_cook.evaluation import open_evaluation
    from brainlearn.sweep import worker_name

    key = (str(run_dir.resolve()), device, (run_dir / "weights.npz").stat().st_mtime_ns,
           (run_dir / "config.json").stat().st_mtime_ns)
    if _WORKER.get("key") != key:
        old = _WORKER.pop("network", None)
        if old is not None:
            old.close()
        ev = open_evaluation(run_dir, device=device)
        _WORKER.update(key=key, evaluation=ev,
                       network=ev.network(build_name=f"build_eval_{worker_name()}"))
        _WORKER["compile_seconds"] = _WORKER["network"].compile_seconds
    else:
        _WORKER["compile_seconds"] = 0.0
    return _WORKER["evaluation"], _WORKER["network"]


def _run_shard(run_dir: str, device: str | None, stage: str, chunks: list[int],
               n_examples: int, store) -> dict:
    """Worker side: the chunks ``chunks`` of ``stage``, each kept in ``store``
    (:func:`~brainlearn.models.diehl_cook.evaluation.keep_chunk`) as soon as it ends; returns
    their parts.

    The assignment pass keeps only the spikes its counts were taken from (the readouts'
    spike trains, :func:`~brainlearn.models.diehl_cook.evaluation.window_part`), the test pass all.
    """
    from brainlearn.sweep import signals_from_any_thread, worker_name

    start = time.perf_counter()
    parts = []
    with signals_from_any_thread():  # Brian2's import installs a signal handler
        from brainlearn.models.diehl_cook.evaluation import frozen_chunks, keep_chunk, window_part

        ev, net = _worker_network(Path(run_dir), device)
        state = ev.initial_state()
        for k in chunks:
            part = frozen_chunks(net, ev.images[stage], state, n_examples, stage,
                                 ev.config.seed, [k], span=ev.config.chunk)[0]
            part = window_part(part, stage, ev.params)
            keep_chunk(store, stage, part)
            parts.append(part)
    return {"stage": stage, "parts": parts, "worker": worker_name(),
            "compile_seconds": _WORKER["compile_seconds"], "seconds": time.perf_counter() - start}


@rundir.locked  # one writer per run directory (brainlearn.runlock)
def evaluate_sharded(
    run_dir: str | Path,
    assign_examples: int | None = None,
    test_examples: int | None = None,
    *,
    workers: int | None = None,
    client=None,
    shards_per_worker: int = 2,
    progress: bool = True,
    device: str | None = None,
    readouts: tuple[str, ...] = ("vote",),
) -> dict:
    """Evaluate a trained run with its chunks spread over Dask workers.

    Parameters
    ----------
    run_dir : path
        A trained run directory.
    assign_examples, test_examples : int, optional
        As in :func:`~brainlearn.models.diehl_cook.evaluation.evaluate` (default: all).
    workers : int, optional
        Size of the LocalCluster started when no ``client`` is given (default: cores).
    client : dask.distributed.Client or str, optional
        An existing cluster (a Client or a scheduler address ``tcp://HOST:PORT``); the run
        directory must be on a file system its workers share.
    shards_per_worker : int
        Shards per worker (more balance the load, each costs one result transfer).
    progress : bool
        Show a progress bar (images done).
    device : str, optional
        Override the run's device.
    readouts : tuple of str
        Readouts fitted on the assignment counts and scored on the test counts (as in
        ``evaluate``; ``vote`` always gives ``accuracy``).

    Returns
    -------
    dict
        The metrics, as ``evaluate`` writes them (``metrics.json``, ``eval_counts.npz``,
        ``spikes.parquet``), plus ``shards`` (submitted), ``workers`` (the cluster's; no
        cluster starts, 0, when every chunk was kept) and ``worker_names`` (those that ran a
        shard). Chunks an interrupted evaluation kept (``eval_resumed_images``) are not run.
    """
    from tqdm.auto import tqdm

    from brainlearn.models.diehl_cook.evaluation import (
        check_readouts,
        chunk_store,
        finish_evaluation,
        kept_chunks,
        merge_chunks,
        open_evaluation,
    )
    from brainlearn.sweep import close_client, connect_client

    if int(shards_per_worker) < 1:
        raise ValueError(f"shards_per_worker must be positive, got {shards_per_worker}")
    check_readouts(readouts)
    ev = open_evaluation(run_dir, assign_examples, test_examples, device, images=False)
    n_examples = ev.n_examples
    size = ev.config.chunk
    n_chunks = {stage: -(-n // size) for stage, n in n_examples.items()}
    store = chunk_store(ev)  # chunks an interrupted evaluation kept are not run again
    parts, resumed = kept_chunks(store, n_examples, size)
    missing = sum(n_examples.values()) - resumed

    start = time.perf_counter()
    results, n_workers, submitted = [], 0, 0
    if missing:
        client, owned = connect_client(client, workers)
        try:
            n_workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
            futures = {}
            for stage, first, stop in plan_shards(n_chunks, n_workers * int(shards_per_worker)):
                chunks = [k for k in range(first, stop) if parts[stage][k] is None]
                if chunks:
                    fut = client.submit(_run_shard, str(run_dir), device, stage, chunks,
                                        n_examples[stage], store, pure=False)
                    futures[fut] = sum(min((k + 1) * size, n_examples[stage]) - k * size
                                       for k in chunks)
            submitted = len(futures)
            from dask.distributed import as_completed

            with tqdm(total=sum(n_examples.values()), initial=resumed,
                      unit="img", desc="evaluate", disable=not progress,
                      dynamic_ncols=True) as bar:
                for fut in as_completed(list(futures)):
                    results.append(fut.result())  # a failed shard raises here with its traceback
                    bar.update(futures[fut])
        finally:
            close_client(client, owned)
    eval_seconds = time.perf_counter() - start
    for r in results:
        for p in r["parts"]:
            parts[r["stage"]][p.index] = p

    compile_seconds = max((r["compile_seconds"] for r in results), default=0.0)
    metrics = finish_evaluation(
        ev, readouts, merge_chunks(parts["assign"]), merge_chunks(parts["test"]),
        eval_seconds=eval_seconds,
        eval_compile_seconds=compile_seconds,
        # wall time, the cluster's start included, the workers' compilation (in parallel) not
        eval_ms_per_example=(1000 * (eval_seconds - compile_seconds) / missing if missing
                             else None),
        shards=submitted, workers=n_workers, eval_resumed_images=resumed,
        worker_names=sorted({r["worker"] for r in results}),
    )
    store.remove()
    return metrics


@rundir.locked  # one writer per run directory (brainlearn.runlock)
def evaluate_on_workers(
    run_dir: str | Path,
    assign_examples: int | None = None,
    test_examples: int | None = None,
    *,
    workers: int | None = None,
    progress: bool = True,
    device: str | None = None,
    readouts: tuple[str, ...] = ("vote",),
) -> dict:
    """Evaluate a trained run on ``workers`` processes: the serial
    :func:`~brainlearn.models.diehl_cook.evaluation.evaluate` for one, :func:`evaluate_sharded`
    on a local Dask cluster for more; the result is the same either way.

    ``workers`` defaults to
    :func:`~brainlearn.models.diehl_cook.evaluation.evaluation_workers`: every core for an
    evaluation of ``PARALLEL_MIN_IMAGES`` (5,000) images or more, else one. The other
    parameters are those of ``evaluate``. Returns the metrics (``workers`` among them).
    """
    from brainlearn.models.diehl_cook.evaluation import (
        check_readouts,
        evaluate,
        evaluation_workers,
        open_evaluation,
    )

    check_readouts(readouts)
    ev = open_evaluation(run_dir, assign_examples, test_examples, device, images=False)
    n = evaluation_workers(workers, sum(ev.n_examples.values()), ev.config.device)
    if n == 1:
        return evaluate(run_dir, assign_examples, test_examples, progress=progress,
                        device=device, readouts=readouts)
    return evaluate_sharded(run_dir, assign_examples, test_examples, workers=n,
                            progress=progress, device=device, readouts=readouts)
