"""SSPR flows: each gate fails with its code in Entra's order; writeback outcomes map to codes and audit."""

from __future__ import annotations

import pytest

from fakes.clock import SimClock
from fakes.graph import audit as A
from fakes.graph import sspr
from fakes.graph.errors import ONPREM_POLICY_USER, SsprCode, SsprError
from fakes.graph.relay import WritebackOutcome
from fakes.graph.tenant import Tenant
from tests.graph.conftest import USER_PASSWORD, ScriptedAgent, add_synced

NEW = "Brand-New-Passw0rd!"


def verified_flow(tenant: Tenant, upn: str) -> sspr.SsprFlow:
    flow = sspr.begin(tenant, upn)
    for method in flow.methods[: flow.methods_required]:
        sspr.send_code(tenant, flow, method.id)
        sspr.verify(tenant, flow, method.id, tenant.outbox[-1][1])
    return flow


def code_of(exc: pytest.ExceptionInfo) -> str:
    return exc.value.code


def test_cloud_user_reset_in_cloud_without_relay(hybrid, agent: ScriptedAgent):
    tenant, _, cloud = hybrid
    flow = verified_flow(tenant, cloud.user_principal_name)
    sspr.submit(tenant, flow, NEW)
    assert tenant.check_password(cloud.id, NEW) and not tenant.check_password(cloud.id, USER_PASSWORD)
    assert agent.requests == []
    entry = tenant.audit.query(activity=A.RESET_SELF)[-1]
    assert entry.result == "success" and dict(entry.additional_details)["OnPremisesAgent"] == "None"


def test_synced_user_reset_goes_through_relay(hybrid, agent: ScriptedAgent):
    tenant, synced, _ = hybrid
    flow = verified_flow(tenant, synced.user_principal_name)
    sspr.submit(tenant, flow, NEW)
    [req] = agent.requests
    assert (req.kind, req.cloud_anchor, req.new_password) == ("reset", "anchor-sam==", NEW)
    entry = tenant.audit.query(activity=A.RESET_SELF)[-1]
    assert entry.result == "success"
    assert dict(entry.additional_details)["OnPremisesAgent"] == "Microsoft Entra Connect"


@pytest.mark.parametrize(
    "outcome,code,message",
    [
        (
            WritebackOutcome("failure", error="OnPremisesAdminActionRequired"),
            "SSPR_0029",
            SsprCode.OnPremisesAdminActionRequired.text,
        ),
        (
            WritebackOutcome("failure", error="PasswordPolicyViolation"),
            "PasswordPolicyViolation",
            ONPREM_POLICY_USER,
        ),
        (
            WritebackOutcome("unreachable", error="OnPremisesConnectivityError"),
            "SSPR_0030",
            SsprCode.OnPremisesConnectivityError.text,
        ),
    ],
)
def test_writeback_outcomes_map_to_user_codes_and_audit(hybrid, agent, outcome, code, message):
    tenant, synced, _ = hybrid
    agent.outcome = outcome
    flow = verified_flow(tenant, synced.user_principal_name)
    with pytest.raises(SsprError) as exc:
        sspr.submit(tenant, flow, NEW)
    assert (exc.value.code, exc.value.message) == (code, message)
    entry = tenant.audit.query(activity=A.RESET_SELF)[-1]
    assert entry.result == "failure" and entry.result_reason == outcome.error


def test_no_agent_registered_is_sspr_0030(hybrid, agent):
    tenant, synced, _ = hybrid
    tenant.relay.unregister(agent)
    with pytest.raises(SsprError) as exc:
        sspr.begin(tenant, synced.user_principal_name)
    assert code_of(exc) == "SSPR_0030"


# Gates, in order: each test breaks one gate while all *later* gates are broken too, so the
# first failing gate's code must win.
def test_gate_order_licence_first():
    t = Tenant.create(licence="none")
    t.relay.unregister()
    add_synced(t)
    with pytest.raises(SsprError) as exc:
        sspr.begin(t, "sam@contoso.com")
    assert code_of(exc) == "SSPR_0012"


