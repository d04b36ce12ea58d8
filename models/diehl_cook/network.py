"""One compiled Diehl & Cook network and one run of it over a chunk of images.

Under ``cpp_standalone`` (and runtime) a chunk's run stops itself after its images. Under
``cuda_standalone`` it cannot (see ``brainlearn.devices.STOPS_ITSELF``): every run is ``chunk``
presentations long, may end with its last presentation undecided (the controller's state and
that presentation's spike counts carry over), and the last run of a pass idles after its last
image, with theta's decay over the idle time undone on the host.
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from brian2 import Quantity, second

from brainlearn.chunked import ChunkedSimulation
from brainlearn.devices import STOPS_ITSELF, require_brian2cuda
from brainlearn.models.diehl_cook.config import TrainConfig
from brainlearn.models.diehl_cook.model import (
    FROZEN_START,
    DiehlCookParams,
    build_network,
    synapse_order,
)
from brainlearn.models.diehl_cook.state import NetworkState

__all__ = ["CompiledNetwork", "make_sim", "ChunkResult", "present_chunk", "StopOnSigterm"]


@dataclass
class CompiledNetwork:
    """A run's compiled network: the simulation, its parameters and layout.

    ``table_size`` images fit its pixel table (one chunk); ``synapse_order`` maps the
    network's synapse order to the row order ``i * n + j`` (:func:`synapse_order`). Close it
    when done (or use it as a context manager).
    """

    sim: ChunkedSimulation
    params: DiehlCookParams
    table_size: int
    synapse_order: np.ndarray
    plastic: bool

    @property
    def compile_seconds(self) -> float:
        """Seconds its code generation and compilation took."""
        return self.sim.compile_seconds

    def close(self) -> None:
        """Release the simulation (and Brian2's device)."""
        self.sim.close()

    def __enter__(self) -> CompiledNetwork:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def make_sim(config: TrainConfig | Mapping, params: DiehlCookParams, run_dir: Path,
             plastic: bool, delays: np.ndarray, build_name: str | None = None,
             profile: bool = False, frozen_start: str = FROZEN_START) -> CompiledNetwork:
    """The run's compiled network (close it when done).

    ``delays`` are the input delays in seconds, ``(784, n)``; the build goes to
    ``run_dir / build_name`` (default ``build_train`` or ``build_eval``); ``profile`` turns on
    Brian2's profiling (``net.sim.profiling_info()`` after each chunk); ``frozen_start``: how
    a frozen network's presentations start (``model.FROZEN_STARTS``).
    """
    config = TrainConfig.of(config)
    n, size = config.neurons, config.chunk
    if config.device == "cuda_standalone":
        require_brian2cuda()  # a missing extra is named first

    def build():
        return build_network(params, n, size, delays, plastic=plastic,
                             frozen_start=frozen_start)

    if STOPS_ITSELF[config.device]:
        # the network stops itself after ``size`` images; the duration leaves room for retries
        duration = 2 * size * params.period
    else:
        # no in-network stop (cuda_standalone): every run is ``size`` presentations, so it
        # shows at most ``size`` images, and ends at a presentation boundary whose decision
        # the next run takes (the controller's state is carried)
        duration = size * params.period
    directory = Path(run_dir) / (build_name or ("build_train" if plastic else "build_eval"))
    sim = ChunkedSimulation(build, duration, config.device, directory, config.threads,
                            profile=profile)
    return CompiledNetwork(sim, params, size, synapse_order(delays, params.dt), plastic)


@dataclass
class ChunkResult:
    """What one run of a :class:`CompiledNetwork` did.

    ``done`` images were finished; ``counts`` ``(done, n)`` are the spike counts of each
    one's last presentation's input window. ``spikes`` (``neuron``, ``t`` in s from the
    run's start, ``presentation``, ``example`` from the run's first image) and
    ``presentations`` (``example``, ``start`` in s: every presentation shown) are its
    records; ``pending``: the run ended before deciding on its last presentation.
    """

    state: NetworkState
    done: int
    counts: np.ndarray
    spikes: pd.DataFrame
    presentations: pd.DataFrame
    shown: int  # presentations of this run's images, retries included
    capped: int  # images that reached the retry cap
    end_time: Quantity  # when the run stopped deciding
    wall_seconds: float
    mean_intensity: float
    pending: bool


def _table(images: np.ndarray, position: int, size: int, end: int) -> np.ndarray:
    """Pixel rows for global example indices position..position+size-1 (zeros past ``end``)."""
    idx = np.arange(position, position + size)
    table = images[idx % len(images)].copy()
    table[idx >= end] = 0.0
    return table


def _run_inputs(net: CompiledNetwork, state: NetworkState, limit: int) -> dict:
    """Initial values of a run that shows ``limit`` images."""
    values = state.run_vars(net.synapse_order, net.plastic)
    values["controller.example"] = np.array([0.0])
    values["controller.limit"] = np.array([float(limit)])
    values["controller.capped"] = np.array([0.0])
    if net.plastic:
        values["exc.wsum"] = state.weights.sum(axis=0)
    return values


def _presentations(out: dict) -> pd.DataFrame:
    """Every presentation of a run in time order: ``example``, ``start`` (s), ``intensity``."""
    pres = out["presentations"]
    by_time = np.argsort(np.asarray(pres.t_[:]), kind="stable")
    return pd.DataFrame({"example": np.asarray(pres.example_[:])[by_time].round().astype(np.int64),
                         "start": np.asarray(pres.t_[:])[by_time],
                         "intensity": np.asarray(pres.intensity_[:])[by_time]})


def _stop(net: CompiledNetwork, state: NetworkState, shows: pd.DataFrame, limit: int,
          end_time: float) -> tuple[NetworkState, float]:
    """The state and end time (s) of a run that finished its ``limit`` images.

    The controller stops the run at the start of the presentation after the last image; the
    run ends with that time step. Under cpp_standalone ``network.t`` reads the compiled end
    time, not the stop time, so the stop time comes from the presentations. A run that
    cannot stop itself (cuda_standalone) idles after its last image, without input or
    spikes, to its fixed end; theta's decay over that idle time is undone, so the state
    equals that of a run that stopped.
    """
    params = net.params
    step = float(params.dt / second)
    stop_time = float(shows["start"].to_numpy()[shows["example"].to_numpy() >= limit][0]) + step
    if net.plastic and not net.sim.stops_itself:
        idle_steps = round((end_time - stop_time) / step)
        x = float(params.dt / params.exc.tau_theta)  # one step of theta's decay
        decay_per_step = 1.0 - x if params.integration == "euler" else float(np.exp(-x))
        state = dataclasses.replace(state, theta=state.theta * decay_per_step ** (-idle_steps))
    return state, stop_time


def _window_counts(net: CompiledNetwork, spikes: pd.DataFrame, shown: np.ndarray, limit: int,
                   n: int, carried: np.ndarray | None, stopped: bool):
    """Spike counts of each image's last presentation's input window, and those of an
    undecided last presentation (None if the run decided on all)."""
    period = float(net.params.period / second)
    t_input = float(net.params.t_input / second)
    i, t, p = (spikes[c].to_numpy() for c in ("neuron", "t", "presentation"))
    in_window = (t - p * period) < t_input - 1e-9
    counts = np.zeros((limit, n), dtype=np.int32)
    last = np.full(limit, -1, dtype=np.int64)
    valid = shown < limit
    last[shown[valid]] = np.nonzero(valid)[0]  # later presentations overwrite earlier ones
    keep = in_window & (shown[p] < limit)
    keep &= last[np.clip(shown[p], 0, limit - 1)] == p
    np.add.at(counts, (shown[p[keep]], i[keep]), 1)
    # A run that ends before its last image (out of time, or a fixed-length cuda run) leaves
    # its last presentation undecided: the next run's controller decides on it at its first
    # step. Carry that presentation's counts, so an image accepted there keeps them.
    if carried is not None and len(shown) and shown[0] >= 1:
        counts[0] = carried
    pending = None
    if not stopped and len(shown):
        pending = np.zeros(n, dtype=np.int32)
        np.add.at(pending, i[in_window & (p == len(shown) - 1)], 1)
    return counts, pending


def _spike_table(out: dict, period: float, shown: np.ndarray) -> pd.DataFrame:
    """A run's spikes: ``neuron``, ``t`` (s), ``presentation`` (index in the run), ``example``."""
    mon = out["spikes"]
    i = np.asarray(mon.i_[:], dtype=np.int64)
    t = np.asarray(mon.t_[:], dtype=float)
    p = np.minimum((t / period + 1e-9).astype(np.int64), len(shown) - 1)
    return pd.DataFrame({"neuron": i, "t": t, "presentation": p, "example": shown[p]})


def present_chunk(net: CompiledNetwork, images: np.ndarray, state: NetworkState, position: int,
                  end: int, seed: int) -> ChunkResult:
    """Run ``net`` once on the images from ``position`` (at most a table's worth, not past
    ``end``), from ``state``, with random seed ``seed``."""
    limit = min(net.table_size, end - position)
    out = net.sim.run(_run_inputs(net, state, limit),
                      _table(images, position, net.table_size, end), seed)
    example = int(round(float(out["controller"].example_[0])))
    stopped = example >= limit
    done = limit if stopped else example
    new = state.read_back(out, net.synapse_order, net.plastic)
    shows = _presentations(out)
    end_time = out["end_time"]
    if stopped:
        new, end_time = _stop(net, new, shows, limit, end_time)
    shown = shows["example"].to_numpy()
    spikes = _spike_table(out, float(net.params.period / second), shown)
    counts, pending = _window_counts(net, spikes, shown, limit, state.n, state.pending_counts,
                                     stopped)
    new.controller.pending = 0.0 if stopped else 1.0
    if net.plastic:  # pre-spike times relative to the next run's start
        new.tpre = new.tpre - end_time * second
    new.pending_counts = pending
    valid = shown < limit
    return ChunkResult(
        state=new, done=done, counts=counts[:done], spikes=spikes,
        presentations=shows[["example", "start"]], shown=int(valid.sum()),
        capped=int(round(float(out["controller"].capped_[0]))), end_time=end_time * second,
        wall_seconds=out["wall_seconds"], pending=not stopped,
        mean_intensity=float(shows["intensity"].to_numpy()[valid].mean()) if valid.any() else 0.0,
    )


class StopOnSigterm:
    """Turn SIGTERM into KeyboardInterrupt so a kill between chunks leaves a clean state."""

    def __enter__(self):
        self.old = signal.signal(signal.SIGTERM, self._handler)
        return self

    @staticmethod
    def _handler(signum, frame):
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        signal.signal(signal.SIGTERM, self.old)
        return False
