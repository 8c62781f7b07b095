"""Population loading and graph alignment: errors name the file and column; clean-up is counted."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from audit import AuditInputError, load_graph, load_population
from audit.data import frame_hash


def test_population_from_csv_and_parquet_hash_equal(tmp_path):
    df = pd.DataFrame({"id": [1, 2, 3], "x": [0.5, 1.5, 2.5], "g": ["a", "b", "a"]})
    df.to_csv(tmp_path / "p.csv", index=False)
    df.to_parquet(tmp_path / "p.parquet", index=False)
    a = load_population(tmp_path / "p.csv")
    b = load_population(tmp_path / "p.parquet")
    assert a.source == "p.csv" and a.n == 3 and a.ids.tolist() == [1, 2, 3]
    assert a.data_hash == load_population(df).data_hash
    assert b.n == 3
    assert frame_hash(df) != frame_hash(df.assign(x=[0.5, 1.5, 2.6]))


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"id": [1, 1], "x": [1, 2]}), "id 1 appears more than once"),
        (pd.DataFrame({"id": [1, None], "x": [1, 2]}), "missing ids"),
        (pd.DataFrame({"id": [], "x": []}), "no rows"),
    ],
)
def test_population_errors(frame, message):
    with pytest.raises(AuditInputError, match=message):
        load_population(frame)


def test_missing_file_and_unsupported_type(tmp_path):
    with pytest.raises(AuditInputError, match="nope.csv: population file not found"):
        load_population(tmp_path / "nope.csv")
    (tmp_path / "p.xlsx").write_text("x")
    with pytest.raises(AuditInputError, match="unsupported population file type '.xlsx'"):
        load_population(tmp_path / "p.xlsx")


def test_graph_cleanup_is_counted_and_matches_networkx():
    edges = pd.DataFrame({"source": [1, 2, 2, 3, 4, 4, 1], "target": [2, 1, 3, 3, 1, 5, 2]})
    ids = [1, 2, 3, 4, 5, 6]
    g = load_graph(edges, ids)
    assert g.dropped_self_loops == 1 and g.dropped_duplicates == 2
    ref = nx.Graph()
    ref.add_nodes_from(ids)
    ref.add_edges_from((u, v) for u, v in zip(edges.source, edges.target, strict=True) if u != v)
    assert g.n_edges == ref.number_of_edges()
    assert g.degree.tolist() == [ref.degree(i) for i in ids]
    assert (g.adjacency != g.adjacency.T).nnz == 0


def test_graph_errors_name_file_and_column(tmp_path):
    path = tmp_path / "edges.csv"
    pd.DataFrame({"a": [1, 9], "b": [2, 1]}).to_csv(path, index=False)
    with pytest.raises(AuditInputError, match=r"edges.csv: column 'a': 1 ids are not in the population's 'id' column \(first: 9\)"):
        load_graph(path, [1, 2, 3])
    with pytest.raises(AuditInputError, match="column 'src' is missing"):
        load_graph(path, [1, 2, 3], source_col="src", target_col="b")
    pd.DataFrame({"a": [1.0, np.nan], "b": [2, 1]}).to_csv(path, index=False)
    with pytest.raises(AuditInputError, match="column 'a' has 1 missing ids"):
        load_graph(path, [1, 2, 3])
    pd.DataFrame({"a": [1]}).to_csv(path, index=False)
    with pytest.raises(AuditInputError, match="needs two id columns"):
        load_graph(path, [1, 2, 3])


def test_string_ids_align():
    g = load_graph(pd.DataFrame({"u": ["x", "y"], "v": ["y", "z"]}), ["z", "y", "x"])
    assert g.degree.tolist() == [1, 2, 1]
