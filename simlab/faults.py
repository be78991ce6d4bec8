"""The fault catalogue: named misconfigurations, each applied the way an admin causes it.

A fault is never a flag inside a fake. Applying one edits a DACL over the DC's operation
API (as Administrator, like ADUC), changes the Default Domain Policy GPO, unticks a box
in the Connect wizard or the portal blade, stops a service — and the symptom emerges
from the same code paths a healthy lab runs. Each entry documents what the admin will
see and how to fix it; ``simlab faults`` prints the catalogue and docs/faults.md
describes it in full.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from fakes.ad.api import Change, ModOp
from fakes.ad.rights import AppliesTo, make_ace, right_by_name
from fakes.ad.schema import default_schema
from fakes.ad.security import constants as K
from fakes.ad.security.descriptor import Ace
from fakes.connect.server import ServiceStopped
from fakes.connect.sync import SyncError

if TYPE_CHECKING:
    from simlab.lab import Lab


class FaultError(ValueError):
    """Unknown fault name or bad parameters."""


@dataclass(frozen=True)
class Symptom:
    """What a user/admin sees once the fault is active.

    ``action`` is the user action that shows it (``reset``, ``unlock``, ``change``,
    ``admin_reset``, ``graph``, ``none``); ``code`` the SSPR code or error name it fails
    with (None = it still succeeds); ``events`` the Connect Application event IDs written.
    ``after_minutes`` is how long the lab must run before it shows (SDProp, GPO refresh,
    a sync cycle).
    """

    action: str
    code: str | None
    events: tuple[int, ...] = ()
    after_minutes: int = 0
    text: str = ""


@dataclass(frozen=True)
class Fault:
    name: str
    category: str
    title: str
    description: str
    symptom: Symptom
    fix: str
    apply: Callable[..., None] = field(repr=False)
    params: dict[str, Any] = field(default_factory=dict)
    #: Per-user faults hit one user (``params['user']``); doctor finds them when asked about that user.
    per_user: bool = False


FAULTS: dict[str, Fault] = {}


def _fault(name: str, category: str, title: str, *, symptom: Symptom, fix: str,
           params: dict[str, Any] | None = None, per_user: bool = False) -> Callable:
    def register(fn: Callable[..., None]) -> Callable[..., None]:
        doc = " ".join(inspect.cleandoc(fn.__doc__ or "").split())  # multi-line docstrings: one paragraph
        FAULTS[name] = Fault(name, category, title, doc, symptom, fix, fn,
                             dict(params or {}), per_user)
        return fn
    return register


def apply_fault(lab: Lab, name: str, **params: Any) -> Fault:
    """Apply catalogue fault ``name`` to a running lab (unknown params are an error)."""
    fault = FAULTS.get(name)
    if fault is None:
        raise FaultError(f"unknown fault {name!r}; `simlab faults` lists them")
    unknown = set(params) - set(fault.params)
    if unknown:
        takes = sorted(fault.params) or "no parameters"
        raise FaultError(f"fault {name!r} takes {takes}, not {sorted(unknown)}")
    try:
        fault.apply(lab, **{**fault.params, **params})
    except SyncError as err:
        # A fault that ends with a sync cycle (the wizard's closing sync) on a lab whose sync
        # cannot run (e.g. the connector account locked out): say so instead of a traceback.
        raise FaultError(f"fault {name!r}: the sync cycle it runs failed ({err}); the steps before "
                         "it stay done") from err
    except ServiceStopped as err:
        raise FaultError(f"fault {name!r}: it ends with a sync cycle, and {err} (apply "
                         "connect-service-stopped after it); the steps before the cycle stay done") from err
    lab.applied_faults.append(name)
    return fault


# -- helpers --------------------------------------------------------------------------
def _guid(name: str) -> UUID:
    return right_by_name(name).guid


def _attr_guid(name: str) -> UUID:
    return default_schema().attribute(name).schema_id_guid


def _drop_connector_aces(lab: Lab, dn: str, object_type: UUID, *, also_sids: tuple[str, ...] = ()) -> None:
    sids = {lab.connector_sid(), *also_sids}
    lab.edit_dacl(dn, lambda aces: [a for a in aces if not (a.sid in sids and a.object_type == object_type)])


def _target_dn(lab: Lab, target: str, user: str) -> str:
    if target == "user":
        return lab.user(user).dn
    if target == "ou":
        return lab.user(user).dn.split(",", 1)[1]
    if target == "root":
        return lab.dc.domain_dn
    return target


_RESET_FIX = (
    "ADUC > domain root > Properties > Security > Advanced > Add: the connector account, Applies to: "
    "Descendant User objects, Reset password. Or: dsacls \"<domain DN>\" /G \"<DOMAIN>\\<account>:CA;"
    "Reset Password;user\" /I:S, or Set-ADSyncPasswordWritebackPermissions -ADConnectorAccountName "
    "<account> -ADConnectorAccountDomain <domain>."
)


# -- permissions on the domain root --------------------------------------------------------
@_fault("missing-reset", "permissions", "Connector account lacks Reset password",
        symptom=Symptom("reset", "SSPR_0029", (31001, 6329, 33004, 31003),
                        text="SSPR_0029; Connect logs 31001, 6329, 33004 (ADPermissionsError), 31003."),
        fix=_RESET_FIX)
def _missing_reset(lab: Lab) -> None:
    """Every ACE giving the connector account Reset password on the domain root is removed."""
    _drop_connector_aces(lab, lab.dc.domain_dn, _guid("Reset Password"))


@_fault("missing-change", "permissions", "Connector account lacks Change password",
        symptom=Symptom("change", None, (31006, 31007),
                        text="No symptom while users keep the default Everyone/SELF Change password ACEs; "
                             "with 'User cannot change password' set, cloud password changes fail (31008)."),
        fix="Grant Change password on Descendant User objects (dsacls ...:CA;Change Password;user /I:S).")
def _missing_change(lab: Lab) -> None:
    """The tutorial's Change password grant for the connector account is removed from the domain root."""
    _drop_connector_aces(lab, lab.dc.domain_dn, _guid("Change Password"))