def test_gate_policy_none_is_0009(hybrid):
    tenant, synced, _ = hybrid
    tenant.set_sspr_policy(enablement="none")
    tenant.set_onprem(writeback_enabled=False)
    with pytest.raises(SsprError) as exc:
        sspr.begin(tenant, synced.user_principal_name)
    assert code_of(exc) == "SSPR_0009"


def test_gate_selected_without_group_is_0011_and_non_member_is_0013(hybrid):
    tenant, synced, cloud = hybrid
    tenant.set_sspr_policy(enablement="selected", group_id=None)
    with pytest.raises(SsprError) as exc:
        sspr.begin(tenant, cloud.user_principal_name)
    assert code_of(exc) == "SSPR_0011"
    group = tenant.add_group("SSPR users", members=(cloud.id,))
    tenant.set_sspr_policy(group_id=group.id)
    with pytest.raises(SsprError) as exc:
        sspr.begin(tenant, synced.user_principal_name)
    assert code_of(exc) == "SSPR_0013"
    assert sspr.begin(tenant, cloud.user_principal_name).upn == cloud.user_principal_name


def test_gate_registration_is_0014(hybrid):
    tenant, _, _ = hybrid
    tenant.set_sspr_policy(methods_required=2)
    bare = tenant.add_user("bare@contoso.com", "Bare")
    tenant.add_method(bare, "email", "bare@alt.example")
    with pytest.raises(SsprError) as exc:
        sspr.begin(tenant, "bare@contoso.com")
    assert code_of(exc) == "SSPR_0014"


def test_gate_writeback_not_onboarded_then_disabled_is_0010(tenant: Tenant, agent):
    tenant.relay.register(agent)
    synced = add_synced(tenant)
    tenant.register_for_sspr(synced)
    with pytest.raises(SsprError) as exc:
        sspr.begin(tenant, synced.user_principal_name)
    assert (code_of(exc), exc.value.reason) == ("SSPR_0010", "WritebackNotConfigured")
    tenant.onboard_password_writeback(tenant.admin_upn, tenant.admin_password)
    with pytest.raises(SsprError) as exc:
        sspr.begin(tenant, synced.user_principal_name)
    assert (code_of(exc), exc.value.reason) == ("SSPR_0010", "WritebackNotEnabled")
    fails = tenant.audit.query(activity=A.FLOW_PROGRESS, result="failure")
    assert [dict(e.additional_details)["SsprCode"] for e in fails] == ["SSPR_0010", "SSPR_0010"]


def test_cloud_only_user_unaffected_by_writeback_off(tenant: Tenant):
    cloud = tenant.add_user("c@contoso.com", "C")
    tenant.register_for_sspr(cloud)
    flow = verified_flow(tenant, "c@contoso.com")
    sspr.submit(tenant, flow, NEW)
    assert tenant.check_password(cloud.id, NEW)


def test_submit_requires_verification_and_wrong_code_fails(hybrid):
    tenant, _, cloud = hybrid
    flow = sspr.begin(tenant, cloud.user_principal_name)
    with pytest.raises(SsprError, match="Verify your identity"):
        sspr.submit(tenant, flow, NEW)
    method = flow.methods[0]
    sspr.send_code(tenant, flow, method.id)
    wrong = "000000" if tenant.outbox[-1][1] != "000000" else "111111"
    with pytest.raises(SsprError) as exc:
        sspr.verify(tenant, flow, method.id, wrong)
    assert code_of(exc) == "InvalidVerificationCode"


def test_weak_cloud_password_is_fuzzy_policy_failure(hybrid):
    tenant, _, cloud = hybrid
    flow = verified_flow(tenant, cloud.user_principal_name)
    with pytest.raises(SsprError):
        sspr.submit(tenant, flow, "short")
    entry = tenant.audit.query(activity=A.RESET_SELF)[-1]
    assert (entry.result, entry.result_reason) == ("failure", A.FUZZY_POLICY)


