"""Score distributions by group from one sort: sorted scores, (group, score) pairs, moments and quantiles.

No pandas here.  Every statistic is computed from integer group codes (see
:class:`audit.groups.Grouping`) with one pass of ``np.bincount`` or from the
*pairs* table — the distinct (group, score) combinations with their counts,
built from a single sort of the scores — so the cost is O(n log n) for the
sort and O(n) per grouping afterwards, never a loop over people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Pairs", "SortedScores", "distribution_stats", "QUANTILES"]

# Dense (group x distinct score) tables are used below this many cells;
# above it the pairs come from a radix sort of the group codes instead.
_DENSE_CELLS = 4_000_000


@dataclass(frozen=True)
class SortedScores:
    """The scores sorted once, shared by every grouping of an audit.

    ``values`` are the D distinct scores in ascending order, ``index[i]`` is the
    position of person ``i``'s score in ``values`` (``-1`` for a missing score),
    ``order`` lists the scored people by ascending score and ``population``
    counts the people at each distinct score.
    """

    values: np.ndarray
    index: np.ndarray
    order: np.ndarray
    population: np.ndarray

    @classmethod
    def build(cls, scores: np.ndarray) -> SortedScores:
        scores = np.asarray(scores, dtype=float)
        scored = np.flatnonzero(~np.isnan(scores))
        s = scores[scored]
        o = np.argsort(s)  # ties are equal values, so an unstable sort is still deterministic
        ss = s[o]
        new = np.empty(len(ss), dtype=bool)
        new[:1] = True
        new[1:] = ss[1:] != ss[:-1]
        rank = np.cumsum(new) - 1
        index = np.full(len(scores), -1, dtype=np.int64)
        index[scored[o]] = rank
        at = np.flatnonzero(new)
        return cls(values=ss[new], index=index, order=scored[o], population=np.diff(np.append(at, len(ss))))

    @property
    def n_distinct(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Pairs:
    """Distinct (group, score) combinations of one grouping, sorted by group then score.

    ``group[k]``, ``score_index[k]`` and ``count[k]`` describe pair ``k``;
    ``start[g]:start[g + 1]`` are group ``g``'s pairs.  Every per-group score
    statistic (moments, quantiles, KS, AUC, the threshold curve) is a segmented
    operation on these arrays, whose length is at most min(n, G * D).
    """

    group: np.ndarray
    score_index: np.ndarray
    count: np.ndarray
    start: np.ndarray
    n_groups: int
    n_distinct: int

    @classmethod
    def build(cls, codes: np.ndarray, ss: SortedScores, n_groups: int) -> Pairs:
        D = ss.n_distinct
        dv = ss.index
        if n_groups * D <= _DENSE_CELLS:
            m = (codes >= 0) & (dv >= 0)
            cnt = np.bincount(codes[m] * D + dv[m], minlength=n_groups * D)
            flat = np.flatnonzero(cnt)
            g, d, c = flat // D, flat % D, cnt[flat]
        else:
            cs = codes[ss.order]
            keep = cs >= 0
            o = ss.order[keep]
            cs = cs[keep]
            # Stable sort by group of people already in score order gives (group, score)
            # order; numpy uses a radix sort for 16-bit keys, so this is O(n).
            key = cs.astype(np.int16) if n_groups < 2**15 else cs
            s = np.argsort(key, kind="stable")
            gs, ds = cs[s], dv[o[s]]
            new = np.empty(len(gs), dtype=bool)
            new[:1] = True
            new[1:] = (gs[1:] != gs[:-1]) | (ds[1:] != ds[:-1])
            at = np.flatnonzero(new)
            g, d = gs[at], ds[at]
            c = np.diff(np.append(at, len(gs)))
        start = np.searchsorted(g, np.arange(n_groups + 1))
        return cls(group=g.astype(np.int64), score_index=d.astype(np.int64), count=c.astype(np.int64),
                   start=start, n_groups=n_groups, n_distinct=D)

    def before(self) -> np.ndarray:
        """For each pair, how many of its group have a strictly lower score."""
        cum = np.cumsum(self.count) - self.count
        return cum - cum[self.start[self.group]]

    def per_score(self, code: int) -> np.ndarray:
        """Group ``code``'s count at each distinct score, shape (D,)."""
        out = np.zeros(self.n_distinct, dtype=np.int64)
        sl = slice(self.start[code], self.start[code + 1])
        out[self.score_index[sl]] = self.count[sl]
        return out


QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def distribution_stats(pairs: Pairs, values: np.ndarray, ref: int, higher_is_better: bool,
                       quantiles=QUANTILES) -> dict[str, np.ndarray]:
    """Score distribution of every group and its comparison with group ``ref``.

    Returns arrays of shape (G,): ``n``, ``mean``, ``sd`` and ``quantiles`` (G, Q),
    and against the reference group: ``smd`` (standardised mean difference,
    pooled SD), ``ks`` (Kolmogorov-Smirnov distance) and ``auc`` (probability
    that a random member of the group has a more favourable score than a random
    member of the reference group, ties counting one half).  ``smd`` and ``auc``
    are oriented so that positive / above 0.5 means better off than the reference.
    """
    G = pairs.n_groups
    d, c = pairs.score_index, pairs.count
    npairs = np.diff(pairs.start)
    nonempty = np.flatnonzero(npairs > 0)
    seg = pairs.start[nonempty]

    def seg_reduce(ufunc, a, fill=0.0):
        # Groups are contiguous runs of pairs: reduceat, with no scatter.
        out = np.full(G, fill, dtype=np.result_type(a, type(fill)))
        if len(seg):
            out[nonempty] = ufunc.reduceat(a, seg)
        return out

    x = values[d]
    n = seg_reduce(np.add, c, 0)
    nf = n.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        # Sums run over pairs in (group, score) order: the same input in any row
        # order gives bit-identical results.
        mean = seg_reduce(np.add, c * x) / nf
        dev = x - np.repeat(mean[nonempty], npairs[nonempty])
        ss = seg_reduce(np.add, c * dev * dev)
        sd = np.sqrt(ss / (nf - 1))

    # Quantiles (numpy's default "linear" method) from positions in the
    # (group, score)-sorted sequence.
    cum = np.cumsum(c)
    offset = np.concatenate([[0], np.cumsum(n)[:-1]])
    q = np.asarray(quantiles, dtype=float)
    # numpy's virtual index for method="linear", term for term: n*q + (1 - q) - 1.
    h = nf[:, None] * q[None, :] + (1.0 - q[None, :]) - 1.0
    lo = np.floor(h)
    frac = h - lo
    pos_lo = offset[:, None] + lo.astype(np.int64)
    pos_hi = offset[:, None] + np.minimum(lo.astype(np.int64) + 1, np.maximum(n[:, None] - 1, 0))
    qv = np.full((G, len(q)), np.nan)
    ok = n > 0
    if ok.any() and len(cum):
        a = values[d[np.searchsorted(cum, pos_lo[ok], side="right")]]
        b = values[d[np.searchsorted(cum, pos_hi[ok], side="right")]]
        fr = frac[ok]
        # numpy's _lerp: a + (b - a) t, computed from the nearer end for t >= 0.5.
        diff = b - a
        qv[ok] = np.where(fr >= 0.5, b - diff * (1 - fr), a + diff * fr)

    smd = np.full(G, np.nan)
    ks = np.full(G, np.nan)
    auc = np.full(G, np.nan)
    if ref >= 0 and n[ref] > 0:
        nr = int(n[ref])
        rc = pairs.per_score(ref)
        rcum = np.cumsum(rc)  # reference members with score <= value d
        at = rcum[d]
        less = at - rc[d]
        # Mann-Whitney U of each group against the reference, from the pairs:
        # a member wins against the reference members with a worse score, ties half.
        wins2 = 2 * less + (at - less) if higher_is_better else 2 * (nr - at) + (at - less)
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = seg_reduce(np.add, c * wins2, 0) / (2 * nf * nr)
            pooled = np.sqrt((ss + ss[ref]) / (nf + nr - 2))
            smd = (mean - mean[ref]) / pooled
        if not higher_is_better:
            smd = -smd
        # KS: F_g - F_ref is largest just before or at a jump of F_g (between
        # jumps F_g is flat and F_ref monotone), so two candidates per pair, in
        # integers (scaled by n_g * n_ref) and divided once per group.
        before = (cum - c) - np.repeat(offset[nonempty], npairs[nonempty])
        ngp = np.repeat(n[nonempty], npairs[nonempty])
        best = np.maximum(np.abs(before * nr - less * ngp), np.abs((before + c) * nr - at * ngp))
        with np.errstate(invalid="ignore", divide="ignore"):
            ks = seg_reduce(np.maximum, best, 0) / (nf * nr)
        ks[n == 0] = np.nan
    return {"n": n, "mean": mean, "sd": sd, "quantiles": qv, "smd": smd, "ks": ks, "auc": auc}
