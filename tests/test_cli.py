"""The ``audit`` command line end to end, and its bad-input contract: one line on stderr, exit 2."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import audit
from audit.cli import main

AUDIT_BIN = Path(sys.executable).with_name("audit")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sesame")
    audit.datasets.write_sesame(folder, n=1500, seed=2, fmt="csv")
    return folder


def test_generate_then_run_end_to_end(small_data, tmp_path, capsys):
    out = tmp_path / "report"
    code, stdout, err = run_cli(
        capsys, "run", "sesame", "--data", str(small_data / "people.csv"), "--graph", str(small_data / "edges.csv"),
        "--protected", "gender,ethnicity", "--families", "impact", "--out", str(out))
    assert code == 0, err
    # Not on a terminal: a line per step and nothing else (no redrawn bar, no warning).
    assert all(re.match(r"(audit|report) \[\d/\d\] ", line) for line in err.splitlines()), err
    assert "\r" not in err and "\x1b" not in err
    doc = json.loads((out / "report.json").read_text())
    assert doc["rule"]["name"] == "sesame" and doc["population"]["rows"] == 1500
    assert doc["population"]["source"] == "people.csv"  # a file name, never an absolute path
    assert doc["reproducibility"]["command"].startswith("audit run sesame")
    assert doc["graph"]["edges"] > 0 and doc["scores"]["network_applied"] is True
    assert (out / "report.md").exists() and (out / "report.html").exists()
    assert not list(out.glob(".*.tmp"))  # no temporary files left behind
    assert "wrote" in stdout


def test_console_script_reports_bad_input_on_one_line(tmp_path):
    assert AUDIT_BIN.exists()
    proc = subprocess.run([str(AUDIT_BIN), "run", "sesame", "--data", str(tmp_path / "missing.csv"),
                           "--protected", "gender", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "missing.csv" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


BROKEN = """name: broken
title: Broken rule
status: illustrative
terms:
  - label: Video games
    value: "video_game_hours.__class__"
    weight: -2
    illustrative: true
tiers:
  - {name: a, threshold: 1, illustrative: true}
