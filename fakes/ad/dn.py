"""Distinguished names (RFC 4514) the way Active Directory compares them.

A DN is parsed into a tuple of RDNs; each RDN is a tuple of ``(attribute, value)``
pairs (more than one pair for multi-valued RDNs joined with ``+``). Values are the
unescaped text. :func:`normalize_dn` gives the case-insensitive key the directory
indexes by: attribute types and values lowercased, values re-escaped canonically,
no spaces around separators. Inner whitespace in a value stays significant (AD
keeps ``John  Smith`` and ``John Smith`` as different names).

Provisioning builds 100k DNs, so plain DNs (no escapes, quotes or ``+``) take a
split-based fast path.
"""

from __future__ import annotations

import re

RDN = tuple[tuple[str, str], ...]

__all__ = [
    "RDN",
    "DNError",
    "dn_key",
    "escape_value",
    "first_rdn",
    "format_dn",
    "is_descendant",
    "normalize_dn",
    "normalize_rdn",
    "parent_dn",
    "parse_dn",
    "rdn_string",
    "rdn_with_key",
    "unescape_value",
]


class DNError(ValueError):
    """The text is not a valid distinguished name; the message says where and why."""


# Characters the fast path cannot handle: escapes, quoting, multi-valued RDNs, '#hex'.
_SLOW_CHARS = re.compile(r'[\\"+#<>;\x00]')
_ATTR_RE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)$")
# RFC 4514 special characters plus '=' (AD escapes it too) and CR/LF which AD writes as hex.
_SPECIAL = frozenset(',+"\\<>;=')
_HEX_ESCAPE = {"\n": "\\0A", "\r": "\\0D", "\x00": "\\00"}
_NEEDS_ESCAPE = _SPECIAL | frozenset(_HEX_ESCAPE)


def escape_value(value: str) -> str:
    """Escape an attribute value for use in a DN string (RFC 4514 section 2.4)."""
    if not value:
        return ""
    if _NEEDS_ESCAPE.isdisjoint(value) and value[0] not in " #" and value[-1] != " ":
        return value
    out: list[str] = []
    last = len(value) - 1
    for i, ch in enumerate(value):
        if ch in _SPECIAL or (i == 0 and ch in " #") or (i == last and ch == " "):
            out.append("\\" + ch)
        elif ch in _HEX_ESCAPE:
            out.append(_HEX_ESCAPE[ch])
        else:
            out.append(ch)
    return "".join(out)


def rdn_string(attr: str, value: str) -> str:
    """``attr=value`` with the value escaped, e.g. ``rdn_string("CN", "Smith, John")``."""
    return f"{attr}={escape_value(value)}"


def rdn_with_key(attr: str, value: str) -> tuple[str, str]:
    """``(rdn_string(attr, value), normalize_rdn(that))`` computed together (bulk creation)."""
    escaped = escape_value(value)
    rdn = f"{attr}={escaped}"
    # A value that needs no escaping and has no '#' takes normalize_rdn's fast path, whose
    # result is then just the lowercased text.
    if escaped is value and "#" not in value and (attr in _GOOD_ATTRS or _good_attr(attr)):
        return rdn, f"{attr.lower()}={value.lower()}"
    return rdn, normalize_rdn(rdn)


_GOOD_ATTRS: set[str] = set()  # attribute types already matched by _ATTR_RE (a handful: CN, OU, ...)


def _good_attr(attr: str) -> bool:
    if _ATTR_RE.match(attr) is None:
        return False
    if len(_GOOD_ATTRS) < 256:
        _GOOD_ATTRS.add(attr)
    return True


def _check_attr(attr: str, text: str) -> str:
    if not _ATTR_RE.match(attr):
        raise DNError(f"invalid attribute type {attr!r} in DN {text!r}")
    return attr


def _decode_hexstring(hexpart: str, text: str) -> str:
    """Decode an RFC 4514 ``#hex`` value (the BER encoding of the value)."""
    try:
        raw = bytes.fromhex(hexpart)
    except ValueError:
        raise DNError(f"invalid #hex value {hexpart!r} in DN {text!r}") from None
    # Unwrap a BER string TLV (octet/UTF8/printable/IA5) with a short length when present.
    if len(raw) >= 2 and raw[0] in (0x04, 0x0C, 0x13, 0x16) and raw[1] == len(raw) - 2:
        raw = raw[2:]
    return raw.decode("utf-8", errors="surrogateescape")


def unescape_value(raw: str, text: str = "") -> str:
    """Undo RFC 4514 escaping of one value (``\\,`` and ``\\2C`` style, UTF-8 aware)."""
    if "\\" not in raw:
        return raw
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        if i + 1 >= n:
            raise DNError(f"dangling backslash in DN {text or raw!r}")
        nxt = raw[i + 1]
        pair = raw[i + 1 : i + 3]
        if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
            out.append(int(pair, 16))
            i += 3
        elif nxt in _SPECIAL or nxt in " #=":
            out += nxt.encode("utf-8")
            i += 2
        else:
            raise DNError(f"invalid escape '\\{nxt}' in DN {text or raw!r}")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise DNError(f"escaped bytes are not UTF-8 in DN {text or raw!r}") from None


