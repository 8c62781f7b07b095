"""Association between one input and one protected attribute.

* numeric input: the correlation ratio eta (sqrt of between-group over total
  sum of squares), and the normalised mutual information of the input cut at its
  deciles;
* categorical / bool input: Cramér's V without bias correction (what
  ``scipy.stats.contingency.association(method="cramer")`` computes; for a 0/1
  input it equals eta, so the two scales agree) and the normalised mutual
  information of the categories;
* both: the cross-validated AUC of predicting the attribute from the input alone
  with a histogram classifier (see :func:`cv_auc`).

All per-group sums are ``bincount`` calls; nothing loops over rows.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "NMI_BINS",
    "CV_BINS",
    "correlation_ratio",
    "cramers_v",
    "normalized_mutual_info",
    "quantile_bins",
    "stratified_sample",
    "fold_indices",
    "cv_auc",
    "auc_from_scores",
    "auc_from_table",
]

#: Numeric inputs are cut at their deciles for the mutual information.
NMI_BINS = 10
#: At most this many quantile bins for the one-input classifier ...
CV_BINS = 32
#: ... and at least this many training rows per bin.
CV_MIN_ROWS_PER_BIN = 50
#: Every group keeps at least min(its size, this) rows when the cross-validation is subsampled.
MIN_ROWS_PER_CLASS = 50


def correlation_ratio(x: np.ndarray, codes: np.ndarray, n_groups: int) -> float:
    """Correlation ratio eta of numeric ``x`` on group ``codes`` (rows with code < 0 or NaN x left out).

    ``eta**2 = sum_g n_g (mean_g - mean)**2 / sum_i (x_i - mean)**2``; 0 for a constant input.

    Examples
    --------
    >>> import numpy as np
    >>> round(correlation_ratio(np.array([1., 2., 3., 4.]), np.array([0, 0, 1, 1]), 2), 6)
    0.894427
    """
    x = np.asarray(x, dtype=float)
    ok = (codes >= 0) & np.isfinite(x)
    if ok.all():
        c = codes
    else:
        x, c = x[ok], codes[ok]
    if len(x) == 0:
        return float("nan")
    xc = x - x.mean()
    total = float(np.dot(xc, xc))
    if total <= 0:
        return 0.0
    n_g = np.bincount(c, minlength=n_groups).astype(float)
    s_g = np.bincount(c, weights=xc, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        between = float(np.sum(np.where(n_g > 0, s_g * s_g / n_g, 0.0)))
    return float(np.sqrt(min(max(between / total, 0.0), 1.0)))


def eta_centered(xc: np.ndarray, total: float, codes: np.ndarray, counts: np.ndarray) -> float:
    """Correlation ratio from pre-centred values ``xc`` (all finite, every code >= 0) and ``total = xc @ xc``.

    The fast path of :func:`correlation_ratio` when one input is compared with
    several groupings: one weighted ``bincount`` per grouping.
    """
    if total <= 0:
        return 0.0
    s_g = np.bincount(codes, weights=xc, minlength=len(counts))
    n_g = np.asarray(counts, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        between = float(np.sum(np.where(n_g > 0, s_g * s_g / n_g, 0.0)))
    return float(np.sqrt(min(max(between / total, 0.0), 1.0)))


def _table(a: np.ndarray, b: np.ndarray, na: int, nb: int) -> np.ndarray:
    t = np.bincount(a * nb + b, minlength=na * nb).reshape(na, nb).astype(float)
    return t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]


def cramers_v(x_codes: np.ndarray, codes: np.ndarray, n_x: int, n_groups: int) -> float:
    """Cramér's V (no bias correction) of two codings; rows with a negative code are left out.

    ``V = sqrt(chi2 / (n * (min(r, c) - 1)))`` on the table without empty rows
    and columns; 0 when either side has a single category.

    Examples
    --------
    >>> import numpy as np
    >>> cramers_v(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1]), 2, 2)
    1.0
    """
    ok = (codes >= 0) & (x_codes >= 0)
    t = _table(x_codes[ok], codes[ok], n_x, n_groups)
    if t.size == 0 or min(t.shape) < 2:
        return 0.0
    n = t.sum()
    expected = t.sum(axis=1, keepdims=True) * t.sum(axis=0, keepdims=True) / n
    chi2 = float(np.sum((t - expected) ** 2 / expected))
    return float(np.sqrt(min(chi2 / (n * (min(t.shape) - 1)), 1.0)))


def normalized_mutual_info(x_codes: np.ndarray, codes: np.ndarray, n_x: int, n_groups: int) -> float:
    """Normalised mutual information ``I(X; A) / mean(H(X), H(A))`` (natural logs).

    The arithmetic-mean normalisation of
    ``sklearn.metrics.normalized_mutual_info_score`` (its default), computed from
    a ``bincount`` contingency table; 0 when either side is constant.

    Examples
    --------
    >>> import numpy as np
    >>> round(normalized_mutual_info(np.array([0, 1, 0, 1]), np.array([1, 0, 1, 0]), 2, 2), 6)
    1.0
    """
    ok = (codes >= 0) & (x_codes >= 0)
    t = _table(x_codes[ok], codes[ok], n_x, n_groups)
    if t.size == 0 or min(t.shape) < 2:
        return 0.0
    n = t.sum()
    p = t / n
    pr, pc = p.sum(axis=1), p.sum(axis=0)
    nz = p > 0
    mi = float(np.sum(p[nz] * (np.log(p[nz]) - np.log(np.outer(pr, pc)[nz]))))
    hr = -float(np.sum(pr * np.log(pr)))
    hc = -float(np.sum(pc * np.log(pc)))
    denom = (hr + hc) / 2
    if denom <= 0:
        return 0.0
    return float(min(max(mi / denom, 0.0), 1.0))


def quantile_bins(x: np.ndarray, n_bins: int, reference: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Cut ``x`` at the inner quantiles of ``reference`` (default ``x``); NaN gets its own last bin.

    Bins are right-closed like ``pandas.qcut``: bin ``k`` holds
    ``edge[k-1] < x <= edge[k]``; tied edges are merged.  Returns the bin codes
    and the number of bins.
    """
    x = np.asarray(x, dtype=float)
    ref = x if reference is None else np.asarray(reference, dtype=float)
    ref = ref[np.isfinite(ref)]
    if len(ref) == 0:
        edges = np.empty(0)
    else:
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, n_bins + 1)[1:-1]))
    codes = np.searchsorted(edges, x, side="left").astype(np.int64)
    nb = len(edges) + 1
    nan = ~np.isfinite(x)
    if nan.any():
        codes[nan] = nb
        nb += 1
    return codes, nb


