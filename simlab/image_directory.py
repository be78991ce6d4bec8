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

import sys
import threading
from typing import Any
from uuid import UUID, SafeUUID

import msgpack

from fakes.ad.directory import Directory, Entry, Prebuilt


class ImageError(Exception):
    """An image that cannot be used (missing, corrupt, truncated, other version, other spec)."""


# --------------------------------------------------------------------------- save
def capture_directory(directory: Directory, snap: list[tuple]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(head, columns)`` of ``snap`` (a ``Directory.snapshot(copy=False)`` of ``directory``).

    Raises :class:`ImageError` for an attribute value that is not str, bytes or int.
    """
    keys: dict[str, int] = {}
    sds: dict[bytes, int] = {}
    classes: dict[str, int] = {}
    position: dict[Entry, int] = {}
    # Value lists that entries share (provisioning shares objectClass, givenName, ... lists):
    # stored once and referenced by number, so a loaded lab shares them exactly as the built one.
    seen_lists: dict[int, tuple[list, list, int]] = {}  # id -> (the list, its first flat, position)
    shared: list[list] = []
    flats: list[list] = []
    guids, dns, parents, rdn_keys, sd_column, oc_column = bytearray(), [], [], [], [], []
    for i, (entry, guid, dn, parent_guid, rdn_key, attrs, sd, oc) in enumerate(snap):
        position[entry] = i
        flat: list[Any] = []
        for key, values in attrs.items():
            index = keys.get(key)
            if index is None:
                index = keys[key] = len(keys)
            flat.append(index)
            seen = seen_lists.get(id(values))
            if seen is None:
                seen_lists[id(values)] = (values, flat, len(flat))  # holding the list keeps its id unique
                flat.append(values)
                continue
            first_flat, at = seen[1], seen[2]
            ref = first_flat[at]
            if type(ref) is not int:  # second sighting: move the list to the shared table
                ref = first_flat[at] = len(shared)
                shared.append(values)
            flat.append(ref)
        flats.append(flat)
        guids += guid.bytes
        dns.append(dn)
        parents.append(position[entry.parent] if parent_guid is not None else -1)
        rdn_keys.append(rdn_key)
        sd_column.append(sds.setdefault(sd, len(sds)))
        oc_column.append(classes.setdefault(oc, len(classes)))
    pack = msgpack.Packer(use_bin_type=True, strict_types=True).pack  # natives only: see the docstring
    blobs = []
    for flat, (_e, _g, dn, *_rest) in zip(flats, snap, strict=True):
        try:
            blobs.append(pack(flat))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ImageError(f"this lab cannot be saved as an image: an attribute of {dn} holds "
                             f"a value that is not str, bytes or int ({exc})") from exc
    head = {"keys": list(keys), "sds": list(sds), "shared": shared, "classes": list(classes),
            "count": len(snap)}
    columns = {"guids": bytes(guids), "dns": dns, "parents": parents, "rdn_keys": rdn_keys,
               "sd": sd_column, "oc": oc_column, "attrs": blobs,
               "tables": directory.export_prebuilt(position)}
    return head, columns


# --------------------------------------------------------------------------- load
_SLOT = Entry.__dict__["attrs"]  # the slot behind Entry.attrs (the dataclass has slots=True)
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

    @property  # type: ignore[override]
    def attrs(self) -> dict[str, list]:
        with _DECODE_LOCK:  # taken once per entry; two threads must not decode one entry twice
            value = _SLOT.__get__(self)
            if type(value) is bytes:
                value = self._decode(value)
                _SLOT.__set__(self, value)
                self.__class__ = Entry
            return value

    @attrs.setter
    def attrs(self, value: dict[str, list]) -> None:
        with _DECODE_LOCK:
            _SLOT.__set__(self, value)
            self.__class__ = Entry

    def _decode(self, blob: bytes) -> dict[str, list]:
        keys, shared = self._keys, self._shared
        try:
            flat = msgpack.unpackb(blob, raw=False, ext_hook=_refuse_extension)
            attrs: dict[str, list] = {}
            for i in range(0, len(flat), 2):
                values = flat[i + 1]
                if type(values) is int:  # a list shared between entries
                    values = shared[values]
                elif type(values) is not list:
                    raise TypeError(f"a {type(values).__name__} where a value list belongs")
                attrs[keys[flat[i]]] = values
        except (ValueError, TypeError, IndexError, msgpack.UnpackException) as exc:
            raise ImageError(f"the lab image's attributes of {self.dn} cannot be decoded ({exc!r}); "
                             "this is a simlab bug (the file passed its checksum): please report it, "
                             "and run `simlab cache clear`") from exc
        return attrs


def load_directory(head: dict[str, Any], columns: dict[str, Any],
                   memo: dict[str, str]) -> Prebuilt:
    """The entries and lookup tables of an image's directory section, ready for
    ``directory.restore`` (nothing in ``directory`` changes here). Raises KeyError, IndexError,
    TypeError or ValueError on a malformed section (the caller makes that an ImageError).

    The DNs go into ``memo``: the connector space and tenant, decoded next, share them.
    """
    count = int(head["count"])
    lazy = type("_LazyEntry", (_LazyEntry,), {"__slots__": (), "_keys": [sys.intern(k) for k in head["keys"]],
                                              "_shared": head["shared"]})
    sds, classes = head["sds"], head["classes"]
    guids, dns, parents, rdn_keys = columns["guids"], columns["dns"], columns["parents"], columns["rdn_keys"]
    sd_column, oc_column, blobs = columns["sd"], columns["oc"], columns["attrs"]
    if not (len(guids) == 16 * count and count == len(dns) == len(parents) == len(rdn_keys) == len(sd_column)
            == len(oc_column) == len(blobs)):
        raise ValueError(f"the directory columns do not all hold {count} entries")
    if not all(type(b) is bytes for b in blobs):
        raise TypeError("an attribute blob that is not bytes")
    memo.update(zip(dns, dns))
    made: list[Entry] = []
    append = made.append
    new_uuid, set_int, set_safe, unknown = object.__new__, UUID.__dict__["int"].__set__, \
        UUID.__dict__["is_safe"].__set__, SafeUUID.unknown
    from_bytes = int.from_bytes
    for i in range(count):
        # UUID(bytes=...) validates and converts at ~1.5 us each; the column is already 16-byte
        # slices, so set the UUID's two slots directly (the same object UUID() would make).
        guid = new_uuid(UUID)
        set_int(guid, from_bytes(guids[16 * i:16 * i + 16]))
        set_safe(guid, unknown)
        parent = parents[i]
        entry = Entry(guid, dns[i], made[parent] if parent >= 0 else None, blobs[i], {},
                      sds[sd_column[i]], classes[oc_column[i]], rdn_keys[i])
        entry.__class__ = lazy
        append(entry)
    return Directory.prebuilt(made, columns["tables"])


__all__ = ["ImageError", "capture_directory", "load_directory"]
