"""Graupner & Brunel (2012) calcium-based rule (issue 17).

Deterministic runs (``sigma = 0``) are compared at every time step with the plain-Python
integration of ``reference_calcium.py``; the noise is checked for its seed and against the
variance of the Euler-Maruyama scheme; the paper's facts on its DP parameter set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from brian2 import Hz, ms, second
from numpy.testing import assert_allclose
from reference_calcium import calcium_reference

from brainlearn.plasticity import GraupnerBrunelSTDP, strength_ratio
from brainlearn.protocols import Protocol
from brainlearn.protocols.runners import run_calcium_protocol

DT_S = 1e-4


def spike_protocol(seed: int) -> Protocol:
    """Seeded pre and post spikes (~40 Hz for 0.5 s) and a coincident pair at the end."""
    rng = np.random.default_rng(seed)
    pre = np.unique(np.round(rng.uniform(0, 500, 20) / 0.1) * 0.1)
    post = np.unique(np.round(rng.uniform(0, 500, 20) / 0.1) * 0.1)
    return Protocol(np.r_[pre, 520.0] * ms, np.r_[post, 520.0] * ms, name=f"seed{seed}")


@pytest.mark.parametrize("rho0_case", ["fast-rates", "dp-set"])
def test_calcium_rule_matches_reference_at_every_step(rho0_case):
    # rates 100x the paper's (tau 1.5 s) so that rho moves visibly in half a second
    rule = GraupnerBrunelSTDP(sigma=0.0, tau=1.5 * second) if rho0_case == "fast-rates" else \
        GraupnerBrunelSTDP(sigma=0.0)
    protocol = spike_protocol(7 if rho0_case == "fast-rates" else 8)
    frame, tr = run_calcium_protocol(rule, [protocol], repetitions=1, seed=0, target="numpy", record=True)
    pre, post = protocol.spike_times()
    pre_steps, post_steps = np.round(pre / DT_S).astype(int), np.round(post / DT_S).astype(int)
    n_steps = tr["c"].shape[1]
    for lane, rho0 in ((0, 0.0), (1, 1.0)):
        ref = calcium_reference(rule, pre_steps, post_steps, rho0, DT_S, n_steps)
        assert_allclose(tr["c"][lane], ref["c"], rtol=1e-9, atol=1e-12)
        assert_allclose(tr["rho"][lane], ref["rho"], rtol=1e-9, atol=1e-12)
    assert np.max(tr["c"]) > rule.theta_p  # both thresholds were crossed
    if rho0_case == "fast-rates":
        assert np.ptp(tr["rho"][0]) > 0.05 and np.ptp(tr["rho"][1]) > 0.05


def test_noise_is_seeded_and_has_the_euler_maruyama_variance():
    """Calcium held above both thresholds by a 1 kHz post train and no calcium-driven drift
    (gammas 0): from rho = 0, rho spreads as sigma * sqrt(2 T / tau) (two noise gates open for
    a time T); the cubic drift moves it by ~1 % here (T / tau = 0.02). Same seed, same run."""
    rule = GraupnerBrunelSTDP(gamma_d=0.0, gamma_p=0.0, tau=10 * second, sigma=1.0, D=0 * ms)
    protocol = Protocol([] * ms, np.arange(0, 200) * ms, name="hold")
    a, tr_a = run_calcium_protocol(rule, [protocol], repetitions=200, seed=3, target="numpy", record=True,
                                     tail=0 * ms)
    b, tr_b = run_calcium_protocol(rule, [protocol], repetitions=200, seed=3, target="numpy", record=True,
                                     tail=0 * ms)
    _, tr_c = run_calcium_protocol(rule, [protocol], repetitions=200, seed=4, target="numpy", record=True,
                                     tail=0 * ms)
    assert np.array_equal(tr_a["rho"], tr_b["rho"]) and a.equals(b)
    assert not np.array_equal(tr_a["rho"], tr_c["rho"])
    rho = tr_a["rho"][:200, -1]  # the lanes started DOWN
    open_steps = tr_a["rho"].shape[1] - 1  # the first step reads c = 0, every later one c > theta_p
    expected_sd = rule.sigma * np.sqrt(2 * open_steps * DT_S / float(rule.tau / second))
    assert np.std(rho) == pytest.approx(expected_sd, rel=0.15)
    assert abs(np.mean(rho)) < 4 * expected_sd / np.sqrt(200)


def test_strength_ratio_formula():
    """Eq. 4: no transitions keep the strength; all DOWN->UP with beta = 1 multiplies by b."""
    assert strength_ratio(0.0, 0.0, 0.5, 5.0) == pytest.approx(1.0)
    assert strength_ratio(1.0, 0.0, 1.0, 5.0) == pytest.approx(5.0)
    assert strength_ratio(0.0, 1.0, 0.0, 5.0) == pytest.approx(0.2)


def test_rule_checks():
    with pytest.raises(ValueError, match="tau_Ca"):
        GraupnerBrunelSTDP(tau_Ca=20)
    with pytest.raises(ValueError, match="rho_star"):
        GraupnerBrunelSTDP(rho_star=1.5)
    assert GraupnerBrunelSTDP.preset("DP") == GraupnerBrunelSTDP()


@pytest.mark.slow
def test_dp_stdp_curve_facts():
    """Graupner & Brunel Fig. 2 (DP set, 60 pairs at 1 Hz): depression for post-pre pairs
    (dt = -20 ms), potentiation for pre-post pairs (dt = +20 ms), 200 synapses per start state."""
    rule = GraupnerBrunelSTDP()
    protocols = [Protocol.pairing(d * ms, 60, 1 * Hz, name=f"{d}") for d in (-20, 20)]
    frame = run_calcium_protocol(rule, protocols, repetitions=200, seed=1)
    dw = dict(zip(frame["name"], frame["dw"], strict=True))
    assert dw["-20"] < -0.1
    assert dw["20"] > 0.05


@pytest.mark.slow
def test_fit_recovers_the_potentiation_rate_of_a_synthetic_target():
    """Deterministic rule (sigma = 0, one synapse per start state, tau = 25 s so that 10 pairs
    at 1 Hz do what 60 do at 150 s): the target is the strength change of gamma_p = 321.808
    on four pairings; a fit started at gamma_p = 150 (bounds 0..750) finds E = 0 with gamma_p
    within 10 % of the target's. Each pairing switches its synapses UP or DOWN at its own
    gamma_p (dt = 0: DOWN->UP from ~330, UP stays UP from ~310), so E = 0 only on a narrow
    interval around the true value. Slow: 33 s on the loaded 2-core machine."""
    from brainlearn.protocols import fit_rule, run_protocol

    base = GraupnerBrunelSTDP(sigma=0.0, tau=25 * second, repetitions=1)
    protocols = [Protocol.pairing(d * ms, 10, 1 * Hz, name=f"{d}") for d in (-10, 0, 10, 20)]
    truth = run_protocol(base.replace(gamma_p=321.808), protocols)
    target = pd.DataFrame({"dw_mean": truth["dw"], "dw_sem": 0.1})
    assert truth["dw"].nunique() > 1  # the four pairings do not all end alike
    fit = fit_rule(base.replace(gamma_p=150.0), target, ["gamma_p"], protocols=protocols, popsize=40,
                   maxiter=4, seed=1)
    assert fit.E_before > 10 and fit.E == 0
    assert fit.params["gamma_p"] == pytest.approx(321.808, rel=0.1)
    assert fit.rule.gamma_p == fit.params["gamma_p"]
