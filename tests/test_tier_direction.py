"""Tiers point the right way: which side of every tier is good news, and one finding per fact.

Checked against hand counts on the published scales: a band is attained exactly
by the scores the rule file's source gives, the favourable side is what the
published instrument means, a band inside the scale is never audited, and two
tiers that are the same fact (COMPAS "Low" and its complement "Higher risk")
are audited once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import audit
from audit.groups import build_groupings
from audit.impact import disparate_impact
from audit.rates import tier_outcomes
from audit.rules import Tier

# (rule, scale values, {tier: (values attaining it, direction)}) - typed from each rule's source.
EXPECTED = {
    "compas": (range(1, 11), {
        "Low": ([1, 2, 3, 4], True), "Medium": ([5, 6, 7], None), "High": ([8, 9, 10], False),
        "Higher risk": ([5, 6, 7, 8, 9, 10], False)}),
    "psa_fta": (range(1, 7), {
        "FTA 1": ([1], True), "FTA 2": ([2], None), "FTA 3": ([3], None), "FTA 4": ([4], None),
        "FTA 5": ([5], None), "FTA 6": ([6], False)}),
    "psa_nca": (range(1, 7), {
        "NCA 1": ([1], True), "NCA 2": ([2], None), "NCA 3": ([3], None), "NCA 4": ([4], None),
        "NCA 5": ([5], None), "NCA 6": ([6], False)}),
    "psa_nvca": (range(0, 8), {"Violence flag": ([4, 5, 6, 7], False)}),
    "vi_spdat": (range(0, 18), {
        "No housing intervention": ([0, 1, 2, 3], False), "Rapid re-housing assessment": ([4, 5, 6, 7], None),
        "Permanent supportive housing assessment": (list(range(8, 18)), True)}),
    "rongcheng": ([500, 599, 600, 849, 850, 959, 960, 1000, 1029, 1030, 1049, 1050, 1100], {
        "AAA": ([1050, 1100], True), "AA": ([1030, 1049], None), "A": ([960, 1000, 1029], None),
        "B": ([850, 959], None), "C": ([600, 849], None), "D": ([500, 599], False)}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_bands_and_directions_match_a_hand_count(name):
    rule = audit.load_rule(name)
    values, expected = EXPECTED[name]
    scores = np.asarray(list(values), dtype=float)
    att = rule.attainment(scores)
    assert [t.name for t in rule.tiers] == list(expected)
    for j, (tier, d) in enumerate(zip(rule.tiers, rule.tier_directions, strict=True)):
        members, direction = expected[tier.name]
        assert scores[att[:, j]].tolist() == [float(v) for v in members], tier.name
        assert d is direction, tier.name


def _psa_people():
    # Three groups of 100: all in FTA 1; none in FTA 1 (all in FTA 2-3); half and half.
    groups = np.repeat(["all best", "none best", "mixed"], 100)
    scores = np.r_[np.ones(100), np.tile([2.0, 3.0], 50), np.tile([1.0, 4.0], 50)]
    people = pd.DataFrame({"g": groups, "scale": scores})
    return people, scores


def test_a_group_entirely_in_the_best_psa_band_is_not_pushed_out_of_it():
    rule = audit.load_rule("psa_fta")
    people, scores = _psa_people()
    res = disparate_impact(scores, build_groupings(people, ["g"]), rule.tiers, higher_is_better=False,
                           score_range=rule.range, favourable=rule.tier_directions, curve=False)
    fta1 = [(f.group_dict["g"], f.verdict.value) for f in res.findings if f.tier == "FTA 1"]
    assert ("all best", "pushed out") not in fta1
    assert ("none best", "pushed out") in fta1 and ("mixed", "pushed out") in fta1
    # Bands 2-5 are inside the scale: shown as attainment rates, never audited.
    tiers = {t["name"]: t for t in res.to_dict()["tiers"]}
    for name in ("FTA 2", "FTA 3", "FTA 4", "FTA 5"):
        assert tiers[name]["status"] == "distribution" and "inside the scale" in tiers[name]["reason"]
        assert not any(f.tier == name for f in res.findings)
    rates = res.rates.set_index(["group", "tier"])
    assert rates.loc[("g=none best", "FTA 2"), "selection_rate"] == 0.5  # still shown
    # FTA 6 (adverse, nobody is in it): nobody is pushed out of "staying out of FTA 6".
    assert not any(f.tier == "FTA 6" for f in res.findings)


def test_compas_higher_risk_is_the_same_fact_as_low():
    rule = audit.load_rule("compas")
    rng = np.random.default_rng(0)
    deciles = rng.integers(1, 11, 3000).astype(float)
    out = tier_outcomes(rule.tiers, deciles, directions=rule.tier_directions)
    names = [t.name for t in rule.tiers]
    assert [names[j] for j in out.audited] == ["Low", "High"]
    assert out.alias_of[names.index("Higher risk")] == names.index("Low")
    assert out.alias_kind[names.index("Higher risk")] == "same"  # favourable: not in 5-10 = in 1-4
    assert out.status(names.index("Medium")) == "distribution"
    assert out.aliases(names.index("Low")) == ("Higher risk",)


def test_complementary_favourable_sets_are_one_fact():
    tiers = [Tier("approved", threshold=600), Tier("declined", at_most=599.5, favourable="out")]
    out = tier_outcomes(tiers, np.array([500.0, 650, 700, 550]))
    assert out.audited == (0,) and out.alias_of == (None, 0) and out.alias_kind[1] == "same"
    tiers = [Tier("approved", threshold=600), Tier("declined", at_most=599.5, favourable="in")]
    out = tier_outcomes(tiers, np.array([500.0, 650, 700, 550]))
    assert out.alias_kind[1] == "complement"
    # Tiers nobody reaches are not aliases of one another.
    tiers = [Tier("a", threshold=900), Tier("b", threshold=950)]
    assert tier_outcomes(tiers, np.array([500.0, 650])).audited == (0, 1)


def test_explicit_favourable_side_audits_a_middle_band():
    tiers = [Tier("Medium", threshold=5, at_most=7, favourable="out")]
    assert tiers[0].direction(False, (1, 10)) is False
    with pytest.raises(audit.AuditInputError, match="favourable must be 'in' or 'out'"):
        Tier("x", threshold=1, favourable="yes")


def test_rule_file_states_the_favourable_side(tmp_path):
    text = """
