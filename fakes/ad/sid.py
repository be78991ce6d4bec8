"""Security identifiers: string <-> binary (MS-DTYP 2.4.2), well-known SIDs, RIDs, SDDL aliases.

SIDs are handled as canonical strings (``S-1-5-21-1-2-3-500``) everywhere in simlab; the binary form
only exists on the wire (objectSid, tokenGroups, inside security descriptors).
"""

from __future__ import annotations

import re
import struct

__all__ = [
    "SID_ALIASES",
    "SidError",
    "alias_for_sid",
    "domain_sid_of",
    "is_domain_sid",
    "make_sid",
    "normalize_sid",
    "rid_of",
    "sid_for_alias",
    "sid_from_bytes",
    "sid_length",
    "sid_to_bytes",
]

_MAX_SUB_AUTHORITIES = 15
_MAX_AUTHORITY = (1 << 48) - 1
_MAX_U32 = (1 << 32) - 1
_SID_TEXT = re.compile(r"^[sS]-1-(0[xX][0-9A-Fa-f]{1,12}|\d{1,15})((?:-\d{1,10}){0,15})$")


class SidError(ValueError):
    """A SID string or binary SID is malformed."""


# --- universal / NT AUTHORITY well-known SIDs (MS-DTYP 2.4.2.4) ---
NULL_SID = "S-1-0-0"
EVERYONE = "S-1-1-0"
LOCAL = "S-1-2-0"
CREATOR_OWNER = "S-1-3-0"
CREATOR_GROUP = "S-1-3-1"
OWNER_RIGHTS = "S-1-3-4"
NETWORK = "S-1-5-2"
INTERACTIVE = "S-1-5-4"
SERVICE = "S-1-5-6"
ANONYMOUS = "S-1-5-7"
ENTERPRISE_DOMAIN_CONTROLLERS = "S-1-5-9"
PRINCIPAL_SELF = "S-1-5-10"
AUTHENTICATED_USERS = "S-1-5-11"
RESTRICTED_CODE = "S-1-5-12"
WRITE_RESTRICTED_CODE = "S-1-5-33"
SYSTEM = "S-1-5-18"
LOCAL_SERVICE = "S-1-5-19"
NETWORK_SERVICE = "S-1-5-20"

# --- BUILTIN domain (S-1-5-32) aliases ---
BUILTIN_DOMAIN = "S-1-5-32"
BUILTIN_ADMINISTRATORS = "S-1-5-32-544"
BUILTIN_USERS = "S-1-5-32-545"
BUILTIN_GUESTS = "S-1-5-32-546"
BUILTIN_POWER_USERS = "S-1-5-32-547"
BUILTIN_ACCOUNT_OPERATORS = "S-1-5-32-548"
BUILTIN_SERVER_OPERATORS = "S-1-5-32-549"
BUILTIN_PRINT_OPERATORS = "S-1-5-32-550"
BUILTIN_BACKUP_OPERATORS = "S-1-5-32-551"
BUILTIN_REPLICATOR = "S-1-5-32-552"
BUILTIN_RAS_SERVERS_LOCAL = "S-1-5-32-553"
BUILTIN_PRE_WINDOWS_2000_COMPATIBLE_ACCESS = "S-1-5-32-554"
BUILTIN_REMOTE_DESKTOP_USERS = "S-1-5-32-555"
BUILTIN_NETWORK_CONFIGURATION_OPERATORS = "S-1-5-32-556"
BUILTIN_INCOMING_FOREST_TRUST_BUILDERS = "S-1-5-32-557"
BUILTIN_PERFORMANCE_MONITOR_USERS = "S-1-5-32-558"
BUILTIN_PERFORMANCE_LOG_USERS = "S-1-5-32-559"
BUILTIN_WINDOWS_AUTHORIZATION_ACCESS_GROUP = "S-1-5-32-560"
BUILTIN_TERMINAL_SERVER_LICENSE_SERVERS = "S-1-5-32-561"
BUILTIN_DISTRIBUTED_COM_USERS = "S-1-5-32-562"
BUILTIN_IIS_IUSRS = "S-1-5-32-568"
BUILTIN_CRYPTOGRAPHIC_OPERATORS = "S-1-5-32-569"
BUILTIN_EVENT_LOG_READERS = "S-1-5-32-573"
BUILTIN_CERTIFICATE_SERVICE_DCOM_ACCESS = "S-1-5-32-574"
BUILTIN_RDS_REMOTE_ACCESS_SERVERS = "S-1-5-32-575"
BUILTIN_RDS_ENDPOINT_SERVERS = "S-1-5-32-576"
BUILTIN_RDS_MANAGEMENT_SERVERS = "S-1-5-32-577"
BUILTIN_HYPER_V_ADMINISTRATORS = "S-1-5-32-578"
BUILTIN_ACCESS_CONTROL_ASSISTANCE_OPERATORS = "S-1-5-32-579"
BUILTIN_REMOTE_MANAGEMENT_USERS = "S-1-5-32-580"

