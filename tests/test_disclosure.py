"""Disclosure control that protects people without hiding the headline.

The claims checked here: a handful of people never hides a large group (rare categories are pooled or
withheld, large groups are never complementary cells), an identifying attribute is refused, and what is
published still pins no hidden count (the attacks of tests/test_privacy_attack.py, on crafted data).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import audit
from audit.disclosure import (
    CountSystem,
    attainable,
    cell_publishable,
    check_identifying,
    pool_rare,
    protect_lines,
    round_count,
)
from audit.impact._disclosure import LOCK_SIZE

RULE = """
name: tenant_score
title: Tenant screening score
status: user
sources: [{id: s, citation: "crafted for a test"}]
columns:
  income: {type: number}
  arrears: {type: number}
base: 500
range: [300, 850]
terms:
  - {label: Income, value: "min(income, 5000) / 20", weight: 1, source: s}
  - {label: Arrears, value: arrears, weight: -40, source: s}
tiers:
  - {name: Approved, threshold: 600, source: s}
  - {name: No deposit, threshold: 680, source: s}
"""


def _tenants(seed=0):
    """The reviewer's case: 990 männlich, ~1,000 weiblich, 5 divers; 78 of one nationality, 3 of another."""
    rng = np.random.default_rng(seed)
    gender = np.array(["weiblich"] * 1002 + ["männlich"] * 990 + ["divers"] * 5, dtype=object)
    nat = np.array(["deutsch"] * (1997 - 78 - 3) + ["polnisch"] * 78 + ["isländisch"] * 3, dtype=object)
    rng.shuffle(nat)
    n = len(gender)
    people = pd.DataFrame({
        "id": np.arange(n), "gender": gender, "nationality": nat,
        "income": rng.gamma(4, 700, n) - 300 * (nat == "polnisch"),
        "arrears": rng.poisson(0.6, n) + (gender == "divers"),
    })
    return people


@pytest.fixture(scope="module")
def tenant_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("rule") / "tenant.yaml"
    path.write_text(RULE)
    people = _tenants()
    report = audit.run(path, people, protected=["gender", "nationality"], families=["impact"])
    return report, people


def test_tenant_case_publishes_every_group_of_the_minimum_size(tenant_report):
    report, people = tenant_report
    doc = report.to_dict()
    imp = doc["impact"]
    # Counts are of the people tabulated: the 8 people of the two tiny categories are withheld from every
    # table (otherwise any total would give their outcomes back), so a group's count excludes those of its
    # members who are among them.
    pooled, _ = pool_rare(people, ["gender", "nationality"], min_group_size=30, disclosure_threshold=10)
    people = people[pooled[["gender", "nationality"]].notna().all(axis=1).to_numpy()]
    for g in imp["groupings"]:
        if len(g["attributes"]) != 1:
            continue
        a = g["attributes"][0]
        for row in g["groups"]:
            name = row["group"][a]
            if name in ("(other)", "(not recorded)"):
                continue
            true_n = int((people[a] == name).sum())
            assert true_n >= 30 and row["n"] == true_n and not row["suppressed"], (a, name)
        for r in g["rates"]:
            name = r["group"][a]
            assert r["n"] is not None, (a, name)
            assert r["selection_rate"] is not None, (a, name, r["tier"])  # both cells are large here
    groups = {(a, x["group"][a]) for g in imp["groupings"] if len(g["attributes"]) == 1
              for a in g["attributes"] for x in g["groups"]}
    # The 5 divers and 3 isländisch people are withheld (fewer than 10 each, even pooled): not named anywhere.
    assert ("gender", "divers") not in groups and ("nationality", "isländisch") not in groups
    text = json.dumps(doc, ensure_ascii=False) + report.to_markdown() + report.to_html()
    assert "divers" not in text and "isländisch" not in text
    assert any("withheld from every table" in n for n in doc["notes"])
    assert doc["population"]["withheld"] == "fewer than 10" and doc["population"]["rows"] is None


