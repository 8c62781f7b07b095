"""Disparate impact: who gets each tier's favourable outcome, by protected group and intersection.

The main entry point is :func:`disparate_impact`; its result,
:class:`ImpactResult`, holds the findings (who is pushed out of which tier,
or below parity), tidy tables (small counts already suppressed),
``to_frame()``, ``to_dict()`` and an HTML view.  The rate primitives live in
:mod:`audit.rates` (re-exported here for convenience), so the proxy and
network families compute the same ratios.

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

from audit.impact._audit import disparate_impact, tier_is_favourable
from audit.impact._curve import ThresholdCurve, threshold_curve
from audit.impact._family import audit_family
from audit.impact._result import ImpactResult
from audit.rates import (
    benjamini_hochberg,
    bootstrap_impact_ratios,
    compare_proportions,
    group_rates,
    impact_ratios,
    most_favoured,
    pattern_table,
    ratio_score_interval,
    ratios_to,
    wilson_interval,
)

__all__ = [
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
