"""The result of a disparate-impact audit: suppressed tables, JSON and HTML."""

from __future__ import annotations

import copy
import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit.groups import json_value
from audit.impact._stats import wilson_interval
from audit.rules import Tier

__all__ = ["FOUR_FIFTHS", "ImpactResult", "methods_text"]

#: The four-fifths rule: an impact ratio *below* this is adverse impact.
FOUR_FIFTHS = 0.8
_PLOT_DIGITS = 4


def methods_text(*, alpha: float, min_group_size: int, disclosure_threshold: int, n_comparisons: int,
                 higher_is_better: bool, labels: bool, curve: bool) -> dict[str, str]:
    """How every number of the audit is computed, in words fit for a methods section."""
    level = f"{100 * (1 - alpha):g}%"
    cut = "score >= t" if higher_is_better else "score <= t"
    out = {
        "selection_rate_interval": f"Wilson score interval ({level}) for each group's rate.",
        "impact_ratio": (
            "A group's rate of the favourable outcome divided by the comparison group's (the most favoured "
            "group, and separately the reference group), computed as one division of integer products."),
        "impact_ratio_interval": (
            f"Koopman (1984) score interval ({level}) for the ratio of two independent binomial proportions, "
            "with the Miettinen-Nurminen (1985) variance factor N/(N-1) - the interval statsmodels computes "
            "with confint_proportions_2indep(compare='ratio', method='score') - solved by bisection for all "
            "groups at once. The comparison group is treated as fixed. A group with no favourable outcome has "
            "ratio 0 and a finite upper bound; a comparison group with none leaves the ratio undefined (null)."),
        "test": (
            "Two-sided test of equal rates in the 2x2 table (group vs comparison group, favourable vs not): "
            "Fisher's exact test when any expected cell count is below 5; otherwise the two-proportion score "
            "test (pooled-variance z, identical to Pearson's chi-square without continuity correction), whose "
            "normal approximation is accurate once every expected count is at least 5 (Cochran's rule). No "
            "continuity correction: it is conservative, and small tables already get the exact test."),
        "multiple_comparisons": (
            f"Benjamini-Hochberg q-values over all {n_comparisons} distinct comparisons of this audit: every "
            "group against the most favoured group and against the reference group, for every tier and "
            "every grouping (single attributes and intersections)."),
        "most_favoured": (
            f"Per grouping and tier, the group with the highest favourable rate among groups of at least "
            f"{min_group_size} people (all groups if none is that large); ties go to the larger group."),
        "reference": ("The group given as reference (for an intersection, the combination of the given "
                      "values if it exists), otherwise the grouping's largest group."),
        "four_fifths": (f"Flagged when the impact ratio is below {FOUR_FIFTHS} (decided in exact integer "
                        "arithmetic, so a ratio of exactly 4/5 is not flagged)."),
        "pushed_out": (
            f"A group is listed as pushed out of a tier when its impact ratio against the most favoured group "
            f"is below {FOUR_FIFTHS}, its q-value is below {alpha:g}, it has at least {min_group_size} people "
            "and it is not itself the most favoured group. Findings whose figures can be published come first, "
            "most excluded first; findings whose counts are suppressed follow in name order (so the order does "
            "not reveal their ratio)."),
        "favourable_outcome": (
            "Attaining a tier is the favourable outcome when reaching it takes a better score (a threshold or "
            "top-k cut when higher is better; a lower band when lower is better). For other tiers (a high-risk "
            "band) the favourable outcome is not being placed in the tier, and ratios compare that rate. "
            "selection_rate always reports the rate of attaining the tier."),
        "small_groups": (f"Groups with fewer than {min_group_size} people are shown but never named as "
                         "pushed out."),
        "disclosure": (
            f"Counts below {disclosure_threshold} are suppressed (null, with suppressed: true) together with "
            "every rate, ratio, interval and score statistic derived from them; a rate is shown only when both "
            "the people with and without the outcome number at least the threshold, and a label table only when "
            "all four cells do. Test p- and q-values are not suppressed. Suppression is cell by cell: "
            "differences between nested tiers or between a group and its sub-groups are not protected."),
        "distributions": (
            "Per group: mean, standard deviation, quantiles (numpy 'linear'). Against the reference group: "
            "standardised mean difference (difference of means over the pooled SD), Kolmogorov-Smirnov "
            "distance, and AUC = P(a random member of the group has a more favourable score than a random "
            "member of the reference group) + 0.5 P(tie), the Mann-Whitney U over n_group * n_reference. "
            + ("SMD and AUC are signed so that positive / above 0.5 means a higher score."
               if higher_is_better else
               "Lower scores are better: SMD is (reference mean - group mean) / pooled SD and AUC counts "
               "lower scores as wins, so positive / above 0.5 still means better off.")),
        "missing": "People with a missing score or a missing protected attribute are left out of that grouping.",
    }
    if curve:
        out["threshold_curve"] = (
            f"Impact ratio of every group at every distinct observed score t, the favourable outcome being "
            f"{cut}, against the most favoured eligible group at that t; from one sort and cumulative counts. "
            "Ranges list the observed scores t at which some group of at least the minimum size is below "
            "four-fifths; a cut between two observed scores behaves like the nearest observed score on the "
            "favourable side. The plot series (groups of at least the minimum size) are down-sampled to at "
            "most 200 thresholds at population quantiles, with points derived from small counts suppressed.")
    if labels:
        out["error_rates"] = (
            "Prediction = attained the tier, truth = the label (the event the tier predicts). FPR = FP/(FP+TN), "
            "FNR = FN/(FN+TP), PPV = TP/(TP+FP), each with a Wilson interval; people without a label are left "
            "out.")
        out["calibration"] = (
            "Observed label rate per group within score bins (each distinct score when there are at most 20, "
            "else population deciles, the outer two open-ended), with Wilson intervals.")
    return out