@_fault("missing-wp-lockouttime", "permissions", "Connector account lacks Write lockoutTime",
        symptom=Symptom("unlock", "SSPR_0029", (31001, 33004, 31003),
                        text="Unlock fails with SSPR_0029; Connect logs 33004. Resets still work."),
        fix="Grant Write lockoutTime on Descendant User objects (dsacls ...:WP;lockoutTime;user /I:S).")
def _missing_wp_lockouttime(lab: Lab) -> None:
    """The Write lockoutTime grant (Descendant User objects) is removed from the domain root."""
    _drop_connector_aces(lab, lab.dc.domain_dn, _attr_guid("lockoutTime"))


@_fault("missing-wp-pwdlastset", "permissions", "Connector account lacks Write pwdLastSet",
        symptom=Symptom("reset", "SSPR_0029", (31001, 33004, 31003),
                        text="The password is set, then writing pwdLastSet fails: SSPR_0029, 33004 + 31003."),
        fix="Grant Write pwdLastSet on Descendant User objects (dsacls ...:WP;pwdLastSet;user /I:S).")
def _missing_wp_pwdlastset(lab: Lab) -> None:
    """The Write pwdLastSet grant (Descendant User objects) is removed from the domain root."""
    _drop_connector_aces(lab, lab.dc.domain_dn, _attr_guid("pwdLastSet"))


@_fault("missing-unexpire", "permissions", "Nobody holds Unexpire Password on the domain root",
        symptom=Symptom("reset", "SSPR_0029", (31001, 33004, 31003),
                        text="pwdLastSet=-1 after the reset is refused (50): SSPR_0029, 33004."),
        fix="Grant the connector account Unexpire Password on the domain root, Applies to: This object and "
            "all descendant objects (or restore the default Authenticated Users ACE, This object only).")
