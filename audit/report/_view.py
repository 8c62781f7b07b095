"""Arrange the report document into sections of display blocks, shared by Markdown and HTML.

A *view* is ``{"title", "subtitle", "sections": [...]}``; each section is
``{"id", "title", "blocks": [...]}`` and each block a dict with a ``type``:

* ``p``       - ``text`` (plain, unescaped), optional ``cls`` ("lead", "note", "warn");
* ``h3``      - ``text``;
* ``list``    - ``items`` (plain strings);
* ``kv``      - ``items``: ``[label, value, is_code]``;
* ``table``   - ``caption``, ``columns``, ``rows`` (strings), ``numeric`` (per column);
* ``figure``  - ``id``, ``alt``, ``caption`` and ``svg`` (None when figures are off).

Strings here are plain text: the renderers escape them (Jinja autoescape for
HTML, :func:`md_escape` for Markdown).  Only ``svg`` is markup, made by
matplotlib, which escapes the text it draws.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from audit.report import _figures as F
from audit.report._format import (
    fmt_ci,
    fmt_count,
    fmt_num,
    fmt_p,
    fmt_pct,
    fmt_ratio,
    fmt_score,
    group_name,
    is_num,
)
from audit.report._lead import RAN, mechanism_short

SECTION_IDS = ("summary", "rule-card", "population-card", "disparate-impact", "proxies", "network", "method",
               "reproducibility")
MAX_ROWS = 60  # longest table printed in full; longer ones show their first rows and say so


def p(text: str, cls: str | None = None) -> dict:
    return {"type": "p", "text": text, "cls": cls}


def h3(text: str) -> dict:
    return {"type": "h3", "text": text}


def ul(items: Sequence[str]) -> dict:
    return {"type": "list", "items": list(items)}


def kv(items: Sequence[Sequence]) -> dict:
    return {"type": "kv", "items": [[str(a), str(b), bool(c[0]) if c else False] for a, b, *c in items]}


def table(columns: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "",
          numeric: Sequence[bool] | None = None, limit: int = MAX_ROWS) -> dict:
    rows = [[str(c) for c in r] for r in rows]
    note = None
    if len(rows) > limit:
        note = f"First {limit} of {len(rows)} rows shown; report.json holds them all."
        rows = rows[:limit]
    return {"type": "table", "caption": caption, "columns": list(columns), "rows": rows,
            "numeric": list(numeric) if numeric else [False] * len(columns), "note": note}


class _Figures:
    """Draws figures when enabled; always yields the block (caption and alt text) so md can cite it."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.count = 0

    def __call__(self, fig_id: str, alt: str, caption: str, draw: Callable[[], Any]) -> dict:
        try:
            svg = F.render_svg(fig_id, draw) if self.enabled else None
        except F.NothingToPlot:
            return p(f"Not drawn ({alt.rstrip('.')}): no group in this audit has figures that can be "
                     "published (every group is below the disclosure threshold, or nothing was measured).",
                     "note")
        self.count += 1
        return {"type": "figure", "id": fig_id, "alt": alt, "caption": f"Figure {self.count}. {caption}",
                "svg": svg}


def _not_run(block: Mapping, what: str) -> list[dict]:
    reason = block.get("reason") or "no reason recorded"
    return [p(f"{what} was not run: {reason}.", "warn")]


def _methods_blocks(methods: Any) -> list[dict]:
    if not methods:
        return []
    if isinstance(methods, str):
        return [p(methods, "note")]
    if isinstance(methods, Mapping):
        return [kv([(k, v if isinstance(v, str) else fmt_num(v)) for k, v in methods.items()
                    if not isinstance(v, (dict, list))])] + [
            b for k, v in methods.items() if isinstance(v, (dict, list)) for b in _generic(v, str(k))]
    if isinstance(methods, list):
        return [ul([m if isinstance(m, str) else str(m) for m in methods])]
    return [p(str(methods), "note")]


def _cell(v: Any, threshold: int | None = None) -> str:
    if v is None:
        return "—"
    if isinstance(v, Mapping):
        if set(v) and all(not isinstance(x, (dict, list)) for x in v.values()):
            return group_name(v)
        return "…"
    if isinstance(v, list):
        if all(not isinstance(x, (dict, list)) for x in v):
            return ", ".join(fmt_num(x) if is_num(x) else str(x) for x in v)
        return "…"
    return fmt_num(v)


def _generic(obj: Any, title: str | None = None, depth: int = 0) -> list[dict]:
    """Render any JSON value: scalars as a key-value list, lists of records as tables."""
    blocks: list[dict] = []
    if title:
        blocks.append(h3(title.replace("_", " ")))
    if isinstance(obj, Mapping):
        scalars = [(k, v) for k, v in obj.items() if not isinstance(v, (dict, list)) or
                   (isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v) and len(v) <= 12)]
        if scalars:
            blocks.append(kv([(k.replace("_", " "), _cell(v)) for k, v in scalars]))
        for k, v in obj.items():
            if (k, v) in scalars:
                continue
            if depth >= 3:
                continue
            blocks.extend(_generic(v, str(k), depth + 1))
    elif isinstance(obj, list):
        if obj and all(isinstance(x, Mapping) for x in obj):
            cols: list[str] = []
            for r in obj:
                for k in r:
                    if k not in cols and k != "suppressed":
                        cols.append(k)
            rows = [[_cell(r.get(c)) for c in cols] for r in obj]
            blocks.append(table([c.replace("_", " ") for c in cols], rows,
                                numeric=[all(is_num(r.get(c)) or r.get(c) is None for r in obj) for c in cols]))
        elif obj:
            blocks.append(p(_cell(obj)))
        else:
            blocks.append(p("(empty)", "note"))
    else:
        blocks.append(p(_cell(obj)))
    return blocks


# --------------------------------------------------------------------------- sections


def _summary(doc: Mapping) -> list[dict]:
    s = doc["summary"]
    blocks = [p(s["headline"], "lead")]
    if s["findings"]:
        blocks.append(h3("Most excluded groups, by tier"))
        blocks.append(ul([f["text"] for f in s["findings"]]))
    blocks.append(h3("Read with care"))
    blocks.append(ul(s["caveats"]))
    return blocks


def _rule(doc: Mapping) -> list[dict]:
    return rule_blocks(doc["rule"])