name: bands
title: Bands
status: user
sources: [{id: s, citation: c}]
columns: {x: {type: number}}
base: 0
terms: [{label: x, value: x, weight: 1, source: s}]
tiers:
  - {name: middle, threshold: 3, at_most: 6, favourable: in, source: s}
  - {name: middle2, threshold: 3, at_most: 6, source: s}
"""
    path = tmp_path / "bands.yaml"
    path.write_text(text)
    rule = audit.load_rule(path)
    assert rule.tier_directions == (True, None)
    path.write_text(text.replace("favourable: in", "favourable: yes please"))
    with pytest.raises(audit.AuditInputError, match="favourable"):
        audit.load_rule(path)


def test_compas_report_never_lists_a_group_for_low_and_its_complement():
    rule = audit.load_rule("compas")
    rng = np.random.default_rng(1)
    n = 4000
    race = rng.choice(["A", "B"], n)
    deciles = np.clip(rng.integers(1, 11, n) + (race == "B") * 2, 1, 10)
    people = pd.DataFrame({"decile_score": deciles, "race": race})
    doc = audit.run(rule, people, protected=["race"], families=["impact"]).to_dict()
    tiers = {f["tier"] for f in doc["findings"]}
    assert "Higher risk" not in tiers and "Medium" not in tiers
    low = [f for f in doc["findings"] if f["tier"] == "Low"]
    assert low and low[0]["aliases"] == ["Higher risk"]
