"""Active Directory rules: the connector's grants on the domain root, one user's effective access,
the domain password policy and the connector account's own state.

Pure functions over what :mod:`simlab.doctor.adread` read. The effective-access part is
what ADUC's "Effective Access" tab does: evaluate the object's DACL for the connector
account's token with the security module's access checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from fakes.ad.dsacls import format_dsacls
from fakes.ad.rights import describe_ace, right_by_name
from fakes.ad.schema import default_schema
from fakes.ad.security import constants as K
from fakes.ad.security.access import has_control_access, property_access
from fakes.ad.security.descriptor import Ace, SecurityDescriptor
from fakes.ad.security.inheritance import map_generic
from fakes.ad.security.sddl import format_ace
from simlab.doctor import acecheck
from simlab.doctor.acecheck import DenyCause, Right, denied_rights, reaches_users
from simlab.doctor.adread import Account, Ancestor, DomainInfo
from simlab.doctor.catalogue import ev, finding
from simlab.doctor.model import Check, Evidence, Finding
from simlab.tutorial import GRANTS_BY_KEY

_SCHEMA = default_schema()
RESET = right_by_name("Reset Password").guid
CHANGE = right_by_name("Change Password").guid
UNEXPIRE = right_by_name("Unexpire Password").guid
USER_CLASS = _SCHEMA.object_class("user").schema_id_guid
LOCKOUT = _SCHEMA.attribute("lockoutTime")
PWDLASTSET = _SCHEMA.attribute("pwdLastSet")
EVERYONE = "S-1-1-0"
_AD = "Active Directory (LDAP)"
_DENIED_AT_ROOT = "explicit-deny: a Deny entry on the domain root"


@dataclass(frozen=True, slots=True)
class Operation:
    """One thing the writeback agent does to a user, with the right it needs."""

    key: str
    label: str
    fault: str
    right: UUID | None = None
    attribute: object = None

    def allowed(self, sd: SecurityDescriptor, token: frozenset[str], self_sid: str) -> bool:
        if self.right is not None:
            return has_control_access(sd, token, self.right, self_sid=self_sid)
        at = self.attribute
        return property_access(
            sd,
            token,
            K.RIGHT_DS_WRITE_PROPERTY,
            class_guid=USER_CLASS,
            attribute=at.schema_id_guid,
            property_set=at.property_set,  # type: ignore[attr-defined]
            self_sid=self_sid,
        )

    def guids(self) -> set[UUID | None]:
        if self.right is not None:
            return {None, self.right}
        at = self.attribute
        return {None, USER_CLASS, at.schema_id_guid, at.property_set}  # type: ignore[attr-defined]

    @property
    def bit(self) -> int:
        return K.RIGHT_DS_CONTROL_ACCESS if self.right is not None else K.RIGHT_DS_WRITE_PROPERTY


OPERATIONS = (
    Operation("reset", "Reset password", "missing-reset", right=RESET),
    Operation("change", "Change password", "missing-change", right=CHANGE),
    Operation("lockouttime", "Write lockoutTime", "missing-wp-lockouttime", attribute=LOCKOUT),
    Operation("pwdlastset", "Write pwdLastSet", "missing-wp-pwdlastset", attribute=PWDLASTSET),
)


RIGHTS = tuple(Right(op.key, op.label, op.bit, frozenset(op.guids())) for op in OPERATIONS)
UNEXPIRE_RIGHT = Right("unexpire", "Unexpire Password", K.RIGHT_DS_CONTROL_ACCESS,
                       frozenset({None, UNEXPIRE}))


@dataclass(frozen=True, slots=True)
class AdContext:
    """The domain and the connector account as read, with the names used in fixes."""

    domain: DomainInfo
    connector: Account
    account_name: str  # DOMAIN\sam, as dsacls and ADUC take it
    token: frozenset[str]

    def sddl(self, ace: Ace) -> str:
        return format_ace(ace, self.domain.sid)

    def row(self, ace: Ace) -> str:
        d = describe_ace(
            ace, self.domain.sid, lambda s: self.account_name if s == self.connector.sid else None
        )
        return f"{d['type']} {d['principal']}: {d['access']} — Applies to: {d['applies_to']}"

    def deny(self, cause: DenyCause, **kwargs: object) -> Finding:
        return acecheck.deny_finding(cause, account=self.account_name, sddl=self.sddl(cause.ace),
                                     row=self.row(cause.ace), **kwargs)  # type: ignore[arg-type]


def _mask(ace: Ace) -> int:
    return map_generic(ace.mask) if ace.mask & K.GENERIC_BITS else ace.mask


def _reaches_users(ace: Ace, op: Operation, token: frozenset[str]) -> bool:
    """An allow ACE on the root that is inherited by (deep) user objects and grants ``op``."""
    return (
        ace.is_allow
        and ace.sid in token
        and bool(_mask(ace) & op.bit)
        and ace.object_type in op.guids()
        and bool(ace.flags & K.CONTAINER_INHERIT_ACE)
        and not ace.flags & K.NO_PROPAGATE_INHERIT_ACE
        and ace.inherited_object_type in (None, USER_CLASS)
    )


def _fix_grant(ctx: AdContext, key: str) -> str:
    ace = GRANTS_BY_KEY[key].ace(ctx.connector.sid)
    return f'dsacls "{ctx.domain.dn}" /G {format_dsacls(ace, ctx.account_name)}'


def root_permissions(ctx: AdContext) -> tuple[list[Finding], list[Check]]:
    """The tutorial's grants on the domain root, checked the way ADUC's Advanced view shows them."""
    aces = ctx.domain.sd.dacl.aces if ctx.domain.sd.dacl else ()
    own = [a for a in aces if a.sid == ctx.connector.sid and not a.is_audit]
    findings: list[Finding] = []
    checks: list[Check] = []
    where = f"nTSecurityDescriptor of {ctx.domain.dn} (SD flags: DACL)"
    causes = root_denies(ctx)
    findings += [
        ctx.deny(c, note=f"Every user object below {ctx.domain.dn} inherits it"
                 if any(r.key != "unexpire" for r in c.rights) else "")
        for c in causes
    ]
    denied = {r.key for c in causes for r in c.rights}
    for op in OPERATIONS:
        label = GRANTS_BY_KEY[op.key].label
        if op.key in denied:
            checks.append(Check(f"root grant: {label}", "finding", _DENIED_AT_ROOT))
            continue
        if any(_reaches_users(a, op, ctx.token) for a in aces):
            checks.append(Check(f"root grant: {label}", "ok", "reaches Descendant User objects"))
            continue
        related = [
            a for a in own if a.is_allow and a.object_type == (op.right or op.attribute.schema_id_guid)
        ]  # type: ignore[attr-defined]
        wrong_scope = op.key == "reset" and bool(related)
        fid = "reset-wrong-scope" if wrong_scope else op.fault
        evidence = [
            ev(_AD, where, f"no ACE for {ctx.account_name} grants {label} to Descendant User objects")
        ]
        evidence += [ev(_AD, f"{ctx.account_name} ACE", f"{ctx.sddl(a)}  [{ctx.row(a)}]") for a in related]
        fix = [
            f"ADUC > {ctx.domain.dn} > Properties > Security > Advanced > Add: {ctx.account_name}, "
            f"Applies to: Descendant User objects, tick {label}."
        ]
        if wrong_scope:
            fix.insert(0, "Remove the existing Reset password entry whose Applies to is wrong.")
        fix.append(_fix_grant(ctx, op.key))
        if op.key != "change":
            fix.append(
                f"Set-ADSyncPasswordWritebackPermissions -ADConnectorAccountName {ctx.connector.sam} "
                f"-ADConnectorAccountDomain {dns_of(ctx.domain.dn)}"
            )
        severity = "warning" if op.key == "change" else "error"
        findings.append(finding(fid, severity, evidence, fix))
        checks.append(Check(f"root grant: {label}", "finding", fid))
    findings_u, check_u = _unexpire(ctx, own, where, "unexpire" in denied)
    return findings + findings_u, [*checks, check_u]


def root_denies(ctx: AdContext) -> list[DenyCause]:
    """Explicit Deny entries on the domain root that take a writeback right from the connector:
    the user rights where users inherit them, Unexpire Password where the domain object has it."""
    out = []
    for a in ctx.domain.sd.dacl.aces if ctx.domain.sd.dacl else ():
        if a.inherited or not a.is_deny:
            continue
        on_users = a.replace(flags=a.flags & ~K.INHERIT_ONLY_ACE) if reaches_users(a, USER_CLASS) else None
        rights = denied_rights(on_users, RIGHTS, ctx.token) if on_users else []
        rights += denied_rights(a, [UNEXPIRE_RIGHT], ctx.token)
        if rights:
            out.append(DenyCause(a, ctx.domain.dn, ctx.domain.dn, tuple(rights)))
    return out


def _unexpire(ctx: AdContext, own: list[Ace], where: str, denied: bool) -> tuple[list[Finding], Check]:
    # Unexpire Password is checked on the domain object itself (FACTS 6.4), so it must be effective there.
    if denied:
        return [], Check("root grant: Unexpire Password", "finding", _DENIED_AT_ROOT)
    if has_control_access(ctx.domain.sd, ctx.token, UNEXPIRE):
        return [], Check("root grant: Unexpire Password", "ok", "effective on the domain object")
    related = [a for a in own if a.is_allow and a.object_type == UNEXPIRE]
    inherit_only = [a for a in related if a.inherit_only]
    fid = "unexpire-wrong-scope" if inherit_only else "missing-unexpire"
    evidence = [
        ev(
            _AD,
            where,
            f"no effective ACE grants {ctx.account_name} (or Authenticated Users) "
            "Unexpire Password on the domain object",
        )
    ]
    evidence += [ev(_AD, f"{ctx.account_name} ACE", f"{ctx.sddl(a)}  [{ctx.row(a)}]") for a in related]
    fix = [
        f"ADUC > {ctx.domain.dn} > Security > Advanced > Add: {ctx.account_name}, Applies to: This object "
        "and all descendant objects, tick Unexpire Password.",
        _fix_grant(ctx, "unexpire"),
    ]
    if inherit_only:
        fix.insert(0, "Remove the Unexpire Password entry that applies to descendant objects only.")
    return [finding(fid, "error", evidence, fix)], Check("root grant: Unexpire Password", "finding", fid)


def dns_of(base_dn: str) -> str:
    return ".".join(p.split("=", 1)[1] for p in base_dn.split(",") if p.strip().lower().startswith("dc="))


# -- one user -------------------------------------------------------------------------------
def user_permissions(
    ctx: AdContext,
    user: Account,
    chain: list[Ancestor],
    protected_groups: list[str],
    root_findings: set[str],
    name: str,
) -> tuple[list[Finding], list[Check]]:
    """Why the connector could not write ``user``: protection, disabled inheritance, denies."""
    findings: list[Finding] = []
    sd = user.sd
    if sd is None:
        return [], [Check("user security descriptor", "skipped", "not readable")]
    effective = {op.key: op.allowed(sd, ctx.token, user.sid) for op in OPERATIONS}
    access = ", ".join(f"{op.label}: {'allowed' if effective[op.key] else 'DENIED'}" for op in OPERATIONS)
    access_ev = ev(_AD, f"Effective Access of {ctx.account_name} on {user.dn}", access)
    protected = bool(protected_groups) or user.admin_count == 1
    if protected:
        findings.append(
            finding(
                "protected-user",
                "error",
                [
                    ev(
                        _AD,
                        f"protected groups of {user.sam} (in chain)",
                        ", ".join(protected_groups) or "none",
                    ),
                    ev(_AD, f"adminCount of {user.sam}", user.admin_count or "<not set>"),
                    ev(
                        _AD,
                        f"DACL of {user.sam}",
                        "inheritance disabled (SE_DACL_PROTECTED)"
                        if sd.protected
                        else "inheritance still enabled: SDProp (every 60 min) will replace it with "
                             "AdminSDHolder's",
                    ),
                    access_ev,
                ],
                [
                    f"Remove {user.sam} from {', '.join(protected_groups) or 'the protected group'} "
                    "(ADUC > Member Of), or give the person a separate, unprivileged account for SSPR.",
                    "adminCount is never cleared: afterwards set adminCount to <not set> and tick 'Include "
                    "inheritable "
                    "permissions from this object's parent' (Security > Advanced > Enable inheritance).",
                    f"Check with: Get-ADUser {user.sam} -Properties adminCount,memberOf",
                ],
                user=name,
            )
        )
    blocked = [a for a in chain if a.sd.protected] + (
        [Ancestor(user.dn, sd)] if sd.protected and not protected else []
    )
    if blocked:
        findings.append(
            finding(
                "inheritance-disabled",
                "error",
                [
                    *(
                        ev(
                            _AD,
                            f"nTSecurityDescriptor control of {b.dn}",
                            f"0x{b.sd.control:04x} (SE_DACL_PROTECTED: inheritance disabled)",
                        )
                        for b in blocked
                    ),
                    access_ev,
                ],
                [f"ADUC > {b.dn} > Security > Advanced > Enable inheritance" for b in blocked]
                + [
                    "Find all of them: Get-ADSyncObjectsWithInheritanceDisabled -SearchBase "
                    f"'{ctx.domain.dn}' "
                    "-ObjectClass '*'"
                ],
                user=name,
            )
        )
    findings += _denies(ctx, user, sd, chain, access_ev, name)
    failing = [op for op in OPERATIONS if not effective[op.key] and op.key != "change"]
    explained = root_findings | {f.id for f in findings}
    if failing and not explained:
        findings.append(
            finding(
                "writeback-access-denied",
                "error",
                [
                    access_ev,
                    ev(
                        _AD,
                        f"DACL of {user.sam}",
                        "\n".join(ctx.sddl(a) for a in (sd.dacl.aces if sd.dacl else ())),
                    ),
                ],
                [
                    f"Open ADUC > {user.dn} > Security > Advanced > Effective Access for {ctx.account_name} "
                    "and "
                    "find the entry that removes the right."
                ],
                user=name,
            )
        )
    checks = [Check("user effective access", "finding" if failing else "ok", access)]
    return findings, checks


def _denies(
    ctx: AdContext,
    user: Account,
    sd: SecurityDescriptor,
    chain: list[Ancestor],
    access_ev: Evidence,
    name: str,
) -> list[Finding]:
    """Deny entries that take writeback rights from the connector on ``user``, one finding each."""
    aces = sd.dacl.aces if sd.dacl else ()
    ancestors = [(a.dn, a.sd) for a in chain] + [(ctx.domain.dn, ctx.domain.sd)]
    root = ctx.domain.dn.lower()
    checkbox = acecheck.user_cannot_change(
        a for a in aces if a.is_deny and not a.inherit_only and a.object_type == CHANGE
    )
    out = []
    if checkbox:
        out.append(
            finding(
                "user-cannot-change-password",
                "warning",
                [ev(_AD, f"explicit ACE on {user.dn}", f"{ctx.sddl(a)}  [{ctx.row(a)}]") for a in checkbox],
                [f"ADUC > {user.sam} > Properties > Account: untick 'User cannot change password', OK."],
                user=name,
            )
        )
    causes: dict[tuple[str, Ace], tuple[DenyCause, str]] = {}
    for a in aces:
        if a in checkbox:
            continue
        rights = denied_rights(a, RIGHTS, ctx.token)
        if rights:
            cause = acecheck.cause_for(a, user.dn, rights, ancestors)
            if cause.set_on.lower() != root:  # root denies are reported by root_permissions
                causes.setdefault((cause.set_on.lower(), cause.ace), (cause, ""))
            continue
        if denied_rights(a, [UNEXPIRE_RIGHT], ctx.token):
            cause = acecheck.cause_for(a, user.dn, [UNEXPIRE_RIGHT], ancestors)
            if cause.set_on.lower() != root or cause.ace.inherit_only:
                causes.setdefault((cause.set_on.lower(), cause.ace), (cause, "ineffective"))
    # Denies set on the user's OUs count even when this user does not inherit them (inheritance
    # disabled on it): they still bite every other user below that OU.
    for anc in chain:
        for a in anc.sd.dacl.aces if anc.sd.dacl else ():
            if a.is_deny and reaches_users(a, USER_CLASS) and (anc.dn.lower(), a) not in causes:
                rights = denied_rights(a.replace(flags=a.flags & ~K.INHERIT_ONLY_ACE), RIGHTS, ctx.token)
                if rights:
                    cause = DenyCause(a, anc.dn, user.dn, tuple(rights))
                    causes[(anc.dn.lower(), a)] = (cause, "not inherited")
    for cause, kind in causes.values():
        if kind == "ineffective":
            out.append(_ineffective(ctx, cause, name))
            continue
        note = ("The user itself does not inherit it (inheritance disabled), every other user below does"
                if kind else "")
        out.append(ctx.deny(cause, extra=[access_ev], user=name, note=note))
    return out


def _ineffective(ctx: AdContext, cause: DenyCause, name: str) -> Finding:
    """A Deny Unexpire Password below the domain object: AD checks that right on the domain object only."""
    return finding(
        "ineffective-deny",
        "info",
        [ev(_AD, f"explicit ACE on {cause.set_on}", f"{ctx.sddl(cause.ace)}  [{ctx.row(cause.ace)}]"),
         ev("doctor", "why it does nothing", "Unexpire Password is checked on the domain object "
            f"({ctx.domain.dn}), never on users or OUs (FACTS 6.4)")],
        [acecheck.remove_command(cause.set_on, ctx.sddl(cause.ace)),
         f"ADUC > {cause.set_on} > Security > Advanced: remove '{ctx.row(cause.ace)}'."],
        user=name,
        title=f"Deny Unexpire Password for {ctx.account_name} on {cause.set_on} has no effect on writeback",
    )
