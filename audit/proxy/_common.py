"""Shared preparation for the proxy analysis: inputs, groupings, references and fast re-scoring.

Everything the five analyses need is computed once in :func:`prepare`:

* the *inputs*: every column the rule reads and, for an additive points table,
  every term (its contribution column);
* the groupings (single protected attributes and their intersections) and each
  grouping's reference group;
* the own and final scores, and for an additive points table the term
  contributions ``C`` (n x terms) and the raw total ``R = base + sum_k C[:, k]``
  summed in the same order as :meth:`audit.rules.Rule.raw_scores`, so that
  re-scoring after a change to one input is ``R - C_x + C_x'`` and a change that
  touches no term reproduces the scores bit for bit.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from audit._errors import AuditInputError
from audit.disclosure import cell_publishable, is_small
from audit.equalise import is_categorical
from audit.groups import Grouping, bin_protected, build_groupings, json_float
from audit.rates import reference_codes

__all__ = ["Impact", "ImpactState", "Input", "Prepared", "prepare", "rng_for", "fnum", "impact_functions"]



def rng_for(seed: int, *keys: object) -> np.random.Generator:
    """A generator for one named random step: depends on ``seed`` and ``keys`` only (never on call order)."""
    words = [int(seed) & 0xFFFFFFFF]
    for k in keys:
        words.append(zlib.crc32(repr(k).encode("utf-8")))
    return np.random.default_rng(np.random.SeedSequence(words))


def fnum(x: Any, digits: int | None = 10) -> float | None:
    """A finite float rounded to ``digits`` decimals (None: not rounded), or None (JSON has no NaN)."""
    return json_float(x, digits)


# ---------------------------------------------------------------------------- impact ratios
def impact_functions():
    """``(group_rates, most_favoured, ratios_to, tier_is_favourable)``: the rates kernel's definitions.

    The proxy family's impact ratios are the impact family's: each group's rate
    of the *favourable* outcome of a tier over the most favoured group's rate
    (highest rate among groups of at least ``min_group_size``).
    """
    from audit.impact import tier_is_favourable
    from audit.rates import group_rates, most_favoured, ratios_to

    return group_rates, most_favoured, ratios_to, tier_is_favourable


class Impact(NamedTuple):
    """Impact ratios of every group and tier, and where they may be published.

    ``ok[g, j]``: both cells behind ``ratio[g, j]`` — group ``g``'s favourable
    count out of its size, and the most favoured group's — are publishable under
    :func:`audit.disclosure.cell_publishable`, and the ratio is defined.  For a
    counterfactual (:meth:`ImpactState.after`) also: neither group ``g`` nor the
    most favoured group has a small number (``0 < k < threshold``) of people
    whose attainment of tier ``j`` differs from the baseline — otherwise the
    ratio before and after would tell how many people (a handful) the change
    moves.
    """

    ratio: np.ndarray   # (G, T) float, NaN where undefined
    ok: np.ndarray      # (G, T) bool


class ImpactState:
    """Impact ratios of a baseline and of counterfactual scores, updated from the rows that change.

    ``hits`` of a counterfactual = baseline hits + per-group sums of the change
    in attainment over the people whose attainment changed; identical to
    recounting (integers), but costs O(changed rows) per grouping.  Every
    result carries its publication mask (two-cell rule, see :class:`Impact`).
    """

    def __init__(self, rule, final: np.ndarray, groupings: Sequence[Grouping], min_group_size: int,
                 disclosure_threshold: int = 10) -> None:
        group_rates, self._most_favoured, self._ratios_to, favourable = impact_functions()
        self.rule = rule
        self.min_group_size = int(min_group_size)
        self.disclosure_threshold = int(disclosure_threshold)
        self.favourable = np.array([favourable(t, rule.higher_is_better, rule.range) for t in rule.tiers], dtype=bool)
        # Attainment tier by tier (contiguous columns): cheaper to compare than an (n, T) matrix.
        self.att0 = [t.attained(final) for t in rule.tiers]
        self.base: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        att0 = np.column_stack(self.att0) if self.att0 else np.zeros((len(final), 0), dtype=bool)
        for g in groupings:
            counts, hits = group_rates(att0, g)
            self.base[g.key] = (np.asarray(counts, dtype=np.int64), np.asarray(hits, dtype=np.int64))

    def ratios(self, counts: np.ndarray, hits: np.ndarray, moved: np.ndarray | None = None) -> Impact:
        """Impact ratios and their publication mask; ``moved[g, j]``: people of ``g`` whose tier ``j`` changed."""
        fav = np.where(self.favourable[None, :], hits, counts[:, None] - hits)
        mf = np.asarray(self._most_favoured(counts, fav, self.min_group_size), dtype=np.int64)
        ratio = np.asarray(self._ratios_to(counts, fav, mf), dtype=float)
        cell = np.asarray(cell_publishable(fav, counts[:, None], self.disclosure_threshold),
                          dtype=bool).reshape(fav.shape)
        if moved is not None:  # a handful of people moved: the cell's change would identify them
            cell &= ~np.asarray(is_small(moved, self.disclosure_threshold), dtype=bool).reshape(fav.shape)
        valid = mf >= 0
        cols = np.arange(fav.shape[1])
        ref_ok = cell[np.where(valid, mf, 0), cols] & valid if len(counts) else np.zeros(len(cols), dtype=bool)
        return Impact(ratio, cell & ref_ok[None, :] & np.isfinite(ratio))

    def before(self, g: Grouping) -> Impact:
        return self.ratios(*self.base[g.key])

    def after(self, final: np.ndarray, groupings: Sequence[Grouping]) -> dict[str, Impact]:
        att1 = [t.attained(final) for t in self.rule.tiers]  # what Rule.attainment computes, per column
        differs = np.zeros(len(final), dtype=bool)
        for a1, a0 in zip(att1, self.att0, strict=True):
            differs |= a1 != a0
        changed = np.flatnonzero(differs)
        delta = np.column_stack([a1[changed].astype(np.int64) - a0[changed] for a1, a0 in zip(att1, self.att0, strict=True)]) \
            if att1 else np.zeros((len(changed), 0), dtype=np.int64)
        out = {}
        for g in groupings:
            counts, hits0 = self.base[g.key]
            c = g.codes[changed]
            ok = c >= 0
            c, d = c[ok], delta[ok]
            hits = hits0 + np.stack([np.bincount(c, weights=d[:, j], minlength=g.n_groups)
                                     for j in range(d.shape[1])], axis=1).round().astype(np.int64)
            moved = np.stack([np.bincount(c, weights=(d[:, j] != 0), minlength=g.n_groups)
                              for j in range(d.shape[1])], axis=1).round().astype(np.int64)
            out[g.key] = self.ratios(counts, hits, moved)
        return out


# ---------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Input:
    """One input of the rule: a column it reads, or (points tables) one of its terms."""

    name: str                 # column name or term id
    kind: str                 # "column" | "term"
    label: str                # human-readable: the term's label or the column's description
    categorical: bool         # association by Cramér's V (True) or by the correlation ratio (False)
    columns: tuple[str, ...]  # columns read: (name,) for a column, the expression's columns for a term
    terms: tuple[int, ...] = ()  # term indices: (k,) for a term, the terms reading the column (points)
    read: bool = True         # False for a column the rule does not read (neutralisation only)


# ---------------------------------------------------------------------------- preparation
@dataclass(eq=False)
class Prepared:
    """Everything the analyses share (built once per run)."""

    rule: Any
    frame: pd.DataFrame
    seed: int
    groupings: list[Grouping]
    singles: dict[str, Grouping]          # attribute -> its single-attribute grouping
    attributes: list[str]                 # protected attributes, in order
    references: dict[str, int]            # grouping key -> reference group code
    inputs: list[Input]
    additive: bool                        # exact points-table path available
    own: np.ndarray
    final: np.ndarray
    graph: Any = None
    network: bool = False                 # final scores include the network term
    C: np.ndarray | None = None           # (n, terms) contributions, points tables only
    R: np.ndarray | None = None           # raw total before the clamp
    notes: list[str] = field(default_factory=list)
    _cache: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.frame)

    # --------------------------------------------------------------- scoring helpers
    def clamp(self, raw: np.ndarray) -> np.ndarray:
        rng = self.rule.range
        return np.clip(raw, rng[0], rng[1]) if rng is not None else raw

    def finalise(self, own: np.ndarray) -> np.ndarray:
        """Final scores from own scores: the network term's fixed point when it applies, else ``own``."""
        if not self.network:
            return own
        from audit.graph import solve_network

        net = self.rule.network
        lo, hi = self.rule.range if self.rule.range is not None else (None, None)
        return solve_network(own, self.graph, net.weight, lo=lo, hi=hi, tolerance=net.tolerance,
                             max_iterations=net.max_iterations, where=self.rule.network_where).scores

    def column_contribution(self, inp: Input) -> np.ndarray:
        """Sum of the contributions of the terms reading column ``inp`` (points tables)."""
        key = ("colsum", inp.name)
        if key not in self._cache:
            self._cache[key] = (self.C[:, list(inp.terms)].sum(axis=1) if inp.terms
                                else np.zeros(self.n))
        return self._cache[key]

    def contributions_with(self, inp: Input, values: pd.Series) -> np.ndarray:
        """Summed contributions of the terms reading column ``inp`` when it holds ``values`` (points)."""
        if not inp.terms:
            return np.zeros(self.n)
        key = ("subrule", inp.name)
        if key not in self._cache:
            keep = {self.rule.terms[k].id for k in inp.terms}
            drop = [t.id for t in self.rule.terms if t.id not in keep]
            self._cache[key] = self.rule.without_terms(drop)
        sub = self._cache[key]
        frame = self.frame[list(sub.features)].assign(**{inp.name: values.to_numpy()})
        return sub.term_contributions(frame).to_numpy(dtype=float).sum(axis=1)

    def own_with_column(self, inp: Input, values: pd.Series) -> np.ndarray:
        """Own scores when column ``inp`` is replaced by ``values`` (any rule)."""
        if self.additive:
            raw = self.R - self.column_contribution(inp) + self.contributions_with(inp, values)
            return self.clamp(raw)
        frame = self.frame.assign(**{inp.name: values.to_numpy()})
        return self.rule.own_scores(frame)

    def own_with_term(self, k: int, values: np.ndarray) -> np.ndarray:
        """Own scores when term ``k``'s contribution is replaced by ``values`` (points tables)."""
        return self.clamp(self.R - self.C[:, k] + values)

    def values(self, inp: Input) -> pd.Series:
        """The input's values: the column, or the term's contribution column."""
        if inp.kind == "term":
            return pd.Series(self.C[:, inp.terms[0]], index=self.frame.index, name=inp.name)
        return self.frame[inp.name]


