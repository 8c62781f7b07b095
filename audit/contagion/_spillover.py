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
    cell_cnt,
    cell_ok,
    cells_publishable,
    dist_ok,
    fnum,
    group_id,
    group_quantiles,
    protect_groupings,
    protect_partition,
    quantile_map,
    rng_for,
    share,
    sizes_published,
    split_rows,
    total_reveals,
    value_order,
)
from audit.contagion._core import components, hop_distances
from audit.contagion._prepare import Prepared, prepare
from audit.disclosure import cell_publishable, protect_lines
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
    overall_guilt: np.ndarray | None = None      # (T,) raw counts, disclosure control in to_dict
    overall_lifted: np.ndarray | None = None
    solver: dict = field(default_factory=dict)
    disclosure_threshold: int = DEFAULT_DISCLOSURE
    min_group_size: int = DEFAULT_MIN_GROUP
    status: str = "ran"
    reason: str | None = None
    name: str = field(default="spillover", init=False)

    def groups(self) -> list[dict]:
        t, m = self.disclosure_threshold, self.min_group_size
        out = []
        oks = self._protected_oks()
        size_ok = sizes_published(self.groupings, t)
        for i, g in enumerate(self.groupings):
            counts = self.counts[i]
            ok = oks[i]
            for k in range(g.n_groups):
                n = int(counts[k])
                row = group_id(g, k)
                if not size_ok[i][k]:
                    row.update({"n": None, "mean_own_score": None, "mean_final_score": None, "mean_shift": None,
                                "suppressed": True})
                    out.append(row)
                    continue

                def shares(name, arr, k=k, n=n, ok=ok):
                    return {tn: (fnum(c / n) if o else None)
                            for tn, c, o in zip(self.tiers, arr[k], ok[name][k], strict=True)}

                guilt = self.guilt[i]
                mo, mf = self.mean_own[i][k], self.mean_final[i][k]
                dist = dist_ok(n, t, m)
                down, up = self.pulled_down[i][k], self.pulled_up[i][k]
                row.update({
                    "n": n,
                    "mean_own_score": fnum(mo, 1) if dist else None,
                    "mean_final_score": fnum(mf, 1) if dist else None,
                    "mean_shift": fnum(mf - mo, 1) if dist else None,
                    "shift_quantiles": quantile_map(self.shift_quantiles[i][k], 1) if dist else None,
                    "share_pulled_down": fnum(down / n) if ok["down"][k, 0] else None,
                    "share_pulled_up": fnum(up / n) if ok["up"][k, 0] else None,
                    "guilt_by_association": shares("guilt", guilt),
                    "guilt_by_association_count": {tn: (int(c) if o else None) for tn, c, o in
                                                   zip(self.tiers, guilt[k], ok["guilt"][k], strict=True)},
                    "lifted_by_association": shares("lifted", self.lifted[i]),
                    "own_attainment": shares("own", self.own_hits[i]),
                    "final_attainment": shares("final", self.final_hits[i]),
                    "suppressed": bool(not dist or not all(v[k].all() for v in ok.values())),
                })
                out.append(row)
        return out

    def _arrays(self, i: int) -> dict:
        return {"guilt": self.guilt[i], "lifted": self.lifted[i], "own": self.own_hits[i],
                "final": self.final_hits[i], "down": self.pulled_down[i], "up": self.pulled_up[i]}

    def _protected_oks(self) -> list[dict]:
        """Per grouping, the publishable cells of every count, after cell, identity and line suppression.

        Every share is a cell "k of n" of the group: published only when
        neither k nor n - k is small.  Then no count may follow from a group
        total minus its published sub-groups (:func:`protect_groupings`), nor
        from the identity ``final = own - guilt + lifted``; repeated until stable.
        """
        t = self.disclosure_threshold
        oks = []
        size_ok = sizes_published(self.groupings, t)
        for i in range(len(self.groupings)):
            counts = np.asarray(self.counts[i])
            ok = {name: cells_publishable(counts, arr, t) & size_ok[i][:, None]
                  for name, arr in self._arrays(i).items()}
            oks.append(ok)
        if not oks:
            return oks
        for _ in range(20):
            before = [{k: v.copy() for k, v in ok.items()} for ok in oks]
            for i in range(len(oks)):
                oks[i]["guilt"], oks[i]["lifted"] = _linked(oks[i]["own"], oks[i]["final"],
                                                            oks[i]["guilt"], oks[i]["lifted"])
            for name in oks[0]:
                arrs = [np.asarray(self._arrays(i)[name]).reshape(len(self.counts[i]), -1)
                        for i in range(len(oks))]
                tot = arrs[0].sum(axis=0) if self.groupings[0].n_groups else None
                new = protect_groupings(self.groupings, arrs, [ok[name] for ok in oks],
                                        total=tot, total_ok=True)
                for i in range(len(oks)):
                    oks[i][name] = new[i]
            if all(np.array_equal(a[k], b[k]) for a, b in zip(oks, before, strict=True) for k in a):
                break
        return oks

    def _overall(self, rows: list[dict]) -> dict:
        """Overall guilt / lifted by association, unless a grouping's hidden group counts would follow from them."""
        t = self.disclosure_threshold
        out = dict(self.overall)
        if self.overall_guilt is None:
            return out
        n = int(out.get("n") or 0)
        by_group = split_rows(rows, self.groupings)
        gsum, lsum = self.overall_guilt, self.overall_lifted
        shown = []
        for j, tn in enumerate(self.tiers):
            ok = cell_ok(gsum[j], n, t) and cell_ok(lsum[j], n, t) and n > 0
            for i, rs in enumerate(by_group):
                for arr, key in ((self.guilt[i], "guilt_by_association"), (self.lifted[i], "lifted_by_association")):
                    hidden = [(r.get(key) or {}).get(tn) is None for r in rs]
                    ok = ok and not total_reveals(arr[:, j], hidden, t)
            shown.append(ok)
        out.update({
            "guilt_by_association": {tn: fnum(c / n) if o else None
                                     for tn, c, o in zip(self.tiers, gsum, shown, strict=True)},
            "guilt_by_association_count": {tn: int(c) if o else None
                                           for tn, c, o in zip(self.tiers, gsum, shown, strict=True)},
            "lifted_by_association": {tn: fnum(c / n) if o else None
                                      for tn, c, o in zip(self.tiers, lsum, shown, strict=True)},
        })
        return out

    def to_dict(self) -> dict:
        if self.status != "ran":
            return {"status": self.status, "reason": self.reason, "groups": []}
        rows = self.groups()
        return {"status": "ran", "reason": None, "solver": dict(self.solver), "overall": self._overall(rows),
                "groups": rows}


