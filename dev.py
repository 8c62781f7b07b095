#!/usr/bin/env python3
"""Set up and run the project with nothing but python3.

    python3 dev.py demo     # create .venv, install, write reports/demo/report.{html,json,md}
    python3 dev.py test     # create .venv, install (with dev extras), run the whole pytest suite
    python3 dev.py reports  # regenerate every example report under reports/
    python3 dev.py bench    # run the benchmarks under benchmarks/ and print their figures
    python3 dev.py simulate # the long-run demo: 20,000 people, 60 periods, 20 runs -> out/dynamics/ (a few minutes)
    python3 dev.py fuzz     # the long fuzz (about 10,000 generated inputs) and the kill -9 tests

Everything lives in ./.venv; nothing is installed into the system Python.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def _run(cmd: list[str], **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)


def ensure_env(extras: str = "dev") -> None:
    """Create .venv and install the package; reinstall only when pyproject.toml changed."""
    if not PY.exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    stamp = VENV / f".installed-{extras}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    _run([PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    _run([PY, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]"])
    stamp.write_text(digest)


def ensure_chromium() -> None:
    """Install Debian's chromium for the browser check when we are root and it is missing."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        print("note: chromium not found and cannot be installed here; the browser check will skip "
              "(it fails instead under CI=true)", flush=True)
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-qq"], env=env)
    _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"], env=env)


def fuzz(rest: list[str]) -> None:
    """The bad-input contract on about 10,000 generated inputs, and kill -9 during 320 writes.

    AUDIT_FUZZ_SCALE (default 60) multiplies the default suite's budget of each fuzz test;
    AUDIT_LONG=1 turns on the long kill tests.  Prints the number of inputs of each kind.
    """
    artifacts = ROOT / "test-artifacts"
    for old in [*artifacts.glob("fuzz-counts-*.json"), *artifacts.glob("kill-*.json")]:
        old.unlink()
    env = dict(os.environ, AUDIT_FUZZ_SCALE=os.environ.get("AUDIT_FUZZ_SCALE", "60"), AUDIT_LONG="1")
    try:
        _run([PY, "-m", "pytest", "-n", "2", "-s", "-p", "no:cacheprovider", "tests/test_fuzz.py",
              "tests/test_atomic_write.py", *rest], env=env)
    finally:
        import json

        counts: dict[str, int] = {}
        for path in artifacts.glob("fuzz-counts-*.json"):
            for kind, n in json.loads(path.read_text()).items():
                counts[kind] = counts.get(kind, 0) + n
        for kind, n in sorted(counts.items()):
            print(f"fuzz: {n:>7,} {kind}")
        inputs = sum(n for kind, n in counts.items() if ", " not in kind)  # "kind, outcome" lines split a kind
        print(f"fuzz: {inputs:>7,} generated inputs in all")
        for path in sorted(artifacts.glob("kill-*.json")):
            print(f"kill -9: {path.stem[5:]}: {json.loads(path.read_text())}")


def main(argv: list[str]) -> int:
    task = argv[0] if argv else "help"
    rest = argv[1:]
    if task == "demo":
        ensure_env()
        _run([BIN / "audit", "demo", "--out", "reports/demo", *rest])
    elif task == "test":
        ensure_env()
        ensure_chromium()
        _run([PY, "-m", "pytest", "-n", "2", *rest])
    elif task == "reports":
        ensure_env()
        _run([PY, "-m", "audit._examples"])
    elif task == "simulate":
        ensure_env()
        _run([PY, "-m", "audit._examples", "simulate", *rest])
    elif task == "fuzz":
        ensure_env()
        fuzz(rest)
    elif task == "bench":
        ensure_env()
        for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
            _run([PY, script, *rest])
    else:
        print(__doc__)
        return 0 if task in ("help", "-h", "--help") else 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode or 1)
