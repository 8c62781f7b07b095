"""Progress for long audits: each step named, and progress shown inside the long ones.

An audit is a few named steps ("impact: rates and verdicts", "mechanisms: attribution", ...), some of
which loop for a while.  :func:`session` opens the display for a whole audit, :func:`step` names the
step under way, and :func:`track` shows progress through a loop inside it.  Code deep inside a family
calls :func:`track` without knowing whether anyone is watching: with no session open it draws its own bar
on a terminal and nothing elsewhere.

The display depends on where the audit runs (``mode``):

* ``"bar"``: a rich progress display on stderr — on a terminal, and in Jupyter (rich draws it in the
  notebook when ipywidgets is installed; without it, the ``"lines"`` display is used);
* ``"lines"``: one line on stderr as each step starts and ends, with its duration — for pipes, logs and CI,
  where a redrawn bar would be noise;
* ``"none"``: nothing;
* ``"auto"`` (the API's default): ``"bar"`` on a terminal or in Jupyter, ``"none"`` otherwise (a script
  whose output is collected should not get progress text unasked).  The command line uses ``"lines"``
  when stderr is not a terminal.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

__all__ = ["MODES", "resolve_mode", "session", "step", "track"]

T = TypeVar("T")

MODES = ("auto", "bar", "lines", "none")


def _in_jupyter() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except AttributeError:
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _has_widgets() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_mode(mode: str = "auto", *, command_line: bool = False) -> str:
    """The display to use: ``mode`` with ``"auto"`` decided from where the audit runs."""
    if mode not in MODES:
        raise ValueError(f"progress must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "bar" and _in_jupyter() and not _has_widgets():
        return "lines"
    if mode != "auto":
        return mode
    if _in_jupyter():
        return "bar" if _has_widgets() else "lines"
    if sys.stderr is not None and sys.stderr.isatty():
        return "bar"
    return "lines" if command_line else "none"


class _Session:
    """One audit's display: a step counter and, inside a step, at most one loop bar."""

    def __init__(self, mode: str, n_steps: int, title: str) -> None:
        self.mode = mode
        self.n_steps = n_steps
        self.title = title
        self.done = 0
        self.progress = None
        self.overall = None
        if mode == "bar":
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self.progress.start()
            self.overall = self.progress.add_task(f"{title}: starting", total=n_steps)

    def write(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def start(self, name: str) -> float:
        label = f"{self.title} [{self.done + 1}/{self.n_steps}] {name}"
        if self.progress is not None:
            self.progress.update(self.overall, description=label)
        elif self.mode == "lines" and self.done:
            # The first step reads and checks the input: a bad input gets its one-line error and
            # nothing else, so this step's line is written only when it has ended.
            self.write(f"{label} ...")
        return time.perf_counter()

    def finish(self, name: str, started: float) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress.update(self.overall, completed=self.done)
        elif self.mode == "lines":
            self.write(f"{self.title} [{self.done}/{self.n_steps}] {name}: done in "
                       f"{time.perf_counter() - started:.1f} s")

    def loop(self, iterable: Iterable[T], total: int | None, description: str) -> Iterator[T]:
        if self.progress is None:
            yield from iterable
            return
        task = self.progress.add_task(f"  {description}", total=total)
        try:
            for item in iterable:
                yield item
                self.progress.advance(task)
        finally:
            self.progress.remove_task(task)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


_current: ContextVar[_Session | None] = ContextVar("audit_progress", default=None)


@contextmanager
def session(steps: int | Sequence[str], *, mode: str = "auto", title: str = "audit",
            command_line: bool = False) -> Iterator[None]:
    """Open the progress display for a job of ``steps`` named steps (a count or the names).

    A session inside a session adds nothing: the outer one keeps the display.
    """
    if _current.get() is not None:
        yield
        return
    n = steps if isinstance(steps, int) else len(steps)
    s = _Session(resolve_mode(mode, command_line=command_line), max(int(n), 1), title)
    token = _current.set(s)
    try:
        yield
    finally:
        _current.reset(token)
        s.close()


@contextmanager
def step(name: str) -> Iterator[None]:
    """Name the step under way (shown by the open session; nothing without one)."""
    s = _current.get()
    if s is None:
        yield
        return
    started = s.start(name)
    yield
    s.finish(name, started)


def track(iterable: Iterable[T], total: int | None = None, description: str = "") -> Iterator[T]:
    """Iterate over ``iterable`` showing progress through it.

    Inside a session the loop gets a bar under the current step; outside one, a transient bar is drawn
    only when stderr is a terminal, so logs, pipes and CI get no control characters.
    """
    s = _current.get()
    if s is not None:
        yield from s.loop(iterable, total, description)
        return
    if sys.stderr is None or not sys.stderr.isatty():
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import track as rich_track

    yield from rich_track(iterable, total=total, description=description, console=Console(stderr=True),
                          transient=True)
