"""Turn what the writeback agent saw into what each observer is shown (FACTS 9).

Pure rules, no I/O. The agent describes each attempt as an :class:`Observation` (which
step it reached and the LDAP result there); :func:`classify` answers with a
:class:`Verdict`: the Application events to log (start, optional ADSync 6329, the 33xxx /
32xxx reason, then success/fail), the ``WritebackOutcome`` status/error for the tenant,
and a detail line. Windows diagnostics are matched on their leading 8-hex-digit error
code (FACTS 7: the rest of the string varies by build). Anything not recognised is
classified as an unknown error (33001 for an LDAP answer, 32000 for anything else) —
never as success.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fakes.connect import events as ev

Kind = Literal["reset", "change", "unlock", "admin_reset"]
Step = Literal[
    "agent",
    "config",
    "connect",
    "bind",
    "lookup",
    "precheck",
    "password",
    "pwdLastSet",
    "lockoutTime",
    "done",
]

# SSPR error enum names carried in WritebackOutcome.error (FACTS 2; the tenant maps them).
ADMIN_ACTION_REQUIRED = "OnPremisesAdminActionRequired"
POLICY_VIOLATION = "PasswordPolicyViolation"
# Not in FACTS' enum list: a change with the wrong current password (33007); the same
# name the tenant uses for a cloud change with a wrong current password.
INCORRECT_PASSWORD = "IncorrectCurrentPassword"

START = {"reset": 31001, "unlock": 31001, "change": 31006, "admin_reset": 31009}
SUCCESS = {"reset": 31002, "unlock": 31002, "change": 31007, "admin_reset": 31010}
FAIL = {"reset": 31003, "unlock": 31003, "change": 31008, "admin_reset": 31011}

# Windows error codes (leading hex of the diagnostic, FACTS 7).
ERROR_ACCESS_DENIED = 0x5
ERROR_GEN_FAILURE = 0x1F
ERROR_INVALID_PASSWORD = 0x56
ERROR_INVALID_PARAMETER = 0x57
ERROR_PASSWORD_RESTRICTION = 0x52D
ERROR_DS_ILLEGAL_MOD_OPERATION = 0x2077
ERROR_DS_OBJ_NOT_FOUND = 0x208D
ERROR_DS_INSUFF_ACCESS_RIGHTS = 0x2098
ERROR_DS_UNICODEPWD_NOT_IN_QUOTES = 0x216C


@dataclass(frozen=True, slots=True)
class Observation:
    """Where an attempt ended. ``code`` is the LDAP result code (None: no LDAP answer)."""

    kind: Kind
    step: Step
    code: int | None = None
    message: str = ""
    matches: int = 1
    admin_count: bool = False
    disabled: bool = False
    locked: bool = False
    exception: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to log and report for one :class:`Observation`."""

    status: Literal["success", "failure"]
    error: str | None
    reason_event: int | None
    adsync_text: str | None
    final_event: int
    detail: str

    def event_ids(self, kind: Kind) -> tuple[int, ...]:
        """All Application event IDs in the order the agent writes them."""
        ids = [START[kind]]
        if self.adsync_text is not None:
            ids.append(6329)
        if self.reason_event is not None:
            ids.append(self.reason_event)
        ids.append(self.final_event)
        return tuple(ids)


def windows_code(message: str) -> int | None:
    """The Windows error code a DC diagnostic starts with (``0000052D: ...`` -> 0x52D)."""
    head = message.strip()[:8]
    if len(head) == 8 and all(c in "0123456789abcdefABCDEF" for c in head):
        return int(head, 16)
    return None


def _fail(
    obs: Observation,
    reason: int | None,
    detail: str,
    *,
    error: str = ADMIN_ACTION_REQUIRED,
    adsync: str | None = None,
) -> Verdict:
    return Verdict("failure", error, reason, adsync, FAIL[obs.kind], detail)


def _ldap_text(obs: Observation) -> str:
    return f"LDAP {obs.code}: {obs.message.rstrip(chr(0)).strip()}"


