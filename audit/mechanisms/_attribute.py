"""One attribution per finding: which parts of the rule carry its gap, by how much, and how sure.

For each grouping with findings, every coalition of neutralised parts is scored once
(:mod:`._basis`), the favourable outcome of every audited tier is counted per group, and each finding's
Shapley values follow by a fixed linear map (:mod:`._shapley`).  Intervals come from a bootstrap that
reuses the per-person outcomes: Poisson weights per person, or per graph cluster when the friends term
couples people (their outcomes are then dependent).  A part is *named* in the mechanism only when the
lower end of its share's interval clears :data:`NAME_BAR`, so the sentence can never claim more than
the table shows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from audit.mechanisms._basis import Basis, build_basis
from audit.mechanisms._shapley import coalitions, log_gap, point_gap

__all__ = ["KINDS", "NAME_BAR", "AttributionPart", "attribute_grouping", "kind_of", "mechanism_kinds", "mechanism_of"]

#: A part is named in a finding's mechanism when the lower end of its share's interval is at least this:
#: the data show it carries at least a fifth of the gap.
NAME_BAR = 0.2
#: Shares and points are published to this many decimals.
DIGITS = 3


@dataclass(frozen=True)
class AttributionPart:
    """One part's share of a finding's gap (log-ratio scale) and its effect in rate points, with intervals.

    ``auc`` (for a term or input): the chance that a random member of the comparison group has a higher
    value of it than a random member of the finding's group (0.5: no difference) — the association
    measured for this finding's two groups, not for the whole attribute.
    """

    part: str
    kind: str
    share: float
    share_ci: tuple[float, float]
    points: float
    points_ci: tuple[float, float]
    auc: float | None = None

    def to_dict(self) -> dict:
        def r(x):
            return None if x is None or not np.isfinite(x) else round(float(x), DIGITS)

        return {"part": self.part, "kind": self.kind, "share": r(self.share),
                "share_ci": [r(self.share_ci[0]), r(self.share_ci[1])], "points": r(self.points),
                "points_ci": [r(self.points_ci[0]), r(self.points_ci[1])], "auc": r(self.auc)}


#: The kinds of part a mechanism names, in the words of a label.
KINDS = ("terms", "protected", "network: averaging", "network: friends")


def kind_of(part: AttributionPart) -> str:
    if part.kind in ("term", "input"):
        return "terms"
    return part.part if part.kind == "network" else part.kind


def mechanism_kinds(kinds: Sequence[AttributionPart], bar: float = NAME_BAR) -> list[str]:
    """The kinds of part (all terms together, the protected attribute, averaging, friends) whose share interval
    clears ``bar``, largest share first: the mechanism's category."""
    named = [k for k in kinds if np.isfinite(k.share_ci[0]) and k.share_ci[0] >= bar]
    return [k.part for k in sorted(named, key=lambda k: -k.share)]


def mechanism_of(parts: Sequence[AttributionPart], kinds: Sequence[AttributionPart] = (),
                 bar: float = NAME_BAR) -> str:
    """The mechanism label, derived from the attribution alone.

    The kinds of part whose share interval clears ``bar`` (all terms or inputs together, the protected
    attribute, the friends term's averaging, its friends part), largest first; for the terms, the terms whose
    own interval clears the bar are named in brackets.  "diffuse" when no kind does.

    Examples
    --------
    >>> p = AttributionPart("buys_diapers", "term", 0.7, (0.55, 0.85), -0.1, (-0.12, -0.08))
    >>> q = AttributionPart("network: averaging", "network", 0.2, (0.05, 0.35), -0.02, (-0.04, 0.0))
    >>> t = AttributionPart("terms", "kind", 0.75, (0.6, 0.9), -0.1, (-0.1, -0.1))
    >>> mechanism_of([p, q], [t, q])
    'terms (buys_diapers)'
    >>> mechanism_of([q], [q])
    'diffuse'
    """
    if not kinds:
        named = [p for p in parts if p.kind != "residual" and np.isfinite(p.share_ci[0]) and p.share_ci[0] >= bar]
        return " + ".join(p.part for p in named) or "diffuse"
    out = []
    for k in mechanism_kinds(kinds, bar):
        if k == "terms":
            inside = [p.part for p in parts if p.kind in ("term", "input") and np.isfinite(p.share_ci[0])
                      and p.share_ci[0] >= bar]
            out.append("terms (" + (", ".join(inside) if inside else "several, none alone") + ")")
        elif k == "protected":
            out.append("protected (" + ", ".join(p.part for p in parts if p.kind == "protected") + ")")
        else:
            out.append(k)
    return " + ".join(out) or "diffuse"


