"""The fake domain controller's operation API: bind, search, add, modify, delete, modrdn, compare, extended.

Every access and password rule lives here and in the helpers it delegates to
(:mod:`fakes.ad.dc_search`, :mod:`fakes.ad.dc_modify`, ...; sessions, tokens and access
checks in the :mod:`fakes.ad.dc_access` mixin); the LDAP adapter only
translates wire messages. Failures raise :class:`~fakes.ad.api.LdapError` with the
exact Windows code and text from :mod:`fakes.ad.errors`.

Thread safety: one re-entrant lock (``DomainController.lock``) is held for the whole of
every operation, including SD propagation and SDProp runs, so operations are
serialised; the LDAP reactor thread and test threads may call in concurrently.
"""

from __future__ import annotations

import functools
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from uuid import UUID

from fakes.ad import controls as ctl
from fakes.ad import errors, passwords
from fakes.ad.api import (
    Change,
    Control,
    LdapError,
    LdapResult,
    ModOp,
    ResultCode,
    Scope,
    SearchResult,
    Session,
)
from fakes.ad.attr_stamps import AttributeStamps
from fakes.ad.bind_policy import LdapServerPolicy
from fakes.ad.dc_access import DcAccess, text
from fakes.ad.directory import Directory, Entry
from fakes.ad.dn import DNError, normalize_dn, parent_dn
from fakes.ad.guid import random_uuid4
from fakes.ad.schema import Schema, SchemaError
from fakes.ad.sdstore import SdStore
from fakes.ad.sid import (
    make_sid,
    sid_to_bytes,
)
from fakes.ad.value_range import MAX_VAL_RANGE
from fakes.clock import SimClock, to_generalized_time
from fakes.eventlog import EventLog
from fakes.oplog import OperationLog

#: MaxPageSize of the Default Query Policy (MS-ADTS 3.1.1.3.4.6): AD's default.
MAX_PAGE_SIZE = 1000
RESET_PASSWORD = UUID("00299570-246d-11d0-a768-00aa006e0529")
CHANGE_PASSWORD = UUID("ab721a53-1e2f-11d0-9819-00aa0040529b")
UNEXPIRE_PASSWORD = UUID("ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501")
WHOAMI_OID = "1.3.6.1.4.1.4203.1.11.3"

#: Controls the DC acts on, or accepts and ignores (anything else marked critical -> 12).
HANDLED_CONTROLS = frozenset(
    {
        ctl.PAGED_RESULTS,
        ctl.SD_FLAGS,
        ctl.POLICY_HINTS,
        ctl.POLICY_HINTS_DEPRECATED,
        ctl.PERMISSIVE_MODIFY,
        ctl.TREE_DELETE,
        ctl.DOMAIN_SCOPE,
        # The lab keeps no tombstones, recycled objects or deactivated link values (a delete
        # removes the object; the Recycle Bin feature is off), so these three change nothing
        # here; bloodyAD marks them critical on every search.
        ctl.SHOW_DELETED,
        ctl.SHOW_RECYCLED,
        ctl.SHOW_DEACTIVATED_LINK,
        ctl.LAZY_COMMIT,
        ctl.SEARCH_OPTIONS,
        ctl.SORT,  # fakes/ad/server_sort.py
    }
)
# Stored but never returned by a search (MS-ADTS 3.1.1.3.1.5: secret attributes).
SECRET_ATTRIBUTES = frozenset(
    {"unicodepwd", "userpassword", "dbcspwd", "ntpwdhistory", "lmpwdhistory", "supplementalcredentials"}
)
SECURITY_PRINCIPAL_CLASSES = frozenset({"user", "inetorgperson", "computer", "group"})

T = TypeVar("T")


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: DomainController, *args: Any, **kwargs: Any) -> T:
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


