"""The hybrid's trained output layer in Brian2, on the recorded hidden spikes.

A ``SpikeGeneratorGroup`` replays the binned hidden spikes (the trainer's input, step for step)
through ``Synapses`` (``v_post += w``) into a :class:`~brainlearn.neurons.DiscreteLIF`
``NeuronGroup``; many images run side by side (:mod:`brainlearn.lanes`).
"""

from __future__ import annotations

import math

import numpy as np

from brainlearn.models.hybrid.layer import HybridLayer
from brainlearn.models.hybrid.spikes import RecordedSpikes
from brainlearn.models.surrogate.network import Activity

__all__ = ["simulate"]


def simulate(layer: HybridLayer, spikes: RecordedSpikes, examples=None, *,
             lanes: int | None = None, max_synapses: float = 4e6, device: str = "runtime",
             directory=None) -> Activity:
    """Run the trained output layer in Brian2 on the recorded hidden spikes.

    A ``SpikeGeneratorGroup`` replays the binned spikes (:meth:`RecordedSpikes.trains`, the
    trainer's input) one step of ``layer.neuron.step`` (1 ms) per bin, through ``Synapses``
    (``v_post += w``) into a :class:`~brainlearn.neurons.DiscreteLIF` group that checks its
    threshold after the synapses of the same step; a ``run_regularly`` adds the bias before
    and another resets the membranes at the start of every image. ``lanes`` copies run side
    by side (:mod:`brainlearn.lanes`): example ``e`` in lane ``e % lanes``, slot
    ``e // lanes``.

    Parameters
    ----------
    layer : HybridLayer
    spikes : RecordedSpikes
    examples : array of int, optional
        Which examples (default all).
    lanes : int, optional
        Parallel copies (default: as many as ``max_synapses`` allows).
    max_synapses : float
        Synapse budget that sets the default ``lanes``.
    device : {"runtime", "cpp_standalone"}
        Through :func:`brainlearn.lanes.lane_runner` (:func:`brainlearn.devices.use_device`).
    directory : path, optional
        Build directory of ``cpp_standalone``.

    Returns
    -------
    Activity
        As :func:`forward`.
    """
    from brian2 import Network, SpikeGeneratorGroup, StateMonitor, second

    from brainlearn.lanes import connect_lanes, lane_count, lane_runner, read_lanes

    examples = np.arange(len(spikes)) if examples is None else np.asarray(examples)
    n = len(examples)
    if n == 0:
        raise ValueError("examples must hold at least one example")
    n_in, n_out = layer.weights.shape
    if n_in != spikes.n_neurons:
        raise ValueError(f"the layer expects {n_in} hidden neurons, the spikes have "
                         f"{spikes.n_neurons}")
    T = int(layer.steps)
    n_lanes = lane_count(n_in * n_out, n, max_synapses, lanes)
    n_slots = math.ceil(n / n_lanes)
    model = layer.neuron
    step = model.step
    pos, s, j = spikes.binned(examples, T)
    index = (pos % n_lanes) * n_in + j
    times = ((pos // n_lanes) * T + s) * float(step / second) * second
    read = dict(lanes=n_lanes, n=n, n_slots=n_slots, t_max=T, record_every=T, steps=(T,))
    with lane_runner(device, directory) as run:
        net = Network()
        source = SpikeGeneratorGroup(n_lanes * n_in, index, times, dt=step)
        out = model.group(n_lanes * n_out, extra_equations="count : 1\nvsum : 1\nbias : 1\n",
                          extra_reset="count += 1")
        out.bias = np.tile(np.asarray(layer.bias, np.float64), n_lanes)
        out.run_regularly("v += bias", when="before_thresholds")
        # threshold after the synapses of the same step (zero delay, as in the trainer)
        out.set_event_schedule("spike", when="synapses", order=2)
        syn = connect_lanes(net, source, out, np.asarray(layer.weights, np.float64), n_lanes,
                            step)
        syn.pre.order = 1
        out.run_regularly("vsum += v", when="before_resets")
        out.run_regularly("v = 0\ncount = 0\nvsum = 0", dt=T * step, when="start", order=1)
        monitor = StateMonitor(out, ("count", "vsum"), record=True, dt=T * step, when="start",
                               order=-1)
        net.add(source, out, monitor)
        # one step more, so the monitor sees the state after the last image's final step
        run(net, (n_slots * T + 1) * step)
        counts = read_lanes(monitor, "count", n_out, **read)[0]
        membrane = read_lanes(monitor, "vsum", n_out, **read)[0]
    return Activity(counts, membrane, counts.sum(axis=1) + spikes.spike_counts(examples))
