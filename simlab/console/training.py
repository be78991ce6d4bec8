"""Training mode: exercises drawn from the fault catalogue, hints, the check and the score.

An exercise is a hidden catalogue fault applied to a freshly rebuilt healthy lab. The
trainee sees only a ticket ("alice can't reset her password"); hints reveal, in order,
the symptom text, the area and title of the fault, then its fix — all taken from the
catalogue so the console never invents diagnosis text. The check replays the user's
action through the same SSPR flow and, for resets, binds to the DC with the new password:
writeback works only if the password really reached Active Directory.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from fakes.ad.api import Change, ModOp, Scope
from simlab.console.state import error_text
from simlab.faults import FAULTS, Fault, apply_fault
from simlab.faults_ldap import TOOL_BINDS, tool_bind
from simlab.spec import DcPolicySpec

if TYPE_CHECKING:
    from simlab.lab import Lab
    from simlab.spec import LabSpec

#: Faults whose fix the console offers (ADUC ACLs, inheritance, user Properties, GPO, Connect
#: wizard/service/connector/OU filtering, portal blades, Licences, clock). Not offered:
#: missing-change (no symptom to check while the default Change password ACEs stand),
#: cloud-only-user (the reset succeeds; the fix is a hard match the console does not draw)
#: and graph-throttled (a tooling fault, not an SSPR action).
CONSOLE_FIXABLE: tuple[str, ...] = (
    "missing-reset",
    "missing-wp-pwdlastset",
    "missing-unexpire",
    "unexpire-wrong-scope",
    "reset-wrong-scope",
    "inheritance-disabled",
    "explicit-deny",
    "missing-wp-lockouttime",
    "min-password-age",
    "password-policy-conflict",
    "writeback-off-connect",
    "admin-lacks-role",
    "connect-service-stopped",
    "staging-mode",
    "ldap-sign-and-encrypt-off",
    "writeback-off-portal",
    "unlock-off",
    "cloud-sync-writeback-without-agent",
    "protected-user",
    "user-cannot-change-password",
    "user-outside-ou-filter",
    "user-not-synced",
    "no-licence",
    "connector-password-changed",
    "connector-password-expired",
    "connector-locked",
    "ldap-signing-required",
    "ldap-channel-binding-always",
)
#: ``ldap_bind``: a line-of-business tool's LDAP bind (how it binds: :data:`simlab.faults_ldap.TOOL_BINDS`).
CHECKABLE_ACTIONS = ("reset", "unlock", "change", "ldap_bind")
PAR_STEPS = 6
HINT_COST = 15
EXTRA_STEP_COST = 2
FAILED_CHECK_COST = 5


@dataclass(frozen=True, slots=True)
class Exercise:
    """One training exercise: a catalogue fault seen from the helpdesk ticket."""

    number: int
    fault: str
    user: str
    action: str
    ticket: str
    hints: tuple[str, ...]


def _ticket(user: str, action: str, fault: str = "") -> str:
    if action == "ldap_bind":
        authentication, transport = TOOL_BINDS[fault]
        how = f"{'NTLM' if authentication == 'ntlm' else 'simple'} bind over {transport.upper()}"
        return (f'The HR app team writes: "Since the DCs were hardened, our app cannot sign {user} in: its '
                f'{how} is refused. Can you fix it?"')
    if action == "change":
        where = "change my password in My Account"
        return f'{user} writes: "I tried to {where} and it didn\'t work. Can you fix it?"'
    what = "unlock my account" if action == "unlock" else "reset my password"
    return f'{user} writes: "I tried to {what} at aka.ms/sspr and it didn\'t work. Can you fix it?"'


def exercise_for(number: int, fault: Fault) -> Exercise:
    """Build the exercise for ``fault`` (hints come verbatim from the catalogue)."""
    user = str(fault.params.get("user", "alice"))
    hints = (
        f"What the user and the logs show: {fault.symptom.text}",
        f"Area: {fault.category}. The problem: {fault.title}.",
        f"The fix: {fault.fix}",
    )
    return Exercise(
        number, fault.name, user, fault.symptom.action, _ticket(user, fault.symptom.action, fault.name), hints
    )


def exercises() -> list[Exercise]:
    """The console's exercises, numbered in catalogue order."""
    names = [n for n in FAULTS if n in CONSOLE_FIXABLE and FAULTS[n].symptom.action in CHECKABLE_ACTIONS]
    return [exercise_for(i, FAULTS[n]) for i, n in enumerate(names, 1)]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One press of "Check my fix"."""

    ok: bool
    detail: str
    at: datetime


@dataclass(slots=True)
class TrainingSession:
    """A running exercise: what the trainee did, which hints they opened, the checks."""

    exercise: Exercise
    started_at: datetime
    steps: list[str] = field(default_factory=list)
    hints_used: int = 0
    checks: list[CheckResult] = field(default_factory=list)
    finished: bool = False

    @property
    def solved(self) -> bool:
        return any(c.ok for c in self.checks)

    @property
    def score(self) -> int:
        return score(
            solved=self.solved,
            steps=len(self.steps),
            hints_used=self.hints_used,
            failed_checks=sum(not c.ok for c in self.checks),
        )


def score(*, solved: bool, steps: int, hints_used: int, failed_checks: int) -> int:
    """0..100: nothing unless solved; hints, steps past par and failed checks cost points."""
    if not solved:
        return 0
    penalty = hints_used * HINT_COST + max(0, steps - PAR_STEPS) * EXTRA_STEP_COST
    penalty += failed_checks * FAILED_CHECK_COST
    # A solved exercise keeps a floor so a trainee who needed everything still sees progress.
    return max(10, 100 - penalty)


def healthy_spec(spec: LabSpec) -> LabSpec:
    """``spec`` with the tutorial done and nothing broken: the base every exercise starts from."""
    connect = spec.connect.model_copy(
        update={
            "tutorial_permissions": True,
            "password_writeback": True,
            "service_running": True,
            "staging": False,
        }
    )
    sspr = spec.tenant.sspr.model_copy(update={"enabled": "all", "registered": "all"})
    tenant = spec.tenant.model_copy(
        update={
            "writeback": True,
            "unlock": True,
            "licence": spec.tenant.licence if spec.tenant.licence != "none" else "P1",
            "sspr": sspr,
            "cloud_sync_writeback": False,
            "throttle_rate": 0.0,
        }
    )
    # LDAP signing / channel binding back to the defaults: the hardening exercises start from there.
    return spec.model_copy(update={"connect": connect, "tenant": tenant, "faults": [],
                                   "dc_policy": DcPolicySpec()})


def start(lab: Lab, base: LabSpec, exercise: Exercise) -> TrainingSession:
    """Rebuild ``lab`` healthy, apply the exercise's fault and let time run until it shows."""
    # Lab.reset() rebuilds from lab.spec; the exercise's base is the healthy form of the console's spec.
    lab.spec = healthy_spec(base)
    lab.reset()
    fault = apply_fault(lab, exercise.fault)
    if fault.symptom.after_minutes:
        lab.advance(minutes=fault.symptom.after_minutes)
    return TrainingSession(exercise, lab.clock.now())


