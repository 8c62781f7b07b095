"""The result of a disparate-impact audit: findings, suppressed tables, JSON and HTML."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit.disclosure import is_small, published_count
from audit.findings import Findings
from audit.groups import json_float, json_value
from audit.impact._tables import build_tables
from audit.impact._verdicts import make_findings
from audit.rates import Outcomes
from audit.rules import Tier
from audit.settings import Settings

__all__ = ["ImpactResult"]

_PLOT_DIGITS = 4


def _deff(families):
    d = families[0].deff if families else None
    return None if d is None or np.all(np.asarray(d) == 1.0) else np.asarray(d, dtype=float)


def _f(x) -> float | None:
    """A JSON-ready float: None for NaN, infinity or NA."""
    return json_float(x)


def _i(x) -> int | None:
    return None if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)) else int(x)


def _s(x) -> str | None:
    return x if isinstance(x, str) else None


def _b(x) -> bool | None:
    return None if x is None or x is pd.NA else bool(x)


@dataclass(frozen=True, eq=False)
class ImpactResult:
    """Disparate impact of a scoring rule, by group, tier and threshold.

    Every table is tidy and already has small counts suppressed (see
    ``methods["disclosure"]``); ``findings``, ``to_frame()``, ``to_dict()``
    and the HTML view are built from them.

    Attributes
    ----------
    findings : Findings
        Every group pushed out of a tier or below parity, with its evidence.
    groups : DataFrame
        One row per (grouping, group): ``n``, ``share`` of the grouping's people,
        ``small_group``, ``is_reference``, ``suppressed``.
    distributions : DataFrame
        Per (grouping, group): ``mean``, ``sd``, quantiles ``q10`` ... ``q90``,
        ``median``, and against the reference group ``smd``, ``ks``, ``auc``.
    rates : DataFrame
        Per (grouping, group, tier): ``status`` (audited / alias / distribution),
        ``n``, ``attained``, ``selection_rate`` (of attaining the tier) with its
        Wilson interval, ``favourable_rate``; against the most favoured group
        ``impact_ratio`` with its score interval, ``ratio_upper_bound``
        (selection-valid), ``p_value``/``q_value`` (below the line) and
        ``parity_p_value``/``parity_q_value``, ``verdict``; against the reference
        group (``ref_`` prefix) the ratio, interval and a two-sided test.
    detection_limits : DataFrame or None
        Per single attribute's group and audited tier without a pushed-out verdict:
        ``detectable_ratio``.
    error_rates, calibration : DataFrame or None
        Label metrics, when labels were given.
    curve : DataFrame or None
        Down-sampled threshold curve per (grouping, eligible group, threshold).
    curve_ranges : DataFrame or None
        Per grouping, the threshold ranges where some eligible group is below the line.
    methods : dict
        How each number is computed, in words.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from audit.groups import build_groupings
    >>> from audit.impact import disparate_impact
    >>> from audit.rules import Tier
    >>> people = pd.DataFrame({"g": ["a"] * 100 + ["b"] * 100})
    >>> scores = np.r_[np.arange(100.0), np.arange(100.0) - 30]
    >>> res = disparate_impact(scores, build_groupings(people, ["g"]), [Tier("t", threshold=50)])
    >>> sorted(res.to_dict())
    ['detection_limits', 'findings', 'groupings', 'methods', 'n_candidates', 'population', 'pushed_out', 'settings', 'tiers']
    >>> [(f.name(), f.favourable_count, f.n, f.impact_ratio) for f in res.findings]
    [('g=b', 20, 100, 0.4)]
    """

    findings: Findings
    groups: pd.DataFrame
    distributions: pd.DataFrame
    rates: pd.DataFrame
    detection_limits: pd.DataFrame | None
    error_rates: pd.DataFrame | None
    calibration: pd.DataFrame | None
    curve: pd.DataFrame | None
    curve_ranges: pd.DataFrame | None
    outcomes: Outcomes
    higher_is_better: bool
    settings: Settings
    methods: dict
    n_people: int
    n_missing_score: int
    n_candidates: int
    n_reference: int
    _groupings: tuple = ()
    design_effect: np.ndarray | None = None

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, *, families, verdicts, outcomes: Outcomes, n_people: int, n_missing_score: int,
              higher_is_better: bool, settings: Settings, methods: dict, quantiles) -> ImpactResult:
        tables = build_tables(families=families, verdicts=verdicts, outcomes=outcomes, settings=settings,
                              quantiles=quantiles, higher_is_better=higher_is_better)
        findings = make_findings(families, verdicts, outcomes, settings, tables.publishable, tables.size_ok)
        return cls(
            findings=Findings(tuple(findings)), groups=tables["groups"], distributions=tables["dist"],
            rates=tables["rates"], detection_limits=tables["limits"], error_rates=tables["err"],
            calibration=tables["cal"], curve=tables["curve"], curve_ranges=tables["ranges"], outcomes=outcomes,
            higher_is_better=bool(higher_is_better), settings=settings, methods=methods, n_people=int(n_people),
            n_missing_score=int(n_missing_score), n_candidates=verdicts.n_candidates,
            n_reference=verdicts.n_reference, _groupings=tuple(tables.infos),
            design_effect=_deff(families),
        )

    # ------------------------------------------------------------------ convenience
    @property
    def tiers(self) -> tuple[Tier, ...]:
        return self.outcomes.tiers

    @property
    def min_group_size(self) -> int:
        return self.settings.min_group_size

    @property
    def disclosure_threshold(self) -> int:
        return self.settings.disclosure_threshold

    @property
    def alpha(self) -> float:
        return self.settings.alpha

    def pushed_out(self) -> list[dict]:
        """The pushed-out findings as JSON-ready dicts, most excluded first (see ``methods["verdicts"]``)."""
        return [f.to_dict() for f in self.findings.pushed_out]

    # ------------------------------------------------------------------ outputs
    def to_frame(self) -> pd.DataFrame:
        """The tidy per (grouping, group, tier) table, with label metrics joined when present."""
        out = self.rates.drop(columns=["code", "tier_index"])
        if self.error_rates is not None:
            err = self.error_rates.drop(columns=["code", "tier_index"]).rename(
                columns={"suppressed": "labels_suppressed"})
            out = out.merge(err, on=["grouping", "group", "tier"], how="left", sort=False)
        return out

    def _tiers_json(self) -> list[dict]:
        out = []
        o = self.outcomes
        for j, t in enumerate(o.tiers):
            d = o.direction[j]
            alias = o.alias_of[j]
            out.append({
                "name": t.name, "rule": t.describe(),
                "favourable": {True: "in", False: "out", None: None}[d],
                "status": o.status(j), "reason": o.reason(j),
                "alias_of": None if alias is None else o.tiers[alias].name,
                "outcome": None if d is None else (f"attains {t.name!r}" if d else f"is not placed in {t.name!r}"),
            })
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: only dict/list/str/int/float/bool/None, no NaN, small counts suppressed."""
        thr = self.disclosure_threshold

        def count(x):
            return published_count(x, thr)

        st = self.settings
        scored = self.n_people - self.n_missing_score
        doc: dict[str, Any] = {
            "methods": dict(self.methods),
            "settings": {
                "min_group_size": st.min_group_size, "disclosure_threshold": thr, "alpha": st.alpha,
                "confidence_level": 1 - st.alpha, "higher_is_better": self.higher_is_better,
                "threshold": st.threshold, "power": st.power,
                "design_effect": self._design_effect(),
            },
            "population": {"rows": count(self.n_people), "scored": count(scored),
                           "missing_score": count(self.n_missing_score),
                           "suppressed": any(is_small(v, thr) for v in (self.n_people, scored, self.n_missing_score))},
            "tiers": self._tiers_json(),
            "n_candidates": self.n_candidates,
            "findings": self.findings.to_dict(),
            "pushed_out": self.pushed_out(),
            "detection_limits": [] if self.detection_limits is None else [
                {"attribute": r["grouping"], "group": self._label(r["grouping"], r["code"]), "tier": r["tier"],
                 "n": int(r["n"]), "comparator": self._label(r["grouping"], r["comparator_code"]),
                 "detectable_ratio": _f(r["detectable_ratio"]), "verdict": _s(r["verdict"])}
                for r in self.detection_limits.to_dict("records")],
            "groupings": [],
        }
        for info in self._groupings:
            key, labels = info["key"], info["labels"]
            g = self.groups[self.groups["grouping"] == key]
            d = self.distributions[self.distributions["grouping"] == key]
            groups = []
            for row, drow in zip(g.itertuples(index=False), d.itertuples(index=False), strict=True):
                entry = {"group": labels[row.code], "n": _i(row.n), "share": _f(row.share),
                         "small_group": bool(row.small_group), "is_reference": bool(row.is_reference),
                         "rounded": bool(row.rounded), "suppressed": bool(row.suppressed)}
                dd = drow._asdict()
                entry["distribution"] = {
                    "mean": _f(dd["mean"]), "sd": _f(dd["sd"]), "median": _f(dd["median"]),
                    "quantiles": {k[1:]: _f(v) for k, v in dd.items() if k.startswith("q") and k[1:].isdigit()},
                    "smd": _f(dd["smd"]), "ks": _f(dd["ks"]), "auc": _f(dd["auc"]),
                }
                groups.append(entry)
            rates = []
            for r in self.rates[self.rates["grouping"] == key].to_dict("records"):
                audited = r["status"] == "audited"
                rates.append({
                    "group": labels[r["code"]], "tier": r["tier"], "status": r["status"],
                    "n": _i(r["n"]), "attained": _i(r["attained"]),
                    "selection_rate": _f(r["selection_rate"]),
                    "selection_ci": [_f(r["selection_ci_low"]), _f(r["selection_ci_high"])],
                    "favourable_rate": _f(r["favourable_rate"]), "small_group": bool(r["small_group"]),
                    "vs_most_favoured": _versus_best(r, labels) if audited else None,
                    "vs_reference": _versus_ref(r, labels) if audited else None,
                    "verdict": _s(r["verdict"]), "pushed_out": bool(r["pushed_out"]),
                    "rounded": bool(r["rounded"]), "suppressed": bool(r["suppressed"]),
                })
            ref = info["reference"]
            out = {"attributes": list(info["attributes"]),
                   "reference_group": labels[ref] if ref >= 0 else None,
                   "rows": count(info["rows"]),
                   "excluded": count(scored - info["rows"]),
                   "groups": groups, "rates": rates}
            if self.error_rates is not None:
                out["error_rates"] = [
                    {"group": labels[r["code"]], "tier": r["tier"],
                     **{k: _i(r[k]) for k in ("labelled", "positives", "negatives", "tp", "fp", "fn", "tn")},
                     **{k: {"rate": _f(r[k]), "ci": [_f(r[f"{k}_ci_low"]), _f(r[f"{k}_ci_high"])]}
                        for k in ("fpr", "fnr", "ppv")},
                     "suppressed": bool(r["suppressed"])}
                    for r in self.error_rates[self.error_rates["grouping"] == key].to_dict("records")]
            if self.calibration is not None:
                out["calibration"] = [
                    {"group": labels[r["code"]], "score_from": _f(r["score_from"]), "score_to": _f(r["score_to"]),
                     "n": _i(r["n"]), "events": _i(r["events"]), "observed_rate": _f(r["observed_rate"]),
                     "ci": [_f(r["ci_low"]), _f(r["ci_high"])], "mean_score": _f(r["mean_score"]),
                     "suppressed": bool(r["suppressed"])}
                    for r in self.calibration[self.calibration["grouping"] == key].to_dict("records")]
            out["curve"] = _curve_json(info.get("curve"), labels)
            doc["groupings"].append(out)
        return doc

    def _design_effect(self) -> dict | None:
        """Per tier, the variance inflation the friends term causes (None without dependence)."""
        if self.design_effect is None:
            return None
        return {t.name: round(float(d), 3) for t, d in zip(self.tiers, self.design_effect, strict=True)}

    def _label(self, key: str, code: int) -> dict:
        for info in self._groupings:
            if info["key"] == key:
                return info["labels"][int(code)]
        raise KeyError(key)

    def _repr_html_(self) -> str:
        st = self.settings
        thr = st.disclosure_threshold
        sup = f"counts from 1 to {thr - 1} suppressed (zeros shown)" if thr > 1 else "no suppression"
        parts = ['<div class="audit-impact">', "<h3>Disparate impact</h3>",
                 f"<p>{self.n_people:,} people; {len(self.tiers)} tier(s); minimum group size "
                 f"{st.min_group_size}; {sup}; {self.n_candidates} candidates, false discovery rate {st.alpha:g}.</p>",
                 "<h4>Findings</h4>"]
        if not len(self.findings):
            parts.append(f"<p>No group is pushed out (shown below {st.threshold:g} times the best group's rate) "
                         "or below parity.</p>")
        else:
            parts.append(self.findings._repr_html_())
        cols = ["grouping", "group", "tier", "status", "n", "selection_rate", "impact_ratio", "ratio_upper_bound",
                "q_value", "verdict"]
        shown = self.rates[cols].head(300)
        parts.append("<h4>Rates by group and tier</h4>")
        parts.append(_table(cols, shown.itertuples(index=False)))
        if len(self.rates) > len(shown):
            parts.append(f"<p>{len(self.rates) - len(shown)} more rows: see to_frame().</p>")
        parts.append("</div>")
        return "\n".join(parts)


