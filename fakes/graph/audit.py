"""The tenant's directory audit log (Graph /auditLogs/directoryAudits).

Activity names are FACTS section 3 verbatim; scenarios assert on them as an admin
reading the Entra audit blade would.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fakes.deferred import DeferredList
from fakes.graph.catalog import SSPR_SERVICE
from fakes.graph.model import AuditEntry

# FACTS 3, verbatim activity names.
POLICY_CHANGE = "Self-service password reset policy changes"
BLOCKED = "Blocked from self-service password reset"
CHANGE_SELF = "Change password (self-service)"
RESET_ADMIN = "Reset password (by admin)"
RESET_SELF = "Reset password (self-service)"
FLOW_PROGRESS = "Self-service password reset flow activity progress"
UNLOCK_SELF = "Unlock user account (self-service)"
REGISTERED = "User registered for self-service password reset"
#: FACTS 3: the Cloud-policy failure reason for resets and changes.
FUZZY_POLICY = "FuzzyPolicyViolationInvalidPassword"
#: FACTS 3: OnPremisesAgent additional detail values.
AGENT_NONE, AGENT_CONNECT, AGENT_CLOUD_SYNC = "None", "Microsoft Entra Connect", "CloudSync"


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class AuditState:
    """The log's content as :meth:`AuditLog.state` saves it: ``later_count`` entries still to be
    decoded by ``later()`` (a lab image's, see docs/images.md), then ``entries``."""

    entries: tuple[AuditEntry, ...]
    later: Callable[[], Iterable[AuditEntry]] | None = None
    later_count: int = 0


class AuditLog:
    """Append-only, thread-safe list of :class:`AuditEntry` with simple queries."""

    def __init__(self, clock: Clock, id_factory: Callable[[], str] | None = None) -> None:
        self._clock = clock
        self._ids = id_factory or (lambda: str(uuid.uuid4()))
        # Entries handed over undecoded (a loaded lab image: one per synced user) or written for
        # later (extend_later) wait in here until the log is first read.
        self._entries: DeferredList[AuditEntry] = DeferredList()
        self._lock = threading.Lock()

    def write(self, activity: str, **fields: Any) -> AuditEntry:
        """Record one activity (``fields``: the keywords of :meth:`entry`; extra keywords become
        additionalDetails key/value pairs)."""
        with self._lock:
            entry = self.entry(activity, **fields)
            self._entries.append(entry)
        return entry

    def entry(
        self,
        activity: str,
        *,
        result: str = "success",
        reason: str = "",
        initiated_by: str = "",
        target_id: str | None = None,
        target_upn: str | None = None,
        category: str = "UserManagement",
        operation_type: str = "Update",
        correlation_id: str | None = None,
        entry_id: str | None = None,
        at: datetime | None = None,
        **details: str,
    ) -> AuditEntry:
        """The entry :meth:`write` records, not recorded yet (its ids are drawn now, so a caller
        recording many at once with :meth:`extend` gets the ids one write each would have);
        ``details`` become additionalDetails key/value pairs. ``entry_id`` and ``at`` (default:
        a new id, now) are for entries made later from ids and an instant drawn earlier."""
        return AuditEntry(
            id=entry_id or self._ids(),
            activity_date_time=at or self._clock.now(),
            activity_display_name=activity,
            category=category,
            logged_by_service=SSPR_SERVICE,
            operation_type=operation_type,
            result="failure" if result == "failure" else "success",
            result_reason=reason,
            correlation_id=correlation_id or self._ids(),
            initiated_by=initiated_by,
            target_id=target_id,
            target_upn=target_upn,
            additional_details=tuple(details.items()),
        )

    def extend(self, entries: Iterable[AuditEntry]) -> None:
        """Record entries made with :meth:`entry`, in order."""
        with self._lock:
            self._entries.extend(entries)

    def draws_ids_from(self, factory: Callable[[], str]) -> bool:
        """Whether this log's entry ids come from ``factory`` (the tenant's seeded ids)."""
        return self._ids == factory

    def extend_later(self, count: int, make: Callable[[], Iterable[AuditEntry]]) -> None:
        """:meth:`extend` with the ``count`` entries ``make()`` returns, made when the log is
        next read (a lab registering 100k users for SSPR). ``make`` must return equal entries
        each time it is called (a snapshot restore calls it again); one that returns another
        number of entries raises :class:`~fakes.deferred.LaterError` on that read."""
        with self._lock:
            self._entries.add_later(count, make, "audit entries")

    def query(
        self,
        *,
        activity: str | None = None,
        result: str | None = None,
        target_upn: str | None = None,
        where: Callable[[AuditEntry], bool] | None = None,
    ) -> list[AuditEntry]:
        with self._lock:
            entries = list(self._entries.loaded())
        return [
            e
            for e in entries
            if (activity is None or e.activity_display_name == activity)
            and (result is None or e.result == result)
            and (target_upn is None or (e.target_upn or "").lower() == target_upn.lower())
            and (where is None or where(e))
        ]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self):
        with self._lock:
            return iter(list(self._entries.loaded()))

    def records(self) -> list[AuditEntry]:
        """Every entry, oldest first (a copy)."""
        with self._lock:
            return list(self._entries.loaded())

    def state(self) -> AuditState:
        """The content for a snapshot, without decoding entries still waiting to be."""
        with self._lock:
            return AuditState(*self._entries.state())

    def restore(self, state: AuditState) -> None:
        """Make the log exactly ``state`` (entries still undecoded stay so: ``later`` is called
        again for each restore, so it must return fresh entries each time)."""
        with self._lock:
            self._entries.replace_later(state.later_count, state.later, state.entries)

    def replace_records_later(self, count: int, load: Callable[[], Iterable[AuditEntry]]) -> None:
        """Make the log the ``count`` entries ``load()`` returns when the log is first read."""
        self.restore(AuditState((), load, count))


def audit_to_graph(entry: AuditEntry) -> dict:
    """Graph's directoryAudit JSON for one entry."""
    initiated: dict = (
        {"user": {"userPrincipalName": entry.initiated_by, "id": None, "displayName": None}, "app": None}
        if "@" in entry.initiated_by
        else {"user": None, "app": {"appId": entry.initiated_by, "displayName": None}}
    )
    targets = []
    if entry.target_id or entry.target_upn:
        targets.append(
            {
                "id": entry.target_id,
                "type": "User",
                "userPrincipalName": entry.target_upn,
                "displayName": None,
                "modifiedProperties": [],
            }
        )
    return {
        "id": entry.id,
        "category": entry.category,
        "correlationId": entry.correlation_id,
        "result": entry.result,
        "resultReason": entry.result_reason,
        "activityDisplayName": entry.activity_display_name,
        "activityDateTime": iso(entry.activity_date_time),
        "loggedByService": entry.logged_by_service,
        "operationType": entry.operation_type,
        "initiatedBy": initiated,
        "targetResources": targets,
        "additionalDetails": [{"key": k, "value": v} for k, v in entry.additional_details],
    }


def iso(moment: datetime | None) -> str | None:
    """Graph's DateTimeOffset form: ``2026-01-05T09:00:00Z``."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
