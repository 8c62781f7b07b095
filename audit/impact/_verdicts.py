"""Verdicts of the impact family: false-discovery-rate control over the audit, findings and detection limits.

The statistics behind each verdict come from :func:`audit.rates.assess_claims`
(selection-valid, per grouping).  Here they meet the rest of the audit:

* Benjamini-Hochberg over every *candidate* of the audit — every group of at
  least the minimum size, in every audited tier and every grouping — once for
  "below the line" (pushed out) and once for "below parity";
* a :class:`audit.findings.Finding` per verdict, intersections listed under a
  broader group's finding where there is one;
* detection limits for the single-attribute groups no verdict names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit.findings import Finding, Verdict, attach_parents
from audit.rates import Outcomes, benjamini_hochberg, detectable_ratio, ratio_upper_bound
from audit.settings import Settings

__all__ = ["Verdicts", "decide", "make_findings"]

PUSHED_OUT, BELOW_PARITY = 2, 1


@dataclass(frozen=True, eq=False)
class Verdicts:
    """Audit-wide q-values and verdicts, one array per grouping (shape (G, A))."""

    q_threshold: list[np.ndarray]
    q_parity: list[np.ndarray]
    q_reference: list[np.ndarray]
    verdict: list[np.ndarray]      # 2 pushed out, 1 below parity, 0 none
    detectable: list[np.ndarray]   # detectable ratio (NaN: not computed / not detectable)
    detect_comparator: list[np.ndarray]
    n_candidates: int
    n_reference: int
    n_pushed_out: int


def _bh(arrays: list[np.ndarray], masks: list[np.ndarray]) -> list[np.ndarray]:
    flat = np.concatenate([a[m] for a, m in zip(arrays, masks, strict=True)]) if arrays else np.zeros(0)
    q = benjamini_hochberg(flat) if flat.size else flat
    out, pos = [], 0
    for a, m in zip(arrays, masks, strict=True):
        qa = np.full(a.shape, np.nan)
        k = int(m.sum())
        qa[m] = q[pos:pos + k]
        pos += k
        out.append(qa)
    return out


def decide(families, outcomes: Outcomes, settings: Settings) -> Verdicts:
    """q-values, verdicts and detection limits for every grouping of one audit."""
    alpha = settings.alpha
    cand = [f.claims.candidate for f in families]
    q_thr = _bh([f.claims.p_threshold for f in families], cand)
    q_par = _bh([f.claims.p_parity for f in families], cand)
    ref_ok = [~np.isnan(f.versus_ref["p"]) for f in families]
    q_ref = _bh([f.versus_ref["p"] for f in families], ref_ok)
    verdict = []
    for c, qt, qp in zip(cand, q_thr, q_par, strict=True):
        v = np.zeros(c.shape, dtype=np.int8)
        v[c & (qp < alpha)] = BELOW_PARITY
        v[c & (qt < alpha)] = PUSHED_OUT
        verdict.append(v)
    m = int(sum(int(c.sum()) for c in cand))
    R = int(sum(int((v == PUSHED_OUT).sum()) for v in verdict))
    detect, comp = [], []
    for fam, v in zip(families, verdict, strict=True):
        d, cmp_ = _detection(fam, v, settings, m, R)
        detect.append(d)
        comp.append(cmp_)
    return Verdicts(q_thr, q_par, q_ref, verdict, detect, comp, m, int(sum(int(r.sum()) for r in ref_ok)), R)


def _detection(fam, verdict: np.ndarray, settings: Settings, m: int, R: int) -> tuple[np.ndarray, np.ndarray]:
    """Detectable ratio of every eligible group of a single attribute, per audited tier without a finding.

    The ratio at which the verdict would list the group with ``settings.power``:
    the one-sided score test against the best *other* eligible group (its
    observed rate) at the level the verdict uses for one more discovery,
    alpha * (R + 1) / m / K.  Testing against one comparator understates the
    power of the verdict's test over all K comparators, so the stated ratio is
    conservative: a gap at or below it would have been found with at least
    that power (checked by simulation in the test suite).
    """
    G, A = fam.fav.shape
    out = np.full((G, A), np.nan)
    comp = np.full((G, A), -1, dtype=np.int64)
    if len(fam.grouping.attributes) != 1 or m == 0:
        return out, comp
    n = fam.counts
    el = (n >= settings.min_group_size) & (n > 0)
    K = fam.claims.candidates
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = fam.fav / np.maximum(n, 1)[:, None]
    cells = []
    for a in range(A):
        for g in np.flatnonzero(el):
            if verdict[g, a] == PUSHED_OUT or K[g] < 1 or g == fam.claims.most_favoured[a]:
                continue  # found, or no comparator, or the best group itself
            others = np.flatnonzero(el & (np.arange(G) != g))
            cells.append((g, a, others[np.lexsort((others, -n[others], -rate[others, a]))[0]]))
    if cells:  # one vectorised solve for every cell
        g, a, b = (np.array(x) for x in zip(*cells, strict=True))
        level = settings.alpha * (R + 1) / m / K[g]
        out[g, a] = detectable_ratio(n[g], n[b], rate[b, a], threshold=settings.threshold, level=level,
                                     power=settings.power)
        comp[g, a] = b
    return out, comp


def _best_observed(fam, j: int, favourable_in: bool, settings: Settings) -> int:
    """The eligible group with the highest observed rate, whether or not its counts may be published."""
    from audit.rates import most_favoured

    n = fam.counts
    el = np.flatnonzero(n >= settings.min_group_size)
    if not len(el):
        return -1
    att = fam.hits[el, j]
    fav = att if favourable_in else n[el] - att
    return int(el[most_favoured(n[el], fav[:, None], settings.min_group_size)[0]])


def make_findings(families, verdicts: Verdicts, outcomes: Outcomes, settings: Settings,
                  publishable: list[np.ndarray], size_published: list[np.ndarray]) -> list[Finding]:
    """One :class:`Finding` per verdict, intersections attached to their parents.

    ``publishable[i][g, a]``: both cells behind the finding (the group's and
    the comparator's) may be published; ``size_published[i][g]``: the group's size may.
    """
    audited = outcomes.audited
    m = max(verdicts.n_candidates, 1)
    out: list[Finding] = []
    for i, fam in enumerate(families):
        gr, c = fam.grouping, fam.claims
        v = verdicts.verdict[i]
        for g, a in zip(*np.nonzero(v), strict=True):
            j = audited[a]
            b = int(c.most_favoured[a])
            tier = outcomes.tiers[j]
            K = int(c.candidates[g])
            # An upper bound valid simultaneously for every candidate of the audit (Bonferroni over m): it
            # stays valid for a finding picked as the most extreme of many, as a report's "largest gap" is.
            el = np.flatnonzero((fam.counts >= settings.min_group_size) & (np.arange(gr.n_groups) != g)
                                & ~fam.mask["hits"][:, j])
            n_pub = fam.pub_counts
            sim = ratio_upper_bound(fam.fav[g, a], n_pub[g], fam.fav[el, a], n_pub[el],
                                    alpha=settings.alpha / (K * m)) if len(el) else np.array([np.nan])
            sim = float(np.nanmin(sim)) if np.isfinite(sim).any() else float("nan")
            out.append(Finding(
                attributes=tuple(gr.attributes), group=tuple(zip(gr.attributes, gr.values[g], strict=True)),
                tier=tier.name, verdict=Verdict.PUSHED_OUT if v[g, a] == PUSHED_OUT else Verdict.BELOW_PARITY,
                outcome=(f"attains {tier.name!r}" if outcomes.direction[j] else f"is not placed in {tier.name!r}"),
                n=int(n_pub[g]), favourable_count=int(fam.fav[g, a]),
                comparator=tuple(zip(gr.attributes, gr.values[b], strict=True)),
                comparator_n=int(n_pub[b]), comparator_favourable_count=int(fam.fav[b, a]),
                comparator_is_best=bool(b == _best_observed(fam, j, bool(outcomes.direction[j]), settings)),
                rounded=bool(fam.mask["hits_round"][g, j] or fam.mask["hits_round"][b, j]
                             or fam.mask["n_round"][g] or fam.mask["n_round"][b]),
                impact_ratio=float(c.ratio[g, a]), ci_low=float(c.ci_low[g, a]), ci_high=float(c.ci_high[g, a]),
                ratio_upper_bound=float(c.upper[g, a]), simultaneous_upper_bound=sim, candidates=K,
                p_value=float(c.p_threshold[g, a]), q_value=float(verdicts.q_threshold[i][g, a]),
                parity_p_value=float(c.p_parity[g, a]), parity_q_value=float(verdicts.q_parity[i][g, a]),
                threshold=settings.threshold, aliases=outcomes.aliases(j),
                published=bool(publishable[i][g, a]), n_published=bool(size_published[i][g]),
            ))
    return attach_parents(out)
