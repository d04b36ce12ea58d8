"""The recorded hidden-layer spikes of a Diehl & Cook run, as the hybrid's input.

A finished Diehl & Cook run recorded, for its label-assignment (training) images and its test
images, the spikes of its excitatory layer in each image's input window
(``assign_spikes.parquet``, ``test_spikes.parquet``; :func:`brainlearn.rundir.read_window_spikes`).
:class:`RecordedSpikes` holds one stage of them and bins them into ``steps`` steps per image on
demand (:func:`brainlearn.encoding.spike_trains`). :class:`DenseSpikes` offers the same
interface for spike trains already binned, e.g. those a user gives the scikit-learn estimator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn import rundir
from brainlearn.encoding import spike_trains

__all__ = ["RecordedSpikes", "DenseSpikes"]


class RecordedSpikes:
    """The recorded hidden-layer spikes of one stage of a run, as spike trains on demand.

    Parameters
    ----------
    spikes : DataFrame
        ``neuron``, ``example``, ``t`` (s from the example's window start).
    n_neurons : int
        Hidden layer size.
    window : float
        Window length in seconds.
    labels : array of int
        Class of every example (silent examples included).
    """

    def __init__(self, spikes: pd.DataFrame, n_neurons: int, window: float, labels) -> None:
        self.labels = np.asarray(labels, dtype=np.int64)
        self.n_neurons = int(n_neurons)
        self.window = float(window)
        example = spikes["example"].to_numpy(np.int64)
        order = np.argsort(example, kind="stable")
        self._example = example[order]
        self._neuron = spikes["neuron"].to_numpy(np.int64)[order]
        self._t = spikes["t"].to_numpy(np.float64)[order]
        self._offsets = np.searchsorted(self._example, np.arange(len(self.labels) + 1))

    @classmethod
    def from_run(cls, run_dir: str | Path, stage: str) -> RecordedSpikes:
        """The ``"assign"`` or ``"test"`` spikes a run recorded (:func:`rundir.read_window_spikes`)."""
        spikes, attrs = rundir.read_window_spikes(run_dir, stage)
        (n_neurons,) = attrs["n_neurons"].values()
        return cls(spikes, n_neurons, attrs["window"], attrs["labels"])

    def take(self, examples) -> RecordedSpikes:
        """The spikes of the given examples only, renumbered ``0 .. len(examples) - 1``."""
        examples = np.asarray(examples, dtype=np.int64)
        start, stop = self._offsets[examples], self._offsets[examples + 1]
        lengths = stop - start
        rows = np.repeat(start - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        sub = pd.DataFrame({"neuron": self._neuron[rows], "t": self._t[rows],
                            "example": np.repeat(np.arange(len(examples)), lengths)})
        return RecordedSpikes(sub, self.n_neurons, self.window, self.labels[examples])

    def __len__(self) -> int:
        return len(self.labels)

    def spike_counts(self, examples=None) -> np.ndarray:
        """Spikes per example (all hidden neurons)."""
        examples = np.arange(len(self)) if examples is None else np.asarray(examples)
        return (self._offsets[examples + 1] - self._offsets[examples]).astype(np.float64)

    def trains(self, examples, steps: int) -> np.ndarray:
        """Spike trains ``(len(examples), steps, n_neurons)`` (uint8) of the given examples.

        Binned by :func:`brainlearn.encoding.spike_trains`: a spike at ``t`` falls
        on step ``floor(t * steps / window)``.
        """
        sub = self.take(examples)
        frame = pd.DataFrame({"neuron": sub._neuron, "t": sub._t, "example": sub._example})
        return spike_trains(frame, len(sub), self.n_neurons, steps, self.window)

    def binned(self, examples, steps: int, chunk: int = 1000
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(position in examples, step, neuron)`` of every spike of :meth:`trains`.

        Built ``chunk`` examples at a time, so the dense trains of all examples never exist.
        """
        examples = np.asarray(examples, dtype=np.int64)
        parts = []
        for first in range(0, len(examples), chunk):
            pos, step, neuron = np.nonzero(self.trains(examples[first:first + chunk], steps))
            parts.append((pos + first, step, neuron))
        if not parts:
            return tuple(np.zeros(0, np.int64) for _ in range(3))
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


class DenseSpikes:
    """Hidden spike trains already binned into steps: the interface of :class:`RecordedSpikes`.

    Parameters
    ----------
    trains : array (n_examples, n_time_steps, n_neurons)
        Spikes per step (0/1, or any real input per step).
    labels : array of int, optional
        Class of every example (zeros when not given: for prediction).
    window : float
        Seconds per example the steps stand for (0.35, the Diehl & Cook window).
    """

    def __init__(self, trains, labels=None, window: float = 0.35) -> None:
        self._trains = np.asarray(trains)
        if self._trains.ndim != 3:
            raise ValueError("spike trains must be (examples, steps, neurons), got shape "
                             f"{self._trains.shape}")
        n = len(self._trains)
        self.labels = (np.zeros(n, np.int64) if labels is None
                       else np.asarray(labels, dtype=np.int64))
        self.n_neurons = int(self._trains.shape[2])
        self.steps = int(self._trains.shape[1])
        self.window = float(window)

    def __len__(self) -> int:
        return len(self._trains)

    def _check_steps(self, steps: int) -> None:
        if int(steps) != self.steps:
            raise ValueError(f"the spike trains have {self.steps} steps per example, the layer "
                             f"runs {steps}")

    def spike_counts(self, examples=None) -> np.ndarray:
        """Spikes (summed input) per example."""
        examples = np.arange(len(self)) if examples is None else np.asarray(examples)
        return self._trains[examples].sum(axis=(1, 2)).astype(np.float64)

    def trains(self, examples, steps: int) -> np.ndarray:
        """The trains ``(len(examples), steps, n_neurons)`` of the given examples."""
        self._check_steps(steps)
        return self._trains[np.asarray(examples, dtype=np.int64)]

    def binned(self, examples, steps: int, chunk: int = 1000
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(position in examples, step, neuron)`` of every non-zero entry (0/1 trains)."""
        trains = self.trains(examples, steps)
        if np.any((trains != 0) & (trains != 1)):
            raise ValueError("Brian2 replays spikes: the trains must hold 0 and 1 only")
        return tuple(np.nonzero(trains))

