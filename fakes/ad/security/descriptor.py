"""Security descriptor model and its self-relative binary form (MS-DTYP 2.4.4-2.4.6).

The model is three frozen dataclasses: :class:`Ace`, :class:`Acl`, :class:`SecurityDescriptor`.
SIDs are canonical strings, object GUIDs are :class:`uuid.UUID`. SDDL lives in ``sddl.py``;
``SecurityDescriptor.to_sddl``/``from_sddl`` delegate to it.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass
from uuid import UUID

from fakes.ad.sid import SidError, sid_from_bytes, sid_length, sid_to_bytes

from .constants import (
    ACE_INHERITED_OBJECT_TYPE_PRESENT,
    ACE_OBJECT_TYPE_PRESENT,
    ACL_REVISION_DS,
    ALLOW_TYPES,
    AUDIT_TYPES,
    DENY_TYPES,
    INHERIT_ONLY_ACE,
    INHERITED_ACE,
    OBJECT_ACE_TYPES,
    SE_DACL_PRESENT,
    SE_DACL_PROTECTED,
    SE_SACL_PRESENT,
    SE_SELF_RELATIVE,
    SECURITY_DESCRIPTOR_REVISION,
    SUPPORTED_ACE_TYPES,
)

__all__ = ["Ace", "Acl", "SecurityDescriptor", "SecurityDescriptorError"]

# Revision, Sbz1, Control, OffsetOwner, OffsetGroup, OffsetSacl, OffsetDacl
_HEADER = struct.Struct("<BBHIIII")
_ACL_HEADER = struct.Struct("<BBHHH")  # AclRevision, Sbz1, AclSize, AceCount, Sbz2
_ACE_HEADER = struct.Struct("<BBH")  # AceType, AceFlags, AceSize


class SecurityDescriptorError(ValueError):
    """Malformed binary security descriptor or SDDL string."""


@dataclass(frozen=True, slots=True)
class Ace:
    """One access control entry. ``object_type``/``inherited_object_type`` only on object ACE types."""

    ace_type: int
    flags: int
    mask: int
    sid: str
    object_type: UUID | None = None
    inherited_object_type: UUID | None = None

    def __post_init__(self) -> None:
        if self.ace_type not in SUPPORTED_ACE_TYPES:
            raise SecurityDescriptorError(f"unsupported ACE type 0x{self.ace_type:02x}")
        if not 0 <= self.flags <= 0xFF:
            raise SecurityDescriptorError(f"ACE flags 0x{self.flags:x} do not fit in one byte")
        if not 0 <= self.mask <= 0xFFFFFFFF:
            raise SecurityDescriptorError(f"ACE access mask 0x{self.mask:x} does not fit in 32 bits")
        if self.ace_type not in OBJECT_ACE_TYPES and (
            self.object_type is not None or self.inherited_object_type is not None
        ):
            raise SecurityDescriptorError(
                f"ACE type 0x{self.ace_type:02x} is not an object ACE and cannot carry object GUIDs"
            )

    @property
    def is_allow(self) -> bool:
        return self.ace_type in ALLOW_TYPES

    @property
    def is_deny(self) -> bool:
        return self.ace_type in DENY_TYPES

    @property
    def is_audit(self) -> bool:
        return self.ace_type in AUDIT_TYPES

    @property
    def is_object_ace(self) -> bool:
        return self.ace_type in OBJECT_ACE_TYPES

    @property
    def inherit_only(self) -> bool:
        return bool(self.flags & INHERIT_ONLY_ACE)

    @property
    def inherited(self) -> bool:
        return bool(self.flags & INHERITED_ACE)

    def replace(self, **changes: object) -> Ace:
        """Copy with fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def to_bytes(self) -> bytes:
        """MS-DTYP 2.4.4 encoding of this ACE."""
        try:
            sid = sid_to_bytes(self.sid)
        except SidError as exc:
            raise SecurityDescriptorError(f"ACE trustee: {exc}") from exc
        if self.ace_type in OBJECT_ACE_TYPES:
            obj_flags = 0
            guids = b""
            if self.object_type is not None:
                obj_flags |= ACE_OBJECT_TYPE_PRESENT
                guids += self.object_type.bytes_le
            if self.inherited_object_type is not None:
                obj_flags |= ACE_INHERITED_OBJECT_TYPE_PRESENT
                guids += self.inherited_object_type.bytes_le
            body = struct.pack("<II", self.mask, obj_flags) + guids + sid
        else:
            body = struct.pack("<I", self.mask) + sid
        return _ACE_HEADER.pack(self.ace_type, self.flags, 4 + len(body)) + body

    @classmethod
    def from_bytes(cls, data: bytes | memoryview, offset: int = 0) -> tuple[Ace, int]:
        """Decode one ACE at ``offset``; returns the ACE and its AceSize."""
        if len(data) - offset < _ACE_HEADER.size + 4:
            raise SecurityDescriptorError(f"ACE at offset {offset} truncated")
        ace_type, flags, size = _ACE_HEADER.unpack_from(data, offset)
        if size < 8 or size % 4 or offset + size > len(data):
            raise SecurityDescriptorError(f"ACE at offset {offset} has invalid AceSize {size}")
        if ace_type not in SUPPORTED_ACE_TYPES:
            raise SecurityDescriptorError(f"ACE at offset {offset} has unsupported type 0x{ace_type:02x}")
        end = offset + size
        ace_bytes = memoryview(data)[:end]
        (mask,) = struct.unpack_from("<I", data, offset + 4)
        pos = offset + 8
        object_type = inherited_object_type = None
        if ace_type in OBJECT_ACE_TYPES:
            if end - pos < 4:
                raise SecurityDescriptorError(f"object ACE at offset {offset} truncated before Flags")
            (obj_flags,) = struct.unpack_from("<I", data, pos)
            pos += 4
            if obj_flags & ~(ACE_OBJECT_TYPE_PRESENT | ACE_INHERITED_OBJECT_TYPE_PRESENT):
                raise SecurityDescriptorError(f"object ACE at {offset} has unknown Flags 0x{obj_flags:x}")
            if obj_flags & ACE_OBJECT_TYPE_PRESENT:
                if end - pos < 16:
                    raise SecurityDescriptorError(f"object ACE at offset {offset} truncated in ObjectType")
                object_type = UUID(bytes_le=bytes(data[pos:pos + 16]))
                pos += 16
            if obj_flags & ACE_INHERITED_OBJECT_TYPE_PRESENT:
                if end - pos < 16:
                    raise SecurityDescriptorError(
                        f"object ACE at offset {offset} truncated in InheritedObjectType"
                    )
                inherited_object_type = UUID(bytes_le=bytes(data[pos:pos + 16]))
                pos += 16
        try:
            sid_len = sid_length(ace_bytes, pos)
            sid = sid_from_bytes(ace_bytes, pos)
        except SidError as exc:
            raise SecurityDescriptorError(f"ACE at offset {offset}: {exc}") from exc
        if pos + sid_len > end:
            raise SecurityDescriptorError(f"ACE at offset {offset}: SID runs past AceSize")
        return cls(ace_type, flags, mask, sid, object_type, inherited_object_type), size


