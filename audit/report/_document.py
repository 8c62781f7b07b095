"""Build the report document (exactly what report.json holds) from an audit's results.

The document is the single source of every format: report.md, report.html and
the notebook display are rendered from it alone (never from the people table),
so no format can show something report.json does not hold, and no individual
row can reach any of them.  The layout is described in ``SCHEMA.md`` and
checked by ``schema.json``.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import numpy as np

from audit._version import __version__
from audit.disclosure import cell_publishable, is_small, protect_lines, published_count
from audit.groups import json_float
from audit.report._lead import build_summary

SCHEMA_VERSION = "2.0.0"
FAMILIES = ("impact", "proxy", "contagion")
_PACKAGES = ("numpy", "pandas", "scipy", "scikit-learn", "fairlearn", "statsmodels", "networkx", "matplotlib",
             "Jinja2")
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)

#: Keys that hold a count of people anywhere in the document.  A value between 1
#: and the disclosure threshold - 1 under one of these keys is replaced by None
#: (with ``suppressed: true`` beside it) before the document is returned: a
#: last safety net behind each family's own suppression.
COUNT_KEYS = frozenset({
    "n", "count", "hits", "people", "n_people", "isolates", "attaining", "n_attaining", "attained", "reached",
    "n_reached", "unfriended", "n_unfriended", "reference_n", "n_reference", "missing", "n_missing", "members",
    "favourable_count", "reference_favourable_count", "events", "labelled", "positives", "negatives", "tp", "fp",
    "fn", "tn", "scored", "missing_score", "excluded", "n_seeds", "giant_component_size", "rows_changed",
    "rows_available", "rows_used",
})
#: Keys whose value is a mapping of counts of people (per tier, per degree bin, ...).
COUNT_MAP_KEYS = frozenset({"fell", "guilt_by_association_count", "lifted_by_association_count",
                            "degree_histogram", "counts"})


def _versions() -> dict:
    out = {"python": platform.python_version(), "scoring-rule-audit": __version__}
    for p in _PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def _f(x: float, digits: int = 10) -> float | None:
    return json_float(x, digits)


def _count(n: int, t: int) -> int | None:
    return published_count(n, t)


def synthetic_note(ctx) -> str | None:
    """A description of the data when it is synthetic, else None.

    Looked up on the context (``ctx.synthetic``), the population
    (``population.synthetic``) or the frame's ``attrs["synthetic"]``; ``True``
    reads as "synthetic data".
    """
    pop = ctx.population
    for value in (getattr(ctx, "synthetic", None), getattr(pop, "synthetic", None),
                  getattr(pop.frame, "attrs", {}).get("synthetic")):
        if value:
            return "synthetic data" if value is True else str(value)
    return None


def _group_sizes(ctx) -> dict:
    sizes = {}
    for g in ctx.groupings:
        for code in range(g.n_groups):
            sizes[(tuple(g.attributes), tuple(g.values[code]))] = int(g.counts[code])
    return sizes


def group_size_mask(g, t: int, *, with_missing: bool = False) -> np.ndarray:
    """Which group sizes of a single-attribute grouping to hide: small ones, plus enough others
    (the people with the attribute missing count as one more cell) that no subtraction from the
    published number of rows gives a hidden size back."""
    n_missing = int((g.codes < 0).sum())
    counts = np.append(g.counts, n_missing)
    keys = [*g.values, ("\0missing",)]
    hidden = protect_lines(keys, counts, is_small(counts, t))
    return hidden if with_missing else hidden[:-1]


def _impact_cells(impact: Mapping | None, attributes) -> dict | None:
    """The impact family's published size and attainment rate per group of one grouping, or None."""
    if not impact:
        return None
    for grouping in impact.get("groupings") or []:
        if tuple(grouping.get("attributes") or ()) != tuple(attributes):
            continue
        out: dict = {}
        for row in grouping.get("groups") or []:
            out.setdefault(tuple(row["group"].values()), {})["n"] = row.get("n")
        for row in grouping.get("rates") or []:
            out.setdefault(tuple(row["group"].values()), {})[row["tier"]] = row.get("selection_rate")
        return out
    return None


