"""Interval estimates and tests for selection rates, vectorised over groups.

Everything here works on *counts* (people per group, people attaining a tier),
never on rows, so its cost depends on the number of groups and not on the size
of the population.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "FISHER_MIN_EXPECTED",
    "benjamini_hochberg",
    "bootstrap_impact_ratios",
    "compare_proportions",
    "ratio_score_interval",
    "wilson_interval",
]

#: Fisher's exact test is used when any expected cell of the 2x2 table is below this
#: (Cochran's rule for the chi-square approximation).
FISHER_MIN_EXPECTED = 5.0


def _z(alpha: float) -> float:
    return float(stats.norm.isf(alpha / 2))


def wilson_interval(count, nobs, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for binomial proportions, element-wise.

    Parameters
    ----------
    count, nobs : array_like
        Successes and trials; ``nobs == 0`` gives NaN bounds.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    low, high : ndarray
        Bounds, clipped to [0, 1]; exactly 0 when ``count == 0`` and exactly 1
        when ``count == nobs``.

    Examples
    --------
    >>> lo, hi = wilson_interval([0, 5], [10, 10])
    >>> [round(float(x), 4) for x in lo], [round(float(x), 4) for x in hi]
    ([0.0, 0.2366], [0.2775, 0.7634])
    """
    x = np.asarray(count, dtype=float)
    n = np.asarray(nobs, dtype=float)
    z = _z(alpha)
    z2 = z * z
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = n + z2
        centre = (x + z2 / 2) / denom
        half = z * np.sqrt(x * (n - x) / n + z2 / 4) / denom
        lo = np.clip(centre - half, 0.0, 1.0)
        hi = np.clip(centre + half, 0.0, 1.0)
    # The closed form is exact at the edges only up to rounding; pin them so a
    # zero count never shows a lower bound of 1e-17.
    lo = np.where(x == 0, 0.0, lo)
    hi = np.where(x == n, 1.0, hi)
    bad = n <= 0
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _ratio_score(r, x1, n1, x2, n2, correction: bool) -> np.ndarray:
    """Miettinen-Nurminen score statistic for H0: p1 / p2 = r (vectorised)."""
    N = n1 + n2
    # Restricted maximum-likelihood estimate of p2 under p1 = r * p2 (Farrington &
    # Manning 1990, eq. for the ratio): smaller root of a*p^2 + b*p + c = 0,
    # written as 2c / (-b + sqrt(disc)) so that it does not cancel when b^2 >> 4ac.
    a = N * r
    b = -(n1 * r + x1 + n2 + x2 * r)
    c = x1 + x2
    disc = np.maximum(b * b - 4 * a * c, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p2 = np.where(c > 0, 2 * c / (-b + np.sqrt(disc)), 0.0)
        p2 = np.clip(p2, 0.0, np.minimum(1.0, 1.0 / r))
        p1 = np.clip(r * p2, 0.0, 1.0)
        var = p1 * (1 - p1) / n1 + r * r * p2 * (1 - p2) / n2
        if correction:
            var = var * N / (N - 1)
        num = x1 / n1 - r * x2 / n2
        z = num / np.sqrt(var)
    # Degenerate variance (all-or-nothing tables): the sign of the numerator decides.
    z = np.where(var > 0, z, np.sign(num) * np.inf)
    return np.where((var <= 0) & (num == 0), 0.0, z)


def ratio_score_interval(
    count1, nobs1, count2, nobs2, alpha: float = 0.05, correction: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score interval for the ratio of two independent proportions, p1 / p2.

    Koopman's (1984) score interval with the Miettinen-Nurminen (1985) variance
    factor N / (N - 1) — what statsmodels'
    ``confint_proportions_2indep(compare="ratio", method="score")`` computes by
    default.  statsmodels solves Nam's cubic one table at a time (and picks the
    wrong root when both proportions are 1); here the score equation is solved by
    bisection on log(ratio), for all tables at once.

    Parameters
    ----------
    count1, nobs1 : array_like
        Successes and trials in the group of interest (numerator).
    count2, nobs2 : array_like
        Successes and trials in the comparison group (denominator).
    alpha : float, default 0.05
    correction : bool, default True
        Apply the Miettinen-Nurminen factor N / (N - 1).

    Returns
    -------
    ratio, low, high : ndarray
        ``ratio`` is ``(count1 / nobs1) / (count2 / nobs2)``.  When
        ``count1 == 0`` the ratio and the lower bound are 0 and the upper bound is
        finite; when ``count2 == 0`` the ratio is undefined and all three are NaN.

    Examples
    --------
    >>> r, lo, hi = ratio_score_interval(10, 100, 20, 100)
    >>> round(float(r[0]), 3), round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.5, 0.2481, 0.9949)
    """
    x1, n1, x2, n2 = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float))
                                          for v in (count1, nobs1, count2, nobs2)))
    z = _z(alpha)
    ok = (n1 > 0) & (n2 > 0) & (x2 > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        # One division of integer products: an exact 4/5 prints as 0.8.
        ratio = np.where(ok, (x1 * n2) / (x2 * n1), np.nan)
    low = np.where(ok & (x1 == 0), 0.0, np.nan)
    high = np.full(ratio.shape, np.nan)
    zero = ok & (x1 == 0)
    pos = ok & (x1 > 0)
    span = 60.0  # e^60 around the estimate: far beyond any finite bound
    with np.errstate(divide="ignore"):
        logr = np.where(pos, np.log(np.where(pos, ratio, 1.0)), 0.0)
        # The estimate is 0: search the upper bound from a tiny ratio upwards.
        base = np.log(np.where(zero, (1.0 / n1) / np.where(x2 > 0, x2 / n2, 1.0), 1.0))
    ip, iz = np.flatnonzero(pos), np.flatnonzero(zero)
    # Every bound of every table in one bisection: Z(r) decreases in r; find
    # Z(r) = target between exp(lo) and exp(hi).  Lower bounds solve Z = z, upper
    # bounds Z = -z.
    idx = np.concatenate([ip, ip, iz])
    if idx.size:
        target = np.concatenate([np.full(ip.size, z), np.full(ip.size + iz.size, -z)])
        lo_ = np.concatenate([logr[ip] - span, logr[ip], base[iz] - span])
        hi_ = np.concatenate([logr[ip], logr[ip] + span, base[iz] + span])
        sub = tuple(a[idx] for a in (x1, n1, x2, n2))
        for _ in range(200):
            mid = 0.5 * (lo_ + hi_)
            above = _ratio_score(np.exp(mid), *sub, correction) > target
            lo_ = np.where(above, mid, lo_)
            hi_ = np.where(above, hi_, mid)
            if np.all(hi_ - lo_ <= 1e-15 * np.maximum(1.0, np.abs(lo_))):
                break
        root = np.exp(0.5 * (lo_ + hi_))
        low[ip] = root[:ip.size]
        high[ip] = root[ip.size:2 * ip.size]
        high[iz] = root[2 * ip.size:]
    return ratio, low, high


def compare_proportions(x1, n1, x2, n2) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided test of p1 == p2 for many 2x2 tables.

    Fisher's exact test when any expected cell count is below
    :data:`FISHER_MIN_EXPECTED` (5); otherwise the two-proportion score test
    (pooled-variance z, equal to Pearson's chi-square without continuity
    correction), which is accurate once every expected count is at least 5.

    Returns
    -------
    p_value : ndarray of float
        NaN where a group is empty.
    test : ndarray of str
        ``"fisher"`` or ``"score"`` (``""`` where no test is possible).

    Examples
    --------
    >>> p, test = compare_proportions([1, 40], [20, 100], [6, 60], [20, 100])
    >>> test.tolist(), [round(float(v), 4) for v in p]
    (['fisher', 'score'], [0.0915, 0.0047])
    """
    x1, n1, x2, n2 = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=np.int64))
                                          for v in (x1, n1, x2, n2)))
    N = n1 + n2
    ok = (n1 > 0) & (n2 > 0)
    hits = x1 + x2
    with np.errstate(invalid="ignore", divide="ignore"):
        min_expected = np.minimum(n1, n2) * np.minimum(hits, N - hits) / N
        pooled = hits / N
        se = np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
        zstat = (x1 / n1 - x2 / n2) / se
        p = 2 * stats.norm.sf(np.abs(zstat))
    fisher = ok & (min_expected < FISHER_MIN_EXPECTED)
    cache: dict[tuple[int, int, int, int], float] = {}
    # A loop over small tables (groups x tiers, not people); equal tables are common.
    for i in np.flatnonzero(fisher):
        key = (int(x1[i]), int(n1[i]), int(x2[i]), int(n2[i]))
        if key not in cache:
            table = [[key[0], key[1] - key[0]], [key[2], key[3] - key[2]]]
            cache[key] = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
        p[i] = cache[key]
    p = np.where(ok, np.minimum(p, 1.0), np.nan)
    test = np.where(~ok, "", np.where(fisher, "fisher", "score"))
    return p, test


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg q-values (step-up FDR adjustment); NaN p-values stay NaN.

    Examples
    --------
    >>> [round(float(q), 4) for q in benjamini_hochberg([0.01, 0.04, 0.03, float("nan")])]
    [0.03, 0.04, 0.04, nan]
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q


