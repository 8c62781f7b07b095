"""Tests of audit.proxy: every statistic is checked against an independent computation (named in a comment)."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.stats.contingency import association as scipy_association
from sklearn.metrics import normalized_mutual_info_score, roc_auc_score

import audit
from audit import equalise
from audit.equalise import equalise_codes, equalise_numeric, equalise_series
from audit.proxy import (
    _analyses,
    _association,
    _result,
    gap_decomposition,
    influence,
    neutralisation,
    proxy_analysis,
    redundant_encoding,
)
from audit.proxy._association import (
    auc_from_scores,
    correlation_ratio,
    cramers_v,
    cv_auc,
    fold_indices,
    normalized_mutual_info,
    quantile_bins,
)
from audit.rules import Rule
from audit.rules._spec import parse_spec

PLANTED_SPEC = """
name: planted
title: planted proxy
status: illustrative
base: 500
terms:
  - {id: t_a, label: planted A, value: a, weight: 10, illustrative: true}
  - {id: t_b, label: decoy B, value: b, weight: 10, illustrative: true}
  - {id: t_c, label: weak C, value: c, weight: 15, illustrative: true}
  - {id: t_d, label: small D, value: d, weight: 5, illustrative: true}
tiers:
  - {name: gold, threshold: 510, illustrative: true}
  - {name: top, top_fraction: 0.1, illustrative: true}
