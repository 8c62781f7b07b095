"""Sparse primitives of the contagion family: fixed points, components, hops, mixing, rewiring.

Everything is vectorised over the stored entries of the symmetric CSR
adjacency (each undirected tie appears twice, once per direction) or over the
list of ties; Python loops run only over iterations, batches, groupings and
groups.  ``np.unique`` and ``np.isin`` are avoided on large arrays (slow on 1e7
elements in numpy 2.x); set membership uses pandas' hash index instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

from audit._errors import AuditInputError
from audit.graph import Graph, NetworkSolution, build_adjacency, fixed_point  # noqa: F401

__all__ = [
    "Components",
    "FixedPoint",
    "Mixing",
    "Rewiring",
    "assortativity_from_mixing",
    "build_adjacency",
    "closed_form",
    "coleman_index",
    "components",
    "entry_rows",
    "filter_entries",
    "fixed_point",
    "hop_distances",
    "mixing",
    "rewire",
    "upper_ties",
]


# ---------------------------------------------------------------------- adjacency helpers
def entry_rows(adj: sp.csr_array) -> np.ndarray:
    """Row index of every stored entry of a CSR matrix (the COO ``row`` array, without a conversion)."""
    n = adj.shape[0]
    dtype = np.int32 if n < 2**31 - 1 else np.int64
    return np.repeat(np.arange(n, dtype=dtype), np.diff(adj.indptr))


def filter_entries(adj: sp.csr_array, keep: np.ndarray, rows: np.ndarray | None = None) -> sp.csr_array:
    """The CSR matrix with only the stored entries where ``keep`` is true (order, sorting preserved)."""
    n = adj.shape[0]
    if rows is None:
        rows = entry_rows(adj)
    counts = np.bincount(rows[keep], minlength=n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    out = sp.csr_array((adj.data[keep], adj.indices[keep], indptr), shape=adj.shape)
    out.has_sorted_indices = bool(adj.has_sorted_indices)
    return out


# The adjacency builder and the fixed point live in audit.graph (one implementation,
# shared with Rule.scores); re-exported here under the names contagion has always used.
FixedPoint = NetworkSolution


def closed_form(own: np.ndarray, adj: sp.csr_array, weight: float) -> np.ndarray:
    """The linear, unclamped fixed point by a direct sparse solve of ``(I - w W) s = b``.

    ``W = D^{-1} A`` (zero rows for isolates) and ``b = (1 - w) own`` for
    people with friends, ``own`` for isolates.  For tests and small graphs
    (SuperLU; the fill-in grows fast on large random graphs).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from audit.contagion import closed_form
    >>> closed_form(np.array([400.0, 800.0]), sp.csr_array(np.array([[0.0, 1], [1, 0]])), 0.5).round(6).tolist()
    [533.333333, 666.666667]
    """
    from scipy.sparse.linalg import spsolve

    own = np.asarray(own, dtype=np.float64)
    deg = np.diff(adj.indptr).astype(np.float64)
    has = deg > 0
    dinv = np.where(has, 1.0 / np.where(has, deg, 1.0), 0.0)
    w_mat = sp.diags_array(dinv) @ adj
    m = sp.eye_array(adj.shape[0], format="csc") - weight * sp.csc_array(w_mat)
    b = np.where(has, (1.0 - weight) * own, own)
    return np.asarray(spsolve(m, b), dtype=np.float64)


# ---------------------------------------------------------------------- components and hops
@dataclass(frozen=True)
class Components:
    n_components: int
    labels: np.ndarray
    sizes: np.ndarray
    giant: int

    @property
    def in_giant(self) -> np.ndarray:
        return self.labels == self.giant

    @property
    def giant_size(self) -> int:
        return int(self.sizes[self.giant]) if len(self.sizes) else 0


def components(adj: sp.csr_array) -> Components:
    """Connected components (isolates are components of size 1); the giant is the largest (lowest label on ties).

    The adjacency is symmetric, so its strongly connected components are the
    connected components; the strong algorithm needs no transpose.
    """
    n = adj.shape[0]
    if n == 0:
        return Components(0, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64), -1)
    k, labels = connected_components(adj, directed=True, connection="strong")
    sizes = np.bincount(labels, minlength=k).astype(np.int64)
    return Components(int(k), labels, sizes, int(np.argmax(sizes)))


def hop_distances(graph: Graph | sp.csr_array, sources, max_hops: int | None = None) -> np.ndarray:
    """Hops from the nearest source to every node: 0 for sources, -1 if unreachable (or beyond ``max_hops``).

    Parameters
    ----------
    graph : Graph or symmetric CSR matrix
    sources : bool mask of shape (n,) or array of node indices
    max_hops : int, optional
        Stop expanding after this many hops (cheaper: ``max_hops`` sparse
        mat-vecs of the frontier).  Without it, one multi-source breadth-first
        search (``scipy.sparse.csgraph.dijkstra(..., unweighted=True,
        min_only=True)``).

    Examples
    --------
    >>> import pandas as pd
    >>> from audit.graph import load_graph
    >>> from audit.contagion import hop_distances
    >>> path = load_graph(pd.DataFrame({"source": [0, 1, 2], "target": [1, 2, 3]}), range(5))
    >>> hop_distances(path, [0]).tolist()
    [0, 1, 2, 3, -1]
    >>> hop_distances(path, [0], max_hops=2).tolist()
    [0, 1, 2, -1, -1]
    """
    adj = graph.adjacency if isinstance(graph, Graph) else sp.csr_array(graph)
    n = adj.shape[0]
    src = np.asarray(sources)
    if src.dtype == bool:
        if src.shape != (n,):
            raise AuditInputError(f"seed mask has {src.shape[0]} entries but the graph has {n} nodes")
        mask = src.copy()
    else:
        mask = np.zeros(n, dtype=bool)
        if src.size:
            idx = src.astype(np.int64).ravel()
            if idx.min() < 0 or idx.max() >= n:
                raise AuditInputError(f"seed index out of range for a graph of {n} nodes")
            mask[idx] = True
    dist = np.full(n, -1, dtype=np.int64)
    dist[mask] = 0
    if not mask.any():
        return dist
    if max_hops is not None:
        visited = mask.copy()
        frontier = mask
        for h in range(1, int(max_hops) + 1):
            reached = (adj @ frontier.astype(np.float64)) > 0
            new = reached & ~visited
            if not new.any():
                break
            dist[new] = h
            visited |= new
            frontier = new
        return dist
    d = dijkstra(adj, directed=True, indices=np.flatnonzero(mask), unweighted=True, min_only=True)
    ok = np.isfinite(d)
    dist[ok] = d[ok].astype(np.int64)
    return dist


# ---------------------------------------------------------------------- mixing
@dataclass(frozen=True)
class Mixing:
    """Tie-ends by group, over ties whose both ends have a known group.

    ``volume[k]``: tie-ends at members of group ``k`` (= the row sums of the
    symmetric mixing matrix that counts every tie in both directions);
    ``same[k]``: tie-ends at members of ``k`` whose friend is also in ``k``
    (= the diagonal, i.e. twice the within-group ties).
    """

    volume: np.ndarray
    same: np.ndarray

    @property
    def total(self) -> int:
        return int(self.volume.sum())


def upper_ties(adj: sp.csr_array, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each undirected tie once, as ``(u, v)`` with ``u < v`` (from the stored entries, no conversion)."""
    if rows is None:
        rows = entry_rows(adj)
    upper = rows < adj.indices
    return rows[upper], adj.indices[upper]


