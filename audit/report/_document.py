"""Build the report document (exactly what report.json holds) from an audit's results."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

import numpy as np

from audit._version import __version__

SCHEMA_VERSION = "1.0.0"
_PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn", "fairlearn", "statsmodels", "networkx")


def _versions() -> dict:
    out = {"python": platform.python_version(), "scoring-rule-audit": __version__}
    for p in _PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def _f(x: float) -> float | None:
    x = float(x)
    return round(x, 10) if np.isfinite(x) else None


def score_overview(ctx) -> list[dict]:
    """Per group of each single protected attribute: size, mean own and final score, tier attainment."""
    t = ctx.disclosure_threshold
    own, final = ctx.scores.own, ctx.scores.final
    out = []
    for g in ctx.groupings:
        if len(g.attributes) != 1:
            continue
        means_own, means_final = g.means(own), g.means(final)
        att = g.means(ctx.attainment.astype(float))
        for code in range(g.n_groups):
            n = int(g.counts[code])
            small = n < t
            out.append({
                "attributes": list(g.attributes),
                "group": g.label(code),
                "n": None if small else n,
                "suppressed": small,
                "mean_own_score": None if small else _f(means_own[code]),
                "mean_final_score": None if small else _f(means_final[code]),
                "tier_attainment": {tier.name: (None if small else _f(att[code, j]))
                                    for j, tier in enumerate(ctx.rule.tiers)},
            })
    return out


def build_document(ctx, results: dict[str, Any]) -> dict:
    """Arrange the results into the versioned report document."""
    rule, pop, graph = ctx.rule, ctx.population, ctx.graph
    t = ctx.disclosure_threshold
    impact = results.get("impact")
    pushed_out = impact.pushed_out() if impact is not None else []
    for name in ("proxy", "contagion"):
        res = results.get(name)
        if res is not None and hasattr(res, "annotate_pushed_out"):
            pushed_out = res.annotate_pushed_out(pushed_out)
    groups = {}
    for g in ctx.groupings:
        if len(g.attributes) == 1:
            groups[g.attributes[0]] = [
                {"group": g.label(c), "n": int(g.counts[c]) if g.counts[c] >= t else None,
                 "share": _f(g.counts[c] / pop.n) if g.counts[c] >= t else None,
                 "suppressed": bool(g.counts[c] < t)}
                for c in range(g.n_groups)
            ]
    notes = []
    if ctx.protected_read_by_rule:
        notes.append("the rule reads protected attribute(s) directly: " + ", ".join(ctx.protected_read_by_rule))
    if rule.network is not None and graph is None:
        notes.append("the rule has a network term but no graph was given: scores are own-behaviour scores only")
    doc = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "scoring-rule-audit", "version": __version__},
        "pushed_out": pushed_out,
        "rule": rule.to_card(),
        "population": {
            "source": pop.source,
            "rows": pop.n,
            "data_hash": pop.data_hash,
            "id_column": pop.id_col,
            "protected": list(ctx.protected),
            "label": ctx.label,
            "groups": groups,
        },
        "graph": None if graph is None else {
            "source": graph.source,
            "nodes": graph.n_nodes,
            "edges": graph.n_edges,
            "mean_degree": _f(2 * graph.n_edges / max(graph.n_nodes, 1)),
            "isolates": int((graph.degree == 0).sum()),
            "dropped_self_loops": graph.dropped_self_loops,
            "dropped_duplicates": graph.dropped_duplicates,
            "graph_hash": graph.content_hash,
        },
        "scores": {
            "network_applied": ctx.scores.network_applied,
            "network_iterations": ctx.scores.iterations,
            "by_group": score_overview(ctx),
        },
        "impact": impact.to_dict() if impact is not None else None,
        "proxy": results["proxy"].to_dict() if results.get("proxy") is not None else None,
        "contagion": results["contagion"].to_dict() if results.get("contagion") is not None else None,
        "settings": {
            "intersections": ctx.intersections,
            "reference": ctx.reference,
            "min_group_size": ctx.min_group_size,
            "disclosure_threshold": t,
            "alpha": ctx.alpha,
            "seed": ctx.seed,
        },
        "notes": notes,
        "reproducibility": {
            "rule_hash": rule.content_hash,
            "data_hash": pop.data_hash,
            "graph_hash": None if graph is None else graph.content_hash,
            "seed": ctx.seed,
            "command": ctx.command,
            "versions": _versions(),
        },
    }
    return doc
