"""Legal lenses: the audit's published figures in the forms readers in this field think in.

Three lenses, each computed from the report's *published* document only (so a lens can never say more
about a small group than the report already does, and the disclosure checks cover it):

* :func:`ll144_summary` — a summary in the shape New York City's Local Law 144 asks bias audits of
  automated employment decision tools to publish (6 RCNY 5-300 ff.): selection rates and impact ratios
  by sex, by race/ethnicity and by their intersection, each ratio to the most selected category, the
  number of people whose category is unknown, and categories under 2% of the data shown but left out
  of the ratios.  The law covers hiring in New York City; the table is a familiar format, not a claim
  that the law applies.
* :func:`four_fifths_screen` — the EEOC's four-fifths rule of thumb (29 CFR 1607.4(D)): a group whose
  selection rate is below 4/5 of the highest group's.  It is a point estimate with no allowance for
  chance, printed beside the audit's verdicts (which have one) so a reader can see where they differ.
* :func:`social_scoring_screen` — a screen for the EU AI Act's ban on social scoring (Regulation (EU)
  2024/1689, Art. 5(1)(c)): a score built from social behaviour that leads to detrimental treatment
  "in social contexts unrelated to the contexts in which the data was originally generated or
  collected".  Rule files may tag each term, the friends term and each tier with its context
  (``context: consumption``); the screen lists every term whose context differs from the benefit it
  gates, with that term's share of each pushed-out group's shortfall.  Whether a practice is banned
  is a legal judgment; the screen shows where to look.

Each returns a frozen result with ``to_frame()``, ``to_dict()`` and ``_repr_html_()``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["FOUR_FIFTHS", "LL144_EXCLUSION_SHARE", "FourFifthsScreen", "LL144Summary", "SocialScoringScreen",
           "four_fifths_screen", "ll144_summary", "social_scoring_screen"]

#: The EEOC's rule of thumb: a selection rate below 4/5 of the highest group's.
FOUR_FIFTHS = 0.8
#: Local Law 144: a category under 2% of the data may be left out of the impact ratios (and is shown).
LL144_EXCLUSION_SHARE = 0.02
#: Column names read as sex and as race/ethnicity for the LL144 summary (case-insensitive).
SEX_NAMES = ("sex", "gender")
RACE_NAMES = ("race", "ethnicity", "race_ethnicity", "race/ethnicity", "raceethnicity")
#: Groups the disclosure rule makes: a pool of rare categories, and the people whose value is missing.
POOLED, UNKNOWN = "(other)", "(not recorded)"


def _document(report) -> Mapping[str, Any]:
    return report.document if hasattr(report, "document") else report


def _text(group: Mapping[str, Any]) -> str:
    return " & ".join(f"{a}={v}" for a, v in group.items())


def _html_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{'' if v is None or v != v else html.escape(str(v))}</td>"
                                    for v in row) + "</tr>" for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _audited_tiers(doc: Mapping) -> list[dict]:
    return [t for t in (doc.get("impact") or {}).get("tiers", []) if t.get("status") == "audited"]


def _favourable(row: Mapping) -> tuple[int | None, float | None]:
    """(count, rate) of the tier's favourable outcome in a published rate row; None when withheld."""
    n, rate = row.get("n"), row.get("favourable_rate")
    if row.get("suppressed") or n is None or rate is None:
        return None, None
    return int(round(rate * n)), float(rate)


# --------------------------------------------------------------------------------------------- LL144
@dataclass(frozen=True)
class LL144Summary:
    """Selection rates and impact ratios by sex, race/ethnicity and their intersection (LL144 format).

    ``rows``: one per category and tier — ``categorisation`` ("sex", "race/ethnicity" or
    "intersectional"), ``category``, ``tier``, ``n``, ``selected``, ``selection_rate``, ``share``
    (of the data), ``excluded`` (under 2%: shown, not in the ratios), ``impact_ratio`` (to the most
    selected included category), ``withheld`` (a figure the disclosure rule withholds), ``rounded`` (a
    count published to the nearest ten, as the report publishes it).
    ``unknown``: the number of people whose sex or race/ethnicity is not recorded, per attribute.
    """

    attributes: Mapping[str, str]
    rows: tuple[dict, ...]
    unknown: Mapping[str, Any]
    status: str
    note: str

    def to_frame(self) -> pd.DataFrame:
        cols = ["categorisation", "category", "tier", "n", "selected", "selection_rate", "share", "excluded",
                "impact_ratio", "withheld", "rounded"]
        return pd.DataFrame(list(self.rows), columns=cols)

    def to_dict(self) -> dict:
        return {"lens": "NYC Local Law 144 (summary format)", "status": self.status,
                "attributes": dict(self.attributes), "unknown": dict(self.unknown),
                "exclusion_share": LL144_EXCLUSION_SHARE, "rows": [dict(r) for r in self.rows],
                "note": self.note}

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.note)}</p>" + _html_table(self.to_frame())


