"""Direct training of feed-forward LIF networks with surrogate gradients, and the same net in Brian2.

The neuron is :class:`brainlearn.neurons.DiscreteLIF` (snnTorch's ``Leaky``)::

    U[t] = beta * U[t-1] + W x[t] + b - threshold * S[t-1]     (S[t-1] detached: no gradient)
    S[t] = H(U[t] - threshold)

Training is backpropagation through time over ``steps`` steps (PyTorch, the optional
``brainlearn[torch]`` extra): the Heaviside ``H`` passes a smooth surrogate derivative backwards
(:class:`Surrogate`: ``"atan"`` by default, ``"fast_sigmoid"``, ``"rectangular"``). The static
image is the input current of the first layer at every step; the loss is one of
``"membrane_ce"`` (cross-entropy on the output membrane at every step, summed over steps: the
snnTorch tutorial 5 recipe), ``"count_ce"`` (cross-entropy on output spike counts) or
``"rate_mse"`` (mean squared error between output firing rates and the one-hot label).

>>> from brainlearn.models.surrogate import train, evaluate
>>> net = train(x_train, y_train, hidden=(1000,), beta=0.95, steps=25, lr=5e-4, epochs=1)
>>> table = evaluate(net, x_test, y_test)          # trainer and Brian2 rows, agreement

The tutorials by name (:data:`PRESETS`, ``brainlearn surrogate train --preset NAME``):

- ``"snntorch-tutorial5"``: the network above (93.87 % after one epoch in the tutorial).
- ``"spikingjelly-single"``: SpikingJelly's ``activation_based/examples/lif_fc_mnist.py``
  (W. Fang et al. 2023, Sci. Adv. 9:eadi1480): 784-10 without bias,
  :class:`~brainlearn.neurons.SpikingJellyLIF` (``tau = 2``, input decayed, hard reset to 0
  with the gradient through the reset), ATan surrogate, per-step Bernoulli ("Poisson") input
  spikes, MSE between the output firing rate and the one-hot label, Adam 1e-3, batch 64,
  T = 100: 92.9 % (best test accuracy of 100 epochs) in its tutorial.
- ``"spikingjelly-two-layer"``: the older SpikingJelly README / clock-driven tutorial network,
  784-196-10 without bias, ``LIFNode(tau=100)`` (100 ms with 1 ms steps) and its default
  sigmoid surrogate (alpha 4), the same input, loss and optimiser: "92 %".

With ``neuron="spikingjelly"`` the layers run through :func:`lif_scan`: the input drive of
all ``T`` steps is one matrix product and the LIF recurrence a loop without autograd graph
whose backward pass through time is written out (a custom ``torch.autograd.Function``).

:func:`simulate` runs the trained weights as :class:`~brainlearn.neurons.DiscreteLIF` groups in
Brian2, many images in one run (``lanes`` copies side by side, a ``TimedArray`` indexed by
example, the same machinery as :mod:`brainlearn.models.conversion`). Both sides decode the class by
output spike count, ties broken by the summed output membrane (:func:`decode`).
"""

from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn.atomic import save_npz
from brainlearn.encoding import bernoulli_steps
from brainlearn.lanes import layer_arrays, preprocess
from brainlearn.neurons import RESETS, DiscreteLIF, SpikingJellyLIF

__all__ = [
    "SURROGATES", "LOSSES", "ENCODERS", "NEURONS", "RESETS", "PRESETS", "Surrogate",
    "SpikingMLP", "Activity", "train", "forward", "decode", "simulate", "evaluate",
    "require_torch", "train_run", "evaluate_run", "run_steps", "lif_scan", "input_drive",
    "resolve_settings",
    "plot_history",
]

SURROGATES = ("atan", "fast_sigmoid", "rectangular", "sigmoid")
LOSSES = ("membrane_ce", "count_ce", "rate_mse")
#: input encoders: the image as a constant current every step, or per-step Bernoulli spikes
ENCODERS = ("static", "poisson")
#: neuron models: snnTorch's ``Leaky`` (:class:`DiscreteLIF`), SpikingJelly's ``LIFNode``
#: (:class:`SpikingJellyLIF`)
NEURONS = ("snntorch", "spikingjelly")
#: default shape parameter per surrogate: ATan alpha (snnTorch, SpikingJelly), fast-sigmoid
#: slope (Zenke & Ganguli 2018, snnTorch), rectangle width (Wu et al. 2018), sigmoid alpha
#: (SpikingJelly's ``surrogate.Sigmoid``)
DEFAULT_SCALE = {"atan": 2.0, "fast_sigmoid": 25.0, "rectangular": 1.0, "sigmoid": 4.0}

#: Every setting of the tutorials reproduced by name (see the module docstring).
PRESETS: dict[str, dict] = {
    "snntorch-tutorial5": dict(
        hidden=(1000,), neuron="snntorch", beta=0.95, tau=None, decay_input=None, reset=None,
        detach_reset=None, threshold=1.0, steps=25, surrogate="atan", surrogate_scale=2.0,
        loss="membrane_ce", lr=5e-4, batch_size=128, epochs=1, encoder="static", bias=True),
    "spikingjelly-single": dict(
        hidden=(), neuron="spikingjelly", beta=None, tau=2.0, decay_input=True, reset="zero",
        detach_reset=False, threshold=1.0, steps=100, surrogate="atan", surrogate_scale=2.0,
        loss="rate_mse", lr=1e-3, batch_size=64, epochs=100, encoder="poisson", bias=False),
    "spikingjelly-two-layer": dict(
        hidden=(196,), neuron="spikingjelly", beta=None, tau=100.0, decay_input=True,
        reset="zero", detach_reset=False, threshold=1.0, steps=100, surrogate="sigmoid",
        surrogate_scale=4.0, loss="rate_mse", lr=1e-3, batch_size=64, epochs=100,
        encoder="poisson", bias=False),
}


