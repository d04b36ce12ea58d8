"""The Diehl & Cook network's own plastic input synapses against an event-by-event reference.

``connect_input`` is what ``build_network`` uses to make the input -> excitatory synapses
(random delays, storage by input cell and delay, the rule's rendering, the weight-sum upkeep
and the normalisation at every presentation start). Here they are driven by Poisson input and
output trains plus hand-placed spikes: arrivals in the same step as a post spike, 0.5 ms
(one step) before and after one, and at a normalisation boundary. The weights after the pre
pathway and after the post pathway of every step must equal the reference's, which applies
the rule's documented equations synapse by synapse (``reference_stdp.handlers``) and
normalises each cell's weights to 78 at every presentation start.
"""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Network, NeuronGroup, SpikeGeneratorGroup, StateMonitor, TimedArray, ms, second
from numpy.testing import assert_allclose
from reference_stdp import handlers

from brainlearn.devices import use_device
from brainlearn.models.diehl_cook.model import N_INPUTS, DiehlCookParams, connect_input, stdp_code
from brainlearn.plasticity import DiehlCookSTDP

N = 2
STEPS = 800  # 400 ms at dt = 0.5 ms: presentation starts (normalisation) at steps 0, 300, 600
RTOL, ATOL = 1e-9, 1e-13
RULES = {
    "paper": DiehlCookSTDP(),
    # every field changed: large steps reach both bounds; all-to-all traces
    "every-field": DiehlCookSTDP(nu_pre=0.02, nu_post=0.3, tau_pre=15 * ms, tau_post1=25 * ms,
                                 tau_post2=35 * ms, w_min=0.03, w_max=0.2, scheme="all-to-all"),
}


def _trains(params, delays, rng):
    """Input (cell, step) and post (cell, step) spikes: Poisson plus hand-placed."""
    dt_s = float(params.dt / second)
    d = np.round(delays / dt_s).astype(int)
    active = rng.choice(N_INPUTS, size=80, replace=False)
    pre = [(i, s) for i in active for s in np.nonzero(rng.random(STEPS) < 40 * dt_s)[0]]
    post = [(j, s) for j in range(N) for s in np.nonzero(rng.random(STEPS) < 30 * dt_s)[0]]
    quiet = np.setdiff1d(np.arange(N_INPUTS), active)
    for j, p_step in ((0, 500), (1, 500), (0, 600), (1, 230)):
        post.append((j, p_step))
        for k, offset in enumerate((0, -1, 1)):  # arrive with, 0.5 ms before, 0.5 ms after
            i = int(quiet[4 * p_step % 500 + 3 * j + k])
            pre.append((i, p_step + offset - d[i, j]))
    pre = sorted({(int(i), int(s)) for i, s in pre if s >= 0})
    post = sorted({(int(j), int(s)) for j, s in post})
    return np.array(pre), np.array(post)


def _network_weights(params, code, w0, delays, pre, post):
    """Weights (network synapse order) after the pre and after the post pathway, per step."""
    dt = params.dt
    train = np.zeros((STEPS + 1, N))
    train[post[:, 1], post[:, 0]] = 1.0
    with use_device("runtime"):
        source = SpikeGeneratorGroup(N_INPUTS, pre[:, 0], pre[:, 1] * dt, dt=dt)
        target = NeuronGroup(
            N, code.post_model + "\nnorm_factor : 1\nge : 1", threshold="post_train(t, i) > 0.5",
            reset=code.post_reset, method=code.post_method, dt=dt,
            namespace={**code.post_namespace, "post_train": TimedArray(train, dt=dt)},
        )
        objects = connect_input(params, source, target, delays, plastic=True, dt=dt, code=code)
        syn, order = objects["syn"], objects["synapse_order"]
        syn.w = w0.ravel()[order]
        target.wsum = w0.sum(axis=0)
        after_pre = StateMonitor(syn, "w", record=True, when="synapses", order=0, dt=dt)
        after_post = StateMonitor(syn, "w", record=True, when="after_synapses", dt=dt)
        net = Network(source, target, after_pre, after_post,
                      *[v for k, v in objects.items() if k != "synapse_order"])
        net.run(STEPS * dt)
        assert syn.pre.order < after_pre.order < syn.post.order
        return order, np.asarray(after_pre.w[:]), np.asarray(after_post.w[:])


def _reference_weights(params, rule, w0, delays, pre, post):
    """Row-order weights after the pre and post events of every step, event by event."""
    dt_s = float(params.dt / second)
    period = int(round(float(params.period / params.dt)))
    d = np.round(delays / dt_s).astype(int)
    w = w0.copy()
    synapses = [[handlers(rule) for _ in range(N)] for _ in range(N_INPUTS)]
    arrivals: dict[int, list] = {}
    for i, s in pre:
        for j in range(N):
            arrivals.setdefault(s + d[i, j], []).append((i, j))
    posts: dict[int, list] = {}
    for j, s in post:
        posts.setdefault(s, []).append(j)
    after_pre, after_post = [], []
    for step in range(STEPS):
        t = step * dt_s
        if step % period == 0:  # presentation start: normalise every cell's input to 78
            w *= params.norm_total / w.sum(axis=0)
        for i, j in arrivals.get(step, []):
            w[i, j] = synapses[i][j][0](w[i, j], t)
        after_pre.append(w.copy())
        for j in posts.get(step, []):
            for i in range(N_INPUTS):
                w[i, j] = synapses[i][j][1](w[i, j], t)
        after_post.append(w.copy())
    return np.array(after_pre), np.array(after_post)


@pytest.mark.parametrize(("name", "integration"), [("paper", "euler"), ("every-field", "euler"),
                                                  ("paper", "exponential_euler"),
                                                  ("paper", "implicit_euler")])
def test_network_input_synapses_match_the_event_by_event_reference(name, integration):
    rule = RULES[name]
    params = DiehlCookParams(t_input=100 * ms, t_rest=50 * ms, stdp=rule, integration=integration)
    rng = np.random.default_rng(13)
    w0 = params.initial_weights(N, rng)
    delays = np.round(params.initial_delays(N, rng) / 5e-4) * 5e-4
    pre, post = _trains(params, delays, rng)
    code = stdp_code(params)
    order, net_pre, net_post = _network_weights(params, code, w0, delays, pre, post)
    ref_pre, ref_post = _reference_weights(params, rule, w0, delays, pre, post)
    # network synapse k is row-order entry order[k] of the (784, N) matrix
    ref_pre = ref_pre.reshape(STEPS, -1)[:, order].T
    ref_post = ref_post.reshape(STEPS, -1)[:, order].T
    assert_allclose(net_pre, ref_pre, rtol=RTOL, atol=ATOL)
    assert_allclose(net_post, ref_post, rtol=RTOL, atol=ATOL)
    # the change made in every step, so that a small wrong step is not hidden in a large w
    assert_allclose(np.diff(net_post, axis=1), np.diff(ref_post, axis=1), rtol=1e-7, atol=ATOL)
    # the replay saw weights move both ways and, with large steps, reach both bounds
    change = net_post[:, -1] - net_pre[:, 0]
    assert change.max() > 0 > change.min()
    if name == "every-field":
        assert np.isclose(net_post, rule.w_max).any() and np.isclose(net_post, rule.w_min).any()
    # the normalisation acted at every presentation start
    for step in (300, 600):
        w_start = ref_pre[:, step]  # after the step's normalisation (and its arrivals)
        assert not np.allclose(ref_post[:, step - 1], w_start)
