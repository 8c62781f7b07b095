"""``disparate_impact``: who attains each tier, by group, and how confident we can be."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit.groups import Grouping
from audit.impact._core import (
    QUANTILES,
    Pairs,
    SortedScores,
    distribution_stats,
    group_rates,
    most_favoured,
    pattern_table,
)
from audit.impact._curve import ThresholdCurve, threshold_curve
from audit.impact._result import FOUR_FIFTHS, ImpactResult, methods_text
from audit.impact._stats import (
    benjamini_hochberg,
    compare_proportions,
    ratio_score_interval,
)
from audit.rules import Tier
from audit.rules import attainment as tier_attainment

__all__ = ["disparate_impact", "tier_is_favourable"]

_CALIBRATION_BINS = 10
_CALIBRATION_DISTINCT = 20


def tier_is_favourable(tier: Tier, higher_is_better: bool = True) -> bool:
    """Whether attaining ``tier`` is good news.

    A tier is favourable when reaching it takes a *better* score: a threshold
    (``score >= t``, with or without an upper bound) or a top-k cut when higher
    scores are better; a lower band alone (``score <= t``) when lower scores are
    better (the "Low risk" band of a risk score).  Otherwise — a "High risk"
    tier of a risk score, a "blacklist below 550" tier of a social score — the
    favourable outcome is *not* being placed in the tier, and impact ratios
    compare the rates of that.

    Examples
    --------
    >>> tier_is_favourable(Tier("High risk", threshold=8), higher_is_better=False)
    False
    >>> tier_is_favourable(Tier("Low risk", at_most=4), higher_is_better=False)
    True
    """
    if tier.is_ranked or tier.threshold is not None:
        return bool(higher_is_better)
    return not higher_is_better


@dataclass
class _Family:
    """Raw (unsuppressed) results for one grouping."""

    grouping: Grouping
    counts: np.ndarray
    hits: np.ndarray
    fav_hits: np.ndarray
    ref: int
    mf: np.ndarray
    dist: dict
    curve: ThresholdCurve | None
    errors: dict | None
    calibration: dict | None


def _scores(scores) -> np.ndarray:
    try:
        s = np.asarray(scores, dtype=float)
    except (TypeError, ValueError) as exc:
        raise AuditInputError(f"scores must be numbers: {exc}") from None
    if s.ndim != 1:
        raise AuditInputError(f"scores must be one number per person, got an array of shape {s.shape}")
    return s


def _labels(labels, n: int) -> np.ndarray | None:
    if labels is None:
        return None
    y = np.asarray(pd.to_numeric(pd.Series(labels), errors="coerce"), dtype=float)
    if y.shape != (n,):
        raise AuditInputError(f"labels must have one value per person ({n}), got shape {y.shape}")
    ok = np.isnan(y) | (y == 0) | (y == 1)
    if not ok.all():
        raise AuditInputError(f"labels must be 0/1 (or missing), found {y[~ok][0]!r}")
    return y


def _same(a: tuple, b: tuple) -> bool:
    return a == b or tuple(map(str, a)) == tuple(map(str, b))


def _reference_code(gr: Grouping, counts: np.ndarray, reference: Mapping | None) -> int:
    if counts.sum() == 0:
        return -1
    largest = int(np.argmax(counts))  # first maximum: ties go to the lower (sorted) code
    if not reference or not all(a in reference for a in gr.attributes):
        return largest
    target = tuple(reference[a] for a in gr.attributes)
    for code, vals in enumerate(gr.values):
        if _same(tuple(vals), target) and counts[code] > 0:
            return code
    if len(gr.attributes) == 1:
        raise AuditInputError(
            f"reference group {gr.attributes[0]}={target[0]!r} is not in the data (column {gr.attributes[0]!r})")
    return largest


def _calibration_bins(ss: SortedScores) -> dict:
    """Bin of each distinct score, the bins' lower/upper score bounds, and the population around each bound.

    ``below_from[b]`` people score below bin ``b``'s lower bound and ``upto[b]``
    at or below its upper bound (out of ``total``), so that a report can tell
    whether a bound has enough people on each side to be published.  The outer
    bounds are open-ended (NaN): the population's lowest and highest scores are
    never bounds.
    """
    D = ss.n_distinct
    pop = np.asarray(ss.population, dtype=np.int64)
    cum = np.cumsum(pop)
    total = int(cum[-1]) if D else 0
    if D == 0:
        e = np.zeros(0)
        return {"bin_of": np.zeros(0, dtype=np.int64), "from": e, "to": e, "below_from": e.astype(np.int64),
                "upto": e.astype(np.int64), "total": 0}
    if D <= _CALIBRATION_DISTINCT:
        starts = np.arange(D)
    else:
        # Deciles of the people's scores (not of the distinct values).
        cuts = np.searchsorted(cum, cum[-1] * np.arange(1, _CALIBRATION_BINS) / _CALIBRATION_BINS, side="left")
        starts = np.unique(np.concatenate([[0], cuts + 1]))
        starts = starts[starts < D]
    bin_of = np.searchsorted(starts, np.arange(D), side="right") - 1
    ends = np.append(starts[1:] - 1, D - 1)
    lo, hi = ss.values[starts].astype(float), ss.values[ends].astype(float)
    lo[0], hi[-1] = np.nan, np.nan
    return {"bin_of": bin_of, "from": lo, "to": hi, "below_from": cum[starts] - pop[starts], "upto": cum[ends],
            "total": total}


def _family(gr: Grouping, ss: SortedScores, att: np.ndarray, fav: np.ndarray, labels, reference,
            min_group_size: int, higher_is_better: bool, curve: bool, cal_bins) -> _Family:
    counts, hits = group_rates(att, gr)
    fav_hits = np.where(fav[None, :], hits, counts[:, None] - hits)
    ref = _reference_code(gr, counts, reference)
    mf = most_favoured(counts, fav_hits, min_group_size)
    pairs = Pairs.build(gr.codes, ss, gr.n_groups)
    dist = distribution_stats(pairs, ss.values, ref, higher_is_better)
    cv = threshold_curve(pairs, ss.values, gr.attributes, higher_is_better=higher_is_better,
                         min_group_size=min_group_size, population=ss.population) if curve else None
    errors = calibration = None
    if labels is not None:
        G = gr.n_groups
        lab = ~np.isnan(labels)
        y = labels == 1
        codes = np.where(lab, gr.codes, -1)
        tp = pattern_table(codes, att & y[:, None], G)
        fp = pattern_table(codes, att & ~y[:, None], G)
        pos = np.bincount(codes[(codes >= 0) & y], minlength=G)
        neg = np.bincount(codes[(codes >= 0) & ~y], minlength=G)
        errors = {"tp": tp, "fp": fp, "fn": pos[:, None] - tp, "tn": neg[:, None] - fp,
                  "positives": pos, "negatives": neg}
        bin_of = cal_bins["bin_of"]
        B = len(cal_bins["from"])
        # Score-sorted order, so that the float sums do not depend on row order.
        o = ss.order
        m = codes[o] >= 0
        o = o[m]
        key = codes[o] * B + bin_of[ss.index[o]]
        calibration = {
            "n": np.bincount(key, minlength=G * B).reshape(G, B),
            "events": np.bincount(key[y[o]], minlength=G * B).reshape(G, B),
            "score_sum": np.bincount(key, weights=ss.values[ss.index[o]], minlength=G * B).reshape(G, B),
            **{k: cal_bins[k] for k in ("from", "to", "below_from", "upto", "total")},
        }
    return _Family(gr, counts, hits, fav_hits, ref, mf, dist, cv, errors, calibration)


def _comparisons(fam: _Family, comparators: list[np.ndarray], alpha: float) -> list[dict]:
    """Ratio, interval, test and four-fifths flag of every (group, tier) against each ``comparator[j]``.

    All comparators are solved in one call of the interval and the test (one
    bisection for every bound), so a small audit costs little more than a large one.
    """
    G, T = fam.fav_hits.shape
    x1 = fam.fav_hits
    n1 = np.broadcast_to(fam.counts[:, None], (G, T))
    parts = []
    for comparator in comparators:
        valid = comparator >= 0
        c = np.where(valid, comparator, 0)
        x2 = np.broadcast_to(fam.fav_hits[c, np.arange(T)][None, :], (G, T))
        n2 = np.broadcast_to(fam.counts[c][None, :], (G, T))
        parts.append((comparator, valid, x2, n2))
    k = len(parts)
    X1, N1 = np.tile(x1.ravel(), k), np.tile(n1.ravel(), k)
    X2 = np.concatenate([pt[2].ravel() for pt in parts])
    N2 = np.concatenate([pt[3].ravel() for pt in parts])
    ratio_all, lo_all, hi_all = ratio_score_interval(X1, N1, X2, N2, alpha=alpha)
    p_all, test_all = compare_proportions(X1, N1, X2, N2)
    out = []
    for i, (comparator, valid, x2, n2) in enumerate(parts):
        sl = slice(i * G * T, (i + 1) * G * T)
        ratio, lo, hi, p, test = (a[sl].reshape(G, T) for a in (ratio_all, lo_all, hi_all, p_all, test_all))
        self_ = (np.arange(G)[:, None] == comparator[None, :]) | ~valid[None, :]
        lo = np.where(self_, np.nan, lo)
        hi = np.where(self_, np.nan, hi)
        p = np.where(self_, np.nan, p)
        test = np.where(self_, "", test)
        defined = (x2 > 0) & (n1 > 0) & valid[None, :]
        below = defined & (5 * x1 * n2 < 4 * x2 * n1) & ~self_
        out.append({"ratio": np.where(defined, ratio, np.nan), "lo": lo, "hi": hi, "p": p, "test": test,
                    "below": below, "defined": defined, "x2": x2, "n2": n2,
                    "cmp": np.broadcast_to(comparator, (G, T))})
    return out


def _eligible(counts: np.ndarray, min_group_size: int) -> np.ndarray:
    """Groups that can be the most favoured (as :func:`audit.impact.most_favoured` decides)."""
    eligible = counts >= min_group_size
    return eligible if eligible.any() else counts > 0


def disparate_impact(
    scores,
    groupings: list[Grouping],
    tiers: Sequence[Tier],
    *,
    attainment=None,
    labels=None,
    higher_is_better: bool = True,
    reference: Mapping | None = None,
    min_group_size: int = 30,
    disclosure_threshold: int = 10,
    alpha: float = 0.05,
    curve: bool = True,
    favourable: Sequence[bool] | None = None,
) -> ImpactResult:
    """Disparate impact of a scoring rule: rates, ratios, tests and score distributions by group.

    Parameters
    ----------
    scores : array_like of float, shape (n,)
        One score per person; NaN scores are left out of everything (and counted).
    groupings : list of Grouping
        Protected attributes and their intersections, from
        :func:`audit.groups.build_groupings`.
    tiers : sequence of Tier
        The benefits the score unlocks; top-k / top-fraction tiers are tiers like any other.
    attainment : ndarray of bool, shape (n, len(tiers)), optional
        Who attains each tier; default ``audit.rules.attainment(tiers, scores)``
        over the people with a score.
    labels : array_like of 0/1, shape (n,), optional
        The outcome each tier predicts (reoffending, default); NaN = unknown,
        left out of the label metrics.  For error rates the prediction is
        "attained the tier" and the truth is the label, so a COMPAS "higher
        risk" tier against reoffending gives the usual FPR / FNR.
    higher_is_better : bool, default True
        False for risk scores: the threshold curve then uses ``score <= t`` as
        the favourable outcome, standardised mean differences and AUCs are
        signed so that positive / above 0.5 still means better off, and tiers
        reached by a high score are adverse (see :func:`tier_is_favourable`).
    reference : mapping attribute -> value, optional
        The reference group.  Default, per grouping: its largest group.  For an
        intersection: the combination of the given values if that group exists,
        else the largest group.
    min_group_size : int, default 30
        Smaller groups are shown but never named as pushed out, and cannot be
        the most favoured group unless no group is this large.
    disclosure_threshold : int, default 10
        The shared disclosure rule (:mod:`audit._privacy`): a count k is small
        when 0 < k < threshold, a cell k-of-n is shown only when neither k nor
        n - k is small, and everything derived from a cell that cannot be shown
        (rates, intervals, ratios, tests, p- and q-values, score thresholds) is
        suppressed with it.  Zero counts are shown.
    alpha : float, default 0.05
        False discovery rate for the pushed-out list (both the ordinary and the
        selection-adjusted q-values), and 1 - confidence level of every
        interval (Wilson, ratio score, label metrics, calibration).
    curve : bool, default True
        Compute the impact ratio at every distinct threshold.
    favourable : sequence of bool, optional
        Override :func:`tier_is_favourable` per tier.

    Returns
    -------
    ImpactResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from audit.groups import build_groupings
    >>> from audit.rules import Tier
    >>> rng = np.random.default_rng(0)
    >>> people = pd.DataFrame({"group": np.repeat(["a", "b"], 500)})
    >>> scores = np.concatenate([rng.normal(650, 50, 500), rng.normal(610, 50, 500)])
    >>> result = disparate_impact(scores, build_groupings(people, ["group"]), [Tier("loan", threshold=650)])
    >>> [(e["group"], round(e["impact_ratio"], 2)) for e in result.pushed_out()]
    [({'group': 'b'}, 0.35)]
    """
    s = _scores(scores)
    n = len(s)
    tiers = tuple(tiers)
    T = len(tiers)
    if not 0 < alpha < 1:
        raise AuditInputError(f"alpha must be between 0 and 1, got {alpha}")
    if min_group_size < 1:
        raise AuditInputError(f"minimum group size must be at least 1, got {min_group_size}")
    if disclosure_threshold < 0:
        raise AuditInputError(f"disclosure threshold must not be negative, got {disclosure_threshold}")
    scored = ~np.isnan(s)
    if attainment is None:
        att = np.zeros((n, T), dtype=bool)
        att[scored] = tier_attainment(tiers, s[scored])
    else:
        att = np.asarray(attainment)
        if att.ndim == 1 and T == 1:
            att = att[:, None]
        if att.shape != (n, T):
            raise AuditInputError(f"attainment must have shape ({n}, {T}) (people x tiers), got {att.shape}")
        att = att.astype(bool)
    if favourable is None:
        fav = np.array([tier_is_favourable(t, higher_is_better) for t in tiers], dtype=bool)
    else:
        fav = np.asarray(list(favourable), dtype=bool)
        if fav.shape != (T,):
            raise AuditInputError(f"favourable must give one flag per tier ({T}), got {len(fav)}")
    y = _labels(labels, n)
    groupings = list(groupings)
    known = {a for g in groupings for a in g.attributes}
    for key in (reference or {}):
        if key not in known:
            raise AuditInputError(f"reference names column {key!r}, which is not a protected attribute")
    ss = SortedScores.build(s)
    cal_bins = _calibration_bins(ss) if y is not None else None
    families: list[_Family] = []
    for g in groupings:
        if len(g.codes) != n:
            raise AuditInputError(
                f"grouping {g.key!r} has {len(g.codes)} rows but there are {n} scores")
        if not scored.all():
            codes = np.where(scored, g.codes, -1)
            g = replace(g, codes=codes,
                        counts=np.bincount(codes[codes >= 0], minlength=g.n_groups).astype(np.int64))
        families.append(_family(g, ss, att, fav, y, reference, min_group_size, higher_is_better, curve,
                                cal_bins))

    # Every comparison of the audit, against the most favoured group and against
    # the reference group; a pair compared twice (reference == most favoured) counts once.
    comps = []
    for fam in families:
        ref = np.full(T, fam.ref, dtype=np.int64)
        comps.append(tuple(_comparisons(fam, [fam.mf, ref], alpha)))
    keys, pvals = [], []
    for i, (mf, rf) in enumerate(comps):
        for c in (mf, rf):
            G = c["p"].shape[0]
            gi, tj = np.meshgrid(np.arange(G), np.arange(T), indexing="ij")
            ok = ~np.isnan(c["p"])
            keys.append(np.stack([np.full(ok.sum(), i), gi[ok], tj[ok], c["cmp"][ok]], axis=1))
            pvals.append(c["p"][ok])
    if keys and sum(len(k) for k in keys):
        allk = np.concatenate(keys)
        allp = np.concatenate(pvals)
        uk, first, inv = np.unique(allk, axis=0, return_index=True, return_inverse=True)
        q_unique = benjamini_hochberg(allp[first])
        q_all = q_unique[inv.ravel()]
        n_comparisons = len(uk)
    else:
        q_all = np.zeros(0)
        n_comparisons = 0
    pos = 0
    for mf, rf in comps:
        for c in (mf, rf):
            q = np.full(c["p"].shape, np.nan)
            ok = ~np.isnan(c["p"])
            q[ok] = q_all[pos:pos + ok.sum()]
            pos += int(ok.sum())
            c["q"] = q

    # Selection-aware evidence for "pushed out" (see methods["pushed_out"]): the
    # most favoured group is picked from the data, so the test against it is
    # one of K = (eligible groups other than g) tests a claim "g is below the
    # best eligible group" could have rested on.  Bonferroni over those K
    # comparators gives a valid p-value for that claim, whichever group the
    # data picked; Benjamini-Hochberg then runs over every candidate of the
    # audit (groups of at least the minimum size, every tier and grouping),
    # suppressed cells included, so suppression never changes a q-value.
    sel_p, cand = [], []
    for fam, (mf, _) in zip(families, comps, strict=True):
        el = _eligible(fam.counts, min_group_size)
        K = int(el.sum()) - el.astype(np.int64)  # comparators of each group
        is_mf = np.arange(len(fam.counts))[:, None] == mf["cmp"]
        c_ok = (~np.isnan(mf["p"]) & ~is_mf & (fam.counts >= min_group_size)[:, None] & (mf["cmp"] >= 0)
                & (K[:, None] >= 1))
        sp = np.where(c_ok, np.minimum(1.0, K[:, None] * mf["p"]), np.nan)
        mf["selection_p"] = sp
        mf["candidates"] = np.where(c_ok, K[:, None], 0)
        sel_p.append(sp[c_ok])
        cand.append(c_ok)
    flat = np.concatenate(sel_p) if sel_p else np.zeros(0)
    sel_q = benjamini_hochberg(flat) if flat.size else flat
    pos = 0
    for (mf, _), c_ok in zip(comps, cand, strict=True):
        q = np.full(c_ok.shape, np.nan)
        q[c_ok] = sel_q[pos:pos + int(c_ok.sum())]
        pos += int(c_ok.sum())
        mf["selection_q"] = q

    methods = methods_text(alpha=alpha, min_group_size=min_group_size,
                           disclosure_threshold=disclosure_threshold, n_comparisons=n_comparisons,
                           higher_is_better=higher_is_better, labels=y is not None, curve=curve)
    return ImpactResult.build(
        families=families, comparisons=comps, tiers=tiers, favourable=fav, n_people=n,
        n_missing_score=int((~scored).sum()), higher_is_better=higher_is_better,
        min_group_size=int(min_group_size), disclosure_threshold=int(disclosure_threshold),
        alpha=float(alpha), methods=methods, n_comparisons=n_comparisons, quantiles=QUANTILES,
        four_fifths=FOUR_FIFTHS,
    )
