"""Training and evaluation of the Diehl & Cook (2015) network in chunks, with checkpoints.

A run directory holds everything of one run: ``config.json``, ``checkpoint.npz`` (atomic,
written after every chunk), ``metrics.json``, ``weights.npz`` (final input weights and
theta), the evaluation spike counts and spikes, and the figures. ``train`` continues from
the checkpoint when there is one, so ``--resume`` (or simply running again) after Ctrl-C or a
kill ends with the same examples seen and the same result as an uninterrupted run: chunk
seeds derive from the run seed and the chunk index.

Under ``cpp_standalone`` (and runtime) a chunk's run stops itself after its images. Under
``cuda_standalone`` it cannot (see ``brainlearn.devices.STOPS_ITSELF``): every run is ``chunk``
presentations long, may end with its last presentation undecided (the controller's state and
that presentation's spike counts carry over), and the last run of a pass idles after its last
image, with theta's decay over the idle time undone on the host.
"""

from __future__ import annotations

import json
import signal
import time
from dataclasses import asdict
from pathlib import Path

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
    "train",
    "evaluate",
    "READOUTS",
    "save_npz",
    "load_npz",
    "load_images",
    "run_params",
    "initial_state",
    "make_sim",
    "frozen_chunks",
    "frozen_state",
    "merge_chunks",
    "finish_evaluation",
    "window_mask",
    "window_spikes",
    "present_chunk",
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


class TrainConfig(dict):
    """The configuration of a run (a dict stored as ``config.json``)."""

    @classmethod
    def create(
        cls,
        neurons: int = 100,
        examples: int | None = None,
        epochs: float | None = None,
        seed: int = 0,
        device: str = "cpp_standalone",
        threads: int | None = None,
        data: str = "full",
        timer: str = "brian1",
        chunk: int = DEFAULT_CHUNK,
        theta_plus: Quantity | None = None,
        params: str = "paper",
        integration: str = "euler",
    ) -> TrainConfig:
        """Validate the options and return a config.

        Exactly one of ``examples`` and ``epochs`` may be given (default: one epoch).
        ``theta_plus`` replaces the paper's threshold increment of 0.05 mV (a deviation from
        the paper, recorded in ``config.json``; see ``DiehlCookParams.spike_budget``).
        ``params`` names the parameter set: ``"paper"`` or ``"sized"`` (theta_plus scaled to
        the network size, ``DiehlCookParams.sized``; recorded the same way).
        """
        if integration not in INTEGRATIONS:
            raise ValueError(f"integration must be one of {INTEGRATIONS}, got {integration!r}")
        if params not in PARAM_SETS:
            raise ValueError(f"params must be one of {PARAM_SETS}, got {params!r}")
        if params != "paper" and theta_plus is not None:
            raise ValueError(f"theta_plus is set by the {params!r} parameter set; give one of "
                             "the two")
        if theta_plus is not None:
            check_quantity("theta_plus", theta_plus, mV)
            if not float(theta_plus / volt) > 0:
                raise ValueError(f"theta_plus must be positive, got {theta_plus!r}")
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        if timer not in TIMER_READINGS:
            raise ValueError(f"timer must be one of {TIMER_READINGS}, got {timer!r}")
        if data not in ("full", "embedded"):
            raise ValueError(f"data must be 'full' or 'embedded', got {data!r}")
        if int(neurons) < 1:
            raise ValueError(f"neurons must be positive, got {neurons}")
        if examples is not None and epochs is not None:
            raise ValueError("give epochs or examples, not both")
        if int(chunk) < 1:
            raise ValueError(f"chunk must be positive, got {chunk}")
        return cls(
            neurons=int(neurons), examples=None if examples is None else int(examples),
            epochs=None if epochs is None else float(epochs), seed=int(seed), device=device,
            threads=None if threads is None else int(threads), data=data, timer=timer,
            chunk=int(chunk),
            theta_plus=None if theta_plus is None else float(theta_plus / volt),
            param_set=params, integration=integration,
        )


