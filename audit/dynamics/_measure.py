"""Group aggregates of one period: counts and sums only, never a person.

Every figure the dynamics report publishes is derived from these aggregates,
so the disclosure rule (:mod:`audit.dynamics._result`) can be applied to the
counts each share or mean comes from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from audit.groups import Grouping

__all__ = ["GroupIndex", "build_index", "measure", "COLUMNS", "POPULATION", "C", "P"]

#: Group-level columns of a period's aggregate table (sums over the group's members), before the tier block.
COLUMNS = ("n", "score_sum", "own_score_sum", "degree_sum", "isolated", "outside_giant", "cross_ends",
           "known_ends", "lost_real_name_only", "lost_margin_only", "lost_both", "formed", "refused")
C = {name: i for i, name in enumerate(COLUMNS)}
TIER0 = len(COLUMNS)

#: Population-level figures of a period, before one attribute-assortativity column per protected grouping.
POPULATION = ("edges", "removed_real_name_only", "removed_margin_only", "removed_both", "formed", "refused",
              "isolated", "giant_size", "score_assortativity", "solver_iterations", "solver_error_bound")
P = {name: i for i, name in enumerate(POPULATION)}
ASSORT0 = len(POPULATION)


@dataclass(frozen=True, eq=False)
class GroupIndex:
    """The groups the report follows: every protected grouping's groups, then the initial-score fifths."""

    groupings: tuple[Grouping, ...]
    protected: tuple[bool, ...]          # True for a protected grouping (cross-group ties, assortativity)
    offsets: np.ndarray                  # start of each grouping's block in the flat group index
    indicator: sp.csr_array              # (K, n): 1 where person i is in flat group k
    compact: tuple[np.ndarray, ...] = () # each grouping's codes in the smallest integer type (fast gathers)

    @property
    def size(self) -> int:
        return int(self.offsets[-1])

    def flat(self) -> list[tuple[int, int]]:
        """(grouping index, code) of every flat group, in order."""
        return [(gi, k) for gi, g in enumerate(self.groupings) for k in range(g.n_groups)]


def score_fifths(final: np.ndarray, higher_is_better: bool = True) -> Grouping:
    """People by fifth of their period-0 final score (by rank; ties broken by row order)."""
    n = len(final)
    order = np.argsort(final, kind="stable")
    codes = np.empty(n, dtype=np.int64)
    codes[order] = (np.arange(n) * 5) // max(n, 1)
    labels = ("1 (lowest scores)", "2", "3", "4", "5 (highest scores)")
    counts = np.bincount(codes, minlength=5).astype(np.int64)
    present = counts > 0
    remap = np.cumsum(present) - 1
    values = tuple((labels[i],) for i in range(5) if present[i])
    return Grouping(("initial score fifth",), remap[codes], values, counts[present])


def build_index(protected: list[Grouping], extra: list[Grouping]) -> GroupIndex:
    groupings = tuple(protected) + tuple(extra)
    sizes = [g.n_groups for g in groupings]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = len(groupings[0].codes)
    rows, cols = [], []
    for g, off in zip(groupings, offsets[:-1], strict=True):
        ok = np.flatnonzero(g.codes >= 0)
        rows.append(g.codes[ok] + off)
        cols.append(ok)
    ind = sp.csr_array((np.ones(sum(len(r) for r in rows)), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(int(offsets[-1]), n))
    compact = tuple(g.codes.astype(np.int8 if g.n_groups < 127 else np.int16 if g.n_groups < 32_000 else np.int32)
                    for g in groupings)
    return GroupIndex(groupings, tuple([True] * len(protected) + [False] * len(extra)), offsets, ind, compact)


def _score_assortativity(adj: sp.csr_array, deg: np.ndarray, s: np.ndarray) -> float:
    """Pearson correlation of the scores at the two ends of a tie (networkx's numeric assortativity)."""
    total = float(adj.nnz)
    if total == 0:
        return float("nan")
    # Element-wise products and sums, not BLAS dot products: on a busy machine BLAS threads spin and a
    # 1e4-element dot can take milliseconds.
    mu = float(np.sum(deg * s)) / total
    var = float(np.sum(deg * s * s)) / total - mu * mu
    if not var > 1e-12 * max(1.0, mu * mu):
        return float("nan")
    cov = float(np.sum(s * (adj @ s))) / total - mu * mu
    return cov / var


def measure(index: GroupIndex, adj: sp.csr_array, rows: np.ndarray, own: np.ndarray, final: np.ndarray,
            att: np.ndarray, state, removed, formed: int, refused: int, solver: dict) -> tuple[np.ndarray, np.ndarray]:
    """The period's group table ``(K, len(COLUMNS) + tiers)`` and population row (see :data:`POPULATION`)."""
    n = adj.shape[0]
    deg = np.diff(adj.indptr).astype(np.float64)
    _, labels = connected_components(adj, directed=True, connection="strong")
    sizes = np.bincount(labels)
    giant = int(np.argmax(sizes)) if len(sizes) else -1
    outside = labels != giant
    # Group sums column by column (each a sparse mat-vec over contiguous data): no (n, columns) copy.
    zero = np.zeros(n)
    columns = [np.ones(n), final, own, deg, (deg == 0).astype(np.float64), outside.astype(np.float64), zero, zero,
               state.lost[0], state.lost[1], state.lost[2], state.formed, state.refused]
    columns += [att[:, j] for j in range(att.shape[1])]
    ind = index.indicator
    table = np.column_stack([ind @ np.asarray(c, dtype=np.float64) for c in columns])
    cols = adj.indices
    assort = []
    for gi, (g, is_protected) in enumerate(zip(index.groupings, index.protected, strict=True)):
        if not is_protected:
            continue
        codes = index.compact[gi]
        off = index.offsets[gi]
        cr, cc = codes[rows], codes[cols]
        if (codes < 0).any():
            known = (cr >= 0) & (cc >= 0)
            same = known & (cr == cc)
            known_ends = np.bincount(cr[known], minlength=g.n_groups).astype(np.float64)
        else:
            same = cr == cc
            known_ends = table[off:off + g.n_groups, C["degree_sum"]]
        same_ends = np.bincount(cr[same], minlength=g.n_groups).astype(np.float64)
        table[off:off + g.n_groups, C["known_ends"]] = known_ends
        table[off:off + g.n_groups, C["cross_ends"]] = known_ends - same_ends
        total = known_ends.sum()
        if total > 0:
            a = known_ends / total
            denom = 1.0 - float(a @ a)
            assort.append((float(same_ends.sum() / total) - float(a @ a)) / denom if denom > 1e-15 else np.nan)
        else:
            assort.append(np.nan)
    pop = np.empty(ASSORT0 + len(assort))
    pop[P["edges"]] = adj.nnz // 2
    pop[P["removed_real_name_only"]:P["removed_both"] + 1] = removed
    pop[P["formed"]] = formed
    pop[P["refused"]] = refused
    pop[P["isolated"]] = float((deg == 0).sum())
    pop[P["giant_size"]] = float(sizes[giant]) if giant >= 0 else 0.0
    pop[P["score_assortativity"]] = _score_assortativity(adj, deg, final)
    pop[P["solver_iterations"]] = solver.get("iterations", 0)
    pop[P["solver_error_bound"]] = solver.get("error_bound", 0.0)
    pop[ASSORT0:] = assort
    return table, pop
