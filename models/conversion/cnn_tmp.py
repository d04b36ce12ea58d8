"""The converted CNN: a small MNIST CNN trained with PyTorch, run as IF neurons in Brian2.

The network of issue 16 (SpikingJelly's conversion tutorial; Diehl et al. 2015 convert a CNN
of the same kind)::

    conv 1->32 (3x3, pad 1), ReLU, 2x2 average pool,
    conv 32->64 (3x3, pad 1), ReLU, 2x2 average pool,
    fc 3136->128, ReLU, fc 128->10

trained with Adam on the CPU (the ``brainlearn[torch]`` extra; :func:`train_cnn`: optional
one-cycle or cosine learning-rate schedule, random shifts of up to a few pixels, a seeded
validation split). Conversion follows
:mod:`brainlearn.models.conversion` (Rueckauer et al. 2017): every ReLU layer is normalised by
the 99.9th percentile of its positive activations on training data, biases become constant
input currents, and the neurons are non-leaky IF neurons (threshold 1, reset by subtraction).

In Brian2 every layer is a ``NeuronGroup`` and every connection a ``Synapses`` object with
explicit connectivity: a convolution is unrolled into one synapse per (input pixel, kernel
tap, output channel) that falls inside the image (:func:`conv_synapses`; 3.28 million for
the second convolution, 3.72 million in the whole network), and an average pool is a layer of IF neurons, each fed by its 2x2 window
with weight 1/4 (:func:`pool_synapses`): a pool neuron then fires at the mean rate of its
window, so the pool layer's normalisation factor is that of the convolution below it.
Folding the pool into the next layer's weights instead would need no pool neurons but four
times the synapses of the next layer (13.1 million for the second convolution and 1.6 million
for the first fully connected layer: 4.0 times the network's synapses to save 9,408 of its
47,178 neurons), which is why the pools are layers here. Measured (:func:`fold_pools`, 30 test
images, T=64, ``cpp_standalone``, the 2-core machine under load, 2026-11-27): 115 ms per image
with pool layers, 136 ms folded (1.18 times), with 151,000 and 121,000 spikes per image (the
pool neurons' spikes are gone) and the same predictions. The first convolution receives the
image as an analog current (``conv1(x) + b``, computed once per image), as the MLP's first
layer does.

Two options close the gap to the ANN at short ``T`` without leaving "IF with reset by
subtraction, 99.9th-percentile normalisation": the membranes start each example at half the
threshold (``v_init=0.5``; Bu et al. 2022, ICLR, show that this removes the expected
quantisation error of reset-by-subtraction, whose count after ``T`` steps is otherwise
``floor`` of ``T`` times the rate), and the output can be read as the accumulated input of the
last layer (``readout="potential"``, the non-spiking readout of Rueckauer et al. 2017) instead
of its spike count. :func:`simulate_cnn_fast` runs the same IF network clock-driven in PyTorch
(the same spikes as Brian2 in float64), cheap enough to choose such options on held-out
training images; :func:`cnn_rate_model` is the rate limit, run by the MLP's
:func:`brainlearn.models.conversion.rate_network`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from brainlearn.lanes import lane_count, lane_runner, preprocess, read_lanes

__all__ = ["CNN", "SparseLayer", "ConvertedCNN", "SCHEDULES", "shift_images", "train_cnn", "conv_synapses", "pool_synapses",
           "convert_cnn", "fold_pools", "simulate_cnn", "simulate_cnn_fast", "cnn_rate_model", "evaluate_cnn",
           "cnn_run", "plot_cnn_accuracy", "READOUTS", "SIMULATORS"]


@dataclass
class CNN:
    """Weights of the two-convolution CNN (numpy arrays, PyTorch layouts).

    Attributes
    ----------
    conv : list of (kernel, bias)
        ``kernel`` ``(out, in, 3, 3)``, ``bias`` ``(out,)``.
    fc : list of (weight, bias)
        ``weight`` ``(n_in, n_out)`` (transposed from PyTorch), ``bias`` ``(n_out,)``.
    image : int
        Side of the square input image (28).
    history : pandas.DataFrame
        ``epoch, loss, train_accuracy, seconds``.
    """

    conv: list
    fc: list
    image: int = 28
    history: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n_parameters(self) -> int:
        return int(sum(w.size + b.size for w, b in (*self.conv, *self.fc)))

    def activations(self, x, batch_size: int = 500) -> list[np.ndarray]:
        """Every spiking layer's output, flattened ``(n, units)``: conv1, pool1, conv2, pool2,
        fc1 (ReLU) and the linear output."""
        torch = _torch()
        fn = torch.nn.functional
        x = preprocess(x)
        outs = [[] for _ in range(6)]
        with torch.no_grad():
            for s in range(0, len(x), batch_size):
                h = torch.from_numpy(x[s:s + batch_size]).reshape(-1, 1, self.image, self.image)
                layers = []
                for kernel, bias in self.conv:
                    h = fn.relu(fn.conv2d(h, torch.from_numpy(kernel), torch.from_numpy(bias),
                                          padding=1))
                    layers.append(h)
                    h = fn.avg_pool2d(h, 2)
                    layers.append(h)
                h = h.flatten(1)
                w, b = self.fc[0]
                h = fn.relu(h @ torch.from_numpy(w) + torch.from_numpy(b))
                layers.append(h)
                w, b = self.fc[1]
                layers.append(h @ torch.from_numpy(w) + torch.from_numpy(b))
                for k, a in enumerate(layers):
                    outs[k].append(a.flatten(1).numpy())
        return [np.concatenate(o) for o in outs]

    def predict(self, x) -> np.ndarray:
        return np.argmax(self.activations(x)[-1], axis=1)

    def arrays(self) -> dict:
        """``conv{k}_kernel, conv{k}_bias, fc{k}_weight, fc{k}_bias`` (the ``cnn.npz`` layout)."""
        arrays = {f"conv{k}_kernel": w for k, (w, _) in enumerate(self.conv)}
        arrays.update({f"conv{k}_bias": b for k, (_, b) in enumerate(self.conv)})
        arrays.update({f"fc{k}_weight": w for k, (w, _) in enumerate(self.fc)})
        arrays.update({f"fc{k}_bias": b for k, (_, b) in enumerate(self.fc)})
        return arrays

    @classmethod
    def load(cls, path) -> CNN:
        """Read the weights written by :func:`cnn_run` (``cnn.npz``)."""
        with np.load(path) as data:
            conv = [(data[f"conv{k}_kernel"], data[f"conv{k}_bias"]) for k in range(2)]
            fc = [(data[f"fc{k}_weight"], data[f"fc{k}_bias"]) for k in range(2)]
        return cls(conv, fc)

    def score(self, x, labels) -> float:
        return float(np.mean(self.predict(x) == np.asarray(labels)))


def _torch():
    from brainlearn.models.surrogate import require_torch

    return require_torch()


def shift_images(batch, max_shift: int, rng: np.random.Generator):
    """Translate every image of ``batch`` ``(n, 1, side, side)`` by its own random whole-pixel
    offset ``dy, dx`` drawn uniformly from ``-max_shift..max_shift`` (zero fill at the edges).

    The light augmentation of Simard et al. 2003 ("Best practices for convolutional neural
    networks applied to visual document analysis", ICDAR) restricted to translations.
    """
    torch = _torch()
    if max_shift <= 0:
        return batch
    n, _, side, _ = batch.shape
    m = int(max_shift)
    padded = torch.nn.functional.pad(batch, (m, m, m, m))
    offsets = rng.integers(0, 2 * m + 1, size=(n, 2))
    rows = torch.from_numpy(offsets[:, :1] + np.arange(side)[None, :])        # (n, side)
    cols = torch.from_numpy(offsets[:, 1:] + np.arange(side)[None, :])
    index = torch.arange(n)[:, None, None]
    return padded[:, 0][index, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


SCHEDULES = ("constant", "onecycle", "cosine")


def train_cnn(x, labels, *, channels=(32, 64), hidden: int = 128, epochs: int = 3,
              batch_size: int = 64, lr: float = 1e-3, schedule: str = "constant",
              shift: int = 0, weight_decay: float = 0.0, seed: int = 0, threads: int = 1,
              validation=None, progress: bool = False) -> CNN:
    """Train the CNN with Adam and cross-entropy in PyTorch (CPU).

    Parameters
    ----------
    x, labels : array_like
        Images ``(n, 28, 28)`` (uint8, or floats in ``[0, 1]``) and classes ``0..9``.
    channels : (int, int)
        Output channels of the two convolutions (32, 64).
    hidden : int
        Units of the hidden fully connected layer (128).
    epochs, batch_size, seed
        Passes, minibatch size, seed of the initialisation, order and augmentation.
    lr : float
        Adam's learning rate; with ``schedule="onecycle"`` its peak (Smith & Topin 2019,
        "Super-convergence", ``torch.optim.lr_scheduler.OneCycleLR``: warm-up over the first
        30 % of the steps from ``lr/25``, cosine annealing to ``lr/1e4``), with ``"cosine"`` its
        start (cosine annealing to 0 over all steps, Loshchilov & Hutter 2017, SGDR).
    schedule : {"constant", "onecycle", "cosine"}
        Learning-rate schedule, stepped once per minibatch.
    shift : int
        Random translation of every training image by up to ``shift`` pixels in each direction
        (:func:`shift_images`; 0: none).
    weight_decay : float
        Decoupled weight decay (AdamW, Loshchilov & Hutter 2019); 0 is plain Adam.
    threads : int
        ``torch.set_num_threads``.
    validation : (images, labels), optional
        Held-out training images scored after every epoch (column ``val_accuracy``).

    Returns
    -------
    CNN
        With ``history`` columns ``epoch, loss, train_accuracy, lr, seconds`` (and
        ``val_accuracy``).
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    torch = _torch()
    torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    x = preprocess(x)
    side = int(round(math.sqrt(x.shape[1])))
    labels = np.asarray(labels).astype(np.int64)
    n_classes = int(labels.max()) + 1
    c1, c2 = (int(c) for c in channels)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(c2 * (side // 4) ** 2, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))
    if weight_decay:
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    n_batches = math.ceil(len(x) / batch_size)
    if schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr,
                                                    total_steps=max(1, epochs * n_batches))
    elif schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * n_batches))
    else:
        sched = None
    xt = torch.from_numpy(x).reshape(-1, 1, side, side)
    yt = torch.from_numpy(labels)
    rng = np.random.default_rng(seed)
    rows = []
    epoch_iter = range(int(epochs))
    if progress:
        from tqdm import tqdm
        epoch_iter = tqdm(epoch_iter, desc="train CNN", unit="epoch")
    for epoch in epoch_iter:
        start = time.perf_counter()
        order = torch.from_numpy(rng.permutation(len(x)))
        loss_sum, correct = 0.0, 0
        model.train()
        for s in range(0, len(x), batch_size):
            idx = order[s:s + batch_size]
            out = model(shift_images(xt[idx], shift, rng))
            loss = nn.functional.cross_entropy(out, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((out.argmax(1) == yt[idx]).sum())
        row = {"epoch": epoch + 1, "loss": loss_sum / len(x), "train_accuracy": correct / len(x),
               "lr": float(opt.param_groups[0]["lr"]), "seconds": time.perf_counter() - start}
        if validation is not None:
            model.eval()
            xv = torch.from_numpy(preprocess(validation[0])).reshape(-1, 1, side, side)
            with torch.no_grad():
                pred = torch.cat([model(xv[v:v + 1000]).argmax(1)
                                  for v in range(0, len(xv), 1000)]).numpy()
            row["val_accuracy"] = float(np.mean(pred == np.asarray(validation[1])))
        rows.append(row)
        if progress:
            epoch_iter.set_postfix({k: round(v, 4) for k, v in row.items() if k != "epoch"})
    conv = [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
            for m in model if isinstance(m, nn.Conv2d)]
    fc = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
          for m in model if isinstance(m, nn.Linear)]
    return CNN(conv, fc, side, pd.DataFrame(rows))


