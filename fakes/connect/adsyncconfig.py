"""Python equivalents of the AdSyncConfig cmdlets, acting over LDAP like the PowerShell originals.

``Set-ADSyncPasswordWritebackPermissions`` runs (FACTS 8.2)::

    dsacls "<domainDN>" /G "<NETBIOS>\\<acct>:CA;Reset Password;user"
                           "<NETBIOS>\\<acct>:WP;lockoutTime;user" "<NETBIOS>\\<acct>:WP;pwdLastSet;user" /I:S

i.e. three object ACEs, CONTAINER_INHERIT|INHERIT_ONLY, inherited object type ``user``
(SDDL in FACTS 5.4). Like dsacls, this module reads the DACL with the SD flags control,
adds the ACEs that are not already there and writes the DACL back; the DC re-sorts and
re-propagates. With ``ad_object_dn`` the same grant goes to one OU/container (``/I:S``)
or, for a leaf object, without the class and ``/I:T``; the domain root and AdminSDHolder
are then skipped. AdminSDHolder is only touched with ``include_admin_sd_holder=True``
(current docs: ``-IncludeAdminSdHolders``, "not recommended").

The SD codec here is deliberately tiny (DACL only, ACEs kept as opaque bytes except the
ones added): Connect knows AD only through the wire format, like dsacls.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

import ldap3
from ldap3.utils.conv import escape_filter_chars

from fakes.connect.ldapconn import first_text, raw, result_of, sd_flags_control

RESET_PASSWORD = uuid.UUID("00299570-246d-11d0-a768-00aa006e0529")
LOCKOUT_TIME = uuid.UUID("28630ebf-41d5-11d1-a9c1-0000f80367c1")
PWD_LAST_SET = uuid.UUID("bf967a0a-0de6-11d0-a285-00aa003049e2")
USER_CLASS = uuid.UUID("bf967aba-0de6-11d0-a285-00aa003049e2")

ACCESS_ALLOWED_OBJECT_ACE = 0x05
CONTAINER_INHERIT = 0x02
INHERIT_ONLY = 0x08
INHERITED_ACE = 0x10
ADS_RIGHT_DS_CONTROL_ACCESS = 0x100
ADS_RIGHT_DS_WRITE_PROP = 0x20
ACE_OBJECT_TYPE_PRESENT = 0x1
ACE_INHERITED_OBJECT_TYPE_PRESENT = 0x2
SE_DACL_PRESENT = 0x0004
SE_DACL_PROTECTED = 0x1000
SE_SELF_RELATIVE = 0x8000
DACL_SECURITY_INFORMATION = 0x4
ACL_REVISION_DS = 4

#: (mask, object type) of each right the writeback cmdlet grants, in dsacls argument order.
WRITEBACK_RIGHTS: tuple[tuple[int, uuid.UUID], ...] = (
    (ADS_RIGHT_DS_CONTROL_ACCESS, RESET_PASSWORD),
    (ADS_RIGHT_DS_WRITE_PROP, LOCKOUT_TIME),
    (ADS_RIGHT_DS_WRITE_PROP, PWD_LAST_SET),
)
_CONTAINER_CLASSES = {"organizationalunit", "container", "domaindns", "builtindomain"}


class AdSyncConfigError(Exception):
    """An LDAP step failed; carries the DC's result code and diagnostic text."""

    def __init__(self, what: str, code: int, message: str) -> None:
        super().__init__(f"{what}: {code} {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Grant:
    """One object the cmdlet wrote to, with how many ACEs it actually added."""

    dn: str
    added: int


def object_ace(
    sid: bytes, mask: int, flags: int, object_type: uuid.UUID | None, inherited_object_type: uuid.UUID | None
) -> bytes:
    """Binary ACCESS_ALLOWED_OBJECT_ACE (MS-DTYP 2.4.4.3)."""
    obj_flags = (ACE_OBJECT_TYPE_PRESENT if object_type else 0) | (
        ACE_INHERITED_OBJECT_TYPE_PRESENT if inherited_object_type else 0
    )
    body = struct.pack("<II", mask, obj_flags)
    if object_type:
        body += object_type.bytes_le
    if inherited_object_type:
        body += inherited_object_type.bytes_le
    body += sid
    return struct.pack("<BBH", ACCESS_ALLOWED_OBJECT_ACE, flags, 4 + len(body)) + body


def parse_dacl(sd: bytes) -> tuple[int, list[bytes]]:
    """(control flags, raw ACEs of the DACL) of a self-relative security descriptor."""
    if len(sd) < 20:
        raise ValueError("security descriptor too short")
    control = struct.unpack_from("<H", sd, 2)[0]
    dacl_offset = struct.unpack_from("<I", sd, 16)[0]
    aces: list[bytes] = []
    if control & SE_DACL_PRESENT and dacl_offset:
        count = struct.unpack_from("<H", sd, dacl_offset + 4)[0]
        pos = dacl_offset + 8
        for _ in range(count):
            size = struct.unpack_from("<H", sd, pos + 2)[0]
            aces.append(sd[pos : pos + size])
            pos += size
    return control, aces


def build_dacl_sd(control: int, aces: list[bytes]) -> bytes:
    """A self-relative SD carrying only a DACL (what an SD-flags=DACL modify needs)."""
    acl_body = b"".join(aces)
    acl = struct.pack("<BBHHH", ACL_REVISION_DS, 0, 8 + len(acl_body), len(aces), 0) + acl_body
    ctl = (control & SE_DACL_PROTECTED) | SE_DACL_PRESENT | SE_SELF_RELATIVE
    return struct.pack("<BBHIIII", 1, 0, ctl, 0, 0, 0, 20) + acl


def _insert_explicit(aces: list[bytes], new: list[bytes]) -> tuple[list[bytes], int]:
    present = {a for a in aces if not a[1] & INHERITED_ACE}
    additions = [a for a in new if a not in present]
    # Explicit ACEs go before inherited ones; the DC canonicalises the rest (FACTS 5.6).
    cut = next((i for i, a in enumerate(aces) if a[1] & INHERITED_ACE), len(aces))
    return aces[:cut] + additions + aces[cut:], len(additions)


def resolve_account(conn: ldap3.Connection, base_dn: str, account: str) -> tuple[str, bytes]:
    """(DN, binary objectSid) for ``DOMAIN\\sam``, ``sam`` or a DN."""
    if "=" in account:
        ok = conn.search(account, "(objectClass=*)", ldap3.BASE, attributes=["objectSid"])
    else:
        sam = account.split("\\", 1)[-1]
        ok = conn.search(
            base_dn, f"(sAMAccountName={escape_filter_chars(sam)})", ldap3.SUBTREE, attributes=["objectSid"]
        )
    entries = [e for e in (conn.response or []) if e.get("type") == "searchResEntry"]
    if not ok or len(entries) != 1 or not raw(entries[0], "objectSid"):
        code, message = result_of(conn)
        raise AdSyncConfigError(f"cannot resolve {account!r}", code or 32, message)
    return entries[0]["dn"], raw(entries[0], "objectSid")[0]


def grant_aces(conn: ldap3.Connection, dn: str, aces: list[bytes]) -> int:
    """Add ``aces`` (explicit) to ``dn``'s DACL over LDAP; returns how many were new."""
    ok = conn.search(
        dn,
        "(objectClass=*)",
        ldap3.BASE,
        attributes=["nTSecurityDescriptor"],
        controls=[sd_flags_control(DACL_SECURITY_INFORMATION)],
    )
    entries = [e for e in (conn.response or []) if e.get("type") == "searchResEntry"]
    if not ok or not entries or not raw(entries[0], "nTSecurityDescriptor"):
        code, message = result_of(conn)
        raise AdSyncConfigError(f"cannot read the security descriptor of {dn}", code, message)
    control, current = parse_dacl(raw(entries[0], "nTSecurityDescriptor")[0])
    merged, added = _insert_explicit(current, aces)
    if not added:
        return 0
    conn.modify(
        dn,
        {"nTSecurityDescriptor": [(ldap3.MODIFY_REPLACE, [build_dacl_sd(control, merged)])]},
        controls=[sd_flags_control(DACL_SECURITY_INFORMATION)],
    )
    code, message = result_of(conn)
    if code != 0:
        raise AdSyncConfigError(f"cannot write the security descriptor of {dn}", code, message)
    return added


def writeback_aces(sid: bytes, *, leaf: bool = False) -> list[bytes]:
    """The three ACEs of ``Set-ADSyncPasswordWritebackPermissions``.

    ``/I:S`` with the ``;user`` suffix on a container; for a leaf object ``/I:T`` without the class.
    """
    if leaf:
        return [object_ace(sid, m, CONTAINER_INHERIT, g, None) for m, g in WRITEBACK_RIGHTS]
    return [object_ace(sid, m, CONTAINER_INHERIT | INHERIT_ONLY, g, USER_CLASS) for m, g in WRITEBACK_RIGHTS]


def set_password_writeback_permissions(
    conn: ldap3.Connection,
    *,
    base_dn: str,
    account: str,
    ad_object_dn: str | None = None,
    include_admin_sd_holder: bool = False,
) -> list[Grant]:
    """``Set-ADSyncPasswordWritebackPermissions -ADConnectorAccountName/-DN ... [-ADobjectDN] [...]``.

    ``conn`` is bound as an account allowed to write DACLs (a Domain Admin, as the
    cmdlet's docs require). One domain per call: pass each domain root for a forest.
    """
    _, sid = resolve_account(conn, base_dn, account)
    if ad_object_dn is not None:
        leaf = not _is_container(conn, ad_object_dn)
        return [Grant(ad_object_dn, grant_aces(conn, ad_object_dn, writeback_aces(sid, leaf=leaf)))]
    grants = [Grant(base_dn, grant_aces(conn, base_dn, writeback_aces(sid)))]
    if include_admin_sd_holder:
        holder = f"CN=AdminSDHolder,CN=System,{base_dn}"
        grants.append(Grant(holder, grant_aces(conn, holder, writeback_aces(sid))))
    return grants


def _is_container(conn: ldap3.Connection, dn: str) -> bool:
    ok = conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["objectClass"])
    entries = [e for e in (conn.response or []) if e.get("type") == "searchResEntry"]
    if not ok or not entries:
        code, message = result_of(conn)
        raise AdSyncConfigError(f"cannot read {dn}", code, message)
    classes = {v.decode().lower() for v in raw(entries[0], "objectClass")}
    return bool(classes & _CONTAINER_CLASSES)


def get_objects_with_inheritance_disabled(
    conn: ldap3.Connection, search_base: str, object_class: str = "organizationalUnit"
) -> list[str]:
    """``Get-ADSyncObjectsWithInheritanceDisabled -SearchBase ... [-ObjectClass ...]``.

    Returns the DNs whose DACL is protected (inheritance disabled, SD control bit 0x1000).
    """
    filt = "(objectClass=*)" if object_class == "*" else f"(objectClass={object_class})"
    entries = conn.extend.standard.paged_search(
        search_base,
        filt,
        ldap3.SUBTREE,
        attributes=["nTSecurityDescriptor", "distinguishedName"],
        controls=[sd_flags_control(DACL_SECURITY_INFORMATION)],
        paged_size=500,
        generator=True,
    )
    found = []
    for entry in entries:
        if entry.get("type") != "searchResEntry":
            continue
        sd = raw(entry, "nTSecurityDescriptor")
        if sd and parse_dacl(sd[0])[0] & SE_DACL_PROTECTED:
            found.append(first_text(entry, "distinguishedName") or entry["dn"])
    return found
