"""Published figures reproduced end to end, from the files in ../shared/data.

* ProPublica, "How We Analyzed the COMPAS Recidivism Algorithm" (Larson, Mattu,
  Kirchner, Angwin, 2016): on ``compas-scores-two-years.csv`` (all 7,214 rows),
  with deciles 5-10 as "higher risk" and ``two_year_recid`` as the outcome, the
  false positive rate is 44.85% for Black and 23.45% for White defendants, the
  false negative rate 27.99% and 47.72%.  ProPublica's article rounds these to
  44.9 / 23.5 and 28.0 / 47.7.
* ProPublica's analysis filter keeps 6,172 rows; there the favourable "Low" band
  (deciles 1-4) has an impact ratio of 0.6336 for Black against White
  defendants, and the ratio of P(decile <= t) first reaches 0.8 at t = 7.
* fairlearn's user guide, "Common fairness metrics" (docs/user_guide/assessment/
  common_fairness_metrics.rst in fairlearn/fairlearn at commit 74e0e578): its
  example arrays give a demographic-parity difference of 0.25 and ratio 0.6667,
  an equalized-odds difference of 1.0 and ratio 0.0.

The COMPAS figures go through ``audit.run`` and the ``audit run`` command with the
built-in observed rule ``compas`` and are read from report.json, as an analyst
would; the threshold crossing comes from a direct call of ``disparate_impact``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import shared_file

import audit
from audit.cli import main
from audit.groups import build_groupings
from audit.impact import disparate_impact
from audit.rules import Tier

pytestmark = pytest.mark.shared_data

BLACK, WHITE = "African-American", "Caucasian"


@pytest.fixture(scope="module")
def compas_path():
    return shared_file("compas/compas-scores-two-years.csv")


@pytest.fixture(scope="module")
def compas_all(compas_path) -> pd.DataFrame:
    return audit.datasets.load_compas(compas_path)  # names and dates of birth are never read


@pytest.fixture(scope="module")
def compas_filtered(compas_path) -> pd.DataFrame:
    return audit.datasets.load_compas(compas_path, filtered=True)


def race_entries(doc: dict, section: str, tier: str) -> dict[str, dict]:
    """The ``race`` grouping's rows of one impact section, keyed by race, for one tier."""
    (grouping,) = [g for g in doc["impact"]["groupings"] if g["attributes"] == ["race"]]
    return {e["group"]["race"]: e for e in grouping[section] if e["tier"] == tier}


def pct(x: float) -> float:
    return round(100 * x, 2)


# --------------------------------------------------------------------------- error rates, all 7,214 rows


def check_error_rates(doc: dict) -> None:
    assert doc["population"]["rows"] == 7214 and doc["population"]["label"] == "two_year_recid"
    err = race_entries(doc, "error_rates", "Higher risk")
    assert pct(err[BLACK]["fpr"]["rate"]) == 44.85
    assert pct(err[WHITE]["fpr"]["rate"]) == 23.45
    assert pct(err[BLACK]["fnr"]["rate"]) == 27.99
    assert pct(err[WHITE]["fnr"]["rate"]) == 47.72


def test_propublica_error_rates_python_api(compas_all):
    assert len(compas_all) == 7214
    report = audit.run("compas", compas_all, protected=["race"], label="two_year_recid", families=["impact"])
    check_error_rates(report.to_dict())


