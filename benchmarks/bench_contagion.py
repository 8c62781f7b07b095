"""Benchmark: the contagion family at scale, and spillover against a straightforward networkx version.

Targets (2-core machine):
* the demo size (20,000 people, 200,000 ties): the whole contagion family with its defaults (including
  the unfriending sensitivity summary) in under 5 s;
* 1e6 people, 1e7 ties: the network term's fixed point to 1e-6 in under 10 s;
* 10 rounds of strategic unfriending in under 60 s;
* 1e5 people: spillover at least 100x faster than a plain networkx implementation
  (the same fixed point and group summary written with networkx and Python loops).

Usage::

    .venv/bin/python benchmarks/bench_contagion.py [--n 1000000] [--mean-degree 20] [--rounds 10]
                                                   [--nx-n 100000] [--skip-large] [--skip-nx]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np
import pandas as pd

import audit
from audit.contagion import network_contagion, spillover, unfriending
from audit.contagion._core import build_adjacency, fixed_point
from audit.graph import Graph, load_graph, solve_network
from audit.groups import build_groupings

TARGET_DEMO = 5.0
TARGET_FIXED_POINT = 10.0
TARGET_UNFRIENDING = 60.0
TARGET_RATIO = 100.0


def _line(label: str, value: str) -> None:
    print(f"{label:<56}{value}", flush=True)


def _graph_from_range_ids(edges: pd.DataFrame, n: int) -> Graph:
    """The generator's ids are 0..n-1 and its ties distinct with source < target: build the CSR directly."""
    return Graph(build_adjacency(n, edges["source"].to_numpy(), edges["target"].to_numpy()),
                 source="generated")


def large(n: int, mean_degree: float, rounds: int, time_load_graph: bool) -> dict:
    t0 = time.perf_counter()
    people, edges = audit.generate_sesame(n, seed=0, mean_degree=mean_degree)
    _line("generate", f"{time.perf_counter() - t0:8.2f} s  ({n:,} people, {len(edges):,} ties)")
    t0 = time.perf_counter()
    graph = _graph_from_range_ids(edges, n)
    _line("build CSR from 0..n-1 ids", f"{time.perf_counter() - t0:8.2f} s")
    if time_load_graph:
        t0 = time.perf_counter()
        g2 = load_graph(edges, people["id"])
        _line("audit.graph.load_graph (for reference)", f"{time.perf_counter() - t0:8.2f} s")
        assert g2.n_edges == graph.n_edges
        del g2
    rule = audit.load_rule("sesame")
    own = rule.own_scores(people)
    lo, hi = rule.range
    out = {}

    t0 = time.perf_counter()
    sol = solve_network(own, graph, rule.network.weight, lo=lo, hi=hi, tolerance=1e-6)
    out["fixed_point"] = time.perf_counter() - t0
    _line("fixed point to 1e-6 (audit.graph.solve_network)",
          f"{out['fixed_point']:8.2f} s  ({sol.iterations} iterations, bound {sol.error_bound:.1e})  "
          f"target {TARGET_FIXED_POINT:.0f} s: {out['fixed_point'] / TARGET_FIXED_POINT:.2f}")
    t0 = time.perf_counter()
    mine = fixed_point(own, graph.adjacency, rule.network.weight, lo=lo, hi=hi, tolerance=1e-6)
    t_mine = time.perf_counter() - t0
    _line("fixed point to 1e-6 (contagion, int32 CSR)",
          f"{t_mine:8.2f} s  ({mine.iterations} iterations; max diff {np.max(np.abs(mine.scores - sol.scores)):.1e})")

    groupings = build_groupings(people, ["gender", "ethnicity"], max_order=2)
    t0 = time.perf_counter()
    res = unfriending(rule, people, graph, groupings, rounds=rounds, compliance=0.5, margin=0.0, seed=0,
                      tolerance=1e-6, progress=False)
    out["unfriending"] = time.perf_counter() - t0
    edges_by_round = [r.edges for r in res.rounds]
    _line(f"unfriending, {rounds} rounds (compliance 0.5)",
          f"{out['unfriending']:8.2f} s  target {TARGET_UNFRIENDING:.0f} s: "
          f"{out['unfriending'] / TARGET_UNFRIENDING:.2f}")
    _line("  ties after each round", ", ".join(f"{e:,}" for e in edges_by_round))
    t0 = time.perf_counter()
    res = unfriending(rule, people, graph, groupings, rounds=rounds, compliance=0.05, margin=20.0, seed=0,
                      drop_no_real_name=False, tolerance=1e-6, progress=False)
    out["unfriending_slow"] = time.perf_counter() - t0
    _line(f"unfriending, {rounds} rounds (compliance 0.05, margin 20)",
          f"{out['unfriending_slow']:8.2f} s  (graph stays large: {res.rounds[-1].edges:,} ties left)")
    return out


def _nx_graph(edges: pd.DataFrame, n: int):
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(edges["source"].tolist(), edges["target"].tolist(), strict=True))
    return g


