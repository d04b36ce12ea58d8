"""NEST's newer e-prop generation in Brian2 (eprop_iaf, eprop_iaf_adapt, eprop_readout)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("protocol", ["iaf-adam", "iaf-adapt-gd"])
def test_losses_match_the_ones_nests_test_suite_asserts(protocol):
    from brainlearn.models.eprop.gen2023 import NEST_LOSSES_2023, comparison_2023

    table = comparison_2023((protocol,), seed=1, iterations=5)
    np.testing.assert_allclose(table["brian2"], NEST_LOSSES_2023[protocol], rtol=1e-10)


def test_nests_100_step_sequences_have_a_zero_target_and_1000_steps_a_sine_sum():
    from brainlearn.models.eprop.gen2023 import sine_waves_2023

    assert not np.any(sine_waves_2023(2, seed=3).target)
    target = sine_waves_2023(1, seed=3, steps=1000).target[:, 0]
    assert target[0] == 0 and np.abs(target).max() == pytest.approx(1.0)
    assert np.ptp(target) >= 1.0   # a sum of sines with 1, 2, 3 and 5 periods: it varies


@pytest.mark.slow
def test_the_1000_step_task_learns():
    from brainlearn.models.eprop.gen2023 import PROTOCOLS_2023, run_2023, sine_waves_2023

    loss, weights = run_2023(sine_waves_2023(6, seed=1, **PROTOCOLS_2023["iaf-adam-1000"]))
    assert loss[-1] < 0.95 * loss[0]
    assert np.all(np.diff(loss[1:]) < 0)   # falls every iteration once the first has passed


def test_adam_catch_up_steps_are_zero_gradient_adam_steps():
    from brainlearn.models.eprop.gen2023 import _adam_idle

    w, m, v, b1p, b2p = 0.5, 0.2, 0.04, 0.9, 0.999
    eta, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    assert _adam_idle(np.array([w]), m, v, b1p, b2p, np.array([0]), eta, b1, b2, eps)[0] == w
    expected = w
    for _ in range(3):
        b1p, b2p, m, v = b1p * b1, b2p * b2, m * b1, v * b2
        expected -= eta * np.sqrt(1 - b2p) / (1 - b1p) * m / (np.sqrt(v) + eps)
    got = _adam_idle(np.array([0.5]), 0.2, 0.04, 0.9, 0.999, np.array([3]), eta, b1, b2, eps)
    assert got[0] == pytest.approx(expected, rel=1e-15)


def test_parameters_are_checked():
    from brian2 import ms

    from brainlearn.models.eprop.gen2023 import Eprop2023Params, sine_waves_2023

    with pytest.raises(ValueError, match="optimizer"):
        Eprop2023Params(optimizer="sgd")
    with pytest.raises(ValueError, match="sequence"):
        Eprop2023Params(sequence=10.5 * ms)
    with pytest.raises(ValueError, match="model"):
        sine_waves_2023(1, model="eprop_iaf_psc_delta")
