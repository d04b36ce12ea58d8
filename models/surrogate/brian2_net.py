"""The surrogate network in Brian2: the trained weights as LIF groups, many images side by side.

:func:`simulate` runs a :class:`~brainlearn.models.surrogate.network.SpikingMLP` as
:class:`~brainlearn.neurons.DiscreteLIF` or :class:`~brainlearn.neurons.SpikingJellyLIF`
groups: ``lanes`` copies of the network run side by side (:mod:`brainlearn.lanes`), a
``TimedArray`` indexed by example feeds the first layer, and the result is an
:class:`~brainlearn.models.surrogate.network.Activity` to compare with the trainer's.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from brainlearn.encoding import bernoulli_steps
from brainlearn.lanes import preprocess
from brainlearn.models.surrogate.network import Activity, SpikingMLP

__all__ = ["simulate"]


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
    ``seed``, example ``e`` of ``images`` with index ``e``: the trains
    :func:`~brainlearn.models.surrogate.torch_net.forward` uses
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


