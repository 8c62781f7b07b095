"""``disparate_impact``: who gets each tier's favourable outcome, by group, and what a report may claim."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit.disclosure import round_count
from audit.groups import Grouping
from audit.impact._core import QUANTILES, Pairs, SortedScores, distribution_stats
from audit.impact._curve import ThresholdCurve, threshold_curve
from audit.impact._disclosure import protect_impact
from audit.impact._methods import methods_text
from audit.impact._result import ImpactResult
from audit.impact._verdicts import Verdicts, decide
from audit.rates import (
    Claims,
    Outcomes,
    assess_claims,
    compare_proportions,
    group_rates,
    pattern_table,
    ratio_score_interval,
    reference_codes,
    tier_outcomes,
)
from audit.rules import Tier
from audit.settings import Settings, resolve_settings

__all__ = ["disparate_impact", "tier_is_favourable"]

_CALIBRATION_BINS = 10
_CALIBRATION_DISTINCT = 20


def tier_is_favourable(tier: Tier, higher_is_better: bool = True,
                       score_range: tuple[float, float] | None = None) -> bool | None:
    """Whether attaining ``tier`` is good news: True, False, or None for a band with no favourable side.

    See :meth:`audit.rules.Tier.direction`.

    Examples
    --------
    >>> tier_is_favourable(Tier("High risk", threshold=8), higher_is_better=False)
    False
    >>> tier_is_favourable(Tier("Low risk", at_most=4), higher_is_better=False)
    True
    >>> print(tier_is_favourable(Tier("Medium", threshold=5, at_most=7), higher_is_better=False))
    None
    """
    return tier.direction(higher_is_better, score_range)


@dataclass
class _Family:
    """The results for one grouping: exact counts, what may be published, and the statistics."""

    grouping: Grouping
    counts: np.ndarray          # (G,) exact
    hits: np.ndarray            # (G, T): people attaining each tier (exact)
    fav: np.ndarray             # (G, A): people with each audited tier's favourable outcome (as published)
    ref: int
    dist: dict
    curve: ThresholdCurve | None
    errors: dict | None
    calibration: dict | None
    deff: np.ndarray | None = None  # per tier: design effect of rates (1 without dependence)
    mask: dict | None = None    # the disclosure decision (audit.impact._disclosure)
    pub_counts: np.ndarray | None = None
    pub_hits: np.ndarray | None = None
    claims: Claims | None = None  # against the best comparable group (audited tiers)
    versus_ref: dict | None = None


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


def _label_metrics(gr: Grouping, ss: SortedScores, att: np.ndarray, labels: np.ndarray, cal_bins: dict):
    """Confusion counts per (group, tier) and calibration counts per (group, score bin)."""
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
    o = o[codes[o] >= 0]
    key = codes[o] * B + bin_of[ss.index[o]]
    calibration = {
        "n": np.bincount(key, minlength=G * B).reshape(G, B),
        "events": np.bincount(key[y[o]], minlength=G * B).reshape(G, B),
        "score_sum": np.bincount(key, weights=ss.values[ss.index[o]], minlength=G * B).reshape(G, B),
        **{k: cal_bins[k] for k in ("from", "to", "below_from", "upto", "total")},
    }
    return errors, calibration


def _versus_reference(counts: np.ndarray, fav: np.ndarray, ref: int, settings: Settings,
                      deff: np.ndarray | None = None) -> dict:
    """Ratio to the reference group, its interval and a two-sided test of equal rates (descriptive)."""
    G, A = fav.shape
    shape = (G, A)
    if deff is not None and np.any(deff > 1):
        # Effective counts (rounded for the exact test): a dependent sample read as a smaller independent one.
        scale = np.asarray(deff, dtype=float)[None, :]
        fav = np.rint(fav / scale).astype(np.int64)
        counts_2d = np.rint(counts[:, None] / scale).astype(np.int64)
    else:
        counts_2d = np.broadcast_to(counts[:, None], shape)
    if ref < 0 or A == 0:
        nan = np.full(shape, np.nan)
        return {"ratio": nan, "lo": nan, "hi": nan, "p": nan, "test": np.full(shape, "", dtype=object)}
    x2 = np.broadcast_to(fav[ref][None, :], shape)
    n2 = np.broadcast_to(counts_2d[ref][None, :], shape)
    n1 = counts_2d
    ratio, lo, hi = (a.reshape(shape) for a in ratio_score_interval(fav, n1, x2, n2, alpha=settings.alpha))
    p, test = (a.reshape(shape) for a in compare_proportions(fav, n1, x2, n2))
    self_ = np.arange(G) == ref
    for a in (lo, hi, p):
        a[self_] = np.nan
    test = test.astype(object)
    test[self_] = ""
    return {"ratio": ratio, "lo": lo, "hi": hi, "p": p, "test": test}


def disparate_impact(
    scores,
    groupings: Sequence[Grouping],
    tiers: Sequence[Tier],
    *,
    attainment=None,
    labels=None,
    higher_is_better: bool = True,
    score_range: tuple[float, float] | None = None,
    outcomes: Outcomes | None = None,
    reference: Mapping | None = None,
    settings: Settings | None = None,
    min_group_size: int | None = None,
    disclosure_threshold: int | None = None,
    alpha: float | None = None,
    threshold: float | None = None,
    power: float | None = None,
    curve: bool = True,
    favourable: Sequence[bool | None] | None = None,
    design_effect: Sequence[float] | None = None,
) -> ImpactResult:
    """Disparate impact of a scoring rule: rates, ratios, verdicts and score distributions by group.

    Parameters
    ----------
    scores : array_like of float, shape (n,)
        One score per person; NaN scores are left out of everything (and counted).
    groupings : list of Grouping
        Protected attributes and their intersections, from :func:`audit.groups.build_groupings`.
    tiers : sequence of Tier
        The benefits the score unlocks; top-k / top-fraction tiers are tiers like any other.
    attainment : ndarray of bool, shape (n, len(tiers)), optional
        Who attains each tier; default ``audit.rules.attainment(tiers, scores)`` over the people with a score.
    labels : array_like of 0/1, shape (n,), optional
        The outcome each tier predicts (reoffending, default); NaN = unknown.  For
        error rates the prediction is "attained the tier" and the truth is the label.
    higher_is_better : bool, default True
        False for risk scores.  Decides each tier's favourable side (see
        :meth:`audit.rules.Tier.direction`) and the direction of the threshold curve.
    score_range : (low, high), optional
        The rule's scale, so that a band reaching an end of it has a favourable side.
    outcomes : Outcomes, optional
        Tier directions and aliases computed by the caller (:func:`audit.rates.tier_outcomes`).
    reference : mapping attribute -> value, optional
        The reference group; default, per attribute, its largest group (see :mod:`audit.rates`).
    settings : Settings, optional
        ``min_group_size``, ``disclosure_threshold``, ``alpha``, ``threshold`` and
        ``power``, which may also be given as keywords (see :class:`audit.Settings`).
    curve : bool, default True
        Compute the impact ratio at every distinct threshold.
    favourable : sequence of (bool or None), optional
        Override each tier's favourable side (None: not audited).
    design_effect : sequence of float, optional
        Per tier, the variance inflation of group rates when outcomes are dependent (a friends term couples
        friends' scores; see :func:`audit.mechanisms.design_effects`): every interval and test then uses
        effective counts, the counts divided by it.

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
    >>> [(f.name(), f.verdict.value, round(f.impact_ratio, 2)) for f in result.findings]
    [('group=b', 'pushed out', 0.35)]
    """
    settings = resolve_settings(settings, min_group_size=min_group_size, disclosure_threshold=disclosure_threshold,
                                alpha=alpha, threshold=threshold, power=power,
                                reference=None if reference is None else dict(reference))
    s = _scores(scores)
    n = len(s)
    tiers = tuple(tiers)
    T = len(tiers)
    scored = ~np.isnan(s)
    att = None
    if attainment is not None:
        att = np.asarray(attainment)
        if att.ndim == 1 and T == 1:
            att = att[:, None]
        if att.shape != (n, T):
            raise AuditInputError(f"attainment must have shape ({n}, {T}) (people x tiers), got {att.shape}")
        att = att.astype(bool) & scored[:, None]
    if outcomes is None:
        if favourable is not None and len(list(favourable)) != T:
            raise AuditInputError(f"favourable must give one flag per tier ({T}), got {len(list(favourable))}")
        outcomes = tier_outcomes(tiers, s, higher_is_better=higher_is_better, score_range=score_range,
                                 attainment=att, directions=favourable)
    att = outcomes.attainment
    if att.shape != (n, T):
        raise AuditInputError(f"outcomes describe {att.shape[0]} people and {att.shape[1]} tiers, "
                              f"but there are {n} scores and {T} tiers")
    y = _labels(labels, n)
    groupings = list(groupings)
    for g in groupings:
        if len(g.codes) != n:
            raise AuditInputError(f"grouping {g.key!r} has {len(g.codes)} rows but there are {n} scores")
    if not scored.all():  # people without a score are left out of every grouping
        groupings = [replace(g, codes=(c := np.where(scored, g.codes, -1)),
                             counts=np.bincount(c[c >= 0], minlength=g.n_groups).astype(np.int64))
                     for g in groupings]
    refs = reference_codes(groupings, settings.reference)
    ss = SortedScores.build(s)
    cal_bins = _calibration_bins(ss) if y is not None else None
    families: list[_Family] = []
    for g in groupings:
        counts, hits = group_rates(att, g)
        ref = refs[g.key]
        pairs = Pairs.build(g.codes, ss, g.n_groups)
        dist = distribution_stats(pairs, ss.values, ref, higher_is_better)
        cv = threshold_curve(pairs, ss.values, g.attributes, higher_is_better=higher_is_better,
                             min_group_size=settings.min_group_size, population=ss.population,
                             threshold=settings.threshold) if curve else None
        errors = calibration = None
        if y is not None:
            errors, calibration = _label_metrics(g, ss, att, y, cal_bins)
        families.append(_Family(g, counts, hits, np.zeros((g.n_groups, 0), np.int64), ref, dist, cv, errors,
                                calibration))
    # What may be published is decided first, from the counts alone; every statistic is then computed from
    # the published counts (rounded cells as rounded), so no figure gives back a hidden count.
    masks = protect_impact(families, outcomes, settings.disclosure_threshold, y)
    audited = list(outcomes.audited)
    deff = np.ones(T) if design_effect is None else np.maximum(np.asarray(design_effect, dtype=float), 1.0)
    direction = np.array([bool(outcomes.direction[j]) for j in audited], dtype=bool)
    for fam, mask in zip(families, masks["families"], strict=True):
        fam.mask = mask
        fam.pub_counts = np.where(mask["n_round"], round_count(fam.counts), fam.counts)
        fam.pub_hits = np.minimum(np.where(mask["hits_round"], round_count(fam.hits), fam.hits),
                                  fam.pub_counts[:, None])
        h = fam.pub_hits[:, audited]
        fam.fav = np.where(direction[None, :], h, fam.pub_counts[:, None] - h)
        eligible = fam.counts >= settings.min_group_size
        comparable = ~mask["hits"][:, audited]
        fam.claims = assess_claims(fam.pub_counts, fam.fav, eligible, threshold=settings.threshold,
                                   alpha=settings.alpha, min_group_size=settings.min_group_size,
                                   comparable=comparable, design_effect=deff[audited])
        fam.versus_ref = _versus_reference(fam.pub_counts, fam.fav, fam.ref, settings, deff[audited])
        fam.deff = deff

    verdicts: Verdicts = decide(families, outcomes, settings)
    methods = methods_text(settings, n_candidates=verdicts.n_candidates, n_reference=verdicts.n_reference,
                           higher_is_better=higher_is_better, labels=y is not None, curve=curve)
    return ImpactResult.build(
        families=families, verdicts=verdicts, outcomes=outcomes, n_people=n,
        n_missing_score=int((~scored).sum()), higher_is_better=higher_is_better, settings=settings,
        methods=methods, quantiles=QUANTILES,
    )