def _missing_unexpire(lab: Lab) -> None:
    """The connector's Unexpire Password grant and the default Authenticated Users one are removed."""
    _drop_connector_aces(lab, lab.dc.domain_dn, _guid("Unexpire Password"), also_sids=("S-1-5-11",))


@_fault("unexpire-wrong-scope", "permissions", "Unexpire Password granted to descendants only",
        symptom=Symptom("reset", "SSPR_0029", (31001, 33004, 31003),
                        text="The right is checked on the domain object, where an inherit-only ACE is not "
                             "effective: SSPR_0029, 33004."),
        fix="Re-grant Unexpire Password with Applies to: This object and all descendant objects.")
def _unexpire_wrong_scope(lab: Lab) -> None:
    """Unexpire Password is granted 'All descendant objects' only and the default AU ACE is gone."""
    _missing_unexpire(lab)
    ace = make_ace(lab.connector_sid(), right="Unexpire Password", applies_to=AppliesTo.ALL_DESCENDANTS)
    lab.edit_dacl(lab.dc.domain_dn, lambda aces: [*aces, ace])


@_fault("reset-wrong-scope", "permissions", "Reset password granted with the wrong Applies to",
        symptom=Symptom("reset", "SSPR_0029", (31001, 6329, 33004, 31003), text="As missing-reset."),
        fix=_RESET_FIX, params={"applies_to": "this-object-only"})
def _reset_wrong_scope(lab: Lab, applies_to: str) -> None:
    """Reset password is granted 'This object only' (or to Descendant Computer objects) instead of users."""
    _missing_reset(lab)
    sid = lab.connector_sid()
    if applies_to == "this-object-only":
        ace = make_ace(sid, right="Reset Password", applies_to=AppliesTo.THIS_OBJECT_ONLY)
    elif applies_to == "descendant-computer":
        ace = make_ace(sid, right="Reset Password", applies_to=AppliesTo.DESCENDANT_CLASS,
                       descendant_class="computer")
    else:
        raise FaultError("applies_to must be 'this-object-only' or 'descendant-computer'")
    lab.edit_dacl(lab.dc.domain_dn, lambda aces: [*aces, ace])


@_fault("inheritance-disabled", "permissions", "Inheritance disabled on the user or its OU",
        symptom=Symptom("reset", "SSPR_0029", (31001, 6329, 33004, 31003),
                        text="The inherited writeback grants no longer reach the user: SSPR_0029, 33004."),
        fix="Object > Security > Advanced > Enable inheritance (find them with "
            "Get-ADSyncObjectsWithInheritanceDisabled -SearchBase <domain DN>).",
        params={"user": "alice", "target": "user"}, per_user=True)
def _inheritance_disabled(lab: Lab, user: str, target: str) -> None:
    """ADUC 'Disable inheritance' > 'Remove all inherited permissions' on the user (or its OU)."""
    lab.edit_dacl(_target_dn(lab, target, user), lambda aces: aces, protect=True)


@_fault("protected-user", "permissions", "User is protected by AdminSDHolder",
        symptom=Symptom("reset", "SSPR_0029", (31001, 6329, 33004, 31003), after_minutes=60,
                        text="After SDProp (60 min) adminCount=1 and the AdminSDHolder DACL: SSPR_0029, "
                             "33004. Cloud password changes still work."),
        fix="Take the user out of the protected group (then re-enable inheritance: adminCount is never "
            "cleared), or use a non-privileged account for SSPR.",
        params={"user": "alice", "group": "Domain Admins"}, per_user=True)
def _protected_user(lab: Lab, user: str, group: str) -> None:
    """The user is added to a protected group (Domain Admins by default); SDProp does the rest."""
    hits = [e for e in lab.dc.directory.lookup("cn", group) if e.object_class == "group"]
    if not hits:
        raise FaultError(f"no group {group!r}")
    lab.dc.modify(lab.dc.admin_session(), hits[0].dn, [Change(ModOp.ADD, "member", (lab.user(user).dn,))])