@dataclass(frozen=True, slots=True)
class Acl:
    """An ACL: ordered ACEs plus the AclRevision byte (4 = ACL_REVISION_DS, needed by object ACEs)."""

    aces: tuple[Ace, ...] = ()
    revision: int = ACL_REVISION_DS

    def __post_init__(self) -> None:
        if not isinstance(self.aces, tuple):
            object.__setattr__(self, "aces", tuple(self.aces))
        if self.revision not in (2, 4):
            raise SecurityDescriptorError(f"ACL revision {self.revision} is not 2 or 4")
        if self.revision != ACL_REVISION_DS and any(a.ace_type in OBJECT_ACE_TYPES for a in self.aces):
            # Object ACEs are only legal in ACL_REVISION_DS ACLs (MS-DTYP 2.4.5).
            object.__setattr__(self, "revision", ACL_REVISION_DS)

    def __len__(self) -> int:
        return len(self.aces)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.aces)

    def to_bytes(self) -> bytes:
        """MS-DTYP 2.4.5 encoding (header + ACEs)."""
        body = b"".join(ace.to_bytes() for ace in self.aces)
        size = _ACL_HEADER.size + len(body)
        if size > 0xFFFF:
            raise SecurityDescriptorError(f"ACL of {size} bytes exceeds the 64 KiB AclSize limit")
        return _ACL_HEADER.pack(self.revision, 0, size, len(self.aces), 0) + body

    @classmethod
    def from_bytes(cls, data: bytes | memoryview, offset: int = 0) -> Acl:
        """Decode the ACL at ``offset``."""
        if len(data) - offset < _ACL_HEADER.size:
            raise SecurityDescriptorError(f"ACL at offset {offset} truncated (need 8 header bytes)")
        revision, _sbz1, size, count, _sbz2 = _ACL_HEADER.unpack_from(data, offset)
        if revision not in (2, 4):
            raise SecurityDescriptorError(f"ACL at offset {offset} has unsupported revision {revision}")
        if size < _ACL_HEADER.size or offset + size > len(data):
            raise SecurityDescriptorError(f"ACL at offset {offset} has invalid AclSize {size}")
        view = memoryview(data)[: offset + size]
        pos = offset + _ACL_HEADER.size
        aces = []
        for _ in range(count):
            ace, ace_size = Ace.from_bytes(view, pos)
            aces.append(ace)
            pos += ace_size
        return cls(tuple(aces), revision)


