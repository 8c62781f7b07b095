"""The result of a disparate-impact audit: suppressed tables, JSON and HTML."""

from __future__ import annotations

import copy
import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit._privacy import cell_publishable, is_small, published_count, small_mask
from audit.groups import json_float, json_value
from audit.impact._secondary import secondary_masks
from audit.impact._stats import wilson_interval
from audit.rules import Tier

__all__ = ["FOUR_FIFTHS", "ImpactResult", "methods_text"]

#: The four-fifths rule: an impact ratio *below* this is adverse impact.
FOUR_FIFTHS = 0.8
_PLOT_DIGITS = 4
#: Published thresholds (curve points, range endpoints, calibration bin bounds) are
#: rounded to this many decimal places, so that none is an individual's exact score.
CUT_DIGITS = 1
#: Published score statistics (group means, sd, medians, quantiles, calibration bin means) are
#: rounded to this many decimal places, so that no individual's exact score appears.
STAT_DIGITS = 1


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
            f"A group is listed as pushed out of a tier when (1) its impact ratio against the most favoured group "
            f"is below {FOUR_FIFTHS}; (2) its q-value (above) is below {alpha:g}; (3) its selection-adjusted "
            f"q-value is below {alpha:g}; (4) it has at least {min_group_size} people and is not itself the most "
            "favoured group. Condition (3) accounts for the most favoured group being picked from the data (the "
            "group with the highest observed rate, whose lead is partly luck): the claim is that the group's rate "
            "is below the best eligible group's, whichever group that truly is. Its p-value is the test against "
            "the most favoured group multiplied by K, the number of other eligible groups (any of which the "
            "claim could have rested on), capped at 1 - a Bonferroni bound that is valid however the comparison "
            "group was chosen; selection-adjusted q-values are Benjamini-Hochberg over every such candidate of "
            "the audit (groups of at least the minimum size, every tier and grouping). Without (3), in "
            "simulations with all groups equal, some group was listed in 8%, 10% and 16% of audits with 8, 12 "
            "and 20 groups at alpha 0.05; with it, in at most alpha. "
            "Findings whose figures can be published come first, most excluded first; findings resting on a "
            "cell that cannot be published follow in name order (so the order does not reveal their ratio) and "
            "carry only the group's size (when publishable) and suppressed: true."),
        "favourable_outcome": (
            "Attaining a tier is the favourable outcome when reaching it takes a better score (a threshold or "
            "top-k cut when higher is better; a lower band when lower is better). For other tiers (a high-risk "
            "band) the favourable outcome is not being placed in the tier, and ratios compare that rate. "
            "selection_rate always reports the rate of attaining the tier."),
        "small_groups": (f"Groups with fewer than {min_group_size} people are shown but never named as "
                         "pushed out."),
        "disclosure": (
            f"The shared disclosure rule: a count k is small when 0 < k < {disclosure_threshold}; a cell of k people "
            "out of n is published only when neither k nor n - k is small (zero counts are published: a complete "
            "exclusion is an aggregate finding). Everything derived from a cell that cannot be published is "
            "suppressed with it (null, with suppressed: true): rates and their intervals; and wherever either of "
            "two compared cells cannot be published, the impact ratio, its interval, the four-fifths flag, the test, "
            "its p-value and both q-values (with the group sizes and one cell, a p-value gives the other cell "
            "back). Label metrics are shown only when all four cells (TP, FP, FN, TN) can be published. A score "
            f"threshold (curve point, range endpoint, calibration bin bound) is shown only with at least "
            f"{disclosure_threshold} people of the whole population on each side of it and, for a curve point or "
            "range, with the cells of the groups concerned and of the most favoured group publishable at it; shown "
            f"thresholds are rounded to {CUT_DIGITS} decimal place, and the lowest and highest scores are never shown. "
            "Secondary suppression: every group of every grouping is a cell of one table over all the audited "
            "attributes, and cells that share all coordinates but one form a line adding up to a published total "
            "(a single attribute's groups to the population, an intersection's groups to a group of a smaller "
            "grouping); wherever a line has exactly one hidden cell, its smallest published cell is hidden too, "
            "until no line has exactly one, so no hidden count comes back by subtraction. This is done for group "
            "sizes, then per tier for the counts attaining it (a hidden size hides everything about the group, "
            "its rates included); for label metrics a group's row (labelled, positives, negatives, TP, FP, FN, "
            "TN) is one unit, hidden whole if any count in it is, and protected across groups per count; for "
            "calibration per bin across groups and across a group's bins. Findings resting on a cell hidden this "
            "way are listed like any other suppressed finding. Differences between nested tiers (and curve "
            "points) are not protected. "
            f"Group means, standard deviations, medians, quantiles and calibration bin mean scores are rounded "
            f"to {STAT_DIGITS} decimal place, so that none is an individual's exact score. Multiple-testing corrections run over every comparison, suppressed or not, so "
            "suppression never changes a published q-value."),
        "distributions": (
            f"Per group of at least {min_group_size} people (smaller groups: none): mean, standard deviation, "
            "quantiles 10-90% (numpy 'linear'; never the minimum or maximum). Against the reference group (when it "
            "too has that many people): "
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
            "four-fifths, cut down to the thresholds that may be published (see disclosure), so a range is a run "
            "of publishable thresholds at each of which the named group is below; a cut between two observed "
            "scores behaves like the nearest observed score on the favourable side. The plot series (groups of at "
            "least the minimum size) are down-sampled to at most 200 thresholds at population quantiles. "
            f"Thresholds and range endpoints are rounded to {CUT_DIGITS} decimal place.")
    if labels:
        out["error_rates"] = (
            "Prediction = attained the tier, truth = the label (the event the tier predicts). FPR = FP/(FP+TN), "
            f"FNR = FN/(FN+TP), PPV = TP/(TP+FP), each with a Wilson interval ({level}); people without a label "
            "are left out.")
        out["calibration"] = (
            "Observed label rate per group within score bins (each distinct score when there are at most 20, "
            f"else population deciles; the outer two open-ended), with Wilson intervals ({level}). Bin bounds are "
            f"rounded to {CUT_DIGITS} decimal place.")
    return out


