"""A safe value codec for lab images: msgpack plus a closed set of extension types.

Loading an image must be safe even when the file comes from a shared CI cache, so nothing
here can name an arbitrary callable (unlike pickle). The only types that come back are
msgpack's own (None, bool, int, float, str, bytes, list, dict), plus:

* tuple, set, frozenset, deque, datetime, timedelta, UUID;
* a :class:`random.Random` state (returned as :class:`simlab.snapshot.RngState`, never a live object);
* dataclasses, enums and pydantic models **defined in simlab's own packages** (``fakes.*`` or
  ``simlab.*``), rebuilt field by field without running arbitrary code: a class outside
  those packages, or a name that does not resolve to such a class, is a :class:`CodecError`.
  A model (the GPO settings) comes back as a :class:`simlab.spec_data.SpecData`, which reads
  like it without importing pydantic; its class name is checked against those packages here,
  and resolved (to a pydantic model, or refused) only if the real model is asked for.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import io
import itertools
import operator
import random
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import islice
from typing import Any
from uuid import UUID

import msgpack
import zstandard

from simlab import lazy_rows
from simlab.lazy_rows import real_type
from simlab.snapshot import RngState
from simlab.spec_data import ALLOWED_PACKAGES as _ALLOWED_PACKAGES
from simlab.spec_data import SpecData, from_tree
from simlab.spec_data import class_name as _name_of
from simlab.spec_data import tree as spec_tree

# Extension type codes (part of the image format: changing one needs a FORMAT_VERSION bump).
(_TUPLE, _SET, _FROZENSET, _DEQUE, _DATETIME, _TIMEDELTA, _UUID, _RNG, _DATACLASS, _ENUM, _MODEL,
 _TABLE) = range(1, 13)


class CodecError(ValueError):
    """A value that cannot be stored in (or was not allowed back out of) an image."""


@dataclasses.dataclass(frozen=True, slots=True)
class Table:
    """Marks a big list (or dict) whose values are all one dataclass, or all tuples of one
    dataclass: stored column by column in chunks of :data:`CHUNK_ROWS` rows, a column of
    repeated values as its distinct values plus indexes (shared again on load, which also saves
    memory), and rebuilt with one constructor call per row. Decodes several times faster than one
    object at a time, back to the plain list or dict.

    ``lazy=True`` (slots dataclasses only, see :mod:`simlab.lazy_rows`): the list or dict comes
    back at once, holding placeholders that decode their row's chunk when first read."""

    items: list[Any] | dict[Any, Any]
    lazy: bool = False


#: Rows per chunk of a table: what the first read of one lazily decoded object decodes.
CHUNK_ROWS = 512


def _table_class(values: Any) -> type | None:
    """The one dataclass of ``values`` (or of the tuples in it), None if they are not uniform."""
    first = next(iter(values))
    grouped = type(first) is tuple
    flat = (x for t in values for x in t) if grouped else iter(values)
    head = next(flat, None)
    if head is None or not dataclasses.is_dataclass(head):
        return None
    if grouped and not all(type(t) is tuple for t in values):
        return None
    cls = real_type(head)
    types = set(map(type, flat))  # (one C-level pass: this runs over every user, method, event)
    return cls if types == {cls} or all(t is cls or real_type(t) is cls for t in types) else None