def score_overview(ctx, impact: Mapping | None = None, size_masks: Mapping | None = None) -> list[dict]:
    """Per group of each single protected attribute: size, mean and quantiles of scores, tier attainment.

    Quantiles are given only for groups of at least ``min_group_size`` people;
    everything is suppressed for groups under the disclosure threshold.
    """
    t = ctx.disclosure_threshold
    own, final = np.asarray(ctx.scores.own, float), np.asarray(ctx.scores.final, float)
    out = []
    for g in ctx.groupings:
        if len(g.attributes) != 1:
            continue
        means_own, means_final = g.means(own), g.means(final)
        hits = np.rint(g.sums(ctx.attainment.astype(float))).astype(np.int64)
        order = np.argsort(g.codes, kind="stable")
        bounds = np.searchsorted(g.codes[order], np.arange(g.n_groups + 1))
        n_hidden = (size_masks[g.attributes[0]][:-1] if size_masks and g.attributes[0] in size_masks
                    else group_size_mask(g, t))
        published = _impact_cells(impact, g.attributes)
        rate_hidden = []
        if published is None:
            # Without the impact family: a rate is shown only when its cell passes the disclosure rule
            # and no subtraction of published cells from the tier's total could give it back.
            for j in range(len(ctx.rule.tiers)):
                primary = n_hidden | ~cell_publishable(hits[:, j], g.counts, t)
                rate_hidden.append(protect_lines(list(g.values), hits[:, j], primary))
        else:
            rate_hidden = [np.zeros(g.n_groups, dtype=bool) for _ in ctx.rule.tiers]
        for code in range(g.n_groups):
            n = int(g.counts[code])
            small = bool(n_hidden[code])
            if published is not None:
                # One source of truth: the impact family suppresses across all its tables at once,
                # and a second, separately suppressed copy of the same cells could be subtracted
                # from it.
                cell = published.get(tuple(g.label(code).values()), {})
                small = cell.get("n") is None
                for j in range(len(ctx.rule.tiers)):
                    rate_hidden[j][code] = cell.get(ctx.rule.tiers[j].name) is None
            big = n >= ctx.min_group_size and not small
            row: dict[str, Any] = {
                "attributes": list(g.attributes),
                "group": g.label(code),
                "n": None if small else n,
                "suppressed": small,
                # Score statistics only for groups of the minimum size, to 0.1 points: never an
                # individual's exact score.
                "mean_own_score": _f(means_own[code], 1) if big else None,
                "mean_final_score": _f(means_final[code], 1) if big else None,
                "quantiles_own": None,
                "quantiles_final": None,
                # With the impact family, its published rate (rounded counts stay rounded); else the exact rate.
                "tier_attainment": {tier.name: (None if rate_hidden[j][code] else
                                                _f((published or {}).get(tuple(g.label(code).values()), {}).get(
                                                    tier.name, hits[code, j] / n), 6))
                                    for j, tier in enumerate(ctx.rule.tiers)},
            }
            if big:
                idx = order[bounds[code]:bounds[code + 1]]
                for key, sc in (("quantiles_own", own), ("quantiles_final", final)):
                    vals = sc[idx]
                    vals = vals[np.isfinite(vals)]
                    if len(vals) >= ctx.min_group_size:
                        row[key] = [_f(v, 1) for v in np.quantile(vals, QUANTILES)]
            out.append(row)
    return out


def tier_cuts(ctx) -> list[dict]:
    """Each tier's score cut: the threshold, or for top-k / top-fraction tiers the lowest score that attains it."""
    final = np.asarray(ctx.scores.final, float)
    out = []
    for j, tier in enumerate(ctx.rule.tiers):
        cut = tier.threshold
        if cut is None:
            hit = final[ctx.attainment[:, j]]
            # The lowest attaining score is a population quantile (top-k), never a small group's value.
            cut = float(hit.min()) if len(hit) >= ctx.min_group_size else None
        out.append({"tier": tier.name, "cut": None if cut is None else _f(cut, 1),
                    "at_most": None if tier.at_most is None else _f(tier.at_most, 4)})
    return out


