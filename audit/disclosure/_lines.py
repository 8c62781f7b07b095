"""Complementary suppression: no hidden cell may come back by subtraction from a published total.

The cells of one count (group sizes, or the people attaining one tier) over
every grouping of an audit live in one key space over all the audited
attributes: a group of ``race`` is ``(race value, *, ...)``, a group of
``race & sex`` is ``(race value, sex value, *)``.  Cells that share every
coordinate but one form a *line*: an additive relation (an intersection's
groups with one attribute varying add up to the group of the smaller
grouping, which is on the same line; a single attribute's groups add up to
the population).  A line with exactly one hidden cell gives it away.

For such a line, a *complementary* cell is hidden too — the one that loses
least: the cell with the smallest cost (by default the size of its group, so
a small group's rate is hidden before a large group's), never a *locked* cell
(a large group's figures, which the report must keep).  Where only locked
cells remain, one of them is published *rounded* instead (to
:data:`ROUND_BASE`), which leaves the hidden cell uncertain by more than
plus or minus two.  A rounded cell must not be recoverable exactly either, so
it counts like a hidden one: this repeats until no line has exactly one
uncertain (hidden or rounded) cell.  The result is checked against every published table at
once by :mod:`audit.disclosure._lp`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ROUND_BASE", "STAR", "Protection", "global_keys", "protect_lines", "round_count"]

#: A coordinate a grouping does not fix (never a real value).
STAR = "\x00*"
#: A complementary cell should hold at least this many people, so that the pair of hidden cells leaves a
#: reader an interval of at least this width (the linear-programming audit's bar, plus or minus two).
CAPACITY = 5
#: Locked cells that must carry uncertainty are published rounded to this base: the true count lies in
#: [r - 5, r + 4], ten values, so a cell recovered by subtraction is uncertain by more than plus or minus 2.
ROUND_BASE = 10


def round_count(k) -> np.ndarray:
    """Counts rounded to :data:`ROUND_BASE` (half away from zero, so the rule is easy to state)."""
    k = np.asarray(k, dtype=np.int64)
    return ((k + ROUND_BASE // 2) // ROUND_BASE) * ROUND_BASE


@dataclass(frozen=True)
class Protection:
    """The outcome of complementary suppression for one count.

    ``hidden``: cells not published (primary and complementary); ``rounded``:
    cells published rounded to :data:`ROUND_BASE`; ``complementary``: cells
    hidden only to protect another (information loss, reported).
    """

    hidden: np.ndarray
    rounded: np.ndarray
    complementary: np.ndarray


def global_keys(groupings) -> list[list[tuple]]:
    """Each grouping's groups as keys in one space over all attributes (``STAR`` where not fixed)."""
    attrs: list = []
    for gr in groupings:
        for a in gr.attributes:
            if a not in attrs:
                attrs.append(a)
    out = []
    for gr in groupings:
        pos = {a: i for i, a in enumerate(gr.attributes)}
        out.append([tuple(v[pos[a]] if a in pos else STAR for a in attrs) for v in gr.values])
    return out


def _lines(keys: Sequence[tuple]) -> list[np.ndarray]:
    width = len(keys[0])
    lines: dict = {}
    for i, key in enumerate(keys):
        for d in range(width):
            lines.setdefault((d, key[:d] + key[d + 1:]), []).append(i)
    return [np.array(v) for v in lines.values() if len(v) > 1]


def protect_lines(keys, counts, hidden, *, cost=None, locked=None, rounded=None, full: bool = False):
    """Hide (or round) cells until no line has exactly one hidden cell and nothing else uncertain.

    Parameters
    ----------
    keys : sequence of tuples, one per cell (all of the same length; see :func:`global_keys`)
    counts : array of int, one per cell (the counts the table publishes)
    hidden : array of bool, one per cell (primary suppression)
    cost : array of float, optional
        Information lost by hiding each cell (default: the count itself); the cheapest is hidden first.
    locked : array of bool, optional
        Cells that must not be hidden (they may be rounded instead).
    rounded : array of bool, optional
        Cells already published rounded.
    full : bool, default False
        Return a :class:`Protection` instead of the hidden mask alone.

    Examples
    --------
    >>> protect_lines([("a",), ("b",), ("c",)], [3, 40, 50], [True, False, False]).tolist()
    [True, True, False]
    >>> p = protect_lines([("a",), ("b",), ("c",)], [3, 4000, 5000], [True, False, False],
    ...                   cost=[10, 4000, 5000], locked=[False, True, True], full=True)
    >>> p.hidden.tolist(), p.rounded.tolist()
    ([True, False, False], [False, True, False])
    """
    hidden = np.array(hidden, dtype=bool, copy=True)
    primary = hidden.copy()
    counts = np.asarray(counts)
    n = len(hidden)
    cost = np.asarray(counts if cost is None else cost, dtype=float)
    locked = np.zeros(n, dtype=bool) if locked is None else np.asarray(locked, dtype=bool)
    rnd = np.zeros(n, dtype=bool) if rounded is None else np.array(rounded, dtype=bool, copy=True)
    if n and (hidden.any() or rnd.any()):
        members = _lines(keys)
        changed = True
        while changed:
            changed = False
            for m in members:
                # A rounded cell is uncertain too, but only if it cannot be recovered exactly itself: every line
                # needs zero or at least two uncertain cells, whether hidden or rounded.
                unc = hidden[m] | rnd[m]
                if unc.sum() != 1:
                    continue
                free = m[~unc & ~locked[m]]
                if len(free):
                    # A complement must carry some uncertainty itself (a count of at least CAPACITY: two hidden
                    # cells of 1 and 1 on a line of total 2 pin each to [0, 2]); among those the cheapest, then
                    # by index so the choice never depends on anything but the table.
                    pick = free[np.lexsort((free, cost[free], counts[free] < CAPACITY))[0]]
                    hidden[pick] = True
                else:
                    cand = m[~unc]
                    if not len(cand):
                        continue
                    rnd[cand[np.lexsort((cand, cost[cand]))[0]]] = True
                changed = True
    prot = Protection(hidden, rnd & ~hidden, hidden & ~primary)
    return prot if full else prot.hidden