def test_propublica_error_rates_cli(compas_all, tmp_path, capsys):
    data = tmp_path / "compas.csv"
    compas_all.to_csv(data, index=False)
    out = tmp_path / "report"
    code = main(["run", "compas", "--data", str(data), "--protected", "race", "--label", "two_year_recid",
                 "--families", "impact", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    check_error_rates(json.loads((out / "report.json").read_text()))


def test_error_rates_match_a_hand_count(compas_all):
    """The same four rates counted directly with pandas, independently of the audit."""
    hi = compas_all["decile_score"] >= 5
    y = compas_all["two_year_recid"] == 1
    for race, fpr, fnr in ((BLACK, 44.85, 27.99), (WHITE, 23.45, 47.72)):
        r = compas_all["race"] == race
        assert pct((hi & ~y & r).sum() / (~y & r).sum()) == fpr
        assert pct((~hi & y & r).sum() / (y & r).sum()) == fnr


# --------------------------------------------------------------------------- the filtered analysis set


def check_low_ratio(doc: dict) -> None:
    assert doc["population"]["rows"] == 6172
    rates = race_entries(doc, "rates", "Low")
    assert rates[WHITE]["vs_reference"]["group"] == {"race": WHITE}
    assert round(rates[BLACK]["vs_reference"]["impact_ratio"], 4) == 0.6336
    assert rates[BLACK]["vs_reference"]["below_threshold"] is True


def test_low_band_impact_ratio_python_api(compas_filtered):
    assert len(compas_filtered) == 6172
    report = audit.run("compas", compas_filtered, protected=["race"], reference={"race": WHITE},
                       families=["impact"])
    check_low_ratio(report.to_dict())


def test_low_band_impact_ratio_cli(compas_filtered, tmp_path, capsys):
    data = tmp_path / "compas_filtered.csv"
    compas_filtered.to_csv(data, index=False)
    out = tmp_path / "report"
    code = main(["run", "compas", "--data", str(data), "--protected", "race", "--reference", f"race={WHITE}",
                 "--families", "impact", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    check_low_ratio(json.loads((out / "report.json").read_text()))


def test_ratio_of_cumulative_deciles_first_clears_four_fifths_at_seven(compas_filtered):
    # Black and White defendants only, so that the most favoured group at every cut
    # (the comparator of the threshold curve) is White: P(decile <= t) is higher for
    # White defendants at every t < 10.
    two = compas_filtered[compas_filtered["race"].isin([BLACK, WHITE])].reset_index(drop=True)
    rule = audit.load_rule("compas")
    scores = rule.score(two)
    result = disparate_impact(scores, build_groupings(two, ["race"]), [Tier("Low", at_most=4)],
                              higher_is_better=False)
    curve = result.curve
    black = curve[curve["group"] == f"race={BLACK}"].set_index("threshold")["impact_ratio"]
    assert black.index.tolist() == list(range(1, 11))
    # At t = 10 everyone is at or below the cut: nobody is on the other side of it, so the
    # point is not published (fewer than the disclosure threshold beyond the cut); the ratio is 1 there.
    assert np.isnan(black.loc[10])
    black = black.loc[:9]
    clears = black[black >= 0.8]
    assert clears.index.min() == 7
    assert round(black.loc[6], 4) == 0.7448 and round(black.loc[7], 4) == 0.8209
    assert (black.loc[:6] < 0.8).all() and (black.loc[7:] >= 0.8).all()
    # The Low tier is the cut at t = 4: the same 0.6336 as the report.
    assert round(black.loc[4], 4) == 0.6336
    # By hand: the ratio of the two empirical CDFs.
    b = two.loc[two["race"] == BLACK, "decile_score"]
    w = two.loc[two["race"] == WHITE, "decile_score"]
    hand = pd.Series({t: (b <= t).mean() / (w <= t).mean() for t in range(1, 10)})
    np.testing.assert_allclose(black.to_numpy(), hand.to_numpy(), rtol=1e-12)
    # The report's own summary of the curve: the run of cuts below four-fifths ends at 6.
    (run,) = [r for r in result.to_dict()["groupings"][0]["curve"]["ranges"]]
    assert (run["from"], run["to"]) == (1, 6) and run["groups"] == [{"race": BLACK}]


# --------------------------------------------------------------------------- fairlearn's documented example

# From fairlearn's user guide, "Common fairness metrics" (see the module docstring).
Y_TRUE = [0, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1]
Y_PRED = [0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0]
SF = ["b", "b", "a", "b", "b", "c", "c", "c", "a", "a", "c", "a", "b", "c", "c", "b", "c", "c"]


def fairlearn_example_with_our_module():
    people = pd.DataFrame({"sf": SF})
    result = disparate_impact(np.asarray(Y_PRED, dtype=float), build_groupings(people, ["sf"]),
                              [Tier("selected", threshold=1)], labels=Y_TRUE,
                              min_group_size=1, disclosure_threshold=0)  # 18 people: nothing to suppress
    frame = result.to_frame()
    assert frame["group"].tolist() == ["sf=a", "sf=b", "sf=c"]
    return frame


def test_fairlearn_user_guide_example():
    frame = fairlearn_example_with_our_module()
    sel = frame["selection_rate"].to_numpy()
    tpr = 1 - frame["fnr"].to_numpy()
    fpr = frame["fpr"].to_numpy()
    dp_difference = sel.max() - sel.min()
    dp_ratio = frame["impact_ratio"].min()  # lowest rate over the most favoured (highest) rate
    eo_difference = max(tpr.max() - tpr.min(), fpr.max() - fpr.min())
    eo_ratio = min(tpr.min() / tpr.max(), fpr.min() / fpr.max())
    # The figures printed in fairlearn's user guide.
    assert dp_difference == pytest.approx(0.25)
    assert round(dp_ratio, 4) == 0.6667
    assert eo_difference == pytest.approx(1.0)
    assert eo_ratio == pytest.approx(0.0)
    # And fairlearn's own functions on the same arrays.
    fm = pytest.importorskip("fairlearn.metrics")
    kw = {"sensitive_features": SF}
    assert dp_difference == pytest.approx(fm.demographic_parity_difference(Y_TRUE, Y_PRED, **kw))
    assert dp_ratio == pytest.approx(fm.demographic_parity_ratio(Y_TRUE, Y_PRED, **kw))
    assert eo_difference == pytest.approx(fm.equalized_odds_difference(Y_TRUE, Y_PRED, **kw))
    assert eo_ratio == pytest.approx(fm.equalized_odds_ratio(Y_TRUE, Y_PRED, **kw))
    mf = fm.MetricFrame(metrics={"selection_rate": fm.selection_rate, "fpr": fm.false_positive_rate,
                                 "tpr": fm.true_positive_rate},
                        y_true=Y_TRUE, y_pred=Y_PRED, sensitive_features=SF)
    np.testing.assert_allclose(mf.by_group["selection_rate"].to_numpy(), sel)
    np.testing.assert_allclose(mf.by_group["fpr"].to_numpy(), fpr)
    np.testing.assert_allclose(mf.by_group["tpr"].to_numpy(), tpr)


# --------------------------------------------------------------------------- the example report


def test_example_report_regenerates(compas_path, tmp_path):
    """``run_compas`` (called by ``python3 dev.py reports``) writes reports/compas from the same data."""
    from audit._examples import run_compas

    report, paths = run_compas(tmp_path / "compas", data=compas_path)
    assert sorted(p.name for p in paths.values()) == ["report.html", "report.json", "report.md"]
    doc = json.loads(paths["json"].read_text())
    assert doc["schema_version"] and doc["rule"]["name"] == "compas"
    check_low_ratio(doc)
    err = race_entries(doc, "error_rates", "Higher risk")
    assert err[BLACK]["fpr"]["rate"] > err[WHITE]["fpr"]["rate"]
    assert err[BLACK]["fnr"]["rate"] < err[WHITE]["fnr"]["rate"]
    text = paths["json"].read_text() + paths["md"].read_text()
    for column in ("dob", "c_case_number", "\"first\"", "\"last\""):  # never read, never written
        assert column not in text
