"""The directory section of a lab image: entries as columns, attributes decoded on first use.

Saving (:func:`capture_directory`) stores the entries in walk order (parents first) as columns:
the GUIDs as one 16*N byte string, DNs, parent positions, RDN keys, SD and structural class
numbers, and each entry's attributes as ONE msgpack blob (attribute names as numbers into a
name table, value lists that entries share as numbers into a shared-list table). Every lookup
table the directory keeps (normalized DNs, the index buckets, link and pending-link tables) is
stored too, as positions into the columns (:meth:`fakes.ad.directory.Directory.export_prebuilt`).

Loading (:func:`load_directory`) builds the Entry objects and those tables straight from the
columns: no attribute is decoded and no index key recomputed. An entry's attribute blob is
decoded the first time anything reads ``entry.attrs`` (:class:`_LazyEntry`); after that the
entry is a plain :class:`~fakes.ad.directory.Entry` again, so the hot paths pay nothing.

Safety: the whole payload's SHA-256 was checked before any of this runs. The blobs hold only
msgpack's own types (str, bytes, int, lists): saving refuses anything else, decoding refuses
every extension type, so a blob can never name a class or a callable. A blob that still fails
to decode (a bug: the file was verified) raises :class:`ImageError` naming the entry.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import sys
import threading
from collections import deque
from collections.abc import Iterator
from itertools import repeat
from typing import Any
from uuid import UUID

import msgpack

from fakes.ad.directory import Directory, Entry, Prebuilt
from fakes.ad.guid import uuid_from_int
from simlab.image_codec import CodecError, decode, encode
from simlab.image_file import ImageError


# --------------------------------------------------------------------------- save
def capture_directory(directory: Directory, snap: list[tuple]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(head, columns)`` of ``snap`` (a ``Directory.snapshot(copy=False)`` of ``directory``).

    Raises :class:`ImageError` for an attribute value that is not one of msgpack's own types.
    """
    keys, sds, classes = _Numbers(), _Numbers(), _Numbers()
    entries = list(map(_ITEM[0], snap))
    position = dict(zip(entries, range(len(snap))))
    # Value lists: provisioning shares objectClass, givenName, department ... lists between
    # entries (the store never changes a value list in place); single values that repeat in
    # separate lists ("0", "512", a user's UPN in userPrincipalName and mail) are shared here
    # too, so a loaded lab holds one list where the built one held many. Set operations per
    # entry (not per value) find the lists more than one entry holds: this runs for millions.
    canonical: dict[object, list] = {}
    canon = canonical.setdefault
    seen: set[int] = set()
    shared_ids: set[int] = set()
    rows: list[tuple[list[int], list[list]]] = []
    for attrs in map(_ITEM[5], snap):
        values = [canon(v[0], v) if len(v) == 1 and type(v[0]) in _CANONICAL else v for v in attrs.values()]
        ids = set(map(id, values))
        shared_ids |= ids & seen
        seen |= ids
        rows.append((list(map(keys.__getitem__, attrs)), values))
    del seen
    shared_at: dict[int, int] = {}  # id(list) -> its place in the shared table
    shared: list[list] = []
    pack = msgpack.Packer(use_bin_type=True, strict_types=True).pack  # natives only: see the docstring
    blobs = []
    dns = list(map(_ITEM[2], snap))
    for (numbers, values), dn in zip(rows, dns, strict=True):
        try:
            blobs.append(pack(_blob(numbers, values, shared_ids, shared_at, shared)))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ImageError(f"this lab cannot be saved as an image: an attribute of {dn} holds "
                             f"a value other than str, bytes, int, float, bool or None ({exc})") from exc
    del rows
    # The other columns, each by one C-level pass (a root's parent, None, has no position: -1).
    columns = {"guids": b"".join(map(_BYTES, map(_ITEM[1], snap))), "dns": dns,
               "parents": list(map(position.get, map(_PARENT, entries), repeat(-1))),
               "rdn_keys": list(map(_ITEM[4], snap)), "sd": list(map(sds.__getitem__, map(_ITEM[6], snap))),
               "oc": list(map(classes.__getitem__, map(_ITEM[7], snap))), "attrs": blobs,
               "tables": _with_encoded_tables(directory.export_prebuilt(position))}
    head = {"keys": list(keys), "sds": list(sds), "shared": shared, "classes": list(classes),
            "count": len(snap)}
    return head, columns


