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

#: Phases a lab build reports (lookup, directory or skeleton, LDAP, initial sync, image save or load).
_PHASES = 5


class BuildProgress:
    """Phases of a lab build; the base class is silent (used off-terminal)."""

    def phase(self, description: str, total: int | None = None) -> None:
        """Start a new step (``total`` units of work, or None for an indeterminate one)."""

    def advance(self, amount: int = 1) -> None:
        """``amount`` units of the current step are done."""


class _RichProgress(BuildProgress):
    """One bar over the build's phases (each phase one step), the current phase as its label;
    a phase with a ``total`` gets a second bar of its own."""

    def __init__(self, progress: Any, phases: int) -> None:
        self._progress = progress
        self._overall = progress.add_task("Starting the lab", total=phases)
        self._step: Any = None
        self._started = False

    def phase(self, description: str, total: int | None = None) -> None:
        if self._started:
            self._progress.advance(self._overall, 1)
        self._started = True
        self._progress.update(self._overall, description=description)
        if self._step is not None:
            self._progress.remove_task(self._step)
            self._step = None
        if total is not None:
            self._step = self._progress.add_task(f"  {description}", total=total)
        # Draw each phase as it starts: a fast phase would otherwise fall between two auto-refreshes.
        self._progress.refresh()

    def advance(self, amount: int = 1) -> None:
        if self._step is not None:
            self._progress.advance(self._step, amount)

    def finish(self) -> None:
        task = self._progress.tasks[0]
        self._progress.update(self._overall, description="Lab ready", completed=task.total)


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
        reporter = _RichProgress(progress, phases=_PHASES)
        yield reporter
        reporter.finish()


__all__ = ["BuildProgress", "build_progress"]
