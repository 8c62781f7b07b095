"""The sentences of the dynamics report: its lead, findings and methods.

Every sentence is built from published (disclosure-controlled) figures only.
A comparison between two groups is stated as the number of runs in which it
held, counted on the same runs whose means are published, so a reader sees
how often the simulation showed it rather than a bare "higher".
"""

from __future__ import annotations

import numpy as np

from audit.dynamics._result import CAUSE_LABELS, CAUSES

__all__ = ["summary", "methods", "pct", "headline_group"]

SCENARIO_CAVEAT = ("This is a stated scenario, not a forecast: it follows what the rule would do if people and "
                   "the system behaved as the scenario says. Its numbers are sourced or marked illustrative in "
                   "the scenario card; change them and the figures change.")


def pct(x: float | None, digits: int = 1) -> str:
    return "withheld" if x is None or np.isnan(x) else f"{100 * x:.{digits}f}%"


def _band(v, lo, hi, p, k) -> str:
    return f"{pct(v[p, k])} (runs: {pct(lo[p, k])}–{pct(hi[p, k])})"


def _blocks(res) -> dict[int, list[int]]:
    """Shown groups of each single protected attribute, by block."""
    out: dict[int, list[int]] = {}
    for i, g in enumerate(res.groups):
        if g["protected"] and len(g["attributes"]) == 1 and res._shown(g["n"]):
            out.setdefault(g["block"], []).append(i)
    return out


def headline_group(res) -> int | None:
    """The shown single-attribute protected group with the highest published share without friends at the end."""
    v = res.published()["isolated_share"][0][res.periods]
    best, best_v = None, -1.0
    for idx in _blocks(res).values():
        for k in idx:
            if not np.isnan(v[k]) and v[k] > best_v:
                best, best_v = k, float(v[k])
    return best


def _runs_higher(res, metric: str, a: int, b: int) -> int:
    tab = res.tables["scenario"]
    val, _, _ = res._ratio(tab, metric)
    return int((val[:, res.periods, a] > val[:, res.periods, b]).sum())


def summary(res) -> dict:
    pubs = res.published()
    last, runs = res.periods, res.runs
    names = res.group_names()
    iso = pubs["isolated_share"]
    t = res.t
    findings: list[dict] = []
    withheld_all: list[str] = []
    for idx in _blocks(res).values():
        ref = max(idx, key=lambda k: (res.groups[k]["n"], -k))          # the attribute's largest group
        attr = res.groups[ref]["attributes"][0]
        cand = [k for k in idx if not np.isnan(iso[0][last, k])]
        withheld = [names[k] for k in idx if np.isnan(iso[0][last, k])]
        withheld_all += withheld
        note = (f" Withheld under the disclosure rule (1 to {t - 1} people in some run): "
                f"{', '.join(withheld)}.") if withheld else ""
        if not cand:
            findings.append({"kind": "isolation", "attribute": attr, "text": (
                f"{attr}: after {last} periods no group's share without friends can be published.{note}")})
            continue
        top = max(cand, key=lambda k: (iso[0][last, k], -k))
        if iso[0][last, top] == 0:
            findings.append({"kind": "isolation", "attribute": attr, "text": (
                f"{attr}: after {last} periods nobody in a group whose figure is published is without friends."
                f"{note}")})
            continue
        if top == ref or np.isnan(iso[0][last, ref]) or iso[0][last, top] <= iso[0][last, ref]:
            findings.append({"kind": "isolation", "attribute": attr, "group": names[top], "text": (
                f"{attr}: after {last} periods the highest published share without any friend is "
                f"{names[top]}'s, {_band(*iso, last, top)}.{note}")})
            continue
        higher = _runs_higher(res, "isolated_share", top, ref)
        claim = (f"after {last} periods {pct(iso[0][last, top])} of {names[top]} have no friend left "
                 f"(runs: {pct(iso[1][last, top])}–{pct(iso[2][last, top])}), against {pct(iso[0][last, ref])} of "
                 f"{names[ref]} (runs: {pct(iso[1][last, ref])}–{pct(iso[2][last, ref])}); the share was higher "
                 f"for {names[top]} in {higher} of {runs} runs.")
        findings.append({"kind": "isolation", "attribute": attr, "group": names[top], "reference": names[ref],
                         "runs_higher": higher, "runs": runs, "claim": claim, "text": f"{attr}: {claim}{note}"})
    head = headline_group(res)
    if head is not None:
        shares = [pubs[f"lost_tie_share[{c}]"][0][last, head] for c in CAUSES]
        if not any(np.isnan(s) for s in shares):
            parts = ", ".join(f"{pct(s)} {CAUSE_LABELS[c]}" for c, s in zip(CAUSES, shares, strict=True))
            per = [pubs[f"ties_lost_per_person[{c}]"][0][last, head] for c in CAUSES]
            total = "" if any(np.isnan(x) for x in per) else f" ({sum(per):.1f} tie-ends per person)"
            findings.append({"kind": "lost_ties", "group": names[head], "text": (
                f"Of the friendships {names[head]} lost by period {last}{total}, the advice's clauses account "
                f"for: {parts} (mean shares over runs; 'both' means either clause alone would have removed the "
                f"tie).")})
        deco = _decomposition_text(res, head)
        if deco:
            findings.append({"kind": "decomposition", "group": names[head], "text": deco})
    fifths = [i for i, g in enumerate(res.groups) if not g["protected"]]
    if len(fifths) >= 2:
        lo_k, hi_k = fifths[0], fifths[-1]
        if not (np.isnan(iso[0][last, lo_k]) or np.isnan(iso[0][last, hi_k])):
            findings.append({"kind": "score_fifths", "text": (
                f"By initial score: {pct(iso[0][last, lo_k])} of the lowest-scoring fifth have no friend left after "
                f"{last} periods, against {pct(iso[0][last, hi_k])} of the highest-scoring fifth.")})
    drift = _drift(res)
    if drift:
        findings.append(drift)
    first = next((f for f in findings if f["kind"] == "isolation" and head is not None
                  and f.get("group") == names[head] and "reference" in f), None)
    if head is not None and iso[0][last, head] > 0:
        headline = f"In this stated scenario, {first['claim']}" if first else (
            f"In this stated scenario, after {last} periods {pct(iso[0][last, head])} of {names[head]} have no "
            f"friend left (runs: {pct(iso[1][last, head])}–{pct(iso[2][last, head])}).")
    elif head is not None and not withheld_all:
        headline = f"After {last} periods of this scenario nobody in any shown group is left without friends."
    elif head is not None:
        headline = (f"After {last} periods of this scenario nobody is without friends in the groups whose figure "
                    f"can be published; for {', '.join(dict.fromkeys(withheld_all))} the share is withheld under "
                    f"the disclosure rule.")
    else:
        headline = (f"Over {last} periods no group's share without friends could be published under the "
                    f"disclosure rule.")
    return {"headline": headline, "findings": findings, "caveats": [SCENARIO_CAVEAT]}


