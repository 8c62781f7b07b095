"""The favourable outcome of every tier: which side is good news, and which tiers state the same fact.

Every audit family asks "who gets the favourable outcome of this tier?".  This
module answers it once per audit, so that an impact ratio means the same thing
in every section of a report:

* a tier's *direction* (:meth:`audit.rules.Tier.direction`): attaining it is
  favourable (a benefit, a low-risk band), avoiding it is (a high-risk band),
  or neither (a band in the middle of the scale, which is shown as a
  distribution and never audited for exclusion);
* *aliases*: two tiers whose favourable outcomes fall to exactly the same
  people, or to exactly the complementary people, on the audited population
  (COMPAS "Low" = deciles 1-4 and "Higher risk" = deciles 5-10) are one fact.
  Only the first is audited; the other is named as its alias, so no finding is
  counted twice.  A tier whose favourable outcome goes to everybody or to nobody
  is never an alias (it would trivially "equal" every other such tier).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from audit.rules import Tier

__all__ = ["Outcomes", "tier_outcomes"]

#: Why a tier is not audited, in words for a report.
MIDDLE_BAND = ("a band inside the scale: neither attaining nor avoiding it is stated to be favourable "
               "(set `favourable: in` or `out` in the rule file to audit it)")


@dataclass(frozen=True, eq=False)
class Outcomes:
    """Who gets the favourable outcome of each audited tier.

    Attributes
    ----------
    tiers : tuple of Tier
        Every tier of the rule, in rule order.
    direction : tuple of (bool or None)
        Per tier: attaining it is favourable (True), avoiding it is (False), neither (None).
    alias_of : tuple of (int or None)
        Per tier: the index of the audited tier whose favourable outcome falls to
        the same people (or to exactly the others), else None.
    alias_kind : tuple of (str or None)
        ``"same"`` or ``"complement"`` where ``alias_of`` is set.
    attainment : ndarray of bool, shape (n, T)
        Who attains each tier.
    scored : ndarray of bool, shape (n,)
        People with a score (the others attain nothing and are left out).

    Examples
    --------
    >>> import numpy as np
    >>> from audit.rules import Tier
    >>> tiers = [Tier("Low", at_most=4), Tier("Medium", threshold=5, at_most=7), Tier("Higher", threshold=5)]
    >>> scores = np.array([1.0, 3, 5, 6, 8, 10])
    >>> out = tier_outcomes(tiers, scores, higher_is_better=False, score_range=(1, 10))
    >>> out.audited, out.alias_of, out.direction
    ((0,), (None, None, 0), (True, None, False))
    >>> out.favourable[:, 0].tolist()
    [True, True, False, False, False, False]
    """

    tiers: tuple[Tier, ...]
    direction: tuple[bool | None, ...]
    alias_of: tuple[int | None, ...]
    alias_kind: tuple[str | None, ...]
    attainment: np.ndarray
    scored: np.ndarray

    @property
    def audited(self) -> tuple[int, ...]:
        """Indices of the tiers audited for exclusion: a known direction and not an alias."""
        return tuple(j for j, (d, a) in enumerate(zip(self.direction, self.alias_of, strict=True))
                     if d is not None and a is None)

    @property
    def favourable(self) -> np.ndarray:
        """Bool (n, A): who gets the favourable outcome of each audited tier (False where unscored)."""
        cols = [self.favourable_of(j) for j in self.audited]
        if not cols:
            return np.zeros((len(self.scored), 0), dtype=bool)
        return np.column_stack(cols)

    @property
    def audited_tiers(self) -> tuple[Tier, ...]:
        """The audited tiers with their favourable side stated (for families that compare outcomes)."""
        return tuple(replace(self.tiers[j], favourable="in" if self.direction[j] else "out") for j in self.audited)

    def favourable_of(self, j: int) -> np.ndarray:
        """Bool (n,): the favourable outcome of tier ``j`` (which must have a direction)."""
        d = self.direction[j]
        if d is None:
            raise ValueError(f"tier {self.tiers[j].name!r} has no favourable side")
        att = self.attainment[:, j]
        return att.copy() if d else (~att & self.scored)

    def status(self, j: int) -> str:
        """``"audited"``, ``"alias"`` or ``"distribution"`` (a band with no favourable side)."""
        if self.direction[j] is None:
            return "distribution"
        return "alias" if self.alias_of[j] is not None else "audited"

    def reason(self, j: int) -> str | None:
        """Why tier ``j`` is not audited on its own, in words (None when it is)."""
        if self.direction[j] is None:
            return MIDDLE_BAND
        a = self.alias_of[j]
        if a is None:
            return None
        other = self.tiers[a].name
        if self.alias_kind[j] == "same":
            return f"its favourable outcome falls to exactly the same people as {other!r}'s: audited as {other!r}"
        return (f"its favourable outcome falls to exactly the people who do not get {other!r}'s: one fact, "
                f"audited as {other!r}")

    def aliases(self, j: int) -> tuple[str, ...]:
        """Names of the tiers that are aliases of audited tier ``j``."""
        return tuple(t.name for t, a in zip(self.tiers, self.alias_of, strict=True) if a == j)


def tier_outcomes(tiers: Sequence[Tier], scores: np.ndarray, *, higher_is_better: bool = True,
                  score_range: tuple[float, float] | None = None, attainment: np.ndarray | None = None,
                  directions: Sequence[bool | None] | None = None) -> Outcomes:
    """Directions, aliases and attainment of every tier on one population.

    Parameters
    ----------
    tiers : sequence of Tier
    scores : ndarray of float, shape (n,)
        Final scores; NaN = no score (attains nothing, left out of alias checks).
    higher_is_better : bool, default True
    score_range : (low, high), optional
        The rule's scale, so that a band reaching an end has a direction.
    attainment : ndarray of bool, shape (n, T), optional
        Who attains each tier (default: computed from ``scores``).
    directions : sequence of (bool or None), optional
        Override the derived directions (e.g. :attr:`audit.rules.Rule.tier_directions`).
    """
    from audit.rules import attainment as tier_attainment

    tiers = tuple(tiers)
    s = np.asarray(scores, dtype=float)
    scored = ~np.isnan(s)
    if attainment is None:
        att = np.zeros((len(s), len(tiers)), dtype=bool)
        if scored.any():
            att[scored] = tier_attainment(tiers, s[scored])
    else:
        att = np.asarray(attainment, dtype=bool).reshape(len(s), len(tiers))
        att = att & scored[:, None]
    if directions is None:
        directions = tuple(t.direction(higher_is_better, score_range) for t in tiers)
    directions = tuple(None if d is None else bool(d) for d in directions)
    alias_of: list[int | None] = [None] * len(tiers)
    kind: list[str | None] = [None] * len(tiers)
    seen: dict[bytes, tuple[int, str]] = {}
    for j, d in enumerate(directions):
        if d is None:
            continue
        fav = att[scored, j] if d else ~att[scored, j]
        if fav.all() or not fav.any():
            continue  # a tier nobody (or everybody) gets says nothing about any other tier
        key, comp = np.packbits(fav).tobytes(), np.packbits(~fav).tobytes()
        if key in seen:
            alias_of[j], kind[j] = seen[key][0], "same"
        elif comp in seen:
            alias_of[j], kind[j] = seen[comp][0], "complement"
        else:
            seen[key] = (j, "same")
    return Outcomes(tiers, directions, tuple(alias_of), tuple(kind), att, scored)
