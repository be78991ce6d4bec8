"""SDDL (security descriptor definition language) reader and writer for directory objects.

Output follows what Windows prints for AD objects: ``O:``, ``G:``, ``D:``, ``S:`` in that order, ACL
flags ``P``/``AR``/``AI``, rights as DS letter codes in the order CC DC LC SW RP WP DT LO CR SD RC WD
WO GA GX GW GR (hex ``0x...`` when a mask has other bits), lower-case GUIDs, SID aliases where one
exists. Input additionally accepts FA/FR/FW/FX/KA/KR/KW/KX, decimal/octal/hex masks, upper-case
GUIDs and any section order.
"""

from __future__ import annotations

import re
from uuid import UUID

from fakes.ad.sid import DOMAIN_ALIASES, SID_ALIASES, SidError, alias_for_sid, normalize_sid, sid_for_alias

from .constants import (
    ACCESS_ALLOWED_ACE_TYPE,
    ACCESS_ALLOWED_OBJECT_ACE_TYPE,
    ACCESS_DENIED_ACE_TYPE,
    ACCESS_DENIED_OBJECT_ACE_TYPE,
    CONTAINER_INHERIT_ACE,
    FAILED_ACCESS_ACE_FLAG,
    INHERIT_ONLY_ACE,
    INHERITED_ACE,
    NO_PROPAGATE_INHERIT_ACE,
    OBJECT_ACE_TYPES,
    OBJECT_INHERIT_ACE,
    SE_DACL_AUTO_INHERIT_REQ,
    SE_DACL_AUTO_INHERITED,
    SE_DACL_PRESENT,
    SE_DACL_PROTECTED,
    SE_SACL_AUTO_INHERIT_REQ,
    SE_SACL_AUTO_INHERITED,
    SE_SACL_PRESENT,
    SE_SACL_PROTECTED,
    SE_SELF_RELATIVE,
    SUCCESSFUL_ACCESS_ACE_FLAG,
    SYSTEM_AUDIT_ACE_TYPE,
    SYSTEM_AUDIT_OBJECT_ACE_TYPE,
)
from .descriptor import Ace, Acl, SecurityDescriptor, SecurityDescriptorError

__all__ = ["format_ace", "format_sddl", "parse_ace", "parse_sddl"]

ACE_TYPE_CODES: dict[str, int] = {
    "A": ACCESS_ALLOWED_ACE_TYPE,
    "D": ACCESS_DENIED_ACE_TYPE,
    "AU": SYSTEM_AUDIT_ACE_TYPE,
    "OA": ACCESS_ALLOWED_OBJECT_ACE_TYPE,
    "OD": ACCESS_DENIED_OBJECT_ACE_TYPE,
    "OU": SYSTEM_AUDIT_OBJECT_ACE_TYPE,
}
_ACE_TYPE_NAMES = {v: k for k, v in ACE_TYPE_CODES.items()}

ACE_FLAG_CODES: tuple[tuple[str, int], ...] = (
    ("OI", OBJECT_INHERIT_ACE),
    ("CI", CONTAINER_INHERIT_ACE),
    ("NP", NO_PROPAGATE_INHERIT_ACE),
    ("IO", INHERIT_ONLY_ACE),
    ("ID", INHERITED_ACE),
    ("SA", SUCCESSFUL_ACCESS_ACE_FLAG),
    ("FA", FAILED_ACCESS_ACE_FLAG),
)
_ACE_FLAG_MAP = dict(ACE_FLAG_CODES)
_ALL_ACE_FLAGS = 0
for _code, _bit in ACE_FLAG_CODES:
    _ALL_ACE_FLAGS |= _bit

