"""Attach an attribution and a mechanism to every finding of an audit."""

from __future__ import annotations

import numpy as np

from audit.findings import Findings
from audit.mechanisms._attribute import AttributionPart, attribute_grouping, mechanism_of
from audit.rates import reference_codes

__all__ = ["METHODS", "attribute_findings"]

OBSERVED = "not determined: only the score's outputs are known, not its inputs"
WITHHELD = "not determined: the finding's counts cannot be published"

METHODS = {
    "attribution": (
        "Each finding's gap - the log of its impact ratio, with half a person added to each count so that a "
        "complete exclusion has a finite gap, and the same in rate points - is split among the rule's parts by "
        "Shapley values over counterfactual scores: a term (points tables) or an input column (other rules) is "
        "neutralised by giving every group of the finding's grouping the reference group's distribution of it "
        "(quantile mapping, ties at random, seeded); a term that reads the protected attribute itself is the part "
        "'protected'; the friends term is split into 'network: averaging' (everyone pulled toward the population "
        "mean by the rule's weight: compression, which hurts any group just above a cut, homophily or not) and "
        "'network: friends' (being pulled toward one's own friends rather than everyone: what homophily adds). "
        "The values are order-free and add up, with the 'residual' (the gap left when every part is neutralised), "
        "to the whole gap exactly; with more than 8 parts they are estimated from random orders and their "
        "reverses (antithetic), which still add up exactly. 'share' is a part's value over the whole gap (a share "
        "above 1 or below 0 means other parts pull the other way)."),
    "attribution_intervals": (
        "Percentile intervals from a Poisson bootstrap over people (200 replicates) that reuses every coalition's "
        "per-person outcomes, the counterfactual maps held fixed; for a rule with a friends term each interval's "
        "half-widths are multiplied by the square root of the tier's design effect (see dependence)."),
    "mechanism": (
        "The mechanism names the parts whose share interval lies at or above 0.2 (the data show the part carries "
        "at least a fifth of the gap), largest share first; 'diffuse' when none does. It is derived from the "
        "attribution alone, so it cannot contradict the table. 'auc' beside a part measures its association for "
        "the finding's two groups: the chance that a random member of the comparison group has a higher value of "
        "it than a random member of the finding's group."),
    "dependence": (
        "With a friends term, friends' outcomes are coupled. The design effect of each tier is measured by "
        "resampling own scores within the finest groups (30 replicates), solving the friends term again on the "
        "real graph, and comparing the variance of group rates (pooled over the groups of every single "
        "attribute) with the same resampling without the friends term; every interval and test of the impact "
        "family then uses effective counts (counts divided by the design effect, at least 1), and attribution "
        "intervals are widened by its square root."),
}


def _widen(parts: list[AttributionPart], factor: float) -> list[AttributionPart]:
    if factor <= 1.0:
        return parts
    out = []
    for p in parts:
        lo, hi = p.share_ci
        plo, phi = p.points_ci
        out.append(AttributionPart(p.part, p.kind, p.share,
                                   (p.share - factor * (p.share - lo), p.share + factor * (hi - p.share)), p.points,
                                   (p.points - factor * (p.points - plo), p.points + factor * (phi - p.points)),
                                   p.auc))
    return out


def attribute_findings(ctx, findings: Findings, *, permutations: int = 32, n_boot: int = 200) -> Findings:
    """Every finding with its ``attribution`` (parts sorted by share) and the ``mechanism`` derived from it."""
    if not len(findings):
        return findings
    if ctx.rule.kind == "observed":
        return findings.replace_items(f.annotate(mechanism=OBSERVED, attribution=()) for f in findings)
    refs = reference_codes(ctx.groupings, ctx.settings.reference)
    by_grouping: dict = {}
    for f in findings:
        by_grouping.setdefault(f.attributes, []).append(f)
    tiers = [t.name for t in ctx.rule.tiers]
    deff = ctx.design_effect
    results: dict = {}
    for g in ctx.groupings:
        fs = by_grouping.get(tuple(g.attributes))
        if not fs:
            continue
        results.update(attribute_grouping(ctx, g, refs[g.key], fs, clusters=None, permutations=permutations,
                                          n_boot=n_boot, alpha=ctx.settings.alpha, seed=ctx.settings.seed))
    out = []
    for f in findings:
        hit = results.get(f.key)
        if hit is None:
            out.append(f.annotate(mechanism=WITHHELD if not f.published else "diffuse", attribution=()))
            continue
        parts, method, gap, points = hit
        if deff is not None:
            parts = _widen(parts, float(np.sqrt(deff[tiers.index(f.tier)])))
        out.append(f.annotate(mechanism=mechanism_of(parts), attribution=tuple(parts),
                              attribution_method=method, gap=gap, gap_points=points))
    return findings.replace_items(out)