def resolve_settings(preset: str | None = "snntorch-tutorial5", **overrides) -> dict:
    """Every training setting: the preset's, then each override that is not ``None``.

    Parameters
    ----------
    preset : str, optional
        A name in :data:`PRESETS` (default ``"snntorch-tutorial5"``, the CLI's defaults).
    **overrides
        Settings to change (``None`` keeps the preset's).

    Returns
    -------
    dict
        The settings with ``preset`` added; the settings of the other neuron model are
        ``None``.
    """
    name = preset or "snntorch-tutorial5"
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    settings = dict(PRESETS[name])
    unknown = set(overrides) - set(settings)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}")
    settings.update({k: v for k, v in overrides.items() if v is not None})
    given = {k for k, v in overrides.items() if v is not None}
    sj_only = sorted(given & {"tau", "decay_input", "reset", "detach_reset"})
    if settings["neuron"] == "spikingjelly" and "beta" in given:
        raise ValueError("beta is the snntorch neuron's decay; the spikingjelly neuron takes "
                         "tau (beta = 1 - 1/tau)")
    if settings["neuron"] == "snntorch" and sj_only:
        raise ValueError(f"{', '.join(sj_only)} belong to the spikingjelly neuron; add "
                         "neuron='spikingjelly' (--neuron spikingjelly)")
    if settings["neuron"] == "spikingjelly":
        defaults = PRESETS["spikingjelly-single"]
        for key in ("tau", "decay_input", "reset", "detach_reset"):
            if settings[key] is None:
                settings[key] = defaults[key]
        settings["beta"] = None
    elif settings["neuron"] == "snntorch":
        if settings["beta"] is None:
            settings["beta"] = PRESETS["snntorch-tutorial5"]["beta"]
        settings.update(tau=None, decay_input=None, reset=None, detach_reset=None)
    settings["hidden"] = tuple(int(h) for h in settings["hidden"])
    return {"preset": name, **settings}


def require_torch():
    """Import PyTorch or fail with the extra to install."""
    try:
        import torch
    except ImportError:
        raise RuntimeError(
            "surrogate-gradient training needs PyTorch: pip install 'brainlearn[torch]' "
            "(torch==2.13.0)") from None
    return torch


# --------------------------------------------------------------------------------------------
# Surrogate gradients
# --------------------------------------------------------------------------------------------
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


def lif_scan(drive, *, beta: float, threshold: float, reset: str = "zero",
             detach_reset: bool = False, surrogate: Surrogate | None = None):
    """Run :class:`~brainlearn.neurons.SpikingJellyLIF` neurons over all steps at once.

    Forwards, without an autograd graph::

        H[t] = beta V[t-1] + drive[t]         (V[-1] = 0; drive already holds g X[t])
        S[t] = H[t] >= threshold
        V[t] = H[t] (1 - S[t])                (reset="zero")   or   H[t] - threshold S[t]

    Backwards, through time, with ``dS/dH`` replaced by ``surrogate.grad(H - threshold)``
    (written out: for ``t = T-1 .. 0``, ``dL/dH[t] = dL/dH[t]|direct + dL/dS[t] S'[t]
    + dL/dV[t] (dV/dH + dV/dS S'[t])`` and ``dL/dV[t-1] = beta dL/dH[t]``, with
    ``dV/dH = 1 - S`` and ``dV/dS = -H`` for the hard reset, ``1`` and ``-threshold`` for the
    soft one, and ``dV/dS = 0`` with ``detach_reset``). The same as autograd through the
    plain loop (SpikingJelly's ``LIFNode`` with ``v_reset=0``), at a fraction of the cost.

    Parameters
    ----------
    drive : torch.Tensor
        Input ``(T, batch, neurons)``.
    beta, threshold : float
        Decay per step and firing threshold.
    reset : {"zero", "subtract"}
        Hard or soft reset.
    detach_reset : bool
        Stop the gradient through the reset (SpikingJelly's ``detach_reset``, default False).
    surrogate : Surrogate
        Derivative of the spike (default ATan).

    Returns
    -------
    spikes, membrane : torch.Tensor
        ``S`` and ``H`` (the membrane before the reset), both ``(T, batch, neurons)``.
    """
    if reset not in RESETS:
        raise ValueError(f"reset must be one of {', '.join(RESETS)}, got {reset!r}")
    surrogate = surrogate or Surrogate("atan")
    return _lif_scan_function().apply(drive, float(beta), float(threshold), reset == "zero",
                                      bool(detach_reset), surrogate)


