"""Test accuracy of the hybrid: the trainer's forward pass beside the layer in Brian2."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from brainlearn.models.hybrid.brian2_net import simulate
from brainlearn.models.hybrid.layer import HybridLayer
from brainlearn.models.hybrid.spikes import RecordedSpikes
from brainlearn.models.hybrid.training import forward

__all__ = ["evaluate"]


def evaluate(layer: HybridLayer, spikes: RecordedSpikes, *, brian2: bool = True,
             examples: int | None = None, brian2_examples: int | None = None,
             dtype: str = "float64", device: str = "runtime", lanes: int | None = None,
             directory=None) -> pd.DataFrame:
    """Test accuracy of the trainer's forward pass and of the layer in Brian2, and agreement.

    Parameters
    ----------
    layer : HybridLayer
    spikes : RecordedSpikes
        The test images' recorded hidden spikes and labels.
    brian2 : bool
        Also run :func:`simulate`.
    examples, brian2_examples : int, optional
        Score the first ``examples`` images (default all); Brian2 the first
        ``brian2_examples`` of them (default all).
    dtype : {"float64", "float32"}
        Precision of the trainer's forward pass.
    device, lanes, directory
        See :func:`simulate`.

    Returns
    -------
    pandas.DataFrame
        One row per implementation (``"trainer"``, ``"brian2"``): ``accuracy``,
        ``agreement`` (fraction of images predicted as by the trainer),
        ``spikes_per_inference`` (hidden + output), ``output_spikes_per_inference``, ``steps``,
        ``n_examples``, ``wall_seconds``.
    """
    k = len(spikes) if examples is None else min(int(examples), len(spikes))
    idx = np.arange(k)
    labels = spikes.labels[idx]
    start = time.perf_counter()
    ref = forward(layer, spikes, idx, dtype=dtype)
    ref_pred = ref.predict()

    def row(name, act, wall):
        m = len(act.counts)
        pred = act.predict()
        return {"implementation": name, "accuracy": float(np.mean(pred == labels[:m])),
                "agreement": float(np.mean(pred == ref_pred[:m])),
                "spikes_per_inference": float(act.spikes.mean()),
                "output_spikes_per_inference": float(act.counts.sum(axis=1).mean()),
                "steps": layer.steps, "n_examples": m, "wall_seconds": round(wall, 2)}

    rows = [row("trainer", ref, time.perf_counter() - start)]
    if brian2:
        m = k if brian2_examples is None else min(int(brian2_examples), k)
        start = time.perf_counter()
        act = simulate(layer, spikes, idx[:m], lanes=lanes, device=device, directory=directory)
        rows.append(row("brian2", act, time.perf_counter() - start))
    table = pd.DataFrame(rows)
    table["dtype"] = dtype
    return table
