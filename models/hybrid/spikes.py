"""The recorded hidden-layer spikes of a Diehl & Cook run, as the hybrid's input.

A finished Diehl & Cook run recorded, for its label-assignment (training) images and its test
images, the spikes of its excitatory layer in each image's input window
(``assign_spikes.parquet``, ``test_spikes.parquet``; :func:`brainlearn.rundir.read_window_spikes`).
:class:`RecordedSpikes` holds one stage of them and bins them into ``steps`` steps per image on
demand (:func:`brainlearn.encoding.spike_trains`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn import rundir
from brainlearn.encoding import spike_trains

__all__ = ["RecordedSpikes"]


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