def _f(x) -> float | None:
    """A JSON-ready float: None for NaN, infinity or NA."""
    return json_float(x)


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


_small = small_mask


def _round_stat(x):
    """Published score statistics (means, sd, quantiles) are rounded to ``STAT_DIGITS`` places."""
    return np.round(np.asarray(x, dtype=float), STAT_DIGITS)


def _merge_touching(pairs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Join ranges that touch or overlap once rounded (presentation only: 695.4–695.4 and 695.4–696.3)."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(pairs):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _merge_touching_ranges(ranges: list[dict]) -> list[dict]:
    """As :func:`_merge_touching` for the grouping-level ranges; the groups below 0.8 are united."""
    out: list[dict] = []
    for r in sorted(ranges, key=lambda r: (r["from"], r["to"])):
        if out and r["from"] <= out[-1]["to"]:
            last = out[-1]
            last["to"] = max(last["to"], r["to"])
            last["groups"] = sorted(set(last["groups"]) | set(r["groups"]))
        else:
            out.append({"from": r["from"], "to": r["to"], "groups": list(r["groups"])})
    return out


def _round_cut(x):
    return np.round(np.asarray(x, dtype=float), CUT_DIGITS)


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
        ``p_value``, ``q_value``; against the most favoured group also
        ``selection_p_value`` and ``selection_q_value`` (see
        ``methods["pushed_out"]``); ``pushed_out``.  Compared figures are
        suppressed wherever either compared cell cannot be published.
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
        masks = secondary_masks(families, T, thr)
        for fam, (mf, rf), mask in zip(families, comparisons, masks, strict=True):
            gr = fam.grouping
            G = gr.n_groups
            key = gr.key
            names = [gr.name(k) for k in range(G)]
            labels = [gr.label(k) for k in range(G)]
            counts = fam.counts
            # Primary and secondary suppression (see audit.impact._secondary): no hidden
            # count comes back by subtracting published cells from a published total.
            n_ok = ~mask["n"]
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

            # ---- score distributions: groups of at least the minimum size only (and never min / max)
            d = fam.dist
            dist_ok = n_ok & (counts > 0) & ~small
            cmp_ok = dist_ok & (fam.ref >= 0) & bool(fam.ref >= 0 and dist_ok[fam.ref])
            # Score statistics are rounded so that no one's exact score is published.
            dist = {"grouping": key, "group": names, "code": np.arange(G), "n": _nullable_int(counts, n_ok),
                    "mean": _masked(_round_stat(d["mean"]), dist_ok), "sd": _masked(_round_stat(d["sd"]), dist_ok)}
            for j, q in enumerate(quantiles):
                dist[f"q{round(100 * q):02d}"] = _masked(_round_stat(d["quantiles"][:, j]), dist_ok)
            dist["median"] = _masked(_round_stat(d["quantiles"][:, list(quantiles).index(0.5)]), dist_ok)
            dist["reference"] = ref_name
            for k in ("smd", "ks", "auc"):
                dist[k] = _masked(d[k], cmp_ok)
            dist["suppressed"] = ~dist_ok
            frames["dist"].append(pd.DataFrame(dist))

            # ---- rates: one row per (group, tier), group-major
            hits = fam.hits
            cell_ok = ~mask["hits"]
            with np.errstate(invalid="ignore", divide="ignore"):
                sel = hits / counts[:, None]
                fav_rate = fam.fav_hits / counts[:, None]
            lo, hi = wilson_interval(hits, counts[:, None] + 0 * hits, alpha=alpha)
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
            both_ok = {}
            tj = np.broadcast_to(np.arange(T)[None, :], (G, T))
            for prefix, c in (("", mf), ("ref_", rf)):
                cmp = c["cmp"]
                valid = cmp >= 0
                cc = np.where(valid, cmp, 0)
                # Everything that compares two cells needs both cells publishable: the
                # ratio, its interval, the four-fifths flag, the test and its p- and q-values
                # (a p-value with the two group sizes and one cell gives the other cell back).
                ok = cell_ok & cell_ok[cc, tj] & valid
                both_ok[prefix] = ok
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
                ff[~(c["defined"] & ok).ravel()] = pd.NA
                rows[f"{prefix}four_fifths"] = ff
                rows[f"{prefix}test"] = np.where(ok, c["test"], "").ravel().astype(object)
                rows[f"{prefix}p_value"] = _masked(c["p"], ok).ravel()
                rows[f"{prefix}q_value"] = _masked(c["q"], ok).ravel()
                if not prefix:
                    rows["selection_p_value"] = _masked(c["selection_p"], ok).ravel()
                    rows["selection_q_value"] = _masked(c["selection_q"], ok).ravel()
            # The decision uses the unsuppressed figures; a finding whose figures are
            # suppressed is still listed (without them), see methods["pushed_out"].
            is_mf = np.arange(G)[:, None] == mf["cmp"]
            po_mask = (mf["below"] & (mf["q"] < alpha) & (mf["selection_q"] < alpha) & ~small[:, None]
                       & ~is_mf)
            rows["pushed_out"] = po_mask.ravel()
            rows["suppressed"] = any_sup.ravel()
            frames["rates"].append(pd.DataFrame(rows))

            # ---- pushed-out entries
            for k, j in zip(*np.nonzero(po_mask), strict=True):
                m = int(mf["cmp"][k, j])
                if both_ok[""][k, j]:
                    entry = {
                        "attributes": list(gr.attributes), "group": labels[k], "tier": tier_names[j],
                        "outcome": _outcome(tiers[j], favourable[j]),
                        "n": int(counts[k]),
                        "favourable_count": int(fam.fav_hits[k, j]),
                        "selection_rate": float(fam.fav_hits[k, j] / counts[k]),
                        "reference_group": labels[m],
                        "reference_n": int(counts[m]),
                        "reference_favourable_count": int(fam.fav_hits[m, j]),
                        "reference_rate": float(fam.fav_hits[m, j] / counts[m]),
                        "impact_ratio": _f(mf["ratio"][k, j]),
                        "ci_low": _f(mf["lo"][k, j]),
                        "ci_high": _f(mf["hi"][k, j]),
                        "test": str(mf["test"][k, j]),
                        "p_value": _f(mf["p"][k, j]),
                        "q_value": _f(mf["q"][k, j]),
                        "selection_candidates": int(mf["candidates"][k, j]),
                        "selection_p_value": _f(mf["selection_p"][k, j]),
                        "selection_q_value": _f(mf["selection_q"][k, j]),
                        "mechanism": "direct",
                        "suppressed": False,
                    }
                    sort_key = (0, float(mf["ratio"][k, j]), -int(counts[k]), key, names[k], int(j))
                else:
                    # Listed, but with no figure beyond the group's size: every other number
                    # (even a p-value) would let a reader rebuild the hidden count.
                    entry = {
                        "attributes": list(gr.attributes), "group": labels[k], "tier": tier_names[j],
                        "outcome": _outcome(tiers[j], favourable[j]),
                        "n": int(counts[k]) if n_ok[k] else None,
                        "favourable_count": None, "selection_rate": None,
                        "reference_group": labels[m],
                        "reference_n": None, "reference_favourable_count": None, "reference_rate": None,
                        "impact_ratio": None, "ci_low": None, "ci_high": None,
                        "test": None, "p_value": None, "q_value": None,
                        "selection_candidates": None, "selection_p_value": None, "selection_q_value": None,
                        "mechanism": "direct",
                        "suppressed": True,
                    }
                    # Name order, so that the list's order cannot reveal the ratio.
                    sort_key = (1, 0.0, 0, key, names[k], int(j))
                pushed.append((sort_key, entry))

            # ---- label metrics
            if fam.errors is not None:
                e = fam.errors
                tp, fp, fn, tn = e["tp"], e["fp"], e["fn"], e["tn"]
                pos = np.broadcast_to(e["positives"][:, None], tp.shape)
                neg = np.broadcast_to(e["negatives"][:, None], tp.shape)
                lab = pos + neg
                # All four label cells publishable: then FPR (fp of fp + tn), FNR (fn of
                # fn + tp) and PPV (tp of tp + fp) are publishable cells too.
                # A group's label row is one unit: any hidden count hides them all.
                all_ok = ~mask["label_row"]
                grp_ok = np.broadcast_to(~mask["label_group"][:, None], tp.shape)
                err = {"grouping": np.repeat(key, G * T), "group": np.repeat(names, T),
                       "code": np.repeat(np.arange(G), T),
                       "tier": np.tile(np.array(tier_names, dtype=object), G),
                       "tier_index": np.tile(np.arange(T), G),
                       "labelled": _nullable_int(lab.ravel(), grp_ok.ravel()),
                       "positives": _nullable_int(pos.ravel(), grp_ok.ravel()),
                       "negatives": _nullable_int(neg.ravel(), grp_ok.ravel())}
                for name, arr in (("tp", tp), ("fp", fp), ("fn", fn), ("tn", tn)):
                    err[name] = _nullable_int(arr.ravel(), all_ok.ravel())
                for name, num, den in (("fpr", fp, fp + tn), ("fnr", fn, fn + tp), ("ppv", tp, tp + fp)):
                    with np.errstate(invalid="ignore", divide="ignore"):
                        rate = num / den
                    rlo, rhi = wilson_interval(num, den, alpha=alpha)
                    err[name] = _masked(rate, all_ok).ravel()
                    err[f"{name}_ci_low"] = _masked(rlo, all_ok).ravel()
                    err[f"{name}_ci_high"] = _masked(rhi, all_ok).ravel()
                err["suppressed"] = ~all_ok.ravel()
                frames["err"].append(pd.DataFrame(err))
            if fam.calibration is not None:
                c = fam.calibration
                B = len(c["from"])
                cn, ev = c["n"], c["events"]
                ok = ~mask["cal_events"]
                nk = ~mask["cal_n"]
                with np.errstate(invalid="ignore", divide="ignore"):
                    rate = ev / cn
                    mean_score = _round_stat(c["score_sum"] / cn)
                rlo, rhi = wilson_interval(ev, cn, alpha=alpha)
                # A bin bound is a cut of the score scale: shown (rounded) only with at
                # least `thr` people of the population on each side of it.
                below, upto, tot = c["below_from"], c["upto"], c["total"]
                lo_b = np.where((below >= thr) & (tot - below >= thr), _round_cut(c["from"]), np.nan)
                hi_b = np.where((upto >= thr) & (tot - upto >= thr), _round_cut(c["to"]), np.nan)
                frames["cal"].append(pd.DataFrame({
                    "grouping": np.repeat(key, G * B), "group": np.repeat(names, B),
                    "code": np.repeat(np.arange(G), B), "bin": np.tile(np.arange(B), G),
                    "score_from": np.tile(lo_b, G), "score_to": np.tile(hi_b, G),
                    "n": _nullable_int(cn.ravel(), nk.ravel()), "events": _nullable_int(ev.ravel(), ok.ravel()),
                    "observed_rate": _masked(rate, ok).ravel(), "ci_low": _masked(rlo, ok).ravel(),
                    "ci_high": _masked(rhi, ok).ravel(), "mean_score": _masked(mean_score, nk & (cn > 0)).ravel(),
                    "suppressed": ~ok.ravel(),
                }))

            # ---- threshold curve
            cv = fam.curve
            if cv is not None:
                el = np.flatnonzero(cv.eligible)
                S = cv.grid_hits[el]  # (E, J)
                ng = counts[el][:, None]
                mh, mn = cv.grid_most_favoured_hits[None, :], cv.grid_most_favoured_n[None, :]
                fav_pop, unfav_pop = cv.grid_population()
                # A threshold is shown only with `thr` people of the population on each
                # side of it; a point also needs its group's and the most favoured group's
                # cells publishable.  Thresholds are rounded to 1 decimal place (equal
                # rounded values keep their first point).
                t_ok = (fav_pop >= thr) & (unfav_pop >= thr)
                pt_ok = np.asarray(cell_publishable(S, ng, thr), dtype=bool).reshape(S.shape) & n_ok[el][:, None]
                env_ok = np.asarray(cell_publishable(mh, mn, thr), dtype=bool).reshape(mh.shape)
                shown = pt_ok & env_ok & t_ok[None, :]
                t_round = _round_cut(cv.thresholds[cv.grid])
                first = np.ones(len(t_round), dtype=bool)
                first[1:] = t_round[1:] != t_round[:-1]
                t_round, S, shown = t_round[first], S[:, first], shown[:, first]
                mh, mn, t_ok = mh[:, first], mn[:, first], t_ok[first]
                J = len(t_round)
                with np.errstate(invalid="ignore", divide="ignore"):
                    rate = S / ng
                    ratio = np.where(mh > 0, (S * mn.astype(float)) / (mh * ng.astype(float)), np.nan)
                frames["curve"].append(pd.DataFrame({
                    "grouping": np.repeat(key, len(el) * J), "group": np.repeat([names[k] for k in el], J),
                    "code": np.repeat(el, J), "threshold": np.tile(t_round, len(el)),
                    "favourable": _nullable_int(S.ravel(), (pt_ok[:, first] & t_ok[None, :]).ravel()),
                    "rate": _masked(rate, pt_ok[:, first] & t_ok[None, :]).ravel(),
                    "impact_ratio": _masked(ratio, shown).ravel(),
                    "suppressed": ~shown.ravel(),
                }))
                ranges, group_ranges = cv.published_ranges(thr)
                ranges = [{"from": float(_round_cut(r["from"])), "to": float(_round_cut(r["to"])),
                           "groups": r["groups"]} for r in ranges]
                group_ranges = {k: _merge_touching([(float(_round_cut(a)), float(_round_cut(b))) for a, b in v])
                                for k, v in group_ranges.items()}
                ranges = _merge_touching_ranges(ranges)
                frames["ranges"].append(pd.DataFrame({
                    "grouping": [key] * len(ranges),
                    "from": [r["from"] for r in ranges], "to": [r["to"] for r in ranges],
                    "groups": [" | ".join(names[k] for k in r["groups"]) for r in ranges],
                }))
                plotted = shown.any(axis=0)
                info["curve"] = {"cut": "score >= t" if higher_is_better else "score <= t",
                                 "ranges": ranges, "group_ranges": group_ranges,
                                 "thresholds": t_round[plotted], "eligible": el,
                                 "ratio": np.where(shown & np.isfinite(ratio), ratio, np.nan)[:, plotted]}

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
        ``q_value``, ``selection_candidates`` (K), ``selection_p_value``,
        ``selection_q_value``, ``mechanism`` and ``suppressed``.  An entry
        resting on a cell that cannot be published has every figure None
        except ``n`` (when publishable) and ``suppressed: True``.
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
            return published_count(x, thr)

        scored = self.n_people - self.n_missing_score
        doc: dict[str, Any] = {
            "methods": dict(self.methods),
            "settings": {
                "min_group_size": self.min_group_size, "disclosure_threshold": thr, "alpha": self.alpha,
                "confidence_level": 1 - self.alpha, "higher_is_better": self.higher_is_better,
                "four_fifths": FOUR_FIFTHS,
            },
            "population": {"rows": count(self.n_people), "scored": count(scored),
                           "missing_score": count(self.n_missing_score),
                           "suppressed": any(is_small(v, thr) for v in (self.n_people, scored, self.n_missing_score))},
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

    def _repr_html_(self) -> str:
        thr = self.disclosure_threshold
        sup = f"counts from 1 to {thr - 1} suppressed (zeros shown)" if thr > 1 else "no suppression"
        parts = ['<div class="audit-impact">', "<h3>Disparate impact</h3>",
                 f"<p>{self.n_people:,} people; {len(self.tiers)} tier(s); minimum group size "
                 f"{self.min_group_size}; {sup}; "
                 f"{self.n_comparisons} comparisons, Benjamini-Hochberg at {self.alpha:g}.</p>"]
        po = self.pushed_out()
        parts.append("<h4>Pushed out</h4>")
        if not po:
            parts.append(f"<p>No group has an impact ratio below {FOUR_FIFTHS} with q and selection-adjusted q "
                         f"&lt; {self.alpha:g}.</p>")
        else:
            parts.append(_table(
                ["group", "tier", "n", "rate", "most favoured", "its rate", "impact ratio", "CI", "q",
                 "q (selection)"],
                [[", ".join(f"{k}={v}" for k, v in p["group"].items()), p["tier"], p["n"],
                  p["selection_rate"], ", ".join(f"{k}={v}" for k, v in p["reference_group"].items()),
                  p["reference_rate"], p["impact_ratio"],
                  None if p["ci_low"] is None else f"{p['ci_low']:.3f}-{p['ci_high']:.3f}", p["q_value"],
                  p["selection_q_value"]]
                 for p in po]))
        cols = ["grouping", "group", "tier", "n", "selection_rate", "impact_ratio", "impact_ratio_ci_low",
                "impact_ratio_ci_high", "q_value", "selection_q_value", "four_fifths", "pushed_out"]
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
    extra = {} if prefix else {"selection_p_value": _f(r["selection_p_value"]),
                               "selection_q_value": _f(r["selection_q_value"])}
    return {
        "group": labels[code] if code >= 0 else None,
        "rate": _f(r[f"{label}_rate"]),
        "impact_ratio": _f(r[f"{prefix}impact_ratio"]),
        "ci": [_f(r[f"{prefix}impact_ratio_ci_low"]), _f(r[f"{prefix}impact_ratio_ci_high"])],
        "below_four_fifths": _b(r[f"{prefix}four_fifths"]),
        "test": r[f"{prefix}test"] or None,
        "p_value": _f(r[f"{prefix}p_value"]),
        "q_value": _f(r[f"{prefix}q_value"]),
        **extra,
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
