"""``audit.impact.disparate_impact``: agreement with fairlearn, scipy and hand computation; outputs."""

from __future__ import annotations

import doctest
import html
import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate, selection_rate
from scipy import stats

import audit.impact
import audit.impact._audit
import audit.impact._core
import audit.impact._curve
import audit.impact._result
import audit.rates._claims
import audit.rates._intervals
from audit._errors import AuditInputError
from audit.disclosure import cell_publishable
from audit.groups import build_groupings
from audit.impact import disparate_impact, group_rates, impact_ratios
from audit.rules import Tier

TIERS = [Tier("loan", threshold=600), Tier("car", threshold=650), Tier("visa", threshold=700),
         Tier("top 5%", top_fraction=0.05)]
COUNT_KEYS = {"n", "attained", "rows", "scored", "missing_score", "excluded", "favourable_count",
              "reference_n", "reference_favourable_count", "labelled", "positives", "negatives",
              "tp", "fp", "fn", "tn", "events"}


def population(n=3000, seed=0):
    """Synthetic people: minority A planted 50 points lower; minority C tiny and 150 lower."""
    rng = np.random.default_rng(seed)
    eth = rng.choice(["majority", "minority A", "minority B"], n, p=[0.6, 0.25, 0.15]).astype(object)
    eth[rng.choice(n, 20, replace=False)] = "minority C"
    people = pd.DataFrame({
        "gender": rng.choice(["f", "m"], n),
        "ethnicity": eth,
        "region": rng.choice(["north", "south", "east"], n),
    })
    score = rng.normal(650, 60, n) - 50 * (eth == "minority A") - 150 * (eth == "minority C")
    score = np.round(score)  # ties, as in points tables
    label = (rng.random(n) < 1 / (1 + np.exp((score - 620) / 40))).astype(float)
    return people, score, label


@pytest.fixture(scope="module")
def data():
    people, score, label = population()
    groupings = build_groupings(people, ["gender", "ethnicity", "region"], max_order=3)
    return people, score, label, groupings


@pytest.fixture(scope="module")
def result(data):
    people, score, label, groupings = data
    return disparate_impact(score, groupings, TIERS, labels=label)


