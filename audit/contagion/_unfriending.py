"""Strategic unfriending: people drop ties to low scorers (and to friends without a real-name account)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit._progress import track
from audit.contagion._common import (
    DEFAULT_DISCLOSURE,
    DEFAULT_MIN_GROUP,
    Section,
    cnt,
    favourable_attainment,
    flatten_record,
    fnum,
    group_id,
    group_rates,
    impact_ratios,
    rng_for,
    share,
    small,
)
from audit.contagion._core import Components, components, entry_rows, filter_entries, upper_ties
from audit.contagion._graphstats import GroupGraphStats, group_graph_stats
from audit.contagion._prepare import Prepared, prepare
from audit.graph import Graph
from audit.groups import Grouping

__all__ = ["Round", "Unfriending", "unfriending", "SEMANTICS"]

SEMANTICS = (
    "Round r = 1..R: every person is compliant with probability `compliance`, drawn independently per "
    "person and per round. A compliant person i drops the tie to friend j when j's final score (at the "
    "start of the round) is worse than i's by more than `margin` points (s_j < s_i - margin; for a rule "
    "where lower is better, s_j > s_i + margin), or, with drop_no_real_name, when j has no real-name "
    "account (a missing value counts as none, as in the rule's own `not real_name`). A tie is removed "
    "when either end drops it; nobody adds ties. The scores are then re-solved on the remaining graph "
    "(warm start from the previous solution; skipped when no tie was removed). Round 0 is the input graph.")


@dataclass(frozen=True, eq=False)
class Round:
    """Group-level state after one round (raw counts; disclosure control happens in ``to_dict``)."""

    index: int
    edges: int
    ties_removed: int
    comps: Components
    n_isolates: int
    solver: dict
    stats: tuple[GroupGraphStats, ...]
    ties_lost: tuple[np.ndarray, ...]
    hits: tuple[np.ndarray, ...]
    ratios: tuple[np.ndarray, ...]


@dataclass(frozen=True, eq=False)
class Unfriending(Section):
    """Rounds of strategic unfriending and their effect by group (see :func:`unfriending`).

    ``final_graph``, ``decision_scores`` (the scores the last round's
    decisions were based on) and ``final_scores`` (re-solved on the final
    graph) are per-person and stay in Python: ``to_dict`` holds group
    aggregates only.
    """

    tiers: tuple[str, ...] = ()
    flags: np.ndarray | None = None     # favourable per tier
    settings: dict = field(default_factory=dict)
    rounds: tuple[Round, ...] = ()
    final_graph: Graph | None = None
    decision_scores: np.ndarray | None = None
    final_scores: np.ndarray | None = None
    disclosure_threshold: int = DEFAULT_DISCLOSURE
    min_group_size: int = DEFAULT_MIN_GROUP
    status: str = "ran"
    reason: str | None = None
    name: str = field(default="unfriending", init=False)

    def _round_dict(self, r: Round) -> dict:
        t = self.disclosure_threshold
        n = int(len(r.comps.labels))
        groups = []
        for s, lost, hits, ratios in zip(r.stats, r.ties_lost, r.hits, r.ratios, strict=True):
            g = s.grouping
            same = s.same_share
            for k in range(g.n_groups):
                size = int(s.counts[k])
                row = group_id(g, k)
                if size < t:
                    row.update({"n": None, "suppressed": True})
                    groups.append(row)
                    continue
                h = hits[k]
                # tier_attainment is literal (for an adverse tier: the share placed in it); impact ratios
                # compare the favourable outcome, as the impact family does.
                att = np.where(self.flags, h, size - h)
                row.update({
                    "n": size,
                    "mean_degree": fnum(s.mean_degree[k], 4),
                    "ties_lost": cnt(lost[k], t),
                    "ties_lost_per_person": None if small(lost[k], t) else fnum(lost[k] / size, 4),
                    "isolates": cnt(s.isolates[k], t),
                    "isolate_share": share(s.isolates[k], size, t),
                    "giant_component_share": share(s.in_giant[k], size, t),
                    "cross_group_tie_share": fnum(1 - same[k]),
                    "coleman_index": fnum(s.coleman[k]),
                    "tier_attainment": {tn: share(c, size, t) for tn, c in zip(self.tiers, att, strict=True)},
                    "impact_ratio": {tn: (None if small(c, t) else fnum(v, 4))
                                     for tn, c, v in zip(self.tiers, h, ratios[k], strict=True)},
                    "suppressed": bool(any(small(c, t) for c in (lost[k], s.isolates[k], s.in_giant[k], *h, *att))),
                })
                groups.append(row)
        return {
            "round": r.index,
            "edges": r.edges,
            "ties_removed": r.ties_removed,
            "mean_degree": fnum(2 * r.edges / max(n, 1), 4),
            "components": r.comps.n_components,
            "giant_component_share": share(r.comps.giant_size, n, t),
            "isolates": cnt(r.n_isolates, t),
            "isolate_share": share(r.n_isolates, n, t),
            "assortativity": {s.grouping.key: fnum(s.assortativity) for s in r.stats},
            "cross_group_tie_share": {s.grouping.key: (fnum(s.cross_ties / s.known_ties) if s.known_ties else None)
                                      for s in r.stats},
            "solver": dict(r.solver),
            "groups": groups,
        }

    def to_dict(self) -> dict:
        if self.status != "ran":
            return {"status": self.status, "reason": self.reason, "settings": dict(self.settings), "rounds": []}
        return {"status": "ran", "reason": self.reason, "settings": dict(self.settings),
                "rounds": [self._round_dict(r) for r in self.rounds]}

    def _rows(self) -> list[dict]:
        out = []
        for rd in self.to_dict()["rounds"]:
            for g in rd["groups"]:
                out.append({"round": rd["round"], **flatten_record(g)})
        return out


def _no_real_name(people: pd.DataFrame | None, n: int, drop: bool, column: str) -> np.ndarray:
    if not drop:
        return np.zeros(n, dtype=bool)
    if people is None or column not in people.columns:
        raise AuditInputError(
            f"unfriending: column {column!r} (real-name account) is missing; pass drop_no_real_name=False "
            f"or set real_name_column")
    col = people[column]
    if col.dtype == bool:
        return ~col.to_numpy()
    values = pd.to_numeric(col, errors="coerce")
    bad = col.notna() & (values.isna() | ~values.isin([0, 1]))
    if bad.any():
        raise AuditInputError(f"unfriending: column {column!r} must be true/false or 0/1 "
                              f"(found {col[bad].iloc[0]!r})")
    # A missing value counts as "no real-name account", as `not real_name` does in the rule.
    return ~(values.fillna(0).to_numpy() == 1)


def _round_stats(prep: Prepared, index: int, adj, rows, scores, removed: int, solver: dict,
                 ties_lost: list, min_group_size: int) -> Round:
    comps = components(adj)
    deg = np.diff(adj.indptr)
    fav = favourable_attainment(prep.rule, scores, prep.flags)
    ties = upper_ties(adj, rows)
    stats, hits, ratios = [], [], []
    for g in prep.groupings:
        stats.append(group_graph_stats(adj, g, ties=ties, comps=comps))
        counts, h = group_rates(fav, g)
        hits.append(h)
        ratios.append(impact_ratios(counts, h, min_group_size))
    return Round(index, int(adj.nnz // 2), removed, comps, int((deg == 0).sum()), solver, tuple(stats),
                 tuple(ties_lost), tuple(hits), tuple(ratios))


def _unfriending(prep: Prepared, people, *, rounds: int, compliance: float, margin: float,
                 drop_no_real_name: bool, real_name_column: str, seed: int, min_group_size: int,
                 disclosure_threshold: int, progress: bool = True) -> Unfriending:
    t = int(disclosure_threshold)
    tiers = tuple(tr.name for tr in prep.rule.tiers)
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 0:
        raise AuditInputError(f"unfriending rounds must be a non-negative integer, got {rounds!r}")
    rounds = int(rounds)
    try:
        compliance, margin = float(compliance), float(margin)
    except (TypeError, ValueError):
        raise AuditInputError(f"unfriending compliance and margin must be numbers, got {compliance!r}, "
                              f"{margin!r}") from None
    if not 0 <= compliance <= 1:
        raise AuditInputError(f"unfriending compliance must be in [0, 1], got {compliance}")
    if not np.isfinite(margin) or margin < 0:
        raise AuditInputError(f"unfriending margin must be a non-negative number of points, got {margin}")
    n = prep.n
    no_real = _no_real_name(people, n, drop_no_real_name, real_name_column)
    settings = {"rounds": rounds, "compliance": compliance, "margin": margin,
                "drop_no_real_name": bool(drop_no_real_name),
                "real_name_column": real_name_column if drop_no_real_name else None, "seed": int(seed),
                "scores_depend_on_friends": prep.has_network, "semantics": SEMANTICS}
    rng = rng_for(seed, "unfriending")
    higher = prep.rule.higher_is_better
    adj = prep.graph.adjacency
    rows = entry_rows(adj)
    scores = prep.final
    zero = [np.zeros(g.n_groups, dtype=np.int64) for g in prep.groupings]
    history = [_round_stats(prep, 0, adj, rows, scores, 0, prep.solver_info(), zero, min_group_size)]
    decision = scores
    steps = range(1, rounds + 1)
    for r in (track(steps, total=rounds, description="unfriending rounds") if progress else steps):
        decision = scores
        compliant = rng.random(n) < compliance
        cols = adj.indices
        si, sj = scores[rows], scores[cols]
        if higher:
            worse_j, worse_i = sj < si - margin, si < sj - margin
        else:
            worse_j, worse_i = sj > si + margin, si > sj + margin
        del si, sj
        remove = compliant[rows] & (worse_j | no_real[cols])
        remove |= compliant[cols] & (worse_i | no_real[rows])
        n_removed = int(remove.sum())
        deg_before = np.diff(adj.indptr)
        if n_removed:
            keep = ~remove
            adj = filter_entries(adj, keep, rows)
            rows = rows[keep]
        del remove
        lost_person = deg_before - np.diff(adj.indptr)
        lost = []
        for g in prep.groupings:
            valid = g.codes >= 0
            lost.append(np.bincount(g.codes[valid], weights=lost_person[valid], minlength=g.n_groups)
                        .astype(np.int64))
        info = {"method": None, "iterations": 0, "tolerance": None, "error_bound": None}
        if prep.has_network and n_removed:
            sol = prep.solve(prep.own, adj, start=scores)
            scores = sol.scores
            info = prep.solver_info(sol)
        elif prep.has_network:
            info = {**prep.solver_info(), "iterations": 0, "method": "unchanged (no tie removed)"}
        history.append(_round_stats(prep, r, adj, rows, scores, n_removed // 2, info, lost, min_group_size))
    return Unfriending(tiers=tiers, flags=prep.flags, settings=settings, rounds=tuple(history),
                       final_graph=Graph(adj, source=f"{prep.graph.source} (after unfriending)"),
                       decision_scores=decision, final_scores=scores, disclosure_threshold=t,
                       min_group_size=int(min_group_size),
                       reason=None if prep.has_network else
                       "the rule has no network term: only the graph changes, scores stay own-behaviour scores")


def unfriending(
    rule,
    people: pd.DataFrame,
    graph: Graph,
    groupings: Grouping | Sequence[Grouping],
    *,
    rounds: int = 5,
    compliance: float = 0.5,
    margin: float = 0.0,
    drop_no_real_name: bool = True,
    real_name_column: str = "real_name",
    seed: int = 0,
    tolerance: float | None = None,
    method: str = "iterate",
    min_group_size: int = DEFAULT_MIN_GROUP,
    disclosure_threshold: int = DEFAULT_DISCLOSURE,
    progress: bool = True,
) -> Unfriending:
    """Simulate the official advice to drop low-scoring friends (and friends without a real-name account).

    In round ``r = 1..rounds`` every person is *compliant* with probability
    ``compliance`` (drawn once per person per round).  A compliant person ``i``
    drops the tie to friend ``j`` when ``s_j < s_i - margin`` (``s`` = final
    scores at the start of the round; ``s_j > s_i + margin`` for a rule where
    lower is better) or, if ``drop_no_real_name``, when ``j`` has no real-name
    account.  A tie is removed if either end drops it.  Scores are then
    re-solved on the remaining graph (warm start; skipped if nothing changed).

    Parameters
    ----------
    rule, people, graph, groupings
        As in :func:`spillover`.
    rounds : int, default 5
    compliance : float in [0, 1], default 0.5
    margin : float >= 0, default 0
        Points by which a friend must score worse to be dropped.
    drop_no_real_name : bool, default True
    real_name_column : str, default "real_name"
        Boolean (or 0/1) column; missing values count as "no real-name account".
    seed : int
        Seeds the compliance draws: the same seed gives the same rounds.
    progress : bool, default True
        A progress bar over rounds (on a terminal only).

    Returns
    -------
    Unfriending
        Per round (0 = input graph) and group: mean degree, ties lost that
        round, isolates, share in the giant component, share of ties to other
        groups, Coleman's index, tier attainment and impact ratios; per round
        and grouping: assortativity.  Works for a rule without a network term
        too (the graph changes, the scores do not).

    Examples
    --------
    >>> import audit
    >>> from audit.contagion import unfriending
    >>> people, edges = audit.generate_sesame(3000, seed=2)
    >>> g = audit.load_graph(edges, people["id"])
    >>> res = unfriending("sesame", people, g, audit.build_groupings(people, ["ethnicity"]), rounds=2,
    ...                   compliance=0.3, progress=False)
    >>> [r["round"] for r in res.to_dict()["rounds"]], res.final_graph.n_edges < g.n_edges
    ([0, 1, 2], True)
    """
    prep = prepare(rule, people, graph, groupings, tolerance=tolerance, method=method)
    return _unfriending(prep, people, rounds=rounds, compliance=compliance, margin=margin,
                        drop_no_real_name=drop_no_real_name, real_name_column=real_name_column, seed=seed,
                        min_group_size=min_group_size, disclosure_threshold=disclosure_threshold,
                        progress=progress)
