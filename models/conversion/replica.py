"""The converted CNN's IF network replayed clock-driven in PyTorch: Brian2's spikes, faster.

The same non-leaky IF neurons, the same order of operations as Brian2's schedule (state
update, threshold, synapses, reset) and dense convolutions instead of unrolled synapses, so
that in float64 the output spikes equal those of :func:`brainlearn.models.conversion.simulate`
step for step (``tests/test_conversion_cnn.py``), cheap enough to choose options (such as the
half-threshold start of Bu et al. 2022) on held-out training images.
"""

from __future__ import annotations

import time

import numpy as np

from brainlearn.lanes import preprocess
from brainlearn.models.conversion.ann import require_torch
from brainlearn.models.conversion.network import SimulationResult, check_steps, check_v_init
from brainlearn.models.conversion.unroll import ConvertedCNN

__all__ = ["simulate_torch", "PRECISIONS"]

PRECISIONS = ("float64", "float32")


def simulate_torch(converted: ConvertedCNN, images, *, steps=(16, 32, 64),
                   v_init: float = 0.0, batch_size: int = 250, threads: int = 1,
                   precision: str = "float64") -> SimulationResult:
    """Run the converted CNN's IF neurons clock-driven in PyTorch, step by step as in Brian2.

    Every step ``t`` of an example, every layer ``l`` integrates its constant input (the
    first layer: ``(conv1(x) + b_1) / lambda_1``; the others: their normalised bias) and the
    spikes its input layer emitted in step ``t - 1``, fires where ``v > 1`` and subtracts 1
    (Rueckauer et al. 2017)::

        v_l[t] = v_l[t-1] + b_l + W_l s_{l-1}[t-1] - s_l[t-1],   s_l[t] = [v_l[t] > 1]

    which is the order of :func:`brainlearn.models.conversion.simulate` (Brian2's schedule: state update, threshold,
    synapses, reset), so both give the same spikes up to float rounding of the summation
    order. Dense convolutions make it cheap enough to choose options on validation data.

    Parameters
    ----------
    converted : ConvertedCNN
    images : array_like
        ``(n, 28, 28)`` images.
    steps : sequence of int
        Checkpoints ``T`` (steps after the example starts).
    v_init : float
        Membrane of every neuron at the start of an example, in units of the threshold
        (0.5: Bu et al. 2022, "Optimal ANN-SNN conversion for high-accuracy and
        ultra-low-latency spiking neural networks", ICLR; it makes the count after ``T``
        steps ``round`` instead of ``floor`` of ``T`` times the rate).
    batch_size, threads
        Images per batch, ``torch.set_num_threads``.
    precision : {"float64", "float32"}
        float64 (Brian2's) gives Brian2's spikes; float32 is about twice as fast and differs
        only where a membrane lands within rounding of the threshold.

    Returns
    -------
    SimulationResult
        ``out_counts`` and ``out_potential`` ``(len(steps), n, n_classes)`` (spike count; the
        output's accumulated input ``v - v_init + count``, including the spikes the layer below
        fired in step ``T``), ``spikes`` ``(len(steps), n)`` (all IF spikes per example up to
        ``T``), ``run_seconds`` (wall time).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be 'float64' or 'float32', got {precision!r}")
    if not isinstance(converted, ConvertedCNN):
        raise TypeError("simulate_torch replays the converted CNN; run the MLP with "
                        f"brainlearn.models.conversion.simulate, got {type(converted).__name__}")
    torch = require_torch()
    torch.set_num_threads(int(threads))
    steps = check_steps(steps)
    v_init = check_v_init(v_init)
    dtype = {"float64": torch.float64, "float32": torch.float32}[precision]
    start = time.perf_counter()
    x = torch.from_numpy(preprocess(images)).to(dtype)
    layers = converted.torch_layers(dtype)
    n = len(x)
    n_out = converted.layers[-1].size
    counts = np.zeros((len(steps), n, n_out))
    potential = np.zeros((len(steps), n, n_out))
    spikes = np.zeros((len(steps), n))
    with torch.no_grad():
        for s in range(0, n, int(batch_size)):
            part = slice(s, s + batch_size)
            _run_batch(torch, converted, layers, x[part], steps, v_init, dtype,
                       counts[:, part], potential[:, part], spikes[:, part])
    return SimulationResult(steps, "analog", "subtract", converted.norm, counts, potential,
                            spikes, v_init=v_init, synapses=converted.n_synapses,
                            run_seconds=time.perf_counter() - start)



def _run_batch(torch, converted, layers, xb, steps, v_init, dtype, counts, potential, spikes):
    """Step one batch of images through the IF layers; fill the checkpoint arrays in place."""
    first = layers[0][0](xb) + layers[0][1]
    v = [torch.full((len(xb), layer.size), float(v_init), dtype=dtype)
         for layer in converted.layers]
    count = [torch.zeros_like(u) for u in v]
    fired = [torch.zeros_like(u) for u in v]
    total = torch.zeros(len(xb), dtype=torch.float64)  # counts: exact in float64
    k = 0
    for t in range(1, steps[-1] + 1):
        inputs = [first] + [op(fired[m - 1]) + bias for m, (op, bias) in enumerate(layers) if m]
        for m in range(len(v)):
            v[m] += inputs[m]
            fired[m] = (v[m] > 1.0).to(dtype)
            v[m] -= fired[m]
            count[m] += fired[m]
            total += fired[m].sum(1)
        if t == steps[k]:
            counts[k] = count[-1].numpy()
            # Brian2's synapses deliver step t's spikes within step t: add the input still
            # pending for the output layer so both read the same membrane
            pending = layers[-1][0](fired[-2])
            potential[k] = (v[-1] + pending - v_init + count[-1]).numpy()
            spikes[k] = total.numpy()
            k += 1