"""


def points_rule(spec: str = PLANTED_SPEC, **replace) -> Rule:
    for old, new in replace.items():
        spec = spec.replace(old, new)
    return Rule.from_spec(parse_spec(spec, source="test"))


def planted_people(seed: int, n: int = 4000) -> pd.DataFrame:
    """A = noisy copy of gender (moderate weight); B = decoy, same weight and variance, independent;
    C = weakly associated, large weight; D = strongly associated, small weight."""
    rng = np.random.default_rng(seed)
    attr = rng.integers(0, 2, n)
    return pd.DataFrame({
        "a": attr + rng.normal(0, 0.8, n),
        "b": rng.normal(0.5, np.sqrt(0.25 + 0.64), n),  # Var(b) = Var(a) = 0.25 + 0.64
        "c": 0.15 * attr + rng.normal(0, 1, n),
        "d": attr + rng.normal(0, 0.5, n),
        "unused": rng.normal(0, 1, n),
        "region": rng.choice(["north", "south", "east"], n),
        "gender": np.where(attr == 1, "female", "male"),
    })


def additive_fn(df: pd.DataFrame) -> np.ndarray:
    return 500 + 10 * df["a"] + 10 * df["b"] + 15 * df["c"] + 5 * df["d"]


@pytest.fixture(scope="module")
def sesame():
    people, edges = audit.generate_sesame(3000, seed=3)
    graph = audit.load_graph(edges, people["id"].to_numpy())
    return people, graph


# ------------------------------------------------------------------------ planted proxy
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("kind", ["points", "callable"])
def test_planted_proxy_ranks_first_and_decoy_last(seed, kind):
    people = planted_people(seed)
    if kind == "points":
        rule = points_rule()
    else:
        rule = Rule.from_callable(additive_fn, tiers={"gold": 510}, name="planted", features=["a", "b", "c", "d"])
    res = proxy_analysis(rule, people, ["gender"], seed=seed, neutralise=False)
    ranking = [r for r in res.ranking if r["attribute"] == "gender"]
    names = [r["feature"] for r in ranking]
    k = 2 if kind == "points" else 1  # points tables list each input as a column and as its term
    assert set(names[:k]) == ({"a", "t_a"} if kind == "points" else {"a"})
    assert set(names[-k:]) == ({"b", "t_b"} if kind == "points" else {"b"})
    strengths = [r["proxy_strength"] for r in ranking]
    assert strengths == sorted(strengths, reverse=True)
    top = ranking[0]
    assert top["proxy"] and not ranking[-1]["proxy"]
    # A and B have the same influence (same weight and variance), only association separates them.
    a_inf = next(r["influence"] for r in ranking if r["feature"] == "a")
    b_inf = next(r["influence"] for r in ranking if r["feature"] == "b")
    assert abs(a_inf - b_inf) < 0.05


def test_ranking_layout_and_formula():
    res = proxy_analysis(points_rule(), planted_people(0), ["gender", "region"], seed=0, neutralise=False)
    d = res.to_dict()
    for row in d["proxy"]["ranking"] if "proxy" in d else d["ranking"]:
        for key in ("feature", "attribute", "association", "influence", "proxy_strength", "kind", "auc", "nmi"):
            assert key in row
        # proxy_strength = sqrt(association * influence), checked by recomputation
        assert row["proxy_strength"] == pytest.approx(np.sqrt(row["association"] * row["influence"]), abs=1e-9)
        assert row["association"] == pytest.approx(max(0.0, 2 * row["auc"] - 1), abs=1e-9)
    keys = [(-r["proxy_strength"], r["feature"], r["kind"], r["attribute"]) for r in d["ranking"]]
    assert keys == sorted(keys)
    assert "sqrt(association * influence)" in d["methods"]["proxy_strength"]["formula"]
    assert d["methods"]["association"]["folds"].startswith("StratifiedKFold(n_splits=5, shuffle=True")


# ------------------------------------------------------------------------ association statistics
def test_cramers_v_matches_scipy():
    rng = np.random.default_rng(0)
    g = rng.integers(0, 3, 5000)
    x = np.where(rng.random(5000) < 0.3, g, rng.integers(0, 4, 5000))
    table = pd.crosstab(x, g).to_numpy()
    # reference: scipy.stats.contingency.association (Cramér's V, no correction)
    assert cramers_v(x, g, 4, 3) == pytest.approx(scipy_association(table, method="cramer"), abs=1e-12)


def test_eta_matches_r_squared_of_group_means():
    rng = np.random.default_rng(1)
    g = rng.integers(0, 4, 3000)
    x = g * 0.3 + rng.normal(size=3000)
    # reference: R^2 of least squares on group indicators (one-way ANOVA), eta = sqrt(R^2)
    design = np.eye(4)[g]
    beta, *_ = np.linalg.lstsq(design, x, rcond=None)
    resid = x - design @ beta
    r2 = 1 - resid @ resid / ((x - x.mean()) @ (x - x.mean()))
    assert correlation_ratio(x, g, 4) == pytest.approx(np.sqrt(r2), abs=1e-12)
    # binary input: eta equals Cramér's V (both are sqrt(chi2 / n))
    xb = (rng.random(3000) < 0.3 + 0.1 * (g == 1)).astype(float)
    assert correlation_ratio(xb, g, 4) == pytest.approx(cramers_v(xb.astype(np.int64), g, 2, 4), abs=1e-12)


def test_nmi_matches_sklearn():
    rng = np.random.default_rng(2)
    g = rng.integers(0, 3, 4000)
    x = g + rng.normal(size=4000)
    bins, nb = quantile_bins(x, 10)
    # reference: pandas.qcut deciles + sklearn.metrics.normalized_mutual_info_score
    ref_bins = pd.qcut(x, 10, labels=False, duplicates="drop")
    assert (bins == ref_bins).all()
    assert normalized_mutual_info(bins, g, nb, 3) == pytest.approx(normalized_mutual_info_score(g, ref_bins),
                                                                   abs=1e-12)
    xc = rng.integers(0, 5, 4000)
    assert normalized_mutual_info(xc, g, 5, 3) == pytest.approx(normalized_mutual_info_score(g, xc), abs=1e-12)


def test_auc_helper_matches_sklearn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 2000).astype(bool)
    s = np.round(rng.normal(size=2000) + y, 1)  # many ties
    assert auc_from_scores(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_cv_auc_close_to_gradient_boosting_on_the_one_input():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 6000)
    x = np.sin(y * 1.3) + rng.normal(0, 0.7, 6000)  # non-monotone link
    splits = fold_indices(y, 5, 0)
    ours = cv_auc(x, y, 3, splits, categorical=False)
    # reference: sklearn HistGradientBoosting on the same single input and folds, OVR macro AUC
    ref = []
    with threadpool_limits(limits=1, user_api="openmp"):
        for tr, te in splits:
            m = HistGradientBoostingClassifier(random_state=0, early_stopping=True).fit(x[tr, None], y[tr])
            ref.append(roc_auc_score(y[te], m.predict_proba(x[te, None]), multi_class="ovr"))
    assert ours == pytest.approx(np.mean(ref), abs=0.02)
    assert cv_auc(rng.normal(size=6000), y, 3, splits, categorical=False) == pytest.approx(0.5, abs=0.03)


# ------------------------------------------------------------------------ influence
def test_variance_shares_exact_and_influence_matches_variance_ratio():
    people = planted_people(5, n=20_000)
    rule = points_rule()
    rows = {(r["kind"], r["feature"]): r for r in influence(rule, people, seed=0)}
    S = rule.own_scores(people)
    C = rule.term_contributions(people)
    total = 0.0
    for tid in C.columns:
        # reference: np.cov on the contribution column and the own score
        share = np.cov(C[tid], S, bias=True)[0, 1] / np.var(S)
        assert rows[("term", tid)]["variance_share"] == pytest.approx(share, abs=1e-9)
        total += rows[("term", tid)]["variance_share"]
        # unclamped additive rule: permutation influence estimates Var(c_k) / Var(S)
        assert rows[("term", tid)]["influence"] == pytest.approx(np.var(C[tid]) / np.var(S), rel=0.06, abs=0.005)
        # neutralised at the mean: mean |c_k - mean c_k|
        assert rows[("term", tid)]["mean_abs_change"] == pytest.approx(np.mean(np.abs(C[tid] - C[tid].mean())))
    assert total + rows[("clamp", "range clamp")]["variance_share"] == pytest.approx(1.0, abs=1e-9)
    assert rows[("clamp", "range clamp")]["variance_share"] == pytest.approx(0.0, abs=1e-12)  # no range


def test_variance_shares_with_clamp_sum_to_one():
    people = planted_people(6)
    rule = points_rule(PLANTED_SPEC.replace("base: 500", "base: 500\nrange: [490, 515]"))
    rows = influence(rule, people)
    clamp = next(r for r in rows if r["kind"] == "clamp")
    assert abs(clamp["variance_share"]) > 0.01
    assert sum(r["variance_share"] for r in rows if r["kind"] in ("term", "clamp")) == pytest.approx(1.0, abs=1e-9)


# ------------------------------------------------------------------------ gap decomposition
def test_exact_decomposition_sums_to_gap_with_clamp_line():
    people = planted_people(7)
    rule = points_rule(PLANTED_SPEC.replace("base: 500", "base: 500\nrange: [490, 515]"))
    recs = gap_decomposition(rule, people, ["gender", "region"])
    S = pd.Series(rule.own_scores(people))
    seen_clamp = False
    for rec in recs:
        attrs = rec["attributes"]
        key = people[attrs].astype(str).agg(" & ".join, axis=1)
        means = S.groupby(key).mean()  # reference: pandas groupby of the rule's own scores
        g = " & ".join(str(rec["group"][a]) for a in attrs)
        r = " & ".join(str(rec["reference"][a]) for a in attrs)
        assert rec["gap"] == pytest.approx(means[g] - means[r], abs=0.005 + 1e-9)  # rounded to 0.01
        assert rec["sum_error"] is not None and abs(rec["sum_error"]) < 1e-9  # exact before rounding
        total = sum(line["contribution"] for line in rec["contributions"])
        assert abs(rec["gap"] - total) <= 0.005 * (len(rec["contributions"]) + 1) + 1e-9
        clamp = [x for x in rec["contributions"] if x["kind"] == "clamp"]
        assert len(clamp) == 1
        seen_clamp |= abs(clamp[0]["contribution"]) > 1e-3
    assert seen_clamp
    assert {tuple(r["attributes"]) for r in recs} == {("gender",), ("region",), ("gender", "region")}


def test_shapley_converges_to_exact_on_additive_callable():
    people = planted_people(8, n=6000)
    rule = Rule.from_callable(additive_fn, tiers={"gold": 510}, name="add", features=["a", "b", "c", "d"])
    weights = {"a": 10, "b": 10, "c": 15, "d": 5}
    m = people.groupby("gender")[list(weights)].mean()
    # reference: for an additive f = sum_k w_k x_k, the exact Shapley value of x_k is w_k (mean_g - mean_ref)
    exact = {k: w * (m.loc["female", k] - m.loc["male", k]) for k, w in weights.items()}
    errors = []
    for samples in (100, 1600):
        rec = gap_decomposition(rule, people, ["gender"], reference={"gender": "male"},
                                shapley_samples=samples, seed=1)[0]
        assert rec["method"] == "shapley"
        lines = {x["feature"]: x for x in rec["contributions"]}
        err = 0.0
        for k in weights:
            diff = abs(lines[k]["contribution"] - exact[k])
            assert diff <= 4 * lines[k]["se"] + 0.006  # within the reported standard error (+ rounding)
            err += diff
        errors.append(err)
        assert abs(rec["gap"] - sum(x["contribution"] for x in rec["contributions"])) \
            <= 0.005 * (len(rec["contributions"]) + 1) + 1e-9
    assert errors[1] < errors[0]


def test_shapley_on_points_table_matches_exact_columns():
    people = planted_people(9, n=5000)
    rule = points_rule()
    ex = gap_decomposition(rule, people, ["gender"])[0]
    sh = gap_decomposition(rule, people, ["gender"], method="shapley", shapley_samples=2000)[0]
    exact = {x["feature"].removeprefix("t_"): x["contribution"] for x in ex["contributions"] if x["kind"] == "term"}
    for line in sh["contributions"]:
        if line["kind"] == "column":
            assert abs(line["contribution"] - exact[line["feature"]]) <= 4 * line["se"] + 0.011


# ------------------------------------------------------------------------ neutralisation
def test_neutralising_an_unread_column_changes_nothing(sesame):
    people, graph = sesame
    rule = audit.load_rule("sesame")
    assert "region" not in rule.features
    out = neutralisation(rule, people, ["gender", "region"], graph=graph, inputs=["region"])
    assert {r["method"] for r in out["records"]} == {"removed", "equalised"}
    for rec in out["records"]:
        assert rec["rows_changed"] == 0 and rec["mean_abs_score_change"] == 0.0
        for grp in rec["groups"]:
            if not grp["suppressed"]:
                assert grp["before"] == grp["after"]
                assert all(c in (0.0, None) for c in grp["change"])
    assert out["notable_changes"] == []
    # and for a callable rule that does not read the column
    people2 = planted_people(0)
    rule2 = Rule.from_callable(additive_fn, tiers={"gold": 510}, name="add", features=["a", "b", "c", "d"])
    out2 = neutralisation(rule2, people2, ["gender"], inputs=["unused"])
    assert all(r["rows_changed"] == 0 for r in out2["records"])


def _impact_by_pandas(rule, people, final, attribute, min_group_size=30):
    att = pd.DataFrame(rule.attainment(final), columns=[t.name for t in rule.tiers])
    att["g"] = people[attribute].to_numpy()
    rates = att.groupby("g").mean()
    sizes = att.groupby("g").size()
    best = rates[sizes >= min_group_size].max()
    return rates / best


def _small(k, t=10):
    return 0 < k < t


def _publishable_by_pandas(rule, people, final, attribute, min_group_size=30, t=10, baseline=None):
    """Two-cell rule recomputed by hand: the group's favourable count of its size and the most favoured
    group's (highest rate among groups of at least ``min_group_size``; ties to the larger group) are
    both publishable (neither the count nor its complement in 1..t-1).  With ``baseline`` (scores of
    the baseline, ``final`` a counterfactual), also: neither group has 1..t-1 people whose attainment
    of the tier differs between the two."""
    from audit.impact import tier_is_favourable

    att = pd.DataFrame(rule.attainment(final), columns=[t_.name for t_ in rule.tiers])
    for tier in rule.tiers:
        if not tier_is_favourable(tier, rule.higher_is_better):
            att[tier.name] = ~att[tier.name]
    att["g"] = people[attribute].to_numpy()
    k = att.groupby("g").sum()
    n = att.groupby("g").size()
    if baseline is not None:
        moved = pd.DataFrame(rule.attainment(final) != rule.attainment(baseline),
                             columns=[t_.name for t_ in rule.tiers])
        moved["g"] = people[attribute].to_numpy()
        moved = moved.groupby("g").sum()
    out = pd.DataFrame(False, index=k.index, columns=k.columns)
    for tier in k.columns:
        cell = pd.Series({g: not _small(k.loc[g, tier], t) and not _small(n[g] - k.loc[g, tier], t)
                          and not _small(n[g], t)
                          and (baseline is None or not _small(moved.loc[g, tier], t)) for g in k.index})
        big = n[n >= min_group_size].index
        rate = (k.loc[big, tier] / n[big])
        best = sorted(big, key=lambda g: (-rate[g], -n[g]))[0]
        out[tier] = cell & cell[best] & (k.loc[best, tier] > 0)
    return out


def test_term_removal_matches_rescoring_the_reduced_rule(sesame):
    people, graph = sesame
    rule = audit.load_rule("sesame")
    out = neutralisation(rule, people, ["gender"], graph=graph, inputs=["video_games"], methods=["removed"])
    rec = out["records"][0]
    # reference: the reduced rule scored from scratch (network included), impact ratios by pandas
    final = rule.without_terms(["video_games"]).score(people, graph)
    ref = _impact_by_pandas(rule, people, final, "gender")
    ok = _publishable_by_pandas(rule, people, final, "gender", baseline=rule.score(people, graph))
    for grp in rec["groups"]:
        if grp["attributes"] == ["gender"]:
            for j, tier in enumerate(rec["tiers"]):
                if ok.loc[grp["group"]["gender"], tier]:
                    assert grp["after"][j] == pytest.approx(ref.loc[grp["group"]["gender"], tier], abs=5e-4)
                else:
                    assert grp["after"][j] is None
    sentence = next(s for s in out["notable_changes"] if s["attributes"] == ["gender"])["sentence"]
    assert sentence.startswith("Without 'Hours of video games per week")
    assert "impact ratio for" in sentence and " goes from " in sentence


def _by_key(people, attributes):
    """One text key per row for a (possibly intersected) grouping, and the key of a group label."""
    key = people[attributes[0]].astype(str)
    for a in attributes[1:]:
        key = key + " & " + people[a].astype(str)
    return people.assign(_k=key.to_numpy()), (lambda group: " & ".join(str(group[a]) for a in attributes))


def test_neutralisation_publishes_a_ratio_only_when_both_cells_are_publishable(sesame):
    """The reviewer recovered suppressed counts from before-ratios of groups that were not small: every
    published ratio must now rest on two publishable cells (the group's and the most favoured group's)."""
    people, graph = sesame
    rule = audit.load_rule("sesame")
    out = neutralisation(rule, people, ["gender", "age_band", "ethnicity"], graph=graph, intersections=2,
                         methods=["removed"], inputs=["video_games", "diapers"])
    final0 = rule.score(people, graph)
    checked = hidden = 0
    for rec in out["records"]:
        final1 = rule.without_terms([rec["feature"]]).score(people, graph)
        for attrs in {tuple(g["attributes"]) for g in rec["groups"]}:
            frame, name = _by_key(people, list(attrs))
            ok0 = _publishable_by_pandas(rule, frame, final0, "_k")
            ok1 = _publishable_by_pandas(rule, frame, final1, "_k", baseline=final0)
            ref1 = _impact_by_pandas(rule, frame, final1, "_k")
            for grp in (g for g in rec["groups"] if tuple(g["attributes"]) == attrs):
                if grp["suppressed"]:
                    assert grp["n"] is None and grp["before"] is None and grp["after"] is None
                    continue
                k = name(grp["group"])
                for j, tier in enumerate(rec["tiers"]):
                    assert (grp["before"][j] is not None) == bool(ok0.loc[k, tier])
                    assert (grp["after"][j] is not None) == bool(ok1.loc[k, tier])
                    assert (grp["change"][j] is not None) == bool(ok0.loc[k, tier] and ok1.loc[k, tier])
                    if grp["after"][j] is not None:
                        assert grp["after"][j] == pytest.approx(ref1.loc[k, tier], abs=5e-4)  # 3 decimals
                    checked += 1
                    hidden += grp["before"][j] is None
    assert checked and hidden  # the sesame population has cells that must be hidden
    # a sentence only where both ratios are published (so never about a hidden cell)
    assert out["notable_changes"]
    for s in out["notable_changes"]:
        rec = next(r for r in out["records"] if r["feature"] == s["feature"] and r["method"] == s["method"])
        grp = next(g for g in rec["groups"] if g["group"] == s["group"])
        j = rec["tiers"].index(s["tier"])
        assert grp["before"][j] is not None and grp["after"][j] is not None
        assert s["before"] == pytest.approx(grp["before"][j], abs=1e-9)


def test_neutralisation_hides_a_small_number_of_changed_rows():
    people = planted_people(20, n=2000)
    people["flag"] = "usual"
    people.loc[:2, "flag"] = "rare"  # 3 people: setting the column to its most common value changes 3 rows
    rule = Rule.from_callable(lambda df: 500 + 10 * df["a"] + 20 * (df["flag"] == "rare"), tiers={"gold": 505},
                              name="f", features=["a", "flag"])
    out = neutralisation(rule, people, ["gender"], inputs=["flag", "a"], methods=["removed"])
    by = {r["feature"]: r for r in out["records"]}
    assert by["flag"]["rows_changed"] is None and by["flag"]["mean_abs_score_change"] is None
    assert by["a"]["rows_changed"] == 2000 and by["a"]["mean_abs_score_change"] > 0


def test_decomposition_means_only_for_groups_of_the_minimum_size():
    people = planted_people(21, n=3000)
    people.loc[:14, "region"] = "islands"  # 15 people: size published, means not (below 30)
    res = proxy_analysis(points_rule(), people, ["gender", "region"], seed=0, neutralise=False,
                         intersections=1)
    d = res.to_dict()
    isl = next(r for r in d["decomposition"] if r["group"] == {"region": "islands"})
    assert isl["n"] == 15 and isl["suppressed"]
    assert isl["gap"] is None and isl["mean_score"] is None and isl["contributions"] == []
    big = next(r for r in d["decomposition"] if r["group"] == {"region": "north"})
    assert big["gap"] is not None and not big["suppressed"]
    # nor does the pushed-out annotation use the small group's means (as the group or as the comparison)
    out = res.annotate_pushed_out([
        {"attributes": ["region"], "group": {"region": "islands"}, "tier": "gold", "mechanism": "direct"},
        {"attributes": ["region"], "group": {"region": "north"}, "tier": "gold", "mechanism": "direct",
         "reference_group": {"region": "islands"}}])
    assert all(p["mean_gap_share"] is None for e in out for p in e["top_proxies"])
    # a smaller minimum size publishes it
    recs = gap_decomposition(points_rule(), people, ["region"], min_group_size=10)
    assert next(r for r in recs if r["group"] == {"region": "islands"})["gap"] is not None


def test_sampling_counts_that_reveal_a_small_group_are_suppressed():
    people = planted_people(22, n=2000)
    people.loc[:2, "region"] = "islands"  # 3 people: left out of the AUC (fewer than 5 folds)
    people["region"] = people["region"].astype(object)
    people.loc[10:13, "region"] = None   # 4 people without the attribute
    res = proxy_analysis(points_rule(), people, ["region"], seed=0, neutralise=False)
    s = res.to_dict()["methods"]["sampling"]["per_attribute"][0]
    assert s["groups_left_out"] == ["region=islands"]
    assert s["rows_available"] is None and s["rows_used"] is None
    s2 = proxy_analysis(points_rule(), planted_people(22, n=2000), ["region"], seed=0,
                        neutralise=False).to_dict()["methods"]["sampling"]["per_attribute"][0]
    assert s2["rows_available"] == 2000 and s2["rows_used"] == 2000


def test_equalised_input_has_reference_distribution():
    rng = np.random.default_rng(10)
    n = 6000
    codes = rng.integers(0, 3, n)
    x = rng.gamma(2.0 + codes, 1.0)
    out = equalise_numeric(x, codes, 0, 3, np.random.default_rng(0))
    ref = out[codes == 0]
    assert (ref == x[codes == 0]).all()  # reference untouched
    for g in (1, 2):
        # reference: scipy two-sample Kolmogorov-Smirnov statistic ~ 0 after mapping (vs ~0.3 before)
        assert stats.ks_2samp(x[codes == g], ref).statistic > 0.2
        assert stats.ks_2samp(out[codes == g], ref).statistic < 2.0 / (codes == g).sum() + 1.0 / len(ref)
    # discrete input (counts with ties): distribution matched too
    xd = rng.poisson(1.0 + codes)
    outd = equalise_numeric(xd, codes, 0, 3, np.random.default_rng(0))
    pref = np.bincount(xd[codes == 0], minlength=20) / (codes == 0).sum()
    for g in (1, 2):
        pg = np.bincount(outd[codes == g], minlength=20)[:20] / (codes == g).sum()
        assert np.abs(pg - pref).max() < 2.0 / (codes == g).sum() + 1.0 / (codes == 0).sum()
    # ranks are preserved within a group (monotone map)
    for g in (1, 2):
        xi, oi = x[codes == g], out[codes == g]
        assert stats.spearmanr(xi, oi).statistic > 0.999


def test_equalised_categorical_fewest_moves():
    rng = np.random.default_rng(11)
    n = 5000
    codes = rng.integers(0, 2, n)
    xc = np.where(codes == 0, rng.choice(3, n, p=[0.5, 0.3, 0.2]), rng.choice(3, n, p=[0.2, 0.3, 0.5]))
    out = equalise_codes(xc, codes, 0, 2, 3, np.random.default_rng(0))
    ref_share = np.bincount(xc[codes == 0], minlength=3) / (codes == 0).sum()
    n1 = (codes == 1).sum()
    counts_before = np.bincount(xc[codes == 1], minlength=3)
    counts_after = np.bincount(out[codes == 1], minlength=3)
    assert np.abs(counts_after - n1 * ref_share).max() <= 1.0
    # minimal transport: exactly the surplus moves
    assert (out != xc).sum() == np.maximum(counts_before - counts_after, 0).sum()
    s = pd.Series(np.array(["x", "y", "z"])[xc])
    eq = equalise_series(s, codes, 0, 2, np.random.default_rng(0))
    assert eq.dtype == s.dtype
    b = pd.Series(xc == 0)
    assert equalise_series(b, codes, 0, 2, np.random.default_rng(0)).dtype == bool


# ------------------------------------------------------------------------ other rule kinds
def test_estimator_rule_and_callable():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    people = planted_people(12, n=3000)
    y = (people["a"] + people["c"] + (people["region"] == "north") + np.random.default_rng(0).normal(size=3000)) > 1
    pre = ColumnTransformer([("num", StandardScaler(), ["a", "b", "c"]), ("cat", OneHotEncoder(), ["region"])])
    model = make_pipeline(pre, LogisticRegression()).fit(people, y)
    rule = Rule.from_estimator(model, features=["a", "b", "c", "region"], tiers={"approve": 0.5}, name="m")
    res = proxy_analysis(rule, people, ["gender"], seed=0, shapley_samples=300)
    d = res.to_dict()
    assert d["status"] == "ok" and d["methods"]["additive"] is False
    assert d["ranking"][0]["feature"] == "a"
    assert {r["kind"] for r in d["ranking"]} == {"column"}
    assert all(r["variance_share"] is None for r in d["ranking"])
    rec = d["decomposition"][0]
    assert rec["method"] == "shapley"
    assert abs(rec["gap"] - sum(x["contribution"] for x in rec["contributions"])) < 1e-9
    kinds = {r["how"] for r in d["neutralisation"] if r["method"] == "removed"}
    assert kinds == {"set to its population mean", "set to its most common value"}
    json.dumps(d, allow_nan=False)


def test_callable_rule_without_declared_features():
    people = planted_people(13, n=2000)
    rule = Rule.from_callable(lambda df: 500 + 10 * df["a"] + 10 * df["b"], tiers={"gold": 505}, name="f")
    res = proxy_analysis(rule, people, ["gender"], seed=0, neutralise=False)
    feats = {r["feature"] for r in res.ranking}
    assert feats == {"a", "b", "c", "d", "unused", "region"}  # every non-protected column
    inf = {r["feature"]: r["influence"] for r in res.influence}
    assert inf["unused"] == 0.0 and inf["region"] == 0.0


# ------------------------------------------------------------------------ report contract
def test_determinism_by_seed(sesame):
    people, graph = sesame
    a = proxy_analysis("sesame", people, ["gender", "ethnicity"], graph=graph, seed=5).to_dict()
    b = proxy_analysis("sesame", people, ["gender", "ethnicity"], graph=graph, seed=5).to_dict()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_json_ready_and_suppression(sesame):
    people, graph = sesame
    people = people.copy()
    people.loc[:4, "ethnicity"] = "tiny group"  # 5 people, below the disclosure threshold
    res = proxy_analysis("sesame", people, ["gender", "ethnicity"], graph=graph, seed=0, disclosure_threshold=10)
    d = res.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert "NaN" not in text
    tiny = [r for r in d["decomposition"] if r["group"].get("ethnicity") == "tiny group"]
    assert tiny and all(r["suppressed"] and r["n"] is None and r["gap"] is None for r in tiny)
    for rec in d["neutralisation"]:
        for grp in rec["groups"]:
            if grp["group"].get("ethnicity") == "tiny group":
                assert grp["suppressed"] and grp["n"] is None and grp["after"] is None
    assert d["methods"]["sampling"]["per_attribute"][0]["sampled"] is False
    for frame_name in _result.TABLES:
        assert isinstance(res.to_frame(frame_name), pd.DataFrame)


def test_subsampling_is_recorded():
    people = planted_people(14, n=3000)
    res = proxy_analysis(points_rule(), people, ["gender"], seed=0, cv_max_rows=1000, neutralise=False)
    s = res.to_dict()["methods"]["sampling"]["per_attribute"][0]
    assert s["sampled"] and s["rows_used"] == 1000 and s["rows_available"] == 3000
    assert any("subsample" in n for n in res.notes)


def test_repr_html_escapes_user_strings():
    people = planted_people(15, n=1500)
    people["gender"] = np.where(people["gender"] == "female", "<script>alert(1)</script>", "m&m")
    people = people.rename(columns={"a": "<b>a</b>"})
    rule = Rule.from_callable(lambda df: 500 + 10 * df["<b>a</b>"] + 10 * df["b"], tiers={"<i>t</i>": 505},
                              name="x", features=["<b>a</b>", "b"])
    html_text = proxy_analysis(rule, people, ["gender"], seed=0, notable_change=0.0)._repr_html_()
    assert "<script>" not in html_text and "<b>a</b>" not in html_text and "<i>t</i>" not in html_text
    assert "&lt;b&gt;a&lt;/b&gt;" in html_text


def test_annotate_pushed_out():
    people = planted_people(16)
    res = proxy_analysis(points_rule(), people, ["gender", "region"], seed=0, neutralise=False,
                         reference={"gender": "male"})
    entries = [
        {"attributes": ["gender"], "group": {"gender": "female"}, "tier": "gold", "mechanism": "direct",
         "reference_group": {"gender": "male"}, "impact_ratio": 0.6},
        {"attributes": ["gender", "region"], "group": {"gender": "female", "region": "north"}, "tier": "gold",
         "mechanism": "direct+network", "reference_group": {"gender": "male", "region": "south"}},
        {"attributes": ["gender"], "group": {"gender": "nobody"}, "tier": "gold", "mechanism": "direct"},
    ]
    out = res.annotate_pushed_out(entries)
    assert len(out) == 3 and entries[0]["mechanism"] == "direct"  # copies; nothing dropped
    assert all(set(e) <= set(o) for e, o in zip(entries, out, strict=True))
    first = out[0]
    assert first["top_proxies"][0]["feature"] in ("a", "t_a")
    assert len(first["top_proxies"]) <= 3
    names = [p["feature"] for p in first["top_proxies"]]
    assert not ({"a", "t_a"} <= set(names))  # a column and a term reading it are not both listed
    for p in first["top_proxies"]:
        assert set(p) >= {"feature", "association", "influence", "proxy_strength", "gap_share", "mean_gap_share"}
        assert p["gap_share"] is None  # no neutralisation: no tier-specific share
        assert p["mean_gap_share"] > 0
    # mean_gap_share vs the reference group = the decomposition's share (reference: the decomposition record)
    rec = next(r for r in res.decomposition if r["group"] == {"gender": "female"})
    line = next(x for x in rec["contributions"] if x["feature"] == "t_" + first["top_proxies"][0]["feature"]
                .removeprefix("t_"))
    assert first["top_proxies"][0]["mean_gap_share"] == pytest.approx(line["share"], abs=1e-9)
    # A carries most of women's gap in this design and the rule does not read gender: "proxy"
    assert first["top_proxies"][0]["mean_gap_share"] >= 0.5
    assert first["mechanism"] == "proxy"
    # intersection vs a non-reference comparison group: differences of contributions (exact, additive)
    sec = out[1]
    recs = {tuple(sorted(r["group"].items())): r for r in res.decomposition if len(r["attributes"]) == 2}
    g1 = recs[(("gender", "female"), ("region", "north"))]
    g2 = recs.get((("gender", "male"), ("region", "south")))
    for p in sec["top_proxies"]:
        if p["kind"] != "term":
            continue
        c1 = next(x["contribution"] for x in g1["contributions"] if x["feature"] == p["feature"])
        c2 = 0.0 if g2 is None else next(x["contribution"] for x in g2["contributions"] if x["feature"] == p["feature"])
        gap = g1["gap"] - (0.0 if g2 is None else g2["gap"])
        assert p["mean_gap_share"] == pytest.approx((c1 - c2) / gap, abs=1e-9)
    # the provisional "direct" is replaced, the network suffix kept
    assert sec["mechanism"] in ("proxy+network", "indirect+network")
    # a group the analysis does not know: no share, so every candidate is listed and no proxy is claimed
    assert out[2]["top_proxies"] and out[2]["mechanism"] == "indirect"
    assert res.annotate_pushed_out(out) == out  # idempotent
    # list mechanisms stay lists; "network" alone (the friends term causes it) is kept
    lst = res.annotate_pushed_out([{**entries[0], "mechanism": ["direct", "network"]},
                                   {**entries[0], "mechanism": "network"}])
    assert lst[0]["mechanism"] == ["proxy", "network"] and lst[1]["mechanism"] == "network+proxy"


def test_mechanism_vocabulary_protected_proxy_indirect():
    """"protected" exactly when the rule reads one of the entry's attributes (a term reading it counts)."""
    spec = PLANTED_SPEC.replace(
        "tiers:", "  - {id: t_g, label: women's malus, when: 'gender == \"female\"', points: -3, illustrative: true}\ntiers:")
    people = planted_people(16)
    res = proxy_analysis(points_rule(spec), people, ["gender", "region"], seed=0, reference={"gender": "male"})
    assert "gender" in res._reads and "region" not in res._reads
    # men are the ones pushed out here (women have the higher A)
    e = {"attributes": ["gender"], "group": {"gender": "male"}, "tier": "top", "mechanism": "direct",
         "reference_group": {"gender": "female"}}
    inter = {"attributes": ["gender", "region"], "group": {"gender": "male", "region": "north"},
             "tier": "top", "mechanism": "direct+network"}
    reg = {"attributes": ["region"], "group": {"region": "north"}, "tier": "gold", "mechanism": "direct"}
    out = res.annotate_pushed_out([e, inter, reg])
    # the rule reads gender (through t_g), and equalising A closes most of men's gap: both are said
    top = out[0]["top_proxies"][0]
    assert top["feature"] in ("a", "t_a") and top["proxy"] and top["gap_share"] >= 0.5
    assert out[0]["mechanism"] == "protected+proxy"
    assert out[1]["mechanism"].startswith("protected") and out[1]["mechanism"].endswith("+network")
    # region: not read, and no input is associated with it (no flagged proxy): indirect
    assert not any(r["proxy"] for r in res.ranking if r["attribute"] == "region")
    assert out[2]["mechanism"] == "indirect"
    # the t_g term reads gender: never a proxy candidate (it is protected use)
    assert all(p["feature"] != "t_g" for p in out[0]["top_proxies"])
    # the combinations, one by one
    mech = _result._mechanism
    assert mech("direct", reads=True, proxy=False) == "protected"
    assert mech("direct+network", reads=True, proxy=False) == "protected+network"
    assert mech("direct+network", reads=True, proxy=True) == "protected+proxy+network"
    assert mech(None, reads=False, proxy=True) == "proxy"
    assert mech("direct", reads=False, proxy=False) == "indirect"
    assert mech(["direct", "network"], reads=False, proxy=False) == ["indirect", "network"]
    assert mech("indirect+network", reads=False, proxy=False) == "indirect+network"  # idempotent
    m = res.to_dict()["methods"]["mechanism"]
    assert m["vocabulary"] == ["protected", "proxy", "indirect", "observed"]
    assert m["combinable_with"] == "network"
    assert m["joiner"] == "+"


