"""Training and evaluation of the Diehl & Cook (2015) network in chunks, with checkpoints.

A run directory holds everything of one run: ``config.json`` (:class:`TrainConfig`),
``checkpoint.npz`` (:class:`Checkpoint`, atomic, written after every chunk), ``metrics.json``,
``weights.npz`` (final input weights and theta), the evaluation spike counts and spikes, and
the figures. ``train`` continues from the checkpoint when there is one, so ``--resume`` (or
simply running again) after Ctrl-C or a kill ends with the same examples seen and the same
result as an uninterrupted run: chunk seeds derive from the run seed and the chunk index.

The pieces, used alike by training, the serial evaluation and the sharded one
(:mod:`brainlearn.models.diehl_cook_sharded`): :class:`NetworkState` (what a run starts
from and ends with), :func:`make_sim` (the compiled :class:`CompiledNetwork`),
:func:`present_chunk` (one run: a :class:`ChunkResult`), :func:`frozen_chunks` and
:func:`merge_chunks` (evaluation passes in independent chunks: :class:`ChunkPart`,
:class:`PassRecord`), :func:`open_evaluation` and :func:`finish_evaluation`.

Under ``cpp_standalone`` (and runtime) a chunk's run stops itself after its images. Under
``cuda_standalone`` it cannot (see ``brainlearn.devices.STOPS_ITSELF``): every run is ``chunk``
presentations long, may end with its last presentation undecided (the controller's state and
that presentation's spike counts carry over), and the last run of a pass idles after its last
image, with theta's decay over the idle time undone on the host.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
from brian2 import Quantity, mV, second, volt
from tqdm.auto import tqdm

from brainlearn import rundir
from brainlearn.atomic import save_npz
from brainlearn.chunked import ChunkedSimulation
from brainlearn.devices import DEVICES, STOPS_ITSELF, require_brian2cuda
from brainlearn.models.diehl_cook_2015 import (
    INTEGRATIONS,
    N_INPUTS,
    PARAM_SETS,
    TIMER_READINGS,
    DiehlCookParams,
    build_network,
    synapse_order,
)
from brainlearn.readout import VoteReadout
from brainlearn.units import check_quantity

__all__ = [
    "TrainConfig",
    "read_run_config",
    "NetworkState",
    "ControllerState",
    "CompiledNetwork",
    "ChunkResult",
    "Checkpoint",
    "TrainProgress",
    "PassRecord",
    "ChunkPart",
    "Evaluation",
    "train",
    "evaluate",
    "READOUTS",
    "check_readouts",
    "save_npz",
    "load_npz",
    "load_images",
    "run_params",
    "initial_state",
    "make_sim",
    "present_chunk",
    "frozen_chunks",
    "frozen_state",
    "merge_chunks",
    "open_evaluation",
    "finish_evaluation",
    "window_mask",
    "window_spikes",
    "write_untrained_run",
]

DEFAULT_CHUNK = 1000


def load_npz(path: Path) -> dict:
    """Load an ``.npz`` written by :func:`save_npz`; a damaged file raises one clear error."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError, EOFError
        raise ValueError(f"{path}: corrupt or unreadable checkpoint ({exc})") from None


def _chunk_seed(seed: int, stage: str, index: int, part: int = 0) -> int:
    # ``part`` > 0: continuation runs of one chunk (reset_state_per_chunk evaluation)
    stage_code = {"train": 0, "assign": 1, "test": 2}[stage]
    entropy = [seed, stage_code, index] + ([part] if part else [])
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] % (2**31))


