"""One compiled LC-SNN and one run of it over a chunk of images.

A chunk's run starts from given weights and thresholds (through ``run_args``), shows its
images with the retry rule and stops itself after the last (:func:`present_chunk`). What
comes back: the new weights and thresholds, each image's spike counts of its last
presentation and those spikes themselves (time step and cell, for the n-gram readout).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from brian2 import second

from brainlearn.chunked import ChunkedSimulation
from brainlearn.devices import STOPS_ITSELF
from brainlearn.models.lcsnn.model import (
    LCSNNParams,
    build_network,
    crop_images,
    learning_rule,
    receptive_fields,
    synapse_order,
)

__all__ = ["ChunkOutput", "compile_network", "present_chunk", "present_all", "BUILD"]


@dataclass
class ChunkOutput:
    """What a run over images did.

    ``counts`` ``(images, cells)``: spike counts of each image's last presentation;
    ``spike_example``, ``spike_step``, ``spike_neuron``: those spikes (image, time step in
    the presentation, cell); ``shown``: presentations, retries included; ``capped``: images
    that reached the retry cap below ``min_spikes``.
    """

    weights: np.ndarray
    theta: np.ndarray
    counts: np.ndarray
    spike_example: np.ndarray
    spike_step: np.ndarray
    spike_neuron: np.ndarray
    shown: int
    capped: int
    wall_seconds: float


#: build folder of a run directory: one binary trains and evaluates
BUILD = "build"
#: ``w_max`` while evaluating: above any weight (finite: a run value is passed as a number)
NO_BOUND = 1e300


def compile_network(params: LCSNNParams, chunk: int, run_dir: Path, *,
                    device: str = "cpp_standalone", threads: int | None = None,
                    build: str = BUILD, frozen: bool = False) -> ChunkedSimulation:
    """The plastic network compiled once for chunks of ``chunk`` images (close it when done).

    The one binary both trains and evaluates (:func:`present_chunk` freezes it per run), in
    ``run_dir/build`` (``build``: another folder of the run directory, as each evaluation
    worker process builds in its own): a second compilation of the same network there
    (evaluation after training, a resumed run) regenerates the code and finds nothing to
    recompile. ``frozen``: the network without plasticity instead (``build_network(...,
    plastic=False)``: fixed weights and thresholds, no learning or normalisation code), which
    only evaluates; give it a ``build`` folder of its own.
    """
    if not STOPS_ITSELF.get(device, False):
        raise ValueError(f"device {device!r}: the LC-SNN runs under cpp_standalone or runtime")
    # a chunk stops itself after its images; the duration leaves room for every retry
    duration = (params.max_retries + 1) * chunk * params.t_input + 2 * params.t_input
    directory = Path(run_dir) / build

    def build():  # ChunkedSimulation collects an earlier build's objects first
        return build_network(params, chunk, plastic=not frozen)

    sim = ChunkedSimulation(build, duration, device, directory, threads)
    sim.frozen = bool(frozen)  # read by present_chunk: no learning state to pass or read
    return sim


def present_chunk(sim: ChunkedSimulation, params: LCSNNParams, pixels: np.ndarray,
                  weights: np.ndarray, theta: np.ndarray, seed: int,
                  learning_rate: float | None = None) -> ChunkOutput:
    """Show ``pixels`` (cropped, flattened, at most a table's worth) once each, with retries.

    ``learning_rate`` is ``A_plus`` for the whole chunk; ``None`` freezes the plastic network
    for the run: no learning (``A_plus = 0``, no upper bound to clip at: ``w_max`` is
    :data:`NO_BOUND`), no threshold change (``theta_on = 0``) and a weight sum that makes
    every normalisation a multiply by exactly 1, so the weights and thresholds stay as given.
    The frozen network (``compile_network(..., frozen=True)``) is frozen already: it takes
    the weights and thresholds as constants and gives them back as given.
    """
    table_size = sim.objects["table"].values.shape[0] if sim.objects is not None else None
    limit = len(pixels)
    table = np.zeros((table_size or limit, params.n_inputs))
    table[:limit] = pixels
    order = synapse_order(params)  # the network stores the synapses by pixel
    state = {"syn.w": np.asarray(weights, dtype=float)[order], "exc.theta": theta, "controller.limit": np.array([float(limit)])}
    lean = getattr(sim, "frozen", False)  # the network without plasticity: nothing to freeze
    if lean:
        if learning_rate is not None:
            raise ValueError("the frozen network does not learn: give no learning_rate")
    elif learning_rate is None:
        state.update({"exc.wsum": np.full(params.n_neurons, params.norm_total),
                      "syn.A_plus": np.array([0.0]), "syn.w_max": np.array([NO_BOUND]),
                      "exc.theta_on": np.array([0.0])})
    else:
        _, post = receptive_fields(params)
        state.update({"exc.wsum": np.bincount(post, weights, minlength=params.n_neurons),
                      "syn.A_plus": np.array([float(learning_rate)]),
                      "syn.w_max": np.array([float(learning_rule(params).w_max)]),
                      "exc.theta_on": np.array([1.0])})
    out = sim.run(state, table, seed)
    pres_t = np.asarray(out["presentations"].t_[:], dtype=float)
    by_time = np.argsort(pres_t, kind="stable")
    pres_example = np.asarray(out["presentations"].example_[:])[by_time].round().astype(np.int64)
    period = float(params.t_input / second)
    step = float(params.dt / second)
    t = np.asarray(out["spikes"].t_[:], dtype=float)
    i = np.asarray(out["spikes"].i_[:], dtype=np.int64)
    p = np.minimum((t / period + 1e-9).astype(np.int64), max(len(pres_example) - 1, 0))
    last = np.full(limit, -1, dtype=np.int64)
    valid = np.flatnonzero(pres_example < limit)
    last[pres_example[valid]] = valid  # later presentations overwrite earlier ones
    example = pres_example[p] if len(p) else p
    keep = (example < limit) & (last[np.clip(example, 0, limit - 1)] == p)
    counts = np.zeros((limit, params.n_neurons), dtype=np.int32)
    np.add.at(counts, (example[keep], i[keep]), 1)
    spike_step = np.round((t[keep] - p[keep] * period) / step).astype(np.int32)
    if lean:  # constants of the run: as given
        new_weights, new_theta = np.asarray(weights, dtype=float), np.asarray(theta, dtype=float)
    else:
        new_weights = np.empty(len(order))
        new_weights[order] = np.asarray(out["syn"].w_[:], dtype=float)
        new_theta = np.asarray(out["exc"].theta_[:], dtype=float).copy()
    return ChunkOutput(
        weights=new_weights, theta=new_theta,
        counts=counts, spike_example=example[keep].astype(np.int32), spike_step=spike_step,
        spike_neuron=i[keep].astype(np.int32), shown=int(len(valid)),
        capped=int(round(float(out["controller"].capped_[0]))),
        wall_seconds=float(out["wall_seconds"]),
    )


def present_all(sim: ChunkedSimulation, params: LCSNNParams, images: np.ndarray,
                weights: np.ndarray, theta: np.ndarray, chunk: int, seed: int,
                progress: bool = False, what: str = "images") -> ChunkOutput:
    """Show ``images`` (28x28, 0-255) to the network, frozen, chunk by chunk, and join the
    outputs (images numbered from 0 over all chunks)."""
    import sys

    pixels = crop_images(images, params.crop)
    parts: list[ChunkOutput] = []
    for k, start in enumerate(range(0, len(pixels), chunk)):
        part = present_chunk(sim, params, pixels[start:start + chunk], weights, theta,
                             seed=chunk_seed(seed, k, stage=1))
        part.spike_example = part.spike_example + start
        parts.append(part)
        if progress:
            print(f"lcsnn: {what} {start + len(part.counts)}/{len(pixels)}", file=sys.stderr)
    if not parts:
        raise ValueError(f"no {what} to show")
    return ChunkOutput(
        weights=weights, theta=theta, counts=np.concatenate([q.counts for q in parts]),
        spike_example=np.concatenate([q.spike_example for q in parts]),
        spike_step=np.concatenate([q.spike_step for q in parts]),
        spike_neuron=np.concatenate([q.spike_neuron for q in parts]),
        shown=sum(q.shown for q in parts), capped=sum(q.capped for q in parts),
        wall_seconds=sum(q.wall_seconds for q in parts),
    )


def chunk_seed(seed: int, index: int, stage: int = 0) -> int:
    """The random seed of chunk ``index`` of a run seeded ``seed`` (stage 0 training, 1
    evaluation): distinct per chunk, the same on resume."""
    return int((int(seed) * 1_000_003 + int(index) * 7919 + int(stage) * 104_729) % (2 ** 31))