def _curve_json(cv: dict | None, labels: list) -> dict | None:
    if cv is None:
        return None
    ratio = np.round(cv["ratio"], _PLOT_DIGITS)
    return {
        "cut": cv["cut"],
        "ranges": [{"from": _f(r["from"]), "to": _f(r["to"]), "groups": [labels[k] for k in r["groups"]]}
                   for r in cv["ranges"]],
        "by_group": [{"group": labels[k], "ranges": [[_f(a), _f(b)] for a, b in cv["group_ranges"][k]]}
                     for k in sorted(cv["group_ranges"])],
        "plot": {
            "thresholds": [_f(x) for x in cv["thresholds"]],
            "series": [{"group": labels[k], "impact_ratio": [_f(v) for v in ratio[i].tolist()]}
                       for i, k in enumerate(cv["eligible"].tolist())],
        },
    }


def _versus_best(r: dict, labels: list) -> dict:
    code = int(r["most_favoured_code"])
    return {
        "group": labels[code] if code >= 0 else None,
        "rate": _f(r["most_favoured_rate"]),
        "impact_ratio": _f(r["impact_ratio"]),
        "ci": [_f(r["impact_ratio_ci_low"]), _f(r["impact_ratio_ci_high"])],
        "ratio_upper_bound": _f(r["ratio_upper_bound"]),
        "below_threshold": _b(r["below_threshold"]),
        "candidates": _i(r["candidates"]),
        "p_value": _f(r["p_value"]),
        "q_value": _f(r["q_value"]),
        "parity_p_value": _f(r["parity_p_value"]),
        "parity_q_value": _f(r["parity_q_value"]),
    }


def _versus_ref(r: dict, labels: list) -> dict:
    code = int(r["reference_code"])
    return {
        "group": labels[code] if code >= 0 else None,
        "rate": _f(r["reference_rate"]),
        "impact_ratio": _f(r["ref_impact_ratio"]),
        "ci": [_f(r["ref_impact_ratio_ci_low"]), _f(r["ref_impact_ratio_ci_high"])],
        "below_threshold": _b(r["ref_below_threshold"]),
        "test": r["ref_test"] or None,
        "p_value": _f(r["ref_p_value"]),
        "q_value": _f(r["ref_q_value"]),
    }


def _cell(x) -> str:
    if x is None or x is pd.NA:
        return '<td title="suppressed or undefined">&ndash;</td>'
    if isinstance(x, (bool, np.bool_)):
        return f"<td>{'yes' if x else 'no'}</td>"
    if isinstance(x, (float, np.floating)):
        if not np.isfinite(x):
            return '<td title="suppressed or undefined">&ndash;</td>'
        return f"<td>{x:.4g}</td>"
    return f"<td>{html.escape(str(json_value(x)))}</td>"


def _table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(x) for x in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