def _find(protected: list[str], names: tuple[str, ...]) -> str | None:
    for p in protected:
        if p.lower() in names:
            return p
    return None


def ll144_summary(report, *, sex: str | None = None, race: str | None = None) -> LL144Summary:
    """The LL144-format summary of a report: rates and impact ratios by sex, race/ethnicity, both.

    ``sex`` and ``race`` name the protected columns to read as sex and race/ethnicity; by default a
    protected column called sex or gender, and race or ethnicity.  Every figure comes from the report's
    published tables: a withheld cell stays withheld, a category under 2% of the data is shown without
    an impact ratio, and each ratio is to the most selected category whose rate is published.

    Examples
    --------
    >>> import audit
    >>> people, _ = audit.generate_sesame(3000, seed=1)
    >>> report = audit.run("sesame", people, protected=["gender", "ethnicity"], families=["impact"],
    ...                    progress="none")
    >>> summary = ll144_summary(report)
    >>> summary.attributes["sex"], summary.attributes["race/ethnicity"]
    ('gender', 'ethnicity')
    >>> sorted(set(summary.to_frame()["categorisation"]))
    ['intersectional', 'race/ethnicity', 'sex']
    """
    doc = _document(report)
    protected = list((doc.get("population") or {}).get("protected", []))
    sex = sex or _find(protected, SEX_NAMES)
    race = race or _find(protected, RACE_NAMES)
    attributes = {k: v for k, v in (("sex", sex), ("race/ethnicity", race)) if v}
    if not attributes:
        return LL144Summary({}, (), {}, "not run",
                            "No protected column is called sex/gender or race/ethnicity, so there is no "
                            "LL144-format summary; pass sex= and race= to name them.")
    missing = (doc.get("population") or {}).get("missing", {})
    unknown = {label: missing.get(col) for label, col in attributes.items()}
    wanted = {(sex,): "sex", (race,): "race/ethnicity", (sex, race): "intersectional", (race, sex): "intersectional"}
    groupings = [(wanted[tuple(g["attributes"])], g) for g in (doc.get("impact") or {}).get("groupings", [])
                 if tuple(g["attributes"]) in wanted]
    tiers = {t["name"]: t for t in _audited_tiers(doc)}
    rows: list[dict] = []
    for label, g in groupings:
        total = g.get("rows") or sum(x.get("n") or 0 for x in g.get("groups", []))
        by_tier: dict[str, list[dict]] = {}
        for r in g.get("rates", []):
            if r["tier"] in tiers:
                by_tier.setdefault(r["tier"], []).append(r)
        for tier, rates in by_tier.items():
            cells = []
            for r in rates:
                count, rate = _favourable(r)
                is_unknown = UNKNOWN in r["group"].values()
                share = None if r.get("n") is None or not total else r["n"] / total
                excluded = bool(is_unknown or (share is not None and share < LL144_EXCLUSION_SHARE))
                cells.append({"categorisation": label, "category": _text(r["group"]), "tier": tier,
                              "n": r.get("n"), "selected": count, "selection_rate": rate,
                              "share": None if share is None else round(share, 4), "excluded": excluded,
                              "impact_ratio": None, "withheld": rate is None,
                              "rounded": bool(r.get("rounded")) and rate is not None})
            best = max((c["selection_rate"] for c in cells if not c["excluded"] and c["selection_rate"] is not None),
                       default=None)
            for c in cells:
                if best and not c["excluded"] and c["selection_rate"] is not None:
                    c["impact_ratio"] = round(c["selection_rate"] / best, 4)
                if c["selection_rate"] is not None:
                    c["selection_rate"] = round(c["selection_rate"], 4)
            rows.extend(cells)
    note = ("Selection rate: the share of a category that gets the tier's favourable outcome; impact ratio: "
            "that rate over the highest published rate among included categories (counts marked rounded are "
            "published to the nearest ten, and the rates use them). Categories under 2% of "
            "the data, and people whose category is not recorded, are shown but left out of the ratios. "
            "Format of NYC Local Law 144 bias-audit summaries; the law itself covers hiring decisions in "
            "New York City.")
    if len(attributes) < 2:
        have = "sex" if "sex" in attributes else "race/ethnicity"
        note += f" Only {have} is among the protected columns, so there is no intersectional table."
    return LL144Summary(attributes, tuple(rows), unknown, "run", note)