def _parse_slow(text: str) -> tuple[RDN, ...]:
    """Character-level RFC 4514 parser for DNs with escapes, quotes, '+', or '#hex'."""
    rdns: list[RDN] = []
    current: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while True:
        # attribute type
        while i < n and text[i] == " ":
            i += 1
        start = i
        while i < n and text[i] not in "=,+;":
            i += 1
        if i >= n or text[i] != "=":
            raise DNError(f"missing '=' after {text[start:i].strip()!r} in DN {text!r}")
        attr = _check_attr(text[start:i].strip(), text)
        i += 1
        while i < n and text[i] == " ":
            i += 1
        # value
        if i < n and text[i] == "#":
            start = i + 1
            while i < n and text[i] not in ",+;":
                i += 1
            value = _decode_hexstring(text[start:i].rstrip(" "), text)
        elif i < n and text[i] == '"':
            i += 1
            buf: list[str] = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    buf.append(text[i : i + 2])
                    i += 2
                else:
                    buf.append(text[i])
                    i += 1
            if i >= n:
                raise DNError(f"unterminated quoted value in DN {text!r}")
            i += 1
            value = unescape_value("".join(buf), text)
            while i < n and text[i] == " ":
                i += 1
        else:
            start = i
            while i < n and text[i] not in ",+;":
                if text[i] == "\\":
                    i += 2
                else:
                    if text[i] in '"<>' or text[i] == "\x00":
                        raise DNError(f"unescaped {text[i]!r} in DN {text!r}")
                    i += 1
            raw = text[start:i]
            # Trailing spaces are insignificant unless escaped ("\ ").
            stripped = raw.rstrip(" ")
            if stripped.endswith("\\") and len(stripped) < len(raw):
                stripped += " "
            value = unescape_value(stripped, text)
        current.append((attr, value))
        if i >= n:
            rdns.append(tuple(current))
            return tuple(rdns)
        sep = text[i]
        i += 1
        if sep in ",;":
            rdns.append(tuple(current))
            current = []
            if i >= n:
                raise DNError(f"DN ends with a separator: {text!r}")


def parse_dn(text: str) -> tuple[RDN, ...]:
    """Parse ``text`` into RDNs, most specific first. The empty DN (rootDSE) is ``()``."""
    if not text or not text.strip():
        return ()
    if _SLOW_CHARS.search(text) is None:
        rdns: list[RDN] = []
        for part in text.split(","):
            attr, eq, value = part.partition("=")
            if not eq:
                raise DNError(f"missing '=' in RDN {part.strip()!r} of DN {text!r}")
            rdns.append(((_check_attr(attr.strip(), text), value.strip(" ")),))
        return tuple(rdns)
    return _parse_slow(text)


def format_dn(rdns: tuple[RDN, ...]) -> str:
    """Render parsed RDNs back into a DN string (attribute case preserved)."""
    return ",".join("+".join(rdn_string(a, v) for a, v in rdn) for rdn in rdns)


def _norm_rdn(rdn: RDN) -> str:
    pairs = sorted((a.lower(), escape_value(v.lower())) for a, v in rdn)
    return "+".join(f"{a}={v}" for a, v in pairs)


def normalize_rdn(rdn: str) -> str:
    """Case-insensitive key of one RDN (``"CN=Smith\\, J"`` -> ``"cn=smith\\, j"``)."""
    if _SLOW_CHARS.search(rdn) is None and "," not in rdn:
        attr, eq, value = rdn.partition("=")
        if eq and _ATTR_RE.match(attr.strip()):
            return f"{attr.strip().lower()}={escape_value(value.strip(' ').lower())}"
    parsed = parse_dn(rdn)
    if len(parsed) != 1:
        raise DNError(f"expected exactly one RDN, got {rdn!r}")
    return _norm_rdn(parsed[0])


# Normalized parent parts of recently seen simple DNs: most DNs normalized at scale (member values,
# search results) share a handful of parents, so only their first RDN needs work.
_TAIL_MEMO: dict[str, str] = {}
_TAIL_MEMO_MAX = 4096


def _norm_simple(text: str, whole: str) -> str:
    parts = []
    for part in text.split(","):
        attr, eq, value = part.partition("=")
        if not eq:
            raise DNError(f"missing '=' in RDN {part.strip()!r} of DN {whole!r}")
        attr = attr.strip()
        _check_attr(attr, whole)
        parts.append(f"{attr.lower()}={escape_value(value.strip(' ').lower())}")
    return ",".join(parts)


def normalize_dn(text: str) -> str:
    """The case-insensitive comparison key of a DN (see module docstring)."""
    if not text:
        return ""
    if _SLOW_CHARS.search(text) is None:
        head, comma, tail = text.partition(",")
        if not comma:
            return _norm_simple(text, text)
        nhead = _norm_simple(head, text)  # first, so a bad DN reports its leftmost error as before
        ntail = _TAIL_MEMO.get(tail)
        if ntail is None:
            ntail = _norm_simple(tail, text)
            if len(_TAIL_MEMO) >= _TAIL_MEMO_MAX:
                _TAIL_MEMO.clear()
            _TAIL_MEMO[tail] = ntail
        return f"{nhead},{ntail}"
    return ",".join(_norm_rdn(r) for r in _parse_slow(text))


def dn_key(value: str) -> str:
    """:func:`normalize_dn` of a DN-valued attribute's value, or the value itself when it is not
    a DN (a key that finds nothing, rather than an error)."""
    try:
        return normalize_dn(value)
    except ValueError:
        return value


def parent_dn(dn: str) -> str:
    """The DN of the parent entry ('' for a single-RDN DN), formatted canonically."""
    rdns = parse_dn(dn)
    return format_dn(rdns[1:])


def first_rdn(dn: str) -> str:
    """The leftmost RDN of ``dn`` as a string (``"CN=John Smith"``)."""
    rdns = parse_dn(dn)
    if not rdns:
        raise DNError("the empty DN has no RDN")
    return format_dn(rdns[:1])


def is_descendant(dn: str, ancestor: str) -> bool:
    """True when ``dn`` equals or lies below ``ancestor`` (normalized comparison)."""
    d, a = normalize_dn(dn), normalize_dn(ancestor)
    return not a or d == a or d.endswith("," + a)