def _decomposition_text(res, k: int) -> str | None:
    if len(res.variants) < 2:
        return None
    last = res.periods
    name = res.group_names()[k]
    base = res.published("scenario")["isolated_share"][0][last, k]
    parts = []
    labels = {"without_real_name_clause": "without the real-name clause",
              "without_score_margin": "without the score margin", "without_feedback": "without feedback"}
    for var in res.variants[1:]:
        v = res.published(var)["isolated_share"]
        if np.isnan(v[0][last, k]):
            parts.append(f"{labels.get(var, var)} withheld (a count of 1 to {res.t - 1} in some run, or a "
                         f"cell hidden with one)")
        else:
            parts.append(f"{labels.get(var, var)} {pct(v[0][last, k])} (runs: {pct(v[1][last, k])}–"
                         f"{pct(v[2][last, k])})")
    if np.isnan(base):
        return None
    return (f"Re-run on the same random draws with one mechanism switched off, {name}'s share without friends "
            f"at period {last} would be: " + "; ".join(parts) + f" (scenario: {pct(base)}).")


def _drift(res) -> dict | None:
    pubs = res.published()["mean_score"]
    last = res.periods
    worst, worst_d = None, 0.0
    for idx in _blocks(res).values():
        for k in idx:
            a, b = pubs[0][0, k], pubs[0][last, k]
            if not (np.isnan(a) or np.isnan(b)) and b - a < worst_d:
                worst, worst_d = k, float(b - a)
    if worst is None:
        return None
    name = res.group_names()[worst]
    return {"kind": "drift", "group": name, "text": (
        f"The largest fall in a group's mean score: {name}, from {pubs[0][0, worst]:.1f} to {pubs[0][last, worst]:.1f} "
        f"points (runs: {pubs[1][last, worst]:.1f}–{pubs[2][last, worst]:.1f}) over {last} periods.")}


