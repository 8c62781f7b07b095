"""Interval estimates and tests of ``audit.impact``, each checked against an independent implementation."""

from __future__ import annotations

import itertools
import time
import warnings

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    score_test_proportions_2indep,
)

from audit.impact import (
    benjamini_hochberg,
    bootstrap_impact_ratios,
    compare_proportions,
    ratio_score_interval,
    wilson_interval,
)

Z = stats.norm.isf(0.025)


def test_wilson_equals_statsmodels():
    # Independent: statsmodels' proportion_confint(method="wilson").
    for n in (1, 2, 7, 30, 101, 5000):
        x = np.arange(n + 1)
        lo, hi = wilson_interval(x, np.full_like(x, n))
        slo, shi = proportion_confint(x, n, method="wilson")
        np.testing.assert_allclose(lo, slo, rtol=0, atol=1e-12)
        np.testing.assert_allclose(hi, shi, rtol=0, atol=1e-12)
        assert lo[0] == 0.0 and hi[-1] == 1.0
    lo, hi = wilson_interval([3], [10], alpha=0.1)
    slo, shi = proportion_confint(3, 10, method="wilson", alpha=0.1)
    assert abs(lo[0] - slo) < 1e-12 and abs(hi[0] - shi) < 1e-12
    assert np.isnan(wilson_interval([0], [0])[0][0])


def test_ratio_interval_equals_statsmodels_on_grid():
    # Independent: statsmodels' Nam-cubic solution of the same score interval.
    # statsmodels picks a wrong root when either proportion is 1 (x2 == n2 gives
    # complex roots; (30, 30, 46, 47) gives a "bound" whose score statistic is
    # 0.50, not 1.96) and divides by zero at x2 == 0, so the grid keeps x1 < n1
    # and 0 < x2 < n2; those edges are checked against the score test below.  The
    # tolerance is 1e-8 relative: statsmodels' cubic roots lose a few digits for
    # tiny ratios (at (1, 47, 46, 47) its bound gives a score statistic of
    # 1.9599639874, ours 1.9599639845 = z).
    grid = itertools.product([0, 1, 2, 5, 17, 29, 30], [30, 47], [1, 3, 12, 46], [47, 120])
    x1, n1, x2, n2 = (np.array(v) for v in zip(*[g for g in grid if g[0] < g[1] and g[2] < g[3]], strict=True))
    ratio, lo, hi = ratio_score_interval(x1, n1, x2, n2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(len(x1)):
            slo, shi = confint_proportions_2indep(x1[i], n1[i], x2[i], n2[i], compare="ratio", method="score")
            assert abs(hi[i] - shi) <= 1e-8 * shi, (x1[i], n1[i], x2[i], n2[i])
            if x1[i] == 0:
                assert lo[i] == 0.0 and abs(slo) < 1e-9
            else:
                assert abs(lo[i] - slo) <= 1e-8 * slo, (x1[i], n1[i], x2[i], n2[i])
    np.testing.assert_allclose(ratio, (x1 / n1) / (x2 / n2), rtol=1e-15)


@pytest.mark.parametrize("table", [(100, 100, 100, 100), (29, 30, 50, 50), (0, 30, 50, 50), (30, 30, 3, 50),
                                   (1, 1, 1, 2), (0, 100, 20, 100), (250, 900, 400, 1000),
                                   (30, 30, 46, 47), (3, 3, 1, 9)])
def test_ratio_interval_solves_the_score_equation(table):
    # Independent: statsmodels' score *test* of H0: p1/p2 = r (its own restricted
    # MLE and variance); at each bound the statistic must be exactly +-z.
    ratio, lo, hi = ratio_score_interval(*table)
    assert lo[0] <= ratio[0] <= hi[0] and np.isfinite(hi[0])
    for bound, target in ((lo[0], Z), (hi[0], -Z)):
        if bound == 0:
            assert table[0] == 0
            continue
        res = score_test_proportions_2indep(*table, value=bound, compare="ratio", correction=True,
                                            return_results=True)
        assert abs(res.statistic - target) < 1e-7


def test_ratio_interval_edge_cases():
    # Both groups all-positive: closed form of the lower bound (derived by hand:
    # the restricted MLE is p2 = 1, so Z^2 = n1 (1 - r) / r * (N - 1) / N).
    r, lo, hi = ratio_score_interval(100, 100, 100, 100)
    assert r[0] == 1.0
    assert abs(lo[0] - 1 / (1 + Z**2 * 200 / (199 * 100))) < 1e-12
    # Comparison rate 0: the ratio is undefined.
    r, lo, hi = ratio_score_interval(5, 100, 0, 100)
    assert np.isnan(r[0]) and np.isnan(lo[0]) and np.isnan(hi[0])
    # An exact 4/5 prints as 0.8 (one division of integer products).
    assert ratio_score_interval(28, 35, 1, 1)[0][0] == 0.8


def test_ratio_interval_coverage_simulation():
    # Known truth: p1 = 0.3 (n = 200), p2 = 0.45 (n = 300), ratio 2/3; 2000
    # replicates drawn as binomial counts.  A 95% interval should cover ~95%.
    rng = np.random.default_rng(20240611)
    reps = 2000
    x1 = rng.binomial(200, 0.3, reps)
    x2 = rng.binomial(300, 0.45, reps)
    _, lo, hi = ratio_score_interval(x1, 200, x2, 300)
    coverage = np.mean((lo <= 2 / 3) & (2 / 3 <= hi))
    assert 0.93 <= coverage <= 0.97, coverage


def test_fisher_for_small_cells_score_test_otherwise():
    # Independent: scipy's fisher_exact and chi2_contingency (no continuity correction).
    x1 = np.array([1, 2, 0, 40, 15, 300, 9])
    n1 = np.array([20, 12, 35, 100, 30, 1000, 40])
    x2 = np.array([6, 9, 4, 60, 5, 340, 20])
    n2 = np.array([20, 12, 35, 100, 30, 1000, 40])
    p, test = compare_proportions(x1, n1, x2, n2)
    for i in range(len(x1)):
        table = np.array([[x1[i], n1[i] - x1[i]], [x2[i], n2[i] - x2[i]]])
        expected = stats.contingency.expected_freq(table)
        if expected.min() < 5:
            assert test[i] == "fisher"
            assert p[i] == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-12)
        else:
            assert test[i] == "score"
            chi2 = stats.chi2_contingency(table, correction=False)
            assert p[i] == pytest.approx(chi2.pvalue, rel=1e-9)
    assert set(test) == {"fisher", "score"}
    # Degenerate table (no one selected anywhere): exact test, p = 1.
    p, test = compare_proportions([0], [50], [0], [60])
    assert test[0] == "fisher" and p[0] == 1.0


