"""State made when first needed: log records and big tables a lab image keeps encoded.

:class:`DeferredList` is an append-only list whose oldest items may still be waiting to be made.

The two logs a big lab fills in bulk keep their records in one: the Connect server's
Application log (an initial sync's two events per user) and the tenant's audit log (the lab's
SSPR registrations). Their records arrive either as objects or as a count plus a loader: a lab
image's compressed log, or records written for later (:meth:`DeferredList.add_later`). The
loaders run, in order, the first time something needs the records themselves; until then only
their count is known, and every waiting item comes before the items held as objects.

:class:`DeferredAttributes` is a mixin for objects some of whose attributes a loader makes: a
loaded lab image's tenant users and connector space, read when first used.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from fakes.gc_pause import gc_paused

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


_ATTRIBUTES_LOCK = threading.RLock()  # one loader at a time, whichever object and thread

#: Move what each load made to the cyclic GC's permanent generation (``gc.freeze``), as a
#: program that froze its start's objects wants for these too (``simlab serve`` sets it): else
#: the collector's next passes walk the 100k objects a load made. Not for in-process labs: a
#: frozen object is never collected, and a test process builds and drops many labs.
freeze_after_load = False


class DeferredAttributes:
    """Mixin: instance attributes made by a loader the first time one of them is read.

    :meth:`defer` removes the named attributes and keeps the loader. ``__getattr__`` (which
    Python calls only for an attribute the instance does not have) runs it on the first read of
    any of those names; it returns them all, and from then on they are plain attributes with
    nothing left on the read path. A name assigned before it was read keeps the assigned value.
    A loader that raises leaves its names waiting: the next read raises again.
    """

    def defer(self, names: Iterable[str], load: Callable[[], dict[str, Any]]) -> None:
        """Make ``names`` what ``load()`` returns for them, when one is first read."""
        with _ATTRIBUTES_LOCK:
            pending = self.__dict__.setdefault("_deferred", {})
            for name in names:
                self.__dict__.pop(name, None)
                pending[name] = load

    def is_deferred(self, name: str) -> bool:
        """Whether ``name`` is still waiting for its loader (never read or assigned since)."""
        return name in self.__dict__.get("_deferred", ()) and name not in self.__dict__

    def load_deferred(self) -> None:
        """Run every pending loader now (before the object's attributes are copied as a whole)."""
        with _ATTRIBUTES_LOCK:
            while self.__dict__.get("_deferred"):
                self._load(next(iter(self.__dict__["_deferred"])))

    def _load(self, name: str) -> None:
        pending = self.__dict__["_deferred"]
        load = pending[name]
        # A loader makes hundreds of thousands of objects, none in a cycle: the cyclic GC's
        # passes in the middle cost more than the making (0.33 against 0.09 s for a 100k
        # tenant's methods), so it waits (process-wide, for this long only).
        with gc_paused():
            values = load()
            if freeze_after_load:
                gc.freeze()
        names = [n for n, waiting in pending.items() if waiting is load]
        if sorted(values) != sorted(names):
            raise RuntimeError(f"a loader of {type(self).__name__} made {sorted(values)} for {sorted(names)}")
        for n in names:
            del pending[n]
            self.__dict__.setdefault(n, values[n])  # (assigned meanwhile: that value stands)
        if not pending:
            del self.__dict__["_deferred"]

    def __getattr__(self, name: str) -> Any:
        if name != "_deferred" and "_deferred" in self.__dict__:
            with _ATTRIBUTES_LOCK:
                pending = self.__dict__.get("_deferred")
                if pending and name in pending and name not in self.__dict__:
                    self._load(name)
                if name in self.__dict__:  # (made here, or by another thread meanwhile)
                    return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


__all__ = ["DeferredAttributes", "DeferredList", "LaterError"]
