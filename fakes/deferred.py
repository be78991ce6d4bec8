"""An append-only list whose oldest items may still be waiting to be made.

The two logs a big lab fills in bulk keep their records in one: the Connect server's
Application log (an initial sync's two events per user) and the tenant's audit log (the lab's
SSPR registrations). Their records arrive either as objects or as a count plus a loader: a lab
image's compressed log, or records written for later (:meth:`DeferredList.add_later`). The
loaders run, in order, the first time something needs the records themselves; until then only
their count is known, and every waiting item comes before the items held as objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class LaterError(RuntimeError):
    """Items written for later could not be made as promised (another number of them)."""


class DeferredList(Generic[T]):
    """The items of a log, the oldest possibly still waiting to be made.

    Not thread-safe on its own: the log that owns it holds its lock around every call.
    """

    def __init__(self) -> None:
        self.items: list[T] = []  # the newest items, as objects
        self._later: list[Callable[[], Iterable[T]]] = []  # loaders of the older ones, in order
        self.waiting = 0  # how many items the loaders will make

    def __len__(self) -> int:
        return self.waiting + len(self.items)

    def loaded(self) -> list[T]:
        """Every item as an object (the loaders run first). A loader that fails leaves its items
        waiting: the next call raises the same error."""
        if self._later:
            made = [item for load in self._later for item in load()]
            self._later, self.waiting = [], 0
            self.items[:0] = made
        return self.items

    def tail(self, start: int) -> list[T]:
        """The items from position ``start`` on (a copy); those still waiting are made only if
        the tail reaches back into them."""
        if start >= self.waiting:
            return self.items[start - self.waiting:]
        return self.loaded()[start:]

    def append(self, item: T) -> None:
        self.items.append(item)

    def extend(self, items: Iterable[T]) -> None:
        self.items.extend(items)

    def add_later(self, count: int, make: Callable[[], Iterable[T]], what: str, where: str = "") -> None:
        """Append the ``count`` items ``make()`` returns when they are first needed. ``make`` must
        return equal items whenever it is called; if it returns another number of them, that
        read raises :class:`LaterError` (``where`` and ``what`` name the log and its items)."""
        def checked() -> list[T]:
            made = list(make())
            if len(made) != count:
                raise LaterError(f"{where}{count} {what} were written for later, {len(made)} were made")
            return made

        kept = self.items
        if kept:  # they stay ahead of the new items: a loader of their own
            self._later.append(lambda: kept)
        self._later.append(checked)
        self.items = []
        self.waiting += len(kept) + count

    def replace(self, items: Iterable[T]) -> None:
        """Make the list exactly ``items``."""
        self._later, self.waiting = [], 0
        self.items = list(items)

    def replace_later(self, count: int, load: Callable[[], Iterable[T]] | None,
                      items: Iterable[T] = ()) -> None:
        """Make the list the ``count`` items ``load()`` returns when first needed, then ``items``."""
        self._later, self.waiting = ([load], count) if load is not None else ([], 0)
        self.items = list(items)

    def state(self) -> tuple[tuple[T, ...], Callable[[], list[T]] | None, int]:
        """``(items as objects, one loader of the waiting ones or None, how many wait)``: what
        :meth:`replace_later` takes back, without making anything."""
        later = tuple(self._later)
        chained = (lambda: [item for loader in later for item in loader()]) if later else None
        return tuple(self.items), chained, self.waiting


__all__ = ["DeferredList", "LaterError"]
