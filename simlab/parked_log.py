"""A big event log kept compressed until it is read (the memory of a 100k-user lab).

An initial sync writes two Application events per user (656/657): 200,000 events, about
40 MiB of objects at 100k users, which nothing reads unless someone opens the log. After a
build (and after loading an image) the lab keeps them as one zstd-compressed msgpack blob
(a few MiB) and :class:`fakes.eventlog.EventLog` rebuilds the records on first use, exactly
as they were (record ids, times, values, messages).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import msgpack
import zstandard

from fakes.eventlog import Event, EventLog
from simlab.image_codec import LookupMemo, decode, encode, packer, tables
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


def unpack_events(blob: bytes, shared: Strings | None = None, *, grow: bool = True) -> Any:
    """Inverse of :func:`pack_events` (also reads :func:`compress` of an image's packed log).

    ``grow=False``: decoded strings are shared with ``shared`` only, not with each other (a log
    of unique ids, like the audit log: a memo of every one of them would only be a peak)."""
    memo = (dict if grow else LookupMemo)((s, s) for s in shared()) if shared is not None else {}
    return decode(zstandard.ZstdDecompressor().decompress(blob), memo)


def park(log: EventLog, minimum: int = PARK_MINIMUM, shared: Strings | None = None) -> int:
    """Park ``log`` (:meth:`EventLog.park`) when it holds at least ``minimum`` records as objects
    (records written for later, like a cold build's sync events, are not objects yet); bytes kept."""
    if log.in_memory() < minimum:
        return 0
    return log.park(_pack_parked, lambda blob: _unpack_parked(blob, shared))


# A parked blob never leaves the process, so it has a format of its own, faster to write than the
# image's event table (which packs each event's value tuple through the codec's extension hook:
# ~1 s for 200k events): columns with few distinct values as those values (image codec: exact
# types) plus one index per event, record ids as a range, and the value tuples as plain msgpack
# arrays. Logs it cannot hold (a value msgpack refuses, an odd record id) use the image format.
_FAST, _IMAGE = b"F", b"I"
_FIELDS = tuple(f.name for f in dataclasses.fields(Event))
_VALUES = _FIELDS.index("values")
_RECORD_ID = _FIELDS.index("record_id")


def _pack_parked(events: list[Event]) -> bytes:
    columns = list(zip(*map(operator.attrgetter(*_FIELDS), events), strict=True))
    first = columns[_RECORD_ID][0]
    try:
        if columns[_RECORD_ID] != tuple(range(first, first + len(events))):
            raise ValueError("record ids do not run consecutively")
        distinct, indexes = [], []
        for i, column in enumerate(columns):
            if i in (_VALUES, _RECORD_ID):
                continue
            timed = type(column[0]) is datetime  # equal instants in two zones are two values here
            keyed = [(v, v.tzinfo) for v in column] if timed else column
            keys = list(dict.fromkeys(keyed))
            if len(keys) > 255 or len(set(map(type, keyed))) > 1:  # (1 and True are one key)
                raise ValueError("too many distinct values for a one-byte index, or mixed types")
            position = {k: n for n, k in enumerate(keys)}
            distinct.append([k[0] for k in keys] if timed else keys)
            indexes.append(bytes(map(position.__getitem__, keyed)))
        payload = msgpack.packb([first, len(events), encode(distinct), indexes, columns[_VALUES]],
                                use_bin_type=True)
    except (TypeError, ValueError, OverflowError, AttributeError):
        return _IMAGE + pack_events(events)
    return _FAST + compress(payload)


def _unpack_parked(blob: bytes, shared: Strings | None) -> list[Event]:
    if blob[:1] == _IMAGE:
        return unpack_events(blob[1:], shared)
    memo = {s: s for s in shared()} if shared is not None else {}
    first, count, distinct, indexes, values = msgpack.unpackb(
        zstandard.ZstdDecompressor().decompress(blob[1:]), raw=False, use_list=False)
    share = memo.setdefault
    columns: list[Any] = [list(map(tuple(d).__getitem__, i))
                          for d, i in zip(decode(distinct, memo), indexes, strict=True)]
    columns.insert(_RECORD_ID, range(first, first + count))
    columns.insert(_VALUES, [tuple([share(v, v) for v in t]) for t in values])
    return list(map(Event, *columns))


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


__all__ = ["PARK_MINIMUM", "Strings", "compress", "connector_strings", "pack_events", "park",
           "unpack_events"]
