"""Proxy discrimination: which inputs of a rule stand in for a protected attribute, and how much it matters.

For every input the rule reads (each column and, for an additive points table,
each term) and every protected attribute this family measures

1. **association** — how well the input alone predicts the attribute
   (cross-validated AUC; correlation ratio eta or Cramér's V; normalised
   mutual information);
2. **influence** — how much the input moves the score (share of the score's
   variance; mean absolute change when it is neutralised; a normalised
   interventional influence);
3. **proxy strength** — association and influence combined, in the manner of
   the proxy-use definition of Datta et al., "Proxy Non-Discrimination in
   Data-Driven Systems" (2017): an intermediate quantity is a proxy when its
   association with the protected attribute and its influence on the output
   both reach thresholds;
4. **gap decomposition** — each group's mean-score gap against the reference
   group split over the inputs (exact for points tables, sampled Shapley values
   otherwise);
5. **neutralisation** — every tier's impact ratios when the input is removed,
   and when its distribution is equalised across groups;
6. **redundant encoding** — how well the attribute can be predicted from the
   score alone and from all inputs together.

The formulas are in :func:`proxy_analysis` and in ``methods`` of the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit.disclosure import cell_publishable
from audit.proxy._analyses import (
    association_records,
    cv_design,
    decomposition_records,
    encoding_records,
    influence_records,
    neutralisation_records,
)
from audit.proxy._association import CV_BINS, CV_MIN_ROWS_PER_BIN, MIN_ROWS_PER_CLASS, NMI_BINS
from audit.proxy._common import Prepared, fnum, prepare
from audit.proxy._result import MOST_OF_GAP, TOP_PROXIES, ProxyResult

__all__ = [
    "ProxyResult",
    "association",
    "influence",
    "gap_decomposition",
    "neutralisation",
    "redundant_encoding",
    "proxy_analysis",
    "audit_family",
    "EPSILON",
    "DELTA",
]

#: Default association threshold (epsilon): Gini ``2 * AUC - 1`` of at least 0.2, i.e. AUC >= 0.6.
EPSILON = 0.2
#: Default influence threshold (delta): at least 5% of the score's variation under intervention.
DELTA = 0.05


def _graph(graph, people: pd.DataFrame):
    if graph is None or hasattr(graph, "adjacency"):
        return graph
    from audit.graph import load_graph

    if "id" not in people.columns:
        raise AuditInputError("graph: the people table needs an 'id' column to align an edge list")
    return load_graph(graph, people["id"].to_numpy())


# ---------------------------------------------------------------------------- public functions
def association(
    rule,
    people: pd.DataFrame,
    protected: Sequence[str] | Sequence[Any],
    *,
    seed: int = 0,
    cv_folds: int = 5,
    cv_max_rows: int = 50_000,
) -> list[dict]:
    """Association of every input of ``rule`` with every protected attribute.

    Inputs are the columns the rule reads and, for an additive points table,
    each term (its column of points).  For each (input, attribute):

    * ``eta`` (numeric input): correlation ratio,
      ``sqrt(sum_g n_g (mean_g - mean)^2 / sum_i (x_i - mean)^2)``;
    * ``cramers_v`` (categorical or bool input): Cramér's V *without* bias
      correction, ``sqrt(chi2 / (n (min(r, c) - 1)))`` (for a 0/1 input it
      equals eta);
    * ``nmi``: normalised mutual information ``I / mean(H_input, H_attribute)``
      (sklearn's default normalisation), numeric inputs cut at their deciles;
    * ``auc``: cross-validated AUC of predicting the attribute from this input
      alone — one-vs-rest macro AUC for attributes with more than two groups.
      Estimator: a histogram classifier (the input cut at up to 32 quantile
      bins of the training fold, at least 50 training rows per bin, or its
      categories; class frequencies per bin shrunk toward the overall shares by
      one pseudo-row).  Folds: ``StratifiedKFold(cv_folds, shuffle=True,
      random_state=seed)`` on a stratified subsample of at most ``cv_max_rows``
      rows (each group keeps at least min(its size, 50) rows); groups with fewer
      than ``cv_folds`` sampled rows are left out of the AUC.  0.5 means no
      information;
    * ``association = max(0, 2 * auc - 1)`` (the Gini coefficient of the
      cross-validated AUC), the number on [0, 1] used for the ranking.

    Parameters
    ----------
    rule : Rule or built-in rule name
    people : DataFrame
    protected : list of column names, or of :class:`audit.Grouping`
        Only single attributes are used here (intersections are ignored).
    seed, cv_folds, cv_max_rows : see above

    Returns
    -------
    list of dict
        One per (input, attribute): ``feature, kind, label, attribute, type,
        measure, eta, cramers_v, nmi, auc, association, direct`` (``direct``:
        the input reads the attribute itself).

    Examples
    --------
    >>> import audit
    >>> from audit.proxy import association
    >>> people, _ = audit.generate_sesame(3000, seed=1)
    >>> rows = association("sesame", people, ["gender"], seed=0)
    >>> top = max(rows, key=lambda r: r["association"])
    >>> top["feature"], top["attribute"], top["auc"] > 0.6
    ('video_game_hours', 'gender', True)
    """
    prep = prepare(rule, people, protected, seed=seed, intersections=1)
    return association_records(prep, cv_folds=cv_folds, cv_max_rows=cv_max_rows)


def influence(rule, people: pd.DataFrame, *, seed: int = 0) -> list[dict]:
    """Influence of every input on the own score (no network term).

    * ``variance_share`` (points tables): ``Cov(c_k, S) / Var(S)`` where ``c_k``
      is the input's points (a column: the sum of the terms reading it) and
      ``S`` the own score.  Exact; when no score is clamped the terms' shares
      sum to 1.  The clamp to the rule's range gets its own line
      (``Cov(S - R, S) / Var(S)``, ``R`` the unclamped total), so the terms'
      shares plus the clamp's always sum to 1.  None for other rules.
    * ``mean_abs_change``: ``mean |S - S_neutral|`` where the input is set to its
      population mean (numeric column, or a term's points) or its most common
      value (categorical column).
    * ``influence``: ``E[(S(x) - S(x with this input drawn independently))^2] /
      (2 Var(S))``, clipped to [0, 1]: the expected squared change of the score
      when the input is replaced by its value for a random other person (one
      seeded permutation of the input's rows), relative to the same quantity for
      replacing every input (which is ``2 Var(S)``).  This is the interventional
      influence of the proxy-use literature, normalised; for an unclamped
      points table its expectation is ``Var(c_k) / Var(S)``.

    Examples
    --------
    >>> import audit
    >>> from audit.proxy import influence
    >>> people, _ = audit.generate_sesame(3000, seed=1)
    >>> rows = influence("sesame", people)
    >>> terms = [r for r in rows if r["kind"] in ("term", "clamp")]
    >>> round(sum(r["variance_share"] for r in terms), 9)
    1.0
    """
    prep = prepare(rule, people, None, seed=seed, intersections=1)
    return influence_records(prep)


def gap_decomposition(
    rule,
    people: pd.DataFrame,
    protected: Sequence[str] | Sequence[Any],
    *,
    reference: Mapping[str, Any] | None = None,
    seed: int = 0,
    method: str = "auto",
    shapley_samples: int = 500,
    intersections: int = 2,
    disclosure_threshold: int = 10,
    min_group_size: int = 30,
) -> list[dict]:
    """Each group's mean own-score gap against its reference group, split over the inputs.

    ``gap = mean(S | group) - mean(S | reference)`` on own scores (no network).

    * ``method="exact"`` (default for additive points tables): one line per term,
      ``mean(c_k | group) - mean(c_k | reference)``, plus a ``range clamp`` line
      ``mean(S - R | group) - mean(S - R | reference)``; the lines sum to the gap
      exactly before rounding (``sum_error`` is the floating-point remainder,
      below 1e-9).
    * ``method="shapley"`` (default for other rules): Shapley values over the
      columns for the game ``v(T) = mean over pairs of S(x_i on T, x_j elsewhere)``,
      ``i`` from the group and ``j`` from the reference group.  Estimated from
      ``shapley_samples`` units, each a random pair (with replacement) and a
      random order of the columns walked forwards and backwards (antithetic);
      ``se`` is the standard error over units.  A ``sampling residual`` line
      (exact gap minus the sampled pairs' mean difference, with its standard
      error) makes the lines sum to the gap.

    The reference of an attribute is ``reference[attribute]`` or its largest
    group; of an intersection, the combination of its attributes' references
    (or its largest group when that combination is absent).  Group means — and
    so the gap and its lines — are published only when the group and its
    reference both have at least ``min_group_size`` people (and are not small
    under the disclosure rule); otherwise the record is ``suppressed`` and only
    sizes that are not small (``0 < n < disclosure_threshold``) are shown.

    Disclosure control: a term whose points take two values (a condition) has
    a group mean of ``low + (high - low) * k / n``, which gives away the count
    ``k``.  Its line is suppressed (``contribution`` None, ``suppressed``
    True) where ``k`` is not a publishable cell of the group
    (:func:`audit.disclosure.cell_publishable`), for the further groups
    :func:`audit.disclosure.protect_lines` hides, and for every group when the
    reference's count is hidden; a record with a suppressed line also loses its
    ``gap``, ``mean_score`` and every ``share`` (and is marked
    ``lines_suppressed``).  Contributions, means and gaps are rounded to 0.01 points,
    shares and standard errors to 3 decimals.

    Examples
    --------
    >>> import audit
    >>> from audit.proxy import gap_decomposition
    >>> people, _ = audit.generate_sesame(3000, seed=1)
    >>> recs = gap_decomposition("sesame", people, ["gender"])
    >>> rec = recs[0]
    >>> rec["group"], rec["reference"], rec["method"]
    ({'gender': 'male'}, {'gender': 'female'}, 'exact')
    >>> abs(rec["gap"] - sum(line["contribution"] for line in rec["contributions"])) < 0.05  # 0.01 rounding
    True
    """
    prep = prepare(rule, people, protected, reference=reference, seed=seed, intersections=intersections)
    recs, _ = decomposition_records(prep, method=method, shapley_samples=shapley_samples,
                                    disclosure_threshold=disclosure_threshold, min_group_size=min_group_size)
    return recs


def neutralisation(
    rule,
    people: pd.DataFrame,
    protected: Sequence[str] | Sequence[Any],
    *,
    graph=None,
    inputs: Sequence[str] | None = None,
    methods: Sequence[str] = ("removed", "equalised"),
    reference: Mapping[str, Any] | None = None,
    seed: int = 0,
    intersections: int = 2,
    min_group_size: int = 30,
    disclosure_threshold: int = 10,
    notable_change: float = 0.05,
) -> dict:
    """Every tier's impact ratios when an input is neutralised, before and after.

    For each input (default: every input of the rule; ``inputs`` may also name
    columns the rule does not read):

    * ``"removed"``: a term is removed (``rule.without_terms``); a column of a
      points table loses every term reading it; for other rules the column is
      set to its population mean (numeric) or most common value (categorical).
      Impact ratios are recomputed for every grouping.
    * ``"equalised"``, for each protected attribute: the input's distribution
      within every group is mapped onto the reference group's (numeric: quantile
      mapping with ties broken at random; categorical: the fewest reassignments,
      chosen at random — see :mod:`audit.equalise`; seeded).  Impact
      ratios are recomputed for that attribute's groups.

    Scores are re-computed in full, including the network term when the rule
    has one and ``graph`` is given.  Impact ratios are each group's attainment
    rate over the highest rate among groups of at least ``min_group_size``.
    A change that touches no term or column the rule reads changes nothing
    (exactly).

    Disclosure control (:mod:`audit.disclosure`): an impact ratio is published
    only when both of its cells — the group's favourable count out of its size
    and the most favoured group's — are publishable (neither the count nor its
    complement is small), checked separately before and after; ``change`` only
    when both are published; a small group is suppressed as a whole; the number
    of rows changed (and the mean score change over them) only when that cell
    of the population is publishable.

    Returns
    -------
    dict
        ``{"records": [...], "notable_changes": [...]}``: one record per
        (input, counterfactual) with the tier names (``tiers``) and, per group,
        the impact ratios ``before``, ``after`` and their ``change`` (lists in
        tier order, None where suppressed); and a sentence for every change of
        at least ``notable_change`` for a group of at least ``min_group_size``
        people whose ratios before and after are both published, largest first.

    Examples
    --------
    >>> import audit
    >>> from audit.proxy import neutralisation
    >>> people, _ = audit.generate_sesame(3000, seed=1)
    >>> out = neutralisation("sesame", people, ["gender"], inputs=["video_games"], methods=["removed"])
    >>> rec = out["records"][0]
    >>> rec["feature"], rec["how"]
    ('video_games', 'term removed')
    >>> out["notable_changes"][0]["sentence"].startswith("Without 'Hours of video games")
    True
    """
    people_graph = _graph(graph, people)
    prep = prepare(rule, people, protected, graph=people_graph, reference=reference, seed=seed,
                   intersections=intersections, extra_columns=[c for c in (inputs or []) if c in people.columns])
    recs, notable = neutralisation_records(prep, inputs=inputs, methods=methods, min_group_size=min_group_size,
                                           disclosure_threshold=disclosure_threshold,
                                           notable_change=notable_change)
    return {"records": recs, "notable_changes": notable}


def redundant_encoding(
    rule,
    people: pd.DataFrame,
    protected: Sequence[str] | Sequence[Any],
    *,
    graph=None,
    seed: int = 0,
    cv_folds: int = 5,
    cv_max_rows: int = 50_000,
) -> list[dict]:
    """How well each protected attribute can be predicted from the score alone and from all inputs.

    ``auc_score``: the final score (network term included when it applies)
    through the same one-input histogram classifier as :func:`association`, so
    it is comparable with each input's AUC.  ``auc_inputs``: a
    ``HistGradientBoostingClassifier`` (at most 100 iterations at learning rate
    0.2, 63 bins, early stopping on a 10% validation split, categorical columns
    as native categorical features, ``random_state=seed``, one thread) on every column the rule reads.  Same
    stratified subsample and folds as :func:`association`; one-vs-rest macro
    AUC for attributes with more than two groups.

    Examples
    --------
    >>> import audit
    >>> from audit.proxy import redundant_encoding
    >>> people, _ = audit.generate_sesame(3000, seed=1)
    >>> rec = redundant_encoding("sesame", people, ["gender"])[0]
    >>> rec["attribute"], rec["auc_inputs"] >= rec["auc_score"] > 0.5
    ('gender', True)
    """
    prep = prepare(rule, people, protected, graph=_graph(graph, people), seed=seed, intersections=1)
    return encoding_records(prep, cv_folds=cv_folds, cv_max_rows=cv_max_rows)


# ---------------------------------------------------------------------------- composite
def _methods(prep: Prepared, *, cv_folds, cv_max_rows, shapley_samples, epsilon, delta, notable_change,
             decomposition_method, neutralise, min_group_size=30, disclosure_threshold=10) -> dict:
    sampling = []
    for a in prep.attributes:
        d = cv_design(prep, a, cv_folds, cv_max_rows)
        # rows_available is a cell of the population (its complement: rows missing the attribute) and
        # rows_used one of the sample (its complement: the rows of the groups left out).
        available_ok = cell_publishable(d["rows_available"], prep.n, disclosure_threshold)
        used_ok = cell_publishable(d["rows_used"], d["rows_sampled"], disclosure_threshold)
        sampling.append({"attribute": a, "rows_available": d["rows_available"] if available_ok else None,
                         "rows_used": d["rows_used"] if used_ok else None,
                         "sampled": d["sampled"], "groups_left_out": d["left_out"]})
    exact = prep.additive and decomposition_method != "shapley"
    return {
        "rule_kind": prep.rule.kind,
        "additive": prep.additive,
        "seed": prep.seed,
        "scores": ("association, influence and the gap decomposition use own scores (no network term); "
                   "neutralisation and redundant encoding use final scores"
                   + (" (network term applied)" if prep.network else "")),
        "inputs": ("every column the rule reads" + (" and every term (its column of points)"
                                                    if prep.additive else "")),
        "association": {
            "value": "association = max(0, 2 * AUC - 1): the Gini coefficient of the cross-validated AUC",
            "auc_estimator": (f"histogram classifier on the one input: numeric inputs cut at up to {CV_BINS} "
                              f"quantile bins of the training fold (at least {CV_MIN_ROWS_PER_BIN} training "
                              "rows per bin, missing values a bin of their own), categorical inputs by "
                              "category; predicted probabilities = training class frequencies per bin "
                              "shrunk toward the overall class shares by one pseudo-row"),
            "auc": "binary AUC for two groups; unweighted mean of one-vs-rest AUCs for more; mean over folds",
            "folds": f"StratifiedKFold(n_splits={cv_folds}, shuffle=True, random_state={prep.seed})",
            "eta": "correlation ratio sqrt(SS_between / SS_total) on all rows (numeric inputs)",
            "cramers_v": ("Cramér's V without bias correction, sqrt(chi2 / (n (min(r, c) - 1))), on all "
                          "rows (categorical and bool inputs)"),
            "nmi": (f"normalised mutual information I / mean(H_input, H_attribute) on all rows; numeric "
                    f"inputs cut at {NMI_BINS}-quantiles (tied edges merged)"),
        },
        "influence": {
            "influence": ("E[(S(x) - S(x with the input from a random other person))^2] / (2 Var(S)), "
                          "clipped to [0, 1]; one seeded permutation of the input's rows"),
            "variance_share": ("Cov(c_k, S) / Var(S) (points tables; a column's c is the sum of the terms "
                               "reading it); terms plus the 'range clamp' line sum to 1"
                               if prep.additive else "not available for non-additive rules"),
            "mean_abs_change": ("mean |S - S'| with the input set to its population mean (numeric, or a "
                                "term's points) or most common value (categorical)"),
        },
        "proxy_strength": {
            "formula": "proxy_strength = sqrt(association * influence) (geometric mean, on [0, 1])",
            "flag": (f"association >= epsilon ({epsilon}) and influence >= delta ({delta}), and the input "
                     "does not read the attribute itself (that is direct use)"),
            "epsilon": epsilon,
            "delta": delta,
            "reference": ("Datta, Fredrikson, Ko, Mardziel, Sen, 'Proxy Non-Discrimination in Data-Driven "
                          "Systems', 2017: a proxy is an intermediate computation whose association with "
                          "the protected attribute and influence on the output both reach thresholds"),
            "ranking": "by proxy_strength, strongest first; ties by feature, kind and attribute names",
        },
        "decomposition": {
            "method": ("exact: mean(c_k | group) - mean(c_k | reference) per term plus the range clamp's "
                       "line; the lines sum to the gap" if exact else
                       "Shapley values over the columns for v(T) = mean S(x_i on T, x_j elsewhere), "
                       "i in the group, j in the reference group; sampled, with standard errors and a "
                       "'sampling residual' line so that the lines sum to the gap"),
            "reference": ("each attribute's given reference value or its largest group; an intersection's "
                          "reference is the combination of its attributes' references (else its largest "
                          "group)"),
            "shapley_samples": None if exact else shapley_samples,
            "published": (f"group means, gaps and contributions only when the group and its reference both "
                          f"have at least {max(min_group_size, disclosure_threshold)} people; sizes unless "
                          f"small (0 < n < {disclosure_threshold}). A term whose points take two values "
                          "(a condition) has a group mean of low + (high - low) k / n, so its line is "
                          "suppressed for a group whose count k is not a publishable cell (k or n - k "
                          f"in 1..{disclosure_threshold - 1}), for the groups protect_lines adds so that no "
                          "hidden count follows by subtraction across the grouping, and for every group "
                          "when the reference's count is hidden; a record with a suppressed line has its gap, "
                          "group mean and shares suppressed too (the lines add up to the gap)"),
            "rounding": ("contributions, group means and gaps rounded to 0.01 points; shares and standard "
                         "errors to 3 decimals (the published lines add up to the gap within rounding; "
                         "sum_error is before rounding)"),
        },
        "neutralisation": {
            "enabled": bool(neutralise),
            "removed": ("term: removed from the table; column of a points table: every term reading it "
                        "removed; column of another rule: set to its population mean / most common value"),
            "equalised": ("per protected attribute, the input's distribution within every group mapped "
                          "onto the reference group's: numeric by quantile mapping (rank within group, "
                          "ties broken at random, (rank + 1/2) / n -> reference empirical quantile); "
                          "categorical by the fewest reassignments (each group keeps its categories up to "
                          "the reference shares, the surplus chosen at random moves to the categories "
                          "below target); seeded"),
            "impact_ratio": "attainment rate / highest rate among groups of at least min_group_size people",
            "notable_change": notable_change,
            "published": (f"an impact ratio only when both its cells (the group's favourable count of its size "
                          f"and the most favoured group's) are publishable: neither the count nor its "
                          f"complement is small (0 < k < {disclosure_threshold}); before and after checked "
                          "separately; after also only when neither the group nor the most favoured group has "
                          f"1 to {disclosure_threshold - 1} people whose attainment of the tier changes; "
                          "change and sentences only when both are published; ratios and changes rounded "
                          "to 3 decimals"),
        },
        "redundant_encoding": {
            "score": "final score through the same one-input histogram classifier as the association AUC",
            "inputs": ("HistGradientBoostingClassifier(max_iter=100, learning_rate=0.2, max_bins=63, "
                       "early_stopping=True (10% validation split, 10 rounds without improvement), "
                       f"random_state={prep.seed}, categorical columns native, one thread) on every column "
                       "the rule reads"),
            "folds": "the association's subsample and folds",
        },
        "pushed_out": {
            "top_proxies": (f"up to {TOP_PROXIES} inputs with the highest proxy strength for the entry's "
                            "attributes (inputs that read the attribute itself are not proxies) that push "
                            "the group in the direction of its gap: gap_share > 0, or, where gap_share is not "
                            "available, mean_gap_share > 0; a term and a column it reads are not both listed"),
            "gap_share": ("tier-specific: (impact ratio after - impact ratio before) / (1 - impact ratio "
                          "before) for the entry's group and tier (against the most favoured group, on final "
                          "scores), where 'after' has the input's distribution within every group of the "
                          "entry's grouping (an intersection's groups for an intersection) mapped onto its "
                          "reference group's, as in the 'equalised' neutralisation; the share of the gap to "
                          "parity that equalising the input closes (shares of several inputs need not add up "
                          "to 1). None when either ratio is not published (two-cell rule)"
                          if neutralise else "not computed (neutralise=False): always None"),
            "mean_gap_share": ("the input's share of the mean own-score gap (no network term) between the "
                               "entry's group and its comparison (most favoured) group, from the gap "
                               "decomposition; a mean-score quantity, which need not match a tier's "
                               "attainment gap (e.g. a top-1% tier); None when either group's means are not "
                               "published"),
        },
        "mechanism": {
            "vocabulary": ["protected", "proxy", "indirect", "observed"],
            "combinable_with": "network",
            "joiner": "+",
            "protected": ("the rule reads the protected attribute itself: a column the rule reads (or a term "
                          "reads) is one of the entry's attributes; '+proxy' is added when a flagged proxy "
                          f"also carries at least {MOST_OF_GAP:.0%} of the gap ('protected+proxy')"),
            "proxy": (f"the rule does not read the attribute and a flagged proxy carries at least "
                      f"{MOST_OF_GAP:.0%} of the gap (its gap_share; its mean_gap_share where gap_share "
                      "is not available)"),
            "indirect": ("the rule does not read the attribute and no flagged proxy carries half the gap: the "
                         "gap is produced by the rule's terms through inputs correlated with the attribute, "
                         "without a single dominant proxy"),
            "observed": ("an observed score (only its outputs are known, e.g. released deciles): the "
                         "rule's inputs are unknown, so no proxy is named and how it produces the gap "
                         "cannot be told"),
            "network": ("added by the network (contagion) family: '+network' when the friends term widens "
                        "the gap materially, 'network' alone when it causes it"),
            "replaces": ("the impact family's provisional 'direct'; entries are annotated by this family "
                         "before the network family"),
        },
        "sampling": {
            "cv_max_rows": cv_max_rows,
            "cv_subsample": (f"stratified by the attribute, without replacement; each group keeps at least "
                             f"min(its size, {MIN_ROWS_PER_CLASS}) rows"),
            "per_attribute": sampling,
            "influence": "all rows; one seeded permutation per input",
            "shapley_samples": None if exact else shapley_samples,
        },
    }


def _ranking(assoc: list[dict], infl: list[dict], epsilon: float, delta: float) -> list[dict]:
    by_input = {(r["kind"], r["feature"]): r for r in infl}
    rows = []
    for a in assoc:
        i = by_input.get((a["kind"], a["feature"]), {})
        assoc_v, infl_v = a["association"], i.get("influence")
        strength = (float(np.sqrt(assoc_v * infl_v)) if assoc_v is not None and infl_v is not None else None)
        rows.append({
            "feature": a["feature"], "kind": a["kind"], "label": a["label"], "attribute": a["attribute"],
            "association": assoc_v, "auc": a["auc"], "nmi": a["nmi"], "eta": a["eta"],
            "cramers_v": a["cramers_v"], "influence": infl_v, "variance_share": i.get("variance_share"),
            "mean_abs_change": i.get("mean_abs_change"), "proxy_strength": fnum(strength),
            "proxy": bool(strength is not None and assoc_v >= epsilon and infl_v >= delta and not a["direct"]),
            "direct": a["direct"],
        })
    rows.sort(key=lambda r: (r["proxy_strength"] is None, -(r["proxy_strength"] or 0.0), r["feature"],
                             r["kind"], r["attribute"]))
    return rows


def _overlaps(prep: Prepared) -> dict:
    """For points tables: ``"column:c"`` <-> ``"term:t"`` when term ``t`` reads column ``c`` (same quantity, in part)."""
    out: dict[str, set[str]] = {}
    if not prep.additive:
        return out
    for inp in prep.inputs:
        if inp.kind == "term":
            for c in inp.columns:
                out.setdefault(f"term:{inp.name}", set()).add(f"column:{c}")
                out.setdefault(f"column:{c}", set()).add(f"term:{inp.name}")
    return out


def proxy_analysis(
    rule,
    people: pd.DataFrame,
    groupings_or_protected,
    *,
    graph=None,
    reference: Mapping[str, Any] | None = None,
    seed: int = 0,
    cv_folds: int = 5,
    cv_max_rows: int = 50_000,
    intersections: int = 2,
    min_group_size: int = 30,
    disclosure_threshold: int = 10,
    shapley_samples: int = 500,
    epsilon: float = EPSILON,
    delta: float = DELTA,
    notable_change: float = 0.05,
    max_notable: int = 100,
    neutralise: bool = True,
    decomposition_method: str = "auto",
    scores=None,
) -> ProxyResult:
    """The whole proxy analysis: association, influence, proxy strength, decomposition, neutralisation.

    **Proxy strength** (ranking): ``proxy_strength = sqrt(association * influence)``,
    the geometric mean of

    * ``association = max(0, 2 * AUC - 1)``, the Gini coefficient of the
      cross-validated AUC of predicting the attribute from the input alone
      (:func:`association`), and
    * ``influence = E[(S(x) - S(x with the input drawn independently))^2] / (2 Var(S))``
      on [0, 1] (:func:`influence`).

    An entry is flagged ``proxy`` when ``association >= epsilon`` and
    ``influence >= delta`` (defaults 0.2, i.e. AUC >= 0.6, and 0.05), as in the
    (epsilon, delta)-proxy use of Datta et al., "Proxy Non-Discrimination in
    Data-Driven Systems" (2017), and the input does not read the attribute
    itself (that is direct use, flagged ``direct``).  Ranking: strongest first,
    ties broken by feature, kind and attribute names.

    Parameters
    ----------
    rule : Rule or built-in rule name
    people : DataFrame
    groupings_or_protected : list of column names or of :class:`audit.Grouping`
    graph : Graph, optional
        Used for final scores (network term) in the neutralisation and the
        redundant encoding.
    reference : mapping attribute -> value, optional
        Reference group per attribute (default: the largest group).
    seed : int
        Seeds every random step; the same input gives the same result.
    cv_folds, cv_max_rows : int
        Cross-validation folds and the size of the stratified subsample used for
        every cross-validated AUC (recorded in ``methods.sampling``).
    intersections : int
        Largest intersection audited when ``groupings_or_protected`` are names.
    min_group_size, disclosure_threshold : int
        Groups smaller than ``min_group_size`` never set the most favoured rate
        nor get a sentence; counts below ``disclosure_threshold`` are suppressed.
    shapley_samples : int
        Sampling units per group for Shapley decompositions (non-additive rules).
    epsilon, delta : float
        Thresholds of the ``proxy`` flag.
    notable_change : float
        Smallest change in an impact ratio that gets a sentence.
    neutralise : bool
        Run the neutralisation (the slowest part on large populations).
    decomposition_method : {"auto", "exact", "shapley"}
    scores : ScoreSet, optional
        Precomputed own/final scores (from an :class:`~audit._run.AuditContext`).

    Returns
    -------
    ProxyResult

    Examples
    --------
    >>> import audit
    >>> from audit.proxy import proxy_analysis
    >>> people, _ = audit.generate_sesame(3000, seed=1)
    >>> res = proxy_analysis("sesame", people, ["gender", "ethnicity"], seed=0)
    >>> [(r["feature"], r["kind"], r["attribute"]) for r in res.ranking if r["proxy"]][:2]
    [('video_game_hours', 'column', 'gender'), ('video_games', 'term', 'gender')]
    >>> sorted(res.to_dict())[:4]
    ['decomposition', 'influence', 'methods', 'neutralisation']
    """
    prep = prepare(rule, people, groupings_or_protected, graph=_graph(graph, people), reference=reference,
                   seed=seed, intersections=intersections, scores=scores)
    return _analyse(prep, cv_folds=cv_folds, cv_max_rows=cv_max_rows, min_group_size=min_group_size,
                    disclosure_threshold=disclosure_threshold, shapley_samples=shapley_samples,
                    epsilon=epsilon, delta=delta, notable_change=notable_change, max_notable=max_notable,
                    neutralise=neutralise, decomposition_method=decomposition_method)


def _analyse(prep: Prepared, *, cv_folds, cv_max_rows, min_group_size, disclosure_threshold, shapley_samples,
             epsilon, delta, notable_change, max_notable, neutralise, decomposition_method) -> ProxyResult:
    notes = list(prep.notes)
    status = "ok"
    assoc = association_records(prep, cv_folds=cv_folds, cv_max_rows=cv_max_rows)
    infl = influence_records(prep)
    ranking = _ranking(assoc, infl, epsilon, delta)
    decomposition, shares, neutral, notable, effects = [], {}, [], [], {}
    if prep.rule.kind == "observed":
        status = "partial"
        notes.append("observed outputs only: the rule's inputs are unknown, so there is no proxy ranking, "
                     "influence, gap decomposition or neutralisation; the score is not its own proxy "
                     "(pushed-out groups get the mechanism 'observed')")
    else:
        decomposition, shares = decomposition_records(prep, method=decomposition_method,
                                                      shapley_samples=shapley_samples,
                                                      disclosure_threshold=disclosure_threshold,
                                                      min_group_size=min_group_size)
        if neutralise:
            neutral, notable = neutralisation_records(prep, min_group_size=min_group_size,
                                                      disclosure_threshold=disclosure_threshold,
                                                      notable_change=notable_change, max_notable=max_notable,
                                                      effects=effects)
        else:
            notes.append("neutralisation was not run (neutralise=False)")
    encoding = encoding_records(prep, cv_folds=cv_folds, cv_max_rows=cv_max_rows)
    if any(d["sampled"] for d in (cv_design(prep, a, cv_folds, cv_max_rows) for a in prep.attributes)):
        notes.append(f"cross-validated AUCs use a stratified subsample of at most {cv_max_rows:,} rows "
                     "(methods.sampling)")
    methods = _methods(prep, cv_folds=cv_folds, cv_max_rows=cv_max_rows, shapley_samples=shapley_samples,
                       epsilon=epsilon, delta=delta, notable_change=notable_change,
                       decomposition_method=decomposition_method, neutralise=neutralise,
                       min_group_size=min_group_size, disclosure_threshold=disclosure_threshold)
    reads = set(prep.rule.features)
    for inp in prep.inputs:
        if inp.read:
            reads.update(inp.columns)
    index = {tuple(g.attributes): (g.key, [tuple(v) for v in g.values])
             for g in [*prep.singles.values(), *prep.groupings]}
    return ProxyResult(status=status, methods=methods, ranking=ranking, influence=infl,
                       decomposition=decomposition, neutralisation=neutral, notable_changes=notable,
                       redundant_encoding=encoding, notes=notes, _gap_shares=shares, _overlaps=_overlaps(prep),
                       _reads=frozenset(reads), _tier_effects=effects, _groupings=index,
                       _tiers=tuple(t.name for t in prep.rule.tiers), _observed=prep.rule.kind == "observed")


_OPTIONS = ("cv_folds", "cv_max_rows", "shapley_samples", "epsilon", "delta", "notable_change", "max_notable",
            "neutralise", "decomposition_method")


def audit_family(ctx, **options) -> ProxyResult:
    """Run hook for :func:`audit.run`: the proxy analysis on the run's context.

    Uses the context's rule, population, groupings, graph, reference, seed,
    minimum group size, disclosure threshold and precomputed scores.  Options
    (``--option proxy.NAME=VALUE`` or ``options={"proxy": {...}}``):
    ``cv_folds``, ``cv_max_rows``, ``shapley_samples``, ``epsilon``, ``delta``,
    ``notable_change``, ``max_notable``, ``neutralise``, ``decomposition_method``.
    """
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise AuditInputError(f"proxy: unknown option {unknown[0]!r} (allowed: {', '.join(_OPTIONS)})")
    kw: dict[str, Any] = {"cv_folds": 5, "cv_max_rows": 50_000, "shapley_samples": 500, "epsilon": EPSILON,
                          "delta": DELTA, "notable_change": 0.05, "max_notable": 100, "neutralise": True,
                          "decomposition_method": "auto"}
    kw.update(options)
    # Only the audited tiers: one fact per tier, compared on its favourable side (ctx.outcomes).
    rule = ctx.rule.with_tiers(ctx.outcomes.audited_tiers)
    prep = prepare(rule, ctx.frame, ctx.groupings, graph=ctx.graph, reference=ctx.reference, seed=ctx.seed,
                   intersections=ctx.intersections, scores=ctx.scores)
    return _analyse(prep, min_group_size=ctx.min_group_size, disclosure_threshold=ctx.disclosure_threshold,
                    **kw)
