"""The rates kernel: who gets the favourable outcome of each tier, by group, and how sure we can be.

One home for every rate an audit computes, so that an impact ratio means the
same thing in every section of a report (in the manner of fairlearn's
``MetricFrame``): tier directions and aliases (:func:`tier_outcomes`), counts
by group (:func:`group_rates`), the reference-group rule
(:func:`reference_codes`), the most favoured group (:func:`most_favoured`),
interval estimates and tests, the selection-valid verdict statistics
(:func:`assess_claims`) and detection limits (:func:`detectable_ratio`).
"""

from audit.rates._claims import Claims, assess_claims
from audit.rates._counts import group_rates, impact_ratios, most_favoured, pattern_table, ratios_to
from audit.rates._intervals import (
    benjamini_hochberg,
    bootstrap_impact_ratios,
    compare_proportions,
    ratio_score_interval,
    ratio_score_test,
    ratio_upper_bound,
    restricted_mle,
    wilson_interval,
)
from audit.rates._outcomes import Outcomes, tier_outcomes
from audit.rates._power import detectable_ratio, power_below
from audit.rates._reference import reference_codes, reference_values

__all__ = [
    "Claims", "Outcomes", "assess_claims", "benjamini_hochberg", "bootstrap_impact_ratios", "compare_proportions",
    "detectable_ratio", "group_rates", "impact_ratios", "most_favoured", "pattern_table", "power_below",
    "ratio_score_interval", "ratio_score_test", "ratio_upper_bound", "ratios_to", "reference_codes",
    "reference_values", "restricted_mle", "tier_outcomes", "wilson_interval",
]
