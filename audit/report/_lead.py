"""The lead: a short plain-language summary generated from the findings.

The summary is part of report.json (``summary``); report.md and report.html
print its strings verbatim, so the three formats agree by construction.  Every
number in a sentence is printed from the numeric fields stored next to it.

Verdicts (see the impact family's ``methods["verdicts"]``)
-------------------------------------------------------------
* ``pushed out``   - the selection-valid upper bound of the ratio to the truly
  best group is below the line (0.8), with false discovery rate control:
  "X reach T at 41% of the rate of B (...; at most 55% of the best group's)".
* ``below parity`` - significantly below the best group, not shown to be below
  the line: "X reach T less often than B: ... (not shown to be below 0.8)".

A group smaller than the minimum group size is never named in the lead, as a
finding or as a comparison group.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from audit.report._format import (
    fmt_ci,
    fmt_pct,
    fmt_q_clause,
    fmt_ratio,
    fmt_share_of,
    group_phrase,
    is_num,
)

RAN = ("ok", "ran", "partial")  # statuses of a family that produced results
PER_TIER = 2  # most excluded groups named per tier


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _part_phrase(part: Mapping) -> str:
    name, kind = str(part.get("part")), part.get("kind")
    if name == "network: averaging":
        return "the friends term's pull toward everyone's average (averaging)"
    if name == "network: friends":
        return "the friends term's pull toward their own friends (who their friends are)"
    if kind == "protected":
        return f"the rule reading the protected attribute ({name})"
    return f"'{name}'"


def _share(p: Mapping) -> str:
    lo, hi = p.get("share_ci") or [None, None]
    return f"{fmt_pct(p.get('share'), 0)} of the gap, interval {fmt_pct(lo, 0)} to {fmt_pct(hi, 0)}"


def mechanism_text(entry: Mapping, bar: float = 0.2) -> str:
    """The mechanism in words, with the attribution's numbers (see audit.mechanisms)."""
    parts = [p for p in (entry.get("attribution") or []) if isinstance(p, Mapping)]
    kinds = [k for k in (entry.get("attribution_kinds") or []) if isinstance(k, Mapping)]
    mech = entry.get("mechanism") or "not determined"
    if not parts:
        return str(mech)

    def clears(p):
        return is_num((p.get("share_ci") or [None])[0]) and p["share_ci"][0] >= bar

    named_kinds = sorted((k for k in kinds if clears(k)), key=lambda k: -(k.get("share") or 0))
    if not named_kinds:
        top = next((p for p in parts if p.get("kind") != "residual"), None)
        return ("diffuse: no part of the rule is shown to carry a fifth of the gap"
                + (f" (largest: {_part_phrase(top)}, {_share(top)})" if top else ""))
    bits = []
    for k in named_kinds:
        if k["part"] == "terms":
            inside = [p for p in parts if p.get("kind") in ("term", "input") and clears(p)]
            text = f"the rule's terms together carry {_share(k)}"
            if inside:
                text += "; chiefly " + _and([f"{_part_phrase(p)} with {_share(p)}" for p in inside])
            else:
                text += ", spread over several, none carrying a fifth alone"
            bits.append(text)
        elif k["part"] == "protected":
            bits.append(f"the rule reading the protected attribute carries {_share(k)}")
        else:
            bits.append(f"{_part_phrase(k)} carries {_share(k)}")
    return "; ".join(bits)


def mechanism_short(entry: Mapping) -> str:
    """The mechanism label for tables (derived from the attribution)."""
    return str(entry.get("mechanism") or "not determined")


def _ref_phrase(entry: Mapping, nameable: Callable[[Mapping], bool]) -> str:
    ref = entry.get("reference_group")
    if isinstance(ref, Mapping) and ref:
        return group_phrase(ref) if nameable(ref) else "the reference group"
    if isinstance(ref, str) and ref:
        return ref
    return "the most favoured group"