RIGHT_CODES: tuple[tuple[str, int], ...] = (
    ("CC", 0x1), ("DC", 0x2), ("LC", 0x4), ("SW", 0x8), ("RP", 0x10), ("WP", 0x20), ("DT", 0x40),
    ("LO", 0x80), ("CR", 0x100), ("SD", 0x10000), ("RC", 0x20000), ("WD", 0x40000), ("WO", 0x80000),
    ("GA", 0x10000000), ("GX", 0x20000000), ("GW", 0x40000000), ("GR", 0x80000000),
)
#: File/registry aggregates (Sddl.h); accepted on read, FA/FR/FW/FX printed on exact match only.
AGGREGATE_RIGHT_CODES: dict[str, int] = {
    "FA": 0x001F01FF, "FR": 0x00120089, "FW": 0x00120116, "FX": 0x001200A0,
    "KA": 0x000F003F, "KR": 0x00020019, "KW": 0x00020006, "KX": 0x00020019,
}
_FILE_RIGHTS_OUT = {v: k for k, v in AGGREGATE_RIGHT_CODES.items() if k[0] == "F"}
_RIGHT_MAP = dict(RIGHT_CODES) | AGGREGATE_RIGHT_CODES
_LETTER_BITS = 0
for _code, _bit in RIGHT_CODES:
    _LETTER_BITS |= _bit

_SID_NUMERIC = re.compile(r"[sS]-1-(?:0[xX][0-9A-Fa-f]+|\d+)(?:-\d+)*")
_SECTION = re.compile(r"([OGDS]):")
_ALIAS_CODES = frozenset(SID_ALIASES) | frozenset(DOMAIN_ALIASES)


def _err(text: str, pos: int, why: str) -> SecurityDescriptorError:
    return SecurityDescriptorError(f"invalid SDDL at offset {pos}: {why} (in {text!r})")


# --- writing ---
def _format_sid(sid: str, domain_sid: str | None) -> str:
    return alias_for_sid(sid, domain_sid) or sid


def _format_rights(mask: int) -> str:
    if mask & ~_LETTER_BITS:
        named = _FILE_RIGHTS_OUT.get(mask)
        return named if named is not None else f"0x{mask:x}"
    return "".join(code for code, bit in RIGHT_CODES if mask & bit)


def format_ace(ace: Ace, domain_sid: str | None = None) -> str:
    """``(type;flags;rights;object_guid;inherit_object_guid;sid)``."""
    flags = "".join(code for code, bit in ACE_FLAG_CODES if ace.flags & bit)
    if ace.flags & ~_ALL_ACE_FLAGS:
        # Bits SDDL cannot name (0x20) would be lost; refuse rather than print a lie.
        raise SecurityDescriptorError(f"ACE flags 0x{ace.flags:02x} have bits SDDL cannot express")
    obj = str(ace.object_type) if ace.object_type is not None else ""
    inh = str(ace.inherited_object_type) if ace.inherited_object_type is not None else ""
    return (
        f"({_ACE_TYPE_NAMES[ace.ace_type]};{flags};{_format_rights(ace.mask)};{obj};{inh};"
        f"{_format_sid(ace.sid, domain_sid)})"
    )


def _format_acl_flags(control: int, protected: int, req: int, inherited: int) -> str:
    return ("P" if control & protected else "") + ("AR" if control & req else "") + (
        "AI" if control & inherited else ""
    )


def format_sddl(sd: SecurityDescriptor, domain_sid: str | None = None) -> str:
    """SDDL text of ``sd``."""
    parts: list[str] = []
    if sd.owner is not None:
        parts.append("O:" + _format_sid(sd.owner, domain_sid))
    if sd.group is not None:
        parts.append("G:" + _format_sid(sd.group, domain_sid))
    if sd.control & SE_DACL_PRESENT:
        parts.append("D:" + _format_acl(sd.control, sd.dacl, domain_sid, SE_DACL_PROTECTED,
                                        SE_DACL_AUTO_INHERIT_REQ, SE_DACL_AUTO_INHERITED))
    if sd.control & SE_SACL_PRESENT:
        parts.append("S:" + _format_acl(sd.control, sd.sacl, domain_sid, SE_SACL_PROTECTED,
                                        SE_SACL_AUTO_INHERIT_REQ, SE_SACL_AUTO_INHERITED))
    return "".join(parts)


