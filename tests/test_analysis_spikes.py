"""The spike table: from a Brian2 monitor or plain arrays, with examples and labels."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import NeuronGroup, SpikeMonitor, StateMonitor, ms, prefs, run, second, start_scope

from brainlearn.analysis import (
    SPIKE_COLUMNS,
    concat_spike_tables,
    spike_table,
    spikes_from_monitor,
    state_table,
)


@pytest.fixture(scope="module")
def monitors():
    start_scope()
    prefs.codegen.target = "numpy"
    group = NeuronGroup(6, "dv/dt = (1.2 - v) / (10*ms) : 1", threshold="v > 1", reset="v = 0",
                        method="exact", name="exc")
    group.v = "i / 6.0"
    spikes, states = SpikeMonitor(group), StateMonitor(group, "v", record=[0, 5])
    run(100 * ms)
    return spikes, states


def test_table_from_monitor_keeps_brian2_times_bit_for_bit(monitors):
    mon, _ = monitors
    df = spikes_from_monitor(mon)
    assert list(df.columns) == ["population", "neuron", "t"]
    assert {c: str(df[c].dtype) for c in df.columns} == {c: SPIKE_COLUMNS[c] for c in df.columns}
    assert set(df["population"]) == {"exc"} and df.attrs["n_neurons"] == {"exc": 6}
    assert df.attrs["duration"] == pytest.approx(0.1)
    order = np.lexsort((mon.i[:], mon.t_[:]))
    assert np.array_equal(df["t"].to_numpy(), mon.t_[:][order])  # exact, not approximate
    assert np.array_equal(df["neuron"].to_numpy(), mon.i[:][order])


def test_examples_and_labels_follow_the_presentation_schedule(monitors):
    mon, _ = monitors
    labels = np.array([7, 1, 4, 4, 9])
    df = spikes_from_monitor(mon, population="exc", example_duration=20 * ms, labels=labels,
                             t_offset=10 * ms)
    t = df["t"].to_numpy()
    assert (t >= 0.010).all()  # spikes before the first example are dropped
    expected = np.floor((t - 0.010) / 0.020).astype(int)
    assert np.array_equal(df["example"].to_numpy(), expected)
    assert np.array_equal(df["label"].to_numpy(), labels[expected])


def test_state_table_is_long_format(monitors):
    _, mon = monitors
    df = state_table(mon)
    assert list(df.columns) == ["population", "neuron", "t", "v"]
    assert len(df) == 2 * len(mon.t_[:])
    assert np.array_equal(df[df["neuron"] == 5]["v"].to_numpy(), np.asarray(mon.v_)[1])


def test_arrays_need_time_units_and_enough_labels():
    with pytest.raises(ValueError, match="no unit"):
        spike_table([0, 1], [0.1, 0.2], "exc")
    with pytest.raises(ValueError, match="labels"):
        spike_table([0], [1.0] * second, "exc", example_duration=0.5 * second, labels=[1])
    with pytest.raises(ValueError, match="n_neurons|lie in"):
        spike_table([5], [0.1] * second, "exc", n_neurons=5)


def test_concat_keeps_every_population_in_order():
    a = spike_table([1, 0], [0.2, 0.1] * second, "exc", n_neurons=2)
    b = spike_table([], [] * second, "inh", n_neurons=3)
    df = concat_spike_tables([a, b])
    assert list(df["population"].cat.categories) == ["exc", "inh"]
    assert df.attrs["n_neurons"] == {"exc": 2, "inh": 3}
    assert list(df["t"]) == [0.1, 0.2] and list(df["neuron"]) == [0, 1]
