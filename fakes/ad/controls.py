"""LDAP control OIDs and BER codecs for the control values the fake DC understands.

Pure Python, no Twisted: the DC (:mod:`fakes.ad.dc`) decodes request control values
with these functions and encodes response control values the same way, and the LDAP
adapter (:mod:`fakes.ad.ldap`) only moves the raw bytes. The BER reader here is
deliberately strict (definite lengths only, no trailing bytes) because the values come
straight off the wire; anything malformed raises :class:`ControlValueError`.

``SUPPORTED_CONTROLS`` is the rootDSE ``supportedControl`` list of a Windows Server 2016
DC (domainControllerFunctionality 7), in the order such a DC returns it (taken from
published rootDSE captures of 2016-level DCs; 2019+ builds append .2330 and .2354).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# --- OIDs (names as in MS-ADTS 3.1.1.3.4.1) --------------------------------------------------
PAGED_RESULTS: Final = "1.2.840.113556.1.4.319"  # LDAP_PAGED_RESULT_OID_STRING (RFC 2696)
SD_FLAGS: Final = "1.2.840.113556.1.4.801"  # LDAP_SERVER_SD_FLAGS_OID
SORT: Final = "1.2.840.113556.1.4.473"  # LDAP_SERVER_SORT_OID
SORT_RESPONSE: Final = "1.2.840.113556.1.4.474"  # LDAP_SERVER_RESP_SORT_OID
SERVER_NOTIFICATION: Final = "1.2.840.113556.1.4.528"  # LDAP_SERVER_NOTIFICATION_OID
SHOW_DELETED: Final = "1.2.840.113556.1.4.417"  # LDAP_SERVER_SHOW_DELETED_OID
LAZY_COMMIT: Final = "1.2.840.113556.1.4.619"  # LDAP_SERVER_LAZY_COMMIT_OID
DIRSYNC: Final = "1.2.840.113556.1.4.841"  # LDAP_SERVER_DIRSYNC_OID
EXTENDED_DN: Final = "1.2.840.113556.1.4.529"  # LDAP_SERVER_EXTENDED_DN_OID
TREE_DELETE: Final = "1.2.840.113556.1.4.805"  # LDAP_SERVER_TREE_DELETE_OID
CROSSDOM_MOVE_TARGET: Final = "1.2.840.113556.1.4.521"  # LDAP_SERVER_CROSSDOM_MOVE_TARGET_OID
GET_STATS: Final = "1.2.840.113556.1.4.970"  # LDAP_SERVER_GET_STATS_OID
VERIFY_NAME: Final = "1.2.840.113556.1.4.1338"  # LDAP_SERVER_VERIFY_NAME_OID
DOMAIN_SCOPE: Final = "1.2.840.113556.1.4.1339"  # LDAP_SERVER_DOMAIN_SCOPE_OID
SEARCH_OPTIONS: Final = "1.2.840.113556.1.4.1340"  # LDAP_SERVER_SEARCH_OPTIONS_OID
PERMISSIVE_MODIFY: Final = "1.2.840.113556.1.4.1413"  # LDAP_SERVER_PERMISSIVE_MODIFY_OID
VLV_REQUEST: Final = "2.16.840.1.113730.3.4.9"  # LDAP_CONTROL_VLVREQUEST
VLV_RESPONSE: Final = "2.16.840.1.113730.3.4.10"  # LDAP_CONTROL_VLVRESPONSE
ASQ: Final = "1.2.840.113556.1.4.1504"  # LDAP_SERVER_ASQ_OID
QUOTA_CONTROL: Final = "1.2.840.113556.1.4.1852"  # LDAP_SERVER_QUOTA_CONTROL_OID
RANGE_OPTION: Final = "1.2.840.113556.1.4.802"  # LDAP_SERVER_RANGE_OPTION_OID
SHUTDOWN_NOTIFY: Final = "1.2.840.113556.1.4.1907"  # LDAP_SERVER_SHUTDOWN_NOTIFY_OID
RANGE_RETRIEVAL_NOERR: Final = "1.2.840.113556.1.4.1948"  # LDAP_SERVER_RANGE_RETRIEVAL_NOERR_OID
FORCE_UPDATE: Final = "1.2.840.113556.1.4.1974"  # LDAP_SERVER_FORCE_UPDATE_OID
RODC_DCPROMO: Final = "1.2.840.113556.1.4.1341"  # LDAP_SERVER_RODC_DCPROMO_OID
DN_INPUT: Final = "1.2.840.113556.1.4.2026"  # LDAP_SERVER_DN_INPUT_OID
SHOW_DEACTIVATED_LINK: Final = "1.2.840.113556.1.4.2065"  # LDAP_SERVER_SHOW_DEACTIVATED_LINK_OID
SHOW_RECYCLED: Final = "1.2.840.113556.1.4.2064"  # LDAP_SERVER_SHOW_RECYCLED_OID
POLICY_HINTS_DEPRECATED: Final = "1.2.840.113556.1.4.2066"  # LDAP_SERVER_POLICY_HINTS_DEPRECATED_OID
DIRSYNC_EX: Final = "1.2.840.113556.1.4.2090"  # LDAP_SERVER_DIRSYNC_EX_OID
UPDATE_STATS: Final = "1.2.840.113556.1.4.2205"  # LDAP_SERVER_UPDATE_STATS_OID
TREE_DELETE_EX: Final = "1.2.840.113556.1.4.2204"  # LDAP_SERVER_TREE_DELETE_EX_OID
SEARCH_HINTS: Final = "1.2.840.113556.1.4.2206"  # LDAP_SERVER_SEARCH_HINTS_OID
EXPECTED_ENTRY_COUNT: Final = "1.2.840.113556.1.4.2211"  # LDAP_SERVER_EXPECTED_ENTRY_COUNT_OID
POLICY_HINTS: Final = "1.2.840.113556.1.4.2239"  # LDAP_SERVER_POLICY_HINTS_OID
SET_OWNER: Final = "1.2.840.113556.1.4.2255"  # LDAP_SERVER_SET_OWNER_OID
BYPASS_QUOTA: Final = "1.2.840.113556.1.4.2256"  # LDAP_SERVER_BYPASS_QUOTA_OID
LINK_TTL: Final = "1.2.840.113556.1.4.2309"  # LDAP_SERVER_LINK_TTL_OID

#: rootDSE ``supportedControl`` of a Windows Server 2016 DC, in wire order.
SUPPORTED_CONTROLS: Final[tuple[str, ...]] = (
    PAGED_RESULTS,
    SD_FLAGS,
    SORT,
    SERVER_NOTIFICATION,
    SHOW_DELETED,
    LAZY_COMMIT,
    DIRSYNC,
    EXTENDED_DN,
    TREE_DELETE,
    CROSSDOM_MOVE_TARGET,
    GET_STATS,
    VERIFY_NAME,
    SORT_RESPONSE,
    DOMAIN_SCOPE,
    SEARCH_OPTIONS,
    PERMISSIVE_MODIFY,
    VLV_REQUEST,
    VLV_RESPONSE,
    ASQ,
    QUOTA_CONTROL,
    RANGE_OPTION,
    SHUTDOWN_NOTIFY,
    RANGE_RETRIEVAL_NOERR,
    FORCE_UPDATE,
    RODC_DCPROMO,
    DN_INPUT,
    SHOW_RECYCLED,
    SHOW_DEACTIVATED_LINK,
    POLICY_HINTS_DEPRECATED,
    DIRSYNC_EX,
    UPDATE_STATS,
    TREE_DELETE_EX,
    SEARCH_HINTS,
    EXPECTED_ENTRY_COUNT,
    POLICY_HINTS,
    SET_OWNER,
    BYPASS_QUOTA,
    LINK_TTL,
)

#: Extended operations a 2016 DC lists in ``supportedExtension`` that this lab implements.
STARTTLS: Final = "1.3.6.1.4.1.1466.20037"
WHOAMI: Final = "1.3.6.1.4.1.4203.1.11.3"
#: ``supportedExtension`` as advertised by the lab (a real DC also lists TTL refresh,
#: fast concurrent bind and batch request; those are not implemented here).
SUPPORTED_EXTENSIONS: Final[tuple[str, ...]] = (STARTTLS, WHOAMI)

# SD flags bits (MS-ADTS 3.1.1.3.4.1.11).
OWNER_SECURITY_INFORMATION: Final = 0x1
GROUP_SECURITY_INFORMATION: Final = 0x2
DACL_SECURITY_INFORMATION: Final = 0x4
SACL_SECURITY_INFORMATION: Final = 0x8
SD_FLAGS_ALL: Final = 0xF

# Policy hints flag (MS-ADTS 3.1.1.3.4.1.27): enforce history (and, as Samba/Entra do, min age) on a set.
POLICY_HINTS_ENFORCE: Final = 0x1

_MAX_LEN = 1 << 24  # a control value larger than 16 MB is nonsense; refuse before slicing


class ControlValueError(ValueError):
    """A control value is not the BER the control's definition requires."""