def tables(state: dict[str, Any], minimum: int = 64, lazy: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``state`` with each big uniform dataclass list/dict value wrapped in :class:`Table`
    (decoded lazily for the keys in ``lazy``)."""
    out = {}
    for key, value in state.items():
        values = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if values is not None and len(values) >= minimum and _table_class(values) is not None:
            value = Table(value, lazy=key in lazy)
        out[key] = value
    return out


def _plain(values: list[Any]) -> list[Any]:
    return [0, values]


def _column(values: list[Any]) -> list[Any]:
    """``_plain(values)``, or ``[1, distinct, indexes]`` when values repeat (keyed by type too:
    1 != True; and by time zone: one instant in two zones is two values)."""
    try:
        first = dict.fromkeys(values)  # a cheap first look (may merge 1 and True)
        if len(first) * 4 > len(values):
            return _plain(values)
        types = set(map(type, values))
        if _values_are_keys(values, types):
            # C-level calls only: this runs over millions of values per save.
            index = dict(zip(first, itertools.count()))
            return [1, list(first), list(map(index.__getitem__, values))]
        keys = [_distinct_key(v) for v in values]
        distinct = dict.fromkeys(keys)
    except TypeError:  # unhashable values (dicts, lists)
        return _plain(values)
    if len(distinct) * 4 > len(values):
        return _plain(values)
    index = dict(zip(distinct, itertools.count()))
    return [1, list(map(_SECOND, distinct)), list(map(index.__getitem__, keys))]


_SECOND = operator.itemgetter(1)
_NUMBERS = frozenset((int, bool, float))  # 1 == True == 1.0
_SCALARS = frozenset((str, bytes, type(None))) | _NUMBERS


def _values_are_keys(values: list[Any], types: set[type]) -> bool:
    """Whether equal values in ``values`` are always equal keys of :func:`_distinct_key`: no two
    values of different types can be equal (one type, or e.g. str and None), and datetimes, if
    any, are all in one time zone."""
    if datetime in types:
        return types <= _DATETIMES and len({v.tzinfo for v in values if v is not None}) == 1
    return len(types) == 1 or (types <= _SCALARS and len(types & _NUMBERS) <= 1)


_DATETIMES = frozenset((datetime, type(None)))


def _distinct_key(value: Any) -> tuple:
    if type(value) is datetime:
        return (datetime, value, value.tzinfo)
    return (type(value), value)


def _chunk(columns: list[list[Any]], keys: list[Any] | None) -> list[list[Any]]:
    """The encoded columns of one chunk: ``[3]`` for a column equal to the rows' dict keys (a
    user's id), ``[2, k]`` for a column of strings equal to column ``k``'s (a user's mail and
    on-premises UPN are usually its UPN): decoded as those very objects, as the built lab shares
    them; else :func:`_column`."""
    def same(a: list[Any] | None, b: list[Any]) -> bool:  # equal and of the same types (1 == True)
        return a == b and list(map(type, a)) == list(map(type, b))  # type: ignore[arg-type]

    out: list[list[Any]] = []
    for j, values in enumerate(columns):
        if str not in map(type, values):
            out.append(_column(values))
        elif same(keys, values):
            out.append([3])
        else:
            earlier = next((k for k in range(j) if same(columns[k], values)), None)
            out.append([2, earlier] if earlier is not None else _column(values))
    return out


def _encode_table(table: Table) -> msgpack.ExtType:
    """``[class name, keys or None, tuple sizes or None, rows, rows per chunk, lazy, chunks]``, each
    chunk the packed columns of its rows (see :func:`_chunk`), zstd-compressed when lazy."""
    items = table.items
    values = list(items.values()) if isinstance(items, dict) else items
    counts = None
    if type(values[0]) is tuple:
        counts = [len(t) for t in values]
        values = [x for t in values for x in t]
    cls = real_type(values[0])
    fields = [list(map(operator.attrgetter(name), values)) for name in _field_names(cls)]
    keys = list(items) if isinstance(items, dict) else None
    row_keys = keys if counts is None else None  # one key per object: a field may repeat it
    chunks = [_pack(_chunk([f[start:start + CHUNK_ROWS] for f in fields],
                           row_keys[start:start + CHUNK_ROWS] if row_keys is not None else None))
              for start in range(0, len(values), CHUNK_ROWS)]
    lazy = table.lazy and lazy_rows.supports(cls)
    if lazy:  # kept as they are until read: compressed, they cost a fifth of the memory (and of the read)
        compress = zstandard.ZstdCompressor(level=1).compress
        chunks = [compress(chunk) for chunk in chunks]
    head = [_name_of(cls), keys, counts, len(values), CHUNK_ROWS, lazy]
    return msgpack.ExtType(_TABLE, _pack([*head, chunks]))


def share_strings(values: list[Any], memo: dict[str, str]) -> list[Any]:
    """``values`` with equal strings (also inside dict values) made one object: a built lab passes
    one string object around (a user's DN in the connector space, the tenant and the event log),
    which a decoder would otherwise duplicate for each place it appears."""
    first = next((v for v in values if v is not None), None)  # optional fields start with None
    if first is None:
        return values
    if type(first) is str:
        if len(first) > 120:
            return values  # long texts (event messages) are each written once: hashing them buys nothing
        return [memo.setdefault(v, v) if type(v) is str else v for v in values]
    if type(first) is dict:
        share = memo.setdefault
        return [{share(k, k) if type(k) is str else k: share(v, v) if type(v) is str else v
                 for k, v in d.items()} if type(d) is dict else d for d in values]
    return values


_LOCAL = threading.local()


def _table_head(data: bytes, unpack: Callable[[bytes], Any]) -> tuple[Any, ...]:
    """A table's fields, checked for shape (not its chunks: those are decoded by their reader)."""
    try:
        name, keys, counts, rows, size, lazy, chunks = unpack(data)
    except (ValueError, TypeError) as exc:
        raise CodecError(f"a table in the image has the wrong layout: {exc}") from exc
    cls = _class_named(name)
    try:
        groups = rows if counts is None else len(counts)
        ok = (dataclasses.is_dataclass(cls) and size >= 1 and len(chunks) == -(-rows // size)
              and (counts is None or sum(counts) == rows) and (keys is None or len(keys) == groups))
    except TypeError:
        ok = False
    if not ok:
        raise CodecError(f"{name!r} does not match the image's table")
    return cls, name, keys, counts, rows, size, lazy, chunks


#: Fields of lazily decoded rows whose strings other objects repeat (a tenant user's UPN, DN and
#: names are the directory's; a connector-space object's DN, account name, UPN, names, SID and
#: mail are its tenant user's; an audit entry names its user): decoded through ``sys.intern``, as
#: the directory's DNs and attribute values are (``image_directory.INTERNED_ATTRIBUTES``), so a
#: lab that reads everything holds one string object for each, as a built lab does, whichever
#: object is read first. Values no other object repeats (ids) are left out: interning them would
#: only grow the interpreter's table.
INTERNED_FIELDS = frozenset((
    "user_principal_name", "display_name", "mail", "given_name", "surname", "job_title", "department",
    "on_premises_sam_account_name", "on_premises_distinguished_name", "on_premises_user_principal_name",
    "on_premises_domain_name", "on_premises_security_identifier", "target_upn", "initiated_by",
    # fakes.connect.sync.ConnectorObject's names for its user's strings
    "dn", "sam_account_name", "upn", "sid"))


class LookupMemo(dict):
    """A memo for :func:`decode` that shares the strings it was made with and never grows: for
    decoding a log whose own ids would otherwise fill a transient memo (the audit log: 200k)."""

    setdefault = dict.get  # type: ignore[assignment]


def _interned(column: list[Any]) -> list[Any]:
    intern = sys.intern
    return [intern(v) if type(v) is str else v for v in column]


def _chunk_decoder(cls: type, name: str, compressed: bool, keys: list[Any] | None) -> lazy_rows.ChunkDecoder:
    width = len(_field_names(cls))
    interned = [compressed and field in INTERNED_FIELDS for field in _field_names(cls)]

    def decode(raw: bytes, first: int, rows: int) -> list[list[Any]]:
        columns = _unpack(zstandard.ZstdDecompressor().decompress(raw) if compressed else raw)
        if len(columns) != width:
            raise CodecError(f"{name!r} has {width} fields, the image's table {len(columns)}")
        out: list[list[Any]] = []
        for kind, *rest in columns:
            if kind == 3:  # the rows' keys
                out.append(keys[first:first + rows] if keys is not None else [])
            elif kind == 2:  # the same strings as an earlier column
                out.append(list(out[rest[0]]) if type(rest[0]) is int and rest[0] < len(out) else [])
            else:
                out.append(rest[0] if kind == 0 else [rest[0][i] for i in rest[1]])
        if any(len(c) != rows for c in out):
            raise CodecError(f"a column of {name!r} does not have {rows} rows")
        return [_interned(c) if i else c for c, i in zip(out, interned, strict=True)]
    return decode


def _decode_table(data: bytes) -> Any:
    cls, name, keys, counts, rows, size, lazy, chunks = _table_head(data, _unpack)
    memo = getattr(_LOCAL, "memo", None)
    if keys is not None and memo is not None and not lazy:  # (a lazy table's are its own: cheaper)
        keys = share_strings(keys, memo)
    decode = _chunk_decoder(cls, name, bool(lazy), keys if counts is None else None)
    if lazy and lazy_rows.supports(cls):
        objects = lazy_rows.placeholders(cls, name, _field_names(cls), chunks, size, rows, decode)
    else:
        # Chunk by chunk: only one chunk's columns exist next to the objects (a 100k-entry audit
        # log decoded at once peaked at tens of MiB of columns).
        interned = [field in INTERNED_FIELDS for field in _field_names(cls)]
        objects = []
        for i, raw in enumerate(chunks):
            cols = decode(raw, i * size, min(size, rows - i * size))
            # Strings the lab already holds (a loaded directory's, or given by the caller) are
            # shared rather than copied.
            cols = [_interned(c) if intern else share_strings(c, memo) if memo is not None else c
                    for c, intern in zip(cols, interned, strict=True)]
            if _plain_init(cls):
                objects += map(cls, *cols)
            else:
                objects += [_dataclass(cls, name, list(row)) for row in zip(*cols, strict=True)]
    if counts is not None:
        objects = _grouped(objects, counts)
    return objects if keys is None else dict(zip(keys, objects, strict=True))


def _grouped(objects: list[Any], counts: list[int]) -> list[tuple]:
    """``objects`` cut into tuples of ``counts`` items, a run of equal sizes at C speed (users
    mostly have the same number of methods)."""
    it: Iterator[Any] = iter(objects)
    out: list[tuple] = []
    for size, run in itertools.groupby(counts):
        n = sum(1 for _ in run)
        if size == 0:
            out += [()] * n
        else:
            out += zip(*[islice(it, size * n)] * size, strict=True)
    return out


_PLAIN: dict[type, bool] = {}


def _plain_init(cls: type) -> bool:
    """Whether ``cls(*fields)`` only assigns fields (dataclass-generated __init__, no __post_init__)."""
    plain = _PLAIN.get(cls)
    if plain is None:
        plain = _PLAIN[cls] = (not hasattr(cls, "__post_init__")
                               and all(f.init for f in dataclasses.fields(cls))  # type: ignore[arg-type]
                               and "__init__" in cls.__dict__)
    return plain


_CLASSES: dict[str, type] = {}
_FIELDS: dict[type, tuple[str, ...]] = {}


def _class_named(name: str) -> type:
    cls = _CLASSES.get(name)
    if cls is None:
        cls = _CLASSES[name] = _resolve(name)
    return cls


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    return names


def _resolve(name: str) -> type:
    module_name, _, qualname = name.partition(":")
    if not module_name.startswith(_ALLOWED_PACKAGES) or not qualname:
        raise CodecError(f"class {name!r} is not one simlab images may contain")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise CodecError(f"class {name!r} does not exist in this simlab version") from exc
    if not isinstance(obj, type):
        raise CodecError(f"{name!r} is not a class")
    return obj


def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, default=_default, use_bin_type=True, strict_types=True)


def _default(obj: Any) -> msgpack.ExtType:
    """msgpack hook: encode the allowed non-native types (strict_types makes tuples come here)."""
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return msgpack.ExtType(_TUPLE, _pack(list(obj)))
    if isinstance(obj, frozenset):
        return msgpack.ExtType(_FROZENSET, _pack(list(obj)))
    if isinstance(obj, set):
        return msgpack.ExtType(_SET, _pack(list(obj)))
    if isinstance(obj, deque):
        return msgpack.ExtType(_DEQUE, _pack(list(obj)))
    if isinstance(obj, datetime):
        return msgpack.ExtType(_DATETIME, obj.isoformat().encode())
    if isinstance(obj, timedelta):
        return msgpack.ExtType(_TIMEDELTA, _pack([obj.days, obj.seconds, obj.microseconds]))
    if isinstance(obj, UUID):
        return msgpack.ExtType(_UUID, obj.bytes)
    if isinstance(obj, random.Random):
        obj = RngState(obj.getstate())
    if isinstance(obj, RngState):
        version, internal, gauss = obj.state  # type: ignore[misc]
        return msgpack.ExtType(_RNG, _pack([version, list(internal), gauss]))
    if isinstance(obj, Table):
        return _encode_table(obj)
    if isinstance(obj, SpecData):
        return msgpack.ExtType(_MODEL, _pack(spec_tree(obj)))
    cls = real_type(obj)
    if not cls.__module__.startswith(_ALLOWED_PACKAGES):
        raise CodecError(f"a {_name_of(cls)} cannot be stored in a lab image")
    if isinstance(obj, enum.Enum):
        return msgpack.ExtType(_ENUM, _pack([_name_of(cls), obj.value]))
    if dataclasses.is_dataclass(obj):
        # Positional, in field order: the code fingerprint in the header guarantees the same classes.
        values = [getattr(obj, f) for f in _field_names(cls)]  # fills a placeholder first
        return msgpack.ExtType(_DATACLASS, _pack([_name_of(cls), values]))
    if hasattr(obj, "model_dump") and hasattr(cls, "model_validate"):
        return msgpack.ExtType(_MODEL, _pack(spec_tree(obj)))
    raise CodecError(f"a {_name_of(cls)} cannot be stored in a lab image")


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _TUPLE:
        values = _unpack(data)
        memo = getattr(_LOCAL, "memo", None)
        # Event values (anchor, DN) are tuples: shared like table columns' strings.
        return tuple(share_strings(values, memo) if memo is not None else values)
    if code == _SET:
        return set(_unpack(data))
    if code == _FROZENSET:
        return frozenset(_unpack(data))
    if code == _DEQUE:
        return deque(_unpack(data))
    if code == _DATETIME:
        return datetime.fromisoformat(data.decode())
    if code == _TIMEDELTA:
        days, seconds, micro = _unpack(data)
        return timedelta(days=days, seconds=seconds, microseconds=micro)
    if code == _UUID:
        return UUID(bytes=data)
    if code == _RNG:
        version, internal, gauss = _unpack(data)
        return RngState((version, tuple(internal), gauss))
    if code == _TABLE:
        return _decode_table(data)
    if code == _MODEL:
        try:
            return from_tree(_unpack(data))
        except ValueError as exc:
            raise CodecError(f"a spec model in the image cannot be read ({exc})") from None
    if code in (_DATACLASS, _ENUM):
        name, payload = _unpack(data)
        cls = _class_named(name)
        if code == _ENUM:
            if not issubclass(cls, enum.Enum):
                raise CodecError(f"{name!r} is not an enum")
            return cls(payload)
        return _dataclass(cls, name, payload)
    raise CodecError(f"unknown extension type {code} in a lab image")


def _dataclass(cls: type, name: str, values: list[Any]) -> Any:
    if not dataclasses.is_dataclass(cls):
        raise CodecError(f"{name!r} is not a dataclass")
    names = _field_names(cls)
    if len(values) != len(names):
        raise CodecError(f"{name!r} has {len(names)} fields, the image {len(values)}")
    # Rebuilt without __init__/__post_init__: the values were valid when saved, and nothing runs.
    obj = object.__new__(cls)
    if hasattr(obj, "__dict__"):
        obj.__dict__.update(zip(names, values, strict=True))
    else:
        setter = object.__setattr__
        for key, value in zip(names, values, strict=True):
            setter(obj, key, value)
    return obj


def encode(value: Any) -> bytes:
    """``value`` as msgpack bytes; :class:`CodecError` for a type images may not hold."""
    try:
        return _pack(value)
    except (TypeError, OverflowError) as exc:  # msgpack's own refusal of a native type
        raise CodecError(str(exc)) from exc


def packer() -> msgpack.Packer:
    """A reusable encoder for a stream of values (each ``packer().pack(v)`` is :func:`encode`)."""
    return msgpack.Packer(default=_default, use_bin_type=True, strict_types=True)


def decode_stream(stream: Any, memo: dict[str, str]) -> Iterator[Any]:
    """The values packed one after another into the file-like ``stream`` (as :func:`decode` each)."""
    _LOCAL.memo = memo
    try:
        yield from msgpack.Unpacker(stream, ext_hook=_ext_hook, raw=False, strict_map_key=False,
                                    max_buffer_size=256 * 2**20)
    except CodecError:
        raise
    except (msgpack.UnpackException, ValueError, TypeError, KeyError, IndexError) as exc:
        raise CodecError(f"undecodable image data: {exc}") from exc
    finally:
        _LOCAL.memo = None


def decode(data: bytes, memo: dict[str, str] | None = None) -> Any:
    """Inverse of :func:`encode` (exactly one value); :class:`CodecError` on anything unexpected."""
    values = list(decode_stream(io.BytesIO(data), {} if memo is None else memo))
    if len(values) != 1:
        raise CodecError(f"expected one value, found {len(values)}")
    return values[0]


__all__ = ["INTERNED_FIELDS", "CodecError", "LookupMemo", "Table", "decode", "decode_stream",
           "encode", "packer", "share_strings", "tables"]