def _resolve_groupings(frame: pd.DataFrame, groupings_or_protected, intersections: int):
    if groupings_or_protected is None:  # influence alone needs no groups
        return [], {}, []
    if isinstance(groupings_or_protected, str):
        groupings_or_protected = [p.strip() for p in groupings_or_protected.split(",") if p.strip()]
    items = list(groupings_or_protected)
    if not items:
        raise AuditInputError("no protected attribute given: pass at least one column")
    if all(isinstance(g, Grouping) for g in items):
        groupings = items
    elif all(isinstance(g, str) for g in items):
        groupings = build_groupings(bin_protected(frame, items)[0], items, max_order=intersections)
    else:
        raise AuditInputError("protected: give a list of column names or a list of Grouping objects")
    attributes: list[str] = []
    for g in groupings:
        for a in g.attributes:
            if a not in attributes:
                attributes.append(a)
    singles = {g.attributes[0]: g for g in groupings if len(g.attributes) == 1}
    for a in attributes:
        if a not in singles:
            if a not in frame.columns:
                raise AuditInputError(f"protected column {a!r} is not in the data")
            singles[a] = build_groupings(bin_protected(frame, [a])[0], [a], max_order=1)[0]
    return groupings, singles, attributes


def _check_additive(rule, frame: pd.DataFrame, own: np.ndarray) -> tuple[bool, np.ndarray | None, np.ndarray | None]:
    """Term contributions and raw total of a points table, if they reproduce its own scores."""
    if not rule.is_additive or not rule.terms:
        return False, None, None
    C = rule.term_contributions(frame).to_numpy(dtype=float)
    R = np.full(len(frame), float(rule.base or 0.0))
    for k in range(C.shape[1]):  # the order of Rule.raw_scores: identical floating-point sums
        R += C[:, k]
    lo, hi = rule.range if rule.range is not None else (-np.inf, np.inf)
    S = np.clip(R, lo, hi)
    scale = max(1.0, float(np.max(np.abs(own))) if len(own) else 1.0)
    if len(own) and float(np.max(np.abs(S - own))) > 1e-9 * scale:
        return False, None, None
    return True, C, R


