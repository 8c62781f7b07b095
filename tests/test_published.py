"""The built-in published rules: their numbers, their provenance, and a full audit of each.

The expected numbers below are typed from the sources named in each rule file
(not read back from the files), so a slip in a YAML file fails here.
"""

from __future__ import annotations

import importlib.util
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import audit
from audit import AuditInputError
from audit.cli import main
from audit.impact import tier_is_favourable
from audit.rules import validate_rule_file
from audit.rules._rule import _builtin_names
from audit.rules._spec import parse_spec

#: Each built-in rule and its status: the status is what a reader quotes first.
STATUS = {
    "compas": "official",
    "fico_surrogate": "surrogate",
    "psa_fta": "official",
    "psa_nca": "official",
    "psa_nvca": "official",
    "rongcheng": "reported",
    "sesame": "illustrative",
    "sesame_reported_a": "reported, unofficial",
    "sesame_reported_b": "reported, unofficial",
    "vi_spdat": "official",
}
#: The files written for the published rules; each declares exactly the columns it reads.
PUBLISHED = sorted(set(STATUS) - {"sesame"})


def builtin_path(name: str) -> Path:
    return Path(str(resources.files("audit.rules.builtin").joinpath(f"{name}.yaml")))


# --------------------------------------------------------------------------- catalogue and provenance


def test_every_builtin_is_listed_with_its_status():
    assert set(_builtin_names()) == set(STATUS)
    listed = {r["name"]: r["status"] for r in audit.list_rules()}
    assert listed == STATUS


