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
from brainlearn.lanes import layer_arrays, preprocess
from brainlearn.neurons import DiscreteLIF

__all__ = [
    "SURROGATES", "LOSSES", "Surrogate", "SpikingMLP", "Activity", "train", "forward",
    "decode", "simulate", "evaluate", "require_torch", "train_run", "evaluate_run", "run_steps",
]

SURROGATES = ("atan", "fast_sigmoid", "rectangular")
LOSSES = ("membrane_ce", "count_ce", "rate_mse")
#: default shape parameter per surrogate: ATan alpha (snnTorch), fast-sigmoid slope (Zenke &
#: Ganguli 2018, snnTorch), rectangle width (Wu et al. 2018)
DEFAULT_SCALE = {"atan": 2.0, "fast_sigmoid": 25.0, "rectangular": 1.0}


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

    Parameters
    ----------
    name : {"atan", "fast_sigmoid", "rectangular"}
    scale : float, optional
        ``alpha``, ``k`` or ``a`` (defaults above).
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
        return xp.clip(x / s + 0.5, 0.0, 1.0)

    def grad(self, x):
        """The surrogate derivative ``d smooth / dx``."""
        xp, s = _xp(x), self.scale
        if self.name == "atan":
            return (s / 2) / (1 + (math.pi * s * x / 2) ** 2)
        if self.name == "fast_sigmoid":
            return 1 / (1 + s * xp.abs(x)) ** 2
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


# --------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------
@dataclass
class SpikingMLP:
    """A feed-forward network of :class:`~brainlearn.neurons.DiscreteLIF` layers.

    Attributes
    ----------
    weights, biases : list of numpy.ndarray
        ``weights[l]`` is ``(n_in, n_out)``, ``biases[l]`` is ``(n_out,)`` (float32).
    beta, threshold : float
        Membrane decay per step and firing threshold of every layer.
    steps : int
        Time steps per inference.
    surrogate : Surrogate
        Used in training (kept for the record).
    history : pandas.DataFrame
        Training curve per epoch (``epoch, loss, train_accuracy, seconds``).
    config : dict
        Training settings.
    """

    weights: list
    biases: list
    beta: float = 0.95
    threshold: float = 1.0
    steps: int = 25
    surrogate: Surrogate = field(default_factory=Surrogate)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    config: dict = field(default_factory=dict)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer sizes, input first (e.g. ``(784, 1000, 10)``)."""
        return (self.weights[0].shape[0], *(w.shape[1] for w in self.weights))

    @property
    def n_parameters(self) -> int:
        """Trainable parameters (weights and biases)."""
        return int(sum(w.size + b.size for w, b in zip(self.weights, self.biases, strict=True)))

    @property
    def neuron(self) -> DiscreteLIF:
        """The neuron model of every layer."""
        return DiscreteLIF(beta=self.beta, v_thresh=self.threshold)

    def save(self, path) -> Path:
        """Write weights, settings and training curve to an ``.npz`` file, atomically."""

        meta = {"beta": self.beta, "threshold": self.threshold, "steps": self.steps,
                "surrogate": self.surrogate.name, "surrogate_scale": self.surrogate.scale,
                "config": self.config}
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
                   meta.get("config", {}))


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
    """``torch.nn.Linear`` layers holding the network's parameters."""
    layers = torch.nn.ModuleList()
    for w, b in zip(net.weights, net.biases, strict=True):
        layer = torch.nn.Linear(w.shape[0], w.shape[1]).to(dtype)
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(np.asarray(w).T, dtype=dtype))
            layer.bias.copy_(torch.as_tensor(np.asarray(b), dtype=dtype))
        layers.append(layer)
    return layers


