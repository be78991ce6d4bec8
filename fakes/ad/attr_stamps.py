"""Per-attribute change USNs: which attributes an originating write changed, and at what USN.

A real DC keeps this in every object's replPropertyMetaData (MS-DRSR 5.11): one local USN per
attribute, moved by each originating write. The DirSync control (:mod:`fakes.ad.dirsync`)
needs it to return only the attributes changed since a cookie (MS-ADTS 3.1.1.3.4.1.3).

The lab keeps the same fact more cheaply. An attribute never written since its object was
created has the object's ``uSNCreated`` (nothing stored: 100k provisioned users cost nothing).
Only writes after creation are stored, per object GUID: ``{attribute: local USN}``.
:class:`~fakes.ad.directory.Directory` notes each replicated attribute a write touches
(``Directory.written``); the DC's ``stamp`` (the uSNChanged bump that ends every originating
write) hands those to :meth:`AttributeStamps.record` with the new USN.

Non-replicated attributes (:data:`NOT_REPLICATED`, each flagged FLAG_ATTR_NOT_REPLICATED in
MS-ADA1..3) are never noted: they are each DC's own and DirSync never returns them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fakes.ad.dc_access import lenient_number

if TYPE_CHECKING:
    from fakes.ad.directory import Entry

#: Attributes of the lab's schema that AD does not replicate (systemFlags has
#: FLAG_ATTR_NOT_REPLICATED in MS-ADA1..3), lowercase.
NOT_REPLICATED = frozenset((
    "badpasswordtime", "badpwdcount", "lastlogoff", "lastlogon", "logoncount", "usnchanged",
    "usncreated", "whenchanged", "replpropertymetadata", "repluptodatevector", "repsfrom", "repsto",
    "modifiedcount",
))


class AttributeStamps:
    """The local USN of each attribute's last originating write (see the module docstring)."""

    def __init__(self) -> None:
        # object GUID (its 128-bit number) -> lowercase attribute -> local USN of its last write
        self._usns: dict[int, dict[str, int]] = {}

    def record(self, entry: Entry, attributes: set[str] | None, usn: int) -> None:
        """Note that an originating write at ``usn`` changed ``attributes`` of ``entry``."""
        if attributes:
            stamps = self._usns.setdefault(entry.guid.int, {})
            for name in attributes:
                stamps[name] = usn

    def changed_since(self, entry: Entry, usn: int) -> set[str] | None:
        """The attributes (lowercase) of ``entry`` last written after ``usn``, present or since
        removed; None when the object itself was created after ``usn`` (all of them are new)."""
        if _created(entry) > usn:
            return None
        return {name for name, at in self._usns.get(entry.guid.int, {}).items() if at > usn}

    def forget(self, entry: Entry) -> None:
        """Drop a deleted object's stamps."""
        self._usns.pop(entry.guid.int, None)

    # ------------------------------------------------------------------ state (snapshots, images)
    def state(self) -> dict[str, dict[str, int]]:
        """A copy as plain data: GUID (32 hex digits) -> attribute -> USN."""
        return {f"{guid:032x}": dict(stamps) for guid, stamps in self._usns.items()}

    def load(self, state: dict[str, dict[str, int]]) -> None:
        """Replace everything with :meth:`state`'s data (ValueError/TypeError when malformed)."""
        usns: dict[int, dict[str, int]] = {}
        for guid, stamps in state.items():
            if not isinstance(stamps, dict) or not all(
                    isinstance(k, str) and type(v) is int for k, v in stamps.items()):
                raise TypeError("attribute stamps must map attribute names to USNs")
            usns[int(guid, 16)] = dict(stamps)
        self._usns = usns


def _created(entry: Entry) -> int:
    return lenient_number(entry, "usncreated")


__all__ = ["NOT_REPLICATED", "AttributeStamps"]