def test_cli_lists_every_rule_with_its_status(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps cells at the terminal width
    assert main(["rules", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name, status in STATUS.items():
        row = [ln for ln in lines if f" {name} " in ln]
        assert len(row) == 1, name
        assert f" {status} " in row[0], (name, row[0])


@pytest.mark.parametrize("name", sorted(STATUS))
def test_cli_validates_and_shows_every_builtin(name, capsys):
    path = builtin_path(name)
    assert main(["rules", "validate", str(path)]) == 0
    assert f"{path}: ok" in capsys.readouterr().out
    assert main(["rules", "show", name, "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["name"] == name and card["status"] == STATUS[name]
    assert main(["rules", "show", name]) == 0
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize("name", sorted(STATUS))
def test_every_number_is_cited_or_marked(name):
    rule = validate_rule_file(builtin_path(name))
    card = rule.to_card()
    ids = {s["id"] for s in card["sources"]}
    assert ids, "a built-in rule cites at least one source"
    for s in card["sources"]:
        assert s["citation"].strip()
    items = card["terms"] + card["tiers"] + [card["network"] or {}, card.get("lookup") or {},
                                             card.get("base_citation") or {}, card.get("range_citation") or {}]
    for item in items:
        if not item:
            continue
        assert item.get("source") in ids or item.get("illustrative") is True, item


@pytest.mark.parametrize("name", sorted(STATUS))
def test_columns_block_covers_what_the_rule_reads(name):
    rule = audit.load_rule(name)
    assert set(rule.features) <= set(rule.columns), sorted(set(rule.features) - set(rule.columns))
    if name in PUBLISHED:
        assert set(rule.columns) == set(rule.features)


# --------------------------------------------------------------------------- COMPAS (observed outputs)


def test_compas_is_an_observed_decile_rule_with_propublicas_bands():
    rule = audit.load_rule("compas")
    assert rule.kind == "observed" and rule.score_column == "decile_score" and rule.features == ("decile_score",)
    assert rule.higher_is_better is False and not rule.is_additive
    deciles = np.arange(1, 11, dtype=float)
    att = rule.attainment(deciles)
    names = [t.name for t in rule.tiers]
    assert names == ["Low", "Medium", "High", "Higher risk"]
    assert deciles[att[:, 0]].tolist() == [1, 2, 3, 4]
    assert deciles[att[:, 1]].tolist() == [5, 6, 7]
    assert deciles[att[:, 2]].tolist() == [8, 9, 10]
    assert deciles[att[:, 3]].tolist() == [5, 6, 7, 8, 9, 10]
    # Low is the favourable band, High and "Higher risk" are adverse; Medium (5-7) is a band inside the
    # scale with no favourable side of its own, so it is never audited for exclusion.
    fav = [tier_is_favourable(t, rule.higher_is_better, rule.range) for t in rule.tiers]
    assert fav == [True, None, False, False]
    assert rule.tier_directions == (True, None, False, False)
    people = pd.DataFrame({"decile_score": [1, 10]})
    assert rule.score(people).tolist() == [1.0, 10.0]


# --------------------------------------------------------------------------- PSA

PSA_TABLES = {  # the published raw-to-scale conversions, typed from the source
    "psa_fta": [1, 2, 3, 4, 4, 5, 5, 6],
    "psa_nca": [1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6, 6, 6],
}


def psa_people(**cols) -> pd.DataFrame:
    base = {"age": 30, "current_violent_offense": False, "pending_charge": False,
            "prior_misdemeanor_conviction": False, "prior_felony_conviction": False,
            "prior_violent_convictions": 0, "prior_fta_past_2y": 0, "prior_fta_older_2y": False,
            "prior_incarceration": False}
    n = max((len(v) for v in cols.values() if isinstance(v, list)), default=1)
    frame = {k: (cols.get(k, v) if isinstance(cols.get(k, v), list) else [cols.get(k, v)] * n)
             for k, v in base.items()}
    return pd.DataFrame(frame)


@pytest.mark.parametrize("name", ["psa_fta", "psa_nca"])
def test_psa_lookup_is_the_published_conversion(name):
    rule = audit.load_rule(name)
    assert rule.lookup is not None and not rule.is_additive and rule.range == (1.0, 6.0)
    assert list(rule.lookup.raw) == list(range(len(PSA_TABLES[name])))
    assert list(rule.lookup.scaled) == PSA_TABLES[name]
    card = rule.to_card()["lookup"]
    assert [row["scaled"] for row in card["table"]] == PSA_TABLES[name]


def test_psa_fta_points_by_hand():
    rule = audit.load_rule("psa_fta")
    people = psa_people(
        pending_charge=[False, True, False, True, True],
        prior_misdemeanor_conviction=[False, False, True, False, True],
        prior_fta_past_2y=[0, 0, 1, 2, 5],
        prior_fta_older_2y=[False, False, False, True, True],
    )
    # pending 1, prior conviction 1, FTA<2y 0/2/4 (1 -> 2, 2+ -> 4), FTA>2y 1.
    raw = np.array([0, 1, 1 + 2, 1 + 4 + 1, 1 + 1 + 4 + 1])
    np.testing.assert_array_equal(rule.raw_totals(people), raw)
    np.testing.assert_array_equal(rule.score(people), np.array(PSA_TABLES["psa_fta"])[raw])
    contrib = rule.term_contributions(people)
    np.testing.assert_array_equal(contrib.sum(axis=1).to_numpy(), raw)  # the raw total is additive


def test_psa_nca_points_by_hand():
    rule = audit.load_rule("psa_nca")
    people = psa_people(
        age=[30, 22, 23, 19],
        pending_charge=[False, False, True, True],
        prior_misdemeanor_conviction=[False, False, True, True],
        prior_felony_conviction=[False, False, False, True],
        prior_violent_convictions=[0, 2, 1, 3],
        prior_fta_past_2y=[0, 1, 0, 4],
        prior_incarceration=[False, False, True, True],
    )
    # age<=22 2; pending 3; misd 1; felony 1; violent 1-2 -> 1, 3+ -> 2; FTA<2y 1 -> 1, 2+ -> 2; jail 2.
    raw = np.array([0, 2 + 1 + 1, 3 + 1 + 1 + 2, 2 + 3 + 1 + 1 + 2 + 2 + 2])
    assert raw[-1] == 13  # the published maximum
    np.testing.assert_array_equal(rule.raw_totals(people), raw)
    np.testing.assert_array_equal(rule.score(people), np.array(PSA_TABLES["psa_nca"])[raw])


def test_psa_nvca_flag_at_four_points():
    rule = audit.load_rule("psa_nvca")
    assert rule.is_additive and [t.name for t in rule.tiers] == ["Violence flag"]
    people = psa_people(
        age=[30, 20, 21, 19, 40],
        current_violent_offense=[False, True, True, True, False],
        pending_charge=[False, False, True, True, True],
        prior_felony_conviction=[False, False, False, True, True],
        prior_violent_convictions=[0, 0, 0, 3, 1],
    )
    # violent 2; violent & age<=20 1; pending 1; prior conviction 1; violent priors 1-2 -> 1, 3+ -> 2.
    raw = np.array([0, 2 + 1, 2 + 1, 2 + 1 + 1 + 1 + 2, 1 + 1 + 1])
    np.testing.assert_array_equal(rule.score(people), raw)
    assert rule.attainment(rule.score(people))[:, 0].tolist() == [False, False, False, True, False]
    assert rule.attainment(np.arange(8.0))[:, 0].tolist() == [False] * 4 + [True] * 4


def test_lookup_rule_exposes_its_additive_raw_total():
    rule = audit.load_rule("psa_fta")
    raw = rule.without_lookup()
    assert raw.is_additive and raw.lookup is None and raw.range is None
    people = psa_people(pending_charge=[True, False], prior_fta_past_2y=[3, 1])
    np.testing.assert_array_equal(raw.score(people), rule.raw_totals(people))
    reduced = rule.without_terms(["prior_fta_past_2y"])  # the lookup is kept for counterfactuals
    np.testing.assert_array_equal(reduced.score(people), [2.0, 1.0])


def test_lookup_interpolates_only_counterfactual_fractions():
    rule = audit.load_rule("psa_fta")
    # A count set to its population mean (as the proxy audit's neutralisation does) gives a
    # fractional total: the expected scaled score under randomised rounding.
    np.testing.assert_allclose(rule.lookup.apply(np.array([0.0, 3.0, 3.5, 4.25, 7.0])),
                               [1.0, 4.0, 4.0, 4.25, 6.0])
    people = psa_people(prior_fta_past_2y=[0.25])  # 2 points x 0.25 = raw 0.5
    assert rule.score(people).tolist() == [1.5]
    with pytest.raises(AuditInputError, match="outside the lookup table"):
        rule.lookup.apply(np.array([-1.0]), rule="psa_fta")


def test_lookup_misses_and_misuse_are_one_line_errors(tmp_path):
    text = builtin_path("psa_fta").read_text().replace(", 7: 6}", "}")  # drop raw 7
    path = tmp_path / "short.yaml"
    path.write_text(text)
    rule = validate_rule_file(path)
    people = psa_people(pending_charge=True, prior_misdemeanor_conviction=True, prior_fta_past_2y=2,
                        prior_fta_older_2y=True)
    with pytest.raises(AuditInputError, match=r"raw points total 7 is outside the lookup table") as exc:
        rule.score(people)
    assert "\n" not in str(exc.value)
    observed = builtin_path("compas").read_text() + "lookup: {table: {1: 1}, illustrative: true}\n"
    with pytest.raises(AuditInputError, match="needs kind: points"):
        parse_spec(observed, source="x.yaml")
    with pytest.raises(AuditInputError, match="unknown source 'nope'"):
        parse_spec(builtin_path("psa_nvca").read_text().replace("range_citation:\n  source: psa-transcription",
                                                                "range_citation:\n  source: nope"), source="x")


# --------------------------------------------------------------------------- VI-SPDAT


def vi_people(all_items: bool, n: int = 1) -> pd.DataFrame:
    y = all_items
    return pd.DataFrame({
        "age": [65 if y else 40] * n,
        "sleeps_most_frequently": ["outdoors" if y else "shelter"] * n,
        "years_since_stable_housing": [2.0 if y else 0.5] * n,
        "episodes_homeless_3y": [1] * n,
        "emergency_interactions_6m": [4 if y else 3] * n,
        "attacked_since_homeless": [y] * n, "threatened_harm_last_year": [False] * n,
        "legal_issues": [y] * n, "forced_or_tricked": [False] * n, "risky_activities": [y] * n,
        "owes_money": [False] * n, "has_income": [not y] * n,
        "planned_activities": [not y] * n, "able_basic_needs": [not y] * n,
        "homeless_due_to_relationship": [y] * n, "physical_health_issue": [y] * n,
        "substance_use_issue": [y] * n, "mental_health_issue": [y] * n,
        "medication_issue": [y] * n, "abuse_or_trauma": [y] * n,
    })


def test_vi_spdat_items_bands_and_maximum():
    rule = audit.load_rule("vi_spdat")
    assert len(rule.terms) == 17 and all(t.points == 1 for t in rule.terms)
    assert rule.score(vi_people(True)).tolist() == [17.0]
    assert rule.score(vi_people(False)).tolist() == [0.0]
    # One answer changed at a time moves exactly one item, except tri-morbidity.
    p = vi_people(True)
    p["mental_health_issue"] = False  # D3 and D4 (tri-morbidity) both drop
    assert rule.score(p).tolist() == [15.0]
    att = rule.attainment(np.arange(0.0, 18.0))
    assert [t.name for t in rule.tiers] == ["No housing intervention", "Rapid re-housing assessment",
                                            "Permanent supportive housing assessment"]
    assert np.flatnonzero(att[:, 0]).tolist() == [0, 1, 2, 3]
    assert np.flatnonzero(att[:, 1]).tolist() == [4, 5, 6, 7]
    assert np.flatnonzero(att[:, 2]).tolist() == list(range(8, 18))
    assert rule.higher_is_better is True


# --------------------------------------------------------------------------- reported / surrogate scores


def test_rongcheng_base_deductions_and_grades():
    rule = audit.load_rule("rongcheng")
    assert rule.base == 1000 and rule.citations["base"]["illustrative"] is True
    cols = {c: [False, True] for c in rule.columns if c != "arrears_months"}
    people = pd.DataFrame({**cols, "arrears_months": [0, 3]})
    deductions = 20 + 50 + 30 + 20 + 40 + 20 + 30 + 30 + 30 + 20 + 50 + 50 + 60 + 100  # Attachment 1
    assert rule.score(people).tolist() == [1000.0, 1000.0 - deductions]
    bands = {"AAA": (1050, None), "AA": (1030, 1049), "A": (960, 1029), "B": (850, 959), "C": (600, 849),
             "D": (None, 599)}
    assert {t.name: (t.threshold, t.at_most) for t in rule.tiers} == bands
    assert all(t.illustrative for t in rule.tiers)  # band edges: reported, not confirmed
    grades = rule.attainment(np.array([1050, 1049, 1030, 1029, 960, 959, 850, 849, 600, 599.0]))
    assert grades.sum(axis=1).tolist() == [1] * 10  # every score has exactly one grade


@pytest.mark.parametrize(("name", "weights"), [("sesame_reported_a", [35, 25, 20, 15, 5]),
                                                ("sesame_reported_b", [35, 20, 25, 15, 5])])
def test_sesame_reported_weightings(name, weights):
    rule = audit.load_rule(name)
    dims = ["credit_history", "behaviour_preferences", "fulfilment_capacity", "personal_characteristics",
            "interpersonal_relationships"]
    assert [t.id for t in rule.terms] == dims
    assert [t.points / 600 * 100 for t in rule.terms] == pytest.approx(weights)
    assert rule.range == (350.0, 950.0) and rule.base == 350
    people = pd.DataFrame({d: [0.0, 1.0, 0.5] for d in dims})
    assert rule.score(people).tolist() == pytest.approx([350.0, 950.0, 650.0])
    assert [t.threshold for t in rule.tiers] == [600, 650, 700, 750]


def test_fico_surrogate_weights_and_range():
    rule = audit.load_rule("fico_surrogate")
    assert [t.points / 550 for t in rule.terms] == pytest.approx([0.35, 0.30, 0.15, 0.10, 0.10])
    assert rule.range == (300.0, 850.0) and rule.base == 300
    people = pd.DataFrame({c: [0.0, 1.0] for c in rule.columns})
    assert rule.score(people).tolist() == pytest.approx([300.0, 850.0])
    assert all(t.illustrative for t in rule.tiers)


# --------------------------------------------------------------------------- a full report per rule


def synthetic_population(rule, n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Fabricate the columns a rule declares (by type) plus two protected attributes.

    Test-only: the values are random draws, meant to exercise every code path
    of an audit, not to resemble any real population.
    """
    rng = np.random.default_rng(seed)
    frame: dict[str, np.ndarray] = {"id": np.arange(n)}
    for col, spec in sorted(rule.columns.items()):
        kind, values = spec["type"], spec.get("values")
        if values:
            frame[col] = rng.choice(np.asarray(values, dtype=object), n)
        elif kind == "bool":
            frame[col] = rng.random(n) < 0.3
        elif kind == "integer":
            frame[col] = rng.integers(18, 80, n) if col == "age" else rng.poisson(1.0, n)
        elif kind == "number":
            frame[col] = rng.random(n)
        else:
            frame[col] = rng.choice(np.array(["a", "b", "c"], dtype=object), n)
    frame["group"] = rng.choice(np.array(["g1", "g2", "g3"], dtype=object), n, p=[0.5, 0.3, 0.2])
    frame["sex"] = rng.choice(np.array(["female", "male"], dtype=object), n)
    people = pd.DataFrame(frame)
    if "values" in rule.columns.get(rule.score_column or "", {}):
        people[rule.score_column] = people[rule.score_column].astype(int)
    return people


def synthetic_edges(n: int = 600, degree: int = 4, seed: int = 0) -> pd.DataFrame:
    """A random friendship edge list over ids 0..n-1 (test-only)."""
    rng = np.random.default_rng(seed)
    src = np.repeat(np.arange(n), degree // 2)
    dst = rng.integers(0, n, len(src))
    keep = src != dst
    return pd.DataFrame({"source": src[keep], "target": dst[keep]})


def available_families() -> list[str]:
    return [f for f in ("impact", "proxy", "contagion") if importlib.util.find_spec(f"audit.{f}") is not None]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(STATUS))
def test_each_builtin_rule_produces_a_full_report(name, tmp_path):
    rule = audit.load_rule(name)
    people = synthetic_population(rule)
    assert "impact" in available_families()
    report = audit.run(rule, people, protected=["group", "sex"], graph=synthetic_edges(len(people)),
                       families=available_families(), seed=1)
    paths = report.save(tmp_path)
    assert sorted(p.name for p in paths.values()) == ["report.html", "report.json", "report.md"]
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["schema_version"] and doc["rule"]["name"] == name
    assert doc["rule"]["status"] == STATUS[name]
    for family in available_families():
        assert doc[family] is not None, family
    assert [t["name"] for t in doc["impact"]["tiers"]] == [t.name for t in rule.tiers]
    html = (tmp_path / "report.html").read_text()
    assert rule.title.split(" ")[0] in html
