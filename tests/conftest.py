"""Shared fixtures.

Real public data sets live in ``../shared/data`` (relative to the project root)
on developer machines and CI; they are never copied into this repository.  In a
user's clone they may be absent: the tests that need them skip with a reason,
except under CI (``CI=true``) where a missing file is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_file(relative: str) -> Path:
    """Path of a file under ../shared/data; skip (or fail under CI) when it is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        message = f"public data file {path} is not available"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (required under CI)")
        pytest.skip(message)
    return path


@pytest.fixture
def shared_data():
    """The ../shared/data folder, or a skip (a failure under CI) when it is absent."""
    return shared_file("").parent if False else shared_file(".")
