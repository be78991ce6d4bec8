"""Checking what a scenario expects against what the lab shows.

Every check reads what an observer could see: the Connect Application log, the DC's
Security log, the tenant's audit log, the directory over LDAP (as Administrator),
and the lab's operation log of client requests. A failed check returns a sentence
naming what was expected and what was found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import ldap3

from fakes.ad.security.descriptor import SecurityDescriptor

DACL_ONLY = 0x4


def _subsequence(wanted: Iterable[int], seen: list[int]) -> bool:
    it = iter(seen)
    return all(any(w == s for s in it) for w in wanted)


def _events_since(lab: Any, mark: int) -> list[int]:
    return [e.event_id for e in lab.connect.eventlog.query(after_record=mark)]


def _check_events(prefix: str, wanted: Any, seen: list[int]) -> list[str]:
    wanted = [int(w) for w in (wanted or [])]
    if not _subsequence(wanted, seen):
        return [f"{prefix} expected {wanted} in this order, got {seen}"]
    return []


def _check_absent(prefix: str, unwanted: Any, seen: list[int]) -> list[str]:
    bad = sorted({int(u) for u in (unwanted or [])} & set(seen))
    return [f"{prefix} must not contain {bad}, got {seen}"] if bad else []


def _audit_matches(entry: Any, want: dict[str, Any], lab: Any) -> bool:
    if "activity" in want and entry.activity_display_name != want["activity"]:
        return False
    if "result" in want and entry.result != want["result"]:
        return False
    if "reason" in want and want["reason"] not in entry.result_reason:
        return False
    if "user" in want and (entry.target_upn or "").lower() != lab.upn(want["user"]).lower():
        return False
    details = dict(entry.additional_details)
    return all(details.get(k) == v for k, v in (want.get("details") or {}).items())


def _check_audit(lab: Any, wanted: Any, entries: list[Any]) -> list[str]:
    failures = []
    for want in wanted or []:
        if not any(_audit_matches(e, want, lab) for e in entries):
            seen = [(e.activity_display_name, e.result) for e in entries][-8:]
            failures.append(f"audit: no entry matching {want}; latest: {seen}")
    return failures


_SCALARS = {
    "ok": "ok",
    "code": "code",
    "result": "result",
    "exit": "exit",
    "status": "status",
}
_CONTAINS = {"message_contains": "message", "stdout_contains": "stdout", "stderr_contains": "stderr"}


def check_step(lab: Any, result: dict[str, Any], expect: dict[str, Any], *, event_mark: int,
               audit_mark: int) -> list[str]:
    """Check one step's ``expect`` against its result and what it logged."""
    failures: list[str] = []
    for key, value in expect.items():
        if key in _SCALARS:
            got = result.get(_SCALARS[key])
            if got != value:
                failures.append(f"{key}: expected {value!r}, got {got!r}" + _context(result))
        elif key in _CONTAINS:
            got = str(result.get(_CONTAINS[key], ""))
            if str(value) not in got:
                failures.append(f"{_CONTAINS[key]} should contain {value!r}, got {got[:300]!r}")
        elif key == "events":
            failures += _check_events("events", value, _events_since(lab, event_mark))
        elif key == "events_absent":
            failures += _check_absent("events", value, _events_since(lab, event_mark))
        elif key == "audit":
            failures += _check_audit(lab, value, lab.tenant.audit.query()[audit_mark:])
        elif key == "fired":
            missing = [v for v in value if v not in result.get("fired", [])]
            if missing:
                failures.append(f"timers {missing} did not fire; fired: {result.get('fired')}")
        else:
            failures.append(f"unknown expectation {key!r}")
    return failures


def _context(result: dict[str, Any]) -> str:
    extra = result.get("message") or result.get("stderr") or ""
    return f" ({str(extra)[:200]})" if extra else ""


@dataclass
class Watch:
    """What the final expectations compare against: marks and DACLs taken when the lab was ready."""

    expect: dict[str, Any]
    event_mark: int
    security_mark: int
    oplog_mark: int
    dacls: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def start(cls, lab: Any, expect: dict[str, Any]) -> Watch:
        watch = cls(expect, lab.connect.eventlog.last_record_id(), lab.dc.security_log.last_record_id(),
                    lab.oplog.mark())
        for item in expect.get("dacl_changes", []):
            dn = _resolve_dn(lab, item["dn"])
            watch.dacls[dn] = explicit_aces(lab, dn)
        return watch


def _resolve_dn(lab: Any, name: str) -> str:
    if name in ("root", "domain"):
        return lab.dc.domain_dn
    if "=" in name:
        return name
    return lab.user(name).dn


def explicit_aces(lab: Any, dn: str) -> set[str]:
    """The object's explicit ACEs as SDDL strings, read over LDAPS with the SD flags control."""
    conn = lab.ldap()
    try:
        ctl = [("1.2.840.113556.1.4.801", True, _sd_flags_value(DACL_ONLY))]
        conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["nTSecurityDescriptor"], controls=ctl)
        raw = conn.response[0]["raw_attributes"]["nTSecurityDescriptor"][0]
    finally:
        conn.unbind()
    sd = SecurityDescriptor.from_bytes(raw)
    domain_sid = lab.dc.domain_sid
    return {_ace_sddl(a, domain_sid) for a in sd.dacl.aces if not a.inherited} if sd.dacl else set()


def _ace_sddl(ace: Any, domain_sid: str) -> str:
    from fakes.ad.security.sddl import format_ace

    return format_ace(ace, domain_sid).lower()


