"""Strict, fast BER codec for LDAPv3 messages (RFC 4511) as the fake DC's server sees them.

Why not ldaptor's ``pureber``: it builds an object per BER element and costs ~185 µs to
decode one small search request, and its decoder trusts lengths and uses ``assert`` for
validation. Here a request is decoded in one pass over a ``memoryview`` into plain
tuples/dataclasses, every length is checked, and malformed input raises
:class:`DecodeError` (the caller answers with a Notice of Disconnection and drops only
that client). Responses are encoded by concatenating bytes. Filters decode to the small
tuple tree documented in :mod:`fakes.ad.ldap.filters`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fakes.ad.api import Control

#: Default cap for one LDAPMessage; a larger declared length disconnects the client.
MAX_MESSAGE = 10 * 1024 * 1024
#: Deepest filter nesting we accept; deeper is an attack, not a query.
MAX_FILTER_DEPTH = 64

NOTICE_OF_DISCONNECTION = "1.3.6.1.4.1.1466.20036"

# protocolOp application tags (constructed unless noted)
BIND_REQUEST = 0x60
UNBIND_REQUEST = 0x42  # primitive NULL
SEARCH_REQUEST = 0x63
MODIFY_REQUEST = 0x66
ADD_REQUEST = 0x68
DEL_REQUEST = 0x4A  # primitive OCTET STRING
MODDN_REQUEST = 0x6C
COMPARE_REQUEST = 0x6E
ABANDON_REQUEST = 0x50  # primitive INTEGER
EXTENDED_REQUEST = 0x77

BIND_RESPONSE = 0x61
SEARCH_ENTRY = 0x64
SEARCH_DONE = 0x65
SEARCH_REFERENCE = 0x73
MODIFY_RESPONSE = 0x67
ADD_RESPONSE = 0x69
DEL_RESPONSE = 0x6B
MODDN_RESPONSE = 0x6D
COMPARE_RESPONSE = 0x6F
EXTENDED_RESPONSE = 0x78

#: Response tag for each request tag (used to answer errors for the right operation).
RESPONSE_FOR = {
    BIND_REQUEST: BIND_RESPONSE,
    SEARCH_REQUEST: SEARCH_DONE,
    MODIFY_REQUEST: MODIFY_RESPONSE,
    ADD_REQUEST: ADD_RESPONSE,
    DEL_REQUEST: DEL_RESPONSE,
    MODDN_REQUEST: MODDN_RESPONSE,
    COMPARE_REQUEST: COMPARE_RESPONSE,
    EXTENDED_REQUEST: EXTENDED_RESPONSE,
}


class DecodeError(ValueError):
    """The bytes are not a well-formed LDAPMessage; the connection must be dropped."""


class UnknownOperation(DecodeError):
    """A well-framed message whose protocolOp is not a request this server knows."""


class MessageTooLarge(DecodeError):
    """An LDAPMessage declares a length above the server's cap."""


@dataclass(slots=True)
class Message:
    """One decoded request: message id, protocolOp tag, op-specific body, controls."""

    msg_id: int
    op: int
    body: Any
    controls: tuple[Control, ...]


#: MS-ADTS 5.1.1.1.3 Sicily AuthenticationChoice tags: [9] / [10] / [11] IMPLICIT OCTET STRING.
SICILY_DISCOVERY = 0x89
SICILY_NEGOTIATE = 0x8A
SICILY_RESPONSE = 0x8B
_SICILY = (SICILY_DISCOVERY, SICILY_NEGOTIATE, SICILY_RESPONSE)
#: The one SASL mechanism the DC takes (NTLM inside SPNEGO; see fakes.ad.ldap.ntlm_bind).
GSS_SPNEGO = "GSS-SPNEGO"


@dataclass(slots=True)
class BindBody:
    """A BindRequest (RFC 4511 4.2): simple, SASL or Sicily (MS-ADTS 5.1.1.1)."""
    version: int
    name: str
    password: bytes | None  # simple bind
    sasl_mechanism: str | None = None
    sasl_credentials: bytes | None = None
    sicily: int | None = None  # one of SICILY_* when the bind is a Sicily (NTLM) leg
    sicily_token: bytes = b""


@dataclass(slots=True)
class SearchBody:
    """A SearchRequest (RFC 4511 4.5.1); ``filter`` as the decoder's tuple tree (see ``_filter``)."""
    base: str
    scope: int
    deref: int
    size_limit: int
    time_limit: int
    types_only: bool
    filter: tuple
    attributes: list[str]


