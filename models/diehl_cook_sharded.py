"""Sharded evaluation of a Diehl & Cook run on Dask: assignment and test images split by chunk.

The evaluation's chunks are made independent (``reset_state_per_chunk``: every chunk starts
from the rest state with a seed derived from the run seed, the stage and the chunk index, see
``diehl_cook_run.frozen_chunks``), so a shard is a contiguous range of whole chunks, run on
any worker: the merged counts, the label assignment, the predictions and the accuracy equal
``evaluate(run_dir, ..., reset_state_per_chunk=True)`` exactly, for any number of workers.

Each worker process builds the frozen network once in its own directory
(``RUN_DIR/build_eval_wNAME``) and reuses the compiled binary for all of its shards, of both
stages; the training and test images are read once per worker.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

__all__ = ["evaluate_sharded", "plan_shards"]

#: per worker process: the frozen network last built (reused across shards) and images
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


def _worker_sim(run_dir: Path, config: dict, params, weights: dict):
    """The worker's frozen network for ``run_dir`` (built on first use, then reused)."""
    from brainlearn.models.diehl_cook_run import make_sim
    from brainlearn.sweep import worker_name

    key = (str(run_dir.resolve()), config["device"], config.get("threads"), config["chunk"],
           (run_dir / "weights.npz").stat().st_mtime_ns)
    if _WORKER.get("key") != key:
        old = _WORKER.pop("sim", None)
        if old is not None:
            old.close()
        _WORKER["sim"] = make_sim(config, params, run_dir, False, weights["delays"],
                                   build_name=f"build_eval_{worker_name()}")
        _WORKER["key"] = key
        _WORKER["compile_seconds"] = _WORKER["sim"].compile_seconds
    else:
        _WORKER["compile_seconds"] = 0.0
    return _WORKER["sim"]


def _worker_images(data: str, split: str) -> np.ndarray:
    from brainlearn.models.diehl_cook_run import load_images

    key = ("images", data, split)
    if key not in _WORKER:
        _WORKER[key] = load_images(data, split)[0]
    return _WORKER[key]


def _run_shard(run_dir: str, device: str | None, stage: str, first: int, stop: int,
               n_examples: int, keep_spikes: bool) -> dict:
    """Worker side: chunks ``first..stop-1`` of ``stage``; returns their parts."""
    from brainlearn.sweep import signals_from_any_thread, worker_name

    run_dir = Path(run_dir)
    start = time.perf_counter()
    with signals_from_any_thread():  # Brian2's import installs a signal handler
        from brian2 import second

        from brainlearn import rundir
        from brainlearn.models.diehl_cook_run import (
            frozen_chunks,
            frozen_state,
            run_params,
            window_mask,
        )

        config = rundir.read_config(run_dir, required=True)
        if device is not None:
            config = {**config, "device": device}
        params = run_params(config)
        weights = rundir.read_weights(run_dir)
        sim = _worker_sim(run_dir, config, params, weights)
        images = _worker_images(config["data"], "train" if stage == "assign" else "test")
        parts = frozen_chunks(sim, params, images, frozen_state(config, params, weights),
                               n_examples, stage, config["seed"], range(first, stop))
    if not keep_spikes:  # only those the counts were taken from (the readouts' spike trains)
        t_input = float(params.t_input / second)
        for p in parts:
            p["spikes"] = p["spikes"][window_mask(p["spikes"], p["presentations"], t_input)]
    return {"stage": stage, "parts": parts, "worker": worker_name(),
            "compile_seconds": _WORKER["compile_seconds"], "seconds": time.perf_counter() - start}


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
        As in :func:`~brainlearn.models.diehl_cook_run.evaluate` (default: all).
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
        ``spikes.parquet``), plus ``shards`` and ``workers``.
    """
    from tqdm.auto import tqdm

    from brainlearn import rundir
    from brainlearn.models.diehl_cook_run import finish_evaluation, load_images, merge_chunks
    from brainlearn.sweep import close_client, connect_client

    run_dir = Path(run_dir)
    config = rundir.read_config(run_dir, required=True)
    if not (run_dir / "weights.npz").exists():
        raise FileNotFoundError(f"{run_dir} has no trained weights (weights.npz): train first")
    if int(shards_per_worker) < 1:
        raise ValueError(f"shards_per_worker must be positive, got {shards_per_worker}")
    train_labels = load_images(config["data"], "train")[1]
    test_labels = load_images(config["data"], "test")[1]
    n_assign = len(train_labels) if assign_examples is None else min(int(assign_examples), len(train_labels))
    n_test = len(test_labels) if test_examples is None else min(int(test_examples), len(test_labels))
    if n_assign < 1 or n_test < 1:
        raise ValueError("assign and test examples must be positive")
    size = int(config["chunk"])
    n_chunks = {"assign": -(-n_assign // size), "test": -(-n_test // size)}
    n_examples = {"assign": n_assign, "test": n_test}

    start = time.perf_counter()
    client, owned = connect_client(client, workers)
    try:
        n_workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
        shards = plan_shards(n_chunks, n_workers * int(shards_per_worker))
        futures = {}
        for stage, first, stop in shards:
            fut = client.submit(_run_shard, str(run_dir), device, stage, first, stop,
                                n_examples[stage], stage == "test", pure=False)
            futures[fut] = min(stop * size, n_examples[stage]) - first * size
        from dask.distributed import as_completed

        results = []
        with tqdm(total=n_assign + n_test, unit="img", desc="evaluate", disable=not progress,
                  dynamic_ncols=True) as bar:
            for fut in as_completed(list(futures)):
                results.append(fut.result())  # a failed shard raises here with its traceback
                bar.update(futures[fut])
    finally:
        close_client(client, owned)
    eval_seconds = time.perf_counter() - start

    merged = {}
    for stage in ("assign", "test"):
        parts = [p for r in results if r["stage"] == stage for p in r["parts"]]
        merged[stage] = merge_chunks(parts)
    assign_counts, assign_spikes, assign_shown = merged["assign"]
    test_counts, test_spikes, test_shown = merged["test"]
    return finish_evaluation(
        run_dir, config, readouts, assign_counts, train_labels[:n_assign], test_counts,
        test_labels[:n_test], test_spikes, test_shown,
        assign_spikes=assign_spikes, assign_presentations=assign_shown,
        eval_seconds=eval_seconds,
        eval_compile_seconds=max((r["compile_seconds"] for r in results), default=0.0),
        eval_ms_per_example=1000 * eval_seconds / (n_assign + n_test),
        reset_state_per_chunk=True, shards=len(shards),
        workers=sorted({r["worker"] for r in results}),
    )


