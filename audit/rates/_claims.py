"""The evidence behind a verdict: is a group below the best group, and below the screening line?

The claim a report makes about a group g and a tier is about the *truly* most
favoured group b, which is unknown: the group with the highest *observed*
rate is partly lucky (the winner's curse), so a test against it as if it had
been chosen in advance lists a group at a true ratio of exactly 0.8 in most
audits of many groups.  Both claims here are valid whichever group is truly
best:

* **below the line** ("pushed out"): H0 is p_g >= t * p_b for the best group b.
  Since p_b >= p_j for every comparator j, H0 holds only if p_g >= t * p_j for
  every j, so H0 is the intersection of the K hypotheses "p_g / p_j >= t" over
  the K comparators (every other group of at least the minimum size).  A
  union-intersection test rejects it when any of them is rejected at level
  alpha / K (Bonferroni): the selection-adjusted p-value is
  ``min(1, K * min_j p_j)``, with ``p_j`` the one-sided Miettinen-Nurminen
  score test of ``p_g / p_j >= t``.  Inverting the same tests gives the
  *selection-valid upper bound* of the ratio to the best group:
  ``min_j U_j``, where ``U_j`` is the one-sided upper bound of ``p_g / p_j`` at
  level alpha / K; it is below t exactly when the p-value is below alpha.
* **below parity**: the same construction with t = 1.

Both p-values are later adjusted by Benjamini-Hochberg over every candidate of
the audit (the caller's job: it sees every grouping).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit.rates._counts import most_favoured
from audit.rates._intervals import ratio_score_interval, ratio_score_test, ratio_upper_bound

__all__ = ["Claims", "assess_claims"]


@dataclass(frozen=True, eq=False)
class Claims:
    """The verdict statistics of every group and audited tier of one grouping (arrays of shape (G, A)).

    Attributes
    ----------
    most_favoured : ndarray of int, shape (A,)
        The group with the highest observed rate among eligible groups (-1: none).
    ratio, ci_low, ci_high : ndarray
        Ratio to the most favoured group and its two-sided score interval
        (that group treated as fixed: descriptive).
    upper : ndarray
        Selection-valid one-sided upper bound of the ratio to the truly best group.
    p_threshold, p_parity : ndarray
        Selection-adjusted one-sided p-values for "below the line" and "below parity".
    candidates : ndarray of int, shape (G,)
        K, the number of comparators of each group (0: not a candidate).
    candidate : ndarray of bool
        Whether the cell is in the verdict family (an eligible group, a defined test).
    """

    most_favoured: np.ndarray
    ratio: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    upper: np.ndarray
    p_threshold: np.ndarray
    p_parity: np.ndarray
    candidates: np.ndarray
    candidate: np.ndarray


def assess_claims(n, favourable, eligible, *, threshold: float = 0.8, alpha: float = 0.05,
                  min_group_size: int = 30, comparable=None, design_effect=None) -> Claims:
    """Selection-valid evidence of every group being below the best group and below ``threshold`` times it.

    Parameters
    ----------
    n : array_like of int, shape (G,)
        People per group.
    favourable : array_like of int, shape (G, A)
        People per group with the favourable outcome of each audited tier.
    eligible : array_like of bool, shape (G,)
        Groups that can be compared and be comparators (at least the minimum size).
    threshold : float, default 0.8
    alpha : float, default 0.05
        Level of each group's bound (before the audit-wide FDR adjustment) and of the interval.
    min_group_size : int
        Only used to pick the most favoured group for the descriptive ratio.
    comparable : array_like of bool, shape (G, A), optional
        Cells that may serve as comparators (default: every eligible group's).  A
        report compares only with groups whose counts it may publish; K still
        counts every eligible group, so the test stays valid whichever group is
        truly best (a union over a subset of the comparators at level alpha / K).
    design_effect : array_like of float, shape (A,), optional
        Variance inflation of each tier's rates (dependent outcomes, e.g. through a friends term): tests
        and intervals use effective counts, the counts divided by it (Kish).  Default 1.

    Examples
    --------
    >>> c = assess_claims([1000, 1000, 1000], [[500], [500], [300]], [True, True, True])
    >>> c.candidates.tolist(), round(float(c.ratio[2, 0]), 2)
    ([2, 2, 2], 0.6)
    >>> bool(c.upper[2, 0] < 0.8), bool(c.p_threshold[2, 0] < 0.05), bool(c.p_threshold[0, 0] > 0.5)
    (True, True, True)
    """
    n = np.asarray(n, dtype=np.int64)
    fav = np.asarray(favourable, dtype=np.int64)
    fav = fav.reshape((len(n), fav.shape[-1] if fav.ndim == 2 else (fav.size // max(len(n), 1))))
    el = np.asarray(eligible, dtype=bool) & (n > 0)
    G, A = fav.shape
    deff = np.ones(A) if design_effect is None else np.maximum(np.asarray(design_effect, dtype=float), 1.0)
    # Effective counts per (group, tier): the statistics below see a dependent sample as a smaller independent one.
    n_eff = n[:, None] / deff[None, :]
    f_eff = fav / deff[None, :]
    comp = np.broadcast_to(el[:, None], (G, A)) if comparable is None else (
        np.asarray(comparable, dtype=bool).reshape((G, A)) & el[:, None])
    # The most favoured group for the descriptive ratio: the best comparable group.
    mf = np.full(A, -1, dtype=np.int64)
    for a in range(A):
        ok = np.flatnonzero(comp[:, a])
        if len(ok):
            mf[a] = ok[most_favoured(n[ok], fav[ok, a:a + 1], min_group_size)[0]]
        elif comparable is None:
            mf[a] = most_favoured(n, fav[:, a:a + 1], min_group_size)[0]
    ratio = np.full((G, A), np.nan)
    ci_low = np.full((G, A), np.nan)
    ci_high = np.full((G, A), np.nan)
    for a in range(A):  # tiers, not people
        b = mf[a]
        if b < 0:
            continue
        r, lo, hi = ratio_score_interval(f_eff[:, a], n_eff[:, a], f_eff[b, a], n_eff[b, a], alpha=alpha)
        ratio[:, a], ci_low[:, a], ci_high[:, a] = r, lo, hi
        ci_low[b, a] = ci_high[b, a] = np.nan  # a group against itself
    upper = np.full((G, A), np.nan)
    p_thr = np.full((G, A), np.nan)
    p_par = np.full((G, A), np.nan)
    E = np.flatnonzero(el)
    K = np.where(el, len(E) - 1, 0).astype(np.int64)
    candidate = np.zeros((G, A), dtype=bool)
    if len(E) >= 2 and A:
        # Every (group, comparator, tier) of eligible groups, group != comparator.
        gi, ji = np.meshgrid(E, E, indexing="ij")
        off = gi != ji
        gi, ji = gi[off], ji[off]
        x1, x2 = f_eff[gi], f_eff[ji]                  # (P, A)
        n1, n2 = n_eff[gi], n_eff[ji]
        level = alpha / np.broadcast_to(K[gi][:, None], x1.shape)
        pt = ratio_score_test(x1, n1, x2, n2, value=threshold).reshape(x1.shape)
        pp = ratio_score_test(x1, n1, x2, n2, value=1.0).reshape(x1.shape)
        ub = ratio_upper_bound(x1, n1, x2, n2, alpha=level).reshape(x1.shape)
        # A comparator nobody in which gets the outcome cannot show g to be lower: p = 1, no bound; nor can
        # a comparator whose counts may not be published.
        usable = comp[ji]
        pt = np.where(np.isnan(pt) | ~usable, 1.0, pt)
        pp = np.where(np.isnan(pp) | ~usable, 1.0, pp)
        ub = np.where(np.isnan(ub) | ~usable, np.inf, ub)
        # Reduce over comparators: rows of the same g are contiguous (meshgrid in "ij" order).
        starts = np.flatnonzero(np.r_[True, gi[1:] != gi[:-1]])
        groups = gi[starts]
        kk = K[groups][:, None]
        p_thr[groups] = np.minimum(1.0, kk * np.minimum.reduceat(pt, starts, axis=0))
        p_par[groups] = np.minimum(1.0, kk * np.minimum.reduceat(pp, starts, axis=0))
        u = np.minimum.reduceat(ub, starts, axis=0)
        upper[groups] = np.where(np.isfinite(u), u, np.nan)
        # In the family: an eligible group in a tier where some comparable group gets the outcome.
        defined = ((fav[E] > 0) & comp[E]).any(axis=0)
        candidate[groups] = defined[None, :]
        p_thr = np.where(candidate, p_thr, np.nan)
        p_par = np.where(candidate, p_par, np.nan)
        upper = np.where(candidate, upper, np.nan)
    return Claims(mf, ratio, ci_low, ci_high, upper, p_thr, p_par, K, candidate)