# ------------------------------------------------------------------------------------- four-fifths
@dataclass(frozen=True)
class FourFifthsScreen:
    """Groups whose point selection-rate ratio to the highest group is below 4/5, beside the verdicts."""

    rows: tuple[dict, ...]
    threshold: float
    note: str

    def to_frame(self) -> pd.DataFrame:
        cols = ["grouping", "group", "tier", "selection_rate", "highest_rate", "ratio", "below_four_fifths",
                "verdict"]
        return pd.DataFrame(list(self.rows), columns=cols)

    def to_dict(self) -> dict:
        frame = self.to_frame()
        below = frame[frame["below_four_fifths"] == True]  # noqa: E712  (None: withheld)
        return {"lens": "EEOC four-fifths rule of thumb", "threshold": self.threshold,
                "below": int(len(below)), "below_without_verdict": int(below["verdict"].isna().sum()),
                "rows": [dict(r) for r in self.rows if r["below_four_fifths"]], "note": self.note}

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.note)}</p>" + _html_table(self.to_frame())


def four_fifths_screen(report) -> FourFifthsScreen:
    """Every published group and audited tier with its point ratio to the highest published rate.

    The rule of thumb reads the point estimate alone: in a small group it flags chance, in a large
    one it can miss a real gap.  ``verdict`` is the audit's own (pushed out / below parity / none),
    which allows for both chance and the choice of the best group.
    """
    doc = _document(report)
    tiers = {t["name"] for t in _audited_tiers(doc)}
    verdicts = {(tuple(f["attributes"]), _text(f["group"]), f["tier"]): f["verdict"]
                for f in doc.get("findings", [])}
    rows = []
    for g in (doc.get("impact") or {}).get("groupings", []):
        attrs = tuple(g["attributes"])
        by_tier: dict[str, list] = {}
        for r in g.get("rates", []):
            if r["tier"] in tiers:
                by_tier.setdefault(r["tier"], []).append(r)
        for tier, rates in by_tier.items():
            published = [(r, _favourable(r)[1]) for r in rates]
            best = max((rate for _, rate in published if rate is not None), default=None)
            for r, rate in published:
                ratio = None if rate is None or not best else rate / best
                rows.append({"grouping": " & ".join(attrs), "group": _text(r["group"]), "tier": tier,
                             "selection_rate": None if rate is None else round(rate, 4),
                             "highest_rate": None if best is None else round(best, 4),
                             "ratio": None if ratio is None else round(ratio, 4),
                             "below_four_fifths": None if ratio is None else bool(ratio < FOUR_FIFTHS),
                             "verdict": verdicts.get((attrs, _text(r["group"]), tier))})
    note = ("The four-fifths rule is a rule of thumb of the US Uniform Guidelines (29 CFR 1607.4(D)): a "
            "selection rate below 4/5 of the highest group's is generally taken as evidence of adverse "
            "impact. It reads the point estimate only; the audit's verdicts also allow for chance and for "
            "the highest group being picked from the data, so the two lists can differ.")
    return FourFifthsScreen(tuple(rows), FOUR_FIFTHS, note)


# ---------------------------------------------------------------------------- social scoring screen
@dataclass(frozen=True)
class SocialScoringScreen:
    """Terms drawing on a context other than the benefit they gate (EU AI Act Art. 5(1)(c) screen).

    ``rows``: one per (tier, term) whose contexts differ — ``tier``, ``benefit_context``, ``term``,
    ``term_context``, ``points`` (what the rule gives for it, in words), and ``shares``: for each
    pushed-out group in that tier, the term's share of its shortfall with an interval.
    ``untagged``: terms or tiers without a context, which the screen cannot judge.
    """

    rows: tuple[dict, ...]
    untagged: tuple[str, ...]
    status: str
    note: str

    def to_frame(self) -> pd.DataFrame:
        out = []
        for r in self.rows:
            base = {k: r[k] for k in ("tier", "benefit_context", "term", "term_context", "points")}
            if not r["shares"]:
                out.append({**base, "group": None, "share": None, "share_low": None, "share_high": None})
            for s in r["shares"]:
                out.append({**base, "group": s["group"], "share": s["share"], "share_low": s["share_ci"][0],
                            "share_high": s["share_ci"][1]})
        cols = ["tier", "benefit_context", "term", "term_context", "points", "group", "share", "share_low",
                "share_high"]
        return pd.DataFrame(out, columns=cols)

    def to_dict(self) -> dict:
        return {"lens": "EU AI Act Art. 5(1)(c) screen", "status": self.status, "rows": [dict(r) for r in self.rows],
                "untagged": list(self.untagged), "note": self.note}

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.note)}</p>" + _html_table(self.to_frame())

    def terms(self) -> list[str]:
        """The terms listed, each once, in the rule's order."""
        seen: dict[str, None] = {}
        for r in self.rows:
            seen.setdefault(r["term"], None)
        return list(seen)


