"""The bench table (``brainlearn protocol table``): every rule on every column, the Bi & Poo
window, facts and figures per rule, and rules that cannot run a column named as such."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from brian2 import ms

from brainlearn.plasticity import ClopathSTDP, PairSTDP
from brainlearn.protocols import bi_poo, bi_poo_protocols, fit_window, score, score_together
from brainlearn.protocols import runs as runs_module
from brainlearn.protocols.runs import rule_table


def test_score_together_returns_the_extra_protocols_as_run_alone():
    """The window run alongside (no dataset here) comes back row for row as bi_poo runs it."""
    rule = PairSTDP(w_max=None)
    protocols = bi_poo_protocols()
    scores, extra = score_together(rule, [], protocols)
    assert scores == [] and len(extra) == len(protocols) == 41
    np.testing.assert_allclose(extra["dw"], bi_poo(rule).frame["dw"], rtol=1e-9)


@pytest.mark.slow
def test_score_together_equals_one_run_per_dataset():
    """Running a dataset and the Bi & Poo window in one simulation changes nothing: the same
    E and window as separate runs (the pair rule is event-driven, exact on any grid).
    Slow: 28 s on the loaded 2-core machine (500 s of Sjostrom protocol at 5 ms, twice)."""
    rule = PairSTDP(w_max=None)
    protocols = bi_poo_protocols()
    (result,), extra = score_together(rule, [("sjostrom2001", "bursts")], protocols)
    alone = score(rule, "sjostrom2001")
    assert result.E == pytest.approx(alone.E, rel=1e-9)
    np.testing.assert_allclose(result.points["dw_model"], alone.points["dw_model"], rtol=1e-9)
    np.testing.assert_allclose(extra["dw"], bi_poo(rule).frame["dw"], rtol=1e-9)


def test_table_has_the_window_facts_and_a_figure_per_column(tmp_path):
    out = tmp_path / "table"
    md = rule_table(out, rules="pair", datasets="nevian2006,froemke2006", progress=False)
    table = pd.read_csv(out / "table.csv")
    assert list(table.columns) == ["rule", "nevian2006", "froemke2006", "bi_poo tau+ (ms)", "bi_poo tau- (ms)"]
    # the additive pair rule's window is its own exponential: tau+ 16.8 ms, tau- 33.7 ms
    assert table["bi_poo tau+ (ms)"].iloc[0] == pytest.approx(16.8, rel=1e-6)
    assert table["bi_poo tau- (ms)"].iloc[0] == pytest.approx(33.7, rel=1e-6)
    window = pd.read_csv(out / "window.csv").iloc[0]
    assert window["peak_ltp_dt_ms"] == 0 and window["peak_ltp"] == pytest.approx(0.6, rel=1e-6)  # 60 x 0.01
    assert window["peak_ltd_dt_ms"] == -5 and len(pd.read_csv(out / "window_points.csv")) == 41
    facts = pd.read_csv(out / "facts.csv")
    assert set(facts["dataset"]) == {"nevian2006", "froemke2006", "bi_poo"}
    holds = dict(zip(facts["fact"], facts["holds"], strict=True))
    assert holds["ltp_post_after_pre"] and holds["ltd_post_before_pre"] and holds["window_decays"]
    assert not holds["postpre_ltp_100hz"]  # a pair rule cannot turn post-pre pairs into LTP
    for stem in ("pair_nevian2006", "pair_froemke2006", "pair_bi_poo"):
        assert (out / "figures" / f"{stem}.png").stat().st_size > 1000
    assert "nevian2006" in md


def test_window_fit_refuses_a_window_that_is_not_exponential():
    """A window peaking at +20 ms (as a voltage rule's can) has no exponential time constant:
    NaN, not a meaningless fit; its peak is reported instead."""
    dt = np.arange(-100, 101, 5.0)
    dw = np.where(dt > 0, 0.3 * np.exp(-((dt - 20) / 10) ** 2), -0.2 * np.exp(dt / 30))
    p = fit_window(dt, dw)
    assert np.isnan(p["tau_plus_ms"]) and p["peak_ltp_dt_ms"] == 20 and p["peak_ltp"] == pytest.approx(0.3)
    assert p["tau_minus_ms"] == pytest.approx(30, rel=1e-6) and p["peak_ltd_dt_ms"] == 0


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