def test_tenant_case_leaks_no_hidden_count(tenant_report):
    report, people = tenant_report
    doc = report.to_dict()
    pooled, _ = pool_rare(people, ["gender", "nationality"], min_group_size=30, disclosure_threshold=10)
    rule = audit.load_rule(_rule_path(report))
    att = rule.attainment(rule.score(people))
    keep = pooled[["gender", "nationality"]].notna().all(axis=1).to_numpy()
    lo, hi, truth = _lp_over_impact(doc, pooled[keep], att[keep], [t.name for t in rule.tiers])
    assert len(truth), "the tenant case must have hidden cells"
    assert np.all(lo - 1e-6 <= truth) and np.all(truth <= hi + 1e-6)
    assert np.all(hi - lo >= 5 - 1e-6), list(zip(lo, hi, truth, strict=True))


def _rule_path(report):
    return report.document["rule"]["name"] and _RULE_FILE


_RULE_FILE = None


@pytest.fixture(autouse=True, scope="module")
def _rule_file(tmp_path_factory):
    global _RULE_FILE
    path = tmp_path_factory.mktemp("rulefile") / "tenant.yaml"
    path.write_text(RULE)
    _RULE_FILE = path


def _lp_over_impact(doc, people, att, tiers):
    """The LP attack on the impact tables of a report (sizes, tier counts; rounded ones as intervals)."""
    import itertools

    attrs = doc["population"]["protected"]
    domains = {a: [g["group"][a] for g in doc["population"]["groups"][a]] for a in attrs}
    cells = list(itertools.product(*(domains[a] for a in attrs)))
    uniq, inv = np.unique(np.packbits(att, axis=1), axis=0, return_inverse=True)
    inv = inv.ravel()
    system = CountSystem(tuple(attrs), cells, list(range(len(uniq))))
    everyone = np.arange(len(uniq))
    if doc["population"].get("tabulated") is not None:
        system.add({}, everyone, doc["population"]["tabulated"])
    targets, truth = [], []
    for g in doc["impact"]["groupings"]:
        ga = g["attributes"]
        for x in g["groups"]:
            if x["n"] is not None:
                system.add(x["group"], everyone, x["n"] - 5 * x["rounded"], x["n"] + 4 * x["rounded"])
        for r in g["rates"]:
            j = tiers.index(r["tier"])
            reach = np.unique(inv[att[:, j]])
            m = np.ones(len(people), dtype=bool)
            for a in ga:
                m &= (people[a] == r["group"][a]).to_numpy()
            k, n = int(att[m, j].sum()), int(m.sum())
            if r["attained"] is not None:
                system.add(r["group"], reach, r["attained"] - 5 * r["rounded"], r["attained"] + 4 * r["rounded"])
            elif not cell_publishable(k, n, 10):
                targets.append(system.variables(r["group"], reach))
                truth.append(k)
    lo, hi = attainable(system, targets)
    return lo, hi, np.array(truth)


def test_demo_large_groups_keep_every_number(tmp_path):
    # No group of 1,000 or more people loses its size, or a tier rate whose own two cells are both at or
    # above the threshold, to complementary suppression or a small comparator.
    people, edges = audit.generate_sesame(20000, seed=0)
    protected = ["gender", "age_band", "ethnicity", "registration"]
    report = audit.run("sesame", people, protected=protected, graph=edges, families=["impact"])
    ctx = audit.prepare_audit("sesame", people, protected, edges)
    rates, groups = report.results["impact"].rates, report.results["impact"].groups
    checked = 0
    for g in ctx.groupings:
        for code in np.flatnonzero(g.counts >= 1000):
            name = g.name(code)
            row = groups[(groups["grouping"] == g.key) & (groups["group"] == name)].iloc[0]
            assert not row["suppressed"], name
            for j, tier in enumerate(ctx.rule.tiers):
                k = int(ctx.attainment[g.codes == code, j].sum())
                n = int(g.counts[code])
                if k >= 10 and n - k >= 10:
                    r = rates[(rates["grouping"] == g.key) & (rates["group"] == name) & (rates["tier"] == tier.name)]
                    assert not np.isnan(r["selection_rate"].iloc[0]), (name, tier.name)
                    checked += 1
    assert checked > 100
    # ... and every finding about such a group whose own cells are publishable keeps its figures
    # (compared with the best group whose figures can be published, where the best cannot).
    keyed = {g.key: g for g in ctx.groupings}
    for f in report.results["impact"].findings:
        g = keyed[" & ".join(f.attributes)]
        code = g.values.index(tuple(v for _, v in f.group))
        j = [t.name for t in ctx.rule.tiers].index(f.tier)
        k, n = int(ctx.attainment[g.codes == code, j].sum()), int(g.counts[code])
        if n >= 1000 and cell_publishable(k, n, 10):
            assert f.published, f.name()


