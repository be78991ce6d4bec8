"""objectGUIDs made in bulk: :class:`uuid.UUID` objects without ``UUID.__init__``.

A lab creates one GUID per object (100k users: 100k), and a lab image holds them all as 16-byte
values. ``UUID.__init__`` checks its arguments in Python, which costs more than the rest of
making the value; the UUIDs here are set up through the class's two slots instead, and are the
same objects (equal, same hash, same ``is_safe``) as the constructor's.
"""

from __future__ import annotations

from uuid import UUID, SafeUUID

#: The slot setters of a bare ``object.__new__(UUID)``.
SET_INT, SET_SAFE = UUID.__dict__["int"].__set__, UUID.__dict__["is_safe"].__set__

# RFC 4122 variant (10xx in clock_seq_hi) and version 4 (in time_hi), as UUID(version=4) sets them.
_CLEAR_VERSION = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)
_VERSION_4 = (0x8000 << 48) | (4 << 76)
_UNKNOWN = SafeUUID.unknown  # (an enum member read through its class is a Python-level lookup)


def random_uuid4(bits: int) -> UUID:
    """``UUID(int=bits, version=4)`` for 128 random ``bits`` (the same object, made faster)."""
    uuid = object.__new__(UUID)
    SET_INT(uuid, bits & _CLEAR_VERSION | _VERSION_4)
    SET_SAFE(uuid, _UNKNOWN)
    return uuid


def uuid_from_int(number: int) -> UUID:
    """``UUID(int=number)`` for a 128-bit ``number`` known to be one (a lab image's saved GUID):
    the same object, without the constructor's checks."""
    uuid = object.__new__(UUID)
    SET_INT(uuid, number)
    SET_SAFE(uuid, _UNKNOWN)
    return uuid


__all__ = ["SET_INT", "SET_SAFE", "random_uuid4", "uuid_from_int"]