def rule_blocks(r: Mapping) -> list[dict]:
    """The rule card's blocks (also used on its own by ``Rule._repr_html_``)."""
    blocks = [kv([("title", r.get("title", "")), ("name", r.get("name", ""), True), ("status", r.get("status", "")),
                  ("kind", r.get("kind", "")), ("higher score is better", "yes" if r.get("higher_is_better", True)
                                                else "no"),
                  ("range", "–".join(fmt_num(x) for x in r["range"]) if r.get("range") else "none"),
                  ("base", fmt_num(r["base"]) if r.get("base") is not None else "none"),
                  ("reads columns", ", ".join(r.get("features", [])) or "none"),
                  ("rule hash", r.get("content_hash", ""), True)])]
    if r.get("description"):
        blocks.append(p(r["description"]))
    terms = r.get("terms") or []
    if terms:
        rows = []
        for t in terms:
            pts = fmt_num(t["points"]) + (" per unit" if t.get("kind") == "value" else "")
            src = ("illustrative" if t.get("illustrative") else "") + (
                f"{'; ' if t.get('illustrative') else ''}source: {t['source']}" if t.get("source") else "")
            rows.append([t.get("label") or t.get("id"), t.get("expression", ""), pts, src or "none given",
                         t.get("note") or ""])
        blocks.append(table(["term", "expression", "points", "source", "note"], rows,
                            caption="Every term of the rule with its points and where they come from.",
                            numeric=[False, False, True, False, False], limit=500))
    elif r.get("kind") != "points":
        blocks.append(p(f"This rule is a {r.get('kind')} rule: it has no points table to list.", "note"))
    net = r.get("network")
    if net:
        blocks.append(h3("Network term"))
        blocks.append(kv([("weight", fmt_num(net.get("weight"))), ("formula", net.get("formula", "")),
                          ("source", ("illustrative; " if net.get("illustrative") else "")
                           + (net.get("source") or "none given"))]))
    tiers = r.get("tiers") or []
    blocks.append(h3("Tiers (benefits the score unlocks)"))
    blocks.append(table(["tier", "rule", "benefit", "source"],
                        [[t["name"], t.get("rule", ""), t.get("benefit", ""),
                          ("illustrative" if t.get("illustrative") else "")
                          + (f"{'; ' if t.get('illustrative') else ''}source: {t['source']}" if t.get("source")
                             else "") or "none given"] for t in tiers]))
    if r.get("sources"):
        blocks.append(h3("Sources"))
        blocks.append(ul([f"[{s.get('id', '')}] {s.get('citation', '')}" + (f" {s['url']}" if s.get("url") else "")
                          for s in r["sources"]]))
    return blocks


def _population(doc: Mapping) -> list[dict]:
    pop, t = doc["population"], doc["settings"]["disclosure_threshold"]
    blocks = [kv([("source", pop["source"]),
                  ("synthetic", pop["synthetic"] if pop.get("synthetic") else "no (as far as the audit knows)"),
                  ("rows", fmt_count(pop["rows"])), ("data hash", pop["data_hash"], True),
                  ("protected attributes", ", ".join(pop["protected"])),
                  ("outcome label", pop["label"] or "none given (error-rate parity not assessed)")])]
    rows = []
    for attr, groups in pop["groups"].items():
        for g in groups:
            rows.append([attr, _value(g["group"], attr), fmt_count(g["n"], t),
                         "suppressed" if g["share"] is None else fmt_pct(g["share"])])
        miss = pop.get("missing", {}).get(attr)
        if miss != 0:
            rows.append([attr, "(missing)", fmt_count(miss, t), ""])
    blocks.append(table(["attribute", "group", "people", "share"], rows,
                        caption=f"Group sizes. Counts below {t} are suppressed.",
                        numeric=[False, False, True, True], limit=300))
    if pop.get("groups_below_min_size"):
        blocks.append(p(f"{pop['groups_below_min_size']} group(s), counting intersections, have fewer than "
                        f"{doc['settings']['min_group_size']} people: they are shown where their counts may be "
                        f"shown but never named as pushed out.", "note"))
    g = doc.get("graph")
    blocks.append(h3("Friendship graph"))
    if g is None:
        blocks.append(p("No friendship graph was given: the network section has no input.", "warn"))
    else:
        blocks.append(kv([("source", g["source"]), ("people (nodes)", fmt_count(g["nodes"])),
                          ("friendships (edges)", fmt_count(g["edges"])),
                          ("mean number of friends", fmt_num(g["mean_degree"])),
                          ("people without friends", fmt_count(g["isolates"], t)),
                          ("dropped self-loops / duplicate edges",
                           f"{fmt_count(g['dropped_self_loops'])} / {fmt_count(g['dropped_duplicates'])}"),
                          ("graph hash", g["graph_hash"], True)]))
    return blocks


def _value(group: Mapping, attr: str) -> str:
    return str(group.get(attr, group_name(group)))


def _rate_or_suppressed(x: object) -> str:
    return "suppressed" if x is None else fmt_pct(x)


def _pushed_out_table(entries: Sequence[Mapping], ci: str, t: int, line: float = 0.8) -> dict:
    # Published numbers first (most excluded first), then the findings whose numbers are suppressed;
    # an intersection listed under a broader group's finding says so.
    shown = sorted(entries, key=lambda e: (e.get("impact_ratio") is None, e.get("impact_ratio") or 0.0))
    rows = []
    for e in shown:
        ref = e.get("reference_group")
        ratio = ("suppressed" if e.get("impact_ratio") is None else
                 f"{fmt_ratio(e.get('impact_ratio'))} ({fmt_ci(e.get('ci_low'), e.get('ci_high'))})")
        parent = e.get("parent")
        who = group_name(e.get("group")) + (f" (under {group_name(parent['group'])})" if parent else "")
        rows.append([e.get("verdict", ""), who, e.get("tier", ""), fmt_count(e.get("n"), t),
                     _rate_or_suppressed(e.get("selection_rate")),
                     f"{group_name(ref) if isinstance(ref, Mapping) else (ref or '')}: "
                     f"{_rate_or_suppressed(e.get('reference_rate'))}",
                     ratio, "suppressed" if e.get("ratio_upper_bound") is None else fmt_ratio(e["ratio_upper_bound"]),
                     "suppressed" if e.get("suppressed") and e.get("q_value") is None
                     else fmt_p(e.get("q_value")), mechanism_short(e)])
    return table(["verdict", "group", "tier", "people", "rate", "most favoured group: rate",
                  f"impact ratio ({ci} CI)", "upper bound", "q", "mechanism"], rows,
                 caption=f"Pushed out: the group's rate is shown to be below {line:g} times the truly best group's "
                         "(the upper bound, valid whichever group is best, is below the line; q over every "
                         "candidate); below parity: significantly below the best group, not shown to cross the "
                         "line. Groups of at least the minimum size only. 'suppressed': the number rests on "
                         f"fewer than {t} people with or without the benefit.",
                 numeric=[False, False, False, True, True, False, True, True, True, False], limit=200)


