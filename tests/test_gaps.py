"""Shortened silences between protocol units (``brainlearn.protocols.runners.gaps``) for the slow rules.

The voltage rule is run with the full silence and with 1 s kept; the calcium rule with the
stretched drift is compared with the plain-Python reference integrating the full silence
step by step (``reference_calcium.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Hz, ms, second
from numpy.testing import assert_allclose
from reference_calcium import calcium_reference

from brainlearn.plasticity import ClopathSTDP, GraupnerBrunelSTDP
from brainlearn.protocols import Protocol
from brainlearn.protocols.runners import run_calcium_protocol, run_voltage_protocol, unit_schedule

DT_S = 1e-4


def test_schedule_shortens_only_long_silences():
    p = Protocol.pairing(10 * ms, repetitions=60, frequency=0.1 * Hz)
    sched = unit_schedule(p, 1 * second)
    assert sched.period == pytest.approx(1.010) and sched.stretch == pytest.approx(9.99)
    assert sched.pre.size == sched.post.size == 60
    assert_allclose(np.diff(sched.pre), 1.010)
    same = unit_schedule(Protocol.pairing(10 * ms, repetitions=60, frequency=1 * Hz), 1 * second)
    assert not same.shortened and same.period == pytest.approx(1.0)
    assert not unit_schedule(p, None).shortened
    assert not unit_schedule(Protocol.pairing(10 * ms, repetitions=1, frequency=0.1 * Hz), 1 * second).shortened
    with pytest.raises(ValueError, match="quiet_gap"):
        unit_schedule(p, 0 * second)


def test_clopath_result_within_1e3_of_the_full_silence():
    """Nevian-style unit (pre 10 ms before 3 post spikes at 50 Hz) twice, 2 s apart: keeping
    1 s of the 1.95 s silence (7 tau_w of the neuron) changes dw by < 1e-3 of itself; keeping
    0.5 s (3.5 tau_w) changes it by more than 1 % (the adaptation current left over)."""
    rule = ClopathSTDP(w_max=None)
    p = Protocol.post_burst(3, 50 * Hz, 10 * ms, repetitions=2, frequency=0.5 * Hz)
    full, one, half = (run_voltage_protocol(rule, [p], w0=1.0, quiet_gap=g).frame["dw"].iloc[0]
                       for g in (None, 1 * second, 0.5 * second))
    assert abs(full) > 1e-3  # the protocol does change the weight
    assert one == pytest.approx(full, rel=1e-3)
    assert abs(half / full - 1) > 1e-2


def test_calcium_stretched_silence_matches_the_full_reference():
    """Deterministic rule with tau = 1.5 s and rates 1/100 of the DP set's, so that each unit
    moves rho a little and the cubic drift pulls it back visibly in each 2 s silence: the run
    with the silence cut to 100 ms of drift at 17.8 x dt agrees with the reference stepping
    through the full silence (rtol 2e-4: the Euler error of the longer drift step); cutting the silence without the stretch does not."""
    rule = GraupnerBrunelSTDP(sigma=0.0, tau=1.5 * second, gamma_d=2.0, gamma_p=3.21808)
    p = Protocol.pairing(10 * ms, repetitions=3, frequency=0.5 * Hz)
    frame, tr = run_calcium_protocol(rule, [p], repetitions=1, quiet_gap=100 * ms, target="numpy", record=True)
    pre, post = p.spike_times()
    pre_steps, post_steps = np.round(pre / DT_S).astype(int), np.round(post / DT_S).astype(int)
    k_d = int(round(float(rule.D / second) / DT_S))
    tail = k_d + int(round(10 * float(rule.tau_Ca / second) / DT_S))
    n_steps = max(pre_steps.max() + k_d, post_steps.max()) + 2 + tail
    for lane, rho0 in ((0, 0.0), (1, 1.0)):
        ref = calcium_reference(rule, pre_steps, post_steps, rho0, DT_S, n_steps)
        assert_allclose(tr["rho"][lane, -1], ref["rho"][-1], rtol=2e-4)
        # the same spikes with the silence simply cut (period 1.01 + 0.2137 s, no stretch)
        short = unit_schedule(p, 100 * ms, settle=rule.D + 10 * rule.tau_Ca)
        cut_pre = np.round(short.pre / DT_S).astype(int)
        cut_post = np.round(short.post / DT_S).astype(int)
        cut = calcium_reference(rule, cut_pre, cut_post, rho0, DT_S,
                                max(cut_pre.max() + k_d, cut_post.max()) + 2 + tail)
        assert abs(cut["rho"][-1] / ref["rho"][-1] - 1) > 1e-2  # 50x the tolerance
    assert tr["rho"].shape[1] < n_steps / 1.5  # it did simulate less
