"""Data-based normalisation: an ANN's weights rescaled so that IF neurons can carry its rates.

The recipe is Rueckauer et al. (2017, "Conversion of continuous-valued deep networks to
efficient event-driven networks for image classification", Front. Neurosci. 11:682): every
layer ``l`` is divided by ``lambda_l``, a percentile of its positive ReLU activations on
training data (the 99.9th by default; ``"max"``, the 100th, is Diehl et al. 2015, IJCNN), so
that the normalised activation ``a_l / lambda_l`` is a firing rate in spikes per step of a
non-leaky IF neuron with threshold 1::

    W'_l = W_l * lambda_{l-1} / lambda_l,    b'_l = b_l / lambda_l,    lambda_0 = 1

:func:`convert` does this for both architectures: the MLP becomes a :class:`ConvertedNet`
(dense layers), the CNN a :class:`~brainlearn.models.conversion.unroll.ConvertedCNN`
(unrolled convolutions and pools, a pool sharing its convolution's factor). Both expose the
same layered interface to the IF network (:mod:`brainlearn.models.conversion.network`), the
rate model (:mod:`brainlearn.models.conversion.rate`) and the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brainlearn.lanes import preprocess
from brainlearn.models.conversion.ann import CNN, MLP
from brainlearn.models.conversion.unroll import (
    ConvertedCNN,
    SparseLayer,
    conv_synapses,
    dense_synapses,
    pool_synapses,
)

__all__ = ["ConvertedNet", "convert", "rescale", "parse_norm", "norm_label", "percentile_factor", "as_rows"]


def as_rows(images) -> np.ndarray:
    """Inputs as rows of features: uint8 images scaled to [0, 1], other numbers as given."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return preprocess(images)
    return images.reshape(len(images), -1).astype(np.float64)


def parse_norm(norm) -> float:
    """Normalisation percentile from ``"max"`` (100), ``"99.9"`` or a number in (0, 100]."""
    if isinstance(norm, str) and norm.strip().lower() in ("max", "100"):
        return 100.0
    try:
        value = float(norm)
    except (TypeError, ValueError):
        raise ValueError(f"norm must be 'max' or a percentile such as 99.9, got {norm!r}") from None
    if not 0 < value <= 100:
        raise ValueError(f"norm percentile must be in (0, 100], got {value!r}")
    return value


def norm_label(percentile: float) -> str:
    """``"max"`` for the 100th percentile, else the percentile as text (``"99.9"``)."""
    return "max" if percentile == 100.0 else f"{percentile:g}"


def percentile_factor(positive: np.ndarray, percentile: float, layer: int,
                      silent_factor: float | None) -> float:
    """``lambda`` of one layer: the ``percentile`` of its positive activations ``positive``.

    A layer with no positive activation gets ``silent_factor`` (``None``: an error naming the
    layer).
    """
    if positive.size == 0:
        if silent_factor is None:
            raise ValueError(f"layer {layer} is silent on the normalisation data; cannot "
                             "normalise (pass silent_factor=1.0 to leave it unscaled)")
        return float(silent_factor)
    return float(np.percentile(positive, percentile))


