"""The trained network as data: :class:`SpikingMLP`, its output :class:`Activity`, :func:`decode`.

A :class:`SpikingMLP` holds the weights, biases and neuron settings of a feed-forward network of
discrete LIF layers (:class:`~brainlearn.neurons.DiscreteLIF` or
:class:`~brainlearn.neurons.SpikingJellyLIF`) and reads and writes them as one ``.npz`` file.
Both the trainer's forward pass and the Brian2 network return an :class:`Activity`; the class of
an example is the output neuron with the most spikes, ties broken by the larger summed membrane.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn.atomic import save_npz
from brainlearn.lanes import layer_arrays
from brainlearn.models.surrogate.gradients import Surrogate
from brainlearn.models.surrogate.lif import NEURONS
from brainlearn.neurons import DiscreteLIF, SpikingJellyLIF

__all__ = ["ENCODERS", "SpikingMLP", "Activity", "decode"]

#: input encoders: the image as a constant current every step, or per-step Bernoulli spikes
ENCODERS = ("static", "poisson")


@dataclass
class SpikingMLP:
    """A feed-forward network of discrete LIF layers.

    Attributes
    ----------
    weights, biases : list of numpy.ndarray
        ``weights[l]`` is ``(n_in, n_out)``, ``biases[l]`` is ``(n_out,)`` (float32; zeros
        when the network has no bias).
    beta, threshold : float
        Membrane decay per step and firing threshold of every layer (with
        ``neuron_kind="spikingjelly"``, ``beta = 1 - 1 / tau``).
    steps : int
        Time steps per inference.
    surrogate : Surrogate
        Used in training (kept for the record).
    history : pandas.DataFrame
        Training curve per epoch (``epoch, loss, train_accuracy, seconds``, and
        ``test_accuracy`` when a test set was given).
    config : dict
        Training settings.
    neuron_kind : {"snntorch", "spikingjelly"}
        :class:`~brainlearn.neurons.DiscreteLIF` or :class:`~brainlearn.neurons.SpikingJellyLIF`.
    tau, decay_input, reset, detach_reset
        The SpikingJelly neuron's settings (ignored for ``"snntorch"``, whose reset subtracts
        the threshold, detached).
    encoder : {"static", "poisson"}
        Input of the first layer: the image as a constant current, or per-step Bernoulli spikes
        (:func:`brainlearn.encoding.bernoulli_steps`).
    bias : bool
        Whether the layers have (trained) biases.
    """

    weights: list
    biases: list
    beta: float = 0.95
    threshold: float = 1.0
    steps: int = 25
    surrogate: Surrogate = field(default_factory=Surrogate)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    config: dict = field(default_factory=dict)
    neuron_kind: str = "snntorch"
    tau: float = 2.0
    decay_input: bool = True
    reset: str = "zero"
    detach_reset: bool = False
    encoder: str = "static"
    bias: bool = True

    def __post_init__(self) -> None:
        if self.neuron_kind not in NEURONS:
            raise ValueError(f"neuron must be one of {', '.join(NEURONS)}, "
                             f"got {self.neuron_kind!r}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {self.encoder!r}")
        if self.neuron_kind == "spikingjelly":
            self.beta = self.neuron.beta

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer sizes, input first (e.g. ``(784, 1000, 10)``)."""
        return (self.weights[0].shape[0], *(w.shape[1] for w in self.weights))

    @property
    def n_parameters(self) -> int:
        """Trainable parameters (weights, and biases if the network has them)."""
        return int(sum(w.size + (b.size if self.bias else 0)
                       for w, b in zip(self.weights, self.biases, strict=True)))

    @property
    def neuron(self) -> DiscreteLIF | SpikingJellyLIF:
        """The neuron model of every layer."""
        if self.neuron_kind == "spikingjelly":
            return SpikingJellyLIF(tau=self.tau, decay_input=self.decay_input,
                                   v_thresh=self.threshold, reset_mode=self.reset)
        return DiscreteLIF(beta=self.beta, v_thresh=self.threshold)

    def save(self, path) -> Path:
        """Write weights, settings and training curve to an ``.npz`` file, atomically."""

        meta = {"beta": self.beta, "threshold": self.threshold, "steps": self.steps,
                "surrogate": self.surrogate.name, "surrogate_scale": self.surrogate.scale,
                "config": self.config, "neuron": self.neuron_kind, "tau": self.tau,
                "decay_input": self.decay_input, "reset": self.reset,
                "detach_reset": self.detach_reset, "encoder": self.encoder, "bias": self.bias}
        arrays = layer_arrays(self.weights, self.biases, self.history)
        return save_npz(path, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path) -> SpikingMLP:
        """Read a network written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no spiking network at {path}; train one with `brainlearn surrogate train`")
        with np.load(path) as data:
            n = sum(1 for k in data.files if k.startswith("w"))
            weights = [data[f"w{k}"] for k in range(n)]
            biases = [data[f"b{k}"] for k in range(n)]
            meta = json.loads(str(data["meta"]))
            history = pd.DataFrame(
                {k[len("history_"):]: data[k] for k in data.files if k.startswith("history_")})
        return cls(weights, biases, meta["beta"], meta["threshold"], int(meta["steps"]),
                   Surrogate(meta["surrogate"], meta["surrogate_scale"]), history,
                   meta.get("config", {}), neuron_kind=meta.get("neuron", "snntorch"),
                   tau=meta.get("tau", 2.0), decay_input=meta.get("decay_input", True),
                   reset=meta.get("reset", "zero"), detach_reset=meta.get("detach_reset", False),
                   encoder=meta.get("encoder", "static"), bias=meta.get("bias", True))


@dataclass
class Activity:
    """Output activity of a spiking network over one inference per example.

    Attributes
    ----------
    counts : numpy.ndarray
        ``(n, n_classes)`` output spike counts over the ``steps`` steps.
    membrane : numpy.ndarray
        ``(n, n_classes)`` output membrane ``U[t]`` (before its reset) summed over the steps.
    spikes : numpy.ndarray
        ``(n,)`` spikes of all LIF neurons (hidden and output) per example.
    """

    counts: np.ndarray
    membrane: np.ndarray
    spikes: np.ndarray

    def predict(self, decode_by: str = "count") -> np.ndarray:
        """Predicted class per example (see :func:`decode`)."""
        return decode(self.counts, self.membrane, decode_by)


def decode(counts, membrane, by: str = "count") -> np.ndarray:
    """Class per example: most output spikes, ties broken by the larger summed membrane.

    ``by="membrane"`` uses the summed output membrane alone.
    """
    counts, membrane = np.asarray(counts, float), np.asarray(membrane, float)
    if by == "membrane":
        return np.argmax(membrane, axis=1)
    if by != "count":
        raise ValueError(f"decode must be 'count' or 'membrane', got {by!r}")
    tied = counts == counts.max(axis=1, keepdims=True)
    return np.argmax(np.where(tied, membrane, -np.inf), axis=1)


