"""One seeded run of the long-run simulation, vectorised on scipy.sparse.

Period ``t = 1..T`` (period 0 is the input: its scores, tiers and graph):

1. every person follows the advice this period with probability
   ``compliance`` (one draw per person and period);
2. **unfriending** -- a compliant person drops each friend whose score at the
   end of period ``t - 1`` is worse than theirs by more than ``margin`` points
   (score-margin clause) or who has no real-name account (real-name clause); a
   tie goes when either end drops it, and each lost tie-end is booked to the
   clause(s) that removed it: real-name clause only, score margin only, or both;
3. **tie formation** -- a person below their period-0 number of friends makes
   ``min(Poisson(rate), missing)`` attempts; each candidate is a friend of a
   random friend (``triadic``), someone within ``window`` of the population of
   their own score rank (``score_homophily``) or anyone; a tie forms unless it
   exists already or a compliant end would drop it under the advice;
4. **renewal** -- a share of people draw a new record of the ``renewal``
   columns from the period-0 records of their stratum (a hot-deck draw, so
   with nothing else acting each stratum keeps its observed distribution);
5. **feedback** -- each declared rule changes a column of the people who did
   (or did not) attain a tier in period ``t - 1``;
6. scores are recomputed from the new inputs, the friends term is solved on
   the new graph (warm start, the rule's proven error bound) and tiers granted.

Nothing loops over people or ties in Python: every step is a numpy/scipy
operation over people, over the stored entries of the symmetric CSR
adjacency, or over the batch of formation attempts.  The state never leaves
this module; :func:`run` returns group aggregates only (see :mod:`._measure`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from audit._errors import AuditInputError
from audit.dynamics._measure import GroupIndex, measure
from audit.graph import fixed_point

__all__ = ["Setup", "Variant", "run", "entry_rows", "initial_state"]


def entry_rows(adj: sp.csr_array) -> np.ndarray:
    """Row of every stored entry of a CSR matrix (its COO row array, without a conversion)."""
    n = adj.shape[0]
    return np.repeat(np.arange(n, dtype=np.int32 if n < 2**31 - 1 else np.int64), np.diff(adj.indptr))


def _keep_entries(adj: sp.csr_array, keep: np.ndarray, rows: np.ndarray) -> sp.csr_array:
    counts = np.bincount(rows[keep], minlength=adj.shape[0])
    indptr = np.zeros(adj.shape[0] + 1, dtype=adj.indptr.dtype)
    np.cumsum(counts, out=indptr[1:])
    out = sp.csr_array((adj.data[keep], adj.indices[keep], indptr), shape=adj.shape)
    out.has_sorted_indices = True
    return out


@dataclass(frozen=True)
class Feedback:
    """A compiled feedback rule (see :class:`audit.dynamics._spec.FeedbackSpec`)."""

    id: str
    tier: int
    attained: bool
    column: str
    op: str
    value: float
    probability: float
    lo: float | None
    hi: float | None


@dataclass(frozen=True)
class Variant:
    """Which mechanisms act in a run (the full scenario, or one with a mechanism switched off)."""

    name: str = "scenario"
    real_name: bool = True
    margin: bool = True
    feedback: bool = True


@dataclass(frozen=True, eq=False)
class Setup:
    """Everything a run needs, prepared once and shared by every run and variant."""

    rule: object
    frame: pd.DataFrame
    adjacency: sp.csr_array
    budget: np.ndarray
    groups: GroupIndex
    # friends term: weight, lo, hi, tolerance, max_iterations (None: the rule has none)
    network: tuple | None
    # renewal: share, columns, stratum order, start and size of each person's stratum (None: no renewal)
    renewal: tuple | None
    feedback: tuple[Feedback, ...]
    base: dict
    compliance: float
    margin: float
    real_name: np.ndarray | None      # True where a person has NO real-name account (None: no clause)
    score_margin: bool
    formation: tuple | None           # rate, triadic, score_homophily, window (people), advice_applies
    initial: tuple                    # own, final, attainment, solver info at period 0

    @property
    def n(self) -> int:
        return self.adjacency.shape[0]


def solve(network: tuple | None, own: np.ndarray, adj: sp.csr_array,
          start: np.ndarray | None) -> tuple[np.ndarray, dict]:
    """The friends term's fixed point (warm start) with the rule's proven error bound; own scores without one."""
    if network is None:
        return own, {"iterations": 0, "error_bound": 0.0}
    w, lo, hi, tol, max_it = network
    sol = fixed_point(own, adj, w, lo=lo, hi=hi, tolerance=tol, max_iterations=max_it, start=start)
    return sol.scores, {"iterations": int(sol.iterations), "error_bound": float(sol.error_bound)}


def initial_state(rule, frame: pd.DataFrame, adj: sp.csr_array, network) -> tuple:
    own = rule.own_scores(frame)
    final, info = solve(network, own, adj, None)
    return own, final, rule.attainment(final), info


def _worse(s_a: np.ndarray, s_b: np.ndarray, margin: float, higher: bool) -> np.ndarray:
    """Is ``b`` worse than ``a`` by more than ``margin``?"""
    return (s_b < s_a - margin) if higher else (s_b > s_a + margin)


class _State:
    """The per-person state of one run (never leaves this module)."""

    def __init__(self, setup: Setup):
        own, final, att, info = setup.initial
        self.adj = setup.adjacency
        self.rows = entry_rows(self.adj)
        self.own = own
        self.final = final
        self.info = info
        self.att = att
        self.frame = setup.frame.copy() if (setup.renewal or setup.feedback) else setup.frame
        self.values = {c: v.copy() for c, v in setup.base.items()}
        n = setup.n
        self.lost = np.zeros((3, n), dtype=np.int64)       # cumulative tie-ends lost: real-name only, margin only, both
        self.formed = np.zeros(n, dtype=np.int64)          # cumulative tie-ends formed
        self.refused = np.zeros(n, dtype=np.int64)         # cumulative attempts refused under the advice


def _unfriend(setup: Setup, st: _State, v: Variant, compliant: np.ndarray, higher: bool) -> np.ndarray:
    """Remove the ties the advice drops; book each lost tie-end to its clause(s). Returns ties removed by cause."""
    adj, rows = st.adj, st.rows
    cols = adj.indices
    # Only entries with a compliant end can go: the clauses are evaluated on those alone.
    cand = np.flatnonzero(compliant[rows] | compliant[cols])
    r, c = rows[cand], cols[cand]
    cr, cc = compliant[r], compliant[c]
    real = np.zeros(len(cand), dtype=bool)
    if v.real_name and setup.real_name is not None:
        nr = setup.real_name
        real = (cr & nr[c]) | (cc & nr[r])
    marg = np.zeros(len(cand), dtype=bool)
    if v.margin and setup.score_margin:
        s = st.final
        si, sj = s[r], s[c]
        marg = (cr & _worse(si, sj, setup.margin, higher)) | (cc & _worse(sj, si, setup.margin, higher))
        del si, sj
    hit = real | marg
    if not hit.any():
        return np.zeros(3, dtype=np.int64)
    cause = (real[hit].astype(np.int64) + 2 * marg[hit].astype(np.int64)) - 1   # 0 real only, 1 margin only, 2 both
    st.lost += np.bincount(cause * setup.n + r[hit].astype(np.int64), minlength=3 * setup.n).reshape(3, setup.n)
    removed = np.bincount(cause, minlength=3) // 2
    keep = np.ones(len(cols), dtype=bool)
    keep[cand[hit]] = False
    st.adj = _keep_entries(adj, keep, rows)
    st.rows = rows[keep]
    return removed.astype(np.int64)


def _form(setup: Setup, st: _State, v: Variant, compliant: np.ndarray, higher: bool,
          rng: np.random.Generator) -> tuple[int, int]:
    """Replace missing ties (see the module docstring). Returns (ties formed, attempts refused by the advice).

    Both ends need room: nobody ends a period with more friends than at period 0 (a friendship budget),
    so formation only rebuilds what the advice took.
    """
    rate, p_tri, p_score, window, advice = setup.formation
    n = setup.n
    adj = st.adj
    deg = np.diff(adj.indptr).astype(np.int64)
    room = np.maximum(setup.budget - deg, 0)
    # People meet new people at a steady rate (not in proportion to the friends they lost).
    attempts = np.minimum(rng.poisson(rate, size=n), room)
    total = int(attempts.sum())
    if total == 0:
        return 0, 0
    open_ = np.flatnonzero(room > 0)                              # people with room, by row
    init = np.repeat(np.arange(n, dtype=np.int64), attempts)
    u = rng.random(total)
    cand = open_[rng.integers(0, len(open_), size=total)]          # "anyone" (with room) unless replaced below
    tri = (u < p_tri) & (deg[init] > 0)
    by_score = ((u >= p_tri) & (u < p_tri + p_score)) | ((u < p_tri) & ~tri)
    if tri.any():
        i = init[tri]
        j = adj.indices[adj.indptr[i] + (rng.random(len(i)) * deg[i]).astype(np.int64)]
        cand[tri] = adj.indices[adj.indptr[j] + (rng.random(len(j)) * deg[j]).astype(np.int64)]
    if by_score.any():
        # Neighbours in score rank among the people with room (the window scales with their number).
        order = open_[np.argsort(st.final[open_], kind="stable")]
        rank = np.zeros(n, dtype=np.int64)
        rank[order] = np.arange(len(order))
        w = max(1, int(round(window * len(order) / n)))
        i = init[by_score]
        step = rng.integers(1, w + 1, size=len(i)) * np.where(rng.random(len(i)) < 0.5, -1, 1)
        cand[by_score] = order[np.clip(rank[i] + step, 0, len(order) - 1)]
    ok = (cand != init) & (room[cand] > 0)
    a, b = np.minimum(init, cand)[ok], np.maximum(init, cand)[ok]
    keys = a * n + b
    # Existing ties, looked up in the CSR (a binary search per candidate within its row).
    exists = np.asarray(st.adj[a, b]).ravel() != 0 if len(keys) else np.zeros(0, dtype=bool)
    keys, a, b, who = keys[~exists], a[~exists], b[~exists], init[ok][~exists]
    refused = 0
    if advice and setup.compliance > 0:
        block = np.zeros(len(keys), dtype=bool)
        if v.real_name and setup.real_name is not None:
            nr = setup.real_name
            block |= (compliant[a] & nr[b]) | (compliant[b] & nr[a])
        if v.margin and setup.score_margin:
            s = st.final
            block |= (compliant[a] & _worse(s[a], s[b], setup.margin, higher)) | \
                     (compliant[b] & _worse(s[b], s[a], setup.margin, higher))
        if block.any():
            st.refused += np.bincount(who[block], minlength=n)
            refused = int(block.sum())
        keys = keys[~block]
    if len(keys) == 0:
        return 0, refused
    # Distinct new ties in random order; an end keeps only as many as it has room for.
    keys = np.unique(keys)
    keys = keys[rng.permutation(len(keys))]
    a, b = keys // n, keys % n
    # A person's place among all new ties touching them (as either end), in the random order.
    occ = _occurrence(np.concatenate([a, b]))
    keep = (occ[:len(a)] < room[a]) & (occ[len(a):] < room[b])
    keys, a, b = keys[keep], a[keep], b[keep]
    if len(keys) == 0:
        return 0, refused
    st.formed += np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    ends = np.concatenate([a, b])
    new = sp.csr_array((np.ones(2 * len(keys)), (ends, np.concatenate([b, a]))), shape=(n, n))
    merged = (st.adj + new).tocsr()
    merged.sort_indices()
    st.adj = merged
    st.rows = entry_rows(merged)
    return len(keys), refused


def _occurrence(x: np.ndarray) -> np.ndarray:
    """For each element, how many equal elements come before it (0 for the first of its value)."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    start = np.r_[0, np.flatnonzero(xs[1:] != xs[:-1]) + 1]
    counts = np.diff(np.r_[start, len(xs)])
    out = np.empty(len(x), dtype=np.int64)
    out[order] = np.arange(len(x)) - np.repeat(start, counts)
    return out


