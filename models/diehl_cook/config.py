"""The configuration of a Diehl & Cook run (``config.json``) and what it names: the
parameters, the images, the seeds of its chunks."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from brian2 import Quantity, mV, volt

from brainlearn import rundir
from brainlearn.checks import check_count, check_memory, check_number, check_seed
from brainlearn.devices import DEVICES
from brainlearn.models.diehl_cook.model import (
    INTEGRATIONS,
    N_INPUTS,
    PARAM_SETS,
    SIZED_REFERENCE,
    TIMER_READINGS,
    DiehlCookParams,
)
from brainlearn.units import check_quantity, parse_quantity

__all__ = ["DEFAULT_CHUNK", "DATA_SOURCES", "TrainConfig", "read_run_config", "load_images", "training_images",
           "evaluation_images", "run_params", "load_npz", "chunk_seed", "network_memory",
           "REQUIRED_KEYS"]

DEFAULT_CHUNK = 1000
#: where a run's images come from: full MNIST, the embedded subset, or arrays given to
#: ``train(..., images=...)`` (:class:`~brainlearn.models.diehl_cook.DiehlCookClassifier`)
DATA_SOURCES = ("full", "embedded", "arrays")


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


#: bytes per input synapse (784 x N: weight, delay, STDP traces, indices, Brian2's own
#: arrays and brainlearn's copies of weights and delays) and per inhibitory synapse
#: (N x (N - 1): indices and Brian2's arrays), rounded up
BYTES_PER_INPUT_SYNAPSE = 96
BYTES_PER_INHIBITORY_SYNAPSE = 24


def network_memory(neurons: int) -> float:
    """An upper estimate of the memory (bytes) the network of ``neurons`` excitatory cells
    needs: ``784 N`` plastic input synapses and ``N (N - 1)`` inhibitory ones (Diehl & Cook
    2015, Fig. 1), see :data:`BYTES_PER_INPUT_SYNAPSE`. N=6400 needs about 1.4 GiB."""
    n = float(neurons)
    return N_INPUTS * n * BYTES_PER_INPUT_SYNAPSE + n * (n - 1) * BYTES_PER_INHIBITORY_SYNAPSE


def chunk_seed(seed: int, stage: str, index: int, part: int = 0) -> int:
    """The random seed of chunk ``index`` of ``stage`` (``train``, ``assign``, ``test``) of a
    run seeded ``seed``; ``part`` > 0: continuation runs of one chunk (an evaluation chunk
    whose run ended before its last image)."""
    stage_code = {"train": 0, "assign": 1, "test": 2}[stage]
    entropy = [seed, stage_code, index] + ([part] if part else [])
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] % (2**31))


def _held_out(validation) -> int:
    """``validation`` as a number of held-out images (0 or more)."""
    try:
        return check_count("validation", validation, minimum=0)
    except ValueError:
        raise ValueError(f"validation must be 0 or a number of images, got {validation!r}") from None


@dataclass(frozen=True)
class TrainConfig:
    """The configuration of a run, stored as ``config.json`` (:meth:`to_json`).

    ``theta_plus`` replaces the paper's threshold increment of 0.05 mV (a deviation from the
    paper, recorded in ``config.json``; see ``DiehlCookParams.spike_budget``). ``param_set``
    names the parameter set: ``"paper"`` or ``"sized"`` (theta_plus scaled to the network
    size, ``DiehlCookParams.sized``). ``examples`` (or ``epochs``; default one epoch) is the
    number of training images; ``code_version`` an optional note of the code that ran it.

    ``sized_reference`` is the reference size of a ``"sized"`` run (``DiehlCookParams.sized``;
    new runs: ``SIZED_REFERENCE``; a ``config.json`` of a sized run without it ran 400).

    ``validation`` holds out the last ``validation`` images of the training split: the run
    never trains on them, and its evaluation scores them instead of the test set (labels
    assigned on the remaining training images). Such a run is for choosing options on
    training data alone (``brainlearn mnist tune``); the chosen options are then trained with
    ``validation=0`` and scored on the test set.
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
    integration: str = "implicit_euler"
    code_version: str | None = None
    validation: int = 0
    sized_reference: int | None = None

    def __post_init__(self) -> None:
        if self.integration not in INTEGRATIONS:
            raise ValueError(f"integration must be one of {INTEGRATIONS}, got {self.integration!r}")
        if self.param_set not in PARAM_SETS:
            raise ValueError(f"params must be one of {PARAM_SETS}, got {self.param_set!r}")
        if self.sized_reference is not None and (self.param_set != "sized"
                                                 or int(self.sized_reference) < 1):
            raise ValueError("sized_reference is a positive network size of the 'sized' "
                             f"parameter set, got {self.sized_reference!r} with "
                             f"{self.param_set!r}")
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
        if self.data not in DATA_SOURCES:
            raise ValueError(f"data must be one of {DATA_SOURCES}, got {self.data!r}")
        check_count("neurons", self.neurons)
        check_count("chunk", self.chunk)
        _held_out(self.validation)
        check_count("examples", self.examples, allow_none=True)
        check_number("epochs", self.epochs, positive=True, allow_none=True)
        check_count("threads", self.threads, allow_none=True)
        check_seed("seed", self.seed)

    @classmethod
    def create(cls, neurons: int = 100, examples: int | None = None,
               epochs: float | None = None, seed: int = 0, device: str = "cpp_standalone",
               threads: int | None = None, data: str = "full", timer: str = "brian1",
               chunk: int = DEFAULT_CHUNK, theta_plus: Quantity | str | None = None,
               params: str = "paper", integration: str = "implicit_euler",
               validation: int = 0) -> TrainConfig:
        """Validate the options and return a config (``params``: the parameter set).

        ``theta_plus`` may be written with its unit (``"0.0125 mV"``). At most one of
        ``examples`` and ``epochs`` may be given (default: one epoch; a run
        stores the number of images it works out as ``examples``; with ``validation`` an
        epoch is the training images less the held-out ones).
        """
        if examples is not None and epochs is not None:
            raise ValueError("give epochs or examples, not both")
        if isinstance(theta_plus, str):  # written with its unit, e.g. "0.0125 mV"
            theta_plus = parse_quantity("theta_plus", theta_plus, mV)
        neurons = check_count("neurons", neurons)
        check_memory(f"a network of N={neurons} neurons", network_memory(neurons))
        return cls(neurons=neurons, examples=check_count("examples", examples, allow_none=True),
                   epochs=check_number("epochs", epochs, positive=True, allow_none=True),
                   seed=check_seed("seed", seed), device=device,
                   threads=check_count("threads", threads, allow_none=True), data=data,
                   timer=timer, chunk=check_count("chunk", chunk), theta_plus=theta_plus,
                   param_set=params, integration=integration,
                   validation=_held_out(validation),
                   sized_reference=SIZED_REFERENCE if params == "sized" else None)

    @classmethod
    def from_json(cls, data: Mapping) -> TrainConfig:
        """The config of a ``config.json`` (``theta_plus`` in volts; keys that older runs did
        not write take their defaults, except ``integration``: ``"euler"``, and a sized run's
        ``sized_reference``: 400, what they ran; keys that are not options are ignored)."""
        known = {f.name for f in fields(cls)}
        # runs written before the integration was recorded ran the original's forward Euler
        values = {"integration": "euler"} | {k: v for k, v in data.items() if k in known}
        # sized runs written before the reference was recorded ran N=400's budget margin
        if values.get("param_set") == "sized" and values.get("sized_reference") is None:
            values["sized_reference"] = 400
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
        if data["sized_reference"] is None:  # written for sized runs only
            del data["sized_reference"]
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
            params = params.sized(self.neurons, self.sized_reference or SIZED_REFERENCE)
        if self.theta_plus is not None:
            params = params.replace(exc=params.exc.replace(theta_plus=self.theta_plus))
        return params