def _bh_by_hand(p):
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    q = np.empty(m)
    running = 1.0
    for rank in range(m, 0, -1):  # step-up from the largest p-value
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        q[i] = running
    return q


def test_benjamini_hochberg_equals_hand_written():
    rng = np.random.default_rng(3)
    for m in (1, 2, 5, 40):
        p = rng.uniform(0, 0.2, m) ** 2
        np.testing.assert_allclose(benjamini_hochberg(p), _bh_by_hand(p), rtol=1e-14)
    p = np.array([0.01, np.nan, 0.04, 0.03, 0.5])
    q = benjamini_hochberg(p)
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2, 3, 4]], _bh_by_hand(p[[0, 2, 3, 4]]))


def test_bootstrap_resamples_counts_quickly():
    counts = np.full(500, 2000)
    hits = np.random.default_rng(0).binomial(2000, 0.4, size=(500, 4))
    t = time.perf_counter()
    lo, hi = bootstrap_impact_ratios(counts, hits, n_boot=1000)
    assert time.perf_counter() - t < 30  # generous: draws counts, not rows (the benchmark times it)
    assert lo.shape == hi.shape == (500, 4)
    assert np.all(lo <= hi) and np.all(hi <= 1.0)


def test_bootstrap_matches_a_row_level_bootstrap():
    # Independent reference: resample *rows* within each group (what the count bootstrap stands in
    # for), recompute each group's rate over the best group's rate, take percentiles. With 4,000
    # replicates on each side the two percentile bounds agree to Monte Carlo error.
    counts = np.array([120, 200, 80])
    hits = np.array([[48], [110], [30]])
    lo, hi = bootstrap_impact_ratios(counts, hits, n_boot=4000, seed=1)
    rng = np.random.default_rng(7)
    rows = [np.r_[np.ones(h), np.zeros(n - h)] for n, h in zip(counts, hits[:, 0], strict=True)]
    ratios = np.empty((4000, 3))
    for b in range(4000):
        rates = np.array([rng.choice(r, size=len(r), replace=True).mean() for r in rows])
        ratios[b] = rates / rates.max()
    ref_lo, ref_hi = np.percentile(ratios, [2.5, 97.5], axis=0)
    np.testing.assert_allclose(lo[:, 0], ref_lo, atol=0.03)
    np.testing.assert_allclose(hi[:, 0], ref_hi, atol=0.03)
    # The middle group is clearly the best: its upper bound is 1 and the others' lie below it.
    assert hi[1, 0] == pytest.approx(1.0) and hi[0, 0] < 1 and hi[2, 0] < 1
