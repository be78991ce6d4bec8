"""Self-service password reset, self change, unlock and admin reset, with Entra's gates in order.

Gates (issue 5, FACTS 2): licence -> policy scope -> registration -> (synced user) writeback
onboarded by Connect -> writeback enabled in the portal -> agent reachable. A synced user's
password goes through ``tenant.relay`` as a :class:`~fakes.graph.relay.WritebackRequest`; the
outcome maps to the SSPR code the user sees and to the audit entry an admin reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from fakes.graph import audit as A
from fakes.graph import catalog as C
from fakes.graph.errors import (
    FEATURE_NOT_ENABLED,
    ONPREM_POLICY_USER,
    POLICY_VIOLATION_ERRORS,
    SsprCode,
    SsprError,
)
from fakes.graph.model import AuthMethod, LongRunningOperation, User
from fakes.graph.relay import WritebackOutcome, WritebackRequest
from fakes.graph.tenant import Tenant, meets_cloud_policy

# Lab wording for steps Entra shows as UI text (not in FACTS).
UNKNOWN_USER = "We couldn't find an account with that username."
BAD_CODE = "The code you entered is incorrect. Please try again."
NOT_VERIFIED = "Verify your identity with the required number of methods before choosing a new password."
CLOUD_POLICY = "The password you entered doesn't meet the password requirements. Choose a different password."
WRONG_CURRENT = "The current password you entered is incorrect."
BLOCKED = "You've tried to reset your password too many times. Try again in 24 hours."
#: FACTS 2: 5 resets of the same account per hour, then 24 h after the last attempt.
ATTEMPTS_PER_HOUR = 5
BLOCK_FOR = timedelta(hours=24)


@dataclass(slots=True)
class SsprFlow:
    """One user's pass through the reset portal (mutable: verification progresses)."""

    id: str
    user_id: str
    upn: str
    methods_required: int
    methods: tuple[AuthMethod, ...]
    unlock_available: bool
    codes: dict[str, str] = field(default_factory=dict)
    verified: set[str] = field(default_factory=set)
    done: bool = False


def is_admin(tenant: Tenant, user: User) -> bool:
    return bool(tenant.roles_of(user) & C.ADMIN_ROLES)


def _agent_label(tenant: Tenant) -> str:
    return A.AGENT_CLOUD_SYNC if tenant.onprem.cloud_sync_writeback_enabled else A.AGENT_CONNECT


def _fail(tenant: Tenant, user: User, error: SsprError, activity: str = A.FLOW_PROGRESS) -> SsprError:
    tenant.audit.write(
        activity,
        result="failure",
        reason=error.reason,
        initiated_by=user.user_principal_name,
        target_id=user.id,
        target_upn=user.user_principal_name,
        SsprCode=error.code,
    )
    return error


def check_gates(tenant: Tenant, user: User, *, unlock: bool = False) -> None:
    """Raise the first failing gate as :class:`SsprError`, in Entra's order."""
    policy = tenant.sspr_policy
    if is_admin(tenant, user):
        # Admins get the Microsoft-managed two-gate policy (FACTS 2), switched by allowedToUseSSPR.
        if not tenant.allowed_to_use_sspr:
            raise _fail(tenant, user, SsprError(SsprCode.TenantSSPRFlagDisabled))
        allowed, required = ("phone", "email", "microsoftAuthenticator"), 2
    else:
        if not tenant.licensed:
            raise _fail(tenant, user, SsprError(SsprCode.UserNotLicensed))
        if policy.enablement == "none":
            raise _fail(tenant, user, SsprError(SsprCode.TenantSSPRFlagDisabled))
        if policy.enablement == "selected":
            group = tenant.groups.get(policy.group_id or "")
            if group is None:
                raise _fail(tenant, user, SsprError(SsprCode.SsprNotEnabledInUserPolicy))
            if user.id not in group.members:
                raise _fail(tenant, user, SsprError(SsprCode.UserNotMemberOfScopedAccessGroup))
        allowed, required = policy.allowed_methods, policy.methods_required
    kinds = {m.kind for m in tenant.methods_of(user) if m.kind in allowed}
    if len(kinds) < required:
        raise _fail(tenant, user, SsprError(SsprCode.UserNotProperlyConfigured))
    if user.synced:
        if not tenant.onprem.writeback_supported:
            raise _fail(
                tenant, user, SsprError(SsprCode.WritebackNotEnabled, reason="WritebackNotConfigured")
            )
        if not (tenant.onprem.writeback_enabled or tenant.onprem.cloud_sync_writeback_enabled):
            raise _fail(tenant, user, SsprError(SsprCode.WritebackNotEnabled))
        if unlock and not tenant.onprem.unlock_enabled:
            raise _fail(tenant, user, SsprError("UnlockNotEnabled", FEATURE_NOT_ENABLED))
        if not tenant.relay.connected:
            raise _fail(tenant, user, SsprError(SsprCode.OnPremisesConnectivityError))
    elif unlock:
        raise _fail(tenant, user, SsprError("UnlockNotEnabled", FEATURE_NOT_ENABLED))


