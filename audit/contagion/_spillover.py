"""Spillover (final minus own score) and shock propagation from a seed set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit.contagion._common import (
    DEFAULT_DISCLOSURE,
    DEFAULT_MIN_GROUP,
    Section,
    cnt,
    fnum,
    group_id,
    group_quantiles,
    group_sums,
    quantile_map,
    rng_for,
    share,
    small,
    value_order,
)
from audit.contagion._core import components, hop_distances
from audit.contagion._prepare import Prepared, prepare
from audit.graph import Graph
from audit.groups import Grouping

__all__ = ["Shock", "Spillover", "shock", "spillover"]

NO_NETWORK = "the rule has no network term"


# ---------------------------------------------------------------------- spillover
@dataclass(frozen=True, eq=False)
class Spillover(Section):
    """Per group: own vs final scores, the shift, and guilt by association (see :func:`spillover`)."""

    tiers: tuple[str, ...] = ()
    groupings: tuple[Grouping, ...] = ()
    counts: tuple[np.ndarray, ...] = ()
    mean_own: tuple[np.ndarray, ...] = ()
    mean_final: tuple[np.ndarray, ...] = ()
    shift_quantiles: tuple[np.ndarray, ...] = ()
    pulled_down: tuple[np.ndarray, ...] = ()
    pulled_up: tuple[np.ndarray, ...] = ()
    own_hits: tuple[np.ndarray, ...] = ()
    final_hits: tuple[np.ndarray, ...] = ()
    guilt: tuple[np.ndarray, ...] = ()
    lifted: tuple[np.ndarray, ...] = ()
    overall: dict = field(default_factory=dict)
    solver: dict = field(default_factory=dict)
    disclosure_threshold: int = DEFAULT_DISCLOSURE
    min_group_size: int = DEFAULT_MIN_GROUP
    status: str = "ran"
    reason: str | None = None
    name: str = field(default="spillover", init=False)

    def groups(self) -> list[dict]:
        t = self.disclosure_threshold
        out = []
        for i, g in enumerate(self.groupings):
            for k in range(g.n_groups):
                n = int(self.counts[i][k])
                row = group_id(g, k)
                if n < t:
                    row.update({"n": None, "mean_own_score": None, "mean_final_score": None, "mean_shift": None,
                                "suppressed": True})
                    out.append(row)
                    continue
                guilt, lifted = self.guilt[i][k], self.lifted[i][k]
                own_h, fin_h = self.own_hits[i][k], self.final_hits[i][k]
                mo, mf = self.mean_own[i][k], self.mean_final[i][k]
                row.update({
                    "n": n,
                    "mean_own_score": fnum(mo),
                    "mean_final_score": fnum(mf),
                    "mean_shift": fnum(mf - mo),
                    "shift_quantiles": quantile_map(self.shift_quantiles[i][k]) if n >= self.min_group_size
                    else None,
                    "share_pulled_down": share(self.pulled_down[i][k], n, t),
                    "share_pulled_up": share(self.pulled_up[i][k], n, t),
                    "guilt_by_association": {tn: share(c, n, t) for tn, c in zip(self.tiers, guilt, strict=True)},
                    "guilt_by_association_count": {tn: cnt(c, t) for tn, c in zip(self.tiers, guilt, strict=True)},
                    "lifted_by_association": {tn: share(c, n, t) for tn, c in zip(self.tiers, lifted, strict=True)},
                    "own_attainment": {tn: share(c, n, t) for tn, c in zip(self.tiers, own_h, strict=True)},
                    "final_attainment": {tn: share(c, n, t) for tn, c in zip(self.tiers, fin_h, strict=True)},
                    "suppressed": bool(any(small(c, t) for c in (*guilt, *lifted, *own_h, *fin_h,
                                                                  self.pulled_down[i][k], self.pulled_up[i][k]))),
                })
                out.append(row)
        return out

    def to_dict(self) -> dict:
        if self.status != "ran":
            return {"status": self.status, "reason": self.reason, "groups": []}
        return {"status": "ran", "reason": None, "solver": dict(self.solver), "overall": dict(self.overall),
                "groups": self.groups()}


def _spillover(prep: Prepared, *, min_group_size: int, disclosure_threshold: int) -> Spillover:
    t = int(disclosure_threshold)
    tiers = tuple(tr.name for tr in prep.rule.tiers)
    if not prep.has_network:
        return Spillover(tiers=tiers, status="not run", reason=NO_NETWORK, disclosure_threshold=t,
                         min_group_size=int(min_group_size))
    own, final = prep.own, prep.final
    shift = final - own
    # A shift within the solver's error bound is not a shift.
    eps = max(prep.solution.error_bound, 1e-12)
    down, up = shift < -eps, shift > eps
    guilt = prep.fav_own & ~prep.fav_final
    lifted = ~prep.fav_own & prep.fav_final
    T = len(tiers)
    flags = np.column_stack([prep.fav_own, prep.fav_final, guilt, lifted, down, up])
    stacked = np.column_stack([flags, own, final])
    order = value_order(shift)
    res: dict[str, list] = {k: [] for k in ("counts", "mean_own", "mean_final", "q", "down", "up", "own_h",
                                            "final_h", "guilt", "lifted")}
    for g in prep.groupings:
        counts = g.counts.astype(np.int64)
        total = group_sums(g, stacked)
        sums = np.rint(total[:, :-2]).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            res["mean_own"].append(total[:, -2] / counts)
            res["mean_final"].append(total[:, -1] / counts)
        res["counts"].append(counts)
        res["q"].append(group_quantiles(g.codes, shift, g.n_groups, counts >= min_group_size, order))
        # Literal attainment (for an adverse tier: the people placed in it), not the favourable outcome.
        literal = prep.flags[None, :]
        res["own_h"].append(np.where(literal, sums[:, :T], counts[:, None] - sums[:, :T]))
        res["final_h"].append(np.where(literal, sums[:, T:2 * T], counts[:, None] - sums[:, T:2 * T]))
        res["guilt"].append(sums[:, 2 * T:3 * T])
        res["lifted"].append(sums[:, 3 * T:4 * T])
        res["down"].append(sums[:, 4 * T])
        res["up"].append(sums[:, 4 * T + 1])
    n = prep.n
    gsum, lsum = guilt.sum(axis=0), lifted.sum(axis=0)
    overall = {
        "n": n,
        "mean_own_score": fnum(own.mean()) if n else None,
        "mean_final_score": fnum(final.mean()) if n else None,
        "mean_absolute_shift": fnum(np.abs(shift).mean()) if n else None,
        "guilt_by_association": {tn: share(c, n, t) for tn, c in zip(tiers, gsum, strict=True)},
        "guilt_by_association_count": {tn: cnt(c, t) for tn, c in zip(tiers, gsum, strict=True)},
        "lifted_by_association": {tn: share(c, n, t) for tn, c in zip(tiers, lsum, strict=True)},
    }
    return Spillover(
        tiers=tiers, groupings=prep.groupings, counts=tuple(res["counts"]), mean_own=tuple(res["mean_own"]),
        mean_final=tuple(res["mean_final"]), shift_quantiles=tuple(res["q"]), pulled_down=tuple(res["down"]),
        pulled_up=tuple(res["up"]), own_hits=tuple(res["own_h"]), final_hits=tuple(res["final_h"]),
        guilt=tuple(res["guilt"]), lifted=tuple(res["lifted"]), overall=overall, solver=prep.solver_info(),
        disclosure_threshold=t, min_group_size=int(min_group_size))


def spillover(
    rule,
    people: pd.DataFrame,
    graph: Graph,
    groupings: Grouping | Sequence[Grouping],
    *,
    tolerance: float | None = None,
    method: str = "iterate",
    min_group_size: int = DEFAULT_MIN_GROUP,
    disclosure_threshold: int = DEFAULT_DISCLOSURE,
) -> Spillover:
    """How much the network term moves each group's scores, and who loses a tier because of friends.

    The network term is solved to its fixed point (``final = clip((1 - w) own
    + w mean(friends' final))``; people without friends keep their own score).
    Per person the *shift* is final minus own score; per group the result gives
    its mean and quantiles, and **guilt by association**: the share of the group
    whose own score earns a tier's favourable outcome but whose final score does
    not (``lifted_by_association`` is the reverse).

    Parameters
    ----------
    rule : Rule or built-in rule name
    people : DataFrame
        One row per graph node.
    graph : Graph
    groupings : Grouping or list of Grouping
    tolerance : float, optional
        Bound on the error of every final score (sup norm); default the rule's
        ``network.tolerance``.
    method : {"iterate", "linear"}
        Fixed-point iteration (default), or a sparse linear solve by conjugate
        gradients (exact for a linear, unclamped rule), verified against the
        clamped update and continued by iteration if the clamp binds.
    min_group_size : int, default 30
        Shift quantiles are given only for groups at least this large.
    disclosure_threshold : int, default 10

    Returns
    -------
    Spillover
        ``status == "not run"`` when the rule has no network term.

    Examples
    --------
    >>> import audit
    >>> from audit.contagion import spillover
    >>> people, edges = audit.generate_sesame(3000, seed=2)
    >>> g = audit.load_graph(edges, people["id"])
    >>> res = spillover("sesame", people, g, audit.build_groupings(people, ["ethnicity"]))
    >>> row = res.to_dict()["groups"][0]
    >>> row["group"], abs(row["mean_shift"] - (row["mean_final_score"] - row["mean_own_score"])) < 1e-5
    ({'ethnicity': 'majority'}, True)
    """
    prep = prepare(rule, people, graph, groupings, tolerance=tolerance, method=method)
    return _spillover(prep, min_group_size=min_group_size, disclosure_threshold=disclosure_threshold)


# ---------------------------------------------------------------------- shock
BANDS = ("seeds", "1", "2", "3+", "unreachable")


@dataclass(frozen=True, eq=False)
class Shock(Section):
    """Who else loses a tier when a seed set takes a deduction (see :func:`shock`)."""

    tiers: tuple[str, ...] = ()
    groupings: tuple[Grouping, ...] = ()
    selection: dict = field(default_factory=dict)
    deduction: float = 0.0
    n_seeds: int = 0
    n: int = 0
    band_counts: np.ndarray | None = None       # (5,)
    band_fell: np.ndarray | None = None         # (5, T)
    band_change: np.ndarray | None = None       # (5,) sum of score changes
    group_counts: tuple[np.ndarray, ...] = ()   # (G, 5)
    group_fell: tuple[np.ndarray, ...] = ()     # (G, 5, T)
    group_change: tuple[np.ndarray, ...] = ()   # (G, 5)
    solver: dict = field(default_factory=dict)
    disclosure_threshold: int = DEFAULT_DISCLOSURE
    status: str = "ran"
    reason: str | None = None
    name: str = field(default="shock", init=False)

    def _band_row(self, hops: str, n: int, fell: np.ndarray, change: float) -> dict:
        t = self.disclosure_threshold
        if n < t:
            return {"hops": hops, "n": cnt(n, t), "suppressed": bool(n > 0)}
        return {
            "hops": hops, "n": n,
            "fell": {tn: cnt(c, t) for tn, c in zip(self.tiers, fell, strict=True)},
            "fell_share": {tn: share(c, n, t) for tn, c in zip(self.tiers, fell, strict=True)},
            "mean_score_change": fnum(change / n),
            "suppressed": bool(any(small(c, t) for c in fell)),
        }

    def by_distance(self) -> list[dict]:
        rows = [self._band_row(b, int(self.band_counts[i]), self.band_fell[i], self.band_change[i])
                for i, b in enumerate(BANDS)]
        others = slice(1, None)
        rows.append(self._band_row("all others", int(self.band_counts[others].sum()),
                                   self.band_fell[others].sum(axis=0), self.band_change[others].sum()))
        return rows

    def by_group(self) -> list[dict]:
        t = self.disclosure_threshold
        out = []
        for i, g in enumerate(self.groupings):
            for k in range(g.n_groups):
                size = int(g.counts[k])
                base = group_id(g, k)
                if size < t:
                    out.append({**base, "hops": "all", "n": None, "suppressed": True})
                    continue
                c, f, ch = self.group_counts[i][k], self.group_fell[i][k], self.group_change[i][k]
                for j, b in enumerate(BANDS):
                    out.append({**base, **self._band_row(b, int(c[j]), f[j], ch[j])})
                out.append({**base, **self._band_row("all others", int(c[1:].sum()), f[1:].sum(axis=0),
                                                     ch[1:].sum())})
        return out

    def to_dict(self) -> dict:
        t = self.disclosure_threshold
        if self.status != "ran":
            return {"status": self.status, "reason": self.reason, "by_distance": [], "groups": []}
        return {
            "status": "ran", "reason": None,
            "seeds": {**self.selection, "n_seeds": cnt(self.n_seeds, t),
                      "share_of_population": share(self.n_seeds, self.n, t)},
            "deduction": fnum(self.deduction),
            "solver": dict(self.solver),
            "by_distance": self.by_distance(),
            "groups": self.by_group(),
        }

    def _rows(self) -> list[dict]:
        from audit.contagion._common import flatten_record

        d = self.to_dict()
        return [flatten_record({"attributes": [], "group": {}, **r}) for r in d.get("by_distance", [])] + \
            [flatten_record(r) for r in d.get("groups", [])]


def resolve_seeds(people: pd.DataFrame | None, n: int, seeds, fraction: float | None,
                  rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """The seed mask and a description of how it was chosen."""
    if fraction is not None and not 0 < float(fraction) <= 1:
        raise AuditInputError(f"shock fraction must be in (0, 1], got {fraction}")
    if seeds is None:
        frac = 0.01 if fraction is None else float(fraction)
        k = max(1, int(round(frac * n))) if n else 0
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, size=k, replace=False)] = True
        return mask, {"selection": "random", "expression": None, "fraction": frac}
    if isinstance(seeds, str):
        from audit.rules import compile_expression

        if people is None:
            raise AuditInputError("a seed expression needs the people table")
        expr = compile_expression(seeds, where="shock seeds")
        v = np.asarray(expr.evaluate(people))
        mask = v if v.dtype == bool else np.nan_to_num(v.astype(float)) != 0
        desc = {"selection": "expression", "expression": seeds}
    else:
        mask = np.asarray(seeds)
        if mask.dtype != bool:
            raise AuditInputError("seeds must be an expression, a boolean mask or None (random seeds)")
        if mask.shape != (n,):
            raise AuditInputError(f"seed mask has {mask.shape[0] if mask.ndim else 0} entries but the population "
                                  f"has {n} rows")
        desc = {"selection": "mask", "expression": None}
    mask = mask.astype(bool, copy=True)
    if fraction is not None:
        idx = np.flatnonzero(mask)
        k = int(round(float(fraction) * len(idx)))
        keep = rng.choice(idx, size=k, replace=False) if k else np.zeros(0, dtype=np.int64)
        mask[:] = False
        mask[keep] = True
    desc["fraction"] = None if fraction is None else float(fraction)
    return mask, desc


def _shock(prep: Prepared, people, *, seeds, fraction, deduction: float, seed: int,
           disclosure_threshold: int) -> Shock:
    t = int(disclosure_threshold)
    tiers = tuple(tr.name for tr in prep.rule.tiers)
    if not prep.has_network:
        return Shock(tiers=tiers, status="not run", reason=NO_NETWORK, disclosure_threshold=t)
    deduction = float(deduction)
    if not np.isfinite(deduction) or deduction <= 0:
        raise AuditInputError(f"shock deduction must be a positive number of points, got {deduction}")
    n = prep.n
    mask, desc = resolve_seeds(people, n, seeds, fraction, rng_for(seed, "shock"))
    if not mask.any():
        return Shock(tiers=tiers, selection=desc, status="not run",
                     reason="the seed set is empty (the expression matched nobody)", disclosure_threshold=t)
    own = prep.own.copy()
    own[mask] += -deduction if prep.rule.higher_is_better else deduction
    if prep.rule.range is not None:
        np.clip(own, prep.rule.range[0], prep.rule.range[1], out=own)
    sol = prep.solve(own, start=prep.final)
    from audit.contagion._common import favourable_attainment

    after = favourable_attainment(prep.rule, sol.scores, prep.flags)
    fell = prep.fav_final & ~after
    change = sol.scores - prep.final
    adj = prep.graph.adjacency
    dist = hop_distances(adj, mask, max_hops=2)
    comps = components(adj)
    seed_comp = np.zeros(comps.n_components, dtype=bool)
    seed_comp[comps.labels[mask]] = True
    reachable = seed_comp[comps.labels]
    band = np.full(n, 4, dtype=np.int64)            # unreachable
    band[reachable] = 3                              # 3+ hops
    band[dist == 2] = 2
    band[dist == 1] = 1
    band[mask] = 0
    B, T = len(BANDS), len(tiers)
    band_counts = np.bincount(band, minlength=B)
    band_fell = np.stack([np.bincount(band[fell[:, j]], minlength=B) for j in range(T)], axis=1) if T \
        else np.zeros((B, 0), dtype=np.int64)
    band_change = np.bincount(band, weights=change, minlength=B)
    gc, gf, gch = [], [], []
    for g in prep.groupings:
        valid = g.codes >= 0
        key = g.codes[valid] * B + band[valid]
        G = g.n_groups
        gc.append(np.bincount(key, minlength=G * B).reshape(G, B))
        fv = fell[valid]
        gf.append(np.stack([np.bincount(key[fv[:, j]], minlength=G * B).reshape(G, B) for j in range(T)], axis=2)
                  if T else np.zeros((G, B, 0), dtype=np.int64))
        gch.append(np.bincount(key, weights=change[valid], minlength=G * B).reshape(G, B))
    return Shock(tiers=tiers, groupings=prep.groupings, selection=desc, deduction=deduction,
                 n_seeds=int(mask.sum()), n=n, band_counts=band_counts, band_fell=band_fell,
                 band_change=band_change, group_counts=tuple(gc), group_fell=tuple(gf), group_change=tuple(gch),
                 solver=prep.solver_info(sol), disclosure_threshold=t)


def shock(
    rule,
    people: pd.DataFrame,
    graph: Graph,
    groupings: Grouping | Sequence[Grouping],
    *,
    seeds: str | np.ndarray | None = None,
    fraction: float | None = None,
    deduction: float = 100.0,
    seed: int = 0,
    tolerance: float | None = None,
    method: str = "iterate",
    disclosure_threshold: int = DEFAULT_DISCLOSURE,
) -> Shock:
    """Deduct points from a seed set, re-solve the network term and count who else loses a tier.

    Parameters
    ----------
    rule : Rule or built-in rule name
    people : DataFrame
    graph : Graph
    groupings : Grouping or list of Grouping
    seeds : str, boolean mask or None
        A rule expression over the people's columns, evaluated by the safe
        evaluator (e.g. ``"political_posts > 0 and ethnicity == 'minority A'"``);
        a boolean mask; or None for a random seed set.
    fraction : float, optional
        With ``seeds=None``, the share of everyone drawn at random (default
        0.01); with an expression or mask, the share of the matches drawn at
        random (default: all of them).
    deduction : float, default 100
        Points taken off each seed's own score (added, for a rule where lower
        is better), then clamped to the rule's range.
    seed : int
        Seeds the random choices (``np.random.default_rng``).

    Returns
    -------
    Shock
        By hop distance from the nearest seed (seeds, 1, 2, 3+, unreachable)
        and by group: people, how many lose each tier's favourable outcome
        (``fell``), and the mean score change.  Ranked tiers (top-k) are re-cut
        after the shock.

    Examples
    --------
    >>> import audit
    >>> from audit.contagion import shock
    >>> people, edges = audit.generate_sesame(3000, seed=2)
    >>> g = audit.load_graph(edges, people["id"])
    >>> res = shock("sesame", people, g, audit.build_groupings(people, ["ethnicity"]),
    ...             seeds="political_posts > 2", deduction=150)
    >>> d = res.to_dict()
    >>> d["seeds"]["selection"], [r["hops"] for r in d["by_distance"]][:4]
    ('expression', ['seeds', '1', '2', '3+'])
    >>> d["by_distance"][1]["mean_score_change"] < d["by_distance"][2]["mean_score_change"] < 0
    True
    """
    prep = prepare(rule, people, graph, groupings, tolerance=tolerance, method=method)
    return _shock(prep, people, seeds=seeds, fraction=fraction, deduction=deduction, seed=seed,
                  disclosure_threshold=disclosure_threshold)