@functools.cache
def _lif_scan_function():
    torch = require_torch()

    class LIFScan(torch.autograd.Function):
        @staticmethod
        def forward(ctx, drive, beta, threshold, zero_reset, detach_reset, surrogate):
            h = torch.empty_like(drive)
            s = torch.empty_like(drive)
            v = torch.zeros_like(drive[0])
            for t in range(drive.shape[0]):
                ht = beta * v + drive[t]
                st = (ht >= threshold).to(drive.dtype)
                v = ht * (1 - st) if zero_reset else ht - threshold * st
                h[t] = ht
                s[t] = st
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
            return out, None, None, None, None, None

    return LIFScan


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------
@dataclass
class SpikingMLP:
    """A feed-forward network of discrete LIF layers.

    Attributes
    ----------
    weights, biases : list of numpy.ndarray
        ``weights[l]`` is ``(n_in, n_out)``, ``biases[l]`` is ``(n_out,)`` (float32; zeros
        when the network has no bias).
    beta, threshold : float
        Membrane decay per step and firing threshold of every layer (with
        ``neuron_kind="spikingjelly"``, ``beta = 1 - 1 / tau``).
    steps : int
        Time steps per inference.
    surrogate : Surrogate
        Used in training (kept for the record).
    history : pandas.DataFrame
        Training curve per epoch (``epoch, loss, train_accuracy, seconds``, and
        ``test_accuracy`` when a test set was given).
    config : dict
        Training settings.
    neuron_kind : {"snntorch", "spikingjelly"}
        :class:`~brainlearn.neurons.DiscreteLIF` or :class:`~brainlearn.neurons.SpikingJellyLIF`.
    tau, decay_input, reset, detach_reset
        The SpikingJelly neuron's settings (ignored for ``"snntorch"``, whose reset subtracts
        the threshold, detached).
    encoder : {"static", "poisson"}
        Input of the first layer: the image as a constant current, or per-step Bernoulli spikes
        (:func:`brainlearn.encoding.bernoulli_steps`).
    bias : bool
        Whether the layers have (trained) biases.
    """

    weights: list
    biases: list
    beta: float = 0.95
    threshold: float = 1.0
    steps: int = 25
    surrogate: Surrogate = field(default_factory=Surrogate)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    config: dict = field(default_factory=dict)
    neuron_kind: str = "snntorch"
    tau: float = 2.0
    decay_input: bool = True
    reset: str = "zero"
    detach_reset: bool = False
    encoder: str = "static"
    bias: bool = True

    def __post_init__(self) -> None:
        if self.neuron_kind not in NEURONS:
            raise ValueError(f"neuron must be one of {', '.join(NEURONS)}, "
                             f"got {self.neuron_kind!r}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {self.encoder!r}")
        if self.neuron_kind == "spikingjelly":
            self.beta = self.neuron.beta

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer sizes, input first (e.g. ``(784, 1000, 10)``)."""
        return (self.weights[0].shape[0], *(w.shape[1] for w in self.weights))

    @property
    def n_parameters(self) -> int:
        """Trainable parameters (weights, and biases if the network has them)."""
        return int(sum(w.size + (b.size if self.bias else 0)
                       for w, b in zip(self.weights, self.biases, strict=True)))

    @property
    def neuron(self) -> DiscreteLIF | SpikingJellyLIF:
        """The neuron model of every layer."""
        if self.neuron_kind == "spikingjelly":
            return SpikingJellyLIF(tau=self.tau, decay_input=self.decay_input,
                                   v_thresh=self.threshold, reset_mode=self.reset)
        return DiscreteLIF(beta=self.beta, v_thresh=self.threshold)

    def save(self, path) -> Path:
        """Write weights, settings and training curve to an ``.npz`` file, atomically."""

        meta = {"beta": self.beta, "threshold": self.threshold, "steps": self.steps,
                "surrogate": self.surrogate.name, "surrogate_scale": self.surrogate.scale,
                "config": self.config, "neuron": self.neuron_kind, "tau": self.tau,
                "decay_input": self.decay_input, "reset": self.reset,
                "detach_reset": self.detach_reset, "encoder": self.encoder, "bias": self.bias}
        arrays = layer_arrays(self.weights, self.biases, self.history)
        return save_npz(path, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path) -> SpikingMLP:
        """Read a network written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no spiking network at {path}; train one with `brainlearn surrogate train`")
        with np.load(path) as data:
            n = sum(1 for k in data.files if k.startswith("w"))
            weights = [data[f"w{k}"] for k in range(n)]
            biases = [data[f"b{k}"] for k in range(n)]
            meta = json.loads(str(data["meta"]))
            history = pd.DataFrame(
                {k[len("history_"):]: data[k] for k in data.files if k.startswith("history_")})
        return cls(weights, biases, meta["beta"], meta["threshold"], int(meta["steps"]),
                   Surrogate(meta["surrogate"], meta["surrogate_scale"]), history,
                   meta.get("config", {}), neuron_kind=meta.get("neuron", "snntorch"),
                   tau=meta.get("tau", 2.0), decay_input=meta.get("decay_input", True),
                   reset=meta.get("reset", "zero"), detach_reset=meta.get("detach_reset", False),
                   encoder=meta.get("encoder", "static"), bias=meta.get("bias", True))


@dataclass
class Activity:
    """Output activity of a spiking network over one inference per example.

    Attributes
    ----------
    counts : numpy.ndarray
        ``(n, n_classes)`` output spike counts over the ``steps`` steps.
    membrane : numpy.ndarray
        ``(n, n_classes)`` output membrane ``U[t]`` (before its reset) summed over the steps.
    spikes : numpy.ndarray
        ``(n,)`` spikes of all LIF neurons (hidden and output) per example.
    """

    counts: np.ndarray
    membrane: np.ndarray
    spikes: np.ndarray

    def predict(self, decode_by: str = "count") -> np.ndarray:
        """Predicted class per example (see :func:`decode`)."""
        return decode(self.counts, self.membrane, decode_by)


def decode(counts, membrane, by: str = "count") -> np.ndarray:
    """Class per example: most output spikes, ties broken by the larger summed membrane.

    ``by="membrane"`` uses the summed output membrane alone.
    """
    counts, membrane = np.asarray(counts, float), np.asarray(membrane, float)
    if by == "membrane":
        return np.argmax(membrane, axis=1)
    if by != "count":
        raise ValueError(f"decode must be 'count' or 'membrane', got {by!r}")
    tied = counts == counts.max(axis=1, keepdims=True)
    return np.argmax(np.where(tied, membrane, -np.inf), axis=1)


def _layers(torch, net: SpikingMLP, dtype):
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
    """Simulate the LIF layers (the trainer's forward pass) for ``steps`` steps.

    Parameters
    ----------
    torch : module
        The ``torch`` module (from :func:`require_torch`).
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
    batch = x.shape[0] if drive is None else drive.shape[1]
    dtype, device = (x.dtype, x.device) if drive is None else (drive.dtype, drive.device)
    static = layers[0](x) if drive is None else None  # the image: the same current every step
    mem = [torch.zeros(batch, layer.out_features, dtype=dtype, device=device)
           for layer in layers]
    spk = [torch.zeros_like(m) for m in mem]
    out_mem, out_spk = [], []
    total = torch.zeros(batch, dtype=dtype, device=device)
    for t in range(steps):
        for k, layer in enumerate(layers):
            if k:
                current = layer(spk[k - 1])
            else:
                current = static if drive is None else drive[t]
            mem[k] = beta * mem[k] + current - threshold * spk[k].detach()
            spk[k] = surrogate.spike(mem[k] - threshold)
            total = total + spk[k].detach().sum(dim=1)
        out_mem.append(mem[-1])
        out_spk.append(spk[-1])
    return torch.stack(out_mem), torch.stack(out_spk), total


def input_drive(torch, layer, spikes, pixels):
    """Input current of ``layer`` at every step from the compact spikes of
    :func:`brainlearn.encoding.bernoulli_steps`: ``(steps, batch, n_out)``.

    ``spikes`` is ``(batch, steps, k)`` (float), ``pixels`` ``(batch, k)`` (long): one batched
    product with the weights of the spiking pixels only, ``W x[t] + b`` for all ``t``.
    """
    weight = layer.weight.t()[pixels]  # (batch, k, n_out)
    drive = torch.bmm(spikes, weight).transpose(0, 1)
    return drive if layer.bias is None else drive + layer.bias


def _encode(torch, x, encoder: str, steps: int, seed, indices, dtype, device):
    """The first layer's input for a batch: images, or (spikes, pixels) tensors."""
    if encoder == "static":
        return torch.as_tensor(x, dtype=dtype, device=device)
    spikes, pixels = bernoulli_steps(x, steps, seed, indices)
    return (torch.from_numpy(spikes).to(device=device, dtype=dtype),
            torch.from_numpy(pixels).to(device))


