"""Progress bars for long steps: shown on a terminal, silent when piped."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def _interactive() -> bool:
    return sys.stderr.isatty()


def track(iterable: Iterable[T], total: int | None = None, description: str = "") -> Iterator[T]:
    """Iterate over ``iterable`` with a rich progress bar on stderr.

    The bar is drawn only when stderr is a terminal, so logs, pipes, CI and
    notebooks get no control characters.
    """
    if not _interactive():
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import track as rich_track

    yield from rich_track(
        iterable, total=total, description=description, console=Console(stderr=True), transient=True
    )