def methods(res) -> dict:
    s = res.settings
    sc = res.scenario
    band = s["band"]
    u, f, r = sc.get("unfriending"), sc.get("formation"), sc.get("renewal")
    out = {
        "scenario": SCENARIO_CAVEAT + f" Scenario: {sc['title']} ({s['scenario_origin']}).",
        "period": (
            "Each period: (1) each person follows the advice with the scenario's compliance probability (one draw "
            "per person and period); (2) unfriending on the scores of the previous period; (3) tie formation; "
            "(4) renewal of behaviour records; (5) feedback from the previous period's tiers to the inputs; "
            "(6) scores recomputed from the inputs, the friends term solved on the new graph to the rule's "
            "tolerance (a proven bound on every score's error), tiers granted. Period 0 is the input."),
        "unfriending": "No unfriending." if not u else (
            f"A person following the advice drops each friend whose score is worse than theirs by more than "
            f"{s['margin']:g} points ({s['margin_basis']})"
            + (" and each friend without a real-name account" if u.get("drop_no_real_name") else "")
            + ("" if u.get("score_margin", True) else " (the score margin is switched off)")
            + ". A tie goes when either end drops it. Each lost tie-end is booked to the clause that removed it: "
              "the real-name clause only, the score margin only, or both (either alone would have removed it)."),
        "formation": "No tie formation." if not f else (
            f"People below their period-0 number of friends make min(Poisson({f['rate']:g}), missing) attempts "
            f"a period (nobody exceeds their period-0 number of friends); a candidate is a friend of a random friend (share {f['triadic']:g}), someone within "
            f"{f['window']:.0%} of the people with room of their own score rank (share {f['score_homophily']:g}) "
            f"or anyone with room; a tie forms unless it exists"
            + (" or an end following the advice that period would drop it." if f.get("advice_applies") else ".")),
        "renewal": "No renewal: inputs change only through feedback." if not r else (
            f"Each period a share {r['share']:g} of people draw a new record of {', '.join(r['columns'])} from the "
            f"period-0 records of a random person in their stratum ({', '.join(s['renewal_strata'])}); without "
            f"feedback each stratum keeps its observed distribution of these columns."),
        "feedback": "No feedback." if not sc.get("feedback") else " ".join(
            f"{fb.get('label') or fb['id']}: people who {'attained' if fb['attained'] else 'did not attain'} "
            f"'{fb['tier']}' get {_change(fb)} in {fb['column']}"
            + (f" with probability {fb['probability']:g}" if fb.get("probability", 1) < 1 else "") + "."
            for fb in sc["feedback"]),
        "measures": (
            "Per group and period: tier attainment (share attaining each tier), mean final and own score, mean "
            "number of friends, share without any friend (isolated), share outside the largest connected "
            "component, share of tie-ends to members of other groups of the same attribute, tie-ends lost per "
            "person by clause (cumulative), the split of lost tie-ends by clause, ties formed per person. "
            "Per period: ties, ties removed by clause, score assortativity (Pearson correlation of the final "
            "scores at the two ends of a tie) and attribute assortativity per protected attribute (as networkx "
            "computes them). Groups: each protected attribute and the fifths of the period-0 final score."),
        "monte_carlo": (
            f"{s['runs']} runs with seeds spawned from seed {s['seed']} (numpy SeedSequence); each figure is the "
            f"mean over runs and its band the central {band:.0%} of runs (quantiles {(1 - band) / 2:g} and "
            f"{(1 + band) / 2:g}): the spread of one simulated history, not a confidence interval for the mean."),
        "decomposition": "No decomposition." if len(res.variants) < 2 else (
            "The scenario was re-run with one mechanism switched off at a time ("
            + ", ".join(v.replace("_", " ") for v in res.variants[1:])
            + "), on the same random draws per run, so the difference to the scenario shows what that mechanism "
              "adds; mechanisms interact, so the parts need not add up to the whole."),
        "disclosure": (
            f"Only group aggregates are published. A group is shown only with at least {s['min_group_size']} "
            f"people. A share is a cell of counts (people, or tie-ends) and is published only when neither the "
            f"count nor its complement is 1 to {s['disclosure_threshold'] - 1} in every run (audit.disclosure's "
            f"cell rule); a withheld cell hides another of its line so that it cannot be recovered from a total; "
            f"an attribute's assortativity is withheld in a period where one of its cross-group shares is. Not "
            f"protected: differences between consecutive periods."),
    }
    return out


def _change(fb: dict) -> str:
    if fb.get("add_poisson") is not None:
        return f"a Poisson({fb['add_poisson']:g}) increase"
    if fb.get("add") is not None:
        return f"{fb['add']:+g}"
    if fb.get("multiply") is not None:
        return f"a factor {fb['multiply']:g}"
    return f"the value {fb['set']}"