def _linked(own_ok: np.ndarray, final_ok: np.ndarray, guilt_ok: np.ndarray,
            lifted_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Secondary suppression for the identity ``final = own - guilt + lifted`` (per group and tier).

    Any three of the four counts give the fourth, so a cell may not be the only
    one of the four that is hidden.  Own and final attainment are shared with
    other tables (amplification, round 0 of unfriending) and keep their
    primary suppression; the second hidden cell is ``lifted_by_association``,
    or ``guilt_by_association`` when ``lifted`` is the one hidden.
    """
    hidden = np.stack([~own_ok, ~final_ok, ~guilt_ok, ~lifted_ok])
    single = hidden.sum(axis=0) == 1
    return guilt_ok & ~(single & ~lifted_ok), lifted_ok & ~(single & lifted_ok)


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
        total = g.sums(stacked)
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
    gsum, lsum = guilt.sum(axis=0).astype(np.int64), lifted.sum(axis=0).astype(np.int64)
    overall = {
        "n": n,
        "mean_own_score": fnum(own.mean(), 1) if dist_ok(n, t, min_group_size) else None,
        "mean_final_score": fnum(final.mean(), 1) if dist_ok(n, t, min_group_size) else None,
        "mean_absolute_shift": fnum(np.abs(shift).mean(), 1) if dist_ok(n, t, min_group_size) else None,
    }
    return Spillover(
        tiers=tiers, groupings=prep.groupings, counts=tuple(res["counts"]), mean_own=tuple(res["mean_own"]),
        mean_final=tuple(res["mean_final"]), shift_quantiles=tuple(res["q"]), pulled_down=tuple(res["down"]),
        pulled_up=tuple(res["up"]), own_hits=tuple(res["own_h"]), final_hits=tuple(res["final_h"]),
        guilt=tuple(res["guilt"]), lifted=tuple(res["lifted"]), overall=overall, overall_guilt=gsum,
        overall_lifted=lsum, solver=prep.solver_info(),
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
        Means and shift quantiles are given only for groups at least this large.
    disclosure_threshold : int, default 10
        Groups below it are shown without numbers; a share ``k / n`` (and the
        count ``k``) is given only when neither ``k`` nor ``n - k`` is 1 to
        ``threshold - 1`` (:func:`audit.disclosure.cell_publishable`).

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
    min_group_size: int = DEFAULT_MIN_GROUP
    status: str = "ran"
    reason: str | None = None
    name: str = field(default="shock", init=False)

    def _band_rows(self, counts: np.ndarray, fell: np.ndarray, change: np.ndarray,
                   extra: tuple[np.ndarray, np.ndarray] | None = None,
                   masks: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[list[dict], np.ndarray, np.ndarray]:
        """Rows for the five bands and "all others" of one population (everyone, or one group).

        The bands partition a published total, and "all others" is the sum of
        bands 1, 2, 3+ and unreachable: a band's people, and the people who
        fell in a band, are cells of those totals.  Cells the disclosure rule
        suppresses are protected against subtraction from the totals too
        (:func:`~audit.contagion._common.protect_partition`).  ``extra``
        ((6,) and (6, T) masks over the five bands and "all others") hides
        further cells: overall figures that would give back a group's hidden one.
        Returns the rows and the masks of hidden band sizes (6,) and hidden
        "fell" counts (6, T).
        """
        t, m = self.disclosure_threshold, self.min_group_size
        counts = np.asarray(counts, dtype=np.int64)
        fell = np.asarray(fell, dtype=np.int64).reshape(len(BANDS), -1)
        T = fell.shape[1]
        if masks is not None:
            hn, hf = masks
            n_all, fell_all = int(counts[1:].sum()), fell[1:].sum(axis=0)
            rows = [self._band_row(b, int(counts[i]), fell[i], float(change[i]), bool(hn[i]), hf[i], m)
                    for i, b in enumerate(BANDS)]
            rows.append(self._band_row("all others", n_all, fell_all, float(np.sum(change[1:])), bool(hn[-1]),
                                       hf[-1], m))
            return rows, hn, hf
        extra_n, extra_f = (np.zeros(len(BANDS) + 1, dtype=bool), np.zeros((len(BANDS) + 1, T), dtype=bool)) \
            if extra is None else extra
        total = int(counts.sum())
        hide_n = ~np.asarray(cell_publishable(counts, total, t)) | extra_n[:-1]
        hide_n[0] |= extra_n[-1]            # "all others" = total - seeds: hidden exactly when the seeds are
        # The seeds are counted in the seed block too: keep their count if another band can be hidden instead.
        hide_n = protect_partition(counts, hide_n, t, fixed=np.arange(len(counts)) == 0)
        n_all = int(counts[1:].sum())
        hide_all = bool(hide_n[0])
        fell_all = fell[1:].sum(axis=0)
        hide_f = ~np.asarray(cell_publishable(fell, counts[:, None], t)).reshape(fell.shape) | hide_n[:, None] \
            | extra_f[:-1]
        hide_f_all = ~np.asarray(cell_publishable(fell_all, n_all, t)).reshape(-1) | hide_all | extra_f[-1]
        for j in range(T):
            if not hide_f_all[j]:
                hide_f[1:, j] = protect_partition(fell[1:, j], hide_f[1:, j], t)
        rows = [self._band_row(b, int(counts[i]), fell[i], float(change[i]), bool(hide_n[i]), hide_f[i], m)
                for i, b in enumerate(BANDS)]
        rows.append(self._band_row("all others", n_all, fell_all, float(np.sum(change[1:])), hide_all, hide_f_all,
                                   m))
        return rows, np.append(hide_n, hide_all), np.vstack([hide_f, hide_f_all[None, :]])

    def _band_row(self, hops: str, n: int, fell: np.ndarray, change: float, hide: bool, hide_fell: np.ndarray,
                  m: int) -> dict:
        t = self.disclosure_threshold
        if hide:
            return {"hops": hops, "n": None, "suppressed": True}
        if n == 0:
            return {"hops": hops, "n": 0, "suppressed": False}
        dist = dist_ok(n, t, m)
        return {
            "hops": hops, "n": n,
            "fell": {tn: (None if h else int(c)) for tn, c, h in zip(self.tiers, fell, hide_fell, strict=True)},
            "fell_share": {tn: (None if h else fnum(c / n))
                           for tn, c, h in zip(self.tiers, fell, hide_fell, strict=True)},
            "mean_score_change": fnum(change / n, 1) if dist else None,
            "suppressed": bool(hide_fell.any() or not dist),
        }

    def _initial_masks(self) -> tuple[tuple[np.ndarray, np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
        """Cell rule and band partitions: hidden band sizes (6,) / (G, 6) and "fell" counts (6, T) / (G, 6, T)."""
        t = self.disclosure_threshold
        T = len(self.tiers)
        masks = []
        size_ok = sizes_published(self.groupings, t)
        for i, g in enumerate(self.groupings):
            hn = np.ones((g.n_groups, len(BANDS) + 1), dtype=bool)
            hf = np.ones((g.n_groups, len(BANDS) + 1, T), dtype=bool)
            for k in range(g.n_groups):
                if not size_ok[i][k]:
                    continue
                c, f, ch = self.group_counts[i][k], self.group_fell[i][k], self.group_change[i][k]
                _, hn[k], hf[k] = self._band_rows(c, f, ch)
            masks.append((hn, hf))
        _, hn0, hf0 = self._band_rows(self.band_counts, self.band_fell, self.band_change)
        return (hn0, hf0), masks

    def _final_masks(self) -> tuple[tuple[np.ndarray, np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
        """The masks after secondary suppression across bands, groups and groupings.

        Every band size and "fell" count is a cell of a table with one
        coordinate per attribute and one for the band (seeds, or bands 1, 2,
        3+ and unreachable, whose total is "all others"); marginal cells (a
        single attribute's groups, everyone, a group's size, "all others")
        carry a wildcard.  :func:`audit.disclosure.protect_lines` then hides
        cells until no line (a total and its parts) has exactly one hidden
        count, so nothing follows by subtraction (the attack "group total
        minus its published sub-groups", or "group minus its other bands").
        """
        (hn0, hf0), masks = self._initial_masks()
        size_ok = sizes_published(self.groupings, self.disclosure_threshold)
        T = len(self.tiers)
        attrs: list[str] = []
        for g in self.groupings:
            attrs.extend(a for a in g.attributes if a not in attrs)
        any_ = "\x00*"
        gkeys = []
        for g in self.groupings:
            pos = {a: j for j, a in enumerate(g.attributes)}
            gkeys.append([tuple(v[pos[a]] if a in pos else any_ for a in attrs) for v in g.values])
        gkeys.append([tuple(any_ for _ in attrs)])
        # band coordinates of the six columns: seeds, 1, 2, 3+, unreachable, all others
        bkeys = [("S", any_), ("O", "1"), ("O", "2"), ("O", "3+"), ("O", "u"), ("O", any_)]
        counts = [self._with_all_others(np.asarray(c, dtype=np.int64)) for c in self.group_counts]
        counts.append(self._with_all_others(np.asarray(self.band_counts, dtype=np.int64)[None, :]))
        fell = [self._with_all_others(np.asarray(f, dtype=np.int64).reshape(len(c), len(BANDS), T))
                for f, c in zip(self.group_fell, self.group_counts, strict=True)]
        fell.append(self._with_all_others(np.asarray(self.band_fell, dtype=np.int64).reshape(1, len(BANDS), T)))
        hns = [m[0] for m in masks] + [hn0[None, :]]
        hfs = [m[1] for m in masks] + [hf0[None, :]]
        sizes = [np.asarray(g.counts, dtype=np.int64) for g in self.groupings] + [np.array([int(self.n)])]
        keys, cn, hid, where = [], [], [], []
        for i, ks in enumerate(gkeys):
            for k, gk in enumerate(ks):
                for b, bk in enumerate(bkeys):
                    keys.append(bk + gk)
                    cn.append(int(counts[i][k, b]))
                    hid.append(bool(hns[i][k, b]))
                    where.append((i, k, b))
                # the group's size (seeds + all others)
                keys.append((any_, any_) + gk)
                cn.append(int(sizes[i][k]))
                hid.append(bool(i < len(size_ok) and not size_ok[i][k]))
                where.append((i, k, -1))
        hid = protect_lines(keys, np.array(cn), np.array(hid))
        for (i, k, b), h in zip(where, hid, strict=True):
            if b >= 0:
                hns[i][k, b] = h
        for i in range(len(hns)):
            hns[i][:, -1] |= hns[i][:, 0]       # "all others" = size - seeds
            hns[i][:, 0] |= hns[i][:, -1]
        for j in range(T):
            fk, fc, fh, fw = [], [], [], []
            for i, ks in enumerate(gkeys):
                for k, gk in enumerate(ks):
                    for b, bk in enumerate(bkeys):
                        fk.append(bk + gk)
                        fc.append(int(fell[i][k, b, j]))
                        fh.append(bool(hfs[i][k, b, j] or hns[i][k, b]))
                        fw.append((i, k, b))
            fh = protect_lines(fk, np.array(fc), np.array(fh))
            for (i, k, b), h in zip(fw, fh, strict=True):
                if b >= 0:
                    hfs[i][k, b, j] = h
        out = [(hns[i], hfs[i]) for i in range(len(masks))]
        return (hns[-1][0], hfs[-1][0]), out

    def _groups_and_masks(self) -> tuple[list[dict], list[tuple[np.ndarray, np.ndarray]]]:
        """Rows by group, and per grouping the hidden band sizes (G, 6) and "fell" counts (G, 6, T)."""
        t = self.disclosure_threshold
        out = []
        _, masks = self._final_masks()
        size_ok = sizes_published(self.groupings, t)
        for i, g in enumerate(self.groupings):
            hn, hf = masks[i]
            for k in range(g.n_groups):
                base = group_id(g, k)
                if not size_ok[i][k]:
                    out.append({**base, "hops": "all", "n": None, "suppressed": True})
                    continue
                c, f, ch = self.group_counts[i][k], self.group_fell[i][k], self.group_change[i][k]
                rows, _, _ = self._band_rows(c, f, ch, masks=(hn[k], hf[k]))
                out.extend({**base, **row} for row in rows)
        return out, masks

    def _with_all_others(self, arr: np.ndarray) -> np.ndarray:
        """(G, 5, ...) per band -> (G, 6, ...) with "all others" (bands 1..4) appended."""
        return np.concatenate([arr, arr[:, 1:].sum(axis=1, keepdims=True)], axis=1)

    def by_distance(self, masks: list | None = None) -> list[dict]:
        """Rows by hop band, with the masks of :meth:`_final_masks` (no group's hidden figure follows)."""
        overall, _ = self._final_masks()
        return self._band_rows(self.band_counts, self.band_fell, self.band_change, masks=overall)[0]

    def by_group(self) -> list[dict]:
        return self._groups_and_masks()[0]

    def to_dict(self) -> dict:
        t = self.disclosure_threshold
        if self.status != "ran":
            return {"status": self.status, "reason": self.reason, "by_distance": [], "groups": []}
        groups, masks = self._groups_and_masks()
        by_distance = self.by_distance(masks)
        seeds_shown = by_distance[0]["n"] is not None     # the seed band hides its count when it must
        return {
            "status": "ran", "reason": None,
            "seeds": {**self.selection, "n_seeds": cell_cnt(self.n_seeds, self.n, t) if seeds_shown else None,
                      "share_of_population": share(self.n_seeds, self.n, t) if seeds_shown else None},
            "deduction": fnum(self.deduction),
            "solver": dict(self.solver),
            "by_distance": by_distance,
            "groups": groups,
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
           disclosure_threshold: int, min_group_size: int = DEFAULT_MIN_GROUP) -> Shock:
    t = int(disclosure_threshold)
    tiers = tuple(tr.name for tr in prep.rule.tiers)
    if not prep.has_network:
        return Shock(tiers=tiers, status="not run", reason=NO_NETWORK, disclosure_threshold=t,
                     min_group_size=int(min_group_size))
    deduction = float(deduction)
    if not np.isfinite(deduction) or deduction <= 0:
        raise AuditInputError(f"shock deduction must be a positive number of points, got {deduction}")
    n = prep.n
    mask, desc = resolve_seeds(people, n, seeds, fraction, rng_for(seed, "shock"))
    if not mask.any():
        return Shock(tiers=tiers, selection=desc, status="not run",
                     reason="the seed set is empty (the expression matched nobody)", disclosure_threshold=t,
                     min_group_size=int(min_group_size))
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
                 solver=prep.solver_info(sol), disclosure_threshold=t, min_group_size=int(min_group_size))


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
    min_group_size: int = DEFAULT_MIN_GROUP,
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
    min_group_size : int, default 30
        Mean score changes are given only for bands of at least this many people.
    disclosure_threshold : int, default 10
        Cells (people in a band of a group; people who fell, of a band) where
        either the count or its complement is 1 to ``threshold - 1`` are
        suppressed, and so is any other cell that would give one back by
        subtraction from a published total.

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
    >>> d["by_distance"][2]["mean_score_change"] < 0
    True
    >>> d["by_distance"][1]["n"] is None  # hidden: with the one person at 3+ hops, it would give that count back
    True
    """
    prep = prepare(rule, people, graph, groupings, tolerance=tolerance, method=method)
    return _shock(prep, people, seeds=seeds, fraction=fraction, deduction=deduction, seed=seed,
                  disclosure_threshold=disclosure_threshold, min_group_size=min_group_size)