def _new_password() -> str:
    # Unique each time so history never refuses a check; long and complex for any lab policy.
    return f"Chk-{secrets.token_hex(4)}-Aa9!{secrets.token_hex(8)}"


def check(lab: Lab, session: TrainingSession) -> CheckResult:
    """Replay the ticket's action end to end and record whether writeback now works."""
    ex = session.exercise
    if ex.action == "unlock":
        result = _check_unlock(lab, ex.user)
    elif ex.action == "change":
        result = _check_change(lab, ex.user)
    elif ex.action == "ldap_bind":
        result = _check_ldap_bind(lab, ex.fault, ex.user)
    else:
        result = _check_reset(lab, ex.user)
    session.checks.append(result)
    if result.ok:
        session.finished = True
    return result


def _check_reset(lab: Lab, user: str) -> CheckResult:
    password = _new_password()
    attempt = lab.sspr_reset(user, password)
    if not attempt.ok and attempt.code == "SSPR_0014" and _register(lab, user):
        # An account that only now reached the tenant (sync fixed) has no security info yet: the
        # user registers at aka.ms/ssprsetup, as they would, and tries again.
        attempt = lab.sspr_reset(user, password)
    now = lab.clock.now()
    if not attempt.ok:
        return CheckResult(False, f"{user}'s reset failed: {error_text(attempt.code, attempt.message)}", now)
    bound = lab.bind(user, password)
    if not bound.ok:
        return CheckResult(
            False,
            f"The reset was accepted but the new password does not work on-premises "
            f"(bind: {bound.code} {bound.message}).",
            now,
        )
    return CheckResult(
        True, f"{user} reset the password at aka.ms/sspr and signed in on-premises with it.", now
    )