def test_unlock_goes_through_relay_and_needs_unlock_option(hybrid, agent):
    tenant, synced, _ = hybrid
    flow = verified_flow(tenant, synced.user_principal_name)
    assert flow.unlock_available
    sspr.unlock_account(tenant, flow)
    assert agent.requests[-1].kind == "unlock" and agent.requests[-1].unlock
    assert tenant.audit.query(activity=A.UNLOCK_SELF)[-1].result == "success"
    tenant.set_onprem(unlock_enabled=False)
    flow = verified_flow(tenant, synced.user_principal_name)
    with pytest.raises(SsprError, match="has not enabled you to use this feature"):
        sspr.unlock_account(tenant, flow)


def test_admin_reset_of_synced_user_reports_operation_status(hybrid, agent):
    tenant, synced, _ = hybrid
    op = sspr.admin_reset(tenant, tenant.admin_upn, synced, NEW)
    assert op.status == "succeeded" and agent.requests[-1].kind == "admin_reset"
    agent.outcome = WritebackOutcome("failure", error="OnPremisesAdminActionRequired")
    op = sspr.admin_reset(tenant, tenant.admin_upn, synced, NEW)
    assert op.status == "failed" and "OnPremisesAdminActionRequired" in op.status_detail
    entries = tenant.audit.query(activity=A.RESET_ADMIN)
    assert [e.result for e in entries] == ["success", "failure"]


def test_admin_reset_writeback_disabled_fails_operation(hybrid, agent):
    tenant, synced, _ = hybrid
    tenant.set_onprem(writeback_enabled=False)
    op = sspr.admin_reset(tenant, tenant.admin_upn, synced, NEW)
    assert op.status == "failed" and "WritebackNotEnabled" in op.status_detail
    assert agent.requests == []


def test_change_password_cloud_checks_current(hybrid):
    tenant, _, cloud = hybrid
    with pytest.raises(SsprError) as exc:
        sspr.change_password(tenant, cloud, "wrong", NEW)
    assert code_of(exc) == "IncorrectCurrentPassword"
    sspr.change_password(tenant, cloud, USER_PASSWORD, NEW)
    assert tenant.check_password(cloud.id, NEW)


def test_change_password_synced_sends_current_password(hybrid, agent):
    tenant, synced, _ = hybrid
    sspr.change_password(tenant, synced, "Old-Passw0rd!", NEW)
    req = agent.requests[-1]
    assert (req.kind, req.current_password, req.new_password) == ("change", "Old-Passw0rd!", NEW)


def test_admins_use_two_gate_policy_and_authorization_switch(tenant: Tenant):
    tenant.register_for_sspr(tenant.admin_upn, kinds=("email",))
    with pytest.raises(SsprError) as exc:
        sspr.begin(tenant, tenant.admin_upn)
    assert code_of(exc) == "SSPR_0014"
    tenant.register_for_sspr(tenant.admin_upn, kinds=("phone",))
    assert sspr.begin(tenant, tenant.admin_upn).methods_required == 2
    tenant.allowed_to_use_sspr = False
    with pytest.raises(SsprError) as exc:
        sspr.begin(tenant, tenant.admin_upn)
    assert code_of(exc) == "SSPR_0009"


def test_five_attempts_in_an_hour_block_for_24_hours(hybrid, clock: SimClock):
    tenant, _, cloud = hybrid
    for _ in range(5):
        sspr.begin(tenant, cloud.user_principal_name)
        clock.advance(minutes=5)
    with pytest.raises(SsprError) as exc:
        sspr.begin(tenant, cloud.user_principal_name)
    assert code_of(exc) == "UserBlocked"
    assert tenant.audit.query(activity=A.BLOCKED)
    clock.advance(hours=23)
    with pytest.raises(SsprError):
        sspr.begin(tenant, cloud.user_principal_name)
    clock.advance(hours=25)
    assert sspr.begin(tenant, cloud.user_principal_name)
