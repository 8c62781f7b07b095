"""Benchmark of ``audit.impact`` against fairlearn's ``MetricFrame`` (a script, not a test).

Run with ``.venv/bin/python benchmarks/bench_impact.py [--rows N] [--repeat R]``.

(a) 1e6 people, protected attributes with 2, 5 and 10 levels (all 7 groupings
    up to the 3-way intersection, 100 intersectional groups), 4 tiers: the whole
    ``disparate_impact`` run (rates, intervals, tests, BH, distributions, the
    threshold curve, the result tables) against ``MetricFrame`` computing only
    the selection rates of the same groupings and tiers.  With ``--labels`` the
    label metrics (FPR, FNR) are added on both sides.
(b) 1e6 people in 500 groups: the per-group rate table alone (``group_rates``).
(c) The threshold curve alone, on the 100-group grouping, with continuous scores
    (one distinct value per person: the worst case).
(d) A 1,000-replicate bootstrap of the impact ratios by resampling counts.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def _best(fn, repeat: int) -> float:
    """Best wall time of ``repeat`` runs (the least disturbed by other load on the machine)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _cpu(fn) -> float:
    """Process CPU time of one run: robust to a busy machine (numpy here is single-threaded)."""
    t = time.process_time()
    fn()
    return time.process_time() - t


def main() -> None:
    from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate, selection_rate

    from audit.groups import Grouping, build_groupings
    from audit.impact import bootstrap_impact_ratios, disparate_impact, group_rates
    from audit.impact._core import Pairs, SortedScores
    from audit.impact._curve import threshold_curve
    from audit.rules import Tier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--labels", action="store_true", help="add FPR/FNR on both sides of (a)")
    ap.add_argument("--skip-mf-500", action="store_true", help="skip timing MetricFrame on the 500-group table")
    args = ap.parse_args()
    n = args.rows
    rng = np.random.default_rng(0)
    people = pd.DataFrame({
        "a": rng.integers(0, 2, n).astype(str),
        "b": rng.integers(0, 5, n).astype(str),
        "c": rng.integers(0, 10, n).astype(str),
    })
    shift = people["a"].eq("1") * 15 + people["b"].astype(int) * 5
    scores = np.clip(rng.normal(650, 80, n) - shift.to_numpy(), 350, 950)  # continuous: ~n distinct
    tiers = [Tier("t600", threshold=600), Tier("t650", threshold=650), Tier("t700", threshold=700),
             Tier("top 1%", top_fraction=0.01)]
    labels = (rng.random(n) < 0.3).astype(float) if args.labels else None
    groupings = build_groupings(people, ["a", "b", "c"], max_order=3)
    att = np.column_stack([t.attained(scores) for t in tiers])
    print(f"rows={n:,}  groupings={len(groupings)} (groups: {[g.n_groups for g in groupings]})  "
          f"tiers={len(tiers)}  distinct scores={len(np.unique(scores)):,}  labels={bool(args.labels)}")

    # (a) the whole audit.impact run vs MetricFrame on the same rates
    def ours():
        return disparate_impact(scores, groupings, tiers, attainment=att, labels=labels).to_dict()

    t_ours = _best(ours, args.repeat)
    t_ours_nocurve = _best(lambda: disparate_impact(scores, groupings, tiers, attainment=att, labels=labels,
                                                    curve=False), args.repeat)

    metrics = {"selection_rate": selection_rate}
    if labels is not None:
        metrics |= {"fpr": false_positive_rate, "fnr": false_negative_rate}
    y_true = labels if labels is not None else np.zeros(n)

    def metricframe():
        out = []
        for g in groupings:
            sf = people[list(g.attributes)]
            for j in range(len(tiers)):
                out.append(MetricFrame(metrics=metrics, y_true=y_true, y_pred=att[:, j],
                                       sensitive_features=sf).by_group)
        return out

    c_ours = min(_cpu(ours) for _ in range(args.repeat))
    t = time.perf_counter()
    c_mf = _cpu(metricframe)
    t_mf = time.perf_counter() - t
    print(f"(a) audit.impact full run (incl. curve, to_dict): {t_ours:.3f} s wall, {c_ours:.3f} s CPU;  "
          f"without curve: {t_ours_nocurve:.3f} s wall")
    print(f"    MetricFrame, same rates ({len(groupings) * len(tiers)} frames): {t_mf:.2f} s wall, "
          f"{c_mf:.2f} s CPU")
    print(f"    speed-up: {t_mf / t_ours:.0f}x wall, {c_mf / c_ours:.0f}x CPU (target >= 50x)")

    # (b) 500 groups: the rate table alone
    codes = rng.integers(0, 500, n)
    g500 = Grouping(("g",), codes, tuple((i,) for i in range(500)), np.bincount(codes, minlength=500))
    t_rates = _best(lambda: group_rates(att, g500), max(args.repeat, 5))
    print(f"(b) group_rates, {n:,} rows x 500 groups x {len(tiers)} tiers: {t_rates * 1000:.1f} ms "
          f"(target < 200 ms)")
    if not args.skip_mf_500:
        sf500 = pd.Series(codes, name="g")
        t = time.perf_counter()
        for j in range(len(tiers)):
            _ = MetricFrame(metrics={"selection_rate": selection_rate}, y_true=np.zeros(n), y_pred=att[:, j],
                        sensitive_features=sf500).by_group
        t_mf500 = time.perf_counter() - t
        print(f"    MetricFrame, same {len(tiers)} rate tables: {t_mf500:.2f} s; speed-up {t_mf500 / t_rates:.0f}x")

    # (c) the full threshold curve of the 100-group grouping (continuous scores)
    g100 = groupings[-1]

    def curve():
        ss = SortedScores.build(scores)
        return threshold_curve(Pairs.build(g100.codes, ss, g100.n_groups), ss.values, g100.attributes)

    t_curve = _best(curve, args.repeat)
    cv = curve()
    print(f"(c) threshold curve, {g100.n_groups} groups x {len(cv.thresholds):,} thresholds (sort included): "
          f"{t_curve:.3f} s (target < 2 s); {len(cv.ranges)} range(s) below 0.8")

    # (d) bootstrap by resampling counts
    counts, hits = group_rates(att, g100)
    t_boot = _best(lambda: bootstrap_impact_ratios(counts, hits, n_boot=1000), args.repeat)
    print(f"(d) bootstrap of impact ratios, 1,000 replicates x {g100.n_groups} groups x {len(tiers)} tiers: "
          f"{t_boot:.3f} s")


if __name__ == "__main__":
    main()
