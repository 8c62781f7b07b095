"""``audit.run``: apply a rule to a population (and graph) and run the audit families."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit._errors import AuditInputError, DataQualityWarning
from audit._limits import check_groupings
from audit._progress import session, step
from audit.data import Population, load_population
from audit.disclosure import Pooling, check_identifying, pool_rare
from audit.findings import Findings
from audit.graph import Graph, load_graph
from audit.groups import Grouping, bin_protected, build_groupings
from audit.quality import DataQuality, data_quality
from audit.rates import Outcomes, tier_outcomes
from audit.rules import Rule, ScoreSet, load_rule
from audit.settings import FAMILIES, Settings, resolve_settings

__all__ = ["AuditContext", "FAMILY_REGISTRY", "Family", "prepare_audit", "run"]


@dataclass(frozen=True, eq=False)
class AuditContext:
    """Everything the audit families share for one run (built once, read by each family).

    Attributes
    ----------
    rule : Rule
    population : Population
    graph : Graph or None
    protected : tuple of str
    label : str or None
        The outcome label column, if any; ``labels`` holds it as 0/1 floats (NaN: unknown).
    groupings : tuple of Grouping
        The protected attributes (numeric ones binned) and their intersections.
    scores : ScoreSet
        Own and final scores.
    outcomes : Outcomes
        Tier directions, aliases and attainment (:func:`audit.rates.tier_outcomes`).
    settings : Settings
    bins : dict
        Per binned protected attribute, a sentence naming its bins.
    pooling : Pooling
        Rare categories pooled or withheld from every table (:func:`audit.disclosure.pool_rare`).
    design_effect : ndarray or None
        Per tier, the variance inflation of group rates when the friends term couples outcomes
        (:func:`audit.mechanisms.design_effects`); None without a network term and a graph.
    protected_read_by_rule : tuple of str
    command, synthetic : str or None
    quality : DataQuality or None
        Per term of the rule: missing inputs, values outside the declared set, text literals the data
        hold only up to case or spaces, terms that match nobody (:func:`audit.quality.data_quality`).
    """

    rule: Rule
    population: Population
    graph: Graph | None
    protected: tuple[str, ...]
    label: str | None
    labels: np.ndarray | None
    groupings: tuple[Grouping, ...]
    scores: ScoreSet
    outcomes: Outcomes
    settings: Settings
    bins: Mapping[str, str] = field(default_factory=dict)
    pooling: Pooling | None = None
    design_effect: np.ndarray | None = None
    protected_read_by_rule: tuple[str, ...] = ()
    command: str | None = None
    synthetic: str | None = None
    quality: DataQuality | None = None

    @property
    def frame(self) -> pd.DataFrame:
        return self.population.frame

    @property
    def attainment(self) -> np.ndarray:
        return self.outcomes.attainment

    # The settings, read by name (families and the report use these).
    @property
    def min_group_size(self) -> int:
        return self.settings.min_group_size

    @property
    def disclosure_threshold(self) -> int:
        return self.settings.disclosure_threshold

    @property
    def alpha(self) -> float:
        return self.settings.alpha

    @property
    def seed(self) -> int:
        return self.settings.seed

    @property
    def reference(self) -> dict | None:
        return dict(self.settings.reference) or None

    @property
    def intersections(self) -> int:
        return self.settings.intersections

    @property
    def families(self) -> list[str]:
        return list(self.settings.families)


@dataclass(frozen=True)
class Family:
    """An audit family: its name, its hook ``run(ctx, **options)`` and what it needs."""

    name: str
    load: Callable[[], Callable[..., Any]]
    needs_graph: bool = False
    description: str = ""

    def hook(self) -> Callable[..., Any]:
        return self.load()

    def options(self) -> tuple[str, ...] | None:
        """The keyword options the hook accepts; None when the hook checks its own options."""
        params = inspect.signature(self.hook()).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return None
        return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def _impact():
    from audit.impact import audit_family
    return audit_family


def _proxy():
    from audit.proxy import audit_family
    return audit_family


def _contagion():
    from audit.contagion import audit_family
    return audit_family


#: The audit families in data-flow order (an explicit registry, not import-by-name).
FAMILY_REGISTRY: dict[str, Family] = {
    "impact": Family("impact", _impact, description="disparate impact"),
    "proxy": Family("proxy", _proxy, description="proxy discrimination"),
    "contagion": Family("contagion", _contagion, needs_graph=True, description="network contagion"),
}
assert tuple(FAMILY_REGISTRY) == FAMILIES


def _resolve_protected(protected: str | Sequence[str]) -> list[str]:
    if isinstance(protected, str):
        protected = [p.strip() for p in protected.split(",")]
    out = [str(p) for p in protected if p]
    if not out:
        raise AuditInputError("no protected attribute given: pass at least one column with --protected")
    return list(dict.fromkeys(out))


def _labels(frame: pd.DataFrame, label: str | None, source: str) -> np.ndarray | None:
    if label is None:
        return None
    if label not in frame.columns:
        raise AuditInputError(f"{source}: label column {label!r} is missing")
    col = frame[label]
    values = pd.to_numeric(col, errors="coerce")
    bad = col.notna() & (values.isna() | ~values.isin([0, 1]))
    if bad.any():
        raise AuditInputError(
            f"{source}: label column {label!r} must be 0/1 (found {col[bad].iloc[0]!r}); missing values are allowed")
    return values.to_numpy(dtype=float)


def _check_options(options: Mapping[str, Mapping[str, Any]] | None, chosen: Sequence[str]) -> dict:
    options = dict(options or {})
    for name, opts in options.items():
        if name not in FAMILY_REGISTRY:
            raise AuditInputError(f"options given for unknown audit family {name!r} "
                                  f"(choose from {', '.join(FAMILY_REGISTRY)})")
        if not isinstance(opts, Mapping):
            raise AuditInputError(f"options for {name!r} must be a mapping of option names to values")
        allowed = FAMILY_REGISTRY[name].options()
        for key in opts:
            if allowed is not None and key not in allowed:
                raise AuditInputError(f"unknown option {key!r} for the {name} family "
                                      f"(choose from {', '.join(allowed) or 'none'})")
    return options


def prepare_audit(
    rule: Rule | str | Path,
    people: pd.DataFrame | str | Path,
    protected: str | Sequence[str],
    graph: pd.DataFrame | str | Path | Graph | None = None,
    label: str | None = None,
    seed: int | None = None,
    *,
    settings: Settings | None = None,
    id_col: str = "id",
    reference: Mapping[str, Any] | None = None,
    intersections: int | None = None,
    min_group_size: int | None = None,
    disclosure_threshold: int | None = None,
    alpha: float | None = None,
    threshold: float | None = None,
    bins: Mapping[str, Sequence[float] | int] | None = None,
    families: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    command: str | None = None,
    synthetic: str | None = None,
):
    """Validate the inputs and build the :class:`AuditContext` every family reads (no family runs).

    Takes the parameters of :func:`run`; ``audit.run`` is ``prepare_audit`` followed by the families.

    Returns
    -------
    AuditContext

    Examples
    --------
    >>> import audit
    >>> people, edges = audit.generate_sesame(1000, seed=1)
    >>> ctx = audit.prepare_audit("sesame", people, protected=["ethnicity"], graph=edges)
    >>> ctx.settings.threshold, [ctx.rule.tiers[j].name for j in ctx.outcomes.audited][:1]
    (0.8, ['Just Spend loan'])
    """
    explicit = families is not None
    settings = resolve_settings(
        settings, seed=seed, min_group_size=min_group_size, disclosure_threshold=disclosure_threshold,
        alpha=alpha, threshold=threshold, intersections=intersections,
        reference=None if reference is None else {str(k): v for k, v in dict(reference).items()},
        bins=None if bins is None else dict(bins),
        families=None if families is None else tuple(families))
    rule = load_rule(rule)
    protected = _resolve_protected(protected)
    pop: Population = load_population(people, id_col=id_col)
    frame = pop.frame
    for col in protected:
        if col not in frame.columns:
            raise AuditInputError(f"{pop.source}: protected column {col!r} is missing")
        if frame[col].notna().sum() == 0:
            raise AuditInputError(f"{pop.source}: protected column {col!r} has no values (all missing)")
    if label is not None and label in protected:
        raise AuditInputError(f"label column {label!r} is also listed as protected")
    labels = _labels(frame, label, pop.source)
    if rule.kind == "callable" and not rule.features:
        skip = set(protected) | {label, pop.id_col}
        rule = rule.with_features([c for c in frame.columns if c not in skip])
    overlap = tuple(sorted(set(rule.features) & set(protected)))
    rule.check_columns(frame, source=pop.source)
    g: Graph | None = None
    if graph is not None:
        if isinstance(graph, Graph):
            g = graph
            if g.n_nodes != pop.n:
                raise AuditInputError(f"graph has {g.n_nodes} nodes but the population has {pop.n} rows")
        else:
            if pop.id_col is None:
                raise AuditInputError(
                    f"{pop.source}: a graph needs an id column; column {id_col!r} is missing (set --id-col)")
            g = load_graph(graph, pop.ids, id_name=pop.id_col)
    chosen = list(settings.families)
    for name in chosen:
        if FAMILY_REGISTRY[name].needs_graph and g is None:
            if explicit:
                raise AuditInputError(f"the {name} family needs a friendship graph (--graph): none was given")
    options = _check_options(options, chosen)
    scores = rule.scores(frame, g)
    outcomes = tier_outcomes(rule.tiers, scores.final, attainment=rule.attainment(scores.final),
                             directions=rule.tier_directions)
    # Disclosure control starts before any table: identifying attributes are refused, numbers binned, and
    # rare categories pooled or withheld (audit.disclosure), so a handful of people never hides a large group.
    check_identifying(frame, protected, pop.source)
    grouped, bin_notes = bin_protected(frame, protected, settings.bins)
    grouped, pooling = pool_rare(grouped, protected, min_group_size=settings.min_group_size,
                                 disclosure_threshold=settings.disclosure_threshold)
    groupings = tuple(build_groupings(grouped, protected, max_order=settings.intersections))
    check_groupings(groupings, source=pop.source)
    ctx = AuditContext(
        rule=rule, population=pop, graph=g, protected=tuple(protected), label=label, labels=labels,
        groupings=groupings, scores=scores, outcomes=outcomes, settings=settings, bins=bin_notes, pooling=pooling,
        protected_read_by_rule=overlap, command=command, synthetic=synthetic or pop.synthetic,
        quality=data_quality(rule, frame, threshold=settings.disclosure_threshold),
    )
    for text in ctx.quality.warnings:
        warnings.warn(text, DataQualityWarning, stacklevel=3)
    if rule.network is not None and g is not None:
        from audit.mechanisms import design_effects

        ctx = replace(ctx, design_effect=design_effects(ctx, seed=settings.seed))
    return ctx


def run(
    rule: Rule | str | Path,
    people: pd.DataFrame | str | Path,
    protected: str | Sequence[str],
    graph: pd.DataFrame | str | Path | Graph | None = None,
    label: str | None = None,
    seed: int | None = None,
    *,
    settings: Settings | None = None,
    id_col: str = "id",
    reference: Mapping[str, Any] | None = None,
    intersections: int | None = None,
    min_group_size: int | None = None,
    disclosure_threshold: int | None = None,
    alpha: float | None = None,
    threshold: float | None = None,
    bins: Mapping[str, Sequence[float] | int] | None = None,
    families: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    command: str | None = None,
    synthetic: str | None = None,
    progress: str = "auto",
):
    """Audit a scoring rule on a population (and its social graph).

    Parameters
    ----------
    rule : Rule, built-in rule name or path to a YAML points table
    people : DataFrame or path to CSV/Parquet
        One row per person: the columns the rule reads and the protected attributes.
    protected : str or list of str
        Protected attribute columns (a comma-separated string is accepted).
        A numeric column with more than a handful of values is binned (see ``bins``).
    graph : DataFrame, path, Graph or None
        Friendship edge list (two id columns matching ``id_col``).
    label : str, optional
        0/1 outcome column (e.g. reoffending) for error-rate parity.
    seed : int, default 0
        Seeds every random step, so the same input gives the same report.
    settings : Settings, optional
        Every statistical setting at once; the keywords below override it.
    id_col : str, default "id"
    reference : mapping, optional
        Reference group per attribute, e.g. ``{"ethnicity": "majority"}``; default: each attribute's largest group.
    intersections : int, default 2
        Largest intersection of protected attributes to audit (1 = none).
    min_group_size : int, default 30
        Smaller groups are shown but never named in a finding.
    disclosure_threshold : int, default 10
        Counts below this are suppressed in every output.
    alpha : float, default 0.05
        False discovery rate of each verdict and 1 - confidence of intervals.
    threshold : float, default 0.8
        The screening line for "pushed out" (the four-fifths rule of thumb).
    bins : mapping, optional
        Cut points (or a number of quantile bins) per numeric protected attribute, e.g. ``{"age": [25, 45, 65]}``.
    families : sequence of {"impact", "proxy", "contagion"}, optional
        Default: all that can run.  Asking for one that cannot (contagion without a graph) is an error.
    options : mapping, optional
        Options per family, e.g. ``{"contagion": {"rounds": 5}}``; an unknown option is an error.
    command : str, optional
        The command line, recorded in the reproducibility block.
    synthetic : str, optional
        Say that the data are synthetic (and how they were made).  Frames from
        :func:`audit.generate_sesame` carry this already.
    progress : {"auto", "bar", "lines", "none"}, default "auto"
        How to show progress: each step is named, and long steps show progress inside them.  "auto" draws
        a bar on a terminal or in Jupyter and nothing elsewhere; "lines" writes a line per step to stderr.

    Returns
    -------
    Report

    Examples
    --------
    >>> import audit
    >>> people, edges = audit.generate_sesame(2000, seed=1)
    >>> report = audit.run("sesame", people, protected=["gender", "ethnicity"], graph=edges,
    ...                    families=["impact"])
    >>> report.to_dict()["rule"]["name"]
    'sesame'
    """
    from audit.report import build_report

    # The number of steps is known before the data are read, so the display can say "step 1 of 5".
    asked = [n for n in (families or FAMILY_REGISTRY) if n in FAMILY_REGISTRY]
    n_steps = 3 + sum(1 for n in asked if not (FAMILY_REGISTRY[n].needs_graph and graph is None))
    with session(n_steps, mode=progress, command_line=command is not None):
        with step("reading the data, scoring everyone"):
            ctx = prepare_audit(rule, people, protected, graph, label, seed, settings=settings, id_col=id_col,
                                reference=reference, intersections=intersections,
                                min_group_size=min_group_size, disclosure_threshold=disclosure_threshold,
                                alpha=alpha, threshold=threshold, bins=bins, families=families,
                                options=options, command=command, synthetic=synthetic)
        options = dict(options or {})
        results: dict[str, Any] = {}
        runnable = [n for n in ctx.settings.families
                    if not (FAMILY_REGISTRY[n].needs_graph and ctx.graph is None)]
        for name in runnable:
            with step(FAMILY_REGISTRY[name].description or name):
                results[name] = FAMILY_REGISTRY[name].hook()(ctx, **dict(options.get(name, {})))
        with step("mechanisms: attribution and sensitivity"):
            findings = annotate_findings(results, ctx)
        with step("report: disclosure checks and figures"):
            return build_report(ctx, results, findings)


def annotate_findings(results: Mapping[str, Any], ctx: AuditContext | None = None) -> Findings:
    """The impact family's findings, each with its attribution and the mechanism derived from it.

    The attribution (audit.mechanisms) needs the audit context; without it the findings come back as the
    impact family made them.
    """
    impact = results.get("impact")
    findings = impact.findings if impact is not None else Findings(())
    if ctx is None or not len(findings):
        return findings
    from audit.mechanisms import attribute_findings

    return attribute_findings(ctx, findings)
