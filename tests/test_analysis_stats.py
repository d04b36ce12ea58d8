"""Statistics agree with Elephant (an independent implementation) run on the Neo export."""

from __future__ import annotations

import numpy as np
import pytest

es = pytest.importorskip("elephant.statistics", reason="the neo extra (elephant) is not installed")
pq = pytest.importorskip("quantities", reason="the neo extra (quantities) is not installed")

from analysis_helpers import EXAMPLE, N_EXAMPLES, labelled_table  # noqa: E402
from brian2 import ms, second  # noqa: E402

from brainlearn.analysis import spike_table, to_neo  # noqa: E402
from brainlearn.analysis.stats import class_rates, cv, fano_factor, firing_rates, isi, psth  # noqa: E402


@pytest.fixture(scope="module")
def run():
    """One segment (no examples) so Elephant sees each neuron's whole train."""
    rng = np.random.default_rng(11)
    n = 4000
    return spike_table(rng.integers(0, 30, n), rng.random(n) * 8 * second, "exc",
                       n_neurons=32, duration=8 * second)


def test_rates_match_elephant_mean_firing_rate(run):
    trains = to_neo(run).segments[0].spiketrains
    ours = firing_rates(run)
    theirs = [float(es.mean_firing_rate(st).rescale("Hz")) for st in trains]
    np.testing.assert_allclose(ours["rate"], theirs, rtol=1e-12)
    assert ours["rate"].iloc[-1] == 0  # neurons 30, 31 are silent and still listed


def test_isi_and_cv_match_elephant(run):
    trains = to_neo(run).segments[0].spiketrains
    intervals = isi(run)
    for st in trains[:5]:
        mine = intervals[intervals["neuron"] == st.annotations["neuron"]]["isi"].to_numpy()
        np.testing.assert_array_equal(mine, np.asarray(es.isi(st).magnitude))
    theirs = [es.cv(es.isi(st).magnitude) if len(st) > 2 else np.nan for st in trains]
    np.testing.assert_allclose(cv(run)["cv"], theirs, rtol=1e-12)
    assert 0.8 < np.nanmean(theirs) < 1.2  # Poisson-like trains have CV near 1


def test_fano_factor_matches_elephant_across_examples():
    df = labelled_table(3000)
    block = to_neo(df)
    ours = fano_factor(df).set_index(["population", "neuron"])["fano"]
    (segment,) = block.segments
    n_examples = len(segment.epochs[0])
    for j in (0, 5, 19):
        train = segment.spiketrains[j]
        example = np.atleast_1d(train.annotations["example"])
        trials = [train.magnitude[example == k] * pq.s for k in range(n_examples)]
        assert ours[("exc", j)] == pytest.approx(es.fanofactor(trials), rel=1e-12)
    assert np.isnan(ours[("exc", 3)])  # silent


def test_psth_matches_elephant_time_histogram(run):
    trains = to_neo(run).segments[0].spiketrains
    ours = psth(run, 200 * ms)
    hist = es.time_histogram(trains, bin_size=200 * pq.ms, output="rate")
    np.testing.assert_allclose(ours["rate"], np.asarray(hist.rescale("Hz")).ravel(), rtol=1e-12)


def test_psth_over_examples_pools_every_presentation():
    df = labelled_table(3000)
    table = psth(df, 35 * ms)
    exc = table[table["population"] == "exc"]
    assert exc["count"].sum() == (df["population"] == "exc").sum()
    assert exc["t"].iloc[-1] == pytest.approx(float(EXAMPLE) - 0.035)
    mean_rate = exc["rate"].mean()
    assert mean_rate == pytest.approx(3000 / (20 * N_EXAMPLES * float(EXAMPLE)))


def test_class_rates_divide_by_examples_of_each_class():
    df = labelled_table(3000)
    rates = class_rates(df)
    per_class = df.drop_duplicates("example")["label"].value_counts()
    label = int(per_class.index[0])
    sel = (df["neuron"] == 7) & (df["label"] == label)
    expected = sel.sum() / (per_class[label] * float(EXAMPLE))
    got = rates[(rates["neuron"] == 7) & (rates["label"] == label) & (rates["population"] == "exc")]
    assert got["rate"].item() == pytest.approx(expected)
