"""Graph statistics by group: degrees, cross-group ties, assortativity, Coleman's index, components."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from audit.contagion._common import (
    DEFAULT_DISCLOSURE,
    DEFAULT_MIN_GROUP,
    Section,
    as_groupings,
    cell_cnt,
    cell_ok,
    cnt,
    dist_ok,
    fnum,
    group_id,
    group_quantiles,
    protect_partition,
    protect_rows,
    protect_table,
    quantile_map,
    share,
    sizes_published,
    small,
    split_rows,
    total_reveals,
    value_order,
)
from audit.contagion._core import (
    Components,
    assortativity_from_mixing,
    coleman_index,
    components,
    mixing,
    upper_ties,
)
from audit.disclosure import cell_publishable
from audit.graph import Graph
from audit.groups import Grouping

__all__ = ["GraphStatistics", "GroupGraphStats", "graph_statistics", "group_graph_row", "group_graph_stats"]

DEGREE_BINS = np.array([0, 1, 5, 10, 20, 50, 100])
DEGREE_LABELS = ("0", "1-4", "5-9", "10-19", "20-49", "50-99", "100+")


@dataclass(frozen=True)
class GroupGraphStats:
    """Raw per-group graph statistics of one grouping (counts are exact; no suppression here)."""

    grouping: Grouping
    counts: np.ndarray          # people per group
    degree_sum: np.ndarray      # sum of degrees (all friends, whatever their group)
    isolates: np.ndarray        # people without friends
    in_giant: np.ndarray        # people in the giant component
    volume: np.ndarray          # tie-ends to friends with a known group
    same: np.ndarray            # ... of which to friends in the same group
    assortativity: float
    coleman: np.ndarray

    @property
    def mean_degree(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.degree_sum / self.counts

    @property
    def same_share(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.volume > 0, self.same / np.maximum(self.volume, 1), np.nan)

    @property
    def cross_ties(self) -> int:
        """Ties between two different groups (both ends known), each counted once."""
        return int((self.volume.sum() - self.same.sum()) // 2)

    @property
    def known_ties(self) -> int:
        return int(self.volume.sum() // 2)


def group_graph_stats(adj: sp.csr_array, grouping: Grouping, *,
                      ties: tuple[np.ndarray, np.ndarray] | None = None,
                      comps: Components | None = None) -> GroupGraphStats:
    """Per-group degree, isolates, giant-component membership, mixing, assortativity and Coleman's index.

    ``ties`` (each undirected tie once, see :func:`upper_ties`) and ``comps``
    can be passed when several groupings share one graph.
    """
    if ties is None:
        ties = upper_ties(adj)
    if comps is None:
        comps = components(adj)
    codes = grouping.codes
    G = grouping.n_groups
    valid = codes >= 0
    cv = codes[valid]
    deg = np.diff(adj.indptr)[valid]
    counts = np.bincount(cv, minlength=G).astype(np.int64)
    degree_sum = np.bincount(cv, weights=deg, minlength=G)
    isolates = np.bincount(cv[deg == 0], minlength=G).astype(np.int64)
    in_giant = np.bincount(cv[comps.in_giant[valid]], minlength=G).astype(np.int64) if comps.giant >= 0 \
        else np.zeros(G, dtype=np.int64)
    mix = mixing(ties[0], ties[1], codes, G)
    with np.errstate(invalid="ignore", divide="ignore"):
        same_share = np.where(mix.volume > 0, mix.same / np.maximum(mix.volume, 1), np.nan)
    pop_share = counts / max(int(counts.sum()), 1)
    return GroupGraphStats(grouping, counts, degree_sum, isolates, in_giant, mix.volume, mix.same,
                           assortativity_from_mixing(mix), coleman_index(same_share, pop_share))


@dataclass(frozen=True, eq=False)
class GraphStatistics(Section):
    """Graph statistics of the input graph, overall and by group (see :func:`graph_statistics`)."""

    n_nodes: int
    n_edges: int
    n_components: int
    giant_size: int
    n_isolates: int
    by_grouping: tuple[GroupGraphStats, ...]
    degree_quantiles: tuple[np.ndarray, ...]
    degree_histogram: tuple[np.ndarray, ...]
    disclosure_threshold: int = DEFAULT_DISCLOSURE
    min_group_size: int = DEFAULT_MIN_GROUP
    status: str = "ran"
    reason: str | None = None
    name: str = field(default="graph_statistics", init=False)

    @property
    def assortativity(self) -> dict[str, float]:
        """Attribute (or intersection) -> Newman's assortativity on this graph (NaN if undefined)."""
        return {s.grouping.key: s.assortativity for s in self.by_grouping}

    def summary(self, rows: list[dict] | None = None) -> dict:
        t = self.disclosure_threshold
        rows = self.group_rows() if rows is None else rows
        by_group = split_rows(rows, [s.grouping for s in self.by_grouping])
        iso_ok = cell_ok(self.n_isolates, self.n_nodes, t) and not any(
            total_reveals(s.isolates, [r.get("isolates") is None for r in rs], t)
            for s, rs in zip(self.by_grouping, by_group, strict=True))
        giant_ok = cell_ok(self.giant_size, self.n_nodes, t) and not any(
            total_reveals(s.in_giant, [r.get("giant_component_share") is None for r in rs], t)
            for s, rs in zip(self.by_grouping, by_group, strict=True))
        return {
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "mean_degree": fnum(2 * self.n_edges / max(self.n_nodes, 1)),
            "components": self.n_components,
            "giant_component_size": self.giant_size if giant_ok else None,
            "giant_component_share": fnum(self.giant_size / self.n_nodes) if giant_ok and self.n_nodes else None,
            "isolates": self.n_isolates if iso_ok else None,
            "isolate_share": fnum(self.n_isolates / self.n_nodes) if iso_ok and self.n_nodes else None,
        }

    def group_rows(self) -> list[dict]:
        t, m = self.disclosure_threshold, self.min_group_size
        out = []
        size_ok = sizes_published([s.grouping for s in self.by_grouping], t)
        for i, (s, q, hist) in enumerate(zip(self.by_grouping, self.degree_quantiles, self.degree_histogram,
                                             strict=True)):
            g = s.grouping
            total = max(int(s.counts.sum()), 1)
            for k in range(g.n_groups):
                n = int(s.counts[k])
                row = group_id(g, k)
                if not size_ok[i][k]:
                    row.update({"n": None, "suppressed": True})
                    out.append(row)
                    continue
                # The bins of the histogram are cells of the group; a hidden bin must not be the difference
                # between n and the published bins.
                hk = np.asarray(hist[k], dtype=np.int64)
                stats = group_graph_row(s, k, t, m)
                # Bin "0" is the isolates count, published in this row (and in unfriending's round 0) too.
                iso_shown = stats["isolates"] is not None
                hide = protect_partition(hk, ~np.asarray(cell_publishable(hk, n, t)), t,
                                         fixed=np.arange(len(hk)) == 0 if iso_shown else None)
                if hide[0] and iso_shown:
                    stats.update({"isolates": None, "isolate_share": None, "suppressed": True})
                suppressed = stats.pop("suppressed") or bool(hide.any())
                row.update({
                    "n": n,
                    "population_share": fnum(n / total),
                    "mean_degree": stats.pop("mean_degree"),
                    "degree_quantiles": quantile_map(q[k]) if dist_ok(n, t, m) else None,
                    "degree_histogram": {lab: (None if h else int(c))
                                         for lab, c, h in zip(DEGREE_LABELS, hk, hide, strict=True)},
                    **stats,
                    "suppressed": suppressed,
                })
                out.append(row)
        self._protect(out)
        return out

    def _protect(self, rows: list[dict]) -> None:
        """No group count may follow from a total minus its published sub-groups (or the group's other bins).

        Isolates, people in the giant component, tie-ends and same-group
        tie-ends go through :func:`~audit.contagion._common.protect_rows`; the
        degree histogram through :func:`~audit.contagion._common.protect_table`
        (bin "0" is the isolates count: hidden in one place, hidden in both).
        """
        gs = [s.grouping for s in self.by_grouping]
        if not gs:
            return
        stats = self.by_grouping
        for _ in range(20):
            by = split_rows(rows, gs)
            before = [[(r.get("isolates"), tuple((r.get("degree_histogram") or {}).values())) for r in rs]
                      for rs in by]
            protect_rows(gs, rows, [s.isolates for s in stats], ["isolates", "isolate_share"], total=self.n_isolates)
            hists = [np.array([np.asarray(h, dtype=np.int64) for h in hist]).reshape(len(s.counts), -1)
                     for s, hist in zip(stats, self.degree_histogram, strict=True)]
            ok = []
            for rs in by:
                o = np.zeros((len(rs), len(DEGREE_LABELS)), dtype=bool)
                for k, r in enumerate(rs):
                    if r.get("n") is not None:
                        dh = r.get("degree_histogram") or {}
                        o[k] = [dh.get(lab) is not None for lab in DEGREE_LABELS]
                        o[k, 0] &= r.get("isolates") is not None
                ok.append(o)
            new = protect_table(gs, hists, ok, [s.counts for s in stats],
                                total_parts=np.sum(hists[0], axis=0), total_size=self.n_nodes)
            for rs, o in zip(by, new, strict=True):
                for k, r in enumerate(rs):
                    if r.get("n") is None:
                        continue
                    for b, lab in enumerate(DEGREE_LABELS):
                        if not o[k, b] and r["degree_histogram"].get(lab) is not None:
                            r["degree_histogram"][lab] = None
                            r["suppressed"] = True
                    if not o[k, 0] and r.get("isolates") is not None:
                        r.update({"isolates": None, "isolate_share": None, "suppressed": True})
            after = [[(r.get("isolates"), tuple((r.get("degree_histogram") or {}).values())) for r in rs]
                     for rs in split_rows(rows, gs)]
            if after == before:
                break
        protect_rows(gs, rows, [s.in_giant for s in stats], ["giant_component_share"], total=self.giant_size)
        protect_rows(gs, rows, [np.rint(np.asarray(s.degree_sum, dtype=float)) for s in stats], ["mean_degree"],
                     total=2 * int(self.n_edges))
        protect_rows(gs, rows, [np.rint(np.asarray(s.same, dtype=float)) for s in stats],
                     ["same_group_tie_share", "cross_group_tie_share", "coleman_index"])

    def to_dict(self) -> dict:
        t = self.disclosure_threshold
        rows = self.group_rows()
        return {
            "status": self.status,
            "reason": self.reason,
            "graph": self.summary(rows),
            "assortativity": {k: fnum(v) for k, v in self.assortativity.items()},
            "cross_group_ties": {s.grouping.key: cross_group_ties(s, t) for s in self.by_grouping},
            "groups": rows,
        }