def load_images(data: str, split: str):
    """MNIST ``split`` of ``data`` (``full`` or ``embedded``): float64 pixel rows and int64 labels."""
    from brainlearn.data import load_mnist

    images, labels = load_mnist(split, source=data)
    return images.reshape(len(images), -1).astype(np.float64), labels.astype(np.int64)


def run_params(config: dict) -> DiehlCookParams:
    """The network parameters of a run's config (paper values, ``timer``, ``theta_plus``)."""
    params = DiehlCookParams(timer=config.get("timer", "brian1"),
                             integration=config.get("integration", "euler"))
    if config.get("param_set", "paper") == "sized":
        params = params.sized(config["neurons"])
    if config.get("theta_plus") is not None:  # volts; None: the paper's 0.05 mV
        params = params.replace(exc=params.exc.replace(theta_plus=config["theta_plus"] * volt))
    return params


def write_untrained_run(run_dir: str | Path, config: dict) -> Path:
    """Create a run directory holding the network's initial (untrained) weights and theta.

    For benchmarks and tests of evaluation: ``evaluate`` reads it like a trained run.

    Parameters
    ----------
    run_dir : path
        New directory (must not exist).
    config : dict
        A :class:`TrainConfig`.

    Returns
    -------
    Path
        ``run_dir``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True)
    params = run_params(config)
    rundir.write_config(run_dir, {**config, "params": _describe(params)}, kind="diehl_cook")
    state = initial_state(params, config["neurons"], config["seed"])
    save_npz(run_dir / "weights.npz", weights=state["syn.w"].reshape(N_INPUTS, -1),
             theta=state["exc.theta"], delays=state["delays"].reshape(N_INPUTS, -1))
    return run_dir


def initial_state(params: DiehlCookParams, n: int, seed: int) -> dict:
    """The untrained network's state (``"object.variable"`` -> values) for ``n`` neurons."""
    rng = np.random.default_rng(seed)
    w = params.initial_weights(n, rng)
    delays = params.initial_delays(n, rng)
    exc, inh = params.exc, params.inh
    state = {
        "syn.w": w.ravel(),
        "syn.tpre": np.full(N_INPUTS * n, -1e9),
        "delays": delays.ravel(),
        "exc.v": np.full(n, float(exc.v_init / 1e-3) * 1e-3),
        "exc.ge": np.zeros(n), "exc.gi": np.zeros(n),
        "exc.theta": np.full(n, float(exc.theta_init / 1e-3) * 1e-3),
        "exc.post1": np.zeros(n), "exc.post2": np.zeros(n),
        "inh.v": np.full(n, float(inh.v_init / 1e-3) * 1e-3),
        "inh.ge": np.zeros(n), "inh.gi": np.zeros(n),
        "controller.intensity": np.array([params.intensity_start]),
        "controller.pending": np.array([0.0]), "controller.nspk": np.array([0.0]),
        "controller.retries": np.array([0.0]),
    }
    if params.stdp.scheme == "all-to-all":  # the pre trace's value at its last spike
        state["syn.pre"] = np.zeros(N_INPUTS * n)
    return state


#: state variables carried from chunk to chunk (besides the controller's)
TRAIN_VARS = ("syn.w", "syn.tpre", "syn.pre", "exc.v", "exc.ge", "exc.gi", "exc.theta", "exc.post1",
              "exc.post2", "inh.v", "inh.ge", "inh.gi")
TEST_VARS = ("syn.w", "exc.theta", "exc.v", "exc.ge", "exc.gi", "inh.v", "inh.ge", "inh.gi")
#: per-synapse state, kept in row order ``i * n + j`` outside the network
SYNAPSE_VARS = ("syn.w", "syn.tpre", "syn.pre")
CONTROL_VARS = ("controller.intensity", "controller.pending", "controller.nspk",
                "controller.retries")
#: spike counts of a run's undecided last presentation, carried to the next run
PENDING_COUNTS = "pending.counts"