@dataclass(slots=True)
class ModDNBody:
    """A ModifyDNRequest (RFC 4511 4.9)."""
    dn: str
    new_rdn: str
    delete_old_rdn: bool
    new_superior: str | None


@dataclass(slots=True)
class ExtendedBody:
    """An ExtendedRequest (RFC 4511 4.12): its OID and optional value."""
    name: str
    value: bytes | None


# ------------------------------------------------------------------------------ reading


def _tlv(buf: memoryview, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, value_start, value_end) of the element at ``pos``, bounded by ``end``."""
    if pos + 2 > end:
        raise DecodeError("truncated element")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise DecodeError("multi-byte tag")
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise DecodeError("bad length")
        length = int.from_bytes(buf[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise DecodeError("length past end of enclosing element")
    return tag, pos, pos + length


def frame_length(buf: bytes | bytearray, pos: int, limit: int = MAX_MESSAGE) -> int | None:
    """Total length of the LDAPMessage starting at ``pos``, or None if more bytes are needed."""
    avail = len(buf) - pos
    if avail < 2:
        return None
    if buf[pos] != 0x30:
        raise DecodeError("LDAPMessage must start with a SEQUENCE tag")
    first = buf[pos + 1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if count == 0 or count > 4:
        raise DecodeError("bad LDAPMessage length")
    if avail < 2 + count:
        return None
    length = int.from_bytes(buf[pos + 2 : pos + 2 + count], "big")
    if length > limit:
        raise MessageTooLarge(f"message of {length} bytes exceeds the {limit} byte limit")
    return 2 + count + length


def _int(buf: memoryview, s: int, e: int) -> int:
    if e == s or e - s > 8:
        raise DecodeError("bad INTEGER")
    return int.from_bytes(buf[s:e], "big", signed=True)


def _str(buf: memoryview, s: int, e: int) -> str:
    try:
        return bytes(buf[s:e]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError("LDAPString is not UTF-8") from exc


def _expect(buf: memoryview, pos: int, end: int, tag: int) -> tuple[int, int]:
    t, s, e = _tlv(buf, pos, end)
    if t != tag:
        raise DecodeError(f"expected tag 0x{tag:02x}, got 0x{t:02x}")
    return s, e


def _bool(buf: memoryview, s: int, e: int) -> bool:
    if e - s != 1:
        raise DecodeError("bad BOOLEAN")
    return buf[s] != 0


def decode_message(data: bytes | bytearray | memoryview) -> Message:
    """Decode exactly one complete LDAPMessage (as delimited by :func:`frame_length`)."""
    buf = memoryview(data)
    end = len(buf)
    s, e = _expect(buf, 0, end, 0x30)
    if e != end:
        raise DecodeError("trailing bytes after LDAPMessage")
    is_, ie = _expect(buf, s, e, 0x02)
    msg_id = _int(buf, is_, ie)
    if not 0 <= msg_id <= 2**31 - 1:
        raise DecodeError("messageID out of range")
    op, os_, oe = _tlv(buf, ie, e)
    controls: tuple[Control, ...] = ()
    if oe < e:
        cs, ce = _expect(buf, oe, e, 0xA0)
        controls = _controls(buf, cs, ce)
        if ce != e:
            raise DecodeError("trailing bytes after controls")
    decoder = _DECODERS.get(op)
    if decoder is None:
        raise UnknownOperation(f"unknown protocolOp tag 0x{op:02x}")
    return Message(msg_id, op, decoder(buf, os_, oe), controls)


def _controls(buf: memoryview, pos: int, end: int) -> tuple[Control, ...]:
    out = []
    while pos < end:
        s, e = _expect(buf, pos, end, 0x30)
        ts, te = _expect(buf, s, e, 0x04)
        oid = _str(buf, ts, te)
        critical, value, p = False, None, te
        if p < e:
            t, vs, ve = _tlv(buf, p, e)
            if t == 0x01:
                critical, p = _bool(buf, vs, ve), ve
        if p < e:
            vs, ve = _expect(buf, p, e, 0x04)
            value, p = bytes(buf[vs:ve]), ve
        if p != e:
            raise DecodeError("bad Control")
        out.append(Control(oid, critical, value))
        pos = e
    return tuple(out)


def _bind(buf: memoryview, s: int, e: int) -> BindBody:
    vs, ve = _expect(buf, s, e, 0x02)
    ns, ne = _expect(buf, ve, e, 0x04)
    t, as_, ae = _tlv(buf, ne, e)
    if ae != e:
        raise DecodeError("trailing bytes in BindRequest")
    body = BindBody(_int(buf, vs, ve), _str(buf, ns, ne), None)
    if t == 0x80:
        body.password = bytes(buf[as_:ae])
    elif t == 0xA3:
        ms, me = _expect(buf, as_, ae, 0x04)
        body.sasl_mechanism = _str(buf, ms, me)
        if me < ae:
            cs, ce = _expect(buf, me, ae, 0x04)
            if ce != ae:
                raise DecodeError("trailing bytes in SaslCredentials")
            body.sasl_credentials = bytes(buf[cs:ce])
    elif t in _SICILY:
        body.sicily = t
        body.sicily_token = bytes(buf[as_:ae])
    else:
        raise DecodeError("unknown AuthenticationChoice")
    return body


def _unbind(buf: memoryview, s: int, e: int) -> None:
    return None


def _search(buf: memoryview, s: int, e: int) -> SearchBody:
    bs, be = _expect(buf, s, e, 0x04)
    ss, se = _expect(buf, be, e, 0x0A)
    ds, de = _expect(buf, se, e, 0x0A)
    zs, ze = _expect(buf, de, e, 0x02)
    ts, te = _expect(buf, ze, e, 0x02)
    os_, oe = _expect(buf, te, e, 0x01)
    filt, fe = _filter(buf, oe, e, 0)
    as_, ae = _expect(buf, fe, e, 0x30)
    if ae != e:
        raise DecodeError("trailing bytes in SearchRequest")
    attrs = []
    p = as_
    while p < ae:
        xs, xe = _expect(buf, p, ae, 0x04)
        attrs.append(_str(buf, xs, xe))
        p = xe
    return SearchBody(
        _str(buf, bs, be),
        _int(buf, ss, se),
        _int(buf, ds, de),
        _int(buf, zs, ze),
        _int(buf, ts, te),
        _bool(buf, os_, oe),
        filt,
        attrs,
    )


def _values(buf: memoryview, s: int, e: int) -> tuple[bytes, ...]:
    out = []
    while s < e:
        vs, ve = _expect(buf, s, e, 0x04)
        out.append(bytes(buf[vs:ve]))
        s = ve
    return tuple(out)


def _partial_attribute(buf: memoryview, pos: int, end: int) -> tuple[str, tuple[bytes, ...], int]:
    s, e = _expect(buf, pos, end, 0x30)
    ts, te = _expect(buf, s, e, 0x04)
    vs, ve = _expect(buf, te, e, 0x31)
    if ve != e:
        raise DecodeError("trailing bytes in attribute")
    return _str(buf, ts, te), _values(buf, vs, ve), e


def _modify(buf: memoryview, s: int, e: int) -> tuple[str, list[tuple[int, str, tuple[bytes, ...]]]]:
    ds, de = _expect(buf, s, e, 0x04)
    cs, ce = _expect(buf, de, e, 0x30)
    if ce != e:
        raise DecodeError("trailing bytes in ModifyRequest")
    changes = []
    p = cs
    while p < ce:
        xs, xe = _expect(buf, p, ce, 0x30)
        os_, oe = _expect(buf, xs, xe, 0x0A)
        name, values, ae = _partial_attribute(buf, oe, xe)
        if ae != xe:
            raise DecodeError("trailing bytes in change")
        changes.append((_int(buf, os_, oe), name, values))
        p = xe
    return _str(buf, ds, de), changes


def _add(buf: memoryview, s: int, e: int) -> tuple[str, list[tuple[str, tuple[bytes, ...]]]]:
    ds, de = _expect(buf, s, e, 0x04)
    ls, le = _expect(buf, de, e, 0x30)
    if le != e:
        raise DecodeError("trailing bytes in AddRequest")
    attrs = []
    p = ls
    while p < le:
        name, values, p = _partial_attribute(buf, p, le)
        attrs.append((name, values))
    return _str(buf, ds, de), attrs


def _delete(buf: memoryview, s: int, e: int) -> str:
    return _str(buf, s, e)


def _moddn(buf: memoryview, s: int, e: int) -> ModDNBody:
    ds, de = _expect(buf, s, e, 0x04)
    rs, re_ = _expect(buf, de, e, 0x04)
    bs, be = _expect(buf, re_, e, 0x01)
    sup = None
    if be < e:
        ss, se = _expect(buf, be, e, 0x80)
        if se != e:
            raise DecodeError("trailing bytes in ModifyDNRequest")
        sup = _str(buf, ss, se)
    return ModDNBody(_str(buf, ds, de), _str(buf, rs, re_), _bool(buf, bs, be), sup)


def _compare(buf: memoryview, s: int, e: int) -> tuple[str, str, bytes]:
    ds, de = _expect(buf, s, e, 0x04)
    as_, ae = _expect(buf, de, e, 0x30)
    if ae != e:
        raise DecodeError("trailing bytes in CompareRequest")
    ts, te = _expect(buf, as_, ae, 0x04)
    vs, ve = _expect(buf, te, ae, 0x04)
    if ve != ae:
        raise DecodeError("bad AttributeValueAssertion")
    return _str(buf, ds, de), _str(buf, ts, te), bytes(buf[vs:ve])


def _abandon(buf: memoryview, s: int, e: int) -> int:
    return _int(buf, s, e)


def _extended(buf: memoryview, s: int, e: int) -> ExtendedBody:
    ns, ne = _expect(buf, s, e, 0x80)
    value = None
    if ne < e:
        vs, ve = _expect(buf, ne, e, 0x81)
        if ve != e:
            raise DecodeError("trailing bytes in ExtendedRequest")
        value = bytes(buf[vs:ve])
    return ExtendedBody(_str(buf, ns, ne), value)


_DECODERS = {
    BIND_REQUEST: _bind,
    UNBIND_REQUEST: _unbind,
    SEARCH_REQUEST: _search,
    MODIFY_REQUEST: _modify,
    ADD_REQUEST: _add,
    DEL_REQUEST: _delete,
    MODDN_REQUEST: _moddn,
    COMPARE_REQUEST: _compare,
    ABANDON_REQUEST: _abandon,
    EXTENDED_REQUEST: _extended,
}

# Filter tree (see fakes.ad.ldap.filters): ("and", [f...]) ("or", [f...]) ("not", f)
# ("eq"|"ge"|"le"|"approx", attr, value) ("present", attr)
# ("substrings", attr, initial|None, [any...], final|None) ("ext", rule|None, attr|None, value, dn_attrs)
_AVA_KINDS = {0xA3: "eq", 0xA5: "ge", 0xA6: "le", 0xA8: "approx"}


def _filter(buf: memoryview, pos: int, end: int, depth: int) -> tuple[tuple, int]:
    if depth > MAX_FILTER_DEPTH:
        raise DecodeError("filter nested too deeply")
    t, s, e = _tlv(buf, pos, end)
    if t in (0xA0, 0xA1):
        items = []
        p = s
        while p < e:
            f, p = _filter(buf, p, e, depth + 1)
            items.append(f)
        return ("and" if t == 0xA0 else "or", items), e
    if t == 0xA2:
        f, p = _filter(buf, s, e, depth + 1)
        if p != e:
            raise DecodeError("trailing bytes in not filter")
        return ("not", f), e
    kind = _AVA_KINDS.get(t)
    if kind is not None:
        as_, ae = _expect(buf, s, e, 0x04)
        vs, ve = _expect(buf, ae, e, 0x04)
        if ve != e:
            raise DecodeError("bad AttributeValueAssertion")
        return (kind, _str(buf, as_, ae), bytes(buf[vs:ve])), e
    if t == 0x87:
        return ("present", _str(buf, s, e)), e
    if t == 0xA4:
        as_, ae = _expect(buf, s, e, 0x04)
        ls, le = _expect(buf, ae, e, 0x30)
        if le != e or ls == le:
            raise DecodeError("bad substrings filter")
        initial, final, anys = None, None, []
        p = ls
        while p < le:
            st, vs, ve = _tlv(buf, p, le)
            value = bytes(buf[vs:ve])
            if st == 0x80 and initial is None and not anys and final is None:
                initial = value
            elif st == 0x81 and final is None:
                anys.append(value)
            elif st == 0x82 and final is None:
                final = value
            else:
                raise DecodeError("bad substring element")
            p = ve
        return ("substrings", _str(buf, as_, ae), initial, anys, final), e
    if t == 0xA9:
        rule = attr = None
        value = None
        dn_attrs = False
        p = s
        while p < e:
            st, vs, ve = _tlv(buf, p, e)
            if st == 0x81:
                rule = _str(buf, vs, ve)
            elif st == 0x82:
                attr = _str(buf, vs, ve)
            elif st == 0x83:
                value = bytes(buf[vs:ve])
            elif st == 0x84:
                dn_attrs = _bool(buf, vs, ve)
            else:
                raise DecodeError("bad extensible match")
            p = ve
        if value is None or (rule is None and attr is None):
            raise DecodeError("extensible match needs a value and a rule or type")
        return ("ext", rule, attr, value, dn_attrs), e
    raise DecodeError(f"unknown filter tag 0x{t:02x}")