def _family_block(name: str, ctx, results: Mapping[str, Any]) -> dict:
    res = results.get(name)
    if res is None:
        families = getattr(ctx, "families", None)
        if name == "contagion" and ctx.graph is None:
            reason = "no friendship graph was given"
        elif families is not None and name not in families:
            reason = "not requested (families: " + ", ".join(families) + ")"
        elif name in results:
            reason = "the family returned no result"
        else:
            reason = "not run in this audit"
        return {"status": "not run", "reason": reason}
    d = res.to_dict()
    if not isinstance(d, dict):
        return {"status": "error", "reason": f"{name} result is not a mapping"}
    d = dict(d)
    d.setdefault("status", "ok")
    return d


def _small(v: Any, t: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and is_small(v, t)


def suppress_small_counts(obj: Any, t: int) -> Any:
    """Replace counts of people 1..t-1 (under :data:`COUNT_KEYS`) by None, marking the parent ``suppressed``."""
    if isinstance(obj, dict):
        out = {}
        hit = False
        for k, v in obj.items():
            if k in COUNT_KEYS and _small(v, t):
                out[k] = None
                hit = True
            elif k in COUNT_MAP_KEYS and isinstance(v, dict) and any(_small(x, t) for x in v.values()):
                out[k] = {kk: (None if _small(x, t) else suppress_small_counts(x, t)) for kk, x in v.items()}
                hit = True
            else:
                out[k] = suppress_small_counts(v, t)
        if hit:
            out["suppressed"] = True
        return out
    if isinstance(obj, list):
        return [suppress_small_counts(v, t) for v in obj]
    return obj


def build_document(ctx, results: dict[str, Any], findings=None) -> dict:
    """Arrange the results (and the annotated findings) into the versioned report document."""
    rule, pop, graph = ctx.rule, ctx.population, ctx.graph
    t = ctx.disclosure_threshold
    if findings is None:
        from audit._run import annotate_findings

        findings = annotate_findings(results)
    all_findings = findings.to_dict()
    pushed_out = [f for f in all_findings if f["verdict"] == "pushed out"]
    sections = {name: _family_block(name, ctx, results) for name in FAMILIES}
    impact_doc = sections["impact"] if sections["impact"].get("status") not in ("not run", "error") else None
    singles = [g for g in ctx.groupings if len(g.attributes) == 1]
    # Group sizes plus the missing-attribute count, protected once per attribute and reused below.
    size_masks = {g.attributes[0]: group_size_mask(g, t, with_missing=True) for g in singles}
    groups = {}
    for g in singles:
        hidden = size_masks[g.attributes[0]][:-1]
        published = _impact_cells(impact_doc, g.attributes)
        if published is not None:  # the impact family's sizes: one consistent suppression
            hidden = np.array([published.get(tuple(g.label(c).values()), {}).get("n") is None
                               for c in range(g.n_groups)], dtype=bool)
        groups[g.attributes[0]] = [
            {"group": g.label(c), "n": None if hidden[c] else int(g.counts[c]),
             "share": None if hidden[c] else _f(g.counts[c] / pop.n, 6),
             "suppressed": bool(hidden[c])}
            for c in range(g.n_groups)
        ]
    # The missing count closes the line (groups + missing = rows): hidden with it.
    missing = {g.attributes[0]: None if size_masks[g.attributes[0]][-1] else int((g.codes < 0).sum())
               for g in singles}
    small_groups = sum(int((g.counts < ctx.min_group_size).sum()) for g in ctx.groupings)

    notes = []
    pooling = getattr(ctx, "pooling", None)
    withheld = int(pooling.n_withheld) if pooling is not None else 0
    if pooling is not None:
        notes.extend(pooling.reasons)
        if withheld:
            notes.append(f"{pooling.withheld_text(t)} people are withheld from every table because a category of "
                         f"theirs is too small to publish; every count in this report is of the other people.")
    if ctx.protected_read_by_rule:
        notes.append("The rule reads protected attribute(s) directly: " + ", ".join(ctx.protected_read_by_rule) + ".")
    if rule.network is not None and graph is None:
        notes.append("The rule has a network term but no graph was given: scores are own-behaviour scores only.")
    deff = getattr(ctx, "design_effect", None)
    if deff is not None and np.any(np.asarray(deff) > 1):
        worst = max(zip(deff, [t.name for t in rule.tiers], strict=True))
        notes.append(f"The friends term couples friends' outcomes, so group rates vary more than independent "
                     f"outcomes would (design effect up to {worst[0]:.2f}, for {worst[1]!r}); every interval "
                     f"and test uses effective counts that allow for it.")
    if ctx.label is None:
        notes.append("No outcome label was given: error-rate parity (false positive/negative rates) "
                     "is not assessed.")
    synthetic = synthetic_note(ctx)
    st = ctx.settings
    settings = {
        "intersections": st.intersections,
        "reference": ctx.reference,
        "min_group_size": st.min_group_size,
        "disclosure_threshold": t,
        "alpha": st.alpha,
        "threshold": st.threshold,
        "power": st.power,
        "bins": {k: (v if isinstance(v, int) else list(v)) for k, v in st.bins.items()},
        "seed": st.seed,
    }
    for note in (ctx.bins or {}).values():
        notes.append(f"Protected attribute {note}")
    for warning in (ctx.quality.warnings if ctx.quality is not None else ()):
        notes.append(f"Data quality: {warning}.")
    card = rule.to_card()
    sizes = _group_sizes(ctx)

    def nameable(group: Mapping) -> bool:
        key = (tuple(group), tuple(group.values()))
        return sizes.get(key, 0) >= ctx.min_group_size

    summary = build_summary(
        findings=all_findings, rule=card, n_candidates=(sections["impact"] or {}).get("n_candidates"),
        detection_limits=(sections["impact"] or {}).get("detection_limits") or [], impact_status=sections["impact"]["status"],
        impact_reason=sections["impact"].get("reason"), settings=settings, synthetic=synthetic,
        nameable=nameable, notes=notes, n_small_groups=small_groups,
        favourable={t.get("name"): t.get("favourable") != "out" for t in sections["impact"].get("tiers") or []
                    if isinstance(t, Mapping)},
    )
    doc = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "scoring-rule-audit", "version": __version__},
        "summary": summary,
        "pushed_out": pushed_out,
        "findings": all_findings,
        "rule": card,
        "population": {
            "source": pop.source,
            "synthetic": synthetic,
            # With a handful of people withheld, the number of rows would give their number back.
            "rows": pop.n if withheld == 0 or withheld >= t else None,
            "tabulated": pop.n - withheld if withheld == 0 or withheld >= t else None,
            "withheld": None if pooling is None else pooling.withheld_text(t) or "0",
            "data_hash": pop.data_hash,
            "id_column": pop.id_col,
            "protected": list(ctx.protected),
            "label": ctx.label,
            "groups": groups,
            "missing": missing,
            "groups_below_min_size": small_groups,
        },
        "graph": None if graph is None else {
            "source": graph.source,
            "nodes": graph.n_nodes if withheld == 0 or withheld >= t else None,
            "edges": graph.n_edges,
            "mean_degree": (_f(2 * graph.n_edges / max(graph.n_nodes, 1), 6) if withheld == 0 or withheld >= t
                            else None),
            "isolates": _count((graph.degree == 0).sum(), t),
            "dropped_self_loops": graph.dropped_self_loops,
            "dropped_duplicates": graph.dropped_duplicates,
            "graph_hash": graph.content_hash,
        },
        "scores": {
            "network_applied": ctx.scores.network_applied,
            "network_iterations": ctx.scores.iterations,
            "quantiles": list(QUANTILES),
            "by_group": score_overview(ctx, impact_doc, size_masks),
            "tier_cuts": tier_cuts(ctx),
        },
        "data_quality": None if ctx.quality is None else ctx.quality.to_dict(),
        "impact": sections["impact"],
        "proxy": sections["proxy"],
        "contagion": sections["contagion"],
        "settings": settings,
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
    doc = suppress_small_counts(doc, t)
    # The legal lenses re-present published figures only, so they are made from the finished document.
    doc["lenses"] = lenses_section(doc)
    return doc


def lenses_section(doc: Mapping) -> dict:
    """The LL144-format summary, the four-fifths screen and the Art. 5(1)(c) screen of a document."""
    from audit.lenses import four_fifths_screen, ll144_summary, social_scoring_screen

    if not doc.get("impact") or doc["impact"].get("status") != "ok":
        return {"ll144": None, "four_fifths": None, "social_scoring": social_scoring_screen(doc).to_dict()}
    return {"ll144": ll144_summary(doc).to_dict(), "four_fifths": four_fifths_screen(doc).to_dict(),
            "social_scoring": social_scoring_screen(doc).to_dict()}
