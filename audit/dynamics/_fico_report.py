"""The delayed-impact example report: Liu et al. (2018)'s outcome curves reproduced on the FICO aggregates."""

from __future__ import annotations

import json
from pathlib import Path

from audit.dynamics._delayed_impact import POLICIES, POLICY_LABELS, delayed_impact
from audit.dynamics._figures import outcome_curves, render_svg
from audit.dynamics._render import render_html, render_markdown

__all__ = ["delayed_impact_document", "delayed_impact_view", "write_delayed_impact_report"]

SCHEMA_VERSION = "delayed-impact-1"


def _p(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _pts(x: float | None) -> str:
    return "—" if x is None else f"{x:+.1f}"


def _findings(d: dict) -> tuple[str, list[str]]:
    pol = d["policies"]
    turning = {g["group"]: g["turning_points"] for g in d["groups"]}
    out = []
    for g in d["policy_groups"]:
        mp = pol["max_profit"][g]
        parts = [f"maximum profit selects {_p(mp['selection_rate'])} ({_pts(mp['expected_score_change'])} points)"]
        for p in ("demographic_parity", "equal_opportunity"):
            r = pol[p][g]
            parts.append(f"{POLICY_LABELS[p]} {_p(r['selection_rate'])} ({_pts(r['expected_score_change'])} points: "
                         f"{r['versus_max_profit']})")
        zero = turning[g]["rate_beyond_which_mean_score_falls"]
        tail = (f" Its mean score falls on average once more than {_p(zero)} of the group is selected."
                if zero is not None else " No selection rate makes its expected mean score fall.")
        out.append(f"{g}: " + "; ".join(parts) + "." + tail)
    harmed = [(p, g) for p in ("demographic_parity", "equal_opportunity") for g in d["policy_groups"]
              if pol[p][g]["versus_max_profit"] == "active harm"]
    if harmed:
        p, g = harmed[0]
        r = pol[p][g]
        lead = (f"On the FICO data, a lender held to {POLICY_LABELS[p]} selects {_p(r['selection_rate'])} of the "
                f"{g} group, beyond the rate at which the group's mean score starts to fall: an expected change of "
                f"{_pts(r['expected_score_change'])} points, against {_pts(pol['max_profit'][g]['expected_score_change'])} "
                f"under maximum profit (active harm in Liu et al.'s terms).")
    else:
        lead = "On the FICO data, no fairness policy causes active harm (a fall in a group's mean score) in this setting."
    return lead, out


def delayed_impact_document(result, *, command: str | None = None, data_hash: str | None = None) -> dict:
    """report.json of the delayed-impact example: settings, policies, turning points and the curves."""
    from audit._version import __version__

    d = result.to_dict()
    lead, findings = _findings(d)
    return {
        "schema_version": SCHEMA_VERSION, "kind": "delayed_impact",
        "tool": {"name": "scoring-rule-audit", "version": __version__},
        "title": "Delayed impact of lending policies on the FICO aggregates (Liu et al. 2018, reproduced)",
        "data": {"name": "fico", "card": "datasets/fico.md", "data_hash": data_hash,
                 "groups": {g["group"]: g["total"] for g in d["groups"]}},
        "summary": {"headline": lead, "findings": findings},
        "command": command,
        "delayed_impact": d,
    }


def delayed_impact_view(doc: dict, figures: bool = True) -> dict:
    d = doc.get("delayed_impact", doc)
    s = d["settings"]
    summ = doc.get("summary") or dict(zip(("headline", "findings"), _findings(d), strict=True))
    groups = [g["group"] for g in d["groups"]]
    rates = [row["selection_rate"] for row in d["curves"]]
    curves = {g: [row[g] for row in d["curves"]] for g in groups}
    markers = [(POLICY_LABELS[p], g, r["selection_rate"], r["expected_score_change"])
               for p in POLICIES for g, r in d["policies"][p].items()
               if g in d["policy_groups"] or p == "max_profit"]
    fig = {"type": "figure", "id": "fico-outcome-curves", "alt": "Outcome curves by group",
           "svg": render_svg("fico-outcome-curves", lambda: outcome_curves(rates, curves, markers)) if figures else "",
           "caption": (f"Outcome curves: the expected change in each group's mean score (FICO points) when the lender "
                       f"selects the best-scoring share of the group (x axis), with +{s['repaid']:g} points for a "
                       f"repaid loan and {s['default']:g} for a default. Markers: the selection rates of maximum "
                       f"profit (every group) and of demographic parity and equal opportunity (solved over "
                       f"{' and '.join(d['policy_groups'])}).")}
    prow = []
    for p in POLICIES:
        for g, r in d["policies"][p].items():
            prow.append([POLICY_LABELS[p], g, _p(r["selection_rate"]), _p(r["true_positive_rate"]),
                         _pts(r["expected_score_change"]), f"{r['lowest_score_selected']:.1f}",
                         r.get("versus_max_profit", "—") if p != "max_profit" else
                         ("threshold" if r.get("threshold_policy") else "not a threshold (repayment not monotone)")])
    trow = [[g["group"], f"{g['total']:,}", _p(g["turning_points"]["rate_of_largest_improvement"]),
             _pts(g["turning_points"]["largest_improvement"]),
             _p(g["turning_points"]["rate_beyond_which_mean_score_falls"])] for g in d["groups"]]
    crow = [[_p(row["selection_rate"]), *[_pts(row[g]) for g in groups]]
            for row in d["curves"] if round(row["selection_rate"] * 1000) % 100 == 0]
    methods = [
        ("model", "A selected person repays with the non-delinquent share of their score level "
                  "(1 - delinquent_percent / 100); their score moves by the repaid or default change; people not "
                  "selected do not move. A group's expected change at selection rate b is the sum, over the best "
                  "scores making up b of the group, of (share at the level) x (expected change), the boundary level "
                  "selected in part (a randomised threshold).", False),
        ("scale", "TransRisk levels 0-100 mapped to FICO 300-850 by Liu et al.'s piecewise-linear conversion; "
                  "x + expected change clipped to 300-850, as in their code." if s["scale"] == "fico" else
                  "TransRisk levels 0-100, clipped to 0-100.", False),
        ("policies", f"Lender utility {s['utility_repaid']:+g} per repaid loan, {s['utility_default']:+g} per default "
                     f"(break-even repayment {s['break_even_repayment']:.2f}). Maximum profit lends at every level "
                     "with non-negative expected utility; demographic parity: one selection rate for all policy "
                     "groups; equal opportunity: one true positive rate; both maximise the size-weighted profit, "
                     "found exactly by evaluating every knot of the piecewise-linear profit.", False),
        ("comparison", "Against maximum profit: improvement (a larger expected change), relative harm (smaller, "
                       "still positive) or active harm (negative), Liu et al.'s terms.", False),
        ("validation", "tests/test_dynamics_fico.py recomputes every curve and policy from the raw CSV files "
                       "with an independent per-level loop and agrees within 1e-9.", False),
        ("source", s["source"], False),
    ]
    sections = [
        {"id": "summary", "title": "Summary", "blocks": [{"type": "p", "cls": "lead", "text": summ["headline"]},
                                                         {"type": "list", "items": summ["findings"]}]},
        {"id": "curves", "title": "Outcome curves", "blocks": [fig, {
            "type": "table", "caption": "Expected change in the mean score (points) by selection rate",
            "columns": ["selection rate", *groups], "numeric": [True] * (1 + len(groups)), "rows": crow}]},
        {"id": "policies", "title": "Lending policies", "blocks": [
            {"type": "table", "caption": "Selection rate, true positive rate and expected change per policy and group",
             "columns": ["policy", "group", "selection rate", "true positive rate", "expected change",
                         "lowest score selected", "against maximum profit"],
             "numeric": [False, False, True, True, True, True, False], "rows": prow},
            {"type": "table", "caption": "Turning points of each group's outcome curve",
             "columns": ["group", "people (sample)", "rate of largest improvement", "largest improvement",
                         "mean score falls beyond"], "numeric": [False, True, True, True, True], "rows": trow}]},
        {"id": "methods", "title": "Methods", "blocks": [{"type": "kv", "items": methods}, {
            "type": "p", "cls": "note", "text": "The FICO files are aggregates (score distributions and delinquency "
            "rates by group), not people; nothing here is about an individual. The performance file gives the "
            "share who are seriously delinquent; see datasets/fico.md."}]},
    ]
    return {"title": doc.get("title", "Delayed impact"), "subtitle": "Federal Reserve TransRisk aggregates by race "
            "(2003 sample) · one-step feedback model of Liu, Dean, Rolf, Simchowitz and Hardt (ICML 2018)",
            "footer": (f"Generated by {doc['tool']['name']} {doc['tool']['version']} · {doc['schema_version']}."
                       if "tool" in doc else ""),
            "sections": sections}


def write_delayed_impact_report(out: str | Path = "reports/fico_delayed_impact", *, data=None,
                                command: str | None = None) -> dict[str, Path]:
    """Compute the delayed-impact curves on the FICO data and write report.json, .md and .html (atomically).

    The output is byte-identical for the same data and package versions.
    """
    from audit.data import frame_hash
    from audit.datasets import load_fico
    from audit.dynamics._report import write_folder

    frame = load_fico(data)
    res = delayed_impact(frame)
    doc = delayed_impact_document(res, command=command, data_hash=frame_hash(frame))
    texts = {"report.json": json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n",
             "report.md": render_markdown(delayed_impact_view(doc, figures=False)),
             "report.html": render_html(delayed_impact_view(doc, figures=True))}
    return write_folder(out, texts)