def _impact(doc: Mapping, fig: _Figures, compact: bool = False) -> list[dict]:
    imp = doc["impact"]
    alpha = doc["settings"]["alpha"]
    ci = f"{100 * (1 - alpha):g}%"
    t = doc["settings"]["disclosure_threshold"]
    blocks: list[dict] = []
    if not _ran(imp):
        blocks += _not_run(imp, "The disparate-impact analysis")
    line = doc["settings"].get("threshold", 0.8)
    if doc.get("findings"):
        blocks.append(h3("Findings: pushed out and below parity"))
        blocks.append(_pushed_out_table(doc["findings"], ci, t, line))
    elif _ran(imp):
        blocks.append(p(f"No group of at least the minimum size is shown to be below {line:g} times the best "
                        f"group's rate, or below parity, in any tier (false discovery rate {alpha:g}).", "note"))
    sc = doc["scores"]
    rows = sc["by_group"]
    tiers = [x["name"] for x in doc["rule"]["tiers"]]
    rng = doc["rule"].get("range")
    blocks.append(h3("Score distributions by group"))
    if any(r.get("quantiles_final") for r in rows):
        blocks.append(fig("fig-score-distributions",
                          "Box plots of the final score for each group of each protected attribute, with the "
                          "tier cut-offs as dotted vertical lines.",
                          "Final score by group (box: 25th–75th percentile, whiskers: 10th–90th, thick bar: "
                          "median; black tick: median score from own behaviour, before the network term). "
                          f"Dotted lines: tier cut-offs, {F.tier_key(sc['tier_cuts'])}. Groups smaller than the "
                          "minimum size are not drawn.",
                          lambda: F.score_distributions(rows, sc["quantiles"], sc["tier_cuts"], rng)))
    if not compact:
        blocks.append(table(
            ["group", "people", "mean own score", "mean final score", "median final score"],
            [[group_name(r["group"]), fmt_count(r["n"], t),
              fmt_score(r["mean_own_score"]), fmt_score(r["mean_final_score"]),
              fmt_score(r["quantiles_final"][2]) if r.get("quantiles_final") else "—"] for r in rows],
            caption="Scores by group: own = from the person's own behaviour; final = after the network term.",
            numeric=[False, True, True, True, True], limit=300))
    blocks.append(h3("Impact ratio against the score cut"))
    curves = _curve_series(imp)
    if curves["series"]:
        blocks.append(fig("fig-impact-curve",
                          "Line charts, one per protected attribute: each group's impact ratio against the "
                          "most favoured group as the score cut moves, with a dashed line at 0.8 and the tier "
                          "cut-offs as dotted vertical lines.",
                          f"Impact ratio of each group (rate of {curves['cut']} over the most favoured group's) "
                          "at every score cut t. Dashed red line: 0.8, the four-fifths line; dotted lines: tier "
                          f"cut-offs, {F.tier_key(sc['tier_cuts'])}. Point estimates; the tables below give "
                          "intervals at the tiers. Points from small counts are suppressed (gaps).",
                          lambda: F.impact_curves(curves, sc["tier_cuts"], rng)))
        ranges = _curve_ranges(imp)
        if ranges:
            blocks.append(table(["group", "score cuts where the ratio is below 0.8"], ranges,
                                caption="Where on the score scale each group falls below four-fifths "
                                        "(single attributes; groups of at least the minimum size)."))
    elif _ran(imp):
        blocks.append(p("The impact-ratio curve was not computed (or no group is large enough to draw it).",
                        "note"))
    else:
        blocks.append(p("Not available: the disparate-impact analysis was not run.", "note"))
    blocks.append(h3("Tier attainment by group"))
    blocks.append(fig("fig-tier-attainment",
                      "Grouped bar charts, one per protected attribute: the percentage of each group attaining "
                      "each tier.",
                      f"Share of each group attaining each tier (final scores); {F.tier_key(sc['tier_cuts'])}. "
                      "'s': suppressed, because fewer "
                      f"than {t} people of the group attain the tier or fewer than {t} do not. Groups under "
                      "the disclosure threshold are not drawn.",
                      lambda: F.tier_attainment(rows, tiers)))
    if not compact:
        blocks.append(table(["group", "people", *tiers],
                            [[group_name(r["group"]), fmt_count(r["n"], t),
                              *(fmt_pct(r["tier_attainment"].get(x)) if r["n"] is not None else "suppressed"
                                for x in tiers)] for r in rows],
                            caption="Share of each group attaining each tier.",
                            numeric=[False, True, *([True] * len(tiers))], limit=300))
    if _ran(imp) and not compact:
        blocks += _impact_detail(imp, doc, ci)
    return blocks


def _curve_series(imp: Mapping) -> dict:
    """The impact family's down-sampled threshold curves of the single attributes, as one figure's data."""
    series, cut = [], "score >= t"
    for g in imp.get("groupings") or []:
        curve = g.get("curve") or {}
        plot = curve.get("plot") or {}
        if len(g.get("attributes", [])) != 1 or not plot.get("series"):
            continue
        cut = curve.get("cut", cut)
        for s_ in plot["series"]:
            series.append({"attributes": g["attributes"], "group": s_["group"], "x": plot["thresholds"],
                           "impact_ratio": s_["impact_ratio"]})
    return {"cut": cut, "series": series}


def _curve_ranges(imp: Mapping) -> list[list[str]]:
    rows = []
    for g in imp.get("groupings") or []:
        curve = g.get("curve") or {}
        if len(g.get("attributes", [])) != 1:
            continue
        for bg in curve.get("by_group") or []:
            rs = bg.get("ranges") or []
            if not rs:
                continue
            text = "; ".join(fmt_score(a) if a == b else f"{fmt_score(a)}–{fmt_score(b)}" for a, b in rs[:12])
            if len(rs) > 12:
                text += f"; … ({len(rs)} ranges)"
            rows.append([group_name(bg["group"]), text])
    return rows


def _ratio_ci(v: Mapping | None) -> str:
    if not v or v.get("impact_ratio") is None:
        return "suppressed" if v and v.get("group") is not None else "—"
    lo, hi = (v.get("ci") or [None, None])[:2]
    return f"{fmt_ratio(v['impact_ratio'])} ({fmt_ci(lo, hi)})"


