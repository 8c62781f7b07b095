"""Strategic unfriending: people drop ties to low scorers (and to friends without a real-name account)."""

from __future__ import annotations

import copy
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
    cell_cnt,
    cell_ok,
    cells_publishable,
    favourable_attainment,
    flatten_record,
    fnum,
    group_id,
    group_rates,
    impact_ratios_and_refs,
    protect_rows,
    ratios_publishable,
    rng_for,
    share,
    sizes_published,
    split_rows,
    total_reveals,
)
from audit.contagion._core import Components, components, entry_rows, filter_entries, upper_ties
from audit.contagion._graphstats import GroupGraphStats, group_graph_row, group_graph_stats
from audit.contagion._prepare import Prepared, prepare
from audit.graph import Graph
from audit.groups import Grouping
from audit.rates import most_favoured

__all__ = ["Round", "Unfriending", "unfriending", "SEMANTICS", "SENSITIVITY", "default_margin"]

SEMANTICS = (
    "Round r = 1..R: every person is compliant with probability `compliance`, drawn independently per "
    "person and per round. A compliant person i drops the tie to friend j when j's final score (at the "
    "start of the round) is worse than i's by more than `margin` points (s_j < s_i - margin; for a rule "
    "where lower is better, s_j > s_i + margin), or, with drop_no_real_name, when j has no real-name "
    "account (a missing value counts as none, as in the rule's own `not real_name`). A tie is removed "
    "when either end drops it; nobody adds ties. The scores are then re-solved on the remaining graph "
    "(warm start from the previous solution; skipped when no tie was removed). Round 0 is the input graph.")

#: The default scenario: a moderate reading of the advice, not an estimate of how people behave.
DEFAULT_ROUNDS = 5
DEFAULT_COMPLIANCE = 0.2
#: Default margin: this share of the rule's score range (60 points on the 350-950 range of ``sesame``) --
#: a friend is dropped only when they score clearly lower, not one point lower.
DEFAULT_MARGIN_SHARE = 0.1
#: Alternative scenarios of the sensitivity summary: (label, compliance, margin as a multiple of the default).
SENSITIVITY = (("milder", 0.1, 2.0), ("stronger", 0.5, 0.0))


