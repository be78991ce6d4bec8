"""Entra Connect rules: what "View current configuration" and the Application log say.

Whether writeback is off in Connect because an admin unticked it, because re-enabling it
failed (wrong role: event 32009 after the last 31004), or because the portal was moved
to cloud sync writeback is decided in :func:`writeback_cause`, which needs the portal's
answer from :mod:`simlab.doctor.tenantcheck`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simlab.doctor.catalogue import ev, finding
from simlab.doctor.model import Check, Evidence, Finding
from simlab.doctor.sources import EventRecord

_VIEW = "Entra Connect > View current configuration"
_LOG = "Connect Application log"
ONBOARD_START, ONBOARD_OK, AUTH_TOKEN_ERROR = 31004, 31005, 32009


@dataclass(frozen=True, slots=True)
class ConnectView:
    """The parts of the configuration page doctor uses."""

    raw: dict[str, Any]

    @property
    def directories(self) -> list[dict[str, Any]]:
        return list(self.raw.get("Synchronized directories") or [])

    def directory(self, domain: str) -> dict[str, Any] | None:
        return next(
            (d for d in self.directories if str(d.get("Directory", "")).lower() == domain.lower()), None
        )

    @property
    def writeback(self) -> bool:
        return bool((self.raw.get("Optional features") or {}).get("Password writeback"))

    @property
    def account(self) -> str | None:
        dirs = self.directories
        return str(dirs[0]["Account"]) if dirs and dirs[0].get("Account") else None


def _event_ev(e: EventRecord) -> Evidence:
    return ev(_LOG, f"event {e.event_id} ({e.source}, {e.level}) at {e.time.isoformat()}", e.message)


def service_and_mode(view: ConnectView, events: list[EventRecord]) -> tuple[list[Finding], list[Check]]:
    """Service state, staging mode, sign-and-encrypt and the per-connector writeback flag."""
    findings: list[Finding] = []
    raw = view.raw
    if raw.get("Service") == "Stopped":
        stopped = [e for e in events if e.event_id == 31016][-1:]
        findings.append(
            finding(
                "connect-service-stopped",
                "error",
                [ev(_VIEW, "Service (ADSync)", "Stopped"), *map(_event_ev, stopped)],
                [
                    f"On {raw.get('Server', 'the Connect server')}: Start-Service ADSync (services.msc > "
                    "Microsoft "
                    "Azure AD Sync > Start); event 31015 confirms the writeback service listens again."
                ],
            )
        )
    if raw.get("Staging mode"):
        findings.append(
            finding(
                "staging-mode",
                "error",
                [ev(_VIEW, "Staging mode", "Enabled")],
                [
                    "Entra Connect > Configure > Configure staging mode: untick 'Enable staging mode' on the "
                    "server that "
                    "should be active (a staging server never answers writeback requests)."
                ],
            )
        )
    for d in view.directories:
        if d.get("Sign and Encrypt LDAP Traffic") is False:
            findings.append(
                finding(
                    "ldap-sign-and-encrypt-off",
                    "error",
                    [ev(_VIEW, f"{d.get('Directory')} connector: Sign and Encrypt LDAP Traffic", "False")],
                    [
                        f"Synchronization Service Manager > Connectors > {d.get('Directory')} > Properties > "
                        "Connect to "
                        "Active Directory Forest > Options: tick 'Sign and Encrypt LDAP Traffic' (and in the "
                        "partition "
                        "and the Configure Directory Partitions credentials), then restart ADSync."
                    ],
                )
            )
        elif view.writeback and d.get("Password writeback on connector") is False:
            findings.append(
                finding(
                    "writeback-connector-not-enabled",
                    "error",
                    [ev(_VIEW, f"{d.get('Directory')}: Password writeback on connector", "False")],
                    [
                        "Run the Connect wizard again (Customize synchronization options) and leave Password "
                        "writeback "
                        "ticked, so every AD connector gets the writeback flag."
                    ],
                )
            )
    state = (
        f"service {raw.get('Service')}, staging {bool(raw.get('Staging mode'))}, writeback {view.writeback}"
    )
    return findings, [Check("Connect configuration", "finding" if findings else "ok", state)]


def failed_onboarding(events: list[EventRecord]) -> list[Evidence]:
    """Events of the last writeback onboarding if it failed with an auth-token (role) error."""
    starts = [i for i, e in enumerate(events) if e.event_id == ONBOARD_START]
    if not starts:
        return []
    tail = events[starts[-1] :]
    if any(e.event_id == ONBOARD_OK for e in tail):
        return []
    errors = [e for e in tail if e.event_id == AUTH_TOKEN_ERROR]
    return [_event_ev(e) for e in [tail[0], *errors]] if errors else []


def writeback_cause(
    view: ConnectView, events: list[EventRecord], cloud_sync: tuple[bool, Evidence] | None
) -> tuple[list[Finding], list[Check]]:
    """Name why Connect's writeback is off (nothing when it is on)."""
    if view.writeback:
        return [], [Check("Connect password writeback", "ok", "enabled")]
    off = ev(_VIEW, "Optional features > Password writeback", "False")
    offboard = [_event_ev(e) for e in events if e.event_id in (31012, 31013)][-2:]
    findings: list[Finding] = []
    failed = failed_onboarding(events)
    if failed:
        findings.append(
            finding(
                "admin-lacks-role",
                "error",
                [off, *failed],
                [
                    "Run the Connect wizard (Customize synchronization options > Optional features > "
                    "Password "
                    "writeback) signed in as a Global Administrator or Hybrid Identity Administrator of the "
                    "tenant "
                    "(a cloud-only account, not a federated one)."
                ],
            )
        )
    if cloud_sync is not None and cloud_sync[0]:
        findings.append(
            finding(
                "cloud-sync-writeback-without-agent",
                "error",
                [off, cloud_sync[1]],
                [
                    "Either install the Entra provisioning agent (cloud sync), or untick 'Enable password "
                    "writeback "
                    "for synced users' for cloud sync in the portal and re-enable writeback in Entra Connect."
                ],
            )
        )
    if not findings:
        findings.append(
            finding(
                "writeback-off-connect",
                "error",
                [off, *offboard],
                [
                    "Entra Connect > Configure > Customize synchronization options > Optional features: tick "
                    "Password "
                    "writeback, Configure (sign in as a Global Administrator).",
                    "Then Entra admin center > Protection > Password reset > On-premises integration: tick "
                    "'Write "
                    "back passwords to your on-premises directory', Save.",
                ],
            )
        )
    return findings, [Check("Connect password writeback", "finding", ", ".join(f.id for f in findings))]


