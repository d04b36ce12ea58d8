"""Wittenberg & Wang (2006) per-cell data and the user's own per-protocol table (issue 17)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from brian2 import ms
from numpy.testing import assert_allclose

from brainlearn.cli import main
from brainlearn.plasticity import PairSTDP
from brainlearn.protocols import dataset_protocols, load_dataset, score
from brainlearn.protocols.user_table import read_protocol_table, score_table


def test_wittenberg_wang_one_point_per_cell():
    data = load_dataset("wittenberg_wang2006")
    assert len(data) == 25 + 32 + 18  # fig1d, fig3e, fig4d rows of the authors' release
    assert (data["protocol"] == "single_pairing").sum() == 25
    first = data.iloc[0]
    assert first["dt_ms"] == pytest.approx(7.1) and first["dw_mean"] == pytest.approx(0.97 - 1)
    assert first["dw_sem"] == pytest.approx(0.05)


def test_wittenberg_wang_data_show_the_papers_facts():
    """Single pairings depress at both timings; a two-AP burst 10-25 ms after the EPSP potentiates."""
    data = load_dataset("wittenberg_wang2006")
    single = data[data["protocol"] == "single_pairing"]
    assert single[single["dt_ms"] > 0]["dw_mean"].mean() < 0
    assert single[single["dt_ms"] < 0]["dw_mean"].mean() < 0
    burst = data[(data["protocol"] == "burst_pairing") & data["dt_ms"].between(10, 25)]
    assert burst["dw_mean"].mean() > 0.2


def test_wittenberg_wang_protocols_follow_the_documented_timing():
    data = load_dataset("wittenberg_wang2006")
    protocols = dataset_protocols("wittenberg_wang2006")
    for row, p in zip(data.itertuples(), protocols, strict=True):
        pre, post = np.asarray(p.pre / ms), np.asarray(p.post / ms)
        assert p.repetitions == 100 and float(p.period / ms) == pytest.approx(200.0)
        assert pre.size == 1
        if row.protocol == "single_pairing":
            assert post.size == 1 and post[0] - pre[0] == pytest.approx(row.dt_ms)
        else:  # the second AP of the burst is dt after the EPSP, the first 10 ms earlier
            assert post.size == 2 and post[1] - pre[0] == pytest.approx(row.dt_ms)
            assert post[1] - post[0] == pytest.approx(10.0)


TABLE = """protocol_id,frequency_train,dt_train,n_stimuli_train,n_sweep,period_sweep,mean_epsp_ratio,sem_epsp_ratio,sample_size,reference,notes
sj_a,0.1,10,1,50,10,0.9639,0.051,7,Sjostrom et al. 2001,digitized
sj_b,20,-10,5,15,10,0.63879,0.09016,4,Sjostrom et al. 2001,digitized
rm_c,0.2,10,1,100,5,1.54,0.05,5,Rodriguez-Moreno and Paulsen 2008,MK-801 in PRESYNAPTIC pipette to block NMDA receptors.
no_sem,10,10,5,15,10,1.2,0,3,made up,
"""


@pytest.fixture
def table_path(tmp_path):
    path = tmp_path / "paired.csv"
    path.write_text(TABLE)
    return path


def test_user_table_reports_and_skips_rows_it_cannot_model(table_path):
    kept, skipped = read_protocol_table(table_path)
    assert list(kept["protocol_id"]) == ["sj_a", "sj_b"]
    assert list(skipped["protocol_id"]) == ["rm_c", "no_sem"]
    assert "pharmacology" in skipped["reason"].iloc[0] and "sem" in skipped["reason"].iloc[1]
    assert_allclose(kept["dw_mean"], [0.9639 - 1, 0.63879 - 1])


def test_user_table_scores_as_the_bundled_sjostrom_protocols(table_path):
    """The two kept rows are Sjostrom's 0.1 Hz +10 ms and 20 Hz -10 ms protocols: the pair rule
    changes the weight exactly as on the bundled dataset's points."""
    kept, _ = read_protocol_table(table_path)
    rule = PairSTDP(w_max=None)
    mine = score_table(rule, kept)
    bundled = score(rule, "sjostrom2001").points.set_index("label")
    expected = bundled.loc[["dt=+10ms rho=0.1Hz", "dt=-10ms rho=20Hz"], "dw_model"].to_numpy()
    assert_allclose(mine.points["dw_model"], expected, rtol=1e-12)
    z = (kept["dw_mean"] - mine.points["dw_model"]) / kept["dw_sem"]
    assert mine.E == pytest.approx(float(np.mean(z**2)))


def test_table_cli_with_data(table_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["protocol", "table", "--data", str(table_path), "--rules", "pair", "--out", str(out),
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "skipped rm_c" in printed and "pharmacology" in printed
    table = pd.read_csv(out / "table.csv")
    assert list(table["rule"]) == ["pair"] and table["points"].iloc[0] == 2
    assert len(pd.read_csv(out / "skipped.csv")) == 2


def test_user_table_names_missing_columns(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("dt_train,mean_epsp_ratio\n10,1.2\n")
    with pytest.raises(ValueError, match="frequency_train"):
        read_protocol_table(path)


def test_rule_registry_has_the_new_rules():
    from brainlearn.plasticity import ClopathSTDP, GraupnerBrunelSTDP
    from brainlearn.protocols import all_rules, make_rule
    from brainlearn.protocols.rules import amplitude_names

    assert isinstance(make_rule("clopath"), ClopathSTDP) and make_rule("clopath").w_max is None
    assert isinstance(make_rule("graupner-brunel"), GraupnerBrunelSTDP)
    assert {"clopath", "graupner-brunel"} <= set(all_rules())
    assert not {"clopath", "graupner-brunel"} & set(all_rules(slow=False))
    assert amplitude_names(make_rule("clopath")) == ["A_LTD", "A_LTP"]
