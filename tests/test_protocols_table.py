"""The bench table (``brainlearn protocol table``): every rule on every column, the Bi & Poo
window, facts and figures per rule, and rules that cannot run a column named as such."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from brian2 import ms

from brainlearn.plasticity import PairSTDP
from brainlearn.plasticity_voltage import ClopathSTDP
from brainlearn.protocols import bi_poo, bi_poo_protocols, score, score_together
from brainlearn.protocols import runs as runs_module
from brainlearn.protocols.runs import rule_table


def test_score_together_equals_one_run_per_dataset():
    """Running a dataset and the Bi & Poo window in one simulation changes nothing: the same
    E and window as separate runs (the pair rule is event-driven, exact on any grid)."""
    rule = PairSTDP(w_max=None)
    protocols = bi_poo_protocols()
    (result,), extra = score_together(rule, [("sjostrom2001", "bursts")], protocols)
    alone = score(rule, "sjostrom2001")
    assert result.E == pytest.approx(alone.E, rel=1e-9)
    np.testing.assert_allclose(result.points["dw_model"], alone.points["dw_model"], rtol=1e-9)
    np.testing.assert_allclose(extra["dw"], bi_poo(rule).frame["dw"], rtol=1e-9)
    assert len(extra) == len(protocols) == 41


def test_table_has_the_window_facts_and_a_figure_per_column(tmp_path):
    out = tmp_path / "table"
    md = rule_table(out, rules="pair", datasets="nevian2006,froemke2006", progress=False)
    table = pd.read_csv(out / "table.csv")
    assert list(table.columns) == ["rule", "nevian2006", "froemke2006", "bi_poo tau+ (ms)", "bi_poo tau- (ms)"]
    # the additive pair rule's window is its own exponential: tau+ 16.8 ms, tau- 33.7 ms
    assert table["bi_poo tau+ (ms)"].iloc[0] == pytest.approx(16.8, rel=1e-6)
    assert table["bi_poo tau- (ms)"].iloc[0] == pytest.approx(33.7, rel=1e-6)
    facts = pd.read_csv(out / "facts.csv")
    assert set(facts["dataset"]) == {"nevian2006", "froemke2006", "bi_poo"}
    holds = dict(zip(facts["fact"], facts["holds"], strict=True))
    assert holds["ltp_post_after_pre"] and holds["ltd_post_before_pre"] and holds["window_decays"]
    assert not holds["postpre_ltp_100hz"]  # a pair rule cannot turn post-pre pairs into LTP
    for stem in ("pair_nevian2006", "pair_froemke2006", "pair_bi_poo"):
        assert (out / "figures" / f"{stem}.png").stat().st_size > 1000
    assert "nevian2006" in md


def test_a_rule_that_cannot_run_is_named_not_skipped(tmp_path, monkeypatch):
    """A Clopath rule whose delay (0.25 ms) is not on the 0.1 ms grid cannot run: every column
    gets E = nan and the reason, in cells.csv and under the Markdown table."""
    monkeypatch.setattr(runs_module, "all_rules",
                        lambda slow=True: {"pair": PairSTDP(w_max=None), "clopath-bad": ClopathSTDP(delay=0.25 * ms)})
    out = tmp_path / "table"
    md = rule_table(out, datasets="nevian2006", progress=False)
    cells = pd.read_csv(out / "cells.csv")
    bad = cells[cells["rule"] == "clopath-bad"]
    assert len(bad) == 1 and np.isnan(bad["E"].iloc[0])
    assert "not run" in bad["note"].iloc[0] and "multiple of dt" in bad["note"].iloc[0]
    assert "- clopath-bad: not run" in md
    assert np.isfinite(cells[cells["rule"] == "pair"]["E"]).all()
    window = pd.read_csv(out / "window.csv")
    assert window.set_index("rule").loc["clopath-bad", "note"].startswith("not run")


@pytest.mark.slow
def test_slow_rules_run_on_froemke_and_nevian(tmp_path):
    """Clopath and Graupner-Brunel on the long protocols (60 units 5-10 s apart), one run each
    with the silences shortened: finite E on every point, facts and figures written."""
    out = tmp_path / "slow"
    rule_table(out, rules="clopath,graupner-brunel", datasets="froemke2006,nevian2006", window=False,
               progress=False)
    cells = pd.read_csv(out / "cells.csv")
    assert len(cells) == 4 and np.isfinite(cells["E"]).all()
    facts = pd.read_csv(out / "facts.csv")
    assert len(facts) == 2 * 6
