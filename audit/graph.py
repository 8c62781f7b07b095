"""Social graphs aligned to a population, and the network term's fixed point.

The graph is an undirected friendship network stored as a symmetric
``scipy.sparse`` CSR matrix whose row ``i`` is the person in row ``i`` of the
population.  Everything here is sparse linear algebra; nothing loops over
people or edges in Python.
"""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from audit._errors import AuditInputError, show_value
from audit._limits import GRAPH_TIES, NETWORK_ITERATIONS, NETWORK_WORK, enforce, iterations_needed

__all__ = ["Graph", "NetworkSolution", "build_adjacency", "fixed_point", "graph_from_adjacency", "load_graph",
           "read_table", "check_column_names", "solve_network"]


def read_table(data: pd.DataFrame | str | Path, *, what: str) -> tuple[pd.DataFrame, str]:
    """Read a CSV or Parquet file (or pass a DataFrame through); errors name the file.

    Column names are checked here, for every table the toolkit reads: a name that
    appears twice is an error (pandas would rename the second ``x`` of a CSV to
    ``x.1`` and a rule would silently read the first), and so are two names that are
    the same after Unicode normalisation (``g`` and ``𝔤``), which a reader of the
    report could not tell apart.
    """
    if isinstance(data, pd.DataFrame):
        name = f"<{what} DataFrame>"
        check_column_names(list(data.columns), name)
        return data, name
    from audit._io import check_path

    path = check_path(data, what=f"{what} file")
    name = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise AuditInputError(f"{name}: {what} file not found") from None
    except OSError as exc:
        raise AuditInputError(f"{name}: cannot read {what} file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise AuditInputError(f"{name}: is a folder; give the {what} file")
    if not stat.S_ISREG(info.st_mode):
        raise AuditInputError(f"{name}: is not a regular file; give the {what} file")
    suffix = path.suffix.lower()
    header: list[str] | None = None
    try:
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            header = list(pq.read_schema(path).names)  # pandas cannot read repeated names: say which
            check_column_names(header, name)
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".txt", ".tsv", ".gz"):
            sep = "\t" if suffix == ".tsv" else ","
            frame = pd.read_csv(path, sep=sep)
            header = _csv_header(path, sep)
        else:
            raise AuditInputError(f"{name}: unsupported {what} file type {suffix!r} (use .csv or .parquet)")
    except AuditInputError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for corrupt files
        raise AuditInputError(f"{name}: cannot read {what} file: {type(exc).__name__}: {exc}") from None
    check_column_names(header if header is not None else list(frame.columns), name)
    if frame.empty and len(frame.columns) == 0:
        raise AuditInputError(f"{name}: {what} file is empty")
    return frame, name


def _csv_header(path: Path, sep: str) -> list[str] | None:
    """The column names as written in the file's first row (pandas renames a repeated ``x`` to ``x.1``)."""
    import csv
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            for row in csv.reader(fh, delimiter=sep):
                if row:  # pandas skips blank lines before the header too
                    return row
            return []
    except (OSError, UnicodeDecodeError, csv.Error):
        return None  # pandas read it with its own rules; its (renamed) columns are checked instead


def check_column_names(names: list, source: str) -> None:
    """One-line error for a repeated column name or two names that only differ by Unicode normalisation."""
    import unicodedata

    seen: dict[str, object] = {}
    folded: dict[str, object] = {}
    for col in names:
        text = str(col)
        if text in seen:
            raise AuditInputError(f"{source}: column {text!r} appears more than once")
        seen[text] = col
        key = unicodedata.normalize("NFKC", text)
        if key in folded:
            raise AuditInputError(
                f"{source}: columns {str(folded[key])!r} and {text!r} look alike (the same after Unicode "
                f"normalisation); rename one so that no rule or reader can take one for the other")
        folded[key] = col


