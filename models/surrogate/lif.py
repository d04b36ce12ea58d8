"""The LIF time-step scan every surrogate-gradient network of brainlearn runs on.

:func:`lif_scan` runs a layer of discrete LIF neurons over all ``T`` steps of its input at
once: the input drive of all steps is one tensor (one matrix product upstream), the
recurrence a loop without autograd graph, and the backward pass through time is written out
(a custom ``torch.autograd.Function``). It serves both neuron models of the package:

- ``neuron="snntorch"``, :class:`~brainlearn.neurons.DiscreteLIF` (snnTorch's ``Leaky``,
  J. K. Eshraghian et al. 2023, Proc. IEEE 111:1016)::

      U[t] = beta U[t-1] + drive[t] - threshold S[t-1]      (S[t-1] detached)
      S[t] = H(U[t] - threshold)                            (fires strictly above)

- ``neuron="spikingjelly"``, :class:`~brainlearn.neurons.SpikingJellyLIF` (SpikingJelly's
  ``LIFNode``, W. Fang et al. 2023, Sci. Adv. 9:eadi1480)::

      H[t] = beta V[t-1] + drive[t]            (V[-1] = 0; drive already holds g X[t])
      S[t] = H[t] >= threshold
      V[t] = H[t] (1 - S[t])                   (reset="zero")   or   H[t] - threshold S[t]

:func:`scan_layers` chains layers (zero delay: layer ``l`` at step ``t`` sees the spikes of
layer ``l - 1`` at step ``t``), which for a feed-forward network is the same as scanning one
layer after the other. The surrogate network (:mod:`brainlearn.models.surrogate.torch_net`)
and the STDP + BP hybrid's output layer (:mod:`brainlearn.models.hybrid`) both use it.
"""

from __future__ import annotations

import functools

from brainlearn.models.surrogate.gradients import Surrogate, require_torch
from brainlearn.neurons import RESETS

__all__ = ["NEURONS", "RESETS", "lif_scan", "scan_layers"]

#: neuron models: snnTorch's ``Leaky`` (:class:`~brainlearn.neurons.DiscreteLIF`),
#: SpikingJelly's ``LIFNode`` (:class:`~brainlearn.neurons.SpikingJellyLIF`)
NEURONS = ("snntorch", "spikingjelly")


def lif_scan(drive, *, beta: float, threshold: float, reset: str | None = None,
             detach_reset: bool | None = None, surrogate: Surrogate | None = None,
             neuron: str = "spikingjelly"):
    """Run one layer of discrete LIF neurons over all steps of ``drive``.

    Forwards without an autograd graph (the recurrences of the module docstring). Backwards,
    through time, with ``dS/dH`` replaced by ``surrogate.grad(H - threshold)``: for
    ``t = T-1 .. 0``, ``dL/dH[t] = dL/dH[t]|direct + dL/dS[t] S'[t] + dL/dV[t] (dV/dH + dV/dS
    S'[t])`` and ``dL/dV[t-1] = beta dL/dH[t]``, with ``dV/dH = 1 - S`` and ``dV/dS = -H`` for
    the hard reset, ``1`` and ``-threshold`` for subtraction, and ``dV/dS = 0`` when the reset
    is detached (always for the snnTorch neuron, whose ``U`` plays the role of ``H``). The same
    as autograd through the plain loop, at a fraction of the cost.

    Parameters
    ----------
    drive : torch.Tensor
        Input ``(T, batch, neurons)``.
    beta, threshold : float
        Decay per step and firing threshold.
    reset : {"zero", "subtract"}, optional
        Hard or soft reset of the SpikingJelly neuron (default ``"zero"``); the snnTorch neuron
        always subtracts.
    detach_reset : bool, optional
        Stop the gradient through the reset (SpikingJelly's ``detach_reset``, default False;
        always True for the snnTorch neuron).
    surrogate : Surrogate, optional
        Derivative of the spike (default ATan).
    neuron : {"spikingjelly", "snntorch"}
        Which recurrence (see the module docstring).

    Returns
    -------
    spikes, membrane : torch.Tensor
        ``S`` and ``H`` (the membrane before the reset), both ``(T, batch, neurons)``.
    """
    if neuron not in NEURONS:
        raise ValueError(f"neuron must be one of {', '.join(NEURONS)}, got {neuron!r}")
    if neuron == "snntorch":
        if reset not in (None, "subtract") or detach_reset not in (None, True):
            raise ValueError("the snntorch neuron resets by subtraction, detached; got "
                             f"reset={reset!r}, detach_reset={detach_reset!r}")
        reset, detach_reset = "subtract", True
    reset = "zero" if reset is None else reset
    if reset not in RESETS:
        raise ValueError(f"reset must be one of {', '.join(RESETS)}, got {reset!r}")
    surrogate = surrogate or Surrogate("atan")
    return _lif_scan_function().apply(drive, float(beta), float(threshold), reset == "zero",
                                      bool(detach_reset), surrogate, neuron == "snntorch")


