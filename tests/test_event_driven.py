"""Exact event-by-event scoring of the event-driven rules (issue 28, item 6): the same weights
as the stepped Brian2 run, silences between sweeps for free, text in a table refused in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from brian2 import Hz, ms, second

from brainlearn.cli import main
from brainlearn.plasticity import ClopathSTDP, DiehlCookSTDP, PairSTDP, TripletSTDP
from brainlearn.protocols import Protocol, make_rule, run_protocol
from brainlearn.protocols.event_driven import is_event_driven, protocol_weights, train_weights
from brainlearn.protocols.user_table import read_protocol_table, score_table, table_protocols

#: a small table with long silences between sweeps, coincident spikes (dt = 0), post-before-pre
#: trains whose pairs overlap the next pair's traces, and one-sweep rows
GAPPY = """protocol_id,frequency_train,dt_train,n_stimuli_train,n_sweep,period_sweep,mean_epsp_ratio,sem_epsp_ratio
a,20,10,5,4,2,1.3,0.1
b,50,-10,5,3,2.5,0.8,0.1
c,10,0,3,3,1,1.1,0.05
d,0.5,25,4,1,1,1.2,0.1
e,40,-5,10,5,1.5,0.7,0.2
f,1,60,3,2,4,1.05,0.1
"""

RULES = {
    "pair": make_rule("pair"),
    "pair-nearest": make_rule("pair-nearest"),
    "pair-multiplicative": make_rule("pair-multiplicative"),
    "triplet:visual-aa-full": make_rule("triplet", "visual-aa-full"),
    "triplet:visual-nn-full": make_rule("triplet", "visual-nn-full"),
    "triplet:visual-nn-minimal": make_rule("triplet", "visual-nn-minimal"),
    "diehl-cook": make_rule("diehl-cook"),
    "diehl-cook all-to-all, bounded": DiehlCookSTDP(scheme="all-to-all", w_max=1.02, nu_post=0.05),
    "pair bounded": PairSTDP(w_max=1.05, A_plus=0.03),
}


@pytest.fixture(scope="module")
def gappy(tmp_path_factory):
    path = tmp_path_factory.mktemp("table") / "gappy.csv"
    path.write_text(GAPPY)
    kept, skipped = read_protocol_table(path)
    assert skipped.empty
    return kept


@pytest.mark.parametrize("label", list(RULES))
def test_event_path_equals_the_stepped_run(gappy, label):
    """Each event-driven rule: the fast path's weights are the stepped Brian2 run's (one run
    of every row on its own synapse, silences stepped) to float precision."""
    rule = RULES[label]
    stepped = run_protocol(rule, table_protocols(gappy), w0=1.0)["dw"].to_numpy()
    fast = score_table(rule, gappy).points["dw_model"].to_numpy()
    assert np.count_nonzero(np.abs(stepped) > 1e-4) >= 4  # the rows change the weight: nothing trivially equal
    np.testing.assert_allclose(fast, stepped, rtol=1e-9, atol=1e-12)


def test_protocol_weights_equal_the_stepped_run_on_mixed_protocols():
    """Triplets, quadruplets and post bursts (units of unequal pre and post counts)."""
    rule = make_rule("triplet", "visual-aa-full")
    protocols = [Protocol.triplet("pre-post-pre", 5 * ms, 5 * ms, 6, 0.5 * Hz),
                 Protocol.triplet("post-pre-post", 10 * ms, 15 * ms, 6, 1 * Hz),
                 Protocol.quadruplet(20 * ms, repetitions=4, frequency=0.5 * Hz),
                 Protocol.post_burst(3, 50 * Hz, 10 * ms, repetitions=5, frequency=0.2 * Hz),
                 Protocol([0 * ms], [], 3, 1 * second)]
    stepped = run_protocol(rule, protocols, w0=0.7)["w_after"].to_numpy()
    np.testing.assert_allclose(protocol_weights(rule, protocols, w0=0.7), stepped, rtol=1e-9, atol=1e-12)


def test_silence_is_free_and_exact():
    """A gap of an hour between sweeps costs no more than one of a second, and the pair
    rule's result is the closed form of independent sweeps (the traces have decayed)."""
    rule = PairSTDP(w_max=None)
    w = train_weights(rule, [10.0, 10.0] * ms, [1.0, 1.0] * Hz, [1, 1], [50, 50], [1.0, 3600.0] * second)
    # one pair per sweep, dt = +10 ms: +A_plus exp(-10/16.8) per pair, the previous pair's
    # traces nearly gone after 1 s (post trace exp(-990/33.7)), exactly gone after an hour
    per_pair = rule.A_plus * np.exp(-10 / 16.8) - 0.0  # no depression in a single pair
    assert w[1] == pytest.approx(1 + 50 * per_pair, rel=1e-12)
    assert w[0] == pytest.approx(w[1], rel=1e-10)