def test_large_groups_are_never_complements():
    # A line of three: one small cell and two locked (large) ones: the cheaper large cell is rounded,
    # never hidden; with an unlocked cell on the line, that one is hidden instead.
    p = protect_lines([("a",), ("b",), ("c",)], [3, 4000, 5000], [True, False, False],
                      cost=[10, 4000, 5000], locked=[False, True, True], full=True)
    assert p.hidden.tolist() == [True, False, False] and p.rounded.tolist() == [False, True, False]
    p = protect_lines([("a",), ("b",), ("c",), ("d",)], [3, 4000, 5000, 40], [True, False, False, False],
                      cost=[10, 4000, 5000, 300], locked=[False, True, True, False], full=True)
    assert p.hidden.tolist() == [True, False, False, True] and not p.rounded.any()
    assert round_count([4, 5, 14, 15, 1234]).tolist() == [0, 10, 10, 20, 1230]
    assert LOCK_SIZE == 1000


def test_rounded_cells_give_ten_possible_values():
    # A hidden cell recovered through one rounded cell is known only to within ten values.
    s = CountSystem(("g",), [("a",), ("b",)], [0, 1])
    s.add({}, [0], 1237)
    r = int(round_count(1234))
    s.add({"g": "b"}, [0], r - 5, r + 4)
    lo, hi = attainable(s, [s.variables({"g": "a"}, [0])])
    assert hi[0] - lo[0] == 9 and lo[0] <= 3 <= hi[0]


@pytest.mark.parametrize("column, values", [
    ("id", np.arange(500)),
    ("h", np.array([f"h{i:04d}" for i in range(480)] + ["h0000"] * 20, dtype=object)),
])
def test_identifying_attribute_is_refused(column, values):
    people = pd.DataFrame({column: values, "x": 1.0})
    with pytest.raises(audit.AuditInputError, match=f"protected column '{column}' identifies people"):
        check_identifying(people, [column])


def test_cli_refuses_protected_id(tmp_path):
    people, edges = audit.generate_sesame(500, seed=1)
    data = tmp_path / "people.csv"
    people.to_csv(data, index=False)
    out = subprocess.run([sys.executable, "-m", "audit.cli", "run", "sesame", "--data", str(data), "--protected",
                          "id,gender", "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert out.returncode == 2
    lines = [x for x in out.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "'id' identifies people" in lines[0]


def test_numeric_non_key_attribute_is_binned_not_refused():
    rng = np.random.default_rng(0)
    people = pd.DataFrame({"age": rng.integers(18, 90, 2000)})
    check_identifying(people, ["age"])  # many repeats: a measurement, not a key


def test_pooling_names_no_rare_value_and_keeps_order():
    people = pd.DataFrame({"band": pd.Categorical(["lo"] * 40 + ["mid"] * 12 + ["hi"] * 35,
                                                  categories=["lo", "mid", "hi"], ordered=True)})
    out, pooling = pool_rare(people, ["band"], min_group_size=30, disclosure_threshold=10)
    assert list(out["band"].cat.categories) == ["lo", "hi", "(other)"]
    assert out["band"].value_counts()["(other)"] == 12 and pooling.n_withheld == 0
    assert "mid" not in " ".join(pooling.reasons) and "pooled into one group" in pooling.reasons[0]