def cross_group_ties(s: GroupGraphStats, t: int) -> dict:
    """Ties between groups of one grouping (a cell of the ties whose both ends have a known group)."""
    cross, known = s.cross_ties, s.known_ties
    return {"ties": cell_cnt(cross, known, t), "of_ties_with_known_groups": cnt(known, t),
            "share": share(cross, known, t)}


def group_graph_row(s: GroupGraphStats, k: int, t: int, m: int) -> dict:
    """The graph statistics of group ``k`` shared by the input graph and every unfriending round.

    People who are isolated, or in the giant component, are cells of the group;
    tie-ends to the same group are a cell of the group's tie-ends (a handful of
    ties names a handful of people as surely as a count of people does), and
    the within/cross-group shares and Coleman's index derive from that cell.
    Mean degree is a distribution statistic (groups of at least
    ``min_group_size``), and is withheld when the group's tie-ends are a small count.
    """
    n = int(s.counts[k])
    deg_sum = int(round(float(s.degree_sum[k])))
    same_ok = cell_ok(s.same[k], s.volume[k], t) and int(s.volume[k]) > 0
    mean_ok = dist_ok(n, t, m) and not small(deg_sum, t)
    iso_ok = cell_ok(s.isolates[k], n, t)
    giant_ok = cell_ok(s.in_giant[k], n, t)
    sh = float(s.same_share[k]) if same_ok else None
    return {
        "mean_degree": fnum(s.mean_degree[k], 4) if mean_ok else None,
        "isolates": int(s.isolates[k]) if iso_ok else None,
        "isolate_share": fnum(s.isolates[k] / n) if iso_ok else None,
        "giant_component_share": fnum(s.in_giant[k] / n) if giant_ok else None,
        "same_group_tie_share": fnum(sh) if same_ok else None,
        "cross_group_tie_share": fnum(1 - sh) if same_ok else None,
        "coleman_index": fnum(s.coleman[k]) if same_ok else None,
        "suppressed": bool(not mean_ok or not iso_ok or not giant_ok or (int(s.volume[k]) > 0 and not same_ok)),
    }