def _format_acl(control: int, acl: Acl | None, domain_sid: str | None, protected: int,
                auto_inherit_req: int, auto_inherited: int) -> str:
    """Flags and ACEs of one ACL part (``D:`` or ``S:``); a NULL ACL is NO_ACCESS_CONTROL."""
    flags = _format_acl_flags(control, protected, auto_inherit_req, auto_inherited)
    body = "NO_ACCESS_CONTROL" if acl is None else "".join(format_ace(a, domain_sid) for a in acl.aces)
    return flags + body


# --- reading ---
def _parse_sid(text: str, domain_sid: str | None, where: str) -> str:
    token = text.strip()
    if token.upper() in _ALIAS_CODES and len(token) == 2:
        try:
            return sid_for_alias(token.upper(), domain_sid)
        except SidError as exc:
            raise SecurityDescriptorError(f"invalid SDDL {where}: {exc}") from exc
    if _SID_NUMERIC.fullmatch(token):
        try:
            return normalize_sid(token)
        except SidError as exc:
            raise SecurityDescriptorError(f"invalid SDDL {where}: {exc}") from exc
    raise SecurityDescriptorError(f"invalid SDDL {where}: {token!r} is neither a SID nor a known SID alias")


def _parse_rights(token: str, ace_text: str) -> int:
    token = token.strip()
    if not token:
        return 0
    if token[0].isdigit():
        try:
            value = int(token, 0) if not (token.startswith("0") and token[1:].isdigit()) else int(token, 8)
        except ValueError:
            raise SecurityDescriptorError(f"invalid SDDL rights {token!r} in ACE {ace_text!r}") from None
        if not 0 <= value <= 0xFFFFFFFF:
            raise SecurityDescriptorError(f"SDDL rights {token!r} exceed 32 bits in ACE {ace_text!r}")
        return value
    if len(token) % 2:
        raise SecurityDescriptorError(f"invalid SDDL rights {token!r} in ACE {ace_text!r}")
    mask = 0
    for i in range(0, len(token), 2):
        bit = _RIGHT_MAP.get(token[i:i + 2].upper())
        if bit is None:
            raise SecurityDescriptorError(f"unknown SDDL right {token[i:i + 2]!r} in ACE {ace_text!r}")
        mask |= bit
    return mask


def _parse_flags(token: str, ace_text: str) -> int:
    token = token.strip()
    if len(token) % 2:
        raise SecurityDescriptorError(f"invalid SDDL ACE flags {token!r} in ACE {ace_text!r}")
    flags = 0
    for i in range(0, len(token), 2):
        bit = _ACE_FLAG_MAP.get(token[i:i + 2].upper())
        if bit is None:
            raise SecurityDescriptorError(f"unknown SDDL ACE flag {token[i:i + 2]!r} in ACE {ace_text!r}")
        flags |= bit
    return flags


def _parse_guid(token: str, ace_text: str) -> UUID | None:
    token = token.strip()
    if not token:
        return None
    if len(token) != 36:
        raise SecurityDescriptorError(f"invalid GUID {token!r} in ACE {ace_text!r}")
    try:
        return UUID(token)
    except ValueError:
        raise SecurityDescriptorError(f"invalid GUID {token!r} in ACE {ace_text!r}") from None


def parse_ace(text: str, domain_sid: str | None = None) -> Ace:
    """Parse one ``(type;flags;rights;guid;guid;sid)`` ACE string (parentheses optional)."""
    inner = text.strip()
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1]
    fields = inner.split(";")
    if len(fields) != 6:
        raise SecurityDescriptorError(
            f"SDDL ACE {text!r} has {len(fields)} fields, expected 6 (conditional/resource ACEs unsupported)"
        )
    type_code = fields[0].strip().upper()
    ace_type = ACE_TYPE_CODES.get(type_code)
    if ace_type is None:
        raise SecurityDescriptorError(f"unsupported SDDL ACE type {fields[0]!r} in ACE {text!r}")
    object_type = _parse_guid(fields[3], text)
    inherited_object_type = _parse_guid(fields[4], text)
    if ace_type not in OBJECT_ACE_TYPES and (object_type or inherited_object_type):
        raise SecurityDescriptorError(f"ACE type {type_code!r} cannot carry object GUIDs: {text!r}")
    return Ace(
        ace_type,
        _parse_flags(fields[1], text),
        _parse_rights(fields[2], text),
        _parse_sid(fields[5], domain_sid, f"ACE trustee in {text!r}"),
        object_type,
        inherited_object_type,
    )


