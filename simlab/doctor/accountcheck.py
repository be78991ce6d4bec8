"""Domain password policy and the connector account's own state (locked, expired, password changed).

Pure functions over what :mod:`simlab.doctor.adread` read, plus the Connect event log
for the "password changed behind Connect's back" heuristic: the account's pwdLastSet is
later than the last event proving Connect's stored password worked.
"""

from __future__ import annotations

from fakes.clock import from_filetime, to_filetime
from simlab.doctor.adcheck import AdContext, dns_of
from simlab.doctor.adread import Account, DomainInfo
from simlab.doctor.catalogue import ev, finding
from simlab.doctor.model import Check, Evidence, Finding
from simlab.doctor.sources import EventRecord, GpoView

#: Entra's cloud password rule: at least 8 characters (fakes.graph.tenant.meets_cloud_policy).
CLOUD_MIN_LENGTH = 8
#: Windows' default history; a longer one refuses passwords the user may expect to reuse.
DEFAULT_HISTORY = 24
DONT_EXPIRE_PASSWORD, ACCOUNTDISABLE = 0x10000, 0x2
#: Connect events that prove the stored connector credentials worked at that time.
CONNECTOR_USED = frozenset({31002, 31005, 31007, 31010, 31015, 656, 657})
_AD = "Active Directory (LDAP)"


# -- password policy --------------------------------------------------------------------------
def _days(interval: int) -> float:
    return abs(interval) / (10_000_000 * 86_400)


def password_policy(domain: DomainInfo, gpo: GpoView | None) -> tuple[list[Finding], list[Check]]:
    """Minimum password age and settings stricter than the cloud's, applied or pending in the GPO."""
    p, s = domain.policy, (gpo.settings if gpo else {})
    pending = (
        " (edited in the GPO, not yet applied: the DC's next refresh or gpupdate /force applies it)"
        if gpo and gpo.pending
        else ""
    )
    src = f"domain object {domain.dn}"
    findings: list[Finding] = []
    age_now, age_gpo = _days(p["minPwdAge"]), s.get("min_age_days", 0)
    if age_now > 0 or age_gpo > 0:
        evidence = [ev(_AD, f"minPwdAge on {src}", f"{p['minPwdAge']} ({age_now:g} days)")]
        if gpo:
            evidence.append(
                ev(
                    "Group Policy Management Editor",
                    "Default Domain Policy > Minimum password age",
                    f"{age_gpo} days{pending}",
                )
            )
        findings.append(
            finding(
                "min-password-age",
                "error",
                evidence,
                [
                    "Group Policy Management > Default Domain Policy > Computer Configuration > Policies > "
                    "Windows "
                    "Settings > Security Settings > Account Policies > Password Policy > Minimum password "
                    "age = 0.",
                    "Then on the DC: gpupdate /force (or wait for the 5-minute DC refresh).",
                    "Check: Get-ADDefaultDomainPasswordPolicy | Select MinPasswordAge",
                ],
            )
        )
    length = max(p["minPwdLength"], int(s.get("min_length", 0)))
    history = max(p["pwdHistoryLength"], int(s.get("history", 0)))
    if length > CLOUD_MIN_LENGTH or history > DEFAULT_HISTORY:
        evidence = [
            ev(
                _AD,
                f"minPwdLength / pwdHistoryLength on {src}",
                f"{p['minPwdLength']} / {p['pwdHistoryLength']}",
            )
        ]
        if gpo:
            evidence.append(
                ev(
                    "Group Policy Management Editor",
                    "Default Domain Policy > Minimum password length / Enforce password history",
                    f"{s.get('min_length')} / {s.get('history')}{pending}",
                )
            )
        evidence.append(
            ev(
                "Entra ID",
                "cloud password rule",
                f"{CLOUD_MIN_LENGTH}-256 characters, 3 of 4 character classes",
            )
        )
        findings.append(
            finding(
                "password-policy-conflict",
                "warning",
                evidence,
                [
                    "Align Default Domain Policy with what users are told: Minimum password length <= "
                    f"{CLOUD_MIN_LENGTH} (or publish the on-premises rule in the SSPR portal's custom help "
                    "text), "
                    f"Enforce password history <= {DEFAULT_HISTORY}; then gpupdate /force."
                ],
            )
        )
    checks = [
        Check(
            "password policy",
            "finding" if findings else "ok",
            f"minPwdAge {age_now:g} d, minPwdLength {p['minPwdLength']}, history {p['pwdHistoryLength']}"
            + ("; GPO pending" if gpo and gpo.pending else ""),
        )
    ]
    return findings, checks


