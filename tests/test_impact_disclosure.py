"""Disclosure control of ``audit.impact``: the shared rule of ``audit.disclosure``, everywhere.

Each test states the rule independently (counts recomputed with pandas, the
rule applied by hand) and checks every published figure against it.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from audit.disclosure import cell_publishable, is_small, round_count
from audit.groups import build_groupings
from audit.impact import disparate_impact
from audit.impact._disclosure import LOCK_SIZE
from audit.rates import compare_proportions
from audit.rules import Tier

THR = 10
COMPARED = ("impact_ratio", "ci", "below_threshold", "test", "p_value", "q_value", "ratio_upper_bound",
            "candidates", "parity_p_value", "parity_q_value")
ENTRY_FIGURES = ("favourable_count", "selection_rate", "reference_n", "reference_favourable_count",
                 "reference_rate", "impact_ratio", "ci_low", "ci_high", "ratio_upper_bound",
                 "simultaneous_upper_bound", "p_value", "q_value", "parity_p_value", "parity_q_value",
                 "selection_candidates")


def _key(group: dict) -> str:
    return json.dumps(group, sort_keys=True)


def _population(seed=3, n=4000):
    """Groups of very different sizes; a small group far below; continuous scores with lone extremes."""
    rng = np.random.default_rng(seed)
    eth = rng.choice(["w", "x", "y"], n, p=[0.7, 0.2, 0.1]).astype(object)
    eth[:40] = "z"  # 40 people, almost all below the cut: few attain
    sex = rng.choice(["f", "m"], n)
    score = rng.normal(650, 40, n) - 30 * (eth == "y") - 90 * (eth == "z")
    score = np.clip(score, 520, 760)
    score[100] = 767.786  # one person far above everybody
    score[101] = 441.25  # one person far below everybody
    label = (rng.random(n) < 1 / (1 + np.exp((score - 640) / 30))).astype(float)
    return pd.DataFrame({"eth": eth, "sex": sex}), score, label


@pytest.fixture(scope="module")
def case():
    people, score, label = _population()
    groupings = build_groupings(people, ["eth", "sex"], max_order=2)
    tiers = [Tier("loan", threshold=600), Tier("visa", threshold=700), Tier("top", threshold=745)]
    res = disparate_impact(score, groupings, tiers, labels=label, disclosure_threshold=THR)
    return people, score, label, groupings, tiers, res


def _by_hand(people, score, tier, attrs):
    """(attained, n) per group, by pandas."""
    att = tier.attained(score)
    t = people[list(attrs)].assign(hit=att).groupby(list(attrs), observed=True)["hit"].agg(["sum", "count"])
    return {(k if isinstance(k, tuple) else (k,)): (int(r["sum"]), int(r["count"])) for k, r in t.iterrows()}


def test_cells_follow_the_shared_rule_and_zeros_are_published(case):
    people, score, _, groupings, tiers, res = case
    doc = res.to_dict()
    zeros = 0
    for g in doc["groupings"]:
        attrs = g["attributes"]
        for tier in tiers:
            hand = _by_hand(people, score, tier, attrs)
            for r in (r for r in g["rates"] if r["tier"] == tier.name):
                k, n = hand[tuple(r["group"][a] for a in attrs)]
                # Unpublishable cells are hidden; complementary suppression (tests/test_impact_lines.py)
                # may hide publishable ones too, or publish a large group's count rounded to the nearest ten.
                # Whatever is shown is exact, or rounded and marked so.
                shown = r["attained"] is not None
                assert not shown or cell_publishable(k, n, THR), (r["group"], tier.name, k, n)
                assert (r["selection_rate"] is not None) == shown
                assert (r["selection_ci"][0] is not None) == shown
                if shown and r["rounded"]:
                    assert r["attained"] == round_count(k) and n >= LOCK_SIZE
                    assert r["selection_rate"] == pytest.approx(round_count(k) / n)
                elif shown:
                    assert r["attained"] == k and r["selection_rate"] == k / n
                    zeros += k == 0
                assert r["n"] is None or (r["n"] == n and not is_small(n, THR))
    assert zeros > 0, "the example must have a complete exclusion, published as 0"


def test_compared_figures_need_both_cells(case):
    # The leak: with a group's size, the comparison group's counts and the test's p-value, a hidden
    # count is the k in 0..n whose p-value matches.  No compared figure may rest on a hidden cell.
    *_, res = case
    doc = res.to_dict()
    hidden = 0
    for g in doc["groupings"]:
        cell = {(_key(r["group"]), r["tier"]): r["attained"] is not None for r in g["rates"]}
        for r in g["rates"]:
            for side in ("vs_most_favoured", "vs_reference"):
                v = r[side]
                if v["group"] is None:
                    continue
                both = cell[(_key(r["group"]), r["tier"])] and cell[(_key(v["group"]), r["tier"])]
                if not both:
                    hidden += 1
                    for f in COMPARED:
                        if f in v:
                            assert v[f] in (None, [None, None]), (r["group"], r["tier"], side, f, v[f])
                    assert r["suppressed"]
    assert hidden > 0


def test_p_values_no_longer_give_hidden_counts_back(case):
    # The reviewer's attack: for a hidden cell k-of-n compared with a shown cell, the k in 0..n
    # whose p-value equals the published one.  Show that it works on the unsuppressed figures
    # (so the test has teeth), then that the published document leaves it nothing to work on.
    people, score, label, groupings, tiers, res = case
    raw = disparate_impact(score, groupings, tiers, labels=label, disclosure_threshold=0).rates
    pub = res.rates
    hidden = pub["attained"].isna() & pub["n"].notna() & (pub["code"] != pub["reference_code"])
    assert hidden.sum() > 0
    recovered = 0
    idx = raw.set_index(["grouping", "code", "tier"])
    for i in np.flatnonzero(hidden):
        r = raw.iloc[i]
        m = idx.loc[(r["grouping"], r["reference_code"], r["tier"])]
        x2, n2 = round(m["favourable_rate"] * m["n"]), int(m["n"])
        p = compare_proportions(np.arange(int(r["n"]) + 1), int(r["n"]), x2, n2)[0]
        match = np.flatnonzero(np.isclose(p, r["ref_p_value"], rtol=1e-12, atol=0))
        recovered += len(match) == 1 and match[0] == round(r["favourable_rate"] * r["n"])
        row = pub.iloc[i]
        for col in ("p_value", "q_value", "parity_p_value", "parity_q_value", "ratio_upper_bound", "ref_p_value",
                    "ref_q_value"):
            assert np.isnan(row[col]), col
        assert row["ref_test"] == "" and pd.isna(row["below_threshold"]) and pd.isna(row["ref_below_threshold"])
    assert recovered > 0  # the p-values alone would have given hidden counts back


def test_suppressed_pushed_out_entries_carry_only_the_group_size(case):
    *_, res = case
    po = res.pushed_out()
    sup = [e for e in po if e["suppressed"]]
    assert sup, "the small group far below must be listed, with its figures suppressed"
    assert [e["suppressed"] for e in po] == sorted(e["suppressed"] for e in po)  # publishable first
    names = [(" & ".join(e["attributes"]), json.dumps(e["group"]), e["tier"]) for e in sup]
    assert names == sorted(names)
    for e in sup:
        for f in ENTRY_FIGURES:
            assert e[f] is None, (e["group"], f)
        assert e["n"] is not None and e["n"] >= THR
        assert e["reference_group"] and e["mechanism"] == "direct"
    assert any(e["group"] == {"eth": "z"} for e in sup)


def test_label_metrics_need_all_four_cells(case):
    people, score, label, _, tiers, res = case
    doc = res.to_dict()
    shown = hidden = 0
    primary_tiers, secondary_tiers = set(), set()
    for g in doc["groupings"]:
        attrs = g["attributes"]
        for tier in tiers:
            att = tier.attained(score)
            frame = people[attrs].assign(tp=att & (label == 1), fp=att & (label == 0), fn=~att & (label == 1),
                                         tn=~att & (label == 0))
            hand = frame.groupby(attrs, observed=True)[["tp", "fp", "fn", "tn"]].sum()
            for e in (e for e in g["error_rates"] if e["tier"] == tier.name):
                cells = hand.loc[tuple(e["group"][a] for a in attrs) if len(attrs) > 1 else e["group"][attrs[0]]]
                publishable = not any(is_small(int(cells[c]), THR) for c in ("tp", "fp", "fn", "tn"))
                if not publishable:
                    primary_tiers.add(tier.name)  # decided from the hand counts alone
                # Secondary suppression may hide a publishable row too, but only whole, and only in a
                # tier where some row is hidden for its own small cells (checked after the loop).
                ok = publishable and e["tp"] is not None
                if publishable and not ok:
                    secondary_tiers.add(tier.name)
                for c in ("tp", "fp", "fn", "tn"):
                    assert e[c] == (int(cells[c]) if ok else None)
                for m, num, den in (("fpr", "fp", "tn"), ("fnr", "fn", "tp"), ("ppv", "tp", "fp")):
                    if not ok:
                        assert e[m] == {"rate": None, "ci": [None, None]}
                    elif cells[num] + cells[den]:
                        assert e[m]["rate"] == pytest.approx(cells[num] / (cells[num] + cells[den]), rel=1e-14)
                shown += ok
                hidden += not ok
    assert shown and hidden and primary_tiers
    assert secondary_tiers <= primary_tiers


def test_distributions_only_for_groups_of_the_minimum_size():
    rng = np.random.default_rng(0)
    # 25 people: above the disclosure threshold, below the minimum group size (30).
    people = pd.DataFrame({"g": ["a"] * 300 + ["b"] * 25 + ["c"] * 30})
    score = rng.normal(600, 50, len(people))
    res = disparate_impact(score, build_groupings(people, ["g"]), [Tier("t", threshold=600)])
    groups = {e["group"]["g"]: e for e in res.to_dict()["groupings"][0]["groups"]}
    assert groups["b"]["n"] == 25  # the count is publishable ...
    assert all(v is None for k, v in groups["b"]["distribution"].items() if k != "quantiles")
    assert all(v is None for v in groups["b"]["distribution"]["quantiles"].values())  # ... its scores are not
    assert groups["c"]["distribution"]["mean"] is not None and groups["c"]["distribution"]["auc"] is not None
    assert set(groups["a"]["distribution"]["quantiles"]) == {"10", "25", "50", "75", "90"}  # no min / max
    # Against a reference group below the minimum size: no SMD, KS or AUC for anybody.
    res = disparate_impact(score, build_groupings(people, ["g"]), [Tier("t", threshold=600)], reference={"g": "b"})
    for e in res.to_dict()["groupings"][0]["groups"]:
        assert e["distribution"]["smd"] is None and e["distribution"]["ks"] is None


def _published_thresholds(doc) -> list[float]:
    out = []
    for g in doc["groupings"]:
        cv = g["curve"]
        out += cv["plot"]["thresholds"]
        for r in cv["ranges"]:
            out += [r["from"], r["to"]]
        for bg in cv["by_group"]:
            out += [x for rr in bg["ranges"] for x in rr]
        for c in g.get("calibration") or []:
            out += [x for x in (c["score_from"], c["score_to"]) if x is not None]
    return out


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_no_individual_score_is_published(case, higher_is_better):
    people, score, label, groupings, tiers, _ = case
    res = disparate_impact(score, groupings, tiers, labels=label, disclosure_threshold=THR,
                           higher_is_better=higher_is_better)
    doc = res.to_dict()
    xs = _published_thresholds(doc)
    assert len(xs) > 100
    n = len(score)
    for x in xs:
        assert x == round(x, 1)  # rounded to one decimal place
        # x is some observed score s rounded; a cut at s leaves at least THR people of the
        # population on each side (cuts "score >= s" or "score <= s").
        cuts = np.unique(score[np.abs(score - x) <= 0.05 + 1e-9])
        assert len(cuts), x
        assert any(THR <= np.sum(score < c) <= n - THR or THR <= np.sum(score <= c) <= n - THR for c in cuts), x
    assert 767.8 not in xs and 441.2 not in xs and 441.3 not in xs  # the two lone extremes
    assert round(score.max(), 1) not in xs and round(score.min(), 1) not in xs
    text = json.dumps(doc)
    for v in ("767.786", "441.25"):
        assert v not in text


def test_top_scorer_profile_is_not_published(case):
    # At the highest cut only the top scorer is favourable: which groups are "below 0.8" there
    # would be that person's profile.  No published range may reach that far.
    people, score, label, groupings, tiers, res = case
    top = np.sort(score)[-THR]  # cuts above this leave fewer than THR people on the favourable side
    for g in res.to_dict()["groupings"]:
        for r in g["curve"]["ranges"]:
            assert r["to"] <= round(top, 1)
        for bg in g["curve"]["by_group"]:
            for _, b in bg["ranges"]:
                assert b <= round(top, 1)


def test_calibration_bounds_are_open_ended_and_rounded():
    # Few distinct scores (deciles): one bin per score; the outer bounds are never shown.
    rng = np.random.default_rng(1)
    people = pd.DataFrame({"g": rng.choice(["a", "b"], 2000)})
    score = rng.integers(1, 11, 2000).astype(float)
    label = (rng.random(2000) < score / 12).astype(float)
    res = disparate_impact(score, build_groupings(people, ["g"]), [Tier("High", threshold=5)], labels=label,
                           higher_is_better=False)
    cal = res.to_dict()["groupings"][0]["calibration"]
    a = [c for c in cal if c["group"] == {"g": "a"}]
    assert len(a) == 10
    assert a[0]["score_from"] is None and a[-1]["score_to"] is None
    assert [c["score_to"] for c in a[:-1]] == [float(v) for v in range(1, 10)]
    assert [c["score_from"] for c in a[1:]] == [float(v) for v in range(2, 11)]


def test_suppression_is_deterministic(case):
    *_, groupings, tiers, _ = case
    people, score, label = _population()
    one = json.dumps(disparate_impact(score, groupings, tiers, labels=label).to_dict(), allow_nan=False)
    two = json.dumps(disparate_impact(score, groupings, tiers, labels=label).to_dict(), allow_nan=False)
    assert one == two
