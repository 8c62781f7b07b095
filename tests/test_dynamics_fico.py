"""Liu et al. (2018)'s outcome curves on the FICO aggregates, against an independent computation.

The reference here reads the three raw CSV files with the csv module, converts the score levels with
a loop written after the paper's code (``convert_percentiles``), and selects the best-scoring share of
a group level by level in a plain Python loop (the paper's ``rate_to_loans``) -- none of
``audit.dynamics._delayed_impact``'s interpolation.  The curves and the policies' figures agree within
1e-9.  The profit-maximising common rates are checked against every knot and a fine grid.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_file

from audit.dynamics import delayed_impact

pytestmark = pytest.mark.shared_data

BANDS = [(300, 2.1), (350, 4.2), (400, 5.4), (450, 6.5), (500, 7.9), (550, 9.6), (600, 12.0), (650, 13.8),
         (700, 17.0), (750, 15.8), (800, 5.7), (850, 0)]


def _convert(x: float) -> float:
    partial = 0.0
    for (v, s), (v2, _) in zip(BANDS, BANDS[1:], strict=False):
        if partial + s >= x:
            return v + (v2 - v) * (x - partial) / s
        partial += s
    return 850.0


def _read(name: str) -> dict[str, list[float]]:
    with open(shared_file(f"fico/{name}"), newline="") as fh:
        rows = list(csv.reader(fh))
    head = [" ".join(h.replace("- ", "-").split()) for h in rows[0]]
    return {h: [float(r[i]) for r in rows[1:]] for i, h in enumerate(head)}


@pytest.fixture(scope="module")
def reference():
    cdf, perf = _read("transrisk_cdf_by_race_ssa.csv"), _read("transrisk_performance_by_race_ssa.csv")
    with open(shared_file("fico/totals.csv"), newline="") as fh:
        rows = list(csv.reader(fh))
    totals = {" ".join(h.replace("- ", "-").split()): int(v) for h, v in zip(rows[0][1:], rows[1][1:], strict=True)}
    scores = [_convert(x) for x in cdf["Score"]]
    out = {}
    for g in totals:
        pmf = [cdf[g][0] / 100] + [(cdf[g][k] - cdf[g][k - 1]) / 100 for k in range(1, len(scores))]
        rho = [1 - p / 100 for p in perf[g]]          # the file gives the share who ARE delinquent
        delta = [min(max(x + r * 75 + (1 - r) * -150, 300), 850) - x for x, r in zip(scores, rho, strict=True)]
        util = [r * 1 + (1 - r) * -4 for r in rho]
        out[g] = {"pmf": pmf, "rho": rho, "delta": delta, "util": util, "total": totals[g]}
    return out


def _loans(rate: float, pmf: list[float]) -> list[float]:
    """The best-scoring share ``rate`` of a group, level by level from the top (the paper's rate_to_loans)."""
    out = [0.0] * len(pmf)
    total = 0.0
    for i in range(len(pmf) - 1, -1, -1):
        if pmf[i] + total > rate:
            out[i] = (rate - total) / pmf[i]
            return out
        out[i] = 1.0
        total += pmf[i]
    return out


def _sum(weights, loans, pmf) -> float:
    return sum(w * t * p for w, t, p in zip(weights, loans, pmf, strict=True))


@pytest.fixture(scope="module")
def result():
    return delayed_impact(shared_file("fico/totals.csv").parent)


def test_outcome_curves_match_the_independent_computation(result, reference):
    rng = np.random.default_rng(0)
    rates = list(result.rates) + list(rng.random(200))
    worst = 0.0
    for g, ref in reference.items():
        mine = result.change(g, rates)
        for b, m in zip(rates, mine, strict=True):
            expect = _sum(ref["delta"], _loans(b, ref["pmf"]), ref["pmf"])
            worst = max(worst, abs(m - expect))
        assert np.allclose(result.curves[g], [_sum(ref["delta"], _loans(b, ref["pmf"]), ref["pmf"])
                                              for b in result.rates], atol=1e-9, rtol=0)
    assert worst < 1e-9


def test_policy_figures_match_and_are_optimal(result, reference):
    pg = result.policy_groups
    weights = np.array([reference[g]["total"] for g in pg], dtype=float)
    weights /= weights.sum()
    # Maximum profit: every level with non-negative expected utility.
    for g, ref in reference.items():
        lend = [1.0 if u >= 0 else 0.0 for u in ref["util"]]
        rec = result.policies["max_profit"][g]
        assert rec["selection_rate"] == pytest.approx(sum(p * t for p, t in zip(ref["pmf"], lend, strict=True)), abs=1e-12)
        assert rec["expected_score_change"] == pytest.approx(_sum(ref["delta"], lend, ref["pmf"]), abs=1e-9)

    def profit(rates):
        return sum(w * _sum(reference[g]["util"], _loans(r, reference[g]["pmf"]), reference[g]["pmf"])
                   for w, g, r in zip(weights, pg, rates, strict=True))

    # Demographic parity: one rate; no knot and no point of a fine grid does better.
    dp = [result.policies["demographic_parity"][g]["selection_rate"] for g in pg]
    assert dp[0] == dp[1]
    best = profit(dp)
    knots = sorted({round(sum(reference[g]["pmf"][k:]), 15) for g in pg for k in range(len(reference[g]["pmf"]))})
    grid = np.linspace(0, 1, 2001)
    assert best >= max(profit([b, b]) for b in list(knots) + list(grid)) - 1e-12
    for g in pg:
        rec = result.policies["demographic_parity"][g]
        ref = reference[g]
        assert rec["expected_score_change"] == pytest.approx(_sum(ref["delta"], _loans(dp[0], ref["pmf"]),
                                                                  ref["pmf"]), abs=1e-9)

    # Equal opportunity: one true positive rate; check it, and that no common TPR on a grid does better.
    def tpr(g, r):
        ref = reference[g]
        return _sum(ref["rho"], _loans(r, ref["pmf"]), ref["pmf"]) / sum(p * q for p, q in zip(ref["pmf"], ref["rho"], strict=True))

    def rate_for(g, t):                      # bisection on the monotone TPR(rate)
        lo, hi = 0.0, 1.0
        for _ in range(80):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if tpr(g, mid) < t else (lo, mid)
        return (lo + hi) / 2

    eo = [result.policies["equal_opportunity"][g]["selection_rate"] for g in pg]
    t_common = [tpr(g, r) for g, r in zip(pg, eo, strict=True)]
    assert t_common[0] == pytest.approx(t_common[1], abs=1e-9)
    for g, r in zip(pg, eo, strict=True):
        assert result.policies["equal_opportunity"][g]["true_positive_rate"] == pytest.approx(tpr(g, r), abs=1e-9)
        ref = reference[g]
        assert result.policies["equal_opportunity"][g]["expected_score_change"] == pytest.approx(
            _sum(ref["delta"], _loans(r, ref["pmf"]), ref["pmf"]), abs=1e-9)
    best_eo = profit(eo)
    for t in np.linspace(0.01, 0.99, 99):
        assert best_eo >= profit([rate_for(g, t) for g in pg]) - 1e-9


def test_result_outputs(result):
    frame = result.to_frame()
    assert list(frame.columns) == ["group", "selection_rate", "expected_score_change"]
    assert len(frame) == 4 * len(result.rates)
    json.dumps(result.to_dict(), allow_nan=False)
    html = result._repr_html_()
    assert "<svg" in html and "active harm" in html
    assert set(result.policy_frame()["policy"]) == {"max_profit", "demographic_parity", "equal_opportunity"}


def test_reported_rates_and_the_active_harm_finding(result):
    """The policies' selection rates are reported; the finding is the one the figures support."""
    black = "Black"
    dp = result.policies["demographic_parity"][black]
    zero = result.turning_points[black]["rate_beyond_which_mean_score_falls"]
    assert dp["selection_rate"] > zero and dp["expected_score_change"] < 0
    assert dp["versus_max_profit"] == "active harm"
    assert float(result.change(black, zero)) == pytest.approx(0.0, abs=1e-9)
    for p in ("max_profit", "demographic_parity", "equal_opportunity"):
        for rec in result.policies[p].values():
            assert 0 <= rec["selection_rate"] <= 1


def test_example_report_is_byte_reproducible(tmp_path):
    from audit._examples import run_fico_delayed_impact

    data = shared_file("fico/totals.csv").parent
    a = run_fico_delayed_impact(tmp_path / "a", data=data)
    b = run_fico_delayed_impact(tmp_path / "b", data=data)
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes()
    doc = json.loads(a["report.json"].read_text())
    assert doc["kind"] == "delayed_impact" and "active harm" in doc["summary"]["headline"]
    html = a["report.html"].read_text()
    assert 'id="fico-outcome-curves"' in html and "<svg" in html and "<script" not in html
    committed = Path(__file__).resolve().parents[1] / "reports" / "fico_delayed_impact" / "report.json"
    if committed.exists():      # the committed example is what the current code produces
        assert committed.read_bytes() == a["report.json"].read_bytes()
