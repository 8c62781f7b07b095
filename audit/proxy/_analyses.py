"""The five analyses, each turning a :class:`~audit.proxy._common.Prepared` into JSON-ready records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit.disclosure import cell_publishable, is_small, protect_lines
from audit.equalise import ascending_order, category_codes, equalise_numeric, equalise_series
from audit.proxy._association import (
    NMI_BINS,
    auc_from_scores,
    correlation_ratio,
    cramers_v,
    cv_auc,
    eta_centered,
    fold_indices,
    normalized_mutual_info,
    quantile_bins,
    stratified_sample,
)
from audit.proxy._common import (
    ImpactState,
    Input,
    Prepared,
    fnum,
    neutral_value,
    neutralised_series,
    rng_for,
)

#: Decimals of published contributions, group means and gaps (score points).
POINT_DIGITS = 2
#: Decimals of published shares of a gap.
SHARE_DIGITS = 3
#: Decimals of published impact ratios (and their changes) in the neutralisation.
RATIO_DIGITS = 3

__all__ = [
    "POINT_DIGITS",
    "SHARE_DIGITS",
    "RATIO_DIGITS",
    "association_records",
    "influence_records",
    "decomposition_records",
    "neutralisation_records",
    "encoding_records",
    "gini",
    "observed_only",
    "hidden_terms",
]


def observed_only(prep: Prepared) -> bool:
    """True for an observed score (e.g. released deciles): only outputs, the rule's inputs are unknown.

    The score column is the output, not an input: it is never ranked as a proxy,
    given an influence, neutralised or used as an "input" of the redundant encoding.
    """
    return getattr(prep.rule, "kind", None) == "observed"


def gini(auc: float | None) -> float | None:
    """Association on [0, 1] from a cross-validated AUC: ``max(0, 2 * AUC - 1)``."""
    if auc is None or not np.isfinite(auc):
        return None
    return max(0.0, 2.0 * float(auc) - 1.0)


def _aligned(values, index: pd.Index) -> pd.Series:
    if isinstance(values, pd.Series):
        return pd.Series(values.array, index=index, name=values.name)
    return pd.Series(values, index=index)


# ------------------------------------------------------------------------------ CV design
def cv_design(prep: Prepared, attribute: str, cv_folds: int, cv_max_rows: int) -> dict:
    """The (cached) rows, labels and folds used for every cross-validated AUC of ``attribute``."""
    key = ("cv", attribute, cv_folds, cv_max_rows)
    if key in prep._cache:
        return prep._cache[key]
    if cv_folds < 2:
        raise AuditInputError(f"cv_folds must be at least 2, got {cv_folds}")
    g = prep.singles[attribute]
    rows = stratified_sample(g.codes, int(cv_max_rows), rng_for(prep.seed, "cv-sample", attribute))
    y_full = g.codes[rows]
    counts = np.bincount(y_full, minlength=g.n_groups)
    kept = np.flatnonzero(counts >= cv_folds)
    left_out = [g.name(int(c)) for c in np.flatnonzero((counts > 0) & (counts < cv_folds))]
    available = int((g.codes >= 0).sum())
    design = {"attribute": attribute, "rows_available": available, "rows_sampled": int(len(rows)), "rows_used": 0,
              "sampled": bool(len(rows) < available), "classes": [], "left_out": left_out,
              "rows": None, "y": None, "splits": [], "n_classes": int(len(kept))}
    if len(kept) >= 2:
        keep_rows = np.isin(y_full, kept)
        rows = rows[keep_rows]
        remap = np.full(g.n_groups, -1, dtype=np.int64)
        remap[kept] = np.arange(len(kept))
        y = remap[y_full[keep_rows]]
        design.update(rows=rows, y=y, rows_used=int(len(rows)),
                      splits=fold_indices(y, cv_folds, prep.seed),
                      classes=[g.name(int(c)) for c in kept])
    prep._cache[key] = design
    return design


def _encoded(prep: Prepared, inp: Input) -> dict:
    key = ("enc", inp.kind, inp.name)
    if key not in prep._cache:
        series = prep.values(inp)
        if inp.categorical:
            xc, cats = category_codes(series)
            enc = {"categorical": True, "codes": xc, "n": len(cats)}
        else:
            x = series.to_numpy(dtype=float, na_value=np.nan)
            bins, nb = quantile_bins(x, NMI_BINS)
            enc = {"categorical": False, "x": x, "bins": bins, "nb": nb, "xc": None, "total": None}
            if np.isfinite(x).all():
                xc = x - x.mean()
                enc.update(xc=xc, total=float(np.dot(xc, xc)))
        prep._cache[key] = enc
    return prep._cache[key]


# ------------------------------------------------------------------------------ 1. association
def association_records(prep: Prepared, *, cv_folds: int = 5, cv_max_rows: int = 50_000) -> list[dict]:
    """Association of every read input with every protected attribute (see :func:`audit.proxy.association`).

    Empty for an observed score (:func:`observed_only`): its one "input" is the output itself.
    """
    if observed_only(prep):
        return []
    out = []
    for inp in prep.inputs:
        if not inp.read:
            continue
        enc = _encoded(prep, inp)
        for a in prep.attributes:
            g = prep.singles[a]
            d = cv_design(prep, a, cv_folds, cv_max_rows)
            if enc["categorical"]:
                v = cramers_v(enc["codes"], g.codes, enc["n"], g.n_groups)
                nmi = normalized_mutual_info(enc["codes"], g.codes, enc["n"], g.n_groups)
                eta = None
            else:
                v = None
                if enc["xc"] is not None and g.counts.sum() == len(g.codes):  # no missing values anywhere
                    eta = eta_centered(enc["xc"], enc["total"], g.codes, g.counts)
                else:
                    eta = correlation_ratio(enc["x"], g.codes, g.n_groups)
                nmi = normalized_mutual_info(enc["bins"], g.codes, enc["nb"], g.n_groups)
            auc = None
            if d["rows"] is not None:
                if enc["categorical"]:
                    xs = enc["codes"][d["rows"]]
                    auc = cv_auc(xs, d["y"], d["n_classes"], d["splits"], categorical=True,
                                 n_categories=enc["n"])
                else:
                    auc = cv_auc(enc["x"][d["rows"]], d["y"], d["n_classes"], d["splits"], categorical=False)
            out.append({
                "feature": inp.name, "kind": inp.kind, "label": inp.label, "attribute": a,
                "type": "categorical" if enc["categorical"] else "numeric",
                "measure": "cramers_v" if enc["categorical"] else "eta",
                "eta": fnum(eta), "cramers_v": fnum(v), "nmi": fnum(nmi),
                "auc": fnum(auc), "association": fnum(gini(auc)),
                "direct": bool(a in inp.columns),
            })
    return out


# ------------------------------------------------------------------------------ 2. influence
def influence_records(prep: Prepared) -> list[dict]:
    """Influence of every read input on the own score (see :func:`audit.proxy.influence`).

    Empty for an observed score (:func:`observed_only`).
    """
    if observed_only(prep):
        return []
    S = prep.own
    n = prep.n
    var = float(np.var(S)) if n else 0.0
    out = []
    for inp in prep.inputs:
        if not inp.read:
            continue
        # Keyed by the columns read, so a column and a term reading only it get the same draw
        # (and, being the same quantity, the same influence).
        perm = rng_for(prep.seed, "influence", *inp.columns).permutation(n)
        if inp.kind == "term":
            k = inp.terms[0]
            c = prep.C[:, k]
            s_perm = prep.own_with_term(k, c[perm])
            s_neut = prep.own_with_term(k, np.full(n, float(np.mean(c))))
            how = "term's points set to their population mean"
            share = float(np.cov(c, S, bias=True)[0, 1] / var) if var > 0 else None
        else:
            series = prep.frame[inp.name]
            permuted = _aligned(series.take(perm), series.index)
            s_perm = prep.own_with_column(inp, permuted)
            s_neut = prep.own_with_column(inp, neutralised_series(series))
            how = ("set to its most common value" if inp.categorical else "set to its population mean")
            if prep.additive:
                cx = prep.column_contribution(inp)
                share = float(np.cov(cx, S, bias=True)[0, 1] / var) if var > 0 else None
            else:
                share = None
        msq = float(np.mean((S - s_perm) ** 2)) if n else 0.0
        infl = min(1.0, msq / (2 * var)) if var > 0 else 0.0
        out.append({
            "feature": inp.name, "kind": inp.kind, "label": inp.label,
            "influence": fnum(infl), "variance_share": fnum(share),
            "mean_abs_change": fnum(float(np.mean(np.abs(S - s_neut))) if n else 0.0),
            "neutralised_as": how,
        })
    if prep.additive:
        clamp = S - prep.R
        share = float(np.cov(clamp, S, bias=True)[0, 1] / var) if var > 0 else None
        out.append({"feature": "range clamp", "kind": "clamp", "label": "clamp to the rule's range",
                    "influence": None, "variance_share": fnum(share), "mean_abs_change": None,
                    "neutralised_as": None})
    return out


# ------------------------------------------------------------------------------ 4. decomposition
def _group_rows(codes: np.ndarray, n_groups: int) -> list[np.ndarray]:
    idx = np.flatnonzero(codes >= 0)
    c = codes[idx]
    order = np.argsort(c, kind="stable")
    bounds = np.searchsorted(c[order], np.arange(n_groups + 1))
    return [idx[order[bounds[g]:bounds[g + 1]]] for g in range(n_groups)]


def _line(feature: str, kind: str, label: str, value: float, gap: float, se: float | None = None,
          hidden: bool = False) -> dict:
    # Published rounded (0.01 points, shares and standard errors to 3 decimals): full precision would
    # let a reader solve for the counts behind a 0/1 term's mean (points x k / n).
    if hidden:
        return {"feature": feature, "kind": kind, "label": label, "contribution": None, "share": None,
                "se": None, "suppressed": True}
    share = value / gap if gap != 0 and np.isfinite(gap) else None
    return {"feature": feature, "kind": kind, "label": label, "contribution": fnum(value, POINT_DIGITS),
            "share": fnum(share, SHARE_DIGITS), "se": fnum(se, SHARE_DIGITS), "suppressed": False}


def binary_term_counts(prep: Prepared, g, t_index: int) -> np.ndarray | None:
    """Per group, the number of people on the upper of a two-valued term's two values (else None).

    A condition term (and any term whose points take exactly two values) has a
    group mean of ``low + (high - low) * k / n``: publishing it publishes ``k``.
    """
    c = prep.C[:, t_index]
    values = np.unique(c)
    if len(values) != 2:
        return None
    up = c == values[1]
    ok = g.codes >= 0
    return np.bincount(g.codes[ok], weights=up[ok], minlength=g.n_groups).round().astype(np.int64)


def hidden_terms(prep: Prepared, g, terms: list[Input], floor: int, threshold: int) -> dict[int, np.ndarray]:
    """For each two-valued term (index into ``prep.C``), the groups of ``g`` whose count may not be published.

    Primary: the count ``k`` of the group's people on the term's upper value is
    not a publishable cell of the group (:func:`audit.disclosure.cell_publishable`),
    or the group's means are not published at all (fewer than ``floor`` people).
    Secondary: :func:`audit.disclosure.protect_lines` over the grouping's groups.
    """
    out = {}
    keys = [tuple(v) for v in g.values]
    for t in terms:
        k = t.terms[0]
        counts = binary_term_counts(prep, g, k)
        if counts is None:
            continue
        primary = ~np.asarray(cell_publishable(counts, g.counts, threshold), dtype=bool).reshape(-1)
        primary |= np.asarray(g.counts) < floor
        hidden = protect_lines(keys, counts, primary)
        hidden[np.asarray(g.counts) < floor] = False  # unpublished anyway; only published groups matter below
        if hidden.any():
            out[k] = hidden
    return out


def _sort_lines(lines: list[dict]) -> list[dict]:
    main = [x for x in lines if x["kind"] in ("term", "column")]
    rest = [x for x in lines if x["kind"] not in ("term", "column")]
    main.sort(key=lambda x: (-abs(x["contribution"] or 0.0), x["feature"]))
    return main + rest


def decomposition_records(
    prep: Prepared,
    *,
    method: str = "auto",
    shapley_samples: int = 500,
    disclosure_threshold: int = 10,
    min_group_size: int = 30,
) -> tuple[list[dict], dict]:
    """Mean own-score gap of every group vs its reference, split over the inputs.

    Group means (and so the gap and its contributions) are published only when
    both the group and its reference have at least ``min_group_size`` people
    (and are not small under the disclosure rule); a group's size is published
    unless it is small (:func:`audit.disclosure.is_small`).

    Returns the records and a private map ``(attributes, values) -> (gap, {(kind, input): contribution})``
    (the reference group included, with zeros; only groups whose means are published) used to annotate
    pushed-out groups.
    """
    if method not in ("auto", "exact", "shapley"):
        raise AuditInputError(f"decomposition method must be 'auto', 'exact' or 'shapley', got {method!r}")
    exact = prep.additive and method in ("auto", "exact")
    if method == "exact" and not prep.additive:
        raise AuditInputError(f"rule {prep.rule.name!r}: an exact decomposition needs an additive points table")
    S = prep.own
    columns = [i for i in prep.inputs if i.kind == "column" and i.read]
    terms = [i for i in prep.inputs if i.kind == "term"]
    records, shares = [], {}
    floor = max(int(min_group_size), int(disclosure_threshold), 1)  # smallest group whose mean is published
    for g in prep.groupings:
        ref = prep.references.get(g.key)
        if ref is None or ref < 0:
            continue
        means = g.means(S)
        small_ref = g.counts[ref] < floor
        if exact:
            mC = g.means(prep.C)
            mclamp = g.means(S - prep.R)
        else:
            todo = [c for c in range(g.n_groups) if c != ref and g.counts[c] >= floor]
            sh = _shapley(prep, g, ref, todo, columns, shapley_samples) if todo and not small_ref else {}
        hide = hidden_terms(prep, g, terms, floor, int(disclosure_threshold)) if exact else {}
        # A term hidden for the reference is hidden for every group (each line is a difference from it).
        ref_hidden = {k for k, h in hide.items() if h[ref]}
        if not small_ref and not ref_hidden:  # the reference itself: no gap, no contributions
            zero = {("term", t.name): 0.0 for t in terms} if exact else {}
            zero.update({("column", c.name): 0.0 for c in columns})
            shares[(tuple(g.attributes), tuple(g.values[ref]))] = (0.0, zero)
        for code in range(g.n_groups):
            if code == ref:
                continue
            n, n_ref = int(g.counts[code]), int(g.counts[ref])
            rec: dict[str, Any] = {
                "attributes": list(g.attributes), "group": g.label(code), "reference": g.label(ref),
                "n": None if is_small(n, disclosure_threshold) else n,
                "n_reference": None if is_small(n_ref, disclosure_threshold) else n_ref, "suppressed": False,
                "method": "exact" if exact else "shapley",
            }
            if n < floor or small_ref:
                rec.update(suppressed=True, gap=None, mean_score=None, mean_score_reference=None,
                           contributions=[])
                records.append(rec)
                continue
            gap = float(means[code] - means[ref])
            rec.update(gap=fnum(gap, POINT_DIGITS), mean_score=fnum(means[code], POINT_DIGITS),
                       mean_score_reference=fnum(means[ref], POINT_DIGITS))
            key_shares: dict[tuple[str, str], float | None] = {}
            hidden_here = {k for k, h in hide.items() if h[code]} | ref_hidden
            if exact:
                delta = mC[code] - mC[ref]
                lines = [_line(t.name, "term", t.label, float(delta[t.terms[0]]), gap,
                               hidden=t.terms[0] in hidden_here) for t in terms]
                lines.append(_line("range clamp", "clamp", "clamp to the rule's range",
                                   float(mclamp[code] - mclamp[ref]), gap))
                for t in terms:
                    key_shares[("term", t.name)] = float(delta[t.terms[0]])
                for c in columns:
                    key_shares[("column", c.name)] = float(sum(delta[k] for k in c.terms))
                rec["sum_error"] = fnum(gap - float(delta.sum()) - float(mclamp[code] - mclamp[ref]), None)
            else:
                est = sh[code]
                lines = [_line(c.name, "column", c.label, float(est["phi"][j]), gap, float(est["se"][j]))
                         for j, c in enumerate(columns)]
                lines.append(_line("sampling residual", "residual",
                                   "exact gap minus the sampled pairs' mean difference",
                                   gap - float(est["phi"].sum()), gap, float(est["total_se"])))
                for j, c in enumerate(columns):
                    key_shares[("column", c.name)] = float(est["phi"][j])
                rec["samples"] = int(est["units"])
            rec["contributions"] = _sort_lines(lines)
            if hidden_here:
                # The lines add up to the gap: with the gap (or the group's mean) published, one hidden
                # line is the gap minus the others, and every share is a line over the gap.
                rec.update(gap=None, mean_score=None, sum_error=None, lines_suppressed=True)
                if ref_hidden:
                    rec["mean_score_reference"] = None
                for line in rec["contributions"]:
                    line["share"] = None
            else:
                shares[(tuple(g.attributes), tuple(g.values[code]))] = (gap, key_shares)
            records.append(rec)
    return records, shares


def _shapley(prep: Prepared, g, ref: int, todo: list[int], columns: list[Input], units: int) -> dict:
    """Sampled Shapley values of the columns for the gap of each group in ``todo`` vs ``ref``.

    Value of a coalition T for a pair (i in group, j in reference):
    ``f(x_i on T, x_j elsewhere)``.  Each sampling unit draws a pair with
    replacement and a random order of the columns, and walks the order both
    forwards and backwards (antithetic); the unit's value for a column is the
    mean of its two marginal contributions.  The estimate is the mean over units,
    its standard error the units' standard deviation / sqrt(units).
    """
    p = len(columns)
    units = max(2, int(units))
    if p == 0:
        # The rule reads no column (e.g. a lookup over constant terms): there is nothing to share the gap
        # between, and every pair of people has the same score, so nothing to sample either.
        return {code: {"phi": np.zeros(0), "se": np.zeros(0), "total_se": 0.0, "units": 0} for code in todo}
    rows = _group_rows(g.codes, g.n_groups)
    rng = rng_for(prep.seed, "shapley", g.key)
    plan = []
    for code in todo:
        i = rng.choice(rows[code], size=units, replace=True)
        j = rng.choice(rows[ref], size=units, replace=True)
        order = np.argsort(rng.random((units, p)), axis=1)          # order[s, t] = column at step t
        pos = np.argsort(order, axis=1)                              # pos[s, f] = step of column f
        pos2 = np.concatenate([pos, p - 1 - pos])                    # forwards, then backwards
        plan.append((code, np.concatenate([i, i]), np.concatenate([j, j]), pos2))
    steps = np.arange(p + 1)
    src_cols = {c.name: [] for c in columns}
    for _code, i2, j2, pos2 in plan:
        for f, c in enumerate(columns):
            from_i = pos2[:, f][:, None] < steps[None, :]            # (2u, p+1)
            src_cols[c.name].append(np.where(from_i, i2[:, None], j2[:, None]).ravel())
    frame = prep.frame
    hybrid = pd.DataFrame({c.name: frame[c.name].take(np.concatenate(src_cols[c.name])).array
                           for c in columns})
    y_all = prep.rule.own_scores(hybrid)
    out = {}
    block = 2 * units * (p + 1)
    for b, (code, _i2, _j2, pos2) in enumerate(plan):
        y = y_all[b * block:(b + 1) * block].reshape(2 * units, p + 1)
        diffs = np.diff(y, axis=1)                                   # diffs[s, t]: column at step t
        phi_runs = np.take_along_axis(diffs, pos2, axis=1)           # phi[s, f]
        phi_units = 0.5 * (phi_runs[:units] + phi_runs[units:])
        total = y[:units, p] - y[:units, 0]                          # f(x_i) - f(x_j)
        out[code] = {
            "phi": phi_units.mean(axis=0),
            "se": phi_units.std(axis=0, ddof=1) / np.sqrt(units),
            "total_se": float(total.std(ddof=1) / np.sqrt(units)),
            "units": units,
        }
    return out


# ------------------------------------------------------------------------------ 5. neutralisation
def _fmt(x: float) -> str:
    return f"{x:.2f}"


def neutralisation_records(
    prep: Prepared,
    *,
    inputs: Sequence[str] | None = None,
    methods: Sequence[str] = ("removed", "equalised"),
    min_group_size: int = 30,
    disclosure_threshold: int = 10,
    notable_change: float = 0.05,
    max_notable: int = 100,
    effects: dict | None = None,
) -> tuple[list[dict], list[dict]]:
    """Counterfactual impact ratios per input (see :func:`audit.proxy.neutralisation`).

    Every published ratio passes the two-cell rule (:class:`~audit.proxy._common.Impact`).
    When ``effects`` is a dict (and ``"equalised"`` is among ``methods``) it
    receives, for every input and every grouping — each protected attribute
    and, in addition to the published records, each intersection — the
    grouping's impact ratios before and after the input is equalised across
    that grouping's groups: ``effects[(kind, input, grouping key)] = (before,
    after)`` (private; the tier-specific gap shares of pushed-out groups).
    """
    for m in methods:
        if m not in ("removed", "equalised"):
            raise AuditInputError(f"neutralisation method must be 'removed' or 'equalised', got {m!r}")
    chosen = [i for i in prep.inputs if (inputs is None and i.read) or (inputs is not None and i.name in inputs)]
    if observed_only(prep):  # the observed score column is the output: neutralising it is meaningless
        chosen = [i for i in chosen if not i.read]
    if inputs is not None:
        missing = [x for x in inputs if x not in {i.name for i in prep.inputs}]
        if missing:
            raise AuditInputError(f"neutralisation: {missing[0]!r} is neither a column of the data nor a term")
    tiers = [t.name for t in prep.rule.tiers]
    singles = [g for g in prep.singles.values() if g not in prep.groupings]
    everything = list(prep.groupings) + singles
    state = ImpactState(prep.rule, prep.final, everything, min_group_size, disclosure_threshold)
    before = {g.key: state.before(g) for g in everything}
    records: list[dict] = []
    notable: list[dict] = []
    for inp in chosen:
        if "removed" in methods:
            if inp.kind == "term":
                own = prep.clamp(prep.R - prep.C[:, inp.terms[0]])
                how, phrase = "term removed", f"Without '{inp.label}'"
            elif prep.additive:
                own = prep.clamp(prep.R - prep.column_contribution(inp))
                how = "every term reading the column removed"
                phrase = f"Without the terms reading '{inp.name}'"
            else:
                series = prep.frame[inp.name]
                own = prep.own_with_column(inp, neutralised_series(series))
                if inp.categorical:
                    how = "set to its most common value"
                    phrase = f"With '{inp.name}' set to its most common value ({neutral_value(series)})"
                else:
                    how = "set to its population mean"
                    phrase = f"With '{inp.name}' set to its population mean"
            final = prep.finalise(own)
            after = state.after(final, prep.groupings)
            rec = _neutral_record(prep, inp, "removed", how, None, final, prep.groupings, before, after,
                                  tiers, disclosure_threshold)
            records.append(rec)
            notable += _sentences(prep, rec, phrase, prep.groupings, before, after, tiers, min_group_size,
                                  notable_change)
        if "equalised" in methods:
            order = None
            if inp.kind == "term" or not inp.categorical:
                # One sort of the input (ties in random order) serves every attribute.
                values = prep.C[:, inp.terms[0]] if inp.kind == "term" else \
                    prep.frame[inp.name].to_numpy(dtype=float, na_value=np.nan)
                order = ascending_order(values, rng_for(prep.seed, "equalise", inp.kind, inp.name))
            # Public records per protected attribute; with ``effects``, also (privately) per intersection.
            targets = [(prep.singles[a], True) for a in prep.attributes]
            if effects is not None:
                targets += [(h, False) for h in prep.groupings if len(h.attributes) > 1]
            for g, public in targets:
                a = g.key
                ref = prep.references[g.key]
                if ref < 0:
                    continue  # an empty grouping (everybody withheld): nothing to equalise
                rng = rng_for(prep.seed, "equalise", inp.kind, inp.name, a)
                if inp.kind == "term":
                    k = inp.terms[0]
                    new = equalise_numeric(prep.C[:, k], g.codes, ref, g.n_groups, order=order)
                    own = prep.own_with_term(k, new)
                else:
                    series = prep.frame[inp.name]
                    own = prep.own_with_column(inp, equalise_series(series, g.codes, ref, g.n_groups, rng,
                                                                    order=order))
                final = prep.finalise(own)
                after = state.after(final, [g])
                if effects is not None:
                    effects[(inp.kind, inp.name, g.key)] = (before[g.key], after[g.key])
                if not public:
                    continue
                how = (f"distribution within every {a} group mapped onto that of {g.name(ref)}")
                rec = _neutral_record(prep, inp, "equalised", how, a, final, [g], before, after, tiers,
                                      disclosure_threshold)
                rec["reference"] = g.label(ref)
                records.append(rec)
                what = inp.label if inp.kind == "term" else inp.name
                phrase = f"With '{what}' distributed within every {a} group as in {g.name(ref)}"
                notable += _sentences(prep, rec, phrase, [g], before, after, tiers, min_group_size,
                                      notable_change)
    # Single attributes first (the headline statements), then intersections; largest change first.
    notable.sort(key=lambda x: (len(x["attributes"]), -abs(x["change"]), x["feature"], x["method"], x["sentence"]))
    return records, notable[:max_notable]


def _neutral_record(prep, inp, method, how, attribute, final, groupings, before, after, tiers, t) -> dict:
    """One counterfactual's record: per group and tier, the impact ratios before and after.

    A ratio is published only where both its cells (the group's favourable
    count of its size, and the most favoured group's) are publishable — before
    and after separately; ``after`` also only where neither the group nor the
    most favoured group has a small number (``0 < k < t``) of people whose
    attainment of the tier changes; ``change`` only where both are published.
    A group that is small is ``suppressed`` as a whole (size and ratios None).
    Ratios and changes are rounded to ``RATIO_DIGITS`` (3) decimals.
    """
    changed = final != prep.final
    rows_changed = int(changed.sum())
    # The changed rows are a cell of the population: both figures below describe them.
    rows_ok = bool(cell_publishable(rows_changed, prep.n, t))
    groups = []
    for g in groupings:
        b, a = before[g.key], after[g.key]
        for code in range(g.n_groups):
            n = int(g.counts[code])
            small = is_small(n, t)
            entry = {"attributes": list(g.attributes), "group": g.label(code), "n": None if small else n,
                     "suppressed": small}
            if small:
                entry.update(before=None, after=None, change=None)
            else:
                bok, aok = b.ok[code], a.ok[code]
                br, ar = b.ratio[code], a.ratio[code]
                entry["before"] = [fnum(br[j], RATIO_DIGITS) if bok[j] else None for j in range(len(tiers))]
                entry["after"] = [fnum(ar[j], RATIO_DIGITS) if aok[j] else None for j in range(len(tiers))]
                entry["change"] = [fnum(ar[j] - br[j], RATIO_DIGITS) if bok[j] and aok[j] else None
                                   for j in range(len(tiers))]
            groups.append(entry)
    return {
        "feature": inp.name, "kind": inp.kind, "label": inp.label, "method": method, "how": how,
        "attribute": attribute, "rows_changed": rows_changed if rows_ok else None,
        "mean_abs_score_change": (fnum(float(np.mean(np.abs(final - prep.final))) if prep.n else 0.0)
                                  if rows_ok else None),
        "tiers": list(tiers),
        "groups": groups,
    }


def _sentences(prep, rec, phrase, groupings, before, after, tiers, min_group_size, threshold) -> list[dict]:
    """A sentence per (group, tier) whose impact ratio changes by at least ``threshold``.

    Only groups of at least ``min_group_size`` people, and only where both the
    ratio before and the ratio after are published (two-cell rule).
    """
    out = []
    for g in groupings:
        b, a = before[g.key], after[g.key]
        for code in range(g.n_groups):
            if g.counts[code] < min_group_size:
                continue
            for j, tn in enumerate(tiers):
                if not (b.ok[code, j] and a.ok[code, j]):
                    continue
                x, y = b.ratio[code, j], a.ratio[code, j]
                if abs(y - x) < threshold:
                    continue
                out.append({
                    "sentence": f"{phrase}, {g.name(code)}'s impact ratio for {tn} goes from "
                                f"{_fmt(x)} to {_fmt(y)}",
                    "feature": rec["feature"], "kind": rec["kind"], "method": rec["method"],
                    "attributes": list(g.attributes), "group": g.label(code), "tier": tn,
                    "before": fnum(x, RATIO_DIGITS), "after": fnum(y, RATIO_DIGITS),
                    "change": fnum(y - x, RATIO_DIGITS),
                })
    return out


# ------------------------------------------------------------------------------ 6. redundant encoding
def _feature_matrix(prep: Prepared) -> tuple[np.ndarray, list[bool], list[str]]:
    cols, mask, names = [], [], []
    for inp in prep.inputs:
        if inp.kind != "column" or not inp.read:
            continue
        enc = _encoded(prep, inp)
        if enc["categorical"]:
            codes = enc["codes"].astype(float)
            if enc["n"] <= 250:
                cols.append(codes)
                mask.append(True)
            else:  # too many categories for native categorical splits: use the sorted codes
                cols.append(codes)
                mask.append(False)
        else:
            cols.append(enc["x"])
            mask.append(False)
        names.append(inp.name)
    X = np.column_stack(cols) if cols else np.empty((prep.n, 0))
    return X, mask, names


def _can_stop_early(y: np.ndarray, k: int) -> bool:
    """Whether the classifier's stratified 10% validation split exists for these training labels.

    sklearn needs every class at least twice and both parts at least as large as the number of
    classes; on a tiny fold it raises instead, so there the model is fitted without early stopping.
    """
    n_val = int(np.ceil(0.1 * len(y)))
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=k)
    return n_val >= k and len(y) - n_val >= k and counts[counts > 0].min(initial=0) >= 2


def _ovr_auc(y: np.ndarray, proba: np.ndarray, k: int) -> float:
    if k == 2:
        return auc_from_scores(y == 1, proba[:, 1])
    return float(np.mean([auc_from_scores(y == c, proba[:, c]) for c in range(k)]))


def encoding_records(prep: Prepared, *, cv_folds: int = 5, cv_max_rows: int = 50_000,
                     max_iter: int = 100) -> list[dict]:
    """Cross-validated AUC of each attribute from the final score alone and from all inputs together."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    X, mask, names = _feature_matrix(prep)
    if observed_only(prep):  # the only "input" is the score itself
        X, mask, names = np.empty((prep.n, 0)), [], []
    out = []
    for a in prep.attributes:
        d = cv_design(prep, a, cv_folds, cv_max_rows)
        rec = {"attribute": a, "n_classes": d["n_classes"], "auc_score": None, "association_score": None,
               "auc_inputs": None, "association_inputs": None, "inputs": names,
               "classes_left_out": d["left_out"]}
        if d["rows"] is None:
            out.append(rec)
            continue
        rows, y, k = d["rows"], d["y"], d["n_classes"]
        auc_s = cv_auc(prep.final[rows], y, k, d["splits"], categorical=False)
        aucs = []
        if X.shape[1]:
            Xs = X[rows]
            # One OpenMP thread: on small folds the threads mostly wait for each other, and on a
            # busy machine an oversubscribed OpenMP pool is ten times slower than a single thread.
            with threadpool_limits(limits=1, user_api="openmp"):
                for tr, te in d["splits"]:
                    model = HistGradientBoostingClassifier(
                        max_iter=max_iter, learning_rate=0.2, max_bins=63, early_stopping=_can_stop_early(y[tr], k),
                        random_state=prep.seed,
                        categorical_features=np.asarray(mask, dtype=bool) if any(mask) else None)
                    model.fit(Xs[tr], y[tr])
                    aucs.append(_ovr_auc(y[te], model.predict_proba(Xs[te]), k))
        auc_i = float(np.mean(aucs)) if aucs else None
        rec.update(auc_score=fnum(auc_s), association_score=fnum(gini(auc_s)),
                   auc_inputs=fnum(auc_i), association_inputs=fnum(gini(auc_i)))
        out.append(rec)
    return out