def _nx_spillover(g, own: np.ndarray, weight: float, lo: float, hi: float, tol: float,
                  groups: dict[str, np.ndarray], tiers) -> tuple[dict, np.ndarray]:
    """The straightforward version on a networkx Graph: the fixed point by Python loops, group summaries."""
    own_l = own.tolist()
    s = list(own_l)
    factor = weight / (1 - weight)
    while True:
        new = []
        for i in g.nodes:
            nbrs = g[i]
            if nbrs:
                v = (1 - weight) * own_l[i] + weight * sum(s[j] for j in nbrs) / len(nbrs)
                v = min(max(v, lo), hi)
            else:
                v = own_l[i]
            new.append(v)
        residual = max(abs(a - b) for a, b in zip(new, s, strict=True))
        s = new
        if factor * residual <= tol:
            break
    final = np.array(s)
    summary = {}
    for attr, values in groups.items():
        for value in sorted(set(values.tolist())):
            members = [i for i in range(len(own_l)) if values[i] == value]
            row = {"n": len(members), "mean_own": sum(own_l[i] for i in members) / len(members),
                   "mean_final": sum(s[i] for i in members) / len(members)}
            for t in tiers:
                row[t.name] = sum(1 for i in members if own_l[i] >= t.threshold and s[i] < t.threshold) / len(members)
            summary[(attr, value)] = row
    return summary, final


def versus_networkx(n: int, mean_degree: float) -> float:
    people, edges = audit.generate_sesame(n, seed=1, mean_degree=mean_degree)
    rule = audit.load_rule("sesame")
    tiers = [t for t in rule.tiers if t.threshold is not None]
    groupings = build_groupings(people, ["gender", "ethnicity"], max_order=1)
    own = rule.own_scores(people)
    lo, hi = rule.range
    w, tol = rule.network.weight, rule.network.tolerance

    t0 = time.perf_counter()
    graph = load_graph(edges, people["id"])
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = spillover(rule, people, graph, groupings)
    t_ours = time.perf_counter() - t0
    rows = res.to_dict()["groups"]

    t0 = time.perf_counter()
    g_nx = _nx_graph(edges, len(people))
    t_nx_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    groups = {a: people[a].to_numpy() for a in ("gender", "ethnicity")}
    summary, final_nx = _nx_spillover(g_nx, own, w, lo, hi, tol, groups, tiers)
    t_nx = time.perf_counter() - t0

    final = solve_network(own, graph, w, lo=lo, hi=hi, tolerance=tol).scores
    worst = max(abs(r["mean_final_score"] - summary[(r["attributes"][0], r["group"][r["attributes"][0]])]["mean_final"])
                for r in rows)
    _line(f"spillover at {n:,} people, {len(edges):,} ties", "")
    _line("  ours: audit.graph.load_graph", f"{t_load:8.3f} s")
    _line("  ours: contagion.spillover (solve + groups)", f"{t_ours:8.3f} s")
    _line("  networkx: build the Graph", f"{t_nx_build:8.2f} s")
    _line("  networkx + Python loops (solve + groups)", f"{t_nx:8.2f} s")
    _line("  agreement: max |final score| difference", f"{np.max(np.abs(final - final_nx)):.1e}")
    _line("  agreement: max |group mean final| difference", f"{worst:.1e}")
    ratio = t_nx / t_ours
    # Like for like: the spillover computation on each library's graph, and, separately, end to end
    # with each side building its own graph from the same edge list.
    _line("  ratio networkx / ours (spillover, graphs given)", f"{ratio:8.0f}x  target {TARGET_RATIO:.0f}x")
    _line("  ratio end to end (each builds its graph)",
          f"{(t_nx_build + t_nx) / (t_ours + t_load):8.0f}x")
    return ratio


def demo() -> float:
    people, edges = audit.generate_sesame(20_000, seed=0)
    graph = load_graph(edges, people["id"])
    groupings = build_groupings(people, ["gender", "age_band", "ethnicity", "registration", "region"], max_order=2)
    t0 = time.perf_counter()
    res = network_contagion("sesame", people, graph, groupings, progress=False)
    t = time.perf_counter() - t0
    d = res.to_dict()
    _line(f"whole contagion family, 20,000 people, {len(edges):,} ties ({len(groupings)} groupings)",
          f"{t:8.2f} s  target {TARGET_DEMO:.0f} s: {t / TARGET_DEMO:.2f}")
    t0 = time.perf_counter()
    network_contagion("sesame", people, graph, groupings, progress=False, sensitivity=False)
    _line("  the same without the unfriending sensitivity summary", f"{time.perf_counter() - t0:8.2f} s")
    _line("  unfriending scenario", f"compliance {d['settings']['unfriending']['compliance']}, "
                                    f"margin {d['settings']['unfriending']['margin']} points")
    for sc in d["unfriending"]["sensitivity"]["scenarios"]:
        _line(f"    {sc['scenario']} (compliance {sc['compliance']}, margin {sc['margin']})",
              f"ties kept {sc['ties_kept_share']}, isolates {sc['isolate_share']}")
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--mean-degree", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--nx-n", type=int, default=100_000)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-nx", action="store_true")
    parser.add_argument("--time-load-graph", action="store_true", help="also time audit.graph.load_graph at n")
    args = parser.parse_args(argv)
    _line("cpus", f"{os.cpu_count()}")
    ok = demo() < TARGET_DEMO
    if not args.skip_large:
        out = large(args.n, args.mean_degree, args.rounds, args.time_load_graph)
        ok &= out["fixed_point"] < TARGET_FIXED_POINT and out["unfriending"] < TARGET_UNFRIENDING
    if not args.skip_nx:
        ok &= versus_networkx(args.nx_n, args.mean_degree) >= TARGET_RATIO
    _line("peak RSS", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.0f} MB")
    _line("all targets met", str(bool(ok)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
