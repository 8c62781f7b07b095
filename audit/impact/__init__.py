"""Disparate impact: who attains each tier of a score, by protected group and intersection.

The main entry point is :func:`disparate_impact`; its result,
:class:`ImpactResult`, holds tidy tables (small counts already suppressed),
the pushed-out list, ``to_frame()``, ``to_dict()`` and an HTML view.

The building blocks :func:`group_rates` and :func:`impact_ratios` are pure
numpy (one ``bincount`` per grouping) so that the proxy and contagion audits
can call them thousands of times, e.g. once per counterfactual score.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from audit.groups import build_groupings
>>> from audit.impact import disparate_impact
>>> from audit.rules import Tier
>>> people = pd.DataFrame({"sex": ["f"] * 60 + ["m"] * 60})
>>> scores = np.r_[np.linspace(500, 700, 60), np.linspace(600, 800, 60)]
>>> result = disparate_impact(scores, build_groupings(people, ["sex"]), [Tier("loan", threshold=650)])
>>> result.to_frame()[["group", "tier", "selection_rate", "impact_ratio"]].round(3)
   group  tier  selection_rate  impact_ratio
0  sex=f  loan            0.25         0.333
1  sex=m  loan            0.75         1.000
"""

from __future__ import annotations

from typing import Any

from audit.impact._audit import disparate_impact, tier_is_favourable
from audit.impact._core import group_rates, impact_ratios, most_favoured, pattern_table, ratios_to
from audit.impact._curve import ThresholdCurve, threshold_curve
from audit.impact._result import FOUR_FIFTHS, ImpactResult
from audit.impact._stats import (
    benjamini_hochberg,
    bootstrap_impact_ratios,
    compare_proportions,
    ratio_score_interval,
    wilson_interval,
)

__all__ = [
    "FOUR_FIFTHS",
    "ImpactResult",
    "ThresholdCurve",
    "audit_family",
    "benjamini_hochberg",
    "bootstrap_impact_ratios",
    "compare_proportions",
    "disparate_impact",
    "group_rates",
    "impact_ratios",
    "most_favoured",
    "pattern_table",
    "ratio_score_interval",
    "ratios_to",
    "threshold_curve",
    "tier_is_favourable",
    "wilson_interval",
]


def audit_family(ctx: Any, **options: Any) -> ImpactResult:
    """Run :func:`disparate_impact` on an :class:`audit._run.AuditContext` (used by ``audit.run``).

    ``options`` are passed on (``curve``, ``favourable``).
    """
    return disparate_impact(
        ctx.scores.final, ctx.groupings, ctx.rule.tiers, attainment=ctx.attainment, labels=ctx.labels,
        higher_is_better=ctx.rule.higher_is_better, reference=ctx.reference,
        min_group_size=ctx.min_group_size, disclosure_threshold=ctx.disclosure_threshold, alpha=ctx.alpha,
        **options,
    )
