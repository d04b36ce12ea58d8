"""The frozen passes of an LC-SNN evaluation, chunk by chunk: kept as they finish, in this
process or on worker processes.

An evaluation shows the trained network, frozen, the assignment images (training images,
labels for the readouts) and the test images, in chunks of ``decay_every`` images. Chunk
``k`` of a pass starts from the trained weights and thresholds and the rest state, with its
own seed ``chunk_seed(seed, k, stage=1)`` (``seed`` the run's for the assignment images, one
more for the test images), so its output depends on that chunk alone. Two things follow:

* **Resume.** Each finished chunk's spike counts and spikes are written at once, atomically,
  to ``RUN_DIR/evaluation_parts/`` (:class:`brainlearn.rundir.PartStore`); an evaluation that stops (a killed
  process, a session that ends) runs only the missing chunks when it is run again with the
  same arguments. The parts are keyed on the run's weights file, its configuration, the image
  counts, the chunk size, the device and the network (:meth:`EvaluationPlan.key`): anything
  else starts over. The folder is removed once ``evaluation.npz`` and the metrics are written.
* **Workers.** The chunks can run in any order on any process: :func:`run_on_workers` spreads
  them over a local Dask cluster, each worker process building the network once in its own
  folder (``RUN_DIR/build_eval_wNAME``) and writing its chunks to the same parts folder.

Joined in order (:func:`merge_stage`), the parts give exactly what
:func:`~brainlearn.models.lcsnn.network.present_all` gives serially, for any number of
workers and any number of interruptions.
"""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainlearn import rundir
from brainlearn.models.lcsnn.network import (
    BUILD,
    ChunkOutput,
    chunk_seed,
    compile_network,
    present_chunk,
)
from brainlearn.models.lcsnn.runs import load_images, trained_state
from brainlearn.rundir import PartStore

__all__ = ["PARTS", "STAGES", "FROZEN_BUILD", "FROZEN_MIN_IMAGES", "NETWORKS", "EvaluationPlan",
           "PartStore", "check_workers", "use_frozen", "run_serial", "run_on_workers",
           "merge_stage", "part_arrays"]

#: folder of the run directory that keeps the finished chunks of an unfinished evaluation
PARTS = "evaluation_parts"
#: stage -> (MNIST split, offset of its seed from the run's, what the progress lines call it)
STAGES = {"assign": ("train", 0, "assignment images"), "test": ("test", 1, "test images")}
#: build folder of the frozen network in the run directory (serial evaluation)
FROZEN_BUILD = "build_eval"
#: ``network="auto"`` evaluates this many images or more (both passes) with the frozen network
#: (its compilation, a minute or more, pays back), fewer with the training binary (compiled
#: already: the embedded demo's 1,500 images compile nothing again)
FROZEN_MIN_IMAGES = 5_000
#: what ``evaluate(network=...)`` takes
NETWORKS = ("auto", "frozen", "training")


def use_frozen(network: str, n_images: int) -> bool:
    """Whether an evaluation of ``n_images`` images with ``network`` runs the frozen network.

    ``frozen``: the network built without plasticity (fixed weights and thresholds as
    constants; it shows images spike for spike as the training binary does, faster);
    ``training``: the training binary, frozen by its run values; ``auto``: the frozen
    network from :data:`FROZEN_MIN_IMAGES` images on.
    """
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}")
    return network == "frozen" or (network == "auto" and n_images >= FROZEN_MIN_IMAGES)


def check_workers(workers) -> int:
    """``workers`` as a positive ``int`` (one line naming the value otherwise)."""
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a whole number of processes, at least 1, got {workers!r}")
    return int(workers)


