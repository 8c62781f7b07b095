"""Shapley attribution of a gap among the parts of a rule, and its bootstrap.

The value of a coalition T of *active* parts (the others neutralised) is the finding's gap under the
counterfactual scores: ``u(T) = log(rate_g / rate_c)`` (with half a person added to each count, so a
complete exclusion has a finite gap), and in rate points ``rate_g - rate_c``.  A part's Shapley value is
its average marginal contribution over orders of activating the parts, which is order-free, and the
values add up to ``u(all) - u(none)`` exactly; ``u(none)`` — the gap left with every part neutralised —
is reported as the part ``residual``, so the parts sum to the whole gap.

With few parts every coalition is evaluated (exact); otherwise a fixed set of random orders is used,
each with its reverse (antithetic sampling), and the estimate still adds up exactly.  Either way the
values are a fixed *linear map* of the evaluated coalitions' gaps, so the bootstrap only has to redo
the gaps: people are resampled (Poisson weights; graph clusters instead of people when the friends term
couples them) and each replicate's gaps come from the per-person outcomes already computed.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["coalitions", "log_gap", "point_gap"]

#: Exact enumeration up to this many parts (2^P coalitions); sampled orders above.
EXACT_MAX = 8


def coalitions(n_parts: int, *, permutations: int = 32, seed: int = 0) -> tuple[list[frozenset], np.ndarray, str]:
    """Coalitions to evaluate (as sets of *neutralised* parts) and the map from their values to Shapley values.

    Returns ``(removed_sets, coef, method)`` with ``coef`` of shape (E, P): Shapley value of part k =
    ``sum_e coef[e, k] * u_e`` where ``u_e`` is the value with ``removed_sets[e]`` neutralised.

    Examples
    --------
    >>> sets, coef, method = coalitions(2)
    >>> method, len(sets)
    ('exact', 4)
    >>> u = {frozenset(): 10.0, frozenset({0}): 4.0, frozenset({1}): 7.0, frozenset({0, 1}): 1.0}
    >>> np.round(np.array([u[s] for s in sets]) @ coef, 6).tolist()  # adds up to 10 - 1
    [6.0, 3.0]
    """
    P = n_parts
    full = frozenset(range(P))
    if P <= EXACT_MAX:
        sets = [frozenset(c) for r in range(P + 1) for c in itertools.combinations(range(P), r)]
        index = {s: i for i, s in enumerate(sets)}
        coef = np.zeros((len(sets), P))
        for k in range(P):
            others = [j for j in range(P) if j != k]
            for r in range(P):
                w = math.factorial(r) * math.factorial(P - r - 1) / math.factorial(P)
                for active in itertools.combinations(others, r):
                    a = frozenset(active)
                    # u(T + k) - u(T) with T active: neutralised sets are the complements.
                    coef[index[full - (a | {k})], k] += w
                    coef[index[full - a], k] -= w
        return sets, coef, "exact"
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5348]))
    orders = []
    for _ in range(max(1, permutations // 2)):
        p = rng.permutation(P)
        orders += [p, p[::-1]]
    index: dict[frozenset, int] = {}
    entries = []
    for order in orders:
        active: set = set()
        prev = full
        for k in order:
            active.add(int(k))
            cur = full - frozenset(active)
            for s in (prev, cur):
                if s not in index:
                    index[s] = len(index)
            entries.append((index[cur], index[prev], int(k)))
            prev = cur
    coef = np.zeros((len(index), P))
    for cur, prev, k in entries:
        coef[cur, k] += 1.0 / len(orders)
        coef[prev, k] -= 1.0 / len(orders)
    sets = [None] * len(index)
    for s, i in index.items():
        sets[i] = s
    return sets, coef, f"sampled ({len(orders)} orders, antithetic)"


def log_gap(x_g, n_g, x_c, n_c) -> np.ndarray:
    """log(rate_g / rate_c) with half a person added to each count (finite for a complete exclusion)."""
    return np.log((np.asarray(x_g) + 0.5) / (np.asarray(n_g) + 1.0)) - np.log(
        (np.asarray(x_c) + 0.5) / (np.asarray(n_c) + 1.0))


def point_gap(x_g, n_g, x_c, n_c) -> np.ndarray:
    """rate_g - rate_c."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(x_g) / np.asarray(n_g) - np.asarray(x_c) / np.asarray(n_c)
