"""Power table of the "pushed out" verdict, against the naive four-fifths screen (a script, not a test).

Run with ``.venv/bin/python benchmarks/bench_verdicts.py [--reps R]``.

Design: 8 comparator groups at a base rate p and one group at ``ratio * p``, n people each.  For every
true ratio (0.60 to 0.85), base rate (0.2, 0.5) and n (100 to 5,000) it prints the share of simulated
audits that list the group as pushed out:

* ``verdict``: this toolkit's verdict (the selection-valid upper bound of the ratio to the truly best
  group below 0.8, false discovery rate 0.05 over every candidate), through ``disparate_impact``;
* ``naive``: the screen many audits use - the ratio to the group with the highest *observed* rate below
  0.8 and a two-sided test of equal rates against that group significant at 0.05.

At a true ratio of 0.80 and above every listing is false: the verdict stays near or below 5%, the
naive screen does not.  Below 0.80 the table is the verdict's power; the ratio column says how much
of the naive screen's power the verdict keeps (the price of never over-claiming).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def main() -> None:
    from audit.groups import build_groupings
    from audit.impact import disparate_impact
    from audit.rates import compare_proportions
    from audit.rules import Tier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200, help="simulated audits per cell (Monte-Carlo SE <= 0.035)")
    ap.add_argument("--ratios", default="0.6,0.7,0.75,0.8,0.85")
    ap.add_argument("--sizes", default="100,500,2000,5000")
    args = ap.parse_args()
    ratios = [float(x) for x in args.ratios.split(",")]
    sizes = [int(x) for x in args.sizes.split(",")]
    tier = [Tier("t", threshold=1)]
    rng = np.random.default_rng(0)
    rows = []
    t0 = time.perf_counter()
    for base in (0.2, 0.5):
        for n in sizes:
            people = pd.DataFrame({"g": np.repeat([f"g{i}" for i in range(9)], n)})
            groupings = build_groupings(people, ["g"])
            scores = np.zeros(9 * n)
            for ratio in ratios:
                p = np.repeat(np.r_[np.full(8, base), ratio * base], n)
                verdict = naive = 0
                for _ in range(args.reps):
                    att = rng.random(9 * n) < p
                    res = disparate_impact(scores, groupings, tier, attainment=att, curve=False,
                                           disclosure_threshold=0)
                    verdict += any(f.group_dict == {"g": "g8"} for f in res.findings.pushed_out)
                    x = att.reshape(9, n).sum(axis=1)
                    best = int(np.argmax(x[:8]))
                    pv = compare_proportions(x[8], n, x[best], n)[0][0]
                    naive += bool(x[8] * 5 < 4 * x[best] and pv < 0.05)
                rows.append({"base_rate": base, "n": n, "true_ratio": ratio, "verdict": verdict / args.reps,
                             "naive": naive / args.reps})
    table = pd.DataFrame(rows)
    table["kept"] = np.where(table["true_ratio"] < 0.8, table["verdict"] / table["naive"].replace(0, np.nan), np.nan)
    pd.set_option("display.width", 120)
    print(f"power table: share of {args.reps} simulated audits listing the group as pushed out "
          f"(8 comparator groups; {time.perf_counter() - t0:.0f} s)")
    print("  at true ratio >= 0.80 every listing is false; 'kept' = verdict / naive power below 0.80")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    false_v = table.loc[table["true_ratio"] >= 0.8, "verdict"].max()
    false_n = table.loc[table["true_ratio"] >= 0.8, "naive"].max()
    print(f"worst false-listing rate at ratio >= 0.80: verdict {false_v:.3f} vs naive {false_n:.3f} "
          f"(ratio {false_n / max(false_v, 1 / args.reps):.0f}x)")


if __name__ == "__main__":
    main()