"""


def test_validate_broken_rule_file_names_file_term_reason(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    code, out, err = run_cli(capsys, "rules", "validate", str(path))
    assert code == 2
    assert err.count("\n") == 1
    assert str(path) in err and "term 'Video games'" in err and "attribute" in err


def test_validate_good_rule_and_show(capsys, tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(BROKEN.replace("video_game_hours.__class__", "min(video_game_hours, 10)"))
    code, out, _ = run_cli(capsys, "rules", "validate", str(path))
    assert code == 0 and "ok" in out and "video_game_hours" in out
    code, out, _ = run_cli(capsys, "rules", "show", "sesame")
    assert code == 0 and "Deposit-free car rental" in out and "illustrative" in out
    code, out, _ = run_cli(capsys, "rules", "show", "sesame", "--json")
    assert json.loads(out)["name"] == "sesame"
    code, out, _ = run_cli(capsys, "rules", "list")
    assert code == 0 and "sesame" in out


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda p, e: (p.drop(columns="video_game_hours"), e), "column 'video_game_hours'"),
        (lambda p, e: (p, pd.concat([e, pd.DataFrame({"source": [0], "target": [10**9]})])), "not in the population"),
        (lambda p, e: (p.assign(id=0), e), "appears more than once"),
        (lambda p, e: (p, e[["source"]]), "edges.csv: an edge list needs two id columns"),
        (lambda p, e: (p.drop(columns="gender"), e), "protected column 'gender'"),
    ],
)
def test_bad_data_exits_2_with_one_line(small_data, tmp_path, capsys, mutate, expected):
    people = pd.read_csv(small_data / "people.csv")
    edges = pd.read_csv(small_data / "edges.csv")
    people, edges = mutate(people, edges)
    people.to_csv(tmp_path / "people.csv", index=False)
    edges.to_csv(tmp_path / "edges.csv", index=False)
    code, _, err = run_cli(capsys, "run", "sesame", "--data", str(tmp_path / "people.csv"), "--graph",
                           str(tmp_path / "edges.csv"), "--protected", "gender", "--families", "impact",
                           "--out", str(tmp_path / "out"))
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("audit: error: ")
    import re

    assert re.search(expected, err), err
    assert not (tmp_path / "out" / "report.json").exists()


def test_label_must_be_binary(small_data, tmp_path, capsys):
    people = pd.read_csv(small_data / "people.csv").assign(outcome=3)
    people.to_csv(tmp_path / "p.csv", index=False)
    code, _, err = run_cli(capsys, "run", "sesame", "--data", str(tmp_path / "p.csv"), "--protected", "gender",
                           "--label", "outcome", "--families", "impact", "--out", str(tmp_path / "o"))
    assert code == 2 and "label column 'outcome' must be 0/1" in err


@pytest.mark.parametrize("argv", [["run"], ["bogus"], ["run", "sesame", "--data", "x.csv", "--protected", "g",
                                                         "--out", "o", "--seed", "notanumber"]])
def test_usage_errors_are_one_line(capsys, argv):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and err.startswith("audit: error: ")


def test_corrupt_parquet_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "people.parquet"
    bad.write_bytes(b"not a parquet file")
    code, _, err = run_cli(capsys, "run", "sesame", "--data", str(bad), "--protected", "gender",
                           "--out", str(tmp_path / "o"))
    assert code == 2 and "people.parquet" in err and "cannot read" in err


def test_output_folder_that_is_a_file(small_data, tmp_path, capsys):
    blocker = tmp_path / "out"
    blocker.write_text("a file")
    code, _, err = run_cli(capsys, "run", "sesame", "--data", str(small_data / "people.csv"), "--protected",
                           "gender", "--families", "impact", "--out", str(blocker))
    assert code == 2 and "not a folder" in err
    assert blocker.read_text() == "a file"


def test_datasets_generate_is_deterministic(tmp_path, capsys):
    for d in ("a", "b"):
        code, _, err = run_cli(capsys, "datasets", "generate", "sesame", "--n", "800", "--seed", "5",
                               "--out", str(tmp_path / d))
        assert code == 0, err
    for f in ("people.parquet", "edges.parquet"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux 'script' to fake a terminal")
def test_progress_bar_only_on_a_terminal(tmp_path):
    # Piped: nothing on stderr (checked above). On a pseudo-terminal the command still succeeds.
    cmd = f"{AUDIT_BIN} datasets generate sesame --n 300 --out {tmp_path / 'x'}"
    proc = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TERM": "xterm"})
    assert proc.returncode == 0


# ---- regressions from the fresh-eyes review: each of these used to hang, crash or pass silently
LAUGHS = """name: bomb
title: t
status: illustrative
a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
terms: [{label: A, when: x, points: 1, illustrative: true}]
tiers: [{name: t, threshold: 1, illustrative: true}]
"""


@pytest.mark.parametrize(
    "text, expected",
    [
        (LAUGHS, "aliases (*name) are not allowed"),
        (BROKEN.replace("video_game_hours.__class__", "x").replace("threshold: 1", "threshold: .nan"),
         "tier 'a': field 'threshold': Input should be a finite number"),
        (BROKEN.replace("video_game_hours.__class__", "x").replace("weight: -2", "weight: .inf"),
         "term 'Video games': field 'weight': Input should be a finite number"),
        (BROKEN.replace("video_game_hours.__class__", "x").replace("threshold: 1", "threshold: 1, top_k: 3"),
         "tier 'a': give exactly one of"),
    ],
)
def test_hostile_or_degenerate_rule_files(tmp_path, capsys, text, expected):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    code, _, err = run_cli(capsys, "rules", "validate", str(path))
    assert code == 2 and err.count("\n") == 1 and expected in err and str(path) in err


def test_all_missing_protected_column_and_bad_seed(small_data, tmp_path, capsys):
    people = pd.read_csv(small_data / "people.csv").assign(gender=None)
    people.to_csv(tmp_path / "p.csv", index=False)
    code, _, err = run_cli(capsys, "run", "sesame", "--data", str(tmp_path / "p.csv"), "--protected", "gender",
                           "--out", str(tmp_path / "o"))
    assert code == 2 and "protected column 'gender' has no values" in err
    code, _, err = run_cli(capsys, "run", "sesame", "--data", str(small_data / "people.csv"), "--protected",
                           "gender", "--seed", "-1", "--out", str(tmp_path / "o"))
    assert code == 2 and "setting 'seed': must be at least 0" in err


def test_tiny_population_still_gets_a_report(small_data, tmp_path, capsys):
    # Every group is below the disclosure threshold: figures cannot be drawn, the report says so.
    pd.read_csv(small_data / "people.csv").head(8).to_csv(tmp_path / "p.csv", index=False)
    code, _, err = run_cli(capsys, "run", "sesame", "--data", str(tmp_path / "p.csv"), "--protected", "gender",
                           "--out", str(tmp_path / "o"))
    assert code == 0, err
    assert "Not drawn" in (tmp_path / "o" / "report.html").read_text()


def test_folder_named_like_a_report_file(small_data, tmp_path, capsys):
    (tmp_path / "o" / "report.json").mkdir(parents=True)
    code, _, err = run_cli(capsys, "run", "sesame", "--data", str(small_data / "people.csv"), "--protected",
                           "gender", "--families", "impact", "--out", str(tmp_path / "o"))
    assert code == 2 and err.count("\n") == 1 and "report.json" in err
    assert not list((tmp_path / "o").glob(".*.tmp"))
