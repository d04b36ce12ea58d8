"""Surrogate gradients: a Heaviside step forwards, the derivative of a smooth step backwards.

A spiking neuron fires ``S = H(U - threshold)``; ``H`` has no useful derivative, so training
by backpropagation through time replaces ``dH/dx`` by the derivative of a smooth step
(E. O. Neftci, H. Mostafa, F. Zenke 2019, Surrogate gradient learning in spiking neural
networks, IEEE Signal Process. Mag. 36:51). :class:`Surrogate` holds the four used by
snnTorch and SpikingJelly; :func:`require_torch` imports PyTorch (the ``brainlearn[torch]``
extra) or says how to install it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["SURROGATES", "DEFAULT_SCALE", "Surrogate", "require_torch"]

SURROGATES = ("atan", "fast_sigmoid", "rectangular", "sigmoid")
#: default shape parameter per surrogate: ATan alpha (snnTorch, SpikingJelly), fast-sigmoid
#: slope (Zenke & Ganguli 2018, snnTorch), rectangle width (Wu et al. 2018), sigmoid alpha
#: (SpikingJelly's ``surrogate.Sigmoid``)
DEFAULT_SCALE = {"atan": 2.0, "fast_sigmoid": 25.0, "rectangular": 1.0, "sigmoid": 4.0}


def require_torch():
    """Import PyTorch or fail with the extra to install."""
    try:
        import torch
    except ImportError:
        raise RuntimeError(
            "surrogate-gradient training needs PyTorch: pip install 'brainlearn[torch]' "
            "(torch==2.13.0)") from None
    return torch




def _xp(x):
    """numpy or torch, whichever ``x`` belongs to."""
    if isinstance(x, np.ndarray | float | int):
        return np
    return require_torch()


@dataclass(frozen=True)
class Surrogate:
    """A Heaviside step whose backward pass uses the derivative of a smooth function.

    ``smooth(x)`` is the smoothed step and ``grad(x)`` its exact derivative (the surrogate):

    - ``"atan"``: ``arctan(pi alpha x / 2) / pi + 1/2``, derivative
      ``(alpha / 2) / (1 + (pi alpha x / 2)^2)``; with ``alpha = 2`` (default) this is
      ``1 / (1 + (pi x)^2)``, snnTorch's ``surrogate.atan()``.
    - ``"fast_sigmoid"``: ``x / (1 + k |x|)``, derivative ``1 / (1 + k |x|)^2`` (``k = 25``).
    - ``"rectangular"``: ``clip(x / a + 1/2, 0, 1)``, derivative ``1 / a`` for ``|x| < a / 2``
      (``a = 1``).
    - ``"sigmoid"``: ``sigma(alpha x) = 1 / (1 + exp(-alpha x))``, derivative
      ``alpha sigma(alpha x) (1 - sigma(alpha x))`` (``alpha = 4``, SpikingJelly's
      ``surrogate.Sigmoid``, the default of its ``LIFNode``).

    Parameters
    ----------
    name : {"atan", "fast_sigmoid", "rectangular", "sigmoid"}
    scale : float, optional
        ``alpha``, ``k``, ``a`` or ``alpha`` (defaults above).
    """

    name: str = "atan"
    scale: float | None = None

    def __post_init__(self) -> None:
        if self.name not in SURROGATES:
            raise ValueError(f"surrogate must be one of {', '.join(SURROGATES)}, got {self.name!r}")
        scale = DEFAULT_SCALE[self.name] if self.scale is None else float(self.scale)
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"surrogate scale must be a positive number, got {self.scale!r}")
        object.__setattr__(self, "scale", scale)

    def smooth(self, x):
        """The smoothed step (numpy array or torch tensor in, same out)."""
        xp, s = _xp(x), self.scale
        if self.name == "atan":
            return xp.arctan(math.pi * s * x / 2) / math.pi + 0.5
        if self.name == "fast_sigmoid":
            return x / (1 + s * xp.abs(x))
        if self.name == "sigmoid":
            return 1 / (1 + xp.exp(-s * x))
        return xp.clip(x / s + 0.5, 0.0, 1.0)

    def grad(self, x):
        """The surrogate derivative ``d smooth / dx``."""
        xp, s = _xp(x), self.scale
        if self.name == "atan":
            return (s / 2) / (1 + (math.pi * s * x / 2) ** 2)
        if self.name == "fast_sigmoid":
            return 1 / (1 + s * xp.abs(x)) ** 2
        if self.name == "sigmoid":
            sig = 1 / (1 + xp.exp(-s * x))
            return s * sig * (1 - sig)
        inside = xp.abs(x) < s / 2
        return inside * (1.0 / s) if xp is np else inside.to(x.dtype) / s

    def spike(self, x):
        """``H(x)`` (1 where ``x > 0``) forwards, :meth:`grad` backwards (torch tensors)."""
        return _spike_function().apply(x, self)


@functools.cache
def _spike_function():
    torch = require_torch()

    class SpikeFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, surrogate):
            ctx.save_for_backward(x)
            ctx.surrogate = surrogate
            return (x > 0).to(x.dtype)

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * ctx.surrogate.grad(x), None

    return SpikeFunction
