"""audit.dynamics: the long-run simulation engine, its claims and its disclosure control.

Each statistic is checked against something independent: a brute-force per-person loop
(unfriending, formation), networkx (assortativity, components), exact accounting identities
(tie-ends held = start - lost + formed), or a closed-form expectation (the hot-deck renewal
keeps each stratum's distribution, so without feedback every group's expected figures equal
period 0's).
"""

from __future__ import annotations

import doctest
import importlib

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import audit
from audit._errors import AuditInputError
from audit.dynamics import load_scenario, simulate
from audit.dynamics._engine import Setup, Variant, _form, _State, _unfriend, entry_rows
from audit.dynamics._measure import C, P, build_index, measure, score_fifths
from audit.graph import build_adjacency, graph_from_adjacency
from audit.groups import build_groupings

N = 2500


@pytest.fixture(scope="module")
def population():
    return audit.generate_sesame(N, seed=3)


def _scenario(**blocks) -> dict:
    base = {"name": "t", "title": "test", "status": "user", "horizon": {"periods": 5, "illustrative": True}}
    base.update(blocks)
    return base


RENEW = {"share": 0.25, "columns": ["late_payments", "video_game_hours", "political_posts",
                                     "unofficial_news_shares", "taxi_no_shows", "buys_diapers"],
         "illustrative": True}


# ---------------------------------------------------------------------- stationarity
def _run_values(res, metric):
    val, _, _ = res._ratio(res.tables["scenario"], metric)
    return val                                               # (runs, periods + 1, K)