# --------------------------------------------------------------------------------------------
# Unrolled connectivity
# --------------------------------------------------------------------------------------------
@dataclass
class SparseLayer:
    """One layer of IF neurons and its input synapses (pre index ``i``, post index ``j``).

    ``i`` is ``None`` for the first layer, which receives an analog current instead.
    """

    name: str
    size: int
    bias: np.ndarray
    i: np.ndarray | None = None
    j: np.ndarray | None = None
    w: np.ndarray | None = None

    @property
    def n_synapses(self) -> int:
        return 0 if self.i is None else len(self.i)


def conv_synapses(kernel, side: int):
    """A 3x3, padding-1 convolution of a ``side x side`` map as explicit synapses.

    Neuron ``c * side**2 + y * side + x`` is channel ``c`` at row ``y``, column ``x`` (PyTorch's
    flattening). Returns ``i, j, w``: one synapse per output position, output channel, input
    channel and kernel tap that falls inside the map (zero padding drops the rest).
    """
    kernel = np.asarray(kernel)
    n_out, n_in, kh, kw = kernel.shape
    area = side * side
    ys, xs = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    ii, jj, ww = [], [], []
    for dy in range(kh):
        for dx in range(kw):
            py, px = ys + dy - kh // 2, xs + dx - kw // 2
            ok = (py >= 0) & (py < side) & (px >= 0) & (px < side)
            pre_pos = (py * side + px)[ok]           # (m,)
            post_pos = (ys * side + xs)[ok]
            o, c = np.meshgrid(np.arange(n_out), np.arange(n_in), indexing="ij")
            o, c = o.ravel(), c.ravel()              # (n_out * n_in,)
            ii.append((c[:, None] * area + pre_pos[None, :]).ravel())
            jj.append((o[:, None] * area + post_pos[None, :]).ravel())
            ww.append(np.repeat(kernel[o, c, dy, dx], len(pre_pos)))
    return np.concatenate(ii), np.concatenate(jj), np.concatenate(ww).astype(np.float64)


