"""Security descriptors for people: SDDL <-> binary, edits, ADUC-style ACEs, and LDAP read/write.

The stable public face of the lab's security-descriptor code (``fakes.ad.security`` for the
codec, ``fakes.ad.rights`` for ADUC's words). Everything here is a pure function over frozen
dataclasses, except the ``read``/``write``/``resolve_*`` helpers at the end, which take a plain
bound ``ldap3.Connection`` (any DC, not only the lab's)::

    import ldap3
    from simlab import acl

    conn = ldap3.Connection(ldap3.Server("ldaps://127.0.0.1:6360", use_ssl=True),
                            "CN=Administrator,CN=Users,DC=contoso,DC=com", "...", auto_bind=True)
    dn = "CN=Alice Adams,OU=Sales,OU=Staff,DC=contoso,DC=com"
    sd = acl.read(conn, dn)                                  # DACL via the SD flags control
    msol = acl.resolve_principal(conn, "CONTOSO\\\\MSOL_0123")  # -> SID
    deny = acl.build_ace(msol, "Write pwdLastSet", "This object only", deny=True)
    acl.write(conn, dn, acl.add_ace(sd, deny))              # explicit ACEs only, as ADUC writes
    print(acl.format_table(acl.rows(sd, resolve=acl.name_resolver(conn))))

SDDL text uses domain aliases (``DA``, ``DU``) only when a ``domain_sid`` is given. docs/acl.md
has the walk-through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from fakes.ad.rights import (
    AppliesTo,
    RightsError,
    applies_to_from_words,
    applies_to_text,
    describe_ace,
    make_ace,
    permission_from_words,
)
from fakes.ad.schema import Schema, default_schema
from fakes.ad.security import constants as K
from fakes.ad.security.descriptor import Ace, Acl, SecurityDescriptor, SecurityDescriptorError
from fakes.ad.security.inheritance import canonicalize, map_generic
from fakes.ad.security.sddl import format_ace, parse_ace
from fakes.ad.sid import SidError, normalize_sid, sid_from_bytes, sid_to_bytes

__all__ = [
    "WELL_KNOWN",
    "Ace",
    "AceRow",
    "Acl",
    "AclError",
    "AppliesTo",
    "SecurityDescriptor",
    "add_ace",
    "build_ace",
    "constants",
    "default_naming_context",
    "describe",
    "explicit_dacl",
    "find_origin",
    "format_ace",
    "format_table",
    "matches",
    "name_resolver",
    "netbios_name",
    "parse",
    "parse_one_ace",
    "protect",
    "read",
    "read_ancestors",
    "remove_aces",
    "resolve_principal",
    "rows",
    "to_bytes",
    "to_sddl",
    "unprotect",
    "write",
]


class AclError(ValueError):
    """Bad SDDL, an unknown right/principal/Applies to, or an edit AD would refuse."""


#: Principals that are not directory objects, by the names ADUC's object picker shows.
WELL_KNOWN: dict[str, str] = {
    "Everyone": "S-1-1-0",
    "CREATOR OWNER": "S-1-3-0",
    "CREATOR GROUP": "S-1-3-1",
    "OWNER RIGHTS": "S-1-3-4",
    "NETWORK": "S-1-5-2",
    "ANONYMOUS LOGON": "S-1-5-7",
    "ENTERPRISE DOMAIN CONTROLLERS": "S-1-5-9",
    "SELF": "S-1-5-10",
    "Authenticated Users": "S-1-5-11",
    "SYSTEM": "S-1-5-18",
}
#: The numeric constants (ACE flags, access bits, SD control and SD flags values).
constants = K

_WK_BY_NAME = {k.casefold(): v for k, v in WELL_KNOWN.items()} | {"principal self": "S-1-5-10"}
_WK_BY_SID = {v: k for k, v in WELL_KNOWN.items()}


# -- parse / format -------------------------------------------------------------------------
def parse(value: bytes | bytearray | memoryview | str, domain_sid: str | None = None) -> SecurityDescriptor:
    """A security descriptor from its self-relative binary form or from SDDL text.

    Domain-relative SDDL aliases (``DA``, ``DU``...) need ``domain_sid``. Raises :class:`AclError`.
    """
    try:
        if isinstance(value, str):
            return SecurityDescriptor.from_sddl(value, domain_sid)
        return SecurityDescriptor.from_bytes(bytes(value))
    except (SecurityDescriptorError, SidError) as exc:
        raise AclError(str(exc)) from None


def to_sddl(sd: SecurityDescriptor, domain_sid: str | None = None) -> str:
    """SDDL as Windows prints it (``O:``, ``G:``, ``D:``, ``S:``; aliases when ``domain_sid`` is given)."""
    return sd.to_sddl(domain_sid)


def to_bytes(sd: SecurityDescriptor) -> bytes:
    """The self-relative binary form LDAP carries in ``nTSecurityDescriptor``."""
    return sd.to_bytes()


# -- building ACEs from ADUC's words ---------------------------------------------------------
def build_ace(
    sid: str,
    right: str,
    applies_to: str = "This object only",
    *,
    deny: bool = False,
    schema: Schema | None = None,
) -> Ace:
    """The ACE ADUC's Permission Entry dialog writes for ``right`` and ``applies_to``.

    ``right``: "Reset password", "Change password", "Unexpire Password", "Write pwdLastSet",
    "Write lockoutTime", "Full control", "Read", "Write all properties", any extended right or
    "Write/Read <attribute or property set>". ``applies_to``: "This object only", "This object
    and all descendant objects", "All descendant objects", "Descendant User objects"...
    """
    schema = schema or default_schema()
    try:
        sid = normalize_sid(sid)
        applies, cls = applies_to_from_words(applies_to, schema)
        return make_ace(sid, applies_to=applies, descendant_class=cls, deny=deny, schema=schema,
                        **permission_from_words(right, schema))  # type: ignore[arg-type]
    except (RightsError, SidError, SecurityDescriptorError) as exc:
        raise AclError(str(exc)) from None


def parse_one_ace(text: str, domain_sid: str | None = None) -> Ace:
    """One SDDL ACE ``(OD;;CR;guid;;SID)`` (parentheses optional); raises :class:`AclError`."""
    try:
        return parse_ace(text, domain_sid)
    except (SecurityDescriptorError, SidError) as exc:
        raise AclError(str(exc)) from None


# -- editing ----------------------------------------------------------------------------------
def _aces(sd: SecurityDescriptor) -> tuple[Ace, ...]:
    return sd.dacl.aces if sd.dacl is not None else ()


def add_ace(sd: SecurityDescriptor, ace: Ace) -> SecurityDescriptor:
    """``sd`` with ``ace`` added in canonical order (explicit deny, explicit allow, inherited).

    Adding an ACE already present (same type, flags, mask, trustee, GUIDs) changes nothing.
    """
    if ace.inherited:
        raise AclError("an inherited ACE (ID flag) cannot be added; add it on the parent instead")
    if ace in _aces(sd):
        return sd
    return sd.replace(dacl=canonicalize(Acl((*_aces(sd), ace))))


def matches(
    ace: Ace,
    *,
    sid: str | None = None,
    template: Ace | None = None,
    deny: bool | None = None,
) -> bool:
    """Does explicit ``ace`` match a removal request?

    ``template`` matches by type, trustee, rights, object GUIDs and inheritance flags (what
    ``build_ace`` produces or an SDDL ACE names); ``sid`` alone matches every ACE of that trustee
    (``dsacls /R``); ``deny`` narrows to Deny (True) or Allow (False) entries.
    """
    if ace.inherited:
        return False
    if deny is not None and ace.is_deny != deny:
        return False
    if template is not None:
        return (
            ace.ace_type == template.ace_type
            and ace.sid == template.sid
            and map_generic(ace.mask) == map_generic(template.mask)
            and ace.object_type == template.object_type
            and ace.inherited_object_type == template.inherited_object_type
            and (ace.flags & K.INHERITANCE_FLAGS) == (template.flags & K.INHERITANCE_FLAGS)
        )
    return sid is not None and ace.sid == sid


def remove_aces(
    sd: SecurityDescriptor, predicate: Callable[[Ace], bool]
) -> tuple[SecurityDescriptor, list[Ace]]:
    """``sd`` without the explicit ACEs ``predicate`` selects, and the ACEs removed.

    Inherited ACEs are never removed (AD recomputes them from the parent); use :func:`find_origin`
    to find the object where they are set.
    """
    kept, removed = [], []
    for ace in _aces(sd):
        (removed if not ace.inherited and predicate(ace) else kept).append(ace)
    return sd.replace(dacl=Acl(tuple(kept))), removed


def protect(sd: SecurityDescriptor, *, keep_inherited: bool = True) -> SecurityDescriptor:
    """Disable inheritance (SE_DACL_PROTECTED), as ADUC's "Disable inheritance" does.

    ``keep_inherited`` = "Convert inherited permissions into explicit permissions"; False =
    "Remove all inherited permissions from this object".
    """
    aces = []
    for ace in _aces(sd):
        if ace.inherited:
            if not keep_inherited:
                continue
            ace = ace.replace(flags=ace.flags & ~K.INHERITED_ACE)
        aces.append(ace)
    return sd.replace(dacl=canonicalize(Acl(tuple(aces))), control=sd.control | K.SE_DACL_PROTECTED)


def unprotect(sd: SecurityDescriptor) -> SecurityDescriptor:
    """Enable inheritance again (clear SE_DACL_PROTECTED); the DC adds the parent's ACEs on write."""
    return sd.replace(control=sd.control & ~K.SE_DACL_PROTECTED)


