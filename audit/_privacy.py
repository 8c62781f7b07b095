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

Suppression is cell by cell.  Differencing nested tables (a group minus its
sub-groups) can still narrow down a suppressed count; reports say so, and
``--intersections 1`` or a larger threshold avoid it where that matters.
"""

from __future__ import annotations

import numpy as np

__all__ = ["is_small", "cell_publishable"]


def _small(k, threshold: int) -> np.ndarray:
    k = np.asarray(k)
    return (k > 0) & (k < threshold)


def is_small(k, threshold: int):
    """True where ``0 < k < threshold`` (scalars give a bool, arrays a bool array)."""
    out = _small(k, threshold)
    return bool(out) if out.ndim == 0 else out


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