class DomainController(DcAccess):
    """An in-memory Windows Server 2016 DC (build one with :func:`fakes.ad.provision.provision`).

    Attributes: ``domain_dn``, ``domain_sid``, ``netbios_name``, ``dns_domain``,
    ``dns_host_name``, ``config_dn``, ``schema_dn``, ``clock``, ``directory``, ``schema``,
    ``security_log`` (the DC's Security event log), ``oplog`` (or None), ``sds`` (the
    interned descriptor table), ``replication_delay`` (seconds before a parent's SD change
    reaches descendants; 0 = same operation), ``admin_dn``/``admin_password`` and
    ``connector_dn``/``connector_password`` once provisioned.
    """

    def __init__(
        self,
        *,
        directory: Directory,
        schema: Schema,
        domain_dn: str,
        domain_sid: str,
        netbios_name: str,
        dns_domain: str,
        dc_name: str,
        clock: SimClock,
        oplog: OperationLog | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.directory = directory
        self.schema = schema
        self.domain_dn = domain_dn
        self.domain_sid = domain_sid
        self.netbios_name = netbios_name
        self.dns_domain = dns_domain
        self.dc_name = dc_name
        self.dns_host_name = f"{dc_name}.{dns_domain}".lower()
        self.config_dn = f"CN=Configuration,{domain_dn}"
        self.schema_dn = f"CN=Schema,{self.config_dn}"
        self.clock = clock
        self.oplog = oplog
        self.rng = rng or random.Random(0)
        self.sds = SdStore(domain_sid)
        self.security_log = EventLog(clock, self.dns_host_name)
        self.replication_delay = 0.0
        #: "Audit Directory Service Changes" (off by default on Windows DCs): when on, DACL edits write 5136.
        self.audit_directory_service_changes = False
        #: "LDAP server signing requirements" / "channel binding token requirements" (DC policy).
        self.ldap_policy = LdapServerPolicy()
        self.max_val_range = MAX_VAL_RANGE  # LDAP policy MaxValRange: values per attribute per result
        self.max_page_size = MAX_PAGE_SIZE  # LDAP policy MaxPageSize: entries per page or unpaged search
        self.usn = 4096
        #: The local USN of each attribute's last originating write (what DirSync reads).
        self.attr_stamps = AttributeStamps()
        self.next_rid = 1100
        self.admin_dn = ""
        self.admin_password = ""
        self.connector_dn: str | None = None
        self.connector_password: str | None = None
        self.sdprop: Any = None  # fakes.ad.sdprop.SDProp once provisioned
        self._class_guid: dict[str, UUID] = {}
        self._sid_prefix: bytes | None = None
        #: Domain Admins, the default owner/group of objects created by administrators (MS-ADTS 6.1.3.7).
        self.domain_admins_sid = make_sid(domain_sid, 512)

    # ------------------------------------------------------------------ helpers
    def next_usn(self) -> int:
        self.usn += 1
        return self.usn

    def class_guid(self, name: str) -> UUID:
        guid = self._class_guid.get(name)
        if guid is None:
            guid = self._class_guid[name] = self.schema.object_class(name).schema_id_guid
        return guid

    def root(self) -> Entry:
        entry = self.directory.get(self.domain_dn)
        if entry is None:  # pragma: no cover - provisioning always creates it
            raise RuntimeError("domain NC head missing")
        return entry

    def policy(self) -> passwords.PasswordPolicy:
        """The domain password/lockout policy as currently stored on the NC head."""
        return passwords.PasswordPolicy.from_attributes(self.root().attrs)

    def entry_or_error(self, dn: str) -> Entry:
        """The entry at ``dn`` or 32 with Windows' best-match text (34 for unparsable DNs)."""
        try:
            entry = self.directory.get(dn)
        except DNError as exc:
            raise errors.invalid_dn(dn) from exc
        if entry is None:
            near = self.directory.nearest(dn)
            raise errors.no_such_object(near.dn if near is not None else "")
        return entry

    def stamp(self, entry: Entry) -> None:
        """whenChanged / uSNChanged after an originating write; the attributes it wrote get
        the new USN as their last change (fakes/ad/attr_stamps.py)."""
        usn = self.next_usn()
        self.directory.set_values(entry, "whenchanged", [to_generalized_time(self.clock.now())])
        self.directory.set_values(entry, "usnchanged", [str(usn)])
        self.attr_stamps.record(entry, self.directory.written.pop(entry, None), usn)

    def record(
        self, session: Session, op: str, target: str, result: int, message: str = "", **details: Any
    ) -> None:
        if self.oplog is None:
            return
        actor = session.principal_dn or ("SYSTEM" if self.is_system(session) else "anonymous")
        self.oplog.record(
            "ldap",
            actor,
            op,
            target,
            result,
            errors.canonical(message),
            encrypted=session.encrypted,
            **details,
        )

    def _run(self, session: Session, op: str, target: str, fn: Callable[[], T], **details: Any) -> T:
        # Only the writes of this operation that its stamp() closes count as changes (DirSync):
        # writes without a stamp (provisioning, faults, a bind's non-replicated counters) do not.
        self.directory.written.clear()
        try:
            result = fn()
        except LdapError as exc:
            self.record(session, op, target, exc.code, exc.message, **details)
            raise
        finally:
            self.directory.written.clear()
        code = result.result.code if isinstance(result, SearchResult) else getattr(result, "code", 0)
        extra = {"entries": len(result.entries)} if isinstance(result, SearchResult) else {}
        self.record(session, op, target, int(code), **details, **extra)
        return result

    @staticmethod
    def check_controls(controls: Sequence[Control]) -> None:
        for c in controls:
            if c.critical and c.oid not in HANDLED_CONTROLS:
                raise errors.unavailable_critical_extension(c.oid)

    def require_bound(self, session: Session) -> None:
        if session.anonymous and not self.is_system(session):
            raise errors.bind_required()

    # ------------------------------------------------------------------ bind (sessions: dc_access)
    @_locked
    def bind(self, session: Session, name: str, password: str) -> LdapResult:
        """Simple bind; see :mod:`fakes.ad.dc_bind` for the Windows rules."""
        from fakes.ad.dc_bind import bind

        return self._run(session, "bind", name or "", lambda: bind(self, session, name, password))

    @_locked
    def ntlm_bind(self, session: Session, auth: Any, *, mechanism: str,
                  expected_channel_binding: bytes | None = None) -> LdapResult:
        """NTLM bind (Sicily or GSS-SPNEGO) of a parsed AUTHENTICATE; see :mod:`fakes.ad.dc_ntlm`."""
        from fakes.ad.dc_ntlm import ntlm_bind

        name = f"{auth.domain}\\{auth.user}" if auth.domain else auth.user
        return self._run(session, "bind", name, lambda: ntlm_bind(
            self, session, auth, mechanism=mechanism, expected_channel_binding=expected_channel_binding))

    # ------------------------------------------------------------------ search
    @_locked
    def search(
        self,
        session: Session,
        base: str,
        scope: Scope,
        filter: Any = "(objectClass=*)",
        attributes: Sequence[str] = (),
        *,
        size_limit: int = 0,
        types_only: bool = False,
        controls: Sequence[Control] = (),
    ) -> SearchResult:
        """LDAP search with AD's read-access, SD-flags, paging and constructed-attribute rules."""
        from fakes.ad.dc_search import search

        return self._run(
            session,
            "search",
            base,
            lambda: search(
                self,
                session,
                base,
                Scope(scope),
                filter,
                attributes,
                size_limit=size_limit,
                types_only=types_only,
                controls=controls,
            ),
            scope=int(scope),
            filter=filter if isinstance(filter, str) else repr(filter),
        )

    # ------------------------------------------------------------------ writes
    @_locked
    def add(
        self,
        session: Session,
        dn: str,
        attributes: Mapping[str, Sequence[bytes | str]],
        controls: Sequence[Control] = (),
    ) -> LdapResult:
        """Create an object: CC on the parent, schema checks, SD from parent + class default."""
        from fakes.ad.dc_write import add

        names = sorted(k for k in attributes if k.lower() not in SECRET_ATTRIBUTES)
        return self._run(
            session, "add", dn, lambda: add(self, session, dn, attributes, controls), attributes=names
        )

    @_locked
    def modify(
        self, session: Session, dn: str, changes: Sequence[Change], controls: Sequence[Control] = ()
    ) -> LdapResult:
        """Modify with AD's per-attribute rules (passwords, pwdLastSet, lockoutTime, SDs, schema)."""
        from fakes.ad.dc_modify import modify

        names = [c.attribute for c in changes]
        ops = [ModOp(c.op).name.lower() for c in changes]
        return self._run(
            session,
            "modify",
            dn,
            lambda: modify(self, session, dn, changes, controls),
            attributes=names,
            ops=ops,
        )

    @_locked
    def delete(self, session: Session, dn: str, controls: Sequence[Control] = ()) -> LdapResult:
        """Delete a leaf (or a subtree with the tree-delete control): DE on it or DC on the parent."""
        from fakes.ad.dc_write import delete

        return self._run(session, "delete", dn, lambda: delete(self, session, dn, controls))

    @_locked
    def modify_dn(
        self,
        session: Session,
        dn: str,
        new_rdn: str,
        delete_old_rdn: bool = True,
        new_superior: str | None = None,
        controls: Sequence[Control] = (),
    ) -> LdapResult:
        """Rename/move keeping GUID and SID; descendants' SDs re-inherit from the new parent."""
        from fakes.ad.dc_write import modify_dn

        return self._run(
            session,
            "modify_dn",
            dn,
            lambda: modify_dn(self, session, dn, new_rdn, delete_old_rdn, new_superior, controls),
            new_rdn=new_rdn,
            new_superior=new_superior,
        )

    @_locked
    def compare(
        self, session: Session, dn: str, attribute: str, value: bytes | str, controls: Sequence[Control] = ()
    ) -> LdapResult:
        """6 compareTrue / 5 compareFalse (RP needed, like a read)."""
        from fakes.ad.dc_write import compare

        return self._run(
            session,
            "compare",
            dn,
            lambda: compare(self, session, dn, attribute, value, controls),
            attribute=attribute,
        )

    @_locked
    def extended(
        self, session: Session, oid: str, value: bytes | None, controls: Sequence[Control] = ()
    ) -> LdapResult:
        """WhoAmI; anything else is AD's "Unknown extended request OID" (StartTLS is the adapter's)."""

        def run() -> LdapResult:
            self.check_controls(controls)
            if oid != WHOAMI_OID:
                raise errors.unknown_extended()
            who = ""
            if session.principal_dn:
                entry = self.directory.get(session.principal_dn)
                if entry is not None:
                    who = f"u:{self.netbios_name}\\{text(entry, 'samaccountname')}"
            return LdapResult(ResultCode.SUCCESS, value=who.encode())

        return self._run(session, "extended", oid, run)

    # ------------------------------------------------------------------ Python conveniences
    @_locked
    def get_entry(self, dn: str) -> Entry | None:
        """The stored entry (no access checks); None when absent."""
        return self.directory.get(dn)

    @_locked
    def set_password(self, dn: str, password: str) -> None:
        """Reset as SYSTEM (no rights needed, policy still enforced: length/complexity)."""
        from fakes.ad.dc_modify import store_password

        entry = self.entry_or_error(dn)
        violation = passwords.check_password(
            self.policy(),
            password,
            sam_account_name=text(entry, "samaccountname"),
            display_name=text(entry, "displayname"),
        )
        if violation is not None:
            raise errors.password_policy_reset()
        store_password(self, entry, password, pwd_last_set=self.clock.filetime())

    @_locked
    def bind_session(self, name: str, password: str, *, encrypted: bool = True) -> Session:
        """New session bound as ``name`` (raises LdapError 49 like bind)."""
        session = self.new_session(peer="python", encrypted=encrypted)
        self.bind(session, name, password)
        return session

    def admin_session(self, *, encrypted: bool = True) -> Session:
        """A session bound as the domain Administrator."""
        return self.bind_session(self.admin_dn, self.admin_password, encrypted=encrypted)

    # ------------------------------------------------------------------ SD plumbing used by helpers
    def allocate_sid(self) -> bytes:
        """Binary objectSid for the next RID (domain prefix packed once; this runs per created user)."""
        rid = self.next_rid
        self.next_rid += 1
        return self.rid_sid(rid)

    def rid_sid(self, rid: int) -> bytes:
        prefix = self._sid_prefix
        if prefix is None:
            raw = sid_to_bytes(self.domain_sid)
            # Revision, sub-authority count + 1, then the existing authority and sub-authorities.
            prefix = self._sid_prefix = bytes([raw[0], raw[1] + 1]) + raw[2:]
        return prefix + rid.to_bytes(4, "little")

    def new_guid(self) -> UUID:
        """A random (version 4) objectGUID from the DC's seeded RNG: ``UUID(int=bits, version=4)``."""
        return random_uuid4(self.rng.getrandbits(128))

    def propagate(self, entry: Entry) -> None:
        """Re-inherit descendants of ``entry`` now, or after ``replication_delay`` on the clock."""
        if self.replication_delay > 0:
            guid = entry.guid

            def later() -> None:
                with self.lock:
                    target = self.directory.by_guid(guid)
                    if target is not None:
                        self._propagate_now(target)

            self.clock.schedule(self.replication_delay, later, name=f"sd-propagation {entry.dn}")
        else:
            self._propagate_now(entry)

    def _propagate_now(self, entry: Entry) -> None:
        recompute, class_guid = self.sds.recompute, self.class_guid
        stack = [entry]
        while stack:
            parent = stack.pop()
            # Siblings nearly all share their descriptor and class (an OU of 25k users): re-inherit
            # each pair once per parent. The same SD objects as one recompute() per child.
            redone: dict[tuple[bytes, str], bytes] = {}
            for child in list(parent.children.values()):
                key = (child.sd, child.object_class)
                new = redone.get(key)
                if new is None:
                    new = redone[key] = recompute(parent.sd, child.sd, class_guid(child.object_class))
                if new is not child.sd:
                    child.sd = new
                if child.children:
                    stack.append(child)

    def schema_error(self, exc: SchemaError) -> LdapError:
        if exc.kind == "class":
            return errors.object_class_violation()
        return errors.attribute_conversion()


def dn_parent(dn: str) -> str:
    """Parent DN text ('' for a root)."""
    return parent_dn(dn)


def same_dn(a: str, b: str) -> bool:
    """Case/escape-insensitive DN equality."""
    return normalize_dn(a) == normalize_dn(b)
