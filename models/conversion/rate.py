"""The rate model: a converted network run as rates in Brian2, the limit its IF version approaches.

A non-leaky IF neuron with threshold 1 and reset by subtraction, driven by a constant input
``a <= 1`` per step, fires at rate ``a`` in the long run (Rueckauer et al. 2017, eq. 4), so
the spiking network approaches ``r_l = clip(W'_l r_{l-1} + b'_l, 0, 1)`` layer by layer.
:func:`rate_network` runs that in Brian2 for any layered network (the MLP's dense matrices,
the CNN's unrolled sparse ones); :func:`rate_model` runs a converted network;
:func:`compare_rates` measures where spiking departs from it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from brainlearn.lanes import lane_runner, preprocess
from brainlearn.models.conversion.network import simulate

__all__ = ["rate_network", "rate_model", "compare_rates"]


def rate_network(inputs, weights, biases, n_steps: int | None = None) -> list[np.ndarray]:
    """Run a layered network as rates in Brian2 (runtime mode): the limit of its IF version.

    Each layer is a ``NeuronGroup`` of ``n_inputs x units`` holding a rate ``r`` (spikes per
    step); a ``network_operation`` updates every layer each step from the previous step's rates
    of the layer below, ``r_l = clip(W_l r_{l-1} + b_l, 0, 1)`` (a non-leaky IF neuron with
    threshold 1 and reset by subtraction fires at this rate in the long run, Rueckauer et al.
    2017, eq. 4; the clip at 1 is where a percentile normalisation saturates). The output
    layer also keeps its unclipped input ``z``. Any layer structure works: the MLP's dense
    matrices (:func:`rate_model`) and the CNN's unrolled sparse convolutions
    (the same function).

    Parameters
    ----------
    inputs : array (n, n_in)
        Rates of the input layer (pixels in ``[0, 1]``).
    weights : list of array or scipy.sparse matrix
        ``W_l`` as ``(n_in, n_out)`` matrices (normalised).
    biases : list of array
        ``b_l`` (normalised).
    n_steps : int, optional
        Steps to run (default: the number of layers, enough to settle).

    Returns
    -------
    list of numpy.ndarray
        Per layer ``(n, units)`` rates after ``n_steps``; the last entry is the output layer's
        unclipped input ``z``.
    """
    from brian2 import Network, NeuronGroup, ms, network_operation

    x = np.asarray(inputs, dtype=np.float64)
    n = len(x)
    sizes = [w.shape[1] for w in weights]
    step = 1 * ms
    depth = len(weights)
    n_steps = depth if n_steps is None else int(n_steps)
    groups = [NeuronGroup(n * size, "r : 1", dt=step) for size in sizes]
    z_out = NeuronGroup(n * sizes[-1], "z : 1", dt=step)

    @network_operation(dt=step, when="start")
    def update():
        previous = [x] + [np.asarray(g.r[:]).reshape(n, s) for g, s in zip(groups, sizes, strict=True)]
        for k, group in enumerate(groups):
            z = np.asarray((weights[k].T @ previous[k].T).T) + biases[k]
            group.r[:] = np.clip(z, 0.0, 1.0).ravel()
            if k == depth - 1:
                z_out.z[:] = z.ravel()

    with lane_runner("runtime") as run:
        run(Network(*groups, z_out, update), n_steps * step)
    rates = [np.asarray(g.r[:]).reshape(n, s) for g, s in zip(groups, sizes, strict=True)]
    rates.append(np.asarray(z_out.z[:]).reshape(n, sizes[-1]))
    return rates



def rate_model(converted, images, n_steps: int | None = None,
               batch_size: int | None = None) -> list[np.ndarray]:
    """Run a converted network (MLP or CNN) as a rate network in Brian2 (:func:`rate_network`).

    Parameters
    ----------
    converted : ConvertedNet or ConvertedCNN
        Normalised network; its ``matrices()`` are the layers from the input pixels on.
    images : array_like
        Inputs (the input layer's rate is the pixel value).
    n_steps : int, optional
        Steps to run (default: the number of layers, enough to settle).
    batch_size : int, optional
        Images per Brian2 run (default: all at once for the MLP, 250 for the CNN, whose
        layers hold ``n x 47,178`` rates).

    Returns
    -------
    list of numpy.ndarray
        Per layer ``(n_images, units)`` rates after ``n_steps``; the last entry is the output
        layer's unclipped input ``z``. Where no activation exceeds its normalisation factor
        (``norm="max"`` on the same images) nothing is clipped and ``z`` is the ANN's output
        divided by the output factor.
    """
    from brainlearn.models.conversion.unroll import ConvertedCNN

    weights, biases = converted.matrices()
    x = preprocess(images)
    if batch_size is None:
        batch_size = 250 if isinstance(converted, ConvertedCNN) else max(len(x), 1)
    parts = [rate_network(x[s:s + batch_size], weights, biases, n_steps)
             for s in range(0, len(x), int(batch_size))]
    return [np.concatenate(layer) for layer in zip(*parts, strict=True)]


def compare_rates(converted, images, *, steps=(8, 16, 32, 64, 128, 256),
                  input: str = "analog", reset: str = "subtract", device: str = "runtime",
                  seed: int | None = 0) -> pd.DataFrame:
    """Where spiking departs from rates: per layer and ``T``, SNN rate (count / T) vs rate model.

    Returns
    -------
    pandas.DataFrame
        ``layer, steps, rate_mean, snn_mean, mean_abs_error, max_abs_error, correlation``.
    """
    sim = simulate(converted, images, steps=steps, inputs=(input,), resets=(reset,),
                   device=device, seed=seed, record_counts=True)[0]
    rates = rate_model(converted, images)[:-1]
    rows = []
    for k, (counts, ref) in enumerate(zip(sim.layer_counts, rates, strict=True)):
        for s, T in enumerate(sim.steps):
            snn = counts[s] / T
            err = np.abs(snn - ref)
            corr = np.corrcoef(snn.ravel(), ref.ravel())[0, 1] if snn.std() and ref.std() else np.nan
            rows.append({"layer": k + 1, "steps": T, "rate_mean": ref.mean(),
                         "snn_mean": snn.mean(), "mean_abs_error": err.mean(),
                         "max_abs_error": err.max(), "correlation": corr})
    return pd.DataFrame(rows)