def finding_text(entry: Mapping, *, ci_level: str, nameable: Callable[[Mapping], bool],
                 favourable: bool = True, verb: str | None = None, line: float = 0.8) -> str:
    who = group_phrase(entry.get("group"))
    who = who[0].upper() + who[1:]
    tier = entry.get("tier", "?")
    ref = _ref_phrase(entry, nameable)
    verb = verb or ("reach" if favourable else "stay out of")
    ratio = entry.get("impact_ratio")
    numbers = (f"{fmt_pct(entry.get('selection_rate'))} vs {fmt_pct(entry.get('reference_rate'))}; "
               f"impact ratio {fmt_ratio(ratio)}, {ci_level} CI {fmt_ci(entry.get('ci_low'), entry.get('ci_high'))}; "
               f"upper bound {fmt_ratio(entry.get('ratio_upper_bound'))} whichever group is truly best; "
               f"{fmt_q_clause(entry.get('q_value'))}")
    mech = f" Mechanism: {mechanism_text(entry)}."
    if entry.get("fragile"):
        flips = [r["variant"] for r in entry.get("sensitivity") or [] if r.get("verdict") != entry.get("verdict")]
        mech += (" Fragile: the verdict does not hold with " + _and(flips) + " (numbers the rule file marks "
                 "illustrative).")
    if entry.get("verdict") == "pushed out":
        return (f"Pushed out: {who} {verb} {tier} at {fmt_share_of(ratio)} of the rate of {ref} "
                f"({numbers}).{mech}")
    return (f"Below parity: {who} {verb} {tier} less often than {ref}, at {fmt_share_of(ratio)} of their rate "
            f"({numbers}; not shown to be below {line:g}).{mech}")


def _most_excluded(pushed_out: Sequence[Mapping], tier_order: Sequence[str], min_group_size: int,
                   per_tier: int) -> list[Mapping]:
    """Per tier: the most excluded single-attribute group, then the most excluded intersection, ...

    Only entries with a published impact ratio and at least ``min_group_size`` people.
    """
    rank = {t: i for i, t in enumerate(tier_order)}
    by_tier: dict[str, list[Mapping]] = {}
    for e in pushed_out:
        n = e.get("n")
        if not is_num(n) or n < min_group_size or not is_num(e.get("impact_ratio")):
            continue  # never name a small (or suppressed) group
        by_tier.setdefault(str(e.get("tier")), []).append(e)
    out = []
    for tier in sorted(by_tier, key=lambda t: (rank.get(t, len(rank)), t)):
        entries = sorted(by_tier[tier], key=lambda e: (e["impact_ratio"], -e["n"], str(e.get("group"))))
        singles = [e for e in entries if len(e.get("attributes") or []) <= 1]
        inters = [e for e in entries if len(e.get("attributes") or []) > 1]
        picked: list[Mapping] = []
        while len(picked) < per_tier and (singles or inters):
            for pool in (singles, inters):
                if pool and len(picked) < per_tier:
                    picked.append(pool.pop(0))
        out.extend(picked)
    return out


def _verb(favourable: bool, higher_is_better: bool) -> str:
    """How a group gets a tier's favourable outcome: reach a benefit, be placed in a low-risk band, or stay out."""
    if not favourable:
        return "stay out of"
    return "reach" if higher_is_better else "are placed in"