def _impact_detail(imp: Mapping, doc: Mapping, ci: str) -> list[dict]:
    """Every comparison of the impact family: one table per tier, then distributions and label metrics."""
    t = doc["settings"]["disclosure_threshold"]
    groupings = imp.get("groupings") or []
    blocks: list[dict] = []
    fav = {x.get("name"): x for x in imp.get("tiers") or []}
    blocks.append(h3("All comparisons, tier by tier"))
    blocks.append(p(f"Every group of every protected attribute and intersection: its rate of the favourable "
                    f"outcome with a Wilson {ci} interval, and its impact ratio with a score {ci} interval against "
                    "the most favoured group and against the reference group; q is the Benjamini–Hochberg "
                    "adjusted selection-valid p-value of the ratio to the best group being below the line "
                    f"({imp.get('n_candidates', '?')} candidates in all). 'suppressed' marks values derived from fewer than "
                    f"{t} people; 'small' marks groups below the minimum size, never named as pushed out.",
                    "note"))
    tier_names = [x["name"] for x in doc["rule"]["tiers"]]
    for tier in tier_names:
        rows = []
        for g in groupings:
            for r in g.get("rates") or []:
                if r.get("tier") != tier:
                    continue
                mf, rf = r.get("vs_most_favoured") or {}, r.get("vs_reference") or {}
                audited = r.get("status", "audited") == "audited"
                rate = r.get("favourable_rate") if audited else r.get("selection_rate")
                sel_ci = r.get("selection_ci") or [None, None]
                if (fav.get(tier, {}).get("favourable") == "in" or not audited) and rate is not None:
                    rate_txt = f"{fmt_pct(rate)} ({fmt_pct(sel_ci[0])}–{fmt_pct(sel_ci[1])})"
                else:
                    rate_txt = fmt_pct(rate) if rate is not None else "suppressed"
                flags = []
                if r.get("verdict"):
                    flags.append(r["verdict"])
                elif mf.get("below_threshold"):
                    flags.append("ratio below the line (not shown for the best group)")
                if r.get("status") == "alias":
                    flags.append(f"same fact as {fav.get(tier, {}).get('alias_of')}")
                if r.get("small_group"):
                    flags.append("small")
                rows.append([group_name(r.get("group")), fmt_count(r.get("n"), t),
                             rate_txt, _ratio_ci(mf),
                             "suppressed" if r.get("suppressed") and mf.get("q_value") is None
                             else fmt_p(mf.get("q_value")), _ratio_ci(rf),
                             ", ".join(flags)])
        if rows:
            info = fav.get(tier, {})
            outcome = info.get("outcome") or f"attains {tier!r}"
            if info.get("status") == "distribution":
                outcome = f"none: not audited ({info.get('reason')}); the rate is the share placed in {tier!r}"
            blocks.append(table(["group", "people", f"rate ({ci} CI)",
                                 f"vs most favoured ({ci} CI)", "q", f"vs reference ({ci} CI)", "flag"], rows,
                                caption=f"{tier}: favourable outcome = {outcome}.",
                                numeric=[False, True, True, True, True, True, False], limit=400))
    dist_rows = []
    for g in groupings:
        if len(g.get("attributes", [])) != 1:
            continue
        for gr in g.get("groups") or []:
            d = gr.get("distribution") or {}
            dist_rows.append([group_name(gr.get("group")), fmt_count(gr.get("n"), t),
                              fmt_score(d.get("mean")), fmt_score(d.get("sd")), fmt_score(d.get("median")),
                              fmt_num(d.get("smd"), 2), fmt_num(d.get("ks"), 2), fmt_num(d.get("auc"), 2),
                              "yes" if gr.get("is_reference") else ""])
    if dist_rows:
        blocks.append(h3("Score distributions against the reference group"))
        blocks.append(table(["group", "people", "mean", "sd", "median", "SMD", "KS", "AUC",
                             "reference"], dist_rows,
                            caption="SMD: standardised mean difference from the reference group (positive = better "
                                    "off); KS: Kolmogorov–Smirnov distance; AUC: chance that a random member scores "
                                    "better than a random member of the reference group (0.5 = no difference).",
                            numeric=[False, True, True, True, True, True, True, True, False]))
    err_rows = []
    for g in groupings:
        for r in g.get("error_rates") or []:
            def rate(k, r=r):
                v = r.get(k) or {}
                lo, hi = (v.get("ci") or [None, None])[:2]
                return "suppressed" if v.get("rate") is None else f"{fmt_pct(v['rate'])} ({fmt_pct(lo)}–{fmt_pct(hi)})"
            err_rows.append([group_name(r.get("group")), r.get("tier", ""),
                             fmt_count(r.get("labelled"), t), rate("fpr"), rate("fnr"), rate("ppv")])
    blocks.append(h3("Error rates against the outcome label"))
    if err_rows:
        blocks.append(table(["group", "tier", "labelled", f"false positive rate ({ci} CI)",
                             f"false negative rate ({ci} CI)", f"positive predictive value ({ci} CI)"], err_rows,
                            numeric=[False, False, True, True, True, True], limit=400))
    else:
        blocks.append(p("No outcome label was given: false positive and false negative rates by group are not "
                        "assessed.", "note"))
    cal = [(g, c) for g in groupings for c in (g.get("calibration") or []) if len(g.get("attributes", [])) == 1]
    if cal:
        blocks.append(h3("Calibration by group"))
        blocks.append(table(["group", "score bin", "people", f"observed rate ({ci} CI)"],
                            [[group_name(c.get("group")),
                              f"{fmt_score(c.get('score_from'))}–{fmt_score(c.get('score_to'))}",
                              fmt_count(c.get("n"), t),
                              "suppressed" if c.get("observed_rate") is None else
                              f"{fmt_pct(c['observed_rate'])} ({fmt_pct((c.get('ci') or [None])[0])}–"
                              f"{fmt_pct((c.get('ci') or [None, None])[1])})"] for g, c in cal],
                            numeric=[False, True, True, True], limit=400))
    return blocks


def _label(row: Mapping) -> str:
    return str(row.get("feature") or row.get("label") or "?") + (f" ({row['kind']})" if row.get("kind") else "")


def _worst_finding(doc: Mapping) -> Mapping | None:
    findings = doc["summary"]["findings"]
    return min(findings, key=lambda f: (f["impact_ratio"], str(f["group"]))) if findings else None


def _gkey(group: Mapping | None) -> tuple:
    return tuple(sorted((str(k), str(v)) for k, v in (group or {}).items()))


def _suppressed_cells(doc: Mapping) -> set:
    """(group, tier) cells whose impact ratio the disparate-impact family suppresses (small counts).

    Other families' figures for these cells are not printed either, so that a
    ratio built from a handful of people never reaches the page.
    """
    out = set()
    for g in (doc.get("impact") or {}).get("groupings") or []:
        for r in g.get("rates") or []:
            if (r.get("vs_most_favoured") or {}).get("impact_ratio") is None and r.get("suppressed"):
                out.add((_gkey(r.get("group")), r.get("tier")))
    return out