def _parse_acl(text: str, pos: int, end: int, domain_sid: str | None, protected: int, req: int,
               inherited: int) -> tuple[Acl | None, int]:
    control = 0
    null_acl = False
    while pos < end and text[pos] != "(":
        if text.startswith("NO_ACCESS_CONTROL", pos):
            null_acl = True
            pos += len("NO_ACCESS_CONTROL")
        elif text.startswith("AR", pos):
            control |= req
            pos += 2
        elif text.startswith("AI", pos):
            control |= inherited
            pos += 2
        elif text[pos] == "P":
            control |= protected
            pos += 1
        elif text[pos].isspace():
            pos += 1
        else:
            raise _err(text, pos, f"unexpected ACL flag {text[pos:pos + 2]!r}")
    aces: list[Ace] = []
    while pos < end:
        if text[pos].isspace():
            pos += 1
            continue
        if text[pos] != "(":
            raise _err(text, pos, "expected '(' starting an ACE")
        close = text.find(")", pos, end)
        if close < 0:
            raise _err(text, pos, "unterminated ACE (missing ')')")
        aces.append(parse_ace(text[pos:close + 1], domain_sid))
        pos = close + 1
    if null_acl and aces:
        raise _err(text, pos, "NO_ACCESS_CONTROL ACL cannot also hold ACEs")
    return (None if null_acl else Acl(tuple(aces))), control


def _section_starts(text: str) -> list[tuple[int, str]]:
    """Positions of O:/G:/D:/S: markers that sit outside ACE parentheses."""
    starts = []
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and ch in "OGDS" and i + 1 < len(text) and text[i + 1] == ":":
            starts.append((i, ch))
            i += 2
            continue
        i += 1
    return starts


def parse_sddl(text: str, domain_sid: str | None = None) -> SecurityDescriptor:
    """Parse an SDDL security descriptor string."""
    if not isinstance(text, str):
        raise SecurityDescriptorError(f"SDDL must be a string, got {type(text).__name__}")
    text = text.strip()
    starts = _section_starts(text)
    if not starts and text:
        raise _err(text, 0, "no O:, G:, D: or S: section")
    if starts and starts[0][0] != 0:
        raise _err(text, 0, "text before the first section")
    owner = group = None
    dacl = sacl = None
    control = SE_SELF_RELATIVE
    seen: set[str] = set()
    for index, (pos, kind) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
        if kind in seen:
            raise _err(text, pos, f"section {kind}: appears twice")
        seen.add(kind)
        body_start = pos + 2
        if kind in "OG":
            sid = _parse_sid(text[body_start:end], domain_sid, "owner" if kind == "O" else "group")
            if kind == "O":
                owner = sid
            else:
                group = sid
        elif kind == "D":
            dacl, flags = _parse_acl(text, body_start, end, domain_sid, SE_DACL_PROTECTED,
                                     SE_DACL_AUTO_INHERIT_REQ, SE_DACL_AUTO_INHERITED)
            control |= flags | SE_DACL_PRESENT
        else:
            sacl, flags = _parse_acl(text, body_start, end, domain_sid, SE_SACL_PROTECTED,
                                     SE_SACL_AUTO_INHERIT_REQ, SE_SACL_AUTO_INHERITED)
            control |= flags | SE_SACL_PRESENT
    return SecurityDescriptor(owner, group, dacl, sacl, control)