@_fault("explicit-deny", "permissions", "Explicit Deny Reset password for the connector account",
        symptom=Symptom("reset", "SSPR_0029", (31001, 6329, 33004, 31003), text="As missing-reset."),
        fix="Remove the Deny entry from the object's Advanced Security settings.",
        params={"user": "alice", "target": "ou"}, per_user=True)
def _explicit_deny(lab: Lab, user: str, target: str) -> None:
    """A Deny 'Reset password' ACE for the connector account on the user's OU (or the user)."""
    deny = make_ace(lab.connector_sid(), right="Reset Password", deny=True,
                    applies_to=AppliesTo.THIS_OBJECT_ONLY if target == "user" else AppliesTo.DESCENDANT_CLASS,
                    descendant_class=None if target == "user" else "user")
    lab.edit_dacl(_target_dn(lab, target, user), lambda aces: [deny, *aces])


@_fault("user-cannot-change-password", "permissions", "'User cannot change password' is ticked",
        symptom=Symptom("change", "SSPR_0029", (31006, 33004, 31008),
                        text="Cloud password changes for the user fail on-premises (31008)."),
        fix="Untick 'User cannot change password' on the Account tab.",
        params={"user": "alice"}, per_user=True)
def _user_cannot_change(lab: Lab, user: str) -> None:
    """ADUC's checkbox: Deny Change password for Everyone and SELF on the user object."""
    guid = _guid("Change Password")
    denies = [Ace(K.ACCESS_DENIED_OBJECT_ACE_TYPE, 0, K.RIGHT_DS_CONTROL_ACCESS, sid, guid)
              for sid in ("S-1-1-0", "S-1-5-10")]
    lab.edit_dacl(lab.user(user).dn, lambda aces: [*denies, *aces])


# -- password policy ---------------------------------------------------------------------
@_fault("min-password-age", "policy", "Minimum password age is not 0",
        symptom=Symptom("reset", "PasswordPolicyViolation", (31001, 6329, 33008, 31003), after_minutes=5,
                        text="After the DC's GPO refresh (5 min or gpupdate /force), a reset within the "
                             "minimum age fails: 33008 + 6329 BAIL 0x80230619."),
        fix="Default Domain Policy > Password Policy > Minimum password age = 0, then gpupdate /force.",
        params={"days": 1})
def _min_password_age(lab: Lab, days: int) -> None:
    """The Default Domain Policy's Minimum password age is set to ``days`` (pending until GPO refresh)."""
    lab.gpo.edit(min_age_days=days)


@_fault("password-policy-conflict", "policy", "On-premises policy stricter than the cloud's",
        symptom=Symptom("reset", "PasswordPolicyViolation", (31001, 6329, 33008, 31003), after_minutes=5,
                        text="Passwords the cloud accepts are refused on-premises: 33008 + 6329."),
        fix="Align the on-premises password policy with what users are told, or choose a longer password.",
        params={"min_length": 24, "history": None, "complexity": None})
def _policy_conflict(lab: Lab, min_length: int, history: int | None, complexity: bool | None) -> None:
    """Minimum length (or history/complexity) raised in the Default Domain Policy."""
    changes: dict[str, Any] = {"min_length": min_length}
    if history is not None:
        changes["history"] = history
    if complexity is not None:
        changes["complexity"] = complexity
    lab.gpo.edit(**changes)


# -- Connect -------------------------------------------------------------------------------
@_fault("writeback-off-connect", "connect", "Password writeback unticked in Entra Connect",
        symptom=Symptom("reset", "SSPR_0010", (), text="Offboarding logs 31012/31013; users see SSPR_0010."),
        fix="Entra Connect > Configure > Customize synchronization options > Optional features: tick "
            "Password writeback, then tick it in the portal's On-premises integration.")
