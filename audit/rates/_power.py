"""Detection limits: how far below the best group a group would have to be for an audit to list it.

"Not found" is not "not there".  For a group that no verdict names, the report
states the ratio at which this audit would have listed it as pushed out with
the stated power (80% by default): *not found, and could not have been found
above X*.  The power is the Farrington-Manning (1990) normal approximation for
the one-sided score test of ``p_g / p_b >= t`` at the level the verdict uses,
against the best group's observed rate; :mod:`tests` checks it by simulation.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from audit.rates._intervals import restricted_mle

__all__ = ["detectable_ratio", "power_below"]


def power_below(ratio, n1, n2, p2, *, threshold: float = 0.8, level=0.05) -> np.ndarray:
    """Power of the one-sided score test of ``p1 / p2 >= threshold`` at ``level`` when the true ratio is ``ratio``.

    Parameters
    ----------
    ratio : array_like
        True ratio p1 / p2 (below ``threshold``).
    n1, n2 : array_like
        Group sizes (the group, the comparison group).
    p2 : array_like
        The comparison group's rate of the favourable outcome.
    threshold : float
    level : array_like
        One-sided level of the test (for a verdict: alpha / K times the FDR step).

    Examples
    --------
    >>> round(float(power_below(0.6, 1000, 1000, 0.5)), 3)
    1.0
    >>> float(power_below(0.8, 1000, 1000, 0.5, level=0.05)) < 0.06
    True
    """
    r, n1, n2, p2, a = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (ratio, n1, n2, p2, level)))
    p1 = np.clip(r * p2, 0.0, 1.0)
    N = n1 + n2
    # Limits of the restricted estimates under the alternative: the restricted MLE at expected counts.
    q1, q2 = restricted_mle(threshold, n1 * p1, n1, n2 * p2, n2)
    with np.errstate(invalid="ignore", divide="ignore"):
        v0 = (q1 * (1 - q1) / n1 + threshold ** 2 * q2 * (1 - q2) / n2) * N / (N - 1)
        v1 = p1 * (1 - p1) / n1 + threshold ** 2 * p2 * (1 - p2) / n2
        delta = p1 - threshold * p2
        z = stats.norm.isf(a)
        out = stats.norm.cdf((-delta - z * np.sqrt(v0)) / np.sqrt(v1))
    # No variance under the alternative: the test statistic is certain.
    return np.where(v1 > 0, out, np.where(-delta > z * np.sqrt(v0), 1.0, 0.0))


def detectable_ratio(n1, n2, p2, *, threshold: float = 0.8, level=0.05, power: float = 0.8) -> np.ndarray:
    """The largest true ratio below ``threshold`` that the test detects with at least ``power``.

    NaN where even a ratio of 0 (nobody in the group gets the outcome) would be
    detected with less than ``power`` (a small group, a rare outcome).

    Examples
    --------
    >>> r = detectable_ratio(2000, 2000, 0.5, level=0.05 / 8)
    >>> 0.70 < float(r) < 0.76
    True
    >>> bool(np.isnan(detectable_ratio(20, 2000, 0.02, level=0.005)))
    True
    """
    scalar = all(np.ndim(x) == 0 for x in (n1, n2, p2, level))
    n1, n2, p2, lv = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, dtype=float)) for x in (n1, n2, p2, level)))
    lo = np.zeros(n1.shape)
    hi = np.full(n1.shape, float(threshold))
    ok = (n1 > 0) & (n2 > 1) & (p2 > 0) & (power_below(0.0, n1, n2, p2, threshold=threshold, level=lv) >= power)
    for _ in range(60):  # power decreases in the ratio: bisection
        mid = 0.5 * (lo + hi)
        strong = power_below(mid, n1, n2, p2, threshold=threshold, level=lv) >= power
        lo = np.where(strong, mid, lo)
        hi = np.where(strong, hi, mid)
    out = np.where(ok, lo, np.nan)
    return out[0] if scalar else out
