"""Benchmark: the long-run simulation (audit.dynamics) at scale, and against a per-node Python loop.

* 1e6 people / 1e7 ties, the built-in ``sesame`` scenario, 50 periods, one run: time and peak memory.
* 1e4 people: the same scenario as a per-node Python loop over a networkx graph, written in the style of
  ml-fairness-gym's environments (its infectious-disease environment steps through
  ``for index, state in enumerate(health_states)`` and ``graph.neighbors(index)`` with one
  ``rng.choice`` per person; its lending environment applies the score change person by person).
  The loop here implements the same period as audit.dynamics -- unfriending by clause, tie formation
  with the friendship budget and the advice, renewal, feedback, the sesame points and the friends
  term by Jacobi sweeps to the same error bound, group statistics -- and the ratio of the time per
  period is printed.  ml-fairness-gym itself has no audit layer and no such scenario; it is the
  style of implementation, not its code, that is compared.

Usage::

    .venv/bin/python benchmarks/bench_dynamics.py [--n 1000000] [--mean-degree 20] [--periods 50]
                                                  [--loop-n 10000] [--loop-periods 5] [--skip-large]
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time

import networkx as nx
import numpy as np

import audit
from audit.dynamics import load_scenario, simulate
from audit.graph import Graph, build_adjacency


def _line(label: str, value: str) -> None:
    print(f"{label:<58}{value}", flush=True)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def large(n: int, mean_degree: float, periods: int) -> None:
    t0 = time.perf_counter()
    people, edges = audit.generate_sesame(n, seed=0, mean_degree=mean_degree)
    graph = Graph(build_adjacency(n, edges["source"].to_numpy(), edges["target"].to_numpy()), source="generated")
    _line("generate + CSR", f"{time.perf_counter() - t0:8.1f} s  ({n:,} people, {graph.n_edges:,} ties)")
    del edges
    before = _peak_mb()
    t0 = time.perf_counter()
    res = simulate("sesame", people, graph, ["ethnicity"], periods=periods, runs=1, progress=False,
                   decompose=False)
    elapsed = time.perf_counter() - t0
    _line(f"simulate: sesame scenario, {periods} periods, 1 run",
          f"{elapsed:8.1f} s  ({elapsed / periods:.2f} s per period)")
    _line("peak resident memory (whole process)", f"{_peak_mb():8.0f} MB  (before the simulation: {before:.0f} MB)")
    doc = res.to_dict()
    last = {r["group"]: r for r in doc["periods"] if r["period"] == periods}
    for g in ("ethnicity=majority", "ethnicity=minority A"):
        iso = last[g]["isolated_share"]
        _line(f"  {g}: without friends at period {periods}",
              "withheld" if iso is None else f"{100 * iso['value']:.2f}%")


# ---------------------------------------------------------------------- the per-node baseline
INCOME = {"high": 80.0, "middle": 30.0, "low": -10.0}


def _own_score(p: dict) -> float:
    """The sesame points table, hand-written for one person (as a per-individual environment would)."""
    s = 680.0 - 12 * min(p["late_payments"], 10) + INCOME[p["income_band"]] + (40 if p["buys_diapers"] else 0)
    s += -2 * min(p["video_game_hours"], 50) - 8 * min(p["political_posts"], 20)
    s += -5 * min(p["unofficial_news_shares"], 20) - 25 * min(p["taxi_no_shows"], 5)
    s += 0 if p["real_name"] else -40
    return min(max(s, 350.0), 950.0)


class LoopEnvironment:
    """The sesame long-run scenario, one person and one neighbour at a time (ml-fairness-gym style)."""

    RENEWED = ("late_payments", "video_game_hours", "political_posts", "unofficial_news_shares", "taxi_no_shows",
               "buys_diapers")
    STRATA = ("gender", "age_band", "ethnicity", "registration", "region", "income_band", "real_name")
    THRESHOLDS = (600.0, 650.0, 700.0, 750.0)

    def __init__(self, people, edges, seed: int = 0):
        sc, _ = load_scenario("sesame")
        self.sc = sc
        self.rng = np.random.RandomState(seed)
        self.people = people.to_dict("records")
        self.base = [dict(p) for p in self.people]
        self.graph = nx.Graph()
        self.graph.add_nodes_from(range(len(self.people)))
        self.graph.add_edges_from(zip(edges["source"].tolist(), edges["target"].tolist(), strict=True))
        self.budget = [self.graph.degree(i) for i in range(len(self.people))]
        self.strata: dict[tuple, list[int]] = {}
        for i, p in enumerate(self.people):
            self.strata.setdefault(tuple(p[c] for c in self.STRATA), []).append(i)
        self.margin = 0.1 * 600
        self.own = [_own_score(p) for p in self.people]
        self.final = self._solve(list(self.own))
        self.attained = [s >= self.THRESHOLDS[0] for s in self.final]

    def _solve(self, start: list[float]) -> list[float]:
        w = 0.3
        s = start
        while True:
            nxt = []
            for i in range(len(s)):
                nb = list(self.graph.neighbors(i))
                if nb:
                    v = (1 - w) * self.own[i] + w * sum(s[j] for j in nb) / len(nb)
                    nxt.append(min(max(v, 350.0), 950.0))
                else:
                    nxt.append(self.own[i])
            change = max(abs(a - b) for a, b in zip(nxt, s, strict=True))
            s = nxt
            if w / (1 - w) * change <= 1e-9:
                return s

    def step(self) -> None:
        n = len(self.people)
        compliant = [self.rng.random_sample() < 0.2 for _ in range(n)]
        s = self.final
        drop = []
        for i in range(n):
            for j in self.graph.neighbors(i):
                if j < i:
                    continue
                real = (compliant[i] and not self.people[j]["real_name"]) or \
                       (compliant[j] and not self.people[i]["real_name"])
                marg = (compliant[i] and s[j] < s[i] - self.margin) or (compliant[j] and s[i] < s[j] - self.margin)
                if real or marg:
                    drop.append((i, j))
        self.graph.remove_edges_from(drop)
        room = [self.budget[i] - self.graph.degree(i) for i in range(n)]
        open_ = sorted((i for i in range(n) if room[i] > 0), key=lambda i: s[i])
        rank = {i: k for k, i in enumerate(open_)}
        window = max(1, round(0.05 * len(open_)))
        for i in range(n):
            if room[i] <= 0:
                continue
            for _ in range(min(self.rng.poisson(0.5), room[i])):
                u = self.rng.random_sample()
                nb = list(self.graph.neighbors(i))
                if u < 0.5 and nb:
                    j = nb[self.rng.randint(len(nb))]
                    nb2 = list(self.graph.neighbors(j))
                    k = nb2[self.rng.randint(len(nb2))]
                elif u < 0.8 and i in rank:
                    step = self.rng.randint(1, window + 1) * (1 if self.rng.random_sample() < 0.5 else -1)
                    k = open_[min(max(rank[i] + step, 0), len(open_) - 1)]
                else:
                    k = open_[self.rng.randint(len(open_))]
                if k == i or self.graph.has_edge(i, k) or room[i] <= 0 or room[k] <= 0:
                    continue
                blocked = any(compliant[x] and ((not self.people[y]["real_name"]) or s[y] < s[x] - self.margin)
                              for x, y in ((i, k), (k, i)))
                if blocked:
                    continue
                self.graph.add_edge(i, k)
                room[i] -= 1
                room[k] -= 1
        for i in range(n):
            if self.rng.random_sample() < 0.05:
                members = self.strata[tuple(self.people[i][c] for c in self.STRATA)]
                donor = self.base[members[self.rng.randint(len(members))]]
                for c in self.RENEWED:
                    self.people[i][c] = donor[c]
        for i in range(n):
            p = self.people[i]
            if not self.attained[i]:
                p["late_payments"] = min(p["late_payments"] + self.rng.poisson(0.1), 50)
            elif self.rng.random_sample() < 0.05:
                p["late_payments"] = max(p["late_payments"] - 1, 0)
        self.own = [_own_score(p) for p in self.people]
        self.final = self._solve(self.final)
        self.attained = [v >= self.THRESHOLDS[0] for v in self.final]
        cutoff = sorted(self.final, reverse=True)[math.ceil(0.01 * n) - 1]
        stats: dict = {}
        giant = max(nx.connected_components(self.graph), key=len)
        for i, p in enumerate(self.people):
            row = stats.setdefault(p["ethnicity"], [0] * 10)
            d = self.graph.degree(i)
            row[0] += 1
            row[1] += d
            row[2] += d == 0
            row[3] += i not in giant
            row[4] += self.final[i]
            row[5] += sum(1 for j in self.graph.neighbors(i) if self.people[j]["ethnicity"] != p["ethnicity"])
            for t, th in enumerate(self.THRESHOLDS[:3]):
                row[6 + t] += self.final[i] >= th
            row[9] += self.final[i] >= cutoff
        self.stats = stats


def compare(n: int, periods: int, loop_periods: int) -> None:
    people, edges = audit.generate_sesame(n, seed=0)
    t0 = time.perf_counter()
    simulate("sesame", people, edges, ["ethnicity"], periods=periods, runs=1, progress=False, decompose=False)
    ours = (time.perf_counter() - t0) / periods
    _line(f"audit.dynamics at {n:,} people, {periods} periods", f"{ours * 1000:8.1f} ms per period")
    t0 = time.perf_counter()
    env = LoopEnvironment(people, edges)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(loop_periods):
        env.step()
    loop = (time.perf_counter() - t0) / loop_periods
    _line(f"per-node loop (ml-fairness-gym style), {loop_periods} periods",
          f"{loop * 1000:8.1f} ms per period  (+ {setup:.1f} s to set up)")
    _line("ratio (loop / audit.dynamics, time per period)", f"{loop / ours:8.0f}x")
    # The same model: after the same number of periods both give similar figures (different random draws).
    short = simulate("sesame", people, edges, ["ethnicity"], periods=loop_periods, runs=1, progress=False,
                     decompose=False)
    mine = {r["group"]: r for r in short.to_dict()["periods"] if r["period"] == loop_periods}
    for g in ("majority", "minority A"):
        base = env.stats[g]
        _line(f"  sanity, {g}: mean friends after {loop_periods} periods",
              f"{mine['ethnicity=' + g]['mean_degree']['value']:.2f} (vectorised) vs {base[1] / base[0]:.2f} (loop)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--mean-degree", type=float, default=20.0)
    ap.add_argument("--periods", type=int, default=50)
    ap.add_argument("--loop-n", type=int, default=10_000)
    ap.add_argument("--loop-periods", type=int, default=5)
    ap.add_argument("--skip-large", action="store_true")
    args = ap.parse_args(argv)
    compare(args.loop_n, args.periods, args.loop_periods)
    if not args.skip_large:
        large(args.n, args.mean_degree, args.periods)
    return 0


if __name__ == "__main__":
    sys.exit(main())
