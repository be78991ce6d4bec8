"""The password writeback agent: relay request -> LDAPS operations -> classified outcome.

Implements :class:`fakes.graph.relay.WritebackAgent`. For each request it locates the
user by the cloud anchor (onPremisesImmutableId = base64 of objectGUID) as the AD DS
Connector account, then performs the operation with that account's real rights:

* reset / admin reset: replace unicodePwd with the policy-hints control (value 1, so the
  DC applies history and minimum age as the SetPassword API path does), then
  ``pwdLastSet = 0`` when a change is forced, else ``pwdLastSet = -1`` (unexpire) when
  :attr:`WritebackOptions.unexpire_after_reset` is on, then ``lockoutTime = 0`` if asked;
* change: one modify deleting the old and adding the new unicodePwd;
* unlock: ``lockoutTime = 0``.

Every attempt is logged to the Application log (start, ADSync 6329 when FACTS names
one, the 33xxx reason, success/fail) and reported as a ``WritebackOutcome``.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fakes.connect import events as ev
from fakes.connect.classify import START, Observation, Verdict, classify
from fakes.connect.config import DirectoryConnection, WritebackOptions
from fakes.connect.ldapconn import (
    ber_integer_sequence,
    close_quietly,
    closed_on_error,
    connector_connection,
    first_int,
    first_text,
    guid_filter,
    result_of,
)
from fakes.eventlog import EventLog
from fakes.graph.relay import WritebackOutcome, WritebackRequest

if TYPE_CHECKING:
    import ldap3

UF_ACCOUNTDISABLE = 0x2
UF_LOCKOUT = 0x10
_LOOKUP_ATTRS = [
    "distinguishedName",
    "sAMAccountName",
    "userAccountControl",
    "msDS-User-Account-Control-Computed",
    "adminCount",
    "lockoutTime",
]


def encode_unicode_pwd(password: str) -> bytes:
    """unicodePwd value: the password in double quotes, UTF-16LE (FACTS 6.1)."""
    return f'"{password}"'.encode("utf-16-le")


@dataclass(frozen=True, slots=True)
class _Target:
    """What the agent reads of the user it writes back to (its DN and the states that block it)."""
    dn: str
    admin_count: bool
    disabled: bool
    locked: bool


class _Stop(Exception):
    """Internal: the attempt ended at an observation (not an error of the agent itself)."""

    def __init__(self, observation: Observation, dn: str = "") -> None:
        super().__init__(observation.step)
        self.observation = observation
        self.dn = dn


class WritebackService:
    """The agent behind the relay. Thread-safe: one request at a time, like one LDAP connection.

    ``directories`` returns the synchronized directories (read on every request so a
    wizard change applies at once); ``on_success`` is told (anchor, dn, password) after a
    password was written, which password hash sync uses on its next cycle.
    """

    def __init__(
        self,
        *,
        eventlog: EventLog,
        directories: Callable[[], tuple[DirectoryConnection, ...]],
        options: Callable[[], WritebackOptions],
        on_success: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self._log = eventlog
        self._directories = directories
        self._options = options
        self._on_success = on_success
        self._lock = threading.Lock()
        self._conns: dict[str, ldap3.Connection] = {}

    # -- WritebackAgent --------------------------------------------------------------
    def handle(self, request: WritebackRequest) -> WritebackOutcome:
        """Perform ``request`` on-premises and report how it ended."""
        with self._lock:
            base_fields = {"tracking_id": request.tracking_id, "user": request.user_principal_name}
            ev.write_event(
                self._log,
                _start_id(request),
                anchor=request.cloud_anchor,
                details=request.kind,
                **base_fields,
            )
            dn = ""
            try:
                dn, last_code = self._perform(request)
                obs = Observation(request.kind, "done", code=last_code)
            except _Stop as stop:
                obs, dn = stop.observation, stop.dn
            except Exception as exc:  # an agent bug must surface as 32000, never as success
                obs = Observation(request.kind, "agent", exception=f"{type(exc).__name__}: {exc}")
            verdict = classify(obs)
            self._log_verdict(request, verdict, dn)
            return WritebackOutcome(
                status=verdict.status,
                error=verdict.error,
                detail=verdict.detail,
                event_ids=verdict.event_ids(request.kind),
                ldap_result=obs.code,
                extra={"dn": dn, "step": obs.step},
            )

    def close(self) -> None:
        """Unbind every cached connection."""
        with self._lock:
            self._drop_connections()

    def _drop_connections(self) -> None:
        for conn in self._conns.values():
            close_quietly(conn)
        self._conns.clear()

    # -- steps -----------------------------------------------------------------------
    def _perform(self, request: WritebackRequest) -> tuple[str, int]:
        import ldap3  # (here, not at the top: a lab serves before its agent first writes)

        directories = self._directories()
        if not directories:
            raise _Stop(Observation(request.kind, "config", message="No directory is connected."))
        opts = self._options()
        guid = _anchor_bytes(request)
        hits: list[tuple[DirectoryConnection, ldap3.Connection, dict]] = []
        for directory in directories:
            conn = self._connection(request, directory, opts)
            ok = conn.search(
                directory.base_dn,
                guid_filter(opts.source_anchor, guid),
                ldap3.SUBTREE,
                attributes=_LOOKUP_ATTRS,
            )
            code, message = result_of(conn)
            if not ok and code not in (0, 32):
                raise _Stop(Observation(request.kind, "lookup", code=code, message=message))
            entries = [e for e in (conn.response or []) if e.get("type") == "searchResEntry"]
            hits.extend((directory, conn, e) for e in entries)
        if len(hits) != 1:
            raise _Stop(Observation(request.kind, "lookup", code=0, matches=len(hits)))
        directory, conn, entry = hits[0]
        target = _target(entry)
        if not directory.password_writeback_enabled:
            raise _Stop(
                Observation(
                    request.kind,
                    "config",
                    message=f"{target.dn}: connector "
                    f"{directory.connector_name} has password writeback disabled",
                )
            )
        if target.disabled and request.kind != "unlock":
            raise _Stop(Observation(request.kind, "precheck", disabled=True, message=target.dn))
        if target.locked and request.kind == "change":
            raise _Stop(Observation(request.kind, "precheck", locked=True, message=target.dn))

        def modify(step: str, changes: dict, controls: list | None = None) -> int:
            conn.modify(target.dn, changes, controls=controls)
            code, message = result_of(conn)
            if code != 0:
                raise _Stop(
                    Observation(
                        request.kind,
                        step,
                        code=code,
                        message=message,  # type: ignore[arg-type]
                        admin_count=target.admin_count,
                    ),
                    target.dn,
                )
            return code

        last = 0
        if request.kind in ("reset", "admin_reset"):
            if request.new_password is None:
                raise ValueError("a reset needs new_password")
            hints = (opts.policy_hints_oid, opts.policy_hints_critical, ber_integer_sequence(1))
            last = modify(
                "password",
                {"unicodePwd": [(ldap3.MODIFY_REPLACE, [encode_unicode_pwd(request.new_password)])]},
                [hints],
            )
            if request.force_change:
                last = modify("pwdLastSet", {"pwdLastSet": [(ldap3.MODIFY_REPLACE, ["0"])]})
            elif opts.unexpire_after_reset:
                last = modify("pwdLastSet", {"pwdLastSet": [(ldap3.MODIFY_REPLACE, ["-1"])]})
            if request.unlock:
                last = modify("lockoutTime", {"lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])]})
        elif request.kind == "change":
            if request.new_password is None or request.current_password is None:
                raise ValueError("a change needs current_password and new_password")
            last = modify(
                "password",
                {
                    "unicodePwd": [
                        (ldap3.MODIFY_DELETE, [encode_unicode_pwd(request.current_password)]),
                        (ldap3.MODIFY_ADD, [encode_unicode_pwd(request.new_password)]),
                    ]
                },
            )
        elif request.kind == "unlock":
            last = modify("lockoutTime", {"lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])]})
        else:
            raise NotImplementedError(f"writeback request kind {request.kind!r} is not supported")
        if request.new_password is not None and self._on_success is not None:
            self._on_success(request.cloud_anchor, target.dn, request.new_password)
        return target.dn, last

    def _connection(
        self, request: WritebackRequest, directory: DirectoryConnection, opts: WritebackOptions
    ) -> ldap3.Connection:
        # One bound connection per directory, reused across requests; rebuilt when the
        # connector settings change (e.g. sign-and-encrypt toggled) or it was dropped.
        c = directory.connector
        key = f"{directory.host}|{directory.sign_and_encrypt}|{c.dn}|{c.password}"
        conn = self._conns.get(key)
        if conn is not None and not conn.closed and conn.bound:
            return conn
        # The connector's settings changed (another key) or the DC dropped this connection: none
        # of the cached ones is of use any more.
        self._drop_connections()
        conn = connector_connection(directory, opts.timeout_seconds)
        try:
            with closed_on_error(conn):
                conn.open()
        except Exception as exc:
            raise _Stop(
                Observation(request.kind, "connect", exception=f"{type(exc).__name__}: {exc}")
            ) from exc
        if not conn.bind():
            code, message = result_of(conn)
            close_quietly(conn)
            raise _Stop(Observation(request.kind, "bind", code=code, message=message))
        self._conns[key] = conn
        return conn

    def _log_verdict(self, request: WritebackRequest, verdict: Verdict, dn: str) -> None:
        tracking = request.tracking_id
        if verdict.adsync_text is not None:
            ev.write_event(self._log, 6329, text=verdict.adsync_text)
        if verdict.reason_event is not None:
            ev.write_event(
                self._log,
                verdict.reason_event,
                tracking_id=tracking,
                context=dn or request.cloud_anchor,
                details=verdict.detail,
            )
        ev.write_event(
            self._log,
            verdict.final_event,
            tracking_id=tracking,
            user=request.user_principal_name,
            dn=dn or request.cloud_anchor,
            details=verdict.detail or request.kind,
        )


def _start_id(request: WritebackRequest) -> int:
    return START[request.kind]


def _anchor_bytes(request: WritebackRequest) -> bytes:
    try:
        value = base64.b64decode(request.cloud_anchor, validate=True)
    except (binascii.Error, ValueError):
        value = b""
    if len(value) != 16:
        raise _Stop(
            Observation(
                request.kind,
                "lookup",
                code=0,
                matches=0,
                message=f"cloud anchor {request.cloud_anchor!r} is not a base64 GUID",
            )
        )
    return value


def _target(entry: dict) -> _Target:
    dn = first_text(entry, "distinguishedName") or entry.get("dn", "")
    uac = first_int(entry, "userAccountControl")
    computed = first_int(entry, "msDS-User-Account-Control-Computed")
    return _Target(
        dn=dn,
        admin_count=first_int(entry, "adminCount") == 1,
        disabled=bool(uac & UF_ACCOUNTDISABLE),
        locked=bool(computed & UF_LOCKOUT),
    )
