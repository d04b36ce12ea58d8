"""The cells' integration: forward Euler (the original's) is unstable under strong inhibition.

With tau_m 100 ms and dt 0.5 ms the Euler step of the excitatory membrane is unstable once
(1 + ge + gi) dt / tau_m > 2. In a network of 1600 cells, a burst of more than 23 inhibitory
spikes in one step (each adds 17 to gi) gets there; the membrane then oscillates past
threshold, every cell fires at its refractory limit and keeps the inhibition up. Exponential
Euler and implicit Euler (brainlearn.integration) integrate the same equation stably: with gi
that large the membrane relaxes to
v_inf = (v_rest + gi * E_inh) / (1 + gi), just above -100 mV, and never fires.
"""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Network, SpikeMonitor, StateMonitor, ms, mV

from brainlearn.devices import use_device
from brainlearn.models.diehl_cook.model import DiehlCookParams

GI = 3400.0  # (1 + gi) * dt / tau_m = 17: far past Euler's limit of 2


def _run(integration: str):
    params = DiehlCookParams(integration=integration)
    with use_device("runtime"):
        exc = params.exc_cell().group(1, dt=params.dt, method=params.integration)
        exc.v = -65 * mV
        exc.gi = GI
        exc.theta = 20 * mV
        spikes = SpikeMonitor(exc)
        v = StateMonitor(exc, "v", record=0, dt=params.dt)
        Network(exc, spikes, v).run(1 * ms)  # two steps: gi decays by a factor 0.78 only
        return spikes.num_spikes, np.asarray(v.v_[0])


def test_forward_euler_fires_spuriously_under_strong_inhibition():
    n_spikes, v = _run("euler")
    assert n_spikes > 0 or np.abs(v).max() > 1.0  # a spike, or a membrane off by volts


@pytest.mark.parametrize("integration", ["exponential_euler", "implicit_euler"])
def test_stable_integration_relaxes_towards_the_inhibitory_reversal(integration):
    n_spikes, v = _run(integration)
    assert n_spikes == 0
    p = DiehlCookParams().exc
    v_inf = float((p.v_rest + GI * p.E_inh) / (1 + GI) / mV) * 1e-3
    assert np.all(v <= -0.065 + 1e-12) and v[-1] == pytest.approx(v_inf, abs=2e-3)


def test_integration_is_checked():
    with pytest.raises(ValueError, match="integration must be one of"):
        DiehlCookParams(integration="rk4")


def test_new_runs_default_to_implicit_euler_and_old_configs_read_as_euler():
    from brainlearn.models.diehl_cook import TrainConfig

    assert TrainConfig.create().integration == "implicit_euler"
    assert DiehlCookParams().integration == "implicit_euler"
    # a config.json written before the integration was recorded: the run used forward Euler
    old = {"neurons": 100, "examples": 1000, "seed": 0, "data": "full", "chunk": 1000}
    assert TrainConfig.from_json(old).integration == "euler"
    assert TrainConfig.from_json({**old, "integration": "exponential_euler"}).integration == \
        "exponential_euler"