def explicit_dacl(sd: SecurityDescriptor) -> SecurityDescriptor:
    """The DACL-only descriptor to write back: explicit ACEs and the inheritance switch.

    That is what ADUC and dsacls send with SD flags = DACL: inherited ACEs are the DC's to
    compute, owner/group/SACL are left alone.
    """
    explicit = tuple(a for a in _aces(sd) if not a.inherited)
    return SecurityDescriptor(None, None, Acl(explicit), control=sd.control & K.SE_DACL_PROTECTED)


def find_origin(
    ace: Ace, ancestors: Iterable[tuple[str, SecurityDescriptor]]
) -> tuple[str, Ace] | None:
    """Where inherited ``ace`` is set: the nearest ancestor's DN and its explicit ACE.

    ``ancestors`` are ``(dn, sd)`` pairs, nearest first. None for an explicit ACE or when no
    ancestor carries a matching inheritable ACE.
    """
    if not ace.inherited:
        return None
    for dn, sd in ancestors:
        for a in _aces(sd):
            if (
                not a.inherited
                and a.flags & K.CONTAINER_INHERIT_ACE
                and a.ace_type == ace.ace_type
                and a.sid == ace.sid
                and map_generic(a.mask) == map_generic(ace.mask)
                and a.object_type == ace.object_type
            ):
                return dn, a
    return None