def ou_filter(view: ConnectView, domain: str, user_dn: str, name: str) -> tuple[list[Finding], list[Check]]:
    """Is the user's OU selected in Domain/OU filtering?"""
    d = view.directory(domain)
    if d is None:
        return [], [Check("OU filtering", "skipped", f"no synchronized directory {domain}")]
    selected = [str(o) for o in d.get("OU filtering") or []]
    if not selected or selected == ["(all)"]:
        return [], [Check("OU filtering", "ok", "all OUs synchronized")]
    low = user_dn.lower()
    if any(low == o.lower() or low.endswith("," + o.lower()) for o in selected):
        return [], [Check("OU filtering", "ok", "the user's OU is selected")]
    parent = user_dn.split(",", 1)[1] if "," in user_dn else user_dn
    f = finding(
        "user-outside-ou-filter",
        "error",
        [
            ev(_VIEW, f"{domain} connector: OU filtering", "\n".join(selected)),
            ev("Active Directory (LDAP)", "user DN", user_dn),
        ],
        [
            "Entra Connect > Configure > Customize synchronization options > Domain and OU filtering: tick "
            f"{parent}, then Start-ADSyncSyncCycle -PolicyType Initial."
        ],
        user=name,
    )
    return [f], [Check("OU filtering", "finding", f"{parent} is not selected")]
