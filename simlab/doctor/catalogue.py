"""Finding constructors tied to the fault catalogue (titles and categories come from there).

Ids outside the catalogue are for problems doctor can see that no catalogue fault
produces (a disabled connector account, SSPR switched off, access denied for a reason
doctor cannot name).
"""

from __future__ import annotations

from collections.abc import Iterable

from simlab.doctor.model import Evidence, Finding, Severity
from simlab.faults import FAULTS

#: Findings with no catalogue entry: id -> (category, title).
EXTRA: dict[str, tuple[str, str]] = {
    "writeback-access-denied": ("permissions", "The connector account cannot write this user's password"),
    "writeback-unexplained": ("writeback", "A writeback failed and doctor cannot say why"),
    "ineffective-deny": ("permissions", "A Deny entry that cannot affect writeback"),
    "connector-disabled": ("account", "The connector account is disabled"),
    "connector-not-found": ("account", "The connector account Connect uses does not exist in AD"),
    "writeback-connector-not-enabled": ("connect", "Writeback is on, but not on this directory's connector"),
    "sspr-disabled": ("tenant", "Self-service password reset is not enabled"),
    "user-not-found": ("tenant", "The user exists neither in Active Directory nor in the tenant"),
}


def finding(
    fid: str,
    severity: Severity,
    evidence: Iterable[Evidence],
    fix: Iterable[str],
    *,
    user: str | None = None,
    title: str | None = None,
) -> Finding:
    """A :class:`Finding` whose title/category come from the catalogue (or :data:`EXTRA`)."""
    if fid in FAULTS:
        category, default_title = FAULTS[fid].category, FAULTS[fid].title
    elif fid in EXTRA:
        category, default_title = EXTRA[fid]
    else:
        raise KeyError(f"doctor has no finding called {fid!r}")
    return Finding(fid, severity, title or default_title, category, tuple(evidence), tuple(fix), user)


def ev(source: str, item: str, value: object) -> Evidence:
    return Evidence(source, item, str(value))
