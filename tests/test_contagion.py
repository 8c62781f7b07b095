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
from audit._run import AuditContext
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
from audit.data import load_population
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
            assert r["mean_own_score"] == pytest.approx(sub["own"].mean(), abs=1e-6)
            assert r["mean_final_score"] == pytest.approx(sub["final"].mean(), abs=1e-6)
            assert r["mean_shift"] == pytest.approx((sub["final"] - sub["own"]).mean(), abs=1e-6)
            assert r["shift_quantiles"]["p50"] == pytest.approx((sub["final"] - sub["own"]).median(), abs=1e-4)
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
            assert row["mean_score_change"] == pytest.approx((after - before)[sel].mean(), abs=1e-6)
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
    first = unfriending(rule, people, graph, groupings, rounds=1, compliance=1.0, drop_no_real_name=False,
                        progress=False)
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


def _fake_result(ratios: dict) -> ContagionResult:
    people = pd.DataFrame({"g": list("abcd") * 25})
    grouping = build_groupings(people, ["g"], max_order=1)[0]
    r = [np.array([[ratios[k][i]] for k in "abcd"]) for i in range(3)]
    hits = tuple(np.full((4, 1), 50) for _ in range(3))
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
    return AuditContext(rule=rule, population=load_population(people), graph=graph, groupings=groupings,
                        scores=rule.scores(people, graph), seed=0, min_group_size=30, disclosure_threshold=10)


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
            assert e["impact_ratio_without_network"] == r["impact_ratio_without_network"]
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