@dataclass(frozen=True)
class EvaluationPlan:
    """What an evaluation runs: images per stage, chunk size, seeds and device."""

    run_dir: Path
    data: str
    n_examples: dict  # stage -> images
    chunk: int
    seed: int
    device: str
    threads: int | None = None
    frozen: bool = False  # the network without plasticity, else the training binary frozen

    @property
    def build(self) -> str:
        """The serial evaluation's build folder in the run directory."""
        return FROZEN_BUILD if self.frozen else BUILD

    def chunks(self, stage: str) -> range:
        """Chunk indices of ``stage``."""
        return range(-(-self.n_examples[stage] // self.chunk))

    def tasks(self) -> list[tuple[str, int]]:
        """Every chunk of the evaluation, ``(stage, index)``, assignment images first."""
        return [(stage, k) for stage in STAGES for k in self.chunks(stage)]

    def chunk_images(self, stage: str, k: int) -> slice:
        """The images of chunk ``k`` of ``stage``."""
        return slice(k * self.chunk, min((k + 1) * self.chunk, self.n_examples[stage]))

    def seed_of(self, stage: str, k: int) -> int:
        """The seed of chunk ``k`` of ``stage`` (as :func:`present_all` seeds it)."""
        return chunk_seed(self.seed + STAGES[stage][1], k, stage=1)

    def key(self) -> dict:
        """What the chunks' outputs depend on: the weights file's digest, the run's
        configuration, images per stage, chunk size, device and network."""
        digest = hashlib.sha256()
        with open(self.run_dir / rundir.WEIGHTS, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return {"weights_sha256": digest.hexdigest(), "config": rundir.read_config(self.run_dir),
                "n_examples": dict(self.n_examples), "chunk": int(self.chunk),
                "device": self.device, "frozen": bool(self.frozen)}


def part_arrays(out: ChunkOutput, seconds: float) -> dict[str, np.ndarray]:
    """What :class:`PartStore` keeps of a finished chunk: its counts and spikes (numbered
    within the chunk), images shown, capped images and times."""
    return {"counts": out.counts, "spike_example": out.spike_example,
            "spike_step": out.spike_step, "spike_neuron": out.spike_neuron,
            "shown": np.int64(out.shown), "capped": np.int64(out.capped),
            "wall_seconds": np.float64(out.wall_seconds), "seconds": np.float64(seconds)}


def merge_stage(store: PartStore, plan: EvaluationPlan, stage: str, weights: np.ndarray,
                theta: np.ndarray) -> ChunkOutput:
    """The kept chunks of ``stage`` joined in order, images numbered from 0 over all chunks
    (what :func:`~brainlearn.models.lcsnn.network.present_all` returns)."""
    parts = []
    for k in plan.chunks(stage):
        part = store.load(stage, k)
        part["spike_example"] = part["spike_example"] + plan.chunk_images(stage, k).start
        parts.append(part)
    return ChunkOutput(
        weights=weights, theta=theta, counts=np.concatenate([q["counts"] for q in parts]),
        spike_example=np.concatenate([q["spike_example"] for q in parts]),
        spike_step=np.concatenate([q["spike_step"] for q in parts]),
        spike_neuron=np.concatenate([q["spike_neuron"] for q in parts]),
        shown=sum(int(q["shown"]) for q in parts), capped=sum(int(q["capped"]) for q in parts),
        wall_seconds=sum(float(q["wall_seconds"]) for q in parts),
    )


def _stage_pixels(plan: EvaluationPlan, p, stage: str) -> np.ndarray:
    from brainlearn.models.lcsnn.model import crop_images

    images, _ = load_images(plan.data, STAGES[stage][0], plan.n_examples[stage])
    return crop_images(images, p.crop)


def _run_chunk(sim, plan: EvaluationPlan, store: PartStore, p, weights, theta, pixels,
               stage: str, k: int) -> int:
    """Show chunk ``k`` of ``stage`` and keep it; returns its images."""
    start = time.perf_counter()
    out = present_chunk(sim, p, pixels[plan.chunk_images(stage, k)], weights, theta,
                        seed=plan.seed_of(stage, k))
    store.save(stage, k, **part_arrays(out, time.perf_counter() - start))
    return len(out.counts)


def _report(plan: EvaluationPlan, stage: str, k: int, done: dict, progress: bool) -> None:
    if progress:
        print(f"lcsnn: {STAGES[stage][2]} {plan.chunk_images(stage, k).stop}/"
              f"{plan.n_examples[stage]} ({done['images']} shown)", file=sys.stderr)


def run_serial(plan: EvaluationPlan, store: PartStore, todo: list[tuple[str, int]],
               progress: bool = True) -> float:
    """Run the chunks ``todo`` in this process, one binary (the training binary in
    ``RUN_DIR/build``, the frozen network in ``RUN_DIR/build_eval``); returns its
    compilation's seconds."""
    _, p, weights, theta = trained_state(plan.run_dir)
    pixels = {stage: _stage_pixels(plan, p, stage) for stage in {s for s, _ in todo}}
    done = {"images": 0}
    with compile_network(p, plan.chunk, plan.run_dir, device=plan.device,
                         threads=plan.threads, build=plan.build, frozen=plan.frozen) as sim:
        for stage, k in todo:
            done["images"] += _run_chunk(sim, plan, store, p, weights, theta, pixels[stage],
                                         stage, k)
            _report(plan, stage, k, done, progress)
        return sim.compile_seconds


#: per worker process: the network and images last used (reused while the plan is the same)
_WORKER: dict = {}


def _worker_chunk(plan: EvaluationPlan, stage: str, k: int) -> dict:
    """Worker side: show chunk ``k`` of ``stage`` and keep it in the parts folder."""
    from brainlearn.sweep import signals_from_any_thread, worker_name

    with signals_from_any_thread():  # Brian2's import installs a signal handler
        compile_seconds = 0.0
        if _WORKER.get("plan") != plan:
            old = _WORKER.pop("sim", None)
            if old is not None:
                old.close()
            _WORKER.clear()
            _, p, weights, theta = trained_state(plan.run_dir)
            sim = compile_network(p, plan.chunk, plan.run_dir, device=plan.device,
                                  threads=plan.threads, build=f"build_eval_{worker_name()}",
                                  frozen=plan.frozen)
            compile_seconds = sim.compile_seconds
            _WORKER.update(plan=plan, sim=sim, state=(p, weights, theta), pixels={})
        p, weights, theta = _WORKER["state"]
        pixels = _WORKER["pixels"]
        if stage not in pixels:
            pixels[stage] = _stage_pixels(plan, p, stage)
        images = _run_chunk(_WORKER["sim"], plan, PartStore(plan.run_dir / PARTS), p, weights,
                            theta, pixels[stage], stage, k)
    return {"images": images, "worker": worker_name(), "compile_seconds": compile_seconds}


def run_on_workers(plan: EvaluationPlan, store: PartStore, todo: list[tuple[str, int]],
                   workers: int, progress: bool = True) -> tuple[float, list[str]]:
    """Run the chunks ``todo`` on a local Dask cluster of ``workers`` processes, each chunk
    kept in ``store`` by the worker that ran it; returns the longest compilation's seconds
    and the names of the workers that ran a chunk.

    A failed chunk raises here (with its worker's traceback); the chunks finished by then
    stay kept.
    """
    from dask.distributed import as_completed

    from brainlearn.sweep import close_client, connect_client

    if store.folder != plan.run_dir / PARTS:
        raise ValueError(f"workers keep their chunks in {plan.run_dir / PARTS}, "
                         f"not {store.folder}")
    client, owned = connect_client(None, workers)
    try:
        futures = {client.submit(_worker_chunk, plan, stage, k, pure=False): (stage, k)
                   for stage, k in todo}
        done, compile_seconds, names = {"images": 0}, 0.0, set()
        for fut in as_completed(list(futures)):
            result = fut.result()
            done["images"] += result["images"]
            compile_seconds = max(compile_seconds, result["compile_seconds"])
            names.add(result["worker"])
            _report(plan, *futures[fut], done, progress)
    finally:
        close_client(client, owned)
    return compile_seconds, sorted(names)
