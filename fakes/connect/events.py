"""The one catalogue of Application-log events the simulated Entra Connect server writes.

IDs, names, sources and the meaning of each event come from FACTS.md section 1
(PasswordResetService 31xxx/32xxx/33xxx, ADSync 6329 with its hr texts, password hash
sync 656/657). Where FACTS quotes a message verbatim it is used as is; elsewhere the
message follows the shape the verbatim ones share (``TrackingId: <id>, ...``) and says
what happened in the fake's own words. Every template uses named placeholders; the
filled values are also stored as the event's ``data`` fields, as Windows keeps the
insertion strings next to the rendered message.

Nothing outside this module spells an event message: writers call :func:`write_event`.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from fakes.deferred import LaterError
from fakes.eventlog import Event, EventLog, Row

APPLICATION = "Application"

SOURCE_PRS = "PasswordResetService"
SOURCE_ADSYNC = "ADSync"
# The PHS events are written by the sync engine's "Directory Synchronization" source on
# real servers; FACTS 1.3 leaves the exact source/text unconfirmed.
SOURCE_DIRSYNC = "Directory Synchronization"

INFO, WARNING, ERROR = "Information", "Warning", "Error"


@dataclass(frozen=True, slots=True)
class EventDef:
    """One catalogue row: what an admin sees in Event Viewer for this event ID."""

    event_id: int
    source: str
    name: str
    level: str
    template: str

    def placeholders(self) -> tuple[str, ...]:
        """Names of the ``{field}`` placeholders in the template, in order."""
        return _placeholders(self.template)

    def render(self, **fields: object) -> str:
        """The message with placeholders filled; a missing field is an error, not a blank."""
        missing = [p for p in self.placeholders() if p not in fields]
        if missing:
            raise KeyError(f"event {self.event_id} needs {missing}")
        return self.template.format(**fields)


@functools.cache
def _placeholders(template: str) -> tuple[str, ...]:
    # Parsed once per template: an initial sync writes two events per user (656/657).
    return tuple(f for _, f, _, _ in string.Formatter().parse(template) if f)


_T = "TrackingId: {tracking_id}, "


def _prs(event_id: int, name: str, level: str, template: str) -> EventDef:
    return EventDef(event_id, SOURCE_PRS, name, level, template)


_DEFS: tuple[EventDef, ...] = (
    # -- PasswordResetService: operations (FACTS 1.1) --
    _prs(
        31001,
        "PasswordResetStart",
        INFO,
        _T + "Reason: Password reset request received for {user}, Context: {anchor}, Details: {details}",
    ),
    _prs(
        31002,
        "PasswordResetSuccess",
        INFO,
        _T + "Reason: Password reset succeeded for {user}, Context: {dn}, Details: {details}",
    ),
    _prs(
        31003,
        "PasswordResetFail",
        ERROR,
        _T + "Reason: Password reset failed for {user}, Context: {dn}, Details: {details}",
    ),
    _prs(
        31004,
        "OnboardingEventStart",
        INFO,
        "Password writeback onboarding started for tenant {tenant}. Details: {details}",
    ),
    _prs(
        31005,
        "OnboardingEventSuccess",
        INFO,
        "Password writeback onboarding succeeded for tenant {tenant}. Details: {details}",
    ),
    _prs(
        31006,
        "ChangePasswordStart",
        INFO,
        _T + "Reason: Change password request received for {user}, Context: {anchor}, Details: {details}",
    ),
    _prs(
        31007,
        "ChangePasswordSuccess",
        INFO,
        _T + "Reason: Change password succeeded for {user}, Context: {dn}, Details: {details}",
    ),
    _prs(
        31008,
        "ChangePasswordFail",
        ERROR,
        _T + "Reason: Change password failed for {user}, Context: {dn}, Details: {details}",
    ),
    _prs(
        31009,
        "ResetUserPasswordByAdminStart",
        INFO,
        _T + "Reason: Admin password reset request received for {user}, Context: {anchor}, "
        "Details: {details}",
    ),
    _prs(
        31010,
        "ResetUserPasswordByAdminSuccess",
        INFO,
        _T + "Reason: Admin password reset succeeded for {user}, Context: {dn}, Details: {details}",
    ),
    _prs(
        31011,
        "ResetUserPasswordByAdminFail",
        ERROR,
        _T + "Reason: Admin password reset failed for {user}, Context: {dn}, Details: {details}",
    ),
    _prs(
        31012,
        "OffboardingEventStart",
        INFO,
        "Password writeback offboarding started for tenant {tenant}. Details: {details}",
    ),
    _prs(
        31013,
        "OffboardingEventSuccess",
        INFO,
        "Password writeback offboarding succeeded for tenant {tenant}. Details: {details}",
    ),
    _prs(
        31014,
        "OffboardingEventFail",
        ERROR,
        "Password writeback offboarding failed for tenant {tenant}. Details: {details}",
    ),
    _prs(
        31015,
        "WriteBackServiceStarted",
        INFO,
        "The password writeback service started and is accepting requests from the cloud. Details: {details}",
    ),
    # FACTS: Warning/Error; a stopped service is an admin action, so Warning.
    _prs(
        31016,
        "WriteBackServiceStopped",
        WARNING,
        "The password writeback service stopped; password requests from the cloud will fail. "
        "Details: {details}",
    ),
    _prs(
        31017,
        "AuthTokenSuccess",
        INFO,
        "Successfully retrieved an auth token for {admin}. Details: {details}",
    ),
    _prs(
        31018,
        "KeyPairCreationSuccess",
        INFO,
        "Successfully created the password encryption key. Details: {details}",
    ),
    _prs(
        31019,
        "ServiceBusHeartBeat",
        INFO,
        "Successfully sent a request to the Service Bus instance of tenant {tenant}. Details: {details}",
    ),
    _prs(
        31034,
        "ServiceBusListenerError",
        ERROR,
        "Error connecting to the Service Bus listener. Details: {details}",
    ),
    _prs(
        31044,
        "PasswordResetService",
        ERROR,
        "Password writeback service is not in a healthy state. No serviceHost for service bus endpoints "
        "are in\nrunning state. Please refer aka.ms/ssprtroubleshoot, Details: Version: {version}",
    ),
    # -- PasswordResetService: service errors (FACTS 1.1) --
    _prs(32000, "UnknownError", ERROR, _T + "Reason: UnknownError, Context: {context}, Details: {details}"),
    _prs(
        32001,
        "ServiceError",
        ERROR,
        "TrackingId: {tracking_id},\nCouldn't connect to any service bus endpoint(s), Details: {details}",
    ),
    _prs(
        32002,
        "ServiceBusError",
        ERROR,
        "Error Connecting to ServiceBus. The token provider was unable to provide a security token. "
        "Details: {details}",
    ),
    _prs(32003, "InPutValidationError", ERROR, _T + "Reason: InPutValidationError, Details: {details}"),
    _prs(32004, "DecryptionError", ERROR, _T + "Reason: DecryptionError, Details: {details}"),
    _prs(32005, "ConfigurationError", ERROR, "Reason: ConfigurationError, Details: {details}"),
    _prs(
        32007, "OnBoardingConfigUpdateError", ERROR, "Reason: OnBoardingConfigUpdateError, Details: {details}"
    ),
    _prs(32008, "ValidationError", ERROR, _T + "Reason: ValidationError, Details: {details}"),
    _prs(32009, "AuthTokenError", ERROR, "Error getting auth token. Details: {details}"),
    _prs(32010, "CryptoError", ERROR, "Reason: CryptoError, Details: {details}"),
    _prs(32011, "OnBoardingServiceError", ERROR, "Reason: OnBoardingServiceError, Details: {details}"),
    _prs(32013, "OffBoardingError", ERROR, "Reason: OffBoardingError, Details: {details}"),
    _prs(32014, "ServiceBusWarning", WARNING, "Reason: ServiceBusWarning, Details: {details}"),
    _prs(32015, "ReportServiceHealthError", WARNING, "Reason: ReportServiceHealthError, Details: {details}"),
    # -- PasswordResetService: AD errors (FACTS 1.1; "Mutli" is verbatim) --
    _prs(
        33001, "ADUnKnownError", ERROR, _T + "Reason: ADUnKnownError, Context: {context}, Details: {details}"
    ),
    _prs(
        33002,
        "ADUserNotFoundError",
        ERROR,
        _T + "Reason: ADUserNotFoundError, Context: {context}, Details: {details}",
    ),
    _prs(
        33003,
        "ADMutliMatchError",
        ERROR,
        _T + "Reason: ADMutliMatchError, Context: {context}, Details: {details}",
    ),
    _prs(
        33004,
        "ADPermissionsError",
        ERROR,
        _T + "Reason: ADPermissionsError, Context: {context}, Details: {details}",
    ),
    _prs(
        33005,
        "ADUserAccountDisabled",
        ERROR,
        _T + "Reason: ADUserAccountDisabled, Context: {context}, Details: {details}",
    ),
    _prs(
        33006,
        "ADUserAccountLockedOut",
        ERROR,
        _T + "Reason: ADUserAccountLockedOut, Context: {context}, Details: {details}",
    ),
    _prs(
        33007,
        "ADUserIncorrectPassword",
        ERROR,
        _T + "Reason: ADUserIncorrectPassword, Context: {context}, Details: {details}",
    ),
    _prs(
        33008,
        "ADPasswordPolicyError",
        ERROR,
        _T + "Reason: ADPasswordPolicyError, Context: {context}, Details: {details}",
    ),
    _prs(
        33009,
        "ADConfigurationError",
        ERROR,
        _T + "Reason: ADConfigurationError, Context: {context}, Details: {details}",
    ),
    # -- ADSync (FACTS 1.2): the message body is the engine's text, passed in whole --
    EventDef(6329, SOURCE_ADSYNC, "ManagementAgentError", ERROR, "{text}"),
    EventDef(
        6800,
        SOURCE_ADSYNC,
        "PasswordManagementExtensionError",
        ERROR,
        "The password management extension encountered an error.\n The stack trace is:\n {text}",
    ),
    EventDef(
        6306,
        SOURCE_ADSYNC,
        "UnexpectedError",
        ERROR,
        "The server encountered an unexpected error while performing an operation for the client.",
    ),
    # -- Password hash sync (FACTS 1.3: meaning/text unconfirmed; a request/result pair) --
    EventDef(
        656,
        SOURCE_DIRSYNC,
        "PasswordChangeRequest",
        INFO,
        "Password Change Request - Anchor : {anchor}, Dn : {dn}, Change Date : {change_date}",
    ),
    EventDef(
        657,
        SOURCE_DIRSYNC,
        "PasswordChangeResult",
        INFO,
        "Password Change Result - Anchor : {anchor}, Dn : {dn}, Result : {result}",
    ),
)

CATALOGUE: dict[int, EventDef] = {d.event_id: d for d in _DEFS}

# ADSync 6329 bodies (FACTS 1.2 verbatim; hr 80230626 text is third-party, unconfirmed).
ADSYNC_POLICY_RESTRICTION = (
    'BAIL: MMS(4924) 0x80230619: "A restriction prevents the password from being changed to the current one '
    'specified."'
)
ADSYNC_NO_POLICY_CONTROL = (
    "MMS(3040): admaexport.cpp(2837): The server doesn't contain the LDAP password policy control."
)
ADSYNC_SYNC_NOT_ENABLED = (
    "0x8023061f (The operation failed because password synchronization is not enabled on this "
    "Management Agent)"
)
ADSYNC_ACCESS_DENIED_HR = "hr=80230626, message=management agent credentials were denied access"
ADSYNC_NOT_SECURE_HR = (
    "hr=8023062C, message=The password could not be set because the server is not configured for insecure "
    "setting of passwords, or a 128 bit TLS or SSL connection is required."
)
ADSYNC_NAME_TOO_LONG = (
    "Synchronization Engine returned an error hr=800700CE, message=The filename or extension is too long"
)
ADSYNC_DUPLICATE_ANCHOR = (
    "Synchronization Engine returned an error hr=80230402, message=An attempt to get an object failed "
    "because there are duplicated entries with the same anchor."
)
ADSYNC_OBJECT_NOT_FOUND = "Object could not be found"
ADSYNC_MULTIPLE_MATCHES = "Multiple matches found"

#: The wizard's message when the tenant lacks the licence (FACTS 8.3, verbatim).
WIZARD_LICENCE_ERROR = "Unable to configure password writeback. Ensure you have the required license."


def definition(event_id: int) -> EventDef:
    """The catalogue row for ``event_id``; unknown IDs are a programming error."""
    try:
        return CATALOGUE[event_id]
    except KeyError:
        raise KeyError(f"event {event_id} is not in the Connect catalogue") from None


def write_event(log: EventLog, event_id: int, **fields: object) -> Event:
    """Render ``event_id`` with ``fields`` and append it to the Application log."""
    d = _checked(event_id, tuple(fields))
    data = {k: v if type(v) is str else str(v) for k, v in fields.items()}
    # The message is rendered from the template and the data when read (fakes.eventlog.Event):
    # a placeholder without a spec formats as format(value, ""), the same as str(value) for
    # nearly every value; one whose __format__ differs gets its message rendered now.
    lazy = all(type(v) is str or format(v, "") == data[k] for k, v in fields.items())
    message = d.template if lazy else d.render(**fields)
    return log.write(APPLICATION, d.source, event_id, d.level, message, data, template=lazy)


def write_events(log: EventLog, items: Iterable[tuple[int, dict[str, str]]]) -> int:
    """:func:`write_event` for each ``(event_id, fields)`` in order, with string field values
    (password hash sync's 656/657 for every user of an initial sync): the same records, the
    catalogue checks done once per event ID and field names. Returns how many were written."""
    checked: dict[tuple[int, tuple[str, ...]], EventDef] = {}
    rows: list[Row] = []
    try:
        for event_id, fields in items:
            rows.append(_row(checked, event_id, fields, _checked))
    finally:
        log.write_many(APPLICATION, rows)  # on an error, the events before it (as write_event)
    return len(rows)


#: Fewer events than this are written at once by :func:`write_events_later`.
LATER_MINIMUM = 1000


def write_events_later(log: EventLog, shapes: Iterable[tuple[int, tuple[str, ...]]], count: int,
                       items: Callable[[], Iterable[tuple[int, dict[str, str]]]], *,
                       minimum: int | None = None) -> None:
    """:func:`write_events` of the ``count`` items ``items()`` returns, made when the log is next
    read (:meth:`EventLog.write_many_later`: 200k hash sync events at 100k users); fewer than
    ``minimum`` (:data:`LATER_MINIMUM`) are written now.

    ``shapes`` names every ``(event_id, field names)`` the items use: the catalogue checks run
    now, so a wrong event fails here, as :func:`write_events` would. ``items`` must return the
    same items whenever it is called."""
    checked = {(event_id, names): _checked(event_id, names) for event_id, names in shapes}
    if count < (LATER_MINIMUM if minimum is None else minimum):  # a delta sync's few: not worth a loader
        write_events(log, items())
        return

    def undeclared(event_id: int, names: tuple[str, ...]) -> EventDef:
        raise LaterError(f"event {event_id} with fields {list(names)} was not declared for later")

    def rows() -> list[Row]:
        return [_row(checked, event_id, fields, undeclared) for event_id, fields in items()]

    log.write_many_later(APPLICATION, count, rows)


def _checked(event_id: int, names: tuple[str, ...]) -> EventDef:
    """The catalogue's definition of ``event_id``, if ``names`` carry every field its message needs."""
    d = definition(event_id)
    missing = [p for p in d.placeholders() if p not in names]
    if missing:
        raise KeyError(f"event {event_id} needs {missing}")
    return d


def _row(checked: dict[tuple[int, tuple[str, ...]], EventDef], event_id: int, fields: dict[str, str],
         check: Callable[[int, tuple[str, ...]], EventDef]) -> Row:
    names = tuple(fields)
    d = checked.get((event_id, names))
    if d is None:
        d = checked[(event_id, names)] = check(event_id, names)
    values = tuple(fields.values())
    if not all(type(v) is str for v in values):
        raise TypeError(f"event {event_id}: write_events takes string field values")
    return d.source, event_id, d.level, d.template, names, values


def events_command_data(
    log: EventLog,
    *,
    event_ids: list[int] | None = None,
    source: str | None = None,
    since: datetime | None = None,
    level: str | None = None,
) -> list[dict]:
    """Rows for ``simlab events``: Application-log events matching the filters, oldest first.

    Each row is :meth:`fakes.eventlog.Event.to_dict` plus ``name`` (the catalogue name).
    Use :func:`fakes.eventlog.to_jsonl` / :func:`fakes.eventlog.to_xml` on
    ``log.query(...)`` for the ``--json`` and XML exports.
    """
    rows = []
    for e in log.query(log=APPLICATION, event_ids=event_ids, source=source, since=since, level=level):
        row = e.to_dict()
        d = CATALOGUE.get(e.event_id)
        row["name"] = d.name if d else ""
        rows.append(row)
    return rows