def _network_pass(torch, layers, inputs, net: SpikingMLP):
    """The trainer's forward pass of ``net``'s settings on encoded ``inputs``
    (:func:`_encode`): output membranes and spikes ``(T, batch, classes)``, total spikes."""
    poisson = isinstance(inputs, tuple)
    if net.neuron_kind == "snntorch":
        if poisson:
            return run_steps(torch, layers, None, beta=net.beta, threshold=net.threshold,
                             steps=net.steps, surrogate=net.surrogate,
                             drive=input_drive(torch, layers[0], *inputs))
        return run_steps(torch, layers, inputs, beta=net.beta, threshold=net.threshold,
                         steps=net.steps, surrogate=net.surrogate)
    cell = net.neuron
    gain = cell.input_gain
    if poisson:
        drive = input_drive(torch, layers[0], *inputs) * gain
    else:
        drive = (layers[0](inputs) * gain).expand(net.steps, -1, -1)
    total, spikes = 0, None
    for k, layer in enumerate(layers):
        if k:
            drive = layer(spikes) * gain
        spikes, membrane = lif_scan(drive, beta=cell.beta, threshold=net.threshold,
                                    reset=net.reset, detach_reset=net.detach_reset,
                                    surrogate=net.surrogate)
        total = total + spikes.detach().sum(dim=(0, 2))
    return membrane, spikes, total


def _loss(torch, kind: str, out_mem, out_spk, targets):
    functional = torch.nn.functional
    if kind == "membrane_ce":
        return sum(functional.cross_entropy(m, targets) for m in out_mem)
    if kind == "count_ce":
        return functional.cross_entropy(out_spk.sum(dim=0), targets)
    onehot = functional.one_hot(targets, out_spk.shape[-1]).to(out_spk.dtype)
    return functional.mse_loss(out_spk.mean(dim=0), onehot)


