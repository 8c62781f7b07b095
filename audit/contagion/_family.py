"""The composite audit and the run hook."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit.contagion._amplification import DECOMPOSITION, _amplification
from audit.contagion._common import DEFAULT_DISCLOSURE, DEFAULT_MIN_GROUP, QUANTILE_KEYS
from audit.contagion._graphstats import graph_statistics
from audit.contagion._prepare import prepare
from audit.contagion._result import SECTIONS, ContagionResult
from audit.contagion._spillover import NO_NETWORK, _shock, _spillover
from audit.contagion._unfriending import (
    DEFAULT_COMPLIANCE,
    DEFAULT_ROUNDS,
    SEMANTICS,
    _unfriending,
)
from audit.graph import Graph
from audit.groups import Grouping

__all__ = ["audit_family", "network_contagion", "METHODS"]

NO_GRAPH = "no graph: no friendship graph was given"

METHODS = {
    "fixed_point": (
        "final = clip((1 - w) * own + w * mean of friends' final scores, range); people without friends keep "
        "their own score. Solved by fixed-point iteration from the own scores (sparse mat-vec per step); the "
        "update is a contraction with factor w in the sup norm, so iteration stops once the proven bound "
        "w / (1 - w) * max|s_k - s_(k-1)| on every score's error is at most the stated tolerance. With "
        "method 'linear', the unclamped system (D - wA) s = (1 - w) D own is solved by conjugate gradients "
        "and verified by one clamped update (bound |T(s) - s| / (1 - w)); iteration continues if the clamp "
        "binds."),
    "spillover": (
        "Per person: final minus own-behaviour score (the shift). Per group: mean own and final score, mean "
        "shift, shift quantiles p10..p90 (groups of at least min_group_size people), shares pulled down / up "
        "by more than the solver's error bound."),
    "guilt_by_association": (
        "Share of the group whose own score earns a tier's favourable outcome (attaining it; for an adverse "
        "tier, staying out of it) but whose final score does not; lifted_by_association is the reverse. "
        "Ranked tiers (top-k, top-fraction) are cut separately on own and on final scores."),
    "graph_statistics": (
        "Per group: people, mean degree, degree quantiles and histogram, isolates, share in the giant (largest) "
        "connected component (scipy.sparse.csgraph.connected_components), share of tie-ends to friends in "
        "the same / another group (friends whose group is unknown left out)."),
    "assortativity": (
        "Newman's attribute assortativity r = (sum_k e_kk - sum_k a_k^2) / (1 - sum_k a_k^2) from the mixing "
        "matrix e counting each undirected tie in both directions, as networkx's "
        "attribute_assortativity_coefficient does; people whose attribute is missing are left out (the "
        "subgraph of people with a known value)."),
    "coleman_index": (
        "Coleman's homophily index per group: H = share of the group's ties that stay in the group, w = the "
        "group's share of the people with a known value; (H - w) / (1 - w) if H >= w, else (H - w) / w. "
        "0 = random mixing, 1 = only within-group ties, -1 = none."),
    "shock": (
        "A seed set (a rule expression evaluated safely, a mask, or a random draw) takes a deduction on its "
        "own score (clamped to the range); the network term is re-solved and everyone else is compared with "
        "their final score before the shock: 'fell' counts people who lose a tier's favourable outcome, by "
        "hop distance from the nearest seed (1, 2, 3+, or unreachable = another component) and by group."),
    "unfriending": SEMANTICS + (
        " Per round and group: mean degree, ties lost that round (tie-ends lost by the group's members), "
        "isolates, share in the giant component, share of ties to other groups, Coleman's index, tier "
        "attainment and impact ratios (vs the most favoured group); per round and grouping: assortativity. "
        "Defaults: 5 rounds, compliance 0.2, margin 10% of the rule's score range (a clearly lower scorer; "
        "for a rule without a range, 10% of the spread between the 5th and 95th percentile of the scores). "
        "sensitivity: the final round under a milder (compliance 0.1, twice the default margin) and a "
        "stronger setting (compliance 0.5, margin 0: any lower scorer), with the same random draws -- share "
        "of ties kept and of people without friends, overall and per single protected attribute."),
    "amplification": DECOMPOSITION,
    "rewiring": (
        "Degree-preserving randomisation by double-edge swaps in vectorised batches: disjoint random pairs of "
        "ties (a, b), (c, d) become (a, d), (c, b) (or (a, c), (d, b)); swaps creating a self-loop, an "
        "existing tie or a tie proposed twice in the batch are rejected. swaps_per_edge x ties swaps are "
        "attempted; the achieved number is reported. Every node keeps its degree exactly."),
    "impact_ratio": (
        "Rate of a tier's favourable outcome in the group over that of the most favoured group (highest rate "
        "among groups of at least min_group_size people), as in the impact family."),
    "disclosure": (
        "Only group aggregates are reported, under the one disclosure rule every output uses "
        "(audit.disclosure): a count k is small when 0 < k < threshold, and a cell of k people (or ties) out "
        "of n is published only when neither k nor n - k is small; zero counts are shown. Every share, "
        "rate, ratio or effect derived from a cell that cannot be published is null, with suppressed: true. "
        "An impact ratio needs two publishable cells: the group's and the most favoured group's. Groups "
        "below the threshold are shown without numbers; means and quantiles are given only for groups of "
        "at least min_group_size people. Where parts add up to a published total (the hop bands of a "
        "group, the bins of a degree histogram), further parts are suppressed so that no hidden count can "
        "be recovered by subtraction. Differencing nested tables (a group and its sub-groups) can still "
        "narrow a suppressed count; a larger threshold or fewer intersections avoid it."),
    "randomness": (
        "Every random step draws from numpy.random.default_rng([seed, stream]) with one stream per section "
        "(shock seeds, unfriending compliance, rewiring), so the same input and seed give the same output."),
    "quantiles": list(QUANTILE_KEYS),
}

_ALL = tuple(SECTIONS)


def _no_real_name_default(people: pd.DataFrame, drop: bool | None, column: str) -> tuple[bool, str | None]:
    if drop is None:
        if column in people.columns:
            return True, None
        return False, f"the real-name rule was not applied: column {column!r} is absent"
    return bool(drop), None


def network_contagion(
    rule,
    people: pd.DataFrame,
    graph: Graph | None,
    groupings: Grouping | Sequence[Grouping],
    *,
    seed: int = 0,
    sections: Sequence[str] = _ALL,
    seeds: str | np.ndarray | None = None,
    fraction: float | None = None,
    deduction: float = 100.0,
    rounds: int = DEFAULT_ROUNDS,
    compliance: float = DEFAULT_COMPLIANCE,
    margin: float | None = None,
    drop_no_real_name: bool | None = None,
    real_name_column: str = "real_name",
    swaps_per_edge: float = 10.0,
    tolerance: float | None = None,
    method: str = "iterate",
    min_group_size: int = DEFAULT_MIN_GROUP,
    disclosure_threshold: int = DEFAULT_DISCLOSURE,
    progress: bool = True,
    sensitivity: bool = True,
    own: np.ndarray | None = None,
) -> ContagionResult:
    """Run the whole network-contagion audit: graph statistics, spillover, shock, unfriending, amplification.

    Parameters
    ----------
    rule : Rule or built-in rule name
    people : DataFrame
        One row per graph node.
    graph : Graph or None
        Without a graph nothing can run; the result says so.
    groupings : Grouping or list of Grouping
    seed : int
        Seeds every random step (shock seeds, compliance draws, rewiring).
    sections : sequence of str
        Any of ``graph_statistics``, ``spillover``, ``shock``, ``unfriending``,
        ``amplification`` (default all).
    seeds, fraction, deduction
        The shock (see :func:`shock`).
    rounds, compliance, margin, drop_no_real_name, real_name_column, sensitivity
        Unfriending (see :func:`unfriending`): by default 5 rounds at
        compliance 0.2 with a margin of 10% of the rule's score range -- a
        moderate, illustrative scenario, stated in ``methods["unfriending"]``
        and ``settings["unfriending"]``, with a sensitivity summary over other
        settings.  ``drop_no_real_name=None`` (the default here) applies the
        real-name rule only when the column exists.
    swaps_per_edge : float
        Rewiring effort for the amplification section.
    tolerance, method
        The fixed-point solver (see :func:`spillover`).
    own : ndarray, optional
        Own-behaviour scores when already computed.

    Returns
    -------
    ContagionResult
        Sections that cannot run say why: without a network term only the
        graph statistics and unfriending (which changes the graph, not the
        scores) run.

    Examples
    --------
    >>> import audit, json
    >>> from audit.contagion import network_contagion
    >>> people, edges = audit.generate_sesame(2000, seed=3)
    >>> g = audit.load_graph(edges, people["id"])
    >>> res = network_contagion("sesame", people, g, audit.build_groupings(people, ["ethnicity"]), rounds=2,
    ...                         progress=False)
    >>> d = res.to_dict()
    >>> d["status"], sorted(d["assortativity"]), d["spillover"][0]["attributes"]
    ('ran', ['ethnicity'], ['ethnicity'])
    >>> _ = json.dumps(d, allow_nan=False)
    """
    from audit.rules import load_rule

    rule = load_rule(rule)
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise AuditInputError(f"unknown contagion section {unknown[0]!r} (choose from {', '.join(SECTIONS)})")
    t, m = int(disclosure_threshold), int(min_group_size)
    settings = {"seed": int(seed), "sections": list(sections), "tolerance": tolerance, "method": method,
                "min_group_size": m, "disclosure_threshold": t}
    if graph is None:
        return ContagionResult.not_run(NO_GRAPH, methods=METHODS, settings=settings, disclosure_threshold=t,
                                       min_group_size=m)
    prep = prepare(rule, people, graph, groupings, tolerance=tolerance, method=method, own=own)
    settings["tolerance"] = prep.tolerance
    methods = dict(METHODS)
    skipped = {s: "not requested" for s in SECTIONS if s not in sections}
    notes = []
    gs = sp = sh = uf = am = None
    if "graph_statistics" in sections:
        gs = graph_statistics(graph, prep.groupings, min_group_size=m, disclosure_threshold=t)
    if "spillover" in sections:
        sp = _spillover(prep, min_group_size=m, disclosure_threshold=t)
    if "shock" in sections:
        sh = _shock(prep, people, seeds=seeds, fraction=fraction, deduction=deduction, seed=seed,
                    disclosure_threshold=t, min_group_size=m)
    if "unfriending" in sections:
        drop, note = _no_real_name_default(people, drop_no_real_name, real_name_column)
        if note:
            notes.append(note)
        uf = _unfriending(prep, people, rounds=rounds, compliance=compliance, margin=margin,
                          drop_no_real_name=drop, real_name_column=real_name_column, seed=seed,
                          min_group_size=m, disclosure_threshold=t, progress=progress, sensitivity=sensitivity)
        # The scenario drives the result: say it first, in the methods and in the settings.
        st = uf.settings
        methods["unfriending"] = f"{st['scenario']} {methods['unfriending']}"
        settings["unfriending"] = {k: st[k] for k in ("scenario", "rounds", "compliance", "margin", "margin_basis",
                                                      "drop_no_real_name")}
    if "amplification" in sections:
        am = _amplification(prep, seed=seed, swaps_per_edge=swaps_per_edge, min_group_size=m,
                            disclosure_threshold=t)
    reason = None
    if not prep.has_network:
        reason = (f"{NO_NETWORK}: graph statistics and unfriending (graph only) ran; spillover, shock and "
                  f"amplification need a network term")
    settings["notes"] = notes
    return ContagionResult("ran", reason, methods, settings, tuple(t_.name for t_ in rule.tiers),
                           gs, sp, sh, uf, am, skipped, t, m)


_OPTIONS = {"sections", "seeds", "fraction", "deduction", "rounds", "compliance", "margin", "drop_no_real_name",
            "real_name_column", "swaps_per_edge", "tolerance", "method", "progress", "sensitivity"}


def audit_family(ctx, **options) -> ContagionResult:
    """The run hook: ``audit.run(..., families=["contagion"], options={"contagion": {...}})``.

    Options are the keyword arguments of :func:`network_contagion` (``rounds``,
    ``compliance``, ``seeds``, ...); the rule, people, graph, groupings, seed,
    minimum group size and disclosure threshold come from the audit context.
    Without a graph the result says "not run: no graph".

    Examples
    --------
    >>> import audit
    >>> people, edges = audit.generate_sesame(1500, seed=1)
    >>> report = audit.run("sesame", people, protected=["ethnicity"], graph=edges, families=["contagion"],
    ...                    options={"contagion": {"rounds": 1, "progress": False}})
    >>> doc = report.to_dict()["contagion"]
    >>> doc["status"], doc["sections"]["spillover"]["status"], "ethnicity" in doc["assortativity"]
    ('ran', 'ran', True)
    >>> audit.run("sesame", people, protected=["ethnicity"]).to_dict()["contagion"]["reason"]
    'no friendship graph was given'
    >>> audit.run("sesame", people, protected=["ethnicity"], families=["contagion"])
    Traceback (most recent call last):
    ...
    audit._errors.AuditInputError: the contagion family needs a friendship graph (--graph): none was given
    """
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise AuditInputError(f"contagion option {unknown[0]!r} is not known (options: {', '.join(sorted(_OPTIONS))})")
    if isinstance(options.get("sections"), str):
        options["sections"] = [s.strip() for s in options["sections"].split(",") if s.strip()]
    m, t = int(ctx.min_group_size), int(ctx.disclosure_threshold)
    if ctx.graph is None:
        return ContagionResult.not_run(NO_GRAPH, methods=METHODS, settings={"seed": int(ctx.seed)},
                                       disclosure_threshold=t, min_group_size=m)
    scores = getattr(ctx, "scores", None)
    own = None if scores is None else np.asarray(scores.own, dtype=np.float64)
    # Only the audited tiers: one fact per tier, compared on its favourable side (ctx.outcomes).
    rule = ctx.rule.with_tiers(ctx.outcomes.audited_tiers)
    return network_contagion(rule, ctx.frame, ctx.graph, ctx.groupings, seed=int(ctx.seed),
                             min_group_size=m, disclosure_threshold=t, own=own, **options)
