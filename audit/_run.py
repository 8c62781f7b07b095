"""``audit.run``: apply a rule to a population (and graph) and run the audit families."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit._limits import check_groupings
from audit._progress import track
from audit.data import Population, load_population
from audit.graph import Graph, load_graph
from audit.groups import build_groupings
from audit.rules import Rule, load_rule

__all__ = ["run", "AuditContext"]

FAMILIES = ("impact", "proxy", "contagion")


class AuditContext:
    """Everything the audit families share for one run (built once, read by each family).

    Attributes: ``rule``, ``population``, ``graph`` (or None), ``protected``,
    ``label`` (column name or None), ``labels`` (0/1 array or None),
    ``groupings``, ``scores`` (:class:`audit.rules.ScoreSet`), ``attainment``
    (bool, n x tiers, on final scores), ``seed`` and the statistical settings.
    """

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    @property
    def frame(self) -> pd.DataFrame:
        return self.population.frame


def _resolve_protected(protected: str | Sequence[str]) -> list[str]:
    if isinstance(protected, str):
        protected = [p.strip() for p in protected.split(",")]
    out = [p for p in protected if p]
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


def run(
    rule: Rule | str | Path,
    people: pd.DataFrame | str | Path,
    protected: str | Sequence[str],
    graph: pd.DataFrame | str | Path | Graph | None = None,
    label: str | None = None,
    seed: int = 0,
    *,
    id_col: str = "id",
    reference: Mapping[str, Any] | None = None,
    intersections: int = 2,
    min_group_size: int = 30,
    disclosure_threshold: int = 10,
    alpha: float = 0.05,
    families: Sequence[str] = FAMILIES,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    command: str | None = None,
    synthetic: str | None = None,
):
    """Audit a scoring rule on a population (and its social graph).

    Parameters
    ----------
    rule : Rule, built-in rule name or path to a YAML points table
    people : DataFrame or path to CSV/Parquet
        One row per person: the columns the rule reads and the protected attributes.
    protected : str or list of str
        Protected attribute columns (a comma-separated string is accepted).
    graph : DataFrame, path, Graph or None
        Friendship edge list (two id columns matching ``id_col``).
    label : str, optional
        0/1 outcome column (e.g. reoffending) for error-rate parity.
    seed : int
        Seeds every random step (cross-validation folds, rewiring, unfriending,
        sampled Shapley values), so the same input gives the same report.
    id_col : str, default "id"
    reference : mapping, optional
        Reference group per attribute, e.g. ``{"ethnicity": "majority"}``;
        default: each attribute's largest group.
    intersections : int, default 2
        Largest intersection of protected attributes to audit (1 = none).
    min_group_size : int, default 30
        Smaller groups are shown but never named as pushed out.
    disclosure_threshold : int, default 10
        Counts below this are suppressed in every output.
    alpha : float, default 0.05
        False discovery rate for the Benjamini-Hochberg control and 1 - confidence of intervals.
    families : sequence of {"impact", "proxy", "contagion"}
    options : mapping, optional
        Extra keyword arguments per family, e.g. ``{"contagion": {"rounds": 5}}``.
    command : str, optional
        The command line, recorded in the reproducibility block.
    synthetic : str, optional
        Say that the data are synthetic (and how they were made), so the report
        states that it shows mechanisms, not facts about real groups.  Frames
        from :func:`audit.generate_sesame` carry this already.

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

    rule = load_rule(rule)
    protected = _resolve_protected(protected)
    pop: Population = load_population(people, id_col=id_col)
    frame = pop.frame
    for col in protected:
        if col not in frame.columns:
            raise AuditInputError(f"{pop.source}: protected column {col!r} is missing")
        if frame[col].notna().sum() == 0:
            raise AuditInputError(f"{pop.source}: protected column {col!r} has no values (all missing)")
    if not 0 <= int(seed) < 2**32:
        raise AuditInputError(f"seed must be between 0 and 2**32 - 1, got {seed}")
    if label is not None and label in protected:
        raise AuditInputError(f"label column {label!r} is also listed as protected")
    labels = _labels(frame, label, pop.source)
    if rule.kind == "callable" and not rule.features:
        skip = set(protected) | {label, pop.id_col}
        rule = rule.with_features([c for c in frame.columns if c not in skip])
    overlap = sorted(set(rule.features) & set(protected))
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
    for name in families:
        if name not in FAMILIES:
            raise AuditInputError(f"unknown audit family {name!r} (choose from {', '.join(FAMILIES)})")
    if not 1 <= disclosure_threshold <= min_group_size:
        raise AuditInputError("disclosure threshold must be at least 1 and at most the minimum group size")
    scores = rule.scores(frame, g)
    groupings = build_groupings(frame, protected, max_order=intersections)
    check_groupings(groupings, source=pop.source)
    ctx = AuditContext(
        rule=rule, population=pop, graph=g, protected=protected, label=label, labels=labels,
        groupings=groupings, scores=scores, attainment=rule.attainment(scores.final), seed=int(seed),
        reference=dict(reference) if reference else None, intersections=intersections,
        min_group_size=int(min_group_size), disclosure_threshold=int(disclosure_threshold), alpha=float(alpha),
        protected_read_by_rule=overlap, command=command, families=[f for f in FAMILIES if f in families],
        synthetic=synthetic or pop.synthetic,
    )
    options = dict(options or {})
    results: dict[str, Any] = {}
    chosen = [name for name in FAMILIES if name in families]
    for name in track(chosen, total=len(chosen), description="auditing"):
        module = importlib.import_module(f"audit.{name}")
        runner = getattr(module, "audit_family", None)
        if runner is None:
            continue
        results[name] = runner(ctx, **dict(options.get(name, {})))
    return build_report(ctx, results)
