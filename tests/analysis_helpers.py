"""Shared helpers for the analysis tests: synthetic spike tables and exact comparison."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from brian2 import ms, second

from brainlearn.analysis import concat_spike_tables, spike_table, write_spikes, write_states

EXAMPLE = 350 * ms
N_EXAMPLES = 12


def assert_identical(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Same columns, dtypes, categories, values bit for bit, and attrs."""
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.attrs == b.attrs
    for col in ("t", "neuron"):  # == treats -0.0 and 0.0 alike; the bits must match too
        assert np.array_equal(a[col].to_numpy().view(np.int64), b[col].to_numpy().view(np.int64))


def labelled_table(n_spikes: int = 2000, seed: int = 0, n_neurons: int = 20) -> pd.DataFrame:
    """Two populations; exc neuron 3 silent; coincident spikes; an empty 'inh' population."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, N_EXAMPLES)
    t = rng.random(n_spikes) * float(EXAMPLE) * N_EXAMPLES
    t[: n_spikes // 10] = t[0]  # a burst of coincident spikes
    neuron = rng.integers(0, n_neurons, n_spikes)
    neuron[neuron == 3] = 4  # neuron 3 never fires
    exc = spike_table(neuron, t * second, "exc", n_neurons=n_neurons, example_duration=EXAMPLE,
                      labels=labels, duration=EXAMPLE * N_EXAMPLES)
    inh = spike_table(np.zeros(0, int), np.zeros(0) * second, "inh", n_neurons=5,
                      example_duration=EXAMPLE, labels=labels, duration=EXAMPLE * N_EXAMPLES)
    return concat_spike_tables([exc, inh])


def make_run_dir(path, spikes: pd.DataFrame, weights: np.ndarray | None = None):
    """A run directory as the Diehl & Cook model writes it."""
    path.mkdir(parents=True, exist_ok=True)
    config = {"neurons": 20, "example_duration_s": float(EXAMPLE), "seed": 0}
    (path / "config.json").write_text(json.dumps(config))
    (path / "metrics.json").write_text(json.dumps({"accuracy": 0.5}))
    write_spikes(spikes, path / "spikes.parquet")
    if weights is not None:
        write_states({"weights": weights, "theta": np.linspace(0, 1e-3, weights.shape[1])}, path / "states.h5")
    return path
