"""AD -> tenant synchronization: import over LDAP as the connector account, export to the tenant.

A cycle pages through the users the AD DS Connector account can read (under the OU
filter), keeps the ones the default "In from AD - User" rules would project (no
critical system objects, no ``MSOL_``/``AAD_`` service accounts, no computers), and
exports new or changed users with :meth:`Tenant.upsert_synced_users`. A full ("Initial")
cycle also removes tenant users that vanished on-premises; a delta cycle only reads
objects whose ``uSNChanged`` moved (the DirSync cookie's job on a real server).

Password hash sync cannot read hashes over LDAP (the real agent uses directory
replication), so it emits 656/657 for each user whose ``pwdLastSet`` changed and pushes a
password to the tenant when it knows one: from a writeback the agent just performed, or
from an optional ``password_source`` the lab wires in.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from binascii import b2a_base64
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from itertools import compress
from operator import attrgetter, is_not, itemgetter
from typing import TYPE_CHECKING, Any

from fakes import forked
from fakes.ad.sid import sid_from_bytes
from fakes.clock import SimClock, from_filetime
from fakes.connect import events as ev
from fakes.connect.config import ConnectConfig, DirectoryConnection
from fakes.connect.ldapconn import (
    close_quietly,
    closed_on_error,
    connector_connection,
    first_int,
    first_text,
    raw,
    result_of,
)
from fakes.connect.ldapread import first_values_parser, paged_search
from fakes.deferred import DeferredAttributes
from fakes.eventlog import EventLog
from fakes.graph.tenant_bulk import SyncedColumns

if TYPE_CHECKING:
    import ldap3

USER_FILTER = "(&(objectClass=user)(!(objectClass=computer)))"
#: What the import reads. Not distinguishedName: every searchResEntry names its object (RFC 4511
#: objectName, the same DN), so asking for it again only doubled the longest value of each entry.
SYNC_ATTRIBUTES = [
    "objectGUID",
    "objectSid",
    "sAMAccountName",
    "userPrincipalName",
    "displayName",
    "userAccountControl",
    "mail",
    "pwdLastSet",
    "uSNChanged",
    "isCriticalSystemObject",
]
#: sAMAccountName prefixes the default sync rules filter out (Connect's own accounts).
_EXCLUDED_PREFIXES = ("msol_", "aad_", "sync_", "support_388945a0", "krbtgt")
PAGE_SIZE = 1000  # AD's default MaxPageSize: a bigger request is cut to 1000 per page anyway
#: A lab of at least this many users reads its full imports in a helper process (measured
#: crossover in docs/images.md, "Cold build"); ``SIMLAB_SYNC_HELPER=0/1`` overrides it.
HELPER_MIN_USERS = 10_000
#: The ConnectorObject fields an export sends, in SyncedColumns order after the anchor.
_EXPORTED = ("upn", "display_name", "sam_account_name", "dn", "sid", "domain", "enabled", "mail")
#: ``SIMLAB_SYNC_READER=ldap3`` selects the old ldap3-decoded import (for benchmarks/bench_startup.py).
LDAP3_READER = "ldap3"


class SyncError(Exception):
    """Import failed (bind or search refused); carries the LDAP code and diagnostic."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ConnectorObject:
    """A user as the connector space holds it after import."""

    anchor: str
    dn: str
    sam_account_name: str
    upn: str
    display_name: str
    sid: str
    enabled: bool
    mail: str | None
    pwd_last_set: int
    usn: int
    domain: str


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one cycle did (``Get-ADSyncRunProfileResult`` in spirit)."""

    policy: str
    imported: int
    exported: int
    deleted: int
    passwords_synced: int
    seconds: float


def in_scope(sam: str, uac: int, critical: bool) -> bool:
    """Whether the default inbound user rules project this object (pure rule)."""
    if critical:
        return False
    if sam.lower().startswith(_EXCLUDED_PREFIXES):
        return False
    # Interdomain/workstation/server trust accounts are not people.
    return not uac & (0x0800 | 0x1000 | 0x2000)


def in_ou_filter(dn: str, ou_filter: tuple[str, ...]) -> bool:
    """True when ``dn`` is under one of the selected OUs (or no filter is set)."""
    if not ou_filter:
        return True
    low = dn.lower()
    return any(low == ou.lower() or low.endswith("," + ou.lower()) for ou in ou_filter)


class SyncEngine(DeferredAttributes):
    """Runs import/export cycles for a Connect server; thread-safe (one cycle at a time).

    An engine loaded from a lab image gets its connector space when first read
    (:class:`~fakes.deferred.DeferredAttributes`)."""

    def __init__(
        self,
        *,
        tenant: Any,
        clock: SimClock,
        eventlog: EventLog,
        config: Callable[[], ConnectConfig],
        password_source: Callable[[str], str | None] | None = None,
        import_helper: bool = False,
    ) -> None:
        self.tenant = tenant
        self.clock = clock
        self.eventlog = eventlog
        self._config = config
        self.password_source = password_source
        #: Run a full import's read in a forked helper process (``fakes.connect.import_helper``):
        #: the lab sets it for big directories; ``SIMLAB_SYNC_HELPER=0/1`` overrides it.
        self.import_helper = import_helper
        #: Called once a full import's helper process is forked, in this process (work the caller
        #: wants done while the helper reads: the lab imports its Graph server's modules then).
        self.while_helper_reads: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self.connector_space: dict[str, ConnectorObject] = {}
        self._exported: dict[str, ConnectorObject] = {}
        self._high_usn: dict[str, int] = {}
        self._written: dict[str, str] = {}
        self._full_password_sync = False
        self.history: list[SyncReport] = []

    # -- hooks from the server / agent ---------------------------------------------------
    def note_written_password(self, anchor: str, dn: str, password: str) -> None:
        """The agent wrote ``password`` to AD; PHS will carry it back to the cloud."""
        with self._lock:
            self._written[anchor] = password

    def request_full_password_sync(self) -> None:
        """Next cycle re-syncs every hash (the tutorial's 656/657-for-everyone note)."""
        with self._lock:
            self._full_password_sync = True

    # -- a cycle ---------------------------------------------------------------------
    def run(self, policy: str = "Delta") -> SyncReport:
        """Import from every directory, then export (unless staging). ``policy``: Delta|Initial."""
        if policy not in ("Delta", "Initial"):
            raise ValueError("policy must be 'Delta' or 'Initial'")
        started = time.perf_counter()
        with self._lock:
            config = self._config()
            imported: dict[str, ConnectorObject] = {}
            seen_domains: set[str] = set()
            for directory in config.directories:
                full = policy == "Initial" or directory.domain not in self._high_usn
                imported.update(self._import(directory, full))
                if full:
                    seen_domains.add(directory.domain.lower())
            previous = dict(self.connector_space)
            self.connector_space.update(imported)
            deleted = 0
            if seen_domains:
                gone = [
                    a for a, o in previous.items() if o.domain.lower() in seen_domains and a not in imported
                ]
                for anchor in gone:
                    self.connector_space.pop(anchor, None)
            exported = pw = 0
            if not config.staging_mode:
                exported, deleted = self._export(seen_domains)
                if config.features.password_hash_sync:
                    pw = self._password_sync(previous, imported)
                self.tenant.mark_directory_synced()
            report = SyncReport(policy, len(imported), exported, deleted, pw, time.perf_counter() - started)
            self.history.append(report)
            return report

    def _import(self, directory: DirectoryConnection, full: bool) -> dict[str, ConnectorObject]:
        conn = connector_connection(directory)
        with closed_on_error(conn):
            conn.open()
        if not conn.bind():
            refused = SyncError(*result_of(conn))
            close_quietly(conn)  # (every cycle retries: a socket per cycle otherwise)
            raise refused
        filt = USER_FILTER
        if not full:
            filt = f"(&{USER_FILTER}(uSNChanged>={self._high_usn[directory.domain] + 1}))"
        bases = directory.ou_filter or (directory.base_dn,)
        high = self._high_usn.get(directory.domain, 0)
        lean = os.environ.get("SIMLAB_SYNC_READER") != LDAP3_READER
        if lean and full and _helper_wanted(self.import_helper):
            # Imported here, not at the top: import_helper builds ConnectorObjects from this module.
            from fakes.connect import import_helper

            # The helper owns the bound connection from here: it reads, unbinds and closes it.
            found, high = import_helper.import_in_child(
                conn, lambda: lean_import(conn, bases, filt, directory), high, directory.domain,
                started=self.while_helper_reads)
            self._high_usn[directory.domain] = high
            return found
        try:
            if lean:
                found, high = collect(lean_import(conn, bases, filt, directory), high)
            else:
                found, high = self._import_ldap3(conn, bases, filt, directory, high)
            self._high_usn[directory.domain] = high
            return found
        finally:
            conn.unbind()

    def _import_ldap3(self, conn: ldap3.Connection, bases: tuple[str, ...], filt: str,
                      directory: DirectoryConnection, high: int) -> tuple[dict[str, ConnectorObject], int]:
        import ldap3

        found: dict[str, ConnectorObject] = {}
        for base in bases:
            entries = conn.extend.standard.paged_search(
                base,
                filt,
                ldap3.SUBTREE,
                attributes=SYNC_ATTRIBUTES,
                paged_size=PAGE_SIZE,
                generator=True,
            )
            for entry in entries:
                if entry.get("type") != "searchResEntry":
                    continue
                obj = self._to_object(entry, directory)
                if obj is not None:
                    high = max(high, obj.usn)
                    if in_ou_filter(obj.dn, directory.ou_filter):
                        found[obj.anchor] = obj
            code, message = result_of(conn)
            if code not in (0, 32):
                raise SyncError(code, message)
        return found, high

    @staticmethod
    def _to_object(entry: dict, directory: DirectoryConnection) -> ConnectorObject | None:
        guid = raw(entry, "objectGUID")
        sid = raw(entry, "objectSid")
        sam = first_text(entry, "sAMAccountName") or ""
        if not guid or not sid:
            return None  # not readable by the connector account: invisible to sync
        uac = first_int(entry, "userAccountControl")
        critical = (first_text(entry, "isCriticalSystemObject") or "").upper() == "TRUE"
        if not in_scope(sam, uac, critical):
            return None
        dn = first_text(entry, "distinguishedName") or entry.get("dn", "")
        upn = first_text(entry, "userPrincipalName") or f"{sam}@{directory.domain}"
        return ConnectorObject(
            anchor=base64.b64encode(guid[0]).decode("ascii"),
            dn=dn,
            sam_account_name=sam,
            upn=upn,
            display_name=first_text(entry, "displayName") or sam,
            sid=sid_from_bytes(sid[0]),
            enabled=not uac & 0x2,
            mail=first_text(entry, "mail"),
            pwd_last_set=first_int(entry, "pwdLastSet"),
            usn=first_int(entry, "uSNChanged"),
            domain=directory.domain,
        )

    def _export(self, full_domains: set[str]) -> tuple[int, int]:
        deleted = 0
        space, done = self.connector_space, self._exported
        if done.keys().isdisjoint(space):  # an initial export: every object is new
            anchors, objects = list(space), list(space.values())
        else:  # an object exported as it is (after a load: the same object) needs no comparison
            maybe = compress(space.items(), map(is_not, map(done.get, space), space.values()))
            changed = [(anchor, obj) for anchor, obj in maybe
                       if (old := done.get(anchor)) is None or not _same_export(old, obj)]
            anchors, objects = [a for a, _ in changed], [o for _, o in changed]
        # Column by column (100k users at a cold start), consumed row by row: a row the tenant
        # refuses stops the export there, with the rows before it exported and remembered (as
        # one call per user did; dict.update stores each pair as it comes).
        users = self.tenant.upsert_synced_columns(
            SyncedColumns(anchors, *(list(map(attrgetter(name), objects)) for name in _EXPORTED)))
        done.update(zip(anchors, map(itemgetter(0), zip(objects, users))))
        exported = len(anchors)
        gone = done.keys() - space.keys()  # a set (C-level); the loop below keeps the export order
        for anchor in [a for a in done if a in gone] if gone else ():
            if self._exported[anchor].domain.lower() in full_domains:
                try:
                    self.tenant.remove_synced_user(anchor)
                except KeyError:
                    pass
                del self._exported[anchor]
                deleted += 1
        return exported, deleted

    def _password_sync(
        self, previous: dict[str, ConnectorObject], imported: dict[str, ConnectorObject]
    ) -> int:
        if self._full_password_sync:
            changed = list(self.connector_space.values())
            self._full_password_sync = False
        else:
            changed = [
                o for a, o in imported.items() if a in previous and previous[a].pwd_last_set != o.pwd_last_set
            ]
            changed += [o for a, o in imported.items() if a not in previous]
        # Each user's password first, then a 656/657 pair per user: 200k events at 100k users,
        # made when the Application log is next read (the same records: they depend only on
        # these users, this instant and their order). A password that fails stops there, with
        # the events one by one would have written: the pairs before it and its 656.
        done = 0
        try:
            for obj in changed:
                self._push_hash(obj)
                done += 1
        finally:
            stopped = done < len(changed)
            ev.write_events_later(self.eventlog, _HASH_SYNC_SHAPES, 2 * done + int(stopped),
                                  lambda: _hash_sync_events(changed, done, stopped))
        return len(changed)

    def _push_hash(self, obj: ConnectorObject) -> None:
        password = self._written.pop(obj.anchor, None)
        if password is None and self.password_source is not None:
            password = self.password_source(obj.dn)
        if password is not None:
            self.tenant.set_password_hash(obj.anchor, password)


#: The (event ID, field names) of password hash sync's events.
_HASH_SYNC_SHAPES = ((656, ("anchor", "dn", "change_date")), (657, ("anchor", "dn", "result")))


def _hash_sync_events(changed: list[ConnectorObject], done: int, stopped: bool
                      ) -> Iterator[tuple[int, dict[str, str]]]:
    """656 then 657 for each of the first ``done`` users, then the 656 of the next if ``stopped``."""
    dates: dict[int, str] = {}  # users share pwdLastSet values: one string per value
    for i, obj in enumerate(changed[:done + stopped]):
        when = dates.get(obj.pwd_last_set)
        if when is None:
            when = dates[obj.pwd_last_set] = (
                from_filetime(obj.pwd_last_set).isoformat() if obj.pwd_last_set > 0 else "0")
        yield 656, {"anchor": obj.anchor, "dn": obj.dn, "change_date": when}
        if i < done:
            yield 657, {"anchor": obj.anchor, "dn": obj.dn, "result": "Success"}


def lean_import(conn: ldap3.Connection, bases: tuple[str, ...], filt: str,
                directory: DirectoryConnection) -> Iterator[tuple[tuple, bool]]:
    """The lean reader's import: ``(row, under the OU filter)`` for each user it projects, in
    search order, base after base (``row``: a :class:`ConnectorObject`'s fields, in order); raises
    :class:`SyncError` when a search ends in an error (noSuchObject, code 32, is an empty OU: no
    error)."""
    for base in bases:
        for item in paged_search(conn, base, filt, SYNC_ATTRIBUTES, PAGE_SIZE, _FIRST_VALUES):
            if isinstance(item[0], int):  # the final (resultCode, diagnosticMessage)
                code, message = item  # type: ignore[misc]
                if code not in (0, 32):
                    raise SyncError(code, message)
                continue
            dn, first = item  # type: ignore[misc]
            row = _object_from(dn, first, directory)
            if row is not None:
                yield row, in_ou_filter(row[1], directory.ou_filter)


def collect(pairs: Iterable[tuple[tuple, bool]],
            high: int) -> tuple[dict[str, ConnectorObject], int]:
    """The import's result from :func:`lean_import`'s pairs: the objects under the OU filter by
    anchor (a later object with the same anchor replaces the first, in its place) and the highest
    ``uSNChanged`` seen, from ``high`` up."""
    found: dict[str, ConnectorObject] = {}
    for row, in_filter in pairs:
        high = max(high, row[_USN])
        if in_filter:
            found[row[0]] = ConnectorObject(*row)
    return found, high


def _helper_wanted(configured: bool) -> bool:
    """``SIMLAB_SYNC_HELPER`` (``0``/``1``) if set, else the engine's setting on Linux when this
    process may run on two cores or more (on one, a helper only adds its own cost; macOS forks a
    threaded process unsafely); only where ``fork`` exists."""
    return forked.usable_or_forced("SIMLAB_SYNC_HELPER", configured)


# The lean reader's first values: SYNC_ATTRIBUTES' places, and what _object_from makes of them.
(_GUID, _SID, _SAM, _UPN_VALUE, _DISPLAY, _UAC, _MAIL_VALUE, _PWD_LAST_SET, _USN_VALUE,
 _CRITICAL) = range(len(SYNC_ATTRIBUTES))
_FIRST_VALUES = first_values_parser(SYNC_ATTRIBUTES)
_USN = [f.name for f in fields(ConnectorObject)].index("usn")  # its place in _object_from's tuple


def _object_from(dn: str, first: list[bytes | None], directory: DirectoryConnection) -> tuple | None:
    """:meth:`SyncEngine._to_object`'s rules over the lean reader's first values: the fields of
    the :class:`ConnectorObject` in order, or None for an object sync does not project.

    Runs once per imported user (in the import helper's child at scale, which sends the fields
    on without making objects): plain indexing, no helper closures."""
    guid, sid = first[_GUID], first[_SID]
    if guid is None or sid is None:
        return None  # not readable by the connector account: invisible to sync
    v = first[_SAM]
    sam = v.decode() if v is not None else ""
    uac = _number(first[_UAC])
    v = first[_CRITICAL]
    if not in_scope(sam, uac, v is not None and v.decode().upper() == "TRUE"):
        return None
    v = first[_UPN_VALUE]
    upn = (v.decode() if v is not None else "") or f"{sam}@{directory.domain}"
    v = first[_MAIL_VALUE]
    mail = v.decode() if v is not None else None
    v = first[_DISPLAY]
    return (
        b2a_base64(guid, newline=False).decode("ascii"),
        dn,
        sam,
        upn,
        (v.decode() if v is not None else "") or sam,
        sid_from_bytes(sid),
        not uac & 0x2,
        upn if mail == upn else mail,  # usually equal: one string for both (100k at 100k users)
        _number(first[_PWD_LAST_SET]),
        _number(first[_USN_VALUE]),
        directory.domain,
    )


def _number(value: bytes | None) -> int:
    """An integer attribute's first value (0 when absent or not a number, as ldap3's reader)."""
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


def _same_export(a: ConnectorObject, b: ConnectorObject) -> bool:
    if a is b:  # the usual case after a load: no need to decode a lazily loaded object to know
        return True
    return (a.upn, a.display_name, a.dn, a.enabled, a.mail, a.sam_account_name) == (
        b.upn,
        b.display_name,
        b.dn,
        b.enabled,
        b.mail,
        b.sam_account_name,
    )
