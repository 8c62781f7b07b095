"""How every number of the impact family is computed, in words fit for a report's methods section."""

from __future__ import annotations

from audit.settings import Settings

__all__ = ["CUT_DIGITS", "STAT_DIGITS", "methods_text"]

#: Published thresholds (curve points, range endpoints, calibration bin bounds) are
#: rounded to this many decimal places, so that none is an individual's exact score.
CUT_DIGITS = 1
#: Published score statistics (group means, sd, medians, quantiles, calibration bin means) are
#: rounded to this many decimal places, so that no individual's exact score appears.
STAT_DIGITS = 1


def methods_text(settings: Settings, *, n_candidates: int, n_reference: int, higher_is_better: bool,
                 labels: bool, curve: bool) -> dict[str, str]:
    """How every number of the audit is computed, in words fit for a methods section."""
    alpha = settings.alpha
    min_group_size = settings.min_group_size
    disclosure_threshold = settings.disclosure_threshold
    t = settings.threshold
    level = f"{100 * (1 - alpha):g}%"
    cut = "score >= t" if higher_is_better else "score <= t"
    out = {
        "selection_rate_interval": f"Wilson score interval ({level}) for each group's rate.",
        "impact_ratio": (
            "A group's rate of the favourable outcome divided by the comparison group's (the most favoured "
            "group, and separately the reference group), computed as one division of integer products."),
        "impact_ratio_interval": (
            f"Koopman (1984) score interval ({level}) for the ratio of two independent binomial proportions, "
            "with the Miettinen-Nurminen (1985) variance factor N/(N-1) - the interval statsmodels computes "
            "with confint_proportions_2indep(compare='ratio', method='score') - solved by bisection for all "
            "groups at once. It treats the comparison group as fixed, so it describes the ratio to that group; "
            "verdicts use the selection-valid bound below. A group with no favourable outcome has ratio 0 and a "
            "finite upper bound; a comparison group with none leaves the ratio undefined (null)."),
        "most_favoured": (
            f"Per grouping and tier, the group with the highest favourable rate among groups of at least "
            f"{min_group_size} people (all groups if none is that large); ties go to the larger group. Its lead is "
            "partly luck (the highest of several observed rates), so no verdict treats it as chosen in advance."),
        "reference": ("The group given as reference, otherwise the attribute's largest group; for an intersection, "
                      "the combination of its attributes' reference groups when that group exists, otherwise the "
                      "intersection's largest group. The same rule in every section of the report."),
        "ratio_upper_bound": (
            f"A one-sided upper confidence bound for a group's ratio to the truly most favoured group, valid "
            f"whichever group that is: the smallest, over every other group of at least {min_group_size} people "
            f"(K of them), of the one-sided score upper bound of the ratio to that group at level {alpha:g}/K "
            "(Bonferroni). Since the truly best group's rate is at least every other group's, the ratio to it is "
            "at most each of these ratios, and all K bounds hold together with probability at least "
            f"{100 * (1 - alpha):g}%."),
        "verdicts": (
            f"Two verdicts, each with false discovery rate {alpha:g} over all {n_candidates} candidates of this audit "
            f"(every group of at least {min_group_size} people in every audited tier and every grouping, single "
            f"attributes and intersections): 'pushed out' - the group's rate of the favourable outcome is shown to "
            f"be below {t:g} times the best group's: the one-sided Miettinen-Nurminen score test of ratio >= {t:g} "
            "against each of the K comparators, the smallest p-value multiplied by K (a union-intersection test "
            "valid however the best group is picked; it rejects exactly when the upper bound above is below "
            f"{t:g}), then Benjamini-Hochberg q < {alpha:g}; 'below parity' - the same construction with ratio >= 1, "
            f"for a group significantly below the best group but not shown to be below {t:g}. In simulations at a "
            f"true ratio of exactly {t:g} (8 comparator groups, 2,000 people each) a group is listed as pushed out "
            "in under 1% of audits, and at a true ratio of 0.6 in every audit (tests/test_verdicts.py). "
            f"The line {t:g} is a screening rule of thumb (the EEOC's four-fifths rule when 0.8), not a legal "
            "finding."),
        "findings": (
            "An intersection's finding whose broader group (a single attribute's group, or a smaller intersection, "
            "with the same values) has a finding of at least the same verdict for the same tier is listed under it "
            "(its parent); headline counts count distinct top-level groups."),
        "test": (
            "Against the reference group: a two-sided test of equal rates in the 2x2 table (group vs reference, "
            "favourable vs not): Fisher's exact test when any expected cell count is below 5, otherwise the "
            "two-proportion score test (pooled-variance z); descriptive, with Benjamini-Hochberg q-values over "
            f"all {n_reference} comparisons with a reference group."),
        "favourable_outcome": (
            "A tier's favourable side is given in the rule file (favourable: in / out) or derived where it is "
            "unambiguous: attaining a threshold or top-k tier is favourable when higher scores are better, "
            "attaining an 'at most' tier when lower scores are better, and a band that reaches an end of the "
            "scale counts as that side of one cut. A band inside the scale has no favourable side: it is shown as a "
            "distribution and never audited for exclusion. Tiers whose favourable outcomes fall to exactly the same "
            "(or exactly the complementary) people are one fact: only the first is audited, the others are named "
            "as its aliases. selection_rate always reports the rate of attaining the tier."),
        "detection_limits": (
            f"For every single attribute's group of at least {min_group_size} people that is not pushed out of an "
            f"audited tier: the ratio to the best other group at which this audit would have listed it with "
            f"{100 * settings.power:g}% power (Farrington-Manning power of the one-sided score test against that "
            "group's observed rate, at the level one more discovery would need: alpha times (discoveries + 1) "
            "over candidates, over K). The test over all K comparators is more powerful than this one-comparator "
            "approximation, so the stated ratio is conservative: a gap this large or larger would have been found "
            "with at least the stated power. Null where even a ratio of 0 would not be."),
        "small_groups": (f"Groups with fewer than {min_group_size} people are shown but never named in a "
                         "finding, and are never a comparison group."),
        "disclosure": (
            f"The shared disclosure rule (audit.disclosure): a count k is small when 0 < k < {disclosure_threshold}; "
            "a cell of k people out of n is published only when neither k nor n - k is small (zeros are published: "
            "a complete exclusion is an aggregate finding). Before any table is built, values of a protected "
            f"attribute held by fewer than {min_group_size} people are pooled into '(other)', missing values "
            "become '(not recorded)', and a pooled group too small to publish is withheld from every table (its "
            "people counted only as 'fewer than T'), so a handful of people never hides a large group. Then, for "
            "all groupings at once: primary suppression (the cell rule; for two nested tiers, the band between "
            "them obeys it too); complementary suppression, so that no hidden cell comes back by subtracting "
            "published cells from a published total - the complement is the cell of the smallest group that "
            "holds at least five people, never a cell of a group of 1,000 or more, which is published rounded "
            "to the nearest ten instead (marked 'rounded'); and a linear-programming audit of every published "
            "size, tier count and label count together, the check statistical agencies run: for each hidden "
            "count, the smallest and largest values consistent with everything published, widened by hiding "
            "or rounding the counts that bind it until no hidden count is known to within plus or minus two. "
            "Every rate, ratio, interval, bound, test and p- or q-value is computed from the published counts "
            "(rounded ones as rounded) and withheld with any cell it rests on; a comparison uses only groups "
            "whose counts may be published, so a finding keeps its figures when the best group's counts are "
            "hidden (it is compared with the best group that can be shown, and says so). Label metrics are "
            "shown only when all four cells (TP, FP, FN, TN) can be published and the tier count is exact. "
            f"A score threshold (curve point, range endpoint, calibration bin bound) is shown only with at least "
            f"{disclosure_threshold} people of the whole population on each side of it, rounded to {CUT_DIGITS} "
            "decimal place, never the lowest or highest score. "
            f"Group means, standard deviations, medians, quantiles and calibration bin mean scores are rounded "
            f"to {STAT_DIGITS} decimal place, so that none is an individual's exact score."),
        "distributions": (
            f"Per group of at least {min_group_size} people (smaller groups: none): mean, standard deviation, "
            "quantiles 10-90% (numpy 'linear'; never the minimum or maximum). Against the reference group (when it "
            "too has that many people): "
            "standardised mean difference (difference of means over the pooled SD), Kolmogorov-Smirnov "
            "distance, and AUC = P(a random member of the group has a more favourable score than a random "
            "member of the reference group) + 0.5 P(tie), the Mann-Whitney U over n_group * n_reference. "
            + ("SMD and AUC are signed so that positive / above 0.5 means a higher score."
               if higher_is_better else
               "Lower scores are better: SMD is (reference mean - group mean) / pooled SD and AUC counts "
               "lower scores as wins, so positive / above 0.5 still means better off.")),
        "missing": "People with a missing score or a missing protected attribute are left out of that grouping.",
    }
    if curve:
        out["threshold_curve"] = (
            f"Impact ratio of every group at every distinct observed score t, the favourable outcome being "
            f"{cut}, against the most favoured eligible group at that t; from one sort and cumulative counts. "
            "Ranges list the observed scores t at which some group of at least the minimum size is below "
            f"{t:g} times the best group's rate, cut down to the thresholds that may be published (see disclosure), so a range is a run "
            "of publishable thresholds at each of which the named group is below; a cut between two observed "
            "scores behaves like the nearest observed score on the favourable side. The plot series (groups of at "
            "least the minimum size) are down-sampled to at most 200 thresholds at population quantiles. "
            f"Thresholds and range endpoints are rounded to {CUT_DIGITS} decimal place.")
    if labels:
        out["error_rates"] = (
            "Prediction = attained the tier, truth = the label (the event the tier predicts). FPR = FP/(FP+TN), "
            f"FNR = FN/(FN+TP), PPV = TP/(TP+FP), each with a Wilson interval ({level}); people without a label "
            "are left out.")
        out["calibration"] = (
            "Observed label rate per group within score bins (each distinct score when there are at most 20, "
            f"else population deciles; the outer two open-ended), with Wilson intervals ({level}). Bin bounds are "
            f"rounded to {CUT_DIGITS} decimal place.")
    return out
