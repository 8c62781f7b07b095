"""Statistical disclosure control: the one suppression rule every output uses.

A count ``k`` of people is *small* when ``0 < k < threshold``.  A cell of a
table — ``k`` people with an outcome out of a group of ``n`` — can be published
only when neither ``k`` nor ``n - k`` is small: otherwise "3 of 40" or
"37 of 40" tells a reader something about a handful of identifiable people.
Zero counts are published (a complete exclusion is an aggregate finding, and
reveals no more than its complement, which is large).  Every figure derived
from a cell that cannot be published — a rate, a ratio, an interval, a
p-value, a threshold at which the cell changes — is suppressed with it,
because such figures let a reader rebuild the count.

On top of that, secondary suppression (:func:`protect_lines`) hides further
cells wherever a hidden cell could be recovered by subtracting published cells
from a published total (a group minus its sub-groups, the population minus an
attribute's groups, a labelled count minus its negatives).  What remains
unprotected, and is said so in every report's methods: differences between
nested tiers (attaining 650 minus attaining 700) and between a threshold-curve
point and a tier count.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cell_publishable", "is_small", "protect_lines", "published_count", "small_mask"]


def _small(k, threshold: int) -> np.ndarray:
    k = np.asarray(k)
    return (k > 0) & (k < threshold)


def is_small(k, threshold: int):
    """True where ``0 < k < threshold`` (scalars give a bool, arrays a bool array)."""
    out = _small(k, threshold)
    return bool(out) if out.ndim == 0 else out


def small_mask(k, threshold: int) -> np.ndarray:
    """:func:`is_small` as a boolean array, whatever the input's shape."""
    return _small(k, threshold)


def published_count(k, threshold: int) -> int | None:
    """A count as published: None when it is small (1 to ``threshold - 1``), else the int."""
    k = int(k)
    return None if 0 < k < threshold else k


def cell_publishable(k, n, threshold: int):
    """True where a cell of ``k`` out of ``n`` may be published: neither ``k`` nor ``n - k`` is small.

    Examples
    --------
    >>> from audit._privacy import cell_publishable
    >>> [cell_publishable(k, 40, 10) for k in (0, 3, 20, 37, 40)]
    [True, False, True, False, True]
    """
    k = np.asarray(k)
    n = np.asarray(n)
    out = ~_small(k, threshold) & ~_small(n - k, threshold) & ~_small(n, threshold)
    return bool(out) if out.ndim == 0 else out


def protect_lines(keys, counts, hidden):
    """Secondary suppression: no hidden cell may be recoverable by subtraction from a published total.

    ``keys[i]`` is the tuple of attribute values of cell ``i`` of one table (a
    single attribute's groups, or an intersection's).  Cells that share every
    coordinate but one form a *line*, and a line adds up to a total that is
    published elsewhere (the population, or a smaller intersection).  A line
    with exactly one hidden cell gives that cell away, so the smallest
    published non-zero cell of the line is hidden too; this repeats until every
    line has no hidden cell or at least two.

    Parameters
    ----------
    keys : sequence of tuples, one per cell (all of the same length)
    counts : array of int, one per cell (the counts the table publishes)
    hidden : array of bool, one per cell (primary suppression)

    Returns
    -------
    ndarray of bool
        The cells to hide (a superset of ``hidden``).

    Examples
    --------
    >>> from audit._privacy import protect_lines
    >>> protect_lines([("a",), ("b",), ("c",)], [3, 40, 50], [True, False, False]).tolist()
    [True, True, False]
    """
    hidden = np.array(hidden, dtype=bool, copy=True)
    counts = np.asarray(counts)
    n = len(hidden)
    if n == 0 or not hidden.any():
        return hidden
    width = len(keys[0])
    lines: dict = {}
    for i, key in enumerate(keys):
        for d in range(width):
            lines.setdefault((d, key[:d] + key[d + 1:]), []).append(i)
    members = [np.array(v) for v in lines.values() if len(v) > 1]
    changed = True
    while changed:
        changed = False
        for m in members:
            h = hidden[m]
            if h.sum() != 1:
                continue
            candidates = m[~h & (counts[m] > 0)]
            if len(candidates) == 0:
                candidates = m[~h]
            if len(candidates) == 0:
                continue
            pick = candidates[np.lexsort((candidates, counts[candidates]))[0]]
            hidden[pick] = True
            changed = True
    return hidden