def prepare(
    rule,
    people: pd.DataFrame,
    groupings_or_protected,
    *,
    graph=None,
    reference: Mapping[str, Any] | None = None,
    seed: int = 0,
    intersections: int = 2,
    scores=None,
    extra_columns: Sequence[str] = (),
) -> Prepared:
    """Validate the inputs and compute what every analysis shares (see module docstring)."""
    from audit.rules import load_rule

    # Favourable outcomes are compared only for tiers that have a favourable side (audit.rates).
    rule = load_rule(rule).directed()
    if not isinstance(people, pd.DataFrame):
        raise AuditInputError("people: pass a pandas DataFrame (load files with audit.load_population)")
    frame = people.reset_index(drop=True) if not isinstance(people.index, pd.RangeIndex) else people
    groupings, singles, attributes = _resolve_groupings(frame, groupings_or_protected, intersections)
    if rule.kind == "callable" and not rule.features:
        skip = set(attributes) | {"id"}
        rule = rule.with_features([c for c in frame.columns if c not in skip])
    rule.check_columns(frame)
    for g in groupings:
        if len(g.codes) != len(frame):
            raise AuditInputError(
                f"grouping {g.key!r} has {len(g.codes)} rows but the population has {len(frame)}")
    if scores is not None:
        own = np.asarray(scores.own, dtype=float)
    else:
        own = rule.own_scores(frame)
    additive, C, R = _check_additive(rule, frame, own)
    notes: list[str] = []
    if rule.is_additive and not additive:
        notes.append("the points table's score is not base + sum of terms (e.g. a lookup conversion): "
                     "model-agnostic methods are used on its columns")
    network = bool(rule.network is not None and graph is not None)
    if graph is not None and hasattr(graph, "n_nodes") and graph.n_nodes != len(frame):
        raise AuditInputError(f"graph has {graph.n_nodes} nodes but the population has {len(frame)} rows")
    prep = Prepared(rule=rule, frame=frame, seed=int(seed), groupings=list(groupings), singles=singles,
                    attributes=attributes,
                    references=reference_codes(list(groupings) + [g for g in singles.values() if g not in groupings],
                                               reference),
                    inputs=[], additive=additive, own=own, final=own, graph=graph, network=network,
                    C=C, R=R, notes=notes)
    if additive:
        prep.own = prep.clamp(R)  # bit-identical to rule.own_scores (same sums); used as the baseline
    if scores is not None and network:
        prep.final = np.asarray(scores.final, dtype=float)
    else:
        prep.final = prep.finalise(prep.own)
    prep.inputs = _inputs(rule, frame, additive, extra_columns)
    return prep


