"""Encoders: Poisson rate coding of images and the seeded numpy spike-train generator."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import Hz, ms, second

from brainlearn.encoding import image_rates, pixel_table, poisson_spike_trains


def test_rate_is_pixel_over_8_times_intensity():
    images = np.array([[0, 8, 255]], dtype=np.uint8)
    rates = image_rates(images, intensity=2)
    np.testing.assert_allclose(np.asarray(rates / Hz), [[0, 2, 63.75]])


def test_pixel_table_is_indexed_by_example():
    images = np.arange(2 * 784).reshape(2, 28, 28) % 256
    table = pixel_table(images)
    assert table.values.shape == (2, 784)
    np.testing.assert_array_equal(table.values[1], images[1].ravel())


def test_spike_trains_are_seeded_and_have_the_requested_rate():
    rates = np.array([10.0, 50.0]) * Hz
    i1, t1 = poisson_spike_trains(rates, 20 * second, dt=1 * ms, seed=3)
    i2, t2 = poisson_spike_trains(rates, 20 * second, dt=1 * ms, seed=3)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(np.asarray(t1), np.asarray(t2))
    counts = np.bincount(i1, minlength=2)
    # Poisson counts: 200 +- 14 and 1000 +- 32 (5 sigma bounds)
    assert abs(counts[0] - 200) < 5 * np.sqrt(200)
    assert abs(counts[1] - 1000) < 5 * np.sqrt(1000)
    i3, _ = poisson_spike_trains(rates, 20 * second, dt=1 * ms, seed=4)
    assert not np.array_equal(i1, i3)


@pytest.mark.parametrize("bad", [np.array([[np.nan, 1.0]]), np.array([[-1.0, 2.0]])])
def test_bad_pixels_are_rejected(bad):
    with pytest.raises(ValueError, match="pixel"):
        image_rates(bad)


def test_unitless_rate_is_rejected():
    with pytest.raises(ValueError, match="rates"):
        poisson_spike_trains(np.array([10.0]), 1 * second)


def test_poisson_input_group_fires_at_its_rate_only_before_t_off():
    """Cells fire as Poisson processes at ``pixel / 8 * intensity`` from the presentation start
    and never at or after ``t_off`` (the last spike may fall in the step just before it)."""
    from brian2 import Network, NeuronGroup, SpikeMonitor, linked_var, seed

    from brainlearn.devices import use_device
    from brainlearn.encoding import START_PRESENTATION, pixel_table, poisson_input_group

    with use_device("runtime"):
        seed(3)
        n, dt, t_input = 2000, 0.5 * ms, 100 * ms
        table = pixel_table(np.full((1, n), 255.0), name="pixels_test")
        ctl = NeuronGroup(1, "example : 1\nintensity : 1\nt_off : second", dt=dt)
        ctl.intensity = 2.0
        ctl.t_off = t_input
        inp = poisson_input_group(n, table, dt=dt, name="input_test")
        zeros = np.zeros(n, dtype=int)
        inp.example = linked_var(ctl, "example", index=zeros)
        inp.intensity = linked_var(ctl, "intensity", index=zeros)
        inp.t_off = linked_var(ctl, "t_off", index=zeros)
        inp.run_regularly(START_PRESENTATION, dt=1 * second, when="before_thresholds")
        mon = SpikeMonitor(inp)
        Network(ctl, inp, mon).run(t_input + 50 * ms)

        steps = np.round(np.asarray(mon.t_) / float(dt)).astype(int)
        last_step = int(round(float(t_input / dt))) - 1
        assert steps.max() == last_step  # the window runs to the step before t_off, no further
        expected = 255 / 8 * 2.0 * float(t_input / second) * n  # 6375 spikes
        assert abs(len(steps) - expected) < 4 * np.sqrt(expected)
        # at most one spike per cell and step
        assert len(set(zip(np.asarray(mon.i_), steps, strict=True))) == len(steps)


def test_poisson_step_intervals_are_whole_steps_as_regular_as_bindsnets_encoder():
    """``intervals="poisson_steps"`` (BindsNET's ``encoding.poisson``): every interval, the
    first one from the presentation start included, is a whole number of steps drawn from a
    Poisson distribution of mean ``1 / (rate dt)``, a zero raised to one. Its mean is then
    ``lam + exp(-lam)`` and its variance about ``lam`` steps (an exponential interval's
    would be ``lam**2``); cells of rate 0 stay silent."""
    from brian2 import Network, NeuronGroup, SpikeMonitor, linked_var, seed

    from brainlearn.devices import use_device
    from brainlearn.encoding import pixel_table, poisson_input_group, start_presentation

    with use_device("runtime"):
        seed(5)
        n, dt, t_input = 2000, 1 * ms, 400 * ms
        pixels = np.full((1, n), 255.0)
        pixels[0, :10] = 0.0  # silent cells
        table = pixel_table(pixels, name="pixels_steps")
        ctl = NeuronGroup(1, "example : 1\nintensity : 1\nt_off : second", dt=dt)
        ctl.intensity = 1.0
        ctl.t_off = t_input
        inp = poisson_input_group(n, table, scale=0.5 * Hz, dt=dt, name="input_steps",
                                  intervals="poisson_steps")
        zeros = np.zeros(n, dtype=int)
        for var in ("example", "intensity", "t_off"):
            setattr(inp, var, linked_var(ctl, var, index=zeros))
        inp.run_regularly(start_presentation("poisson_steps"), dt=1 * second,
                          when="before_thresholds")
        mon = SpikeMonitor(inp)
        Network(ctl, inp, mon).run(t_input)

    lam = 1 / (255 * 0.5 * 1e-3)  # 7.84 steps at 127.5 Hz and 1 ms
    cells, steps = np.asarray(mon.i_), np.round(np.asarray(mon.t_) / 1e-3).astype(int)
    assert cells.min() >= 10  # rate 0: no spike
    order = np.lexsort((steps, cells))
    cells, steps = cells[order], steps[order]
    first = np.r_[True, cells[1:] != cells[:-1]]
    gaps = np.diff(steps)[~first[1:]]
    starts = steps[first]  # the first interval counts from the start, step 0
    expected = lam + np.exp(-lam)
    assert gaps.min() >= 1 and starts.min() >= 1
    assert abs(gaps.mean() - expected) < 0.06  # about 100,000 intervals: sd of mean 0.009
    assert abs(starts.mean() - expected) < 0.3  # 1,990 first intervals: sd 0.06
    assert 0.9 * lam < gaps.var() < 1.1 * lam  # a Poisson process would give lam**2 = 61.5
    with pytest.raises(ValueError, match="intervals must be one of"):
        start_presentation("gamma")