# -- the connector account itself ----------------------------------------------------------
def connector_account(ctx: AdContext, events: list[EventRecord] | None) -> tuple[list[Finding], list[Check]]:
    """Locked, expired, disabled, or its password changed behind Connect's back."""
    c, d = ctx.connector, ctx.domain
    now = d.now
    findings: list[Finding] = []
    attrs = (
        f"userAccountControl={c.uac} (0x{c.uac:x}), pwdLastSet={c.pwd_last_set}, "
        f"lockoutTime={c.lockout_time}, badPwdCount={c.bad_pwd_count}"
    )
    base = ev(_AD, f"attributes of {c.dn}", attrs)
    bind_failures = _events(events, {33009})
    if c.uac & ACCOUNTDISABLE:
        findings.append(
            finding(
                "connector-disabled", "error", [base], [f"ADUC > {c.sam} > right-click > Enable Account."]
            )
        )
    duration = abs(d.policy["lockoutDuration"])
    if c.lockout_time and (duration == 0 or c.lockout_time + duration > to_filetime(now)):
        findings.append(
            finding(
                "connector-locked",
                "error",
                [
                    base,
                    ev(
                        _AD,
                        f"lockoutThreshold / lockoutDuration on {d.dn}",
                        f"{d.policy['lockoutThreshold']} / {d.policy['lockoutDuration']}",
                    ),
                    ev(_AD, "locked out since", from_filetime(c.lockout_time).isoformat()),
                    *bind_failures,
                ],
                [
                    f"ADUC > {c.sam} > Properties > Account: tick 'Unlock account' (or Unlock-ADAccount "
                    f"{c.sam}).",
                    "Find the source of the bad passwords: DC Security log event 4740 "
                    "(Caller Computer Name).",
                ],
            )
        )
    max_age = abs(d.policy["maxPwdAge"])
    expired = c.pwd_last_set == 0 or (
        not c.uac & DONT_EXPIRE_PASSWORD and max_age and c.pwd_last_set + max_age < to_filetime(now)
    )
    if expired:
        why = (
            "pwdLastSet=0: 'User must change password at next logon'"
            if c.pwd_last_set == 0
            else "password older than maxPwdAge and 'Password never expires' is not set"
        )
        findings.append(
            finding(
                "connector-password-expired",
                "error",
                [base, ev(_AD, "state", why), *bind_failures],
                [
                    f"ADUC > {c.sam} > Properties > Account: untick 'User must change password at next "
                    "logon', tick "
                    "'Password never expires'."
                ],
            )
        )
    changed = _changed_after_connect(c, events)
    if changed is not None:
        findings.append(
            finding(
                "connector-password-changed",
                "error",
                [base, *changed, *bind_failures],
                [
                    f"Synchronization Service Manager > Connectors > {dns_of(d.dn)} > Properties > "
                    f"Connect to Active Directory Forest: enter {ctx.account_name}'s current password.",
                    "Or reset the account's password to the one Connect holds, then Start-ADSyncSyncCycle "
                    "-PolicyType "
                    "Delta.",
                ],
            )
        )
    checks = [Check("connector account", "finding" if findings else "ok", f"{ctx.account_name}: {attrs}")]
    return findings, checks


def _changed_after_connect(c: Account, events: list[EventRecord] | None) -> list[Evidence] | None:
    if events is None or c.pwd_last_set <= 0:
        return None
    used = [e for e in events if e.event_id in CONNECTOR_USED]
    if not used:
        return None
    last = max(used, key=lambda e: e.time)
    changed_at = from_filetime(c.pwd_last_set)
    if changed_at <= last.time:
        return None
    return [
        ev(_AD, f"pwdLastSet of {c.sam}", f"{changed_at.isoformat()} (password set)"),
        ev(
            "Connect Application log",
            f"last sign that Connect's stored password worked: event {last.event_id}",
            f"{last.time.isoformat()} {last.message.splitlines()[0]}",
        ),
    ]


def _events(events: list[EventRecord] | None, ids: set[int]) -> list[Evidence]:
    return [
        ev("Connect Application log", f"event {e.event_id} ({e.level}) at {e.time.isoformat()}", e.message)
        for e in (events or [])
        if e.event_id in ids
    ][-3:]
