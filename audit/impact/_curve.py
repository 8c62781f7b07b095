"""The impact ratio at every distinct threshold of the score, from one sort.

For a cut at score >= t (``score <= t`` for risk scores, where lower is better)
each group's favourable count is a suffix sum of its counts at the distinct
scores.  The most favoured group's rate at t — the *envelope* — is a reverse
running maximum over the (group, score) pairs, and a group with rate r is below
four-fifths exactly where the envelope exceeds r / 0.8, which, the envelope
being monotone, is a prefix found by binary search.  So the threshold ranges
where a group falls below four-fifths cost O(n log n) time and O(n + D) memory,
whatever the number of groups G and distinct scores D; the (D x G) curve
itself is materialised only when it is small.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from audit.disclosure import cell_publishable
from audit.impact._core import Pairs

__all__ = ["ThresholdCurve", "threshold_curve"]

#: The full (distinct score x group) curve is kept only up to this many cells.
MAX_FULL_CELLS = 20_000_000
#: Points per group in the plotting grid.
GRID_POINTS = 200


def _below_for(threshold: float):
    """An exact test of (num_g / n_g) / (num_ref / n_ref) < ``threshold``, in integers.

    The threshold is taken as the nearest fraction p/q with q <= 1000 (0.8 is
    exactly 4/5), so that a ratio of exactly 4/5 is never "below".
    """
    frac = Fraction(float(threshold)).limit_denominator(1000)
    p, q = frac.numerator, frac.denominator

    def below(num_g, n_g, num_ref, n_ref):
        return q * num_g * n_ref < p * num_ref * n_g

    return below


@dataclass(frozen=True, eq=False)
class ThresholdCurve:
    """The impact ratio of every group at every distinct threshold, for one grouping.

    A threshold ``t`` is one of the distinct observed scores; the favourable
    outcome at ``t`` is ``score >= t`` (``score <= t`` when lower scores are
    better).  A cut between two observed scores selects the same people as the
    next observed score above it (below it, for lower-is-better), so the
    observed scores are every threshold there is.  The most favoured group at
    ``t`` is the one with the highest rate among the *eligible* groups (at least
    ``min_group_size`` people; all groups if none is that large).

    Attributes
    ----------
    attributes : tuple of str
    thresholds : ndarray, shape (D,)
        Distinct scores, ascending.
    higher_is_better : bool
    counts : ndarray, shape (G,)
    eligible : ndarray of bool, shape (G,)
    hits, rates, ratios : ndarray, shape (D, G)
        The full curve, built on first access when D * G <= :data:`MAX_FULL_CELLS`.
    most_favoured_hits, most_favoured_n : ndarray, shape (D,)
        Favourable count and size of the most favoured group at each threshold
        (built with the full curve).
    grid_most_favoured_hits, grid_most_favoured_n : ndarray, shape (J,)
        The same at the plotting grid.
    ranges : list of dict
        Maximal runs of thresholds ``{"from": t_lo, "to": t_hi, "groups": [codes]}``
        where at least one eligible group's ratio is below 0.8 (``groups``: those
        below somewhere in the run).
    group_ranges : dict
        code -> list of ``(t_lo, t_hi)`` runs where that eligible group is below 0.8.
    grid : ndarray
        Indices into ``thresholds`` of at most 200 thresholds spread over the
        population, for plotting; ``grid_hits`` (G, J) are the favourable counts there.

    ``ranges`` and ``group_ranges`` are exact and unsuppressed (analysis
    objects); :meth:`published_ranges` and :meth:`grid_population` give what
    the disclosure rule lets a report show.
    """

    attributes: tuple[str, ...]
    thresholds: np.ndarray
    higher_is_better: bool
    counts: np.ndarray
    eligible: np.ndarray
    grid_most_favoured_hits: np.ndarray
    grid_most_favoured_n: np.ndarray
    ranges: list
    group_ranges: dict
    grid: np.ndarray
    grid_hits: np.ndarray
    _state: dict = field(default_factory=dict, repr=False)

    def _require_full(self) -> np.ndarray:
        # Built on first use: most callers only need the ranges and the grid.
        if "full" not in self._state:
            st = self._state
            D, G = len(self.thresholds), len(self.counts)
            if D * G > MAX_FULL_CELLS:
                raise ValueError(
                    f"the full curve has {D} x {G} cells, more than {MAX_FULL_CELLS}; use the plotting "
                    "grid (grid, grid_hits) or the ranges instead")
            full = np.zeros((D, G), dtype=np.int64)
            if len(st.get("oo", ())):
                dense = np.bincount(st["oo"] * G + st["og"], weights=st["oc"], minlength=D * G).reshape(D, G)
                full = np.cumsum(dense[::-1], axis=0)[::-1].astype(np.int64)
            num, den = st["num_den"](np.arange(D)) if len(st.get("oo", ())) else (
                np.zeros(D, dtype=np.int64), np.ones(D, dtype=np.int64))
            if not self.higher_is_better:
                full, num, den = full[::-1], num[::-1], den[::-1]
            st["full"], st["num"], st["den"] = full, num, den
        return self._state["full"]

    def _oriented_population(self) -> tuple[np.ndarray, int]:
        """People on the unfavourable side of each oriented threshold index, and the total."""
        cpop = self._state["cpop"]
        total = int(cpop[-1]) if len(cpop) else 0
        return np.concatenate([[0], cpop[:-1]]).astype(np.int64), total

    def grid_population(self) -> tuple[np.ndarray, np.ndarray]:
        """People of the whole population on the favourable and unfavourable side of each grid threshold."""
        unfav, total = self._oriented_population()
        D = len(self.thresholds)
        o = self.grid if self.higher_is_better else D - 1 - self.grid
        u = unfav[o] if len(o) else np.zeros(0, dtype=np.int64)
        return total - u, u

    def published_ranges(self, disclosure_threshold: int) -> tuple[list, dict]:
        """``ranges`` and ``group_ranges`` restricted to the thresholds a report may name.

        A threshold t can be named for group g when, at t, g's cell (people
        on the favourable side out of g) and the most favoured group's cell are
        both publishable by :func:`audit.disclosure.cell_publishable`, and at
        least ``disclosure_threshold`` people of the whole population lie on
        each side of t.  Each run below four-fifths is cut down to its maximal
        sub-runs of such thresholds, so every endpoint (and every threshold
        inside a published run) satisfies the rule; the population's lowest and
        highest scores never do unless that many people share them.
        """
        thr = int(disclosure_threshold)
        st = self._state
        rg, rlo, rhi = st["runs"]
        D = len(self.thresholds)
        if len(rg) == 0:
            return [], {}
        # P(t): the population condition and the most favoured group's cell (oriented index).
        unfav, total = self._oriented_population()
        t = np.arange(D)
        num, den = st["num_den"](t)
        P = (unfav >= thr) & (total - unfav >= thr) & cell_publishable(num, den, thr)
        edge = np.diff(np.concatenate([[0], P.astype(np.int8), [0]]))
        ps, pe = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1) - 1
        # C_g(t): group g's own cell.  Its favourable count S_g(t) falls from n_g to 0
        # as t rises, so the cell is publishable on at most three intervals: S = n_g
        # (t <= o_(1)), thr <= S <= n_g - thr (o_(thr) < t <= o_(n_g - thr + 1)) and
        # S = 0 (t > o_(n_g)), o_(k) being the group's k-th lowest oriented score.
        og, oo, oc = st["og"], st["oo"], st["oc"]
        incl = np.cumsum(oc)
        starts = st["starts"]
        row = np.full(len(self.counts), -1, dtype=np.int64)
        row[og[starts]] = np.arange(len(starts))
        r = row[rg]
        base = incl[starts[r]] - oc[starts[r]]
        n = self.counts[rg]

        def order_stat(k):
            k = np.clip(k, 1, np.maximum(n, 1))
            return oo[np.minimum(np.searchsorted(incl, base + k, side="left"), len(oo) - 1)]

        if thr <= 1:
            c_lo = np.zeros((len(rg), 1), dtype=np.int64)
            c_hi = np.full((len(rg), 1), D - 1, dtype=np.int64)
        else:
            o1, on = order_stat(np.ones_like(n)), order_stat(n)
            a2, b2 = order_stat(np.full_like(n, thr)) + 1, order_stat(n - thr + 1)
            c_lo = np.stack([np.zeros_like(o1), a2, on + 1], axis=1)
            c_hi = np.stack([o1, np.where(n >= 2 * thr, b2, -1), np.full_like(on, D - 1)], axis=1)
            small = (n > 0) & (n < thr)
            c_hi[small] = -1
        a = np.maximum(rlo[:, None], c_lo).ravel()
        b = np.minimum(rhi[:, None], c_hi).ravel()
        g = np.repeat(rg, c_lo.shape[1])
        keep = a <= b
        a, b, g = a[keep], b[keep], g[keep]
        # Intersect each piece with the runs of P.
        j0 = np.searchsorted(pe, a, side="left")
        j1 = np.searchsorted(ps, b, side="right") - 1
        cnt = np.maximum(j1 - j0 + 1, 0)
        rep = np.repeat(np.arange(len(a)), cnt)
        j = np.repeat(j0, cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        lo_ = np.maximum(a[rep], ps[j]) if len(rep) else np.zeros(0, dtype=np.int64)
        hi_ = np.minimum(b[rep], pe[j]) if len(rep) else np.zeros(0, dtype=np.int64)
        g = g[rep]
        order = np.lexsort((lo_, g))
        g, lo_, hi_ = _merge(g[order], lo_[order], hi_[order])
        return _runs_to_ranges(g, lo_, hi_, self.thresholds, self.higher_is_better)

    @property
    def most_favoured_hits(self) -> np.ndarray:
        """Favourable count of the most favoured group at each threshold, shape (D,)."""
        self._require_full()
        return self._state["num"]

    @property
    def most_favoured_n(self) -> np.ndarray:
        """Size of the most favoured group at each threshold, shape (D,)."""
        self._require_full()
        return self._state["den"]

    @property
    def hits(self) -> np.ndarray:
        """Favourable count of every group at every threshold, shape (D, G)."""
        return self._require_full()

    @property
    def rates(self) -> np.ndarray:
        """Favourable rate of every group at every threshold, shape (D, G)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._require_full() / self.counts[None, :]

    @property
    def ratios(self) -> np.ndarray:
        """Impact ratio against the most favoured group at every threshold, shape (D, G)."""
        h = self._require_full()
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (h * self.most_favoured_n[:, None].astype(float)) / (
                self.most_favoured_hits[:, None] * self.counts[None, :].astype(float))
        return np.where(self.most_favoured_hits[:, None] > 0, out, np.nan)