def _table(images: np.ndarray, position: int, size: int, end: int) -> np.ndarray:
    """Pixel rows for global example indices position..position+size-1 (zeros past ``end``)."""
    idx = np.arange(position, position + size)
    table = images[idx % len(images)].copy()
    table[idx >= end] = 0.0
    return table


def present_chunk(sim: ChunkedSimulation, params, images, state, position, end, seed, plastic):
    """Run one chunk from ``position``; return (new_state, done, counts, spikes, result)."""
    size = sim_table_size(sim)
    limit = min(size, end - position)
    run_state = {k: v for k, v in state.items() if k in (TRAIN_VARS if plastic else TEST_VARS)}
    run_state.update({k: state[k] for k in CONTROL_VARS})
    run_state["controller.example"] = np.array([0.0])
    run_state["controller.limit"] = np.array([float(limit)])
    run_state["controller.capped"] = np.array([0.0])
    if plastic:
        w = state["syn.w"].reshape(N_INPUTS, -1)
        run_state["exc.wsum"] = w.sum(axis=0)
    order = sim.synapse_order  # row order (i * n + j) <-> the network's synapse order
    for key in SYNAPSE_VARS:
        if key in run_state:
            run_state[key] = np.asarray(run_state[key])[order]
    out = sim.run(run_state, _table(images, position, size, end), seed)

    ctl = out["controller"]
    example = int(round(float(ctl.example_[0])))
    stopped = example >= limit
    done = limit if stopped else example
    new_state = dict(state)
    for key in run_state:
        if key in state:
            name, var = key.split(".")
            new_state[key] = np.array(getattr(out[name], var + "_")[:], dtype=float)
            if key in SYNAPSE_VARS:
                new_state[key][order] = new_state[key].copy()
    # presentation starts in time order: the image shown and its intensity
    mon, pres = out["spikes"], out["presentations"]
    by_time = np.argsort(np.asarray(pres.t_[:]), kind="stable")
    starts = np.asarray(pres.t_[:])[by_time]
    shown = np.asarray(pres.example_[:])[by_time].round().astype(np.int64)
    intensities = np.asarray(pres.intensity_[:])[by_time]

    end_time = out["end_time"]
    if stopped:
        # The controller stops the run at the start of the presentation after the last image;
        # the run ends with that time step. Under cpp_standalone ``network.t`` reads the
        # compiled end time, not the stop time, so the stop time comes from the presentations.
        step = float(params.dt / second)
        stop_time = float(starts[shown >= limit][0]) + step
        if plastic and not sim.stops_itself:
            # A run that cannot stop itself (cuda_standalone) idles after its last image,
            # without input or spikes, to its fixed end; undo theta's decay over that idle
            # time so the state equals that of a run that stopped.
            idle_steps = round((end_time - stop_time) / step)
            x = float(params.dt / params.exc.tau_theta)  # one step of theta's decay
            decay_per_step = 1.0 - x if params.integration == "euler" else float(np.exp(-x))
            new_state["exc.theta"] = new_state["exc.theta"] * decay_per_step ** (-idle_steps)
        end_time = stop_time
    if plastic:  # pre-spike times relative to the next run's start
        new_state["syn.tpre"] = new_state["syn.tpre"] - end_time
    new_state["controller.pending"] = np.array([0.0 if stopped else 1.0])

    # spike counts of the last presentation of every example of the chunk
    period = float(params.period / second)
    t_input = float(params.t_input / second)
    i = np.asarray(mon.i_[:], dtype=np.int64)
    t = np.asarray(mon.t_[:], dtype=float)
    p = np.minimum((t / period + 1e-9).astype(np.int64), len(shown) - 1)
    in_window = (t - p * period) < t_input - 1e-9
    n = state["exc.v"].size
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
    carried = state.get(PENDING_COUNTS)
    if carried is not None and len(shown) and shown[0] >= 1:
        counts[0] = carried
    new_state.pop(PENDING_COUNTS, None)
    if not stopped and len(shown):
        pending = np.zeros(n, dtype=np.int32)
        np.add.at(pending, i[in_window & (p == len(shown) - 1)], 1)
        new_state[PENDING_COUNTS] = pending
    spikes = pd.DataFrame({"neuron": i, "t": t, "presentation": p, "example": shown[p]})
    info = {
        "presentations": int(valid.sum()),
        "capped": int(round(float(ctl.capped_[0]))),
        "wall_seconds": out["wall_seconds"],
        "end_time": end_time,
        "mean_intensity": float(intensities[valid].mean()) if valid.any() else 0.0,
        "pending": not stopped,
        "shown": pd.DataFrame({"example": shown, "start": starts}),
    }
    return new_state, done, counts[:done], spikes, info