def _z(d: np.ndarray) -> np.ndarray:
    """z of the mean of per-run differences ``d`` (runs are independent), per group."""
    se = d.std(axis=0, ddof=1) / np.sqrt(d.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(se > 0, d.mean(axis=0) / se, 0.0)


def _drift_z(res, metrics) -> np.ndarray:
    """z of (mean over periods 1..T minus period 0), run by run, for every group and metric."""
    return np.array([_z(v[:, 1:, :].mean(axis=1) - v[:, 0, :]) for v in map(lambda m: _run_values(res, m), metrics)])


LINEAR = ["mean_score", "mean_own_score"]
TIERS = ["tier_rate[Just Spend loan]", "tier_rate[Deposit-free car rental]", "tier_rate[Travel documents waived]"]


@pytest.fixture(scope="module")
def stationary_run(population):
    people, edges = population
    sc = _scenario(horizon={"periods": 30, "illustrative": True}, renewal=RENEW,
                   formation={"rate": 0.5, "triadic": 0.5, "score_homophily": 0.3, "illustrative": True})
    return simulate("sesame", people, edges, ["ethnicity", "age_band"], scenario=sc, runs=12, progress=False,
                    decompose=False)


def test_no_feedback_no_unfriending_is_stationary(stationary_run):
    """Renewal on, feedback and unfriending off: no group drifts, up to Monte-Carlo noise.

    Group means of own and final scores: the hot-deck draw from the period-0 records of one's own stratum
    keeps every stratum's (hence every protected group's) distribution, so their expectation at every
    period *is* period 0's: |z| of (mean over periods - period 0) < 4.5.  Tier rates under the friends term
    depend on who is friends with whom, and period 0 is one arrangement of the records among friends; for
    them the claim is no trend (periods 10-19 against 20-30, |z| < 4.5) and period 0 inside the spread of
    single periods (within 4.5 standard deviations).  With ~100 comparisons at |z| < 4.5, a stationary
    process fails this test with probability below 1e-3; the same test flags the sesame feedback (below).
    """
    res = stationary_run
    prot = np.array([g["protected"] for g in res.groups])
    z = _drift_z(res, LINEAR)
    assert np.nanmax(np.abs(z[:, prot])) < 4.5, np.nanmax(np.abs(z[:, prot]))
    for m in TIERS:
        v = _run_values(res, m)[:, :, prot]
        trend = _z(v[:, 10:20].mean(axis=1) - v[:, 20:].mean(axis=1))
        assert np.nanmax(np.abs(trend)) < 4.5, (m, np.nanmax(np.abs(trend)))
        spread = v[:, 1:].reshape(-1, v.shape[2]).std(axis=0, ddof=1)
        gap = np.abs(v[:, 1:].mean(axis=(0, 1)) - v[0, 0])
        assert (gap <= 4.5 * spread + 1e-12).all(), m
    # The fifths of the period-0 score are selected on period 0's outcome: they regress to the mean, as
    # they should -- the test can see a real movement.
    fifths = [i for i, g in enumerate(res.groups) if not g["protected"]]
    assert z[0, fifths[0]] > 4.5 and z[0, fifths[-1]] < -4.5
    tab = res.tables["scenario"]
    # Nothing happens to the graph: degrees and isolation are exactly constant ...
    assert np.array_equal(tab[..., C["degree_sum"]], np.broadcast_to(tab[:, :1, :, C["degree_sum"]],
                                                                      tab[..., C["degree_sum"]].shape))
    assert (tab[..., C["formed"]] == 0).all() and (tab[..., C["lost_both"]] == 0).all()
    # ... but the inputs did move: the test is about noise, not a frozen system.
    scores = tab[..., C["score_sum"]]
    assert (scores[:, 1:] != scores[:, :1]).any()


def test_drift_test_detects_feedback(population):
    """The stationarity check is not blind: with the sesame feedback on, mean scores drift (|z| well above 4.5)."""
    people, edges = population
    sc, _ = load_scenario("sesame")
    sc = sc.with_changes(unfriending=None, formation=None, rule=None)
    res = simulate("sesame", people, edges, ["ethnicity"], scenario=sc, periods=15, runs=6, progress=False,
                   decompose=False)
    z = _drift_z(res, ["mean_own_score"])
    prot = np.array([g["protected"] for g in res.groups])
    assert np.nanmax(np.abs(z[:, prot])) > 8


def test_nothing_acting_is_exactly_constant(population):
    people, edges = population
    res = simulate("sesame", people, edges, ["gender"], scenario=_scenario(), periods=4, runs=2, progress=False)
    tab = res.tables["scenario"]
    assert np.array_equal(tab, np.broadcast_to(tab[:, :1], tab.shape))


# ---------------------------------------------------------------------- brute force on small graphs
def _small_setup(n=120, degree=6, seed=0, compliance=0.5, margin=30.0, formation=None):
    rng = np.random.default_rng(seed)
    m = n * degree // 2
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = u != v
    key = np.unique(np.minimum(u, v)[keep] * n + np.maximum(u, v)[keep])
    adj = build_adjacency(n, key // n, key % n)
    final = rng.normal(650, 50, n)
    no_real = rng.random(n) < 0.2
    att = np.zeros((n, 1), dtype=bool)
    budget = np.diff(adj.indptr).astype(np.int64) + rng.integers(0, 3, n)
    setup = Setup(None, pd.DataFrame(index=range(n)), adj, budget, None, None, None, (), {}, compliance, margin,
                  no_real, True, formation, (final, final, att, {}))
    return setup, rng


def test_unfriending_matches_a_per_person_loop():
    setup, rng = _small_setup()
    st = _State(setup)
    compliant = rng.random(setup.n) < setup.compliance
    adj0 = st.adj.copy()
    removed = _unfriend(setup, st, Variant(), compliant, True)
    s, nr = st.final, setup.real_name
    expect_edges, lost = set(), np.zeros((setup.n, 3), dtype=int)
    count = np.zeros(3, dtype=int)
    for i in range(setup.n):
        for j in adj0.indices[adj0.indptr[i]:adj0.indptr[i + 1]]:
            if j < i:
                continue
            real = (compliant[i] and nr[j]) or (compliant[j] and nr[i])
            marg = (compliant[i] and s[j] < s[i] - setup.margin) or (compliant[j] and s[i] < s[j] - setup.margin)
            if real or marg:
                cause = 0 if (real and not marg) else 1 if (marg and not real) else 2
                lost[i, cause] += 1
                lost[j, cause] += 1
                count[cause] += 1
            else:
                expect_edges.add((i, j))
    got = {(int(a), int(b)) for a, b in zip(*sp.triu(st.adj, k=1).nonzero(), strict=True)}
    assert got == expect_edges
    assert np.array_equal(st.lost.T, lost) and np.array_equal(removed, count)
    # Without the real-name clause nothing is booked to it.
    st2 = _State(setup)
    _unfriend(setup, st2, Variant(real_name=False), compliant, True)
    assert st2.lost[0].sum() == 0 and st2.lost[2].sum() == 0


def test_formation_respects_budget_advice_and_existing_ties():
    setup, rng = _small_setup(formation=(3.0, 0.4, 0.3, 10, True))
    st = _State(setup)
    compliant = rng.random(setup.n) < setup.compliance
    _unfriend(setup, st, Variant(), compliant, True)
    before = st.adj.copy()
    formed, refused = _form(setup, st, Variant(), compliant, True, np.random.default_rng(5))
    assert formed > 0 and refused > 0
    deg = np.diff(st.adj.indptr)
    assert (deg <= setup.budget).all()                                          # the friendship budget
    assert st.adj.diagonal().sum() == 0 and (st.adj != st.adj.T).nnz == 0      # simple, undirected
    new = sp.triu(st.adj - before, k=1).tocoo()
    assert (new.data == 1).all() and new.nnz == formed                          # only new ties, once each
    s, nr = st.final, setup.real_name
    for a, b in zip(new.row, new.col, strict=True):
        for x, y in ((a, b), (b, a)):                                           # no end's advice forbids it
            assert not (compliant[x] and (nr[y] or s[y] < s[x] - setup.margin))
    assert st.formed.sum() == 2 * formed and st.refused.sum() == refused


def test_measure_matches_networkx():
    rng = np.random.default_rng(1)
    n = 300
    g = nx.gnm_random_graph(n, 500, seed=4)
    g.add_nodes_from(range(n))
    adj = sp.csr_array(nx.to_scipy_sparse_array(g, nodelist=range(n), dtype=float))
    graph = graph_from_adjacency(adj)
    people = pd.DataFrame({"grp": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])})
    groupings = build_groupings(people, ["grp"])
    final = rng.normal(600, 40, n)
    index = build_index(groupings, [score_fifths(final)])

    class Z:
        lost = np.zeros((3, n))
        formed = np.zeros(n)
        refused = np.zeros(n)

    att = (final > 600)[:, None]
    table, pop = measure(index, graph.adjacency, entry_rows(graph.adjacency), final, final, att, Z(), np.zeros(3),
                         0, 0, {})
    nx.set_node_attributes(g, {i: float(final[i]) for i in range(n)}, "s")
    nx.set_node_attributes(g, {i: people["grp"][i] for i in range(n)}, "grp")
    assert pop[P["score_assortativity"]] == pytest.approx(nx.numeric_assortativity_coefficient(g, "s"), abs=1e-10)
    assert pop[len(P)] == pytest.approx(nx.attribute_assortativity_coefficient(g, "grp"), abs=1e-10)
    giant = max(nx.connected_components(g), key=len)
    assert pop[P["giant_size"]] == len(giant) and pop[P["isolated"]] == sum(1 for _ in nx.isolates(g))
    for k, (value,) in enumerate(groupings[0].values):
        members = [i for i in range(n) if people["grp"][i] == value]
        assert table[k, C["outside_giant"]] == sum(1 for i in members if i not in giant)
        cross = sum(1 for i in members for j in g.neighbors(i) if people["grp"][j] != value)
        assert table[k, C["cross_ends"]] == cross
        assert table[k, C["degree_sum"]] == sum(g.degree(i) for i in members)