def _writeback_off_connect(lab: Lab) -> None:
    """The Connect wizard is run again with Password writeback unticked."""
    lab.connect.disable_password_writeback(lab.tenant.admin_upn, lab.tenant.admin_password)


@_fault("admin-lacks-role", "connect", "Wizard run with an account that is not a Global Administrator",
        symptom=Symptom("reset", "SSPR_0010", (),
                        text="Enabling writeback fails with 32009 'Error getting auth token.'; SSPR_0010."),
        fix="Run the wizard with a Global Administrator (or Hybrid Identity Administrator) account.")
def _admin_lacks_role(lab: Lab) -> None:
    """Writeback was turned off and re-enabling it was tried with a plain user's credentials."""
    from fakes.connect.server import WizardError

    _writeback_off_connect(lab)
    upn = f"helpdesk@{lab.tenant.initial_domain}"
    user = lab.tenant.add_user(upn, "Helpdesk", password="Help-Desk-2026!")
    try:
        lab.connect.enable_password_writeback(user.user_principal_name, "Help-Desk-2026!")
    except WizardError:
        pass  # what the admin saw; the event log has the details


@_fault("connect-service-stopped", "connect", "The ADSync service is stopped",
        symptom=Symptom("reset", "SSPR_0030", (), text="31016 when it stopped; users see SSPR_0030."),
        fix="Start the Microsoft Azure AD Sync service (Start-Service ADSync).")
def _service_stopped(lab: Lab) -> None:
    """The Microsoft Azure AD Sync service is stopped on the Connect server."""
    lab.connect.stop_service()


@_fault("staging-mode", "connect", "The Connect server is in staging mode",
        symptom=Symptom("reset", "SSPR_0030", (), text="A staging server answers no writeback: SSPR_0030."),
        fix="Switch the active server out of staging mode (Configure > Configure staging mode).")
def _staging(lab: Lab) -> None:
    """The wizard's 'Configure staging mode' is ticked on the only Connect server."""
    lab.connect.set_staging_mode(True)


@_fault("ldap-sign-and-encrypt-off", "connect", "'Sign and Encrypt LDAP Traffic' is off on the AD connector",
        symptom=Symptom("reset", "SSPR_0029", (31001, 6329, 33009, 31003),
                        text="The agent writes over plain LDAP and the DC refuses unicodePwd (hr 8023062C)."),
        fix="Synchronization Service Manager > Connectors > AD connector > Properties: tick Sign and Encrypt "
            "LDAP Traffic in all three places.")
def _sign_encrypt_off(lab: Lab) -> None:
    """The AD connector's 'Sign and Encrypt LDAP Traffic' option is unticked."""
    lab.connect.update_directory(lab.spec.domain.dns, sign_and_encrypt=False)


@_fault("user-outside-ou-filter", "connect", "The user's OU is not selected in Domain/OU filtering",
        symptom=Symptom("reset", "UserNotFound", (),
                        text="The wizard's closing full sync deletes the user from the tenant."),
        fix="Select the OU in Entra Connect's Domain and OU filtering, then run a sync cycle.",
        params={"user": "alice"}, per_user=True)
def _outside_filter(lab: Lab, user: str) -> None:
    """Domain/OU filtering is narrowed to every department OU except the user's."""
    user_ou = lab.user(user).dn.split(",", 1)[1].lower()
    staff = f"OU=Staff,{lab.dc.domain_dn}"
    departments = lab.spec.population.departments
    keep = tuple(f"OU={d},{staff}" for d in departments if f"ou={d},{staff}".lower() != user_ou)
    lab.connect.update_directory(lab.spec.domain.dns, ou_filter=keep)
    # The wizard ends with "Start the synchronization process when configuration completes".
    lab.connect.run_sync_cycle("Initial")


