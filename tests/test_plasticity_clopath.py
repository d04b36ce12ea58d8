"""Clopath et al. (2010) voltage-based STDP on its AdEx neuron (issue 17).

The Brian2 run (``run_voltage_protocol``) is compared at every time step with the plain-Python
integration of ``reference_clopath.py``; the voltage clamp with the closed form of the paper's
equations; the pairing protocol with NEST's regression numbers and the paper's facts.
"""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Hz, ms, mV, pA, second
from numpy.testing import assert_allclose
from reference_clopath import clopath_reference

from brainlearn.neurons import ClopathAdEx
from brainlearn.plasticity import ClopathSTDP
from brainlearn.protocols import Protocol
from brainlearn.protocols.runners import normalised_weight, run_voltage_protocol, voltage_clamp

DT = 0.1 * ms
DT_S = 1e-4


def random_protocol(seed: int, duration_ms: float = 300.0) -> Protocol:
    """Seeded pre spikes (~30 Hz), requested post spikes (~20 Hz, >= 3 ms apart), plus a
    coincident pair and a pre spike 0.1 ms after a post spike."""
    rng = np.random.default_rng(seed)
    pre = np.unique(np.round(rng.uniform(0, duration_ms, 9) / 0.1) * 0.1)
    post = np.sort(np.round(rng.uniform(0, duration_ms, 6) / 0.1) * 0.1)
    post = post[np.r_[True, np.diff(post) > 3.0]]
    pre = np.unique(np.r_[pre, duration_ms + 20.0, duration_ms + 40.1])
    post = np.unique(np.r_[post, duration_ms + 20.0, duration_ms + 40.0])
    return Protocol(pre * ms, post * ms, name=f"seed{seed}")


CASES = {
    "visual-no-delay": (ClopathSTDP(delay=0 * ms), ClopathAdEx()),
    "visual-delay-4ms": (ClopathSTDP(), ClopathAdEx()),
    "nest-neuron-delay-5ms": (ClopathSTDP(delay=5 * ms), ClopathAdEx(b=0.0805 * pA, V_T_max=30.4 * mV)),
    # amplitudes large enough to sit on both bounds
    "bounded": (ClopathSTDP(A_LTD=4e-2 / mV, A_LTP=2e-2 / mV**2, w_min=0.2, w_max=0.8), ClopathAdEx()),
}


@pytest.mark.parametrize("name", list(CASES))
def test_clopath_matches_reference_at_every_step(name):
    rule, neuron = CASES[name]
    protocol = random_protocol(sum(map(ord, name)))
    w0 = 0.5
    run = run_voltage_protocol(rule, [protocol], w0=w0, neuron=neuron, dt=DT, record=True)
    tr = run.traces
    start = tr["start_step"]
    pre, post = protocol.spike_times()
    pre_steps = np.round(pre / DT_S).astype(int) + start
    post_steps = np.round(post / DT_S).astype(int) + start
    n_steps = tr["v"].shape[1]
    ref = clopath_reference(rule, neuron, pre_steps, post_steps - 1, w0, DT_S, n_steps,
                            epsp_v=1e-3, kick_v=80e-3)
    for key in ("v", "u_minus", "u_plus", "xbar", "w"):
        assert_allclose(tr[key][0], np.asarray(ref[key]), rtol=1e-9, atol=1e-12, err_msg=key)
    # every requested post spike happened, one step after its kick
    assert run.frame["n_post_fired"].iloc[0] == len(ref["spikes"]) == post_steps.size
    w = np.asarray(ref["w"])
    steps = np.diff(np.r_[w0, w])
    assert steps.max() > 0 and steps.min() < 0, "both LTP and LTD must have acted"
    if name == "bounded":
        assert np.any(w == rule.w_max) and np.any(w == rule.w_min)


