"""Attach an attribution and a mechanism to every finding of an audit."""

from __future__ import annotations

import numpy as np

from audit._progress import track
from audit.findings import Findings
from audit.mechanisms._attribute import AttributionPart, attribute_grouping, mechanism_of
from audit.mechanisms._sensitivity import sensitivity
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
        "The mechanism names the kinds of part whose share interval lies at or above 0.2 (the data show they "
        "carry at least a fifth of the gap) - the rule's terms or inputs together, the protected attribute, the "
        "friends term's averaging, its friends part - largest share first, and within the terms the terms whose "
        "own interval clears the same bar; 'diffuse' when no kind does. It is derived from the attribution alone, "
        "so it cannot contradict the table. 'auc' beside a part measures its association for "
        "the finding's two groups: the chance that a random member of the comparison group has a higher value of "
        "it than a random member of the finding's group."),
    "sensitivity": (
        "For the most excluded findings, the rule is re-scored with each group of the numbers its file marks "
        "illustrative changed - the network weight halved and increased by half, the illustrative terms' points "
        "halved and increased by half, illustrative cut-offs moved by 5% of the score range (a top fraction halved "
        "and doubled) - and the ratio and verdict recomputed by the same machinery on the same people; a finding "
        "whose verdict changes under some variant is marked fragile."),
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


def attribute_findings(ctx, findings: Findings, *, permutations: int = 32, n_boot: int = 200,
                       sensitivity_limit: int = 12) -> Findings:
    """Every finding with its ``attribution`` (parts sorted by share) and the ``mechanism`` derived from it.

    The ``sensitivity_limit`` most excluded top-level pushed-out findings also get their sensitivity to the
    rule's illustrative numbers (and ``fragile``).
    """
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
    todo = [g for g in ctx.groupings if by_grouping.get(tuple(g.attributes))]
    for g in track(todo, total=len(todo), description="attribution, grouping by grouping"):
        fs = by_grouping[tuple(g.attributes)]
        results.update(attribute_grouping(ctx, g, refs[g.key], fs, clusters=None, permutations=permutations,
                                          n_boot=n_boot, alpha=ctx.settings.alpha, seed=ctx.settings.seed))
    out = []
    for f in findings:
        hit = results.get(f.key)
        if hit is None:
            out.append(f.annotate(mechanism=WITHHELD if not f.published else "diffuse", attribution=()))
            continue
        parts, method, gap, points, kinds = hit
        if deff is not None:
            factor = float(np.sqrt(deff[tiers.index(f.tier)]))
            parts, kinds = _widen(parts, factor), _widen(kinds, factor)
        out.append(f.annotate(mechanism=mechanism_of(parts, kinds), attribution=tuple(parts),
                              attribution_kinds=tuple(kinds), attribution_method=method, gap=gap,
                              gap_points=points))
    head = [f for f in out if f.verdict.value == "pushed out" and f.parent is None and f.published]
    head = sorted(head, key=lambda f: (f.impact_ratio, f.key))[:sensitivity_limit]
    if head:
        sens = sensitivity(ctx, head)
        if any(sens.values()):
            keyed = {f.key: f for f in out}
            for key, rows in sens.items():
                if rows:
                    f = keyed[key]
                    keyed[key] = f.annotate(sensitivity=tuple(rows),
                                            fragile=any(r["verdict"] != f.verdict.value for r in rows))
            out = [keyed[f.key] for f in out]
    return findings.replace_items(out)