# ---------------------------------------------------------------------- the sesame scenario, small
@pytest.fixture(scope="module")
def sesame_run(population):
    people, edges = population
    return simulate("sesame", people, edges, ["ethnicity", "gender"], periods=50, runs=4, progress=False, seed=7)


def test_accounting_identities(sesame_run):
    """Exact bookkeeping: tie-ends held = at start - lost + formed, per group and run; causes add up to removals."""
    res = sesame_run
    for var, tab in res.tables.items():
        lost = tab[..., C["lost_real_name_only"]] + tab[..., C["lost_margin_only"]] + tab[..., C["lost_both"]]
        assert np.array_equal(tab[..., C["degree_sum"]], tab[:, :1, :, C["degree_sum"]] - lost + tab[..., C["formed"]])
        assert (tab[..., C["degree_sum"]] <= tab[:, :1, :, C["degree_sum"]]).all()    # the friendship budget
        fifths = [i for i, g in enumerate(res.groups) if not g["protected"]]
        pop = res.population[var]
        for cause in ("real_name_only", "margin_only", "both"):
            ends = tab[:, :, fifths, C[f"lost_{cause}"]].sum(axis=2)
            assert np.array_equal(ends, 2 * np.cumsum(pop[..., P[f"removed_{cause}"]], axis=1))
        if var == "without_real_name_clause":
            assert (tab[..., C["lost_real_name_only"]] == 0).all() and (tab[..., C["lost_both"]] == 0).all()
        if var == "without_score_margin":
            assert (tab[..., C["lost_margin_only"]] == 0).all() and (tab[..., C["lost_both"]] == 0).all()
        assert (pop[..., P["solver_error_bound"]] <= 1e-9).all()


