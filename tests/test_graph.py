"""``audit.graph``: loading edge lists (clean-up and errors) and the network term's fixed point.

Independent references: the clean-up counts are worked out by hand (small
lists) or with networkx (email-Eu-core); the fixed point is compared with the
closed form ``(I - wW)^{-1} b`` from a direct sparse solve (SuperLU), and with
a plain numpy iteration of the clamped map for the clamped case.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import shared_file
from scipy.sparse.linalg import spsolve

from audit._errors import AuditInputError
from audit.graph import graph_from_adjacency, load_graph, solve_network


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


# ---------------------------------------------------------------------- load_graph: clean-up
def test_self_loops_and_duplicates_are_dropped_and_counted():
    # By hand: ties {1,2} (listed 3 times, once reversed), {2,3}; two self-loops.
    edges = pd.DataFrame({"source": [1, 2, 1, 3, 3, 2], "target": [2, 1, 2, 3, 2, 2]})
    g = load_graph(edges, [1, 2, 3, 4])
    assert g.n_nodes == 4
    assert g.n_edges == 2
    assert g.dropped_self_loops == 2
    assert g.dropped_duplicates == 2
    assert g.degree.tolist() == [1, 2, 1, 0]
    a = g.adjacency
    assert (a != a.T).nnz == 0
    assert set(a.data.tolist()) == {1.0}
    assert a.diagonal().sum() == 0


def test_rows_follow_the_population_order_not_the_ids():
    g = load_graph(pd.DataFrame({"source": ["b"], "target": ["c"]}), ["c", "a", "b"])
    assert g.degree.tolist() == [1, 0, 1]
    assert g.adjacency[0, 2] == 1.0


def test_columns_default_to_the_first_two_and_can_be_named():
    frame = pd.DataFrame({"u": [0, 1], "v": [1, 2], "w": [5, 6]})
    assert load_graph(frame, range(3)).n_edges == 2
    g = load_graph(frame, range(3), source_col="v", target_col="u")
    assert g.n_edges == 2


def test_real_directed_network_with_self_loops_matches_networkx():
    # email-Eu-core: directed, with reciprocal pairs and self-loops.  networkx's
    # undirected Graph is the independent reference for the clean-up.
    path = shared_file("networks/email_eu_core/edges.csv")
    nodes = pd.read_csv(shared_file("networks/email_eu_core/nodes.csv"))
    edges = pd.read_csv(path)
    g = load_graph(path, nodes["node_id"])
    ref = nx.Graph()
    ref.add_nodes_from(nodes["node_id"])
    ref.add_edges_from(edges.itertuples(index=False, name=None))
    loops = nx.number_of_selfloops(ref)
    ref.remove_edges_from(list(nx.selfloop_edges(ref)))
    assert g.n_edges == ref.number_of_edges()
    assert g.dropped_self_loops == int((edges["source"] == edges["target"]).sum()) == loops
    assert g.dropped_duplicates == len(edges) - loops - ref.number_of_edges()
    assert g.degree.tolist() == [ref.degree(i) for i in nodes["node_id"]]
    assert g.source == "edges.csv"


# ---------------------------------------------------------------------- load_graph: errors
def test_unknown_id_is_a_one_line_error_naming_file_and_column(tmp_path):
    p = tmp_path / "ties.csv"
    pd.DataFrame({"source": [1, 2], "target": [2, 99]}).to_csv(p, index=False)
    with pytest.raises(AuditInputError) as exc:
        load_graph(p, [1, 2, 3])
    msg = _one_line(exc)
    assert "ties.csv" in msg and "'target'" in msg and "99" in msg


def test_missing_column_is_a_one_line_error_naming_file_and_column(tmp_path):
    p = tmp_path / "ties.csv"
    pd.DataFrame({"source": [1], "target": [2]}).to_csv(p, index=False)
    with pytest.raises(AuditInputError) as exc:
        load_graph(p, [1, 2], source_col="from", target_col="target")
    msg = _one_line(exc)
    assert "ties.csv" in msg and "'from'" in msg


def test_missing_id_is_a_one_line_error_naming_file_and_column(tmp_path):
    p = tmp_path / "ties.csv"
    p.write_text("source,target\n1,2\n,3\n")
    with pytest.raises(AuditInputError) as exc:
        load_graph(p, [1, 2, 3])
    msg = _one_line(exc)
    assert "ties.csv" in msg and "'source'" in msg and "missing" in msg


def test_single_column_file_and_absent_file_are_errors(tmp_path):
    p = tmp_path / "one.csv"
    p.write_text("source\n1\n")
    with pytest.raises(AuditInputError, match="one.csv"):
        load_graph(p, [1])
    with pytest.raises(AuditInputError, match="not found"):
        load_graph(tmp_path / "absent.csv", [1])


def test_duplicate_population_ids_are_an_error():
    with pytest.raises(AuditInputError, match="more than once"):
        load_graph(pd.DataFrame({"source": [1], "target": [2]}), [1, 2, 2], id_name="pid")


# ---------------------------------------------------------------------- solve_network
def _random_graph(n: int, m: int, seed: int, isolates: int = 5):
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n - isolates, m)
    v = rng.integers(0, n - isolates, m)
    a = sp.coo_array((np.ones(m), (u, v)), shape=(n, n))
    return graph_from_adjacency(a)


def _closed_form(own, g, w):
    # (I - w W) s = b, W = D^-1 A (zero rows for isolates); b = (1-w) own, own for isolates.
    deg = g.degree.astype(float)
    has = deg > 0
    dinv = np.where(has, 1 / np.where(has, deg, 1), 0)
    m = sp.eye_array(g.n_nodes, format="csc") - w * sp.csc_array(sp.diags_array(dinv) @ g.adjacency)
    return spsolve(m, np.where(has, (1 - w) * own, own))


@pytest.mark.parametrize("weight", [0.1, 0.3, 0.7])
def test_linear_unclamped_fixed_point_equals_the_closed_form(weight):
    g = _random_graph(400, 1500, seed=int(weight * 10))
    own = np.random.default_rng(1).uniform(350, 950, g.n_nodes)
    sol = solve_network(own, g, weight, tolerance=1e-10)
    exact = _closed_form(own, g, weight)
    assert np.max(np.abs(sol.scores - exact)) <= 1e-9
    assert sol.error_bound <= 1e-10
    # The stated bound is honest at the default tolerance too.
    loose = solve_network(own, g, weight)
    assert np.max(np.abs(loose.scores - exact)) <= loose.error_bound + 1e-11 <= 1e-9 + 1e-11


def test_clamp_is_applied_and_isolates_keep_their_own_score():
    g = _random_graph(300, 900, seed=5, isolates=7)
    rng = np.random.default_rng(2)
    # Own scores far outside the range, so the clamp binds for people with friends too.
    own = np.where(rng.random(g.n_nodes) < 0.5, 0.0, 1300.0)
    w = 0.3
    sol = solve_network(own, g, w, lo=400.0, hi=900.0, tolerance=1e-10)
    s = sol.scores
    assert s.min() >= 400.0 and s.max() <= 900.0
    connected = g.degree > 0
    assert ((s == 400.0) | (s == 900.0))[connected].any()  # the clamp binds for connected people
    iso = g.degree == 0
    assert iso.sum() >= 7
    np.testing.assert_array_equal(s[iso], np.clip(own[iso], 400, 900))
    # Independent check: a plain numpy iteration of the clamped map, run far past convergence.
    deg = g.degree.astype(float)
    a = g.adjacency.toarray()
    ref = own.copy()
    for _ in range(200):
        mean = np.divide(a @ ref, deg, out=np.zeros_like(ref), where=deg > 0)
        ref = np.clip(np.where(deg > 0, (1 - w) * own + w * mean, own), 400, 900)
    assert np.max(np.abs(s - ref)) <= 1e-9


def test_isolates_keep_own_score_exactly_without_clamp():
    g = _random_graph(50, 60, seed=3, isolates=4)
    own = np.linspace(400, 900, 50)
    s = solve_network(own, g, 0.3).scores
    iso = g.degree == 0
    np.testing.assert_array_equal(s[iso], own[iso])


def test_non_convergence_and_bad_weight_are_errors():
    g = _random_graph(50, 100, seed=4)
    own = np.linspace(400, 900, 50)
    with pytest.raises(AuditInputError, match="cannot converge within the limit of 2 iterations"):
        solve_network(own, g, 0.9, tolerance=1e-12, max_iterations=2)
    for w in (0.0, 1.0, -0.1):
        with pytest.raises(AuditInputError, match="weight"):
            solve_network(own, g, w)