# --- domain-relative RIDs (MS-DTYP 2.4.2.4) ---
RID_ENTERPRISE_READONLY_DOMAIN_CONTROLLERS = 498
RID_ADMINISTRATOR = 500
RID_GUEST = 501
RID_KRBTGT = 502
RID_DOMAIN_ADMINS = 512
RID_DOMAIN_USERS = 513
RID_DOMAIN_GUESTS = 514
RID_DOMAIN_COMPUTERS = 515
RID_DOMAIN_CONTROLLERS = 516
RID_CERT_PUBLISHERS = 517
RID_SCHEMA_ADMINS = 518
RID_ENTERPRISE_ADMINS = 519
RID_GROUP_POLICY_CREATOR_OWNERS = 520
RID_READONLY_DOMAIN_CONTROLLERS = 521
RID_CLONEABLE_CONTROLLERS = 522
RID_PROTECTED_USERS = 525
RID_KEY_ADMINS = 526
RID_ENTERPRISE_KEY_ADMINS = 527
RID_RAS_AND_IAS_SERVERS = 553
RID_ALLOWED_RODC_PASSWORD_REPLICATION_GROUP = 571
RID_DENIED_RODC_PASSWORD_REPLICATION_GROUP = 572
#: First RID handed out to ordinary accounts.
RID_FIRST_USER = 1000

# Short names the brief and other modules use.
ADMINISTRATOR = RID_ADMINISTRATOR
GUEST = RID_GUEST
KRBTGT = RID_KRBTGT
DOMAIN_ADMINS = RID_DOMAIN_ADMINS
DOMAIN_USERS = RID_DOMAIN_USERS
DOMAIN_GUESTS = RID_DOMAIN_GUESTS
DOMAIN_COMPUTERS = RID_DOMAIN_COMPUTERS
DOMAIN_CONTROLLERS = RID_DOMAIN_CONTROLLERS
CERT_PUBLISHERS = RID_CERT_PUBLISHERS
SCHEMA_ADMINS = RID_SCHEMA_ADMINS
ENTERPRISE_ADMINS = RID_ENTERPRISE_ADMINS
GROUP_POLICY_CREATOR_OWNERS = RID_GROUP_POLICY_CREATOR_OWNERS
READONLY_DOMAIN_CONTROLLERS = RID_READONLY_DOMAIN_CONTROLLERS
ENTERPRISE_READONLY_DOMAIN_CONTROLLERS = RID_ENTERPRISE_READONLY_DOMAIN_CONTROLLERS
RAS_AND_IAS_SERVERS = RID_RAS_AND_IAS_SERVERS

#: SDDL SID aliases with a fixed SID (Sddl.h; the table Samba's libcli/security/sddl.c mirrors).
SID_ALIASES: dict[str, str] = {
    "WD": EVERYONE,
    "CO": CREATOR_OWNER,
    "CG": CREATOR_GROUP,
    "OW": OWNER_RIGHTS,
    "NU": NETWORK,
    "IU": INTERACTIVE,
    "SU": SERVICE,
    "AN": ANONYMOUS,
    "ED": ENTERPRISE_DOMAIN_CONTROLLERS,
    "PS": PRINCIPAL_SELF,
    "AU": AUTHENTICATED_USERS,
    "RC": RESTRICTED_CODE,
    "SY": SYSTEM,
    "LS": LOCAL_SERVICE,
    "NS": NETWORK_SERVICE,
    "WR": WRITE_RESTRICTED_CODE,
    "BA": BUILTIN_ADMINISTRATORS,
    "BU": BUILTIN_USERS,
    "BG": BUILTIN_GUESTS,
    "PU": BUILTIN_POWER_USERS,
    "AO": BUILTIN_ACCOUNT_OPERATORS,
    "SO": BUILTIN_SERVER_OPERATORS,
    "PO": BUILTIN_PRINT_OPERATORS,
    "BO": BUILTIN_BACKUP_OPERATORS,
    "RE": BUILTIN_REPLICATOR,
    "RU": BUILTIN_PRE_WINDOWS_2000_COMPATIBLE_ACCESS,
    "RD": BUILTIN_REMOTE_DESKTOP_USERS,
    "NO": BUILTIN_NETWORK_CONFIGURATION_OPERATORS,
    "MU": BUILTIN_PERFORMANCE_MONITOR_USERS,
    "LU": BUILTIN_PERFORMANCE_LOG_USERS,
    "IS": BUILTIN_IIS_IUSRS,
    "CY": BUILTIN_CRYPTOGRAPHIC_OPERATORS,
    "ER": BUILTIN_EVENT_LOG_READERS,
    "CD": BUILTIN_CERTIFICATE_SERVICE_DCOM_ACCESS,
    "RA": BUILTIN_RDS_REMOTE_ACCESS_SERVERS,
    "ES": BUILTIN_RDS_ENDPOINT_SERVERS,
    "MS": BUILTIN_RDS_MANAGEMENT_SERVERS,
    "HA": BUILTIN_HYPER_V_ADMINISTRATORS,
    "AA": BUILTIN_ACCESS_CONTROL_ASSISTANCE_OPERATORS,
    "RM": BUILTIN_REMOTE_MANAGEMENT_USERS,
    "UD": "S-1-5-84-0-0-0-0-0",
    "AC": "S-1-15-2-1",
    "LW": "S-1-16-4096",
    "ME": "S-1-16-8192",
    "MP": "S-1-16-8448",
    "HI": "S-1-16-12288",
    "SI": "S-1-16-16384",
    "AS": "S-1-18-1",
    "SS": "S-1-18-2",
}