@_fault("user-not-synced", "connect", "User created on-premises after the last sync cycle",
        symptom=Symptom("reset", "UserNotFound", (), text="The tenant does not know the user until the next "
                                                       "sync cycle (every 30 minutes)."),
        fix="Wait for the next delta sync or run Start-ADSyncSyncCycle -PolicyType Delta.",
        params={"user": "dave"}, per_user=True)
def _not_synced(lab: Lab, user: str) -> None:
    """A new user is created in ADUC; Connect has not synchronized since."""
    lab.create_user(user, display_name=f"{user.title()} Newhire")


@_fault("cloud-only-user", "tenant", "User exists only in the cloud",
        symptom=Symptom("reset", None, (), text="SSPR succeeds, but only the cloud password changes: "
                                               "nothing reaches Active Directory."),
        fix="Match the cloud account to the on-premises user (soft/hard match) or create it on-premises.",
        params={"user": "carol"}, per_user=True)
def _cloud_only(lab: Lab, user: str) -> None:
    """The user's account was created in the admin center, not in AD: it is cloud-only."""
    upn = f"{user}@{lab.spec.domain.dns}"
    cloud = lab.tenant.add_user(upn, f"{user.title()} Cloudy", password="Cloud-Only-2026!")
    lab.tenant.register_for_sspr(cloud)


# -- tenant / portal -----------------------------------------------------------------------
@_fault("writeback-off-portal", "tenant", "Writeback unticked in the portal",
        symptom=Symptom("reset", "SSPR_0010", (), text="Synced users see SSPR_0010; Connect logs nothing."),
        fix="Entra admin center > Protection > Password reset > On-premises integration: tick 'Write back "
            "passwords to your on-premises directory', Save.")
def _writeback_off_portal(lab: Lab) -> None:
    """'Write back passwords to your on-premises directory' is unticked and saved."""
    _put(lab, passwordWritebackSupported=False)


@_fault("unlock-off", "tenant", "'Allow users to unlock accounts without resetting' is off",
        symptom=Symptom("unlock", "UnlockNotEnabled", (), text="Unlock is not offered to users."),
        fix="Tick 'Allow users to unlock accounts without resetting their password' and Save.")
def _unlock_off(lab: Lab) -> None:
    """The portal's unlock option is unticked and saved."""
    _put(lab, accountUnlockEnabled=False)


@_fault("cloud-sync-writeback-without-agent", "tenant", "Cloud sync writeback chosen, no provisioning agent",
        symptom=Symptom("reset", "SSPR_0010", (), text="Writeback relies on a cloud sync agent that does not "
                                                       "exist; Connect's writeback is off."),
        fix="Install the Entra provisioning agent, or use Entra Connect's writeback (tick it in Connect and "
            "in the portal).")
def _cloud_sync_no_agent(lab: Lab) -> None:
    """Connect writeback is turned off and the portal is switched to 'cloud sync' writeback."""
    _put(lab, cloudProvisioningEnablementForTenant=True)
    _writeback_off_connect(lab)


@_fault("no-licence", "tenant", "No Entra ID P1/P2 licence",
        symptom=Symptom("reset", "SSPR_0012", (), text="Users see SSPR_0012."),
        fix="Assign Entra ID P1 or P2 (or a trial) to the tenant.")
def _no_licence(lab: Lab) -> None:
    """The tenant's Entra ID P1 subscription has lapsed."""
    lab.tenant.licence = "none"


@_fault("graph-throttled", "tenant", "Graph throttles the tooling",
        symptom=Symptom("graph", "TooManyRequests", (), text="Graph answers 429 with Retry-After."),
        fix="Honour Retry-After (the SDK's retry handler does), batch requests, back off.",
        params={"rate": 1.0, "retry_after": 1})
def _throttled(lab: Lab, rate: float, retry_after: int) -> None:
    """Graph answers a share of requests with 429 Too Many Requests."""
    lab.tenant.faults.configure(throttle_rate=rate, retry_after=retry_after)


