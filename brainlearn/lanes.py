"""Many copies of a feed-forward network in one Brian2 run ("lanes").

ANN-to-SNN conversion (:mod:`brainlearn.models.conversion`) and surrogate-gradient networks
(:mod:`brainlearn.models.surrogate`) evaluate thousands of images with the same layered network.
Instead of one run per image, ``lanes`` copies of the network run side by side in one Brian2
simulation: neuron ``unit`` of layer ``k`` in lane ``l`` is neuron ``l * size_k + unit`` of
one group, and the synapses between layers are block-diagonal (each lane's neurons connect
only within the lane). Every lane presents its share of the images one after another, one
image per ``period``: example ``e`` runs in lane ``e % lanes``, slot ``e // lanes``.

The two helpers both rooms share also live here: :func:`preprocess` (images to ``[0, 1]``
pixel rows, the input every lane network takes) and :func:`layer_arrays` (the ``.npz`` layout
``w0, b0, w1, ...`` of a layered network's weights).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

__all__ = ["preprocess", "layer_arrays", "lane_count", "connect_lanes", "read_lanes", "lane_runner"]


def preprocess(images) -> np.ndarray:
    """Flatten images and scale pixels to ``[0, 1]`` (float32, shape ``(n, n_pixels)``).

    uint8 images are divided by 255; float images must already lie in ``[0, 1]``.
    """
    images = np.asarray(images)
    x = images.reshape(len(images), -1)
    if images.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    x = x.astype(np.float32)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError("float images must lie in [0, 1]; pass uint8 images for 0-255 pixels")
    return x


def layer_arrays(weights, biases, history: pd.DataFrame) -> dict:
    """Arrays ``w0, b0, w1, ...`` and ``history_<column>`` of a layered network, for ``.npz``."""
    arrays = {f"w{k}": w for k, w in enumerate(weights)}
    arrays.update({f"b{k}": b for k, b in enumerate(biases)})
    arrays.update({f"history_{c}": history[c].to_numpy() for c in history.columns})
    return arrays


def lane_count(per_lane_synapses: int, n_examples: int, max_synapses: float,
               lanes: int | None = None) -> int:
    """How many lanes to run: ``lanes`` if given, else as many as ``max_synapses`` allows.

    Parameters
    ----------
    per_lane_synapses : int
        Synapses of one copy of the network.
    n_examples : int
        Examples to present (never more lanes than examples).
    max_synapses : float
        Synapse budget of the whole simulation (memory).
    lanes : int, optional
        A fixed number of lanes (still capped by ``n_examples``).
    """
    limit = max(1, int(max_synapses // max(per_lane_synapses, 1)))
    return max(1, min(n_examples, limit if lanes is None else int(lanes)))


def connect_lanes(net, source, target, weights: np.ndarray, lanes: int, step):
    """Block-diagonal synapses ``source -> target`` (lane by lane, ``v_post += w``).

    Parameters
    ----------
    net : brian2.Network
        The synapses are added to it.
    source, target : brian2.NeuronGroup
        Groups of ``lanes * n_in`` and ``lanes * n_out`` neurons.
    weights : array (n_in, n_out)
        One lane's weight matrix.
    lanes : int
        Number of copies.
    step : Quantity
        Time step of the synapses.

    Returns
    -------
    brian2.Synapses
    """
    from brian2 import Synapses

    n_in, n_out = weights.shape
    syn = Synapses(source, target, "w : 1", on_pre="v_post += w", dt=step)
    a, b = np.meshgrid(np.arange(n_in), np.arange(n_out), indexing="ij")
    a, b = a.ravel(), b.ravel()
    lane = np.repeat(np.arange(lanes), a.size)
    syn.connect(i=lane * n_in + np.tile(a, lanes), j=lane * n_out + np.tile(b, lanes))
    syn.w = np.tile(weights[a, b], lanes)
    net.add(syn)
    return syn


def read_lanes(monitor, var: str, size: int, lanes: int, n: int, n_slots: int, t_max: int,
               record_every: int, steps) -> np.ndarray:
    """Values of ``var`` at every checkpoint of every example: ``(len(steps), n, size)``.

    ``monitor`` records ``var`` of a ``lanes * size`` group every ``record_every`` steps;
    each example lasts ``t_max`` steps and checkpoint ``T`` in ``steps`` is read ``T`` steps
    after the example's start.
    """
    values = np.asarray(getattr(monitor, var))  # (lanes * size, n_records)
    out = np.empty((len(steps), n, size))
    slots = np.arange(n_slots)
    for s, T in enumerate(steps):
        cols = (slots * t_max + T) // record_every
        block = values[:, cols]  # (lanes * size, n_slots)
        block = block.reshape(lanes, size, n_slots).transpose(2, 0, 1).reshape(-1, size)
        out[s] = block[:n]
    return out


@contextlib.contextmanager
def lane_runner(device: str, directory: str | os.PathLike | None = None) -> Iterator[Callable]:
    """Yield ``run(net, duration)``, which runs a network on ``device``; reset it afterwards.

    Parameters
    ----------
    device : {"runtime", "cpp_standalone"}
        Runtime mode keeps the current ``prefs.codegen.target``; ``cpp_standalone`` builds
        in ``directory`` (a temporary one by default) and runs the binary.
    directory : path, optional
        Build directory of ``cpp_standalone``.
    """
    import tempfile

    from brian2 import prefs

    from brainlearn.devices import build, use_device

    if device not in ("runtime", "cpp_standalone"):
        raise ValueError(f"device must be 'runtime' or 'cpp_standalone', got {device!r}")
    with contextlib.ExitStack() as stack:
        if device == "cpp_standalone" and directory is None:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="brainlearn_lanes_"))
        stack.enter_context(use_device(device, directory, runtime_target=prefs.codegen.target))

        def run(net, duration):
            net.run(duration)
            if device == "cpp_standalone":
                build(directory, run=True)

        yield run