def test_long_run_reports_isolation_with_bands_and_the_split(sesame_run):
    res = sesame_run
    doc = res.to_dict()
    rows = [r for r in doc["periods"] if r["group"] == "ethnicity=minority A"]
    assert [r["period"] for r in rows] == list(range(51))
    last = rows[-1]
    for key in ("tier_rates", "mean_score", "mean_degree", "isolated_share"):
        assert key in last
    assert last["mean_degree"]["band_low"] <= last["mean_degree"]["value"] <= last["mean_degree"]["band_high"]
    split = last["lost_tie_share"]
    assert all(split[c] is not None for c in split)
    assert sum(split[c]["value"] for c in split) == pytest.approx(1.0, abs=1e-3)
    # Minority A loses more of its friendships to the real-name clause than the majority does.
    major = [r for r in doc["periods"] if r["group"] == "ethnicity=majority"][-1]["lost_tie_share"]
    assert split["real_name_only"]["value"] > major["real_name_only"]["value"]
    assert doc["population"][50]["score_assortativity"] is not None
    assert doc["decomposition"]["variants"] == ["scenario", "without_real_name_clause", "without_score_margin",
                                                "without_feedback"]


def test_published_cells_are_publishable_in_every_run(sesame_run):
    """Recount from the raw per-run aggregates: every published share's count and complement are 0 or >= 10."""
    res = sesame_run
    frame = res.to_frame()
    tab = res.tables["scenario"]
    names = res.group_names()
    pairs = {"isolated_share": ("isolated", "n"), "outside_giant_share": ("outside_giant", "n"),
             "cross_group_tie_share": ("cross_ends", "known_ends")}
    for metric, (kc, nc) in pairs.items():
        pub = frame[(frame["metric"] == metric) & frame["value"].notna() & (frame["group"] != "all")]
        for _, row in pub.iterrows():
            k = tab[:, row["period"], names.index(row["group"]), C[kc]]
            n = tab[:, row["period"], names.index(row["group"]), C[nc]]
            for x in (k, n - k):
                assert not ((x > 0) & (x < 10)).any(), (metric, row["group"], row["period"])
    # Every line has no withheld cell or at least two (a single one could be recovered from the total).
    for metric in ("isolated_share", "tier_rate[Prominent matchmaking profile]"):
        v = res.published()[metric][0]
        for b in {g["block"] for g in res.groups}:
            idx = [i for i, g in enumerate(res.groups) if g["block"] == b]
            hidden = np.isnan(v[:, idx]).sum(axis=1)
            assert ((hidden == 0) | (hidden >= 2)).all()


def test_headline_claims_are_recounted(sesame_run):
    res = sesame_run
    doc = res.to_dict()
    for f in doc["summary"]["findings"]:
        if "runs_higher" not in f:
            continue
        names = res.group_names()
        val, _, _ = res._ratio(res.tables["scenario"], "isolated_share")
        a, b = names.index(f["group"]), names.index(f["reference"])
        assert f["runs_higher"] == int((val[:, -1, a] > val[:, -1, b]).sum())
        assert f"in {f['runs_higher']} of {res.runs} runs" in f["text"]
    assert "scenario, not a forecast" in doc["summary"]["caveats"][0]


