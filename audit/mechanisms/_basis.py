"""Counterfactual scores: the final score of everyone when some *parts* of a rule are neutralised.

A part is something a finding's gap could be owed to:

* a **term** of a points table (or, for any other rule, an **input** column): neutralised by giving every
  group of the grouping the reference group's distribution of it (quantile mapping, :mod:`audit.equalise`);
  a term that reads a protected attribute itself is the part ``protected``;
* **network: averaging** — the friends term's pull of everyone toward the population mean: compression,
  which hurts any group sitting just above a tier's cut, homophily or not;
* **network: friends** — what the friends term adds beyond averaging: being pulled toward one's *own*
  friends' scores rather than everyone's (homophily's part).

For own scores ``o`` and the friends term with weight ``w`` (fixed point ``M o``), the averaging
counterfactual is ``a(o) = (1 - w) o + w mean(o)`` for people with friends (the pull toward a common
mean), so the network effect splits as ``M o - o = [a(o) - o] + [M o - a(o)]``.  A subset S of parts is
neutralised by equalising its terms (own score ``o_S``) and dropping its network components.  Both
network components are linear in ``o``, so ``M o_S`` comes from one solve per term (``M`` applied to the
term's own-score change) instead of one per subset; the own-score clamp is applied per subset, and the
network is applied to the sum of single-term changes (exact wherever the clamp does not bind for two
terms at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.equalise import ascending_order, equalise_numeric, equalise_series, is_categorical

__all__ = ["AVERAGING", "FRIENDS", "Basis", "Part", "build_basis"]

AVERAGING = "network: averaging"
FRIENDS = "network: friends"


@dataclass(frozen=True)
class Part:
    """One part of a rule a gap can be owed to: ``name`` as the rule file spells it, and its ``kind``."""

    name: str
    kind: str           # "term", "input", "protected", "network"
    columns: tuple[str, ...] = ()


@dataclass
class Basis:
    """Everything needed to score any subset of neutralised parts for one grouping."""

    parts: list[Part]
    raw: np.ndarray                 # own score before the clamp (points tables), or the own score
    own: np.ndarray
    final: np.ndarray
    deltas: list[np.ndarray]        # per term/input part: change of the raw score (points) or own score
    additive: bool
    clamp: tuple[float | None, float | None]
    network: bool
    weight: float = 0.0
    connected: np.ndarray | None = None
    m_deltas: list[np.ndarray] | None = None   # M applied to each part's own-score change
    rescore: object = None           # for non-additive rules: own score of a subset (callable)
    values: list | None = None       # per part: the per-person value whose association is measured

    @property
    def n_parts(self) -> int:
        return len(self.parts)

    def _own(self, removed: Sequence[int]) -> np.ndarray:
        idx = [k for k in removed if self.parts[k].kind != "network"]
        if not idx:
            return self.own
        if not self.additive:
            return self.rescore(tuple(sorted(idx)))
        r = self.raw.copy()
        for k in idx:
            r += self.deltas[k]
        lo, hi = self.clamp
        return np.clip(r, lo, hi) if lo is not None or hi is not None else r

    def scores(self, removed: Sequence[int]) -> np.ndarray:
        """Final scores with the parts in ``removed`` (indices) neutralised."""
        removed = set(removed)
        o = self._own(removed)
        if not self.network:
            return o
        avg_on = not any(self.parts[k].name == AVERAGING for k in removed)
        fr_on = not any(self.parts[k].name == FRIENDS for k in removed)
        if not (avg_on or fr_on):
            return o
        c = self.connected
        w = self.weight
        mean_c = o[c].mean() if c.any() else 0.0
        a = np.where(c, (1.0 - w) * o + w * mean_c, o)  # averaging: pulled toward the common mean
        if not fr_on:
            return a
        # M o_S from the solved parts: M own + sum of M (single-part own change).
        m = self.final.copy()
        for k in removed:
            if self.parts[k].kind != "network":
                m += self.m_deltas[k]
        return m if avg_on else o + (m - a)


def _solve_linear(x: np.ndarray, graph, weight: float, tolerance: float) -> np.ndarray:
    """``M x``: the friends term's fixed point applied to a change of own scores (no clamp: it is linear)."""
    from audit.graph import solve_network

    if not np.any(x):
        return np.zeros_like(x)
    return solve_network(x, graph, weight, tolerance=tolerance, method="linear").scores