def sim_table_size(sim: ChunkedSimulation) -> int:
    """Number of images in the simulation's pixel table."""
    return sim.table_size


def make_sim(config: dict, params, run_dir: Path, plastic: bool, delays: np.ndarray,
              build_name: str | None = None):
    """The run's compiled network (a :class:`ChunkedSimulation`; close it when done)."""
    n = config["neurons"]
    size = config["chunk"]
    if config["device"] == "cuda_standalone":
        require_brian2cuda()  # a missing extra is named first

    def build():
        return build_network(params, n, size, delays, plastic=plastic)

    if STOPS_ITSELF[config["device"]]:
        # the network stops itself after ``size`` images; the duration leaves room for retries
        duration = 2 * size * params.period
    else:
        # no in-network stop (cuda_standalone): every run is ``size`` presentations, so it
        # shows at most ``size`` images, and ends at a presentation boundary whose decision
        # the next run takes (the controller's state is carried)
        duration = size * params.period
    sim = ChunkedSimulation(
        build, duration, config["device"],
        run_dir / (build_name or ("build_train" if plastic else "build_eval")), config.get("threads"),
    )
    sim.table_size = size
    sim.synapse_order = synapse_order(delays, params.dt)
    return sim


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


def train(run_dir: str | Path, config: dict | None = None, progress: bool = True) -> dict:
    """Train (or continue training) the network of a run directory.

    Parameters
    ----------
    run_dir : path
        The run directory; created with ``config`` if new, resumed from its checkpoint if not.
    config : dict, optional
        A :class:`TrainConfig` for a new run (ignored when resuming).
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        The training metrics (also written to ``metrics.json``).
    """
    run_dir = Path(run_dir)
    ckpt_path = run_dir / "checkpoint.npz"
    new = not (run_dir / rundir.CONFIG).exists()
    if not new:
        config = rundir.read_config(run_dir, required=True)
    elif config is None:
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json) to resume")
    else:
        config = {**config, "kind": "diehl_cook", "params": _describe(run_params(config))}
    params = run_params(config)
    # the data is loaded before anything is written: a failed start leaves no run directory
    images, labels = load_images(config["data"], "train")
    if new:
        run_dir.mkdir(parents=True, exist_ok=True)
        rundir.write_config(run_dir, config)
    total = config["examples"]
    if total is None:
        total = int(round((config["epochs"] or 1.0) * len(images)))
        config["examples"] = total
        rundir.write_config(run_dir, config)

    ckpt: dict = {}
    if ckpt_path.exists():
        ckpt = load_npz(ckpt_path)
        state = {k: v for k, v in ckpt.items() if "." in k or k == "delays"}
        meta = json.loads(str(ckpt["meta"]))
    else:
        state = initial_state(params, config["neurons"], config["seed"])
        meta = {"position": 0, "chunk_index": 0, "presentations": 0, "capped": 0,
                "train_seconds": 0.0, "compile_seconds": 0.0, "training_accuracy": []}
        _checkpoint(ckpt_path, state, meta)
    prev_counts, prev_labels = ckpt.get("prev_counts"), ckpt.get("prev_labels")

    position = meta["position"]
    bar = tqdm(total=total, initial=position, unit="img", desc="train", disable=not progress,
               dynamic_ncols=True)
    sim = None
    try:
        with _Interrupt():
            while position < total:
                if sim is None:
                    sim = make_sim(config, params, run_dir, True, state["delays"].reshape(N_INPUTS, -1))
                    meta["compile_seconds"] += sim.compile_seconds
                seed = _chunk_seed(config["seed"], "train", meta["chunk_index"])
                state, done, counts, _, info = present_chunk(
                    sim, params, images, state, position, total, seed, plastic=True
                )
                chunk_labels = labels[np.arange(position, position + done) % len(images)]
                if prev_counts is not None and done:
                    readout = VoteReadout().fit(prev_counts, prev_labels)
                    acc = readout.score(counts, chunk_labels)
                    meta["training_accuracy"].append([position + done, acc])
                if done:
                    prev_counts, prev_labels = counts, chunk_labels
                position += done
                meta.update(
                    position=position, chunk_index=meta["chunk_index"] + 1,
                    presentations=meta["presentations"] + info["presentations"],
                    capped=meta["capped"] + info["capped"],
                    train_seconds=meta["train_seconds"] + info["wall_seconds"],
                )
                _checkpoint(ckpt_path, state, meta, prev_counts, prev_labels)
                bar.update(done)
                if info["capped"]:
                    tqdm.write(f"warning: {info['capped']} image(s) reached the retry cap "
                               f"({int(params.max_retries)} retries) with fewer than "
                               f"{int(params.min_spikes)} spikes")
    finally:
        bar.close()
        if sim is not None:
            sim.close()
    w = state["syn.w"].reshape(N_INPUTS, -1)
    save_npz(run_dir / "weights.npz", weights=w, theta=state["exc.theta"],
             delays=state["delays"].reshape(N_INPUTS, -1))
    metrics = rundir.read_metrics(run_dir)
    metrics.update(
        neurons=config["neurons"], train_examples=position, presentations=meta["presentations"],
        train_seconds=meta["train_seconds"], compile_seconds=meta["compile_seconds"],
        ms_per_example=1000 * meta["train_seconds"] / max(position, 1),
        capped_images=meta["capped"], training_accuracy=meta["training_accuracy"],
        device=config["device"], timer=config["timer"], data=config["data"],
        theta_plus_mV=float(params.exc.theta_plus / mV), param_set=config.get("param_set", "paper"),
        integration=params.integration,
    )
    rundir.write_json(run_dir / rundir.METRICS, metrics)
    return metrics


