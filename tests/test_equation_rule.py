"""The user's own rule in Brian2 equation strings (issue 17): checked at construction, and it
runs through ``replay``, the protocol engine, ``score`` and ``fit_rule`` like a built-in rule.

The hand-written rule is additive all-to-all pair STDP; the independent event-by-event
reference of ``reference_stdp.py`` (for ``PairSTDP`` with the same numbers) is the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import ms, mV, second
from numpy.testing import assert_allclose
from reference_stdp import reference_replay
from test_plasticity_replay import DT, DT_S, spike_trains

from brainlearn.neurons import CurrentLIF
from brainlearn.plasticity import EquationRule, PairSTDP, replay
from brainlearn.protocols import Protocol, fit_rule, run_protocol, score

PAIR_MODEL = """w : 1
dapre/dt = -apre / tau_plus : 1 (event-driven)
dapost/dt = -apost / tau_minus : 1 (event-driven)"""


def hand_pair(**namespace) -> EquationRule:
    ns = {"A_plus": 0.01, "A_minus": 0.0105, "tau_plus": 16.8 * ms, "tau_minus": 33.7 * ms, "w_top": 1.0}
    ns.update(namespace)
    return EquationRule(
        model=PAIR_MODEL,
        on_pre="w = clip(w - A_minus * apost, 0, w_top)\napre += 1",
        on_post="w = clip(w + A_plus * apre, 0, w_top)\napost += 1",
        namespace=ns,
    )


def test_hand_written_pair_rule_replays_like_the_reference():
    rule = hand_pair()
    pre, post = spike_trains(seed=17)
    frame = replay(rule, pre * DT, post * DT, w0=0.5, dt=DT)
    ref = reference_replay(PairSTDP(A_plus=0.01, A_minus=0.0105), pre, post, 0.5, DT_S)
    assert_allclose(frame["w"].to_numpy(), [r[2] for r in ref], rtol=1e-6, atol=1e-12)
    assert np.ptp(frame["w"]) > 1e-4


def test_hand_written_rule_scores_like_the_built_in_one():
    """Same rule, same protocols: the same dw on every Sjostrom point, the same E."""
    mine = score(hand_pair(w_top=np.inf), "sjostrom2001")
    built_in = score(PairSTDP(w_max=None), "sjostrom2001")
    assert_allclose(mine.points["dw_model"], built_in.points["dw_model"], rtol=1e-9, atol=1e-12)
    assert mine.E == pytest.approx(built_in.E, rel=1e-9)


def test_fit_rule_varies_the_namespace_parameters():
    rule = hand_pair(w_top=np.inf)
    fit = fit_rule(rule, "sjostrom2001", ["A_plus", "tau_plus"], popsize=2, maxiter=1, seed=1,
                   bounds={"A_plus": (0.0, 0.05), "tau_plus": (0.005, 0.05)})
    assert fit.E <= fit.E_before + 1e-9
    assert isinstance(fit.rule, EquationRule)
    assert float(fit.rule.namespace["tau_plus"] / second) == pytest.approx(fit.params["tau_plus"])
    assert fit.rule.namespace["A_minus"] == 0.0105  # the others stay


def test_rule_with_a_neuron_reads_its_voltage():
    """A rule that reads v_post runs on its neuron: LTP only when the membrane is above -60 mV
    at the pre spike; a pre spike 1 ms after a forced post spike finds it reset (-65 mV)."""
    rule = EquationRule(model="w : 1", on_pre="w = w + eta * int(v_post > theta)",
                        namespace={"eta": 0.1, "theta": -60 * mV}, neuron=CurrentLIF())
    frame = run_protocol(rule, [Protocol([1] * ms, [0] * ms, name="after spike")], w0=1.0)
    assert frame["dw"].iloc[0] == 0.0
    assert frame["n_post_fired"].iloc[0] == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"on_pre": "w = w - A_minuss * apost"}, "A_minuss"),
    ({"on_pre": "w = w - tau_plus"}, "inconsistent units"),
    ({"model": "w : volt"}, "dimensionless"),
    ({"model": "dapre/dt = -apre / tau_plus : 1"}, "must define the weight"),
    ({"model": "w : 1\nx = "}, "cannot parse"),
    ({"namespace": {"A_plus": "big"}}, "A_plus"),
])
def test_construction_rejects_bad_rules(kwargs, message):
    base = {"model": PAIR_MODEL, "on_pre": "apre += 1", "on_post": "apost += 1",
            "namespace": {"tau_plus": 16.8 * ms, "tau_minus": 33.7 * ms, "A_minus": 0.01}}
    base.update(kwargs)
    with pytest.raises(ValueError, match=message):
        EquationRule(**base)