def _throttle(tenant: Tenant, user: User) -> None:
    """FACTS 2: 5 attempts within an hour block the account until 24 h after its last attempt."""
    now = tenant.clock.now()
    with tenant.lock:
        attempts = [t for t in tenant.sspr_attempts.get(user.id, []) if now - t < BLOCK_FOR]
        attempts.append(now)
        tenant.sspr_attempts[user.id] = attempts
    n = ATTEMPTS_PER_HOUR
    burst = any(attempts[i + n] - attempts[i] < timedelta(hours=1) for i in range(len(attempts) - n))
    if burst:
        tenant.audit.write(
            A.BLOCKED,
            initiated_by=user.user_principal_name,
            target_id=user.id,
            target_upn=user.user_principal_name,
        )
        raise SsprError("UserBlocked", BLOCKED)


def begin(tenant: Tenant, upn: str) -> SsprFlow:
    """Start a reset: every gate is checked up front, as the portal does before verification."""
    user = tenant.get_user(upn)
    if user is None:
        raise SsprError("UserNotFound", UNKNOWN_USER)
    _throttle(tenant, user)
    check_gates(tenant, user)
    admin = is_admin(tenant, user)
    required = 2 if admin else tenant.sspr_policy.methods_required
    allowed = ("phone", "email", "microsoftAuthenticator") if admin else tenant.sspr_policy.allowed_methods
    methods = tuple(m for m in tenant.methods_of(user) if m.kind in allowed)
    unlock = user.synced and tenant.onprem.unlock_enabled
    flow = SsprFlow(tenant.new_id(), user.id, user.user_principal_name, required, methods, unlock)
    with tenant.lock:
        tenant.sspr_flows[flow.id] = flow
    tenant.audit.write(
        A.FLOW_PROGRESS,
        reason="UserFoundAndGatesPassed",
        initiated_by=user.user_principal_name,
        target_id=user.id,
        target_upn=user.user_principal_name,
    )
    return flow


def get_flow(tenant: Tenant, flow_id: str) -> SsprFlow:
    flow = tenant.sspr_flows.get(flow_id)
    if flow is None or flow.done:
        raise SsprError("FlowNotFound", "Your password reset session has expired. Start again.")
    return flow


def send_code(tenant: Tenant, flow: SsprFlow, method_id: str) -> str:
    """ "Send" a verification code; it lands in ``tenant.outbox``. Returns the masked destination."""
    method = _method(flow, method_id)
    if method.kind == "securityQuestion":
        return method.value
    with tenant.lock:
        code = f"{tenant._rng.randrange(10**6):06d}"
        flow.codes[method.id] = code
        tenant.outbox.append((method.value, code))
    return mask(method.value)


def verify(tenant: Tenant, flow: SsprFlow, method_id: str, answer: str) -> int:
    """Check a code (or security answer); return how many more methods are needed."""
    method = _method(flow, method_id)
    expected = method.secret if method.kind == "securityQuestion" else flow.codes.get(method.id)
    if not expected or answer.strip().lower() != expected.lower():
        user = tenant.users[flow.user_id]
        raise _fail(tenant, user, SsprError("InvalidVerificationCode", BAD_CODE))
    flow.verified.add(method.id)
    return max(0, flow.methods_required - len(flow.verified))


def _method(flow: SsprFlow, method_id: str) -> AuthMethod:
    for m in flow.methods:
        if m.id == method_id:
            return m
    raise SsprError("MethodNotFound", f"Method '{method_id}' is not registered for this account.")


def mask(value: str) -> str:
    if "@" in value:
        local, dom = value.split("@", 1)
        return f"{local[:2]}*******@{dom}"
    return f"*********{value[-2:]}" if value else ""


def outcome_error(outcome: WritebackOutcome) -> SsprError | None:
    """How the user-facing flow reports a writeback outcome (None = success)."""
    if outcome.status == "success":
        return None
    if outcome.status == "unreachable":
        return SsprError(
            SsprCode.OnPremisesConnectivityError, reason=outcome.error or "OnPremisesConnectivityError"
        )
    if outcome.error in POLICY_VIOLATION_ERRORS:
        return SsprError("PasswordPolicyViolation", ONPREM_POLICY_USER, reason=outcome.error or "")
    return SsprError(
        SsprCode.OnPremisesAdminActionRequired, reason=outcome.error or "OnPremisesAdminActionRequired"
    )


def _writeback(
    tenant: Tenant, user: User, kind: str, tracking_id: str, requested_by: str, **kw
) -> WritebackOutcome:
    request = WritebackRequest(
        kind=kind,
        tracking_id=tracking_id,  # type: ignore[arg-type]
        cloud_anchor=user.on_premises_immutable_id or "",
        user_principal_name=user.user_principal_name,
        requested_by=requested_by,
        **kw,
    )
    return tenant.relay.submit(request)