def _tier_value(rec: Mapping, row: Mapping, keys: Sequence[str], tier: str):
    """A per-tier value stored either as {tier: value} or as a list aligned with ``rec["tiers"]``."""
    for key in keys:
        v = row.get(key)
        if isinstance(v, Mapping):
            return v.get(tier)
        if isinstance(v, list):
            tiers = list(rec.get("tiers") or [])
            return v[tiers.index(tier)] if tier in tiers and tiers.index(tier) < len(v) else None
    return None


def _proxy(doc: Mapping, fig: _Figures) -> list[dict]:
    px = doc["proxy"]
    if not _ran(px):
        return _not_run(px, "The proxy analysis")
    t = doc["settings"]["disclosure_threshold"]
    m = px.get("methods") or {}
    strength = m.get("proxy_strength") or {}
    blocks: list[dict] = []
    if px.get("status") == "partial":
        blocks.append(p("Part of the proxy analysis could not be computed; see the notes below.", "warn"))
    blocks.append(p("A proxy is an input that tracks a protected attribute (association) and moves the score "
                    "(influence). " + (f"Proxy strength = {strength['formula'].split('=', 1)[-1].strip()}; "
                                       if strength.get("formula") else "")
                    + (f"flagged as a proxy when {strength['flag']}." if strength.get("flag") else ""), "note"))
    ranking = px.get("ranking") or []
    pts = [r for r in ranking if is_num(r.get("association")) and is_num(r.get("influence"))]
    blocks.append(h3("Association against influence"))
    if pts:
        blocks.append(fig("fig-proxy-scatter",
                          "Scatter plot: for every input and protected attribute, the input's association with "
                          "the attribute (horizontal) against its influence on the score (vertical).",
                          "Association with a protected attribute (x) against influence on the score (y), one "
                          "point per input and attribute; colour: the attribute. Inputs far right and high are "
                          "strong proxies; the strongest are labelled."
                          + (" Dashed lines: the flagging thresholds (an input in the top-right area is flagged "
                             "as a proxy unless it reads the attribute itself)."
                             if is_num(strength.get("epsilon")) and is_num(strength.get("delta")) else ""),
                          lambda: F.association_influence(pts, epsilon=strength.get("epsilon")
                                                          if is_num(strength.get("epsilon")) else None,
                                                          delta=strength.get("delta")
                                                          if is_num(strength.get("delta")) else None)))
    if ranking:
        blocks.append(table(["input", "protected attribute", "association", "influence", "proxy strength",
                             "proxy?"],
                            [[_label(r), r.get("attribute", ""), fmt_num(r.get("association")),
                              fmt_num(r.get("influence")), fmt_num(r.get("proxy_strength")),
                              "reads it directly" if r.get("direct") else ("yes" if r.get("proxy") else "no")]
                             for r in ranking],
                            caption="Inputs ranked by proxy strength, strongest first.",
                            numeric=[False, False, True, True, True, False], limit=25))
    else:
        blocks.append(p("No input could be ranked.", "note"))

    blocks.append(h3("Where the score gap comes from"))
    dec = [d for d in px.get("decomposition") or [] if d.get("contributions") and is_num(d.get("gap"))]
    worst = _worst_finding(doc)
    chosen = None
    if worst is not None:
        chosen = next((d for d in dec if d.get("group") == worst["group"]), None)
    if chosen is None and dec:
        chosen = min(dec, key=lambda d: (d["gap"] if d.get("n") is not None else float("inf"),
                                         str(d.get("group"))))
    if chosen is not None and chosen.get("n") is not None:
        contribs = sorted((c for c in chosen["contributions"] if is_num(c.get("contribution"))),
                          key=lambda c: (c["contribution"], str(c.get("feature"))))
        steps = [(_label(c), float(c["contribution"])) for c in contribs]
        gname, rname = group_name(chosen.get("group")), group_name(chosen.get("reference"))
        blocks.append(fig("fig-gap-waterfall",
                          f"Waterfall chart: how each term of the rule adds to or removes from the mean "
                          f"own-score gap between {gname} and {rname}.",
                          f"Gap decomposition for {gname} against {rname}: each bar is one input's contribution "
                          f"to the difference in mean own score (before the network term); the last bar is the "
                          f"total gap, {fmt_score(chosen['gap'])} points ({chosen.get('method', '')} "
                          f"decomposition). Negative: the input pushes the group down.",
                          lambda: F.waterfall(steps, "total gap", "points (group mean minus reference mean)")))
        blocks.append(table(["input", "contribution (points)", "share of gap"],
                            [[_label(c), fmt_num(c.get("contribution")), fmt_pct(c.get("share"))]
                             for c in sorted(contribs, key=lambda c: (-abs(c["contribution"]), str(c["feature"])))],
                            caption=f"Contributions to the mean own-score gap of {gname} "
                                    f"({fmt_score(chosen.get('mean_score'))}) against {rname} "
                                    f"({fmt_score(chosen.get('mean_score_reference'))}).",
                            numeric=[False, True, True]))
    else:
        blocks.append(p("No gap decomposition is available (the rule is not additive, or the groups are too "
                        "small).", "note"))
    if dec:
        rows = [[group_name(d.get("group")), group_name(d.get("reference")),
                 fmt_count(d.get("n"), t), fmt_score(d.get("gap")),
                 ", ".join(f"{c.get('feature')} ({c['contribution']:+.1f})" for c in
                           sorted((c for c in d["contributions"] if is_num(c.get("contribution"))),
                                  key=lambda c: (c["contribution"], str(c.get("feature"))))[:3])]
                for d in dec if len(d.get("attributes") or []) == 1]
        if rows:
            blocks.append(table(["group", "reference", "people", "gap (points)",
                                 "inputs pushing it down most"], rows,
                                caption="Mean own-score gap of every single-attribute group against its reference "
                                        "group and the three inputs that lower it most.",
                                numeric=[False, False, True, True, False]))

    blocks.append(h3("Neutralisation: the impact ratio without each input"))
    neut = px.get("neutralisation") or []
    findings = doc["summary"]["findings"]
    hidden = _suppressed_cells(doc)
    if neut and findings:
        for f in findings[:4]:
            rows = []
            for rec in neut:
                for g in rec.get("groups") or []:
                    if g.get("group") != f["group"] or g.get("suppressed"):
                        continue
                    before = _tier_value(rec, g, ("before", "impact_ratio_before"), f["tier"])
                    after = _tier_value(rec, g, ("after", "impact_ratio_after"), f["tier"])
                    change = _tier_value(rec, g, ("change",), f["tier"])
                    if change is None:
                        continue
                    rows.append((-(change), str(rec.get("feature")), [
                        _label(rec), rec.get("how") or rec.get("method", ""),
                        rec.get("attribute") or "", fmt_ratio(before), fmt_ratio(after), f"{change:+.2f}"]))
            rows.sort(key=lambda r: (r[0], r[1]))
            if rows:
                blocks.append(table(["input", "counterfactual", "equalised across", "ratio before", "ratio after",
                                     "change"], [r[2] for r in rows],
                                    caption=f"{group_name(f['group'])}, {f['tier']}: impact ratio against the most "
                                            "favoured group when each input is removed or equalised; largest "
                                            "improvement first.",
                                    numeric=[False, False, False, True, True, True], limit=10))
    elif neut:
        blocks.append(p("No pushed-out group with published numbers to follow through the counterfactuals.", "note"))
    else:
        blocks.append(p("Neutralisation was not computed.", "note"))
    notable = [n for n in px.get("notable_changes") or []
               if (_gkey(n.get("group")), n.get("tier")) not in hidden]
    if notable:
        blocks.append(p("Largest changes across all groups and tiers (cells whose rates the disparate-impact "
                        "analysis suppresses are left out):", "note"))
        blocks.append(ul([n["sentence"] + "." if not str(n.get("sentence", "")).endswith(".") else n["sentence"]
                          for n in notable[:8] if n.get("sentence")]))
    red = px.get("redundant_encoding") or []
    blocks.append(h3("Redundant encoding"))
    if red:
        blocks.append(table(["protected attribute", "classes", "AUC from the score alone", "AUC from all inputs",
                             "association (score)", "association (inputs)"],
                            [[r.get("attribute", ""), fmt_num(r.get("n_classes")), fmt_num(r.get("auc_score")),
                              fmt_num(r.get("auc_inputs")), fmt_num(r.get("association_score")),
                              fmt_num(r.get("association_inputs"))] for r in red],
                            caption="How well the protected attribute can be predicted from the score, and from all "
                                    "the inputs together (cross-validated AUC; 0.5 = not at all).",
                            numeric=[False, True, True, True, True, True]))
    else:
        blocks.append(p("Not computed.", "note"))
    if px.get("notes"):
        blocks.append(ul(px["notes"]))
    return blocks


