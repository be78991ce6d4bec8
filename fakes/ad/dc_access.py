"""Who a session is and what it may do: tokens, access checks, Security-log identities.

A mixin of :class:`fakes.ad.dc.DomainController`: the rules every operation asks (is this session
SYSTEM, does its token hold a control access right or an object right on an entry, may it create
a child of a class) and the names the Security log records. The checks themselves are the pure
functions of :mod:`fakes.ad.security.access`; this module feeds them the entry's interned
descriptor and the session's token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from fakes.ad import security_log as seclog
from fakes.ad.api import Session
from fakes.ad.dn import DNError, first_rdn
from fakes.ad.security import constants as K
from fakes.ad.security.access import check_access, child_access, has_control_access
from fakes.ad.sid import (
    AUTHENTICATED_USERS,
    BUILTIN_ADMINISTRATORS,
    EVERYONE,
    NETWORK,
    SYSTEM,
    make_sid,
    sid_from_bytes,
)

if TYPE_CHECKING:
    from fakes.ad.directory import Directory, Entry
    from fakes.ad.sdstore import SdStore

#: "This Organization": in the token of every account of the forest (MS-DTYP 2.4.2.4).
THIS_ORGANIZATION = "S-1-5-15"


def text(entry: Entry, attr: str, default: str = "") -> str:
    """First value of a text attribute (``attr`` lower-case)."""
    values = entry.attrs.get(attr)
    if not values:
        return default
    v = values[0]
    return v.decode() if isinstance(v, bytes) else v


def number(entry: Entry, attr: str, default: int = 0) -> int:
    """First value of an integer attribute."""
    raw = text(entry, attr)
    return int(raw) if raw else default


def lenient_number(entry: Entry, attr: str) -> int:
    """:func:`number`, but 0 for a first value that is not a number: for attributes a search reads
    on every object it walks (uSNChanged, instanceType), where an LDIF may have put anything."""
    try:
        return number(entry, attr)
    except ValueError:
        return 0


class DcAccess:
    """Sessions, tokens and access checks of a :class:`~fakes.ad.dc.DomainController` (its fields)."""

    directory: Directory
    sds: SdStore
    domain_sid: str
    netbios_name: str
    dns_domain: str
    dc_name: str

    if TYPE_CHECKING:  # (DomainController's own)
        def class_guid(self, name: str) -> UUID: ...

    def sid_of(self, entry: Entry) -> str | None:
        values = entry.attrs.get("objectsid")
        return sid_from_bytes(values[0]) if values else None

    def token_for(self, entry: Entry) -> frozenset[str]:
        """User SID + primary group + transitive groups + Everyone, Authenticated Users, ..."""
        sids = {EVERYONE, AUTHENTICATED_USERS, NETWORK, THIS_ORGANIZATION}
        own = self.sid_of(entry)
        if own:
            sids.add(own)
        groups = set(self.directory.transitive_groups(entry))
        pgid = number(entry, "primarygroupid")
        if pgid:
            primary = self.directory.by_sid(make_sid(self.domain_sid, pgid))
            if primary is not None:
                groups.add(primary)
                groups.update(self.directory.transitive_groups(primary))
        # Well-known SIDs in the token count as members through their foreignSecurityPrincipal
        # objects (Authenticated Users is in Pre-Windows 2000 Compatible Access, for one).
        for wellknown in (EVERYONE, AUTHENTICATED_USERS):
            fsp = self.directory.by_sid(wellknown)
            if fsp is not None:
                groups.update(self.directory.transitive_groups(fsp))
        for g in groups:
            gsid = self.sid_of(g)
            if gsid:
                sids.add(gsid)
        return frozenset(sids)

    def is_system(self, session: Session) -> bool:
        return SYSTEM in session.token

    def has_security_privilege(self, session: Session) -> bool:
        """SeSecurityPrivilege (SACL access): SYSTEM and Administrators hold it by default."""
        return SYSTEM in session.token or BUILTIN_ADMINISTRATORS in session.token

    def control_access(self, session: Session, entry: Entry, right: UUID) -> bool:
        if self.is_system(session):
            return True
        return has_control_access(self.sds.parse(entry.sd), session.token, right, self_sid=self.sid_of(entry))

    def object_access(self, session: Session, entry: Entry, mask: int) -> bool:
        if self.is_system(session):
            return True
        sd = self.sds.parse(entry.sd)
        return check_access(sd, session.token, mask, self_sid=self.sid_of(entry)) == mask

    def principal(self, entry: Entry | None) -> seclog.Principal:
        """Security-log identity of an entry (or ANONYMOUS LOGON)."""
        if entry is None:
            return seclog.Principal("ANONYMOUS LOGON", "NT AUTHORITY", "S-1-5-7")
        sam = text(entry, "samaccountname") or first_rdn(entry.dn).split("=", 1)[-1]
        return seclog.Principal(sam, self.netbios_name, self.sid_of(entry) or "")

    def session_principal(self, session: Session) -> seclog.Principal:
        if self.is_system(session):
            return seclog.Principal(f"{self.dc_name}$", self.netbios_name, SYSTEM)
        entry = self.directory.get(session.principal_dn) if session.principal_dn else None
        return self.principal(entry)

    def new_session(self, *, peer: str = "", encrypted: bool = False) -> Session:
        """A fresh anonymous connection state."""
        return Session(peer=peer, encrypted=encrypted, tls=encrypted)

    def system_session(self) -> Session:
        """A session acting as the DC itself (SYSTEM): no access checks, password rules still apply."""
        return Session(
            peer="system",
            encrypted=True,
            principal_dn=None,
            principal_sid=SYSTEM,
            token=frozenset({SYSTEM, EVERYONE, AUTHENTICATED_USERS, BUILTIN_ADMINISTRATORS}),
        )

    def resolve_principal(self, name: str) -> Entry | None:
        """Find the account a simple bind names: DN, UPN (explicit or implicit sam@dns) or DOMAIN\\sam."""
        if "\\" in name:
            domain, _, sam = name.partition("\\")
            if domain.lower() not in (self.netbios_name.lower(), self.dns_domain.lower()):
                return None
            hits = self.directory.lookup("sAMAccountName", sam)
        elif "=" in name:
            try:
                return self.directory.get(name)
            except DNError:
                return None
        elif "@" in name:
            hits = self.directory.lookup("userPrincipalName", name)
            if not hits:
                sam, _, dom = name.partition("@")
                hits = self.directory.lookup("sAMAccountName", sam) if dom.lower() == self.dns_domain else []
        else:
            hits = []
        return hits[0] if len(hits) == 1 else None

    def can_create(self, session: Session, parent: Entry, class_name: str) -> bool:
        if self.is_system(session):
            return True
        return child_access(
            self.sds.parse(parent.sd),
            session.token,
            K.RIGHT_DS_CREATE_CHILD,
            child_class=self.class_guid(class_name),
            self_sid=self.sid_of(parent),
        )
