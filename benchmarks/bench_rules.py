"""Benchmark: scoring the built-in ``sesame`` rule against the same rule written by hand in numpy.

Target (issue 2): the compiled points table stays within 1.5x of hand-written
numpy over 1e7 rows.  Both sides read the same pandas DataFrame and produce
the own-behaviour score clamped to 350-950.

    .venv/bin/python benchmarks/bench_rules.py [--n 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import audit


def hand_written(p: pd.DataFrame) -> np.ndarray:
    """The sesame rule's points, typed out by hand from the YAML (the peer)."""
    inc = p["income_band"]
    raw = (680.0
           - 12 * np.minimum(p["late_payments"].to_numpy(float), 10)
           + 80 * (inc == "high").to_numpy()
           + 30 * (inc == "middle").to_numpy()
           - 10 * (inc == "low").to_numpy()
           + 40 * p["buys_diapers"].to_numpy()
           - 2 * np.minimum(p["video_game_hours"].to_numpy(float), 50)
           - 8 * np.minimum(p["political_posts"].to_numpy(float), 20)
           - 5 * np.minimum(p["unofficial_news_shares"].to_numpy(float), 20)
           - 25 * np.minimum(p["taxi_no_shows"].to_numpy(float), 5)
           - 40 * ~p["real_name"].to_numpy())
    return np.clip(raw, 350, 950)


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    base, _ = audit.generate_sesame(200_000, seed=0, mean_degree=2)
    # Tile a realistic population up to n rows (generation itself is benchmarked elsewhere).
    reps = int(np.ceil(args.n / len(base)))
    people = pd.concat([base] * reps, ignore_index=True).iloc[: args.n].reset_index(drop=True)
    rule = audit.load_rule("sesame")
    ours = rule.own_scores(people)
    np.testing.assert_allclose(ours, hand_written(people), atol=1e-9)
    t_ours = best_of(lambda: rule.own_scores(people), args.repeat)
    t_hand = best_of(lambda: hand_written(people), args.repeat)
    print(f"sesame rule over {args.n:,} rows (best of {args.repeat}):")
    print(f"  audit rule engine : {t_ours:7.3f} s")
    print(f"  hand-written numpy: {t_hand:7.3f} s")
    print(f"  ratio engine/numpy: {t_ours / t_hand:7.2f}x   (target <= 1.5x)")


if __name__ == "__main__":
    main()
