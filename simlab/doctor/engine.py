"""``diagnose``: read every surface once, run the rules, assemble a :class:`Report`."""

from __future__ import annotations

import re
import shlex
from dataclasses import replace
from typing import Any

from simlab.doctor import accountcheck, adcheck, adread, bindcheck, connectcheck, tenantcheck
from simlab.doctor.catalogue import ev, finding
from simlab.doctor.connectcheck import ConnectView
from simlab.doctor.model import Check, Evidence, Finding, Report
from simlab.doctor.sources import EventRecord, Source, as_source

_AD = "Active Directory (LDAP)"


def diagnose(source: Any, *, user: str | None = None) -> Report:
    """Diagnose a lab (or any :class:`Source`) like an admin would; ``user`` adds per-user checks.

    ``source`` is a :class:`~simlab.lab.Lab`, a :class:`LabSource` or an
    :class:`EndpointSource`. Per-user checks (protection, inheritance, denies, OU filter,
    sync state) run for ``user`` only (sAMAccountName, UPN or DN).
    """
    src: Source = as_source(source)
    conn = src.ldap()
    try:
        return _diagnose(src, conn, user)
    finally:
        conn.unbind()


def _diagnose(src: Source, conn: Any, user: str | None) -> Report:
    findings: list[Finding] = []
    checks: list[Check] = []
    notes: list[str] = []

    def take(result: tuple[list[Finding], list[Check]]) -> None:
        findings.extend(result[0])
        checks.extend(result[1])

    root_base, now = adread.read_base_dn(conn)
    base = src.base_dn() or root_base
    dns = adcheck.dns_of(base)
    domain = adread.read_domain(conn, base, now)
    raw_view = src.connect_configuration()
    view = ConnectView(raw_view) if raw_view is not None else None
    events = src.connect_events()
    if view is None:
        checks.append(Check("Connect configuration", "skipped", "no 'View current configuration' available"))
    if events is None:
        notes.append(
            "No Connect event log was given: event-based checks (failed onboarding, connector "
            "password changed) were limited."
        )

    ctx = _connector_context(src, conn, base, domain, view, findings, checks)
    root_ids: set[str] = set()
    if ctx is not None:
        root = adcheck.root_permissions(ctx)
        root_ids = {f.id for f in root[0]}
        take(root)
        take(accountcheck.connector_account(ctx, events))
    take(accountcheck.password_policy(domain, src.gpo()))
    take(bindcheck.ldap_bind_policy(src))

    account = adread.find_account(conn, base, user) if user else None
    outside = False
    if account is not None and user is not None:
        chain = adread.ancestors(conn, account.dn, base)
        groups = adread.protected_groups_of(conn, base, account.dn, domain.sid)
        if ctx is not None:
            take(adcheck.user_permissions(ctx, account, chain, groups, root_ids, user))
        if view is not None:
            ou = connectcheck.ou_filter(view, dns, account.dn, user)
            outside = bool(ou[0])
            take(ou)
    elif user is not None:
        checks.append(Check("user in Active Directory", "skipped", f"no user {user!r} on-premises"))
    take(_ou_inheritance(conn, base, findings))

    if view is not None:
        take(connectcheck.service_and_mode(view, events or []))
    upn = None
    if user is not None:
        upn = (
            account.upn
            if account is not None and account.upn
            else user
            if "@" in user
            else f"{user.split(',')[0].split('=')[-1]}@{dns}"
        )
    with src.tenant() as client:
        if client is None:
            checks.append(Check("tenant", "skipped", "no Graph URL/token given"))
            state = None
        else:
            state = tenantcheck.check_tenant(
                client, upn=upn, in_ad=account is not None and not outside, name=user, outside=outside
            )
            findings.extend(state.findings)
            checks.extend(state.checks)
    if view is not None:
        take(connectcheck.writeback_cause(view, events or [], state.cloud_sync() if state else None))
    findings = [_with_symptoms(f, events or []) for f in findings]
    findings += _unexplained(findings, events or [], user)
    return Report(src.name, user, tuple(findings), tuple(checks), now.isoformat(), tuple(notes))


#: Connect events that show a finding's symptom, by finding category (FACTS 1.1).
SYMPTOM_EVENTS = {"permissions": (33004,), "policy": (33008,), "connect": (33009,)}


def _event_ev(e: EventRecord) -> Evidence:
    return ev("Connect Application log", f"event {e.event_id} ({e.level}) at {e.time.isoformat()}", e.message)


def _with_symptoms(f: Finding, events: list[EventRecord]) -> Finding:
    """Quote the latest matching writeback failures (what the admin sees after a failed SSPR)."""
    ids = SYMPTOM_EVENTS.get(f.category, ())
    seen = [e for e in events if e.event_id in ids][-2:]
    if not seen:
        return f
    extra = tuple(_event_ev(e) for e in seen)
    return replace(f, evidence=f.evidence + extra)