def pool_synapses(channels: int, side: int):
    """2x2 average pooling as synapses of weight 1/4 onto a ``side/2`` map per channel."""
    half = side // 2
    c, py, px, dy, dx = np.meshgrid(np.arange(channels), np.arange(half), np.arange(half),
                                    np.arange(2), np.arange(2), indexing="ij")
    i = c * side * side + (2 * py + dy) * side + (2 * px + dx)
    j = c * half * half + py * half + px
    return i.ravel(), j.ravel(), np.full(i.size, 0.25)


def _dense(weight):
    n_in, n_out = weight.shape
    a, b = np.meshgrid(np.arange(n_in), np.arange(n_out), indexing="ij")
    return a.ravel(), b.ravel(), np.asarray(weight, np.float64)[a.ravel(), b.ravel()]


@dataclass
class ConvertedCNN:
    """The normalised CNN as layers of IF neurons with explicit synapses.

    Attributes
    ----------
    layers : list of SparseLayer
        conv1, pool1, conv2, pool2, fc1, output.
    factors : numpy.ndarray
        Normalisation factor of every layer (pools share their convolution's).
    first_current : callable
        ``images -> (n, size of conv1)``: the normalised analog input current of conv1.
    """

    layers: list
    factors: np.ndarray
    cnn: CNN
    percentile: float

    def first_current(self, x) -> np.ndarray:
        """Normalised input current of the first layer, ``(conv1(x) + b) / lambda_1``."""
        torch = _torch()
        fn = torch.nn.functional
        kernel, bias = self.cnn.conv[0]
        x = preprocess(x)
        with torch.no_grad():
            h = fn.conv2d(torch.from_numpy(x).reshape(-1, 1, self.cnn.image, self.cnn.image),
                          torch.from_numpy(kernel), torch.from_numpy(bias), padding=1)
        return h.flatten(1).numpy().astype(np.float64) / self.factors[0]

    @property
    def n_synapses(self) -> int:
        return int(sum(layer.n_synapses for layer in self.layers))

    def matrices(self) -> tuple[list, list]:
        """The normalised network as ``(weights, biases)`` from the input pixels on.

        ``weights[l]`` is a ``scipy.sparse`` matrix ``(n_in, n_out)`` (the first one the
        unrolled first convolution divided by ``lambda_1``), ``biases[l]`` a vector: the
        layered form :func:`brainlearn.models.conversion.rate_network` runs.
        """
        import scipy.sparse as sp

        kernel, _ = self.cnn.conv[0]
        side = self.cnn.image
        i, j, w = conv_synapses(kernel, side)
        weights = [sp.csr_matrix((w / self.factors[0], (i, j)),
                                 shape=(side * side, self.layers[0].size))]
        for pre, layer in zip(self.layers, self.layers[1:], strict=False):
            weights.append(sp.csr_matrix((layer.w, (layer.i, layer.j)),
                                         shape=(pre.size, layer.size)))
        return weights, [layer.bias for layer in self.layers]

    def torch_layers(self, dtype=None) -> list:
        """Per spiking layer ``(op, bias)``: ``op`` maps the layer below's spikes to this
        layer's synaptic input with PyTorch's dense conv / pool / matmul (for
        :func:`simulate_cnn_fast`); the first entry's ``op`` maps images to the analog input."""
        if [layer.name for layer in self.layers] != ["conv1", "pool1", "conv2", "pool2", "fc1",
                                                     "output"]:
            raise ValueError("torch_layers needs the network with pool layers (not fold_pools)")
        torch = _torch()
        fn = torch.nn.functional
        dtype = torch.float64 if dtype is None else dtype
        lam = self.factors
        side = self.cnn.image
        (k1, _), (k2, _) = self.cnn.conv
        (w1, _), (w2, _) = self.cnn.fc
        n1, n2 = k1.shape[0], k2.shape[0]

        def t(a, scale=1.0):
            return torch.as_tensor(np.asarray(a, np.float64) * scale, dtype=dtype)

        k1t, k2t = t(k1, 1 / lam[0]), t(k2, lam[1] / lam[2])
        w1t, w2t = t(w1, lam[3] / lam[4]), t(w2, lam[4] / lam[5])
        ops = [
            lambda x: fn.conv2d(x.reshape(-1, 1, side, side), k1t, padding=1).flatten(1),
            lambda s: fn.avg_pool2d(s.reshape(-1, n1, side, side), 2).flatten(1),
            lambda s: fn.conv2d(s.reshape(-1, n1, side // 2, side // 2), k2t,
                                padding=1).flatten(1),
            lambda s: fn.avg_pool2d(s.reshape(-1, n2, side // 2, side // 2), 2).flatten(1),
            lambda s: s @ w1t,
            lambda s: s @ w2t,
        ]
        return [(op, t(layer.bias)) for op, layer in zip(ops, self.layers, strict=True)]


def convert_cnn(cnn: CNN, x_norm, norm="99.9") -> ConvertedCNN:
    """Normalise the CNN with a percentile of every layer's positive activations on ``x_norm``
    and unroll it into :class:`SparseLayer` objects."""
    from brainlearn.models.conversion import parse_norm

    percentile = parse_norm(norm)
    acts = cnn.activations(x_norm)
    lam = {}
    for k in (0, 2, 4, 5):  # conv1, conv2, fc1, output
        positive = acts[k][acts[k] > 0]
        lam[k] = float(np.percentile(positive, percentile)) if positive.size else 1.0
    lam[1], lam[3] = lam[0], lam[2]  # a pool's rates are means of its convolution's
    factors = np.array([lam[k] for k in range(6)])
    side = cnn.image
    (k1, b1), (k2, b2) = cnn.conv
    (w1, c1), (w2, c2) = cnn.fc
    n1, n2 = k1.shape[0], k2.shape[0]
    layers = [SparseLayer("conv1", n1 * side * side,
                          np.repeat(b1 / lam[0], side * side).astype(np.float64))]
    i, j, w = pool_synapses(n1, side)
    layers.append(SparseLayer("pool1", n1 * (side // 2) ** 2, np.zeros(n1 * (side // 2) ** 2),
                              i, j, w))
    i, j, w = conv_synapses(k2, side // 2)
    layers.append(SparseLayer("conv2", n2 * (side // 2) ** 2,
                              np.repeat(b2 / lam[2], (side // 2) ** 2).astype(np.float64),
                              i, j, w * lam[1] / lam[2]))
    i, j, w = pool_synapses(n2, side // 2)
    layers.append(SparseLayer("pool2", n2 * (side // 4) ** 2, np.zeros(n2 * (side // 4) ** 2),
                              i, j, w))
    i, j, w = _dense(w1)
    layers.append(SparseLayer("fc1", w1.shape[1], c1 / lam[4], i, j, w * lam[3] / lam[4]))
    i, j, w = _dense(w2)
    layers.append(SparseLayer("output", w2.shape[1], c2 / lam[5], i, j, w * lam[4] / lam[5]))
    return ConvertedCNN(layers, factors, cnn, percentile)


def fold_pools(converted: ConvertedCNN) -> ConvertedCNN:
    """The same network with every average pool folded into the next layer's synapses.

    A pool neuron only relays the mean of its 2x2 window, so the layer after it can take the
    window's spikes directly with weight ``w / 4``: the synapse matrix becomes the product of
    the pool's and the next layer's (``P @ W``). That removes the pool neurons (9,408 of
    47,178) and their one-step relay delay, but the second convolution then has 13.1 million
    synapses instead of 3.28 million and the first fully connected layer 1.6 million instead of
    0.4 million (4.0 times the network's synapses). The rates it encodes differ from the
    pooled network only in that the relay neurons' own rounding disappears.
    """
    import scipy.sparse as sp

    layers = list(converted.layers)
    out = [layers[0]]
    k = 1
    while k < len(layers):
        layer = layers[k]
        if layer.name.startswith("pool") and k + 1 < len(layers):
            nxt = layers[k + 1]
            pool = sp.csr_matrix((layer.w, (layer.i, layer.j)), shape=(out[-1].size, layer.size))
            mat = sp.csr_matrix((nxt.w, (nxt.i, nxt.j)), shape=(layer.size, nxt.size))
            folded = (pool @ mat).tocoo()
            out.append(SparseLayer(nxt.name, nxt.size, nxt.bias, folded.row.astype(np.int64),
                                   folded.col.astype(np.int64), folded.data.astype(np.float64)))
            k += 2
        else:
            out.append(layer)
            k += 1
    keep = [n for n, layer in enumerate(layers) if not layer.name.startswith("pool")]
    return ConvertedCNN(out, converted.factors[keep], converted.cnn, converted.percentile)


# --------------------------------------------------------------------------------------------
# The same IF network, clock-driven in PyTorch, and the rate model
# --------------------------------------------------------------------------------------------
def simulate_cnn_fast(converted: ConvertedCNN, images, *, steps=(16, 32, 64),
                      v_init: float = 0.0, batch_size: int = 250, threads: int = 1,
                      precision: str = "float64") -> dict:
    """Run the converted CNN's IF neurons clock-driven in PyTorch, step by step as in Brian2.

    Every step ``t`` of an example, every layer ``l`` integrates its constant input (the
    first layer: ``(conv1(x) + b_1) / lambda_1``; the others: their normalised bias) and the
    spikes its input layer emitted in step ``t - 1``, fires where ``v > 1`` and subtracts 1
    (Rueckauer et al. 2017)::

        v_l[t] = v_l[t-1] + b_l + W_l s_{l-1}[t-1] - s_l[t-1],   s_l[t] = [v_l[t] > 1]

    which is the order of :func:`simulate_cnn` (Brian2's schedule: state update, threshold,
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
    dict
        ``out_counts`` and ``out_potential`` ``(len(steps), n, n_classes)`` (spike count; the
        output's accumulated input ``v - v_init + count``, including the spikes the layer below
        fired in step ``T``), ``spikes`` ``(len(steps), n)`` (all
        IF spikes per example up to ``T``), ``steps``.
    """
    torch = _torch()
    torch.set_num_threads(int(threads))
    steps = tuple(sorted({int(s) for s in steps}))
    dtype = {"float64": torch.float64, "float32": torch.float32}.get(precision)
    if dtype is None:
        raise ValueError(f"precision must be 'float64' or 'float32', got {precision!r}")
    x = torch.from_numpy(preprocess(images)).to(dtype)
    layers = converted.torch_layers(dtype)
    n = len(x)
    n_out = converted.layers[-1].size
    counts = np.zeros((len(steps), n, n_out))
    potential = np.zeros((len(steps), n, n_out))
    spikes = np.zeros((len(steps), n))
    with torch.no_grad():
        for s in range(0, n, int(batch_size)):
            xb = x[s:s + batch_size]
            first = layers[0][0](xb) + layers[0][1]
            v = [torch.full((len(xb), layer.size), float(v_init), dtype=dtype)
                 for layer in converted.layers]
            count = [torch.zeros_like(u) for u in v]
            fired = [torch.zeros_like(u) for u in v]
            total = torch.zeros(len(xb), dtype=torch.float64)  # counts: exact in float64
            k = 0
            for t in range(1, steps[-1] + 1):
                inputs = [first] + [op(fired[m - 1]) + bias
                                    for m, (op, bias) in enumerate(layers) if m]
                for m in range(len(v)):
                    v[m] += inputs[m]
                    fired[m] = (v[m] > 1.0).to(dtype)
                    v[m] -= fired[m]
                    count[m] += fired[m]
                    total += fired[m].sum(1)
                if t == steps[k]:
                    counts[k, s:s + len(xb)] = count[-1].numpy()
                    # Brian2's synapses deliver step t's spikes within step t: add the input
                    # still pending for the output layer so both read the same membrane
                    pending = layers[-1][0](fired[-2])
                    potential[k, s:s + len(xb)] = (v[-1] + pending - v_init + count[-1]).numpy()
                    spikes[k, s:s + len(xb)] = total.numpy()
                    k += 1
    return {"out_counts": counts, "out_potential": potential, "spikes": spikes, "steps": steps}


def cnn_rate_model(converted: ConvertedCNN, images, batch_size: int = 250) -> np.ndarray:
    """The converted CNN as a rate network in Brian2: the output layer's input ``z``.

    :func:`brainlearn.models.conversion.rate_network` (a ``network_operation`` updating
    ``r_l = clip(W_l r_{l-1} + b_l, 0, 1)`` each step) on :meth:`ConvertedCNN.matrices`, the
    first layer fed by the pixels: the limit the IF network's rates approach for long ``T``.
    Where no activation exceeds its normalisation factor (``norm="max"`` on the same images)
    nothing is clipped and ``z`` is the ANN's output divided by ``lambda_out``.
    """
    from brainlearn.models.conversion import rate_network

    weights, biases = converted.matrices()
    x = preprocess(images).astype(np.float64)
    return np.concatenate([rate_network(x[s:s + batch_size], weights, biases)[-1]
                           for s in range(0, len(x), int(batch_size))])


# --------------------------------------------------------------------------------------------
# Brian2
# --------------------------------------------------------------------------------------------
def simulate_cnn(converted: ConvertedCNN, images, *, steps=(16, 32, 64), reset: str = "subtract",
                 v_init: float = 0.0, device: str = "runtime", lanes: int | None = None,
                 max_synapses: float = 5e6, directory=None) -> dict:
    """Run the converted CNN on ``images`` in one Brian2 simulation.

    Every example lasts ``max(steps)`` steps of 1 ms; membranes are set to ``v_init`` (in
    units of the threshold, see :func:`simulate_cnn_fast`) and counts to 0 at its start;
    ``lanes`` copies run side by side (default: as many as ``max_synapses`` allows).

    Returns
    -------
    dict
        ``out_counts`` ``(len(steps), n, n_classes)``, ``out_potential`` (same shape: the
        output layer's accumulated input ``v - v_init + count``, which with reset by
        subtraction is the membrane of a non-spiking copy, Rueckauer et al. 2017's analog
        readout), ``spikes`` (all IF spikes per example
        over ``max(steps)`` steps), ``steps``, ``lanes``, ``synapses`` (per copy) and
        ``run_seconds`` (the simulation alone where the device reports it, else the whole
        ``run`` call).
    """
    from brian2 import Network, NeuronGroup, SpikeMonitor, StateMonitor, Synapses, TimedArray, ms

    from brainlearn.neurons import IFNeuron

    steps = tuple(sorted({int(s) for s in steps}))
    x = preprocess(images)
    n = len(x)
    model = IFNeuron(reset_mode=reset, step=1 * ms)
    step = model.step
    n_lanes = lane_count(converted.n_synapses, n, max_synapses, lanes)
    n_slots = math.ceil(n / n_lanes)
    t_max = steps[-1]
    record_every = math.gcd(*steps)
    period = t_max * step
    current = np.zeros((n_lanes * n_slots, converted.layers[0].size))
    current[:n] = converted.first_current(x)
    current = current.reshape(n_slots, n_lanes * converted.layers[0].size)
    start = time.perf_counter()
    with lane_runner(device, directory) as run:
        net = Network()
        groups, monitors = [], []
        for k, layer in enumerate(converted.layers):
            namespace = model.namespace()
            namespace["v_init"] = float(v_init)
            if k == 0:
                namespace["current"] = TimedArray(current, dt=period)
            group = NeuronGroup(n_lanes * layer.size, model.equations() + "count : 1",
                                threshold=model.threshold(), reset=model.reset() + "\ncount += 1",
                                method="euler", dt=step, namespace=namespace, name=layer.name)
            if k == 0:
                group.run_regularly("v = v_init\ncount = 0\nbias = current(t, i)", dt=period,
                                    when="start", order=1)
            else:
                group.bias = np.tile(layer.bias, n_lanes)
                group.run_regularly("v = v_init\ncount = 0", dt=period, when="start", order=1)
                syn = Synapses(groups[-1], group, "w : 1", on_pre="v_post += w", dt=step,
                               name=f"{layer.name}_in")
                lane = np.repeat(np.arange(n_lanes), layer.n_synapses)
                pre_size = converted.layers[k - 1].size
                syn.connect(i=lane * pre_size + np.tile(layer.i, n_lanes),
                            j=lane * layer.size + np.tile(layer.j, n_lanes))
                syn.w = np.tile(layer.w, n_lanes)
                net.add(syn)
            groups.append(group)
            monitors.append(SpikeMonitor(group, record=False))
            net.add(group)
        out = StateMonitor(groups[-1], ("count", "v"), record=True, dt=record_every * step,
                           when="start", order=-1)
        net.add(out, *monitors)
        run(net, (n_slots * t_max + 1) * step)
        from brian2 import get_device

        seconds = getattr(get_device(), "_last_run_time", None)
        read = dict(lanes=n_lanes, n=n, n_slots=n_slots, t_max=t_max,
                    record_every=record_every, steps=steps)
        counts = read_lanes(out, "count", converted.layers[-1].size, **read)
        potential = read_lanes(out, "v", converted.layers[-1].size, **read) - v_init + counts
        spikes = float(sum(int(m.num_spikes) for m in monitors))
    wall = time.perf_counter() - start
    return {"out_counts": counts, "out_potential": potential, "spikes": spikes / n, "steps": steps, "lanes": n_lanes,
            "synapses": converted.n_synapses,
            "run_seconds": float(seconds) if seconds else wall, "wall_seconds": wall}


READOUTS = ("count", "potential")
SIMULATORS = ("brian2", "torch")


def _check_v_init(v_init) -> float:
    value = float(v_init)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"v_init is the initial membrane in units of the threshold and must lie "
                         f"in [0, 1), got {v_init!r}; 0.5 is Bu et al. 2022's half threshold")
    return value


def evaluate_cnn(cnn: CNN, images, labels, x_norm, *, steps=(16, 32, 64), norm="99.9",
                 v_init: float = 0.0, readout: str = "count", simulator: str = "brian2",
                 device: str = "runtime", lanes: int | None = None, chunk: int = 500,
                 threads: int = 1, precision: str = "float64", rate: bool = False,
                 directory=None, progress: bool = False) -> pd.DataFrame:
    """Accuracy of the converted CNN at every ``T`` in ``steps`` beside the ANN's.

    Parameters
    ----------
    cnn : CNN
    images, labels, x_norm : array_like
        Test images and classes; normalisation images (training data).
    steps, norm
        Checkpoints ``T``; ``"max"`` or a percentile (:func:`convert_cnn`).
    v_init : float
        Initial membrane in units of the threshold (0: rest; 0.5: Bu et al. 2022).
    readout : {"count", "potential"}
        What ``accuracy`` decodes: the output spike count, or the output layer's accumulated
        input (a non-spiking readout, Rueckauer et al. 2017). Both are reported as
        ``accuracy_count`` and ``accuracy_potential``.
    simulator : {"brian2", "torch"}
        :func:`simulate_cnn` (Brian2, ``device``, ``lanes``) or :func:`simulate_cnn_fast`
        (the same IF network, clock-driven in PyTorch, in ``precision`` with ``threads``).
    chunk : int
        Images per simulation (Brian2: one run each; the analog input current of ``chunk``
        images, ``chunk x 25088`` values, is held in memory).
    rate : bool
        Also score the rate model (:func:`cnn_rate_model`, column ``rate_accuracy``).

    Returns
    -------
    pandas.DataFrame
        ``simulator, steps, v_init, readout, accuracy, accuracy_count, accuracy_potential,
        ann_accuracy, rate_accuracy, spikes_per_example`` (Brian2: all IF spikes in
        ``max(steps)`` steps; torch: in ``T`` steps), ``ms_per_image`` (simulation time per
        image, without the build), ``n_examples, synapses, norm``.
    """
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, got {simulator!r}")
    v_init = _check_v_init(v_init)
    labels = np.asarray(labels)
    x = preprocess(images)
    conv = convert_cnn(cnn, x_norm, norm)
    counts, potential, spikes, seconds = [], [], [], 0.0
    starts = range(0, len(x), int(chunk))
    if progress:
        from tqdm import tqdm
        starts = tqdm(starts, desc=f"converted CNN ({simulator})", unit="chunk")
    for s in starts:
        part = x[s:s + chunk]
        start = time.perf_counter()
        if simulator == "brian2":
            sim = simulate_cnn(conv, part, steps=steps, v_init=v_init, device=device,
                               lanes=lanes, directory=directory)
            seconds += sim["run_seconds"]
            spikes.append(np.full((len(sim["steps"]), len(part)), sim["spikes"]))
        else:
            sim = simulate_cnn_fast(conv, part, steps=steps, v_init=v_init, threads=threads,
                                    precision=precision)
            seconds += time.perf_counter() - start
            spikes.append(sim["spikes"])
        counts.append(sim["out_counts"])
        potential.append(sim["out_potential"])
    counts = np.concatenate(counts, axis=1)
    potential = np.concatenate(potential, axis=1)
    spikes = np.concatenate(spikes, axis=1)
    ann = cnn.score(x, labels)
    rate_acc = (float(np.mean(np.argmax(cnn_rate_model(conv, x), axis=1) == labels))
                if rate else np.nan)
    rows = []
    for k, T in enumerate(sim["steps"]):
        acc = {name: float(np.mean(np.argmax(values[k], axis=1) == labels))
               for name, values in (("count", counts), ("potential", potential))}
        rows.append({"simulator": simulator, "steps": T, "v_init": v_init, "readout": readout,
                     "accuracy": acc[readout], "accuracy_count": acc["count"],
                     "accuracy_potential": acc["potential"], "ann_accuracy": ann,
                     "rate_accuracy": rate_acc, "spikes_per_example": float(spikes[k].mean()),
                     "ms_per_image": 1000 * seconds / len(x),
                     "n_examples": len(labels), "synapses": conv.n_synapses,
                     "norm": conv.percentile})
    return pd.DataFrame(rows)


def plot_cnn_accuracy(results: pd.DataFrame):
    """Accuracy against ``T``: the ANN (dashed), the rate model (dotted), the PyTorch IF
    simulation (lines, one per ``v_init`` and readout) and Brian2 (large markers).

    ``results`` is the test-split part of a :func:`cnn_run` table; returns a ``Figure``.
    """
    from brainlearn.analysis.plots import new_figure

    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    fast = results[results["simulator"] == "torch"]
    for (v0, ro), part in fast.groupby(["v_init", "readout"]):
        part = part.sort_values("steps")
        column = "accuracy_" + ro
        ax.plot(part["steps"], 100 * part[column], marker=".", lw=1,
                label=f"IF (PyTorch), v_init {v0:g}, {ro} readout")
    brian = results[results["simulator"] == "brian2"]
    for (v0, ro), part in brian.groupby(["v_init", "readout"]):
        part = part.sort_values("steps")
        ax.plot(part["steps"], 100 * part["accuracy"], "D", ms=8, mfc="none", mew=1.5,
                label=f"IF (Brian2), v_init {v0:g}, {ro} readout, "
                      f"{int(part['n_examples'].iloc[0])} images")
    widest = results.loc[results["n_examples"].idxmax()]
    ann = widest["ann_accuracy"]
    ax.axhline(100 * ann, color="k", ls="--", lw=1,
               label=f"ANN {100 * ann:.2f} % ({int(widest['n_examples'])} images)")
    rate = results.dropna(subset=["rate_accuracy"])
    if len(rate):
        r = rate.loc[rate["n_examples"].idxmax()]
        ax.axhline(100 * r["rate_accuracy"], color="0.4", ls=":", lw=1.5,
                   label=f"rate model (Brian2) {100 * r['rate_accuracy']:.2f} % "
                         f"({int(r['n_examples'])} images)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("time steps T")
    ax.set_ylabel("test accuracy (%)")
    low = min(100 * results["accuracy"].max() - 3, 100 * ann - 3)
    ax.set_ylim(max(0, low), 100)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def _split(x, y, validation: int, seed: int):
    """Hold out ``validation`` seeded training images: ``(train, held-out)`` pairs."""
    if validation <= 0:
        return (x, y), None
    if validation >= len(x):
        raise ValueError(f"validation must be smaller than the {len(x)} training images, "
                         f"got {validation}")
    order = np.random.default_rng(seed).permutation(len(x))
    held, kept = order[:validation], order[validation:]
    return (x[kept], y[kept]), (x[held], y[held])


def cnn_run(out, *, channels=(32, 64), hidden: int = 128, epochs: int = 3,
            batch_size: int = 64, lr: float = 1e-3, schedule: str = "constant", shift: int = 0,
            weight_decay: float = 0.0, validation: int = 0, seed: int = 0,
            steps=(16, 32, 64), fast_steps=(8, 16, 32, 64, 128, 256), fast_v_init=(0.0, 0.5),
            v_init: float = 0.5, readout: str = "count", norm="99.9",
            test_examples: int | None = None, brian2_examples: int | None = None,
            fast_examples: int | None = None, fast_splits=("test", "validation"),
            precision: str = "float32",
            norm_examples: int = 10000, chunk: int = 2500, device: str = "cpp_standalone",
            threads: int = 1, source: str = "full", weights=None,
            progress: bool = True) -> pd.DataFrame:
    """Train the CNN (or load ``weights``), convert it and evaluate it; write a run directory.

    The IF network runs twice: in PyTorch (:func:`simulate_cnn_fast`) at every ``fast_steps``
    for every ``fast_v_init``, on the test images and, with ``validation``, on the held-out
    training images (where the options are chosen); and in Brian2 (:func:`simulate_cnn`) at
    ``steps`` with ``v_init`` on the first ``brian2_examples`` test images (0: skip Brian2).
    The PyTorch runs take the first ``fast_examples`` images of each of ``fast_splits``
    (default: all images of both).

    ``weights`` (a ``cnn.npz``) skips training; the training run's ``config.json`` and
    ``train_metrics.csv`` beside it, if any, are carried over (``config["trained"]``), and
    ``validation`` with the same ``seed`` holds out the same images that run held out.

    Writes ``cnn.npz`` (the weights), ``train_metrics.csv``, ``results.csv`` (one row per
    split, simulator, ``v_init`` and ``T``), ``accuracy_vs_steps.png`` (the test split, see
    :func:`plot_cnn_accuracy`), ``config.json`` (``kind`` ``"conversion_cnn"``) and
    ``metrics.json``. Returns the results.
    """
    from brainlearn import rundir
    from brainlearn.analysis.plots import save_figure
    from brainlearn.atomic import atomic_path, save_npz
    from brainlearn.data import load_mnist

    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
    v_init = _check_v_init(v_init)
    fast_v_init = tuple(_check_v_init(v) for v in fast_v_init)
    trained = None
    x_all, y_all = load_mnist("train", source=source)
    (x, y), held = _split(x_all, y_all, int(validation), seed)
    xt, yt = load_mnist("test", n=test_examples, source=source)
    x_norm = x[np.random.default_rng(seed).permutation(len(x))[:min(norm_examples, len(x))]]
    n_brian = len(xt) if brian2_examples is None else min(int(brian2_examples), len(xt))
    with rundir.new_run(out) as run:
        start = time.perf_counter()
        if weights is None:
            cnn = train_cnn(x, y, channels=channels, hidden=hidden, epochs=epochs,
                            batch_size=batch_size, lr=lr, schedule=schedule, shift=shift,
                            weight_decay=weight_decay, seed=seed, threads=threads,
                            validation=held, progress=progress)
        else:
            cnn = CNN.load(weights)
            source_run = Path(weights).parent
            if (source_run / "train_metrics.csv").exists():
                cnn.history = pd.read_csv(source_run / "train_metrics.csv")
            if (source_run / rundir.CONFIG).exists():
                trained = rundir.read_config(source_run)
        train_seconds = (time.perf_counter() - start if trained is None
                         else float(rundir.read_metrics(Path(weights).parent)
                                    .get("train_seconds", np.nan)))
        save_npz(run / "cnn.npz", **cnn.arrays())
        with atomic_path(run / "train_metrics.csv") as tmp:
            cnn.history.to_csv(tmp, index=False)
        rundir.write_config(run, {
            "channels": [int(k.shape[0]) for k, _ in cnn.conv], "hidden": int(cnn.fc[0][0].shape[1]),
            "epochs": epochs, "batch_size": batch_size, "lr": lr, "schedule": schedule,
            "shift": shift, "weight_decay": weight_decay, "optimizer":
            "AdamW" if weight_decay else "Adam", "seed": seed, "norm": str(norm),
            "steps": list(steps), "fast_steps": list(fast_steps),
            "fast_v_init": list(fast_v_init), "v_init": v_init, "readout": readout,
            "device": device, "source": source, "weights": None if weights is None else str(weights),
            "train_examples": len(x), "validation_examples": 0 if held is None else len(held[0]),
            "test_examples": len(xt), "brian2_examples": n_brian,
            "norm_examples": len(x_norm), "fast_examples": fast_examples,
            "precision": precision,
            "trained": trained}, kind="conversion_cnn")
        tables = []
        splits = [("test", xt, yt)] + ([] if held is None else [("validation", *held)])
        for split, images, labels in splits:
            if split not in fast_splits:
                continue
            for k, v0 in enumerate(fast_v_init):
                part = evaluate_cnn(cnn, images[:fast_examples], labels[:fast_examples], x_norm,
                                    steps=fast_steps, norm=norm,
                                    v_init=v0, simulator="torch", threads=threads,
                                    precision=precision,
                                    rate=k == 0, progress=progress)
                for ro in READOUTS:  # one simulation gives both readouts
                    tables.append(part.assign(split=split, readout=ro,
                                              accuracy=part["accuracy_" + ro]))
        if not tables or tables[0]["split"].iloc[0] != "test":
            raise ValueError("fast_splits must include 'test'")
        rate_acc = float(tables[0]["rate_accuracy"].iloc[0])
        if n_brian:
            part = evaluate_cnn(cnn, xt[:n_brian], yt[:n_brian], x_norm, steps=steps, norm=norm,
                                v_init=v_init, readout=readout, simulator="brian2",
                                device=device, chunk=chunk,
                                directory=run / "build" if device == "cpp_standalone" else None,
                                progress=progress)
            tables.append(part.assign(split="test"))
        table = pd.concat(tables, ignore_index=True)
        n_fast = int(tables[0]["n_examples"].iloc[0])
        table.loc[(table["split"] == "test") & (table["n_examples"] == n_fast)
                  & table["rate_accuracy"].isna(), "rate_accuracy"] = rate_acc
        with atomic_path(run / "results.csv") as tmp:
            table.to_csv(tmp, index=False)
        save_figure(plot_cnn_accuracy(table[table["split"] == "test"]),
                    run / "accuracy_vs_steps.png")
        metrics = {"ann_accuracy": cnn.score(xt, yt), "rate_accuracy": rate_acc,
                   "fast_examples": n_fast, "train_seconds": round(train_seconds, 1),
                   "parameters": cnn.n_parameters, "synapses": int(table["synapses"].iloc[0]),
                   "test_examples": len(xt)}
        if "val_accuracy" in cnn.history:
            metrics["val_accuracy"] = float(cnn.history["val_accuracy"].iloc[-1])
        if len(cnn.history):
            metrics["seconds_per_epoch"] = round(float(cnn.history["seconds"].mean()), 1)
        chosen = table[(table["simulator"] == "torch") & (table["split"] == "test")
                       & (table["v_init"] == v_init) & (table["readout"] == readout)]
        for _, r in chosen.iterrows():
            metrics[f"torch_accuracy_T{int(r['steps'])}"] = float(r["accuracy"])
        brian = table[table["simulator"] == "brian2"]
        if len(brian):
            metrics.update({"snn_best_accuracy": float(brian["accuracy"].max()),
                            "ms_per_image": float(brian["ms_per_image"].iloc[0]),
                            "brian2_examples": n_brian})
            for _, r in brian.iterrows():
                metrics[f"brian2_accuracy_T{int(r['steps'])}"] = float(r["accuracy"])
        rundir.update_metrics(run, metrics)
    return table