@dataclass
class ConvertedNet:
    """Normalised weights of a converted MLP.

    ``weights[l] = W_l * factors[l] / factors[l + 1]`` and ``biases[l] = b_l / factors[l + 1]``,
    where ``factors[0] = 1`` (input pixels in ``[0, 1]``) and ``factors[l + 1]`` is the chosen
    percentile of layer ``l``'s positive activations on the normalisation data.

    Attributes
    ----------
    weights, biases : list of numpy.ndarray
        Normalised parameters (float64).
    factors : numpy.ndarray
        ``lambda_0 .. lambda_L``.
    percentile : float
        The normalisation percentile (100 = max).
    ann : MLP
        The source network.
    """

    weights: list
    biases: list
    factors: np.ndarray
    percentile: float
    ann: MLP

    @property
    def norm(self) -> str:
        """``"max"`` or the percentile as text (``"99.9"``)."""
        return norm_label(self.percentile)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer sizes, input first."""
        return self.ann.sizes

    @property
    def n_synapses(self) -> int:
        """Synapses between IF layers (the first layer takes an analog current)."""
        return int(sum(w.size for w in self.weights[1:]))

    def first_current(self, x) -> np.ndarray:
        """Normalised input current of the first layer, ``W'_1 x + b'_1``."""
        return np.asarray(x, np.float64) @ self.weights[0] + self.biases[0]

    def connection(self, k: int):
        """Weights into IF layer ``k`` (0: from the input pixels) as a dense matrix."""
        return self.weights[k]

    def bias(self, k: int) -> np.ndarray:
        """Normalised bias of IF layer ``k``."""
        return self.biases[k]

    def matrices(self) -> tuple[list, list]:
        """``(weights, biases)`` from the input pixels on, for the rate model."""
        return self.weights, self.biases


def convert(ann: MLP | CNN, x_norm, norm="99.9", batch_size: int = 5000,
            silent_factor: float | None = None) -> ConvertedNet | ConvertedCNN:
    """Normalise ``ann`` layer by layer with a percentile of its activations on ``x_norm``.

    Parameters
    ----------
    ann : MLP or CNN
        The trained ReLU network.
    x_norm : array_like
        Normalisation inputs (training data: uint8 images, scaled to ``[0, 1]``, or rows of
        features, taken as given).
    norm : str or float
        ``"max"`` (Diehl et al. 2015) or a percentile of the positive activations (default
        ``"99.9"``, Rueckauer et al. 2017). The output layer is normalised the same way.
    batch_size : int
        Inputs per forward pass (MLP).
    silent_factor : float, optional
        The factor of a layer with no positive activation on ``x_norm`` (default: such a layer
        is an error for the MLP; the CNN leaves it unscaled, 1.0).

    Returns
    -------
    ConvertedNet or ConvertedCNN
        The MLP's dense layers, or the CNN unrolled into layers of explicit synapses.
    """
    percentile = parse_norm(norm)
    if isinstance(ann, CNN):
        return _convert_cnn(ann, x_norm, percentile,
                            1.0 if silent_factor is None else silent_factor)
    if not isinstance(ann, MLP):
        raise TypeError(f"convert takes an MLP or a CNN, got {type(ann).__name__}")
    x_norm = as_rows(x_norm)
    if not len(x_norm):
        raise ValueError("x_norm must hold at least one example")
    per_layer = [[] for _ in ann.weights]
    for i in range(0, len(x_norm), batch_size):
        for k, a in enumerate(ann.activations(x_norm[i:i + batch_size])):
            per_layer[k].append(a[a > 0])
    factors = [1.0] + [percentile_factor(np.concatenate(chunks).astype(np.float64), percentile,
                                         k + 1, silent_factor)
                       for k, chunks in enumerate(per_layer)]
    return rescale(ann, np.asarray(factors), percentile)


def _convert_cnn(cnn: CNN, x_norm, percentile: float, silent_factor: float) -> ConvertedCNN:
    """The CNN's factors: conv1, pool1, conv2, pool2, fc1, output (a pool shares its
    convolution's, since its rates are means of the convolution's)."""
    acts = cnn.activations(x_norm)
    lam = {k: percentile_factor(acts[k][acts[k] > 0], percentile, k + 1, silent_factor)
           for k in (0, 2, 4, 5)}  # conv1, conv2, fc1, output
    lam[1], lam[3] = lam[0], lam[2]
    return rescale(cnn, np.array([lam[k] for k in range(6)]), percentile)


def rescale(ann: MLP | CNN, factors, percentile: float = 99.9) -> ConvertedNet | ConvertedCNN:
    """The converted network of ``ann`` for known normalisation ``factors``.

    ``factors`` are those of :func:`convert` (``ConvertedNet.factors``: ``lambda_0 = 1``
    first; ``ConvertedCNN.factors``: one per IF layer); ``percentile`` only labels the result.
    A saved estimator keeps its factors and rebuilds its network this way.
    """
    factors = np.asarray(factors, dtype=np.float64)
    if isinstance(ann, MLP):
        if len(factors) != len(ann.weights) + 1:
            raise ValueError(f"an MLP of {len(ann.weights)} layers needs "
                             f"{len(ann.weights) + 1} factors, got {len(factors)}")
        weights = [np.asarray(w, np.float64) * factors[k] / factors[k + 1]
                   for k, w in enumerate(ann.weights)]
        biases = [np.asarray(b, np.float64) / factors[k + 1] for k, b in enumerate(ann.biases)]
        return ConvertedNet(weights, biases, factors, percentile, ann)
    if len(factors) != 6:
        raise ValueError(f"the CNN has 6 IF layers and needs 6 factors, got {len(factors)}")
    return _unroll(ann, factors, percentile)


def _unroll(cnn: CNN, factors: np.ndarray, percentile: float) -> ConvertedCNN:
    """The normalised CNN as :class:`SparseLayer` objects (conv1, pool1, conv2, pool2, fc1,
    output)."""
    lam = {k: float(f) for k, f in enumerate(factors)}  # python floats: float32 biases stay float32
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
    i, j, w = dense_synapses(w1)
    layers.append(SparseLayer("fc1", w1.shape[1], c1 / lam[4], i, j, w * lam[3] / lam[4]))
    i, j, w = dense_synapses(w2)
    layers.append(SparseLayer("output", w2.shape[1], c2 / lam[5], i, j, w * lam[4] / lam[5]))
    return ConvertedCNN(layers, factors, cnn, percentile)