def test_small_groups_are_not_shown(population):
    people, edges = population
    people = people.copy()
    people["tiny"] = np.where(np.arange(len(people)) < 15, "few", "many")
    people["tinier"] = np.select([np.arange(len(people)) < 4, np.arange(len(people)) < 40], ["a", "b"], "c")
    res = simulate("sesame", people, edges, ["tiny", "tinier"], periods=3, runs=2, progress=False, decompose=False)
    assert "tiny=few" not in set(res.to_frame()["group"])
    groups = res.to_dict()["groups"]
    assert [g["shown"] for g in groups if g["grouping"] == "tiny"] == [False, True]
    # A size of 1-9 is withheld, and so is the next smallest of its line (else: total minus the rest).
    assert [g["n"] for g in groups if g["grouping"] == "tinier"] == [None, None, len(people) - 40]


# ---------------------------------------------------------------------- determinism and outputs
def test_same_seed_same_bytes(population, tmp_path):
    from audit.dynamics import save_report

    people, edges = population
    docs = []
    for i in range(2):
        res = simulate("sesame", people, edges, ["ethnicity"], periods=6, runs=2, seed=11, progress=False)
        paths = save_report(res, tmp_path / f"r{i}", command="test")
        docs.append({k: p.read_bytes() for k, p in paths.items()})
    assert docs[0] == docs[1]
    other = simulate("sesame", people, edges, ["ethnicity"], periods=6, runs=2, seed=12, progress=False)
    assert save_report(other, tmp_path / "r2", command="test")["report.json"].read_bytes() != docs[0]["report.json"]
    assert not list(tmp_path.glob(".*.tmp"))
    html = docs[0]["report.html"].decode()
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert html.count("<svg") >= 4


def test_api_and_frame_shape(sesame_run):
    assert audit.simulate is simulate
    frame = sesame_run.to_frame()
    assert list(frame.columns) == ["period", "group", "metric", "value", "band_low", "band_high"]
    ok = frame.dropna(subset=["value"])
    assert (ok["band_low"] <= ok["value"] + 1e-12).all() and (ok["value"] <= ok["band_high"] + 1e-12).all()
    import json

    json.dumps(sesame_run.to_dict(), allow_nan=False)
    assert "<section" in sesame_run._repr_html_()


# ---------------------------------------------------------------------- bad input
BAD = [
    ("name: x\ntitle: X\nstatus: user\nhorizon: {periods: 3}\n", "field 'horizon': give a 'source'"),
    ("name: x\ntitle: X\nstatus: user\nhorizon: {periods: 3, illustrative: true}\nunfriending: {compliance: 2, "
     "illustrative: true}\n", "field 'unfriending': field 'compliance'"),
    ("name: x\ntitle: X\nstatus: user\nhorizon: {periods: 3, illustrative: true}\nfeedbak: []\n",
     "field 'feedbak': unknown key"),
    ("name: x\ntitle: X\nstatus: user\nhorizon: {periods: 3, illustrative: true}\nfeedback:\n  - {id: f1, tier: T, "
     "attained: true, column: late_payments, add: 1, add_poisson: 1, illustrative: true}\n",
     "feedback 'f1': give exactly one of"),
    ("name: x\ntitle: X\nstatus: user\nhorizon: {periods: 3, source: nowhere}\n", "cites unknown source 'nowhere'"),
    ("name: x\ntitle: X\nstatus: user\nhorizon: &h {periods: 3, illustrative: true}\nother: *h\n", "aliases"),
    ("name: x\ntitle: [unclosed\n", "not valid YAML (line"),
    ("- just\n- a list\n", "must be a YAML mapping"),
    ("name: x\ntitle: X\nstatus: user\nhorizon: {periods: 3, illustrative: true}\nformation: {rate: 1, triadic: 0.8, "
     "score_homophily: 0.5, illustrative: true}\n", "field 'formation': 'triadic' + 'score_homophily'"),
]


