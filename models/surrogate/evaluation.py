"""Test accuracy of a trained surrogate network: the trainer's forward pass beside Brian2's."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from brainlearn.lanes import preprocess
from brainlearn.models.surrogate.brian2_net import simulate
from brainlearn.models.surrogate.network import SpikingMLP
from brainlearn.models.surrogate.torch_net import forward

__all__ = ["evaluate"]


def evaluate(net: SpikingMLP, images, labels, *, brian2: bool = True,
             brian2_examples: int | None = None, dtype: str = "float32",
             device: str = "runtime", lanes: int | None = None, max_synapses: float = 4e6,
             directory=None, seed: int = 0) -> pd.DataFrame:
    """Test accuracy of the trainer's forward pass and of the same network in Brian2.

    With Poisson input both receive the same input spike trains (``seed``, see
    :func:`~brainlearn.models.surrogate.brian2_net.simulate`), so their predictions can be compared image by image.

    Parameters
    ----------
    net : SpikingMLP
    images, labels : array_like
        Test set.
    brian2 : bool
        Also run the Brian2 network (:func:`~brainlearn.models.surrogate.brian2_net.simulate`).
    brian2_examples : int, optional
        Run Brian2 on the first ``brian2_examples`` images only (default: all).
    dtype : {"float32", "float64"}
        Precision of the trainer's forward pass.
    device, lanes, max_synapses, directory, seed
        See :func:`~brainlearn.models.surrogate.brian2_net.simulate`.

    Returns
    -------
    pandas.DataFrame
        One row per implementation (``"trainer"``, ``"brian2"``): ``accuracy`` (spike-count
        decoding, ties to the larger membrane, :func:`~brainlearn.models.surrogate.network.decode`), ``accuracy_membrane`` (summed
        output membrane), ``accuracy_count_first`` (spike count, ties to the lowest class as
        ``torch.max`` in the snnTorch tutorial), ``agreement`` (fraction of images
        where the prediction equals the trainer's), ``spikes_per_inference``, ``steps``,
        ``n_examples``, ``wall_seconds``, ``ms_per_image``, ``encoder``.
    """
    labels = np.asarray(labels).astype(np.int64)
    x = preprocess(images)
    if len(x) != len(labels):
        raise ValueError(f"{len(x)} images but {len(labels)} labels")
    rows = []
    start = time.perf_counter()
    ref = forward(net, x, dtype=dtype, seed=seed)
    ref_pred = ref.predict()

    def row(name, act, wall):
        k = len(act.counts)
        pred = act.predict()
        return {"implementation": name, "accuracy": float(np.mean(pred == labels[:k])),
                "accuracy_membrane": float(np.mean(act.predict("membrane") == labels[:k])),
                "accuracy_count_first": float(np.mean(np.argmax(act.counts, axis=1)
                                                      == labels[:k])),
                "agreement": float(np.mean(pred == ref_pred[:k])),
                "spikes_per_inference": float(act.spikes.mean()), "steps": net.steps,
                "n_examples": k, "wall_seconds": round(wall, 2),
                "ms_per_image": round(1000 * wall / max(k, 1), 3), "encoder": net.encoder}

    rows.append(row("trainer", ref, time.perf_counter() - start))
    if brian2:
        k = len(x) if brian2_examples is None else min(int(brian2_examples), len(x))
        start = time.perf_counter()
        act = simulate(net, x[:k], lanes=lanes, max_synapses=max_synapses, device=device,
                       directory=directory, seed=seed)
        rows.append(row("brian2", act, time.perf_counter() - start))
    table = pd.DataFrame(rows)
    table["dtype"] = dtype
    return table

