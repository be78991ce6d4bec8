"""The directory admin's side of a lab: find and create users, edit DACLs like ADUC, bind.

A mixin of :class:`simlab.lab.Lab`; every change goes through the DC's operation API as
Administrator (or over LDAPS with ldap3), so the operation log and the Security log see it.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from fakes.ad.api import Change, Control, ModOp
from fakes.ad.controls import DACL_SECURITY_INFORMATION, SD_FLAGS, encode_sd_flags
from fakes.ad.security.constants import SE_DACL_PROTECTED
from fakes.ad.security.descriptor import Acl, SecurityDescriptor
from fakes.ad.sid import sid_from_bytes
from fakes.connect.ldapconn import closed_on_error
from simlab.lab_types import Authentication, BindResult, LabError, Transport, UserRef

if TYPE_CHECKING:
    import ldap3
from simlab.tutorial import tutorial_aces


class DirectoryAdmin:
    """Directory helpers of a lab (needs ``dc``, ``spec``, ``clock`` and ``ldap_endpoints``)."""

    dc: Any
    spec: Any
    clock: Any
    ldap_endpoints: Any

    def user(self, name: str) -> UserRef:
        """Find a user by sAMAccountName, UPN or DN (in-process lookup; no access check)."""
        directory = self.dc.directory
        entry = directory.get(name) if "=" in name else None
        if entry is None:
            key = "userprincipalname" if "@" in name else "samaccountname"
            hits = [e for e in directory.lookup(key, name) if e.object_class in ("user", "inetOrgPerson")]
            entry = hits[0] if hits else None
        if entry is None:
            raise LabError(f"no user {name!r} in the lab's directory")
        sam = entry.attrs["samaccountname"][0]
        upn = (entry.attrs.get("userprincipalname") or [f"{sam}@{self.spec.domain.dns}"])[0]
        return UserRef(sam, entry.dn, upn)

    def create_user(
        self,
        sam: str,
        *,
        ou: str | None = None,
        password: str | None = None,
        state: str = "enabled",
        display_name: str | None = None,
    ) -> UserRef:
        """Add a user the way an admin does in ADUC (as Administrator), then set its state."""
        admin = self.dc.admin_session()
        parent = ou or f"OU={self.spec.population.departments[0]},OU=Staff,{self.dc.domain_dn}"
        if "=" not in parent:
            parent = f"OU={parent},OU=Staff,{self.dc.domain_dn}"
        self._ensure_ous(parent)
        display = display_name or sam.replace(".", " ").title()
        dn = f"CN={display},{parent}"
        upn = f"{sam}@{self.spec.domain.dns}"
        self.dc.add(admin, dn, {
            "objectClass": [b"user"],
            "sAMAccountName": [sam.encode()],
            "userPrincipalName": [upn.encode()],
            "displayName": [display.encode()],
            "givenName": [display.split()[0].encode()],
            "sn": [display.split()[-1].encode()],
            "mail": [upn.encode()],
        })
        self.dc.set_password(dn, password or self.spec.population.password)
        uac = b"514" if state == "disabled" else b"512"
        changes = [Change(ModOp.REPLACE, "userAccountControl", (uac,)),
                   Change(ModOp.REPLACE, "pwdLastSet", (b"-1",))]
        self.dc.modify(admin, dn, changes)
        if state == "locked":
            # The DC locks accounts itself (bad passwords); LDAP may only write lockoutTime 0.
            with self.dc.lock:
                entry = self.dc.directory.get(dn)
                assert entry is not None
                self.dc.directory.set_values(entry, "lockouttime", [str(self.clock.filetime())])
                self.dc.stamp(entry)
        elif state == "expired":
            self.dc.modify(admin, dn, [Change(ModOp.REPLACE, "pwdLastSet", (b"0",))])
        return UserRef(sam, dn, upn)

    def _ensure_ous(self, dn: str) -> None:
        """Create the OU chain down to ``dn`` as Administrator (a lab with no seeded population has none)."""
        if self.dc.directory.get(dn) is not None or dn.lower() == self.dc.domain_dn.lower():
            return
        rdn, _, parent = dn.partition(",")
        self._ensure_ous(parent)
        name = rdn.split("=", 1)[1]
        attrs = {"objectClass": [b"organizationalUnit"], "ou": [name.encode()]}
        self.dc.add(self.dc.admin_session(), dn, attrs)

    @property
    def connector_sam(self) -> str:
        """The connector account's sAMAccountName (``MSOL_...``), as "View current configuration" shows."""
        return self.dc.connector_dn.split(",", 1)[0].split("=", 1)[1]

    def connector_sid(self) -> str:
        entry = self.dc.directory.get(self.dc.connector_dn)
        assert entry is not None
        return sid_from_bytes(entry.attrs["objectsid"][0])

    def grant_tutorial_permissions(self) -> None:
        """The tutorial's ADUC grants on the domain root, as Administrator (DACL write with SD flags)."""
        wanted = tutorial_aces(self.connector_sid())
        # Idempotent: a directory seeded from a lab's LDIF already holds the grants (no write, no stamp).
        dacl = self.dc.sds.parse(self.dc.root().sd).dacl
        if dacl is not None and all(a in dacl.aces for a in wanted):
            return
        self.edit_dacl(self.dc.domain_dn, lambda aces: aces + [a for a in wanted if a not in aces])

    def edit_dacl(self, dn: str, change: Any, *, protect: bool | None = None) -> None:
        """Read-modify-write a DACL as ADUC does: explicit ACEs only, SD flags = DACL."""
        admin = self.dc.admin_session()
        flags = (_sd_flags_control(DACL_SECURITY_INFORMATION),)
        found = self.dc.search(admin, dn, 0, "(objectClass=*)", ["nTSecurityDescriptor"], controls=flags)
        sd = SecurityDescriptor.from_bytes(found.entries[0].get("nTSecurityDescriptor")[0])
        explicit = [a for a in (sd.dacl.aces if sd.dacl else ()) if not a.inherited]
        control = sd.control
        if protect is True:
            control |= SE_DACL_PROTECTED
        elif protect is False:
            control &= ~SE_DACL_PROTECTED
        new = SecurityDescriptor(owner=None, group=None, dacl=Acl(tuple(change(explicit))), control=control)
        self.dc.modify(admin, dn, [Change(ModOp.REPLACE, "nTSecurityDescriptor", (new.to_bytes(),))],
                       controls=flags)

    def ldap(self, user: str | None = None, password: str | None = None, *,
             transport: Transport = "ldaps", bind: bool = True,
             authentication: Authentication = "simple") -> ldap3.Connection:
        """An ldap3 connection to the served DC (as Administrator unless told otherwise).

        ``authentication="ntlm"`` binds with ldap3's NTLM (Sicily) as ``DOMAIN\\sam``; ldap3
        neither signs nor sends a channel binding token, like many tools.
        """
        import ldap3  # (here: a served lab's endpoint line comes before any admin connection)

        ep = self.ldap_endpoints
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ep.ca_file)
        secure = transport == "ldaps"
        server = ldap3.Server(ep.host, port=ep.ldaps_port if secure else ep.ldap_port, use_ssl=secure,
                              tls=tls, get_info=ldap3.NONE)
        who = user or ep.admin_dn
        if authentication == "ntlm":
            if "\\" not in who:
                who = f"{self.dc.netbios_name}\\{self.user(who).sam}"
        elif user and "=" not in user and "@" not in user and "\\" not in user:
            who = self.user(user).dn
        conn = ldap3.Connection(server, user=who, password=password or ep.admin_password,
                                raise_exceptions=False,
                                authentication=ldap3.NTLM if authentication == "ntlm" else ldap3.SIMPLE)
        with closed_on_error(conn):  # (a DC that is gone, a refused certificate)
            if transport == "starttls":
                conn.open()
                conn.start_tls()
            if bind:
                conn.bind()
        return conn

    def bind(self, user: str, password: str, *, transport: Transport = "ldaps",
             authentication: Authentication = "simple") -> BindResult:
        """Try a bind as ``user`` (sAMAccountName, UPN or DN) and report the result.

        ``authentication`` is ``simple`` or ``ntlm`` (see :meth:`ldap`).
        """
        from ldap3.core.exceptions import LDAPException

        conn = self.ldap(user, password, transport=transport, bind=False, authentication=authentication)
        try:
            conn.bind()
        except (LDAPException, ValueError) as exc:  # dropped session; no MD4 for ldap3's NTLM
            conn.unbind()
            return BindResult(-1, f"{type(exc).__name__}: {exc}")
        result = BindResult(conn.result["result"], conn.result.get("message", ""))
        conn.unbind()
        return result


def _sd_flags_control(flags: int) -> Control:
    return Control(SD_FLAGS, True, encode_sd_flags(flags))