def _renew(setup: Setup, st: _State, rng: np.random.Generator) -> bool:
    """Hot-deck renewal; True when anyone drew a new record."""
    share, columns, order, start, size = setup.renewal
    who = np.flatnonzero(rng.random(setup.n) < share)
    if len(who) == 0:
        return False
    donor = order[start[who] + (rng.random(len(who)) * size[who]).astype(np.int64)]
    for c in columns:
        st.values[c][who] = setup.base[c][donor]
    return True


def _feed(setup: Setup, st: _State, rng: np.random.Generator) -> bool:
    """Apply the feedback rules; True when any applied to anyone."""
    moved = False
    for f in setup.feedback:
        who = st.att[:, f.tier] == f.attained
        if f.probability < 1:
            who &= rng.random(setup.n) < f.probability
        idx = np.flatnonzero(who)
        if len(idx) == 0:
            continue
        moved = True
        col = st.values[f.column]
        if f.op == "add":
            col[idx] = col[idx] + np.asarray(f.value).astype(col.dtype)
        elif f.op == "add_poisson":
            col[idx] = col[idx] + rng.poisson(f.value, size=len(idx)).astype(col.dtype)
        elif f.op == "multiply":
            col[idx] = col[idx] * f.value
        else:
            col[idx] = np.asarray(f.value).astype(col.dtype)
        if f.lo is not None or f.hi is not None:
            col[idx] = np.clip(col[idx], f.lo, f.hi).astype(col.dtype)
    return moved


