"""Information lost to disclosure control, before and after this wave's policy (a script, not a test).

Run with ``.venv/bin/python benchmarks/bench_disclosure.py [--n N]``.

On the synthetic demo population (all four protected attributes and their pairs, every tier) it
prints, for the impact family's tier cells:

* ``first wave``: the cell rule plus line-by-line secondary suppression that hides the smallest
  published cell of a line (no pooling of rare categories, large groups not protected);
* ``now``: rare categories pooled or withheld, complements chosen by group size and never a group of
  1,000 or more (rounded to ten instead), nested-tier bands, and the linear-programming audit.

Figures: share of cells hidden, share of people whose rate is hidden, cells rounded, and the number of
large-group numbers lost (a group of 1,000+ whose size, or a tier rate with both cells publishable,
is not published), plus the time the decision takes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    import audit
    from audit.disclosure import cell_publishable, global_keys, protect_lines, small_mask
    from audit.rates import group_rates

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    args = ap.parse_args()
    people, edges = audit.generate_sesame(args.n, seed=0)
    protected = ["gender", "age_band", "ethnicity", "registration"]
    ctx = audit.prepare_audit("sesame", people, protected, edges)
    att = ctx.attainment
    T = att.shape[1]
    thr = ctx.settings.disclosure_threshold

    # ---- first wave: raw groupings, smallest-cell complements
    raw = audit.build_groupings(people, protected, max_order=2)
    keys = [k for ks in global_keys(raw) for k in ks]
    counts, hits = zip(*(group_rates(att, g) for g in raw), strict=True)
    n = np.concatenate(counts)
    h = np.concatenate(hits)
    t0 = time.perf_counter()
    n_hidden = protect_lines(keys, n, small_mask(n, thr))
    hidden = np.zeros_like(h, dtype=bool)
    for j in range(T):
        prim = ~np.asarray(cell_publishable(h[:, j], n, thr), dtype=bool) | n_hidden
        hidden[:, j] = protect_lines(keys, h[:, j], prim, cost=h[:, j])
    t_first = time.perf_counter() - t0
    big = n >= 1000
    lost_first = int(n_hidden[big].sum()) + int((hidden & big[:, None] &
                                                  np.asarray(cell_publishable(h, n[:, None], thr))).sum())

    # ---- now: the audit's own decision
    t0 = time.perf_counter()
    report = audit.run("sesame", people, protected=protected, graph=edges, families=["impact"])
    t_now = time.perf_counter() - t0
    imp = report.results["impact"]
    r = imp.rates
    n_now = r["n"].astype(float).to_numpy()
    hid_now = r["attained"].isna().to_numpy()
    rnd_now = r["rounded"].to_numpy()
    lost_now = 0
    for g in ctx.groupings:
        cnt, hh = group_rates(att, g)
        for code in np.flatnonzero(cnt >= 1000):
            rows = r[(r["grouping"] == g.key) & (r["code"] == code)]
            ok = np.asarray(cell_publishable(hh[code], cnt[code], thr), dtype=bool)
            lost_now += int((rows["attained"].isna().to_numpy() & ok).sum())

    def share_people(mask, sizes):
        sizes = np.nan_to_num(sizes)
        return float((mask * sizes).sum() / max(sizes.sum(), 1))

    print(f"disclosure control on the demo population ({args.n:,} people, {len(raw)} groupings, {T} tiers)")
    print(f"{'policy':12} {'cells hidden':>13} {'people-rates hidden':>20} {'cells rounded':>14} "
          f"{'large-group numbers lost':>25} {'time':>8}")
    print(f"{'first wave':12} {hidden.mean():13.1%} {share_people(hidden, np.repeat(n, T).reshape(-1, T)):20.1%} "
          f"{'-':>14} {lost_first:25d} {t_first:7.2f}s")
    print(f"{'now':12} {hid_now.mean():13.1%} {share_people(hid_now, n_now):20.1%} {rnd_now.mean():14.1%} "
          f"{lost_now:25d} {t_now:7.2f}s (whole impact audit)")
    print(f"withheld people: {ctx.pooling.withheld_text(thr) or 0}; LP audit rounds: "
          f"{imp.methods.get('disclosure_rounds', 'n/a')}")


if __name__ == "__main__":
    main()
