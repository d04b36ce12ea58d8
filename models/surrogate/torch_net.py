"""The trainer's forward pass: a :class:`SpikingMLP` in PyTorch, on images or input spikes.

The first layer receives the image as a constant current every step (``encoder="static"``)
or ``W x[t] + b`` for per-step Bernoulli input spikes ``x[t]`` (``encoder="poisson"``,
:func:`brainlearn.encoding.bernoulli_steps`); every layer then runs through the one LIF scan
(:func:`brainlearn.models.surrogate.lif.scan_layers`).
"""

from __future__ import annotations

import numpy as np

from brainlearn.encoding import bernoulli_steps
from brainlearn.lanes import preprocess
from brainlearn.models.surrogate.gradients import Surrogate, require_torch
from brainlearn.models.surrogate.lif import scan_layers
from brainlearn.models.surrogate.network import Activity, SpikingMLP

__all__ = ["forward", "network_pass", "run_steps", "input_drive", "encode", "torch_layers"]


def torch_layers(torch, net: SpikingMLP, dtype):
    """``torch.nn.Linear`` layers holding the network's parameters (the global RNG untouched)."""
    layers = torch.nn.ModuleList()
    with torch.random.fork_rng(devices=[]):
        for w, b in zip(net.weights, net.biases, strict=True):
            layer = torch.nn.Linear(w.shape[0], w.shape[1], bias=net.bias).to(dtype)
            with torch.no_grad():
                layer.weight.copy_(torch.as_tensor(np.asarray(w).T, dtype=dtype))
                if net.bias:
                    layer.bias.copy_(torch.as_tensor(np.asarray(b), dtype=dtype))
            layers.append(layer)
    return layers


def run_steps(torch, layers, x, *, beta: float, threshold: float, steps: int, surrogate: Surrogate,
              drive=None):
    """Simulate snnTorch LIF layers (:class:`~brainlearn.neurons.DiscreteLIF`) for ``steps``.

    Parameters
    ----------
    torch : module
        The ``torch`` module (from :func:`~brainlearn.models.surrogate.require_torch`).
    layers : torch.nn.ModuleList
        The ``Linear`` layers.
    x : torch.Tensor
        Images ``(batch, pixels)``, the same input current at every step.
    beta, threshold : float
        Membrane decay per step and firing threshold.
    steps : int
        Time steps.
    surrogate : Surrogate
        Gradient of the spike function.
    drive : torch.Tensor, optional
        Input current of the first layer at every step ``(steps, batch, n_1)`` (e.g. from
        spikes, :func:`input_drive`), used instead of ``layers[0](x)``.

    Returns
    -------
    tuple
        Output membranes and spikes ``(steps, batch, classes)`` and the total spikes per
        example of all layers.
    """
    if drive is None:
        drive = layers[0](x).expand(steps, -1, -1)  # the image: the same current every step
    return scan_layers(layers, drive, beta=beta, threshold=threshold, surrogate=surrogate,
                       neuron="snntorch")


def input_drive(torch, layer, spikes, pixels):
    """Input current of ``layer`` at every step from the compact spikes of
    :func:`brainlearn.encoding.bernoulli_steps`: ``(steps, batch, n_out)``.

    ``spikes`` is ``(batch, steps, k)`` (float), ``pixels`` ``(batch, k)`` (long): one batched
    product with the weights of the spiking pixels only, ``W x[t] + b`` for all ``t``.
    """
    weight = layer.weight.t()[pixels]  # (batch, k, n_out)
    drive = torch.bmm(spikes, weight).transpose(0, 1)
    return drive if layer.bias is None else drive + layer.bias




def encode(torch, x, encoder: str, steps: int, seed, indices, dtype, device):
    """The first layer's input for a batch: images, or ``(spikes, pixels)`` tensors."""
    if encoder == "static":
        return torch.as_tensor(x, dtype=dtype, device=device)
    spikes, pixels = bernoulli_steps(x, steps, seed, indices)
    return (torch.from_numpy(spikes).to(device=device, dtype=dtype),
            torch.from_numpy(pixels).to(device))


def network_pass(torch, layers, inputs, net: SpikingMLP):
    """The forward pass of ``net``'s settings through ``layers`` on encoded ``inputs``
    (:func:`encode`): output membranes and spikes ``(T, batch, classes)``, total spikes."""
    cell = net.neuron
    gain = getattr(cell, "input_gain", 1.0)
    if isinstance(inputs, tuple):
        drive = input_drive(torch, layers[0], *inputs) * gain
    else:
        drive = (layers[0](inputs) * gain).expand(net.steps, -1, -1)
    reset = {} if net.neuron_kind == "snntorch" else dict(reset=net.reset,
                                                          detach_reset=net.detach_reset)
    return scan_layers(layers, drive, gain=gain, beta=cell.beta, threshold=net.threshold,
                       surrogate=net.surrogate, neuron=net.neuron_kind, **reset)


def forward(net: SpikingMLP, images, *, batch_size: int | None = None, dtype: str = "float32",
            threads: int | None = 2, seed: int = 0, check_range: bool = True) -> Activity:
    """The trainer's forward pass (PyTorch, no gradient) over ``images``.

    Parameters
    ----------
    net : SpikingMLP
    images : array_like
        uint8 images or ``(n, n_pixels)`` floats in ``[0, 1]``.
    batch_size : int, optional
        Examples per pass (default 1000, 250 with Poisson input).
    dtype : {"float32", "float64"}
        Precision (training runs in float32; float64 is Brian2's precision).
    threads : int, optional
        ``torch.set_num_threads`` during the pass.
    seed : int
        Seed of the input spikes (``encoder="poisson"``): example ``e`` of ``images`` gets the
        trains of :func:`brainlearn.encoding.bernoulli_steps` with seed ``seed`` and index
        ``e``, the same as :func:`~brainlearn.models.surrogate.brian2_net.simulate` with this seed.
    check_range : bool
        Refuse float images outside ``[0, 1]`` (see
        :func:`~brainlearn.models.surrogate.training.train`; static input only).
    """
    torch = require_torch()
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    tdtype = getattr(torch, dtype)
    if check_range or net.encoder != "static":
        x = preprocess(images)
    else:
        x = np.asarray(images, np.float32).reshape(len(images), -1)
    if batch_size is None:
        batch_size = 250 if net.encoder == "poisson" else 1000
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    counts, membrane, spikes = [], [], []
    try:
        layers = torch_layers(torch, net, tdtype)
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                inputs = encode(torch, x[i:i + batch_size], net.encoder, net.steps, seed,
                                np.arange(i, min(i + batch_size, len(x))), tdtype, "cpu")
                out_mem, out_spk, total = network_pass(torch, layers, inputs, net)
                counts.append(out_spk.sum(0).numpy())
                membrane.append(out_mem.sum(0).numpy())
                spikes.append(total.numpy())
    finally:
        torch.set_num_threads(old_threads)
    n_out = net.sizes[-1]

    def cat(parts, shape):
        return np.concatenate(parts).astype(np.float64) if parts else np.zeros(shape)

    return Activity(cat(counts, (0, n_out)), cat(membrane, (0, n_out)), cat(spikes, (0,)))