def mixing(u: np.ndarray, v: np.ndarray, codes: np.ndarray, n_groups: int) -> Mixing:
    """Per-group diagonal and margins of the symmetric mixing matrix by ``bincount`` over the ties.

    ``u, v`` list every undirected tie once; each tie contributes one tie-end
    to the group of each end (the symmetric matrix counts it both ways).  Ties
    with an end whose group is unknown (code -1) are left out.
    """
    G = int(n_groups)
    if (G + 1) ** 2 <= 1_000_000:
        # One bincount over (group of u, group of v) with "unknown" as an extra code G; small
        # integer codes keep the gathers in cache.
        small_codes = np.where(codes >= 0, codes, G).astype(np.int16 if G < 2**15 - 1 else np.int32)
        key = small_codes[u].astype(np.int32)
        key *= G + 1
        key += small_codes[v]
        table = np.bincount(key, minlength=(G + 1) ** 2).reshape(G + 1, G + 1)[:G, :G]
        volume = (table.sum(axis=1) + table.sum(axis=0)).astype(np.int64)
        same = 2 * np.diagonal(table).astype(np.int64)
        return Mixing(volume, same)
    cu = codes[u]
    cv = codes[v]
    ok = (cu >= 0) & (cv >= 0)
    cu, cv = cu[ok], cv[ok]
    volume = (np.bincount(cu, minlength=G) + np.bincount(cv, minlength=G)).astype(np.int64)
    same = 2 * np.bincount(cu[cu == cv], minlength=G).astype(np.int64)
    return Mixing(volume, same)


