"""The trained output layer of the hybrid as data: :class:`HybridLayer` and its ``.npz`` file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn.atomic import save_npz
from brainlearn.models.surrogate.gradients import Surrogate
from brainlearn.neurons import DiscreteLIF

__all__ = ["HybridLayer"]


@dataclass
class HybridLayer:
    """The trained LIF output layer of the hybrid.

    Attributes
    ----------
    weights : ndarray (n_hidden, n_classes)
        Hidden-to-output weights (float32).
    bias : ndarray (n_classes,)
        Constant input per step (zeros when trained without bias).
    beta, threshold : float
        Membrane decay per step and threshold (:class:`~brainlearn.neurons.DiscreteLIF`).
    steps : int
        Steps per image; each lasts ``window / steps`` of recorded time (1 ms in Brian2).
    window : float
        Recorded window per image, seconds (0.35 for Diehl & Cook).
    surrogate : Surrogate
    history : DataFrame
        ``epoch, loss, train_accuracy, validation_accuracy, seconds`` per epoch.
    config : dict
        Training settings.
    """

    weights: np.ndarray
    bias: np.ndarray
    beta: float = 0.95
    threshold: float = 1.0
    steps: int = 350
    window: float = 0.35
    surrogate: Surrogate = field(default_factory=Surrogate)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    config: dict = field(default_factory=dict)

    @property
    def neuron(self) -> DiscreteLIF:
        """The output neuron model."""
        return DiscreteLIF(beta=self.beta, v_thresh=self.threshold)

    @property
    def n_parameters(self) -> int:
        """Trained parameters (weights, and biases when trained with them)."""
        return int(self.weights.size + (self.bias.size if self.config.get("bias", True) else 0))

    def save(self, path: str | Path) -> Path:
        """Write weights, settings and training curve to ``path`` (``.npz``, atomically)."""
        meta = {"beta": self.beta, "threshold": self.threshold, "steps": self.steps,
                "window": self.window, "surrogate": self.surrogate.name,
                "surrogate_scale": self.surrogate.scale, "config": self.config}
        history = {f"history_{c}": self.history[c].to_numpy() for c in self.history.columns}
        return save_npz(path, weights=self.weights, bias=self.bias,
                        meta=np.array(json.dumps(meta)), **history)

    @classmethod
    def load(cls, path: str | Path) -> HybridLayer:
        """Read a layer written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no trained hybrid layer at {path}; train one with "
                                    f"`brainlearn hybrid train {path.parent.parent}`")
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            history = pd.DataFrame({k[len("history_"):]: data[k] for k in data.files
                                    if k.startswith("history_")})
            weights, bias = data["weights"], data["bias"]
        return cls(weights, bias, meta["beta"], meta["threshold"], int(meta["steps"]),
                   float(meta["window"]), Surrogate(meta["surrogate"], meta["surrogate_scale"]),
                   history, meta.get("config", {}))
