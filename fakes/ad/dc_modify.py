"""Modify: AD's per-attribute rules (FACTS.md 5-7).

* unicodePwd: reset = one replace (Reset Password CR), change = delete old + add new
  (Change Password CR + the right old password); encrypted session only; policy with
  history and minimum age for changes and for resets carrying the policy-hints control
  (1.2.840.113556.1.4.2239 or .2066, flags 1). pwdLastSet afterwards = now if the
  requester holds Unexpire Password on the domain object, else 0 (MS-SAMR 3.1.1.8.7).
* pwdLastSet: only 0 or -1, WP pwdLastSet; -1 also needs Unexpire Password on the NC head.
* lockoutTime: only 0 (unlock, badPwdCount reset), WP lockoutTime.
* nTSecurityDescriptor: the SD flags control picks the parts; WO for owner/group, WD (or
  implicit owner rights) for the DACL, SeSecurityPrivilege for the SACL; the object
  re-inherits at once, descendants after ``dc.replication_delay``.
* everything else: schema known, not system-only, WP per attribute, single-valued,
  add/delete value semantics (relaxed by the permissive-modify control).

The whole request is validated before anything is written, so a failing modify
changes nothing (AD applies a modify atomically).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fakes.ad import controls as ctl
from fakes.ad import errors, passwords
from fakes.ad import security_log as seclog
from fakes.ad.api import Change, Control, LdapResult, ModOp, Session
from fakes.ad.schema import AttributeType, SchemaError, Syntax
from fakes.ad.security import constants as K
from fakes.ad.security.access import check_access, property_access
from fakes.ad.security.descriptor import SecurityDescriptor, SecurityDescriptorError
from fakes.ad.security.inheritance import apply_sd_update

if TYPE_CHECKING:
    from fakes.ad.dc import DomainController
    from fakes.ad.directory import Entry

_SPECIAL = frozenset({"unicodepwd", "userpassword", "pwdlastset", "lockouttime", "ntsecuritydescriptor"})


@dataclass(frozen=True, slots=True)
class RequestControls:
    """What the controls of one request ask for."""

    sd_flags: int = K.ALL_SECURITY_INFORMATION
    policy_hints: bool = False
    permissive: bool = False
    tree_delete: bool = False


def read_controls(dc: DomainController, controls: Sequence[Control]) -> RequestControls:
    """Decode the controls the DC acts on; unknown critical ones -> 12."""
    dc.check_controls(controls)
    sd_flags, hints, permissive, tree = K.ALL_SECURITY_INFORMATION, False, False, False
    for c in controls:
        try:
            if c.oid == ctl.SD_FLAGS and c.value:
                sd_flags = (
                    ctl.decode_sd_flags(c.value) & K.ALL_SECURITY_INFORMATION or K.ALL_SECURITY_INFORMATION
                )
            elif c.oid in (ctl.POLICY_HINTS, ctl.POLICY_HINTS_DEPRECATED) and c.value:
                # Only flags == 1 enforces; any other value is ignored (MS-ADTS 3.1.1.3.4.1.27).
                hints = hints or ctl.decode_policy_hints(c.value) == 1
            elif c.oid == ctl.PERMISSIVE_MODIFY:
                permissive = True
            elif c.oid == ctl.TREE_DELETE:
                tree = True
        except ValueError as exc:
            raise errors.control_error() from exc
    return RequestControls(sd_flags, hints, permissive, tree)


def _value_text(v: bytes | str) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else v


def modify(
    dc: DomainController, session: Session, dn: str, changes: Sequence[Change], controls: Sequence[Control]
) -> LdapResult:
    dc.require_bound(session)
    rc = read_controls(dc, controls)
    entry = dc.entry_or_error(dn)
    by_attr: dict[str, list[Change]] = {}
    for ch in changes:
        by_attr.setdefault(ch.attribute.lower(), []).append(ch)
    writes: list[Callable[[], None]] = []
    events: list[Callable[[], None]] = []
    for name, group in by_attr.items():
        if name in ("unicodepwd", "userpassword"):
            writes.append(_password(dc, session, entry, group, rc, events))
        elif name == "pwdlastset":
            writes.append(_pwd_last_set(dc, session, entry, group))
        elif name == "lockouttime":
            writes.append(_lockout_time(dc, session, entry, group, events))
        elif name == "ntsecuritydescriptor":
            writes.append(_security_descriptor(dc, session, entry, group, rc))
        else:
            writes.append(_plain(dc, session, entry, name, group, rc))
    for w in writes:
        w()
    dc.stamp(entry)
    for e in events:
        e()
    if entry.object_class in ("user", "inetOrgPerson", "computer") and not set(by_attr) <= {"unicodepwd"}:
        seclog.write(
            dc.security_log,
            seclog.USER_CHANGED,
            success=True,
            subject=dc.session_principal(session),
            target=dc.principal(entry),
            **{"Changed Attributes": ", ".join(sorted(by_attr))},
        )
    return LdapResult()


# ---------------------------------------------------------------------------- helpers
def _attribute(dc: DomainController, name: str) -> AttributeType:
    try:
        return dc.schema.attribute(name)
    except SchemaError as exc:
        raise errors.attribute_conversion() from exc


def _may_write(dc: DomainController, session: Session, entry: Entry, attr: AttributeType) -> bool:
    if dc.is_system(session):
        return True
    return property_access(
        dc.sds.parse(entry.sd),
        session.token,
        K.RIGHT_DS_WRITE_PROPERTY,
        class_guid=dc.class_guid(entry.object_class),
        attribute=attr.schema_id_guid,
        property_set=attr.property_set,
        self_sid=dc.sid_of(entry),
    )


def _single_value(group: list[Change], *, allow_delete: bool = False) -> str:
    """The one value of a replace (pwdLastSet/lockoutTime style attributes)."""
    if any(c.op == ModOp.DELETE for c in group) and not allow_delete:
        raise errors.unwilling()
    values = [v for c in group for v in c.values]
    if len(values) != 1:
        raise errors.unwilling()
    return _value_text(values[0]).strip()


# ---------------------------------------------------------------------------- unicodePwd
def _password(
    dc: DomainController,
    session: Session,
    entry: Entry,
    group: list[Change],
    rc: RequestControls,
    events: list[Callable[[], None]],
) -> Callable[[], None]:
    from fakes.ad.dc_access import number, text

    ops = [c.op for c in group]
    is_reset = ops == [ModOp.REPLACE] and len(group[0].values) == 1
    is_change = len(group) in (1, 2) and ops[0] == ModOp.DELETE and (len(group) == 1 or ops[1] == ModOp.ADD)
    if not (is_reset or is_change):
        raise errors.unwilling(errors.CHANGE_UNENCRYPTED)
    subject, target = dc.session_principal(session), dc.principal(entry)
    event_id = seclog.PASSWORD_RESET if is_reset else seclog.PASSWORD_CHANGE

    def audit_fail(exc: Exception) -> Exception:
        seclog.write(dc.security_log, event_id, success=False, subject=subject, target=target)
        return exc

    if not session.encrypted:
        raise audit_fail(errors.reset_needs_encryption() if is_reset else errors.change_needs_encryption())
    policy = dc.policy()
    now = dc.clock.filetime()
    try:
        if is_reset:
            new = passwords.decode_unicode_pwd(group[0].values[0])
        else:
            if len(group[0].values) != 1:
                raise errors.unwilling(errors.CHANGE_UNENCRYPTED)
            old = passwords.decode_unicode_pwd(group[0].values[0])
            new = (
                passwords.decode_unicode_pwd(group[1].values[0])
                if len(group) == 2 and group[1].values
                else ""
            )
    except passwords.PasswordEncodingError as exc:
        if is_change and exc.quotes:
            raise audit_fail(errors.password_not_in_quotes()) from exc
        raise audit_fail(errors.reset_needs_encryption()) from exc
    if is_reset:
        if not dc.control_access(session, entry, _rights().RESET_PASSWORD):
            raise audit_fail(errors.access_denied())
    else:
        if not dc.control_access(session, entry, _rights().CHANGE_PASSWORD):
            raise audit_fail(errors.change_denied())
        current = entry.attrs.get("unicodepwd")
        if not current or current[0] != passwords.password_digest(old):
            from fakes.ad.dc_bind import count_bad_password

            count_bad_password(dc, entry, policy, now)
            raise audit_fail(errors.wrong_old_password())
    fail = errors.password_policy_reset if is_reset else errors.password_policy_change
    uac = number(entry, "useraccountcontrol")
    violation = passwords.check_password(
        policy,
        new,
        sam_account_name=text(entry, "samaccountname"),
        display_name=text(entry, "displayname"),
        password_not_required=bool(uac & passwords.UF_PASSWD_NOTREQD),
    )
    if violation is None and (is_change or rc.policy_hints):
        violation = passwords.check_history_and_age(
            policy,
            new,
            history=tuple(entry.attrs.get("ntpwdhistory", ())),
            pwd_last_set=number(entry, "pwdlastset"),
            now=now,
        )
    if violation is not None:
        raise audit_fail(fail())
    root = dc.root()
    unexpire = dc.control_access(session, root, _rights().UNEXPIRE_PASSWORD)

    def write() -> None:
        store_password(dc, entry, new, pwd_last_set=now if unexpire else 0)

    events.append(
        lambda: seclog.write(dc.security_log, event_id, success=True, subject=subject, target=target)
    )
    return write


def store_password(dc: DomainController, entry: Entry, password: str, *, pwd_last_set: int) -> None:
    """Write the digest, history and pwdLastSet (no checks)."""
    digest = passwords.password_digest(password)
    policy = dc.policy()
    history = passwords.push_history(
        tuple(entry.attrs.get("ntpwdhistory", ())), digest, policy.history_length
    )
    dc.directory.set_values(entry, "unicodepwd", [digest])
    dc.directory.set_values(entry, "ntpwdhistory", list(history))
    dc.directory.set_values(entry, "pwdlastset", [str(pwd_last_set)])


class _RightsNS:
    def __init__(self) -> None:
        from fakes.ad.dc import CHANGE_PASSWORD, RESET_PASSWORD, UNEXPIRE_PASSWORD

        self.RESET_PASSWORD = RESET_PASSWORD
        self.CHANGE_PASSWORD = CHANGE_PASSWORD
        self.UNEXPIRE_PASSWORD = UNEXPIRE_PASSWORD


_RIGHTS: _RightsNS | None = None


def _rights() -> _RightsNS:
    global _RIGHTS
    if _RIGHTS is None:
        _RIGHTS = _RightsNS()
    return _RIGHTS


# ---------------------------------------------------------------------------- pwdLastSet / lockoutTime
def _pwd_last_set(
    dc: DomainController, session: Session, entry: Entry, group: list[Change]
) -> Callable[[], None]:
    raw = _single_value(group)
    if raw not in ("0", "-1"):
        raise errors.invalid_parameter()
    if not _may_write(dc, session, entry, _attribute(dc, "pwdLastSet")):
        raise errors.insufficient_access()
    if raw == "-1" and not dc.control_access(session, dc.root(), _rights().UNEXPIRE_PASSWORD):
        raise errors.access_denied()

    def write() -> None:
        value = "0" if raw == "0" else str(dc.clock.filetime())
        dc.directory.set_values(entry, "pwdlastset", [value])

    return write


def _lockout_time(
    dc: DomainController,
    session: Session,
    entry: Entry,
    group: list[Change],
    events: list[Callable[[], None]],
) -> Callable[[], None]:
    raw = _single_value(group)
    if raw != "0":
        # Only 0 (unlock) may be written (MS-ADTS states it for AD LDS; Windows AD DS code unconfirmed).
        raise errors.LdapError(19, errors.PWDLASTSET_VALUE.replace("SysErr", "AtrErr") + "\n\x00")
    if not _may_write(dc, session, entry, _attribute(dc, "lockoutTime")):
        raise errors.insufficient_access()

    def write() -> None:
        dc.directory.set_values(entry, "lockouttime", ["0"])
        dc.directory.set_values(entry, "badpwdcount", ["0"])

    subject, target = dc.session_principal(session), dc.principal(entry)
    events.append(
        lambda: seclog.write(dc.security_log, seclog.UNLOCKED, success=True, subject=subject, target=target)
    )
    return write


# ---------------------------------------------------------------------------- nTSecurityDescriptor
def _security_descriptor(
    dc: DomainController, session: Session, entry: Entry, group: list[Change], rc: RequestControls
) -> Callable[[], None]:
    values = [v for c in group if c.op != ModOp.DELETE for v in c.values]
    if len(values) != 1 or any(c.op == ModOp.DELETE for c in group):
        raise errors.unwilling()
    raw = values[0]
    try:
        new = SecurityDescriptor.from_bytes(raw if isinstance(raw, bytes) else raw.encode("latin-1"))
    except (SecurityDescriptorError, ValueError) as exc:
        raise errors.invalid_syntax("20119", "nTSecurityDescriptor") from exc
    flags = rc.sd_flags
    if not dc.is_system(session):
        needed = 0
        if flags & (K.OWNER_SECURITY_INFORMATION | K.GROUP_SECURITY_INFORMATION):
            needed |= K.RIGHT_WRITE_OWNER
        if flags & K.DACL_SECURITY_INFORMATION:
            needed |= K.RIGHT_WRITE_DAC
        if needed and not dc.object_access(session, entry, needed):
            raise errors.insufficient_access()
        if flags & K.SACL_SECURITY_INFORMATION and not dc.has_security_privilege(session):
            raise errors.insufficient_access()
        if flags & K.OWNER_SECURITY_INFORMATION and new.owner and new.owner not in session.token:
            raise errors.invalid_owner()
    current = dc.sds.parse(entry.sd)
    merged = apply_sd_update(current, new, flags)
    parent = entry.parent.sd if entry.parent is not None else None
    result = dc.sds.compute(parent, merged, dc.class_guid(entry.object_class))

    def write() -> None:
        entry.sd = result
        dc.directory.note_written(entry, "ntsecuritydescriptor")
        dc.propagate(entry)
        if not dc.audit_directory_service_changes:
            return
        seclog.write(
            dc.security_log,
            seclog.DS_OBJECT_MODIFIED,
            success=True,
            subject=dc.session_principal(session),
            target=dc.principal(entry),
            **{"Object DN": entry.dn, "Attribute": "nTSecurityDescriptor"},
        )

    return write


# ---------------------------------------------------------------------------- everything else
def _plain(
    dc: DomainController, session: Session, entry: Entry, name: str, group: list[Change], rc: RequestControls
) -> Callable[[], None]:
    attr = _attribute(dc, name)
    key = attr.name.lower()
    if attr.constructed or (
        key in ("objectguid", "objectsid", "distinguishedname", "objectclass") and not (dc.is_system(session))
    ):
        raise errors.system_only()
    if attr.system_only and not dc.is_system(session):
        raise errors.system_only()
    if not _may_write(dc, session, entry, attr):
        raise errors.insufficient_access()
    att_id = attr.oid.rsplit(".", 1)[-1]
    values = list(entry.attrs.get(key, ()))
    for ch in group:
        incoming = [_normalise(attr, v) for v in ch.values]
        if ch.op == ModOp.REPLACE:
            values = _dedupe(incoming)
        elif ch.op == ModOp.ADD:
            for v in incoming:
                if _contains(values, v):
                    if not rc.permissive:
                        raise errors.value_exists(att_id, attr.name)
                else:
                    values.append(v)
        elif ch.op == ModOp.DELETE:
            if not incoming:
                if not values and not rc.permissive:
                    raise errors.no_such_attribute(att_id, attr.name)
                values = []
            for v in incoming:
                idx = _index(values, v)
                if idx is None:
                    if not rc.permissive:
                        raise errors.no_such_attribute(att_id, attr.name)
                else:
                    values.pop(idx)
        elif ch.op == ModOp.INCREMENT:
            if attr.syntax not in (Syntax.INTEGER, Syntax.LARGE_INTEGER) or not values:
                raise errors.unwilling()
            step = int(_value_text(incoming[0])) if incoming else 1
            values = [str(int(_value_text(values[0])) + step)]
    if attr.single_valued and len(values) > 1:
        raise errors.single_value(att_id, attr.name)
    for v in values:
        _check_syntax(attr, v, att_id)

    def write() -> None:
        dc.directory.set_values(entry, key, values)

    return write


def _normalise(attr: AttributeType, value: bytes | str) -> bytes | str:
    if attr.syntax.binary:
        return value if isinstance(value, bytes) else value.encode("utf-8")
    return _value_text(value)


def _same(a: bytes | str, b: bytes | str) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return a == b


def _index(values: list, v: bytes | str) -> int | None:
    for i, existing in enumerate(values):
        if _same(existing, v):
            return i
    return None


def _contains(values: list, v: bytes | str) -> bool:
    return _index(values, v) is not None


def _dedupe(values: list) -> list:
    out: list = []
    for v in values:
        if not _contains(out, v):
            out.append(v)
    return out


def _check_syntax(attr: AttributeType, value: bytes | str, att_id: str) -> None:
    if attr.syntax in (Syntax.INTEGER, Syntax.LARGE_INTEGER):
        try:
            int(_value_text(value))
        except ValueError as exc:
            raise errors.invalid_syntax(att_id, attr.name) from exc
    elif attr.syntax == Syntax.BOOLEAN and _value_text(value) not in ("TRUE", "FALSE"):
        raise errors.invalid_syntax(att_id, attr.name)


__all__ = ["RequestControls", "check_access", "modify", "read_controls", "store_password"]