@pytest.mark.parametrize("text,expected", BAD)
def test_bad_scenario_files_fail_on_one_line(tmp_path, population, text, expected):
    people, edges = population
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    with pytest.raises(AuditInputError) as err:
        simulate("sesame", people, edges, ["gender"], scenario=path, progress=False)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and expected in msg, msg


RUNTIME_BAD = [
    ({"feedback": [{"id": "f1", "tier": "No such tier", "attained": True, "column": "late_payments", "add": 1,
                    "illustrative": True}]}, "feedback 'f1': field 'tier': rule 'sesame' has no tier 'No such tier'"),
    ({"feedback": [{"id": "f2", "tier": "Just Spend loan", "attained": False, "column": "late_payments",
                    "add": 0.5, "illustrative": True}]}, "feedback 'f2': field 'add': column 'late_payments' holds "
                                                          "whole numbers"),
    ({"feedback": [{"id": "f3", "tier": "Just Spend loan", "attained": False, "column": "gender", "add": 1,
                    "illustrative": True}]}, "feedback 'f3': field 'column': rule 'sesame' does not read 'gender'"),
    ({"unfriending": {"compliance": 0.1, "drop_no_real_name": True, "real_name_column": "verified",
                      "illustrative": True}}, "unfriending: field 'real_name_column': "),
    ({"renewal": {"share": 0.1, "columns": ["late_payments"], "strata": ["nope"], "illustrative": True}},
     "renewal: field 'strata': "),
    ({"rule": "compas"}, "field 'rule': the scenario is written for rule 'compas'"),
]


@pytest.mark.parametrize("blocks,expected", RUNTIME_BAD)
def test_scenario_checked_against_rule_and_data(tmp_path, population, blocks, expected):
    import yaml

    people, edges = population
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_scenario(**blocks)))
    with pytest.raises(AuditInputError) as err:
        simulate("sesame", people, edges, ["gender"], scenario=path, progress=False)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and expected in msg, msg


def test_bad_arguments(population):
    people, edges = population
    for kw, expected in (({"periods": 0}, "periods must be"), ({"runs": 1.5}, "runs must be"),
                         ({"seed": -1}, "seed must be"), ({"band": 1.0}, "band must be")):
        with pytest.raises(AuditInputError, match=expected):
            simulate("sesame", people, edges, ["gender"], progress=False, **kw)
    with pytest.raises(AuditInputError, match="needs the friendship graph"):
        simulate("sesame", people, None, ["gender"], progress=False)
    with pytest.raises(AuditInputError, match="unknown scenario 'nope'"):
        simulate("sesame", people, edges, ["gender"], scenario="nope", progress=False)


def test_cli_simulate(tmp_path, capsys):
    import json

    from audit.cli import main

    data = tmp_path / "data"
    audit.datasets.write_sesame(data, n=1200, seed=5, fmt="csv")
    out = tmp_path / "out"
    code = main(["simulate", "sesame", "--data", str(data / "people.csv"), "--graph", str(data / "edges.csv"),
                 "--protected", "gender,ethnicity", "--periods", "4", "--runs", "2", "--out", str(out)])
    stdout, err = capsys.readouterr()
    assert code == 0 and err == "", err
    doc = json.loads((out / "report.json").read_text())
    row = doc["dynamics"]["periods"][0]
    for key in ("period", "group", "tier_rates", "mean_score", "mean_degree", "isolated_share"):
        assert key in row
    assert set(row["mean_score"]) == {"value", "band_low", "band_high"}
    assert doc["dynamics"]["settings"]["command"].startswith("audit simulate sesame")
    assert (out / "report.md").exists() and (out / "report.html").exists() and "wrote" in stdout
    code = main(["simulate", "sesame", "--data", str(data / "people.csv"), "--graph", str(data / "edges.csv"),
                 "--protected", "gender", "--scenario", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o")])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "missing.yaml" in err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("module", ["_spec", "_delayed_impact", "_render", "_simulate"])
def test_doctests_pass(module):
    result = doctest.testmod(importlib.import_module(f"audit.dynamics.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