def _protected_reads(rule, protected: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Term id -> the protected attributes it reads directly."""
    out = {}
    for term, cols in zip(rule.terms, rule.term_columns, strict=True):
        reads = tuple(a for a in protected if a in cols)
        if reads:
            out[term.id] = reads
    return out


def build_basis(rule, frame: pd.DataFrame, graph, grouping, ref: int, protected: Sequence[str], *,
                own: np.ndarray, final: np.ndarray, seed: int = 0, tolerance: float = 1e-9) -> Basis | None:
    """The counterfactual basis of one grouping (None for a rule whose inputs are unknown: an observed score)."""
    if rule.kind == "observed":
        return None
    network = rule.network is not None and graph is not None
    weight = rule.network.weight if network else 0.0
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x6D656368]))
    codes, G = grouping.codes, grouping.n_groups
    parts: list[Part] = []
    deltas: list[np.ndarray] = []
    values: list = []
    rescore = None
    additive = rule.is_additive and bool(rule.terms)
    if additive:
        C = rule.term_contributions(frame).to_numpy(dtype=float)
        raw = float(rule.base or 0.0) + C.sum(axis=1)
        reads = _protected_reads(rule, protected)
        for k, term in enumerate(rule.terms):
            x = C[:, k]
            if np.all(x == x[0]):
                continue  # a constant term cannot differ between groups
            eq = equalise_numeric(x, codes, ref, G, order=ascending_order(x, rng))
            d = eq - x
            if not np.any(d):
                continue
            kind = "protected" if term.id in reads else "term"
            parts.append(Part(term.label, kind, tuple(sorted(rule.term_columns[k]))))
            deltas.append(d)
            values.append(x)
    else:
        raw = np.asarray(own, dtype=float)
        cols = [c for c in rule.features if c in frame.columns]
        base_frame = frame[cols].copy()
        equalised = {}
        for c in cols:
            s = frame[c]
            eq = equalise_series(s, codes, ref, G, rng)
            if not eq.equals(s):
                equalised[c] = eq
                kind = "protected" if c in protected else "input"
                parts.append(Part(c, kind, (c,)))
                deltas.append(np.zeros(len(frame)))
                values.append(None if is_categorical(s) else s.to_numpy(dtype=float, na_value=np.nan))
        names = [p.name for p in parts]
        cache: dict = {}

        def rescore(idx: tuple[int, ...]) -> np.ndarray:
            if idx not in cache:
                f = base_frame.copy()
                for k in idx:
                    f[names[k]] = equalised[names[k]]
                cache[idx] = rule.own_scores(pd.concat([frame.drop(columns=cols), f], axis=1)[frame.columns])
            return cache[idx]

        for k in range(len(parts)):
            deltas[k] = rescore((k,)) - own
    lo, hi = rule.range if rule.range is not None else (None, None)
    m_deltas = None
    connected = None
    if network:
        connected = graph.degree > 0
        m_deltas = []
        for k, _ in enumerate(parts):
            single = (np.clip(raw + deltas[k], lo, hi) if (lo is not None or hi is not None) else raw + deltas[k]) \
                if additive else own + deltas[k]
            m_deltas.append(_solve_linear(single - own, graph, weight, tolerance))
        parts = parts + [Part(AVERAGING, "network"), Part(FRIENDS, "network")]
        deltas = deltas + [np.zeros(len(own)), np.zeros(len(own))]
        values = values + [None, None]
        m_deltas = m_deltas + [np.zeros(len(own)), np.zeros(len(own))]
    return Basis(parts, raw, np.asarray(own, dtype=float), np.asarray(final, dtype=float), deltas, additive,
                 (lo, hi), network, weight, connected, m_deltas, rescore, values)