def test_voltage_clamp_matches_closed_form():
    """Clamped at V, each presynaptic spike changes w by
    -A_LTD [V - theta-]_+ + A_LTP [V - theta+]_+ [V - theta-]_+ (xbar integrates to 1):
    no change below theta-, LTD between the thresholds, LTP well above theta+ (Artola 1990)."""
    rule = ClopathSTDP(w_max=None)
    volts = np.array([-80.0, -70.6, -60.0, -50.0, -45.3, -40.0, -30.0, -20.0])
    n_pre, w0 = 20, 0.5
    frame = voltage_clamp(rule, volts * mV, n_pre=n_pre, rate=10 * Hz, w0=w0)
    a_ltd, a_ltp = 14e-5, 8e-5
    per_spike = (-a_ltd * np.maximum(volts + 70.6, 0)
                 + a_ltp * np.maximum(volts + 45.3, 0) * np.maximum(volts + 70.6, 0))
    dw = frame["w_after"].to_numpy() - w0
    # the Euler-free LTP sum over steps of length dt differs from the integral by ~dt/(2 tau_x)
    assert_allclose(dw, n_pre * per_spike, rtol=5e-3, atol=1e-12)
    assert dw[0] == 0 and dw[1] == 0
    assert dw[2] < 0 and dw[3] < 0
    assert dw[-1] > 0


#: NEST 3 testsuite/pytests/synapses/test_clopath_synapse.py (aeif_psc_delta_clopath, dt 0.1 ms,
#: delay_u_bars 4 ms, b = 0.0805 pA, V_th_max = +30.4 mV, V_reset = -49.6 mV): normalised weights
NEST_PRE = [[29.0, 129.0, 229.0, 329.0, 429.0], [29.0, 62.3, 95.7, 129.0, 162.3],
            [29.0, 49.0, 69.0, 89.0, 109.0], [129.0, 229.0, 329.0, 429.0, 529.0, 629.0],
            [62.3, 95.6, 129.0, 162.3, 195.6, 229.0], [49.0, 69.0, 89.0, 109.0, 129.0, 149.0]]
NEST_POST = [[19.0, 119.0, 219.0, 319.0, 419.0], [19.0, 52.3, 85.7, 119.0, 152.3],
             [19.0, 39.0, 59.0, 79.0, 99.0], [139.0, 239.0, 339.0, 439.0, 539.0, 639.0],
             [72.3, 105.6, 139.0, 172.3, 205.6, 239.0], [59.0, 79.0, 99.0, 119.0, 139.0, 159.0]]
NEST_WEIGHTS = [57.82638722, 72.16730112, 149.43359357, 103.30408341, 124.03640668, 157.02882555]


def test_pairing_agrees_with_nest_at_its_six_points():
    """NEST's regression run (GSL RK45 integration) against ours (Euler at 0.1 ms): the weight
    after the last presynaptic spike, on the paper's scale. With NEST's conventions (spike
    times as NEST's parrot and neuron stamp them, 0.1 ms after the generators; the synapse's
    0.1 ms delay dendritic: plasticity 0.1 ms before the parrot's spike, EPSP 0.1 ms after;
    ``timing="nest"``, which also integrates the filters and reads the weight as NEST does)
    within 0.1 points (measured: 0.040). brainlearn's default convention (plasticity at the
    EPSP, a kick one step before the spike) within 2 points (1.97)."""
    neuron = ClopathAdEx(b=0.0805 * pA, V_T_max=30.4 * mV, V_reset=-49.6 * mV)
    rule = ClopathSTDP(delay=4 * ms, w_max=100.0)

    def protocols(shift):
        return [Protocol(np.array(a) * ms + shift, np.array(b) * ms + shift, name=str(k))
                for k, (a, b) in enumerate(zip(NEST_PRE, NEST_POST, strict=True))]

    run = run_voltage_protocol(rule, protocols(0.1 * ms), w0=0.5, neuron=neuron, settle=0.2 * ms,
                               dendritic_delay=0.1 * ms, timing="nest")
    assert_allclose(normalised_weight(run.frame["w_last_pre"], 0.5), NEST_WEIGHTS, atol=0.1)
    assert (run.frame["n_post_fired"] == run.frame["n_post"]).all()
    run = run_voltage_protocol(rule, protocols(0.2 * ms), w0=0.5, neuron=neuron, settle=0.1 * ms)
    assert_allclose(normalised_weight(run.frame["w_last_pre"], 0.5), NEST_WEIGHTS, atol=2.0)


