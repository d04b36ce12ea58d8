"""The CNN unrolled into layers of IF neurons with explicit synapses.

In Brian2 every layer is a ``NeuronGroup`` and every connection a ``Synapses`` object with
explicit connectivity: a convolution is unrolled into one synapse per (input pixel, kernel
tap, output channel) that falls inside the image (:func:`conv_synapses`; 3.28 million for
the second convolution, 3.72 million in the whole network), and an average pool is a layer
of IF neurons, each fed by its 2x2 window with weight 1/4 (:func:`pool_synapses`): a pool
neuron then fires at the mean rate of its window, so the pool layer's normalisation factor
is that of the convolution below it. Folding the pool into the next layer's weights instead
(:func:`fold_pools`) would need no pool neurons but four times the synapses of the next
layer (13.1 million for the second convolution and 1.6 million for the first fully
connected layer: 4.0 times the network's synapses to save 9,408 of its 47,178 neurons),
which is why the pools are layers here. Measured (30 test images, T=64, ``cpp_standalone``):
115 ms per image with pool layers, 136 ms folded (1.18 times), with the same predictions.
The first convolution receives the image as an analog current (``conv1(x) + b``, computed
once per image), as the MLP's first layer does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brainlearn.lanes import preprocess
from brainlearn.models.conversion.ann import CNN, require_torch

__all__ = ["SparseLayer", "ConvertedCNN", "conv_synapses", "pool_synapses", "dense_synapses",
           "fold_pools"]


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


def dense_synapses(weight):
    """A dense ``(n_in, n_out)`` matrix as synapses ``i, j, w`` (every pair)."""
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
    cnn : CNN
        The source network.
    percentile : float
        The normalisation percentile (100 = max).
    """

    layers: list
    factors: np.ndarray
    cnn: CNN
    percentile: float

    @property
    def ann(self) -> CNN:
        """The source network (as :attr:`ConvertedNet.ann`)."""
        return self.cnn

    @property
    def norm(self) -> str:
        """``"max"`` or the percentile as text (``"99.9"``)."""
        return "max" if self.percentile == 100.0 else f"{self.percentile:g}"

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer sizes, the input pixels first."""
        return (self.cnn.image ** 2, *(layer.size for layer in self.layers))

    def connection(self, k: int):
        """Synapses ``(i, j, w)`` into IF layer ``k`` (0: the unrolled first convolution from
        the input pixels, for spiking input)."""
        if k == 0:
            kernel, _ = self.cnn.conv[0]
            i, j, w = conv_synapses(kernel, self.cnn.image)
            return i, j, w / self.factors[0]
        layer = self.layers[k]
        return layer.i, layer.j, layer.w

    def bias(self, k: int) -> np.ndarray:
        """Normalised bias of IF layer ``k``."""
        return self.layers[k].bias

    def first_current(self, x) -> np.ndarray:
        """Normalised input current of the first layer, ``(conv1(x) + b) / lambda_1``."""
        torch = require_torch()
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
        layered form :func:`brainlearn.models.conversion.rate.rate_network` runs.
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
        :func:`brainlearn.models.conversion.replica.simulate_torch`); the first entry's ``op`` maps images to the analog input."""
        if [layer.name for layer in self.layers] != ["conv1", "pool1", "conv2", "pool2", "fc1",
                                                     "output"]:
            raise ValueError("torch_layers needs the network with pool layers (not fold_pools)")
        torch = require_torch()
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

