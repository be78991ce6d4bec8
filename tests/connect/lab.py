"""A served lab for the Connect end-to-end tests: DC over LDAP(S), tenant, Connect server.

Faults are applied the way an admin would: LDAP modifies as a Domain Admin (DACL edits
with the SD flags control, policy attributes), Connect settings, tenant toggles.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import ldap3

from fakes.ad.security.descriptor import Ace, Acl, SecurityDescriptor
from fakes.clock import SimClock
from fakes.connect.config import DirectoryConnection
from fakes.connect.ldapconn import close_quietly, raw, sd_flags_control
from fakes.connect.server import ConnectServer
from fakes.graph import sspr
from fakes.graph.tenant import Tenant

DACL = 0x4


@dataclass
class Lab:
    clock: SimClock
    dc: object
    ep: object
    tenant: Tenant
    server: ConnectServer
    #: Admin connections handed to tests (closed when the lab stops: a test needn't unbind them).
    handed_out: list[ldap3.Connection] = field(default_factory=list)

    # -- LDAP as an admin / as a user ------------------------------------------------
    def conn(
        self, user: str | None = None, password: str | None = None, *, secure: bool = True
    ) -> ldap3.Connection:
        ep = self.ep
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ep.ca_file)
        server = ldap3.Server(
            ep.host,
            port=ep.ldaps_port if secure else ep.ldap_port,
            use_ssl=secure,
            tls=tls,
            get_info=ldap3.NONE,
        )
        return ldap3.Connection(
            server, user=user or ep.admin_dn, password=password or ep.admin_password, raise_exceptions=False
        )

    def admin(self) -> ldap3.Connection:
        c = self.conn()
        self.handed_out.append(c)
        assert c.bind(), c.result
        return c

    def can_bind(self, dn: str, password: str) -> bool:
        c = self.conn(dn, password)
        ok = c.bind()
        c.unbind()
        return ok

    def read(self, dn: str, *attrs: str) -> dict[str, list[bytes]]:
        c = self.admin()
        assert c.search(dn, "(objectClass=*)", ldap3.BASE, attributes=list(attrs)), c.result
        entry = c.response[0]
        c.unbind()
        return {a: raw(entry, a) for a in attrs}

    def sid_of(self, dn: str) -> str:
        from fakes.ad.sid import sid_from_bytes

        return sid_from_bytes(self.read(dn, "objectSid")["objectSid"][0])

    def edit_dacl(
        self, dn: str, change: Callable[[list[Ace]], list[Ace]], *, protect: bool | None = None
    ) -> None:
        """Read the DACL with the SD flags control, change it, write it back (like ADUC)."""
        c = self.admin()
        ctl = [sd_flags_control(DACL)]
        assert c.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["nTSecurityDescriptor"], controls=ctl)
        sd = SecurityDescriptor.from_bytes(raw(c.response[0], "nTSecurityDescriptor")[0])
        # Only explicit ACEs are authoritative on write; the DC recomputes the inherited ones.
        # protect=True is ADUC's "Disable inheritance" -> "Remove all inherited permissions".
        aces = change([a for a in sd.dacl.aces if not a.inherited])
        control = sd.control & ~0x1000 if protect is False else sd.control | (0x1000 if protect else 0)
        new = SecurityDescriptor(
            owner=None, group=None, dacl=Acl(aces=tuple(aces), revision=4), control=control
        )
        c.modify(dn, {"nTSecurityDescriptor": [(ldap3.MODIFY_REPLACE, [new.to_bytes()])]}, controls=ctl)
        assert c.result["result"] == 0, c.result
        c.unbind()

    def modify(self, dn: str, **attrs: object) -> dict:
        c = self.admin()
        c.modify(dn, {k: [(ldap3.MODIFY_REPLACE, [str(v)])] for k, v in attrs.items()})
        result = dict(c.result)
        c.unbind()
        return result

    # -- the user's side ----------------------------------------------------------------
    def sspr_reset(self, upn: str, new_password: str, *, unlock: bool = False) -> None:
        """The portal flow: begin, one verification code, submit (raises SsprError)."""
        flow = sspr.begin(self.tenant, upn)
        method = flow.methods[0]
        sspr.send_code(self.tenant, flow, method.id)
        code = self.tenant.outbox[-1][1]
        sspr.verify(self.tenant, flow, method.id, code)
        sspr.submit(self.tenant, flow, new_password, unlock=unlock)

    def sspr_unlock(self, upn: str) -> None:
        flow = sspr.begin(self.tenant, upn)
        method = flow.methods[0]
        sspr.send_code(self.tenant, flow, method.id)
        sspr.verify(self.tenant, flow, method.id, self.tenant.outbox[-1][1])
        sspr.unlock_account(self.tenant, flow)

    def events(self, after: int = 0) -> list[int]:
        return [e.event_id for e in self.server.eventlog.query(after_record=after)]

    def last_audit(self, upn: str):
        return self.tenant.audit.query(target_upn=upn)[-1]


@contextlib.contextmanager
def served_lab(users: int = 12, seed: int = 0) -> Iterator[Lab]:
    from fakes.ad.ldap.serve import serve_dc
    from fakes.ad.provision import provision

    clock = SimClock()
    dc = provision(domain="contoso.com", users=users, seed=seed, clock=clock)
    with serve_dc(dc) as ep:
        tenant = Tenant.create(clock=clock, domain="contoso.com", licence="P1")
        directory = DirectoryConnection.from_endpoints(ep, domain="contoso.com", netbios=dc.netbios_name)
        server = ConnectServer.create(tenant=tenant, clock=clock, directory=directory)
        server.run_sync_cycle("Initial")
        server.enable_password_writeback(tenant.admin_upn, tenant.admin_password)
        tenant.set_onprem(writeback_enabled=True, unlock_enabled=True)
        lab = Lab(clock, dc, ep, tenant, server)
        try:
            yield lab
        finally:
            server.stop_service()
            for conn in lab.handed_out:
                close_quietly(conn)


def pick_user(lab: Lab, *, protected: bool = False) -> tuple[str, str]:
    """(UPN, DN) of an enabled synced user, protected by AdminSDHolder or not; registers it for SSPR."""
    for user in lab.tenant.users.values():
        if not user.synced or not user.account_enabled:
            continue
        dn = user.on_premises_distinguished_name
        attrs = lab.read(dn, "adminCount", "memberOf", "userAccountControl")
        is_protected = bool(attrs["adminCount"]) and attrs["adminCount"][0] == b"1"
        if is_protected == protected and not int(attrs["userAccountControl"][0]) & 0x2:
            lab.tenant.register_for_sspr(user)
            return user.user_principal_name, dn
    raise LookupError("no suitable user in the lab")
