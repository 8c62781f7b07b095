"""Secondary suppression of ``audit.impact``: no hidden count comes back by differencing.

A hand-made population with one small intersection cell.  The published
tables (single attributes, their intersection and the population total) are
checked line by line, and every hidden count is tested for being determined
by the published ones (linear algebra over all line equations: stronger than
any sequence of subtractions).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from audit.groups import build_groupings
from audit.impact import disparate_impact
from audit.rules import Tier

THR = 10
STAR = "*"


def _population():
    # a x b: (q, f) has 3 people, every other cell at least 25.
    sizes = {("p", "m"): 30, ("p", "f"): 30, ("q", "m"): 30, ("q", "f"): 3, ("r", "m"): 25, ("r", "f"): 25}
    rows = [k for k, n in sizes.items() for _ in range(n)]
    people = pd.DataFrame(rows, columns=["a", "b"])
    n = len(people)
    rng = np.random.default_rng(1)
    score = rng.normal(600, 50, n).round(3) + 0.0005  # never a 1-decimal value
    label = np.zeros(n)
    label[rng.permutation(n)[: n // 3]] = 1
    return people, score, label


def _table(people, values, attrs_all=("a", "b")):
    """True totals of ``values`` over every cell of the full table with margins, keyed in (a, b) with '*'."""
    out = {}
    for r in range(len(attrs_all) + 1):
        for fixed in itertools.combinations(attrs_all, r):
            if fixed:
                s = pd.Series(values, index=people.index).groupby([people[a] for a in fixed]).sum()
                for k, v in s.items():
                    k = k if isinstance(k, tuple) else (k,)
                    d = dict(zip(fixed, k, strict=True))
                    out[tuple(d.get(a, STAR) for a in attrs_all)] = int(v)
            else:
                out[(STAR,) * len(attrs_all)] = int(np.sum(values))
    return out


def _published(doc, section, field, tier=None, attrs_all=("a", "b")):
    out = {}
    for g in doc["groupings"]:
        for r in g[section]:
            if tier is not None and r.get("tier") != tier:
                continue
            out[tuple(r["group"].get(a, STAR) for a in attrs_all)] = r[field]
    return out


def _lines(keys):
    """(total key, member keys) for every line of the full table with margins."""
    keys = set(keys)
    out = []
    for key in keys:
        for d in range(len(key)):
            if key[d] != STAR:
                continue
            members = [k for k in keys if k[d] != STAR and k[:d] + k[d + 1:] == key[:d] + key[d + 1:]]
            if members:
                out.append((key, members))
    return out


def _determined(truth, shown):
    """Hidden cells whose value the published cells and the line equations pin down."""
    hidden = sorted(k for k in truth if shown.get(k) is None and k != (STAR, STAR))
    if not hidden:
        return {}
    index = {k: i for i, k in enumerate(hidden)}
    known = dict(shown)
    known[(STAR, STAR)] = truth[(STAR, STAR)]  # the population total: assume it public (conservative)
    rows = []
    for total, members in _lines(truth):
        row = np.zeros(len(hidden))
        for k in [total] + members:
            if k in index:
                row[index[k]] += -1 if k == total else 1
        if row.any():
            rows.append(row)
    A = np.array(rows) if rows else np.zeros((0, len(hidden)))
    rank = np.linalg.matrix_rank(A) if len(A) else 0
    out = {}
    for k, i in index.items():
        e = np.zeros((1, len(hidden)))
        e[0, i] = 1
        if np.linalg.matrix_rank(np.vstack([A, e])) == rank:
            out[k] = truth[k]
    return out


def _check(truth, shown):
    for total, members in _lines(truth):
        line = [total] + members
        if total == (STAR, STAR):
            line = members  # the population total is published
        n_hidden = sum(shown.get(k) is None for k in line)
        assert n_hidden != 1, (total, {k: shown.get(k) for k in line})
    for k, v in shown.items():
        if v is not None:
            assert v == truth[k]
    recovered = _determined(truth, shown)
    assert not {k: v for k, v in recovered.items() if 0 < v < THR}, recovered


def _result(max_order=2):
    people, score, label = _population()
    groupings = build_groupings(people, ["a", "b"], max_order=max_order)
    tiers = [Tier("pass", threshold=600), Tier("top", threshold=650)]
    res = disparate_impact(score, groupings, tiers, labels=label, disclosure_threshold=THR, min_group_size=20)
    return people, score, label, tiers, res, res.to_dict()


def test_group_sizes_and_attainment_resist_differencing():
    people, score, _, tiers, _, doc = _result()
    truth_n = _table(people, np.ones(len(people), dtype=int))
    shown_n = {k: v for k, v in _published(doc, "groups", "n").items()}
    assert shown_n[("q", "f")] is None  # the small cell (primary)
    assert shown_n[("q", "m")] is None  # secondary: else 33 - 30 = 3
    _check(truth_n, shown_n)
    for tier in tiers:
        truth = _table(people, tier.attained(score).astype(int))
        shown = _published(doc, "rates", "attained", tier.name)
        _check(truth, shown)
        # Everything about a group whose size is hidden is hidden, its rate included.
        for g in doc["groupings"]:
            for r in g["rates"]:
                if r["n"] is None or r["attained"] is None:
                    assert r["attained"] is None and r["selection_rate"] is None and r["favourable_rate"] is None
                    assert r["vs_most_favoured"]["impact_ratio"] is None and r["suppressed"]


def test_pushed_out_resting_on_a_secondary_cell_is_suppressed():
    # The hand-made table above has no pushed-out group; the synthetic population has both kinds.
    import audit

    people, _ = audit.generate_sesame(6000, seed=3)
    report = audit.run("sesame", people, ["gender", "age_band", "ethnicity", "registration"], families=["impact"])
    doc = report.results["impact"].to_dict()
    hidden = {(tuple(sorted(r["group"].items())), r["tier"]) for g in doc["groupings"] for r in g["rates"]
              if r["attained"] is None}
    seen_suppressed = False
    for e in doc["pushed_out"]:
        if (tuple(sorted(e["group"].items())), e["tier"]) in hidden:
            assert e["suppressed"] and e["favourable_count"] is None and e["impact_ratio"] is None
        if e["suppressed"]:
            seen_suppressed = True
        else:
            assert not seen_suppressed, "publishable entries come first"
    hits = [e for e in doc["pushed_out"] if (tuple(sorted(e["group"].items())), e["tier"]) in hidden]
    assert hits and len(hits) < len(doc["pushed_out"])  # both kinds were actually checked


def test_error_rows_are_one_unit_and_resist_differencing():
    people, score, label, tiers, _, doc = _result()
    pos = _table(people, (label == 1).astype(int))
    lab = _table(people, np.ones(len(people), dtype=int))
    cols = ("labelled", "positives", "negatives", "tp", "fp", "fn", "tn")
    for g in doc["groupings"]:
        for e in g["error_rates"]:
            vals = [e[c] for c in ("tp", "fp", "fn", "tn")]
            assert all(v is None for v in vals) or all(v is not None for v in vals)
            if e["labelled"] is None or e["positives"] is None or e["negatives"] is None:
                assert all(v is None for v in vals)
            if vals[0] is None:
                assert all(e[m]["rate"] is None for m in ("fpr", "fnr", "ppv"))
    for tier in tiers:
        att = tier.attained(score)
        truths = {"labelled": lab, "positives": pos,
                  "negatives": _table(people, (label == 0).astype(int)),
                  "tp": _table(people, (att & (label == 1)).astype(int)),
                  "fp": _table(people, (att & (label == 0)).astype(int)),
                  "fn": _table(people, (~att & (label == 1)).astype(int)),
                  "tn": _table(people, (~att & (label == 0)).astype(int))}
        for c in cols:
            _check(truths[c], _published(doc, "error_rates", c, tier.name))


def test_error_row_with_small_positives_hides_whole_row():
    # 31 labelled, 23 negatives: 8 positives, hidden, and so must be everything else in the row.
    people = pd.DataFrame({"g": ["a"] * 31 + ["b"] * 60 + ["c"] * 60})
    label = np.r_[np.ones(8), np.zeros(23), np.tile([0.0, 1.0], 60)]
    score = np.linspace(500, 700, len(people)) + 0.0005
    res = disparate_impact(score, build_groupings(people, ["g"]), [Tier("t", threshold=600)], labels=label,
                           disclosure_threshold=THR, min_group_size=20)
    rows = {e["group"]["g"]: e for e in res.to_dict()["groupings"][0]["error_rates"]}
    a = rows["a"]
    assert all(a[c] is None for c in ("labelled", "positives", "negatives", "tp", "fp", "fn", "tn"))
    assert a["suppressed"]
    # and the line across groups has a second hidden row, so a from the total is not recoverable
    assert sum(rows[k]["positives"] is None for k in rows) >= 2


def test_score_statistics_are_rounded_and_never_an_exact_score():
    people, score, *_, res, doc = _result()
    exact = set(score.tolist())
    n_stats = 0
    for g in doc["groupings"]:
        for grp in g["groups"]:
            d = grp["distribution"]
            for v in [d["mean"], d["sd"], d["median"], *d["quantiles"].values()]:
                if v is None:
                    continue
                n_stats += 1
                assert v == round(v, 1) and v not in exact
        for c in g.get("calibration", []):
            if c["mean_score"] is not None:
                assert c["mean_score"] == round(c["mean_score"], 1)
    assert n_stats > 0
    assert "1 decimal place" in res.methods["disclosure"]