def train(x, labels, *, hidden=(1000,), beta: float = 0.95, threshold: float = 1.0,
          steps: int = 25, surrogate: str | Surrogate = "atan", loss: str = "membrane_ce",
          lr: float = 5e-4, batch_size: int = 128, epochs: int = 1, drop_last: bool = True,
          seed: int = 0, threads: int | None = 2, device: str = "cpu",
          progress: bool = False, neuron: str = "snntorch", tau: float = 2.0,
          decay_input: bool = True, reset: str | None = None, detach_reset: bool | None = None,
          encoder: str = "static", bias: bool = True, test=None, test_seed: int = 0,
          checkpoint=None, on_epoch=None) -> SpikingMLP:
    """Train a feed-forward LIF network by backpropagation through time with surrogate gradients.

    Parameters
    ----------
    x : array_like
        Inputs, uint8 images or ``(n, n_pixels)`` floats in ``[0, 1]``; each is the constant
        input of the first layer for ``steps`` steps (``encoder="static"``) or the spike
        probability of every pixel at every step (``encoder="poisson"``).
    labels : array_like
        Integer classes ``(n,)``.
    hidden : sequence of int
        Hidden layer sizes (default one of 1000: 784-1000-10 on MNIST; empty for 784-10).
    beta, threshold : float
        Membrane decay per step (snnTorch neuron) and threshold.
    steps : int
        Time steps per example.
    surrogate : str or Surrogate
        ``"atan"`` (default), ``"fast_sigmoid"``, ``"rectangular"``, ``"sigmoid"``, or a
        :class:`Surrogate`.
    loss : {"membrane_ce", "count_ce", "rate_mse"}
        See the module docstring.
    lr, batch_size, epochs : float, int, int
        Adam learning rate (betas 0.9, 0.999), minibatch size, passes over the data.
    drop_last : bool
        Skip the last incomplete batch of every epoch (as the tutorials' ``DataLoader``).
    seed : int
        Seed of the initialisation (PyTorch's default ``Linear`` init), the batch order and
        the training spikes (``bernoulli_steps`` with seed ``(seed, epoch)``).
    threads : int, optional
        ``torch.set_num_threads`` during training (restored afterwards); ``None`` leaves it.
    device : str
        PyTorch device (``"cpu"``; ``"cuda"`` where a GPU is available).
    progress : bool
        Show a tqdm progress bar over batches and a line per epoch.
    neuron : {"snntorch", "spikingjelly"}
        :class:`~brainlearn.neurons.DiscreteLIF` (reset by subtraction, detached, the
        snnTorch path, unchanged) or :class:`~brainlearn.neurons.SpikingJellyLIF` (through
        :func:`lif_scan`).
    tau, decay_input, reset, detach_reset
        The SpikingJelly neuron (defaults ``2``, ``True``, ``"zero"``, ``False`` as
        SpikingJelly's ``LIFNode``).
    encoder : {"static", "poisson"}
        Input of the first layer.
    bias : bool
        Give the layers biases.
    test : tuple, optional
        ``(images, labels)``: the test accuracy after every epoch goes into ``history``.
    test_seed : int
        Seed of the test set's input spikes (as :func:`forward`'s ``seed``).
    checkpoint : path, optional
        After every epoch save the parameters, optimiser and generator states there
        (atomically); if the file exists, training resumes after its last epoch (with the
        same settings).
    on_epoch : callable, optional
        Called with the history ``DataFrame`` after every epoch.

    Returns
    -------
    SpikingMLP
        The trained network; ``history`` has ``epoch, loss, train_accuracy, seconds`` (wall
        time of the epoch) and ``test_accuracy``, ``test_accuracy_first`` (ties to the lowest
        class) with ``test``.
    """
    torch = require_torch()
    surrogate = surrogate if isinstance(surrogate, Surrogate) else Surrogate(surrogate)
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    if neuron not in NEURONS:
        raise ValueError(f"neuron must be one of {', '.join(NEURONS)}, got {neuron!r}")
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")
    x = preprocess(x)
    labels = np.asarray(labels).astype(np.int64)
    if len(x) != len(labels) or len(x) == 0:
        raise ValueError(f"x and labels must be non-empty and equally long, "
                         f"got {len(x)} and {len(labels)}")
    hidden = tuple(int(h) for h in hidden)
    if min(hidden, default=1) < 1:
        raise ValueError(f"hidden must list positive layer sizes, got {hidden!r}")
    if neuron == "snntorch":
        if reset not in (None, "subtract") or detach_reset not in (None, True):
            raise ValueError("the snntorch neuron resets by subtraction, detached; use "
                             "neuron='spikingjelly' for other resets")
        DiscreteLIF(beta=beta, v_thresh=threshold)  # checks beta and threshold
    else:
        reset = "zero" if reset is None else reset
        detach_reset = bool(detach_reset)
        cell = SpikingJellyLIF(tau=tau, decay_input=decay_input, v_thresh=threshold,
                               reset_mode=reset)
        beta = cell.beta
    steps, batch_size, epochs = int(steps), int(batch_size), int(epochs)
    if steps < 1 or batch_size < 1 or epochs < 1:
        raise ValueError(f"steps, batch_size and epochs must be positive, got "
                         f"{steps}, {batch_size}, {epochs}")
    n_classes = max(int(labels.max()) + 1, 2)
    sizes = (x.shape[1], *hidden, n_classes)
    config = {"hidden": list(hidden), "beta": beta, "threshold": threshold, "steps": steps,
              "surrogate": surrogate.name, "surrogate_scale": surrogate.scale, "loss": loss,
              "lr": lr, "batch_size": batch_size, "epochs": epochs, "drop_last": drop_last,
              "seed": seed, "train_examples": len(x)}
    if neuron != "snntorch" or encoder != "static" or not bias:
        config.update(neuron=neuron, encoder=encoder, bias=bias)
        if neuron == "spikingjelly":
            config.update(tau=float(tau), decay_input=bool(decay_input), reset=reset,
                          detach_reset=detach_reset)
    kind = dict(neuron_kind=neuron, encoder=encoder, bias=bool(bias))
    if neuron == "spikingjelly":
        kind.update(tau=float(tau), decay_input=bool(decay_input), reset=reset,
                    detach_reset=detach_reset)
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        torch.manual_seed(seed)
        layers = torch.nn.ModuleList(
            torch.nn.Linear(a, b, bias=bias) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        ).to(device)
        optimizer = torch.optim.Adam(layers.parameters(), lr=lr, betas=(0.9, 0.999))
        rng = np.random.default_rng(seed)
        rows, first_epoch = [], 0
        if checkpoint is not None and Path(checkpoint).is_file():
            state = torch.load(checkpoint, map_location=device, weights_only=False)
            saved = {k: v for k, v in state["config"].items() if k != "epochs"}
            if saved != {k: v for k, v in config.items() if k != "epochs"}:
                raise ValueError(f"the checkpoint {checkpoint} was written with other settings; "
                                 "remove it or train into a new directory")
            layers.load_state_dict(state["layers"])
            optimizer.load_state_dict(state["optimizer"])
            rng.bit_generator.state = state["rng"]
            torch.set_rng_state(state["torch_rng"])
            rows, first_epoch = state["rows"], len(state["rows"])
        xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(labels).to(device)
        n_batches = len(x) // batch_size if drop_last and len(x) >= batch_size else \
            math.ceil(len(x) / batch_size)
        bar = None
        if progress and first_epoch < epochs:
            from tqdm import tqdm
            bar = tqdm(total=(epochs - first_epoch) * n_batches, desc="surrogate BPTT",
                       unit="batch")

        def snapshot(history):
            weights = [layer.weight.detach().cpu().numpy().T.copy() for layer in layers]
            biases = [layer.bias.detach().cpu().numpy().copy() if bias else
                      np.zeros(layer.out_features, np.float32) for layer in layers]
            return SpikingMLP(weights, biases, float(beta), float(threshold), steps, surrogate,
                              pd.DataFrame(history), config, **kind)

        template = snapshot([])
        for epoch in range(first_epoch, epochs):
            start = time.perf_counter()
            order = rng.permutation(len(x))
            loss_sum, correct, seen = 0.0, 0, 0
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                if encoder == "static":
                    inputs = xt[idx]
                else:
                    inputs = _encode(torch, x[idx], encoder, steps, (seed, epoch + 1), idx,
                                     torch.float32, device)
                out_mem, out_spk, _ = _network_pass(torch, layers, inputs, template)
                value = _loss(torch, loss, out_mem, out_spk, yt[idx])
                optimizer.zero_grad()
                value.backward()
                optimizer.step()
                loss_value = float(value.detach())
                loss_sum += loss_value * len(idx)
                pred = decode(out_spk.detach().sum(0).cpu().numpy(),
                              out_mem.detach().sum(0).cpu().numpy())
                correct += int((pred == labels[idx]).sum())
                seen += len(idx)
                if bar is not None:
                    bar.update()
                    bar.set_postfix(loss=f"{loss_value:.3f}", acc=f"{correct / seen:.3f}")
            row = {"epoch": epoch + 1, "loss": loss_sum / seen, "train_accuracy": correct / seen,
                   "seconds": time.perf_counter() - start}
            if test is not None:
                act = forward(snapshot(rows), test[0], seed=test_seed, threads=None)
                test_labels = np.asarray(test[1])
                row["test_accuracy"] = float(np.mean(act.predict() == test_labels))
                row["test_accuracy_first"] = float(np.mean(np.argmax(act.counts, axis=1)
                                                           == test_labels))
            rows.append(row)
            if progress:
                shown = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch")
                (bar.write if bar is not None else print)(f"epoch {epoch + 1}: {shown}")
            if checkpoint is not None:
                from brainlearn.atomic import atomic_path

                with atomic_path(checkpoint) as tmp:
                    torch.save({"config": config, "layers": layers.state_dict(),
                                "optimizer": optimizer.state_dict(),
                                "rng": rng.bit_generator.state,
                                "torch_rng": torch.get_rng_state(), "rows": rows}, tmp)
            if on_epoch is not None:
                on_epoch(pd.DataFrame(rows))
        if bar is not None:
            bar.close()
        net = snapshot(rows)
    finally:
        torch.set_num_threads(old_threads)
    return net


