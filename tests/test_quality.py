"""Data quality (audit.quality): the messy data a rule scores silently wrong, counted per term and warned
about.  Expected counts are brute force on the hand-made frames."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import audit
from audit._errors import DataQualityWarning
from audit.cli import main
from audit.quality import data_quality
from audit.rules import Rule
from audit.rules._spec import parse_spec

JOBS = """
name: jobs
title: Jobs
status: user
sources: [{id: s, citation: c}]
columns:
  contract: {type: category, values: [full-time, part-time]}
  age: {type: number}
terms:
  - {label: Full time, when: contract == "full-time", points: 50, source: s}
  - {label: Young, when: age < 25, points: -20, source: s}
  - {label: Typo, when: contract == "fulltime", points: 5, source: s}
tiers: [{name: ok, threshold: 25, source: s}]
"""


@pytest.fixture
def rule() -> Rule:
    return Rule.from_spec(parse_spec(JOBS, source="jobs.yaml"))


@pytest.fixture
def people() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    contract = ["full-time"] * 300 + [" full-time "] * 40 + ["Full-time"] * 25 + ["part-time"] * 200 + ["Part-time"] * 3
    n = len(contract)
    age = rng.integers(18, 70, n).astype(float)
    age[:37] = np.nan
    return pd.DataFrame({"id": range(n), "contract": contract, "age": age,
                         "group": rng.choice(["a", "b"], n)})


def test_near_miss_literals_missing_and_undeclared_values_are_counted(rule, people):
    q = data_quality(rule, people, threshold=10)
    by_term = {t.term: t for t in q.terms}
    full = by_term["Full time"]
    assert sorted((v, n) for _, _, v, n in full.near_misses) == [(" full-time ", 40), ("Full-time", 25)]
    # Undeclared: every value outside [full-time, part-time], brute force.
    assert full.undeclared == int((~people["contract"].isin(["full-time", "part-time"])).sum()) == 68
    young = by_term["Young"]
    assert young.missing == int(people["age"].isna().sum()) == 37
    assert young.matches == int((people["age"] < 25).sum())
    assert by_term["Typo"].matches == 0 and by_term["Typo"].matches_nobody


def test_small_counts_are_shown_as_text_and_rare_variants_not_named(rule, people):
    d = data_quality(rule, people, threshold=10).to_dict()
    full = next(t for t in d["terms"] if t["term"] == "Full time")
    variants = {m["variant"] for m in full["near_misses"]}
    assert variants == {" full-time ", "Full-time"}
    # "Part-time" (3 rows) differs from no literal of the rule, so it is only among the undeclared.
    young = next(t for t in d["terms"] if t["term"] == "Young")
    assert young["missing"] == 37 and young["missing_text"] == "37"
    small = data_quality(rule, people.head(5).assign(age=[np.nan] * 5), threshold=10).to_dict()
    y = next(t for t in small["terms"] if t["term"] == "Young")
    assert y["missing"] is None and y["missing_text"] == "fewer than 10"


def test_the_audit_warns_and_the_report_has_the_section(rule, people):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = audit.run(rule, people, protected=["group"], families=["impact"], progress="none")
    texts = [str(w.message) for w in caught if issubclass(w.category, DataQualityWarning)]
    assert any("' full-time '" in t and "'full-time'" in t and "40 rows" in t for t in texts), texts
    assert any("'Typo' matches nobody" in t for t in texts), texts
    section = report.to_dict()["data_quality"]
    assert [t["term"] for t in section["terms"] if t["problem"]] == ["Full time", "Young", "Typo"]
    assert "' full-time '" in report.to_markdown() or "&#x27; full-time &#x27;" in report.to_html() \
        or " full-time " in report.to_html()


def test_the_cli_prints_one_line_per_warning_and_exits_0(rule, people, tmp_path, capsys):
    (tmp_path / "jobs.yaml").write_text(JOBS)
    people.to_csv(tmp_path / "people.csv", index=False)
    code = main(["run", str(tmp_path / "jobs.yaml"), "--data", str(tmp_path / "people.csv"), "--protected", "group",
                 "--families", "impact", "--out", str(tmp_path / "o"), "--progress", "none"])
    err = capsys.readouterr().err
    assert code == 0, err
    lines = [x for x in err.splitlines() if x.startswith("audit: warning:")]
    assert len(lines) == 3, err          # two near-miss variants and one term matching nobody
    assert all("Traceback" not in x for x in err.splitlines())
