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

Connect knows AD only through LDAP, like dsacls; it decodes the security descriptors it
reads with the project's MS-DTYP codec (:mod:`fakes.ad.security`) and names rights with
:mod:`fakes.ad.rights` — libraries, not the DC's state.
"""

from __future__ import annotations

from dataclasses import dataclass

import ldap3
from ldap3.utils.conv import escape_filter_chars

from fakes.ad.rights import AppliesTo, describe_ace, make_ace
from fakes.ad.security.constants import DACL_SECURITY_INFORMATION, SE_DACL_PROTECTED
from fakes.ad.security.descriptor import Ace, Acl, SecurityDescriptor
from fakes.ad.sid import sid_from_bytes
from fakes.connect.ldapconn import first_text, raw, result_of, sd_flags_control

#: What the writeback cmdlet grants, in dsacls argument order: (right, written property).
WRITEBACK_GRANTS: tuple[dict[str, str], ...] = (
    {"right": "Reset Password"},
    {"write_property": "lockoutTime"},
    {"write_property": "pwdLastSet"},
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
    """One object the cmdlet wrote to, with how many ACEs it actually added (and which)."""

    dn: str
    added: int
    account: str = ""  # as an admin names it: DOMAIN\sam (or what the caller passed)
    aces: tuple[Ace, ...] = ()

    def rights(self) -> list[dict[str, object]]:
        """The added ACEs as ADUC's Advanced Security rows (type, principal, access, applies_to)."""
        return [{**describe_ace(a, "", lambda _sid: self.account or None), "dn": self.dn} for a in self.aces]

    def describe(self) -> str:
        """What an admin reads: "Granted 1 ACE on DC=... to CONTOSO\\MSOL_...: Reset password (...)"."""
        who = self.account or "the account"
        if not self.added:
            return f"No change on {self.dn}: {who} already has these permissions."
        noun = "ACE" if self.added == 1 else "ACEs"
        lines = [f"Granted {self.added} {noun} on {self.dn} to {who}:"]
        lines += [f"  {r['type']}  {r['access']}  (applies to: {r['applies_to']})" for r in self.rights()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()


def _with_explicit(sd: SecurityDescriptor, new: list[Ace]) -> tuple[SecurityDescriptor, int]:
    """:func:`_merge` with the number of ACEs added."""
    merged, additions = _merge(sd, new)
    return merged, len(additions)


def _merge(sd: SecurityDescriptor, new: list[Ace]) -> tuple[SecurityDescriptor, list[Ace]]:
    """A DACL-only SD holding ``sd``'s explicit ACEs plus those of ``new`` not already there.

    Inherited ACEs are left out on purpose: the DC recomputes them (FACTS 5.6), and it
    re-sorts the explicit ones into canonical order.
    """
    explicit = [a for a in (sd.dacl.aces if sd.dacl else ()) if not a.inherited]
    additions = [a for a in new if a not in explicit]
    control = sd.control & SE_DACL_PROTECTED
    return SecurityDescriptor(owner=None, group=None, dacl=Acl(tuple(explicit + additions)),
                              control=control), additions


def resolve_account(conn: ldap3.Connection, base_dn: str, account: str) -> tuple[str, str]:
    """(DN, objectSid as S-1-5-...) for ``DOMAIN\\sam``, ``sam`` or a DN."""
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
    return entries[0]["dn"], sid_from_bytes(raw(entries[0], "objectSid")[0])


def grant_aces(conn: ldap3.Connection, dn: str, aces: list[Ace]) -> int:
    """Add ``aces`` (explicit) to ``dn``'s DACL over LDAP; returns how many were new."""
    return len(add_aces(conn, dn, aces))


def add_aces(conn: ldap3.Connection, dn: str, aces: list[Ace]) -> list[Ace]:
    """Add ``aces`` (explicit) to ``dn``'s DACL over LDAP; returns the ones that were new."""
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
    current = SecurityDescriptor.from_bytes(raw(entries[0], "nTSecurityDescriptor")[0])
    merged, added = _merge(current, aces)
    if not added:
        return []
    conn.modify(
        dn,
        {"nTSecurityDescriptor": [(ldap3.MODIFY_REPLACE, [merged.to_bytes()])]},
        controls=[sd_flags_control(DACL_SECURITY_INFORMATION)],
    )
    code, message = result_of(conn)
    if code != 0:
        raise AdSyncConfigError(f"cannot write the security descriptor of {dn}", code, message)
    return added


def writeback_aces(sid: str, *, leaf: bool = False) -> list[Ace]:
    """The three ACEs of ``Set-ADSyncPasswordWritebackPermissions``.

    ``/I:S`` with the ``;user`` suffix on a container; for a leaf object ``/I:T`` without the class.
    """
    if leaf:
        here_and_below = AppliesTo.THIS_OBJECT_AND_DESCENDANTS
        return [make_ace(sid, applies_to=here_and_below, **g) for g in WRITEBACK_GRANTS]
    return [make_ace(sid, applies_to=AppliesTo.DESCENDANT_CLASS, descendant_class="user", **g)
            for g in WRITEBACK_GRANTS]


def set_password_writeback_permissions(
    conn: ldap3.Connection,
    *,
    base_dn: str,
    account: str,
    ad_object_dn: str | None = None,
    include_admin_sd_holder: bool = False,
    netbios: str | None = None,
) -> list[Grant]:
    """``Set-ADSyncPasswordWritebackPermissions -ADConnectorAccountName/-DN ... [-ADobjectDN] [...]``.

    ``conn`` is bound as an account allowed to write DACLs (a Domain Admin, as the
    cmdlet's docs require). One domain per call: pass each domain root for a forest.
    ``netbios`` (e.g. ``CONTOSO``) only names the account in each :class:`Grant`'s message.
    """
    dn, sid = resolve_account(conn, base_dn, account)
    label = _account_label(account, dn, netbios)

    def grant(target: str, aces: list[Ace]) -> Grant:
        added = add_aces(conn, target, aces)
        return Grant(target, len(added), label, tuple(added))

    if ad_object_dn is not None:
        return [grant(ad_object_dn, writeback_aces(sid, leaf=not _is_container(conn, ad_object_dn)))]
    grants = [grant(base_dn, writeback_aces(sid))]
    if include_admin_sd_holder:
        grants.append(grant(f"CN=AdminSDHolder,CN=System,{base_dn}", writeback_aces(sid)))
    return grants


def _account_label(account: str, dn: str, netbios: str | None) -> str:
    """``DOMAIN\\sam`` the way dsacls and ADUC name a principal (the DN's CN when given a DN)."""
    if "\\" in account:
        return account
    sam = dn.split(",", 1)[0].split("=", 1)[-1] if "=" in account else account
    return f"{netbios}\\{sam}" if netbios else sam


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
        if sd and SecurityDescriptor.from_bytes(sd[0]).protected:
            found.append(first_text(entry, "distinguishedName") or entry["dn"])
    return found
