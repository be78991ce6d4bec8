"""Binds the way a Windows DC answers them (FACTS.md 7: ``80090308 ... data XXX``).

Simple binds and NTLM binds (:mod:`fakes.ad.dc_ntlm`) share :func:`logon`, so every
account rule below holds for both; only the credential check differs.

Order of checks (as observed on Windows): unknown account -> 525; locked out -> 775
whatever the password; wrong password -> 52e and the bad-password count (lockout at
``lockoutThreshold`` inside ``lockOutObservationWindow``, Security event 4740); only
with the right password: disabled 533, expired account 701, must change (pwdLastSet
0) 773, expired password 532.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fakes.ad import bind_policy, errors, passwords
from fakes.ad import security_log as seclog
from fakes.ad.api import LdapError, LdapResult, Session

if TYPE_CHECKING:
    from fakes.ad.dc import DomainController
    from fakes.ad.directory import Entry

_ACCOUNT_NEVER_EXPIRES = (0, passwords.NEVER)


def reset_identity(session: Session) -> None:
    """A new bind always drops the previous identity first (RFC 4511 4.2.1)."""
    session.principal_dn = None
    session.principal_sid = None
    session.token = frozenset()
    session.state.pop("paged", None)
    session.mechanism = ""


def bind(dc: DomainController, session: Session, name: str, password: str) -> LdapResult:
    """Simple bind: the signing policy, then the shared account rules of :func:`logon`."""
    reset_identity(session)
    # LDAP server signing requirements: refused before the credentials are even looked at.
    bind_policy.check_simple_bind(dc.ldap_policy, tls=session.tls, anonymous=not password)
    if not password:
        # Anonymous, or an "unauthenticated" bind (name without password): AD treats both as anonymous.
        return LdapResult()
    digest = passwords.password_digest(password)
    return logon(dc, session, dc.resolve_principal(name), lambda nt_hash: nt_hash == digest,
                 mechanism="SIMPLE", fail=errors.bind_failed)


def logon(
    dc: DomainController,
    session: Session,
    entry: Entry | None,
    verify: Callable[[bytes], bool],
    *,
    mechanism: str,
    fail: Callable[[str], LdapError],
) -> LdapResult:
    """The account rules every bind shares once the mechanism has parsed the credentials.

    ``verify`` gets the account's NT hash and says whether the credentials match it (a
    password compare for simple binds, the NTLMv2 response for NTLM). ``fail`` builds the
    49 answer for a ``data`` code (simple and SSPI binds word it differently).
    """
    from fakes.ad.dc_access import number

    if entry is None or "unicodepwd" not in entry.attrs:
        raise fail(errors.BIND_USER_NOT_FOUND if entry is None else errors.BIND_INVALID_CREDENTIALS)
    policy = dc.policy()
    now = dc.clock.filetime()
    lockout_time = number(entry, "lockouttime")
    if passwords.is_locked_out(policy, lockout_time, now):
        raise fail(errors.BIND_ACCOUNT_LOCKED)
    if not verify(entry.attrs["unicodepwd"][0]):
        count_bad_password(dc, entry, policy, now)
        raise fail(errors.BIND_INVALID_CREDENTIALS)
    uac = number(entry, "useraccountcontrol")
    if uac & passwords.UF_ACCOUNTDISABLE:
        raise fail(errors.BIND_ACCOUNT_DISABLED)
    expires = number(entry, "accountexpires")
    if expires not in _ACCOUNT_NEVER_EXPIRES and expires <= now:
        raise fail(errors.BIND_ACCOUNT_EXPIRED)
    pwd_last_set = number(entry, "pwdlastset")
    if pwd_last_set == 0:
        raise fail(errors.BIND_MUST_RESET)
    if passwords.is_password_expired(policy, uac, pwd_last_set, now):
        raise fail(errors.BIND_PASSWORD_EXPIRED)
    if number(entry, "badpwdcount"):
        dc.directory.set_values(entry, "badpwdcount", ["0"])
    if lockout_time:
        # An elapsed lockout is cleared by the next good logon: lockoutTime is replicated (urgently,
        # MS-ADTS 3.1.1.5.1.7), so the write is an originating update with its own USN.
        dc.directory.set_values(entry, "lockouttime", ["0"])
        dc.stamp(entry)
    dc.directory.set_values(entry, "lastlogon", [str(now)])
    session.principal_dn = entry.dn
    session.principal_sid = dc.sid_of(entry)
    session.token = dc.token_for(entry)
    session.mechanism = mechanism
    return LdapResult()


def count_bad_password(
    dc: DomainController, entry: Entry, policy: passwords.PasswordPolicy, now: int
) -> None:
    """Count a wrong password and lock the account at the threshold (Security event 4740)."""
    from fakes.ad.dc_access import number

    was_locked = number(entry, "lockouttime")
    state = passwords.register_bad_password(
        policy,
        bad_pwd_count=number(entry, "badpwdcount"),
        bad_password_time=number(entry, "badpasswordtime"),
        lockout_time=0 if not passwords.is_locked_out(policy, was_locked, now) else was_locked,
        now=now,
    )
    dc.directory.set_values(entry, "badpwdcount", [str(state.bad_pwd_count)])
    dc.directory.set_values(entry, "badpasswordtime", [str(state.bad_password_time)])
    if state.locked and not passwords.is_locked_out(policy, was_locked, now):
        # badPwdCount and badPasswordTime stay local to this DC (not replicated: no USN), the
        # lockout does not: whenChanged/uSNChanged move and DirSync reports lockoutTime.
        dc.directory.set_values(entry, "lockouttime", [str(state.lockout_time)])
        dc.stamp(entry)
        seclog.write(
            dc.security_log,
            seclog.LOCKED_OUT,
            success=True,
            subject=seclog.Principal(f"{dc.dc_name}$", dc.netbios_name, "S-1-5-18"),
            target=dc.principal(entry),
            **{"Caller Computer Name": dc.dc_name},
        )
