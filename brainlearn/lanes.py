"""Many copies of a feed-forward network in one Brian2 run ("lanes").

ANN-to-SNN conversion (:mod:`brainlearn.conversion`) and surrogate-gradient networks
(:mod:`brainlearn.surrogate`) evaluate thousands of images with the same layered network.
Instead of one run per image, ``lanes`` copies of the network run side by side in one Brian2
simulation: neuron ``unit`` of layer ``k`` in lane ``l`` is neuron ``l * size_k + unit`` of
one group, and the synapses between layers are block-diagonal (each lane's neurons connect
only within the lane). Every lane presents its share of the images one after another, one
image per ``period``: example ``e`` runs in lane ``e % lanes``, slot ``e // lanes``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import numpy as np

__all__ = ["lane_count", "connect_lanes", "read_lanes", "lane_runner"]


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