def _variance_proxy_people(n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """x: same mean in both groups, much smaller spread for women (keeps them out of a top tier);
    y: women half a standard deviation lower (the whole mean gap), same spread."""
    rng = np.random.default_rng(seed)
    male = rng.random(n) < 0.55
    return pd.DataFrame({
        "x": np.where(male, rng.normal(0, 1.5, n), rng.normal(0, 0.5, n)),
        "y": np.where(male, rng.normal(0, 1, n), rng.normal(-0.5, 1, n)),
        "gender": np.where(male, "male", "female"),
    })


VARIANCE_SPEC = """
name: spread
title: spread vs mean
status: illustrative
base: 500
terms:
  - {id: t_x, label: spread X, value: x, weight: 10, illustrative: true}
  - {id: t_y, label: mean Y, value: y, weight: 10, illustrative: true}
tiers:
  - {name: top, top_fraction: 0.03, illustrative: true}
  - {name: half, top_fraction: 0.5, illustrative: true}
"""


def test_gap_share_is_tier_specific():
    people = _variance_proxy_people()
    res = proxy_analysis(points_rule(VARIANCE_SPEC), people, ["gender"], seed=0)
    base = {"attributes": ["gender"], "group": {"gender": "female"}, "mechanism": "direct",
            "reference_group": {"gender": "male"}}
    top, half = res.annotate_pushed_out([{**base, "tier": "top"}, {**base, "tier": "half"}])
    share = {t: {p["feature"].removeprefix("t_"): p for p in e["top_proxies"]}
             for t, e in (("top", top), ("half", half))}
    # the mean-score gap is y's (x has the same mean in both groups) in both tiers ...
    for t in ("top", "half"):
        assert share[t]["y"]["mean_gap_share"] == pytest.approx(1.0, abs=0.1)
        assert abs(share[t]["x"]["mean_gap_share"]) < 0.1
    # ... but the top tier's gap is x's: the tier-specific share says so, and names the mechanism
    assert share["top"]["x"]["gap_share"] > 0.5 > share["top"]["y"]["gap_share"]
    assert share["half"]["y"]["gap_share"] > 0.5 > share["half"]["x"]["gap_share"]
    # consistency (not a reference): annotate_pushed_out agrees with the published equalised records;
    # the independent recount by hand is in test_intersection_gap_share_equalises_the_intersection
    for t, e in (("top", top), ("half", half)):
        for p in e["top_proxies"]:
            rec = next(r for r in res.neutralisation if r["feature"] == p["feature"] and r["method"] == "equalised")
            grp = next(g for g in rec["groups"] if g["group"] == {"gender": "female"})
            j = rec["tiers"].index(t)
            r0, r1 = grp["before"][j], grp["after"][j]
            assert p["gap_share"] == pytest.approx((r1 - r0) / (1 - r0), abs=0.01)  # from 3-decimal ratios
    assert top["mechanism"] == "proxy" and half["mechanism"] == "proxy"
    text = res.to_dict()["methods"]["pushed_out"]
    assert "tier-specific" in text["gap_share"] and "mean own-score gap" in text["mean_gap_share"]


def test_intersection_gap_share_equalises_the_intersection():
    people = planted_people(16)
    res = proxy_analysis(points_rule(), people, ["gender", "region"], seed=0, reference={"gender": "male"})
    e = {"attributes": ["gender", "region"], "group": {"gender": "female", "region": "north"}, "tier": "gold",
         "mechanism": "direct"}
    out = res.annotate_pushed_out([e])[0]
    # (a decoy whose equalisation moves only a handful of the group's people has its gap_share suppressed
    # and is judged by its mean_gap_share)
    assert out["top_proxies"] and out["top_proxies"][0]["gap_share"] is not None
    assert all((p["gap_share"] if p["gap_share"] is not None else p["mean_gap_share"]) > 0
               for p in out["top_proxies"])
    # reference: equalise the input over the intersection by hand, rescore, recount with pandas
    from audit.groups import build_groupings
    from audit.proxy._common import rng_for

    p = out["top_proxies"][0]
    g = next(h for h in build_groupings(people, ["gender", "region"], max_order=2) if len(h.attributes) == 2)
    ref = int(np.argmax(g.counts)) if ("male", "east") not in g.values else g.values.index(
        max((v for v in g.values if v[0] == "male"), key=lambda v: g.counts[g.values.index(v)]))
    rule = points_rule()
    col = p["feature"].removeprefix("t_")
    x = people[col].to_numpy(dtype=float)
    if p["kind"] == "term":
        x = 10 * x if col in ("a", "b") else (15 * x if col == "c" else 5 * x)
    order = equalise.ascending_order(x, rng_for(0, "equalise", p["kind"], p["feature"]))
    new = equalise_numeric(x, g.codes, ref, g.n_groups, order=order)
    if p["kind"] == "term":
        scores = rule.own_scores(people) - x + new
    else:
        scores = rule.own_scores(people.assign(**{col: new}))
    key = people["gender"] + "&" + people["region"]
    before = _impact_by_pandas(rule, people.assign(k=key), rule.own_scores(people), "k")
    after = _impact_by_pandas(rule, people.assign(k=key), scores, "k")
    r0, r1 = before.loc["female&north", "gold"], after.loc["female&north", "gold"]
    assert p["gap_share"] == pytest.approx((r1 - r0) / (1 - r0), abs=5e-4 + 1e-9)  # rounded to 3 decimals


def test_run_hook_writes_ranking(sesame):
    people, _ = sesame
    report = audit.run("sesame", people, protected=["gender", "ethnicity"], families=["proxy"], seed=0)
    doc = report.to_dict()
    ranking = doc["proxy"]["ranking"]
    assert ranking and all(k in ranking[0] for k in ("feature", "attribute", "association", "influence",
                                                     "proxy_strength"))
    assert [r["proxy_strength"] for r in ranking] == sorted((r["proxy_strength"] for r in ranking), reverse=True)
    json.dumps(doc, allow_nan=False)


def test_redundant_encoding_score_vs_inputs():
    people = planted_people(17, n=3000)
    rec = redundant_encoding(points_rule(), people, ["gender", "region"])
    by = {r["attribute"]: r for r in rec}
    assert by["gender"]["auc_inputs"] > 0.8 and by["gender"]["auc_score"] > 0.55
    assert by["region"]["auc_inputs"] == pytest.approx(0.5, abs=0.05)  # region is independent of everything


def test_doctests_pass():
    import audit.proxy as proxy_pkg

    for mod in (proxy_pkg, _association, equalise, _analyses, _result):
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, mod.__name__


def test_fast_paths_match_reference_implementations():
    rng = np.random.default_rng(18)
    n = 5000
    g = rng.integers(0, 3, n)
    x = np.round(rng.normal(size=n) + 0.3 * g, 1)
    xc = x - x.mean()
    # eta from centred values == the general function
    assert _association.eta_centered(xc, float(xc @ xc), g, np.bincount(g)) == pytest.approx(
        correlation_ratio(x, g, 3), abs=1e-12)
    # cv_auc bins the sorted sample; reference: the same classifier with np.quantile edges and
    # np.searchsorted per row, AUC by sklearn
    splits = fold_indices(g, 5, 0)
    ref = []
    for tr, te in splits:
        nbins = min(32, max(2, len(tr) // 50))
        edges = np.unique(np.quantile(x[tr], np.linspace(0, 1, nbins + 1)[1:-1]))
        btr, bte = np.searchsorted(edges, x[tr]), np.searchsorted(edges, x[te])
        nb = len(edges) + 1
        counts = np.bincount(btr * 3 + g[tr], minlength=nb * 3).reshape(nb, 3)
        prior = np.bincount(g[tr], minlength=3) / len(tr)
        probs = (counts + prior) / (counts.sum(axis=1, keepdims=True) + 1)
        ref.append(roc_auc_score(g[te], probs[bte], multi_class="ovr"))
    assert cv_auc(x, g, 3, splits, categorical=False) == pytest.approx(np.mean(ref), abs=1e-9)
    # ascending order: values ascending, ties in (seeded) random order, missing last
    xs = np.r_[np.round(rng.normal(size=1000), 1), np.nan]
    o = equalise.ascending_order(xs, np.random.default_rng(0))
    assert np.all(np.diff(xs[o][:-1]) >= 0) and np.isnan(xs[o][-1])
    assert sorted(o.tolist()) == list(range(len(xs)))


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_incremental_impact_ratios_equal_a_recount(sesame, higher_is_better):
    from audit.impact import impact_ratios, tier_is_favourable
    from audit.proxy._common import ImpactState, prepare

    people, graph = sesame
    base = audit.load_rule("sesame")
    rule = Rule.from_callable(base.own_scores, tiers=list(base.tiers), name="s", features=list(base.features),
                              higher_is_better=higher_is_better)
    prep = prepare(rule, people, ["gender", "ethnicity"])
    state = ImpactState(prep.rule, prep.final, prep.groupings, 30)
    final2 = prep.final + np.random.default_rng(0).normal(0, 25, prep.n)
    after = state.after(final2, prep.groupings)
    att = rule.attainment(final2)
    fav = np.array([tier_is_favourable(t, higher_is_better) for t in rule.tiers])
    # reference: audit.impact.impact_ratios recounted from scratch on the favourable outcome
    ref_att = np.where(fav[None, :], att, ~att)
    for g in prep.groupings:
        np.testing.assert_array_equal(after[g.key].ratio, impact_ratios(ref_att, g, min_group_size=30))
        if len(g.attributes) == 1:  # the publication mask: the two-cell rule recomputed with pandas
            ok = _publishable_by_pandas(rule, people, final2, g.attributes[0])
            expected = np.array([[bool(ok.loc[g.values[c][0], t.name]) for t in rule.tiers]
                                 for c in range(g.n_groups)])
            np.testing.assert_array_equal(after[g.key].ok, expected)


# ------------------------------------------------------------------------ disclosure of counts (review)
CONDITION_SPEC = """
name: cond
title: condition term
status: illustrative
base: 500
terms:
  - {id: t_a, label: planted A, value: a, weight: 10, illustrative: true}
  - {id: t_f, label: flag F, when: f, points: 20, illustrative: true}
tiers:
  - {name: gold, threshold: 505, illustrative: true}
"""


def _condition_people(seed: int = 30) -> pd.DataFrame:
    people = planted_people(seed, n=3000)
    rng = np.random.default_rng(seed)
    people["f"] = rng.random(len(people)) < 0.3
    # east: exactly 7 people hold the condition (a small count: k in 1..9)
    east = np.flatnonzero(people["region"].to_numpy() == "east")
    people.loc[east, "f"] = False
    people.loc[east[:7], "f"] = True
    return people


def test_decomposition_hides_small_condition_counts_and_rounds():
    """The reviewer solved points x k / n for k from full-precision contributions of a 0/1 term."""
    people = _condition_people()
    recs = gap_decomposition(points_rule(CONDITION_SPEC), people, ["region"], reference={"region": "north"})
    by = {r["group"]["region"]: r for r in recs}
    # east's count (7) is not publishable: its 'flag F' line, gap, mean and shares are suppressed
    east = {x["feature"]: x for x in by["east"]["contributions"]}
    assert east["t_f"]["contribution"] is None and east["t_f"]["suppressed"]
    assert by["east"]["gap"] is None and by["east"]["mean_score"] is None
    assert all(x["share"] is None for x in by["east"]["contributions"])
    assert east["t_a"]["contribution"] is not None  # the continuous term is still published
    # protect_lines: east alone hidden in the region line would be the total minus the others -> south too
    south = {x["feature"]: x for x in by["south"]["contributions"]}
    assert south["t_f"]["contribution"] is None and by["south"]["gap"] is None
    # every published number is rounded: contributions, means, gaps to 0.01; shares to 3 decimals
    for rec in recs:
        for key in ("gap", "mean_score", "mean_score_reference"):
            if rec[key] is not None:
                assert rec[key] == round(rec[key], 2)
        for x in rec["contributions"]:
            if x["contribution"] is not None:
                assert x["contribution"] == round(x["contribution"], 2)
            if x["share"] is not None:
                assert x["share"] == round(x["share"], 3)
    # no published 'flag F' line rests on a small count (reference: pandas)
    k = people.groupby("region")["f"].sum()
    n = people.groupby("region").size()
    for g, rec in by.items():
        line = next(x for x in rec["contributions"] if x["feature"] == "t_f")
        if line["contribution"] is not None:
            assert not _small(k[g]) and not _small(n[g] - k[g]) and not _small(k["north"])
    # and a pushed-out entry gets no mean_gap_share from a record with hidden lines
    res = proxy_analysis(points_rule(CONDITION_SPEC), people, ["region"], seed=0, intersections=1,
                         reference={"region": "north"})
    out = res.annotate_pushed_out([{"attributes": ["region"], "group": {"region": "east"}, "tier": "gold",
                                    "mechanism": "direct"}])[0]
    assert all(p["mean_gap_share"] is None for p in out["top_proxies"])


def test_decomposition_publishes_condition_lines_with_large_counts():
    people = _condition_people()
    people.loc[people["region"] == "east", "f"] = np.arange((people["region"] == "east").sum()) % 3 == 0
    recs = gap_decomposition(points_rule(CONDITION_SPEC), people, ["region"], reference={"region": "north"})
    for rec in recs:
        assert rec["gap"] is not None
        line = next(x for x in rec["contributions"] if x["feature"] == "t_f")
        assert line["contribution"] is not None and not line["suppressed"]
        assert line["share"] is not None


def test_neutralisation_hides_after_when_a_handful_change_tier():
    """before 305/325 vs after 313/325 told that exactly 8 people of a group change tier."""
    people = planted_people(31, n=3000)
    people["f"] = False
    rule = points_rule(CONDITION_SPEC)
    # the least favoured region (so that it is not the most favoured one after the change)
    rates = pd.Series(rule.attainment(rule.own_scores(people))[:, 0]).groupby(people["region"].to_numpy()).mean()
    worst = rates.idxmin()
    others = [g for g in rates.index if g != worst]
    rows = np.flatnonzero((people["region"].to_numpy() == worst) & (rule.own_scores(people) < 485))[:8]
    people.loc[rows, "f"] = True  # 8 people of that region get 20 points from 'flag F'
    people.loc[rows, "a"] = -1.0  # 490 + 20 >= 505 with the flag, 490 without
    out = neutralisation(rule, people, ["region"], inputs=["t_f"], methods=["removed"])
    rec = out["records"][0]
    final0 = rule.own_scores(people)
    final1 = rule.without_terms(["t_f"]).own_scores(people)
    moved = pd.Series(rule.attainment(final0)[:, 0] != rule.attainment(final1)[:, 0]).groupby(
        people["region"].to_numpy()).sum()
    assert moved[worst] == 8 and all(moved[g] == 0 for g in others)
    grp = {g["group"]["region"]: g for g in rec["groups"]}
    assert grp[worst]["before"][0] is not None
    assert grp[worst]["after"][0] is None and grp[worst]["change"][0] is None
    for g in others:  # nobody moved there; the most favoured group did not move either
        assert grp[g]["after"][0] is not None and grp[g]["change"][0] == 0.0
    assert not [s for s in out["notable_changes"] if s["group"] == {"region": worst}]
    # ratios are rounded to 3 decimals
    for g in grp.values():
        for v in (g["before"] or []) + (g["after"] or []) + (g["change"] or []):
            if v is not None:
                assert v == round(v, 3)


def test_neutralisation_hides_every_after_when_the_most_favoured_group_moves_a_handful():
    people = planted_people(32, n=3000)
    people["f"] = False
    rule = points_rule(CONDITION_SPEC)
    # find the most favoured region, and move 5 of its people over the threshold by the flag
    rates = pd.Series(rule.attainment(rule.own_scores(people))[:, 0]).groupby(people["region"].to_numpy()).mean()
    best = rates.idxmax()
    rows = np.flatnonzero((people["region"].to_numpy() == best) & (rule.own_scores(people) < 485))[:5]
    people.loc[rows, "f"] = True
    people.loc[rows, "a"] = -1.0  # 490 + 20 = 510 >= 505 with the flag, 490 without
    out = neutralisation(rule, people, ["region"], inputs=["t_f"], methods=["removed"])
    for g in out["records"][0]["groups"]:
        assert g["after"][0] is None and g["change"][0] is None


def test_observed_score_is_not_its_own_proxy():
    people = planted_people(33, n=2000)
    people["decile"] = np.clip((people["a"] * 3 + 5).round(), 1, 10)
    rule = Rule.from_observed("decile", tiers={"high": 7}, name="deciles", higher_is_better=False)
    res = proxy_analysis(rule, people, ["gender"], seed=0)
    assert res.status == "partial"
    assert res.ranking == [] and res.influence == [] and res.decomposition == [] and res.neutralisation == []
    assert any(n.startswith("observed outputs only: the rule's inputs are unknown") for n in res.notes)
    enc = res.redundant_encoding[0]
    assert enc["auc_score"] > 0.6 and enc["auc_inputs"] is None and enc["inputs"] == []
    entries = [{"attributes": ["gender"], "group": {"gender": "female"}, "tier": "high", "mechanism": "direct"},
               {"attributes": ["gender"], "group": {"gender": "female"}, "tier": "high",
                "mechanism": "direct+network"},
               {"attributes": ["gender"], "group": {"gender": "female"}, "tier": "high", "mechanism": ["direct"]}]
    out = res.annotate_pushed_out(entries)
    assert [e["mechanism"] for e in out] == ["observed", "observed+network", ["observed"]]
    assert all(e["top_proxies"] == [] for e in out)
    assert res.annotate_pushed_out(out)[0]["mechanism"] == "observed"  # idempotent
    assert "observed" in res.to_dict()["methods"]["mechanism"]["vocabulary"]
    # the public functions agree: no association / influence / neutralisation of the output itself
    from audit.proxy import association

    assert association(rule, people, ["gender"]) == [] and influence(rule, people) == []
    assert neutralisation(rule, people, ["gender"])["records"] == []