# --- the run's configuration ----------------------------------------------------------------
@dataclass(frozen=True)
class TrainConfig:
    """The configuration of a run, stored as ``config.json`` (:meth:`to_json`).

    ``theta_plus`` replaces the paper's threshold increment of 0.05 mV (a deviation from the
    paper, recorded in ``config.json``; see ``DiehlCookParams.spike_budget``). ``param_set``
    names the parameter set: ``"paper"`` or ``"sized"`` (theta_plus scaled to the network
    size, ``DiehlCookParams.sized``). ``examples`` (or ``epochs``; default one epoch) is the
    number of training images; ``code_version`` an optional note of the code that ran it.
    """

    neurons: int = 100
    examples: int | None = None
    epochs: float | None = None
    seed: int = 0
    device: str = "cpp_standalone"
    threads: int | None = None
    data: str = "full"
    timer: str = "brian1"
    chunk: int = DEFAULT_CHUNK
    theta_plus: Quantity | None = None
    param_set: str = "paper"
    integration: str = "euler"
    code_version: str | None = None

    def __post_init__(self) -> None:
        if self.integration not in INTEGRATIONS:
            raise ValueError(f"integration must be one of {INTEGRATIONS}, got {self.integration!r}")
        if self.param_set not in PARAM_SETS:
            raise ValueError(f"params must be one of {PARAM_SETS}, got {self.param_set!r}")
        if self.param_set != "paper" and self.theta_plus is not None:
            raise ValueError(f"theta_plus is set by the {self.param_set!r} parameter set; give "
                             "one of the two")
        if self.theta_plus is not None:
            check_quantity("theta_plus", self.theta_plus, mV)
            if not float(self.theta_plus / volt) > 0:
                raise ValueError(f"theta_plus must be positive, got {self.theta_plus!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.timer not in TIMER_READINGS:
            raise ValueError(f"timer must be one of {TIMER_READINGS}, got {self.timer!r}")
        if self.data not in ("full", "embedded"):
            raise ValueError(f"data must be 'full' or 'embedded', got {self.data!r}")
        if int(self.neurons) < 1:
            raise ValueError(f"neurons must be positive, got {self.neurons}")
        if int(self.chunk) < 1:
            raise ValueError(f"chunk must be positive, got {self.chunk}")

    @classmethod
    def create(cls, neurons: int = 100, examples: int | None = None,
               epochs: float | None = None, seed: int = 0, device: str = "cpp_standalone",
               threads: int | None = None, data: str = "full", timer: str = "brian1",
               chunk: int = DEFAULT_CHUNK, theta_plus: Quantity | None = None,
               params: str = "paper", integration: str = "euler") -> TrainConfig:
        """Validate the options and return a config (``params``: the parameter set).

        At most one of ``examples`` and ``epochs`` may be given (default: one epoch; a run
        stores the number of images it works out as ``examples``).
        """
        if examples is not None and epochs is not None:
            raise ValueError("give epochs or examples, not both")
        return cls(neurons=int(neurons), examples=None if examples is None else int(examples),
                   epochs=None if epochs is None else float(epochs), seed=int(seed),
                   device=device, threads=None if threads is None else int(threads), data=data,
                   timer=timer, chunk=int(chunk), theta_plus=theta_plus, param_set=params,
                   integration=integration)

    @classmethod
    def from_json(cls, data: Mapping) -> TrainConfig:
        """The config of a ``config.json`` (``theta_plus`` in volts; keys that older runs did
        not write take their defaults, keys that are not options are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("theta_plus") is not None:
            values["theta_plus"] = float(values["theta_plus"]) * volt
        return cls(**values)

    @classmethod
    def of(cls, config: TrainConfig | Mapping) -> TrainConfig:
        """``config`` itself, or the config of a ``config.json`` mapping."""
        return config if isinstance(config, TrainConfig) else cls.from_json(config)

    def to_json(self) -> dict:
        """The options as ``config.json`` stores them (``theta_plus`` in volts)."""
        data = asdict(self)
        data["theta_plus"] = None if self.theta_plus is None else float(self.theta_plus / volt)
        if data["code_version"] is None:  # written only when given, as before
            del data["code_version"]
        return data

    def replace(self, **changes) -> TrainConfig:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    def params(self) -> DiehlCookParams:
        """The network parameters of the run (paper values, ``timer``, ``theta_plus``)."""
        params = DiehlCookParams(timer=self.timer, integration=self.integration)
        if self.param_set == "sized":
            params = params.sized(self.neurons)
        if self.theta_plus is not None:
            params = params.replace(exc=params.exc.replace(theta_plus=self.theta_plus))
        return params


def read_run_config(run_dir: str | Path, device: str | None = None) -> TrainConfig:
    """The config of a run directory (``device`` overrides the run's)."""
    config = TrainConfig.from_json(rundir.read_config(run_dir, required=True))
    return config if device is None else config.replace(device=device)


def load_images(data: str, split: str):
    """MNIST ``split`` of ``data`` (``full`` or ``embedded``): float64 pixel rows and int64 labels."""
    from brainlearn.data import load_mnist

    images, labels = load_mnist(split, source=data)
    return images.reshape(len(images), -1).astype(np.float64), labels.astype(np.int64)


def run_params(config: TrainConfig | Mapping) -> DiehlCookParams:
    """The network parameters of a run's config (see :meth:`TrainConfig.params`)."""
    return TrainConfig.of(config).params()


def _write_run_config(run_dir: Path, config: TrainConfig, params: DiehlCookParams) -> None:
    # keys a newer or other writer added to config.json are kept
    old = rundir.read_json(run_dir / rundir.CONFIG)
    rundir.write_config(run_dir, {**old, **config.to_json(), "params": _describe(params)},
                        kind="diehl_cook")


def _describe(params: DiehlCookParams) -> dict:
    return {k: str(v) for k, v in asdict(params).items()}


# --- the network's state ----------------------------------------------------------------------
@dataclass
class ControllerState:
    """The presentation controller between runs (see ``diehl_cook_2015.CONTROLLER_CODE``)."""

    intensity: float
    pending: float = 0.0  # 1: the last presentation awaits its accept-or-retry decision
    nspk: float = 0.0  # spikes of the pending presentation so far
    retries: float = 0.0


@dataclass
class NetworkState:
    """The state carried from run to run, in row order ``i * n + j`` for synapses.

    Attributes with units are Brian2 quantities. ``tpre`` (the last pre-spike arrival of each
    synapse, relative to the next run's start), ``post1``/``post2`` (post traces), ``pre``
    (the all-to-all pre trace) and ``delays`` are training state: a frozen network has None.
    ``pending_counts`` holds the spike counts of a run's undecided last presentation.
    """

    w: np.ndarray
    theta: Quantity
    v: Quantity
    ge: np.ndarray
    gi: np.ndarray
    inh_v: Quantity
    inh_ge: np.ndarray
    inh_gi: np.ndarray
    controller: ControllerState
    delays: Quantity | None = None
    tpre: Quantity | None = None
    pre: np.ndarray | None = None
    post1: np.ndarray | None = None
    post2: np.ndarray | None = None
    pending_counts: np.ndarray | None = None

    #: attribute -> Brian2 ``object.variable`` (and checkpoint key)
    KEYS: ClassVar[dict[str, str]] = {
        "w": "syn.w", "tpre": "syn.tpre", "pre": "syn.pre", "theta": "exc.theta",
        "v": "exc.v", "ge": "exc.ge", "gi": "exc.gi", "post1": "exc.post1",
        "post2": "exc.post2", "inh_v": "inh.v", "inh_ge": "inh.ge", "inh_gi": "inh.gi",
    }
    UNITS: ClassVar[dict[str, Quantity]] = {"theta": volt, "v": volt, "inh_v": volt,
                                            "tpre": second, "delays": second}
    #: carried by a frozen (evaluation) network
    FROZEN: ClassVar[tuple[str, ...]] = ("w", "theta", "v", "ge", "gi", "inh_v", "inh_ge",
                                          "inh_gi")
    SYNAPTIC: ClassVar[tuple[str, ...]] = ("w", "tpre", "pre")

    @property
    def n(self) -> int:
        """Number of excitatory neurons."""
        return len(self.ge)

    @property
    def weights(self) -> np.ndarray:
        """Input weights as a ``(784, n)`` matrix."""
        return self.w.reshape(N_INPUTS, -1)

    @classmethod
    def initial(cls, params: DiehlCookParams, n: int, seed: int) -> NetworkState:
        """The untrained network for ``n`` neurons (weights and delays drawn from ``seed``)."""
        rng = np.random.default_rng(seed)
        w = params.initial_weights(n, rng)
        delays = params.initial_delays(n, rng)
        exc, inh = params.exc, params.inh
        all_to_all = params.stdp.scheme == "all-to-all"  # the pre trace at its last spike
        return cls(
            w=w.ravel(), tpre=np.full(N_INPUTS * n, -1e9) * second, delays=delays.ravel() * second,
            v=np.full(n, float(exc.v_init / 1e-3) * 1e-3) * volt, ge=np.zeros(n), gi=np.zeros(n),
            theta=np.full(n, float(exc.theta_init / 1e-3) * 1e-3) * volt,
            post1=np.zeros(n), post2=np.zeros(n),
            inh_v=np.full(n, float(inh.v_init / 1e-3) * 1e-3) * volt, inh_ge=np.zeros(n),
            inh_gi=np.zeros(n), controller=ControllerState(intensity=params.intensity_start),
            pre=np.zeros(N_INPUTS * n) if all_to_all else None,
        )

    def frozen(self, weights: np.ndarray, theta: np.ndarray) -> NetworkState:
        """This state with trained ``weights`` ``(784, n)`` and ``theta`` (volts), without the
        training state."""
        return dataclasses.replace(self, w=np.asarray(weights).ravel(),
                                   theta=np.asarray(theta) * volt, delays=None, tpre=None,
                                   pre=None, post1=None, post2=None, pending_counts=None)

    def _carried(self, plastic: bool) -> list[str]:
        # what a plastic (training) or frozen network runs with and gives back
        return [a for a in self.KEYS if getattr(self, a) is not None
                and (plastic or a in self.FROZEN)]

    def run_vars(self, order: np.ndarray, plastic: bool) -> dict[str, np.ndarray]:
        """Initial values of a run of a plastic or frozen network by ``object.variable``
        (SI values; synapses in the network's ``order``)."""
        out = {}
        for attr in self._carried(plastic):
            key, value = self.KEYS[attr], getattr(self, attr)
            value = np.asarray(value)
            out[key] = value[order] if attr in self.SYNAPTIC else value
        out.update({f"controller.{k}": np.array([float(v)])
                    for k, v in asdict(self.controller).items()})
        return out

    def read_back(self, out: dict, order: np.ndarray, plastic: bool) -> NetworkState:
        """This state updated from the objects ``out`` of a finished run (see :meth:`run_vars`)."""
        changes = {}
        for attr in self._carried(plastic):
            name, var = self.KEYS[attr].split(".")
            value = np.array(getattr(out[name], var + "_")[:], dtype=float)
            if attr in self.SYNAPTIC:
                value[order] = value.copy()
            changes[attr] = value * self.UNITS[attr] if attr in self.UNITS else value
        ctl = out["controller"]
        changes["controller"] = ControllerState(**{k: float(getattr(ctl, k + "_")[0])
                                                   for k in asdict(self.controller)})
        return dataclasses.replace(self, **changes)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The checkpoint's arrays (keys ``object.variable``, ``delays``, ``pending.counts``)."""
        out = {key: np.asarray(getattr(self, attr)) for attr, key in self.KEYS.items()
               if getattr(self, attr) is not None}
        if self.delays is not None:
            out["delays"] = np.asarray(self.delays)
        out.update({f"controller.{k}": np.array([float(v)])
                    for k, v in asdict(self.controller).items()})
        if self.pending_counts is not None:
            out[PENDING_COUNTS] = self.pending_counts
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> NetworkState:
        """The state of a checkpoint's arrays (:meth:`to_arrays`)."""
        values = {}
        for attr, key in {**cls.KEYS, "delays": "delays"}.items():
            if key in arrays:
                value = np.asarray(arrays[key], dtype=float)
                values[attr] = value * cls.UNITS[attr] if attr in cls.UNITS else value
        controller = ControllerState(**{k: float(arrays[f"controller.{k}"][0])
                                        for k in ("intensity", "pending", "nspk", "retries")})
        pending = arrays.get(PENDING_COUNTS)
        return cls(**values, controller=controller, pending_counts=pending)


#: spike counts of a run's undecided last presentation, carried to the next run (checkpoint key)
PENDING_COUNTS = "pending.counts"


def initial_state(params: DiehlCookParams, n: int, seed: int) -> NetworkState:
    """The untrained network's state for ``n`` neurons (:meth:`NetworkState.initial`)."""
    return NetworkState.initial(params, n, seed)


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
    save_npz(run_dir / "weights.npz", weights=state.weights, theta=np.asarray(state.theta),
             delays=np.asarray(state.delays).reshape(N_INPUTS, -1))


# --- the compiled network and one run of it -------------------------------------------------
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
             plastic: bool, delays: np.ndarray, build_name: str | None = None) -> CompiledNetwork:
    """The run's compiled network (close it when done).

    ``delays`` are the input delays in seconds, ``(784, n)``; the build goes to
    ``run_dir / build_name`` (default ``build_train`` or ``build_eval``).
    """
    config = TrainConfig.of(config)
    n, size = config.neurons, config.chunk
    if config.device == "cuda_standalone":
        require_brian2cuda()  # a missing extra is named first

    def build():
        return build_network(params, n, size, delays, plastic=plastic)

    if STOPS_ITSELF[config.device]:
        # the network stops itself after ``size`` images; the duration leaves room for retries
        duration = 2 * size * params.period
    else:
        # no in-network stop (cuda_standalone): every run is ``size`` presentations, so it
        # shows at most ``size`` images, and ends at a presentation boundary whose decision
        # the next run takes (the controller's state is carried)
        duration = size * params.period
    directory = Path(run_dir) / (build_name or ("build_train" if plastic else "build_eval"))
    sim = ChunkedSimulation(build, duration, config.device, directory, config.threads)
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


class _Interrupt:
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


# --- training -------------------------------------------------------------------------------
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


def train(run_dir: str | Path, config: TrainConfig | Mapping | None = None,
          progress: bool = True) -> dict:
    """Train (or continue training) the network of a run directory.

    Parameters
    ----------
    run_dir : path
        The run directory; created with ``config`` if new, resumed from its checkpoint if not.
    config : TrainConfig, optional
        The configuration of a new run (ignored when resuming).
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        The training metrics (also written to ``metrics.json``).
    """
    run_dir = Path(run_dir)
    config, new = _run_config(run_dir, config)
    params = config.params()
    # the data is loaded before anything is written: a failed start leaves no run directory
    images, labels = load_images(config.data, "train")
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
    bar = tqdm(total=total, initial=ckpt.progress.position, unit="img", desc="train",
               disable=not progress, dynamic_ncols=True)
    net = None
    try:
        with _Interrupt():
            while ckpt.progress.position < total:
                if net is None:
                    delays = np.asarray(ckpt.state.delays).reshape(N_INPUTS, -1)
                    net = make_sim(config, params, run_dir, True, delays)
                    ckpt.progress.compile_seconds += net.compile_seconds
                position = ckpt.progress.position
                result = present_chunk(net, images, ckpt.state, position, total,
                                       _chunk_seed(config.seed, "train", ckpt.progress.chunk_index))
                _training_accuracy(ckpt, result,
                                   labels[np.arange(position, position + result.done) % len(images)])
                ckpt.state = result.state
                ckpt.progress.add(result)
                ckpt.save(ckpt_path)
                bar.update(result.done)
                if result.capped:
                    tqdm.write(f"warning: {result.capped} image(s) reached the retry cap "
                               f"({int(params.max_retries)} retries) with fewer than "
                               f"{int(params.min_spikes)} spikes")
    finally:
        bar.close()
        if net is not None:
            net.close()
    _save_weights(run_dir, ckpt.state)
    return _write_train_metrics(run_dir, config, params, ckpt.progress)


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


# --- evaluation: frozen passes in chunks ------------------------------------------------------
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
    chunk's start, global example indices, its simulated time and its final state."""

    index: int
    record: PassRecord
    end_time: Quantity
    state: NetworkState


# Chunk k holds the images [k * chunk, (k + 1) * chunk) and starts from the pass's initial
# state (rest values of v, ge, gi, the controller; theta and weights are frozen anyway) with
# seed _chunk_seed(seed, stage, k), so every chunk's counts depend on that chunk alone: shards
# of whole chunks on different workers give exactly the serial result. A chunk whose run ends
# before its last image (retries used up the run's time) continues from where it stopped, with
# its state carried, in further runs seeded _chunk_seed(seed, stage, k, part).
def frozen_chunks(net: CompiledNetwork, images: np.ndarray, state: NetworkState,
                  n_examples: int, stage: str, seed: int, chunks, bar=None,
                  span: int | None = None) -> list[ChunkPart]:
    """Run whole chunks (indices ``chunks``, ``span`` images each, default the table size) of
    a frozen pass over the first ``n_examples`` of ``images``, each from ``state``.

    ``stage`` (``"assign"`` or ``"test"``) and ``seed`` (the run's) seed the runs.
    """
    size = span or net.table_size
    return [_frozen_chunk(net, images, state, k * size, min((k + 1) * size, n_examples),
                          lambda run, k=k: _chunk_seed(seed, stage, k, run), k, bar)
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


def frozen_state(config: TrainConfig | Mapping, params: DiehlCookParams,
                 weights: Mapping[str, np.ndarray]) -> NetworkState:
    """Initial state of the frozen network: trained weights and theta, rest values."""
    config = TrainConfig.of(config)
    return NetworkState.initial(params, config.neurons, config.seed).frozen(weights["weights"],
                                                                            weights["theta"])


def _frozen_pass(net: CompiledNetwork, images, state: NetworkState, n_examples: int, stage: str,
                 seed: int, bar, reset_state_per_chunk: bool = False):
    """Present ``n_examples`` images to the frozen network; return its record and the state
    at its end.

    With ``reset_state_per_chunk`` every chunk starts from ``state`` (see :func:`frozen_chunks`).
    """
    if reset_state_per_chunk:
        n_chunks = -(-n_examples // net.table_size)
        parts = frozen_chunks(net, images, state, n_examples, stage, seed, range(n_chunks), bar)
        return merge_chunks(parts), state
    # one chunk spanning the whole pass: the state is carried from run to run
    (part,) = frozen_chunks(net, images, state, n_examples, stage, seed, [0], bar,
                            span=n_examples)
    return part.record, part.state


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

    @property
    def n_examples(self) -> dict[str, int]:
        """Images per pass."""
        return {stage: len(y) for stage, y in self.labels.items()}

    def network(self, build_name: str | None = None) -> CompiledNetwork:
        """The frozen network (close it when done)."""
        return make_sim(self.config, self.params, self.run_dir, False, self.weights["delays"],
                        build_name)

    def initial_state(self) -> NetworkState:
        """The state every pass (and, reset per chunk, every chunk) starts from."""
        return frozen_state(self.config, self.params, self.weights)


def open_evaluation(run_dir: str | Path, assign_examples: int | None = None,
                    test_examples: int | None = None, device: str | None = None,
                    images: bool = True) -> Evaluation:
    """Read what an evaluation of ``run_dir`` needs (see :func:`evaluate` for the options;
    ``images=False`` leaves the pixels out)."""
    run_dir = Path(run_dir)
    config = read_run_config(run_dir, device)
    if not (run_dir / "weights.npz").exists():
        raise FileNotFoundError(f"{run_dir} has no trained weights (weights.npz): train first")
    weights = load_npz(run_dir / "weights.npz")
    pixels, labels = {}, {}
    for stage, split, wanted in (("assign", "train", assign_examples),
                                 ("test", "test", test_examples)):
        x, y = load_images(config.data, split)
        n = len(x) if wanted is None else min(int(wanted), len(x))
        if n < 1:
            raise ValueError("assign and test examples must be positive")
        pixels[stage], labels[stage] = (x if images else None), y[:n]
    return Evaluation(run_dir, config, config.params(), weights, pixels, labels)


READOUTS = ("vote", "logistic", "online")


def evaluate(
    run_dir: str | Path,
    assign_examples: int | None = None,
    test_examples: int | None = None,
    progress: bool = True,
    device: str | None = None,
    reset_state_per_chunk: bool = False,
    readouts: tuple[str, ...] = ("vote",),
) -> dict:
    """Label assignment on training images, then accuracy on test images (theta frozen).

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
    reset_state_per_chunk : bool
        Start every chunk (and the test pass) from the rest state instead of the previous
        chunk's end state: chunks become independent, and the sharded evaluation
        (``brainlearn.models.diehl_cook_sharded``) gives exactly this result.

    Returns
    -------
    dict
        The metrics (also merged into ``metrics.json``).
    """
    ev = open_evaluation(run_dir, assign_examples, test_examples, device)
    check_readouts(readouts)
    state = ev.initial_state()
    start = time.perf_counter()
    net = ev.network()
    compile_seconds = net.compile_seconds
    n = ev.n_examples
    bar = tqdm(total=sum(n.values()), unit="img", desc="evaluate", disable=not progress,
               dynamic_ncols=True)
    records = {}
    try:
        with _Interrupt():
            for stage in ("assign", "test"):
                records[stage], end_state = _frozen_pass(
                    net, ev.images[stage], state, n[stage], stage, ev.config.seed, bar,
                    reset_state_per_chunk)
                if not reset_state_per_chunk:  # the test pass continues from the assignment's
                    state = end_state
    finally:
        bar.close()
        net.close()
    eval_seconds = time.perf_counter() - start
    return finish_evaluation(
        ev, readouts, records["assign"], records["test"],
        eval_seconds=eval_seconds, eval_compile_seconds=compile_seconds,
        eval_ms_per_example=1000 * (eval_seconds - compile_seconds) / sum(n.values()),
        reset_state_per_chunk=bool(reset_state_per_chunk),
    )


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
    is scored on) and ``metrics.json`` (with ``extra``). ``assign.spikes`` may hold only the
    spikes :func:`window_mask` keeps.
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
    metrics.update(_readout_scores(readouts, assign.counts, assign_labels, test.counts,
                                   test_labels, config.seed))
    metrics.update(
        neurons=config.neurons, assign_examples=len(assign_labels),
        test_examples=len(test_labels), accuracy=accuracy, accuracy_vote=accuracy,
        test_spikes_per_example=float(test.counts.sum(axis=1).mean()), **extra,
    )
    rundir.write_json(run_dir / rundir.METRICS, metrics)
    return metrics


#: passes of the online readout over the assignment counts
ONLINE_EPOCHS = 3


def _readout_scores(readouts, train_counts, train_labels, test_counts, test_labels, seed) -> dict:
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
