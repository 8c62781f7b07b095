"""One finding: a group that gets a tier's favourable outcome less often than the best group, with its evidence."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from audit.groups import json_float, json_value

__all__ = ["Finding", "Verdict"]


class Verdict(enum.StrEnum):
    """What a report may say about a group and a tier.

    ``PUSHED_OUT``: the selection-valid upper bound of its ratio to the truly
    best group is below the screening line (0.8 by default), and the claim
    survives the audit-wide false-discovery-rate control.
    ``BELOW_PARITY``: its rate is significantly below the best group's (same
    control), but it is not shown to be below the line.
    """

    PUSHED_OUT = "pushed out"
    BELOW_PARITY = "below parity"

    def __str__(self) -> str:
        return self.value


def _group(items: Mapping[str, Any] | tuple) -> tuple[tuple[str, Any], ...]:
    pairs = items.items() if isinstance(items, Mapping) else items
    return tuple((str(a), json_value(v)) for a, v in pairs)


@dataclass(frozen=True)
class Finding:
    """A group that gets a tier's favourable outcome less often than the best group.

    The figures are the audit's own (unrounded); :meth:`to_dict` rounds them
    for publication and withholds them when ``published`` is False (a cell
    behind them cannot be published under the disclosure rule).

    Attributes
    ----------
    attributes : tuple of str
        The grouping, e.g. ``("ethnicity",)`` or ``("gender", "ethnicity")``.
    group, comparator : tuple of (attribute, value) pairs
        The group, and the most favoured group it is compared with.
    tier : str
        The audited tier; ``aliases`` names tiers that are the same fact.
    verdict : Verdict
    outcome : str
        The favourable outcome in words (``attains 'Car rental'``, ``is not placed in 'High'``).
    n, favourable_count, comparator_n, comparator_favourable_count : int
    impact_ratio, ci_low, ci_high : float
        Ratio of the two rates and its two-sided score interval (comparator treated as fixed).
    ratio_upper_bound : float
        Selection-valid one-sided upper bound of the ratio to the truly best group.
    simultaneous_upper_bound : float
        The same bound made valid for every candidate of the audit at once
        (Bonferroni over all of them), so it stays valid for a finding picked
        as the most extreme of many (a report's "largest gap").
    candidates : int
        K, the number of groups the best group could have been.
    p_value, q_value : float
        Selection-adjusted one-sided p-value, and its Benjamini-Hochberg q-value,
        for the ratio being below the screening line.
    parity_p_value, parity_q_value : float
        The same for the rate being below the best group's at all.
    parent : tuple, optional
        For an intersection: the broader group (attributes, group pairs) with a
        finding for the same tier under which this finding is listed.
    mechanism, top_proxies, impact_ratio_without_network, impact_ratio_rewired
        Set by the proxy and network families (:meth:`annotate`).
    published : bool
        False when a cell behind the figures cannot be published.
    n_published : bool
        Whether the group's size may be published (it may when only a tier cell is small).
    comparator_is_best : bool
        False when the group with the highest observed rate cannot be published and the finding
        is compared with the best group that can.
    rounded : bool
        Some count behind the figures is published rounded to the nearest ten (disclosure control),
        and every figure is computed from the published counts.
    attribution : tuple of AttributionPart
        The gap split among the rule's parts (:mod:`audit.mechanisms`), largest share first; ``mechanism``
        is derived from it.
    gap, gap_points : float
        The whole gap the attribution splits: log of the ratio (half a person added to each count), and
        the difference of rates in points.
    sensitivity : tuple of dict
        The ratio and verdict with each group of the rule's illustrative numbers changed
        (:mod:`audit.mechanisms`); ``fragile`` is True when some variant changes the verdict.
    """

    attributes: tuple[str, ...]
    group: tuple[tuple[str, Any], ...]
    tier: str
    verdict: Verdict
    outcome: str
    n: int
    favourable_count: int
    comparator: tuple[tuple[str, Any], ...]
    comparator_n: int
    comparator_favourable_count: int
    impact_ratio: float
    ci_low: float
    ci_high: float
    ratio_upper_bound: float
    candidates: int
    p_value: float
    q_value: float
    parity_p_value: float
    parity_q_value: float
    threshold: float = 0.8
    simultaneous_upper_bound: float = float("nan")
    aliases: tuple[str, ...] = ()
    parent: tuple | None = None
    mechanism: str = "direct"
    top_proxies: tuple = ()
    impact_ratio_without_network: float | None = None
    impact_ratio_rewired: float | None = None
    published: bool = True
    n_published: bool = True
    comparator_is_best: bool = True
    rounded: bool = False
    attribution: tuple = ()
    attribution_kinds: tuple = ()
    attribution_method: str | None = None
    gap: float | None = None
    gap_points: float | None = None
    sensitivity: tuple = ()
    fragile: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "group", _group(self.group))
        object.__setattr__(self, "comparator", _group(self.comparator))
        object.__setattr__(self, "verdict", Verdict(self.verdict))

    # ------------------------------------------------------------------ derived
    @property
    def key(self) -> tuple:
        """(attributes, group pairs, tier): unique within one audit."""
        return (self.attributes, self.group, self.tier)

    @property
    def group_dict(self) -> dict[str, Any]:
        return dict(self.group)

    @property
    def rate(self) -> float:
        return self.favourable_count / self.n if self.n else float("nan")

    @property
    def comparator_rate(self) -> float:
        return self.comparator_favourable_count / self.comparator_n if self.comparator_n else float("nan")

    @property
    def is_intersection(self) -> bool:
        return len(self.attributes) > 1

    @property
    def top_level(self) -> bool:
        """Not listed under a broader group's finding."""
        return self.parent is None

    def name(self) -> str:
        """``gender=female & ethnicity=minority A``."""
        return " & ".join(f"{a}={v}" for a, v in self.group)

    def annotate(self, **changes: Any) -> Finding:
        """A copy with the given fields changed (findings are immutable)."""
        return replace(self, **changes)

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (no NaN); figures are None when the finding's cells cannot be published."""
        pub = self.published

        def f(x: Any, digits: int = 10) -> Any:
            return json_float(x, digits) if pub else None

        def p(x: Any) -> Any:
            # p- and q-values keep 6 significant digits however small they are.
            x = json_float(x) if pub else None
            return x if x is None or x == 0 else float(f"{x:.6g}")

        out: dict[str, Any] = {
            "verdict": self.verdict.value,
            "attributes": list(self.attributes),
            "group": dict(self.group),
            "tier": self.tier,
            "aliases": list(self.aliases),
            "outcome": self.outcome,
            "n": self.n if pub or self.n_published else None,
            "favourable_count": self.favourable_count if pub else None,
            "selection_rate": f(self.rate),
            "reference_group": dict(self.comparator),
            "reference_is_most_favoured": self.comparator_is_best,
            "rounded": self.rounded,
            "reference_n": self.comparator_n if pub else None,
            "reference_favourable_count": self.comparator_favourable_count if pub else None,
            "reference_rate": f(self.comparator_rate),
            "impact_ratio": f(self.impact_ratio),
            "ci_low": f(self.ci_low),
            "ci_high": f(self.ci_high),
            "ratio_upper_bound": f(self.ratio_upper_bound),
            "simultaneous_upper_bound": f(self.simultaneous_upper_bound),
            "threshold": self.threshold,
            "selection_candidates": self.candidates if pub else None,
            "p_value": p(self.p_value),
            "q_value": p(self.q_value),
            "parity_p_value": p(self.parity_p_value),
            "parity_q_value": p(self.parity_q_value),
            "parent": None if self.parent is None else {
                "attributes": list(self.parent[0]), "group": dict(self.parent[1])},
            "mechanism": self.mechanism,
            "attribution": [p.to_dict() for p in self.attribution] if pub else [],
            "attribution_kinds": [p.to_dict() for p in self.attribution_kinds] if pub else [],
            "attribution_method": self.attribution_method if pub else None,
            "gap": f(self.gap, 4) if self.gap is not None else None,
            "gap_points": f(self.gap_points, 4) if self.gap_points is not None else None,
            "sensitivity": [dict(x) for x in self.sensitivity] if pub else [],
            "fragile": self.fragile if pub else None,
            "top_proxies": [dict(t) for t in self.top_proxies],
            "impact_ratio_without_network": (None if self.impact_ratio_without_network is None
                                             else f(self.impact_ratio_without_network, 4)),
            "impact_ratio_rewired": None if self.impact_ratio_rewired is None else f(self.impact_ratio_rewired, 4),
            "suppressed": not pub,
        }
        return out