# -- connector account ----------------------------------------------------------------------
@_fault("connector-password-changed", "account", "Connector account password reset in ADUC",
        symptom=Symptom("reset", "SSPR_0029", (31001, 33009, 31003),
                        text="The agent's bind fails (49, data 52e): SSPR_0029, 33009."),
        fix="Put the new password in Synchronization Service Manager (AD connector > Connect to Active "
            "Directory Forest) or reset it to the one Connect uses.")
def _connector_password_changed(lab: Lab) -> None:
    """An admin resets the connector account's password without telling Connect."""
    lab.dc.set_password(lab.dc.connector_dn, "Someone-Else-Set-This-1!")


@_fault("connector-password-expired", "account", "Connector account must change its password",
        symptom=Symptom("reset", "SSPR_0029", (31001, 33009, 31003),
                        text="The agent's bind fails (49, data 773): SSPR_0029, 33009."),
        fix="Untick 'User must change password at next logon' and tick 'Password never expires'.")
def _connector_expired(lab: Lab) -> None:
    """'Password never expires' is cleared and 'User must change password at next logon' ticked."""
    admin = lab.dc.admin_session()
    lab.dc.modify(admin, lab.dc.connector_dn, [Change(ModOp.REPLACE, "userAccountControl", (b"512",)),
                                               Change(ModOp.REPLACE, "pwdLastSet", (b"0",))])


@_fault("connector-locked", "account", "Connector account locked out",
        symptom=Symptom("reset", "SSPR_0029", (31001, 33009, 31003),
                        text="The agent's bind fails (49, data 775): SSPR_0029, 33009."),
        fix="Unlock the account (Account tab > Unlock account) and find what is guessing its password.")
def _connector_locked(lab: Lab) -> None:
    """A lockout policy is in force and something keeps binding as the connector with a wrong password."""
    lab.gpo.edit(lockout_threshold=5)
    lab.gpupdate()
    for _ in range(5):
        lab.bind(lab.dc.connector_dn, "not-the-password")


def catalogue_markdown() -> str:
    """The catalogue as Markdown (docs/faults.md is this output; a test keeps them equal)."""
    lines = ["# Fault catalogue", "",
             "Generated by `simlab faults --markdown`. Each fault is applied the way an admin causes it;",
             "the symptom comes from the same code paths a healthy lab runs. Parameters can be given in a",
             "spec or scenario (`faults: [{inheritance-disabled: {target: ou}}]`) or on the command line",
             "(`simlab fault inheritance-disabled target=ou`).", ""]
    for category in dict.fromkeys(f.category for f in FAULTS.values()):
        lines += [f"## {category.title()}", ""]
        for f in (f for f in FAULTS.values() if f.category == category):
            lines += [f"### `{f.name}` — {f.title}", "", f.description, ""]
            if f.params:
                defaults = ", ".join(f"`{k}` (default `{v}`)" for k, v in f.params.items())
                lines.append(f"Parameters: {defaults}")
                lines.append("")
            shows = f"`{f.symptom.code}`" if f.symptom.code else "nothing (the action succeeds)"
            events = ", ".join(map(str, f.symptom.events)) or "none"
            wait = f" after {f.symptom.after_minutes} simulated minutes" if f.symptom.after_minutes else ""
            lines += [f"- **Symptom** ({f.symptom.action}{wait}): {f.symptom.text} User sees {shows}; "
                      f"Connect events: {events}.",
                      f"- **Fix**: {f.fix}", ""]
    return "\n".join(lines)


def _put(lab: Lab, **fields: Any) -> None:
    from simlab import portal  # httpx + respx: only when a fault goes through the portal

    response = portal.set_onprem_policy(lab.tenant, **fields)
    if response.status_code != 200:
        raise FaultError(f"the portal refused the change: {response.status_code} {response.text}")


# The DC's LDAP bind-hardening faults live in their own module; importing it registers them.
from simlab import faults_ldap  # noqa: E402, F401
