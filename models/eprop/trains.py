"""Spike trains for the e-prop readout: from a run's recorded spikes, or from spike counts.

A Diehl & Cook run records, for its label-assignment (training) and test images, the spikes
their counts were taken from, timed from the start of each image's input window
(``assign_spikes.parquet``, ``test_spikes.parquet``; see :mod:`brainlearn.rundir`). Every
image becomes a sequence of ``steps`` readout steps: the recorded spike of neuron ``j`` at
time ``t`` of a window of length ``T_w`` falls on step ``floor(t steps / T_w)`` (the default
50 steps of 1 ms play the 350 ms window at 7x speed; ``steps`` = 700 replays it step for step
at the network's 0.5 ms). :func:`counts_to_spike_trains` (counts spread evenly) remains for
spike counts without timing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainlearn import rundir
from brainlearn.encoding import spike_trains  # the core's; kept here for e-prop's users

__all__ = ["counts_to_spike_trains", "spike_trains", "recorded_trains"]


def counts_to_spike_trains(counts: np.ndarray, steps: int) -> np.ndarray:
    """Spike trains (images * steps, neurons) with each count spread evenly over ``steps``.

    Parameters
    ----------
    counts : ndarray (images, neurons)
        Spike counts per image (more than ``steps`` is clipped to one spike per step).
    steps : int
        Time steps per image.
    """
    counts = np.minimum(np.asarray(counts, dtype=int), steps)
    n_img, n = counts.shape
    out = np.zeros((n_img, steps, n))
    img, neuron = np.nonzero(counts)
    for a, j in zip(img, neuron, strict=True):
        c = counts[a, j]
        out[a, ((np.arange(c) + 0.5) * steps / c).astype(int), j] = 1
    return out.reshape(n_img * steps, n)


def recorded_trains(run_dir: str | Path, stage: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Spike trains ``(images, steps, neurons)`` and labels of a run's ``stage`` images.

    From the spikes the run recorded (``assign_spikes.parquet`` or ``test_spikes.parquet``);
    a run evaluated before they were recorded raises ``FileNotFoundError`` saying so.

    Parameters
    ----------
    run_dir : path
        An evaluated Diehl & Cook run directory.
    stage : str
        ``"assign"`` (the label-assignment images) or ``"test"``.
    steps : int
        Readout steps per image (see :func:`spike_trains`).
    """
    spikes, attrs = rundir.read_window_spikes(run_dir, stage)
    (n_neurons,) = attrs["n_neurons"].values()
    trains = spike_trains(spikes, attrs["n_examples"], n_neurons, steps, attrs["window"])
    return trains, attrs["labels"]