def default_margin(rule, scores: np.ndarray) -> tuple[float, str]:
    """The default margin in points and how it was chosen.

    10% of the rule's score range when it declares one; otherwise 10% of the
    spread between the 5th and 95th percentiles of everyone's final score at
    the start (a population aggregate, never an individual's score).
    """
    if getattr(rule, "range", None) is not None:
        lo, hi = (float(x) for x in rule.range)
        return DEFAULT_MARGIN_SHARE * (hi - lo), (
            f"default: {DEFAULT_MARGIN_SHARE:.0%} of the rule's score range {lo:g}-{hi:g}")
    finite = np.asarray(scores, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return 0.0, "default: 0 (no finite score)"
    p5, p95 = np.quantile(finite, [0.05, 0.95])
    return float(DEFAULT_MARGIN_SHARE * (p95 - p5)), (
        f"default: {DEFAULT_MARGIN_SHARE:.0%} of the spread between the 5th and 95th percentile of the scores "
        f"(the rule declares no score range)")


def scenario_text(rounds: int, compliance: float, margin: float, basis: str, drop_no_real_name: bool,
                  higher_is_better: bool = True) -> str:
    """The scenario in one sentence, for ``methods`` and ``settings``."""
    lower = "lower" if higher_is_better else "higher (worse)"
    real = "; friends without a real-name account are dropped too" if drop_no_real_name else ""
    return (f"Scenario: {rounds} rounds; in each round each person follows the advice with probability "
            f"{compliance:g} and then drops every friend whose score is more than {margin:g} points {lower} "
            f"than their own ({basis}){real}. This is an illustrative scenario, not an estimate of how people "
            f"behave: the results depend on it, and unfriending.sensitivity repeats the simulation with other "
            f"compliance and margin settings.")


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
    refs: tuple[np.ndarray, ...] = ()     # most favoured group per tier (what each ratio divides by)


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
    sensitivity: dict | None = None     # group aggregates, already disclosure-controlled
    disclosure_threshold: int = DEFAULT_DISCLOSURE
    min_group_size: int = DEFAULT_MIN_GROUP
    status: str = "ran"
    reason: str | None = None
    name: str = field(default="unfriending", init=False)

    def _protect_round(self, r: Round, groups: list[dict]) -> None:
        """No group count of the round may follow from a total minus its published sub-groups.

        Attainment per tier, tie-ends lost, isolates, people in the giant
        component, tie-ends and same-group tie-ends go through
        :func:`~audit.contagion._common.protect_rows`; an impact ratio is
        hidden with its cell, and every ratio of a tier with the most
        favoured group's cell.
        """
        gs = [s.grouping for s in r.stats]
        if not gs:
            return
        att = [np.where(self.flags[None, :], h, np.asarray(s.counts)[:, None] - h)
               for s, h in zip(r.stats, r.hits, strict=True)]
        for j, tn in enumerate(self.tiers):
            hits_total = int(att[0][:, j].sum()) if gs[0].n_groups else None
            protect_rows(gs, groups, [a[:, j] for a in att], [("tier_attainment", tn), ("impact_ratio", tn)],
                         total=hits_total)
        protect_rows(gs, groups, list(r.ties_lost), ["ties_lost", "ties_lost_per_person"],
                     total=2 * int(r.ties_removed))
        protect_rows(gs, groups, [s.isolates for s in r.stats], ["isolates", "isolate_share"], total=r.n_isolates)
        protect_rows(gs, groups, [s.in_giant for s in r.stats], ["giant_component_share"],
                     total=r.comps.giant_size)
        protect_rows(gs, groups, [np.rint(np.asarray(s.degree_sum, dtype=float)) for s in r.stats],
                     ["mean_degree"], total=2 * int(r.edges))
        protect_rows(gs, groups, [np.rint(np.asarray(s.same, dtype=float)) for s in r.stats],
                     ["cross_group_tie_share", "coleman_index"])
        refs = r.refs or (None,) * len(r.stats)
        for s, rs, hits, ref in zip(r.stats, split_rows(groups, gs), r.hits, refs, strict=True):
            if ref is None:
                ref = most_favoured(s.counts, hits, self.min_group_size)
            for j, tn in enumerate(self.tiers):
                rj = int(ref[j])
                if rj >= 0 and _pub(rs[rj], "tier_attainment", tn) is None:
                    for x in rs:
                        if isinstance(x.get("impact_ratio"), dict):
                            x["impact_ratio"][tn] = None
                            x["suppressed"] = True

    def _round_dict(self, r: Round) -> dict:
        t, m = self.disclosure_threshold, self.min_group_size
        n = int(len(r.comps.labels))
        groups = []
        refs = r.refs or (None,) * len(r.stats)
        reveals = False     # would the round's totals give back a hidden group count?
        size_ok = sizes_published([s.grouping for s in r.stats], t)
        for i, (s, lost, hits, ratios, ref) in enumerate(zip(r.stats, r.ties_lost, r.hits, r.ratios, refs,
                                                             strict=True)):
            g = s.grouping
            counts = s.counts
            if ref is None:
                ref = most_favoured(counts, hits, m)
            # Attainment is a cell of the group; a ratio needs the group's and the most favoured group's cells.
            att_ok = cells_publishable(counts, hits, t)
            ratio_ok = ratios_publishable(counts, hits, ref, t)
            for k in range(g.n_groups):
                size = int(counts[k])
                row = group_id(g, k)
                if not size_ok[i][k]:
                    row.update({"n": None, "suppressed": True})
                    groups.append(row)
                    continue
                h = hits[k]
                # tier_attainment is literal (for an adverse tier: the share placed in it); impact ratios
                # compare the favourable outcome, as the impact family does.
                att = np.where(self.flags, h, size - h)
                stats = group_graph_row(s, k, t, m)
                stats.pop("same_group_tie_share")
                # Tie-ends lost this round are a cell of the group's tie-ends at the start of the round.
                before = int(round(float(s.degree_sum[k]))) + int(lost[k])
                lost_ok = cell_ok(lost[k], before, t)
                row.update({
                    "n": size,
                    "mean_degree": stats["mean_degree"],
                    "ties_lost": int(lost[k]) if lost_ok else None,
                    "ties_lost_per_person": fnum(lost[k] / size, 4) if lost_ok else None,
                    "isolates": stats["isolates"],
                    "isolate_share": stats["isolate_share"],
                    "giant_component_share": stats["giant_component_share"],
                    "cross_group_tie_share": stats["cross_group_tie_share"],
                    "coleman_index": stats["coleman_index"],
                    "tier_attainment": {tn: (fnum(c / size) if o else None)
                                        for tn, c, o in zip(self.tiers, att, att_ok[k], strict=True)},
                    "impact_ratio": {tn: (fnum(v, 4) if o else None)
                                     for tn, v, o in zip(self.tiers, ratios[k], ratio_ok[k], strict=True)},
                    "suppressed": bool(stats["suppressed"] or not lost_ok or not att_ok[k].all()
                                       or not ratio_ok[k].all()),
                })
                groups.append(row)
        self._protect_round(r, groups)
        for s, mine in zip(r.stats, split_rows(groups, [s.grouping for s in r.stats]), strict=True):
            reveals |= total_reveals(s.isolates, [x.get("isolates") is None for x in mine], t)
            reveals |= total_reveals(s.in_giant, [x.get("giant_component_share") is None for x in mine], t)
        # Ties in the whole graph are not a group's count (and consecutive rounds give ties_removed anyway).
        return {
            "round": r.index,
            "edges": r.edges,
            "ties_removed": r.ties_removed,
            "mean_degree": fnum(2 * r.edges / max(n, 1), 4),
            "components": r.comps.n_components,
            "giant_component_share": None if reveals else share(r.comps.giant_size, n, t),
            "isolates": None if reveals else cell_cnt(r.n_isolates, n, t),
            "isolate_share": None if reveals else share(r.n_isolates, n, t),
            "assortativity": {s.grouping.key: fnum(s.assortativity) for s in r.stats},
            "cross_group_tie_share": {s.grouping.key: share(s.cross_ties, s.known_ties, t) for s in r.stats},
            "solver": dict(r.solver),
            "groups": groups,
        }

    def to_dict(self) -> dict:
        if self.status != "ran":
            return {"status": self.status, "reason": self.reason, "settings": dict(self.settings), "rounds": [],
                    "sensitivity": None}
        return {"status": "ran", "reason": self.reason, "settings": dict(self.settings),
                "rounds": [self._round_dict(r) for r in self.rounds],
                "sensitivity": None if self.sensitivity is None else copy.deepcopy(self.sensitivity)}

    def _rows(self) -> list[dict]:
        out = []
        rounds = [self._round_dict(r) for r in self.rounds] if self.status == "ran" else []
        for rd in rounds:
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
    stats, hits, ratios, refs = [], [], [], []
    for g in prep.groupings:
        stats.append(group_graph_stats(adj, g, ties=ties, comps=comps))
        counts, h = group_rates(fav, g)
        r, ref = impact_ratios_and_refs(counts, h, min_group_size)
        hits.append(h)
        ratios.append(r)
        refs.append(ref)
    return Round(index, int(adj.nnz // 2), removed, comps, int((deg == 0).sum()), solver, tuple(stats),
                 tuple(ties_lost), tuple(hits), tuple(ratios), tuple(refs))


@dataclass
class _Step:
    """The state after one simulated round (per person; never leaves the package)."""

    index: int
    adj: object
    rows: np.ndarray
    scores: np.ndarray
    decision: np.ndarray
    removed: int          # ties removed this round
    lost_person: np.ndarray
    solver: dict


def _simulate(prep: Prepared, no_real: np.ndarray, *, rounds: int, compliance: float, margin: float,
              rng: np.random.Generator, steps=None):
    """Yield a :class:`_Step` per round of the documented rule (see :data:`SEMANTICS`), vectorised over ties."""
    n = prep.n
    higher = prep.rule.higher_is_better
    adj = prep.graph.adjacency
    rows = entry_rows(adj)
    scores = prep.final
    for r in (range(1, rounds + 1) if steps is None else steps):
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
        info = {"method": None, "iterations": 0, "tolerance": None, "error_bound": None}
        if prep.has_network and n_removed:
            sol = prep.solve(prep.own, adj, start=scores)
            scores = sol.scores
            info = prep.solver_info(sol)
        elif prep.has_network:
            info = {**prep.solver_info(), "iterations": 0, "method": "unchanged (no tie removed)"}
        yield _Step(r, adj, rows, scores, decision, n_removed // 2, deg_before - np.diff(adj.indptr), info)


def _pub(row: dict, key: str, tier: str):
    return (row.get(key) or {}).get(tier) if row.get("n") is not None else None


def _sensitivity_scenario(prep: Prepared, label: str, compliance: float, margin: float, adj, this_run: bool,
                          t: int, rounds: int) -> dict:
    """Final-round share of ties kept and share of people without friends, overall and per single attribute."""
    deg0 = np.diff(prep.graph.adjacency.indptr)
    deg = np.diff(adj.indptr)
    n = prep.n
    edges0, edges = prep.graph.adjacency.nnz // 2, adj.nnz // 2
    iso = int((deg == 0).sum())
    groups = []
    reveals = False     # would the overall share give back a hidden group count?
    size_ok = dict(zip([g.key for g in prep.groupings], sizes_published(prep.groupings, t), strict=True))
    for g in prep.groupings:
        single = len(g.attributes) == 1
        if not (single or this_run):    # this run's intersections are published in its last round
            continue
        valid = g.codes >= 0
        cv = g.codes[valid]
        G = g.n_groups
        counts = np.bincount(cv, minlength=G)
        isolates = np.bincount(cv[deg[valid] == 0], minlength=G)
        iso_ok = cells_publishable(counts, isolates, t)[:, 0] & (counts >= t)
        reveals |= total_reveals(isolates, ~iso_ok, t)
        if not single:
            continue
        ends0 = np.bincount(cv, weights=deg0[valid], minlength=G).round().astype(np.int64)
        ends = np.bincount(cv, weights=deg[valid], minlength=G).round().astype(np.int64)
        for k in range(G):
            size = int(counts[k])
            row = group_id(g, k)
            if not size_ok[g.key][k]:
                row.update({"n": None, "suppressed": True})
                groups.append(row)
                continue
            kept = share(ends[k], ends0[k], t)
            iso_share = fnum(isolates[k] / size) if iso_ok[k] else None
            row.update({"n": size, "ties_kept_share": kept, "isolate_share": iso_share,
                        "suppressed": bool((kept is None and ends0[k] > 0) or iso_share is None)})
            groups.append(row)
    return {"scenario": label, "this_run": this_run, "rounds": rounds, "compliance": compliance,
            "margin": fnum(margin, 4), "ties_kept_share": share(edges, edges0, t),
            "isolate_share": None if reveals else share(iso, n, t), "groups": groups}


def _unfriending(prep: Prepared, people, *, rounds: int = DEFAULT_ROUNDS, compliance: float = DEFAULT_COMPLIANCE,
                 margin: float | None = None, drop_no_real_name: bool, real_name_column: str, seed: int,
                 min_group_size: int, disclosure_threshold: int, progress: bool = True,
                 sensitivity: bool = True) -> Unfriending:
    t = int(disclosure_threshold)
    tiers = tuple(tr.name for tr in prep.rule.tiers)
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 0:
        raise AuditInputError(f"unfriending rounds must be a non-negative integer, got {rounds!r}")
    rounds = int(rounds)
    base_margin, basis = default_margin(prep.rule, prep.final)
    try:
        compliance = float(compliance)
        if margin is not None:
            margin, basis = float(margin), "given"
        else:
            margin = base_margin
    except (TypeError, ValueError):
        raise AuditInputError(f"unfriending compliance and margin must be numbers, got {compliance!r}, "
                              f"{margin!r}") from None
    if not 0 <= compliance <= 1:
        raise AuditInputError(f"unfriending compliance must be in [0, 1], got {compliance}")
    if not np.isfinite(margin) or margin < 0:
        raise AuditInputError(f"unfriending margin must be a non-negative number of points, got {margin}")
    n = prep.n
    no_real = _no_real_name(people, n, drop_no_real_name, real_name_column)
    scenario = scenario_text(rounds, compliance, margin, basis, bool(drop_no_real_name),
                             prep.rule.higher_is_better)
    settings = {"scenario": scenario, "rounds": rounds, "compliance": compliance, "margin": fnum(margin, 4),
                "margin_basis": basis, "drop_no_real_name": bool(drop_no_real_name),
                "real_name_column": real_name_column if drop_no_real_name else None, "seed": int(seed),
                "scores_depend_on_friends": prep.has_network, "semantics": SEMANTICS}
    adj = prep.graph.adjacency
    zero = [np.zeros(g.n_groups, dtype=np.int64) for g in prep.groupings]
    history = [_round_stats(prep, 0, adj, entry_rows(adj), prep.final, 0, prep.solver_info(), zero,
                            min_group_size)]
    decision = scores = prep.final
    steps = range(1, rounds + 1)
    steps = track(steps, total=rounds, description="unfriending rounds") if progress else steps
    for st in _simulate(prep, no_real, rounds=rounds, compliance=compliance, margin=margin,
                        rng=rng_for(seed, "unfriending"), steps=steps):
        adj, scores, decision = st.adj, st.scores, st.decision
        lost = [np.rint(g.sums(st.lost_person)).astype(np.int64) for g in prep.groupings]
        history.append(_round_stats(prep, st.index, adj, st.rows, scores, st.removed, st.solver, lost,
                                    min_group_size))
    sens = None
    if sensitivity:
        # The same compliance draws (one stream) in every scenario, so the scenarios differ only by their settings.
        scen = [_sensitivity_scenario(prep, "this run", compliance, margin, adj, True, t, rounds)]
        seen = {(compliance, margin)}
        for label, c, factor in SENSITIVITY:
            m = base_margin * factor
            if (c, m) in seen:
                continue
            seen.add((c, m))
            last = prep.graph.adjacency
            for st in _simulate(prep, no_real, rounds=rounds, compliance=c, margin=m,
                                rng=rng_for(seed, "unfriending")):
                last = st.adj
            scen.append(_sensitivity_scenario(prep, label, c, m, last, False, t, rounds))
        alternatives = "; ".join(
            f"'{label}': compliance {c:g}, margin {base_margin * f:g} points"
            + (" (any friend with a lower score)" if f == 0 else f" ({f:g} x the default margin)")
            for label, c, f in SENSITIVITY)
        sens = {"description": (
                    f"The final round (round {rounds}) under other settings, with the same random draws: the "
                    f"share of ties kept (tie-ends of the group's members) and the share of people without "
                    f"friends, overall and per single protected attribute. 'this run' is the scenario of this "
                    f"section; {alternatives}. The real-name setting is the same throughout; shares follow the "
                    f"disclosure rule."),
                "drop_no_real_name": bool(drop_no_real_name), "scenarios": scen}
    return Unfriending(tiers=tiers, flags=prep.flags, settings=settings, rounds=tuple(history),
                       final_graph=Graph(adj, source=f"{prep.graph.source} (after unfriending)"),
                       decision_scores=decision, final_scores=scores, sensitivity=sens, disclosure_threshold=t,
                       min_group_size=int(min_group_size),
                       reason=None if prep.has_network else
                       "the rule has no network term: only the graph changes, scores stay own-behaviour scores")


def unfriending(
    rule,
    people: pd.DataFrame,
    graph: Graph,
    groupings: Grouping | Sequence[Grouping],
    *,
    rounds: int = DEFAULT_ROUNDS,
    compliance: float = DEFAULT_COMPLIANCE,
    margin: float | None = None,
    drop_no_real_name: bool = True,
    real_name_column: str = "real_name",
    seed: int = 0,
    tolerance: float | None = None,
    method: str = "iterate",
    min_group_size: int = DEFAULT_MIN_GROUP,
    disclosure_threshold: int = DEFAULT_DISCLOSURE,
    progress: bool = True,
    sensitivity: bool = True,
) -> Unfriending:
    """Simulate the official advice to drop low-scoring friends (and friends without a real-name account).

    In round ``r = 1..rounds`` every person is *compliant* with probability
    ``compliance`` (drawn once per person per round).  A compliant person ``i``
    drops the tie to friend ``j`` when ``s_j < s_i - margin`` (``s`` = final
    scores at the start of the round; ``s_j > s_i + margin`` for a rule where
    lower is better) or, if ``drop_no_real_name``, when ``j`` has no real-name
    account.  A tie is removed if either end drops it.  Scores are then
    re-solved on the remaining graph (warm start; skipped if nothing changed).

    The defaults are a moderate scenario, stated in ``settings["scenario"]``
    (and in the composite result's ``methods``): 5 rounds, compliance 0.2,
    and a margin of 10% of the rule's score range (60 points for ``sesame``),
    so that only a *clearly* lower scorer is dropped.  The results depend on
    these choices; ``to_dict()["sensitivity"]`` repeats the simulation under a
    milder and a stronger setting (see :data:`SENSITIVITY`).

    Parameters
    ----------
    rule, people, graph, groupings
        As in :func:`spillover`.
    rounds : int, default 5
    compliance : float in [0, 1], default 0.2
    margin : float >= 0, optional
        Points by which a friend must score worse to be dropped.  Default: 10%
        of the rule's score range; for a rule without a range, 10% of the
        spread between the 5th and 95th percentile of the scores at the start.
        ``margin=0`` drops any friend with a lower score.
    drop_no_real_name : bool, default True
    real_name_column : str, default "real_name"
        Boolean (or 0/1) column; missing values count as "no real-name account".
    seed : int
        Seeds the compliance draws: the same seed gives the same rounds.
    progress : bool, default True
        A progress bar over rounds (on a terminal only).
    sensitivity : bool, default True
        Also run the alternative scenarios of :data:`SENSITIVITY` (same draws)
        and report their final round in ``to_dict()["sensitivity"]``.

    Returns
    -------
    Unfriending
        Per round (0 = input graph) and group: mean degree, ties lost that
        round, isolates, share in the giant component, share of ties to other
        groups, Coleman's index, tier attainment and impact ratios; per round
        and grouping: assortativity.  Works for a rule without a network term
        too (the graph changes, the scores do not).  Shares are cells of the
        group (suppressed when the count or its complement is 1 to
        ``disclosure_threshold - 1``); an impact ratio is given only when the
        group's and the most favoured group's cells both can be.

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
    >>> res.settings["margin"], res.settings["margin_basis"]
    (60.0, "default: 10% of the rule's score range 350-950")
    >>> [s["scenario"] for s in res.to_dict()["sensitivity"]["scenarios"]]
    ['this run', 'milder', 'stronger']
    """
    prep = prepare(rule, people, graph, groupings, tolerance=tolerance, method=method)
    return _unfriending(prep, people, rounds=rounds, compliance=compliance, margin=margin,
                        drop_no_real_name=drop_no_real_name, real_name_column=real_name_column, seed=seed,
                        min_group_size=min_group_size, disclosure_threshold=disclosure_threshold,
                        progress=progress, sensitivity=sensitivity)
