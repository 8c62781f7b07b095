"""Sensitivity of findings to a rule's illustrative numbers: does a verdict survive other plausible values?

A rule file marks the numbers its sources do not give as ``illustrative``.  A finding that rests on them
should say how much: the rule is re-scored with each illustrative group of numbers changed — the network
weight halved and increased by half, the points of the illustrative terms halved and increased by half,
the illustrative cut-offs moved by 5% of the score range (a top fraction halved and doubled) — and the
finding's ratio and verdict recomputed by the impact family's own machinery on the same people.  A finding
whose verdict changes under any variant is *fragile*.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from audit._progress import track

__all__ = ["sensitivity", "variants"]


def variants(rule) -> list[tuple[str, object]]:
    """(label, rule) pairs: the rule with each group of illustrative numbers changed."""
    out = []
    net = rule.network
    if net is not None and net.illustrative:
        for f in (0.5, 1.5):
            w = min(net.weight * f, 0.95)
            out.append((f"network weight {w:g} (stated {net.weight:g})", rule.with_network(w)))
    ill = [t for t in rule.terms if t.illustrative]
    if ill and rule.is_additive:
        ids = {t.id for t in ill}
        for f in (0.5, 1.5):
            terms = tuple(replace(t, points=t.points * f) if t.id in ids else t for t in rule.terms)
            out.append((f"illustrative points x{f:g} ({len(ill)} term{'s' if len(ill) != 1 else ''})",
                        rule.with_terms(terms)))
    cut_tiers = [t for t in rule.tiers if t.illustrative]
    if cut_tiers:
        span = (rule.range[1] - rule.range[0]) if rule.range is not None else None
        for sign in (-1, 1):
            tiers = []
            for t in rule.tiers:
                if not t.illustrative:
                    tiers.append(t)
                elif t.top_fraction is not None:
                    tiers.append(replace(t, top_fraction=min(1.0, t.top_fraction * (2.0 if sign > 0 else 0.5))))
                elif span is not None and (t.threshold is not None or t.at_most is not None):
                    d = 0.05 * span * sign
                    tiers.append(replace(t, threshold=None if t.threshold is None else t.threshold + d,
                                         at_most=None if t.at_most is None else t.at_most + d))
                else:
                    tiers.append(t)
            word = "higher" if sign > 0 else "lower"
            out.append((f"illustrative cut-offs {word} (5% of the range; top fractions x{2 if sign > 0 else 0.5:g})",
                        rule.with_tiers(tiers)))
    return out


def sensitivity(ctx, findings) -> dict:
    """{finding key: [{variant, impact_ratio, ratio_upper_bound, verdict}]} for the given findings."""
    from audit.impact import disparate_impact
    from audit.rates import tier_outcomes

    if not findings or ctx.rule.kind == "observed":
        return {}
    attrs = {f.attributes for f in findings}
    groupings = [g for g in ctx.groupings if tuple(g.attributes) in attrs]
    out: dict = {f.key: [] for f in findings}
    cases = list(variants(ctx.rule))
    for label, rule in track(cases, total=len(cases), description="sensitivity to illustrative numbers"):
        scores = rule.scores(ctx.frame, ctx.graph)
        outcomes = tier_outcomes(rule.tiers, scores.final, attainment=rule.attainment(scores.final),
                                 directions=rule.tier_directions)
        # Internal comparison only: nothing of a variant is published but the finding's ratio, rounded.
        res = disparate_impact(scores.final, groupings, rule.tiers, outcomes=outcomes,
                               higher_is_better=rule.higher_is_better, settings=ctx.settings.replace(
                                   disclosure_threshold=0), curve=False, design_effect=ctx.design_effect)
        rates = res.rates.set_index(["grouping", "group", "tier"])
        verdicts = {f.key: f.verdict.value for f in res.findings}
        for f in findings:
            row = (" & ".join(f.attributes), f.name(), f.tier)
            ratio = ub = None
            if row in rates.index:
                r = rates.loc[row]
                ratio = None if np.isnan(r["impact_ratio"]) else round(float(r["impact_ratio"]), 2)
                ub = None if np.isnan(r["ratio_upper_bound"]) else round(float(r["ratio_upper_bound"]), 2)
            out[f.key].append({"variant": label, "impact_ratio": ratio, "ratio_upper_bound": ub,
                               "verdict": verdicts.get(f.key)})
    return out