def stratified_sample(codes: np.ndarray, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices (sorted) of a stratified sample of the rows with ``codes >= 0``.

    All rows when there are at most ``max_rows``; else each group gets its
    proportional share (largest remainders), but at least
    ``min(its size, MIN_ROWS_PER_CLASS)`` rows, drawn without replacement.
    """
    valid = np.flatnonzero(codes >= 0)
    if len(valid) <= max_rows:
        return valid
    c = codes[valid]
    n_g = np.bincount(c)
    quota = n_g * (max_rows / len(valid))
    take = np.floor(quota).astype(np.int64)
    short = max_rows - int(take.sum())
    if short > 0:
        order = np.lexsort((np.arange(len(quota)), -(quota - take)))
        take[order[:short]] += 1
    take = np.minimum(np.maximum(take, np.minimum(n_g, MIN_ROWS_PER_CLASS)), n_g)
    out = []
    order = np.argsort(c, kind="stable")
    starts = np.concatenate([[0], np.cumsum(n_g)])
    for g in range(len(n_g)):
        rows = valid[order[starts[g]:starts[g + 1]]]
        if take[g] >= len(rows):
            out.append(rows)
        elif take[g] > 0:
            out.append(rng.choice(rows, size=int(take[g]), replace=False))
    return np.sort(np.concatenate(out)) if out else np.empty(0, dtype=np.int64)


def fold_indices(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``StratifiedKFold(folds, shuffle=True, random_state=seed)`` splits of labels ``y``."""
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(skf.split(np.zeros(len(y)), y))


def auc_from_table(score: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC from counts of positives and negatives at each score (ties count one half).

    ``score`` need not be sorted or distinct; NaN when one class is absent.
    """
    n_pos, n_neg = float(np.sum(pos)), float(np.sum(neg))
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    uniq, inv = np.unique(score, return_inverse=True)
    p = np.bincount(inv, weights=pos, minlength=len(uniq))
    q = np.bincount(inv, weights=neg, minlength=len(uniq))
    neg_below = np.concatenate([[0.0], np.cumsum(q)[:-1]])
    return float((np.sum(p * neg_below) + 0.5 * np.sum(p * q)) / (n_pos * n_neg))


def auc_from_scores(y_pos: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC (ties count one half): the Mann-Whitney statistic.

    Equal to ``sklearn.metrics.roc_auc_score(y_pos, score)``; NaN when one class is absent.
    """
    y = np.asarray(y_pos, dtype=float)
    return auc_from_table(np.asarray(score, dtype=float), y, 1.0 - y)


def _linear_quantiles(sorted_x: np.ndarray, qs: np.ndarray) -> np.ndarray:
    # numpy's default ("linear") quantile, from already sorted values.
    m = len(sorted_x)
    pos = qs * (m - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, m - 1)
    return sorted_x[lo] + (sorted_x[hi] - sorted_x[lo]) * (pos - lo)


def cv_auc(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    splits: list[tuple[np.ndarray, np.ndarray]],
    *,
    categorical: bool,
    n_categories: int = 0,
    alpha: float = 1.0,
) -> float:
    """Cross-validated one-vs-rest macro AUC of predicting ``y`` from the single input ``x``.

    The classifier is a histogram (plug-in Bayes) classifier: a numeric input is
    cut at up to ``CV_BINS`` quantiles of the *training* fold (at least
    ``CV_MIN_ROWS_PER_BIN`` training rows per bin; NaN its own bin), a
    categorical input keeps its categories; the predicted class probabilities
    of a bin are its training class frequencies, shrunk toward the overall
    class shares with weight ``alpha`` (one pseudo-row).  For a single input
    this is the nonparametric model a tree ensemble on that input approximates.
    Per fold, the AUC is the binary AUC for two classes, else the unweighted mean
    of one-vs-rest AUCs (``roc_auc_score(multi_class="ovr", average="macro")``);
    the result is the mean over folds.  Every test row of a bin gets the same
    prediction, so the AUCs are computed from per-bin counts (exactly).
    """
    k = int(n_classes)
    if not categorical:
        x = np.asarray(x, dtype=float)
        order = np.argsort(x, kind="stable")  # one sort of the sample serves every fold (NaN last)
        x_sorted = x[order]
        finite_sorted = np.isfinite(x_sorted)
        n_finite = int(finite_sorted.sum())
    aucs = []
    for tr, te in splits:
        if categorical:
            btr, bte, nb = x[tr], x[te], int(n_categories)
        else:
            in_tr = np.zeros(len(x), dtype=bool)
            in_tr[tr] = True
            xs = x_sorted[in_tr[order] & finite_sorted]  # the training fold's finite values, sorted
            nbins = int(min(CV_BINS, max(2, len(tr) // CV_MIN_ROWS_PER_BIN)))
            edges = (np.unique(_linear_quantiles(xs, np.linspace(0, 1, nbins + 1)[1:-1]))
                     if len(xs) else np.empty(0))
            nb = len(edges) + 2  # the last bin holds NaN
            # Bin k holds edge[k-1] < x <= edge[k]: cut the sorted sample at the edges (no per-row search).
            cuts = np.searchsorted(x_sorted[:n_finite], edges, side="right")
            sizes = np.diff(np.concatenate([[0], cuts, [n_finite]]))
            b_sorted = np.concatenate([np.repeat(np.arange(nb - 1), sizes),
                                       np.full(len(x) - n_finite, nb - 1)])
            b = np.empty(len(x), dtype=np.int64)
            b[order] = b_sorted
            btr, bte = b[tr], b[te]
        ytr, yte = y[tr], y[te]
        counts = np.bincount(btr * k + ytr, minlength=nb * k).reshape(nb, k)
        prior = np.bincount(ytr, minlength=k) / len(ytr)
        probs = (counts + alpha * prior) / (counts.sum(axis=1, keepdims=True) + alpha)
        test = np.bincount(bte * k + yte, minlength=nb * k).reshape(nb, k).astype(float)
        total = test.sum(axis=1)
        classes = [1] if k == 2 else range(k)
        per = [auc_from_table(probs[:, c], test[:, c], total - test[:, c]) for c in classes]
        aucs.append(float(np.mean(per)))
    return float(np.mean(aucs)) if aucs else float("nan")
