"""Equalising a variable's distribution across groups: the counterfactual "as if every group had the reference
group's distribution of this input", used by the proxy family's neutralisation and the mechanism attribution.

Every non-reference group's values are mapped onto the reference group's
distribution, within the group:

* numeric: quantile mapping.  People of group ``g`` are ranked by their value,
  ties broken at random (seeded); the person of rank ``r`` (0-based) of ``n_g``
  gets the reference group's empirical quantile at ``u = (r + 1/2) / n_g``
  (inverse of the empirical distribution function, the smallest reference value
  ``v`` with ``F_ref(v) >= u``).  For continuous inputs this is the mid-rank
  percentile mapping; breaking ties at random makes a discrete input (counts,
  0/1 contributions) match the reference distribution too, instead of moving a
  block of tied people to one value.
* categorical / bool: minimal reassignment.  Group ``g``'s target count of each
  category is ``n_g * p_ref(category)`` rounded by largest remainders; everyone
  keeps their category up to its target, the surplus (chosen at random, seeded)
  is reassigned to the categories below target.  This moves the fewest people
  needed to make the group's distribution equal the reference's.

Missing values and people outside every group (code -1) are left unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.groups import json_value

__all__ = ["ascending_order", "category_codes", "equalise_codes", "equalise_numeric", "equalise_series",
           "is_categorical"]


def is_categorical(series: pd.Series) -> bool:
    """Bool, string, category and object columns are categorical; other numeric columns are numeric."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return True
    return not pd.api.types.is_numeric_dtype(series.dtype)


def category_codes(series: pd.Series) -> tuple[np.ndarray, list]:
    """Integer codes 0..C-1 (sorted categories; a missing value is its own last category) and the categories."""
    try:
        codes, uniques = pd.factorize(series, sort=True)
    except TypeError:  # mixed types cannot be sorted: keep order of appearance (still deterministic)
        codes, uniques = pd.factorize(series, sort=False)
    codes = np.asarray(codes, dtype=np.int64)
    cats = [json_value(v) for v in uniques]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(cats), codes)
        cats.append(None)
    return codes, cats


def _rows_by_group(codes: np.ndarray, n_groups: int, mask: np.ndarray) -> list[np.ndarray]:
    idx = np.flatnonzero(mask & (codes >= 0))
    c = codes[idx]
    order = np.argsort(c, kind="stable")
    bounds = np.searchsorted(c[order], np.arange(n_groups + 1))
    return [idx[order[bounds[g]:bounds[g + 1]]] for g in range(n_groups)]