def _column_label(rule, col: str) -> str:
    desc = (rule.columns.get(col) or {}).get("description") if rule.columns else None
    return f"{col} ({desc})" if desc else col


def _inputs(rule, frame: pd.DataFrame, additive: bool, extra_columns: Sequence[str]) -> list[Input]:
    reads: dict[str, list[int]] = {c: [] for c in rule.features}
    term_inputs: list[Input] = []
    if additive:
        for k, (t, expr) in enumerate(zip(rule.terms, rule._compiled, strict=True)):
            cols = tuple(sorted(expr.columns))
            for c in cols:
                reads.setdefault(c, []).append(k)
            term_inputs.append(Input(t.id, "term", t.label, False, cols, (k,)))
    cols_inputs = [
        Input(c, "column", _column_label(rule, c), is_categorical(frame[c]), (c,), tuple(reads.get(c, ())))
        for c in rule.features
    ]
    extra = []
    for c in extra_columns:
        if c in rule.features or c in [i.name for i in extra]:
            continue
        if c not in frame.columns:
            raise AuditInputError(f"column {c!r} is not in the data")
        extra.append(Input(c, "column", c, is_categorical(frame[c]), (c,), (), read=False))
    return cols_inputs + term_inputs + extra


def neutral_value(series: pd.Series):
    """The population mean of a numeric column, or the most common value of a categorical one."""
    if is_categorical(series):
        counts = series.value_counts(dropna=True, sort=False)
        if len(counts) == 0:
            return None
        # Most common value; ties broken by the sorted order of the values (deterministic).
        top = counts[counts == counts.max()].index
        try:
            return sorted(top)[0]
        except TypeError:
            return top[0]
    values = series.to_numpy(dtype=float, na_value=np.nan)
    return float(np.nanmean(values)) if np.isfinite(values).any() else 0.0


def neutralised_series(series: pd.Series) -> pd.Series:
    """``series`` with every (non-missing) value replaced by :func:`neutral_value`."""
    v = neutral_value(series)
    if is_categorical(series):
        out = pd.Series([v] * len(series), index=series.index, dtype=series.dtype)
        return out.where(series.notna(), series)
    arr = series.to_numpy(dtype=float, na_value=np.nan)
    return pd.Series(np.where(np.isnan(arr), np.nan, v), index=series.index)