#: SDDL aliases relative to the domain (or forest root / machine) SID. simlab models a single-domain
#: forest on a DC, so forest-root (EA, SA, RO, EK) and machine (LA, LG) aliases use the domain SID too.
DOMAIN_ALIASES: dict[str, int] = {
    "RO": RID_ENTERPRISE_READONLY_DOMAIN_CONTROLLERS,
    "LA": RID_ADMINISTRATOR,
    "LG": RID_GUEST,
    "DA": RID_DOMAIN_ADMINS,
    "DU": RID_DOMAIN_USERS,
    "DG": RID_DOMAIN_GUESTS,
    "DC": RID_DOMAIN_COMPUTERS,
    "DD": RID_DOMAIN_CONTROLLERS,
    "CA": RID_CERT_PUBLISHERS,
    "SA": RID_SCHEMA_ADMINS,
    "EA": RID_ENTERPRISE_ADMINS,
    "PA": RID_GROUP_POLICY_CREATOR_OWNERS,
    "CN": RID_CLONEABLE_CONTROLLERS,
    "AP": RID_PROTECTED_USERS,
    "KA": RID_KEY_ADMINS,
    "EK": RID_ENTERPRISE_KEY_ADMINS,
    "RS": RID_RAS_AND_IAS_SERVERS,
}

_SID_TO_ALIAS: dict[str, str] = {sid: alias for alias, sid in SID_ALIASES.items()}
_RID_TO_ALIAS: dict[int, str] = {rid: alias for alias, rid in DOMAIN_ALIASES.items()}


def _parse(text: str) -> tuple[int, tuple[int, ...]]:
    if not isinstance(text, str):
        raise SidError(f"SID must be a string, got {type(text).__name__}")
    m = _SID_TEXT.match(text)
    if m is None:
        raise SidError(f"malformed SID string {text!r} (expected S-1-<authority>[-<subauthority>]...)")
    auth_text = m.group(1)
    authority = int(auth_text, 16) if auth_text[:2].lower() == "0x" else int(auth_text)
    if authority > _MAX_AUTHORITY:
        raise SidError(f"SID {text!r}: identifier authority {authority} exceeds 48 bits")
    subs = tuple(int(part) for part in m.group(2).split("-")[1:])
    for sub in subs:
        if sub > _MAX_U32:
            raise SidError(f"SID {text!r}: sub-authority {sub} exceeds 32 bits")
    return authority, subs


def _format(authority: int, subs: tuple[int, ...]) -> str:
    # MS-DTYP 2.4.2.1: authorities >= 2**32 are printed in hex.
    auth = str(authority) if authority < (1 << 32) else f"0x{authority:012X}"
    return "S-1-" + auth + "".join(f"-{s}" for s in subs)


def normalize_sid(text: str) -> str:
    """Validate a SID string and return its canonical spelling (upper-case ``S``, decimal parts)."""
    return _format(*_parse(text))


def sid_to_bytes(text: str) -> bytes:
    """Encode a SID string as the MS-DTYP 2.4.2.2 binary structure."""
    authority, subs = _parse(text)
    return (
        bytes((1, len(subs)))
        + authority.to_bytes(6, "big")
        + struct.pack(f"<{len(subs)}I", *subs)
    )