def _forward_snntorch(torch, drive, beta: float, threshold: float):
    """snnTorch's ``Leaky``: the reset subtracts from the decayed membrane, firing above."""
    h, s = torch.empty_like(drive), torch.empty_like(drive)
    u = torch.zeros_like(drive[0])
    spike = torch.zeros_like(u)
    for t in range(drive.shape[0]):
        u = beta * u + drive[t] - threshold * spike
        spike = (u - threshold > 0).to(drive.dtype)
        h[t] = u
        s[t] = spike
    return h, s


def _forward_spikingjelly(torch, drive, beta: float, threshold: float, zero_reset: bool):
    """SpikingJelly's ``LIFNode``: decay of the reset membrane, firing at the threshold."""
    h, s = torch.empty_like(drive), torch.empty_like(drive)
    v = torch.zeros_like(drive[0])
    for t in range(drive.shape[0]):
        ht = beta * v + drive[t]
        st = (ht >= threshold).to(drive.dtype)
        v = ht * (1 - st) if zero_reset else ht - threshold * st
        h[t] = ht
        s[t] = st
    return h, s


@functools.cache
def _lif_scan_function():
    torch = require_torch()

    class LIFScan(torch.autograd.Function):
        @staticmethod
        def forward(ctx, drive, beta, threshold, zero_reset, detach_reset, surrogate, snntorch):
            if snntorch:
                h, s = _forward_snntorch(torch, drive, beta, threshold)
            else:
                h, s = _forward_spikingjelly(torch, drive, beta, threshold, zero_reset)
            ctx.save_for_backward(h, s)
            ctx.settings = (beta, threshold, zero_reset, detach_reset, surrogate)
            return s, h

        @staticmethod
        def backward(ctx, grad_s, grad_h):
            h, s = ctx.saved_tensors
            beta, threshold, zero_reset, detach_reset, surrogate = ctx.settings
            sg = surrogate.grad(h - threshold)
            direct = grad_h + grad_s * sg
            # dV/dH + dV/dS S' for every step at once
            if zero_reset:
                through = (1 - s) - (0 if detach_reset else h * sg)
            else:
                through = torch.ones_like(h) - (0 if detach_reset else threshold * sg)
            out = torch.empty_like(h)
            grad_v = torch.zeros_like(h[0])
            for t in range(h.shape[0] - 1, -1, -1):
                g = direct[t] + grad_v * through[t]
                out[t] = g
                grad_v = beta * g
            return out, None, None, None, None, None, None

    return LIFScan


def scan_layers(layers, drive, *, gain: float = 1.0, **scan):
    """Scan a feed-forward stack of LIF layers whose first layer receives ``drive``.

    Layer ``l > 0`` receives ``gain * layers[l](S_{l-1})`` from the spikes of layer ``l - 1``
    in the same step (zero delay).

    Parameters
    ----------
    layers : sequence of torch.nn.Linear
        The layers; ``layers[0]`` is only used for its size (its product is in ``drive``).
    drive : torch.Tensor
        Input current of the first layer ``(T, batch, n_1)``, the gain already applied.
    gain : float
        Input gain of the neuron (``1 / tau`` for SpikingJelly's decayed input).
    **scan
        Passed to :func:`lif_scan` (``beta``, ``threshold``, ``neuron``, ...).

    Returns
    -------
    membrane, spikes : torch.Tensor
        Of the output layer, ``(T, batch, n_out)``.
    total : torch.Tensor
        Spikes per example of all layers ``(batch,)`` (no gradient).
    """
    total, spikes, membrane = 0, None, None
    for k, layer in enumerate(layers):
        if k:
            drive = layer(spikes) * gain
        spikes, membrane = lif_scan(drive, **scan)
        total = total + spikes.detach().sum(dim=(0, 2))
    return membrane, spikes, total