def submit(tenant: Tenant, flow: SsprFlow, new_password: str, *, unlock: bool = False) -> None:
    """Set the new password (cloud, or via writeback for a synced user)."""
    user = tenant.users[flow.user_id]
    if len(flow.verified) < flow.methods_required:
        raise SsprError("VerificationRequired", NOT_VERIFIED)
    check_gates(tenant, user, unlock=unlock)
    _complete(
        tenant, user, A.RESET_SELF, "reset", flow.id, user.user_principal_name, new_password, unlock=unlock
    )
    flow.done = True


def unlock_account(tenant: Tenant, flow: SsprFlow) -> None:
    """Unlock the on-premises account without a reset (needs the portal's unlock option)."""
    user = tenant.users[flow.user_id]
    if len(flow.verified) < flow.methods_required:
        raise SsprError("VerificationRequired", NOT_VERIFIED)
    check_gates(tenant, user, unlock=True)
    outcome = _writeback(tenant, user, "unlock", flow.id, user.user_principal_name, unlock=True)
    _record(tenant, user, A.UNLOCK_SELF, outcome, user.user_principal_name, flow.id)
    flow.done = True


def _complete(
    tenant: Tenant,
    user: User,
    activity: str,
    kind: str,
    tracking_id: str,
    actor: str,
    new_password: str,
    *,
    current: str | None = None,
    unlock: bool = False,
) -> None:
    if not user.synced:
        if current is not None and not tenant.check_password(user.id, current):
            raise _fail(tenant, user, SsprError("IncorrectCurrentPassword", WRONG_CURRENT), activity)
        if not meets_cloud_policy(new_password):
            raise _fail(
                tenant,
                user,
                SsprError("PasswordPolicyViolation", CLOUD_POLICY, reason=A.FUZZY_POLICY),
                activity,
            )
        tenant.set_cloud_password(user.id, new_password)
        tenant.audit.write(
            activity,
            initiated_by=actor,
            target_id=user.id,
            target_upn=user.user_principal_name,
            correlation_id=tracking_id,
            OnPremisesAgent=A.AGENT_NONE,
        )
        return
    outcome = _writeback(
        tenant,
        user,
        kind,
        tracking_id,
        actor,
        new_password=new_password,
        current_password=current,
        unlock=unlock,
    )
    _record(tenant, user, activity, outcome, actor, tracking_id)
    if outcome.status == "success":
        tenant.update_user(user.id, last_password_change=tenant.clock.now())


def _record(
    tenant: Tenant, user: User, activity: str, outcome: WritebackOutcome, actor: str, tracking_id: str
) -> None:
    error = outcome_error(outcome)
    tenant.audit.write(
        activity,
        result="failure" if error else "success",
        reason=error.reason if error else "",
        initiated_by=actor,
        target_id=user.id,
        target_upn=user.user_principal_name,
        correlation_id=tracking_id,
        OnPremisesAgent=_agent_label(tenant),
        TrackingId=tracking_id,
        **({"SsprCode": error.code} if error else {}),
    )
    if error:
        raise error


def change_password(tenant: Tenant, user: User, current: str, new: str) -> None:
    """/me/changePassword: cloud change, or a writeback ``change`` for a synced user."""
    if user.synced:
        onprem = tenant.onprem
        if not (
            onprem.writeback_supported and (onprem.writeback_enabled or onprem.cloud_sync_writeback_enabled)
        ):
            raise _fail(tenant, user, SsprError(SsprCode.WritebackNotEnabled), A.CHANGE_SELF)
    _complete(
        tenant, user, A.CHANGE_SELF, "change", tenant.new_id(), user.user_principal_name, new, current=current
    )


def admin_reset(tenant: Tenant, actor: str, user: User, new_password: str | None) -> LongRunningOperation:
    """Graph resetPassword: returns the long-running operation in its final state.

    A synced user goes through the relay (kind ``admin_reset``) and needs writeback; a cloud
    user is reset in place. The operation never raises for on-premises failures: it reports
    ``failed`` with the reason, as the operation resource does.
    """
    now = tenant.clock.now()
    op_id = tenant.new_id()
    generated = new_password is None
    password = new_password if new_password is not None else tenant.random_password()
    status, detail = "succeeded", ""
    try:
        if user.synced:
            onprem = tenant.onprem
            if not (
                onprem.writeback_supported
                and (onprem.writeback_enabled or onprem.cloud_sync_writeback_enabled)
            ):
                raise _fail(tenant, user, SsprError(SsprCode.WritebackNotEnabled), A.RESET_ADMIN)
        _complete(tenant, user, A.RESET_ADMIN, "admin_reset", op_id, actor, password)
    except SsprError as err:
        status, detail = "failed", f"{err.enum_name}: {err.message}"
    op = LongRunningOperation(
        op_id,
        user.id,
        now,
        tenant.clock.now(),
        status,
        detail,  # type: ignore[arg-type]
        password if generated and status == "succeeded" else None,
    )
    with tenant.lock:
        tenant.operations[op.id] = op
    return op