def _sd_flags_value(flags: int) -> bytes:
    from fakes.ad.controls import encode_sd_flags

    return encode_sd_flags(flags)


def _subst(lab: Any, text: str) -> str:
    """``{connector_sid}``/``{domain_sid}`` placeholders in expected SDDL."""
    text = text.replace("{connector_sid}", lab.connector_sid())
    return text.replace("{domain_sid}", lab.dc.domain_sid).lower()


_FINAL_KEYS = {"events", "events_absent", "security_events", "audit", "ldap", "dacl_changes", "oplog"}


def check_final(lab: Any, watch: Watch) -> list[str]:
    """The scenario-level ``expect`` block."""
    failures: list[str] = []
    exp = watch.expect
    events = _events_since(lab, watch.event_mark)
    failures += _check_events("events", exp.get("events"), events)
    failures += _check_absent("events", exp.get("events_absent"), events)
    security = [e.event_id for e in lab.dc.security_log.query(after_record=watch.security_mark)]
    failures += _check_events("security events", exp.get("security_events"), security)
    failures += _check_audit(lab, exp.get("audit"), lab.tenant.audit.query())
    for item in exp.get("ldap", []):
        failures += _check_ldap(lab, item)
    for item in exp.get("dacl_changes", []):
        failures += _check_dacl(lab, watch, item)
    if "oplog" in exp:
        failures += _check_oplog(lab, watch, exp["oplog"])
    failures += [f"unknown expectation {k!r}" for k in sorted(set(exp) - _FINAL_KEYS)]
    return failures


def _check_ldap(lab: Any, item: dict[str, Any]) -> list[str]:
    dn = _resolve_dn(lab, item.get("dn") or item["user"])
    attr = item["attribute"]
    conn = lab.ldap()
    try:
        conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=[attr])
        raw = conn.response[0]["raw_attributes"].get(attr, []) if conn.response else []
    finally:
        conn.unbind()
    values = [v.decode("utf-8", "replace") for v in raw]
    if "equals" in item and values != [str(item["equals"])]:
        return [f"ldap {dn} {attr}: expected {item['equals']!r}, got {values}"]
    if "not_equals" in item and values == [str(item["not_equals"])]:
        return [f"ldap {dn} {attr}: expected anything but {item['not_equals']!r}"]
    if item.get("absent") and values:
        return [f"ldap {dn} {attr}: expected no value, got {values}"]
    if "contains" in item and not any(str(item["contains"]).lower() in v.lower() for v in values):
        return [f"ldap {dn} {attr}: no value contains {item['contains']!r}: {values}"]
    return []


def _check_dacl(lab: Any, watch: Watch, item: dict[str, Any]) -> list[str]:
    dn = _resolve_dn(lab, item["dn"])
    before, after = watch.dacls[dn], explicit_aces(lab, dn)
    added, removed = after - before, before - after
    want_added = {_subst(lab, a) for a in item.get("added", [])}
    want_removed = {_subst(lab, a) for a in item.get("removed", [])}
    failures = []
    if item.get("exactly", True):
        if added != want_added:
            failures.append(f"{dn}: ACEs added {sorted(added)}, expected exactly {sorted(want_added)}")
        if removed != want_removed:
            failures.append(f"{dn}: ACEs removed {sorted(removed)}, expected exactly {sorted(want_removed)}")
    else:
        if not want_added <= added:
            failures.append(f"{dn}: expected ACEs {sorted(want_added - added)} to be added")
        if not want_removed <= removed:
            failures.append(f"{dn}: expected ACEs {sorted(want_removed - removed)} to be removed")
    return failures


_WRITES = {"add", "modify", "delete", "modify_dn"}


def _check_oplog(lab: Any, watch: Watch, rules: dict[str, Any]) -> list[str]:
    """Rules over client requests since the lab was ready; ``actor`` narrows every rule to one client."""
    actor = rules.get("actor")
    ops = [o for o in lab.oplog.query(protocol="ldap", after=watch.oplog_mark)
           if o.actor != "SYSTEM" and (actor is None or actor.lower() in o.actor.lower())]
    writes = [o for o in ops if o.op in _WRITES and o.ok]
    failures = []
    if rules.get("no_unicodepwd_over_plain"):
        bad = [o for o in ops if o.op in ("modify", "add") and not o.details.get("encrypted")
               and {a.lower() for a in o.details.get("attributes", [])} & {"unicodepwd", "userpassword"}]
        if bad:
            actors = sorted({o.actor for o in bad})
            failures.append(f"unicodePwd was sent over an unencrypted connection by {actors}")
    if "changes_only_under" in rules:
        bases = [_resolve_dn(lab, b).lower() for b in _as_list(rules["changes_only_under"])]
        outside = [o for o in writes if not any(o.target.lower().endswith(b) for b in bases)]
        if outside:
            failures.append(f"writes outside {bases}: {[(o.op, o.target) for o in outside][:5]}")
    if "changes_only_to" in rules:
        targets = {_resolve_dn(lab, t).lower() for t in _as_list(rules["changes_only_to"])}
        other = [o for o in writes if o.target.lower() not in targets]
        if other:
            seen = [(o.op, o.target) for o in other][:5]
            failures.append(f"writes to other objects than {sorted(targets)}: {seen}")
    if "max_writes" in rules and len(writes) > int(rules["max_writes"]):
        failures.append(f"expected at most {rules['max_writes']} successful writes, saw {len(writes)}")
    return failures


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
