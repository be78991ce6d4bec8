"""Interned security descriptors for the DC.

Active Directory stores one copy of each distinct descriptor (the SD table) and so do
we: identical descriptors share one ``bytes`` object, parsed
:class:`~fakes.ad.security.descriptor.SecurityDescriptor` objects are cached by those
bytes, and inheritance results are memoised by (parent bytes, object bytes, class), so
100k users under one OU cost one descriptor and one inheritance computation.
"""

from __future__ import annotations

from uuid import UUID

from fakes.ad.security.descriptor import SecurityDescriptor
from fakes.ad.security.inheritance import compute_descriptor


class SdStore:
    """Interning table plus parse / SDDL / inheritance caches (not thread-safe: the DC's lock covers it)."""

    __slots__ = ("_by_bytes", "_by_object", "_computed", "_parsed", "_sddl", "domain_sid")

    def __init__(self, domain_sid: str) -> None:
        self.domain_sid = domain_sid
        self._by_bytes: dict[bytes, bytes] = {}
        self._parsed: dict[bytes, SecurityDescriptor] = {}
        self._sddl: dict[str, SecurityDescriptor] = {}
        self._computed: dict[tuple[bytes, bytes, UUID, str | None, str | None], bytes] = {}
        # id(descriptor) -> (descriptor, bytes): serialising the same class default SD for every
        # created object would dominate bulk provisioning; holding the object keeps its id unique.
        self._by_object: dict[int, tuple[SecurityDescriptor, bytes]] = {}

    def __len__(self) -> int:
        return len(self._by_bytes)

    def intern(self, data: bytes) -> bytes:
        """The shared bytes object equal to ``data``."""
        return self._by_bytes.setdefault(data, data)

    def store(self, sd: SecurityDescriptor) -> bytes:
        """Serialise, intern and remember the parsed form."""
        hit = self._by_object.get(id(sd))
        if hit is not None and hit[0] is sd:
            return hit[1]
        data = self.intern(sd.to_bytes())
        self._parsed.setdefault(data, sd)
        if len(self._by_object) < 65536:
            self._by_object[id(sd)] = (sd, data)
        return data

    def parse(self, data: bytes) -> SecurityDescriptor:
        """Parsed descriptor for stored bytes (cached)."""
        sd = self._parsed.get(data)
        if sd is None:
            sd = SecurityDescriptor.from_bytes(data)
            self._parsed[self.intern(data)] = sd
        return sd

    def from_sddl(self, text: str) -> SecurityDescriptor:
        """Parse SDDL once (class default SDs are parsed for every created object)."""
        sd = self._sddl.get(text)
        if sd is None:
            sd = SecurityDescriptor.from_sddl(text, self.domain_sid)
            self._sddl[text] = sd
        return sd

    def compute(
        self,
        parent: bytes | None,
        explicit: SecurityDescriptor,
        object_class: UUID,
        *,
        owner: str | None = None,
        group: str | None = None,
    ) -> bytes:
        """Inherit from ``parent`` into ``explicit`` for a ``object_class`` object; interned bytes."""
        key = (parent or b"", self.store(explicit), object_class, owner, group)
        hit = self._computed.get(key)
        if hit is not None:
            return hit
        parent_sd = self.parse(parent) if parent else None
        result = compute_descriptor(parent_sd, explicit, object_class, owner=owner, group=group)
        data = self.store(result)
        self._computed[key] = data
        return data

    def recompute(self, parent: bytes | None, current: bytes, object_class: UUID) -> bytes:
        """Re-inherit an existing object's descriptor after its parent's changed (explicit ACEs kept)."""
        key = (parent or b"", current, object_class, None, None)
        hit = self._computed.get(key)
        if hit is not None:
            return hit
        parent_sd = self.parse(parent) if parent else None
        result = compute_descriptor(parent_sd, self.parse(current), object_class)
        data = self.store(result)
        self._computed[key] = data
        return data
