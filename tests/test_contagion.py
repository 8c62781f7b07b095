"""``audit.contagion``: every statistic checked against an independent computation.

References used (named again at each test):
* networkx -- assortativity (``attribute_assortativity_coefficient``), connected
  components, multi-source shortest paths, degrees;
* scipy's SuperLU (``spsolve``) for the closed form of the linear fixed point,
  and ``audit.graph.solve_network`` for the clamped one;
* brute-force Python loops over nodes/ties (Coleman's index, unfriending
  decisions), pandas ``groupby`` (spillover, shock by group).
Real attributed networks are read from ../shared/data (never copied here).
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import shared_file
from scipy.sparse.linalg import spsolve

import audit
from audit._errors import AuditInputError
from audit._run import prepare_audit
from audit.contagion import (
    ContagionResult,
    amplification,
    audit_family,
    closed_form,
    fixed_point,
    graph_statistics,
    hop_distances,
    network_contagion,
    rewire,
    shock,
    spillover,
    unfriending,
)
from audit.contagion._amplification import Amplification
from audit.contagion._common import cell_cnt, protect_partition, share
from audit.contagion._unfriending import default_margin
from audit.disclosure import cell_publishable
from audit.graph import graph_from_adjacency, load_graph, solve_network
from audit.groups import build_groupings
from audit.rules import attainment

FB100 = "networks/facebook100/Caltech36"


@pytest.fixture(scope="module")
def sesame():
    people, edges = audit.generate_sesame(2500, seed=11)
    graph = load_graph(edges, people["id"])
    groupings = build_groupings(people, ["gender", "ethnicity"], max_order=2)
    return audit.load_rule("sesame"), people, graph, groupings


def _random_graph(n, m, seed, isolates=0):
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n - isolates, m)
    v = rng.integers(0, n - isolates, m)
    return graph_from_adjacency(sp.coo_array((np.ones(m), (u, v)), shape=(n, n)))


def _nx(graph):
    return nx.from_scipy_sparse_array(graph.adjacency)


# ---------------------------------------------------------------------- fixed point
def test_fixed_point_is_solve_network_and_the_closed_form():
    people, edges = audit.generate_sesame(700, seed=2)
    graph = load_graph(edges, people["id"])
    rule = audit.load_rule("sesame")
    own = rule.own_scores(people)
    # Same algorithm as the project's solver: bit-for-bit equal.
    mine = fixed_point(own, graph.adjacency, 0.3, lo=350, hi=950, tolerance=1e-9)
    ref = solve_network(own, graph, 0.3, lo=350, hi=950, tolerance=1e-9)
    np.testing.assert_array_equal(mine.scores, ref.scores)
    assert mine.iterations == ref.iterations
    # Linear, unclamped: iteration, CG and the package's closed form all equal an independent
    # SuperLU solve of (I - wW) s = b within 1e-9.
    deg = graph.degree.astype(float)
    has = deg > 0
    w_mat = sp.diags_array(np.where(has, 1 / np.where(has, deg, 1), 0)) @ graph.adjacency
    exact = spsolve(sp.csc_array(sp.eye_array(graph.n_nodes) - 0.3 * w_mat), np.where(has, 0.7 * own, own))
    for method in ("iterate", "linear"):
        sol = fixed_point(own, graph.adjacency, 0.3, tolerance=1e-10, method=method)
        assert np.max(np.abs(sol.scores - exact)) <= 1e-9, method
        assert sol.error_bound <= 1e-10
    assert np.max(np.abs(closed_form(own, graph.adjacency, 0.3) - exact)) <= 1e-9
    # A warm start converges to the same point.
    warm = fixed_point(own, graph.adjacency, 0.3, lo=350, hi=950, tolerance=1e-10, start=np.full(len(own), 900.0))
    assert np.max(np.abs(warm.scores - ref.scores)) <= 2e-9


def test_linear_method_falls_back_to_iteration_when_the_clamp_binds():
    g = _random_graph(300, 900, seed=1, isolates=3)
    own = np.where(np.random.default_rng(0).random(300) < 0.5, 360.0, 940.0)
    it = fixed_point(own, g.adjacency, 0.6, lo=400, hi=900, tolerance=1e-10)
    lin = fixed_point(own, g.adjacency, 0.6, lo=400, hi=900, tolerance=1e-10, method="linear")
    assert lin.method == "linear+iterate"
    assert np.max(np.abs(lin.scores - it.scores)) <= 2e-10


# ---------------------------------------------------------------------- assortativity vs networkx
def _fb100(people_cols=("gender", "dorm", "year")):
    nodes = pd.read_csv(shared_file(f"{FB100}_nodes.csv"))
    edges = pd.read_csv(shared_file(f"{FB100}_edges.csv"))
    people = nodes[["node_id", *people_cols]].copy()
    for c in people_cols:  # 0 = missing in Facebook100 (readme)
        people[c] = people[c].astype("Int64").mask(people[c] == 0)
    return nodes, edges, people


def _nx_assortativity(edges: pd.DataFrame, values: dict) -> float:
    """networkx on the subgraph of nodes whose attribute is known (how missing codes are excluded)."""
    g = nx.Graph()
    g.add_edges_from(edges[["source", "target"]].itertuples(index=False, name=None))
    g.remove_edges_from(list(nx.selfloop_edges(g)))
    keep = [v for v in g.nodes if values.get(v) is not None]
    h = g.subgraph(keep).copy()
    nx.set_node_attributes(h, {v: values[v] for v in keep}, "attr")
    return nx.attribute_assortativity_coefficient(h, "attr")


def test_assortativity_equals_networkx_on_facebook100_caltech():
    nodes, edges, people = _fb100()
    graph = load_graph(edges, people["node_id"])
    groupings = build_groupings(people, ["gender", "dorm", "year"], max_order=2)
    stats = graph_statistics(graph, groupings)
    ours = stats.assortativity
    for attr in ("gender", "dorm", "year"):
        values = {int(i): (None if v == 0 else int(v)) for i, v in zip(nodes["node_id"], nodes[attr], strict=True)}
        assert ours[attr] == pytest.approx(_nx_assortativity(edges, values), abs=1e-12), attr
    # An intersection: both attributes known.
    values = {int(i): (None if 0 in (a, b) else (int(a), int(b)))
              for i, a, b in zip(nodes["node_id"], nodes["gender"], nodes["year"], strict=True)}
    assert ours["gender & year"] == pytest.approx(_nx_assortativity(edges, values), abs=1e-12)
    # Caltech36 has 4 components, the largest with 762 people (PROVENANCE.md).
    assert stats.n_components == 4 and stats.giant_size == 762


@pytest.mark.parametrize("folder, column", [("ego_facebook", "gender_anon"), ("email_eu_core", "department")])
def test_assortativity_equals_networkx_on_snap_networks(folder, column):
    nodes = pd.read_csv(shared_file(f"networks/{folder}/nodes.csv"))
    edges = pd.read_csv(shared_file(f"networks/{folder}/edges.csv"))
    graph = load_graph(edges, nodes["node_id"])
    stats = graph_statistics(graph, build_groupings(nodes, [column], max_order=1))
    values = {int(i): (None if pd.isna(v) else v) for i, v in zip(nodes["node_id"], nodes[column], strict=True)}
    assert stats.assortativity[column] == pytest.approx(_nx_assortativity(edges, values), abs=1e-12)


# ---------------------------------------------------------------------- Coleman, degrees, components
def test_coleman_index_and_tie_shares_match_a_brute_force_count():
    g = _random_graph(80, 200, seed=3, isolates=2)
    rng = np.random.default_rng(4)
    labels = rng.choice(["a", "b", "c"], size=80, p=[0.5, 0.3, 0.2]).astype(object)
    labels[rng.choice(80, 6, replace=False)] = None
    people = pd.DataFrame({"grp": pd.array(labels, dtype="string")})
    grouping = build_groupings(people, ["grp"], max_order=1)[0]
    stats = graph_statistics(g, grouping, disclosure_threshold=1, min_group_size=1)
    s = stats.by_grouping[0]
    nxg = _nx(g)
    known = [i for i in range(80) if labels[i] is not None]
    for code, (value,) in enumerate(grouping.values):
        members = [i for i in known if labels[i] == value]
        same = total = 0
        for i in members:  # brute force over nodes and their friends
            for j in nxg.neighbors(i):
                if labels[j] is not None:
                    total += 1
                    same += labels[j] == value
        h = same / total
        w = len(members) / len(known)
        expected = (h - w) / (1 - w) if h >= w else (h - w) / w
        assert s.coleman[code] == pytest.approx(expected, abs=1e-12)
        assert s.same_share[code] == pytest.approx(h, abs=1e-12)
        assert s.mean_degree[code] == pytest.approx(np.mean([nxg.degree(i) for i in members]), abs=1e-12)
    cross = sum(1 for u, v in nxg.edges if labels[u] is not None and labels[v] is not None and labels[u] != labels[v])
    assert s.cross_ties == cross


def test_components_and_giant_share_match_networkx():
    g = _random_graph(600, 420, seed=8)
    rng = np.random.default_rng(9)
    people = pd.DataFrame({"grp": rng.choice(["x", "y"], 600)})
    grouping = build_groupings(people, ["grp"], max_order=1)[0]
    stats = graph_statistics(g, grouping, disclosure_threshold=1, min_group_size=1)
    comps = sorted(nx.connected_components(_nx(g)), key=len, reverse=True)
    assert stats.n_components == len(comps)
    assert stats.giant_size == len(comps[0])
    assert len(comps[0]) > len(comps[1])  # unique giant for this seed
    giant = np.zeros(600, dtype=bool)
    giant[list(comps[0])] = True
    for code, (value,) in enumerate(grouping.values):
        members = people["grp"].to_numpy() == value
        assert stats.by_grouping[0].in_giant[code] == int((giant & members).sum())
    iso = sum(1 for _, d in _nx(g).degree if d == 0)
    assert stats.n_isolates == iso


# ---------------------------------------------------------------------- rewiring and hops
def test_rewiring_preserves_every_degree_exactly_and_destroys_homophily(sesame):
    _, people, graph, groupings = sesame
    rw = rewire(graph, seed=5)
    g2 = rw.graph
    np.testing.assert_array_equal(g2.degree, graph.degree)
    assert dict(_nx(g2).degree) == dict(_nx(graph).degree)  # networkx's count agrees
    a = g2.adjacency
    assert (a != a.T).nnz == 0 and a.diagonal().sum() == 0 and set(a.data.tolist()) == {1.0}
    assert g2.n_edges == graph.n_edges
    assert rw.attempted == 10 * graph.n_edges and rw.achieved > 0.9 * rw.attempted
    kept = graph.adjacency.multiply(a).nnz / graph.adjacency.nnz
    assert kept < 0.05
    eth = next(g for g in groupings if g.attributes == ("ethnicity",))
    before = graph_statistics(graph, eth).assortativity["ethnicity"]
    after = graph_statistics(g2, eth).assortativity["ethnicity"]
    assert before > 0.4 and abs(after) < 0.03
    # Same seed, same graph.
    assert rewire(graph, seed=5).graph.content_hash == g2.content_hash


def test_hop_distances_match_networkx_shortest_paths():
    g = _random_graph(300, 330, seed=12)
    sources = [3, 50, 77]
    ref = nx.multi_source_dijkstra_path_length(_nx(g), sources)
    expected = np.array([ref.get(i, -1) for i in range(300)])
    np.testing.assert_array_equal(hop_distances(g, sources), expected)
    mask = np.zeros(300, dtype=bool)
    mask[sources] = True
    capped = np.where(expected > 2, -1, expected)
    np.testing.assert_array_equal(hop_distances(g, mask, max_hops=2), capped)
    assert expected.max() > 2 and (expected == -1).any()


# ---------------------------------------------------------------------- spillover and shock
def test_spillover_matches_a_pandas_groupby(sesame):
    rule, people, graph, groupings = sesame
    res = spillover(rule, people, graph, groupings, disclosure_threshold=1, min_group_size=1)
    own = rule.own_scores(people)
    final = solve_network(own, graph, 0.3, lo=350, hi=950).scores
    att_own, att_final = attainment(rule.tiers, own), attainment(rule.tiers, final)
    frame = people[["gender", "ethnicity"]].assign(own=own, final=final)
    for j in range(len(rule.tiers)):
        frame[f"g{j}"] = att_own[:, j] & ~att_final[:, j]
    rows = {(tuple(r["attributes"]), tuple(r["group"].values())): r for r in res.to_dict()["groups"]}
    for attrs in (["ethnicity"], ["gender", "ethnicity"]):
        for key, sub in frame.groupby(attrs):
            r = rows[(tuple(attrs), tuple(key))]
            assert r["n"] == len(sub)
            # score statistics are rounded to one decimal place
            assert r["mean_own_score"] == pytest.approx(sub["own"].mean(), abs=0.051)
            assert r["mean_final_score"] == pytest.approx(sub["final"].mean(), abs=0.051)
            assert r["mean_shift"] == pytest.approx((sub["final"] - sub["own"]).mean(), abs=0.051)
            assert r["shift_quantiles"]["p50"] == pytest.approx((sub["final"] - sub["own"]).median(), abs=0.051)
            for j, t in enumerate(rule.tiers):
                assert r["guilt_by_association_count"][t.name] == int(sub[f"g{j}"].sum())
                assert r["guilt_by_association"][t.name] == pytest.approx(sub[f"g{j}"].mean(), abs=1e-6)
    assert any(v for r in rows.values() for v in r["guilt_by_association_count"].values())


def test_shock_counts_match_a_brute_force_recount(sesame):
    rule, people, graph, groupings = sesame
    res = shock(rule, people, graph, groupings, seeds="political_posts > 1", deduction=120,
                disclosure_threshold=1)
    seeds = (people["political_posts"] > 1).to_numpy()  # pandas, not the rule evaluator
    own = rule.own_scores(people)
    before = solve_network(own, graph, 0.3, lo=350, hi=950).scores
    after = solve_network(np.clip(own - 120 * seeds, 350, 950), graph, 0.3, lo=350, hi=950).scores
    fell = attainment(rule.tiers, before) & ~attainment(rule.tiers, after)
    dist = nx.multi_source_dijkstra_path_length(_nx(graph), list(np.flatnonzero(seeds)))
    hops = np.array([dist.get(i, -1) for i in range(graph.n_nodes)])
    band = np.select([hops == 0, hops == 1, hops == 2, hops >= 3], ["seeds", "1", "2", "3+"], "unreachable")
    d = res.to_dict()
    assert d["seeds"]["n_seeds"] == int(seeds.sum())
    for row in d["by_distance"]:
        sel = band != "seeds" if row["hops"] == "all others" else band == row["hops"]
        assert row["n"] == int(sel.sum())
        if row["n"]:
            for j, t in enumerate(rule.tiers):
                assert row["fell"][t.name] == int(fell[sel, j].sum())
            assert row["mean_score_change"] == pytest.approx((after - before)[sel].mean(), abs=0.051)
    first = next(r for r in d["by_distance"] if r["hops"] == "1")
    assert sum(first["fell"].values()) > 0
    eth = next(r for r in d["groups"] if r["attributes"] == ["ethnicity"] and r["hops"] == "1"
               and r["group"]["ethnicity"] == "majority")
    sel = (band == "1") & (people["ethnicity"] == "majority").to_numpy()
    assert eth["n"] == int(sel.sum())


def test_seed_expressions_use_the_safe_evaluator(sesame):
    rule, people, graph, groupings = sesame
    with pytest.raises(AuditInputError):
        shock(rule, people, graph, groupings, seeds="__import__('os').system('true')")
    empty = shock(rule, people, graph, groupings, seeds="political_posts > 10000")
    assert empty.status == "not run" and "empty" in empty.reason


# ---------------------------------------------------------------------- unfriending
def _strip(rd):
    return {k: v for k, v in rd.items() if k not in ("round", "ties_removed", "solver")}


def test_unfriending_with_compliance_zero_changes_nothing(sesame):
    rule, people, graph, groupings = sesame
    res = unfriending(rule, people, graph, groupings, rounds=3, compliance=0.0, progress=False)
    assert (res.final_graph.adjacency != graph.adjacency).nnz == 0
    np.testing.assert_array_equal(res.final_scores, solve_network(rule.own_scores(people), graph, 0.3,
                                                                  lo=350, hi=950).scores)
    rounds = res.to_dict()["rounds"]
    assert [r["ties_removed"] for r in rounds] == [0, 0, 0, 0]
    for r in rounds[1:]:
        assert _strip(r) == _strip(rounds[0])


def test_full_compliance_and_zero_margin_leave_no_tie_to_a_lower_scorer(sesame):
    rule, people, graph, groupings = sesame
    res = unfriending(rule, people, graph, groupings, rounds=2, compliance=1.0, margin=0.0,
                      drop_no_real_name=False, progress=False)
    u, v = res.final_graph.edge_arrays()
    s = res.decision_scores  # the scores the final round decided on
    assert np.all(s[u] == s[v])
    # Round 1 from the input graph, brute force over ties: a tie survives only between equal scores.
    first = unfriending(rule, people, graph, groupings, rounds=1, compliance=1.0, margin=0.0,
                        drop_no_real_name=False, progress=False)
    s0 = first.decision_scores
    expected = sum(1 for a, b in zip(*graph.edge_arrays(), strict=True) if s0[a] == s0[b])
    assert first.final_graph.n_edges == expected
    # With the real-name rule, no tie touching someone without a real-name account survives.
    res2 = unfriending(rule, people, graph, groupings, rounds=1, compliance=1.0, margin=50.0, progress=False)
    u2, v2 = res2.final_graph.edge_arrays()
    real = people["real_name"].to_numpy()
    assert real[u2].all() and real[v2].all()
    assert np.all(np.abs(res2.decision_scores[u2] - res2.decision_scores[v2]) <= 50.0)


def test_unfriending_semantics_match_a_brute_force_round():
    # Partial compliance: replay the documented rule tie by tie in Python, with the same draws.
    people, edges = audit.generate_sesame(400, seed=5)
    graph = load_graph(edges, people["id"])
    rule = audit.load_rule("sesame")
    groupings = build_groupings(people, ["ethnicity"], max_order=1)
    res = unfriending(rule, people, graph, groupings, rounds=1, compliance=0.4, margin=10.0, seed=7,
                      progress=False)
    s = res.decision_scores
    compliant = np.random.default_rng([7, 2]).random(400) < 0.4  # the unfriending stream
    no_real = ~people["real_name"].to_numpy()

    def drops(i, j):
        return compliant[i] and (s[j] < s[i] - 10.0 or no_real[j])

    kept = {(a, b) for a, b in zip(*graph.edge_arrays(), strict=True) if not (drops(a, b) or drops(b, a))}
    assert set(zip(*res.final_graph.edge_arrays(), strict=True)) == kept
    lost = res.to_dict()["rounds"][1]
    assert lost["ties_removed"] == graph.n_edges - len(kept)


def test_unfriending_defaults_are_a_moderate_stated_scenario_with_a_sensitivity_summary(sesame):
    rule, people, graph, groupings = sesame
    res = unfriending(rule, people, graph, groupings, progress=False)
    st = res.settings
    # compliance 0.2 and a margin of 10% of the rule's 350-950 range: only a clearly lower scorer is dropped.
    assert (st["rounds"], st["compliance"], st["margin"], st["drop_no_real_name"]) == (5, 0.2, 60.0, True)
    assert st["margin_basis"].startswith("default: 10% of the rule's score range")
    assert st["scenario"].startswith("Scenario: 5 rounds") and "probability 0.2" in st["scenario"]
    assert "60 points lower" in st["scenario"]
    # The headline is no longer an artefact of an extreme default: most ties survive 5 rounds.
    assert res.rounds[-1].edges > 0.5 * graph.n_edges
    assert res.rounds[-1].n_isolates < 0.1 * graph.n_nodes
    # An explicit margin is reported as given.
    assert unfriending(rule, people, graph, groupings, rounds=1, margin=5.0, progress=False,
                       sensitivity=False).settings["margin_basis"] == "given"

    sens = res.to_dict()["sensitivity"]
    labels = [(x["scenario"], x["compliance"], x["margin"]) for x in sens["scenarios"]]
    assert labels == [("this run", 0.2, 60.0), ("milder", 0.1, 120.0), ("stronger", 0.5, 0.0)]
    this = sens["scenarios"][0]
    assert this["this_run"] and this["ties_kept_share"] == pytest.approx(res.rounds[-1].edges / graph.n_edges,
                                                                         abs=1e-6)
    # 'stronger' is the same simulation run separately (same draws), recounted by brute force per group.
    strong = unfriending(rule, people, graph, groupings, compliance=0.5, margin=0.0, progress=False,
                         sensitivity=False)
    row = sens["scenarios"][2]
    assert row["ties_kept_share"] == pytest.approx(strong.final_graph.n_edges / graph.n_edges, abs=1e-6)
    deg0, deg1 = graph.degree, strong.final_graph.degree
    eth = people["ethnicity"].to_numpy()
    for g in row["groups"]:
        assert len(g["attributes"]) == 1  # single protected attributes only
        if g["attributes"] == ["ethnicity"]:
            sel = eth == g["group"]["ethnicity"]
            assert g["n"] == int(sel.sum())
            assert g["ties_kept_share"] == pytest.approx(deg1[sel].sum() / deg0[sel].sum(), abs=1e-6)
            iso = int((deg1[sel] == 0).sum())
            expected = iso / sel.sum() if cell_publishable(iso, int(sel.sum()), 10) else None
            assert g["isolate_share"] == (None if expected is None else pytest.approx(expected, abs=1e-6))
    # Isolates by brute force on the final graphs: the stronger scenario isolates more people, and a
    # published overall share equals the recount.
    iso_this = int((res.final_graph.degree == 0).sum())
    iso_strong = int((deg1 == 0).sum())
    assert iso_strong > iso_this
    n_people = graph.n_nodes
    for scen, iso in ((this, iso_this), (row, iso_strong)):
        if scen["isolate_share"] is not None:
            assert scen["isolate_share"] == pytest.approx(iso / n_people, abs=1e-6)
    assert row["isolate_share"] is not None  # thousands of isolates: publishable
    assert sens["scenarios"][1]["ties_kept_share"] > this["ties_kept_share"] > row["ties_kept_share"]
    # Without a score range the default margin is 10% of the 5th-95th percentile spread.
    class NoRange:
        range = None
    margin, basis = default_margin(NoRange(), np.arange(101.0))
    assert margin == pytest.approx(9.0) and "5th and 95th percentile" in basis


# ---------------------------------------------------------------------- amplification and annotation
def test_amplification_decomposes_exactly(sesame):
    rule, people, graph, groupings = sesame
    res = amplification(rule, people, graph, groupings, disclosure_threshold=1)
    own = rule.own_scores(people)
    frame = people[["ethnicity"]].assign(att=attainment(rule.tiers, own)[:, 1])
    rates = frame.groupby("ethnicity")["att"].mean()
    rows = [r for r in res.to_dict()["rows"] if r["attributes"] == ["ethnicity"]
            and r["tier"] == rule.tiers[1].name]
    for r in rows:  # without the network term: pandas rates over the best group's rate
        assert r["impact_ratio_without_network"] == pytest.approx(rates[r["group"]["ethnicity"]] / rates.max(),
                                                                  abs=1e-4)
        assert r["network_effect"] == pytest.approx(r["homophily_effect"] + r["degree_effect"], abs=2e-4)
    assert res.rewiring["degrees_preserved"]


def _fake_result(ratios: dict, hits: tuple | None = None) -> ContagionResult:
    """Four groups of 100 people, one tier; ``hits`` (per scenario, per group) default to 50 everywhere."""
    people = pd.DataFrame({"g": list("abcd") * 100})
    grouping = build_groupings(people, ["g"], max_order=1)[0]
    r = [np.array([[ratios[k][i]] for k in "abcd"]) for i in range(3)]
    hits = tuple(np.full((4, 1), 50) for _ in range(3)) if hits is None else \
        tuple(np.array(h, dtype=np.int64).reshape(4, 1) for h in hits)
    amp = Amplification(tiers=("T",), groupings=(grouping,), counts=(grouping.counts,), hits=(hits,),
                        ratios=(tuple(r),))
    return ContagionResult("ran", None, {}, {}, ("T",), amplification=amp)


def test_annotate_pushed_out():
    res = _fake_result({"a": (0.9, 0.7, 0.85), "b": (0.7, 0.6, 0.65), "c": (0.7, 0.69, 0.7),
                        "d": (0.75, 0.6, 0.7)})
    entries = [
        {"attributes": ["g"], "group": {"g": "a"}, "tier": "T", "impact_ratio": 0.7, "n": 25, "mechanism": "direct"},
        {"attributes": ["g"], "group": {"g": "b"}, "tier": "T", "impact_ratio": 0.6, "n": 25, "mechanism": "proxy"},
        {"attributes": ["g"], "group": {"g": "c"}, "tier": "T", "impact_ratio": 0.69, "n": 25, "mechanism": "direct"},
        {"attributes": ["g"], "group": {"g": "d"}, "tier": "T", "impact_ratio": 0.6, "n": 25, "mechanism": None},
        {"attributes": ["g"], "group": {"g": "a"}, "tier": "other tier", "impact_ratio": 0.5, "n": 25},
    ]
    snapshot = json.dumps(entries)
    out = res.annotate_pushed_out(entries)
    assert json.dumps(entries) == snapshot  # input untouched
    assert len(out) == len(entries)  # never dropped
    assert [e.get("mechanism") for e in out] == ["network", "proxy+network", "direct", "direct+network", None]
    assert out[0]["impact_ratio_without_network"] == 0.9 and out[0]["impact_ratio_rewired"] == 0.85
    assert "impact_ratio_without_network" not in out[4]
    # Idempotent, and a no-op without an amplification section.
    assert res.annotate_pushed_out(out) == out
    bare = ContagionResult.not_run("no graph: no friendship graph was given")
    assert bare.annotate_pushed_out(entries) == entries


def test_ratios_need_the_group_cell_and_the_most_favoured_cell():
    # 100 people per group. Without the network term the most favoured group 'a' has 97 of 100 (3 without:
    # small), so every ratio to it would give its cell back; with it, 'd' (95 of 100) is most favoured. On the
    # rewired graph 'c' is most favoured and 'd' (5 of 100) is hidden, and with it the smallest other count
    # ('a', 40), or 'd' would follow from the total minus the published groups.
    hits = ([97, 50, 60, 40], [40, 50, 60, 95], [40, 50, 60, 5])
    res = _fake_result({"a": (1.0, 0.42, 0.67), "b": (0.52, 0.53, 0.83), "c": (0.62, 0.63, 1.0),
                        "d": (0.41, 1.0, 0.08)}, hits)
    rows = {r["group"]["g"]: r for r in res.to_dict()["amplification"]}
    for g, r in rows.items():
        assert r["impact_ratio_without_network"] is None and r["impact_ratio"] is None, g
        assert r["network_effect"] is None and r["homophily_effect"] is None and r["degree_effect"] is None
        assert r["suppressed"]
    assert [rows[g]["impact_ratio_rewired"] for g in "abcd"] == [None, 0.83, 1.0, None]
    entries = [{"attributes": ["g"], "group": {"g": g}, "tier": "T", "impact_ratio": None, "n": 100,
                "mechanism": "direct"} for g in "abcd"]
    out = res.annotate_pushed_out(entries)
    assert [e["impact_ratio_without_network"] for e in out] == [None] * 4
    assert [e["impact_ratio_rewired"] for e in out] == [None, 0.83, 1.0, None]
    # 'a' has r0 = 1.0 >= 0.8 but r0 is not publishable: the mechanism (derived from it) stays as it was.
    assert [e["mechanism"] for e in out] == ["direct"] * 4


def _pandas_rates(frame: pd.DataFrame, attrs: list[str], col: str) -> pd.DataFrame:
    g = frame.groupby(attrs)[col].agg(["size", "sum"])
    return g.rename(columns={"size": "n", "sum": "hits"})


def test_every_published_ratio_passes_the_two_cell_rule_against_pandas(sesame):
    # Independent recount with pandas: attainment on own and on final scores (the project's solver), the most
    # favoured group (highest rate among groups of >= 30, ties to the larger group), and the two-cell rule.
    rule, people, graph, groupings = sesame
    t, m = 30, 30
    amp = amplification(rule, people, graph, groupings, disclosure_threshold=t, min_group_size=m)
    unf = unfriending(rule, people, graph, groupings, rounds=0, disclosure_threshold=t, min_group_size=m,
                      progress=False)
    own = rule.own_scores(people)
    final = solve_network(own, graph, 0.3, lo=350, hi=950).scores
    amp_rows = {(tuple(r["attributes"]), tuple(r["group"].values()), r["tier"]): r
                for r in amp.to_dict()["rows"]}
    unf_rows = {(tuple(r["attributes"]), tuple(r["group"].values())): r for r in unf.to_dict()["rounds"][0]["groups"]}
    caught = 0
    for scores, key in ((own, "impact_ratio_without_network"), (final, "impact_ratio")):
        att = attainment(rule.tiers, scores)
        for attrs in (["gender"], ["ethnicity"], ["gender", "ethnicity"]):
            for j, tier in enumerate(rule.tiers):
                frame = people[attrs].assign(hit=att[:, j])
                table = _pandas_rates(frame, attrs, "hit")
                table["rate"] = table["hits"] / table["n"]
                eligible = table[table["n"] >= m]
                best = eligible.sort_values(["rate", "n"], ascending=[False, False]).index[0]
                ref_ok = cell_publishable(int(table.loc[best, "hits"]), int(table.loc[best, "n"]), t)
                for idx, row in table.iterrows():
                    vals = idx if isinstance(idx, tuple) else (idx,)
                    n, h = int(row["n"]), int(row["hits"])
                    ok = n >= t and cell_publishable(h, n, t) and ref_ok
                    got = amp_rows[(tuple(attrs), vals, tier.name)].get(key)
                    # secondary suppression (differencing across tables) may hide more, never less
                    assert ok or got is None, (attrs, vals, tier.name, key, n, h)
                    if got is not None:
                        assert got == pytest.approx(row["rate"] / table.loc[best, "rate"], abs=1e-4)
                    if key == "impact_ratio" and n >= t:  # round 0 of unfriending: the same scores and rule
                        # secondary suppression (differencing across tables) may hide more, never less
                        assert ok or unf_rows[(tuple(attrs), vals)]["impact_ratio"][tier.name] is None
                    # The old rule (hide only a small own count) would have published these.
                    caught += bool(n >= t and ref_ok and not (0 < h < t) and 0 < n - h < t)
    assert caught, "the fixture should contain a group whose complement is small"


# ---------------------------------------------------------------------- the composite result
def _counts_in(obj, found, key=None):
    count_keys = {"n", "isolates", "ties_lost", "n_seeds", "giant_component_size"}
    count_maps = {"fell", "guilt_by_association_count", "degree_histogram"}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in count_maps and isinstance(v, dict):
                found.extend(x for x in v.values() if isinstance(x, int))
            elif k in count_keys and isinstance(v, int) and not isinstance(v, bool):
                found.append(v)
            else:
                _counts_in(v, found, k)
    elif isinstance(obj, list):
        for v in obj:
            _counts_in(v, found, key)
    return found


def test_shares_and_counts_follow_the_shared_cell_rule():
    for n in (0, 5, 10, 40):
        for k in range(n + 1):
            ok = cell_publishable(k, n, 10)
            assert (share(k, n, 10) is not None) == (ok and n > 0), (k, n)
            assert (cell_cnt(k, n, 10) is not None) == ok, (k, n)
    # "37 of 40" is as revealing as "3 of 40"; zeros and whole groups are published.
    assert [share(k, 40, 10) for k in (0, 3, 20, 37, 40)] == [0.0, None, 0.5, None, 1.0]
    # Parts of a published total: a single hidden part, or hidden parts adding up to a small count, would be
    # given back by subtraction, so more parts are hidden.
    assert protect_partition([3, 50, 40, 0], [True, False, False, False], 10).tolist() == [True, False, True, False]
    assert protect_partition([3, 4, 40, 0], [True, True, False, False], 10).tolist() == [True, True, True, False]
    assert protect_partition([30, 50, 0], [False, False, False], 10).tolist() == [False, False, False]


def _small(k, t):
    return 0 < k < t


def _assert_no_small_cells(d, t):
    """Every published cell of a contagion document: neither k nor n - k is 1..t-1, nor is any hidden part of a
    published total recoverable by subtraction (the check behind review finding 1)."""
    problems = []

    def cell(where, n, value, scale=True):
        if value is None or n is None:
            return
        k = round(value * n) if scale else value
        if _small(k, t) or _small(n - k, t):
            problems.append((where, n, k))

    def maps(where, row, keys):
        for key in keys:
            v = row.get(key)
            for tier, x in (v.items() if isinstance(v, dict) else [(None, v)]):
                cell(f"{where} {key}[{tier}]", row.get("n"), x)

    def partition(where, total, parts):
        shown = [v for v in parts if v is not None]
        for v in shown:
            cell(where, total, v, scale=False)
        if len(shown) < len(parts) and (len(parts) - len(shown) == 1 or _small(total - sum(shown), t)):
            problems.append((f"{where} by subtraction", total, total - sum(shown)))

    def nested(where, total, rows, get):
        # The groups of each grouping split everyone: a published overall figure minus the published group
        # figures is the sum of the hidden ones.
        if total is None:
            return
        by_grouping = {}
        for r in rows:
            by_grouping.setdefault(tuple(r["attributes"]), []).append(get(r))
        for attrs, parts in by_grouping.items():
            shown = [v for v in parts if v is not None]
            rest = total - sum(shown)
            if len(shown) < len(parts) and (_small(rest, t) or (len(parts) - len(shown) == 1 and rest)):
                problems.append((f"{where} vs groups of {attrs}", total, rest))

    sizes = {(tuple(r["attributes"]), tuple(r["group"].values())): r["n"] for r in d["spillover"]}
    nested("graph isolates", d["graph"]["isolates"], d["graph_statistics"], lambda r: r.get("isolates"))
    for rd in d["unfriending"]["rounds"]:
        nested(f"round {rd['round']} isolates", rd["isolates"], rd["groups"], lambda r: r.get("isolates"))
    overall = d["spillover_summary"]["overall"]
    for tier, c in overall["guilt_by_association_count"].items():
        nested(f"overall guilt {tier}", c, d["spillover"], lambda r, tier=tier:
               (r.get("guilt_by_association_count") or {}).get(tier))
    for band in d["shock"]["by_distance"]:
        rows = []
        for r in d["shock"]["groups"]:
            if r["hops"] == band["hops"] or r["hops"] == "all":
                rows.append({**r, "n": None if r["hops"] == "all" else r["n"]})
        nested(f"shock band {band['hops']}", band["n"], rows, lambda r: r["n"])
        for tier, c in (band.get("fell") or {}).items():
            nested(f"shock fell {band['hops']} {tier}", c, rows,
                   lambda r, tier=tier: 0 if r["n"] == 0 else (r.get("fell") or {}).get(tier))
    for r in d["spillover"]:
        maps("spillover", r, ("own_attainment", "final_attainment", "guilt_by_association", "lifted_by_association",
                              "share_pulled_down", "share_pulled_up"))
        for c in (r.get("guilt_by_association_count") or {}).values():
            cell("spillover guilt count", r.get("n"), c, scale=False)
        # final = own - guilt + lifted: one hidden term of the four would be given back by the other three.
        for tier in r.get("own_attainment") or {}:
            terms = [r[k][tier] for k in ("own_attainment", "final_attainment", "guilt_by_association",
                                          "lifted_by_association")]
            if sum(x is None for x in terms) == 1:
                problems.append(("spillover identity", r["group"], tier))
    for r in d["graph_statistics"]:
        maps("graph", r, ("isolate_share", "giant_component_share"))
        cell("graph isolates", r.get("n"), r.get("isolates"), scale=False)
        if r.get("n"):
            partition("degree histogram", r["n"], list(r["degree_histogram"].values()))
    cell("graph giant", d["graph"]["nodes"], d["graph"]["giant_component_share"])
    cell("graph isolates", d["graph"]["nodes"], d["graph"]["isolate_share"])
    for rd in d["unfriending"]["rounds"]:
        for r in rd["groups"]:
            maps(f"unfriending {rd['round']}", r, ("tier_attainment", "isolate_share", "giant_component_share"))
            cell("unfriending isolates", r.get("n"), r.get("isolates"), scale=False)
    for sc in d["unfriending"]["sensitivity"]["scenarios"]:
        for r in sc["groups"]:
            maps(f"sensitivity {sc['scenario']}", r, ("isolate_share",))
    blocks = {(): d["shock"]["by_distance"]}
    for r in d["shock"]["groups"]:
        blocks.setdefault((tuple(r["attributes"]), tuple(r["group"].values())), []).append(r)
    for key, rows in blocks.items():
        for r in rows:
            maps(f"shock {key} {r['hops']}", r, ("fell_share",))
            for c in (r.get("fell") or {}).values():
                cell(f"shock fell {key}", r.get("n"), c, scale=False)
        bands = [r for r in rows if r["hops"] not in ("all others", "all")]
        if len(bands) == 5:
            total = d["graph"]["nodes"] if key == () else sizes[key]
            partition(f"shock bands {key}", total, [r["n"] for r in bands])
            others = next(r for r in rows if r["hops"] == "all others")
            for tier, c in (others.get("fell") or {}).items():
                if c is not None:
                    partition(f"shock fell {key} {tier}", c,
                              [(r.get("fell") or {}).get(tier) if r["n"] != 0 else 0 for r in bands[1:]])
    assert not problems, problems[:10]


def test_to_dict_is_json_ready_and_suppresses_small_counts():
    people, edges = audit.generate_sesame(1200, seed=4)
    graph = load_graph(edges, people["id"])
    groupings = build_groupings(people, ["gender", "ethnicity", "age_band"], max_order=2)
    res = network_contagion("sesame", people, graph, groupings, rounds=2, disclosure_threshold=20,
                            min_group_size=30, progress=False)
    d = res.to_dict()
    text = json.dumps(d, allow_nan=False)
    counts = _counts_in(d, [])
    assert counts and not [c for c in counts if 0 < c < 20]
    assert '"suppressed": true' in text
    # No published share or count gives back a small count or a small complement ("37 of 40").
    _assert_no_small_cells(d, 20)
    # The unfriending scenario is stated up front, in the methods and in the settings.
    assert d["methods"]["unfriending"].startswith("Scenario: 2 rounds")
    assert d["settings"]["unfriending"]["compliance"] == 0.2 and d["settings"]["unfriending"]["margin"] == 60.0
    # Means and quantiles only for groups of at least min_group_size.
    for row in d["spillover"]:
        if row["n"] is not None and row["n"] < 30:
            assert row["mean_own_score"] is None and row["shift_quantiles"] is None
    # A suppressed count never leaves its share behind.
    for row in d["spillover"]:
        for tier, c in (row.get("guilt_by_association_count") or {}).items():
            if c is None:
                assert row["guilt_by_association"][tier] is None
    # Group aggregates only: no list as long as the population.
    def lists(o):
        if isinstance(o, dict):
            for v in o.values():
                yield from lists(v)
        elif isinstance(o, list):
            yield o
            for v in o:
                yield from lists(v)
    assert max(len(x) for x in lists(d)) < len(people)
    assert set(d) >= {"status", "reason", "methods", "assortativity", "graph_statistics", "spillover", "shock",
                      "unfriending", "amplification"}
    assert "homophily_effect = (ii) - (iii)" in d["methods"]["amplification"]
    frame = res.to_frame()
    assert set(frame["section"]) == {"graph_statistics", "spillover", "shock", "unfriending", "amplification"}
    html_text = res._repr_html_()
    assert "<table" in html_text and "<script" not in html_text


def test_same_seed_same_output_and_another_seed_differs(sesame):
    rule, people, graph, groupings = sesame
    kw = dict(rounds=2, fraction=0.02, progress=False)
    a = json.dumps(network_contagion(rule, people, graph, groupings, seed=3, **kw).to_dict(), sort_keys=True)
    b = json.dumps(network_contagion(rule, people, graph, groupings, seed=3, **kw).to_dict(), sort_keys=True)
    c = json.dumps(network_contagion(rule, people, graph, groupings, seed=4, **kw).to_dict(), sort_keys=True)
    assert a == b
    assert a != c


def _ctx(rule, people, graph, groupings):
    protected = list(dict.fromkeys(a for g in groupings for a in g.attributes))
    ctx = prepare_audit(rule, people, protected, graph)
    return dataclasses.replace(ctx, groupings=tuple(groupings))


def test_run_hook_says_what_did_not_run(sesame):
    rule, people, graph, groupings = sesame
    res = audit_family(_ctx(rule, people, None, groupings))
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["status"] == "not run" and d["reason"].startswith("no graph")
    assert all(s["status"] == "not run" for s in d["sections"].values())
    # A graph but no network term: graph statistics (and graph-only unfriending) still run.
    flat = rule.without_network()
    ctx2 = _ctx(flat, people, graph, groupings)
    d2 = audit_family(ctx2, rounds=1, progress=False).to_dict()
    json.dumps(d2, allow_nan=False)
    assert d2["status"] == "ran" and "no network term" in d2["reason"]
    assert d2["assortativity"] and d2["graph_statistics"]
    for name in ("spillover", "shock", "amplification"):
        assert d2["sections"][name] == {"status": "not run", "reason": "the rule has no network term"}
    assert d2["spillover"] == [] and d2["amplification"] == []
    assert d2["sections"]["unfriending"]["status"] == "ran"
    with pytest.raises(AuditInputError, match="option 'round'"):
        audit_family(ctx2, round=3)


def test_audit_run_puts_contagion_in_the_report():
    people, edges = audit.generate_sesame(4000, seed=1)
    report = audit.run("sesame", people, protected=["gender", "ethnicity"], graph=edges,
                       families=["impact", "contagion"], options={"contagion": {"rounds": 1, "progress": False}})
    full = report.to_dict()
    doc = full["contagion"]
    json.dumps(full, allow_nan=False)
    assert set(doc["assortativity"]) >= {"gender", "ethnicity"}
    assert doc["spillover"] and all({"attributes", "group", "n", "mean_own_score", "mean_final_score"} <= set(e)
                                    for e in doc["spillover"])
    # The network-on ratio of the amplification section is the impact family's ratio (its own code path).
    amp = {(tuple(r["attributes"]), tuple(r["group"].values()), r["tier"]): r for r in doc["amplification"]}
    checked = 0
    for e in full["pushed_out"]:
        r = amp.get((tuple(e["attributes"]), tuple(e["group"].values()), e["tier"]))
        if r and isinstance(e.get("impact_ratio"), float) and r["impact_ratio"] is not None:
            assert r["impact_ratio"] == pytest.approx(e["impact_ratio"], abs=1e-4)
            checked += 1
    assert checked


def test_real_network_end_to_end_on_facebook100():
    nodes, edges, people = _fb100()
    graph = load_graph(edges, people["node_id"])
    # An illustrative rule on an opaque attribute: own score from the class year, friends count 30%.
    rule = audit.Rule.from_callable(lambda df: 600 + 20 * (df["year"].fillna(2000).to_numpy() >= 2008),
                                    tiers={"benefit": 615}, name="toy", features=["year"],
                                    network={"weight": 0.3}, range=(350, 950))
    groupings = build_groupings(people, ["gender", "dorm"], max_order=1)
    res = network_contagion(rule, people, graph, groupings, rounds=2, progress=False)
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["status"] == "ran"
    assert any("real-name" in n for n in d["settings"]["notes"])
    assert d["unfriending"]["settings"]["drop_no_real_name"] is False
    assert d["rewiring"]["degrees_preserved"]
    assert d["spillover"] and d["graph"]["components"] == 4


def test_adverse_tier_guilt_means_being_pulled_into_it(sesame):
    # A "blacklist" band (score <= 700) is bad news: guilt by association = own score outside it,
    # final score inside it (brute force with numpy on the project's solver).
    _, people, graph, groupings = sesame
    base = audit.load_rule("sesame")
    rule = audit.Rule.from_callable(base.own_scores, tiers=[audit.Tier("blacklist", at_most=700.0)],
                                    name="blacklist", features=list(base.features), network={"weight": 0.3},
                                    range=(350, 950))
    res = spillover(rule, people, graph, groupings, disclosure_threshold=1, min_group_size=1)
    own = base.own_scores(people)
    final = solve_network(own, graph, 0.3, lo=350, hi=950).scores
    pulled_in = (own > 700) & (final <= 700)
    row = next(r for r in res.to_dict()["groups"] if r["attributes"] == ["ethnicity"]
               and r["group"]["ethnicity"] == "minority A")
    sel = (people["ethnicity"] == "minority A").to_numpy()
    assert row["guilt_by_association_count"]["blacklist"] == int(pulled_in[sel].sum()) > 0
    assert row["final_attainment"]["blacklist"] == pytest.approx((final[sel] <= 700).mean(), abs=1e-6)


@pytest.mark.parametrize("module", ["_common", "_core", "_graphstats", "_spillover", "_unfriending", "_amplification",
                                    "_family"])
def test_doctests_pass(module):
    result = doctest.testmod(importlib.import_module(f"audit.contagion.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def _published_tables(d: dict, n_people: int) -> tuple[dict, dict]:
    """Every per-group count the report publishes (directly, or as a share of a published n), by table.

    Returns ``tables[(kind, ...)][group] -> count`` (``group`` a frozenset of (attribute, value) pairs, the
    empty set for everyone) and ``sizes[(hops or round, group)] -> n``.
    """
    tables: dict = {}
    sizes: dict = {}

    def key(row):
        return frozenset((row.get("group") or {}).items())

    def put(table, group, value):
        if value is not None:
            tables.setdefault(table, {})[group] = int(round(value))

    def from_share(table, group, share, n):
        if share is not None and n is not None:
            put(table, group, share * n)

    put(("n",), frozenset(), n_people)
    for r in d["spillover"]:
        g, n = key(r), r.get("n")
        put(("n",), g, n)
        sizes[("spill", g)] = n
        for tn, v in (r.get("guilt_by_association_count") or {}).items():
            put(("guilt", tn), g, v)
        for field in ("guilt_by_association", "lifted_by_association", "own_attainment", "final_attainment"):
            for tn, v in (r.get(field) or {}).items():
                from_share((field, tn), g, v, n)
        for field in ("share_pulled_down", "share_pulled_up"):
            from_share((field,), g, r.get(field), n)
    for tn, v in (d["spillover_summary"]["overall"].get("guilt_by_association_count") or {}).items():
        put(("guilt", tn), frozenset(), v)
    for r in d["graph_statistics"]:
        g, n = key(r), r.get("n")
        put(("isolates", "input"), g, r.get("isolates"))
        from_share(("giant", "input"), g, r.get("giant_component_share"), n)
        for lab, v in (r.get("degree_histogram") or {}).items():
            put(("degree", lab), g, v)
    put(("isolates", "input"), frozenset(), d["graph"].get("isolates"))
    put(("giant", "input"), frozenset(), d["graph"].get("giant_component_size"))
    for rd in d["unfriending"]["rounds"]:
        rnd = rd["round"]
        put(("isolates", rnd), frozenset(), rd.get("isolates"))
        for r in rd["groups"]:
            g, n = key(r), r.get("n")
            put(("isolates", rnd), g, r.get("isolates"))
            put(("ties_lost", rnd), g, r.get("ties_lost"))
            from_share(("giant", rnd), g, r.get("giant_component_share"), n)
            for tn, v in (r.get("tier_attainment") or {}).items():
                from_share(("attainment", rnd, tn), g, v, n)
    for r in d["shock"]["by_distance"] + d["shock"]["groups"]:
        g, h = key(r), r["hops"]
        put(("band_n", h), g, r.get("n"))
        for tn, v in (r.get("fell") or {}).items():
            put(("fell", h, tn), g, v)
    return tables, sizes


def _difference(table: dict, values: dict, max_order: int) -> dict:
    """Brute-force differencing: a group total is the sum of its sub-groups over any one further attribute."""
    known = dict(table)
    cons = []
    groups = [frozenset()] + [frozenset(c) for o in range(1, max_order) for c in _combos(values, o)]
    for total in groups:
        used = {a for a, _ in total}
        for a, vals in values.items():
            if a not in used:
                cons.append((total, [total | {(a, v)} for v in vals]))
    recovered = {}
    changed = True
    while changed:
        changed = False
        for total, parts in cons:
            unknown = [c for c in [total, *parts] if c not in known]
            if len(unknown) != 1:
                continue
            u = unknown[0]
            if u == total:
                v = sum(known[p] for p in parts)
            else:
                v = known[total] - sum(known[p] for p in parts if p != u)
            known[u] = recovered[u] = v
            changed = True
    return recovered


def _combos(values: dict, order: int):
    import itertools

    for attrs in itertools.combinations(sorted(values), order):
        for vals in itertools.product(*(values[a] for a in attrs)):
            yield tuple(zip(attrs, vals, strict=True))


def test_no_small_count_follows_by_differencing_group_totals_and_sub_groups():
    # A hand-made population: 4 women of minority C (an intersection cell of 4 people), 50 men of minority C.
    people, edges = audit.generate_sesame(1500, seed=3)
    people = people.copy()
    c_women = np.flatnonzero((people["ethnicity"] == "minority C") & (people["gender"] == "female"))
    people.loc[people.index[c_women[4:]], "ethnicity"] = "majority"
    assert ((people["ethnicity"] == "minority C") & (people["gender"] == "female")).sum() == 4
    graph = load_graph(edges, people["id"])
    groupings = build_groupings(people, ["gender", "ethnicity"], max_order=2)
    t = 10
    res = network_contagion("sesame", people, graph, groupings, rounds=2, disclosure_threshold=t,
                            min_group_size=30, seeds="political_posts > 1", deduction=150, progress=False)
    d = json.loads(json.dumps(res.to_dict()))
    values = {a: sorted(people[a].unique()) for a in ("gender", "ethnicity")}
    tables, sizes = _published_tables(d, len(people))
    spill_n = {g: n for (kind, g), n in sizes.items() if kind == "spill" and n is not None}
    spill_n[frozenset()] = len(people)
    leaks = []
    checked = 0
    for name, table in tables.items():
        for g, v in _difference(table, values, 2).items():
            checked += 1
            n = spill_n.get(g) if name[0] != "n" else None
            if 0 < v < t or (n is not None and 0 < n - v < t and name[0] not in ("ties_lost", "degree")):
                leaks.append((name, sorted(g), v))
    assert not leaks, leaks[:10]
    # The attack does run: some hidden figures are recovered, just never a small one.
    assert checked > 0
    # And the small cell is really there and hidden.
    row = next(r for r in d["spillover"] if r["group"] == {"gender": "female", "ethnicity": "minority C"})
    assert row["n"] is None
