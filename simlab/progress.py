"""Progress of long lab work (building, syncing, loading/saving an image) on a terminal.

:func:`build_progress` yields a :class:`BuildProgress`: a rich progress bar on stderr when
stderr is a terminal, and a silent no-op otherwise (a pipe, ``--json`` output, pytest), so
machine-read output never gets anything extra.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any


class BuildProgress:
    """Phases of a lab build; the base class is silent (used off-terminal)."""

    def phase(self, description: str, total: int | None = None) -> None:
        """Start a new step (``total`` units of work, or None for an indeterminate one)."""

    def advance(self, amount: int = 1) -> None:
        """``amount`` units of the current step are done."""


class _RichProgress(BuildProgress):
    def __init__(self, progress: Any) -> None:
        self._progress = progress
        self._task: Any = None

    def phase(self, description: str, total: int | None = None) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=self._progress.tasks[-1].total or 1, total=
                                  self._progress.tasks[-1].total or 1)
        self._task = self._progress.add_task(description, total=total)

    def advance(self, amount: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, amount)


@contextlib.contextmanager
def build_progress(enabled: bool = True) -> Iterator[BuildProgress]:
    """A progress reporter: rich bars on a terminal stderr when ``enabled``, silent otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield BuildProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        reporter = _RichProgress(progress)
        yield reporter
        reporter.phase("Lab ready", total=1)
        reporter.advance(1)


__all__ = ["BuildProgress", "build_progress"]