def sid_length(data: bytes | memoryview, offset: int = 0) -> int:
    """Length in bytes of the binary SID starting at ``offset`` (validated against the buffer)."""
    if len(data) - offset < 8:
        raise SidError(f"binary SID truncated at offset {offset}: need 8 header bytes")
    if data[offset] != 1:
        raise SidError(f"binary SID at offset {offset} has revision {data[offset]}, expected 1")
    count = data[offset + 1]
    if count > _MAX_SUB_AUTHORITIES:
        raise SidError(f"binary SID at offset {offset} claims {count} sub-authorities (max 15)")
    length = 8 + 4 * count
    if len(data) - offset < length:
        raise SidError(f"binary SID at offset {offset} truncated: need {length} bytes")
    return length


def sid_from_bytes(data: bytes | memoryview, offset: int = 0) -> str:
    """Decode a binary SID (starting at ``offset``) into its string form. Trailing bytes are ignored."""
    length = sid_length(data, offset)
    count = data[offset + 1]
    if not count:
        return _format(int.from_bytes(bytes(data[offset + 2:offset + 8]), "big"), ())
    # Account SIDs share their domain part: format it once per distinct head, then add the RID
    # (a sync decodes one SID per user).
    end = offset + length
    head = bytes(data[offset:end - 4])
    prefix = _SID_HEADS.get(head)
    if prefix is None:
        authority = int.from_bytes(head[2:8], "big")
        prefix = _format(authority, struct.unpack_from(f"<{count - 1}I", head, 8))
        if len(_SID_HEADS) >= 1024:
            _SID_HEADS.clear()
        _SID_HEADS[head] = prefix
    return f"{prefix}-{int.from_bytes(data[end - 4:end], 'little')}"


_SID_HEADS: dict[bytes, str] = {}  # binary SID minus its last sub-authority -> its string form


def is_domain_sid(sid: str) -> bool:
    """True for an account-domain SID ``S-1-5-21-a-b-c`` (no RID)."""
    authority, subs = _parse(sid)
    return authority == 5 and len(subs) == 4 and subs[0] == 21


def domain_sid_of(sid: str) -> str:
    """Domain part of an account SID (``S-1-5-21-a-b-c-rid`` -> ``S-1-5-21-a-b-c``); BUILTIN for 32-x."""
    authority, subs = _parse(sid)
    if authority == 5 and len(subs) == 5 and subs[0] == 21:
        return _format(authority, subs[:4])
    if authority == 5 and len(subs) == 2 and subs[0] == 32:
        return BUILTIN_DOMAIN
    raise SidError(f"SID {sid!r} is not a domain account SID (S-1-5-21-x-y-z-rid or S-1-5-32-rid)")


def rid_of(sid: str) -> int:
    """Relative identifier (last sub-authority) of a SID."""
    _, subs = _parse(sid)
    if not subs:
        raise SidError(f"SID {sid!r} has no sub-authority, hence no RID")
    return subs[-1]


def make_sid(domain_sid: str, rid: int) -> str:
    """Append ``rid`` to ``domain_sid``."""
    authority, subs = _parse(domain_sid)
    if not 0 <= rid <= _MAX_U32:
        raise SidError(f"RID {rid} out of range 0..2**32-1")
    if len(subs) >= _MAX_SUB_AUTHORITIES:
        raise SidError(f"SID {domain_sid!r} already has 15 sub-authorities")
    return _format(authority, (*subs, rid))


def sid_for_alias(alias: str, domain_sid: str | None = None) -> str:
    """Resolve a two-letter SDDL alias. Domain-relative aliases need ``domain_sid``."""
    fixed = SID_ALIASES.get(alias)
    if fixed is not None:
        return fixed
    rid = DOMAIN_ALIASES.get(alias)
    if rid is None:
        raise SidError(f"unknown SDDL SID alias {alias!r}")
    if domain_sid is None:
        raise SidError(f"SDDL SID alias {alias!r} is relative to the domain SID, but no domain SID was given")
    return make_sid(domain_sid, rid)


def alias_for_sid(sid: str, domain_sid: str | None = None) -> str | None:
    """The SDDL alias Windows prints for ``sid`` or None; domain-relative ones only for ``domain_sid``."""
    alias = _SID_TO_ALIAS.get(sid)
    if alias is not None or domain_sid is None:
        return alias
    prefix = domain_sid + "-"
    if sid.startswith(prefix):
        tail = sid[len(prefix):]
        if tail.isdigit():
            return _RID_TO_ALIAS.get(int(tail))
    return None