_ITEM = [operator.itemgetter(i) for i in range(8)]  # the fields of a snapshot row
_PARENT, _BYTES = operator.attrgetter("parent"), operator.attrgetter("bytes")
_CANONICAL = frozenset((str, bytes))


class _Numbers(dict):
    """Distinct values numbered in order of first sight (``numbers[value]`` adds a new one)."""

    def __missing__(self, key: object) -> int:
        number = self[key] = len(self)
        return number


def _blob(numbers: list[int], values: list[list], shared_ids: set[int], shared_at: dict[int, int],
          shared: list[list]) -> list[list]:
    """One entry's ``[attribute numbers, own value lists, shared-table numbers, order]``.

    The values in attribute order are ``pool[order[i]]`` where ``pool`` is the own lists followed
    by the referenced shared ones (an empty ``order``: the own lists as they are). Decoding is then
    a few C-level calls per entry (see :meth:`_LazyEntry._decode`), and a list two attributes share
    is one pool item referenced twice. ``shared`` gets the lists of ``shared_ids`` as first met.
    """
    ids = list(map(id, values))
    if shared_ids.isdisjoint(ids) and len(set(ids)) == len(ids):
        return [numbers, values, [], []]
    own, refs, order = [], [], []
    local: dict[int, int] = {}
    for x, v in zip(ids, values):
        at = local.get(x)
        if at is None:
            if x in shared_ids:
                ref = shared_at.get(x)
                if ref is None:
                    ref = shared_at[x] = len(shared)
                    shared.append(v)
                refs.append(ref)
                at = local[x] = -len(refs)  # the pool place is len(own) - 1 - at, known at the end
            else:
                at = local[x] = len(own)
                own.append(v)
        order.append(at)
    if not refs and len(own) == len(values):
        return [numbers, own, refs, []]
    return [numbers, own, refs, [at if at >= 0 else len(own) - 1 - at for at in order]]


# The order of the directory section's stream values after the head: columns, then the attribute
# blobs in chunks, then the lookup tables. No single value grows with the whole directory past a
# column (the decoder buffers one value at a time, up to 256 MiB).
_COLUMNS = ("guids", "dns", "parents", "rdn_keys", "sd", "oc")
_TABLES = ("ndns", "index", "links", "pending")
_CHUNK = 50_000


def directory_values(head: dict[str, Any], columns: dict[str, Any]) -> Iterator[Any]:
    """The stream values of :func:`capture_directory`'s section in file order (:func:`read_directory`)."""
    yield {**head, "chunk": _CHUNK}
    for name in _COLUMNS:
        yield columns[name]
    blobs = columns["attrs"]
    for start in range(0, len(blobs), _CHUNK):
        yield blobs[start:start + _CHUNK]
    for name in _TABLES:
        yield columns["tables"][name]