def _points_text(term: Mapping) -> str:
    p = term.get("points")
    if p is None:
        return ""
    sign = "+" if p > 0 else "−" if p < 0 else ""
    magnitude = f"{abs(p):g}"
    if term.get("kind") == "value":
        return f"{sign}{magnitude} per unit of {term.get('expression')}"
    return f"{sign}{magnitude} when {term.get('expression')}"


#: The attribution part that carries the friends term's "who your friends are" share.
FRIENDS_PART = "network: friends"


def social_scoring_screen(report) -> SocialScoringScreen:
    """List each term whose context differs from the context of a benefit it gates.

    A term's share of a group's shortfall is read from the finding's attribution (its order-free
    Shapley share of the gap, with its bootstrap interval); the friends term's share is the part owed
    to *whose* friends one has (``network: friends``), not the averaging any pull toward others would
    cause.

    Examples
    --------
    >>> import audit
    >>> people, edges = audit.generate_sesame(3000, seed=1)
    >>> report = audit.run("sesame", people, protected=["ethnicity"], graph=edges, families=["impact"],
    ...                    progress="none")
    >>> screen = social_scoring_screen(report)
    >>> "Posts political opinions" in screen.terms()
    True
    """
    doc = _document(report)
    rule = doc.get("rule") or {}
    terms = [dict(t) for t in rule.get("terms", [])]
    network = rule.get("network")
    if network:
        terms.append({"label": "Friends' scores (the friends term)", "context": network.get("context"),
                      "part": FRIENDS_PART, "kind": "network",
                      "points_text": f"score pulled {network.get('weight'):g} of the way to friends' scores"})
    audited = {t["name"] for t in _audited_tiers(doc)}
    tiers = [t for t in rule.get("tiers", []) if t["name"] in audited]
    untagged = tuple([f"term '{t['label']}'" for t in terms if not t.get("context")]
                     + [f"tier '{t['name']}'" for t in tiers if not t.get("context")])
    findings = [f for f in doc.get("findings", []) if f["verdict"] == "pushed out" and not f.get("parent")
                and not f.get("suppressed")]
    rows = []
    for tier in tiers:
        if not tier.get("context"):
            continue
        here = [f for f in findings if f["tier"] == tier["name"] or tier["name"] in (f.get("aliases") or [])]
        for term in terms:
            if not term.get("context") or term["context"] == tier["context"]:
                continue
            part = term.get("part", term["label"])
            shares = []
            for f in here:
                hit = next((p for p in f.get("attribution") or [] if p["part"] == part), None)
                if hit is None:
                    hit = next((k for k in f.get("attribution_kinds") or [] if k.get("part") == part), None)
                if hit is not None and hit.get("share") is not None:
                    shares.append({"group": _text(f["group"]), "share": hit["share"],
                                   "share_ci": list(hit.get("share_ci") or [None, None])})
            rows.append({"tier": tier["name"], "benefit_context": tier["context"], "term": term["label"],
                         "term_context": term["context"],
                         "points": term.get("points_text") or _points_text(term), "shares": shares})
    tagged_tiers = [t for t in tiers if t.get("context")]
    if not tagged_tiers or all(not t.get("context") for t in terms):
        status = "not run"
        note = ("The rule file tags no context on its tiers or terms, so the screen cannot compare the "
                "context of the data with the context of the benefit (add `context:` to each term and tier).")
    else:
        status = "run"
        note = ("A screen for the EU AI Act's ban on social scoring (Art. 5(1)(c)): scores from social "
                "behaviour leading to detrimental treatment in contexts unrelated to where the data were "
                "generated, or disproportionate to the behaviour. Listed: every term whose context (as the "
                "rule file tags it) differs from the context of a benefit it gates, with its share of each "
                "pushed-out group's shortfall. The screen shows where to look; whether a practice is "
                "banned is a legal judgment it does not make.")
    return SocialScoringScreen(tuple(rows), untagged, status, note)