# --- minimal strict BER ---------------------------------------------------------------------


def _read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """Read one TLV at ``pos``; return (tag, value_start, value_end). Definite lengths only."""
    if pos + 2 > len(data):
        raise ControlValueError("truncated BER element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ControlValueError("multi-byte BER tags are not used by any control")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0:
            raise ControlValueError("indefinite BER length is not allowed in LDAP")
        if count > 4 or pos + count > len(data):
            raise ControlValueError("bad BER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if length > _MAX_LEN or pos + length > len(data):
        raise ControlValueError("BER length runs past the end of the value")
    return tag, pos, pos + length


def ber_length(length: int) -> bytes:
    """BER definite length octets (short form below 128, long form above: the fewest octets)."""
    if length < 0x80:
        if length < 0:
            raise ValueError(f"negative BER length {length}")
        return _SHORT_FORM[length]
    if length < 0x100:
        return b"\x81" + _SHORT_FORM_BYTE[length]
    if length < 0x10000:
        return b"\x82" + length.to_bytes(2, "big")
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


_SHORT_FORM = tuple(bytes((n,)) for n in range(0x80))
_SHORT_FORM_BYTE = tuple(bytes((n,)) for n in range(0x100))


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + ber_length(len(value)) + value


def ber_integer(value: int) -> bytes:
    """BER INTEGER (tag 0x02), minimal two's-complement body."""
    size = max(1, (value + (value < 0)).bit_length() // 8 + 1)
    return _tlv(0x02, value.to_bytes(size, "big", signed=True))


def ber_octets(value: bytes) -> bytes:
    """BER OCTET STRING (tag 0x04)."""
    return _tlv(0x04, value)


def ber_sequence(*elements: bytes) -> bytes:
    """BER SEQUENCE (tag 0x30) of already-encoded elements."""
    return _tlv(0x30, b"".join(elements))


def _sequence_items(value: bytes | None, what: str) -> list[tuple[int, bytes]]:
    """The (tag, body) items of a value that must be exactly one SEQUENCE."""
    if value is None:
        raise ControlValueError(f"{what} control needs a value")
    tag, start, end = _read_tlv(value, 0)
    if tag != 0x30:
        raise ControlValueError(f"{what} control value is not a SEQUENCE")
    if end != len(value):
        raise ControlValueError(f"trailing bytes after the {what} control value")
    items: list[tuple[int, bytes]] = []
    pos = start
    while pos < end:
        itag, istart, iend = _read_tlv(value, pos)
        items.append((itag, value[istart:iend]))
        pos = iend
    return items


def _integer(tag: int, body: bytes, what: str) -> int:
    if tag != 0x02 or not body:
        raise ControlValueError(f"{what}: expected an INTEGER")
    return int.from_bytes(body, "big", signed=True)


def _single_int(value: bytes | None, what: str) -> int:
    items = _sequence_items(value, what)
    if len(items) != 1:
        raise ControlValueError(f"{what} control value must hold exactly one INTEGER")
    return _integer(*items[0], what)


# --- paged results (RFC 2696) ----------------------------------------------------------------


def decode_paged(value: bytes | None) -> tuple[int, bytes]:
    """Decode ``SEQUENCE { size INTEGER, cookie OCTET STRING }`` into (size, cookie)."""
    items = _sequence_items(value, "paged results")
    if len(items) != 2:
        raise ControlValueError("paged results control value must hold size and cookie")
    size = _integer(*items[0], "paged results size")
    tag, cookie = items[1]
    if tag != 0x04:
        raise ControlValueError("paged results cookie must be an OCTET STRING")
    if size < 0:
        raise ControlValueError("paged results size must not be negative")
    return size, cookie


def encode_paged(size: int, cookie: bytes) -> bytes:
    """Encode a paged-results value (request page size, or response size estimate + cookie)."""
    return ber_sequence(ber_integer(size), ber_octets(cookie))


# --- DirSync (MS-ADTS 3.1.1.3.4.1.3) ---------------------------------------------------------

DIRSYNC_OBJECT_SECURITY: Final = 0x1  # LDAP_DIRSYNC_OBJECT_SECURITY: read as the caller, no right needed
DIRSYNC_ANCESTORS_FIRST_ORDER: Final = 0x800  # LDAP_DIRSYNC_ANCESTORS_FIRST_ORDER: parents first
DIRSYNC_PUBLIC_DATA_ONLY: Final = 0x2000  # LDAP_DIRSYNC_PUBLIC_DATA_ONLY: no effect (2003 and later)
DIRSYNC_INCREMENTAL_VALUES: Final = 0x80000000  # LDAP_DIRSYNC_INCREMENTAL_VALUES


def decode_dirsync(value: bytes | None) -> tuple[int, int, bytes]:
    """Decode ``DirSyncRequestValue ::= SEQUENCE { Flags INTEGER, MaxBytes INTEGER, Cookie
    OCTET STRING }`` into (flags as the 32-bit unsigned value they are, MaxBytes, cookie).

    Flags is a ULONG sent as an INTEGER: a client may send 0x80000000 as four bytes (a negative
    INTEGER) or five; both mean the same flag."""
    items = _sequence_items(value, "DirSync")
    if len(items) != 3:
        raise ControlValueError("DirSync control value must hold flags, MaxBytes and a cookie")
    flags = _integer(*items[0], "DirSync flags") & 0xFFFFFFFF
    max_bytes = _integer(*items[1], "DirSync MaxBytes")
    tag, cookie = items[2]
    if tag != 0x04:
        raise ControlValueError("DirSync cookie must be an OCTET STRING")
    return flags, max(max_bytes, 0), cookie


def encode_dirsync_response(more: bool, cookie: bytes) -> bytes:
    """``DirSyncResponseValue ::= SEQUENCE { MoreResults INTEGER, unused INTEGER (0), CookieServer
    OCTET STRING }``."""
    return ber_sequence(ber_integer(1 if more else 0), ber_integer(0), ber_octets(cookie))


# --- server-side sorting (RFC 2891) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SortKey:
    """One key of a sort request: the attribute (as sent), its ordering rule if any, the order."""

    attribute: str
    ordering_rule: str | None = None
    reverse: bool = False


def decode_sort(value: bytes | None) -> list[SortKey]:
    """Decode ``SortKeyList ::= SEQUENCE OF SEQUENCE { attributeType AttributeDescription,
    orderingRule [0] MatchingRuleId OPTIONAL, reverseOrder [1] BOOLEAN DEFAULT FALSE }``."""
    keys = []
    for tag, body in _sequence_items(value, "sort"):
        if tag != 0x30:
            raise ControlValueError("a sort key is not a SEQUENCE")
        parts = _sequence_items(_tlv(0x30, body), "sort key")
        if not parts or parts[0][0] != 0x04 or not parts[0][1]:
            raise ControlValueError("a sort key must start with its attribute type")
        rule: str | None = None
        reverse = False
        for ptag, pbody in parts[1:]:
            if ptag == 0x80 and rule is None and not reverse:
                rule = pbody.decode("utf-8", "replace")
            elif ptag == 0x81 and len(pbody) == 1 and not reverse:
                reverse = pbody != b"\x00"
            else:
                raise ControlValueError("a sort key holds an element RFC 2891 does not define")
        keys.append(SortKey(parts[0][1].decode("utf-8", "replace"), rule, reverse))
    if not keys:
        raise ControlValueError("a sort request needs a key")
    return keys


def encode_sort_result(result: int, attribute: str | None = None) -> bytes:
    """``SortResult ::= SEQUENCE { sortResult ENUMERATED, attributeType [0] AttributeDescription
    OPTIONAL }`` (the LDAP_SERVER_RESP_SORT_OID value)."""
    enumerated = _tlv(0x0A, ber_integer(result)[2:])
    return ber_sequence(enumerated, *([_tlv(0x80, attribute.encode())] if attribute else []))


def encode_sort(keys: list[SortKey]) -> bytes:
    """Encode a sort request (for tests and clients)."""
    return ber_sequence(*(
        ber_sequence(ber_octets(k.attribute.encode()),
                     *([_tlv(0x80, k.ordering_rule.encode())] if k.ordering_rule else []),
                     *([_tlv(0x81, b"\xff")] if k.reverse else []))
        for k in keys))


# --- SD flags (MS-ADTS 3.1.1.3.4.1.11) -------------------------------------------------------


def decode_sd_flags(value: bytes | None) -> int:
    """Decode ``SEQUENCE { Flags INTEGER }``. Flags 0 means all four parts (0xF), as on Windows."""
    flags = _single_int(value, "SD flags") & 0xFFFFFFFF
    return flags & SD_FLAGS_ALL or SD_FLAGS_ALL


def encode_sd_flags(flags: int) -> bytes:
    return ber_sequence(ber_integer(flags))


# --- policy hints (MS-ADTS 3.1.1.3.4.1.27 / .28) --------------------------------------------


def decode_policy_hints(value: bytes | None) -> int:
    """Decode ``PolicyHintsRequestValue ::= SEQUENCE { Flags INTEGER }`` (same for .2239 and .2066)."""
    return _single_int(value, "policy hints")


def encode_policy_hints(flags: int = POLICY_HINTS_ENFORCE) -> bytes:
    return ber_sequence(ber_integer(flags))


# --- extended DN and search options (value-carrying SEQUENCE { INTEGER }) ---------------------


def decode_extended_dn(value: bytes | None) -> int:
    """Extended DN: no value means format 0 (hex GUID/SID); else ``SEQUENCE { Flag INTEGER }``."""
    if not value:
        return 0
    return _single_int(value, "extended DN")


def encode_extended_dn(flag: int) -> bytes:
    return ber_sequence(ber_integer(flag))


def decode_search_options(value: bytes | None) -> int:
    """Search options: ``SEQUENCE { Flags INTEGER }`` (1 = DOMAIN_SCOPE, 2 = PHANTOM_ROOT)."""
    return _single_int(value, "search options")


def encode_search_options(flags: int) -> bytes:
    return ber_sequence(ber_integer(flags))
