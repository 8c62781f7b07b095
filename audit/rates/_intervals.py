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
    "ratio_score_test",
    "ratio_upper_bound",
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


def restricted_mle(r, x1, n1, x2, n2) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood (p1, p2) under the constraint p1 = r * p2 (vectorised).

    Farrington & Manning (1990): the smaller root of a*p^2 + b*p + c = 0,
    written as 2c / (-b + sqrt(disc)) so that it does not cancel when
    b^2 >> 4ac.  Counts may be expected (non-integer) counts, which gives the
    limit of the estimates under an alternative (used for power).
    """
    N = n1 + n2
    a = N * r
    b = -(n1 * r + x1 + n2 + x2 * r)
    c = x1 + x2
    disc = np.maximum(b * b - 4 * a * c, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p2 = np.where(c > 0, 2 * c / (-b + np.sqrt(disc)), 0.0)
        p2 = np.clip(p2, 0.0, np.minimum(1.0, 1.0 / r))
        p1 = np.clip(r * p2, 0.0, 1.0)
    return p1, p2


def _ratio_score(r, x1, n1, x2, n2, correction: bool) -> np.ndarray:
    """Miettinen-Nurminen score statistic for H0: p1 / p2 = r (vectorised)."""
    N = n1 + n2
    p1, p2 = restricted_mle(r, x1, n1, x2, n2)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = p1 * (1 - p1) / n1 + r * r * p2 * (1 - p2) / n2
        if correction:
            var = var * N / (N - 1)
        num = x1 / n1 - r * x2 / n2
        z = num / np.sqrt(var)
        # Degenerate variance (all-or-nothing tables): the sign of the numerator decides.
        z = np.where(var > 0, z, np.sign(num) * np.inf)
    return np.where((var <= 0) & (num == 0), 0.0, z)


def _solve_ratio(x1, n1, x2, n2, target, start, correction: bool) -> np.ndarray:
    """The ratio r with score statistic Z(r) = ``target``, for many tables at once.

    Z(r) decreases in r, so the root is found by bisection on log(r) in a
    window of e^60 around ``start`` (a log ratio inside the bracket); every
    table is solved in the same loop.
    """
    span = 60.0
    lo_ = start - span
    hi_ = start + span
    for _ in range(200):
        mid = 0.5 * (lo_ + hi_)
        above = _ratio_score(np.exp(mid), x1, n1, x2, n2, correction) > target
        lo_ = np.where(above, mid, lo_)
        hi_ = np.where(above, hi_, mid)
        if np.all(hi_ - lo_ <= 1e-15 * np.maximum(1.0, np.abs(lo_))):
            break
    return np.exp(0.5 * (lo_ + hi_))


def _start(x1, n1, x2, n2) -> np.ndarray:
    """A log ratio to start the search from: the estimate, or 1/n1 over p2 when x1 is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p2 = np.where(x2 > 0, x2 / n2, 1.0)
        est = np.where(x1 > 0, (x1 * n2) / np.where(x2 > 0, x2 * n1, 1.0), (1.0 / n1) / p2)
        return np.log(np.where(np.isfinite(est) & (est > 0), est, 1.0))


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
    shape = x1.shape
    x1, n1, x2, n2 = (a.ravel() for a in (x1, n1, x2, n2))
    z = _z(alpha)
    ok = (n1 > 0) & (n2 > 0) & (x2 > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        # One division of integer products: an exact 4/5 prints as 0.8.
        ratio = np.where(ok, (x1 * n2) / (x2 * n1), np.nan)
    low = np.where(ok & (x1 == 0), 0.0, np.nan)
    high = np.full(ratio.shape, np.nan)
    zero = ok & (x1 == 0)
    pos = ok & (x1 > 0)
    start = _start(x1, n1, x2, n2)
    ip, iz = np.flatnonzero(pos), np.flatnonzero(zero)
    # Lower bounds solve Z = z, upper bounds Z = -z; every bound of every table in one bisection.
    idx = np.concatenate([ip, ip, iz])
    if idx.size:
        target = np.concatenate([np.full(ip.size, z), np.full(ip.size + iz.size, -z)])
        sub = tuple(a[idx] for a in (x1, n1, x2, n2))
        root = _solve_ratio(*sub, target, start[idx], correction)
        low[ip] = root[:ip.size]
        high[ip] = root[ip.size:2 * ip.size]
        high[iz] = root[2 * ip.size:]
    return ratio.reshape(shape), low.reshape(shape), high.reshape(shape)


def ratio_upper_bound(count1, nobs1, count2, nobs2, alpha=0.05, correction: bool = True) -> np.ndarray:
    """One-sided upper confidence bound for p1 / p2 at level 1 - ``alpha`` (element-wise ``alpha`` allowed).

    The bound inverts the same Miettinen-Nurminen score statistic as
    :func:`ratio_score_interval` and :func:`ratio_score_test`, so that
    ``ratio_upper_bound(...) < r0`` exactly when the one-sided test of
    ``p1 / p2 >= r0`` rejects at ``alpha``.  NaN where ``count2 == 0`` (the
    ratio is undefined).

    Examples
    --------
    >>> round(float(ratio_upper_bound(10, 100, 20, 100, alpha=0.025)[0]), 4)  # the two-sided 95% upper bound
    0.9949
    """
    x1, n1, x2, n2, a = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float))
                                             for v in (count1, nobs1, count2, nobs2, alpha)))
    shape = x1.shape
    x1, n1, x2, n2, a = (v.ravel() for v in (x1, n1, x2, n2, a))
    ok = (n1 > 0) & (n2 > 0) & (x2 > 0)
    out = np.full(x1.shape, np.nan)
    i = np.flatnonzero(ok)
    if i.size:
        target = -stats.norm.isf(a[i])
        out[i] = _solve_ratio(x1[i], n1[i], x2[i], n2[i], target, _start(x1, n1, x2, n2)[i], correction)
    return out.reshape(shape)


def ratio_score_test(count1, nobs1, count2, nobs2, value=1.0, correction: bool = True) -> np.ndarray:
    """One-sided p-value of H0: p1 / p2 >= ``value`` against p1 / p2 < ``value`` (element-wise).

    The Miettinen-Nurminen (1985) / Farrington-Manning (1990) score test for a
    ratio of independent proportions — statsmodels'
    ``test_proportions_2indep(compare="ratio", method="score",
    alternative="smaller")`` with the N / (N - 1) variance factor.  NaN where
    ``count2 == 0`` or a group is empty.

    Examples
    --------
    >>> round(float(ratio_score_test(30, 100, 50, 100, value=0.8)[0]), 4)
    0.0548
    """
    x1, n1, x2, n2, v = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, dtype=float))
                                             for x in (count1, nobs1, count2, nobs2, value)))
    ok = (n1 > 0) & (n2 > 0) & (x2 > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = _ratio_score(np.where(ok, v, 1.0), x1, np.where(ok, n1, 1.0), x2, np.where(ok, n2, 1.0), correction)
    return np.where(ok, stats.norm.cdf(z), np.nan)


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
    shape = x1.shape
    x1, n1, x2, n2 = (a.ravel() for a in (x1, n1, x2, n2))
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
    return p.reshape(shape), test.reshape(shape)


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
