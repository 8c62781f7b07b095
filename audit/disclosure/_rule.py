"""The cell rule: which counts of people may be published.

A count ``k`` of people is *small* when ``0 < k < threshold``.  A cell of a
table — ``k`` people with an outcome out of a group of ``n`` — can be published
only when neither ``k`` nor ``n - k`` is small: otherwise "3 of 40" or
"37 of 40" tells a reader something about a handful of identifiable people.
Zero counts are published (a complete exclusion is an aggregate finding, and
reveals no more than its complement, which is large).  Every figure derived
from a cell that cannot be published — a rate, a ratio, an interval, a
p-value, a threshold at which the cell changes — is suppressed with it,
because such figures let a reader rebuild the count.

Complementary suppression (:mod:`audit.disclosure._lines`) then hides or
rounds further cells wherever a hidden one could be recovered from published
ones, and the linear-programming audit (:mod:`audit.disclosure._lp`) checks
the whole set of published counts together.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cell_publishable", "count_text", "is_small", "published_count", "small_mask"]


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
    >>> from audit.disclosure import cell_publishable
    >>> [cell_publishable(k, 40, 10) for k in (0, 3, 20, 37, 40)]
    [True, False, True, False, True]
    """
    k = np.asarray(k)
    n = np.asarray(n)
    out = ~_small(k, threshold) & ~_small(n - k, threshold) & ~_small(n, threshold)
    return bool(out) if out.ndim == 0 else out


def count_text(k, threshold: int) -> str:
    """A count as a reader may see it: the number, or "fewer than T" when it is small.

    Examples
    --------
    >>> count_text(3, 10), count_text(0, 10), count_text(1234, 10)
    ('fewer than 10', '0', '1,234')
    """
    k = int(k)
    return f"fewer than {threshold}" if 0 < k < threshold else f"{k:,}"