def _share_or_suppressed(row: Mapping, tier: str) -> str:
    if row.get("n") == 0:
        return "—"
    v = (row.get("fell_share") or {}).get(tier)
    return "suppressed" if v is None else fmt_pct(v)


def _signed(x: object) -> str:
    return f"{x:+.2f}" if is_num(x) else "n/a"


def _ran(block: Mapping | None) -> bool:
    return bool(block) and block.get("status") in RAN


def _single(rows: Sequence[Mapping]) -> list[Mapping]:
    return [r for r in rows if len(r.get("attributes") or []) == 1]


def _focus_tier(doc: Mapping) -> str | None:
    """The tier the network figures follow: the most excluded finding's, else the first tier."""
    worst = _worst_finding(doc)
    if worst is not None:
        return worst["tier"]
    tiers = [x["name"] for x in doc["rule"]["tiers"]]
    return tiers[0] if tiers else None


def _network(doc: Mapping, fig: _Figures) -> list[dict]:
    ct = doc["contagion"]
    if not _ran(ct):
        return _not_run(ct, "The network analysis")
    t = doc["settings"]["disclosure_threshold"]
    tiers = [x["name"] for x in doc["rule"]["tiers"]]
    sections = ct.get("sections") or {}
    blocks: list[dict] = []

    def skipped(name: str) -> list[dict]:
        st = sections.get(name) or {}
        return [p(f"Not run: {st.get('reason') or 'no input for this part'}.", "note")]

    g = ct.get("graph") or {}
    if g:
        blocks.append(kv([("people", fmt_count(g.get("nodes"))), ("friendships", fmt_count(g.get("edges"))),
                          ("mean friends", fmt_num(g.get("mean_degree"))),
                          ("components", fmt_count(g.get("components"))),
                          ("share in the largest component", fmt_pct(g.get("giant_component_share"))),
                          ("people without friends", fmt_count(g.get("isolates"), t))]))
    assort = ct.get("assortativity") or {}
    blocks.append(h3("Homophily: who is friends with whom"))
    if assort:
        rewired = ((ct.get("rewiring") or {}).get("assortativity_rewired")) or {}
        cross = ct.get("cross_group_ties") or {}
        cols = ["grouping", "assortativity r", *(["r after random rewiring"] if rewired else []),
                "share of ties across groups"]
        blocks.append(table(cols,
                            [[k, fmt_num(v), *([fmt_num(rewired.get(k))] if rewired else []),
                              fmt_pct((cross.get(k) or {}).get("share"))] for k, v in assort.items()],
                            caption="Assortativity (as networkx computes it): 0 = friendships ignore the attribute, "
                                    "1 = only within groups."
                                    + (" Rewiring keeps everyone's number of friends and destroys homophily."
                                       if rewired else ""),
                            numeric=[False, *([True] * (len(cols) - 1))]))
    else:
        blocks += skipped("graph_statistics")

    blocks.append(h3("Spillover: what friends do to each group's score"))
    spill = _single(ct.get("spillover") or [])
    if spill:
        attr_index = {a: i for i, a in enumerate(dict.fromkeys(tuple(r["attributes"]) for r in spill))}
        rows_q = [(group_name(r.get("group")),
                   [(r.get("shift_quantiles") or {}).get(k) for k in ("p10", "p25", "p50", "p75", "p90")],
                   attr_index[tuple(r["attributes"])])
                  for r in spill if r.get("shift_quantiles")]
        if rows_q:
            blocks.append(fig("fig-spillover",
                              "Box plots of the change in score caused by friends (final minus own score) for "
                              "each group of each protected attribute.",
                              "Final minus own score by group: how far friends' scores pull members up (right of "
                              "zero) or down (left). Box: 25th–75th percentile; whiskers: 10th–90th; thick bar: "
                              "median.",
                              lambda: F.quantile_boxes(rows_q, "final minus own score (points)")))
        blocks.append(table(["group", "people", "mean own score", "mean final score", "mean shift", "pulled down"],
                            [[group_name(r.get("group")), fmt_count(r.get("n"), t), fmt_score(r.get("mean_own_score")),
                              fmt_score(r.get("mean_final_score")), fmt_num(r.get("mean_shift")),
                              fmt_pct(r.get("share_pulled_down"))] for r in spill],
                            caption="Own score: from the person's own behaviour; final: after the friends term; "
                                    "pulled down: share whose final score is below their own.",
                            numeric=[False, True, True, True, True, True]))
        blocks.append(table(["group", *[f"T{i + 1}" for i in range(len(tiers))]],
                            [[group_name(r.get("group")),
                              *[fmt_pct((r.get("guilt_by_association") or {}).get(x)) for x in tiers]]
                             for r in spill],
                            caption="Guilt by association: share of each group whose own score clears the tier but "
                                    "whose final score, after the friends term, does not; "
                                    + "; ".join(f"T{i + 1} = {x}" for i, x in enumerate(tiers)) + ".",
                            numeric=[False, *([True] * len(tiers))]))
    else:
        blocks += skipped("spillover")

    blocks.append(h3("Shock: how far a deduction travels"))
    sh = ct.get("shock") or {}
    if _ran(sh) and sh.get("by_distance"):
        dist = [r for r in sh["by_distance"] if r.get("hops") not in ("all others",) and r.get("n") != 0]
        hops = [str(r.get("hops")) for r in dist]
        change = [r.get("mean_score_change") for r in dist]
        fell = [[(r.get("fell_share") or {}).get(x) for r in dist] for x in tiers]
        seeds = sh.get("seeds") or {}
        blocks.append(fig("fig-shock-reach",
                          "Bar charts by hop distance from the shocked people: the mean change in score, and the "
                          "share who lose each tier.",
                          f"A deduction of {fmt_num(sh.get('deduction'))} points on {fmt_count(seeds.get('n_seeds'), t)} "
                          f"people ({seeds.get('selection', '')} seeds): mean score change (left) and share losing "
                          f"each tier (right) by hop distance from the nearest seed; "
                          f"{'; '.join(f'T{i + 1} = {x}' for i, x in enumerate(tiers))}. 's': suppressed.",
                          lambda: F.shock_reach(hops, change, tiers, fell)))
        blocks.append(table(["hops", "people", "mean score change", *[f"lose {x}" for x in tiers]],
                            [[str(r.get("hops")), fmt_count(r.get("n"), t), fmt_num(r.get("mean_score_change")),
                              *[_share_or_suppressed(r, x) for x in tiers]] for r in sh["by_distance"]],
                            caption="Reach of the shock by hop distance ('suppressed': fewer than "
                                    f"{t} people).", numeric=[False, True, True, *([True] * len(tiers))]))
    else:
        blocks += [p(f"Not run: {sh.get('reason') or 'no input'}.", "note")]

    blocks.append(h3("Unfriending: complying with the advice to drop low scorers"))
    uf = ct.get("unfriending") or {}
    rounds = uf.get("rounds") or []
    if _ran(uf) and rounds:
        tier = _focus_tier(doc)
        st = uf.get("settings") or {}
        if uf.get("reason"):
            blocks.append(p(f"Note: {uf['reason']}.", "note"))
        if st.get("scenario"):
            blocks.append(p(st["scenario"], "note"))
        if st.get("semantics"):
            blocks.append(p(st["semantics"], "note"))
        sens = (uf.get("sensitivity") or {}).get("scenarios") or []
        if sens:
            single = [g for g in sens[0].get("groups") or [] if len(g.get("attributes") or []) == 1]
            blocks.append(table(
                ["scenario", "compliance", "margin (points)", "ties kept", "people without friends",
                 *[f"ties kept: {group_name(g.get('group'))}" for g in single[:6]]],
                [[str(sc.get("scenario")), fmt_num(sc.get("compliance")), fmt_num(sc.get("margin")),
                  fmt_pct(sc.get("ties_kept_share")), fmt_pct(sc.get("isolate_share")),
                  *[fmt_pct(next((g.get("ties_kept_share") for g in sc.get("groups") or []
                                  if g.get("group") == g0.get("group")
                                  and g.get("attributes") == g0.get("attributes")), None))
                    for g0 in single[:6]]]
                 for sc in sens],
                caption="Sensitivity: the final round under other compliance and margin settings (same random "
                        "draws). The results depend on this scenario; it is not an estimate of behaviour.",
                numeric=[False, True, True, True, True, *([True] * min(6, len(single)))]))
        round_ids = [r.get("round", i) for i, r in enumerate(rounds)]
        panels = []
        attrs_order = list(dict.fromkeys(tuple(g.get("attributes") or []) for g in _single(rounds[0].get("groups") or [])))
        for a in attrs_order:
            names = [g.get("group") for g in rounds[0].get("groups") or [] if tuple(g.get("attributes") or []) == a]
            series = []
            for gname in names:
                ys = []
                for r in rounds:
                    row = next((g for g in r.get("groups") or [] if g.get("group") == gname), None)
                    ys.append(None if row is None else (row.get("impact_ratio") or {}).get(tier))
                series.append((", ".join(str(v) for v in gname.values()), ys))
            panels.append((" & ".join(a), series))
        if panels and tier is not None:
            blocks.append(fig("fig-unfriending",
                              "Line charts, one per protected attribute: each group's impact ratio for one tier over "
                              "rounds of unfriending.",
                              f"Impact ratio for {tier} by group over {len(rounds) - 1} rounds of unfriending "
                              f"(compliance {fmt_num(st.get('compliance'))}, margin {fmt_num(st.get('margin'))} "
                              "points); dashed line: 0.8.",
                              lambda: F.rounds_by_group(panels, round_ids, "impact ratio")))
        blocks.append(table(["round", "friendships", "ties removed", "people without friends",
                             *[f"assortativity: {k}" for k in list(rounds[0].get("assortativity") or {})[:4]]],
                            [[str(r.get("round", i)), fmt_count(r.get("edges")), fmt_count(r.get("ties_removed")),
                              fmt_count(r.get("isolates"), t),
                              *[fmt_num((r.get("assortativity") or {}).get(k))
                                for k in list(rounds[0].get("assortativity") or {})[:4]]]
                             for i, r in enumerate(rounds)],
                            caption="The graph round by round (round 0: before unfriending).",
                            numeric=[True] * (4 + min(4, len(rounds[0].get("assortativity") or {})))))
        first, last = rounds[0], rounds[-1]
        rows = []
        for g0 in _single(first.get("groups") or []):
            g1 = next((g for g in last.get("groups") or [] if g.get("group") == g0.get("group")), {})
            rows.append([group_name(g0.get("group")), fmt_count(g0.get("n"), t),
                         f"{fmt_num(g0.get('mean_degree'))} → {fmt_num(g1.get('mean_degree'))}",
                         f"{fmt_pct(g0.get('cross_group_tie_share'))} → {fmt_pct(g1.get('cross_group_tie_share'))}",
                         f"{fmt_pct((g0.get('tier_attainment') or {}).get(tier))} → "
                         f"{fmt_pct((g1.get('tier_attainment') or {}).get(tier))}",
                         f"{fmt_ratio((g0.get('impact_ratio') or {}).get(tier))} → "
                         f"{fmt_ratio((g1.get('impact_ratio') or {}).get(tier))}"])
        blocks.append(table(["group", "people", "mean friends", "ties across groups",
                             f"attain {tier}", f"impact ratio, {tier}"], rows,
                            caption=f"Before (round 0) and after round {last.get('round', len(rounds) - 1)} of "
                                    "unfriending, by group.",
                            numeric=[False, True, True, True, True, True]))
    else:
        blocks += [p(f"Not run: {uf.get('reason') or 'no input'}.", "note")]

    blocks.append(h3("Amplification: how much of each gap the network term makes"))
    amp = ct.get("amplification") or []
    hidden = _suppressed_cells(doc)
    keys = {(_gkey(f["group"]), f["tier"]) for f in doc["summary"]["findings"]}
    chosen = [a for a in amp if (_gkey(a.get("group")), a.get("tier")) in keys and not a.get("suppressed")]
    if not chosen:
        chosen = [a for a in _single(amp) if not a.get("suppressed")
                  and (_gkey(a.get("group")), a.get("tier")) not in hidden
                  and is_num(a.get("network_effect")) and a["network_effect"] < -0.02][:20]
    if amp:
        if chosen:
            blocks.append(table(["group", "tier", "ratio without network", "ratio with network",
                                 "ratio on rewired graph", "network effect", "of which homophily"],
                                [[group_name(a.get("group")), a.get("tier", ""),
                                  fmt_ratio(a.get("impact_ratio_without_network")), fmt_ratio(a.get("impact_ratio")),
                                  fmt_ratio(a.get("impact_ratio_rewired")), _signed(a.get("network_effect")),
                                  _signed(a.get("homophily_effect"))] for a in chosen],
                                caption="Impact ratios without the network term, with it on the real graph, and with "
                                        "it on a degree-preserving random rewiring (no homophily). Network effect = "
                                        "with minus without; homophily = real minus rewired graph. Rows: the lead's "
                                        "findings (else the single-attribute groups the network term hurts most).",
                                numeric=[False, False, True, True, True, True, True]))
        else:
            blocks.append(p("The network term does not lower any published impact ratio materially.", "note"))
    else:
        blocks += skipped("amplification")
    return blocks


