"""Dependence through the friends term: how much wider a rate's interval must be when friends' scores are coupled.

Under a network term a person's final score averages their friends', so the outcomes of friends are
correlated and a group's rate varies more than the binomial formula says.  The *design effect* of a tier
is measured by a model-based bootstrap: own scores are resampled with replacement within each group of
the finest grouping (so each group keeps its own-score distribution), the fixed point is solved again on
the real graph, and the variance of every group's rate is compared with the same resampling without the
network term.  Their ratio is the inflation the coupling causes; a tier's design effect is the ratio
pooled over the groups of at least the minimum size of every single attribute (variances of counts
added up), never below 1.
Intervals and tests of a networked rule then use effective counts (counts divided by the design effect),
as survey statistics does for clustered samples (Kish's design effect).
"""

from __future__ import annotations

import numpy as np

__all__ = ["design_effects"]


def design_effects(ctx, *, replicates: int = 30, seed: int = 0) -> np.ndarray | None:
    """Per tier (all tiers of the rule, in order): the design effect of group rates, or None without a network.

    Examples
    --------
    >>> import audit
    >>> people, edges = audit.generate_sesame(3000, seed=1)
    >>> ctx = audit.prepare_audit("sesame", people, ["ethnicity"], edges)
    >>> d = design_effects(ctx, replicates=10)
    >>> bool((d >= 1).all()) and len(d) == len(ctx.rule.tiers)
    True
    """
    from audit.graph import solve_network

    rule, graph = ctx.rule, ctx.graph
    if rule.network is None or graph is None:
        return None
    own = np.asarray(ctx.scores.own, dtype=float)
    finest = ctx.groupings[-1]  # the largest intersection: resampling within it keeps every group's mix
    codes = finest.codes
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x44454646]))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(-1, finest.n_groups + 1))
    singles = [g for g in ctx.groupings if len(g.attributes) == 1]
    lo, hi = rule.range if rule.range is not None else (None, None)
    T = len(rule.tiers)
    rates_net, rates_own = [], []
    final = np.asarray(ctx.scores.final, dtype=float)
    for _ in range(replicates):
        o = own.copy()
        for k in range(len(bounds) - 1):
            idx = order[bounds[k]:bounds[k + 1]]
            if len(idx):
                o[idx] = own[rng.choice(idx, size=len(idx))]
        f = solve_network(o, graph, rule.network.weight, lo=lo, hi=hi, tolerance=max(rule.network.tolerance, 1e-6),
                          start=final).scores
        an, ao = rule.attainment(f), rule.attainment(o)
        rates_net.append([g.means(an.astype(float)) for g in singles])
        rates_own.append([g.means(ao.astype(float)) for g in singles])
    num = np.zeros(T)
    den = np.zeros(T)
    for s, g in enumerate(singles):
        big = g.counts >= ctx.settings.min_group_size
        if not big.any():
            continue
        rn = np.array([r[s] for r in rates_net])[:, big]   # (B, G, T)
        ro = np.array([r[s] for r in rates_own])[:, big]
        n = g.counts[big][:, None].astype(float)
        # Pooled over groups (weighted by size, i.e. on the scale of counts): stable with few replicates.
        num += np.nansum(rn.var(axis=0, ddof=1) * n * n, axis=0)
        den += np.nansum(ro.var(axis=0, ddof=1) * n * n, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / den, 1.0)
    # Rounded once, here, so the value a report publishes is the value every test used.
    return np.round(np.maximum(out, 1.0), 3)
