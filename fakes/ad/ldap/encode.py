"""The DC's LDAPv3 responses as BER bytes (RFC 4511): results, bind and extended responses,
search entries and references, controls, the Notice of Disconnection.

The other half of :mod:`fakes.ad.ldap.codec` (which decodes the requests). Responses are
encoded by concatenating bytes; a search entry's parts the DC sends again and again (an
attribute's name and the length of its value, a small message ID, BER lengths) are made once
and looked up.
"""

from __future__ import annotations

from typing import Any

from fakes.ad.api import Control
from fakes.ad.controls import ber_length
from fakes.ad.ldap.codec import (
    BIND_RESPONSE,
    EXTENDED_RESPONSE,
    NOTICE_OF_DISCONNECTION,
    SEARCH_ENTRY,
    SEARCH_REFERENCE,
)

_len = ber_length


def tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + _len(len(value)) + value


def _int_bytes(value: int) -> bytes:
    return value.to_bytes(max(1, (value + (value < 0)).bit_length() // 8 + 1), "big", signed=True)


def _octets(value: bytes) -> bytes:
    return b"\x04" + _len(len(value)) + value


def encode_controls(controls: tuple[Control, ...]) -> bytes:
    parts = []
    for c in controls:
        body = _octets(c.oid.encode())
        if c.critical:
            body += b"\x01\x01\xff"
        if c.value is not None:
            body += _octets(c.value)
        parts.append(tlv(0x30, body))
    return tlv(0xA0, b"".join(parts))


def _envelope(msg_id: int, op: bytes, controls: tuple[Control, ...] = ()) -> bytes:
    body = b"\x02" + _len(len(idb := _int_bytes(msg_id))) + idb + op
    if controls:
        body += encode_controls(controls)
    return tlv(0x30, body)


def encode_result(
    msg_id: int,
    op: int,
    code: int,
    message: str = "",
    matched_dn: str = "",
    controls: tuple[Control, ...] = (),
    *,
    referrals: list[str] | None = None,
    extra: bytes = b"",
) -> bytes:
    """An LDAPResult-shaped response (bind/search done/modify/add/... and extended)."""
    body = b"\x0a" + _len(len(cb := _int_bytes(code))) + cb
    body += _octets(matched_dn.encode()) + _octets(message.encode())
    if referrals:
        body += tlv(0xA3, b"".join(_octets(r.encode()) for r in referrals))
    return _envelope(msg_id, tlv(op, body + extra), controls)


def encode_bind_response(
    msg_id: int, code: int, message: str = "", matched: bytes = b"", sasl_creds: bytes | None = None
) -> bytes:
    """A BindResponse with optional serverSaslCreds [7]; ``matched`` is raw (Sicily puts tokens there)."""
    body = b"\x0a" + _len(len(cb := _int_bytes(code))) + cb
    body += _octets(matched) + _octets(message.encode())
    if sasl_creds is not None:
        body += tlv(0x87, sasl_creds)
    return _envelope(msg_id, tlv(BIND_RESPONSE, body))


def encode_extended(
    msg_id: int,
    code: int,
    message: str = "",
    matched_dn: str = "",
    name: str | None = None,
    value: bytes | None = None,
    controls: tuple[Control, ...] = (),
) -> bytes:
    extra = b""
    if name is not None:
        extra += tlv(0x8A, name.encode())
    if value is not None:
        extra += tlv(0x8B, value)
    return encode_result(msg_id, EXTENDED_RESPONSE, code, message, matched_dn, controls, extra=extra)


def encode_entry(msg_id: int, dn: str, attributes: dict[str, list[bytes]], types_only: bool = False) -> bytes:
    """A SearchResultEntry; with ``types_only`` the value sets are sent empty.

    The hot path of every search (a big directory's initial sync sends one per user), so it
    avoids the generic helpers: an attribute with one short value (most of them) costs one
    lookup of its header bytes (everything before the value: the PartialAttribute, type and
    SET headers, keyed by name and value length) and the value itself. When the search
    rendered the entry straight to wire bytes (:class:`EncodedAttributes`) only the envelope
    is added. The bytes are the same as :func:`tlv`/:func:`_octets` make.
    """
    if type(attributes) is EncodedAttributes and not types_only:
        wire = getattr(attributes, "wire", None)
        if wire is not None:
            return _entry_envelope(msg_id, dn, wire)
    parts: list[bytes] = []
    add = parts.append
    heads = _VALUE_HEADS
    for name, values in attributes.items():
        if len(values) == 1 and not types_only:
            value = values[0]
            head = heads.get((name, len(value)))
            if head is None:
                head = value_head(name, len(value))
            add(head)
            add(value)
        else:
            add(_attribute(name, values, types_only))
    return _entry_envelope(msg_id, dn, b"".join(parts))


def _entry_envelope(msg_id: int, dn: str, attribute_list: bytes) -> bytes:
    """LDAPMessage SEQUENCE { messageID, [APPLICATION 4] { objectName, attributes SEQUENCE } }
    around the PartialAttributeList contents; lengths computed, every byte copied once."""
    lengths = _LENGTHS
    n = len(attribute_list)
    attributes_header = b"\x30" + (lengths[n] if n < _LENGTHS_MAX else _len(n))
    dn_bytes = dn.encode()
    d = len(dn_bytes)
    dn_header = b"\x04" + (lengths[d] if d < _LENGTHS_MAX else _len(d))
    op_length = len(dn_header) + d + len(attributes_header) + n
    message_id = _SMALL_IDS[msg_id] if 0 <= msg_id < 0x80 else _message_id(msg_id)
    op_header = _SEARCH_ENTRY_TAG + (lengths[op_length] if op_length < _LENGTHS_MAX else _len(op_length))
    m = len(message_id) + len(op_header) + op_length
    head = b"\x30" + (lengths[m] if m < _LENGTHS_MAX else _len(m)) + message_id + op_header + dn_header
    return b"".join((head, dn_bytes, attributes_header, attribute_list))


class EncodedAttributes(dict):  # type: ignore[type-arg]  # dict[str, list[bytes]] at runtime
    """A rendered entry's attributes plus ``wire``: the PartialAttributeList contents (without
    its SEQUENCE header) that :func:`encode_entry` would make from them.

    The DC's search renders the common case (an attribute list, no types-only) straight to
    bytes while it fills the dict, so the encoder need not walk the attributes again. Any
    change through the dict's own methods drops ``wire`` (the encoder then walks the dict);
    the value lists are the search's fresh copies and are not to be changed in place.
    """

    # No __init__: dict's own (C) init copies the rendered dict without calling __setitem__,
    # and the renderer sets ``wire`` right after.
    __slots__ = ("wire",)

    def __setitem__(self, key: str, value: list[bytes]) -> None:
        self.wire = None
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.wire = None
        super().__delitem__(key)

    def __ior__(self, other: Any) -> EncodedAttributes:
        self.wire = None
        return super().__ior__(other)  # type: ignore[return-value]

    def clear(self) -> None:
        self.wire = None
        super().clear()

    def pop(self, *args: Any) -> Any:
        self.wire = None
        return super().pop(*args)

    def popitem(self) -> tuple[str, list[bytes]]:
        self.wire = None
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.wire = None
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.wire = None
        super().update(*args, **kwargs)


def _message_id(msg_id: int) -> bytes:
    """The messageID INTEGER TLV (the entries of one search share it: the last one is kept)."""
    if 0 <= msg_id < 0x80:
        return _SMALL_IDS[msg_id]
    last = _LAST_ID[0]  # one tuple read: safe if two reactors ever encode at once
    if last[0] != msg_id:
        body = _int_bytes(msg_id)
        last = _LAST_ID[0] = (msg_id, b"\x02" + _len(len(body)) + body)
    return last[1]


_LAST_ID: list[tuple[int, bytes]] = [(-1, b"")]
_SMALL_IDS = tuple(bytes((0x02, 0x01, n)) for n in range(0x80))


def partial_attribute(name: str, values: list[bytes]) -> bytes:
    """One PartialAttribute with its values (any number of them)."""
    return _attribute(name, values, False)


def _attribute(name: str, values: list[bytes], types_only: bool) -> bytes:
    """One PartialAttribute, the general case (several values, none, or types only)."""
    short = _SHORT_LENGTHS
    head = _name_octets(name)
    if types_only or not values:
        body = head + b"\x31\x00"
    else:
        vals = b"".join([b"\x04" + (short[len(v)] if len(v) < 0x80 else _len(len(v))) + v for v in values])
        n = len(vals)
        body = head + b"\x31" + (short[n] if n < 0x80 else _len(n)) + vals
    n = len(body)
    return b"\x30" + (short[n] if n < 0x80 else _len(n)) + body


def short_value_heads(name: str) -> tuple[bytes, ...]:
    """:func:`value_head` for every value size below 128, indexed by size (memoised per name):
    a renderer indexes it instead of hashing (name, size) per value."""
    heads = _SHORT_HEADS.get(name)
    if heads is None:
        heads = tuple(_value_head(name, size) for size in range(0x80))
        if len(_SHORT_HEADS) < _NAME_CACHE_MAX:
            _SHORT_HEADS[name] = heads
    return heads


def value_head(name: str, size: int) -> bytes:
    """The bytes of a one-value PartialAttribute before its value of ``size`` bytes (memoised)."""
    head = _value_head(name, size)
    if len(_VALUE_HEADS) < _VALUE_HEADS_MAX:  # names are schema spellings, sizes mostly short
        _VALUE_HEADS[(name, size)] = head
    return head


def _value_head(name: str, size: int) -> bytes:
    value_header = b"\x04" + _len(size)
    set_length = len(value_header) + size
    set_header = b"\x31" + _len(set_length)
    name_octets = _name_octets(name)
    attribute_length = len(name_octets) + len(set_header) + set_length
    return b"\x30" + _len(attribute_length) + name_octets + set_header + value_header


def _name_octets(name: str) -> bytes:
    head = _NAME_OCTETS.get(name)
    if head is None:
        head = _octets(name.encode())
        if len(_NAME_OCTETS) < _NAME_CACHE_MAX:  # names are schema spellings; a bound all the same
            _NAME_OCTETS[name] = head
    return head


_SHORT_LENGTHS = tuple(bytes((n,)) for n in range(0x80))  # BER short-form length octets
_LENGTHS_MAX = 0x1000  # an entry is rarely longer: its length octets are a table lookup
_LENGTHS = tuple(ber_length(n) for n in range(_LENGTHS_MAX))
_SEARCH_ENTRY_TAG = bytes((SEARCH_ENTRY,))
_NAME_OCTETS: dict[str, bytes] = {}  # attribute name -> its encoded OCTET STRING
_NAME_CACHE_MAX = 4096
#: (attribute name, value size) -> the one-value PartialAttribute's bytes before the value.
_VALUE_HEADS: dict[tuple[str, int], bytes] = {}
_SHORT_HEADS: dict[str, tuple[bytes, ...]] = {}  # attribute name -> short_value_heads(name)
_VALUE_HEADS_MAX = 65536


def encode_reference(msg_id: int, uris: list[str]) -> bytes:
    return _envelope(msg_id, tlv(SEARCH_REFERENCE, b"".join(_octets(u.encode()) for u in uris)))


def notice_of_disconnection(code: int, message: str) -> bytes:
    """Unsolicited notification (messageID 0) sent just before the server drops a client."""
    return encode_extended(0, code, message, name=NOTICE_OF_DISCONNECTION)