def classify(obs: Observation) -> Verdict:
    """Map an observation to events, outcome error and detail (FACTS 9's table)."""
    if obs.step == "done":
        return Verdict("success", None, None, None, SUCCESS[obs.kind], "")
    if obs.step == "agent":
        return Verdict(
            "failure",
            ADMIN_ACTION_REQUIRED,
            32000,
            None,
            FAIL[obs.kind],
            f"Unexpected error in the writeback service: {obs.exception or obs.message}",
        )
    if obs.step == "config":
        # Forest added after writeback was enabled: its MA never got the password flag.
        return _fail(
            obs,
            33009,
            obs.message or "Password writeback is not enabled on this connector.",
            adsync=ev.ADSYNC_SYNC_NOT_ENABLED,
        )
    if obs.step == "connect":
        return _fail(obs, 33001, f"Could not reach the domain controller: {obs.exception or obs.message}")
    if obs.step == "bind":
        # Connector account password wrong/expired/locked (FACTS 9: events unconfirmed).
        return _fail(obs, 33009, f"The AD DS Connector account could not bind. {_ldap_text(obs)}")
    if obs.step == "lookup":
        return _classify_lookup(obs)
    if obs.step == "precheck":
        if obs.disabled:
            return _fail(obs, 33005, "The on-premises account is disabled.")
        if obs.locked:
            return _fail(obs, 33006, "The on-premises account is locked out.")
        return _unknown(obs)
    if obs.step == "password":
        return _classify_password(obs)
    if obs.step in ("pwdLastSet", "lockoutTime"):
        if obs.code == 50:
            return _fail(obs, 33004, _permission_detail(obs, f"write {obs.step}"))
        return _unknown(obs)
    return _unknown(obs)


def _classify_lookup(obs: Observation) -> Verdict:
    if obs.code in (None, 0):
        if obs.matches == 0:
            return _fail(
                obs, 33002, f"{ev.ADSYNC_OBJECT_NOT_FOUND}: no on-premises user has this cloud anchor."
            )
        if obs.matches > 1:
            return _fail(
                obs,
                33003,
                f"{ev.ADSYNC_MULTIPLE_MATCHES}: {obs.matches} users share this cloud anchor.",
                adsync=ev.ADSYNC_DUPLICATE_ANCHOR,
            )
    if obs.code == 32:
        return _fail(obs, 33002, f"{ev.ADSYNC_OBJECT_NOT_FOUND}. {_ldap_text(obs)}")
    return _unknown(obs)


def _classify_password(obs: Observation) -> Verdict:
    code, win = obs.code, windows_code(obs.message)
    if code == 12:
        return _fail(
            obs, 33009, f"Policy hints control refused. {_ldap_text(obs)}", adsync=ev.ADSYNC_NO_POLICY_CONTROL
        )
    if code == 50:
        return _fail(
            obs, 33004, _permission_detail(obs, "set the password"), adsync=ev.ADSYNC_ACCESS_DENIED_HR
        )
    if win == ERROR_PASSWORD_RESTRICTION and code in (19, 53):
        return _fail(
            obs,
            33008,
            f"The password does not meet the on-premises policy. {_ldap_text(obs)}",
            error=POLICY_VIOLATION,
            adsync=ev.ADSYNC_POLICY_RESTRICTION,
        )
    if code == 19 and win == ERROR_INVALID_PASSWORD:
        return _fail(
            obs, 33007, f"The current password is incorrect. {_ldap_text(obs)}", error=INCORRECT_PASSWORD
        )
    if code == 19 and win == ERROR_ACCESS_DENIED:
        # A change without User-Change-Password answers 19 with 00000005 (FACTS 6.1/9).
        return _fail(obs, 33004, _permission_detail(obs, "change the password"))
    if code == 53 and win in (ERROR_GEN_FAILURE, ERROR_DS_ILLEGAL_MOD_OPERATION):
        # Password write refused over an unencrypted connection (sign and seal off, FACTS 1.2).
        return _fail(
            obs,
            33009,
            f"Password operations need an encrypted connection. {_ldap_text(obs)}",
            adsync=ev.ADSYNC_NOT_SECURE_HR,
        )
    if code == 32:
        return _fail(obs, 33002, f"{ev.ADSYNC_OBJECT_NOT_FOUND}. {_ldap_text(obs)}")
    return _unknown(obs)


def _permission_detail(obs: Observation, what: str) -> str:
    why = "AdminCount is set to 1 (protected by AdminSDHolder). " if obs.admin_count else ""
    return f"The AD DS Connector account is not allowed to {what}. {why}{_ldap_text(obs)}"


def _unknown(obs: Observation) -> Verdict:
    if obs.code is None:
        return Verdict(
            "failure",
            ADMIN_ACTION_REQUIRED,
            32000,
            None,
            FAIL[obs.kind],
            f"unknown: {obs.exception or obs.message or obs.step}",
        )
    return _fail(obs, 33001, f"unknown: step {obs.step}, {_ldap_text(obs)}")
