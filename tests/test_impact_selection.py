"""The pushed-out criterion accounts for the most favoured group being picked from the data.

Seeded simulations through the public entry point.  Under the global null (every
group has the same rate) any listed group is a false finding, so the chance that
an audit lists *any* group must be at most alpha (plus Monte Carlo error); and a
clear exclusion must still be found.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from audit.groups import build_groupings
from audit.impact import disparate_impact
from audit.rules import Tier

TIER = [Tier("t", threshold=1)]


def _setup(sizes):
    names = [f"g{i:02d}" for i in range(len(sizes))]
    people = pd.DataFrame({"g": np.repeat(names, sizes)})
    return build_groupings(people, ["g"]), np.zeros(int(np.sum(sizes)))


@pytest.mark.parametrize("G", [2, 8, 20])
def test_global_null_lists_nobody_at_most_alpha(G):
    # 400 audits of G equal groups (100 people, rate 0.3 each).  Before the selection-aware
    # criterion some group was listed in 5%, 8% and 16% of them (G = 2, 8, 20).
    reps, n, p = 400, 100, 0.3
    groupings, scores = _setup([n] * G)
    rng = np.random.default_rng(20240 + G)
    listed = naive = 0
    for _ in range(reps):
        att = rng.random(n * G) < p
        res = disparate_impact(scores, groupings, TIER, attainment=att, curve=False, disclosure_threshold=0)
        listed += bool(res.pushed_out())
        r = res.rates
        # The old criterion: below four-fifths, q < alpha, large enough, not the most favoured group.
        naive += bool((r["four_fifths"].fillna(False) & (r["q_value"] < 0.05) & ~r["small_group"]
                       & (r["code"] != r["most_favoured_code"])).any())
    # Monte Carlo standard error at 0.05 with 400 replicates: 0.011.
    assert listed / reps <= 0.08, (G, listed / reps)
    if G == 20:
        assert naive / reps > 0.08  # the test would have caught the old criterion


@pytest.mark.parametrize("G", [2, 8, 20])
def test_clear_exclusion_is_still_found(G):
    # One group at ratio 0.6 (rate 0.3 against 0.5), 500 people per group.
    n = 500
    groupings, scores = _setup([n] * G)
    rng = np.random.default_rng(7 + G)
    found = 0
    for _ in range(25):
        rates = np.r_[0.3, np.full(G - 1, 0.5)]
        att = rng.random(n * G) < np.repeat(rates, n)
        res = disparate_impact(scores, groupings, TIER, attainment=att, curve=False)
        found += {"g": "g00"} in [e["group"] for e in res.pushed_out()]
    assert found == 25


def test_selection_adjusted_p_is_bonferroni_over_eligible_comparators():
    # Recomputed by hand: K = eligible groups other than the group (here 3 of the 4 are eligible,
    # the 20-person group is not, so K = 2 for the eligible ones).
    groupings, scores = _setup([200, 200, 200, 20])
    rng = np.random.default_rng(1)
    att = rng.random(620) < np.repeat([0.2, 0.35, 0.4, 0.1], [200, 200, 200, 20])
    res = disparate_impact(scores, groupings, TIER, attainment=att, curve=False, disclosure_threshold=0)
    r = res.rates.set_index("group")
    mf = r["most_favoured"].iloc[0]
    for g in r.index:
        if g == mf or r.loc[g, "small_group"]:
            assert np.isnan(r.loc[g, "selection_p_value"])
            continue
        assert r.loc[g, "selection_p_value"] == min(1.0, 2 * r.loc[g, "p_value"])


@pytest.mark.parametrize("alpha", [0.2, 0.01])
def test_alpha_sets_every_interval(alpha):
    # Independent: statsmodels' Wilson interval and its score interval for a ratio, at the same alpha.
    rng = np.random.default_rng(4)
    sizes = [300, 120, 80, 45]
    groupings, _ = _setup(sizes)
    n = sum(sizes)
    score = rng.normal(600, 50, n) - np.repeat([0, 20, 40, 60], sizes)
    label = (rng.random(n) < 1 / (1 + np.exp((score - 590) / 30))).astype(float)
    res = disparate_impact(score, groupings, [Tier("t", threshold=600)], labels=label, alpha=alpha,
                           disclosure_threshold=0)
    assert f"({100 * (1 - alpha):g}%)" in res.methods["selection_rate_interval"]
    assert res.to_dict()["settings"]["confidence_level"] == 1 - alpha
    r = res.rates
    by_code = r.set_index("code")
    checked = 0
    for row in r.itertuples():
        x, k = int(row.attained), int(row.n)
        lo, hi = proportion_confint(x, k, alpha=alpha, method="wilson")
        assert abs(row.selection_ci_low - lo) < 1e-12 and abs(row.selection_ci_high - hi) < 1e-12
        m = by_code.loc[row.most_favoured_code]
        x2, n2 = int(m["attained"]), int(m["n"])
        if row.code != row.most_favoured_code and 0 < x < k and 0 < x2 < n2:
            slo, shi = confint_proportions_2indep(x, k, x2, n2, compare="ratio", method="score", alpha=alpha)
            assert abs(row.impact_ratio_ci_low - slo) <= 1e-8 * slo
            assert abs(row.impact_ratio_ci_high - shi) <= 1e-8 * shi
            checked += 1
    assert checked >= 2
    e = res.error_rates.iloc[0]
    lo, hi = proportion_confint(int(e["fp"]), int(e["fp"] + e["tn"]), alpha=alpha, method="wilson")
    assert abs(e["fpr_ci_low"] - lo) < 1e-12 and abs(e["fpr_ci_high"] - hi) < 1e-12
    c = res.calibration.dropna(subset=["events"]).iloc[0]
    lo, hi = proportion_confint(int(c["events"]), int(c["n"]), alpha=alpha, method="wilson")
    assert abs(c["ci_low"] - lo) < 1e-12 and abs(c["ci_high"] - hi) < 1e-12
    for e in res.pushed_out():
        if not e["suppressed"]:
            slo, shi = confint_proportions_2indep(e["favourable_count"], e["n"], e["reference_favourable_count"],
                                                  e["reference_n"], compare="ratio", method="score", alpha=alpha)
            assert e["ci_low"] == pytest.approx(slo, rel=1e-8) and e["ci_high"] == pytest.approx(shi, rel=1e-8)
