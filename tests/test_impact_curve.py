"""The threshold curve against a brute-force loop over thresholds (exact rational arithmetic)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

import audit.impact._core as core
import audit.impact._curve as curve_mod
from audit.groups import build_groupings
from audit.impact import threshold_curve
from audit.impact._core import Pairs, SortedScores


def _brute(scores, codes, n_groups, higher_is_better, min_group_size, thresholds=None):
    """Loop over every distinct threshold and every group, with Fractions."""
    thresholds = np.unique(scores) if thresholds is None else thresholds
    counts = np.array([(codes == k).sum() for k in range(n_groups)])
    eligible = counts >= min_group_size
    if not eligible.any():
        eligible = counts > 0
    hits = np.zeros((len(thresholds), n_groups), dtype=np.int64)
    below = np.zeros((len(thresholds), n_groups), dtype=bool)
    ratios = np.full((len(thresholds), n_groups), np.nan)
    for i, t in enumerate(thresholds):
        fav = scores >= t if higher_is_better else scores <= t
        for k in range(n_groups):
            hits[i, k] = np.sum(fav & (codes == k))
        best = max(Fraction(int(hits[i, k]), int(counts[k])) for k in range(n_groups) if eligible[k])
        for k in range(n_groups):
            if best > 0:
                r = Fraction(int(hits[i, k]), int(counts[k])) / best
                ratios[i, k] = float(r)
                below[i, k] = eligible[k] and r < Fraction(4, 5)
    return thresholds, hits, ratios, below, eligible


def _covered(values, runs):
    got = np.zeros(len(values), dtype=bool)
    for lo, hi in runs:
        got |= (values >= lo) & (values <= hi)
    return got


@pytest.mark.parametrize("higher_is_better", [True, False])
@pytest.mark.parametrize("seed", range(12))
def test_curve_equals_brute_force(seed, higher_is_better):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 120))
    n_groups = int(rng.integers(1, 5))
    # Few distinct values: many ties, and exact 4/5 ratios turn up.
    scores = rng.integers(0, int(rng.integers(2, 12)), n).astype(float)
    people = pd.DataFrame({"g": rng.integers(0, n_groups, n)})
    gr = build_groupings(people, ["g"])[0]
    min_size = int(rng.integers(1, 25))
    ss = SortedScores.build(scores)
    cv = threshold_curve(Pairs.build(gr.codes, ss, gr.n_groups), ss.values, gr.attributes,
                         higher_is_better=higher_is_better, min_group_size=min_size, grid_points=5)
    thresholds, hits, ratios, below, eligible = _brute(scores, gr.codes, gr.n_groups, higher_is_better,
                                                       min_size)
    np.testing.assert_array_equal(cv.thresholds, thresholds)
    np.testing.assert_array_equal(cv.hits, hits)
    np.testing.assert_array_equal(cv.eligible, eligible)
    np.testing.assert_allclose(cv.ratios, ratios, rtol=1e-12, equal_nan=True)
    for k in range(gr.n_groups):
        np.testing.assert_array_equal(_covered(thresholds, cv.group_ranges.get(k, [])), below[:, k])
    np.testing.assert_array_equal(_covered(thresholds, [(r["from"], r["to"]) for r in cv.ranges]),
                                  below.any(axis=1))
    for r in cv.ranges:  # the groups named for a range are exactly those below somewhere in it
        inside = (thresholds >= r["from"]) & (thresholds <= r["to"])
        assert r["groups"] == sorted(np.flatnonzero(below[inside].any(axis=0)).tolist())
    # The plotting grid is a subset of the thresholds with the same counts.
    np.testing.assert_array_equal(cv.grid_hits, hits[cv.grid].T)
    np.testing.assert_array_equal(cv.grid_most_favoured_hits, cv.most_favoured_hits[cv.grid])


def test_exact_four_fifths_is_not_below():
    # Group 0: 4 of 10 selected at t = 1; group 1: 5 of 10 -> ratio exactly 0.8.
    scores = np.array([1.0] * 4 + [0.0] * 6 + [1.0] * 5 + [0.0] * 5)
    codes = np.repeat([0, 1], 10)
    ss = SortedScores.build(scores)
    cv = threshold_curve(Pairs.build(codes, ss, 2), ss.values, ("g",), min_group_size=1)
    assert cv.ratios[1, 0] == 0.8
    assert cv.ranges == []


def test_radix_and_dense_pairs_agree(monkeypatch):
    rng = np.random.default_rng(5)
    scores = rng.normal(size=3000).round(2)
    codes = rng.integers(-1, 40, 3000)  # -1: missing attribute
    scores[:25] = np.nan
    ss = SortedScores.build(scores)
    dense = Pairs.build(codes, ss, 40)
    monkeypatch.setattr(core, "_DENSE_CELLS", 0)
    radix = Pairs.build(codes, ss, 40)
    for a in ("group", "score_index", "count", "start"):
        np.testing.assert_array_equal(getattr(dense, a), getattr(radix, a))
    assert dense.count.sum() == ((codes >= 0) & ~np.isnan(scores)).sum()


def test_large_curve_is_not_materialised(monkeypatch):
    # Ranges and the grid come from O(n log n) work; the D x G table is refused
    # above the cap instead of exhausting memory.
    monkeypatch.setattr(curve_mod, "MAX_FULL_CELLS", 1000)
    rng = np.random.default_rng(1)
    scores = rng.normal(size=5000)
    codes = rng.integers(0, 3, 5000)
    codes[scores > 1.5] = 0  # group 0 dominates the top of the scale
    ss = SortedScores.build(scores)
    cv = threshold_curve(Pairs.build(codes, ss, 3), ss.values, ("g",))
    assert cv.ranges and cv.grid_hits.shape == (3, len(cv.grid)) and len(cv.grid) <= 202
    with pytest.raises(ValueError, match="grid"):
        _ = cv.hits


def _runs(flags: np.ndarray, values: np.ndarray) -> list:
    """Maximal runs of consecutive true flags, as (first value, last value)."""
    out, start = [], None
    for i, f in enumerate(flags.tolist() + [False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((float(values[start]), float(values[i - 1])))
            start = None
    return out


@pytest.mark.parametrize("higher_is_better", [True, False])
@pytest.mark.parametrize("seed", range(16))
def test_published_ranges_equal_brute_force(seed, higher_is_better):
    # Independent: a loop over thresholds applying the shared rule of audit.disclosure at each one:
    # the group's cell and the most favoured group's cell publishable, and at least `thr` people
    # of the population on each side of the cut.
    from audit.disclosure import cell_publishable

    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(40, 400))
    n_groups = int(rng.integers(1, 5))
    scores = rng.integers(0, int(rng.integers(3, 40)), n).astype(float)
    codes = rng.integers(0, n_groups, n)
    scores += 3 * (codes == 0)  # some structure: group 0 ahead
    extra = rng.integers(0, 30)  # people outside the grouping (a missing attribute) still count as population
    scores = np.r_[scores, rng.integers(0, 40, extra).astype(float)]
    codes = np.r_[codes, np.full(extra, -1)]
    thr = int(rng.integers(0, 12))
    min_size = int(rng.integers(1, 40))
    ss = SortedScores.build(scores)
    cv = threshold_curve(Pairs.build(codes, ss, n_groups), ss.values, ("g",), higher_is_better=higher_is_better,
                         min_group_size=min_size, population=ss.population)
    ranges, group_ranges = cv.published_ranges(thr)
    thresholds, hits, ratios, below, eligible = _brute(scores[codes >= 0], codes[codes >= 0], n_groups,
                                                       higher_is_better, min_size, np.unique(scores))
    np.testing.assert_array_equal(thresholds, cv.thresholds)
    counts = np.bincount(codes[codes >= 0], minlength=n_groups)
    fav_pop = np.array([np.sum(scores >= t) if higher_is_better else np.sum(scores <= t) for t in thresholds])
    pop_ok = (fav_pop >= thr) & (len(scores) - fav_pop >= thr)
    # The most favoured group's cell comes from the curve; check independently that it is a group
    # with the best rate among eligible groups at every threshold (exact fractions from the brute
    # force; among tied groups the curve may pick another than the table does, with the same rate).
    for i in range(len(thresholds)):
        best = max(Fraction(int(hits[i, k]), int(counts[k])) for k in range(n_groups) if eligible[k])
        assert Fraction(int(cv.most_favoured_hits[i]), int(cv.most_favoured_n[i])) == best
        if best > 0:  # (with nobody favourable the curve stores a 0/1 placeholder: rate 0 as well)
            assert int(cv.most_favoured_n[i]) in counts[eligible]
    mf_ok = cell_publishable(cv.most_favoured_hits, cv.most_favoured_n, thr)
    expected = {}
    for k in range(n_groups):
        ok = below[:, k] & pop_ok & mf_ok & cell_publishable(hits[:, k], counts[k], thr)
        runs = _runs(ok, thresholds)
        if runs:
            expected[k] = runs
    assert group_ranges == expected
    union = np.zeros(len(thresholds), dtype=bool)
    for runs in expected.values():
        union |= _covered(thresholds, runs)
    assert [(r["from"], r["to"]) for r in ranges] == _runs(union, thresholds)
    for r in ranges:
        inside = (thresholds >= r["from"]) & (thresholds <= r["to"])
        assert r["groups"] == sorted(k for k, runs in expected.items() if _covered(thresholds, runs)[inside].any())
