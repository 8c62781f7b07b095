"""The built-in demo: its pushed-out findings can be recomputed by hand from the data.

Independent path: scores from a direct sparse solve of the network term
(scipy's SuperLU, not our iteration), tier attainment by comparison with the
published threshold, rates by pandas groupby, the ratio interval from
statsmodels' score interval and the p-value from scipy's tests.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from statsmodels.stats.proportion import confint_proportions_2indep
from statsmodels.stats.proportion import test_proportions_2indep as sm_ratio_test

import audit
from audit._examples import DEMO_PROTECTED, run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    report, paths = run_demo(out, n=20_000, seed=0)
    people, edges = audit.generate_sesame(20_000, seed=0)
    return report, paths, people, edges


def by_hand_scores(people: pd.DataFrame, edges: pd.DataFrame) -> np.ndarray:
    rule = audit.load_rule("sesame")
    own = rule.own_scores(people)  # own points are checked against hand-written numpy in test_rules
    n = len(people)
    u, v = edges.source.to_numpy(), edges.target.to_numpy()
    a = sp.coo_array((np.ones(2 * len(u)), (np.r_[u, v], np.r_[v, u])), shape=(n, n)).tocsr()
    a.data[:] = 1.0
    deg = np.asarray(a.sum(axis=1)).ravel()
    w = rule.network.weight
    has = deg > 0
    # Symmetric form of the fixed point on people with friends: (D - w A) s = (1 - w) D own, solved by
    # scipy's conjugate gradients (a direct LU solve fills in badly on random graphs); isolates keep own.
    idx = np.flatnonzero(has)
    sub = a[idx][:, idx]
    d = deg[idx]
    m = sp.diags(d) - w * sub
    s_sub, info = spla.cg(m.tocsr(), (1 - w) * d * own[idx], rtol=1e-14, atol=0.0, maxiter=10_000)
    assert info == 0
    s = own.copy()
    s[idx] = s_sub
    return np.clip(s, 350, 950)


def test_demo_pushes_someone_out_and_the_numbers_recompute(demo):
    report, paths, people, edges = demo
    doc = json.loads(paths["json"].read_text())
    # Exact figures only (a large group's count may be published rounded to the nearest ten: checked elsewhere).
    published = [e for e in doc["pushed_out"] if not e["suppressed"] and not e["rounded"]]
    assert published, "the demo must show at least one pushed-out group with publishable numbers"
    scores = by_hand_scores(people, edges)
    tiers = {t.name: t for t in audit.load_rule("sesame").tiers}
    checked = 0
    for entry in (published[0], published[len(published) // 2], published[-1]):
        tier = tiers[entry["tier"]]
        attained = scores >= tier.threshold if not tier.is_ranked else scores >= tier.cutoff(scores)
        frame = people[entry["attributes"]].assign(hit=attained)
        table = frame.groupby(entry["attributes"], observed=True)["hit"].agg(["sum", "count"])
        key = tuple(entry["group"][a] for a in entry["attributes"])
        ref = tuple(entry["reference_group"][a] for a in entry["attributes"])
        key = key[0] if len(key) == 1 else key
        ref = ref[0] if len(ref) == 1 else ref
        x1, n1 = int(table.loc[key, "sum"]), int(table.loc[key, "count"])
        x0, n0 = int(table.loc[ref, "sum"]), int(table.loc[ref, "count"])
        assert entry["n"] == n1 and entry["reference_n"] == n0
        # (published to 10 decimal places)
        assert entry["selection_rate"] == pytest.approx(x1 / n1, abs=1e-10)
        assert entry["reference_rate"] == pytest.approx(x0 / n0, abs=1e-10)
        assert entry["impact_ratio"] == pytest.approx((x1 / n1) / (x0 / n0), abs=1e-9)
        # The most favoured group: the highest rate among groups of at least 30 people.
        eligible = table[table["count"] >= 30]
        assert (eligible["sum"] / eligible["count"]).max() == pytest.approx(x0 / n0, abs=1e-12)
        d = (doc["impact"]["settings"]["design_effect"] or {}).get(entry["tier"], 1.0)
        lo, hi = confint_proportions_2indep(x1 / d, n1 / d, x0 / d, n0 / d, compare="ratio", method="score")
        assert entry["ci_low"] == pytest.approx(lo, abs=1e-6) and entry["ci_high"] == pytest.approx(hi, abs=1e-6)
        # The verdict's p-value: K times the smallest one-sided score-test p-value of "ratio >= 0.8" over the
        # K other eligible groups (statsmodels, comparator by comparator).
        others = eligible.drop(index=key)
        # With the friends term, tests use effective counts: counts over the tier's design effect.
        ps = [sm_ratio_test(x1 / d, n1 / d, int(r["sum"]) / d, int(r["count"]) / d, value=0.8, compare="ratio",
                            method="score", alternative="smaller").pvalue for _, r in others.iterrows()]
        assert entry["p_value"] == pytest.approx(min(1.0, len(others) * min(ps)), rel=1e-5, abs=1e-300)  # 6 digits
        assert entry["impact_ratio"] < 0.8 and entry["q_value"] < 0.05 and entry["ratio_upper_bound"] < 0.8
        checked += 1
    assert checked == 3


def test_demo_lead_names_a_pushed_out_group_with_the_json_numbers(demo):
    _, paths, _, _ = demo
    doc = json.loads(paths["json"].read_text())
    first = doc["summary"]["findings"][0]
    assert f"{first['impact_ratio']:.2f}" in first["text"]
    html = paths["html"].read_text()
    md = paths["md"].read_text()
    assert f"impact ratio {first['impact_ratio']:.2f}" in md and f"{first['impact_ratio']:.2f}" in html


def test_demo_protected_attributes_are_in_the_report(demo):
    report, _, _, _ = demo
    assert report.to_dict()["population"]["protected"] == DEMO_PROTECTED