def bootstrap_impact_ratios(
    counts, favourable_hits, *, min_group_size: int = 30, n_boot: int = 1000, alpha: float = 0.05,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each group's ratio to the most favoured group, by parametric bootstrap.

    Each replicate draws every group's count of favourable outcomes from
    Binomial(n_g, observed rate) — resampling *counts*, not rows — and re-picks
    the most favoured group, so the interval carries the uncertainty of which
    group is the most favoured (the score interval treats it as fixed).

    It does not correct the *selection bias* of the ratio to the best group:
    the re-picked best rate of a replicate is inflated again, so percentile
    bounds sit too low.  With all groups equal, the upper bound of some group
    is below 1 in most audits of 8 or more groups; it is therefore not used to
    decide who is pushed out (see ``methods["pushed_out"]`` of
    :func:`audit.impact.disparate_impact`).

    Parameters
    ----------
    counts : array_like, shape (G,)
    favourable_hits : array_like, shape (G, T)
    min_group_size : int
        Only groups at least this large can be the most favoured (all groups if none is).
    n_boot : int
    alpha : float
    seed : int

    Returns
    -------
    low, high : ndarray, shape (G, T)

    Examples
    --------
    >>> lo, hi = bootstrap_impact_ratios([100, 100], [[30], [60]], n_boot=200)
    >>> bool(lo[0, 0] < 0.5 < hi[0, 0])
    True
    """
    n = np.asarray(counts, dtype=np.int64)
    h = np.asarray(favourable_hits, dtype=np.int64)
    if h.ndim == 1:
        h = h[:, None]
    rng = np.random.default_rng(seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n[:, None] > 0, h / n[:, None], 0.0)
    draws = rng.binomial(n[None, :, None], p[None], size=(n_boot, *h.shape))
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = draws / n[None, :, None]
    eligible = n >= min_group_size
    if not eligible.any():
        eligible = n > 0
    best = np.nanmax(np.where(eligible[None, :, None], rates, -np.inf), axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = np.where(best > 0, rates / best, np.nan)
    lo = np.nanquantile(ratios, alpha / 2, axis=0)
    hi = np.nanquantile(ratios, 1 - alpha / 2, axis=0)
    return lo, hi
