"""Homophily amplification: impact ratios without the network term, with it, and on a rewired graph."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.contagion._common import (
    DEFAULT_DISCLOSURE,
    DEFAULT_MIN_GROUP,
    Section,
    favourable_attainment,
    fnum,
    group_id,
    group_rates,
    impact_ratios,
    rng_for,
    small,
)
from audit.contagion._core import Rewiring, assortativity_from_mixing, mixing, rewire, upper_ties
from audit.contagion._prepare import Prepared, prepare
from audit.contagion._spillover import NO_NETWORK
from audit.graph import Graph
from audit.groups import Grouping

__all__ = ["Amplification", "amplification", "DECOMPOSITION"]

DECOMPOSITION = (
    "For every (grouping, group, tier) the impact ratio (the group's rate of the favourable outcome over "
    "the most favoured group's) is computed three ways: (i) without the network term (own-behaviour "
    "scores), (ii) with the network term on the real graph, (iii) with the network term on a "
    "degree-preserving random rewiring of the graph (same degrees, homophily destroyed). "
    "network_effect = (ii) - (i) is what the network term does to the ratio; homophily_effect = "
    "(ii) - (iii) is the part of it due to who is friends with whom beyond the degrees; "
    "degree_effect = (iii) - (i) is the remainder (averaging over friends as such, with the same number "
    "of friends). network_effect = homophily_effect + degree_effect exactly. The rewiring is one random "
    "draw (seeded); its achieved number of swaps is reported.")


@dataclass(frozen=True, eq=False)
class Amplification(Section):
    """Impact ratios under three scenarios and their decomposition (see :func:`amplification`)."""

    tiers: tuple[str, ...] = ()
    groupings: tuple[Grouping, ...] = ()
    counts: tuple[np.ndarray, ...] = ()
    hits: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...] = ()     # (without, network, rewired)
    ratios: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...] = ()
    rewiring: dict = field(default_factory=dict)
    rewired_graph: Graph | None = None
    disclosure_threshold: int = DEFAULT_DISCLOSURE
    min_group_size: int = DEFAULT_MIN_GROUP
    status: str = "ran"
    reason: str | None = None
    name: str = field(default="amplification", init=False)

    def lookup(self) -> dict:
        """``(attributes, group values, tier) -> (ratio without network, with network, rewired)`` (raw)."""
        out = {}
        for i, g in enumerate(self.groupings):
            r0, r1, r2 = self.ratios[i]
            for k in range(g.n_groups):
                for j, tn in enumerate(self.tiers):
                    out[(tuple(g.attributes), tuple(g.values[k]), tn)] = (
                        float(r0[k, j]), float(r1[k, j]), float(r2[k, j]), int(self.counts[i][k]),
                        tuple(int(h[k, j]) for h in self.hits[i]))
        return out

    def rows(self) -> list[dict]:
        t = self.disclosure_threshold
        out = []
        for i, g in enumerate(self.groupings):
            r0, r1, r2 = self.ratios[i]
            h0, h1, h2 = self.hits[i]
            for k in range(g.n_groups):
                n = int(self.counts[i][k])
                for j, tn in enumerate(self.tiers):
                    row = {**group_id(g, k), "tier": tn}
                    if n < t:
                        row.update({"n": None, "suppressed": True})
                        out.append(row)
                        continue
                    hide = [small(h[k, j], t) for h in (h0, h1, h2)]
                    v = [None if hd else fnum(r[k, j], 4) for hd, r in zip(hide, (r0, r1, r2), strict=True)]
                    row.update({
                        "n": n,
                        "impact_ratio_without_network": v[0],
                        "impact_ratio": v[1],
                        "impact_ratio_rewired": v[2],
                        "network_effect": _diff(v[1], v[0]),
                        "homophily_effect": _diff(v[1], v[2]),
                        "degree_effect": _diff(v[2], v[0]),
                        "suppressed": bool(any(hide)),
                    })
                    out.append(row)
        return out

    def to_dict(self) -> dict:
        if self.status != "ran":
            return {"status": self.status, "reason": self.reason, "rewiring": None, "rows": []}
        return {"status": "ran", "reason": None, "rewiring": dict(self.rewiring), "rows": self.rows()}


def _diff(a, b):
    return None if a is None or b is None else round(a - b, 4)


def _amplification(prep: Prepared, *, seed: int, swaps_per_edge: float, min_group_size: int,
                   disclosure_threshold: int) -> Amplification:
    t = int(disclosure_threshold)
    tiers = tuple(tr.name for tr in prep.rule.tiers)
    if not prep.has_network:
        return Amplification(tiers=tiers, status="not run", reason=NO_NETWORK, disclosure_threshold=t,
                             min_group_size=int(min_group_size))
    rw: Rewiring = rewire(prep.graph, seed=rng_for(seed, "rewiring"), swaps_per_edge=swaps_per_edge)
    sol = prep.solve(prep.own, rw.graph.adjacency, start=prep.final)
    fav_rewired = favourable_attainment(prep.rule, sol.scores, prep.flags)
    counts, hits, ratios = [], [], []
    tu, tv = upper_ties(rw.graph.adjacency)
    assort = {}
    for g in prep.groupings:
        trio_h, trio_r = [], []
        for fav in (prep.fav_own, prep.fav_final, fav_rewired):
            c, h = group_rates(fav, g)
            trio_h.append(h)
            trio_r.append(impact_ratios(c, h, min_group_size))
        counts.append(c)
        hits.append(tuple(trio_h))
        ratios.append(tuple(trio_r))
        assort[g.key] = fnum(assortativity_from_mixing(mixing(tu, tv, g.codes,
                                                                g.n_groups)))
    info = {"swaps_per_edge": float(swaps_per_edge), "attempted_swaps": rw.attempted,
            "achieved_swaps": rw.achieved, "batches": rw.batches,
            "achieved_swaps_per_edge": fnum(rw.achieved / max(prep.graph.n_edges, 1), 3),
            "degrees_preserved": bool(np.array_equal(rw.graph.degree, prep.graph.degree)),
            "assortativity_rewired": assort, "solver": prep.solver_info(sol), "seed": int(seed)}
    return Amplification(tiers=tiers, groupings=prep.groupings, counts=tuple(counts), hits=tuple(hits),
                         ratios=tuple(ratios), rewiring=info, rewired_graph=rw.graph, disclosure_threshold=t,
                         min_group_size=int(min_group_size))


def amplification(
    rule,
    people: pd.DataFrame,
    graph: Graph,
    groupings: Grouping | Sequence[Grouping],
    *,
    seed: int = 0,
    swaps_per_edge: float = 10.0,
    tolerance: float | None = None,
    method: str = "iterate",
    min_group_size: int = DEFAULT_MIN_GROUP,
    disclosure_threshold: int = DEFAULT_DISCLOSURE,
) -> Amplification:
    """How much of each impact ratio the network term, and the homophily of the graph, account for.

    Impact ratios (rate of each tier's favourable outcome over the most
    favoured group's, as in :mod:`audit.impact`) are computed (i) without the
    network term, (ii) with it on the real graph and (iii) with it on a
    degree-preserving rewiring of the graph (double-edge swaps,
    ``swaps_per_edge`` x ties attempted).  ``network_effect = (ii) - (i)``;
    of that, ``homophily_effect = (ii) - (iii)`` and ``degree_effect = (iii) - (i)``.

    Parameters
    ----------
    rule, people, graph, groupings
        As in :func:`spillover`.
    seed : int
        Seeds the rewiring.
    swaps_per_edge : float, default 10
    min_group_size : int, default 30
        Only groups at least this large can be the most favoured group.

    Returns
    -------
    Amplification

    Examples
    --------
    >>> import audit
    >>> from audit.contagion import amplification
    >>> people, edges = audit.generate_sesame(3000, seed=2)
    >>> g = audit.load_graph(edges, people["id"])
    >>> res = amplification("sesame", people, g, audit.build_groupings(people, ["ethnicity"]))
    >>> res.rewiring["degrees_preserved"], res.rewiring["attempted_swaps"] == 10 * g.n_edges
    (True, True)
    >>> row = res.to_dict()["rows"][0]
    >>> abs(row["network_effect"] - row["homophily_effect"] - row["degree_effect"]) < 1e-3
    True
    """
    prep = prepare(rule, people, graph, groupings, tolerance=tolerance, method=method)
    return _amplification(prep, seed=seed, swaps_per_edge=swaps_per_edge, min_group_size=min_group_size,
                          disclosure_threshold=disclosure_threshold)