def forward(net: SpikingMLP, images, *, batch_size: int | None = None, dtype: str = "float32",
            threads: int | None = 2, seed: int = 0) -> Activity:
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
        ``e``, the same as :func:`simulate` with this seed.
    """
    torch = require_torch()
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    tdtype = getattr(torch, dtype)
    x = preprocess(images)
    if batch_size is None:
        batch_size = 250 if net.encoder == "poisson" else 1000
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    counts, membrane, spikes = [], [], []
    try:
        layers = _layers(torch, net, tdtype)
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                inputs = _encode(torch, x[i:i + batch_size], net.encoder, net.steps, seed,
                                 np.arange(i, min(i + batch_size, len(x))), tdtype, "cpu")
                out_mem, out_spk, total = _network_pass(torch, layers, inputs, net)
                counts.append(out_spk.sum(0).numpy())
                membrane.append(out_mem.sum(0).numpy())
                spikes.append(total.numpy())
    finally:
        torch.set_num_threads(old_threads)
    n_out = net.sizes[-1]

    def cat(parts, shape):
        return np.concatenate(parts).astype(np.float64) if parts else np.zeros(shape)

    return Activity(cat(counts, (0, n_out)), cat(membrane, (0, n_out)), cat(spikes, (0,)))


# --------------------------------------------------------------------------------------------
# Brian2
# --------------------------------------------------------------------------------------------
def _lanes(sizes, n, max_synapses, lanes=None) -> int:
    from brainlearn.lanes import lane_count

    per_lane = sum(a * b for a, b in zip(sizes[1:-1], sizes[2:], strict=True)) + sum(sizes[1:])
    return lane_count(per_lane, n, max_synapses, lanes)


def simulate(net: SpikingMLP, images, *, lanes: int | None = None, max_synapses: float = 4e6,
             device: str = "runtime", directory=None, seed: int = 0,
             max_inputs: float = 2e7) -> Activity:
    """Run ``net`` as :class:`~brainlearn.neurons.DiscreteLIF` or
    :class:`~brainlearn.neurons.SpikingJellyLIF` groups in Brian2.

    ``lanes`` copies of the network run side by side (block-diagonal synapses
    ``v_post += g w``, ``g`` the neuron's input gain: 1, or ``1 / tau`` for SpikingJelly's
    decayed input); every lane presents its share of the images one after the other,
    ``net.steps`` steps of 1 ms each, and a ``run_regularly`` operation resets every membrane at
    the start of an example. The first layer receives ``g (W x + b)`` from a ``TimedArray``:
    constant over an example for the static image, or step by step for Poisson input, where
    ``x[t]`` are the input spikes of :func:`brainlearn.encoding.bernoulli_steps` (seed
    ``seed``, example ``e`` of ``images`` with index ``e``: the trains :func:`forward` uses
    with the same seed). The other layers add ``g b`` every step. Within a step, layer ``l``
    checks its threshold after the synapses from layer ``l - 1`` (zero delay, as in the
    trainer); the neuron's docstring gives the order of input, threshold, reset and leak.

    Parameters
    ----------
    net : SpikingMLP
    images : array_like
        uint8 images or ``(n, n_pixels)`` floats in ``[0, 1]``.
    lanes : int, optional
        Parallel copies of the network (default: as many as ``max_synapses`` allows).
    max_synapses : float
        Synapse budget that sets the default ``lanes``.
    device : {"runtime", "cpp_standalone"}
        Runtime mode uses ``prefs.codegen.target``; cpp_standalone builds in ``directory`` (a
        temporary directory by default) and restores the previous device.
    seed : int
        Seed of the input spikes (Poisson input).
    max_inputs : float
        With Poisson input, images are run in chunks (one Brian2 run each) whose per-step input
        table holds at most this many values (memory).

    Returns
    -------
    Activity
        Output counts, summed output membrane and total spikes per example.
    """
    x = preprocess(images).astype(np.float64)
    n = len(x)
    if n == 0:
        raise ValueError("images must hold at least one example")
    sizes = net.sizes
    if x.shape[1] != sizes[0]:
        raise ValueError(f"images have {x.shape[1]} pixels but the network expects {sizes[0]}")
    gain = getattr(net.neuron, "input_gain", 1.0)
    w0 = np.asarray(net.weights[0], np.float64)
    b0 = np.asarray(net.biases[0], np.float64)
    run = functools.partial(_simulate_drive, net, lanes=lanes, max_synapses=max_synapses,
                            device=device, directory=directory)
    if net.encoder == "static":
        return run(((x @ w0 + b0) * gain)[:, None, :])
    T = int(net.steps)
    chunk = max(1, int(max_inputs // (T * sizes[1])))
    parts = []
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        spikes, pixels = bernoulli_steps(x[start:stop], T, seed, np.arange(start, stop))
        drive = np.empty((stop - start, T, sizes[1]))
        for e in range(stop - start):
            drive[e] = (spikes[e].astype(np.float64) @ w0[pixels[e]] + b0) * gain
        parts.append(run(drive))
    return Activity(*(np.concatenate([getattr(p, f) for p in parts])
                      for f in ("counts", "membrane", "spikes")))


def _simulate_drive(net: SpikingMLP, drive, *, lanes, max_synapses, device,
                    directory) -> Activity:
    """One Brian2 run of ``net`` whose first layer gets ``drive`` ``(n, 1 or T, n_1)``."""
    from brian2 import Network, NeuronGroup, StateMonitor, Synapses, TimedArray

    from brainlearn.lanes import connect_lanes, lane_runner, read_lanes

    n, per_step = len(drive), drive.shape[1] > 1
    sizes = net.sizes
    T = int(net.steps)
    n_lanes = _lanes(sizes, n, max_synapses, lanes)
    n_slots = math.ceil(n / n_lanes)
    model = net.neuron
    gain = getattr(model, "input_gain", 1.0)
    step = model.step
    period = T * step
    weights = [np.asarray(w, np.float64) * gain for w in net.weights]
    biases = [np.asarray(b, np.float64) * gain for b in net.biases]
    rows = drive.shape[1]
    padded = np.zeros((n_lanes * n_slots, rows, sizes[1]))
    padded[:n] = drive
    # example e runs in lane e % lanes, slot e // lanes: row = slot (* T + step),
    # column = lane * size + unit
    current = padded.reshape(n_slots, n_lanes, rows, sizes[1]).transpose(0, 2, 1, 3).reshape(
        n_slots * rows, n_lanes * sizes[1])
    read = dict(lanes=n_lanes, n=n, n_slots=n_slots, t_max=T, record_every=T, steps=(T,))
    with lane_runner(device, directory) as run:
        network = Network()
        layers, tallies = [], []
        depth = len(weights)
        for k in range(depth):
            size = sizes[k + 1]
            last = k == depth - 1
            group = model.group(
                n_lanes * size,
                extra_equations="count : 1\n" + ("bias : 1\n" if k else "")
                + ("vsum : 1\n" if last else ""),
                extra_reset="count += 1",
                namespace={"current": TimedArray(current, dt=step if per_step else period)}
                if k == 0 else None)
            if k == 0:
                group.run_regularly("v += current(t, i)", when="before_thresholds")
            else:
                group.bias = np.tile(biases[k], n_lanes)
                group.run_regularly("v += bias", when="before_thresholds")
                # after the synapses from layer k - 1 of the same step (zero delay)
                group.set_event_schedule("spike", when="synapses", order=2 * k)
                syn = connect_lanes(network, layers[-1], group, weights[k], n_lanes,
                                     step)
                syn.pre.order = 2 * k - 1
            if last:
                group.run_regularly("vsum += v", when="before_resets")
            group.run_regularly("v = 0\ncount = 0" + ("\nvsum = 0" if last else ""),
                                dt=period, when="start", order=1)
            network.add(group)
            layers.append(group)
            # spikes per lane during the current example
            tally = NeuronGroup(n_lanes, "n : 1", dt=step)
            tally.run_regularly("n = 0", dt=period, when="start", order=1)
            counter = Synapses(group, tally, on_pre="n_post += 1", dt=step)
            counter.connect(i=np.arange(n_lanes * size), j=np.arange(n_lanes * size) // size)
            counter.pre.when = "after_synapses"
            monitor = StateMonitor(tally, "n", record=True, dt=period, when="start", order=-1)
            network.add(tally, counter, monitor)
            tallies.append(monitor)
        out = StateMonitor(layers[-1], ("count", "vsum"), record=True, dt=period, when="start",
                           order=-1)
        network.add(out)
        # one extra step so the monitors see the state after the last example's final step
        run(network, (n_slots * T + 1) * step)
        counts = read_lanes(out, "count", sizes[-1], **read)[0]
        membrane = read_lanes(out, "vsum", sizes[-1], **read)[0]
        spikes = sum(read_lanes(mon, "n", 1, **read)[0, :, 0] for mon in tallies)
    return Activity(counts, membrane, np.asarray(spikes, dtype=np.float64))


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------
def evaluate(net: SpikingMLP, images, labels, *, brian2: bool = True,
             brian2_examples: int | None = None, dtype: str = "float32",
             device: str = "runtime", lanes: int | None = None, max_synapses: float = 4e6,
             directory=None, seed: int = 0) -> pd.DataFrame:
    """Test accuracy of the trainer's forward pass and of the same network in Brian2.

    With Poisson input both receive the same input spike trains (``seed``, see
    :func:`simulate`), so their predictions can be compared image by image.

    Parameters
    ----------
    net : SpikingMLP
    images, labels : array_like
        Test set.
    brian2 : bool
        Also run the Brian2 network (:func:`simulate`).
    brian2_examples : int, optional
        Run Brian2 on the first ``brian2_examples`` images only (default: all).
    dtype : {"float32", "float64"}
        Precision of the trainer's forward pass.
    device, lanes, max_synapses, directory, seed
        See :func:`simulate`.

    Returns
    -------
    pandas.DataFrame
        One row per implementation (``"trainer"``, ``"brian2"``): ``accuracy`` (spike-count
        decoding, ties to the larger membrane, :func:`decode`), ``accuracy_membrane`` (summed
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


# --------------------------------------------------------------------------------------------
# Run directories
# --------------------------------------------------------------------------------------------
def plot_history(history: pd.DataFrame, title: str = ""):
    """Accuracy per epoch (train and, if recorded, test) as a matplotlib ``Figure``."""
    from brainlearn.analysis.plots import new_figure

    fig = new_figure(6.0, 3.6)
    ax = fig.add_subplot()
    epochs = history["epoch"].to_numpy()
    ax.plot(epochs, 100 * history["train_accuracy"].to_numpy(), "o-", ms=3, label="train")
    if "test_accuracy" in history and history["test_accuracy"].notna().any():
        test = 100 * history["test_accuracy"].to_numpy()
        best = int(np.nanargmax(test))
        ax.plot(epochs, test, "o-", ms=3,
                label=f"test (best {test[best]:.2f} % at epoch {epochs[best]})")
        ax.plot(epochs[best], test[best], "k*", ms=9)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def train_run(out, *, preset: str | None = "snntorch-tutorial5", hidden=None,
              beta: float | None = None, threshold: float | None = None,
              steps: int | None = None, surrogate: str | None = None,
              surrogate_scale: float | None = None, loss: str | None = None,
              lr: float | None = None, batch_size: int | None = None,
              epochs: int | None = None, neuron: str | None = None, tau: float | None = None,
              decay_input: bool | None = None, reset: str | None = None,
              detach_reset: bool | None = None, encoder: str | None = None,
              bias: bool | None = None, seed: int = 0, threads: int | None = 2,
              torch_device: str = "cpu", source: str = "full",
              train_examples: int | None = None, test_examples: int | None = None,
              test_every_epoch: bool = True, progress: bool = True) -> dict:
    """Train with surrogate gradients and write a run directory (see :mod:`brainlearn.rundir`).

    The settings are the ``preset``'s (:data:`PRESETS`, default ``"snntorch-tutorial5"``)
    except those given (not ``None``). Writes ``snn.npz``, ``weights.npz`` (the first layer),
    ``train_metrics.csv`` (one row per epoch with the test accuracy), ``accuracy.png``,
    ``checkpoint.pt`` (after every epoch: a killed run continues where it stopped when the
    same command is run again), ``config.json`` (``kind`` ``"surrogate"``, the preset and every
    setting) and ``metrics.json``. PyTorch and the data are checked before anything is written,
    and a run that fails before its first epoch ends leaves no directory behind.

    Returns
    -------
    dict
        ``test_accuracy``, ``best_test_accuracy``, ``best_epoch``, ``train_seconds`` (the
        epochs' wall time summed, across resumes), ``seconds_per_epoch``, ``sizes``,
        ``test_examples``.
    """
    import time

    from brainlearn import rundir
    from brainlearn.analysis.plots import save_figure
    from brainlearn.atomic import atomic_path
    from brainlearn.data import load_mnist

    require_torch()
    settings = resolve_settings(preset, hidden=hidden, beta=beta, threshold=threshold,
                                steps=steps, surrogate=surrogate,
                                surrogate_scale=surrogate_scale, loss=loss, lr=lr,
                                batch_size=batch_size, epochs=epochs, neuron=neuron, tau=tau,
                                decay_input=decay_input, reset=reset,
                                detach_reset=detach_reset, encoder=encoder, bias=bias)
    rule = Surrogate(settings["surrogate"], settings["surrogate_scale"])
    x_train, y_train = load_mnist("train", n=train_examples, source=source)
    x_test, y_test = load_mnist("test", n=test_examples, source=source)
    model = {k: v for k, v in settings.items()
             if k not in ("preset", "surrogate", "surrogate_scale", "beta", "tau",
                          "decay_input", "reset", "detach_reset")}
    if settings["neuron"] == "snntorch":
        model["beta"] = settings["beta"]
    else:
        model.update(tau=settings["tau"], decay_input=settings["decay_input"],
                     reset=settings["reset"], detach_reset=settings["detach_reset"])
    name = settings["preset"]
    title = f"{name}: {'-'.join(map(str, (784, *settings['hidden'], 10)))}"

    def write_history(history: pd.DataFrame, root: Path) -> None:
        with atomic_path(root / "train_metrics.csv") as tmp:
            history.to_csv(tmp, index=False)
        save_figure(plot_history(history, title), root / "accuracy.png")

    resuming = (Path(out) / "checkpoint.pt").is_file()
    # a run that finished no epoch leaves nothing; one with a checkpoint can resume
    with rundir.new_run(out, keep=("checkpoint.pt",)) as run:
        start = time.perf_counter()
        net = train(x_train, y_train, surrogate=rule, seed=seed, threads=threads,
                    device=torch_device, progress=progress, **model,
                    test=(x_test, y_test) if test_every_epoch else None,
                    checkpoint=run / "checkpoint.pt",
                    on_epoch=lambda history: write_history(history, run))
        wall = time.perf_counter() - start
        history = net.history.copy()
        if "test_accuracy" in history:
            test_accuracy = float(history["test_accuracy"].iloc[-1])
        else:
            act = forward(net, x_test, threads=threads)
            test_accuracy = float((decode(act.counts, act.membrane) == y_test).mean())
            history["test_accuracy"] = float("nan")
            history.loc[history.index[-1], "test_accuracy"] = test_accuracy
        net.save(run / "snn.npz")
        rundir.write_weights(run, np.asarray(net.weights[0]))
        write_history(history, run)
        rundir.write_config(run, {**settings, **net.config, "hidden": list(settings["hidden"]),
                                  "source": source, "threads": threads,
                                  "torch_device": torch_device, "resumed": resuming,
                                  "train_examples": len(x_train),
                                  "test_examples": len(x_test)}, kind="surrogate")
        best = int(np.nanargmax(history["test_accuracy"].to_numpy()))
        metrics = {"test_accuracy": test_accuracy, "parameters": net.n_parameters,
                   # every epoch's wall time, also those of earlier calls of a resumed run
                   "test_examples": len(x_test),
                   "train_seconds": round(max(float(net.history["seconds"].sum()), wall), 1),
                   "seconds_per_epoch": round(float(net.history["seconds"].mean()), 3),
                   "best_test_accuracy": float(history["test_accuracy"].iloc[best]),
                   "best_epoch": int(history["epoch"].iloc[best]),
                   "epochs": int(history["epoch"].iloc[-1]), "preset": name,
                   "sizes": list(net.sizes)}
        rundir.update_metrics(run, metrics)
    return metrics


def evaluate_run(run_dir, *, test_examples: int | None = None, brian2: bool = True,
                 brian2_examples: int | None = None, dtype: str = "float32",
                 device: str = "runtime", lanes: int | None = None,
                 source: str = "full", seed: int = 0) -> pd.DataFrame:
    """Evaluate the network of a :func:`train_run` directory (:func:`evaluate`); write
    ``results.csv`` and the accuracies into ``metrics.json``; return the table."""
    from brainlearn import rundir
    from brainlearn.atomic import atomic_path
    from brainlearn.data import load_mnist

    root = rundir.open_run(run_dir)
    net = SpikingMLP.load(root / "snn.npz")
    x_test, y_test = load_mnist("test", n=test_examples, source=source)
    table = evaluate(net, x_test, y_test, brian2=brian2, brian2_examples=brian2_examples,
                     dtype=dtype, device=device, lanes=lanes, seed=seed)
    table["device"] = device
    with atomic_path(root / "results.csv") as tmp:
        table.to_csv(tmp, index=False)
    updates = {f"accuracy_{row.implementation}": float(row.accuracy)
               for row in table.itertuples()}
    if "brian2" in set(table["implementation"]):
        updates["agreement_brian2"] = float(table.set_index("implementation")
                                            .loc["brian2", "agreement"])
    rundir.update_metrics(root, updates)
    return table