#: Writeback failures (Connect 33xxx, FACTS 1.1) and the finding categories that can explain them.
#: 33005-33007 (account disabled, locked out, wrong current password) explain themselves.
EXPLAINED_BY = {
    33001: {"connect", "account"},
    33002: {"connect", "tenant"},
    33003: {"connect"},
    33004: {"permissions"},
    33008: {"policy"},
    33009: {"connect", "account"},
    32000: set(),
}
_SUCCESSES = (31002, 31007, 31010)
_CONTEXT_DN = re.compile(r"Context: ((?:CN|OU)=.+?), Details:")


def _unexplained(findings: list[Finding], events: list[EventRecord], user: str | None) -> list[Finding]:
    """Say so when the log shows a writeback failure no finding accounts for, with what was read."""
    last_ok = max((i for i, e in enumerate(events) if e.event_id in _SUCCESSES), default=-1)
    failures = [e for e in events[last_ok + 1:] if e.event_id in EXPLAINED_BY]
    categories = {f.category for f in findings if f.severity != "info"}
    open_ = [e for e in failures if not EXPLAINED_BY[e.event_id] & categories]
    if not open_:
        return []
    fix = ["doctor could not name the cause from what an admin can read (LDAP, Graph, the event log)."]
    named = [m.group(1) for e in open_ if (m := _CONTEXT_DN.search(e.message))]
    if user is None:
        who = shlex.quote(named[-1]) if named else "<sAMAccountName>"
        fix.append(f"Run it for the user the event names: simlab doctor --user {who}")
    fix.append("ADUC > the user (Context: in the event) > Security > Advanced > Effective Access: select the "
               "AD DS Connector account and look for the right the event says is missing.")
    return [
        finding(
            "writeback-unexplained",
            "error",
            [_event_ev(e) for e in open_[-2:]],
            fix,
            user=user,
        )
    ]


def _connector_context(
    src: Source,
    conn: Any,
    base: str,
    domain: adread.DomainInfo,
    view: ConnectView | None,
    findings: list[Finding],
    checks: list[Check],
) -> adcheck.AdContext | None:
    """Find the AD DS Connector account Connect uses and read its token."""
    name = (view.account if view else None) or src.connector_account()
    if name is None:
        msol = adread.find_msol_accounts(conn, base)
        if len(msol) != 1:
            checks.append(
                Check(
                    "connector account",
                    "skipped",
                    f"{len(msol)} MSOL_ accounts and no Connect configuration: pass connector=",
                )
            )
            return None
        name = msol[0]
    account = adread.find_account(conn, base, name)
    if account is None:
        findings.append(
            finding(
                "connector-not-found",
                "error",
                [
                    ev("Entra Connect > View current configuration", "AD connector account", name),
                    ev(_AD, "search", f"no user {name} under {base}"),
                ],
                [
                    "Synchronization Service Manager > Connectors > AD connector > Properties > Connect to "
                    "Active "
                    "Directory Forest: enter an existing account (or recreate it and grant the writeback "
                    "rights)."
                ],
            )
        )
        checks.append(Check("connector account", "finding", f"{name} not found"))
        return None
    netbios = name.split("\\", 1)[0] if "\\" in name else adcheck.dns_of(base).split(".")[0].upper()
    token = adread.token_sids(conn, account)
    return adcheck.AdContext(domain, account, f"{netbios}\\{account.sam}", token)


def _ou_inheritance(conn: Any, base: str, findings: list[Finding]) -> tuple[list[Finding], list[Check]]:
    """Get-ADSyncObjectsWithInheritanceDisabled over OUs: a protected OU cuts every user below it off."""
    blocked = adread.objects_with_inheritance_disabled(conn, base)
    already = {e.item for f in findings if f.id == "inheritance-disabled" for e in f.evidence}
    fresh = [b for b in blocked if not any(b.dn in item for item in already)]
    if not blocked:
        return [], [Check("OUs with inheritance disabled", "ok", "none")]
    if not fresh:
        return [], [Check("OUs with inheritance disabled", "finding", "; ".join(b.dn for b in blocked))]
    f = finding(
        "inheritance-disabled",
        "error",
        [ev(_AD, f"Get-ADSyncObjectsWithInheritanceDisabled -SearchBase '{base}'", b.dn) for b in fresh],
        [f"ADUC > {b.dn} > Security > Advanced > Enable inheritance" for b in fresh],
    )
    return [f], [Check("OUs with inheritance disabled", "finding", "; ".join(b.dn for b in blocked))]
