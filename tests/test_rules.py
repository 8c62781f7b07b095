"""The rule engine: YAML points tables, tiers, network term, callables, estimators, observed scores.

Independent references: hand-computed points on tiny frames, numpy written out
by hand for the built-in rule, and scipy's sparse solver for the network term.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import audit
from audit import AuditInputError
from audit.graph import graph_from_adjacency
from audit.rules import Tier
from audit.rules._spec import parse_spec

RULE = textwrap.dedent("""
    name: toy
    title: Toy rule
    status: illustrative
    sources: [{id: src, citation: "A source"}]
    base: 600
    range: [350, 950]
    terms:
      - {label: Buys diapers, when: buys_diapers, points: 20, source: src}
      - {label: Video games, value: "min(video_game_hours, 10)", weight: -5, illustrative: true}
      - {label: Minority, when: 'group in ["b", "c"]', points: -400, illustrative: true}
    tiers:
      - {name: rental, threshold: 600, benefit: car, source: src}
      - {name: top, top_k: 1, illustrative: true}
""")


def toy_people() -> pd.DataFrame:
    return pd.DataFrame({
        "id": [10, 11, 12, 13],
        "buys_diapers": [True, False, True, False],
        "video_game_hours": [0.0, 4.0, 20.0, 1.0],
        "group": ["a", "a", "b", "c"],
    })


def toy_rule(tmp_path, text: str = RULE):
    path = tmp_path / "toy.yaml"
    path.write_text(text)
    return audit.load_rule(str(path))


def test_points_table_scores_by_hand(tmp_path):
    rule = toy_rule(tmp_path)
    people = toy_people()
    # By hand: 600 + 20*diapers - 5*min(hours, 10) - 400*minority, clamped to [350, 950].
    expected_raw = np.array([620.0, 580.0, 600 + 20 - 50 - 400, 600 - 5 - 400])
    np.testing.assert_array_equal(rule.raw_scores(people), expected_raw)
    np.testing.assert_array_equal(rule.own_scores(people), np.clip(expected_raw, 350, 950))
    contrib = rule.term_contributions(people)
    assert list(contrib.columns) == ["buys_diapers", "video_games", "minority"]
    np.testing.assert_allclose(rule.base + contrib.sum(axis=1), expected_raw)
    assert rule.features == ("buys_diapers", "group", "video_game_hours")
    att = rule.attainment(rule.score(people))
    assert att[:, 0].tolist() == [True, False, False, False]
    assert att[:, 1].tolist() == [True, False, False, False]  # top_k=1: the highest scorer only


def test_rule_card_and_hash_are_stable(tmp_path):
    a, b = toy_rule(tmp_path), toy_rule(tmp_path)
    assert a.content_hash == b.content_hash and a.content_hash.startswith("sha256:")
    changed = toy_rule(tmp_path, RULE.replace("points: 20", "points: 21"))
    assert changed.content_hash != a.content_hash
    card = a.to_card()
    assert [t["id"] for t in card["terms"]] == ["buys_diapers", "video_games", "minority"]
    assert card["terms"][1]["illustrative"] is True and card["terms"][0]["source"] == "src"
    assert card["tiers"][1]["rule"] == "top 1 scores"


def test_without_terms_and_network(tmp_path):
    rule = toy_rule(tmp_path)
    reduced = rule.without_terms(["minority"])
    assert "group" not in reduced.features
    np.testing.assert_array_equal(reduced.raw_scores(toy_people()), [620.0, 580.0, 570.0, 595.0])
    with pytest.raises(AuditInputError, match="no term with id 'nope'"):
        rule.without_terms(["nope"])


@pytest.mark.parametrize(
    "mutation, message",
    [
        (("points: 20, source: src", "points: 20"), "term 'Buys diapers': give a 'source'"),
        (("points: 20,", "pints: 20,"), "term 'Buys diapers': field 'pints': unknown key"),
        (("threshold: 600", "treshold: 600"), "tier 'rental': field 'treshold': unknown key"),
        (("source: src}\n  - {label: Video", "source: nowhere}\n  - {label: Video"), "cites unknown source 'nowhere'"),
        (("range: [350, 950]", "range: [950, 350]"), "field 'range': Value error|range must be"),
        (("name: toy", "name: Toy Rule!"), "field 'name'"),
        (("base: 600", "base: [600"), "not valid YAML"),
        (("weight: -5", "points: -5"), "term 'Video games': a 'value' term needs 'weight'"),
    ],
)
def test_spec_errors_name_file_term_and_reason(tmp_path, mutation, message):
    old, new = mutation
    assert old in RULE
    path = tmp_path / "broken.yaml"
    path.write_text(RULE.replace(old, new, 1))
    with pytest.raises(AuditInputError, match=message) as info:
        audit.rules.validate_rule_file(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(path))


def test_expression_errors_name_file_and_term(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text(RULE.replace("min(video_game_hours, 10)", "__import__('os').system('id')"))
    with pytest.raises(AuditInputError) as info:
        audit.rules.validate_rule_file(path)
    assert str(path) in str(info.value) and "Video games" in str(info.value)


def test_missing_column_names_term(tmp_path):
    rule = toy_rule(tmp_path)
    with pytest.raises(AuditInputError, match="column 'video_game_hours' .*term 'Video games'"):
        rule.score(toy_people().drop(columns="video_game_hours"))


def test_missing_values_are_an_error_not_a_silent_score(tmp_path):
    rule = toy_rule(tmp_path)
    people = toy_people()
    people.loc[1, "video_game_hours"] = np.nan
    with pytest.raises(AuditInputError, match="term 'Video games'.*1 rows"):
        rule.score(people)


def test_builtin_sesame_matches_hand_written_numpy():
    rule = audit.load_rule("sesame")
    people, _ = audit.generate_sesame(3000, seed=3)
    # The same rule written out by hand from the YAML (independent of the evaluator).
    p = people
    raw = (680.0
           - 12 * np.minimum(p.late_payments.to_numpy(float), 10)
           + 80 * (p.income_band == "high").to_numpy()
           + 30 * (p.income_band == "middle").to_numpy()
           - 10 * (p.income_band == "low").to_numpy()
           + 40 * p.buys_diapers.to_numpy()
           - 2 * np.minimum(p.video_game_hours.to_numpy(float), 50)
           - 8 * np.minimum(p.political_posts.to_numpy(float), 20)
           - 5 * np.minimum(p.unofficial_news_shares.to_numpy(float), 20)
           - 25 * np.minimum(p.taxi_no_shows.to_numpy(float), 5)
           - 40 * ~p.real_name.to_numpy())
    np.testing.assert_allclose(rule.own_scores(people), np.clip(raw, 350, 950), rtol=0, atol=1e-9)
    assert rule.range == (350.0, 950.0)
    names = [t.name for t in rule.tiers]
    assert "Deposit-free car rental" in names and "Prominent matchmaking profile" in names
    assert any(t.top_fraction == 0.01 for t in rule.tiers)


def test_network_fixed_point_equals_sparse_solve():
    rng = np.random.default_rng(0)
    n = 300
    a = sp.random(n, n, density=0.03, random_state=1, format="csr")
    g = graph_from_adjacency(a + a.T)
    own = rng.uniform(400, 900, n)
    w = 0.4
    rule = audit.Rule.from_callable(lambda df: own, tiers={"t": 600}, name="lin", features=[],
                                    network={"weight": w, "tolerance": 1e-12})
    final = rule.score(pd.DataFrame(index=range(n)), g)
    deg = g.degree.astype(float)
    has = deg > 0
    W = sp.diags(np.where(has, 1 / np.maximum(deg, 1), 0)) @ g.adjacency
    # Closed form on people with friends; isolates keep their own score.
    A = sp.identity(n) - w * sp.diags(has.astype(float)) @ W
    b = np.where(has, (1 - w) * own, own)
    np.testing.assert_allclose(final, spla.spsolve(A.tocsc(), b), atol=1e-9, rtol=0)
    assert np.all(final[~has] == own[~has])


def test_network_without_graph_keeps_own_scores():
    rule = audit.load_rule("sesame")
    people, _ = audit.generate_sesame(500, seed=1)
    ss = rule.scores(people, None)
    assert not ss.network_applied and np.array_equal(ss.own, ss.final)


def test_tiers_thresholds_bands_and_ranked():
    s = np.array([1.0, 4.0, 5.0, 7.0, 8.0, 10.0])
    assert Tier("low", at_most=4).attained(s).tolist() == [True, True, False, False, False, False]
    assert Tier("med", threshold=5, at_most=7).attained(s).tolist() == [False, False, True, True, False, False]
    assert Tier("top", top_fraction=0.5).attained(s).sum() == 3
    tied = np.array([1.0, 2.0, 2.0, 2.0])
    assert Tier("top", top_k=2).attained(tied).tolist() == [False, True, True, True]  # ties at the cut included
    with pytest.raises(AuditInputError, match="exactly one"):
        Tier("bad", threshold=1, top_k=2)


def test_from_callable_validates_output_length():
    rule = audit.Rule.from_callable(lambda df: [1.0, 2.0], tiers={"t": 1}, name="bad", features=[])
    with pytest.raises(AuditInputError, match="returned 2 scores for 3 rows"):
        rule.score(pd.DataFrame({"x": [1, 2, 3]}))


def test_from_estimator_maps_probability_to_range():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (X.a + rng.normal(size=200) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    rule = audit.Rule.from_estimator(model, features=["a", "b"], tiers={"approve": 600}, name="lr",
                                     range=(300, 850))
    expected = 300 + 550 * model.predict_proba(X)[:, 1]
    np.testing.assert_allclose(rule.score(X), expected)
    assert rule.kind == "estimator" and not rule.is_additive


def test_from_observed_reads_the_score_column():
    rule = audit.Rule.from_observed("decile", tiers=[Tier("low", at_most=4)], name="obs", higher_is_better=False)
    df = pd.DataFrame({"decile": [1, 4, 5, 10]})
    assert rule.attainment(rule.score(df))[:, 0].tolist() == [True, True, False, False]
    with pytest.raises(AuditInputError, match="column 'decile'"):
        rule.score(pd.DataFrame({"x": [1]}))


def test_unknown_builtin_rule_lists_the_builtins():
    with pytest.raises(AuditInputError, match="unknown rule 'nope'.*sesame"):
        audit.load_rule("nope")


def test_parse_spec_refuses_yaml_object_construction():
    evil = "!!python/object/apply:os.system ['id']"
    with pytest.raises(AuditInputError, match="not valid YAML"):
        parse_spec(evil, source="evil.yaml")


def test_list_rules_includes_sesame():
    rows = {r["name"]: r for r in audit.list_rules()}
    assert rows["sesame"]["status"] == "illustrative" and rows["sesame"]["network"] is True


def test_term_reading_an_undeclared_column_is_refused(tmp_path):
    text = RULE.replace("base: 600", "columns:\n  buys_diapers: {type: bool}\n  group: {type: category}\nbase: 600")
    with pytest.raises(AuditInputError, match="term 'Video games': reads column 'video_game_hours', which is not "
                                              "declared under 'columns:'"):
        toy_rule(tmp_path, text)
