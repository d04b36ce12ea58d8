"""The LC-SNN's own plastic input synapses against an event-by-event reference.

``connect_input`` is what the LC-SNN's ``build_network`` uses to make the pixel -> cell
synapses (one per pixel of each cell's patch, the rendering of ``PairSTDP`` with no
depression and nearest-spike traces, the weight-sum upkeep and the normalisation at every
presentation start). Driven by Poisson input and output trains plus pre spikes in the same
step as a post spike and one step before and after it, the weights after every step must
equal the reference's, which applies the rule's documented equations synapse by synapse
(``reference_stdp.handlers``: BindsNET's ``PostPre``, ``w += nu * x_pre`` on a post spike,
clipped to [0, 1]) and scales each cell's weights to ``0.2 * kernel**2`` at every
presentation start.
"""

from __future__ import annotations

import numpy as np
from brian2 import Network, NeuronGroup, SpikeGeneratorGroup, StateMonitor, TimedArray, ms, second
from numpy.testing import assert_allclose
from reference_stdp import handlers

from brainlearn.devices import use_device
from brainlearn.models.lcsnn.model import (
    LCSNNParams,
    connect_input,
    learning_rule,
    receptive_fields,
    synapse_order,
)

STEPS = 300  # 300 ms at dt = 1 ms: presentation starts (normalisation) at steps 0, 100, 200
RATE = 0.3  # a large learning rate, so that weights reach the upper bound


def _trains(p: LCSNNParams, rng):
    pre = [(i, s) for i in range(p.n_inputs) for s in np.nonzero(rng.random(STEPS) < 0.03)[0]]
    post = [(j, s) for j in range(p.n_neurons) for s in np.nonzero(rng.random(STEPS) < 0.02)[0]]
    quiet = [i for i in range(p.n_inputs) if not any(a == i for a, _ in pre)]
    for k, (j, step) in enumerate(((0, 150), (4, 199), (7, 200))):
        post.append((j, step))
        for m, offset in enumerate((0, -1, 1)):  # with, one step before, one step after
            pre.append((quiet[(3 * k + m) % len(quiet)], step + offset))
    return np.array(sorted(set(pre))), np.array(sorted(set(post)))


def _network_weights(p: LCSNNParams, w0, pre, post):
    dt = p.dt
    train = np.zeros((STEPS + 1, p.n_neurons))
    train[post[:, 1], post[:, 0]] = 1.0
    with use_device("runtime"):
        source = SpikeGeneratorGroup(p.n_inputs, pre[:, 0], pre[:, 1] * dt, dt=dt)
        target = NeuronGroup(p.n_neurons, "v : volt\nwsum : 1\nnorm_factor : 1",
                             threshold="post_train(t, i) > 0.5", refractory=0 * ms, dt=dt,
                             namespace={"post_train": TimedArray(train, dt=dt)})
        objects = connect_input(p, source, target, plastic=True, dt=dt)
        syn = objects["syn"]
        order = synapse_order(p)  # stored by pixel: position s is synapse order[s]
        syn.w = w0[order]
        syn.A_plus = RATE
        _, cell = receptive_fields(p)
        target.wsum = np.bincount(cell, w0, minlength=p.n_neurons)
        mon = StateMonitor(syn, "w", record=True, when="after_synapses", dt=dt)
        Network(source, target, mon, *objects.values()).run(STEPS * dt)
        weights = np.empty((len(order), STEPS))
        weights[order] = np.asarray(mon.w[:])
        return weights


def _reference_weights(p: LCSNNParams, w0, pre, post):
    rule = learning_rule(p).replace(A_plus=RATE)
    pixel, cell = receptive_fields(p)
    period = int(round(float(p.t_input / p.dt)))
    dt_s = float(p.dt / second)
    w = w0.copy()
    synapses = [handlers(rule) for _ in range(len(w))]
    of_pixel = {i: np.flatnonzero(pixel == i) for i in range(p.n_inputs)}
    of_cell = {j: np.flatnonzero(cell == j) for j in range(p.n_neurons)}
    pre_at: dict[int, list] = {}
    for i, s in pre:
        pre_at.setdefault(int(s), []).append(int(i))
    post_at: dict[int, list] = {}
    for j, s in post:
        post_at.setdefault(int(s), []).append(int(j))
    out = []
    for step in range(STEPS):
        t = step * dt_s
        if step % period == 0:
            sums = np.bincount(cell, w, minlength=p.n_neurons)
            w *= p.norm_total / sums[cell]
        for i in pre_at.get(step, []):
            for k in of_pixel[i]:
                w[k] = synapses[k][0](w[k], t)
        for j in post_at.get(step, []):
            for k in of_cell[j]:
                w[k] = synapses[k][1](w[k], t)
        out.append(w.copy())
    return np.array(out).T


def test_lcsnn_input_synapses_match_the_event_by_event_reference():
    p = LCSNNParams(n_filters=2, kernel=12, stride=4, t_input=100 * ms)
    rng = np.random.default_rng(5)
    w0 = p.initial_weights(rng)
    pre, post = _trains(p, rng)
    net = _network_weights(p, w0, pre, post)
    ref = _reference_weights(p, w0, pre, post)
    assert_allclose(net, ref, rtol=1e-9, atol=1e-13)
    assert_allclose(np.diff(net, axis=1), np.diff(ref, axis=1), rtol=1e-7, atol=1e-13)
    # learning acted and reached the upper bound; the normalisation acted at 100 and 200
    assert (np.diff(net, axis=1) > 0).any() and np.isclose(net, 1.0).any()
    _, cell = receptive_fields(p)
    for step in (100, 200):
        sums = np.bincount(cell, ref[:, step - 1], minlength=p.n_neurons)
        assert not np.allclose(sums, p.norm_total)
