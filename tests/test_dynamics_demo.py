"""The built-in long-run scenario of the demo (`audit simulate sesame`) at a size where its figures publish.

Slow (about half a minute): 10,000 generated people, the scenario's 60 periods, 4 runs and its three
mechanism re-runs.  The full demo (20,000 people, 20 runs) is ``python3 dev.py simulate``.
"""

from __future__ import annotations

import numpy as np
import pytest

import audit
from audit.dynamics import simulate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo():
    people, edges = audit.generate_sesame(10_000, seed=0)
    return simulate("sesame", people, edges, ["ethnicity", "registration"], runs=4, seed=0, progress=False)


def test_isolation_by_group_over_the_horizon_with_bands(demo):
    doc = demo.to_dict()
    assert doc["settings"]["periods"] == 60 and doc["scenario"]["name"] == "sesame"
    rows = {(r["period"], r["group"]): r for r in doc["periods"]}
    for group in ("ethnicity=majority", "ethnicity=minority A", "registration=rural", "registration=urban"):
        series = [rows[(p, group)]["isolated_share"] for p in range(61)]
        assert series[0] == {"value": 0.0, "band_low": 0.0, "band_high": 0.0}      # nobody isolated at the start
        last = series[-1]
        assert last is not None and last["band_low"] <= last["value"] <= last["band_high"]
    a, m = rows[(60, "ethnicity=minority A")], rows[(60, "ethnicity=majority")]
    # The mechanism the scenario is about: minority A (fewer real-name accounts, lower scores) ends up more
    # isolated than the majority, in every run (recounted from the per-run aggregates).
    assert a["isolated_share"]["value"] > m["isolated_share"]["value"]
    val, _, _ = demo._ratio(demo.tables["scenario"], "isolated_share")
    names = demo.group_names()
    assert (val[:, 60, names.index("ethnicity=minority A")] > val[:, 60, names.index("ethnicity=majority")]).all()


def test_minority_a_lost_ties_split_by_clause(demo):
    doc = demo.to_dict()
    last = {r["group"]: r for r in doc["periods"] if r["period"] == 60}
    a, m = last["ethnicity=minority A"], last["ethnicity=majority"]
    split = {c: a["lost_tie_share"][c]["value"] for c in ("real_name_only", "margin_only", "both")}
    assert sum(split.values()) == pytest.approx(1.0, abs=1e-3)
    # Most of minority A's lost friendships go by the real-name clause alone; less so for the majority.
    assert split["real_name_only"] > 0.5 > m["lost_tie_share"]["real_name_only"]["value"]
    per = {c: a["ties_lost_per_person"][c]["value"] for c in split}
    total = sum(per.values())
    assert all(abs(per[c] / total - split[c]) < 0.01 for c in split)    # shares of the per-person counts
    lost = next(f for f in doc["summary"]["findings"] if f["kind"] == "lost_ties")
    assert lost["group"] == "ethnicity=minority A"
    assert f"{100 * split['real_name_only']:.1f}% real-name clause only" in lost["text"]


def test_decomposition_switches_the_clause_off(demo):
    tab = demo.tables["without_real_name_clause"]
    from audit.dynamics._measure import C

    assert (tab[..., C["lost_real_name_only"]] == 0).all()
    deco = demo.to_dict()["decomposition"]
    a = next(g for g in deco["groups"] if g["group"] == "ethnicity=minority A")
    assert set(a["variants"]) == {"scenario", "without_real_name_clause", "without_score_margin", "without_feedback"}
    # Without the real-name clause minority A keeps more friends than in the scenario.
    assert a["variants"]["without_real_name_clause"]["mean_degree"]["value"] > \
        a["variants"]["scenario"]["mean_degree"]["value"]
    assert np.isfinite(a["variants"]["scenario"]["mean_score"]["value"])


def test_sentences_and_tables_print_the_same_figures(demo):
    from audit.dynamics import build_document, dynamics_view
    from audit.dynamics._render import render_markdown

    doc = demo.to_dict()
    md = render_markdown(dynamics_view(build_document(demo), figures=False))
    last = {r["group"]: r for r in doc["periods"] if r["period"] == demo.periods}
    compared = [f for f in doc["summary"]["findings"] if "reference" in f]
    assert compared
    for f in compared:
        for g in (f["group"], f["reference"]):
            shown = f"{100 * last[g]['isolated_share']['value']:.1f}%"
            assert f"{shown} of {g}" in f["text"]
            row = next(line for line in md.splitlines() if line.startswith(f"| {g.replace('_', chr(92) + '_')} | "))
            assert f"| {shown} (" in row
