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
    impact_ratios_and_refs,
    protect_groupings,
    ratios_publishable,
    rng_for,
    sizes_published,
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
    "draw (seeded); its achieved number of swaps is reported. Each ratio is published only when both cells it "
    "divides -- the group's and the most favoured group's, in that scenario -- can be published (neither "
    "the count with the favourable outcome nor the count without it is 1 to threshold - 1); an effect "
    "is published only when both ratios it subtracts are.")


@dataclass(frozen=True, eq=False)
class Amplification(Section):
    """Impact ratios under three scenarios and their decomposition (see :func:`amplification`)."""

    tiers: tuple[str, ...] = ()
    groupings: tuple[Grouping, ...] = ()
    counts: tuple[np.ndarray, ...] = ()
    hits: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...] = ()     # (without, network, rewired)
    ratios: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...] = ()
    refs: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...] = ()     # most favoured group per tier
    rewiring: dict = field(default_factory=dict)
    rewired_graph: Graph | None = None
    disclosure_threshold: int = DEFAULT_DISCLOSURE
    min_group_size: int = DEFAULT_MIN_GROUP
    status: str = "ran"
    reason: str | None = None
    name: str = field(default="amplification", init=False)

    def _refs(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The most favoured group per tier in each scenario (what each ratio divides by)."""
        if self.refs:
            return self.refs[i]
        return tuple(impact_ratios_and_refs(self.counts[i], h, self.min_group_size)[1] for h in self.hits[i])

    def publishable(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(G, T) bool per scenario: the two-cell rule (the group's cell and the most favoured group's cell).

        A ratio and the published reference rate give the group's count back,
        so the cells are also protected against differencing across groupings
        (:func:`~audit.contagion._common.protect_groupings`), and a tier's
        ratios are all hidden when the most favoured group's cell is.
        """
        return self._publishable_all()[i]

    def _publishable_all(self) -> list[tuple[np.ndarray, ...]]:
        t = self.disclosure_threshold
        G = len(self.groupings)
        out: list[list[np.ndarray]] = []
        size_ok = sizes_published(self.groupings, t)
        for i in range(G):
            counts = np.asarray(self.counts[i], dtype=np.int64)
            big = size_ok[i][:, None]
            out.append([ratios_publishable(counts, h, r, t) & big
                        for h, r in zip(self.hits[i], self._refs(i), strict=True)])
        if not G:
            return []
        for sc in range(len(out[0])):
            for _ in range(20):
                before = [o[sc].copy() for o in out]
                hits = [np.asarray(self.hits[i][sc], dtype=np.int64) for i in range(G)]
                new = protect_groupings(self.groupings, hits, [o[sc] for o in out],
                                        total=hits[0].sum(axis=0), total_ok=True)
                for i in range(G):
                    ref = np.asarray(self._refs(i)[sc], dtype=np.int64)
                    valid = ref >= 0
                    ref_ok = np.where(valid, new[i][np.where(valid, ref, 0), np.arange(len(ref))], False)
                    out[i][sc] = new[i] & ref_ok[None, :]
                if all(np.array_equal(a[sc], b) for a, b in zip(out, before, strict=True)):
                    break
        return [tuple(o) for o in out]

    def lookup(self) -> dict:
        """``(attributes, group values, tier) -> (r0, r1, r2, n, hits, publishable)`` (raw ratios).

        ``r0, r1, r2``: the ratio without the network term, with it, and on the
        rewired graph; ``publishable``: for each, whether the two-cell rule lets
        it be published.
        """
        out = {}
        for i, g in enumerate(self.groupings):
            r0, r1, r2 = self.ratios[i]
            ok = self.publishable(i)
            for k in range(g.n_groups):
                for j, tn in enumerate(self.tiers):
                    out[(tuple(g.attributes), tuple(g.values[k]), tn)] = (
                        float(r0[k, j]), float(r1[k, j]), float(r2[k, j]), int(self.counts[i][k]),
                        tuple(int(h[k, j]) for h in self.hits[i]), tuple(bool(o[k, j]) for o in ok))
        return out

    def rows(self) -> list[dict]:
        t = self.disclosure_threshold
        out = []
        size_ok = sizes_published(self.groupings, t)
        for i, g in enumerate(self.groupings):
            r0, r1, r2 = self.ratios[i]
            ok = self.publishable(i)
            for k in range(g.n_groups):
                n = int(self.counts[i][k])
                for j, tn in enumerate(self.tiers):
                    row = {**group_id(g, k), "tier": tn}
                    if not size_ok[i][k]:
                        row.update({"n": None, "suppressed": True})
                        out.append(row)
                        continue
                    hide = [not bool(o[k, j]) for o in ok]
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
    counts, hits, ratios, refs = [], [], [], []
    tu, tv = upper_ties(rw.graph.adjacency)
    assort = {}
    for g in prep.groupings:
        trio_h, trio_r, trio_ref = [], [], []
        for fav in (prep.fav_own, prep.fav_final, fav_rewired):
            c, h = group_rates(fav, g)
            r, ref = impact_ratios_and_refs(c, h, min_group_size)
            trio_h.append(h)
            trio_r.append(r)
            trio_ref.append(ref)
        counts.append(c)
        hits.append(tuple(trio_h))
        ratios.append(tuple(trio_r))
        refs.append(tuple(trio_ref))
        assort[g.key] = fnum(assortativity_from_mixing(mixing(tu, tv, g.codes,
                                                                g.n_groups)))
    info = {"swaps_per_edge": float(swaps_per_edge), "attempted_swaps": rw.attempted,
            "achieved_swaps": rw.achieved, "batches": rw.batches,
            "achieved_swaps_per_edge": fnum(rw.achieved / max(prep.graph.n_edges, 1), 3),
            "degrees_preserved": bool(np.array_equal(rw.graph.degree, prep.graph.degree)),
            "assortativity_rewired": assort, "solver": prep.solver_info(sol), "seed": int(seed)}
    return Amplification(tiers=tiers, groupings=prep.groupings, counts=tuple(counts), hits=tuple(hits),
                         ratios=tuple(ratios), refs=tuple(refs), rewiring=info, rewired_graph=rw.graph, disclosure_threshold=t,
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
    >>> row = next(r for r in res.to_dict()["rows"] if not r["suppressed"])
    >>> abs(row["network_effect"] - row["homophily_effect"] - row["degree_effect"]) < 1e-3
    True
    """
    prep = prepare(rule, people, graph, groupings, tolerance=tolerance, method=method)
    return _amplification(prep, seed=seed, swaps_per_edge=swaps_per_edge, min_group_size=min_group_size,
                          disclosure_threshold=disclosure_threshold)