def test_nest_timing_filters_are_exact_for_a_potential_linear_in_each_step(brian2_scope):
    """``timing="nest"`` advances the filters with :meth:`ClopathSTDP.filter_step_code`: for a
    potential that moves linearly within each step (here a random walk of 20 mV a step, far
    from the filters as in a spike's clamp) it must give scipy's solution of
    ``tau du/dt = v - u`` at every step end."""
    from brian2 import NeuronGroup, StateMonitor, TimedArray, run
    from scipy.integrate import solve_ivp

    rule = ClopathSTDP()
    rng = np.random.default_rng(3)
    v_ends = np.r_[-70.0, -70.0 + np.cumsum(rng.normal(0.0, 20.0, 59))]  # mV at the step ends
    ramp = TimedArray(v_ends[1:] * mV, dt=DT)  # v at the end of step k
    group = NeuronGroup(1, "v : volt" + rule.post_equations(DT, stepped_filters=True), method="euler",
                        namespace={**rule.post_namespace(), "ramp": ramp, "v_ceiling": 1e6 * mV}, dt=DT)
    group.v = v_ends[0] * mV
    rule.start_filters(group)
    group.run_regularly(rule.step_start_code(), when="before_groups")
    group.run_regularly("v = ramp(t)", when="groups")
    group.run_regularly(rule.filter_step_code("v_ceiling"), when="after_groups")
    mon = StateMonitor(group, ["u_minus", "u_plus"], record=0, when="end")
    run(len(v_ends[1:]) * DT)
    t_ends = np.arange(len(v_ends)) * 0.1  # ms; v linear between them
    for name, tau in (("u_minus", 10.0), ("u_plus", 7.0)):
        exact = solve_ivp(lambda t, u, tau=tau: (np.interp(t, t_ends, v_ends) - u) / tau,
                          (0.0, t_ends[-1]), [v_ends[0]], t_eval=t_ends[1:], rtol=1e-12, atol=1e-10,
                          max_step=0.01).y[0]
        assert_allclose(getattr(mon, name)[0] / mV, exact, rtol=0, atol=1e-7)


def test_frequency_facts_of_the_paper():
    """Clopath et al. Fig. 2 (5 pairs, paper's parameters): +10 ms pairs at 0.1 Hz (10 s apart,
    so five times a lone pair) stay within 5 % of no change on the paper's scale, post-pre pairs
    at 10 Hz depress, both orders potentiate at 50 Hz, and pre-post potentiation grows from
    10 to 50 Hz."""
    rule = ClopathSTDP()
    protocols = [Protocol.burst_pairing(d * ms, r * Hz, pairs=5, bursts=1, name=f"{d}@{r}")
                 for d in (10, -10) for r in (10, 50)]
    protocols.append(Protocol.pairing(10 * ms, repetitions=1, name="lone"))
    frame = run_voltage_protocol(rule, protocols, w0=0.5).frame
    norm = dict(zip(frame["name"], normalised_weight(frame["w_after"], 0.5), strict=True))
    assert abs(100 * 15 * 5 * (frame["w_after"].iloc[-1] - 0.5) / 0.5) < 5
    assert norm["-10@10"] < 90
    assert norm["10@50"] > 110 and norm["-10@50"] > 110
    assert norm["10@50"] > norm["10@10"] + 20


