"""Objects of a lab image's big tables, decoded when first used (see docs/images.md).

A 100k-user image holds 100k tenant users, 200k authentication methods and 100k connector-space
objects; building them all takes seconds, and most are never looked at while a lab runs. A
lazy table (:class:`simlab.image_codec.Table` with ``lazy=True``) comes back as *placeholders*:
instances of a generated subclass of the real frozen slots dataclass whose only state is the row
number. The first attribute read of a placeholder fills its slots from the table's column chunk
(decoded then, through the same codec) and turns it into an instance of the real class
(``__class__`` assignment: same memory layout), so afterwards it *is* an ordinary object and
``type(x) is User`` holds. Until then ``==``, ``hash``, ``repr``, ``dataclasses.replace`` and
``isinstance`` all work (each reads an attribute first); ``type(x)`` is the placeholder class,
which :func:`real_type` maps back.

Containers (the ``users`` dict, the ``methods`` tuples) are real from the start: only the
values inside are filled on demand.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from itertools import repeat
from types import MemberDescriptorType
from typing import Any

#: Decodes one chunk of a table: its bytes, first row and row count in, one list per field out.
ChunkDecoder = Callable[[bytes, int, int], list[list[Any]]]

_ROWS = "_simlab_rows"
_REAL = "_simlab_real"
# One lock for every fill: a placeholder read from two threads at once is filled once. Reentrant,
# so a fill that reads another placeholder on its own thread cannot deadlock on itself.
_LOCK = threading.RLock()


class LazyDecodeError(RuntimeError):
    """Image data whose decoding was put off failed when first used (names the table and rows).

    Not a ValueError or AttributeError on purpose: it surfaces from an attribute read, and code
    catching those around such a read must not mistake it for an ordinary miss."""


def supports(cls: type) -> bool:
    """Whether ``cls`` objects can be placeholders: a dataclass with ``__slots__`` for every
    field and no ``__dict__`` (the ``__class__`` swap needs the subclass's layout to be the same,
    and the fill sets the slots through their descriptors)."""
    fields = getattr(cls, "__dataclass_fields__", None)
    return bool(fields) and cls.__dictoffset__ == 0 \
        and all(isinstance(cls.__dict__.get(name), MemberDescriptorType) for name in fields)


def is_filled(obj: Any) -> bool:
    """False for a placeholder whose row is not decoded yet (asking does not decode it)."""
    return _ROWS not in type(obj).__dict__


def real_type(obj: Any) -> type:
    """``type(obj)``, or the real class for a placeholder not filled yet."""
    cls = type(obj)
    return cls.__dict__.get(_REAL, cls)


class _Rows:
    """One table's undecoded chunks; decodes a chunk when one of its rows is first filled and
    lets it go once every row of the chunk is filled."""

    __slots__ = ("chunks", "cls", "count", "decode", "decoded", "left", "name", "row_of", "setters",
                 "size")

    def __init__(self, cls: type, name: str, names: tuple[str, ...], chunks: list[bytes | None], size: int,
                 count: int, decode: ChunkDecoder) -> None:
        self.cls, self.name, self.chunks, self.size, self.count = cls, name, chunks, size, count
        self.decode = decode
        self.decoded: dict[int, list[tuple]] = {}
        self.left = [min(size, count - i * size) for i in range(len(chunks))]
        slots = [cls.__dict__[n] for n in names]  # the slot member descriptors
        self.setters = [s.__set__ for s in slots]
        self.row_of = slots[0].__get__  # slot 0 holds the row number until the fill

    def values(self, row: int) -> tuple:
        chunk, at = divmod(row, self.size)
        rows = self.decoded.get(chunk)
        if rows is None:
            first = chunk * self.size
            try:
                raw = self.chunks[chunk]
                if raw is None:
                    raise ValueError("chunk already released")
                columns = self.decode(raw, first, min(self.size, self.count - first))
            except Exception as exc:  # any failure of a deferred decode is reported the same way
                last = min(first + self.size, self.count) - 1
                raise LazyDecodeError(f"lab image data for {self.name} (rows {first}-{last}) "
                                      f"cannot be decoded: {exc!r}") from exc
            rows = self.decoded[chunk] = list(zip(*columns, strict=True))
            self.chunks[chunk] = None
        self.left[chunk] -= 1
        if not self.left[chunk]:
            del self.decoded[chunk]
        return rows[at]


def _fill(obj: Any) -> None:
    with _LOCK:
        rows = type(obj).__dict__.get(_ROWS)
        if rows is None:
            return  # another thread filled it meanwhile
        values = rows.values(rows.row_of(obj))
        for setter, value in zip(rows.setters, values, strict=True):
            setter(obj, value)
        object.__setattr__(obj, "__class__", rows.cls)


def _getattribute(self: Any, name: str) -> Any:
    _fill(self)
    return getattr(self, name)  # through the real class now


def placeholders(cls: type, name: str, names: tuple[str, ...], chunks: list[bytes | None], size: int,
                 count: int, decode: ChunkDecoder) -> list[Any]:
    """``count`` placeholders for the rows of a table of ``cls`` stored as ``chunks`` of ``size``
    rows (``name`` is the class's name in the image, for error messages)."""
    if count == 0:
        return []
    rows = _Rows(cls, name, names, chunks, size, count, decode)
    lazy = type(cls.__name__, (cls,), {
        "__slots__": (), "__getattribute__": _getattribute, "__module__": cls.__module__,
        "__qualname__": cls.__qualname__, "__doc__": cls.__doc__, _ROWS: rows, _REAL: cls,
    })
    objects = list(map(object.__new__, repeat(lazy, count)))
    deque(map(rows.setters[0], objects, range(count)), maxlen=0)  # slot 0 = the row (a C loop)
    return objects


__all__ = ["ChunkDecoder", "LazyDecodeError", "is_filled", "placeholders", "real_type",
           "supports"]