def run_steps(torch, layers, x, *, beta: float, threshold: float, steps: int, surrogate: Surrogate):
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

    Returns
    -------
    tuple
        Output membranes and spikes ``(steps, batch, classes)`` and the total spikes per
        example of all layers.
    """
    batch = x.shape[0]
    static = layers[0](x)  # the image is the same input current at every step
    mem = [torch.zeros(batch, layer.out_features, dtype=x.dtype, device=x.device)
           for layer in layers]
    spk = [torch.zeros_like(m) for m in mem]
    out_mem, out_spk = [], []
    total = torch.zeros(batch, dtype=x.dtype, device=x.device)
    for _ in range(steps):
        for k, layer in enumerate(layers):
            current = static if k == 0 else layer(spk[k - 1])
            mem[k] = beta * mem[k] + current - threshold * spk[k].detach()
            spk[k] = surrogate.spike(mem[k] - threshold)
            total = total + spk[k].detach().sum(dim=1)
        out_mem.append(mem[-1])
        out_spk.append(spk[-1])
    return torch.stack(out_mem), torch.stack(out_spk), total


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
          progress: bool = False) -> SpikingMLP:
    """Train a feed-forward LIF network by backpropagation through time with surrogate gradients.

    Parameters
    ----------
    x : array_like
        Inputs, uint8 images or ``(n, n_pixels)`` floats in ``[0, 1]``; each is the constant
        input of the first layer for ``steps`` steps.
    labels : array_like
        Integer classes ``(n,)``.
    hidden : sequence of int
        Hidden layer sizes (default one of 1000: 784-1000-10 on MNIST).
    beta, threshold : float
        Membrane decay per step and threshold (reset by subtraction, detached from the graph).
    steps : int
        Time steps per example.
    surrogate : str or Surrogate
        ``"atan"`` (default), ``"fast_sigmoid"``, ``"rectangular"``, or a :class:`Surrogate`.
    loss : {"membrane_ce", "count_ce", "rate_mse"}
        See the module docstring.
    lr, batch_size, epochs : float, int, int
        Adam learning rate (betas 0.9, 0.999), minibatch size, passes over the data.
    drop_last : bool
        Skip the last incomplete batch of every epoch (as the tutorial's ``DataLoader``).
    seed : int
        Seed of the initialisation (PyTorch's default ``Linear`` init) and the batch order.
    threads : int, optional
        ``torch.set_num_threads`` during training (restored afterwards); ``None`` leaves it.
    device : str
        PyTorch device (``"cpu"``; ``"cuda"`` where a GPU is available).
    progress : bool
        Show a tqdm progress bar over batches.

    Returns
    -------
    SpikingMLP
        The trained network; ``history`` has ``epoch, loss, train_accuracy, seconds`` (wall
        time of the epoch).
    """
    torch = require_torch()
    surrogate = surrogate if isinstance(surrogate, Surrogate) else Surrogate(surrogate)
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    x = preprocess(x)
    labels = np.asarray(labels).astype(np.int64)
    if len(x) != len(labels) or len(x) == 0:
        raise ValueError(f"x and labels must be non-empty and equally long, "
                         f"got {len(x)} and {len(labels)}")
    hidden = tuple(int(h) for h in hidden)
    if min(hidden, default=1) < 1:
        raise ValueError(f"hidden must list positive layer sizes, got {hidden!r}")
    DiscreteLIF(beta=beta, v_thresh=threshold)  # checks beta and threshold
    steps, batch_size, epochs = int(steps), int(batch_size), int(epochs)
    if steps < 1 or batch_size < 1 or epochs < 1:
        raise ValueError(f"steps, batch_size and epochs must be positive, got "
                         f"{steps}, {batch_size}, {epochs}")
    n_classes = max(int(labels.max()) + 1, 2)
    sizes = (x.shape[1], *hidden, n_classes)
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        torch.manual_seed(seed)
        layers = torch.nn.ModuleList(
            torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        ).to(device)
        optimizer = torch.optim.Adam(layers.parameters(), lr=lr, betas=(0.9, 0.999))
        rng = np.random.default_rng(seed)
        xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(labels).to(device)
        n_batches = len(x) // batch_size if drop_last and len(x) >= batch_size else \
            math.ceil(len(x) / batch_size)
        rows = []
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=epochs * n_batches, desc="surrogate BPTT", unit="batch")
        for epoch in range(epochs):
            start = time.perf_counter()
            order = rng.permutation(len(x))
            loss_sum, correct, seen = 0.0, 0, 0
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                out_mem, out_spk, _ = run_steps(torch, layers, xt[idx], beta=beta,
                                           threshold=threshold, steps=steps,
                                           surrogate=surrogate)
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
            rows.append({"epoch": epoch + 1, "loss": loss_sum / seen,
                         "train_accuracy": correct / seen,
                         "seconds": time.perf_counter() - start})
        if bar is not None:
            bar.close()
    finally:
        torch.set_num_threads(old_threads)
    weights = [layer.weight.detach().cpu().numpy().T.copy() for layer in layers]
    biases = [layer.bias.detach().cpu().numpy().copy() for layer in layers]
    config = {"hidden": list(hidden), "beta": beta, "threshold": threshold, "steps": steps,
              "surrogate": surrogate.name, "surrogate_scale": surrogate.scale, "loss": loss,
              "lr": lr, "batch_size": batch_size, "epochs": epochs, "drop_last": drop_last,
              "seed": seed, "train_examples": len(x)}
    return SpikingMLP(weights, biases, float(beta), float(threshold), steps, surrogate,
                      pd.DataFrame(rows), config)


def forward(net: SpikingMLP, images, *, batch_size: int = 1000, dtype: str = "float32",
            threads: int | None = 2) -> Activity:
    """The trainer's forward pass (PyTorch, no gradient) over ``images``.

    Parameters
    ----------
    net : SpikingMLP
    images : array_like
        uint8 images or ``(n, n_pixels)`` floats in ``[0, 1]``.
    batch_size : int
        Examples per pass.
    dtype : {"float32", "float64"}
        Precision (training runs in float32; float64 is Brian2's precision).
    threads : int, optional
        ``torch.set_num_threads`` during the pass.
    """
    torch = require_torch()
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    tdtype = getattr(torch, dtype)
    x = torch.from_numpy(preprocess(images)).to(tdtype)
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    counts, membrane, spikes = [], [], []
    try:
        layers = _layers(torch, net, tdtype)
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                out_mem, out_spk, total = run_steps(torch, layers, x[i:i + batch_size], beta=net.beta,
                                               threshold=net.threshold, steps=net.steps,
                                               surrogate=net.surrogate)
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
             device: str = "runtime", directory=None) -> Activity:
    """Run ``net`` as :class:`~brainlearn.neurons.DiscreteLIF` groups in one Brian2 simulation.

    ``lanes`` copies of the network run side by side (block-diagonal synapses
    ``v_post += w``); every lane presents its share of the images one after the other,
    ``net.steps`` steps of 1 ms each, and a ``run_regularly`` operation resets every membrane at
    the start of an example. The first layer receives ``W x + b`` as a constant input from a
    ``TimedArray`` indexed by example; the other layers add their bias every step. Within a
    step, layer ``l`` checks its threshold after the synapses from layer ``l - 1`` (zero delay,
    as in the trainer); resets subtract the threshold and the leak runs last
    (see :class:`~brainlearn.neurons.DiscreteLIF`).

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

    Returns
    -------
    Activity
        Output counts, summed output membrane and total spikes per example.
    """
    from brian2 import Network, NeuronGroup, StateMonitor, Synapses, TimedArray

    from brainlearn.lanes import connect_lanes, lane_runner, read_lanes

    x = preprocess(images).astype(np.float64)
    n = len(x)
    if n == 0:
        raise ValueError("images must hold at least one example")
    sizes = net.sizes
    if x.shape[1] != sizes[0]:
        raise ValueError(f"images have {x.shape[1]} pixels but the network expects {sizes[0]}")
    T = int(net.steps)
    n_lanes = _lanes(sizes, n, max_synapses, lanes)
    n_slots = math.ceil(n / n_lanes)
    model = net.neuron
    step = model.step
    period = T * step
    weights = [np.asarray(w, np.float64) for w in net.weights]
    biases = [np.asarray(b, np.float64) for b in net.biases]
    xp = np.zeros((n_lanes * n_slots, sizes[0]))
    xp[:n] = x
    # example e runs in lane e % lanes, slot e // lanes: row = slot, column = lane * size + unit
    current = (xp @ weights[0] + biases[0]).reshape(n_slots, n_lanes * sizes[1])
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
                namespace={"current": TimedArray(current, dt=period)} if k == 0 else None)
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
             directory=None) -> pd.DataFrame:
    """Test accuracy of the trainer's forward pass and of the same network in Brian2.

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
    device, lanes, max_synapses, directory
        See :func:`simulate`.

    Returns
    -------
    pandas.DataFrame
        One row per implementation (``"trainer"``, ``"brian2"``): ``accuracy`` (spike-count
        decoding, ties to the larger membrane, :func:`decode`), ``accuracy_membrane`` (summed
        output membrane), ``accuracy_count_first`` (spike count, ties to the lowest class as
        ``torch.max`` in the snnTorch tutorial), ``agreement`` (fraction of images
        where the prediction equals the trainer's), ``spikes_per_inference``, ``steps``,
        ``n_examples``, ``wall_seconds``.
    """
    labels = np.asarray(labels).astype(np.int64)
    x = preprocess(images)
    if len(x) != len(labels):
        raise ValueError(f"{len(x)} images but {len(labels)} labels")
    rows = []
    start = time.perf_counter()
    ref = forward(net, x, dtype=dtype)
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
                "n_examples": k, "wall_seconds": round(wall, 2)}

    rows.append(row("trainer", ref, time.perf_counter() - start))
    if brian2:
        k = len(x) if brian2_examples is None else min(int(brian2_examples), len(x))
        start = time.perf_counter()
        act = simulate(net, x[:k], lanes=lanes, max_synapses=max_synapses, device=device,
                       directory=directory)
        rows.append(row("brian2", act, time.perf_counter() - start))
    table = pd.DataFrame(rows)
    table["dtype"] = dtype
    return table


# --------------------------------------------------------------------------------------------
# Run directories
# --------------------------------------------------------------------------------------------
def train_run(out, *, hidden=(1000,), beta: float = 0.95, threshold: float = 1.0,
              steps: int = 25, surrogate: str = "atan", surrogate_scale: float | None = None,
              loss: str = "membrane_ce", lr: float = 5e-4, batch_size: int = 128,
              epochs: int = 1, seed: int = 0, threads: int | None = 2, torch_device: str = "cpu",
              source: str = "full", train_examples: int | None = None,
              progress: bool = True) -> dict:
    """Train with surrogate gradients and write a run directory (see :mod:`brainlearn.rundir`).

    Writes ``snn.npz``, ``weights.npz`` (the first layer, ``(784, hidden)``),
    ``train_metrics.csv``, ``config.json`` (``kind`` ``"surrogate"``) and ``metrics.json``.
    PyTorch and the data are checked before anything is written, and a failed run leaves no
    directory behind.

    Returns
    -------
    dict
        ``test_accuracy``, ``train_seconds``, ``seconds_per_epoch``, ``sizes``, ``test_examples``.
    """
    import time

    from brainlearn import rundir
    from brainlearn.atomic import atomic_path
    from brainlearn.data import load_mnist

    require_torch()
    rule = Surrogate(surrogate, surrogate_scale)
    x_train, y_train = load_mnist("train", n=train_examples, source=source)
    x_test, y_test = load_mnist("test", source=source)
    with rundir.new_run(out) as run:
        start = time.perf_counter()
        net = train(x_train, y_train, hidden=hidden, beta=beta, threshold=threshold,
                    steps=steps, surrogate=rule, loss=loss, lr=lr, batch_size=batch_size,
                    epochs=epochs, seed=seed, threads=threads, device=torch_device,
                    progress=progress)
        wall = time.perf_counter() - start
        act = forward(net, x_test, threads=threads)
        test_accuracy = float((decode(act.counts, act.membrane) == y_test).mean())
        net.save(run / "snn.npz")
        rundir.write_weights(run, np.asarray(net.weights[0]))
        history = net.history.copy()
        history["test_accuracy"] = float("nan")
        history.loc[history.index[-1], "test_accuracy"] = test_accuracy
        with atomic_path(run / "train_metrics.csv") as tmp:
            history.to_csv(tmp, index=False)
        rundir.write_config(run, {**net.config, "source": source, "threads": threads,
                                  "torch_device": torch_device,
                                  "train_examples": len(x_train)}, kind="surrogate")
        metrics = {"test_accuracy": test_accuracy, "parameters": net.n_parameters,
                   "test_examples": len(x_test), "train_seconds": round(wall, 1),
                   "seconds_per_epoch": round(float(net.history["seconds"].mean()), 3),
                   "sizes": list(net.sizes)}
        rundir.update_metrics(run, metrics)
    return metrics


def evaluate_run(run_dir, *, test_examples: int | None = None, brian2: bool = True,
                 brian2_examples: int | None = None, dtype: str = "float32",
                 device: str = "runtime", lanes: int | None = None,
                 source: str = "full") -> pd.DataFrame:
    """Evaluate the network of a :func:`train_run` directory (:func:`evaluate`); write
    ``results.csv`` and the accuracies into ``metrics.json``; return the table."""
    from brainlearn import rundir
    from brainlearn.atomic import atomic_path
    from brainlearn.data import load_mnist

    root = rundir.open_run(run_dir)
    net = SpikingMLP.load(root / "snn.npz")
    x_test, y_test = load_mnist("test", n=test_examples, source=source)
    table = evaluate(net, x_test, y_test, brian2=brian2, brian2_examples=brian2_examples,
                     dtype=dtype, device=device, lanes=lanes)
    table["device"] = device
    with atomic_path(root / "results.csv") as tmp:
        table.to_csv(tmp, index=False)
    rundir.update_metrics(root, {f"accuracy_{row.implementation}": float(row.accuracy)
                                 for row in table.itertuples()})
    return table
