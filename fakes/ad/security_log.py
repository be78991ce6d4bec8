"""The DC's Security log: the account-management events an admin reads in Event Viewer.

Event IDs and first lines are the Windows ones (4723 change, 4724 reset, 4738 user
changed, 4740 locked out, 4767 unlocked, 5136 directory object modified); the body
follows Windows' "Subject / Target Account" layout in shortened form. Events go to
:class:`fakes.eventlog.EventLog` under log ``Security``, source
``Microsoft-Windows-Security-Auditing``. Password values never appear.
"""

from __future__ import annotations

from dataclasses import dataclass

from fakes.eventlog import Event, EventLog

LOG = "Security"
SOURCE = "Microsoft-Windows-Security-Auditing"

PASSWORD_CHANGE = 4723
PASSWORD_RESET = 4724
USER_CHANGED = 4738
LOCKED_OUT = 4740
UNLOCKED = 4767
DS_OBJECT_MODIFIED = 5136

TITLES: dict[int, str] = {
    PASSWORD_CHANGE: "An attempt was made to change an account's password.",
    PASSWORD_RESET: "An attempt was made to reset an account's password.",
    USER_CHANGED: "A user account was changed.",
    LOCKED_OUT: "A user account was locked out.",
    UNLOCKED: "A user account was unlocked.",
    DS_OBJECT_MODIFIED: "A directory service object was modified.",
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who appears in an event: account name, domain, SID."""

    name: str
    domain: str
    sid: str


def _body(event_id: int, subject: Principal, target: Principal, extra: dict[str, str]) -> str:
    lines = [
        TITLES[event_id],
        "",
        "Subject:",
        f"\tSecurity ID:\t\t{subject.sid}",
        f"\tAccount Name:\t\t{subject.name}",
        f"\tAccount Domain:\t\t{subject.domain}",
        "",
        "Target Account:" if event_id != LOCKED_OUT else "Account That Was Locked Out:",
        f"\tSecurity ID:\t\t{target.sid}",
        f"\tAccount Name:\t\t{target.name}",
    ]
    if event_id != LOCKED_OUT:
        lines.append(f"\tAccount Domain:\t\t{target.domain}")
    if extra:
        lines.append("")
        lines.extend(f"{k}:\t{v}" for k, v in extra.items())
    return "\n".join(lines)


def write(
    log: EventLog,
    event_id: int,
    *,
    success: bool,
    subject: Principal,
    target: Principal,
    **extra: str,
) -> Event:
    """Write one audit event; ``extra`` becomes trailing "Name: value" lines and event data."""
    if event_id not in TITLES:
        raise ValueError(f"event {event_id} is not in the DC Security log catalogue")
    data = {
        "SubjectUserSid": subject.sid,
        "SubjectUserName": subject.name,
        "SubjectDomainName": subject.domain,
        "TargetSid": target.sid,
        "TargetUserName": target.name,
        "TargetDomainName": target.domain,
        **extra,
    }
    return log.write(
        LOG,
        SOURCE,
        event_id,
        "Audit Success" if success else "Audit Failure",
        _body(event_id, subject, target, dict(extra)),
        data,
    )