def test_other_rules_are_not_event_driven():
    assert is_event_driven(TripletSTDP()) and is_event_driven(DiehlCookSTDP())
    assert not is_event_driven(ClopathSTDP())
    with pytest.raises(ValueError, match="ClopathSTDP is not event-driven"):
        train_weights(ClopathSTDP(), [1.0] * ms, [1.0] * Hz, [1], [1], [1.0] * second)


def test_text_in_a_numeric_column_names_column_row_and_value(tmp_path, capsys):
    """Issue 28 item 4: text in frequency_train was a TypeError traceback."""
    path = tmp_path / "text.csv"
    path.write_text(GAPPY.replace("c,10,0,3", "c,ten,0,3"))
    with pytest.raises(ValueError, match=r"column 'frequency_train', data row 3 \(protocol_id 'c'\): 'ten' is not a number"):
        read_protocol_table(path)
    out = tmp_path / "out"
    assert main(["protocol", "table", "--data", str(path), "--rules", "pair", "--out", str(out), "--quiet"]) != 0
    err = capsys.readouterr().err.strip()
    assert "'frequency_train'" in err and "'ten'" in err and "row 3" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err and not out.exists()


def test_whole_counts_and_blank_cells(tmp_path):
    """A fractional count is skipped with its reason; an empty cell is a missing number."""
    path = tmp_path / "odd.csv"
    path.write_text(GAPPY.replace("d,0.5,25,4,1", "d,0.5,25,4.5,1").replace("f,1,60,3,2,4,1.05", "f,1,60,3,2,4,"))
    kept, skipped = read_protocol_table(path)
    reasons = dict(zip(skipped["protocol_id"], skipped["reason"], strict=True))
    assert "whole numbers" in reasons["d"] and "missing" in reasons["f"] and len(kept) == 4


def test_an_empty_notes_column(tmp_path):
    """A notes column with no text at all (pandas reads it as numbers) is no pharmacology."""
    path = tmp_path / "empty_notes.csv"
    lines = GAPPY.splitlines()
    path.write_text("\n".join([lines[0] + ",notes"] + [line + "," for line in lines[1:]]) + "\n")
    kept, skipped = read_protocol_table(path)
    assert len(kept) == 6 and skipped.empty


def test_large_table_in_one_call(tmp_path):
    """Twenty thousand random rows in one call, with a progress bar off: finite weights,
    and rows that are copies of each other give identical results wherever they sit."""
    rng = np.random.default_rng(3)
    n = 20_000
    frame = pd.DataFrame({
        "dt": rng.choice([-20.0, -10.0, 0.0, 5.0, 10.0], n), "rate": rng.choice([1.0, 10.0, 20.0, 50.0], n),
        "pairs": rng.integers(1, 8, n), "sweeps": rng.integers(1, 20, n),
    })
    frame["period"] = 5.0
    frame.iloc[-1] = frame.iloc[0]
    w = train_weights(make_rule("triplet", "visual-nn-minimal"), frame["dt"].to_numpy() * ms,
                      frame["rate"].to_numpy() * Hz, frame["pairs"], frame["sweeps"],
                      frame["period"].to_numpy() * second)
    assert np.all(np.isfinite(w)) and w[0] == w[-1]


def test_progress_bar_counts_the_rows(capsys):
    train_weights(make_rule("pair"), [10.0, -10.0, 5.0] * ms, [1.0, 1.0, 20.0] * Hz, [1, 1, 5], [2, 3, 4],
                  [1.0, 1.0, 2.0] * second, progress=True, desc="pair")
    err = capsys.readouterr().err
    assert "pair" in err and "3/3" in err