def _method(doc: Mapping) -> list[dict]:
    st = doc["settings"]
    blocks = [p("Impact ratio: a group's rate of attaining a tier divided by the rate of the most favoured group "
                "(the group of at least the minimum size with the highest rate). Below 0.8 — the four-fifths "
                "line used in US employment-discrimination practice — counts as a disparity. A group is "
                f"'pushed out' of a tier when its ratio is below 0.8 and its q-value is below {st['alpha']:g}. "
                "q-values are p-values adjusted for the number of comparisons (Benjamini–Hochberg false discovery "
                "rate).")]
    blocks.append(kv([("minimum group size (named)", fmt_count(st["min_group_size"])),
                      ("disclosure threshold", fmt_count(st["disclosure_threshold"])),
                      ("alpha (FDR and 1 − confidence)", fmt_num(st["alpha"])),
                      ("intersections up to", fmt_num(st["intersections"])),
                      ("reference groups", group_name(st["reference"]) if st.get("reference") else
                       "each attribute's largest group"),
                      ("seed", fmt_num(st["seed"]))]))
    for name, title in (("impact", "Disparate impact"), ("proxy", "Proxies"), ("contagion", "Network")):
        block = doc[name]
        blocks.append(h3(title))
        if not _ran(block):
            blocks += _not_run(block, title)
        else:
            blocks += _methods_blocks(block.get("methods")) or [p("No method notes recorded.", "note")]
    blocks.append(h3("Assumptions and caveats"))
    blocks.append(ul(list(dict.fromkeys([*doc["summary"]["caveats"], *doc["notes"]]))))
    blocks.append(p("Privacy: this report holds group-level figures only. No person's row, id or value appears in "
                    f"any format; counts of fewer than {st['disclosure_threshold']} people are shown as "
                    "'suppressed'.", "note"))
    return blocks


