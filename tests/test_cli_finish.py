"""The command line and API finish: named progress steps, defaults in every help text, families that
cannot run refused, the report as a DataFrame."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pandas as pd
import pytest

import audit
from audit import _progress
from audit.cli import _build_parser, main


def _actions(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _actions(sub)
        else:
            yield parser, action


def test_every_option_has_help_and_shows_its_default():
    for parser, action in _actions(_build_parser()):
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        assert action.help, f"{parser.prog} {action.dest}: no help text"
        help_text = parser.format_help()
        if action.option_strings and action.default not in (None, False, [], argparse.SUPPRESS) \
                and not action.required:
            # argparse wraps the help; the default is the last thing said about the option.
            flat = " ".join(help_text.split())
            assert f"(default: {action.default})" in flat, f"{parser.prog} {action.option_strings[0]}"


def test_contagion_without_a_graph_is_an_error_naming_why(tmp_path, capsys):
    people, _ = audit.generate_sesame(400, seed=3)
    data = tmp_path / "people.csv"
    people.to_csv(data, index=False)
    code = main(["run", "sesame", "--data", str(data), "--protected", "ethnicity", "--families", "contagion",
                 "--out", str(tmp_path / "out"), "--progress", "none"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "contagion" in err and "--graph" in err
    assert not (tmp_path / "out").exists()


def test_progress_lines_name_each_step(capsys):
    people, edges = audit.generate_sesame(1500, seed=4)
    audit.run("sesame", people, protected=["ethnicity"], graph=edges, families=["impact", "contagion"],
              progress="lines")
    err = capsys.readouterr().err
    for name in ("[1/5] reading the data, scoring everyone", "[2/5] disparate impact",
                 "[3/5] network contagion", "[4/5] mechanisms", "[5/5] report"):
        assert name in err, err
    assert "done in" in err


def test_progress_auto_is_silent_when_not_watched(capsys):
    assert _progress.resolve_mode("auto") == "none"          # pytest captures stderr: not a terminal
    assert _progress.resolve_mode("auto", command_line=True) == "lines"
    with pytest.raises(ValueError, match="progress must be one of"):
        _progress.resolve_mode("loud")


def test_track_inside_a_session_yields_everything():
    with _progress.session(["a"], mode="lines"), _progress.step("a"):
        assert list(_progress.track(range(5), total=5, description="loop")) == [0, 1, 2, 3, 4]


def test_cli_piped_prints_step_lines(tmp_path):
    people, _ = audit.generate_sesame(400, seed=5)
    data = tmp_path / "people.csv"
    people.to_csv(data, index=False)
    out = subprocess.run([sys.executable, "-m", "audit.cli", "run", "sesame", "--data", str(data),
                          "--protected", "ethnicity", "--families", "impact", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "audit [2/4] disparate impact ..." in out.stderr
    assert "audit [1/4] reading the data, scoring everyone ..." not in out.stderr
    assert "report [1/1] rendering and writing the report files" in out.stderr
    assert "\r" not in out.stderr and "\x1b" not in out.stderr     # no redrawn bar in a log


def test_report_to_frame_is_the_published_findings():
    people, _ = audit.generate_sesame(3000, seed=2)
    report = audit.run("sesame", people, protected=["ethnicity", "age_band"], families=["impact"],
                       progress="none")
    frame = report.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == len(report.to_dict()["findings"])
    pushed = report.to_frame("pushed out")
    assert len(pushed) == len(report.pushed_out)
    assert set(pushed["verdict"]) <= {"pushed out"}
    assert pushed["group"].map(type).eq(str).all()
    assert not frame.map(lambda v: isinstance(v, (list, dict))).any().any()
