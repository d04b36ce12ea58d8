"""Behaviour of the neuron models in Brian2 (runtime mode, numpy target, short runs)."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import (
    Network,
    SpikeGeneratorGroup,
    SpikeMonitor,
    Synapses,
    defaultclock,
    ms,
    mV,
    prefs,
    second,
    start_scope,
)
from numpy.testing import assert_allclose

from brainlearn.neurons import ConductanceLIF, CurrentLIF, IFNeuron


@pytest.fixture(autouse=True)
def numpy_runtime():
    old = prefs.codegen.target
    prefs.codegen.target = "numpy"
    start_scope()
    defaultclock.dt = 0.1 * ms
    yield
    prefs.codegen.target = old


def run_current_lif(kick: float, duration=200 * ms) -> int:
    """CurrentLIF driven by a 1 kHz regular input adding ``kick`` mV to ``I`` per spike."""
    model = CurrentLIF()
    group = model.group(1)
    n_in = int(duration / ms)
    source = SpikeGeneratorGroup(1, np.zeros(n_in, int), np.arange(n_in) * ms)
    syn = Synapses(source, group, on_pre=f"I_post += {kick}*mV")
    syn.connect()
    mon = SpikeMonitor(group)
    Network(group, source, syn, mon).run(duration)
    return int(mon.num_spikes)


def test_current_lif_fires_under_strong_drive_only():
    # mean I = kick * tau_syn / 1 ms: 30 mV drives v to -35 mV (> -50 mV), 2.5 mV to -62.5 mV
    assert run_current_lif(6.0) >= 5
    assert run_current_lif(0.5) == 0
    assert run_current_lif(0.0) == 0


def held_conductance_lif(model: ConductanceLIF, ge: float, duration=300 * ms, n: int = 1):
    """Run ``n`` neurons with the excitatory conductance held at ``ge`` (0: at rest)."""
    group = model.group(n)
    group.run_regularly(f"ge = {ge}", when="before_groups")
    mon = SpikeMonitor(group)
    net = Network(group, mon)
    return group, mon, net, duration


def test_conductance_lif_fires_under_strong_drive_only():
    # ge = 2 pulls v towards (v_rest + 2 E_exc) / 3 = -21.7 mV, far above -52 mV
    for ge, fires in [(2.0, True), (0.0, False), (0.1, False)]:
        start_scope()
        group, mon, net, duration = held_conductance_lif(ConductanceLIF(), ge)
        net.run(duration)
        assert bool(mon.num_spikes > 3) is fires, f"ge={ge}: {mon.num_spikes} spikes"


def test_adaptive_theta_rises_by_theta_plus_per_spike():
    model = ConductanceLIF(theta_plus=0.05 * mV)
    group, mon, net, duration = held_conductance_lif(model, 2.0)
    assert_allclose(group.theta[0] / mV, 20.0)
    net.run(duration)
    n = int(mon.num_spikes)
    assert n > 5
    # expected theta: initial value and every increment decayed exactly (tau_theta = 1e7 ms)
    tau = float(model.tau_theta / second)
    t_end = float(duration / second)
    spikes = np.asarray(mon.t / second)
    expected = 20e-3 * np.exp(-t_end / tau) + 0.05e-3 * np.sum(np.exp(-(t_end - spikes) / tau))
    assert_allclose(float(group.theta[0] / mV) * 1e-3, expected, rtol=1e-6)
    assert_allclose(float(group.theta[0] - 20 * mV) / 1e-3, n * 0.05, rtol=1e-3)


def test_frozen_theta_does_not_change():
    model = ConductanceLIF(theta_plus=0.05 * mV)
    group, mon, net, duration = held_conductance_lif(model, 2.0)
    group.theta = 21 * mV
    group.theta_on = 0  # testing mode of Diehl & Cook: neither increment nor decay
    net.run(duration)
    assert mon.num_spikes > 5
    assert float(group.theta[0] / mV) == 21.0


def test_adaptive_threshold_slows_firing():
    plain = ConductanceLIF()
    adaptive = ConductanceLIF(theta_plus=2 * mV)
    counts = []
    for model in (plain, adaptive):
        start_scope()
        group, mon, net, duration = held_conductance_lif(model, 2.0)
        net.run(duration)
        counts.append(int(mon.num_spikes))
    assert counts[1] < counts[0]


@pytest.mark.parametrize("refractory", [5 * ms, 0 * ms])
def test_timer_block_limits_the_rate(refractory):
    block = 50 * ms
    counts = []
    for timer_block in (None, block):
        start_scope()
        model = ConductanceLIF(refractory=refractory, timer_block=timer_block)
        group, mon, net, duration = held_conductance_lif(model, 2.0, duration=500 * ms)
        net.run(duration)
        counts.append(int(mon.num_spikes))
        isi = np.diff(np.asarray(mon.t / ms))
    free, blocked = counts
    assert free > 500 / 50 + 1  # unblocked the neuron is faster than the block allows
    assert 1 <= blocked <= 500 / 50 + 1
    assert np.all(np.round(isi, 6) >= float(block / ms))


def if_counts(reset_mode: str, biases, v_thresh: float, n_steps: int, dt=1 * ms):
    model = IFNeuron(v_thresh=v_thresh, step=1 * ms, reset_mode=reset_mode)
    group = model.group(len(biases), dt=dt)
    group.bias = biases
    mon = SpikeMonitor(group)
    Network(group, mon).run(n_steps * model.step)
    return np.asarray(mon.count[:])


@pytest.mark.parametrize("v_thresh", [1.0, 2.5])
def test_if_subtract_reset_rate_is_bias_over_threshold(v_thresh):
    """With reset by subtraction the count over T steps is b T / v_thresh within one spike
    (Rueckauer et al. 2017): nothing of the input is lost at a spike."""
    n_steps = 200
    biases = np.array([0.013, 0.05, 0.21, 0.37, 0.5, 0.77, 0.93]) * v_thresh
    counts = if_counts("subtract", biases, v_thresh, n_steps)
    assert np.all(np.abs(counts - biases * n_steps / v_thresh) <= 1.0), counts


def test_if_subtract_rate_does_not_depend_on_dt():
    n_steps = 100
    biases = np.array([0.11, 0.5, 0.83])
    coarse = if_counts("subtract", biases, 1.0, n_steps, dt=1 * ms)
    fine = if_counts("subtract", biases, 1.0, n_steps, dt=0.25 * ms)
    assert np.all(np.abs(coarse - fine) <= 1)
    assert np.all(np.abs(fine - biases * n_steps) <= 1.0)


def test_if_zero_reset_loses_the_remainder():
    """Reset to zero drops the charge above threshold: never faster than subtraction, and
    slower whenever the residue is large (b = 0.7: one spike per 2 steps, not 0.7 per step)."""
    n_steps = 200
    biases = np.array([0.1, 0.25, 0.5, 0.7, 0.95])
    zero = if_counts("zero", biases, 1.0, n_steps)
    subtract = if_counts("subtract", biases, 1.0, n_steps)
    assert np.all(zero <= subtract)
    # b = 0.7 reaches threshold every 2 steps, b = 0.95 too: n_steps / 2 spikes (within one)
    assert np.all(np.abs(zero[3:] - n_steps / 2) <= 1), zero
    assert subtract[4] - zero[4] > 0.4 * n_steps
