"""Windows-style event logs shared by the fakes.

The Connect server writes its Application log here (writeback, sync) and the DC its
Security log (4723/4724/4738/4740/4767/5136). Each fake keeps its own catalogue of
event IDs and message templates; this module only stores, filters and exports entries
the way an admin reads them in Event Viewer (or ``Get-WinEvent``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from xml.sax.saxutils import escape

from fakes.deferred import DeferredList, LaterError


class Clock(Protocol):
    def now(self) -> datetime: ...


#: A catalogue event :meth:`EventLog.write_many` writes: ``(source, event_id, level, template,
#: field names, field values)``.
Row = tuple[str, int, str, str, tuple[str, ...], tuple[str, ...]]

LEVELS = ("Information", "Warning", "Error", "Critical", "Audit Success", "Audit Failure")


@dataclass(frozen=True, slots=True)
class Event:
    """One event record, shaped like Event Viewer's columns plus the data fields.

    Stored compactly (an initial sync writes two events per user): the data fields are a
    tuple of names shared by every event of a kind plus a tuple of values, and a catalogue
    event keeps its message *template*, rendered from the data when :attr:`message` is read.
    ``message`` and ``data`` read exactly as if they were stored.
    """

    record_id: int
    log: str
    event_id: int
    source: str
    level: str
    time: datetime
    computer: str
    #: The message, or its ``str.format`` template over the data fields when ``templated``.
    text: str
    keys: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    templated: bool = False

    @property
    def message(self) -> str:
        """The message as Event Viewer shows it."""
        if self.templated:
            return self.text.format_map(dict(zip(self.keys, self.values, strict=True)))
        return self.text

    @property
    def data(self) -> dict[str, str]:
        """The EventData fields (a fresh dict)."""
        return dict(zip(self.keys, self.values, strict=True))

    def to_dict(self) -> dict:
        return {"record_id": self.record_id, "log": self.log, "event_id": self.event_id,
                "source": self.source, "level": self.level, "time": self.time.isoformat(),
                "computer": self.computer, "message": self.message, "data": self.data}


class EventLog:
    """A set of named logs (``Application``, ``Security``, ...) on one simulated machine."""

    def __init__(self, clock: Clock, computer: str) -> None:
        self._clock = clock
        self.computer = computer
        # Records handed over undecoded (a lab image: 200k sync events at 100k users) or written
        # for later (write_many_later) wait in here until first needed.
        self._events: DeferredList[Event] = DeferredList()
        self._lock = threading.Lock()

    def write(
        self,
        log: str,
        source: str,
        event_id: int,
        level: str,
        message: str,
        data: dict[str, str] | None = None,
        *,
        template: bool = False,
    ) -> Event:
        """Append an event stamped with the simulated time and return it.

        ``template=True``: ``message`` is a ``str.format`` template over ``data`` (all its
        placeholders must be data fields), rendered when the message is read.
        """
        if level not in LEVELS:
            raise ValueError(f"unknown event level {level!r}; expected one of {LEVELS}")
        with self._lock:
            event = Event(
                record_id=len(self._events) + 1,  # (records still waiting count: they come first)
                log=log,
                event_id=event_id,
                source=source,
                level=level,
                time=self._clock.now(),
                computer=self.computer,
                text=message,
                keys=_shared_keys(tuple(data)) if data else (),
                values=tuple(data.values()) if data else (),
                templated=template,
            )
            self._events.append(event)
        return event

    def write_many(self, log: str, rows: Iterable[Row]) -> int:
        """:meth:`write` with ``template=True`` for each ``(source, event_id, level, template,
        field names, field values)`` in order, at one simulated instant (an initial sync's two
        events per user): the same records as one call each. Returns how many were written."""
        now = self._clock.now()
        rows = list(rows)
        _check_levels(rows)
        with self._lock:
            self._events.extend(self._made(log, rows, len(self._events) + 1, now, self.computer))
        return len(rows)

    def write_many_later(self, log: str, count: int, rows: Callable[[], Iterable[Row]]) -> None:
        """:meth:`write_many` of the ``count`` rows ``rows()`` returns, made only when the log is
        next read: the same records (ids, instant, values), without their objects until then.

        An initial sync of 100k users writes 200k events that are rarely read; ``rows`` must
        return the same rows whenever it is called (the caller keeps what they are made from).
        A ``rows()`` that breaks that promise raises :class:`~fakes.deferred.LaterError` on that read.
        """
        now, computer = self._clock.now(), self.computer
        with self._lock:
            first = len(self._events) + 1

            def make() -> list[Event]:
                made = list(rows())
                try:
                    _check_levels(made)
                except ValueError as exc:
                    raise LaterError(f"{computer} {log} log: {exc}") from exc
                return self._made(log, made, first, now, computer)

            self._events.add_later(count, make, "records", f"{computer} {log} log: ")

    @staticmethod
    def _made(log: str, rows: list[Row], first: int, now: datetime, computer: str) -> list[Event]:
        shared = _shared_keys
        return [
            Event(record_id, log, event_id, source, level, now, computer, template,
                  shared(keys) if keys else (), values, True)
            for record_id, (source, event_id, level, template, keys, values) in enumerate(rows, first)
        ]

    def in_memory(self) -> int:
        """How many records are held as objects (the rest are made or decoded when next read)."""
        with self._lock:
            return len(self._events.items)

    def query(
        self,
        *,
        log: str | None = None,
        event_ids: Iterable[int] | None = None,
        source: str | None = None,
        level: str | None = None,
        since: datetime | None = None,
        after_record: int = 0,
    ) -> list[Event]:
        """Events matching every given filter, oldest first."""
        ids = None if event_ids is None else set(event_ids)
        with self._lock:
            # Record ids are positions: after a recent bookmark, the older records still waiting
            # to be made stay waiting.
            events = self._events.tail(after_record)
        return [
            e
            for e in events
            if e.record_id > after_record
            and (log is None or e.log.lower() == log.lower())
            and (ids is None or e.event_id in ids)
            and (source is None or e.source.lower() == source.lower())
            and (level is None or e.level.lower() == level.lower())
            and (since is None or e.time >= since)
        ]

    def __iter__(self) -> Iterator[Event]:
        return iter(self.query())

    def __len__(self) -> int:
        return len(self._events)

    def last_record_id(self) -> int:
        """A bookmark: pass it as ``after_record`` to see only newer events."""
        with self._lock:
            return len(self._events)

    def clear(self) -> None:
        with self._lock:
            self._events.replace(())

    def records(self) -> list[Event]:
        """Every record in order (a copy): what a lab image or snapshot keeps."""
        with self._lock:
            return list(self._events.loaded())

    def replace_records(self, events: Iterable[Event]) -> None:
        """Make the log exactly ``events`` (record ids are positions, so they must run 1..n)."""
        with self._lock:
            self._events.replace(events)

    def replace_records_later(self, count: int, load: Callable[[], Iterable[Event]]) -> None:
        """:meth:`replace_records` with ``count`` records that ``load()`` returns when first needed."""
        with self._lock:
            self._events.replace_later(count, load)

    def park(self, pack: Callable[[list[Event]], bytes], unpack: Callable[[bytes], Iterable[Event]]) -> int:
        """Keep the records only as ``pack(records)`` until one is next needed (``unpack`` then
        rebuilds them, as :meth:`replace_records_later`): a big log that is rarely read (an
        initial sync's two events per user) costs its packed bytes instead of its objects.
        Returns the number of bytes kept (0 for an empty log, which stays as it is)."""
        with self._lock:
            events = self._events.loaded()
            if not events:
                return 0
            blob = pack(events)
            self._events.replace_later(len(events), lambda: unpack(blob))
            return len(blob)

    def truncate(self, length: int) -> None:
        """Drop every record after the first ``length`` (a snapshot restore's cut)."""
        with self._lock:
            if length < len(self._events):
                del self._events.loaded()[length:]


def _check_levels(rows: list[Row]) -> None:
    for level in {row[2] for row in rows}:
        if level not in LEVELS:
            raise ValueError(f"unknown event level {level!r}; expected one of {LEVELS}")


_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _shared_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    # Every event of a kind has the same field names: one tuple for all of them.
    return _KEYS.setdefault(keys, keys)


def to_jsonl(events: Iterable[Event]) -> str:
    """One JSON object per line, as ``simlab events --json`` prints them."""
    return "".join(json.dumps(e.to_dict(), sort_keys=True) + "\n" for e in events)


def to_xml(events: Iterable[Event]) -> str:
    """Events in the XML shape of ``wevtutil qe /f:xml`` (System + EventData)."""
    parts = ["<Events>"]
    for e in events:
        data = "".join(f'<Data Name="{escape(k)}">{escape(str(v))}</Data>' for k, v in e.data.items())
        parts.append(
            "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
            f"<Provider Name='{escape(e.source)}'/><EventID>{e.event_id}</EventID>"
            f"<Level>{_LEVEL_NUMBERS.get(e.level, 4)}</Level>"
            f"<TimeCreated SystemTime='{e.time.isoformat()}'/>"
            f"<EventRecordID>{e.record_id}</EventRecordID><Channel>{escape(e.log)}</Channel>"
            f"<Computer>{escape(e.computer)}</Computer></System>"
            f"<EventData>{data}</EventData><RenderingInfo><Message>{escape(e.message)}</Message>"
            f"<Level>{escape(e.level)}</Level></RenderingInfo></Event>"
        )
    parts.append("</Events>")
    return "\n".join(parts) + "\n"


# Windows level numbers (Audit Success/Failure are level 0 with keywords in real logs).
_LEVEL_NUMBERS = {
    "Critical": 1,
    "Error": 2,
    "Warning": 3,
    "Information": 4,
    "Audit Success": 0,
    "Audit Failure": 0,
}