def _merge(group: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Merge touching runs, per group; runs are sorted by (group, lo) and disjoint within a group."""
    if len(lo) == 0:
        return group, lo, hi
    new = np.empty(len(lo), dtype=bool)
    new[0] = True
    new[1:] = (group[1:] != group[:-1]) | (lo[1:] > hi[:-1] + 1)
    at = np.flatnonzero(new)
    return group[at], lo[at], np.maximum.reduceat(hi, at)


def _runs_to_ranges(rg: np.ndarray, rlo: np.ndarray, rhi: np.ndarray, thresholds: np.ndarray,
                    higher_is_better: bool) -> tuple[list, dict]:
    """Per-group runs (oriented threshold indices, merged) -> (union ranges, group ranges) in scores."""
    D = len(thresholds)

    def to_scores(lo_o, hi_o):
        if higher_is_better:
            return thresholds[lo_o], thresholds[hi_o]
        return thresholds[D - 1 - hi_o], thresholds[D - 1 - lo_o]

    group_ranges: dict[int, list] = {}
    slo, shi = to_scores(rlo, rhi)
    for code, a, b in zip(rg.tolist(), slo.tolist(), shi.tolist(), strict=True):  # runs, not people
        group_ranges.setdefault(code, []).append((a, b))
    for code in group_ranges:
        group_ranges[code].sort()
    # Union over groups: sort runs by start, merge overlapping or adjacent ones.
    ranges = []
    if len(rlo):
        o2 = np.lexsort((rg, rlo))
        ulo, uhi, ug = rlo[o2], rhi[o2], rg[o2]
        run_hi = np.maximum.accumulate(uhi)
        new = np.empty(len(ulo), dtype=bool)
        new[0] = True
        new[1:] = ulo[1:] > run_hi[:-1] + 1
        ids = np.cumsum(new) - 1
        at = np.flatnonzero(new)
        mlo, mhi = ulo[at], np.maximum.reduceat(uhi, at)
        a_s, b_s = to_scores(mlo, mhi)
        members: list[set] = [set() for _ in at]
        for i, code in zip(ids.tolist(), ug.tolist(), strict=True):
            members[i].add(code)
        ranges = [{"from": float(a), "to": float(b), "groups": sorted(m)}
                  for a, b, m in zip(a_s.tolist(), b_s.tolist(), members, strict=True)]
        ranges.sort(key=lambda r: (r["from"], r["to"]))
    return ranges, group_ranges


def threshold_curve(pairs: Pairs, thresholds: np.ndarray, attributes: tuple[str, ...], *,
                    higher_is_better: bool = True, min_group_size: int = 30,
                    grid_points: int = GRID_POINTS, population: np.ndarray | None = None,
                    threshold: float = 0.8) -> ThresholdCurve:
    """Build the :class:`ThresholdCurve` of one grouping from its (group, score) pairs.

    Parameters
    ----------
    pairs : Pairs
        The grouping's distinct (group, score) combinations (``Pairs.build``).
    thresholds : ndarray
        The distinct scores, ascending (``SortedScores.values``).
    attributes : tuple of str
    higher_is_better : bool, default True
    min_group_size : int, default 30
    threshold : float, default 0.8
        The screening line: ranges are where a group's ratio is below it.
    grid_points : int, default 200
    population : ndarray, optional
        People per distinct score of the whole population: places the plotting
        grid and decides which thresholds may be published (default: the
        grouping's own people).

    Returns
    -------
    ThresholdCurve

    Examples
    --------
    >>> import numpy as np
    >>> from audit.impact._core import Pairs, SortedScores
    >>> scores = np.array([1, 2, 3, 4, 1, 1, 2, 3], dtype=float)
    >>> codes = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> ss = SortedScores.build(scores)
    >>> cv = threshold_curve(Pairs.build(codes, ss, 2), ss.values, ("g",), min_group_size=1)
    >>> cv.ratios[:, 1].round(3).tolist()
    [1.0, 0.667, 0.5, 0.0]
    >>> cv.ranges
    [{'from': 2.0, 'to': 4.0, 'groups': [1]}]
    """
    below = _below_for(threshold)
    inv = 1.0 / float(threshold)
    D, G = pairs.n_distinct, pairs.n_groups
    g, d, c = pairs.group, pairs.score_index, pairs.count
    counts = np.bincount(g, weights=c, minlength=G).astype(np.int64)
    eligible = counts >= min_group_size
    if not eligible.any():
        eligible = counts > 0

    # Orient so that the favourable outcome at threshold index t is always o >= t.
    if higher_is_better:
        og, oo, oc = g, d, c
    else:
        # Reversing the pairs keeps each group contiguous with o ascending inside.
        og, oo, oc = g[::-1], (D - 1 - d)[::-1], c[::-1]
    P = len(oo)
    if P == 0:
        empty = np.zeros(0, dtype=np.int64)
        return ThresholdCurve(tuple(attributes), thresholds, higher_is_better, counts, eligible,
                              empty, empty, [], {}, empty, np.zeros((G, 0), dtype=np.int64),
                              _state={"runs": (empty, empty, empty), "cpop": empty})
    first = np.empty(P, dtype=bool)
    first[:1] = True
    first[1:] = og[1:] != og[:-1]
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], P) - 1
    grp = og[starts]
    ng = counts[og]
    # Members at or above each pair's score: group size minus those strictly below.
    incl = np.cumsum(oc)
    S = ng - (incl - oc) + np.repeat(incl[starts] - oc[starts], np.diff(np.append(starts, P)))
    prev_o = np.empty(P, dtype=np.int64)
    prev_o[0] = -1
    prev_o[1:] = oo[:-1]
    prev_o[starts] = -1
    v = S / ng

    # Envelope M(t): best eligible rate among pairs at each o, then a reverse running max.
    all_el = bool(eligible.all())
    el = None if all_el else eligible[og]
    A = np.full(D, -1.0)
    if all_el:
        np.maximum.at(A, oo, v)
        hit = v == A[oo]
    else:
        np.maximum.at(A, oo[el], v[el])
        hit = el & (v == A[oo])
    best = np.full(D, -1, dtype=np.int64)
    best[oo[hit]] = np.flatnonzero(hit)  # a pair holding the maximum at o (ties: equal rationals)
    Ar = A[::-1]
    cm = np.maximum.accumulate(Ar)
    src = np.maximum.accumulate(np.where(Ar == cm, np.arange(D), -1))
    env_pair = best[(D - 1 - src)[::-1]]  # the pair giving M(t), -1 where M(t) = 0
    M = np.maximum(cm[::-1], 0.0)
    negM = -M

    def num_den(t):
        bp = env_pair[t]
        has = bp >= 0
        bp = np.where(has, bp, 0)
        return np.where(has, S[bp], 0), np.where(has, ng[bp], 1)

    # Each pair's step covers thresholds (prev_o, o] at rate S/n; the tail above a
    # group's best score, (o_last, D-1], has rate 0.  Below four-fifths where
    # M(t) > S / (0.8 n): since M falls as t rises, a prefix of the step, empty
    # unless the step is below at its first threshold.  A float screen with slack
    # picks the candidates; the decision itself is made in integers.
    def candidates(gg, lo, hi, SS, nn):
        cand = M[lo] > (inv * SS / nn) * (1 - 1e-9)
        if not all_el:
            cand &= eligible[gg]
        i = np.flatnonzero(cand)
        i = i[below(SS[i], nn[i], *num_den(lo[i]))]
        return gg[i], lo[i], hi[i], SS[i], nn[i]

    tails = ends[oo[ends] < D - 1]
    parts = [candidates(og, prev_o + 1, oo, S, ng),
             candidates(og[tails], oo[tails] + 1, np.full(len(tails), D - 1), np.zeros(len(tails), np.int64),
                        ng[tails])]
    cg, clo, chi, cS, cn = (np.concatenate([p[k] for p in parts]) for k in range(5))
    # B = first threshold where the group is no longer below (exactly).
    B = np.searchsorted(negM, -(inv * cS / cn), side="left")
    B = np.maximum(B, clo + 1)
    # Check the boundary exactly: below at B - 1, not below at B.
    bad = ~below(cS, cn, *num_den(B - 1))
    nb, db = num_den(np.minimum(B, D - 1))
    bad |= (B < D) & below(cS, cn, nb, db)
    if bad.any():
        # Float rounding misplaced the boundary (only possible for huge groups):
        # exact bisection on the monotone predicate for those few.
        i = np.flatnonzero(bad)
        lo_, hi_ = clo[i].copy(), np.full(len(i), D)  # below at lo_, unknown up to hi_
        while np.any(hi_ - lo_ > 1):
            mid = (lo_ + hi_) // 2
            yes = below(cS[i], cn[i], *num_den(np.minimum(mid, D - 1))) & (mid < D)
            lo_ = np.where(yes, mid, lo_)
            hi_ = np.where(yes, hi_, mid)
        B[i] = hi_
    b_hi = np.minimum(chi, B - 1)
    # Steps in (group, lo) order: pairs are, tails go after their group.
    order = np.lexsort((clo, cg))
    rg, rlo, rhi = _merge(cg[order], clo[order], b_hi[order])

    ranges, group_ranges = _runs_to_ranges(rg, rlo, rhi, thresholds, higher_is_better)

    # Plotting grid: thresholds at evenly spaced population quantiles.
    if population is None:
        population = np.bincount(d, weights=c, minlength=D)
    pop = population if higher_is_better else population[::-1]
    if D <= grid_points:
        grid_o = np.arange(D)
    else:
        cpop = np.cumsum(pop)
        targets = (np.arange(grid_points) + 0.5) / grid_points * cpop[-1]
        # Quantile positions only: the lowest and highest observed scores are single
        # people's scores and are not published as plot points.
        grid_o = np.unique(np.minimum(np.searchsorted(cpop, targets), D - 1))
    J = len(grid_o)
    # Favourable count of group g at grid threshold t: S of g's first pair with o >= t
    # (0 if none) -- G * J binary searches on the (group, o)-sorted pairs.
    # Groups run ascending (descending after the reversal for lower-is-better).
    gk = og if higher_is_better else G - 1 - og
    pkey = gk * D + oo
    q = (gk[starts][:, None] * D + grid_o[None, :]).ravel()
    at = np.searchsorted(pkey, q, side="left")
    inside = at < P
    at = np.minimum(at, P - 1)
    same = inside & (og[at] == np.repeat(grp, J))
    grid_hits = np.zeros((G, J), dtype=np.int64)
    grid_hits[grp] = np.where(same, S[at], 0).reshape(len(grp), J)
    gnum, gden = num_den(grid_o)
    grid_d = grid_o
    if not higher_is_better:
        # Back to ascending-score order.
        grid_d, grid_hits, gnum, gden = (D - 1 - grid_o)[::-1], grid_hits[:, ::-1], gnum[::-1], gden[::-1]
    return ThresholdCurve(
        attributes=tuple(attributes), thresholds=thresholds, higher_is_better=higher_is_better,
        counts=counts, eligible=eligible, grid_most_favoured_hits=gnum, grid_most_favoured_n=gden, ranges=ranges,
        group_ranges=group_ranges,
        grid=grid_d, grid_hits=grid_hits,
        _state={"og": og, "oo": oo, "oc": oc, "num_den": num_den, "runs": (rg, rlo, rhi), "starts": starts,
                "cpop": np.cumsum(pop).astype(np.int64)},
    )
