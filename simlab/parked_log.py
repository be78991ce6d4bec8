"""A big event log kept compressed until it is read (the memory of a 100k-user lab).

An initial sync writes two Application events per user (656/657): 200,000 events, about
40 MiB of objects at 100k users, which nothing reads unless someone opens the log. After a
build (and after loading an image) the lab keeps them as one zstd-compressed msgpack blob
(a few MiB) and :class:`fakes.eventlog.EventLog` rebuilds the records on first use, exactly
as they were (record ids, times, values, messages).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import zstandard

from fakes.eventlog import Event, EventLog
from simlab.image_codec import decode, packer, tables
from simlab.lazy_rows import is_filled

#: Logs shorter than this stay as objects: parking them saves little and costs a decode later.
PARK_MINIMUM = 10_000


def pack_events(events: list[Event]) -> bytes:
    """``events`` as a compressed blob (a column table of the image codec)."""
    return compress(packer().pack(tables({"events": events}, minimum=1)["events"]))


def compress(packed: bytes) -> bytes:
    """zstd level 1 (the image's level: fast, about a tenth of the msgpack size here)."""
    return zstandard.ZstdCompressor(level=1).compress(packed)


#: Strings the lab already holds that the events' values repeat (connector anchors and DNs):
#: decoded values become those objects instead of copies (about 30 MiB at 100k users).
Strings = Callable[[], Iterable[str]]


def unpack_events(blob: bytes, shared: Strings | None = None) -> Any:
    """Inverse of :func:`pack_events` (also reads :func:`compress` of an image's packed log)."""
    memo = {s: s for s in shared()} if shared is not None else {}
    return decode(zstandard.ZstdDecompressor().decompress(blob), memo)


def later(packed: bytes, shared: Strings | None = None) -> Callable[[], Any]:
    """A loader for ``EventLog.replace_records_later`` holding ``packed`` (msgpack) compressed."""
    blob = compress(packed)
    return lambda: unpack_events(blob, shared)


def park(log: EventLog, minimum: int = PARK_MINIMUM, shared: Strings | None = None) -> int:
    """Park ``log`` (:meth:`EventLog.park`) when it holds at least ``minimum`` records; bytes kept."""
    if len(log) < minimum:
        return 0
    return log.park(pack_events, lambda blob: unpack_events(blob, shared))


def connector_strings(connect: Any) -> Strings:
    """The anchors and DNs of the Connect server's connector space when called (what the
    656/657 events name); read then, so a snapshot restore in between is seen. Objects of a
    loaded image not decoded yet give their anchor (the dict key) only: reading their DN would
    decode every one of them (:mod:`simlab.lazy_rows`)."""
    def strings() -> Iterator[str]:
        for anchor, obj in list(connect.sync.connector_space.items()):
            yield anchor
            if is_filled(obj):
                yield obj.anchor
                yield obj.dn
    return strings


__all__ = ["PARK_MINIMUM", "Strings", "compress", "connector_strings", "later", "pack_events", "park",
           "unpack_events"]