def _auc(values: np.ndarray, in_g: np.ndarray, in_c: np.ndarray) -> float | None:
    """P(value of a random c member > value of a random g member) + half ties (Mann-Whitney)."""
    from scipy.stats import rankdata

    x = np.concatenate([values[in_g], values[in_c]])
    if len(x) == 0 or np.all(x == x[0]):
        return 0.5 if len(x) else None
    r = rankdata(x)
    ng, nc = int(in_g.sum()), int(in_c.sum())
    u_c = r[ng:].sum() - nc * (nc + 1) / 2
    return float(u_c / (ng * nc))


def attribute_grouping(ctx, grouping, ref: int, findings, *, clusters: np.ndarray | None,
                       permutations: int = 32, n_boot: int = 200, alpha: float = 0.05, seed: int = 0,
                       basis: Basis | None = None) -> dict:
    """Attribution of every finding of one grouping: {finding key: (list of AttributionPart, method)}.

    Findings whose figures cannot be published get no attribution (it is derived from their counts).
    """
    frame = ctx.frame
    if basis is None:
        basis = build_basis(ctx.rule, frame, ctx.graph, grouping, ref, ctx.protected, own=ctx.scores.own,
                            final=ctx.scores.final, seed=seed)
    if basis is None or basis.n_parts == 0:
        return {}
    sets, coef, method = coalitions(basis.n_parts, permutations=permutations, seed=seed)
    outcomes = ctx.outcomes
    audited = list(outcomes.audited)
    direction = np.array([bool(outcomes.direction[j]) for j in audited])
    tier_pos = {outcomes.tiers[j].name: a for a, j in enumerate(audited)}
    codes = grouping.codes
    G = grouping.n_groups
    # Which (group, tier) cells findings need, so only their people's outcomes are kept.
    wanted = [f for f in findings if f.published]
    if not wanted:
        return {}
    members = np.zeros(len(codes), dtype=bool)
    gpos = {v: i for i, v in enumerate(grouping.values)}
    for f in wanted:
        for grp in (f.group, f.comparator):
            members |= codes == gpos[tuple(v for _, v in grp)]
    rows = np.flatnonzero(members)
    E, A = len(sets), len(audited)
    bits = np.zeros((len(rows), E, A), dtype=bool)
    counts = np.zeros((E, G, A), dtype=np.int64)
    valid = codes >= 0
    for e, removed in enumerate(sets):
        s = basis.scores(sorted(removed))
        att = ctx.rule.attainment(s)[:, audited]
        fav = np.where(direction[None, :], att, ~att)
        bits[:, e, :] = fav[rows]
        for a in range(A):
            counts[e, :, a] = np.bincount(codes[valid], weights=fav[valid, a], minlength=G)
    n_group = np.bincount(codes[valid], minlength=G)
    none_removed = sets.index(frozenset())
    all_removed = sets.index(frozenset(range(basis.n_parts)))
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x424F4F54]))
    clus = None if clusters is None else clusters[rows]
    out = {}
    values = basis.values
    for f in wanted:
        g = gpos[tuple(v for _, v in f.group)]
        c = gpos[tuple(v for _, v in f.comparator)]
        a = tier_pos[f.tier]
        u = log_gap(counts[:, g, a], n_group[g], counts[:, c, a], n_group[c])
        d = point_gap(counts[:, g, a], n_group[g], counts[:, c, a], n_group[c])
        total, total_pts = u[none_removed], d[none_removed]
        phi, phi_pts = u @ coef, d @ coef
        resid, resid_pts = u[all_removed], d[all_removed]
        # Bootstrap: the same coalitions' outcomes, reweighted.  People whose outcome is the same in every
        # coalition enter as counts (per group and value, and per cluster); the others one by one.
        sel = (codes[rows] == g) | (codes[rows] == c)
        in_g = codes[rows][sel] == g
        b = bits[sel][:, :, a]
        anyb, allb = b.any(axis=1), b.all(axis=1)
        var = anyb & ~allb
        bv = b[var].astype(np.float32)
        gv = in_g[var]
        if clus is None:
            wv = rng.poisson(1.0, size=(n_boot, int(var.sum()))).astype(np.float32)
            const = {}
            for grp_flag in (True, False):
                for val in (True, False):
                    k = int(((in_g == grp_flag) & ~var & (allb if val else ~anyb)).sum())
                    const[(grp_flag, val)] = rng.poisson(k, size=n_boot).astype(np.float32)
        else:
            cl = clus[sel]
            labels, cl_inv = np.unique(cl, return_inverse=True)
            wc = rng.poisson(1.0, size=(n_boot, len(labels))).astype(np.float32)
            wv = wc[:, cl_inv[var]]
            const = {}
            for grp_flag in (True, False):
                for val in (True, False):
                    m = (in_g == grp_flag) & ~var & (allb if val else ~anyb)
                    per = np.bincount(cl_inv[m], minlength=len(labels)).astype(np.float32)
                    const[(grp_flag, val)] = wc @ per
        xg = wv[:, gv] @ bv[gv] + const[(True, True)][:, None]
        xc = wv[:, ~gv] @ bv[~gv] + const[(False, True)][:, None]
        ng = (wv[:, gv].sum(axis=1) + const[(True, True)] + const[(True, False)])[:, None]
        nc = (wv[:, ~gv].sum(axis=1) + const[(False, True)] + const[(False, False)])[:, None]
        xg, xc, ng, nc = (np.asarray(v, dtype=float) for v in (xg, xc, ng, nc))
        ub_gap = log_gap(xg, ng, xc, nc)
        ub_pts = point_gap(xg, np.maximum(ng, 1), xc, np.maximum(nc, 1))
        tb = ub_gap[:, none_removed]
        phib = ub_gap @ coef
        with np.errstate(invalid="ignore", divide="ignore"):
            shares_b = phib / tb[:, None]
            resid_b = ub_gap[:, all_removed] / tb
        q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
        with np.errstate(invalid="ignore", over="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # replicates with no gap at all: left out
            shares_b = np.where(np.isfinite(shares_b), shares_b, np.nan)
            sci = np.nanpercentile(shares_b, q, axis=0)
            pci = np.nanpercentile(ub_pts @ coef, q, axis=0)
            rci = np.nanpercentile(np.where(np.isfinite(resid_b), resid_b, np.nan), q)
            rpci = np.nanpercentile(ub_pts[:, all_removed], q)
        in_g_all, in_c_all = codes == g, codes == c
        parts = []
        for k, part in enumerate(basis.parts):
            auc = None if part.kind == "network" or values[k] is None else _auc(values[k], in_g_all, in_c_all)
            parts.append(AttributionPart(part.name, part.kind, float(phi[k] / total) if total else np.nan,
                                         (float(sci[0, k]), float(sci[1, k])), float(phi_pts[k]),
                                         (float(pci[0, k]), float(pci[1, k])), auc))
        parts.append(AttributionPart("residual", "residual", float(resid / total) if total else np.nan,
                                     (float(rci[0]), float(rci[1])), float(resid_pts),
                                     (float(rpci[0]), float(rpci[1]))))
        parts.sort(key=lambda p: (p.kind == "residual", -(p.share if np.isfinite(p.share) else -np.inf), p.part))
        # The same for each kind of part (a sum of Shapley values, with its own bootstrap interval).
        kinds = []
        kind_idx: dict = {}
        for k, part in enumerate(basis.parts):
            kind_idx.setdefault(kind_of(AttributionPart(part.name, part.kind, 0, (0, 0), 0, (0, 0))), []).append(k)
        for name in KINDS:
            idx = kind_idx.get(name)
            if not idx:
                continue
            share = float(phi[idx].sum() / total) if total else np.nan
            with np.errstate(invalid="ignore", over="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # replicates with no gap at all: left out
                sb = shares_b[:, idx].sum(axis=1)
                lo, hi = np.nanpercentile(np.where(np.isfinite(sb), sb, np.nan), q)
                plo, phi_ = np.nanpercentile((ub_pts @ coef)[:, idx].sum(axis=1), q)
            pts = float(phi_pts[idx].sum())
            kinds.append(AttributionPart(name, "kind", share, (float(lo), float(hi)), pts,
                                         (float(plo), float(phi_))))
        out[f.key] = (parts, method, float(total), float(total_pts), kinds)
    return out