def _repro(doc: Mapping) -> list[dict]:
    r = doc["reproducibility"]
    blocks = [kv([("rule hash", r["rule_hash"], True), ("data hash", r["data_hash"], True),
                  ("graph hash", r["graph_hash"] or "no graph", bool(r["graph_hash"])),
                  ("seed", fmt_num(r["seed"])), ("command", r["command"] or "not recorded", bool(r["command"])),
                  ("report schema", doc["schema_version"]), ("toolkit", f"{doc['tool']['name']} "
                                                                        f"{doc['tool']['version']}")])]
    blocks.append(table(["package", "version"], [[k, v or "not installed"] for k, v in r["versions"].items()],
                        caption="Package versions."))
    blocks.append(p("The same input, rule and seed give a byte-identical report.json.", "note"))
    return blocks


def build_view(doc: Mapping, *, figures: bool = True, compact: bool = False) -> dict:
    """Sections of display blocks for ``doc``; ``compact`` is the notebook version (lead, key tables, figures)."""
    fig = _Figures(figures)
    r = doc["rule"]
    pop = doc["population"]
    subtitle = (f"Rule {r.get('name')} ({r.get('status')}) on {pop['source']}: {fmt_count(pop['rows'])} people"
                + (f", {fmt_count(doc['graph']['edges'])} friendships" if doc.get("graph") else "")
                + (" — synthetic data" if pop.get("synthetic") else "") + f". Seed {doc['settings']['seed']}.")
    sections = [
        {"id": "summary", "title": "Summary", "blocks": _summary(doc)},
    ]
    if compact:
        sections.append({"id": "disparate-impact", "title": "Disparate impact",
                         "blocks": _impact(doc, fig, compact=True)})
    else:
        sections += [
            {"id": "rule-card", "title": "The rule", "blocks": _rule(doc)},
            {"id": "population-card", "title": "The population", "blocks": _population(doc)},
            {"id": "disparate-impact", "title": "Disparate impact", "blocks": _impact(doc, fig)},
            {"id": "proxies", "title": "Proxies", "blocks": _proxy(doc, fig)},
            {"id": "network", "title": "Network", "blocks": _network(doc, fig)},
            {"id": "method", "title": "Method, assumptions and caveats", "blocks": _method(doc)},
            {"id": "reproducibility", "title": "Reproducibility", "blocks": _repro(doc)},
        ]
    return {"title": f"Audit of {r.get('title') or r.get('name')}", "subtitle": subtitle, "sections": sections}
