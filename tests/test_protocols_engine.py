"""The protocol engine: exact windows, one run equals separate replays, protocol shapes."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Hz, ms, second
from numpy.testing import assert_allclose

from brainlearn.plasticity import DiehlCookSTDP, PairSTDP, TripletSTDP, replay
from brainlearn.protocols import Protocol, auto_dt, run_protocol


def test_pair_window_matches_exponential():
    """An isolated pair under additive pair STDP changes w by A exp(-|dt| / tau) (dt = 0: +A+)."""
    rule = PairSTDP(A_plus=0.01, A_minus=0.0105, w_max=None)
    dts = np.arange(-100, 101, 5)
    frame = run_protocol(rule, [Protocol.pairing(d * ms, repetitions=1) for d in dts], w0=1.0)
    expected = np.where(dts >= 0, 0.01 * np.exp(-dts / 16.8), -0.0105 * np.exp(dts / 33.7))
    assert list(frame.columns[:4]) == ["name", "w_before", "w_after", "dw"]
    assert_allclose(frame["dw"], expected, rtol=1e-6)
    assert_allclose(frame["dw"], frame["w_after"] / frame["w_before"] - 1, rtol=1e-12)


RULES = [
    PairSTDP(w_max=None),
    PairSTDP(w_max=None, scheme="nearest"),
    PairSTDP(A_plus=0.05, A_minus=0.06, w_max=2.0, mu_plus=1.0, mu_minus=1.0),
    TripletSTDP.preset("visual-aa-full"),
    TripletSTDP.preset("visual-nn-minimal"),
    DiehlCookSTDP(nu_pre=0.01, nu_post=0.02, w_max=5.0),
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{type(r).__name__}-{getattr(r, 'scheme', '')}")
def test_run_protocol_equals_separate_replays(rule):
    """N protocols in one run give the weights of N separate ``replay`` calls."""
    protocols = [
        Protocol.burst_pairing(10 * ms, 40 * Hz, pairs=5, bursts=3, burst_period=1 * second),
        Protocol.triplet("post-pre-post", 5 * ms, 10 * ms, repetitions=4, frequency=5 * Hz),
        Protocol.quadruplet(-20 * ms, repetitions=3, frequency=4 * Hz),
        Protocol.post_burst(3, 50 * Hz, 10 * ms, repetitions=2, frequency=2 * Hz),
        Protocol([0 * ms, 3 * ms], [1 * ms, 2 * ms, 8 * ms], 5, 20 * ms),
    ]
    frame = run_protocol(rule, protocols, w0=1.0)
    for row, p in zip(frame.itertuples(), protocols, strict=True):
        pre, post = p.spike_times()
        ref = replay(rule, pre * second, post * second, w0=1.0, dt=1 * ms)
        assert row.w_after == pytest.approx(ref["w"].iloc[-1], rel=1e-9)
        assert row.name == p.name


def test_protocol_shapes():
    """Constructors put the spikes where the experiments put them."""
    p = Protocol.pairing(-10 * ms, repetitions=60, frequency=1 * Hz)
    assert_allclose(p.pre / ms, [10]) and assert_allclose(p.post / ms, [0])
    assert p.repetitions == 60 and float(p.period / second) == 1.0
    b = Protocol.burst_pairing(10 * ms, 50 * Hz)
    assert_allclose(b.pre / ms, [0, 20, 40, 60, 80]) and assert_allclose(b.post / ms, [10, 30, 50, 70, 90])
    assert b.repetitions == 15 and float(b.period / second) == 10.0
    t = Protocol.triplet("pre-post-pre", 5 * ms, 15 * ms)
    assert_allclose(t.pre / ms, [0, 20]) and assert_allclose(t.post / ms, [5])
    q = Protocol.quadruplet(50 * ms, dt=5 * ms)
    assert_allclose(q.post / ms, [0, 55]) and assert_allclose(q.pre / ms, [5, 50])
    n = Protocol.post_burst(3, 100 * Hz, 10 * ms, pre_after_last=True)
    assert_allclose(n.post / ms, [0, 10, 20]) and assert_allclose(n.pre / ms, [30])
    pre, post = b.spike_times()
    assert pre.size == 75 and post.size == 75
    assert float(auto_dt([b, p]) / ms) == pytest.approx(10.0)


def test_protocol_rejects_bad_input():
    with pytest.raises(ValueError, match="period"):
        Protocol([0 * ms], [20 * ms], repetitions=2, period=10 * ms)
    with pytest.raises(ValueError, match="no unit"):
        Protocol([0.0], [0.01])
    with pytest.raises(ValueError, match=">= 0"):
        Protocol([-1 * ms], [0 * ms])
    with pytest.raises(ValueError, match="drive"):
        run_protocol(PairSTDP(), [Protocol([0 * ms], [1 * ms])], drive="bogus")


def test_real_post_neuron_fires_at_requested_times():
    """drive='neuron' makes a CurrentLIF fire at the requested times: same dw as imposed spikes."""
    rule = TripletSTDP.preset("visual-nn-minimal")
    protocols = [Protocol.burst_pairing(10 * ms, 20 * Hz, pairs=3, bursts=2, burst_period=300 * ms),
                 Protocol.pairing(-7 * ms, repetitions=3, frequency=10 * Hz)]
    imposed = run_protocol(rule, protocols)
    neuron = run_protocol(rule, protocols, drive="neuron")
    assert (neuron["n_post_fired"] == neuron["n_post"]).all()
    assert_allclose(neuron["dw"], imposed["dw"], rtol=1e-9)


def test_parameter_sets_side_by_side():
    """params= evaluates K parameter sets in one run, each equal to a run of that rule."""
    rule = PairSTDP(w_max=None)
    protocols = [Protocol.pairing(10 * ms, 5, 2 * Hz), Protocol.pairing(-10 * ms, 5, 2 * Hz)]
    frame = run_protocol(rule, protocols, params={"A_plus": [0.01, 0.02], "tau_minus": [0.02, 0.04]})
    assert len(frame) == 4 and list(frame["set"]) == [0, 0, 1, 1]
    single = run_protocol(rule.replace(A_plus=0.02, tau_minus=40 * ms), protocols)
    assert_allclose(frame["dw"].to_numpy()[2:], single["dw"], rtol=1e-9)
