"""Reading Active Directory the way an admin's tools do: ldap3 searches as a Domain Admin.

Security descriptors are read with the SD flags control (DACL only, like ``dsacls`` and
ADUC's Security tab), group membership with the in-chain matching rule (what
``Get-ADPrincipalGroupMembership`` resolves), the connector account's groups from its
``tokenGroups``. Nothing here decides anything; :mod:`simlab.doctor.adcheck` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import ldap3
from ldap3.protocol.microsoft import security_descriptor_control
from ldap3.utils.conv import escape_filter_chars

from fakes.ad.security.descriptor import SecurityDescriptor
from fakes.ad.sid import sid_from_bytes

DACL_ONLY = 0x4
IN_CHAIN = "1.2.840.113556.1.4.1941"
EVERYONE, AUTHENTICATED_USERS, SELF = "S-1-1-0", "S-1-5-11", "S-1-5-10"
#: Groups AdminSDHolder protects (FACTS: protected accounts and groups; MS appendix C), by RID.
PROTECTED_RIDS = {
    512: "Domain Admins",
    516: "Domain Controllers",
    518: "Schema Admins",
    519: "Enterprise Admins",
    521: "Read-only Domain Controllers",
    544: "Administrators",
    548: "Account Operators",
    549: "Server Operators",
    550: "Print Operators",
    551: "Backup Operators",
    552: "Replicator",
}

POLICY_ATTRS = (
    "minPwdAge",
    "maxPwdAge",
    "minPwdLength",
    "pwdHistoryLength",
    "pwdProperties",
    "lockoutThreshold",
    "lockoutDuration",
    "lockOutObservationWindow",
)


class ReadError(RuntimeError):
    """An LDAP read failed; the message carries the DC's result code and diagnostic."""


@dataclass(frozen=True, slots=True)
class DomainInfo:
    dn: str
    sid: str
    sd: SecurityDescriptor
    policy: dict[str, int]
    now: datetime


@dataclass(frozen=True, slots=True)
class Account:
    """A user object with the attributes doctor looks at."""

    dn: str
    sam: str
    upn: str | None
    sid: str
    uac: int
    pwd_last_set: int
    lockout_time: int
    bad_pwd_count: int
    admin_count: int
    sd: SecurityDescriptor | None


@dataclass(frozen=True, slots=True)
class Ancestor:
    """An object between a user and the domain root, with its DACL."""

    dn: str
    sd: SecurityDescriptor


def _entries(conn: ldap3.Connection) -> list[dict]:
    return [e for e in (conn.response or []) if e.get("type") == "searchResEntry"]


def _raw(entry: dict, name: str) -> list[bytes]:
    for key, values in (entry.get("raw_attributes") or {}).items():
        if key.lower() == name.lower():
            return list(values)
    return []


def _text(entry: dict, name: str) -> str | None:
    values = _raw(entry, name)
    return values[0].decode("utf-8") if values else None


def _int(entry: dict, name: str) -> int:
    value = _text(entry, name)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def _search(
    conn: ldap3.Connection, base: str, filt: str, scope: str, attrs: list[str], sd: bool = False
) -> list[dict]:
    controls = security_descriptor_control(sdflags=DACL_ONLY) if sd else None
    conn.search(base, filt, scope, attributes=attrs, controls=controls)
    code = (conn.result or {}).get("result", 0)
    if code not in (0, 32):
        raise ReadError(f"search {base!r} {filt}: {code} {conn.result.get('message', '')}")
    return _entries(conn)


def _sd(entry: dict) -> SecurityDescriptor | None:
    raw = _raw(entry, "nTSecurityDescriptor")
    return SecurityDescriptor.from_bytes(raw[0]) if raw else None


def read_base_dn(conn: ldap3.Connection) -> tuple[str, datetime]:
    """(defaultNamingContext, currentTime) from the rootDSE."""
    found = _search(conn, "", "(objectClass=*)", ldap3.BASE, ["defaultNamingContext", "currentTime"])
    if not found:
        raise ReadError("the rootDSE did not answer")
    base = _text(found[0], "defaultNamingContext") or ""
    return base, _generalized(_text(found[0], "currentTime"))