def _describe(params: DiehlCookParams) -> dict:
    return {k: str(v) for k, v in asdict(params).items()}


def _checkpoint(path, state, meta, prev_counts=None, prev_labels=None):
    extra = {}
    if prev_counts is not None:
        extra = {"prev_counts": prev_counts, "prev_labels": prev_labels}
    save_npz(path, meta=np.array(json.dumps(meta)), **state, **extra)


def _frozen_pass(sim, params, images, state, n_examples, stage, seed, bar,
                 reset_state_per_chunk=False):
    """Present ``n_examples`` images to the frozen network; return the state at its end,
    counts, spikes and presentations.

    With ``reset_state_per_chunk`` every chunk starts from ``state`` (see :func:`frozen_chunks`).
    """
    if reset_state_per_chunk:
        n_chunks = -(-n_examples // sim_table_size(sim))
        parts = frozen_chunks(sim, params, images, state, n_examples, stage, seed,
                               range(n_chunks), bar)
        return (state, *merge_chunks(parts))
    # one chunk spanning the whole pass: the state is carried from run to run
    (part,) = frozen_chunks(sim, params, images, state, n_examples, stage, seed, [0], bar,
                             span=n_examples)
    return part["state"], part["counts"], part["spikes"], part["presentations"]


# --- reset-per-chunk frozen pass (issue 7: sharded evaluation) -----------------------------
# Chunk k holds the images [k * chunk, (k + 1) * chunk) and starts from the pass's initial
# state (rest values of v, ge, gi, the controller; theta and weights are frozen anyway) with
# seed _chunk_seed(seed, stage, k), so every chunk's counts depend on that chunk alone: shards
# of whole chunks on different workers give exactly the serial result. A chunk whose run ends
# before its last image (retries used up the run's time) continues from where it stopped, with
# its state carried, in further runs seeded _chunk_seed(seed, stage, k, part).
def frozen_chunks(sim, params, images, state, n_examples, stage, seed, chunks, bar=None,
                   span=None):
    """Run whole chunks (indices ``chunks``, ``span`` images each, default the table size) of
    a frozen pass, each from ``state``.

    Returns one dict per chunk: ``index``, ``counts`` (its images' spike counts), ``spikes``
    (``example`` global, ``t`` from the chunk's start), ``presentations`` (``example`` global,
    ``start`` from the chunk's start: every presentation shown, retries included),
    ``end_time`` (seconds simulated) and ``state`` (the network state at its end).
    """
    size = span or sim_table_size(sim)
    parts = []
    for k in chunks:
        position, end = k * size, min((k + 1) * size, n_examples)
        run_state, run, t0 = state, 0, 0.0
        counts, spikes, shows = [], [], []
        while position < end:
            run_state, done, c, s, info = present_chunk(
                sim, params, images, run_state, position, end, _chunk_seed(seed, stage, k, run),
                plastic=False,
            )
            # an undecided last presentation's spikes belong to image ``done``
            s = s[s["example"] < done + int(info["pending"])].copy()
            s["example"] += position
            s["t"] += t0
            shown = info["shown"]
            shown = shown[shown["example"] < done + int(info["pending"])].copy()
            shows.append(shown.assign(example=shown["example"] + position, start=shown["start"] + t0))
            t0 += info["end_time"]
            counts.append(c)
            spikes.append(s)
            position += done
            run += 1
            if bar is not None:
                bar.update(done)
        parts.append({"index": k, "counts": np.concatenate(counts),
                      "spikes": pd.concat(spikes, ignore_index=True), "end_time": t0,
                      "presentations": pd.concat(shows, ignore_index=True), "state": run_state})
    return parts


def merge_chunks(parts):
    """Counts, spikes and presentations of a pass from its chunks (any order; times made
    continuous)."""
    parts = sorted(parts, key=lambda p: p["index"])
    offset, spikes, shows = 0.0, [], []
    for p in parts:
        spikes.append(p["spikes"].assign(t=p["spikes"]["t"] + offset))
        shows.append(p["presentations"].assign(start=p["presentations"]["start"] + offset))
        offset += p["end_time"]
    return (np.concatenate([p["counts"] for p in parts]), pd.concat(spikes, ignore_index=True),
            pd.concat(shows, ignore_index=True))


def frozen_state(config: dict, params, weights: dict) -> dict:
    """Initial state of the frozen network: trained weights and theta, rest values."""
    state = initial_state(params, config["neurons"], config["seed"])
    state.update({"syn.w": weights["weights"].ravel(), "exc.theta": weights["theta"]})
    return {k: v for k, v in state.items() if k in TEST_VARS + CONTROL_VARS}
# --------------------------------------------------------------------------------------------


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
    run_dir = Path(run_dir)
    config = rundir.read_config(run_dir, required=True)
    if device is not None:
        config = {**config, "device": device}
    params = run_params(config)
    weights = load_npz(run_dir / "weights.npz") if (run_dir / "weights.npz").exists() else None
    if weights is None:
        raise FileNotFoundError(f"{run_dir} has no trained weights (weights.npz): train first")
    train_images, train_labels = load_images(config["data"], "train")
    test_images, test_labels = load_images(config["data"], "test")
    n_assign = len(train_images) if assign_examples is None else min(int(assign_examples), len(train_images))
    n_test = len(test_images) if test_examples is None else min(int(test_examples), len(test_images))
    if n_assign < 1 or n_test < 1:
        raise ValueError("assign and test examples must be positive")
    unknown = [r for r in readouts if r not in READOUTS]
    if unknown:
        raise ValueError(f"unknown readout(s) {unknown}; choose from {READOUTS}")

    state = frozen_state(config, params, weights)
    start = time.perf_counter()
    sim = make_sim(config, params, run_dir, False, weights["delays"])
    compile_seconds = sim.compile_seconds
    bar = tqdm(total=n_assign + n_test, unit="img", desc="evaluate", disable=not progress,
               dynamic_ncols=True)
    try:
        with _Interrupt():
            state_a, assign_counts, assign_spikes, assign_shown = _frozen_pass(
                sim, params, train_images, state, n_assign, "assign", config["seed"], bar,
                reset_state_per_chunk,
            )
            _, test_counts, test_spikes, test_shown = _frozen_pass(
                sim, params, test_images, state if reset_state_per_chunk else state_a, n_test,
                "test", config["seed"], bar, reset_state_per_chunk,
            )
    finally:
        bar.close()
        sim.close()
    eval_seconds = time.perf_counter() - start
    return finish_evaluation(
        run_dir, config, readouts, assign_counts, train_labels[:n_assign], test_counts,
        test_labels[:n_test], test_spikes, test_shown,
        assign_spikes=assign_spikes, assign_presentations=assign_shown,
        eval_seconds=eval_seconds, eval_compile_seconds=compile_seconds,
        eval_ms_per_example=1000 * (eval_seconds - compile_seconds) / (n_assign + n_test),
        reset_state_per_chunk=bool(reset_state_per_chunk),
    )


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


def finish_evaluation(run_dir: Path, config: dict, readouts, assign_counts, assign_labels,
                      test_counts, test_labels, test_spikes, test_presentations, *,
                      assign_spikes: pd.DataFrame, assign_presentations: pd.DataFrame,
                      **extra) -> dict:
    """Fit the readouts on the assignment counts, score them on the test counts and write
    ``eval_counts.npz``, the test pass's spikes and examples (``spikes.parquet``,
    ``examples.parquet``: each example's start and the duration of its presentations), the
    spikes the counts of both passes were taken from, timed from each example's window
    (``assign_spikes.parquet``, ``test_spikes.parquet``: what the e-prop readout trains and
    is scored on) and ``metrics.json`` (serial and sharded runs).

    ``assign_spikes`` may hold only the assignment spikes :func:`window_mask` keeps."""
    vote = VoteReadout().fit(assign_counts, assign_labels)
    predictions = vote.predict(test_counts)
    accuracy = float((predictions == test_labels).mean())
    save_npz(run_dir / "eval_counts.npz", assign_counts=assign_counts.astype(np.int32),
             assign_labels=assign_labels, test_counts=test_counts.astype(np.int32),
             test_labels=test_labels, assignments=vote.assignments_, predictions=predictions)
    examples = rundir.examples_from_presentations(
        test_presentations["example"], test_presentations["start"],
        float(run_params(config).period / second), labels=test_labels,
    )
    rundir.write_spikes(run_dir, test_spikes["neuron"], test_spikes["t"], population="exc",
                        n_neurons=config["neurons"], example=test_spikes["example"],
                        examples=examples)
    params = run_params(config)
    for stage, spikes, shown, labels in (
            ("assign", assign_spikes, assign_presentations, assign_labels),
            ("test", test_spikes, test_presentations, test_labels)):
        window = window_spikes(spikes, shown, params)
        rundir.write_window_spikes(run_dir, stage, window["neuron"], window["t"],
                                   window["example"], labels, population="exc",
                                   n_neurons=config["neurons"],
                                   window=float(params.t_input / second))
    metrics = rundir.read_metrics(run_dir)
    metrics.update(_readout_scores(readouts, assign_counts, assign_labels, test_counts,
                                   test_labels, config["seed"]))
    metrics.update(
        neurons=config["neurons"], assign_examples=len(assign_labels),
        test_examples=len(test_labels), accuracy=accuracy, accuracy_vote=accuracy,
        test_spikes_per_example=float(test_counts.sum(axis=1).mean()), **extra,
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
