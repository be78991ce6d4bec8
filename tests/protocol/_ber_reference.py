"""Reference encoders for the wire tests: the generic BER helpers, element by element."""

from __future__ import annotations

from fakes.ad.ldap.codec import SEARCH_ENTRY
from fakes.ad.ldap.encode import _envelope, _octets, tlv


def reference_encode_entry(msg_id: int, dn: str, attributes: dict[str, list[bytes]],
                           types_only: bool = False) -> bytes:
    """The SearchResultEntry encoder as it was before the fast paths: generic TLV helpers."""
    parts = []
    for name, values in attributes.items():
        vals = b"" if types_only else b"".join([_octets(v) for v in values])
        parts.append(tlv(0x30, _octets(name.encode()) + tlv(0x31, vals)))
    return _envelope(msg_id, tlv(SEARCH_ENTRY, _octets(dn.encode()) + tlv(0x30, b"".join(parts))))
