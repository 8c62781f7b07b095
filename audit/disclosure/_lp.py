"""The linear-programming audit: what can a reader pin down from *every* published count at once?

Statistical agencies check a set of protected tables the way an attacker
would attack it: every published count is a linear equation (or, when it is
rounded, a pair of inequalities) over the unknown counts of the finest cells —
one per combination of all protected attributes' values and every pattern of
outcomes (which tiers a person reaches, their label).  For each hidden cell the
smallest and largest values consistent with all of them are found by linear
programming (scipy's HiGHS); if that *attainable interval* is narrower than
:data:`MIN_WIDTH` (hi - lo < 5), the hidden cell is effectively published, and more must be
hidden.  Subtraction attacks along one line are special cases; this one also
finds chains across attributes, intersections and nested tiers.

The attacker here is given more than a reader has (only the outcome patterns
that occur in the data are allowed), so an interval it cannot narrow, a reader
cannot either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

__all__ = ["MIN_WIDTH", "CountSystem", "attainable"]

#: A hidden count whose attainable interval [lo, hi] is narrower than this is "recovered": hi - lo <= 4
#: tells a reader the count to within plus or minus 2 (the midpoint, give or take two).
MIN_WIDTH = 5


@dataclass
class CountSystem:
    """Unknown finest-cell counts and the published counts that constrain them.

    ``cells``: the finest cells, each a tuple of attribute values (one per
    attribute in ``attributes``); ``patterns``: the outcome patterns (any
    hashable); variable ``(c, p)`` is the number of people of finest cell ``c``
    with pattern ``p``.  Constraints are added with :meth:`add` over a group
    (a partial assignment of attribute values) and a set of patterns.
    """

    attributes: tuple[str, ...]
    cells: list[tuple]
    patterns: list
    rows: list = field(default_factory=list)   # (variable indices, low, high)
    labels: list = field(default_factory=list)  # what each row publishes (the caller's key)

    def __post_init__(self) -> None:
        self._values = [np.array([c[i] for c in self.cells], dtype=object) for i in range(len(self.attributes))]

    @property
    def n_vars(self) -> int:
        return len(self.cells) * len(self.patterns)

    def variables(self, group: dict, patterns: Sequence[int]) -> np.ndarray:
        """Indices of the variables of ``group`` (attribute -> value) with one of ``patterns`` (indices)."""
        mask = np.ones(len(self.cells), dtype=bool)
        for a, v in group.items():
            mask &= self._values[self.attributes.index(a)] == v
        cells = np.flatnonzero(mask)
        P = len(self.patterns)
        pats = np.asarray(list(patterns), dtype=np.int64)
        return (cells[:, None] * P + pats[None, :]).ravel()

    def add(self, group: dict, patterns: Sequence[int], low: float, high: float | None = None,
            label=None) -> None:
        """Publish: the people of ``group`` with a pattern in ``patterns`` number between ``low`` and ``high``."""
        self.rows.append((self.variables(group, patterns), float(low), float(low if high is None else high)))
        self.labels.append(label)


def attainable(system: CountSystem, targets: Sequence[np.ndarray], *, binding: bool = False):
    """Smallest and largest value of each target sum (variable indices) consistent with the system.

    Variables are non-negative reals (the LP relaxation, which a reader can
    solve); NaN where the system is infeasible (it never is for true data).
    With ``binding=True`` also return, per target, the labels of the published
    rows that bound it from below and from above (non-zero dual values at each
    optimum): the counts a defender must hide or round to widen it.

    Examples
    --------
    >>> s = CountSystem(("g",), [("a",), ("b",)], ["in", "out"])
    >>> s.add({}, [0], 12, label="total")     # 12 people attain the tier
    >>> s.add({"g": "b"}, [0], 9, label="b")  # 9 of them are in group b
    >>> s.add({"g": "a"}, [0, 1], 40)         # group a has 40 people
    >>> lo, hi, bind = attainable(s, [s.variables({"g": "a"}, [0])], binding=True)
    >>> float(lo[0]), float(hi[0]), sorted(bind[0][1])   # a's attaining count is pinned: 12 - 9
    (3.0, 3.0, ['b', 'total'])
    """
    n = system.n_vars
    if not system.rows:
        out = np.zeros(len(targets)), np.full(len(targets), np.inf)
        return (*out, [(set(), set()) for _ in targets]) if binding else out
    ri, ci = [], []
    lows, highs = [], []
    for r, (idx, lo, hi) in enumerate(system.rows):
        ri.append(np.full(len(idx), r))
        ci.append(idx)
        lows.append(lo)
        highs.append(hi)
    A = sp.csr_matrix((np.ones(sum(len(c) for c in ci)), (np.concatenate(ri), np.concatenate(ci))),
                      shape=(len(system.rows), n))
    lows, highs = np.array(lows), np.array(highs)
    eq = lows == highs
    rows_eq, rows_ub = np.flatnonzero(eq), np.flatnonzero(~eq)
    A_eq, b_eq = A[rows_eq], lows[rows_eq]
    A_ub = sp.vstack([A[rows_ub], -A[rows_ub]]).tocsr()
    b_ub = np.concatenate([highs[rows_ub], -lows[rows_ub]])
    lo_out = np.full(len(targets), np.nan)
    hi_out = np.full(len(targets), np.nan)
    binds: list[list[set]] = [[set(), set()] for _ in targets]
    for k, idx in enumerate(targets):
        c = np.zeros(n)
        c[np.asarray(idx)] = 1.0
        for side, sign, out in ((0, 1.0, lo_out), (1, -1.0, hi_out)):
            res = linprog(sign * c, A_ub=A_ub if A_ub.shape[0] else None, b_ub=b_ub if A_ub.shape[0] else None,
                          A_eq=A_eq if A_eq.shape[0] else None, b_eq=b_eq if A_eq.shape[0] else None,
                          bounds=(0, None), method="highs")
            if res.status == 0:
                out[k] = sign * res.fun
                if binding:
                    if len(rows_eq):
                        binds[k][side].update(system.labels[r] for r in rows_eq[np.abs(res.eqlin.marginals) > 1e-9])
                    if len(rows_ub):
                        m = np.abs(res.ineqlin.marginals)
                        hit = (m[:len(rows_ub)] > 1e-9) | (m[len(rows_ub):] > 1e-9)
                        binds[k][side].update(system.labels[r] for r in rows_ub[hit])
            elif res.status == 3:  # unbounded above
                out[k] = np.inf if sign < 0 else -np.inf
    binds = [tuple({b for b in x if b is not None} for x in pair) for pair in binds]
    return (lo_out, hi_out, binds) if binding else (lo_out, hi_out)
