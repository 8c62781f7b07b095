"""Counting people per group: the hot path shared by every audit family.

No pandas here.  Every count is computed from integer group codes (see
:class:`audit.groups.Grouping`) with one pass of ``np.bincount``, never a loop
over people, so a counterfactual score can be recounted thousands of times.
"""

from __future__ import annotations

import numpy as np

from audit.groups import Grouping

__all__ = ["group_rates", "impact_ratios", "most_favoured", "pattern_table", "ratios_to"]


def _as_2d_bool(attainment: np.ndarray) -> np.ndarray:
    att = np.asarray(attainment, dtype=bool)
    return att[:, None] if att.ndim == 1 else att


def pattern_table(codes: np.ndarray, flags: np.ndarray, n_groups: int) -> np.ndarray:
    """Count people per (group, pattern of boolean flags) with one ``bincount``.

    Parameters
    ----------
    codes : ndarray of int, shape (n,)
        Group codes; ``-1`` rows are left out.
    flags : ndarray of bool, shape (n, k)
    n_groups : int

    Returns
    -------
    ndarray of int64, shape (n_groups, k)
        ``out[g, j]`` = number of people in group ``g`` with ``flags[:, j]`` true.
    """
    flags = _as_2d_bool(flags)
    k = flags.shape[1]
    valid = codes >= 0
    if not valid.all():
        codes, flags = codes[valid], flags[valid]
    if k == 0:
        return np.zeros((n_groups, 0), dtype=np.int64)
    if k <= 8:
        # Pack the k flags of each person into one byte: a single bincount over
        # (group, pattern) replaces k passes over the population.
        packed = np.packbits(flags, axis=1, bitorder="little")[:, 0].astype(np.int64)
        table = np.bincount(codes * (1 << k) + packed, minlength=n_groups << k).reshape(n_groups, 1 << k)
        bits = (np.arange(1 << k)[:, None] >> np.arange(k)[None, :]) & 1
        return (table @ bits).astype(np.int64)
    return np.stack([np.bincount(codes[flags[:, j]], minlength=n_groups) for j in range(k)],
                    axis=1).astype(np.int64)


def group_rates(attainment: np.ndarray, grouping: Grouping) -> tuple[np.ndarray, np.ndarray]:
    """People and tier attainments per group.

    Parameters
    ----------
    attainment : ndarray of bool, shape (n,) or (n, T)
        Who attains each tier (or any other boolean outcome).
    grouping : Grouping

    Returns
    -------
    counts : ndarray of int64, shape (G,)
        People per group (rows with code -1 left out).
    hits : ndarray of int64, shape (G, T)
        People per group attaining each tier.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from audit.groups import build_groupings
    >>> g = build_groupings(pd.DataFrame({"sex": ["f", "m", "f", "m"]}), ["sex"])[0]
    >>> counts, hits = group_rates(np.array([True, True, False, True]), g)
    >>> counts.tolist(), hits.tolist()
    ([2, 2], [[1], [2]])
    """
    att = _as_2d_bool(attainment)
    codes = grouping.codes
    if len(codes) != len(att):
        raise ValueError(f"attainment has {len(att)} rows but the grouping has {len(codes)}")
    valid = codes >= 0
    counts = np.bincount(codes[valid], minlength=grouping.n_groups).astype(np.int64)
    return counts, pattern_table(codes, att, grouping.n_groups)


def most_favoured(counts: np.ndarray, hits: np.ndarray, min_group_size: int = 30) -> np.ndarray:
    """Index of the most favoured group per column of ``hits``.

    The group with the highest rate among groups with at least
    ``min_group_size`` people (all non-empty groups if none is that large);
    ties go to the larger group, then the lower code, so the choice never
    depends on row order.  ``-1`` if there is no non-empty group.
    """
    counts = np.asarray(counts, dtype=np.int64)
    hits = np.asarray(hits, dtype=np.int64)
    hits = hits.reshape((len(counts), hits.shape[-1] if hits.ndim == 2 else (hits.size // max(len(counts), 1))))
    eligible = counts >= min_group_size
    if not eligible.any():
        eligible = counts > 0
    out = np.full(hits.shape[1], -1, dtype=np.int64)
    cand = np.flatnonzero(eligible)
    if cand.size == 0:
        return out
    n = counts[cand]
    for j in range(hits.shape[1]):  # tiers, not people
        # Rates h/n with n <= 2**26 are distinct rationals >= 1/n^2 apart, far
        # more than float rounding: comparing floats orders them exactly.
        rate = hits[cand, j] / n
        order = np.lexsort((cand, -n, -rate))
        out[j] = cand[order[0]]
    return out


def impact_ratios(attainment: np.ndarray, grouping: Grouping, *, min_group_size: int = 30) -> np.ndarray:
    """Each group's attainment rate divided by the most favoured group's, per tier.

    Pass the *favourable* outcome: for a tier that is bad news (a high-risk
    band) pass ``~attainment``.

    Parameters
    ----------
    attainment : ndarray of bool, shape (n,) or (n, T)
    grouping : Grouping
    min_group_size : int, default 30
        Only groups at least this large can be the most favoured.

    Returns
    -------
    ndarray of float, shape (G, T)
        NaN where the most favoured rate is 0 (ratio undefined) or the group is empty.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from audit.groups import build_groupings
    >>> g = build_groupings(pd.DataFrame({"sex": ["f"] * 4 + ["m"] * 4}), ["sex"])[0]
    >>> att = np.array([1, 0, 0, 0, 1, 1, 0, 0], dtype=bool)
    >>> impact_ratios(att, g, min_group_size=1).round(3).tolist()
    [[0.5], [1.0]]
    """
    counts, hits = group_rates(attainment, grouping)
    return ratios_to(counts, hits, most_favoured(counts, hits, min_group_size))


def ratios_to(counts: np.ndarray, hits: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Rate of every group over the rate of group ``ref[j]`` in column ``j``."""
    out = np.full(hits.shape, np.nan)
    for j, r in enumerate(ref):
        if r < 0 or hits[r, j] == 0:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            # One division of exact integer products (no rounding of the rates first).
            out[:, j] = (hits[:, j] * float(counts[r])) / (float(hits[r, j]) * counts)
    return out
