"""Experiments against the papers: Sjostrom facts, pair-rule failure, Bi & Poo fit, Song, CLI."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import second

from brainlearn.protocols import (
    bi_poo,
    dataset_protocols,
    fit_error,
    list_datasets,
    load_dataset,
    make_rule,
    run_protocol,
    score,
    sjostrom,
    song,
)


def test_datasets_bundled_with_sources():
    table = list_datasets()
    assert set(table["name"]) == {"sjostrom2001", "sjostrom2001_alt", "froemke2006", "nevian2006",
                                  "wittenberg_wang2006"}
    data = load_dataset("sjostrom2001")
    assert len(data) == 10 and data["source"].str.contains("vhlab").all()
    assert data.loc[(data.dt_ms == -10) & (data.rho_hz == 50), "dw_mean"].item() == pytest.approx(0.75)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("nope")


def test_fit_error_is_mean_squared_z():
    assert fit_error([0.1, 0.3], [0.0, 0.1], [0.1, 0.1]) == pytest.approx((1 + 4) / 2)


def test_triplet_aa_minimal_shows_sjostrom_facts():
    """visual-aa-minimal on the 60-pair protocol it was fitted with (Pfister & Gerstner 2006)."""
    result, facts = sjostrom(make_rule("triplet", "visual-aa-minimal"), structure="pfister")
    assert all(facts.values()), facts
    assert result.E < 1.0


def test_triplet_nn_minimal_shows_sjostrom_facts_with_bursts():
    """The nearest-spike minimal set also holds the facts with the paper's burst structure."""
    _, facts = sjostrom(make_rule("triplet", "visual-nn-minimal"))
    assert all(facts.values()), facts


def test_pair_rule_fails_50hz_minus10_potentiation():
    """A pair rule cannot make the -10 ms pairing potentiate at 50 Hz (Sjostrom's last fact)."""
    result, facts = sjostrom(make_rule("pair"))
    point = result.points.query("dt_ms == -10 and rho_hz == 50")
    assert point["dw_model"].item() < 0 < point["dw_exp"].item()
    assert not facts["both_potentiate_40hz"]


def test_bi_poo_fit_recovers_pair_rule_parameters():
    """60 isolated pairs at 1 Hz: the fitted window is 60 A exp(-|dt|/tau) of the rule."""
    rule = make_rule("pair")
    result = bi_poo(rule)
    assert len(result.frame) >= 41
    p = result.params
    assert p["A_plus"] == pytest.approx(60 * rule.A_plus, rel=1e-3)
    assert p["A_minus"] == pytest.approx(60 * rule.A_minus, rel=1e-3)
    assert p["tau_plus_ms"] == pytest.approx(16.8, rel=1e-3)
    assert p["tau_minus_ms"] == pytest.approx(33.7, rel=1e-3)


def test_song_bimodal_only_when_depression_dominates():
    """Song et al. 2000, shortened (12 s, A+ = 0.05 g_max): a pile at 0 appears only at A-/A+ = 1.05."""
    dominated, balanced = song(ratio=[1.05, 1.0], duration=12 * second, amplitude=0.05, seed=1)
    assert dominated.frac_low >= 0.05 and dominated.frac_high >= 0.05
    assert balanced.frac_low <= 0.01
    assert dominated.output_rate_hz < balanced.output_rate_hz


@pytest.mark.slow
def test_song_full_100s_is_bimodal():
    """The full model: 1000 inputs at 15 Hz, 100 s, A-/A+ = 1.05 bimodal, 1.0 not."""
    dominated, balanced = song(ratio=[1.05, 1.0], duration=100 * second, seed=0, device="cpp_standalone")
    assert dominated.bimodal and not balanced.bimodal


def test_cli_run_writes_results(tmp_path):
    from brainlearn.cli import main

    out = tmp_path / "run"
    assert main(["protocol", "run", "nevian2006", "--rule", "triplet", "--preset", "visual-nn-minimal",
                 "--out", str(out)]) == 0
    assert (out / "results.csv").is_file() and (out / "figure.png").is_file()
    line = (out / "score.txt").read_text()
    assert line.count("\n") == 1 and "E = " in line
    assert main(["protocol", "list"]) == 0


def test_score_matches_run_of_same_rule():
    """score() is run_protocol on the dataset's protocols, then E of the formula."""
    rule = make_rule("triplet", "visual-nn-full")
    result = score(rule, "nevian2006")
    run = run_protocol(rule, dataset_protocols("nevian2006"), w0=1.0)
    np.testing.assert_allclose(result.points["dw_model"], run["dw"], rtol=1e-12)
    z = (result.points["dw_exp"] - run["dw"].to_numpy()) / result.points["sem"]
    assert result.E == pytest.approx(float(np.mean(z**2)))