# -- ADUC's Advanced Security table ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AceRow:
    """One line of ADUC's Advanced Security Settings (plus the ACE's SDDL)."""

    type: str
    principal: str
    access: str
    inherited_from: str
    applies_to: str
    sddl: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def rows(
    sd: SecurityDescriptor,
    domain_sid: str | None = None,
    *,
    resolve: Callable[[str], str | None] | None = None,
    ancestors: Sequence[tuple[str, SecurityDescriptor]] = (),
    schema: Schema | None = None,
) -> list[AceRow]:
    """ADUC-like rows for the DACL: type, principal, access, inherited from, applies to."""
    schema = schema or default_schema()
    out = []
    for ace in _aces(sd):
        d = describe_ace(ace, domain_sid or "", resolve, schema)
        found = find_origin(ace, ancestors)
        origin = "None" if not ace.inherited else (found[0] if found else "Parent Object")
        out.append(AceRow(str(d["type"]), str(d["principal"]), str(d["access"]), origin,
                          applies_to_text(ace, schema), format_ace(ace, domain_sid)))
    return out


def format_table(table: Sequence[AceRow], *, width: int = 0) -> str:
    """A plain-text table (Type, Principal, Access, Inherited from, Applies to); 0 = no width limit."""
    heads = ("Type", "Principal", "Access", "Inherited from", "Applies to")
    cells = [(r.type, r.principal, r.access, r.inherited_from, r.applies_to) for r in table]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(heads)]
    if width and sum(widths) + 2 * (len(widths) - 1) > width:
        # Too wide for the terminal: share the room fairly (narrow columns keep their width, the
        # rest split what is left); cut cells end with an ellipsis, like ADUC's list.
        room = max(width - widths[0] - 2 * (len(widths) - 1), 4 * 6)
        for n, col in enumerate(sorted(range(1, len(widths)), key=lambda i: widths[i])):
            widths[col] = min(widths[col], room // (len(widths) - 1 - n))
            room -= widths[col]

    def cut(text: str, n: int) -> str:
        return text if len(text) <= n else text[: n - 1] + "…"
    lines = ["  ".join(cut(h, w).ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(cut(c, w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def describe(ace: Ace, principal: str, schema: Schema | None = None) -> str:
    """One ACE in words: ``Deny CONTOSO\\MSOL_x: Write pwdLastSet (applies to: This object only)``."""
    d = describe_ace(ace, "", lambda _s: principal, schema)
    return f"{d['type']} {principal}: {d['access']} (applies to: {d['applies_to']})"


# -- LDAP (plain ldap3) ---------------------------------------------------------------------
def _sd_control(flags: int = K.DACL_SECURITY_INFORMATION) -> list[tuple[str, bool, bytes]]:
    from ldap3.protocol.microsoft import security_descriptor_control

    return security_descriptor_control(sdflags=flags)


def _check(conn: Any, what: str) -> None:
    result = conn.result or {}
    if result.get("result", 0) not in (0,):
        raise AclError(f"{what}: {result.get('result')} {result.get('description', '')} "
                       f"{result.get('message', '')}".rstrip())


def read(conn: Any, dn: str, *, flags: int = K.DACL_SECURITY_INFORMATION | K.OWNER_SECURITY_INFORMATION
         | K.GROUP_SECURITY_INFORMATION) -> SecurityDescriptor:
    """``nTSecurityDescriptor`` of ``dn`` read with the SD flags control (default: owner, group, DACL)."""
    import ldap3

    conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["nTSecurityDescriptor"],
                controls=_sd_control(flags))
    _check(conn, f"reading the security descriptor of {dn}")
    for entry in conn.response or []:
        for key, values in (entry.get("raw_attributes") or {}).items():
            if key.lower() == "ntsecuritydescriptor" and values:
                return parse(values[0])
    raise AclError(f"no nTSecurityDescriptor returned for {dn} (does the account hold Read permissions?)")


def read_ancestors(conn: Any, dn: str, base_dn: str) -> list[tuple[str, SecurityDescriptor]]:
    """DACLs of ``dn``'s parents up to and including ``base_dn``, nearest first (for "Inherited from")."""
    from ldap3.utils.dn import to_dn

    parts = to_dn(dn)  # RDNs, escaped commas kept inside their RDN
    out: list[tuple[str, SecurityDescriptor]] = []
    if dn.strip().lower() == base_dn.lower():
        return out
    for i in range(1, len(parts)):
        parent = ",".join(parts[i:])
        out.append((parent, read(conn, parent, flags=K.DACL_SECURITY_INFORMATION)))
        if parent.lower() == base_dn.lower():
            break
    return out


def write(conn: Any, dn: str, sd: SecurityDescriptor) -> None:
    """Replace ``dn``'s DACL with ``sd``'s explicit ACEs and inheritance switch (SD flags = DACL)."""
    import ldap3

    conn.modify(dn, {"nTSecurityDescriptor": [(ldap3.MODIFY_REPLACE, [explicit_dacl(sd).to_bytes()])]},
                controls=_sd_control(K.DACL_SECURITY_INFORMATION))
    _check(conn, f"writing the DACL of {dn}")


def _escape(value: str) -> str:
    from ldap3.utils.conv import escape_filter_chars

    return escape_filter_chars(value)


def _one(conn: Any, base: str, flt: str, attrs: list[str]) -> dict | None:
    import ldap3

    conn.search(base, flt, ldap3.SUBTREE, attributes=attrs)
    hits = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
    return hits[0] if hits else None


def _raw_first(entry: dict, name: str) -> bytes | None:
    for key, values in (entry.get("raw_attributes") or {}).items():
        if key.lower() == name.lower() and values:
            return values[0]
    return None


def _root_dse(conn: Any, name: str) -> bytes | None:
    """One rootDSE attribute. Asked for as ``*``: ldap3 checks named attributes against the
    schema it read at bind, where rootDSE operational attributes do not appear."""
    import ldap3

    conn.search("", "(objectClass=*)", ldap3.BASE, attributes=[ldap3.ALL_ATTRIBUTES])
    entry = next((e for e in conn.response or [] if e.get("type") == "searchResEntry"), None)
    return _raw_first(entry, name) if entry else None


def default_naming_context(conn: Any) -> str:
    """The domain DN from the rootDSE."""

    value = _root_dse(conn, "defaultNamingContext")
    if not value:
        raise AclError("the rootDSE did not give a defaultNamingContext")
    return value.decode()


def resolve_principal(conn: Any, name: str, base_dn: str | None = None) -> str:
    """A SID for ``name``: a SID, a well-known name ("Authenticated Users", "SELF"), ``DOMAIN\\sam``,
    sAMAccountName, UPN or DN. Raises :class:`AclError` with the object picker's message."""
    text = name.strip()
    if text.upper().startswith("S-1-"):
        try:
            return normalize_sid(text)
        except SidError as exc:
            raise AclError(str(exc)) from None
    short = text.split("\\", 1)[1] if "\\" in text else text
    if short.casefold() in _WK_BY_NAME:
        return _WK_BY_NAME[short.casefold()]
    base = base_dn or default_naming_context(conn)
    if "=" in short and "@" not in short:
        import ldap3

        conn.search(short, "(objectClass=*)", ldap3.BASE, attributes=["objectSid"])
        entry = next((e for e in conn.response or [] if e.get("type") == "searchResEntry"), None)
    else:
        key = "userPrincipalName" if "@" in short else "sAMAccountName"
        entry = _one(conn, base, f"({key}={_escape(short)})", ["objectSid"])
    raw = _raw_first(entry, "objectSid") if entry else None
    if raw is None:
        raise AclError(f'Name Not Found: An object named "{name}" cannot be found.')
    return sid_from_bytes(raw)


def netbios_name(conn: Any, base_dn: str) -> str:
    """The domain's NetBIOS name (crossRef ``nETBIOSName``; the first DC= label when unreadable)."""

    fallback = base_dn.split(",", 1)[0].split("=", 1)[-1].upper()
    config = _root_dse(conn, "configurationNamingContext")
    if not config:
        return fallback
    flt = f"(&(objectClass=crossRef)(nCName={_escape(base_dn)}))"
    entry = _one(conn, f"CN=Partitions,{config.decode()}", flt, ["nETBIOSName"])
    value = _raw_first(entry, "nETBIOSName") if entry else None
    return value.decode() if value else fallback


def name_resolver(conn: Any, base_dn: str | None = None) -> Callable[[str], str | None]:
    """SID -> ``DOMAIN\\sam`` (or the well-known name), cached; None when unknown."""
    base = base_dn or default_naming_context(conn)
    domain = netbios_name(conn, base)
    cache: dict[str, str | None] = {}

    def resolve(sid: str) -> str | None:
        if sid in _WK_BY_SID:
            return _WK_BY_SID[sid]
        if sid not in cache:
            try:
                value = "".join(f"\\{b:02x}" for b in sid_to_bytes(sid))
            except SidError:
                return None
            entry = _one(conn, base, f"(objectSid={value})", ["sAMAccountName"])
            if entry is None and sid.startswith("S-1-5-32-"):
                entry = _one(conn, f"CN=Builtin,{base}", f"(objectSid={value})", ["sAMAccountName"])
            sam = _raw_first(entry, "sAMAccountName") if entry else None
            prefix = "BUILTIN" if sid.startswith("S-1-5-32-") else domain
            cache[sid] = f"{prefix}\\{sam.decode()}" if sam else None
        return cache[sid]

    return resolve