def run(setup: Setup, periods: int, seed_seq: np.random.SeedSequence, variant: Variant = Variant(),
        first: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One run: group aggregates per period, shape ``(periods + 1, K, M)``, and population figures ``(periods + 1, Q)``.

    ``first`` is period 0's measurement (the same for every run), passed in so it is computed once.
    """
    higher = bool(getattr(setup.rule, "higher_is_better", True))
    compliance_rng, formation_rng, renewal_rng, feedback_rng = (np.random.default_rng(s)
                                                                for s in seed_seq.spawn(4))
    st = _State(setup)
    g0, p0 = first if first is not None else measure(setup.groups, st.adj, st.rows, setup.initial[0], st.final,
                                                     st.att, st, np.zeros(3), 0, 0, setup.initial[3])
    groups = np.empty((periods + 1,) + g0.shape)
    pop = np.empty((periods + 1,) + p0.shape)
    groups[0], pop[0] = g0, p0
    for t in range(1, periods + 1):
        compliant = (compliance_rng.random(setup.n) < setup.compliance) if setup.compliance > 0 else \
            np.zeros(setup.n, dtype=bool)
        removed = _unfriend(setup, st, variant, compliant, higher) if compliant.any() else np.zeros(3, np.int64)
        formed, refused = (_form(setup, st, variant, compliant, higher, formation_rng)
                           if setup.formation is not None else (0, 0))
        moved = _renew(setup, st, renewal_rng) if setup.renewal is not None else False
        if variant.feedback and setup.feedback:
            moved |= _feed(setup, st, feedback_rng)
        if moved:
            for c, v in st.values.items():
                st.frame[c] = v
            st.own = setup.rule.own_scores(st.frame)
        if moved or removed.any() or formed:
            st.final, st.info = solve(setup.network, st.own, st.adj, st.final)
            st.att = setup.rule.attainment(st.final)
            info = st.info
        else:       # nothing changed: the scores stay as they are, with the same error bound
            info = {"iterations": 0, "error_bound": st.info["error_bound"]}
        own = st.own
        groups[t], pop[t] = measure(setup.groups, st.adj, st.rows, own, st.final, st.att, st, removed, formed,
                                    refused, info)
    return groups, pop


def compile_feedback(specs, rule, frame: pd.DataFrame, origin: str) -> tuple[Feedback, ...]:
    """Check each feedback rule against the rule's tiers and the data's columns; compile it."""
    tiers = [t.name for t in rule.tiers]
    out = []
    for f in specs:
        where = f"{origin}: feedback {f.id!r}"
        if f.tier not in tiers:
            raise AuditInputError(f"{where}: field 'tier': rule {rule.name!r} has no tier {f.tier!r} "
                                  f"(tiers: {', '.join(tiers)})")
        if f.column not in frame.columns:
            raise AuditInputError(f"{where}: field 'column': the data have no column {f.column!r}")
        if rule.features and f.column not in rule.features:
            raise AuditInputError(f"{where}: field 'column': rule {rule.name!r} does not read {f.column!r}, "
                                  f"so the feedback would change nothing")
        op, value = f.change
        kind = column_kind(frame[f.column], where=f"{where}: column {f.column!r}")
        if kind == "bool":
            if op != "set" or not isinstance(value, bool):
                raise AuditInputError(f"{where}: field '{op}': column {f.column!r} is true/false; use 'set: true' "
                                      f"or 'set: false'")
        else:
            if isinstance(value, bool):
                raise AuditInputError(f"{where}: field '{op}': column {f.column!r} is numeric; give a number")
            if kind == "integer" and op in ("add", "set") and float(value) != int(value):
                raise AuditInputError(f"{where}: field '{op}': column {f.column!r} holds whole numbers; "
                                      f"give a whole number")
            if kind == "integer" and op == "multiply":
                raise AuditInputError(f"{where}: field 'multiply': column {f.column!r} holds whole numbers; "
                                      f"use 'add' or 'add_poisson'")
        if kind == "bool" and (f.min is not None or f.max is not None):
            raise AuditInputError(f"{where}: fields 'min'/'max' do not apply to a true/false column")
        out.append(Feedback(f.id, tiers.index(f.tier), bool(f.attained), f.column, op,
                            value if isinstance(value, bool) else float(value), float(f.probability), f.min, f.max))
    return tuple(out)


def column_kind(col: pd.Series, *, where: str) -> str:
    """'bool', 'integer' or 'float' for a column a scenario changes; missing values are refused."""
    if col.isna().any():
        raise AuditInputError(f"{where}: has {int(col.isna().sum())} missing values; a scenario can only change "
                              f"complete columns")
    if pd.api.types.is_bool_dtype(col):
        return "bool"
    if pd.api.types.is_integer_dtype(col):
        return "integer"
    if pd.api.types.is_float_dtype(col):
        return "float"
    raise AuditInputError(f"{where}: must be numeric or true/false to be changed by a scenario")


def as_array(col: pd.Series, kind: str) -> np.ndarray:
    return col.to_numpy(dtype={"bool": bool, "integer": np.int64, "float": np.float64}[kind], copy=True)


def with_variant_setup(setup: Setup, **changes) -> Setup:
    return replace(setup, **changes)
