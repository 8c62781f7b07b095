"""``audit.dynamics.simulate``: check the inputs, prepare the scenario once, run it over seeds and variants."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit._progress import track
from audit.data import load_population
from audit.dynamics._engine import Setup, Variant, as_array, column_kind, compile_feedback, initial_state, run
from audit.dynamics._measure import build_index, measure, score_fifths
from audit.dynamics._result import DynamicsResult
from audit.dynamics._spec import Scenario, load_scenario, scenario_for_rule
from audit.graph import Graph, load_graph
from audit.groups import build_groupings
from audit.rules import Rule, load_rule

__all__ = ["simulate", "VARIANTS"]

MAX_PERIODS = 10_000
MAX_RUNS = 10_000

#: The mechanism decomposition: the scenario re-run with one mechanism switched off (same random draws).
VARIANTS = {
    "without_real_name_clause": Variant("without_real_name_clause", real_name=False),
    "without_score_margin": Variant("without_score_margin", margin=False),
    "without_feedback": Variant("without_feedback", feedback=False),
}


def _int(value, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= int(value) <= hi:
        raise AuditInputError(f"{name} must be a whole number from {lo} to {hi:,}, got {value!r}")
    return int(value)


def _protected(protected: str | Sequence[str]) -> list[str]:
    if isinstance(protected, str):
        protected = [p.strip() for p in protected.split(",")]
    out = list(dict.fromkeys(p for p in protected if p))
    if not out:
        raise AuditInputError("no protected attribute given: pass at least one column with --protected")
    return out


def _no_real_name(frame: pd.DataFrame, column: str, origin: str, source: str) -> np.ndarray:
    if column not in frame.columns:
        raise AuditInputError(f"{origin}: unfriending: field 'real_name_column': {source} has no column {column!r} "
                              f"(set drop_no_real_name: false, or name the real-name column)")
    col = frame[column]
    if pd.api.types.is_bool_dtype(col) and not col.isna().any():
        return ~col.to_numpy(dtype=bool)
    values = pd.to_numeric(col, errors="coerce")
    bad = col.notna() & (values.isna() | ~values.isin([0, 1]))
    if bad.any():
        raise AuditInputError(f"{source}: column {column!r} (real-name account) must be true/false or 0/1 "
                              f"(found {col[bad].iloc[0]!r})")
    # A missing value counts as "no real-name account", as the rule's own `not real_name` does.
    return ~(values.fillna(0).to_numpy() == 1)


def _margin(sc: Scenario, rule: Rule, final: np.ndarray) -> tuple[float, str]:
    u = sc.unfriending
    if u.margin is not None:
        return float(u.margin), f"{u.margin:g} points (scenario)"
    share = 0.1 if u.margin_share is None else float(u.margin_share)
    if rule.range is not None:
        lo, hi = rule.range
        return share * (hi - lo), f"{share:.0%} of the rule's score range {lo:g}-{hi:g}"
    p5, p95 = np.quantile(final, [0.05, 0.95])
    return float(share * (p95 - p5)), (f"{share:.0%} of the spread between the 5th and 95th percentile of the "
                                       f"period-0 scores (the rule declares no score range)")


def _renewal(sc: Scenario, frame: pd.DataFrame, protected: list[str], rule: Rule, origin: str, source: str):
    r = sc.renewal
    if r is None or r.share == 0:
        return None, []
    for c in r.columns:
        if c not in frame.columns:
            raise AuditInputError(f"{origin}: renewal: field 'columns': {source} has no column {c!r}")
    strata = list(r.strata) if r.strata is not None else [c for c in rule.features if c not in r.columns]
    strata = list(dict.fromkeys(strata + protected))     # the protected attributes always define strata
    for c in strata:
        if c not in frame.columns:
            raise AuditInputError(f"{origin}: renewal: field 'strata': {source} has no column {c!r}")
        if c in r.columns:
            raise AuditInputError(f"{origin}: renewal: column {c!r} is both renewed and a stratum")
    codes = frame.groupby(strata, dropna=False, sort=True).ngroup().to_numpy(dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return (float(r.share), tuple(r.columns), order, starts[codes], sizes[codes]), strata


def _graph(graph, pop, source: str) -> Graph:
    if graph is None:
        raise AuditInputError("a long-run simulation needs the friendship graph (--graph FILE)")
    if isinstance(graph, Graph):
        if graph.n_nodes != pop.n:
            raise AuditInputError(f"graph has {graph.n_nodes} nodes but the population has {pop.n} rows")
        return graph
    if pop.id_col is None:
        raise AuditInputError(f"{source}: a graph needs an id column (set --id-col)")
    return load_graph(graph, pop.ids, id_name=pop.id_col)


def simulate(
    rule: Rule | str | Path,
    people: pd.DataFrame | str | Path,
    graph: pd.DataFrame | str | Path | Graph,
    protected: str | Sequence[str],
    scenario: Scenario | dict | str | Path | None = None,
    periods: int | None = None,
    runs: int = 10,
    seed: int = 0,
    *,
    id_col: str = "id",
    intersections: int = 1,
    min_group_size: int = 30,
    disclosure_threshold: int = 10,
    band: float = 0.9,
    decompose: bool = True,
    progress: bool = True,
    command: str | None = None,
) -> DynamicsResult:
    """Simulate a rule on a population and its friendship graph over many periods, over many seeds.

    Each period the scores are recomputed (friends term included), tiers are
    granted, the scenario's feedback moves next period's inputs, and people
    drop and form ties (see :mod:`audit.dynamics._engine` for the exact order).
    The run is repeated ``runs`` times with independent seeds; every figure is
    reported as the mean over runs with a Monte-Carlo band (the central
    ``band`` share of runs).  With ``decompose`` the scenario is re-run with
    each of its mechanisms switched off in turn, on the same random draws, so
    the report can say which part of a group's drift each mechanism causes.

    Parameters
    ----------
    rule : Rule, built-in rule name or path to a rule file
    people : DataFrame or path to CSV/Parquet
    graph : Graph, edge-list DataFrame or path
    protected : str or list of str
        Protected attributes (a comma-separated string is accepted).
    scenario : Scenario, mapping, built-in name or path to a YAML file, optional
        Default: the built-in scenario written for the rule (``sesame``), else the
        generic ``default`` scenario.
    periods : int, optional
        Horizon; default the scenario's ``horizon.periods``.
    runs : int, default 10
        Monte-Carlo runs (independent seeds spawned from ``seed``).
    seed : int, default 0
        The same seed gives the same result, byte for byte.
    intersections : int, default 1
        Largest intersection of protected attributes followed (1: single attributes).
    min_group_size, disclosure_threshold : int
        Means are shown for groups of at least ``min_group_size``; shares follow the cell rule
        (no count or complement of 1 to ``disclosure_threshold - 1`` in any run).
    band : float, default 0.9
        Share of runs inside the reported band (quantiles ``(1 - band) / 2`` and ``(1 + band) / 2``).
    decompose : bool, default True
        Also run the scenario without the real-name clause, without the score margin and without
        feedback (whichever it has).

    Returns
    -------
    DynamicsResult

    Examples
    --------
    >>> import audit
    >>> people, edges = audit.generate_sesame(1500, seed=1)
    >>> res = audit.simulate("sesame", people, edges, ["ethnicity"], periods=3, runs=2, progress=False)
    >>> res.periods, res.runs
    (3, 2)
    >>> frame = res.to_frame()
    >>> list(frame.columns)
    ['period', 'group', 'metric', 'value', 'band_low', 'band_high']
    >>> "ethnicity=minority A" in set(frame["group"]), "isolated_share" in set(frame["metric"])
    (True, True)
    """
    rule = load_rule(rule)
    protected = _protected(protected)
    pop = load_population(people, id_col=id_col)
    frame = pop.frame
    for col in protected:
        if col not in frame.columns:
            raise AuditInputError(f"{pop.source}: protected column {col!r} is missing")
    rule.check_columns(frame, source=pop.source)
    g = _graph(graph, pop, pop.source)
    sc, origin = scenario_for_rule(rule.name) if scenario is None else load_scenario(scenario)
    if sc.rule is not None and sc.rule != rule.name:
        raise AuditInputError(f"{origin}: field 'rule': the scenario is written for rule {sc.rule!r}, not "
                              f"{rule.name!r} (remove the key to use it with any rule)")
    periods = _int(sc.horizon.periods if periods is None else periods, "periods", 1, MAX_PERIODS)
    runs = _int(runs, "runs", 1, MAX_RUNS)
    seed = _int(seed, "seed", 0, 2**32 - 1)
    intersections = _int(intersections, "intersections", 1, 4)
    if not 1 <= int(disclosure_threshold) <= int(min_group_size):
        raise AuditInputError("disclosure threshold must be at least 1 and at most the minimum group size")
    if not 0 < float(band) < 1:
        raise AuditInputError(f"band must be between 0 and 1, got {band}")

    network = None
    if rule.network is not None:
        lo, hi = rule.range if rule.range is not None else (None, None)
        network = (rule.network.weight, lo, hi, rule.network.tolerance, rule.network.max_iterations)
    renewal, strata = _renewal(sc, frame, protected, rule, origin, pop.source)
    feedback = compile_feedback(sc.feedback, rule, frame, origin)
    dynamic = list(dict.fromkeys(list(renewal[1] if renewal else []) + [f.column for f in feedback]))
    base = {}
    for c in dynamic:
        if c not in frame.columns:
            raise AuditInputError(f"{origin}: {pop.source} has no column {c!r}")
        base[c] = as_array(frame[c], column_kind(frame[c], where=f"{origin}: column {c!r}"))
    work = frame.copy() if dynamic else frame
    for c, v in base.items():
        work[c] = v.copy()
    adj = g.adjacency
    initial = initial_state(rule, work, adj, network)
    u = sc.unfriending
    compliance = float(u.compliance) if u is not None else 0.0
    margin, margin_basis = _margin(sc, rule, initial[1]) if u is not None else (0.0, None)
    no_real = _no_real_name(frame, u.real_name_column, origin, pop.source) if (u and u.drop_no_real_name) else None
    f = sc.formation
    formation = None
    if f is not None and f.rate > 0:
        formation = (float(f.rate), float(f.triadic), float(f.score_homophily), max(1, int(round(f.window * pop.n))),
                     bool(f.advice_applies))
    groupings = build_groupings(frame, protected, max_order=intersections)
    index = build_index(groupings, [score_fifths(initial[1])])
    setup = Setup(rule, work, adj, np.diff(adj.indptr).astype(np.int64), index, network, renewal, feedback, base,
                  compliance, float(margin), no_real, bool(u.score_margin) if u else False, formation, initial)

    variants = [Variant()]
    if decompose and compliance > 0:
        if no_real is not None:
            variants.append(VARIANTS["without_real_name_clause"])
        if u.score_margin:
            variants.append(VARIANTS["without_score_margin"])
    if decompose and feedback:
        variants.append(VARIANTS["without_feedback"])
    children = np.random.SeedSequence(seed).spawn(runs)
    first = measure(index, adj, _rows(adj), initial[0], initial[1], initial[2], _Zero(pop.n), np.zeros(3), 0, 0,
                    initial[3])
    tables: dict[str, list] = {v.name: [] for v in variants}
    pops: dict[str, list] = {v.name: [] for v in variants}
    jobs = [(v, r) for v in variants for r in range(runs)]
    steps = track(jobs, total=len(jobs), description="simulating") if progress else jobs
    for v, r in steps:
        # The same child seed for every variant: the variants differ only by the mechanism switched off.
        gt, pt = run(setup, periods, children[r], v, first)
        tables[v.name].append(gt)
        pops[v.name].append(pt)
    settings = {
        "periods": periods, "runs": runs, "seed": seed, "band": float(band), "protected": protected,
        "intersections": intersections, "min_group_size": int(min_group_size),
        "disclosure_threshold": int(disclosure_threshold), "decompose": bool(decompose),
        "scenario_origin": origin if not Path(origin).is_absolute() else Path(origin).name,
        "margin": round(float(margin), 6) if u is not None else None, "margin_basis": margin_basis,
        "renewal_strata": strata, "command": command,
        "variants": [v.name for v in variants],
    }
    data = {"n": pop.n, "edges": g.n_edges, "source": pop.source, "data_hash": pop.data_hash,
            "graph_source": g.source, "graph_hash": g.content_hash, "synthetic": pop.synthetic}
    return DynamicsResult.build(rule=rule, scenario=sc, data=data, settings=settings, index=index,
                                tables={k: np.stack(v) for k, v in tables.items()},
                                population={k: np.stack(v) for k, v in pops.items()})


def _rows(adj):
    from audit.dynamics._engine import entry_rows

    return entry_rows(adj)


class _Zero:
    """Period 0's cumulative tie counts (nothing lost, formed or refused yet)."""

    def __init__(self, n: int):
        self.lost = np.zeros((3, n))
        self.formed = np.zeros(n)
        self.refused = np.zeros(n)