def test_rule_checks_units_and_delay():
    with pytest.raises(ValueError, match="A_LTD"):
        ClopathSTDP(A_LTD=14e-5)
    with pytest.raises(ValueError, match="theta_plus"):
        ClopathSTDP(theta_plus=-45.3)
    with pytest.raises(ValueError, match="multiple of dt"):
        ClopathSTDP(delay=0.25 * ms).delay_steps(0.1 * ms)
    assert ClopathSTDP.preset("visual-cortex") == ClopathSTDP()
    assert float(ClopathSTDP().tau_x / second) == pytest.approx(0.015)
    from brainlearn.neurons import ConductanceLIF

    with pytest.raises(ValueError, match="spike clamp.*ConductanceLIF"):
        run_voltage_protocol(ClopathSTDP(), [Protocol.pairing(10 * ms, repetitions=1)], neuron=ConductanceLIF(),
                             dendritic_delay=0.1 * ms, timing="nest")


def test_parameter_sets_side_by_side_equal_separate_runs():
    """``params`` lanes (what fit_rule uses; SI values) give the weights of separate runs with
    each amplitude and threshold."""
    protocol = Protocol.burst_pairing(10 * ms, 50 * Hz, pairs=3, bursts=1, name="p")
    a_ltp = np.array([4e-5, 8e-5, 16e-5])  # per mV**2
    theta_plus = np.array([-45.3, -45.3, -40.0])  # mV
    frame = run_voltage_protocol(ClopathSTDP(), [protocol], w0=0.5,
                                 params={"A_LTP": a_ltp * 1e6, "theta_plus": theta_plus * 1e-3}).frame
    for k in range(3):
        alone = run_voltage_protocol(ClopathSTDP(A_LTP=a_ltp[k] / mV**2, theta_plus=theta_plus[k] * mV),
                                     [protocol], w0=0.5).frame
        assert frame["w_after"].iloc[k] == pytest.approx(alone["w_after"].iloc[0], rel=1e-12)
    assert frame["w_after"].iloc[0] < frame["w_after"].iloc[1]
    assert frame["w_after"].iloc[2] != frame["w_after"].iloc[1]


def test_hippocampal_preset_matches_the_papers_set_and_its_clamp_curve():
    """Clopath et al. (2010) Table 1b, hippocampal column, as two independent transcriptions
    give it (Larisch's ReScience replication of the voltage clamp: A_LTD 38e-5 /mV, A_LTP
    2e-5 /mV^2, theta- -41 mV, theta+ -38 mV; Coleman's bain: the same A_LTD and thresholds,
    tau_x 16 ms). Its clamp curve (Ngezahayo et al. 2000, the data the set was fitted to):
    no change below theta- = -41 mV, LTD from there up to theta+ + A_LTD / A_LTP = -19 mV,
    LTP above. tau_minus/tau_plus are not checked (the sources disagree; the clamp does not
    depend on them)."""
    rule = ClopathSTDP.preset("hippocampal", w_max=None)
    assert float(rule.A_LTD * mV) == pytest.approx(38e-5)
    assert float(rule.A_LTP * mV**2) == pytest.approx(2e-5)
    assert float(rule.theta_minus / mV) == pytest.approx(-41.0)
    assert float(rule.theta_plus / mV) == pytest.approx(-38.0)
    assert float(rule.tau_x / ms) == pytest.approx(16.0)
    volts = np.array([-60.0, -41.0, -35.0, -25.0, -20.0, -18.0, -10.0])
    frame = voltage_clamp(rule, volts * mV, n_pre=10, rate=10 * Hz, w0=0.5)
    dw = frame["w_after"].to_numpy() - 0.5
    # LTP sums xbar over 0.1 ms steps: (dt / tau_x) / (1 - exp(-dt / tau_x)) = 1.0031 per spike
    c = (0.1 / 16.0) / (1 - np.exp(-0.1 / 16.0))
    per_spike = (volts + 41.0) * (c * 2e-5 * np.maximum(volts + 38.0, 0) - 38e-5) * (volts > -41.0)
    # atol: the LTP tail cut after 10 tau_x (exp(-10) of the LTP sum)
    assert_allclose(dw, 10 * per_spike, rtol=1e-6, atol=1e-5)
    assert dw[0] == 0 and dw[1] == 0
    assert (dw[2:5] < 0).all() and (dw[5:] > 0).all()
