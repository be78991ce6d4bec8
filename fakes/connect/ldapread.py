"""A lean paged-search reader for the sync engine's import: raw BER, only what sync needs.

The agent still talks real LDAP (RFC 4511 over the ldap3 connection's socket, TLS and
framing included, with the RFC 2696 / MS paged-results control): ldap3 encodes and sends the
SearchRequest and splits the byte stream into LDAPMessages. What this module replaces is
ldap3's generic response decoding, which turns every value into formatted Python objects
through a case-insensitive dict and dominated a big initial sync (profile in docs/images.md).
Here each searchResEntry becomes ``(dn, {lowercase attribute: [raw bytes, ...]})`` in one
pass over the BER, which is all the sync rules read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ldap3


# BER tags (RFC 4511 section 4): LDAPMessage SEQUENCE, protocolOp [APPLICATION n], controls [0].
_SEQUENCE, _INTEGER, _OCTETS, _ENUMERATED, _SET, _BOOLEAN = 0x30, 0x02, 0x04, 0x0A, 0x31, 0x01
_SEARCH_ENTRY, _SEARCH_DONE, _SEARCH_REF, _CONTROLS = 0x64, 0x65, 0x73, 0xA0
PAGED_RESULTS_OID = b"1.2.840.113556.1.4.319"


class BerError(ValueError):
    """A response the reader cannot parse (a protocol error, reported like one)."""


def _header(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content length, content start) of the TLV at ``pos`` (definite lengths only, as LDAP)."""
    try:
        tag = buf[pos]
        length = buf[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(buf[pos:pos + count], "big")
            pos += count
    except IndexError as exc:
        raise BerError("truncated BER element") from exc
    if pos + length > len(buf):
        raise BerError("BER element longer than its message")
    return tag, length, pos


def _children(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    pos = start
    while pos < end:
        tag, length, content = _header(buf, pos)
        yield tag, content, content + length
        pos = content + length


def parse_entry(buf: bytes, start: int, end: int) -> tuple[str, dict[str, list[bytes]]]:
    """A searchResEntry's content: objectName and its attributes (names lowercased, raw values).

    The general reader (every value of every attribute); the sync's import uses the leaner
    :func:`first_values_parser`.
    """
    try:
        (_, dn_start, dn_end), (_, attrs_start, attrs_end) = islice(_children(buf, start, end), 2)
        attrs: dict[str, list[bytes]] = {}
        for _, attribute_start, attribute_end in _children(buf, attrs_start, attrs_end):
            # PartialAttribute ::= SEQUENCE { type AttributeDescription, vals SET OF value }
            (_, name_start, name_end), (_, set_start, set_end) = islice(
                _children(buf, attribute_start, attribute_end), 2)
            raw_name = buf[name_start:name_end]
            values = _children(buf, set_start, set_end)
            attrs[_NAMES.get(raw_name) or _name(raw_name)] = [buf[s:e] for _, s, e in values]
    except (IndexError, ValueError) as exc:  # an element cut short, or one missing
        if isinstance(exc, BerError | UnicodeDecodeError):
            raise
        raise BerError("truncated searchResEntry") from exc
    dn = buf[dn_start:dn_end].decode("utf-8")
    if attrs_end > end:
        raise BerError("searchResEntry longer than its message")
    return dn, attrs


FirstValues = tuple[str, list[bytes | None]]  # (dn, each asked-for attribute's first value or None)


def first_values_parser(attributes: Sequence[str]) -> Callable[[bytes, int, int], FirstValues]:
    """A searchResEntry parser for a reader that uses only each attribute's first value.

    The parser returns ``(dn, first)``: ``first[i]`` is the first raw value of ``attributes[i]``
    (names matched case-insensitively, as :func:`parse_entry` lowercases them), None when the
    entry does not hold it or holds it with no value. An attribute sent twice counts as
    :func:`parse_entry`'s dict does: the last one. Other attributes and further values are
    skipped unread: at 100k users this is half the work of :func:`parse_entry` plus a dict.
    """
    slot_of = {a.lower(): i for i, a in enumerate(attributes)}
    slots: dict[bytes, int] = {}  # an attribute type as sent -> its slot, or -1: not asked for
    count = len(attributes)

    def parse(buf: bytes, start: int, end: int) -> FirstValues:
        try:
            # objectName, then the attribute list: their headers read inline (short and two-byte
            # lengths, the usual ones), other forms through _header.
            length = buf[start + 1]
            if length < 0x80:
                pos = start + 2
            else:
                _, length, pos = _header(buf, start)
            if pos + length > end:
                raise BerError("BER element longer than its message")
            dn = buf[pos:pos + length].decode("utf-8")
            pos += length
            length = buf[pos + 1]
            if length == 0x82:
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                pos += 4
            elif length < 0x80:
                pos += 2
            else:
                _, length, pos = _header(buf, pos)
            attrs_end = pos + length
            if attrs_end > len(buf):
                raise BerError("BER element longer than its message")
            first: list[bytes | None] = [None] * count
            while pos < attrs_end:
                # PartialAttribute ::= SEQUENCE { type AttributeDescription, vals SET OF value }
                length = buf[pos + 1]
                if length < 0x80:
                    pos += 2
                else:
                    _, length, pos = _header(buf, pos)
                attribute_end = pos + length
                length = buf[pos + 1]
                if length < 0x80:
                    pos += 2
                else:
                    _, length, pos = _header(buf, pos)
                raw_name = buf[pos:pos + length]
                slot = slots.get(raw_name)
                if slot is None:
                    slot = slot_of.get(_name(raw_name), -1)
                    if len(slots) < 4096:  # (as _NAMES: spellings of schema names, bounded anyway)
                        slots[raw_name] = slot
                if slot >= 0:
                    pos += length
                    length = buf[pos + 1]
                    if length < 0x80:
                        pos += 2
                    else:
                        _, length, pos = _header(buf, pos)
                    if length:
                        length = buf[pos + 1]
                        if length < 0x80:
                            pos += 2
                        else:
                            _, length, pos = _header(buf, pos)
                        first[slot] = buf[pos:pos + length]
                    else:
                        first[slot] = None
                pos = attribute_end
        except IndexError as exc:
            raise BerError("truncated searchResEntry") from exc
        if pos > end:
            raise BerError("searchResEntry longer than its message")
        return dn, first

    return parse


def _name(raw: bytes) -> str:
    name = raw.decode("utf-8").lower()
    if len(_NAMES) < 4096:  # attribute names are schema spellings; a bound all the same
        _NAMES[raw] = name
    return name


#: An attribute type as sent -> its lowercase name (the reader's dict keys).
_NAMES: dict[bytes, str] = {}


def parse_done(buf: bytes, start: int, end: int) -> tuple[int, str]:
    """A searchResDone's (resultCode, diagnosticMessage)."""
    elements = list(_children(buf, start, end))
    code = int.from_bytes(buf[elements[0][1]:elements[0][2]], "big")
    message = buf[elements[2][1]:elements[2][2]].decode("utf-8", "replace") if len(elements) > 2 else ""
    return code, message


def paged_cookie(buf: bytes, start: int, end: int) -> bytes:
    """The paged-results cookie in a controls element (b"" when absent: the last page)."""
    for _, c_start, c_end in _children(buf, start, end):
        # Control ::= SEQUENCE { controlType, criticality BOOLEAN DEFAULT FALSE, controlValue OPTIONAL }
        parts = list(_children(buf, c_start, c_end))
        if not parts or buf[parts[0][1]:parts[0][2]] != PAGED_RESULTS_OID:
            continue
        value = next((p for p in parts[1:] if p[0] == _OCTETS), None)
        if value is None:
            return b""
        # realSearchControlValue ::= SEQUENCE { size INTEGER, cookie OCTET STRING }
        _, seq_length, seq_start = _header(buf, value[1])
        inner = list(_children(buf, seq_start, seq_start + seq_length))
        return buf[inner[1][1]:inner[1][2]] if len(inner) >= 2 else b""
    return b""


def paged_search(conn: ldap3.Connection, base: str, search_filter: str, attributes: list[str],
                 page_size: int, parse: Callable[[bytes, int, int], tuple[str, Any]] = parse_entry,
                 ) -> Iterator[tuple[str, Any] | tuple[int, str]]:
    """Yield ``(dn, attrs)`` for every entry of a paged SUBTREE search, then ``(resultCode, message)``.

    ``attrs`` is what ``parse`` makes of the searchResEntry: :func:`parse_entry`'s dict, or the
    first values of a :func:`first_values_parser`.

    Stops at the first page whose result is not success (the caller maps the code). Each page is
    received whole (the DC sends a page at once), the request for the next page is sent as soon as
    this page's searchResDone brings the cookie, and only then are this page's entries decoded: a
    DC in another process encodes the next page while this one is read.
    """
    message_id = _request_page(conn, base, search_filter, attributes, page_size, b"")
    strategy = conn.strategy
    while True:
        entries: list[tuple[bytes, int, int]] = []
        done: tuple[int, str] | None = None
        cookie = b""
        try:
            for buf, start, end in _responses(conn):
                tag, op_start, op_end, msg_end = _locate(buf, start, end, message_id)
                if tag == _SEARCH_ENTRY:
                    entries.append((buf, op_start, op_end))
                elif tag == _SEARCH_DONE:
                    done, cookie = _done(buf, op_start, op_end, msg_end)
                    break
        finally:
            strategy._outstanding.pop(message_id, None)  # ldap3 keeps the request until a response is read
        if done is None:
            raise BerError("connection closed during the search")
        conn.result = {"result": done[0], "message": done[1], "type": "searchResDone"}
        last = done[0] != 0 or not cookie
        if not last:
            message_id = _request_page(conn, base, search_filter, attributes, page_size, cookie)
        for buf, op_start, op_end in entries:
            yield parse(buf, op_start, op_end)
        if last:
            yield done
            return


def _request_page(conn: ldap3.Connection, base: str, search_filter: str, attributes: list[str],
                  page_size: int, cookie: bytes) -> int:
    """Send one page's SearchRequest (with the paged-results control); its message ID."""
    import ldap3
    from ldap3.operation.search import search_operation
    from ldap3.protocol.rfc2696 import paged_search_control

    request = search_operation(base, search_filter, ldap3.SUBTREE, ldap3.DEREF_NEVER, attributes, 0, 0,
                               False, conn.auto_escape, conn.auto_encode, None, validator=None,
                               check_names=False)
    return conn.send("searchRequest", request, [paged_search_control(False, page_size, cookie)])


_RECV_SIZE = 65536


def _responses(conn: ldap3.Connection) -> Iterator[tuple[bytes, int, int]]:
    """``(buffer, start, end)`` of each LDAPMessage the server sends, until it stops sending.

    Reads the connection's own socket (TLS included) in big chunks and hands out each message
    in place: ldap3's receiving() copies every message and the rest of its buffer, which costs
    as much as decoding at 100k entries. A SASL-wrapped session (not the connector's simple
    bind) goes through ldap3's receiving(), which unwraps it.
    """
    if conn.sasl_mechanism is not None:
        while messages := conn.strategy.receiving():
            for raw in messages:
                yield raw, 0, len(raw)
        return
    sock = conn.socket
    buf = b""
    while True:
        try:
            data = sock.recv(_RECV_SIZE)
        except OSError as exc:
            from ldap3.core.exceptions import LDAPSocketReceiveError

            raise LDAPSocketReceiveError(f"error receiving data: {exc}") from exc
        if not data:
            return
        buf = buf + data if buf else data
        pos, size = 0, len(buf)
        while pos + 2 <= size:  # each complete LDAPMessage TLV in the buffer
            length = buf[pos + 1]
            content = pos + 2
            if length & 0x80:
                content += length & 0x7F
                if content > size:
                    break
                length = int.from_bytes(buf[pos + 2:content], "big")
            if content + length > size:
                break
            yield buf, pos, content + length
            pos = content + length
        buf = buf[pos:]


def _locate(raw: bytes, at: int, frame_end: int, message_id: int) -> tuple[int, int, int, int]:
    """(protocolOp tag, its content start and end, the message's end) of the LDAPMessage at
    ``raw[at:frame_end]``; tag 0 for a message of another request (or none)."""
    tag, length, start = _header(raw, at)
    if tag != _SEQUENCE:
        raise BerError("an LDAPMessage must be a SEQUENCE")
    end = start + length
    if end > frame_end:
        raise BerError("BER element longer than its message")
    # messageID, then protocolOp, then optional controls: read in place (one per entry), the
    # usual length forms inline (a message ID is short; an entry's protocolOp two-byte long).
    if start >= end:
        return 0, end, end, end
    try:
        id_length = raw[start + 1]
        if id_length < 0x80:
            id_start = start + 2
        else:
            _, id_length, id_start = _header(raw, start)
        op_at = id_start + id_length
        if op_at >= end or int.from_bytes(raw[id_start:op_at], "big") != message_id:
            return 0, end, end, end
        op_tag, op_length = raw[op_at], raw[op_at + 1]
        if op_length == 0x82:
            op_start = op_at + 4
            op_length = (raw[op_at + 2] << 8) | raw[op_at + 3]
        elif op_length < 0x80:
            op_start = op_at + 2
        else:
            op_tag, op_length, op_start = _header(raw, op_at)
    except IndexError as exc:
        raise BerError("truncated BER element") from exc
    if op_start + op_length > end:
        raise BerError("BER element longer than its message")
    return op_tag, op_start, op_start + op_length, end


def _done(raw: bytes, op_start: int, op_end: int, end: int) -> tuple[tuple[int, str], bytes]:
    """A searchResDone's (resultCode, diagnosticMessage) and its paged-results cookie."""
    controls = next((e for e in _children(raw, op_end, end) if e[0] == _CONTROLS), None)
    cookie = paged_cookie(raw, controls[1], controls[2]) if controls else b""
    return parse_done(raw, op_start, op_end), cookie


def _message(raw: bytes, at: int, frame_end: int, message_id: int) -> tuple[object, bytes]:
    """(entry, b"") for a searchResEntry, ((code, message), cookie) for searchResDone, (None, b"")
    else, for the LDAPMessage at ``raw[at:frame_end]``."""
    op_tag, op_start, op_end, end = _locate(raw, at, frame_end, message_id)
    if op_tag == _SEARCH_ENTRY:
        return parse_entry(raw, op_start, op_end), b""
    if op_tag == _SEARCH_DONE:
        return _done(raw, op_start, op_end, end)
    return None, b""  # searchResRef: sync does not chase referrals


__all__ = ["BerError", "first_values_parser", "paged_search", "parse_done", "parse_entry"]