def graph_statistics(
    graph: Graph,
    groupings: Grouping | Sequence[Grouping],
    *,
    min_group_size: int = DEFAULT_MIN_GROUP,
    disclosure_threshold: int = DEFAULT_DISCLOSURE,
) -> GraphStatistics:
    """Degree distribution, cross-group ties, assortativity, Coleman's index and components, by group.

    Parameters
    ----------
    graph : Graph
        The friendship graph (rows aligned with the groupings' rows).
    groupings : Grouping or list of Grouping
        From :func:`audit.build_groupings`.
    min_group_size : int, default 30
        Degree quantiles are given only for groups at least this large.
    disclosure_threshold : int, default 10
        Groups smaller than this are shown without numbers; counts of 1 to
        ``disclosure_threshold - 1`` people (and shares computed from them)
        are replaced by None in :meth:`~GraphStatistics.to_dict`.

    Returns
    -------
    GraphStatistics
        ``assortativity`` (grouping -> Newman's r, as
        ``networkx.attribute_assortativity_coefficient`` computes it on the
        subgraph of people whose attribute is known), and per group: mean
        degree, degree quantiles and histogram, isolates, share in the giant
        component, share of ties within / across groups and Coleman's
        homophily index.

    Notes
    -----
    People whose attribute is missing (group code -1) are left out of that
    grouping's mixing: a tie counts only when both ends have a known group.
    Coleman's index compares a group's within-group tie share ``H`` with its
    share ``w`` of the people whose group is known: ``(H - w) / (1 - w)`` if
    ``H >= w``, else ``(H - w) / w`` (Coleman 1958).

    Examples
    --------
    >>> import pandas as pd
    >>> from audit.graph import load_graph
    >>> from audit.groups import build_groupings
    >>> from audit.contagion import graph_statistics
    >>> people = pd.DataFrame({"id": range(4), "g": ["a", "a", "b", "b"]})
    >>> edges = pd.DataFrame({"source": [0, 2, 0], "target": [1, 3, 2]})
    >>> stats = graph_statistics(load_graph(edges, people["id"]), build_groupings(people, ["g"]),
    ...                          disclosure_threshold=1, min_group_size=1)
    >>> round(stats.assortativity["g"], 4)
    0.3333
    >>> [round(r["coleman_index"], 4) for r in stats.to_dict()["groups"]]
    [0.3333, 0.3333]
    """
    groupings = as_groupings(groupings)
    adj = graph.adjacency
    ties = upper_ties(adj)
    comps = components(adj)
    deg = np.diff(adj.indptr).astype(np.int64)
    stats, quants, hists = [], [], []
    bins = np.searchsorted(DEGREE_BINS, deg, side="right") - 1
    B = len(DEGREE_LABELS)
    degf = deg.astype(float)
    order = value_order(degf)
    for g in groupings:
        s = group_graph_stats(adj, g, ties=ties, comps=comps)
        stats.append(s)
        quants.append(group_quantiles(g.codes, degf, g.n_groups, s.counts >= min_group_size, order))
        valid = g.codes >= 0
        hists.append(np.bincount(g.codes[valid] * B + bins[valid], minlength=g.n_groups * B)
                     .reshape(g.n_groups, B))
    return GraphStatistics(
        n_nodes=graph.n_nodes, n_edges=graph.n_edges, n_components=comps.n_components,
        giant_size=comps.giant_size, n_isolates=int((deg == 0).sum()), by_grouping=tuple(stats),
        degree_quantiles=tuple(quants), degree_histogram=tuple(hists),
        disclosure_threshold=int(disclosure_threshold), min_group_size=int(min_group_size))