def _walk(obj, path="$"):
    """Yield (path, key, value) for every dict entry, recursively."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield path, k, v
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{path}[{i}]")


# ---------------------------------------------------------------- agreement with fairlearn
def test_rates_and_error_rates_equal_metricframe(data):
    # Independent: fairlearn's MetricFrame over the same sensitive features,
    # for single attributes and for 2- and 3-way intersections.
    people, score, label, groupings = data
    tiers = [TIERS[1], TIERS[3]]  # a threshold and a top-fraction tier (MetricFrame is slow)
    res = disparate_impact(score, groupings, tiers, labels=label, disclosure_threshold=0)
    att = np.column_stack([t.attained(score) for t in tiers])
    checked = undefined = 0
    for g in groupings:
        rates = res.rates[res.rates["grouping"] == g.key]
        errors = res.error_rates[res.error_rates["grouping"] == g.key]
        for j, tier in enumerate(tiers):
            mf = MetricFrame(
                metrics={"sel": selection_rate, "fpr": false_positive_rate, "fnr": false_negative_rate},
                y_true=label, y_pred=att[:, j], sensitive_features=people[list(g.attributes)])
            by = mf.by_group
            r = rates[rates["tier"] == tier.name]
            e = errors[errors["tier"] == tier.name]
            for code in range(g.n_groups):
                key = g.values[code] if len(g.attributes) > 1 else g.values[code][0]
                assert abs(r["selection_rate"].iloc[code] - by.loc[key, "sel"]) <= 1e-12
                for metric, den in (("fpr", "negatives"), ("fnr", "positives")):
                    ours = e[metric].iloc[code]
                    if e[den].iloc[code] == 0:
                        # fairlearn reports 0 for a rate with an empty denominator; we say undefined.
                        assert np.isnan(ours) and by.loc[key, metric] == 0
                        undefined += 1
                    else:
                        assert abs(ours - by.loc[key, metric]) <= 1e-12
                checked += 1
    assert checked == sum(g.n_groups for g in groupings) * len(tiers)
    assert undefined < checked


def test_building_blocks(data):
    # Independent: pandas groupby means, and the ratio to the max recomputed by hand.
    people, score, _, groupings = data
    att = np.column_stack([t.attained(score) for t in TIERS])
    g = groupings[4]  # gender & region
    counts, hits = group_rates(att, g)
    by = pd.DataFrame(att).groupby([people[a] for a in g.attributes]).agg(["sum", "count"])
    np.testing.assert_array_equal(hits, by.xs("sum", axis=1, level=1).to_numpy())
    np.testing.assert_array_equal(counts, by.xs("count", axis=1, level=1).to_numpy()[:, 0])
    rates = hits / counts[:, None]
    np.testing.assert_allclose(impact_ratios(att, g), rates / rates.max(axis=0), rtol=1e-14)
    # Many tiers (more than one byte of flags) take the per-column path.
    many = np.repeat(att, 3, axis=1)
    np.testing.assert_array_equal(group_rates(many, g)[1], np.repeat(hits, 3, axis=1))


# ---------------------------------------------------------------- score distributions
def test_distributions_equal_scipy(data, result):
    # Independent: numpy quantiles, scipy's ks_2samp and mannwhitneyu, SMD by hand.
    people, score, _, groupings = data
    g = groupings[1]  # ethnicity
    d = result.distributions[result.distributions["grouping"] == "ethnicity"]
    ref = int(np.argmax(g.counts))
    xr = score[g.codes == ref]
    for code in range(g.n_groups):
        row = d.iloc[code]
        x = score[g.codes == code]
        if len(x) < 30:  # below the minimum group size: no distribution statistics at all
            assert row["suppressed"] and row[["mean", "sd", "q10", "median", "q90", "smd", "ks", "auc"]].isna().all()
            continue
        # Score statistics are published rounded to 1 decimal place.
        assert row["mean"] == round(x.mean(), 1)
        assert row["sd"] == round(x.std(ddof=1), 1)
        np.testing.assert_allclose(row[["q10", "q25", "median", "q75", "q90"]].to_numpy(dtype=float),
                                   np.round(np.quantile(x, [0.1, 0.25, 0.5, 0.75, 0.9]), 1), rtol=1e-14)
        assert row["ks"] == pytest.approx(stats.ks_2samp(x, xr).statistic, abs=1e-12)
        u = stats.mannwhitneyu(x, xr).statistic
        assert row["auc"] == pytest.approx(u / (len(x) * len(xr)), abs=1e-12)
        pooled = np.sqrt(((len(x) - 1) * x.var(ddof=1) + (len(xr) - 1) * xr.var(ddof=1)) / (len(x) + len(xr) - 2))
        assert row["smd"] == pytest.approx((x.mean() - xr.mean()) / pooled, rel=1e-9)


# ---------------------------------------------------------------- verdicts
def test_findings_follow_the_verdict_rule(data, result):
    people, score, _, groupings = data
    po = result.pushed_out()
    assert po, "the planted group must be listed"
    required = {"verdict", "attributes", "group", "tier", "n", "selection_rate", "reference_group",
                "reference_rate", "impact_ratio", "ci_low", "ci_high", "ratio_upper_bound", "p_value", "q_value",
                "parity_p_value", "parity_q_value", "parent", "aliases", "mechanism", "suppressed"}
    for e in po:
        assert required <= set(e) and e["verdict"] == "pushed out"
        assert e["mechanism"] == "direct"
        assert e["n"] >= 30
        assert e["group"] != e["reference_group"]
        assert e["group"].get("ethnicity") != "minority C"  # 20 people: never named
        if not e["suppressed"]:
            assert e["q_value"] < 0.05 and e["ratio_upper_bound"] < 0.8
            assert e["impact_ratio"] <= e["ratio_upper_bound"]
            # Recomputable by hand from the counts shown.
            # (Published to 10 decimal places.)
            assert e["selection_rate"] == pytest.approx(e["favourable_count"] / e["n"], abs=1e-10)
            assert e["reference_rate"] == pytest.approx(e["reference_favourable_count"] / e["reference_n"], abs=1e-10)
            assert e["impact_ratio"] == pytest.approx(e["selection_rate"] / e["reference_rate"], rel=1e-8)
            assert e["ci_low"] <= e["impact_ratio"] <= e["ci_high"]
    assert any(e["attributes"] == ["ethnicity"] and e["group"] == {"ethnicity": "minority A"} for e in po)
    # Publishable findings first, most excluded first; then the suppressed ones in name order.
    flags = [e["suppressed"] for e in po]
    assert flags == sorted(flags)
    ratios = [e["impact_ratio"] for e in po if not e["suppressed"]]
    assert ratios == sorted(ratios)
    # The tiny group does have a lower rate: it is shown, flagged, and not listed.
    tiny = result.rates[(result.rates["grouping"] == "ethnicity") & (result.rates["group"] == "ethnicity=minority C")]
    assert tiny["small_group"].all() and tiny["verdict"].isna().all()
    # The most favoured group is never listed.
    r = result.rates
    assert not (r["verdict"].notna() & (r["code"] == r["most_favoured_code"])).any()
    # Every row whose figures are published satisfies its verdict's rule, and every row satisfying a rule
    # is listed with that verdict; on an unsuppressed run, for every row.
    for rates in (r, disparate_impact(score, groupings, TIERS, disclosure_threshold=0).rates):
        shown = rates["q_value"].notna()
        pushed = (rates["q_value"] < 0.05) & ~rates["small_group"]
        parity = (rates["parity_q_value"] < 0.05) & ~rates["small_group"] & ~pushed
        assert (pushed == (rates["verdict"] == "pushed out"))[shown].all()
        assert (parity == (rates["verdict"] == "below parity"))[shown].all()
    raw = disparate_impact(score, groupings, TIERS, disclosure_threshold=0)
    pushed = (raw.rates["q_value"] < 0.05) & ~raw.rates["small_group"]
    parity = (raw.rates["parity_q_value"] < 0.05) & ~raw.rates["small_group"] & ~pushed
    assert len(raw.findings) == int(pushed.sum() + parity.sum())
    # An intersection listed under a broader group's finding names it as its parent, which exists.
    keys = {(tuple(e["attributes"]), tuple(e["group"].items()), e["tier"]) for e in result.findings.to_dict()}
    for e in result.findings.to_dict():
        if e["parent"] is not None:
            p = e["parent"]
            assert (tuple(p["attributes"]), tuple(p["group"].items()), e["tier"]) in keys
            assert set(p["attributes"]) < set(e["attributes"])


def test_most_favoured_and_reference(data):
    people, score, _, groupings = data
    res = disparate_impact(score, groupings[:2], TIERS[:1],
                           reference={"ethnicity": "minority B", "gender": "f"})
    r = res.rates.set_index(["grouping", "group"])
    assert (r.loc["ethnicity", "reference"] == "ethnicity=minority B").all()
    assert (r.loc["gender", "reference"] == "gender=f").all()
    # Most favoured = highest rate among groups of >= 30 (minority C has 20).
    eth = r.loc["ethnicity"]
    big = eth[~eth["small_group"]]
    assert eth["most_favoured"].iloc[0] == big["selection_rate"].idxmax()
    # Intersection reference: the combination if present.
    res2 = disparate_impact(score, groupings, TIERS[:1], reference={"ethnicity": "minority B", "gender": "f"})
    ge = res2.rates[res2.rates["grouping"] == "gender & ethnicity"]
    assert (ge["reference"] == "gender=f & ethnicity=minority B").all()
    with pytest.raises(AuditInputError, match="not in the data"):
        disparate_impact(score, groupings[:2], TIERS[:1], reference={"ethnicity": "martian"})
    with pytest.raises(AuditInputError, match="not a protected attribute"):
        disparate_impact(score, groupings[:2], TIERS[:1], reference={"age": "old"})


def test_q_values_are_bh_over_every_candidate(data, result):
    # Independent: hand-written BH (step-up) over every candidate of the whole audit, on the
    # unsuppressed figures; suppression must not change any published q-value.
    def bh_by_hand(p):
        m, order = len(p), np.argsort(p)
        q, running = np.empty(m), 1.0
        for rank in range(m, 0, -1):
            running = min(running, p[order[rank - 1]] * m / rank)
            q[order[rank - 1]] = running
        return q

    people, score, label, groupings = data
    raw = disparate_impact(score, groupings, TIERS, labels=label, disclosure_threshold=0)
    r = raw.rates
    cand = r[r["p_value"].notna()]
    assert len(cand) == raw.n_candidates == result.n_candidates
    assert not cand["small_group"].any() and (r[~r["small_group"]]["p_value"].notna()).all()
    np.testing.assert_allclose(cand["q_value"].to_numpy(), bh_by_hand(cand["p_value"].to_numpy()), rtol=1e-12)
    np.testing.assert_allclose(cand["parity_q_value"].to_numpy(), bh_by_hand(cand["parity_p_value"].to_numpy()),
                               rtol=1e-12)
    ref = r[r["ref_p_value"].notna()]
    assert len(ref) == raw.n_reference
    np.testing.assert_allclose(ref["ref_q_value"].to_numpy(), bh_by_hand(ref["ref_p_value"].to_numpy()), rtol=1e-12)
    # With disclosure control, every figure is computed from the published counts; a cell that is
    # published exactly (not rounded) keeps its exact rate and ratio to the same comparator.
    pub = result.rates
    same = pub["attained"].notna() & ~pub["rounded"] & (pub["most_favoured_code"] == r["most_favoured_code"])
    mf_exact = pub.set_index(["grouping", "code", "tier"])
    ok = same & np.array([not mf_exact.loc[(g, c, t), "rounded"] for g, c, t in
                          zip(pub["grouping"], pub["most_favoured_code"].clip(lower=0), pub["tier"], strict=True)])
    assert ok.any()
    for col in ("selection_rate", "impact_ratio"):
        np.testing.assert_allclose(pub.loc[ok, col].to_numpy(), r.loc[ok, col].to_numpy(), rtol=1e-12)


def test_fisher_used_for_small_cells(data):
    # The switch, recomputed from the 2x2 tables with scipy's expected frequencies.
    people, score, _, groupings = data
    res = disparate_impact(score, groupings[:2], TIERS, disclosure_threshold=0)
    r = res.rates
    by_code = r.set_index(["grouping", "code", "tier"])
    for row in r[r["ref_test"] != ""].itertuples():
        mf = by_code.loc[(row.grouping, row.reference_code, row.tier)]
        x1, n1 = int(row.favourable_rate * row.n + 0.5), int(row.n)
        x2, n2 = int(mf["favourable_rate"] * mf["n"] + 0.5), int(mf["n"])
        expected = stats.contingency.expected_freq([[x1, n1 - x1], [x2, n2 - x2]])
        assert row.ref_test == ("fisher" if expected.min() < 5 else "score")
    assert set(r["ref_test"]) == {"", "fisher", "score"}


# ---------------------------------------------------------------- disclosure control
def test_no_small_count_in_any_output(result):
    doc = result.to_dict()
    seen = 0
    for path, key, value in _walk(doc):
        if key in COUNT_KEYS and isinstance(value, int) and not isinstance(value, bool):
            seen += 1
            assert value == 0 or value >= 10, (path, key, value)  # zeros are published (shared rule)
    assert seen > 100
    suppressed = [v for _, k, v in _walk(doc) if k == "suppressed"]
    assert True in suppressed  # minority C (20 people) has cells under 10
    for frame in (result.groups, result.rates, result.error_rates, result.calibration, result.curve):
        for col in set(frame.columns) & COUNT_KEYS | ({"favourable"} & set(frame.columns)):
            if frame[col].dtype == "Int64":
                vals = frame[col].dropna()
                assert ((vals == 0) | (vals >= 10)).all(), col
    # Rates next to a suppressed count are suppressed too.
    r = result.rates
    assert r.loc[r["attained"].isna(), "selection_rate"].isna().all()
    html_text = result._repr_html_()
    assert "minority C" in html_text


def test_suppression_can_be_disabled(data):
    people, score, label, groupings = data
    res = disparate_impact(score, groupings[:2], TIERS, disclosure_threshold=0)
    assert not res.rates["suppressed"].any()
    assert res.rates["attained"].notna().all()


# ---------------------------------------------------------------- risk scores, top-k, labels, missing
def test_lower_is_better():
    # A risk score: group b is placed in "High" more often, so it is pushed out
    # of the favourable outcome "not placed in High"; the curve cuts at score <= t.
    rng = np.random.default_rng(7)
    people = pd.DataFrame({"g": np.repeat(["a", "b"], 600)})
    risk = np.concatenate([rng.integers(1, 9, 600), rng.integers(4, 11, 600)]).astype(float)
    tiers = [Tier("Low", at_most=4), Tier("High", threshold=8)]
    res = disparate_impact(risk, build_groupings(people, ["g"]), tiers, higher_is_better=False)
    assert res.outcomes.direction == (True, False)
    r = res.rates.set_index(["group", "tier"])
    b_high = r.loc[("g=b", "High")]
    assert b_high["selection_rate"] == np.mean(risk[600:] >= 8)
    assert b_high["favourable_rate"] == pytest.approx(1 - np.mean(risk[600:] >= 8))
    assert b_high["most_favoured"] == "g=a" and b_high["verdict"] == "pushed out"
    assert {(e["tier"], e["group"]["g"]) for e in res.pushed_out()} == {("Low", "b"), ("High", "b")}
    assert res.pushed_out()[0]["outcome"] in ("attains 'Low'", "is not placed in 'High'")
    d = res.distributions.set_index("group")
    assert d.loc["g=b", "smd"] < 0 and d.loc["g=b", "auc"] < 0.5  # worse off, despite higher mean
    u = stats.mannwhitneyu(risk[600:], risk[:600]).statistic / 600**2
    assert d.loc["g=b", "auc"] == pytest.approx(1 - u, abs=1e-12)
    c = res.curve[res.curve["group"] == "g=b"]
    expected = np.array([np.mean(risk[600:] <= x) for x in c["threshold"]])
    shown = c["rate"].notna().to_numpy()
    np.testing.assert_allclose(c["rate"][shown], expected[shown])
    # Shown exactly where the group's cell is publishable (zeros included) and at least 10 people of
    # the whole population lie on each side of the cut.
    k = np.round(expected * 600)
    pop_fav = np.array([np.sum(risk <= x) for x in c["threshold"]])
    rule = cell_publishable(k, 600, 10) & (pop_fav >= 10) & (len(risk) - pop_fav >= 10)
    np.testing.assert_array_equal(rule, shown)
    assert res.to_dict()["groupings"][0]["curve"]["cut"] == "score <= t"


def test_top_k_tier():
    scores = np.array([5.0, 9, 9, 1, 7, 9, 3, 2] * 10)
    people = pd.DataFrame({"g": list("abababab") * 10})
    tiers = [Tier("top 2", top_k=2), Tier("top 25%", top_fraction=0.25)]
    res = disparate_impact(scores, build_groupings(people, ["g"]), tiers, disclosure_threshold=0,
                           min_group_size=1)
    r = res.rates.set_index(["group", "tier"])
    # Ties at the cut are all included: 30 people score 9.
    assert r.loc[("g=a", "top 2"), "attained"] + r.loc[("g=b", "top 2"), "attained"] == 30
    assert r.loc[("g=a", "top 25%"), "selection_rate"] == np.mean(scores[::2] >= 9)


def test_labels_with_missing_values(data):
    people, score, label, groupings = data
    lab = label.copy()
    lab[::7] = np.nan
    res = disparate_impact(score, groupings[:1], TIERS[:1], labels=lab, disclosure_threshold=0)
    keep = ~np.isnan(lab)
    att = score >= 600
    e = res.error_rates.set_index("group")
    f = (people["gender"] == "f").to_numpy() & keep
    assert e.loc["gender=f", "labelled"] == f.sum()
    assert e.loc["gender=f", "fpr"] == pytest.approx(np.sum(att & f & (lab == 0)) / np.sum(f & (lab == 0)))
    assert e.loc["gender=f", "ppv"] == pytest.approx(np.sum(att & f & (lab == 1)) / np.sum(att & f))
    cal = res.calibration[res.calibration["group"] == "gender=f"]
    assert cal["n"].sum() == f.sum() and len(cal) == 10
    with pytest.raises(AuditInputError, match="0/1"):
        disparate_impact(score, groupings[:1], TIERS[:1], labels=np.where(keep, 2.0, 0.0))


def test_missing_scores_are_left_out(data):
    people, score, _, groupings = data
    s = score.copy()
    s[:100] = np.nan
    res = disparate_impact(s, groupings[:1], TIERS[:2], disclosure_threshold=0)
    ref = disparate_impact(score[100:], build_groupings(people.iloc[100:], ["gender"]), TIERS[:2],
                           disclosure_threshold=0)
    cols = ["n", "attained", "selection_rate", "impact_ratio", "p_value"]
    pd.testing.assert_frame_equal(res.rates[cols], ref.rates[cols])
    assert res.n_missing_score == 100 and res.to_dict()["population"]["missing_score"] == 100


def test_bad_input():
    people = pd.DataFrame({"g": ["a", "b"] * 20})
    groupings = build_groupings(people, ["g"])
    with pytest.raises(AuditInputError, match="attainment"):
        disparate_impact(np.zeros(40), groupings, TIERS, attainment=np.zeros((40, 2), bool))
    with pytest.raises(AuditInputError, match="rows"):
        disparate_impact(np.zeros(39), groupings, TIERS)
    with pytest.raises(AuditInputError, match="alpha"):
        disparate_impact(np.zeros(40), groupings, TIERS, alpha=1.5)


# ---------------------------------------------------------------- outputs
def test_to_dict_is_strict_json(result):
    doc = result.to_dict()
    text = json.dumps(doc, allow_nan=False)
    for path, key, value in _walk(doc):
        assert isinstance(key, str)
        assert value is None or type(value) in (dict, list, str, int, float, bool), (path, key, type(value))
    m = doc["methods"]
    assert "Wilson" in m["selection_rate_interval"] and "Koopman" in m["impact_ratio_interval"]
    assert "Fisher" in m["test"] and "expected cell count is below 5" in m["test"]
    assert "Benjamini-Hochberg" in m["verdicts"] and "union-intersection" in m["verdicts"]
    assert "30" in m["small_groups"] and "10" in m["disclosure"]
    for g in doc["groupings"]:
        for s in g["curve"]["plot"]["series"]:
            assert len(s["impact_ratio"]) == len(g["curve"]["plot"]["thresholds"]) <= 202
    assert len(text) < 2_000_000


def test_to_frame_is_tidy(result):
    f = result.to_frame()
    assert not f.duplicated(["grouping", "group", "tier"]).any()
    assert len(f) == len(result.rates)
    assert {"selection_rate", "impact_ratio", "q_value", "fpr", "fnr", "ppv"} <= set(f.columns)


def test_deterministic_under_row_permutation(data):
    people, score, label, _ = data
    perm = np.random.default_rng(11).permutation(len(score))

    def run(p, s, y):
        g = build_groupings(p.reset_index(drop=True), ["gender", "ethnicity", "region"], max_order=3)
        return json.dumps(disparate_impact(s, g, TIERS, labels=y).to_dict(), allow_nan=False)

    assert run(people, score, label) == run(people.iloc[perm], score[perm], label[perm])


def test_repr_html_escapes_user_strings():
    evil = "<script>alert(1)</script>"
    people = pd.DataFrame({evil: [evil] * 50 + ["b&b"] * 50})
    scores = np.r_[np.zeros(50), np.ones(50)]
    res = disparate_impact(scores, build_groupings(people, [evil]), [Tier(evil, threshold=1)])
    out = res._repr_html_()
    assert "<script>" not in out and html.escape(evil) in out
    assert "b&amp;b" in out


def test_doctests():
    for module in (audit.impact, audit.impact._audit, audit.impact._core, audit.impact._curve,
                   audit.impact._result, audit.rates._intervals, audit.rates._claims):
        failures, _ = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert failures == 0, module.__name__
