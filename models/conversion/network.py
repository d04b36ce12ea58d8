"""The converted network as IF neurons in Brian2, for the MLP and the CNN alike.

Every layer of a converted network (:func:`brainlearn.models.conversion.convert`) becomes a
``NeuronGroup`` of non-leaky IF neurons (:class:`brainlearn.neurons.IFNeuron`, threshold 1,
reset by subtraction or to zero) whose bias is a constant input current, and every
connection a ``Synapses`` object (``v_post += w``): dense block-diagonal for the MLP
(:func:`brainlearn.lanes.connect_lanes`), the explicit unrolled connectivity for the CNN.
The first layer receives the image either as an analog current (``W'_1 x + b'_1``, computed
once per image) or as Poisson spikes (every pixel fires with probability ``x`` per step).

Many test images run in ONE Brian2 simulation: ``lanes`` copies of the network run side by
side (a group of ``lanes x layer_size`` neurons, block-diagonal synapses), and every lane
presents its share of the images one after the other, ``max(steps)`` time steps each; a
``TimedArray`` indexed by example feeds the input, and a ``run_regularly`` operation resets
the membranes (to ``v_init``) between examples. Because the simulation is causal, the counts
after ``T`` steps of one run give the accuracy for every ``T <= max(steps)``. A non-spiking
copy of the output layer integrates its input, for decoding by membrane potential
(Rueckauer et al. 2017's analog readout).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from brainlearn.lanes import connect_lanes, lane_count, lane_runner, preprocess, read_lanes
from brainlearn.models.conversion.normalise import as_rows

__all__ = ["SimulationResult", "simulate", "build_network", "INPUTS", "RESETS", "check_steps",
           "check_v_init"]

INPUTS = ("analog", "poisson")
RESETS = ("subtract", "zero")


@dataclass
class SimulationResult:
    """Recorded activity of one converted network, read at checkpoints ``steps``.

    Attributes
    ----------
    steps : tuple of int
        Checkpoints (time steps since the example started).
    input, reset, norm : str
        Configuration.
    out_counts : numpy.ndarray
        ``(n_steps, n_examples, n_classes)`` output spike counts.
    out_potential : numpy.ndarray
        Same shape: membrane of a non-spiking copy of the output layer (its integrated input).
    spikes : numpy.ndarray
        ``(n_steps, n_examples)`` spikes of all IF neurons per example up to each checkpoint.
    input_spikes : numpy.ndarray or None
        ``(n_steps, n_examples)`` input spikes (Poisson input only).
    layer_counts : list of numpy.ndarray or None
        With ``record_counts``: ``(n_steps, n_examples, n_units)`` counts of every IF layer.
    v_init : float
        Membrane at the start of every example, in units of the threshold.
    lanes, synapses : int
        Network copies run side by side; synapses of one copy.
    run_seconds : float
        Simulation time (where the device reports it, else the whole ``run``).
    """

    steps: tuple
    input: str
    reset: str
    norm: str
    out_counts: np.ndarray
    out_potential: np.ndarray
    spikes: np.ndarray
    input_spikes: np.ndarray | None = None
    layer_counts: list | None = None
    v_init: float = 0.0
    lanes: int = 1
    synapses: int = 0
    run_seconds: float = float("nan")

    def accuracy(self, labels, decode: str = "count") -> np.ndarray:
        """Accuracy at every checkpoint; ``decode="count"`` (ties: lowest class) or
        ``"potential"``."""
        source = {"count": self.out_counts, "potential": self.out_potential}.get(decode)
        if source is None:
            raise ValueError(f"decode must be 'count' or 'potential', got {decode!r}")
        return np.mean(np.argmax(source, axis=2) == np.asarray(labels)[None, :], axis=1)


def check_steps(steps) -> tuple[int, ...]:
    """Checkpoints as sorted unique positive integers."""
    steps = tuple(sorted({int(s) for s in steps}))
    if not steps or steps[0] < 1:
        raise ValueError(f"steps must be positive integers, got {steps!r}")
    return steps


def check_v_init(v_init) -> float:
    """The initial membrane as a fraction of the threshold in ``[0, 1)``."""
    value = float(v_init)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"v_init is the initial membrane in units of the threshold and must lie "
                         f"in [0, 1), got {v_init!r}; 0.5 is Bu et al. 2022's half threshold")
    return value


def _lanes_for(converted, input_mode, n, max_synapses, lanes=None) -> int:
    sizes = converted.sizes
    per_lane = converted.n_synapses
    if input_mode == "poisson":
        per_lane += _n_synapses(converted.connection(0))
    per_lane += 2 * sum(sizes[1:]) + _n_synapses(converted.connection(len(sizes) - 2))
    return lane_count(per_lane, n, max_synapses, lanes)


def _n_synapses(connection) -> int:
    return connection.size if isinstance(connection, np.ndarray) else len(connection[0])


def _connect(net, source, target, connection, lanes: int, pre_size: int, post_size: int, step):
    """Lane-by-lane synapses ``source -> target`` (``v_post += w``): dense or ``(i, j, w)``."""
    from brian2 import Synapses

    if isinstance(connection, np.ndarray):
        return connect_lanes(net, source, target, connection, lanes, step)
    i, j, w = connection
    syn = Synapses(source, target, "w : 1", on_pre="v_post += w", dt=step)
    lane = np.repeat(np.arange(lanes), len(i))
    syn.connect(i=lane * pre_size + np.tile(i, lanes), j=lane * post_size + np.tile(j, lanes))
    syn.w = np.tile(w, lanes)
    net.add(syn)
    return syn


def _layers(net, conv, x, input_mode, reset, v_init, lanes, n_slots, t_max, step):
    """The IF layers of one configuration (and the Poisson input); returns both and tallies."""
    from brian2 import NeuronGroup, PoissonGroup, TimedArray

    from brainlearn.neurons import IFNeuron

    model = IFNeuron(reset_mode=reset, step=step)
    sizes = conv.sizes
    period = t_max * step

    def by_slot(values):  # example e runs in lane e % lanes, slot e // lanes
        padded = np.zeros((lanes * n_slots, values.shape[1]))
        padded[:len(values)] = values
        return padded.reshape(n_slots, lanes * values.shape[1])

    layers, tallies, pre = [], [], None
    if input_mode == "poisson":
        pix = TimedArray(by_slot(x), dt=period)
        pre = PoissonGroup(lanes * sizes[0], rates="pix(t, i) / step", dt=step,
                           namespace={"pix": pix, "step": step})
        net.add(pre)
        tallies.append(("input", pre, sizes[0]))
    for k in range(len(sizes) - 1):
        size = sizes[k + 1]
        namespace = {**model.namespace(), "v_init": float(v_init)}
        analog_first = k == 0 and input_mode == "analog"
        if analog_first:
            namespace["current"] = TimedArray(by_slot(conv.first_current(x)), dt=period)
        group = NeuronGroup(lanes * size, model.equations() + "count : 1",
                            threshold=model.threshold(), reset=model.reset() + "\ncount += 1",
                            method="euler", dt=step, namespace=namespace)
        if analog_first:
            group.run_regularly("v = v_init\ncount = 0\nbias = current(t, i)", dt=period,
                                when="start", order=1)
        else:
            group.bias = np.tile(conv.bias(k), lanes)
            group.run_regularly("v = v_init\ncount = 0", dt=period, when="start", order=1)
        net.add(group)
        if pre is not None:
            _connect(net, pre, group, conv.connection(k), lanes, sizes[k], size, step)
        layers.append(group)
        tallies.append((f"layer{k + 1}", group, size))
        pre = group
    return layers, tallies


def _build_config(net, conv, x, input_mode, reset, v_init, lanes, n_slots, t_max,
                  record_every, record_counts, step):
    """Add one converted network (``lanes`` parallel copies) to ``net``; return its monitors."""
    from brian2 import NeuronGroup, StateMonitor, Synapses

    sizes = conv.sizes
    period = t_max * step
    rec_dt = record_every * step
    layers, tallies = _layers(net, conv, x, input_mode, reset, v_init, lanes, n_slots, t_max,
                              step)
    # non-spiking copy of the output layer, for decoding by membrane potential
    twin = NeuronGroup(lanes * sizes[-1], "dv/dt = bias / step : 1\nbias : 1", method="euler",
                       dt=step, namespace={"step": step})
    twin.bias = np.tile(conv.bias(len(sizes) - 2), lanes)
    twin.run_regularly("v = 0", dt=period, when="start", order=1)
    net.add(twin)
    _connect(net, layers[-2], twin, conv.connection(len(sizes) - 2), lanes, sizes[-2],
             sizes[-1], step)
    # per-lane spike tallies (spikes of each layer during the current example)
    monitors = {"tallies": [], "groups": layers}
    for label, group, size in tallies:
        tally = NeuronGroup(lanes, "n : 1", dt=step)
        tally.run_regularly("n = 0", dt=period, when="start", order=1)
        syn = Synapses(group, tally, on_pre="n_post += 1", dt=step)
        syn.connect(i=np.arange(lanes * size), j=np.arange(lanes * size) // size)
        mon = StateMonitor(tally, "n", record=True, dt=rec_dt, when="start", order=-1)
        net.add(tally, syn, mon)
        monitors["tallies"].append((label, mon))
    monitors["out"] = StateMonitor(layers[-1], "count", record=True, dt=rec_dt, when="start",
                                   order=-1)
    monitors["twin"] = StateMonitor(twin, "v", record=True, dt=rec_dt, when="start", order=-1)
    net.add(monitors["out"], monitors["twin"])
    if record_counts:
        monitors["layers"] = [StateMonitor(g, "count", record=True, dt=rec_dt, when="start",
                                           order=-1) for g in layers]
        net.add(*monitors["layers"])
    return monitors


def _read(conv, mode, reset, v_init, mons, read, record_counts, n) -> SimulationResult:
    sizes = conv.sizes
    out_counts = read_lanes(mons["out"], "count", sizes[-1], **read)
    potential = read_lanes(mons["twin"], "v", sizes[-1], **read)
    spikes = np.zeros((len(read["steps"]), n))
    input_spikes = None
    for label, mon in mons["tallies"]:
        tally = read_lanes(mon, "n", 1, **read)[:, :, 0]
        if label == "input":
            input_spikes = tally
        else:
            spikes += tally
    layer_counts = None
    if record_counts:
        layer_counts = [read_lanes(m, "count", size, **read)
                        for m, size in zip(mons["layers"], sizes[1:], strict=True)]
    return SimulationResult(read["steps"], mode, reset, conv.norm, out_counts, potential,
                            spikes, input_spikes, layer_counts, v_init, read["lanes"],
                            int(conv.n_synapses))


def _check_config(converted, images, inputs, resets, steps):
    converted = list(converted) if isinstance(converted, list | tuple) else [converted]
    steps = check_steps(steps)
    inputs, resets = tuple(inputs), tuple(resets)
    for mode in inputs:
        if mode not in INPUTS:
            raise ValueError(f"input must be 'analog' or 'poisson', got {mode!r}")
    for mode in resets:
        if mode not in RESETS:
            raise ValueError(f"reset must be 'subtract' or 'zero', got {mode!r}")
    # Poisson input fires with probability x per step, so it needs pixels in [0, 1]; an analog
    # current W x + b takes any real features
    x = (preprocess(images) if "poisson" in inputs else as_rows(images)).astype(np.float64)
    if len(x) == 0:
        raise ValueError("images must hold at least one example")
    sizes = converted[0].sizes
    if len(sizes) < 3:
        raise ValueError("the converted network needs at least one hidden layer")
    if x.shape[1] != sizes[0]:
        raise ValueError(f"images have {x.shape[1]} pixels but the network expects {sizes[0]}")
    return converted, x, steps, inputs, resets


def simulate(converted, images, *, steps=(8, 16, 32, 64, 128, 256), inputs=("analog",),
             resets=("subtract",), v_init: float = 0.0, device: str = "runtime",
             lanes: int | None = None, max_synapses: float = 4e6, seed: int | None = 0,
             record_counts: bool = False, directory=None) -> list[SimulationResult]:
    """Run converted networks (MLP or CNN) on ``images`` in one Brian2 simulation.

    Every combination of ``converted`` (e.g. one per normalisation), ``inputs`` and ``resets``
    becomes a separate set of groups in the same ``Network``; all of them present all images
    for ``max(steps)`` time steps each, and one run produces the activity at every checkpoint.

    Parameters
    ----------
    converted : ConvertedNet, ConvertedCNN, or a list of them
        Normalised networks (see :func:`brainlearn.models.conversion.convert`).
    images : array_like
        Test inputs, uint8 images or ``(n, n_pixels)`` floats (in ``[0, 1]`` for Poisson
        input and for the CNN).
    steps : sequence of int
        Checkpoints (time steps after the example starts) at which to read the output.
    inputs : sequence of {"analog", "poisson"}
        Analog: the first layer receives ``W x + b`` as a constant current. Poisson: every pixel
        is a Poisson source spiking with probability ``x`` per step.
    resets : sequence of {"subtract", "zero"}
        IF reset mode.
    v_init : float
        Membrane of every IF neuron at the start of an example, in units of the threshold
        (0.5: Bu et al. 2022, ICLR, turns the count's ``floor`` of ``T`` times the rate into
        ``round``).
    device : {"runtime", "cpp_standalone"}
        Runtime mode uses ``prefs.codegen.target``; cpp_standalone builds and runs in
        ``directory`` (a temporary directory by default) and restores the previous device.
    lanes : int, optional
        Copies of the network running in parallel (default: as many as ``max_synapses`` allows).
    max_synapses : float
        Cap on the synapses of one configuration, which sets the default ``lanes``.
    seed : int, optional
        Brian2 seed (Poisson input).
    record_counts : bool
        Also record every IF layer's per-neuron counts (small runs).
    directory : path, optional
        cpp_standalone build directory.

    Returns
    -------
    list of SimulationResult
        One per (converted, input, reset), in that nesting order.
    """
    from brian2 import Network, get_device, ms
    from brian2 import seed as brian_seed

    converted, x, steps, inputs, resets = _check_config(converted, images, inputs, resets, steps)
    v_init = check_v_init(v_init)
    n = len(x)
    t_max = steps[-1]
    record_every = math.gcd(*steps)
    n_lanes = min(_lanes_for(converted[0], mode, n, max_synapses, lanes) for mode in inputs)
    n_slots = math.ceil(n / n_lanes)
    step = 1 * ms
    results = []
    start = time.perf_counter()
    with lane_runner(device, directory) as run:
        if seed is not None:
            brian_seed(seed)
        net = Network()
        configs = [(conv, mode, reset,
                    _build_config(net, conv, x, mode, reset, v_init, n_lanes, n_slots, t_max,
                                  record_every, record_counts, step))
                   for conv in converted for mode in inputs for reset in resets]
        # one extra step so the monitors see the state after the last example's final step
        run(net, (n_slots * t_max + 1) * step)
        seconds = getattr(get_device(), "_last_run_time", None)
        seconds = float(seconds) if seconds else time.perf_counter() - start
        read = dict(lanes=n_lanes, n=n, n_slots=n_slots, t_max=t_max,
                    record_every=record_every, steps=steps)
        for conv, mode, reset, mons in configs:
            result = _read(conv, mode, reset, v_init, mons, read, record_counts, n)
            result.run_seconds = seconds
            results.append(result)
    return results


def build_network(converted, images, n_steps: int, *, input: str = "analog",
                  reset: str = "subtract", v_init: float = 0.0):
    """The converted network as Brian2 objects, presenting ``images`` one after another.

    For attaching other parts (e.g. :meth:`brainlearn.readout.OnlineReadout.attach` on a
    hidden layer) in runtime mode. Each example lasts ``n_steps`` steps of 1 ms; membranes are
    reset at the start of every example.

    Returns
    -------
    net : brian2.Network
        Run it for ``len(images) * n_steps * ms``.
    layers : list of brian2.NeuronGroup
        The IF layers, first hidden layer first, output last (each has a ``count`` variable).
    """
    from brian2 import Network, ms

    if input not in INPUTS or reset not in RESETS:
        raise ValueError(f"input must be one of {INPUTS} and reset one of {RESETS}, "
                         f"got {input!r}, {reset!r}")
    x = preprocess(images).astype(np.float64)
    net = Network()
    mons = _build_config(net, converted, x, input, reset, check_v_init(v_init), 1, len(x),
                         int(n_steps), int(n_steps), False, 1 * ms)
    return net, mons["groups"]