#: keys every Diehl & Cook ``config.json`` holds (the others have defaults, see
#: :meth:`TrainConfig.from_json`)
REQUIRED_KEYS = ("neurons", "seed")


def read_run_config(run_dir: str | Path, device: str | None = None) -> TrainConfig:
    """The config of a run directory (``device`` overrides the run's).

    Raises
    ------
    ValueError
        One line naming ``config.json`` when it lacks one of :data:`REQUIRED_KEYS` or holds
        a value that is not an option's (before anything is built or compiled).
    """
    data = rundir.read_config(run_dir, required=True)
    path = Path(run_dir) / rundir.CONFIG
    missing = [key for key in REQUIRED_KEYS if data.get(key) is None]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: it is not the config of a "
                         "complete Diehl & Cook run (train it again, or restore the file)")
    try:
        config = TrainConfig.from_json(data)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return config if device is None else config.replace(device=device)


def load_images(data: str, split: str):
    """MNIST ``split`` of ``data`` (``full`` or ``embedded``): float64 pixel rows and int64 labels."""
    from brainlearn.data import load_mnist

    images, labels = load_mnist(split, source=data)
    return images.reshape(len(images), -1).astype(np.float64), labels.astype(np.int64)


def _training_split(config: TrainConfig):
    # the training split, and how many of its images are kept for training
    if config.data == "arrays":
        raise ValueError("this run was trained on images given to DiehlCookClassifier.fit, "
                         "not on MNIST: score it with DiehlCookClassifier.load(RUN).score(X, y)")
    images, labels = load_images(config.data, "train")
    kept = len(images) - int(config.validation)
    if kept < 1:
        raise ValueError(f"validation {config.validation} leaves no training images (the "
                         f"{config.data} training split has {len(images)})")
    return images, labels, kept


def training_images(config: TrainConfig):
    """The images a run trains on: the training split less its ``validation`` held-out tail."""
    images, labels, kept = _training_split(config)
    return images[:kept], labels[:kept]


def evaluation_images(config: TrainConfig) -> dict:
    """The two passes of a run's evaluation, ``{"assign": (x, y), "test": (x, y)}``: labels
    are assigned on the training images, and scored on the test split, or on the held-out
    training images of a run with ``validation``."""
    images, labels, kept = _training_split(config)
    if kept == len(images):
        return {"assign": (images, labels), "test": load_images(config.data, "test")}
    return {"assign": (images[:kept], labels[:kept]), "test": (images[kept:], labels[kept:])}


def run_params(config: TrainConfig | Mapping) -> DiehlCookParams:
    """The network parameters of a run's config (see :meth:`TrainConfig.params`)."""
    return TrainConfig.of(config).params()