def read_directory(stream: Iterator[Any]) -> Prebuilt:
    """:func:`load_directory` over the values :func:`directory_values` wrote, read from ``stream``.

    Raises StopIteration on a cut stream (and what :func:`load_directory` raises).
    """
    head = next(stream)
    columns = {name: next(stream) for name in _COLUMNS}
    count, chunk = int(head["count"]), int(head["chunk"])
    if chunk <= 0:
        raise ValueError(f"a chunk size of {chunk}")
    blobs: list[bytes] = []
    for _ in range(-(-count // chunk)):
        blobs.extend(next(stream))
    columns["attrs"] = blobs
    columns["tables"] = {name: next(stream) for name in _TABLES}
    return load_directory(head, columns)


# --------------------------------------------------------------------------- load
_SLOT = Entry.__dict__["attrs"]  # the slot behind Entry.attrs (the dataclass has slots=True)
_DN_SLOT, _GUID_SLOT, _CHILDREN_SLOT = (Entry.__dict__[name] for name in ("dn", "guid", "children"))
_ENTRY_FIELDS = tuple(f.name for f in dataclasses.fields(Entry) if f.name != "children")  # filled at load

_DECODE_LOCK = threading.Lock()


def _refuse_extension(code: int, data: bytes) -> Any:
    raise ValueError(f"extension type {code} in an attribute blob")


class _LazyEntry(Entry):
    """An Entry whose ``attrs`` slot still holds its image blob: decoded on first access, after
    which the object becomes a plain :class:`Entry` (``__class__`` assignment, same layout).

    Each load makes a subclass whose ``_keys``/``_shared`` are that image's tables.
    """

    __slots__ = ()
    _keys: list[str]
    _shared: list[list]
    _interned: tuple[str, ...]  # the attribute names of :data:`INTERNED_ATTRIBUTES` in ``_keys``

    @property  # type: ignore[override]
    def attrs(self) -> dict[str, list]:
        with _DECODE_LOCK:  # taken once per entry; two threads must not decode one entry twice
            value = _SLOT.__get__(self)
            if type(value) is bytes:
                value = self._decode(value)
                _SLOT.__set__(self, value)
                self._become_entry()
            return value

    @attrs.setter
    def attrs(self, value: dict[str, list]) -> None:
        with _DECODE_LOCK:
            _SLOT.__set__(self, value)
            self._become_entry()

    def _become_entry(self) -> None:
        # The DN is interned now, not at load (100k of them cost 30 ms there): decoded member
        # values and the tenant's and connector space's DNs are interned too, so an entry whose
        # attributes were read shares its DN string with them, as in a built lab.
        _DN_SLOT.__set__(self, sys.intern(_DN_SLOT.__get__(self)))
        self.guid  # noqa: B018  (a UUID now if it was not)
        try:
            _CHILDREN_SLOT.__get__(self)
        except AttributeError:  # (called with _DECODE_LOCK held, which the property would take)
            _CHILDREN_SLOT.__set__(self, {})
        self.__class__ = Entry

    # Until read, the GUID is its number and a leaf has no children dict: making 100k UUID
    # objects and 100k empty dicts cost a loaded 100k lab about 40 ms before it could serve.
    @property  # type: ignore[override]
    def guid(self) -> UUID:
        value = _GUID_SLOT.__get__(self)
        if type(value) is int:
            value = uuid_from_int(value)
            _GUID_SLOT.__set__(self, value)  # (two threads may each make an equal UUID: harmless)
        return value

    @guid.setter
    def guid(self, value: UUID) -> None:
        _GUID_SLOT.__set__(self, value)

    @property  # type: ignore[override]
    def children(self) -> dict[str, Entry]:
        try:
            return _CHILDREN_SLOT.__get__(self)
        except AttributeError:
            with _DECODE_LOCK:  # one dict, whichever thread asks first: a child added to it stays
                try:
                    return _CHILDREN_SLOT.__get__(self)
                except AttributeError:
                    made: dict[str, Entry] = {}
                    _CHILDREN_SLOT.__set__(self, made)
                    return made

    @children.setter
    def children(self, value: dict[str, Entry]) -> None:
        _CHILDREN_SLOT.__set__(self, value)

    def _decode(self, blob: bytes) -> dict[str, list]:
        keys, shared = self._keys, self._shared
        try:
            numbers, values, refs, order = msgpack.unpackb(blob, raw=False, ext_hook=_refuse_extension)
            if order:  # the pool: own lists, then the shared ones
                values.extend(map(shared.__getitem__, refs))
                values = list(map(values.__getitem__, order))
            if not all(map(isinstance, values, repeat(list))):
                raise TypeError("a value that is not a value list")
            attrs = dict(zip(map(keys.__getitem__, numbers), values, strict=True))
            get = attrs.get
            for name in self._interned:
                _intern_values(get(name))
        except (ValueError, TypeError, IndexError, msgpack.UnpackException) as exc:
            raise ImageError(f"the lab image's attributes of {self.dn} cannot be decoded ({exc!r}); "
                             "this is a simlab bug (the file passed its checksum): please report it, "
                             "and run `simlab cache clear`") from exc
        return attrs


#: Attributes whose values other objects repeat (a user's UPN, sAMAccountName and name in the
#: tenant and the connector space, a DN in a group's member list): decoded values go through
#: ``sys.intern``, as do the directory's DNs and the lazily filled tenant fields
#: (``image_codec.INTERNED_FIELDS``), so each is one string object as in a built lab. Interned
#: strings are mortal (CPython drops one with its last reference), so the interpreter's table
#: only holds what the lab holds. Only these few: every name costs each entry decode a lookup
#: (givenName, sn, title, department lists are shared between entries already).
INTERNED_ATTRIBUTES = ("member", "manager", "userprincipalname", "samaccountname", "cn", "displayname")


def _intern_values(values: list | None) -> None:
    """Make the strings of a value list interned, in place (same values: only their identity
    changes; a list shared with other entries or attributes is simply interned again)."""
    if not values:
        return
    intern = sys.intern
    if len(values) == 1:
        if type(values[0]) is str:
            values[0] = intern(values[0])
    else:
        values[:] = [intern(v) if type(v) is str else v for v in values]


def load_directory(head: dict[str, Any], columns: dict[str, Any]) -> Prebuilt:
    """The entries and lookup tables of an image's directory section, ready for
    ``directory.restore`` (nothing in ``directory`` changes here). Raises KeyError, IndexError,
    TypeError or ValueError on a malformed section (the caller makes that an ImageError).

    The DNs are interned as each entry's attributes are first read (see :class:`_LazyEntry`).
    """
    count = int(head["count"])
    keys = [sys.intern(k) for k in head["keys"]]
    interned = tuple(a for a in INTERNED_ATTRIBUTES if a in keys)
    lazy = type("_LazyEntry", (_LazyEntry,), {"__slots__": (), "_keys": keys, "_shared": head["shared"],
                                              "_interned": interned})
    sds, classes = head["sds"], head["classes"]
    guids, dns, parents, rdn_keys = columns["guids"], columns["dns"], columns["parents"], columns["rdn_keys"]
    sd_column, oc_column, blobs = columns["sd"], columns["oc"], columns["attrs"]
    if not (len(guids) == 16 * count and count == len(dns) == len(parents) == len(rdn_keys) == len(sd_column)
            == len(oc_column) == len(blobs)):
        raise ValueError(f"the directory columns do not all hold {count} entries")
    if set(map(type, blobs)) - {bytes}:
        raise TypeError("an attribute blob that is not bytes")
    # Column-wise through C-level map() calls rather than one Python loop per entry. The GUIDs
    # stay numbers (the directory's GUID table's keys) until an entry's is read (_LazyEntry.guid).
    numbers = list(map(int.from_bytes, map(guids.__getitem__, map(slice, range(0, 16 * count, 16),
                                                                   range(16, 16 * count + 16, 16)))))
    if not all(map(operator.lt, parents, range(count))) or min(parents, default=-1) < -1:
        raise ValueError("an entry comes before its parent")
    # Bare objects of the lazy class, each slot filled for all entries at once (Entry.__init__
    # would be a Python call per entry).
    made = list(map(object.__new__, repeat(lazy, count)))
    made.append(None)  # position -1: a root's parent
    filled = {"guid": numbers, "dn": dns, "attrs": blobs, "rdn_key": rdn_keys,
              "parent": list(map(made.__getitem__, parents)),
              "sd": map(sds.__getitem__, sd_column), "object_class": map(classes.__getitem__, oc_column)}
    made.pop()
    for name in _ENTRY_FIELDS:
        deque(map(Entry.__dict__[name].__set__, made, filled[name]), 0)
    return Directory.prebuilt(made, _with_table_loaders(columns["tables"]), guids=numbers, parents=parents)


# Each index table (100k single keys and positions for sAMAccountName, UPN, objectSid, cn, mail;
# 100k-position buckets for objectClass and objectCategory) is one encoded value in the image,
# decoded when a lookup first needs the table: a warm lab that answers its first lookups from the
# saved lists (fakes.ad.indexes) only decodes what it looks in, and most tables are never looked
# in at all.
def _with_encoded_tables(tables: dict[str, Any]) -> dict[str, Any]:
    return {**tables, "index": {name: encode(table) for name, table in tables["index"].items()}}


def _with_table_loaders(tables: dict[str, Any]) -> dict[str, Any]:
    index = {}
    for name, blob in tables["index"].items():
        if type(blob) is not bytes:
            raise TypeError(f"the saved {name} index is not encoded")
        index[name] = [functools.partial(_decode_table, blob, name), None, None, None]
    return {**tables, "index": index}


def _decode_table(blob: bytes, name: str) -> list:
    try:
        table = decode(blob)
        if type(table) is not list or len(table) != 4 or not all(type(part) is list for part in table):
            raise TypeError("not four lists")
    except (CodecError, TypeError, ValueError) as exc:
        raise ImageError(f"the lab image's saved {name} index cannot be decoded ({exc!r}); this is a "
                         "simlab bug (the file passed its checksum): please report it, and run "
                         "`simlab cache clear`") from exc
    return table


__all__ = ["ImageError", "capture_directory", "directory_values", "load_directory", "read_directory"]
