"""kill -9 at random points never leaves a mixed or half-written report.

A report folder is in one of three states after a writer dies at any instant:

* complete: ``manifest.json`` is there and every file it lists matches it (size and
  SHA-256), and all files come from one run;
* flagged: no ``manifest.json`` (only when the folder also holds other files and is
  written in place: the old manifest is removed before the first file is replaced);
* absent: only where the system cannot exchange two folders atomically (not on Linux).

The quick tests kill a process that writes bundles in a loop (two modes, a few kills);
the long ones (``python3 dev.py fuzz``) kill 300 such writers and 20 real ``audit run``
commands at random points, half of them aimed at the moment the report is written.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import audit
from audit._io import MANIFEST, bundle_problems

AUDIT_BIN = Path(sys.executable).with_name("audit")
LONG = os.environ.get("AUDIT_LONG", "") == "1"
long_only = pytest.mark.skipif(not LONG, reason="long run: python3 dev.py fuzz")

WRITER = r"""
import sys
from pathlib import Path
import audit._io
from audit._io import write_bundle

out, size = Path(sys.argv[1]), int(sys.argv[2])
if sys.argv[3] == "no-exchange":  # as on a system without an atomic exchange of two folders
    audit._io._exchange = lambda a, b: False
k = 0
while True:
    pad = (str(k) * size)[:size]
    write_bundle(out, {f"report.{ext}": f"run {k}\n{pad}\n" for ext in ("json", "md", "html")})
    if k == 0:
        print("ready", flush=True)
    k += 1
"""


def _run_ids(folder: Path) -> set[str]:
    """Which run wrote each report file: the writer loop's first line, or the real run's --seed."""
    ids = set()
    for ext in ("json", "md", "html"):
        path = folder / f"report.{ext}"
        if path.exists():
            text = path.read_text()
            seed = re.search(r"--seed (\d+)", text)
            ids.add(text.split("\n", 1)[0] if text.startswith("run ") else seed.group(1) if seed else "?")
    return ids


def check_state(folder: Path, *, in_place: bool, exchange: bool = True) -> str:
    """The folder's state after a kill; fails on a mixed or half-written report."""
    if not folder.exists():
        assert not (exchange and sys.platform.startswith("linux")), "the folder vanished although it was exchanged"
        return "absent"
    if (folder / MANIFEST).exists():
        assert bundle_problems(folder) == [], bundle_problems(folder)
        assert len(_run_ids(folder)) == 1, _run_ids(folder)  # independent of the manifest: one run's files
        return "complete"
    assert in_place, "a folder of our own files must never be without its manifest"
    return "flagged"


def _record(name: str, states: dict[str, int]) -> None:
    """Keep a long test's tally for python3 dev.py fuzz to print (pytest -n hides a worker's output)."""
    folder = Path(__file__).resolve().parents[1] / "test-artifacts"
    folder.mkdir(exist_ok=True)
    (folder / f"kill-{name}.json").write_text(json.dumps(states))


def _temporaries(*folders: Path) -> list[str]:
    return [p.name for f in folders if f.exists() for p in f.iterdir() if p.name.endswith((".tmp", ".old"))]


def kill_writers(tmp_path: Path, kills: int, *, in_place: bool, seed: int, exchange: bool = True) -> dict[str, int]:
    rng = random.Random(seed)
    base = tmp_path / "shared" if in_place else tmp_path
    base.mkdir(exist_ok=True)
    out = base if in_place else base / "report"
    if in_place:
        (base / "people.csv").write_text("id\n1\n")  # someone else's file: the folder is written in place
    states: dict[str, int] = {}
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(rng.choice([10_000, 400_000])),
                                 "exchange" if exchange else "no-exchange"], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        state = check_state(out, in_place=in_place, exchange=exchange)
        states[state] = states.get(state, 0) + 1
    # The next write removes what the killed writers left behind.
    audit._io.write_bundle(out, {"report.json": "run final\n", "report.md": "run final\n", "report.html": "run final\n"})
    assert check_state(out, in_place=in_place) == "complete"
    assert _temporaries(out, out.parent) == []
    if in_place:
        assert (base / "people.csv").read_text() == "id\n1\n"
    return states


MODES = [(False, True), (True, True), (False, False)]
MODE_IDS = ["own-folder", "shared-folder", "own-folder-without-exchange"]


@pytest.mark.parametrize("in_place, exchange", MODES, ids=MODE_IDS)
def test_killed_writer_never_leaves_a_mixed_report(tmp_path, in_place, exchange):
    states = kill_writers(tmp_path, 2, in_place=in_place, seed=1, exchange=exchange)
    assert sum(states.values()) == 2


@long_only
@pytest.mark.slow
@pytest.mark.parametrize("in_place, exchange", MODES, ids=MODE_IDS)
def test_killed_writer_long(tmp_path, in_place, exchange):
    states = kill_writers(tmp_path, 100, in_place=in_place, seed=2, exchange=exchange)
    _record(f"writer-{MODE_IDS[MODES.index((in_place, exchange))]}", states)


@long_only
@pytest.mark.slow
def test_kill_audit_run_at_random_points(tmp_path):
    """20 real ``audit run`` commands killed with SIGKILL: 10 at a uniformly random time, 10 while writing."""
    data = tmp_path / "data"
    audit.datasets.write_sesame(data, n=1500, seed=3, fmt="csv")
    rng = random.Random(19)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notes.txt").write_text("not ours")

    def command(seed: int, out: Path) -> list[str]:
        return [str(AUDIT_BIN), "run", "sesame", "--data", str(data / "people.csv"), "--graph",
                str(data / "edges.csv"), "--protected", "gender,ethnicity", "--families", "impact",
                "--seed", str(seed), "--out", str(out)]

    start = time.perf_counter()
    subprocess.run(command(0, tmp_path / "own"), check=True, capture_output=True)  # a complete first report
    subprocess.run(command(0, shared), check=True, capture_output=True)
    duration = time.perf_counter() - start
    states: dict[str, int] = {}
    for i in range(20):
        in_place = i % 2 == 1
        out = shared if in_place else tmp_path / "own"
        proc = subprocess.Popen(command(i + 1, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i < 10:
            time.sleep(rng.uniform(0, duration / 2))
        else:
            # Wait for the first staged file or folder of this run, then kill within a few milliseconds.
            watch = out if in_place else out.parent
            deadline = time.perf_counter() + 120
            while proc.poll() is None and time.perf_counter() < deadline:
                if any(f".{proc.pid}." in p for p in os.listdir(watch)):
                    time.sleep(rng.uniform(0, 0.005))
                    states["kills that caught a write in progress"] = \
                        states.get("kills that caught a write in progress", 0) + 1
                    break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = check_state(out, in_place=in_place)
        if state == "complete":
            doc = json.loads((out / "report.json").read_text())
            assert doc["rule"]["name"] == "sesame"
        states[state] = states.get(state, 0) + 1
    _record("audit-run", states)
    for out in (tmp_path / "own", shared):
        subprocess.run(command(99, out), check=True, capture_output=True)
        assert check_state(out, in_place=out == shared) == "complete"
        assert _temporaries(out, out.parent) == []
    assert (shared / "notes.txt").read_text() == "not ours"