def _generalized(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    digits = text.rstrip("Z").split(".")[0]
    return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def read_domain(conn: ldap3.Connection, base_dn: str, now: datetime) -> DomainInfo:
    found = _search(
        conn,
        base_dn,
        "(objectClass=*)",
        ldap3.BASE,
        ["objectSid", "nTSecurityDescriptor", *POLICY_ATTRS],
        sd=True,
    )
    if not found:
        raise ReadError(f"cannot read the domain object {base_dn}")
    entry = found[0]
    sd = _sd(entry)
    if sd is None:
        raise ReadError(f"no nTSecurityDescriptor returned for {base_dn} (missing rights?)")
    policy = {a: _int(entry, a) for a in POLICY_ATTRS}
    return DomainInfo(base_dn, sid_from_bytes(_raw(entry, "objectSid")[0]), sd, policy, now)


_ACCOUNT_ATTRS = [
    "sAMAccountName",
    "userPrincipalName",
    "objectSid",
    "userAccountControl",
    "pwdLastSet",
    "lockoutTime",
    "badPwdCount",
    "adminCount",
    "nTSecurityDescriptor",
]


def _account(entry: dict) -> Account:
    return Account(
        dn=entry["dn"],
        sam=_text(entry, "sAMAccountName") or "",
        upn=_text(entry, "userPrincipalName"),
        sid=sid_from_bytes(_raw(entry, "objectSid")[0]),
        uac=_int(entry, "userAccountControl"),
        pwd_last_set=_int(entry, "pwdLastSet"),
        lockout_time=_int(entry, "lockoutTime"),
        bad_pwd_count=_int(entry, "badPwdCount"),
        admin_count=_int(entry, "adminCount"),
        sd=_sd(entry),
    )


def find_account(conn: ldap3.Connection, base_dn: str, name: str) -> Account | None:
    """A user by DN, ``DOMAIN\\sam``, sAMAccountName or UPN; None when absent."""
    if "=" in name and "@" not in name:
        found = _search(conn, name, "(objectClass=user)", ldap3.BASE, _ACCOUNT_ATTRS, sd=True)
    else:
        key = "userPrincipalName" if "@" in name else "sAMAccountName"
        value = escape_filter_chars(name.split("\\", 1)[-1])
        found = _search(
            conn, base_dn, f"(&(objectClass=user)({key}={value}))", ldap3.SUBTREE, _ACCOUNT_ATTRS, sd=True
        )
    return _account(found[0]) if found else None


def find_msol_accounts(conn: ldap3.Connection, base_dn: str) -> list[str]:
    """DNs of Express connector accounts (``MSOL_*``)."""
    return [
        e["dn"]
        for e in _search(
            conn, base_dn, "(&(objectClass=user)(sAMAccountName=MSOL_*))", ldap3.SUBTREE, ["sAMAccountName"]
        )
    ]


def token_sids(conn: ldap3.Connection, account: Account) -> frozenset[str]:
    """The account's network-logon token: its SID, tokenGroups, Everyone, Authenticated Users."""
    found = _search(conn, account.dn, "(objectClass=*)", ldap3.BASE, ["tokenGroups"])
    groups = {sid_from_bytes(v) for v in _raw(found[0], "tokenGroups")} if found else set()
    return frozenset({account.sid, EVERYONE, AUTHENTICATED_USERS, *groups})


def protected_groups_of(conn: ldap3.Connection, base_dn: str, dn: str, domain_sid: str) -> list[str]:
    """Protected groups ``dn`` belongs to, directly or nested (names as ADUC shows them)."""
    found = _search(
        conn,
        base_dn,
        f"(&(objectClass=group)(member:{IN_CHAIN}:={escape_filter_chars(dn)}))",
        ldap3.SUBTREE,
        ["objectSid", "cn"],
    )
    names = []
    for entry in found:
        sid = sid_from_bytes(_raw(entry, "objectSid")[0]) if _raw(entry, "objectSid") else ""
        rid = int(sid.rsplit("-", 1)[-1]) if sid else 0
        builtin = sid.startswith("S-1-5-32-")
        if (builtin or sid.startswith(domain_sid + "-")) and rid in PROTECTED_RIDS:
            names.append(_text(entry, "cn") or PROTECTED_RIDS[rid])
    return sorted(names)


def ancestors(conn: ldap3.Connection, dn: str, base_dn: str) -> list[Ancestor]:
    """DACLs of the containers between ``dn`` and the domain root (nearest first, root excluded)."""
    out = []
    parts = _split_dn(dn)
    for i in range(1, len(parts)):
        parent = ",".join(parts[i:])
        if parent.lower() == base_dn.lower():
            break
        found = _search(conn, parent, "(objectClass=*)", ldap3.BASE, ["nTSecurityDescriptor"], sd=True)
        sd = _sd(found[0]) if found else None
        if sd is not None:
            out.append(Ancestor(parent, sd))
    return out


def objects_with_inheritance_disabled(
    conn: ldap3.Connection, base_dn: str, object_class: str = "organizationalUnit"
) -> list[Ancestor]:
    """``Get-ADSyncObjectsWithInheritanceDisabled -SearchBase <base> -ObjectClass <class>``."""
    found = _search(
        conn, base_dn, f"(objectClass={object_class})", ldap3.SUBTREE, ["nTSecurityDescriptor"], sd=True
    )
    return [Ancestor(e["dn"], sd) for e in found if (sd := _sd(e)) is not None and sd.protected]


def _split_dn(dn: str) -> list[str]:
    # RDN values may contain escaped commas ("CN=Smith\, John"): split on unescaped ones only.
    parts, buf, escaped = [], "", False
    for ch in dn:
        if escaped:
            buf += ch
            escaped = False
        elif ch == "\\":
            buf += ch
            escaped = True
        elif ch == ",":
            parts.append(buf)
            buf = ""
        else:
            buf += ch
    parts.append(buf)
    return [p.strip() for p in parts]


def parent_dn(dn: str) -> str:
    return ",".join(_split_dn(dn)[1:])