def assortativity_from_mixing(m: Mixing) -> float:
    """Newman's attribute assortativity ``r = (sum_k e_kk - sum_k a_k b_k) / (1 - sum_k a_k b_k)``.

    ``e`` is the symmetric mixing matrix normalised to sum 1 (each undirected
    tie counted in both directions, as networkx does), so ``a = b`` are its
    margins.  NaN when there are no ties or everyone is in one group.
    """
    total = float(m.volume.sum())
    if total <= 0:
        return float("nan")
    a = m.volume / total
    sab = float(np.dot(a, a))
    trace = float(m.same.sum()) / total
    if 1.0 - sab <= 1e-15:
        return float("nan")
    return (trace - sab) / (1.0 - sab)


def coleman_index(same_share: np.ndarray, group_share: np.ndarray) -> np.ndarray:
    """Coleman's homophily index per group.

    ``H`` is the share of a group's ties that stay in the group, ``w`` the
    group's share of the population (people with a known group).  The index is
    ``(H - w) / (1 - w)`` when ``H >= w`` (0 = ties as under random mixing,
    1 = only within-group ties) and ``(H - w) / w`` when ``H < w`` (down to -1 =
    no within-group tie).  NaN where ``H`` is undefined (no ties) or ``w`` is 0 or 1.
    """
    h = np.asarray(same_share, dtype=float)
    w = np.asarray(group_share, dtype=float)
    out = np.full(h.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = (h >= w) & (w < 1) & (w > 0)
        neg = (h < w) & (w > 0) & (w < 1)
        out[pos] = (h[pos] - w[pos]) / (1 - w[pos])
        out[neg] = (h[neg] - w[neg]) / w[neg]
    out[~np.isfinite(h)] = np.nan
    return out


# ---------------------------------------------------------------------- rewiring
@dataclass(frozen=True)
class Rewiring:
    """A degree-preserving rewiring and how much mixing it achieved."""

    graph: Graph
    attempted: int
    achieved: int
    batches: int


def rewire(graph: Graph, *, seed: int | np.random.Generator = 0, swaps_per_edge: float = 10.0) -> Rewiring:
    """Randomise a graph by double-edge swaps, keeping every node's degree exactly.

    Each batch pairs up disjoint ties ``(a, b)``, ``(c, d)`` at random (half of
    all ties per batch) and proposes ``(a, d)``, ``(c, b)`` (or ``(a, c)``,
    ``(d, b)``, each with probability 1/2).  A swap is rejected when it would
    create a self-loop, a tie that already exists, or a tie that another swap
    of the same batch also proposes; accepted swaps are applied together (each
    is a valid swap of the graph before the batch, and they touch disjoint
    ties, so the result is a simple graph with the same degrees).
    ``swaps_per_edge * ties`` swaps are attempted in all.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from audit.graph import graph_from_adjacency
    >>> from audit.contagion import rewire
    >>> ring = graph_from_adjacency(sp.eye_array(30, k=1) + sp.eye_array(30, k=29))
    >>> r = rewire(ring, seed=1)
    >>> bool((r.graph.degree == ring.degree).all()), r.attempted, r.achieved > 0
    (True, 300, True)
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = graph.n_nodes
    u, v = graph.edge_arrays()
    u = u.copy()
    v = v.copy()
    n_edges = len(u)
    target = int(round(swaps_per_edge * n_edges))
    batch = n_edges // 2
    if n_edges < 2 or target <= 0:
        return Rewiring(graph, 0, 0, 0)
    attempted = achieved = batches = 0
    while attempted < target:
        b = min(batch, target - attempted)
        perm = rng.permutation(n_edges)[: 2 * b]
        i, j = perm[:b], perm[b:]
        flip = rng.random(b) < 0.5
        a, bb = u[i], v[i]
        c = np.where(flip, v[j], u[j])
        d = np.where(flip, u[j], v[j])
        # proposed ties (a, d) and (c, bb)
        p1 = np.minimum(a, d) * n + np.maximum(a, d)
        p2 = np.minimum(c, bb) * n + np.maximum(c, bb)
        ok = (a != d) & (c != bb)
        # Hash look-ups (pandas' khash): an existing tie, or a tie proposed twice in this batch
        # (every swap proposing it is rejected).
        existing = pd.Index(u * n + v)
        proposals = np.concatenate([p1, p2])
        bad = (existing.get_indexer(proposals) >= 0) | pd.Index(proposals).duplicated(keep=False)
        ok &= ~bad[:b] & ~bad[b:]
        k = np.flatnonzero(ok)
        u[i[k]], v[i[k]] = p1[k] // n, p1[k] % n
        u[j[k]], v[j[k]] = p2[k] // n, p2[k] % n
        attempted += b
        achieved += len(k)
        batches += 1
    adj = build_adjacency(n, u, v)
    return Rewiring(Graph(adj, source=f"{graph.source} (rewired)"), attempted, achieved, batches)