@dataclass(frozen=True, eq=False)
class Graph:
    """An undirected friendship graph aligned to the rows of a population.

    Attributes
    ----------
    adjacency : scipy.sparse.csr_array, shape (n, n)
        Symmetric 0/1 matrix with no self-loops; ``adjacency[i, j] == 1`` when
        the people in rows ``i`` and ``j`` are friends.
    dropped_self_loops, dropped_duplicates : int
        Clean-up done while loading (reported in the audit's population card).
    source : str
        Where the edges came from (a file name, never an absolute path in reports).
    """

    adjacency: sp.csr_array
    dropped_self_loops: int = 0
    dropped_duplicates: int = 0
    source: str = "<graph>"

    @property
    def n_nodes(self) -> int:
        return self.adjacency.shape[0]

    @property
    def n_edges(self) -> int:
        return int(self.adjacency.nnz // 2)

    @property
    def degree(self) -> np.ndarray:
        return np.diff(self.adjacency.indptr).astype(np.int64)

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Each undirected tie once as (u, v) with u < v, in row-major order."""
        coo = sp.triu(self.adjacency, k=1, format="coo")
        return coo.row.astype(np.int64), coo.col.astype(np.int64)

    @property
    def content_hash(self) -> str:
        u, v = self.edge_arrays()
        h = hashlib.sha256()
        h.update(np.int64(self.n_nodes).tobytes())
        h.update(u.tobytes())
        h.update(v.tobytes())
        return "sha256:" + h.hexdigest()


def graph_from_adjacency(adjacency, *, source: str = "<adjacency>") -> Graph:
    """Wrap a square sparse (or dense) matrix as a :class:`Graph` (symmetrised, self-loops removed)."""
    a = sp.csr_array(adjacency, dtype=np.float64)
    if a.shape[0] != a.shape[1]:
        raise AuditInputError(f"{source}: adjacency must be square, got {a.shape}")
    a = a.maximum(a.T).tocsr()
    loops = int((a.diagonal() != 0).sum())
    a.setdiag(0)
    a.eliminate_zeros()
    a.data[:] = 1.0
    a.sort_indices()
    return Graph(a, dropped_self_loops=loops, source=source)


def load_graph(
    edges: pd.DataFrame | str | Path,
    ids,
    *,
    source_col: str | None = None,
    target_col: str | None = None,
    id_name: str = "id",
) -> Graph:
    """Build the friendship graph from an edge list, aligned to the population's ids.

    Parameters
    ----------
    edges : DataFrame or path to CSV/Parquet
        One row per tie.  The id columns are ``source_col``/``target_col``, by
        default ``source`` and ``target`` when present, else the first two columns.
    ids : array-like
        The population's id column, in row order; row ``i`` of the graph is the
        person with ``ids[i]``.
    id_name : str
        Name of the population's id column (for error messages).

    Returns
    -------
    Graph
        Undirected (a tie listed in both directions counts once); self-loops
        and duplicate ties are dropped and counted.  An id that is not in the
        population is an error, never silently dropped.

    Examples
    --------
    >>> import pandas as pd
    >>> from audit.graph import load_graph
    >>> g = load_graph(pd.DataFrame({"source": [1, 2, 2], "target": [2, 1, 3]}), [1, 2, 3])
    >>> g.n_edges, g.dropped_duplicates, g.degree.tolist()
    (2, 1, [1, 2, 1])
    """
    frame, name = read_table(edges, what="edges")
    # Each row is a tie, perhaps listed in both directions: refuse before building anything of that size.
    if len(frame) > 2 * GRAPH_TIES.value:
        raise AuditInputError(
            f"{name}: the edge list has {len(frame):,} rows; at most {2 * GRAPH_TIES.value:,} are read "
            f"(a graph may have {GRAPH_TIES.value:,} ties, each perhaps listed in both directions)")
    cols = list(frame.columns)
    if source_col is None and target_col is None:
        if "source" in cols and "target" in cols:
            source_col, target_col = "source", "target"
        elif len(cols) >= 2:
            source_col, target_col = cols[0], cols[1]
        else:
            raise AuditInputError(f"{name}: an edge list needs two id columns, found {len(cols)}")
    for c in (source_col, target_col):
        if c not in frame.columns:
            raise AuditInputError(f"{name}: column {c!r} is missing (columns: {', '.join(map(str, cols))})")
    index = pd.Index(ids)
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        raise AuditInputError(f"population column {id_name!r}: id {show_value(dup)} appears more than once")
    ends = []
    for c in (source_col, target_col):
        col = frame[c]
        if col.isna().any():
            raise AuditInputError(f"{name}: column {c!r} has {int(col.isna().sum())} missing ids")
        pos = index.get_indexer(col.to_numpy())
        if (pos < 0).any():
            bad = col.to_numpy()[pos < 0]
            raise AuditInputError(
                f"{name}: column {c!r}: {len(bad)} ids are not in the population's {id_name!r} column "
                f"(first: {show_value(bad[0])})")
        ends.append(pos.astype(np.int64))
    u, v = ends
    n = len(index)
    loops = u == v
    u, v = u[~loops], v[~loops]
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    key = lo * n + hi
    # Sorting int64 keys (radix) and comparing neighbours is several times faster
    # than np.unique on 1e7 ties, and gives the same distinct, ordered ties.
    key.sort(kind="stable")
    keep = np.ones(len(key), dtype=bool)
    keep[1:] = key[1:] != key[:-1]
    key = key[keep]
    enforce(GRAPH_TIES, len(key), where=f"{name}: the graph")
    duplicates = len(lo) - len(key)
    a = build_adjacency(n, key // n, key % n)
    return Graph(a, dropped_self_loops=int(loops.sum()), dropped_duplicates=int(duplicates),
                 source=Path(name).name if not name.startswith("<") else name)


def build_adjacency(n: int, u: np.ndarray, v: np.ndarray) -> sp.csr_array:
    """Symmetric 0/1 CSR adjacency from distinct ties ``u < v`` (no checks).

    Built from sorted int64 keys ``row * n + col`` (both directions) so the
    column indices come out sorted, as int32 when they fit.
    """
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    keys = np.concatenate([u * n + v, v * n + u])
    keys.sort(kind="stable")
    rows = keys // n
    cols = keys - rows * n
    idx_dtype = np.int32 if n < 2**31 - 1 and len(keys) < 2**31 - 1 else np.int64
    indptr = np.zeros(n + 1, dtype=idx_dtype)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    a = sp.csr_array((np.ones(len(keys)), cols.astype(idx_dtype), indptr), shape=(n, n))
    a.has_sorted_indices = True
    return a


@dataclass(frozen=True)
class NetworkSolution:
    """The network term's fixed point and how it was obtained.

    ``residual`` is the last change in any score; ``error_bound`` is a proven
    bound on the sup-norm distance to the exact fixed point:
    ``w / (1 - w) * residual`` after fixed-point iteration (the update is a
    contraction with factor ``w``), or ``|T(s) - s| / (1 - w)`` after a linear
    solve (the same argument applied to one verification step ``T``).
    """

    scores: np.ndarray
    iterations: int
    residual: float
    error_bound: float
    method: str = "iterate"


def _affine(own: np.ndarray, adj: sp.csr_array, weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    deg = np.diff(adj.indptr).astype(np.float64)
    has = deg > 0
    inv = np.zeros_like(deg)
    inv[has] = weight / deg[has]
    # Isolates: base = own and inv = 0, so they keep their own score.
    base = np.where(has, (1.0 - weight) * own, own)
    return inv, base, has


def _step(adj, s, inv, base, lo, hi) -> np.ndarray:
    nxt = adj @ s
    nxt *= inv
    nxt += base
    if lo is not None or hi is not None:
        np.clip(nxt, lo, hi, out=nxt)
    return nxt


def _linear_solve(own, adj, weight, has) -> tuple[np.ndarray, int]:
    from scipy.sparse.linalg import LinearOperator, cg

    s = own.copy()
    idx = np.flatnonzero(has)
    if len(idx) == 0:
        return s, 0
    sub = adj[idx][:, idx] if len(idx) < adj.shape[0] else adj
    d = np.diff(sub.indptr).astype(np.float64)
    # (D - w A) s = (1 - w) D own is symmetric positive definite: conjugate gradients apply.
    m = sp.diags_array(d) - weight * sub
    rhs = (1.0 - weight) * d * own[idx]
    pre = LinearOperator(m.shape, matvec=lambda x: x / d, dtype=np.float64)
    count = [0]

    def cb(_):
        count[0] += 1

    x, _ = cg(m.tocsr(), rhs, x0=own[idx].copy(), rtol=1e-12, atol=0.0, maxiter=500, M=pre, callback=cb)
    s[idx] = x
    return s, count[0]


def fixed_point(
    own: np.ndarray,
    adjacency: sp.csr_array,
    weight: float,
    *,
    lo: float | None = None,
    hi: float | None = None,
    tolerance: float = 1e-9,
    max_iterations: int = 10_000,
    start: np.ndarray | None = None,
    method: str = "iterate",
    where: str = "network term",
) -> NetworkSolution:
    """Solve ``s = clip((1 - w) * own + w * mean_{j in friends(i)} s_j, lo, hi)`` on an adjacency matrix.

    People without friends keep their own score.  The map is a contraction
    with factor ``w`` in the sup norm (the friends' mean is an average and
    clipping is non-expansive), so iteration from any ``start`` (default
    ``own``) converges to the unique solution; it stops once the proven error
    bound ``w / (1 - w) * max|s_k - s_{k-1}|`` is at most ``tolerance``.
    ``method="linear"`` first solves the unclamped system
    ``(D - w A) s = (1 - w) D own`` by Jacobi-preconditioned conjugate
    gradients, verifies it with one clamped update, and iterates on from there
    if the clamp is active or the bound is not yet met.  In the linear,
    unclamped case the answer equals the closed form
    ``(I - w W)^{-1} (1 - w) own`` on people with friends, ``W = D^{-1} A``.

    The iterations are bounded (:data:`audit._limits.NETWORK_ITERATIONS`, and
    iterations x ties by :data:`audit._limits.NETWORK_WORK`): after the first
    step the contraction bound gives the number the tolerance needs, and a
    tolerance the budget cannot reach is refused at once, with one line that
    starts with ``where`` (e.g. the rule file).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from audit.graph import fixed_point
    >>> a = sp.csr_array(np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]], dtype=float))
    >>> fixed_point(np.array([400.0, 800.0, 600.0]), a, 0.5, tolerance=1e-12).scores.round(6).tolist()
    [500.0, 650.0, 550.0]
    """
    own = np.asarray(own, dtype=np.float64)
    if not 0 < weight < 1:
        raise AuditInputError(f"network weight must be in (0, 1), got {weight}")
    if not tolerance > 0 or not np.isfinite(tolerance):
        raise AuditInputError(f"network tolerance must be a positive number, got {tolerance}")
    try:
        max_iterations = int(max_iterations)
    except (TypeError, ValueError, OverflowError):
        raise AuditInputError(f"network max_iterations must be a whole number, got {max_iterations!r}") from None
    if max_iterations < 1:
        raise AuditInputError(f"network max_iterations must be at least 1, got {max_iterations}")
    if method not in ("iterate", "linear"):
        raise AuditInputError(f"solver method must be 'iterate' or 'linear', got {method!r}")
    if len(own) == 0:
        return NetworkSolution(own.copy(), 0, 0.0, 0.0, method)
    inv, base, has = _affine(own, adjacency, weight)
    factor = weight / (1.0 - weight)
    used = 0
    if method == "linear":
        s, used = _linear_solve(own, adjacency, weight, has)
        nxt = _step(adjacency, s, inv, base, lo, hi)
        residual = float(np.max(np.abs(nxt - s)))
        bound = residual / (1.0 - weight)
        if bound <= tolerance:
            return NetworkSolution(s, used, residual, bound, "linear")
        start = nxt
        used += 1
    s = own.copy() if start is None else np.array(start, dtype=np.float64, copy=True)
    residual = np.inf
    budget = min(max_iterations, NETWORK_ITERATIONS.value)
    it = 0
    while it < budget:
        it += 1
        nxt = _step(adjacency, s, inv, base, lo, hi)
        residual = float(np.max(np.abs(nxt - s)))
        prev, s = s, nxt
        if factor * residual <= tolerance:
            return NetworkSolution(s, used + it, residual, factor * residual,
                                   "linear+iterate" if method == "linear" else "iterate")
        if it == 1:
            # The contraction bound says, from the first change, how many iterations the tolerance
            # needs: refuse at once what the budget cannot reach instead of iterating for minutes.
            # People without friends are at their fixed point after this first step, so only the
            # change among people with friends carries on (shrinking by the factor w each step).
            moving = float(np.max(np.abs(nxt[has] - prev[has]))) if has.any() else 0.0
            needed = max(2, iterations_needed(weight, tolerance, moving))
            term = f"{where} (weight {weight:g}, tolerance {tolerance:g}) cannot converge"
            if needed > budget:
                raise AuditInputError(
                    f"{term} within the limit of {budget:,} iterations: the contraction bound says it needs "
                    f"up to {needed:,} on these scores ({NETWORK_ITERATIONS.advice})")
            visits = needed * max(int(adjacency.nnz), 1)
            if visits > NETWORK_WORK.value:
                raise AuditInputError(
                    f"{term} within the work limit: up to {needed:,} iterations over {adjacency.nnz // 2:,} "
                    f"ties is {visits:,} tie visits, the limit is {NETWORK_WORK.value:,} ({NETWORK_WORK.advice})")
            # A few more than the bound: beyond it only rounding keeps the change above the tolerance.
            budget = min(budget, needed + 10)
    raise AuditInputError(
        f"{where} did not converge to tolerance {tolerance:g} in {it:,} iterations "
        f"(error bound {factor * residual:.3g}; the tolerance may be below floating-point precision "
        f"for these scores); raise the tolerance")


def solve_network(
    own: np.ndarray,
    graph: Graph,
    weight: float,
    *,
    lo: float | None = None,
    hi: float | None = None,
    tolerance: float = 1e-9,
    max_iterations: int = 10_000,
    start: np.ndarray | None = None,
    method: str = "iterate",
    where: str = "network term",
) -> NetworkSolution:
    """Solve the rule's network term on a :class:`Graph` (see :func:`fixed_point`).

    ``s = clip((1 - w) * own + w * mean_{j in friends(i)} s_j, lo, hi)``;
    people without friends keep their own score; ``tolerance`` bounds the
    absolute error of every final score.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from audit.graph import graph_from_adjacency, solve_network
    >>> g = graph_from_adjacency(sp.csr_array(np.array([[0, 1], [1, 0]])))
    >>> solve_network(np.array([400.0, 800.0]), g, 0.5).scores.round(6).tolist()
    [533.333333, 666.666667]
    """
    return fixed_point(own, graph.adjacency, weight, lo=lo, hi=hi, tolerance=tolerance,
                       max_iterations=max_iterations, start=start, method=method, where=where)
