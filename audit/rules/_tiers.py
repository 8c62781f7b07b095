"""Benefit tiers: what a score unlocks, and who attains it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from audit._errors import AuditInputError

__all__ = ["Tier", "attainment"]


@dataclass(frozen=True)
class Tier:
    """A benefit unlocked by the score.

    Exactly one way of drawing the line is used:

    * ``threshold`` — attained when ``score >= threshold`` (and, if ``at_most`` is
      also given, ``score <= at_most``: a band such as COMPAS "Medium", 5–7);
    * ``at_most`` alone — attained when ``score <= at_most`` (a favourable *low*
      band of a risk score, such as COMPAS "Low", 1–4);
    * ``top_k`` / ``top_fraction`` — attained by the people whose score is at
      least the k-th highest score (k = ``ceil(top_fraction * n)``).  Everyone
      tied at the cut is included, so slightly more than k people may attain
      it; this keeps the result independent of row order.

    ``favourable`` says which side of the tier is good news for the person
    scored: ``"in"`` (attaining it: a benefit, a low-risk band) or ``"out"``
    (avoiding it: a high-risk band, a blacklist).  When it is not given it is
    derived where that is unambiguous (see :meth:`direction`); a band in the
    middle of the scale has no favourable side of its own and is shown as a
    distribution, never audited for exclusion.

    Examples
    --------
    >>> import numpy as np
    >>> from audit.rules import Tier
    >>> Tier("car rental", threshold=650).attained(np.array([600.0, 650.0, 700.0])).tolist()
    [False, True, True]
    >>> Tier("top", top_k=1).attained(np.array([1.0, 3.0, 3.0])).tolist()
    [False, True, True]
    """

    name: str
    benefit: str = ""
    threshold: float | None = None
    at_most: float | None = None
    top_k: int | None = None
    top_fraction: float | None = None
    source: str | None = None
    illustrative: bool = False
    favourable: str | None = None
    context: str | None = None

    def __post_init__(self) -> None:
        if self.favourable not in (None, "in", "out"):
            raise AuditInputError(f"tier {self.name!r}: favourable must be 'in' or 'out', got {self.favourable!r}")
        cut = self.threshold is not None or self.at_most is not None
        ranked = (self.top_k is not None) + (self.top_fraction is not None)
        if cut + ranked != 1:
            raise AuditInputError(
                f"tier {self.name!r}: give exactly one of threshold/at_most, top_k or top_fraction"
            )
        if self.top_k is not None and self.top_k < 1:
            raise AuditInputError(f"tier {self.name!r}: top_k must be at least 1")
        if self.top_fraction is not None and not 0 < self.top_fraction <= 1:
            raise AuditInputError(f"tier {self.name!r}: top_fraction must be in (0, 1]")

    @property
    def is_ranked(self) -> bool:
        return self.top_k is not None or self.top_fraction is not None

    @property
    def is_band(self) -> bool:
        """Both ends drawn: ``threshold <= score <= at_most``."""
        return self.threshold is not None and self.at_most is not None

    def direction(self, higher_is_better: bool = True,
                  score_range: tuple[float, float] | None = None) -> bool | None:
        """Whether attaining the tier is the favourable outcome (True), avoiding it is (False), or neither (None).

        An explicit ``favourable`` decides.  Otherwise the direction is derived
        only where the tier is one side of a single cut of the scale: a
        threshold or a top-k cut (the upper side), ``at_most`` alone (the lower
        side), or a band that reaches an end of the rule's ``score_range`` (it
        is then the upper or the lower side).  The upper side is favourable
        when higher scores are better, the lower side when lower scores are.
        A band strictly inside the scale (COMPAS "Medium", deciles 5-7) has no
        favourable side: None.

        Examples
        --------
        >>> Tier("Low", at_most=4).direction(higher_is_better=False)
        True
        >>> Tier("High", threshold=8).direction(higher_is_better=False)
        False
        >>> print(Tier("Medium", threshold=5, at_most=7).direction(False, (1, 10)))
        None
        >>> Tier("FTA 1", threshold=1, at_most=1).direction(False, (1, 6))
        True
        """
        if self.favourable is not None:
            return self.favourable == "in"
        if self.is_ranked or (self.threshold is not None and self.at_most is None):
            return bool(higher_is_better)
        if self.at_most is not None and self.threshold is None:
            return not higher_is_better
        if score_range is not None:
            low, high = score_range
            if self.at_most >= high:  # the band is the upper side of the cut at `threshold`
                return bool(higher_is_better)
            if self.threshold <= low:  # the lower side of the cut at `at_most`
                return not higher_is_better
        return None

    def describe(self) -> str:
        """The rule in words, e.g. ``"score >= 650"`` or ``"top 1% of scores"``."""
        if self.top_k is not None:
            return f"top {self.top_k} scores"
        if self.top_fraction is not None:
            return f"top {self.top_fraction:.4g} of scores".replace(
                f"{self.top_fraction:.4g} of", f"{100 * self.top_fraction:.4g}% of"
            )
        if self.threshold is not None and self.at_most is not None:
            return f"{self.threshold:g} <= score <= {self.at_most:g}"
        if self.threshold is not None:
            return f"score >= {self.threshold:g}"
        return f"score <= {self.at_most:g}"

    def cutoff(self, scores: np.ndarray) -> float:
        """The score at which a ranked tier is cut in this population."""
        scores = np.asarray(scores, dtype=float)
        n = len(scores)
        if n == 0:
            return np.inf
        k = self.top_k if self.top_k is not None else int(np.ceil(self.top_fraction * n))
        k = min(max(k, 1), n)
        # k-th highest = (n-k)-th smallest; partition is O(n), no full sort needed.
        return float(np.partition(scores, n - k)[n - k])

    def attained(self, scores: np.ndarray) -> np.ndarray:
        """Boolean mask of the people who attain this tier."""
        scores = np.asarray(scores, dtype=float)
        if self.is_ranked:
            return scores >= self.cutoff(scores)
        mask = np.ones(len(scores), dtype=bool)
        if self.threshold is not None:
            mask &= scores >= self.threshold
        if self.at_most is not None:
            mask &= scores <= self.at_most
        return mask


def attainment(tiers: Sequence[Tier], scores: np.ndarray) -> np.ndarray:
    """Boolean matrix (n, len(tiers)): who attains each tier."""
    scores = np.asarray(scores, dtype=float)
    out = np.empty((len(scores), len(tiers)), dtype=bool)
    for j, tier in enumerate(tiers):
        out[:, j] = tier.attained(scores)
    return out
