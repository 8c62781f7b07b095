"""Rare categories: pooled, or withheld with their count disclosed, so a handful of people never hides a large group.

Before any table is built, each protected attribute's values are tabulated as
follows (the report says what was done and why):

* a value held by at least ``min_group_size`` people is a group of its own;
* values held by fewer people are pooled into one group, ``(other)``, and a
  missing value becomes ``(not recorded)``;
* a pooled or not-recorded group of fewer than ``disclosure_threshold``
  people cannot be published at all, so its people are *withheld from every
  table of the audit* (not only this attribute's: otherwise the totals of
  another attribute would give their outcomes back by subtraction).  Their
  number is disclosed only as "fewer than T".

This is how NYC Local Law 144 bias audits treat categories too small to
compare (excluded, with their count reported), and it replaces the cascade in
which three people of one nationality used to suppress every figure of a
group of 78.

A protected attribute that identifies people — a key whose values are all
distinct, or a text column whose values are mostly unique — is refused: no
grouping of it can be published (numbers that are not keys are binned by
:func:`audit.groups.bin_protected` instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit._errors import AuditInputError

__all__ = ["NOT_RECORDED", "OTHER", "Pooling", "check_identifying", "pool_rare"]

OTHER = "(other)"
NOT_RECORDED = "(not recorded)"


@dataclass(frozen=True)
class Pooling:
    """What :func:`pool_rare` did, per attribute, and who is withheld from every table.

    ``pooled[attr]``: the values pooled into ``(other)`` (with how many people, as
    published: exact when at least the threshold, else None); ``withheld``: a bool
    mask of the people withheld; ``reasons``: sentences for the report.
    """

    pooled: dict[str, list[str]] = field(default_factory=dict)
    withheld: np.ndarray | None = None
    reasons: tuple[str, ...] = ()
    n_withheld: int = 0

    def withheld_text(self, threshold: int) -> str | None:
        if not self.n_withheld:
            return None
        k = self.n_withheld
        return f"fewer than {threshold}" if k < threshold else f"{k:,}"


def check_identifying(frame: pd.DataFrame, protected: Sequence[str], source: str = "data") -> None:
    """Refuse a protected attribute that identifies people (one line naming the column)."""
    for attr in protected:
        col = frame[attr].dropna()
        n = len(col)
        if n < 2:
            continue
        distinct = col.nunique()
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        integral = numeric and bool(np.all(np.asarray(col, dtype=float) == np.round(np.asarray(col, dtype=float))))
        if (distinct == n and (not numeric or integral) and n >= 20) or (not numeric and distinct > n / 2 and n >= 20):
            raise AuditInputError(
                f"{source}: protected column {attr!r} identifies people ({distinct:,} distinct values for "
                f"{n:,} people): no grouping of it can be published; give a coarser attribute or bin it")


def pool_rare(frame: pd.DataFrame, protected: Sequence[str], *, min_group_size: int,
              disclosure_threshold: int) -> tuple[pd.DataFrame, Pooling]:
    """Pool values held by fewer than ``min_group_size`` people; withhold groups that cannot be published.

    Returns a copy of ``frame`` with the protected columns re-coded (pooled
    values become ``(other)``, missing values ``(not recorded)``; withheld
    people get a missing value in every protected column) and a
    :class:`Pooling` describing it.

    Examples
    --------
    >>> import pandas as pd
    >>> people = pd.DataFrame({"gender": ["weiblich"] * 40 + ["männlich"] * 35 + ["divers"] * 5})
    >>> out, pooling = pool_rare(people, ["gender"], min_group_size=30, disclosure_threshold=10)
    >>> out["gender"].value_counts().to_dict(), int(out["gender"].isna().sum())
    ({'weiblich': 40, 'männlich': 35}, 5)
    >>> pooling.n_withheld, pooling.reasons[0]
    (5, 'gender: 1 value held by fewer than 30 people is withheld from every table because together they are fewer than 10 people; the value is not named.')
    """
    t, m = int(disclosure_threshold), int(min_group_size)
    out = frame.copy()
    withheld = np.zeros(len(frame), dtype=bool)
    pooled: dict[str, list[str]] = {}
    reasons: list[str] = []
    for attr in protected:
        col = frame[attr]
        counts = col.value_counts(dropna=True)
        rare = [v for v, k in counts.items() if k < m]
        recoded = col.astype(object).where(col.notna(), NOT_RECORDED)
        if rare:
            recoded = recoded.where(~col.isin(rare), OTHER)
            pooled[attr] = sorted(map(str, rare))
        sizes = recoded.value_counts()
        small = [g for g in (OTHER, NOT_RECORDED) if 0 < sizes.get(g, 0) < t]
        if rare:
            # The rare values are not named: a name alone can tell a reader that someone with it is in the data.
            k = int(sizes.get(OTHER, 0))
            fate = (f"withheld from every table because together they are fewer than {t} people"
                    if OTHER in small else f"pooled into one group {OTHER!r} of {k:,} people")
            plural = len(rare) != 1
            reasons.append(f"{attr}: {len(rare)} value{'s' if plural else ''} held by fewer than {m} people "
                           f"{'each ' if plural else ''}{'are' if plural else 'is'} {fate}; the value"
                           f"{'s are' if plural else ' is'} not named.")
        k_missing = int(sizes.get(NOT_RECORDED, 0))
        if k_missing:
            reasons.append(f"{attr}: people with no recorded value are "
                           + (f"withheld from every table because they are fewer than {t}."
                              if NOT_RECORDED in small else f"shown as the group {NOT_RECORDED!r} ({k_missing:,})."))
        for g in small:
            withheld |= (recoded == g).to_numpy()
        if isinstance(col.dtype, pd.CategoricalDtype):
            # Keep the order of ordered bins; the new groups go last.
            cats = [c for c in col.cat.categories if c not in rare]
            cats += [g for g in (OTHER, NOT_RECORDED) if g in set(recoded) and g not in cats]
            out[attr] = pd.Categorical(recoded, categories=cats, ordered=col.cat.ordered)
        else:
            out[attr] = recoded
    if withheld.any():
        for attr in protected:
            out.loc[withheld, attr] = None if not isinstance(out[attr].dtype, pd.CategoricalDtype) else np.nan
    return out, Pooling(pooled, withheld, tuple(reasons), int(withheld.sum()))