def _f(x) -> float | None:
    """A JSON-ready float: None for NaN, infinity or NA."""
    if x is None or x is pd.NA:
        return None
    x = float(x)
    return x if np.isfinite(x) else None


def _i(x) -> int | None:
    return None if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)) else int(x)


def _b(x) -> bool | None:
    return None if x is None or x is pd.NA else bool(x)


def _nullable_int(values: np.ndarray, keep: np.ndarray):
    out = pd.array(np.where(keep, values, 0).astype(np.int64), dtype="Int64")
    out[~np.asarray(keep, dtype=bool)] = pd.NA
    return out


def _masked(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return np.where(keep, values, np.nan).astype(float)


@dataclass(frozen=True, eq=False)
class ImpactResult:
    """Disparate impact of a scoring rule, by group, tier and threshold.

    Every table is tidy and already has small counts suppressed (see
    ``methods["disclosure"]``); ``pushed_out()``, ``to_frame()``, ``to_dict()``
    and the HTML view are built from them.

    Attributes
    ----------
    groups : DataFrame
        One row per (grouping, group): ``n``, ``share`` of the grouping's people,
        ``small_group``, ``is_reference``, ``suppressed``.
    distributions : DataFrame
        Per (grouping, group): ``mean``, ``sd``, quantiles ``q10`` ... ``q90``,
        ``median``, and against the reference group ``smd``, ``ks``, ``auc``.
    rates : DataFrame
        Per (grouping, group, tier): ``n``, ``attained``, ``selection_rate`` (of
        attaining the tier) with its Wilson interval, ``favourable_rate``, and
        for the most favoured group and the reference group (``ref_`` prefix):
        ``impact_ratio`` with its score interval, ``four_fifths``, ``test``,
        ``p_value``, ``q_value``; ``pushed_out``.
    error_rates, calibration : DataFrame or None
        Label metrics, when labels were given.
    curve : DataFrame or None
        Down-sampled threshold curve per (grouping, eligible group, threshold).
    curve_ranges : DataFrame or None
        Per grouping, the threshold ranges where some eligible group is below 0.8.
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
    ['groupings', 'methods', 'n_comparisons', 'population', 'pushed_out', 'settings', 'tiers']
    >>> [(p["group"], p["favourable_count"], p["n"], p["impact_ratio"]) for p in res.pushed_out()]
    [({'g': 'b'}, 20, 100, 0.4)]
    """

    groups: pd.DataFrame
    distributions: pd.DataFrame
    rates: pd.DataFrame
    error_rates: pd.DataFrame | None
    calibration: pd.DataFrame | None
    curve: pd.DataFrame | None
    curve_ranges: pd.DataFrame | None
    tiers: tuple[Tier, ...]
    favourable: tuple[bool, ...]
    higher_is_better: bool
    min_group_size: int
    disclosure_threshold: int
    alpha: float
    methods: dict
    n_people: int
    n_missing_score: int
    n_comparisons: int
    _pushed_out: tuple = field(default=(), repr=False)
    _groupings: tuple = field(default=(), repr=False)

    # ------------------------------------------------------------------ build
    @classmethod
    def build(cls, *, families, comparisons, tiers, favourable, n_people, n_missing_score, higher_is_better,
              min_group_size, disclosure_threshold, alpha, methods, n_comparisons, quantiles, four_fifths):
        thr = disclosure_threshold
        T = len(tiers)
        tier_names = [t.name for t in tiers]
        frames: dict[str, list[pd.DataFrame]] = {k: [] for k in
                                                 ("groups", "dist", "rates", "err", "cal", "curve", "ranges")}
        infos = []
        pushed = []
        for fam, (mf, rf) in zip(families, comparisons, strict=True):
            gr = fam.grouping
            G = gr.n_groups
            key = gr.key
            names = [gr.name(k) for k in range(G)]
            labels = [gr.label(k) for k in range(G)]
            counts = fam.counts
            n_ok = counts >= thr
            small = counts < min_group_size
            total = counts.sum()
            info = {"key": key, "attributes": list(gr.attributes), "labels": labels,
                    "reference": fam.ref, "rows": int(total)}
            infos.append(info)
            ref_name = names[fam.ref] if fam.ref >= 0 else None

            with np.errstate(invalid="ignore", divide="ignore"):
                share = counts / total if total else np.full(G, np.nan)
            frames["groups"].append(pd.DataFrame({
                "grouping": key, "group": names, "code": np.arange(G),
                "n": _nullable_int(counts, n_ok), "share": _masked(share, n_ok),
                "small_group": small, "is_reference": np.arange(G) == fam.ref, "suppressed": ~n_ok,
            }))

            d = fam.dist
            cmp_ok = n_ok & (fam.ref >= 0) & (counts[max(fam.ref, 0)] >= thr)
            dist = {"grouping": key, "group": names, "code": np.arange(G), "n": _nullable_int(counts, n_ok),
                    "mean": _masked(d["mean"], n_ok), "sd": _masked(d["sd"], n_ok)}
            for j, q in enumerate(quantiles):
                dist[f"q{round(100 * q):02d}"] = _masked(d["quantiles"][:, j], n_ok)
            dist["median"] = _masked(d["quantiles"][:, list(quantiles).index(0.5)], n_ok)
            dist["reference"] = ref_name
            for k in ("smd", "ks", "auc"):
                dist[k] = _masked(d[k], cmp_ok)
            dist["suppressed"] = ~n_ok
            frames["dist"].append(pd.DataFrame(dist))

            # ---- rates: one row per (group, tier), group-major
            hits = fam.hits
            cell_ok = (hits >= thr) & (counts[:, None] - hits >= thr)
            with np.errstate(invalid="ignore", divide="ignore"):
                sel = hits / counts[:, None]
                fav_rate = fam.fav_hits / counts[:, None]
            lo, hi = wilson_interval(hits, counts[:, None] + 0 * hits)
            rows = {
                "grouping": np.repeat(key, G * T), "group": np.repeat(names, T),
                "code": np.repeat(np.arange(G), T),
                "tier": np.tile(np.array(tier_names, dtype=object), G), "tier_index": np.tile(np.arange(T), G),
                "favourable": np.tile(np.asarray(favourable, dtype=bool), G),
                "n": _nullable_int(np.repeat(counts, T), np.repeat(n_ok, T)),
                "attained": _nullable_int(hits.ravel(), cell_ok.ravel()),
                "selection_rate": _masked(sel, cell_ok).ravel(),
                "selection_ci_low": _masked(lo, cell_ok).ravel(),
                "selection_ci_high": _masked(hi, cell_ok).ravel(),
                "favourable_rate": _masked(fav_rate, cell_ok).ravel(),
                "small_group": np.repeat(small, T),
            }
            any_sup = ~cell_ok
            po_mask = None
            for prefix, c in (("", mf), ("ref_", rf)):
                cmp = c["cmp"]
                valid = cmp >= 0
                cc = np.where(valid, cmp, 0)
                tj = np.broadcast_to(np.arange(T)[None, :], cmp.shape)
                ok = cell_ok & cell_ok[cc, tj] & valid
                any_sup = any_sup | ~ok
                cmp_names = np.array([names[k] if k >= 0 else None for k in cmp[0]], dtype=object)
                label = "most_favoured" if not prefix else "reference"
                rows[label] = np.tile(cmp_names, G)
                rows[f"{label}_code"] = np.tile(cmp[0], G)
                rows[f"{label}_rate"] = _masked(
                    np.where(valid, fam.fav_hits[cc, tj] / np.maximum(counts[cc], 1), np.nan),
                    cell_ok[cc, tj] & valid).ravel()
                rows[f"{prefix}impact_ratio"] = _masked(c["ratio"], ok).ravel()
                rows[f"{prefix}impact_ratio_ci_low"] = _masked(c["lo"], ok).ravel()
                rows[f"{prefix}impact_ratio_ci_high"] = _masked(c["hi"], ok).ravel()
                ff = pd.array(c["below"].ravel(), dtype="boolean")
                ff[~c["defined"].ravel()] = pd.NA
                rows[f"{prefix}four_fifths"] = ff
                rows[f"{prefix}test"] = c["test"].ravel().astype(object)
                rows[f"{prefix}p_value"] = c["p"].ravel()
                rows[f"{prefix}q_value"] = c["q"].ravel()
                if not prefix:
                    is_mf = np.arange(G)[:, None] == cmp
                    po_mask = c["below"] & (c["q"] < alpha) & ~small[:, None] & ~is_mf
            rows["pushed_out"] = po_mask.ravel()
            rows["suppressed"] = any_sup.ravel()
            frames["rates"].append(pd.DataFrame(rows))

            # ---- pushed-out entries (raw values, then suppression)
            for k, j in zip(*np.nonzero(po_mask), strict=True):
                m = int(mf["cmp"][k, j])
                ok_self, ok_ref = bool(cell_ok[k, j]), bool(cell_ok[m, j])
                both = ok_self and ok_ref
                entry = {
                    "attributes": list(gr.attributes), "group": labels[k], "tier": tier_names[j],
                    "outcome": _outcome(tiers[j], favourable[j]),
                    "n": int(counts[k]) if counts[k] >= thr else None,
                    "favourable_count": int(fam.fav_hits[k, j]) if ok_self else None,
                    "selection_rate": float(fam.fav_hits[k, j] / counts[k]) if ok_self else None,
                    "reference_group": labels[m],
                    "reference_n": int(counts[m]) if counts[m] >= thr else None,
                    "reference_favourable_count": int(fam.fav_hits[m, j]) if ok_ref else None,
                    "reference_rate": float(fam.fav_hits[m, j] / counts[m]) if ok_ref else None,
                    "impact_ratio": _f(mf["ratio"][k, j]) if both else None,
                    "ci_low": _f(mf["lo"][k, j]) if both else None,
                    "ci_high": _f(mf["hi"][k, j]) if both else None,
                    "test": str(mf["test"][k, j]),
                    "p_value": _f(mf["p"][k, j]),
                    "q_value": _f(mf["q"][k, j]),
                    "mechanism": "direct",
                    "suppressed": bool(not both or counts[k] < thr or counts[m] < thr),
                }
                # Publishable findings first, most excluded first; findings whose figures are
                # suppressed follow in name order, so the list's order cannot reveal their ratio.
                if entry["suppressed"]:
                    sort_key = (1, 0.0, 0, key, names[k], int(j))
                else:
                    sort_key = (0, float(mf["ratio"][k, j]), -int(counts[k]), key, names[k], int(j))
                pushed.append((sort_key, entry))

            # ---- label metrics
            if fam.errors is not None:
                e = fam.errors
                tp, fp, fn, tn = e["tp"], e["fp"], e["fn"], e["tn"]
                pos = np.broadcast_to(e["positives"][:, None], tp.shape)
                neg = np.broadcast_to(e["negatives"][:, None], tp.shape)
                lab = pos + neg
                all_ok = (tp >= thr) & (fp >= thr) & (fn >= thr) & (tn >= thr)
                err = {"grouping": np.repeat(key, G * T), "group": np.repeat(names, T),
                       "code": np.repeat(np.arange(G), T),
                       "tier": np.tile(np.array(tier_names, dtype=object), G),
                       "tier_index": np.tile(np.arange(T), G),
                       "labelled": _nullable_int(lab.ravel(), (lab >= thr).ravel()),
                       "positives": _nullable_int(pos.ravel(), (pos >= thr).ravel()),
                       "negatives": _nullable_int(neg.ravel(), (neg >= thr).ravel())}
                for name, arr in (("tp", tp), ("fp", fp), ("fn", fn), ("tn", tn)):
                    err[name] = _nullable_int(arr.ravel(), all_ok.ravel())
                for name, num, den in (("fpr", fp, fp + tn), ("fnr", fn, fn + tp), ("ppv", tp, tp + fp)):
                    with np.errstate(invalid="ignore", divide="ignore"):
                        rate = num / den
                    rlo, rhi = wilson_interval(num, den)
                    err[name] = _masked(rate, all_ok).ravel()
                    err[f"{name}_ci_low"] = _masked(rlo, all_ok).ravel()
                    err[f"{name}_ci_high"] = _masked(rhi, all_ok).ravel()
                err["suppressed"] = ~all_ok.ravel()
                frames["err"].append(pd.DataFrame(err))
            if fam.calibration is not None:
                c = fam.calibration
                B = len(c["from"])
                cn, ev = c["n"], c["events"]
                ok = (ev >= thr) & (cn - ev >= thr)
                nk = cn >= thr
                with np.errstate(invalid="ignore", divide="ignore"):
                    rate = ev / cn
                    mean_score = c["score_sum"] / cn
                rlo, rhi = wilson_interval(ev, cn)
                frames["cal"].append(pd.DataFrame({
                    "grouping": np.repeat(key, G * B), "group": np.repeat(names, B),
                    "code": np.repeat(np.arange(G), B), "bin": np.tile(np.arange(B), G),
                    "score_from": np.tile(c["from"], G), "score_to": np.tile(c["to"], G),
                    "n": _nullable_int(cn.ravel(), nk.ravel()), "events": _nullable_int(ev.ravel(), ok.ravel()),
                    "observed_rate": _masked(rate, ok).ravel(), "ci_low": _masked(rlo, ok).ravel(),
                    "ci_high": _masked(rhi, ok).ravel(), "mean_score": _masked(mean_score, nk).ravel(),
                    "suppressed": ~ok.ravel(),
                }))

            # ---- threshold curve
            cv = fam.curve
            if cv is not None:
                el = np.flatnonzero(cv.eligible)
                J = len(cv.grid)
                S = cv.grid_hits[el]  # (E, J)
                ng = counts[el][:, None]
                mh, mn = cv.grid_most_favoured_hits[None, :], cv.grid_most_favoured_n[None, :]
                pt_ok = (S >= thr) & (ng - S >= thr)
                env_ok = (mh >= thr) & (mn - mh >= thr)
                with np.errstate(invalid="ignore", divide="ignore"):
                    rate = S / ng
                    ratio = np.where(mh > 0, (S * mn.astype(float)) / (mh * ng.astype(float)), np.nan)
                frames["curve"].append(pd.DataFrame({
                    "grouping": np.repeat(key, len(el) * J), "group": np.repeat([names[k] for k in el], J),
                    "code": np.repeat(el, J), "threshold": np.tile(cv.thresholds[cv.grid], len(el)),
                    "favourable": _nullable_int(S.ravel(), pt_ok.ravel()),
                    "rate": _masked(rate, pt_ok).ravel(),
                    "impact_ratio": _masked(ratio, pt_ok & env_ok).ravel(),
                    "suppressed": ~(pt_ok & env_ok).ravel(),
                }))
                frames["ranges"].append(pd.DataFrame({
                    "grouping": [key] * len(cv.ranges),
                    "from": [r["from"] for r in cv.ranges], "to": [r["to"] for r in cv.ranges],
                    "groups": [" | ".join(names[k] for k in r["groups"]) for r in cv.ranges],
                }))
                info["curve"] = {"cut": "score >= t" if higher_is_better else "score <= t",
                                 "ranges": cv.ranges, "group_ranges": cv.group_ranges,
                                 "thresholds": cv.thresholds[cv.grid], "eligible": el,
                                 "ratio": np.where(pt_ok & env_ok & np.isfinite(ratio), ratio, np.nan)}

        def cat(name):
            parts = frames[name]
            return pd.concat(parts, ignore_index=True) if parts else None

        pushed.sort(key=lambda t: t[0])
        return cls(
            groups=cat("groups"), distributions=cat("dist"), rates=cat("rates"), error_rates=cat("err"),
            calibration=cat("cal"), curve=cat("curve"), curve_ranges=cat("ranges"), tiers=tuple(tiers),
            favourable=tuple(bool(f) for f in favourable), higher_is_better=bool(higher_is_better),
            min_group_size=min_group_size, disclosure_threshold=disclosure_threshold, alpha=alpha,
            methods=methods, n_people=int(n_people), n_missing_score=int(n_missing_score),
            n_comparisons=int(n_comparisons), _pushed_out=tuple(e for _, e in pushed),
            _groupings=tuple(infos),
        )

    # ------------------------------------------------------------------ outputs
    def pushed_out(self) -> list[dict]:
        """Groups pushed out of a tier, most excluded first (see ``methods["pushed_out"]``).

        Each entry: ``attributes``, ``group``, ``tier``, ``outcome``, ``n``,
        ``favourable_count``, ``selection_rate`` (rate of the favourable
        outcome), ``reference_group`` (the most favoured group),
        ``reference_n``, ``reference_favourable_count``, ``reference_rate``,
        ``impact_ratio``, ``ci_low``, ``ci_high``, ``test``, ``p_value``,
        ``q_value``, ``mechanism`` and ``suppressed``.
        """
        return copy.deepcopy(list(self._pushed_out))

    def to_frame(self) -> pd.DataFrame:
        """The tidy per (grouping, group, tier) table, with label metrics joined when present."""
        out = self.rates.drop(columns=["code", "tier_index"])
        if self.error_rates is not None:
            err = self.error_rates.drop(columns=["code", "tier_index"]).rename(
                columns={"suppressed": "labels_suppressed"})
            out = out.merge(err, on=["grouping", "group", "tier"], how="left", sort=False)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: only dict/list/str/int/float/bool/None, no NaN, small counts suppressed."""
        thr = self.disclosure_threshold

        def count(x):
            return int(x) if x >= thr else None

        scored = self.n_people - self.n_missing_score
        doc: dict[str, Any] = {
            "methods": dict(self.methods),
            "settings": {
                "min_group_size": self.min_group_size, "disclosure_threshold": thr, "alpha": self.alpha,
                "confidence_level": 1 - self.alpha, "higher_is_better": self.higher_is_better,
                "four_fifths": FOUR_FIFTHS,
            },
            "population": {"rows": count(self.n_people), "scored": count(scored),
                           "missing_score": count(self.n_missing_score) if self.n_missing_score else 0,
                           "suppressed": any(0 < v < thr for v in (self.n_people, scored, self.n_missing_score))},
            "tiers": [{"name": t.name, "rule": t.describe(), "favourable": f, "outcome": _outcome(t, f)}
                      for t, f in zip(self.tiers, self.favourable, strict=True)],
            "n_comparisons": self.n_comparisons,
            "pushed_out": self.pushed_out(),
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
                         "suppressed": bool(row.suppressed)}
                dd = drow._asdict()
                entry["distribution"] = {
                    "mean": _f(dd["mean"]), "sd": _f(dd["sd"]), "median": _f(dd["median"]),
                    "quantiles": {k[1:]: _f(v) for k, v in dd.items() if k.startswith("q") and k[1:].isdigit()},
                    "smd": _f(dd["smd"]), "ks": _f(dd["ks"]), "auc": _f(dd["auc"]),
                }
                groups.append(entry)
            rates = []
            for r in self.rates[self.rates["grouping"] == key].to_dict("records"):
                rates.append({
                    "group": labels[r["code"]], "tier": r["tier"], "n": _i(r["n"]), "attained": _i(r["attained"]),
                    "selection_rate": _f(r["selection_rate"]),
                    "selection_ci": [_f(r["selection_ci_low"]), _f(r["selection_ci_high"])],
                    "favourable_rate": _f(r["favourable_rate"]), "small_group": bool(r["small_group"]),
                    "vs_most_favoured": _versus(r, "", "most_favoured", labels),
                    "vs_reference": _versus(r, "ref_", "reference", labels),
                    "pushed_out": bool(r["pushed_out"]), "suppressed": bool(r["suppressed"]),
                })
            ref = info["reference"]
            out = {"attributes": list(info["attributes"]),
                   "reference_group": labels[ref] if ref >= 0 else None,
                   "rows": count(info["rows"]),
                   "excluded": count(scored - info["rows"]) if scored - info["rows"] else 0,
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

    def _repr_html_(self) -> str:
        parts = ['<div class="audit-impact">', "<h3>Disparate impact</h3>",
                 f"<p>{self.n_people:,} people; {len(self.tiers)} tier(s); minimum group size "
                 f"{self.min_group_size}; counts below {self.disclosure_threshold} suppressed; "
                 f"{self.n_comparisons} comparisons, Benjamini-Hochberg at {self.alpha:g}.</p>"]
        po = self.pushed_out()
        parts.append("<h4>Pushed out</h4>")
        if not po:
            parts.append(f"<p>No group has an impact ratio below {FOUR_FIFTHS} with q &lt; {self.alpha:g}.</p>")
        else:
            parts.append(_table(
                ["group", "tier", "n", "rate", "most favoured", "its rate", "impact ratio", "CI", "q"],
                [[", ".join(f"{k}={v}" for k, v in p["group"].items()), p["tier"], p["n"],
                  p["selection_rate"], ", ".join(f"{k}={v}" for k, v in p["reference_group"].items()),
                  p["reference_rate"], p["impact_ratio"],
                  None if p["ci_low"] is None else f"{p['ci_low']:.3f}-{p['ci_high']:.3f}", p["q_value"]]
                 for p in po]))
        cols = ["grouping", "group", "tier", "n", "selection_rate", "impact_ratio", "impact_ratio_ci_low",
                "impact_ratio_ci_high", "q_value", "four_fifths", "pushed_out"]
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


def _outcome(tier: Tier, favourable: bool) -> str:
    return f"attains {tier.name!r}" if favourable else f"is not placed in {tier.name!r}"


def _versus(r: dict, prefix: str, label: str, labels: list) -> dict:
    code = int(r[f"{label}_code"])
    return {
        "group": labels[code] if code >= 0 else None,
        "rate": _f(r[f"{label}_rate"]),
        "impact_ratio": _f(r[f"{prefix}impact_ratio"]),
        "ci": [_f(r[f"{prefix}impact_ratio_ci_low"]), _f(r[f"{prefix}impact_ratio_ci_high"])],
        "below_four_fifths": _b(r[f"{prefix}four_fifths"]),
        "test": r[f"{prefix}test"] or None,
        "p_value": _f(r[f"{prefix}p_value"]),
        "q_value": _f(r[f"{prefix}q_value"]),
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