@dataclass(frozen=True, slots=True)
class SecurityDescriptor:
    """A self-relative security descriptor.

    ``dacl is None`` with ``SE_DACL_PRESENT`` in ``control`` is a NULL DACL (everyone gets everything);
    without the bit it is "no DACL". The PRESENT bits are added automatically when an ACL is given.
    ``rm_control`` is the header's Sbz1 byte, kept for lossless round trips.
    """

    owner: str | None
    group: str | None
    dacl: Acl | None
    sacl: Acl | None = None
    control: int = SE_SELF_RELATIVE
    rm_control: int = 0

    def __post_init__(self) -> None:
        control = self.control | SE_SELF_RELATIVE
        if self.dacl is not None:
            control |= SE_DACL_PRESENT
        if self.sacl is not None:
            control |= SE_SACL_PRESENT
        if not 0 <= control <= 0xFFFF:
            raise SecurityDescriptorError(f"SD control 0x{control:x} does not fit in 16 bits")
        if control != self.control:
            object.__setattr__(self, "control", control)

    @property
    def protected(self) -> bool:
        """DACL_PROTECTED ("inheritance disabled")."""
        return bool(self.control & SE_DACL_PROTECTED)

    @property
    def dacl_present(self) -> bool:
        return bool(self.control & SE_DACL_PRESENT)

    @property
    def sacl_present(self) -> bool:
        return bool(self.control & SE_SACL_PRESENT)

    def replace(self, **changes: object) -> SecurityDescriptor:
        """Copy with fields changed. Clearing an ACL also clears its PRESENT bit unless control is given."""
        if "control" not in changes:
            control = self.control
            if changes.get("dacl", self.dacl) is None and "dacl" in changes:
                control &= ~SE_DACL_PRESENT
            if changes.get("sacl", self.sacl) is None and "sacl" in changes:
                control &= ~SE_SACL_PRESENT
            changes["control"] = control
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    # --- binary ---
    def to_bytes(self) -> bytes:
        """Self-relative encoding; parts laid out SACL, DACL, owner, group as Windows does."""
        out = bytearray(_HEADER.size)
        off_sacl = off_dacl = off_owner = off_group = 0
        if self.sacl is not None:
            off_sacl = len(out)
            out += self.sacl.to_bytes()
        if self.dacl is not None:
            off_dacl = len(out)
            out += self.dacl.to_bytes()
        try:
            if self.owner is not None:
                off_owner = len(out)
                out += sid_to_bytes(self.owner)
            if self.group is not None:
                off_group = len(out)
                out += sid_to_bytes(self.group)
        except SidError as exc:
            raise SecurityDescriptorError(f"owner/group: {exc}") from exc
        _HEADER.pack_into(
            out, 0, SECURITY_DESCRIPTOR_REVISION, self.rm_control, self.control,
            off_owner, off_group, off_sacl, off_dacl,
        )
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> SecurityDescriptor:
        """Parse a self-relative SD; parts may appear in any order. Raises SecurityDescriptorError."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise SecurityDescriptorError(f"security descriptor must be bytes, got {type(data).__name__}")
        if len(data) < _HEADER.size:
            raise SecurityDescriptorError(f"security descriptor truncated: {len(data)} bytes (header is 20)")
        revision, sbz1, control, off_owner, off_group, off_sacl, off_dacl = _HEADER.unpack_from(data, 0)
        if revision != SECURITY_DESCRIPTOR_REVISION:
            raise SecurityDescriptorError(f"security descriptor revision {revision}, expected 1")
        if not control & SE_SELF_RELATIVE:
            raise SecurityDescriptorError("security descriptor is not self-relative (SE_SELF_RELATIVE clear)")
        for name, off in (("owner", off_owner), ("group", off_group), ("SACL", off_sacl), ("DACL", off_dacl)):
            if off and not _HEADER.size <= off < len(data):
                raise SecurityDescriptorError(f"{name} offset {off} outside the {len(data)}-byte descriptor")
        try:
            owner = sid_from_bytes(data, off_owner) if off_owner else None
            group = sid_from_bytes(data, off_group) if off_group else None
        except SidError as exc:
            raise SecurityDescriptorError(f"owner/group: {exc}") from exc
        # MS-DTYP 2.4.6: an ACL offset only counts when its PRESENT bit is set.
        sacl = Acl.from_bytes(data, off_sacl) if control & SE_SACL_PRESENT and off_sacl else None
        dacl = Acl.from_bytes(data, off_dacl) if control & SE_DACL_PRESENT and off_dacl else None
        return cls(owner, group, dacl, sacl, control, sbz1)

    # --- SDDL ---
    def to_sddl(self, domain_sid: str | None = None) -> str:
        """SDDL string; domain-relative SIDs print as aliases only when ``domain_sid`` is given."""
        from .sddl import format_sddl

        return format_sddl(self, domain_sid)

    @classmethod
    def from_sddl(cls, text: str, domain_sid: str | None = None) -> SecurityDescriptor:
        """Parse SDDL; domain-relative aliases (DA, DU, ...) need ``domain_sid``."""
        from .sddl import parse_sddl

        return parse_sddl(text, domain_sid)
