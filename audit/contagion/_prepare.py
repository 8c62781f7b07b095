"""Scores shared by the sections: own-behaviour scores, the fixed point, favourable outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit.contagion._common import (
    as_groupings,
    check_graph,
    favourable_attainment,
    favourable_flags,
    network_bounds,
)
from audit.contagion._core import FixedPoint, fixed_point
from audit.graph import Graph
from audit.groups import Grouping


@dataclass(frozen=True, eq=False)
class Prepared:
    """One population under one rule and graph: own and final scores, solved once for every section."""

    rule: object
    graph: Graph
    groupings: tuple[Grouping, ...]
    own: np.ndarray
    solution: FixedPoint | None     # None when the rule has no network term
    flags: np.ndarray               # favourable per tier
    fav_own: np.ndarray             # (n, T) favourable outcome on own scores
    fav_final: np.ndarray           # (n, T) on final scores
    tolerance: float
    method: str

    @property
    def n(self) -> int:
        return len(self.own)

    @property
    def final(self) -> np.ndarray:
        return self.own if self.solution is None else self.solution.scores

    @property
    def has_network(self) -> bool:
        return self.rule.network is not None

    def solve(self, own: np.ndarray, adj=None, *, start: np.ndarray | None = None) -> FixedPoint:
        """The fixed point for other own scores and/or another adjacency, with this rule's weight and clamp."""
        lo, hi = network_bounds(self.rule)
        net = self.rule.network
        return fixed_point(own, self.graph.adjacency if adj is None else adj, net.weight, lo=lo, hi=hi,
                           tolerance=self.tolerance, max_iterations=net.max_iterations, start=start,
                           method=self.method, where=self.rule.network_where)

    def solver_info(self, sol: FixedPoint | None = None) -> dict:
        sol = self.solution if sol is None else sol
        if sol is None:
            return {"method": None, "iterations": 0, "tolerance": None, "error_bound": None}
        return {"method": sol.method, "iterations": int(sol.iterations), "tolerance": self.tolerance,
                "error_bound": float(sol.error_bound)}


def prepare(rule, people: pd.DataFrame, graph: Graph, groupings: Grouping | Sequence[Grouping], *,
            tolerance: float | None = None, method: str = "iterate", own: np.ndarray | None = None) -> Prepared:
    """Score ``people`` once: own scores and, if the rule has a network term, its fixed point on ``graph``."""
    from audit.rules import load_rule

    # Favourable outcomes are compared only for tiers that have a favourable side (audit.rates).
    rule = load_rule(rule).directed()
    groupings = tuple(as_groupings(groupings))
    if own is None:
        if not isinstance(people, pd.DataFrame):
            raise AuditInputError("people must be a pandas DataFrame (one row per graph node)")
        own = rule.own_scores(people)
    own = np.asarray(own, dtype=np.float64)
    check_graph(graph, len(own), groupings)
    net = rule.network
    tol = float(tolerance if tolerance is not None else (net.tolerance if net is not None else 1e-9))
    if not tol > 0:
        raise AuditInputError(f"solver tolerance must be positive, got {tol}")
    flags = favourable_flags(rule)
    sol = None
    if net is not None:
        lo, hi = network_bounds(rule)
        sol = fixed_point(own, graph.adjacency, net.weight, lo=lo, hi=hi, tolerance=tol,
                          max_iterations=net.max_iterations, method=method, where=rule.network_where)
    fav_own = favourable_attainment(rule, own, flags)
    fav_final = fav_own if sol is None else favourable_attainment(rule, sol.scores, flags)
    return Prepared(rule, graph, groupings, own, sol, flags, fav_own, fav_final, tol, method)
