"""Training of the hybrid's LIF output layer by BPTT, and its forward pass (PyTorch).

On the recorded hidden spikes, binned into ``steps`` steps per image, a layer of
:class:`~brainlearn.neurons.DiscreteLIF` neurons (reset by subtraction) is trained with a
surrogate gradient (E. O. Neftci, H. Mostafa, F. Zenke 2019, IEEE Signal Process. Mag. 36:51)::

    I[t] = z[t] W + b                              z[t]: hidden spikes of step t, (N,)
    U[t] = beta U[t-1] + I[t] - theta S[t-1]       (S[t-1] detached)
    S[t] = H(U[t] - theta)                         H' replaced by the ATan surrogate

The input current of all steps is one matrix product ``(T, B, N) @ (N, 10)``; the scan over
``T`` is the surrogate package's :func:`~brainlearn.models.surrogate.lif.lif_scan`
(``neuron="snntorch"``).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from brainlearn.models.hybrid.layer import HybridLayer
from brainlearn.models.hybrid.spikes import RecordedSpikes
from brainlearn.models.surrogate.gradients import Surrogate, require_torch
from brainlearn.models.surrogate.lif import lif_scan
from brainlearn.models.surrogate.network import Activity, decode
from brainlearn.neurons import DiscreteLIF

__all__ = ["LOSSES", "train", "forward"]

#: ``"membrane_ce"``: cross-entropy of the output membrane at every step, averaged over the
#: steps (snnTorch tutorial 5); ``"count_ce"``: cross-entropy of the output spike counts
LOSSES = ("membrane_ce", "count_ce")


def _scan(current, beta: float, threshold: float, surrogate: Surrogate):
    """Membranes and spikes ``(T, B, C)`` of the output layer for the input ``current``."""
    spikes, membrane = lif_scan(current, beta=beta, threshold=threshold, surrogate=surrogate,
                                neuron="snntorch")
    return membrane, spikes


def _batch_current(torch, spikes: RecordedSpikes, examples, steps, w, b, dtype):
    """``(T, B, C)`` input current of the examples: one matrix product over all steps."""
    x = torch.from_numpy(spikes.trains(examples, steps)).to(dtype).transpose(0, 1)
    return x @ w + b


def _check_settings(beta, threshold, steps, loss, batch_size, epochs, validation, schedule):
    DiscreteLIF(beta=beta, v_thresh=threshold)  # checks beta and threshold
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("epochs", epochs)):
        if int(value) < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not 0 <= validation < 1:
        raise ValueError(f"validation must be a fraction in [0, 1), got {validation!r}")


def train(spikes: RecordedSpikes, *, steps: int = 350, beta: float = 0.95,
          threshold: float = 1.0, bias: bool = False, surrogate: str | Surrogate = "atan",
          loss: str = "count_ce", lr: float = 1e-2, batch_size: int = 128, epochs: int = 5,
          schedule: str = "cosine", validation: float = 0.0, seed: int = 0,
          threads: int | None = 1,
          progress: bool = False) -> HybridLayer:
    """Train the LIF output layer on recorded hidden spike trains by BPTT (Adam).

    Parameters
    ----------
    spikes : RecordedSpikes
        The training (label-assignment) images' hidden spikes and labels.
    steps : int
        Steps per image (the window is binned into them).
    beta, threshold : float
        Output neurons' decay per step and threshold.
    bias : bool
        Train a constant input per output neuron.
    surrogate : str or Surrogate
        Gradient of the spike function (ATan by default).
    loss : {"membrane_ce", "count_ce"}
        See :data:`LOSSES`.
    lr, batch_size, epochs : float, int, int
        Adam learning rate, minibatch size, passes over the training images.
    schedule : {"cosine", "constant"}
        ``"cosine"``: the learning rate falls from ``lr`` to 0 along a half cosine over all
        batches (SGDR without restarts, I. Loshchilov, F. Hutter 2017); ``"constant"``.
    validation : float
        Fraction of the images held out (seeded) and scored after every epoch; the layer is
        trained on the rest.
    seed : int
        Seed of the weight initialisation (PyTorch's ``Linear`` default), the split and the
        batch order.
    threads : int, optional
        ``torch.set_num_threads`` during training (restored afterwards).
    progress : bool
        A tqdm bar over batches.
    """
    torch = require_torch()
    surrogate = surrogate if isinstance(surrogate, Surrogate) else Surrogate(surrogate)
    _check_settings(beta, threshold, steps, loss, batch_size, epochs, validation, schedule)
    torch = require_torch()
    surrogate = surrogate if isinstance(surrogate, Surrogate) else Surrogate(surrogate)
    _check_settings(beta, threshold, steps, loss, batch_size, epochs, validation, schedule)
    steps, batch_size, epochs = int(steps), int(batch_size), int(epochs)
    labels = spikes.labels
    if len(labels) < 2:
        raise ValueError("need at least two training images")
    n_classes = max(int(labels.max()) + 1, 2)
    rng = np.random.default_rng(seed)
    split = rng.permutation(len(labels))
    n_val = int(round(validation * len(labels)))
    val_idx, train_idx = np.sort(split[:n_val]), split[n_val:]
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        torch.manual_seed(seed)
        layer = torch.nn.Linear(spikes.n_neurons, n_classes, bias=bias)
        optimizer = torch.optim.Adam(layer.parameters(), lr=lr, betas=(0.9, 0.999))
        n_batches = math.ceil(len(train_idx) / batch_size)
        scheduler = None
        if schedule == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer,
                                                                   epochs * n_batches)
        bar = _progress_bar(progress, epochs * n_batches)
        rows = []
        for epoch in range(epochs):
            start = time.perf_counter()
            loss_sum, correct = _epoch(torch, layer, optimizer, scheduler, spikes,
                                       rng.permutation(train_idx), n_batches, batch_size,
                                       steps, beta, threshold, surrogate, loss, bar)
            seconds = time.perf_counter() - start
            val_acc = _validation_accuracy(torch, layer, spikes, val_idx, steps, beta,
                                           threshold, surrogate)
            rows.append({"epoch": epoch + 1, "loss": loss_sum / len(train_idx),
                         "train_accuracy": correct / len(train_idx),
                         "validation_accuracy": val_acc, "seconds": seconds})
        if bar is not None:
            bar.close()
    finally:
        torch.set_num_threads(old_threads)
    weights = layer.weight.detach().numpy().T.copy()
    b = layer.bias.detach().numpy().copy() if bias else np.zeros(n_classes, np.float32)
    config = {"steps": steps, "beta": beta, "threshold": threshold, "bias": bool(bias),
              "surrogate": surrogate.name, "surrogate_scale": surrogate.scale, "loss": loss,
              "lr": lr, "schedule": schedule, "batch_size": batch_size, "epochs": epochs,
              "validation": validation, "seed": seed, "train_examples": len(train_idx),
              "validation_examples": n_val}
    return HybridLayer(weights, b, float(beta), float(threshold), steps, spikes.window,
                       surrogate, pd.DataFrame(rows), config)


def _validation_accuracy(torch, layer, spikes: RecordedSpikes, val_idx, steps: int,
                         beta: float, threshold: float, surrogate: Surrogate) -> float:
    """Accuracy of the layer as it is on the held-out examples (NaN when there are none)."""
    if not len(val_idx):
        return float("nan")
    w = layer.weight.detach().T
    b = layer.bias.detach() if layer.bias is not None else torch.zeros(layer.out_features)
    act = _forward(torch, spikes, val_idx, steps, w, b, beta, threshold, surrogate,
                   torch.float32)
    return float((act.predict() == spikes.labels[val_idx]).mean())


def _progress_bar(progress: bool, total: int):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="hybrid BPTT", unit="batch")


def _epoch(torch, layer, optimizer, scheduler, spikes: RecordedSpikes, order, n_batches: int,
           batch_size: int, steps: int, beta: float, threshold: float, surrogate: Surrogate,
           loss: str, bar) -> tuple[float, int]:
    """One pass over the training images in ``order``: summed loss and correct predictions."""
    functional = torch.nn.functional
    labels = spikes.labels
    yt = torch.from_numpy(labels)
    n_classes = layer.out_features
    loss_sum, correct = 0.0, 0
    for k in range(n_batches):
        idx = order[k * batch_size:(k + 1) * batch_size]
        x = torch.from_numpy(spikes.trains(idx, steps)).float().transpose(0, 1)
        mem, spk = _scan(layer(x), beta, threshold, surrogate)
        if loss == "membrane_ce":
            value = functional.cross_entropy(mem.reshape(-1, n_classes), yt[idx].repeat(steps))
        else:
            value = functional.cross_entropy(spk.sum(0), yt[idx])
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        loss_sum += float(value.detach()) * len(idx)
        pred = decode(spk.detach().sum(0).numpy(), mem.detach().sum(0).numpy())
        correct += int((pred == labels[idx]).sum())
        if bar is not None:
            bar.update()
            bar.set_postfix(loss=f"{float(value):.3f}")
    return loss_sum, correct


def _forward(torch, spikes, examples, steps, w, b, beta, threshold, surrogate, dtype,
             batch_size: int = 500) -> Activity:
    counts, membrane = [], []
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            idx = examples[i:i + batch_size]
            mem, spk = _scan(_batch_current(torch, spikes, idx, steps, w, b, dtype),
                            beta, threshold, surrogate)
            counts.append(spk.sum(0).numpy())
            membrane.append(mem.sum(0).numpy())
    n_out = w.shape[1]
    counts = np.concatenate(counts).astype(np.float64) if counts else np.zeros((0, n_out))
    membrane = np.concatenate(membrane).astype(np.float64) if membrane else np.zeros((0, n_out))
    return Activity(counts, membrane, counts.sum(axis=1) + spikes.spike_counts(examples))


def forward(layer: HybridLayer, spikes: RecordedSpikes, examples=None, *,
            dtype: str = "float64", threads: int | None = 1) -> Activity:
    """The trainer's forward pass (PyTorch, no gradient) on recorded hidden spikes.

    Parameters
    ----------
    layer : HybridLayer
    spikes : RecordedSpikes
    examples : array of int, optional
        Which examples (default all).
    dtype : {"float64", "float32"}
        Precision (float64 is Brian2's; training runs in float32).
    threads : int, optional
        ``torch.set_num_threads`` during the pass.

    Returns
    -------
    Activity
        Output spike counts, summed output membrane, and spikes per inference (the hidden
        layer's recorded spikes plus the output spikes).
    """
    torch = require_torch()
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    tdtype = getattr(torch, dtype)
    examples = np.arange(len(spikes)) if examples is None else np.asarray(examples)
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        w = torch.as_tensor(np.asarray(layer.weights), dtype=tdtype)
        b = torch.as_tensor(np.asarray(layer.bias), dtype=tdtype)
        return _forward(torch, spikes, examples, layer.steps, w, b, layer.beta,
                        layer.threshold, layer.surrogate, tdtype)
    finally:
        torch.set_num_threads(old_threads)