def _check_unlock(lab: Lab, user: str) -> CheckResult:
    ref = lab.user(user)
    dc = lab.dc
    # The user locks themselves out again (as the DC's SYSTEM records a lockout), then tries to unlock.
    dc.modify(
        dc.system_session(),
        ref.dn,
        [Change(ModOp.REPLACE, "lockoutTime", (str(lab.clock.filetime()).encode(),))],
    )
    attempt = lab.sspr_unlock(user)
    now = lab.clock.now()
    if not attempt.ok:
        return CheckResult(False, f"{user}'s unlock failed: {error_text(attempt.code, attempt.message)}", now)
    found = dc.search(dc.admin_session(), ref.dn, Scope.BASE, "(objectClass=*)", ["lockoutTime"])
    value = found.entries[0].first("lockoutTime") or "0"
    if value != "0":
        return CheckResult(
            False, f"The unlock was accepted but lockoutTime is still {value} on-premises.", now
        )
    return CheckResult(
        True, f"{user} unlocked the account at aka.ms/sspr; lockoutTime is 0 on-premises.", now
    )


def _register(lab: Lab, user: str) -> bool:
    """The user registers security info (aka.ms/ssprsetup); False if the tenant lacks the user."""
    try:
        cloud = lab.tenant.get_user(lab.upn(user))
    except (KeyError, LookupError):
        return False
    if cloud is None:
        return False
    lab.tenant.register_for_sspr(cloud)
    return True


def current_password(lab: Lab, user: str) -> str:
    """The user's password as the lab's spec set it (named user's own, else the population's)."""
    for named in lab.spec.population.named:
        if named.sam.lower() == user.lower() and named.password:
            return named.password
    return lab.spec.population.password


def _check_change(lab: Lab, user: str) -> CheckResult:
    # The user changes their own password in the cloud (My Account): writeback runs a change
    # (old + new unicodePwd) as the connector account, which Deny Change password ACEs refuse.
    password = _new_password()
    attempt = lab.change_password(user, current_password(lab, user), password)
    now = lab.clock.now()
    if not attempt.ok:
        return CheckResult(False, f"{user}'s change failed: {error_text(attempt.code, attempt.message)}", now)
    bound = lab.bind(user, password)
    if not bound.ok:
        return CheckResult(
            False,
            f"The change was accepted but the new password does not work on-premises "
            f"(bind: {bound.code} {bound.message}).",
            now,
        )
    return CheckResult(True, f"{user} changed the password and signed in on-premises with it.", now)


def _check_ldap_bind(lab: Lab, fault: str, user: str) -> CheckResult:
    """The HR app binds as ``user`` exactly as before (same mechanism, same port); SSPR must still work."""
    bound = tool_bind(lab, fault, user, current_password(lab, user))
    now = lab.clock.now()
    if not bound.ok:
        return CheckResult(False, f"The app's bind as {user} is still refused: {bound.code} "
                                  f"{bound.message.rstrip(chr(0))}", now)
    reset = _check_reset(lab, user)  # the fix must not break writeback (e.g. by blocking LDAPS)
    if not reset.ok:
        return reset
    return CheckResult(True, f"The app signs {user} in again, and SSPR writeback still works.", now)