def build_summary(
    *,
    findings: Sequence[Mapping],
    rule: Mapping,
    impact_status: str,
    impact_reason: str | None,
    settings: Mapping,
    synthetic: str | None,
    nameable: Callable[[Mapping], bool],
    n_candidates: int | None = None,
    detection_limits: Sequence[Mapping] = (),
    notes: Sequence[str] = (),
    n_small_groups: int = 0,
    favourable: Mapping[str, bool] | None = None,
    per_tier: int = PER_TIER,
) -> dict:
    """The ``summary`` block of report.json: headline, findings (with their numbers) and caveats."""
    alpha = float(settings.get("alpha", 0.05))
    line = float(settings.get("threshold", 0.8))
    ci_level = f"{100 * (1 - alpha):g}%"
    min_size = int(settings.get("min_group_size", 30))
    tiers = [t["name"] for t in rule.get("tiers", [])]
    fav = dict(favourable or {})
    higher = bool(rule.get("higher_is_better", True))
    title = rule.get("title") or rule.get("name") or "the rule"

    pushed_out = [e for e in findings if e.get("verdict") == "pushed out"]
    top = [e for e in pushed_out if e.get("parent") is None]
    eligible = [e for e in top if is_num(e.get("n")) and e["n"] >= min_size]
    chosen = _most_excluded(eligible, tiers, min_size, per_tier)
    out_findings = []
    for e in chosen:
        out_findings.append({
            "text": finding_text(e, ci_level=ci_level, nameable=nameable, line=line,
                                 verb=_verb(fav.get(e.get("tier"), True), higher)),
            "verdict": e.get("verdict"),
            "tier": e.get("tier"),
            "group": dict(e.get("group") or {}),
            "attributes": list(e.get("attributes") or []),
            "n": e.get("n"),
            "selection_rate": e.get("selection_rate"),
            "reference_group": e.get("reference_group"),
            "reference_rate": e.get("reference_rate"),
            "impact_ratio": e.get("impact_ratio"),
            "ci_low": e.get("ci_low"),
            "ci_high": e.get("ci_high"),
            "ratio_upper_bound": e.get("ratio_upper_bound"),
            "q_value": e.get("q_value"),
            "mechanism": mechanism_text(e),
            "attribution": list(e.get("attribution") or []),
        })

    groups = {(tuple(e.get("attributes") or []), tuple(sorted((e.get("group") or {}).items(), key=str)))
              for e in eligible}
    nested = len(pushed_out) - len(top)
    if impact_status not in RAN:
        headline = (f"Disparate impact was not assessed for {title}"
                    + (f" ({impact_reason})" if impact_reason else "") + "; no group is named.")
    elif eligible and not out_findings:
        headline = (f"Under {title}, {len(groups)} group{'s are' if len(groups) != 1 else ' is'} pushed out of at "
                    f"least one tier, but every finding rests on counts too small to publish; the groups are "
                    f"listed without their rates.")
    elif out_findings:
        hit_tiers = [t for t in tiers if any(e.get("tier") == t for e in eligible)]
        published = [e for e in eligible if is_num(e.get("impact_ratio"))]
        worst = min(published, key=lambda e: (e["impact_ratio"], str(e["group"])))
        hidden = len(eligible) - len(published)
        noun = "benefit tier" if all(fav.get(t, True) for t in tiers) else "tier"
        plural = len(groups) != 1
        m = f" of {n_candidates}" if n_candidates else ""
        headline = (f"Under {title}, {len(groups)} group{'s' if plural else ''} "
                    f"{'are' if plural else 'is'} pushed out of at least one {noun}: "
                    f"{'each gets' if plural else 'it gets'} the favourable outcome at less than {line:g} times the "
                    f"best group's rate, with the whole confidence bound below that line "
                    f"({len(eligible)} group–tier finding{'s' if len(eligible) != 1 else ''} in {len(hit_tiers)} of "
                    f"{len(tiers)} tiers; false discovery rate {alpha:g}"
                    + (f"; {hidden} of them rest on counts too small to publish" if hidden else "")
                    + (f"; {nested} more for intersections listed under these groups" if nested else "") + "). "
                    f"The largest gap, the most extreme of {m.removeprefix(' of ') or 'all'} estimated ratios: "
                    f"{group_phrase(worst['group'])} {_verb(fav.get(worst['tier'], True), higher)} "
                    f"{worst['tier']} at {fmt_share_of(worst['impact_ratio'])} of the most favoured group's rate "
                    f"(at most {fmt_share_of(worst.get('simultaneous_upper_bound'))}, a bound that allows for it "
                    f"being picked as the most extreme).")
    else:
        below = [e for e in findings if e.get("verdict") == "below parity" and e.get("parent") is None]
        headline = (f"No group of at least {min_size} people is shown to be pushed out of any tier under {title} "
                    f"(no group's rate is shown to be below {line:g} times the best group's at false discovery "
                    f"rate {alpha:g})"
                    + (f"; {len(below)} group–tier finding{'s are' if len(below) != 1 else ' is'} significantly "
                       f"below parity without being shown to cross that line" if below else "")
                    + ". This does not show that the rule treats groups equally: smaller gaps, smaller groups and "
                      "unrecorded attributes are not covered (see the detection limits).")

    caveats = []
    if synthetic:
        caveats.append(f"The data are synthetic ({synthetic}): they show how the rule's mechanisms can "
                       f"exclude groups, not facts about real groups or people.")
    ill_terms = [t for t in rule.get("terms", []) if t.get("illustrative")]
    n_terms = len(rule.get("terms", []))
    net = rule.get("network") or {}
    ill_tiers = [t for t in rule.get("tiers", []) if t.get("illustrative")]
    if ill_terms or net.get("illustrative") or ill_tiers or rule.get("status") == "illustrative":
        parts = []
        if ill_terms:
            parts.append(f"the points of {'all ' if len(ill_terms) == n_terms else ''}{len(ill_terms)}"
                         f"{'' if len(ill_terms) == n_terms else f' of {n_terms}'} terms")
        if net.get("illustrative"):
            parts.append("the network weight")
        if ill_tiers:
            parts.append(f"{len(ill_tiers)} of {len(tiers)} tier cut-offs")
        what = _and(parts) if parts else "its numbers"
        plural = len(parts) != 1 or bool(ill_terms or ill_tiers)
        caveats.append(f"The rule is {rule.get('status', 'illustrative')}: {what} "
                       f"{'are illustrative assumptions' if plural else 'is an illustrative assumption'}, not "
                       f"published weights; the numbers show what a rule of this shape does, not what any "
                       f"operator's score does.")
    caveats.append(f"Groups with fewer than {min_size} people are never named as pushed out"
                   + (f" ({n_small_groups} such group{'s' if n_small_groups != 1 else ''} in this audit)"
                      if n_small_groups else "")
                   + f"; counts of 1 to {settings.get('disclosure_threshold', 10) - 1} people, and every figure "
                     "that would reveal one, are suppressed cell by cell (differencing nested tables, such as a "
                     "group minus its sub-groups, can still narrow some down; audit single attributes only or "
                     "raise the threshold where that matters).")
    if impact_status in RAN:
        caveats.append(f"'Pushed out' means the group's rate of the favourable outcome is shown to be below {line:g} "
                       f"times the best group's, whichever group is truly best (a selection-valid bound), with a "
                       f"false discovery rate of {alpha:g} across all group–tier candidates; {line:g} is a screening "
                       f"rule of thumb (the EEOC's four-fifths rule), not a legal finding. Intervals are {ci_level} "
                       f"confidence intervals. An impact ratio measures a gap in outcomes; it does not by itself "
                       f"show intent.")
    caveats.extend(notes)
    limits = _limits_text(detection_limits, line)
    return {"headline": headline, "findings": out_findings, "not_found": limits, "caveats": caveats}


def _limits_text(limits: Sequence[Mapping], line: float) -> list[str]:
    """Where nothing was found but the audit could only have found a large gap ("not found, and ...")."""
    out = []
    for r in limits:
        d = r.get("detectable_ratio")
        if r.get("verdict") is None and is_num(d) and d < line - 0.1:
            out.append(f"{group_phrase(r.get('group'))} / {r.get('tier')}: not found to be pushed out, but this audit "
                       f"could only have found it reliably at a ratio of {fmt_ratio(d)} or lower "
                       f"({r.get('n')} people).")
    return out