def ascending_order(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row order by ascending value, tied values in random order (seeded), missing values last.

    One sort serves every attribute.  Without ties the order is the plain sort
    order; with ties, a random permutation is sorted stably by the values' dense
    ranks, so tied rows keep the permutation's (random) order.
    """
    xf = np.asarray(x).astype(float, copy=False)
    n = len(xf)
    order = np.argsort(xf)  # NaN sorts last
    if n < 2:
        return order
    xs = xf[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(xs[1:], xs[:-1], out=new[1:])
    new[1:] |= np.isnan(xs[1:])  # every missing value its own rank (they are never mapped)
    if new.all():
        return order
    dense = np.cumsum(new) - 1
    rank = np.empty(n, dtype=np.int64)
    rank[order] = dense
    perm = rng.permutation(n)
    if dense[-1] < np.iinfo(np.uint16).max:
        # Few distinct values (counts, flags, points of a condition): a radix sort of 16-bit ranks.
        return perm[np.argsort(rank[perm].astype(np.uint16), kind="stable")]
    key = rank * n
    key[perm] += np.arange(n)  # distinct keys: rank first, then the random position
    return np.argsort(key)


def equalise_numeric(x: np.ndarray, codes: np.ndarray, ref: int, n_groups: int,
                     rng: np.random.Generator | None = None, *, order: np.ndarray | None = None) -> np.ndarray:
    """Quantile-map every group's values of numeric ``x`` onto group ``ref``'s distribution.

    ``order`` (from :func:`ascending_order`) may be passed to reuse one sort for
    several groupings; otherwise it is drawn from ``rng``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1., 2., 3., 10., 20., 30.])
    >>> codes = np.array([0, 0, 0, 1, 1, 1])
    >>> equalise_numeric(x, codes, 1, 2, np.random.default_rng(0)).tolist()
    [10.0, 20.0, 30.0, 10.0, 20.0, 30.0]
    """
    x = np.asarray(x)
    if order is None:
        order = ascending_order(x, rng)
    finite = np.isfinite(x.astype(float, copy=False))
    out = x.copy()
    ranked_codes = codes[order]
    if finite.all():
        ok = True
    else:
        ok = finite[order]
    ref_sorted = x[order[(ranked_codes == ref) & ok]]
    n_ref = len(ref_sorted)
    if n_ref == 0:
        return out
    for g in range(n_groups):
        if g == ref:
            continue
        rows = order[(ranked_codes == g) & ok]  # group g's rows in ascending order, ties at random
        n_g = len(rows)
        if n_g == 0:
            continue
        u = (np.arange(n_g) + 0.5) / n_g
        pos = np.clip(np.ceil(u * n_ref).astype(np.int64) - 1, 0, n_ref - 1)
        out[rows] = ref_sorted[pos]
    return out


def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    quota = total * shares
    take = np.floor(quota).astype(np.int64)
    short = total - int(take.sum())
    if short > 0:
        order = np.lexsort((np.arange(len(quota)), -(quota - take)))
        take[order[:short]] += 1
    return take


def equalise_codes(xc: np.ndarray, codes: np.ndarray, ref: int, n_groups: int, n_categories: int,
                   rng: np.random.Generator, movable: np.ndarray | None = None) -> np.ndarray:
    """Reassign category codes ``xc`` so each group's distribution matches group ``ref``'s (fewest moves).

    Examples
    --------
    >>> import numpy as np
    >>> xc = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    >>> codes = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> out = equalise_codes(xc, codes, 1, 2, 2, np.random.default_rng(0))
    >>> np.bincount(out[:4], minlength=2).tolist(), out[4:].tolist()
    ([1, 3], [0, 1, 1, 1])
    """
    out = xc.copy()
    mask = np.ones(len(xc), dtype=bool) if movable is None else movable
    groups = _rows_by_group(codes, n_groups, mask)
    ref_rows = groups[ref]
    if len(ref_rows) == 0:
        return out
    shares = np.bincount(xc[ref_rows], minlength=n_categories) / len(ref_rows)
    for g, rows in enumerate(groups):
        if g == ref or len(rows) == 0:
            continue
        target = _largest_remainder(len(rows), shares)
        perm = rows[rng.permutation(len(rows))]
        cats = xc[perm]
        # Rank of each person within their category, in the random order.
        o = np.argsort(cats, kind="stable")
        counts = np.bincount(cats, minlength=n_categories)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.empty(len(perm), dtype=np.int64)
        rank[o] = np.arange(len(perm)) - np.repeat(starts, counts)
        keep = rank < target[cats]
        movers = perm[~keep]
        need = target - np.minimum(counts, target)
        slots = np.repeat(np.arange(n_categories), need)
        out[movers] = slots  # movers are in random order, so who fills which deficit is random
    return out


def equalise_series(series: pd.Series, codes: np.ndarray, ref: int, n_groups: int,
                    rng: np.random.Generator, *, order: np.ndarray | None = None) -> pd.Series:
    """Equalise a column (numeric by quantile mapping, categorical by minimal reassignment).

    ``order`` is passed on to :func:`equalise_numeric` (numeric columns only).
    """
    if is_categorical(series):
        xc, cats = category_codes(series)
        movable = series.notna().to_numpy()
        new = equalise_codes(xc, codes, ref, n_groups, len(cats), rng, movable=movable)
        if not (new != xc).any():
            return series
        if pd.api.types.is_bool_dtype(series.dtype) and series.notna().all():
            values = np.asarray(cats, dtype=bool)[new]
            return pd.Series(values, index=series.index, name=series.name)
        lookup = pd.Series(cats, dtype=object)
        values = lookup.to_numpy()[new]
        return pd.Series(values, index=series.index, name=series.name).astype(series.dtype)
    x = series.to_numpy(dtype=float, na_value=np.nan)
    raw = series.to_numpy()
    base = raw if raw.dtype.kind in "iuf" else x
    new = equalise_numeric(base, codes, ref, n_groups, rng, order=order)
    return pd.Series(new, index=series.index, name=series.name)
