"""Graph + portal + SSPR endpoints over plain httpx, in-process through respx (graph_mock)."""

from __future__ import annotations

import httpx
import pytest

from fakes.clock import SimClock
from fakes.graph import audit as A
from fakes.graph import catalog as C
from fakes.graph.auth import LabCredential, make_token
from fakes.graph.errors import SYNCED_OBJECT_UPDATE, SsprCode
from fakes.graph.mock import graph_mock
from fakes.graph.relay import WritebackOutcome
from fakes.graph.tenant import Tenant
from tests.graph.conftest import USER_PASSWORD, add_synced

G = "https://graph.microsoft.com/v1.0"
PORTAL = "https://main.iam.ad.ext.azure.com/api/PasswordReset"
SSPR = "https://passwordreset.microsoftonline.com/sspr"


def client(tenant: Tenant, who="admin", **kw) -> httpx.Client:
    subject = tenant.admin_upn if who == "admin" else who
    return httpx.Client(headers={"Authorization": f"Bearer {make_token(tenant, subject, **kw)}"})


@pytest.fixture
def mocked(tenant: Tenant):
    with graph_mock(tenant):
        yield tenant


def assert_envelope(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code
    assert err["innerError"]["request-id"] == r.headers["request-id"]
    assert err["innerError"]["date"]
    return err


def test_list_get_filter_select_and_page(mocked: Tenant):
    for i in range(25):
        mocked.add_user(f"user{i:02d}@contoso.com", f"User {i:02d}", department="Sales" if i % 2 else "IT")
    c = client(mocked)
    first = c.get(f"{G}/users", params={"$top": "10"}).json()
    assert len(first["value"]) == 10 and "@odata.nextLink" in first
    assert set(first["value"][0]) == {
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
        "id",
    }
    seen, url = [], f"{G}/users?$top=10"
    for _ in range(10):
        page = c.get(url).json()
        seen += [u["userPrincipalName"] for u in page["value"]]
        url = page.get("@odata.nextLink")
        if not url:
            break
    assert len(seen) == 26 == len(set(seen))
    flt = c.get(
        f"{G}/users",
        params={
            "$filter": "department eq 'sales' and startswith(displayName,'User 1')",
            "$select": "id,department,displayName",
        },
    ).json()["value"]
    assert {u["displayName"] for u in flt} == {"User 11", "User 13", "User 15", "User 17", "User 19"}
    assert set(flt[0]) == {"id", "department", "displayName"}
    one = c.get(f"{G}/users/user03@contoso.com").json()
    assert one["displayName"] == "User 03"
    assert c.get(f"{G}/users/{one['id']}").json()["userPrincipalName"] == "user03@contoso.com"


def test_query_errors_are_400_envelopes(mocked: Tenant):
    c = client(mocked)
    assert_envelope(c.get(f"{G}/users", params={"$filter": "nosuch eq 'x'"}), 400, "BadRequest")
    assert_envelope(c.get(f"{G}/users", params={"$filter": "displayName eq"}), 400, "BadRequest")
    assert_envelope(c.get(f"{G}/users", params={"$select": "bogus"}), 400, "Request_BadRequest")
    assert_envelope(c.get(f"{G}/users", params={"$top": "0"}), 400, "BadRequest")
    assert_envelope(c.get(f"{G}/users", params={"$skiptoken": "garbage"}), 400, "BadRequest")
    assert_envelope(c.get(f"{G}/users/missing-id"), 404, "Request_ResourceNotFound")


def test_synced_user_fields_and_patch_refused(mocked: Tenant):
    synced = add_synced(mocked)
    c = client(mocked)
    body = c.get(
        f"{G}/users/{synced.id}",
        params={
            "$select": "onPremisesSyncEnabled,onPremisesImmutableId,"
            "onPremisesSamAccountName,onPremisesLastSyncDateTime"
        },
    )
    assert body.json()["onPremisesSyncEnabled"] is True
    assert body.json()["onPremisesSamAccountName"] == "sam"
    assert body.json()["onPremisesLastSyncDateTime"] == "2026-01-05T09:00:00Z"
    r = c.patch(f"{G}/users/{synced.id}", json={"passwordProfile": {"password": "Whatever-Passw0rd1"}})
    err = assert_envelope(r, 400, SYNCED_OBJECT_UPDATE[0])
    assert err["message"] == SYNCED_OBJECT_UPDATE[1]


def test_patch_cloud_user_password_and_profile(mocked: Tenant):
    u = mocked.add_user("p@contoso.com", "P")
    c = client(mocked)
    assert c.patch(f"{G}/users/{u.id}", json={"jobTitle": "Engineer"}).status_code == 204
    assert mocked.get_user(u.id).job_title == "Engineer"
    assert_envelope(
        c.patch(f"{G}/users/{u.id}", json={"passwordProfile": {"password": "weak"}}),
        400,
        "Request_BadRequest",
    )
    r = c.patch(
        f"{G}/users/{u.id}",
        json={"passwordProfile": {"password": "Strong-Passw0rd", "forceChangePasswordNextSignIn": True}},
    )
    assert r.status_code == 204 and mocked.check_password(u.id, "Strong-Passw0rd")


def test_auth_failures(mocked: Tenant, clock: SimClock):
    assert_envelope(httpx.get(f"{G}/users"), 401, "InvalidAuthenticationToken")
    bad = httpx.get(f"{G}/users", headers={"Authorization": "Bearer not.a.jwt"})
    assert (
        assert_envelope(bad, 401, "InvalidAuthenticationToken")["message"]
        == "Access token validation failure."
    )
    other = Tenant.create(seed=99)
    foreign = httpx.get(
        f"{G}/users", headers={"Authorization": f"Bearer {make_token(other, other.admin_upn)}"}
    )
    assert_envelope(foreign, 401, "InvalidAuthenticationToken")
    c = client(mocked, lifetime=600)
    assert c.get(f"{G}/users").status_code == 200
    clock.advance(seconds=601)
    err = assert_envelope(c.get(f"{G}/users"), 401, "InvalidAuthenticationToken")
    assert err["message"] == "Lifetime validation failed, the token is expired."


def test_missing_scope_and_role_are_403(mocked: Tenant):
    mocked.add_user("u@contoso.com", "U", password=USER_PASSWORD)
    narrow = client(mocked, scopes=["User.Read"])
    assert narrow.get(f"{G}/me").status_code == 200
    assert_envelope(narrow.get(f"{G}/users"), 403, "Authorization_RequestDenied")
    plain = client(mocked, "u@contoso.com")
    assert_envelope(plain.get(f"{G}/auditLogs/directoryAudits"), 403, "Authorization_RequestDenied")
    app = httpx.Client(headers={"Authorization": f"Bearer {make_token(mocked, 'app')}"})
    assert app.get(f"{G}/users").status_code == 200
    assert_envelope(app.get(f"{G}/me"), 400, "BadRequest")


def test_licences_org_sync_roles(mocked: Tenant, clock: SimClock):
    mocked.add_user("h@contoso.com", "H", roles=(C.HYBRID_IDENTITY_ADMINISTRATOR,))
    c = client(mocked)
    skus = c.get(f"{G}/subscribedSkus").json()["value"]
    assert [s["skuPartNumber"] for s in skus] == ["AAD_PREMIUM"]
    assert skus[0]["servicePlans"][0]["servicePlanId"] == C.AAD_PREMIUM_PLAN
    clock.advance(minutes=3)
    mocked.mark_directory_synced()
    org = c.get(f"{G}/organization").json()["value"][0]
    assert (
        org["onPremisesSyncEnabled"] is True and org["onPremisesLastSyncDateTime"] == "2026-01-05T09:03:00Z"
    )
    sync = c.get(f"{G}/directory/onPremisesSynchronization").json()["value"][0]
    assert sync["features"]["passwordWritebackEnabled"] is False and len(sync["features"]) == 19
    roles = c.get(f"{G}/directoryRoles").json()["value"]
    assert {r["roleTemplateId"] for r in roles} == {C.GLOBAL_ADMINISTRATOR, C.HYBRID_IDENTITY_ADMINISTRATOR}
    ga = next(r for r in roles if r["roleTemplateId"] == C.GLOBAL_ADMINISTRATOR)
    members = c.get(f"{G}/directoryRoles/{ga['id']}/members").json()["value"]
    assert [m["userPrincipalName"] for m in members] == [mocked.admin_upn]
    admin_id = mocked.get_user(mocked.admin_upn).id
    ras = c.get(
        f"{G}/roleManagement/directory/roleAssignments", params={"$filter": f"principalId eq '{admin_id}'"}
    ).json()["value"]
    assert [r["roleDefinitionId"] for r in ras] == [C.GLOBAL_ADMINISTRATOR]


def test_reset_password_cloud_user_and_poll_operation(mocked: Tenant):
    u = mocked.add_user("r@contoso.com", "R")
    c = client(mocked)
    url = f"{G}/users/{u.id}/authentication/methods/{C.PASSWORD_METHOD_ID}/resetPassword"
    r = c.post(url, json={"newPassword": "Reset-Passw0rd!"})
    assert r.status_code == 202
    assert r.headers["Location"].startswith(
        f"https://graph.microsoft.com/v1.0/users/{u.id}/authentication/operations/"
    )
    op = c.get(r.headers["Location"]).json()
    assert op["status"] == "succeeded" and mocked.check_password(u.id, "Reset-Passw0rd!")
    generated = c.post(url).json()
    assert mocked.check_password(u.id, generated["newPassword"])
    entry = mocked.audit.query(activity=A.RESET_ADMIN)[-1]
    assert dict(entry.additional_details)["OnPremisesAgent"] == "None"


def test_reset_password_permissions(mocked: Tenant):
    u = mocked.add_user("r@contoso.com", "R", password=USER_PASSWORD)
    helpdesk = mocked.add_user("hd@contoso.com", "HD", roles=(C.HELPDESK_ADMINISTRATOR,))
    url = f"{G}/users/{{}}/authentication/methods/{C.PASSWORD_METHOD_ID}/resetPassword"
    body = {"newPassword": "Reset-Passw0rd!"}
    assert_envelope(
        client(mocked, helpdesk.user_principal_name).post(url.format(u.id), json=body),
        403,
        "Authorization_RequestDenied",
    )
    app = httpx.Client(headers={"Authorization": f"Bearer {make_token(mocked, 'app')}"})
    assert_envelope(app.post(url.format(u.id), json=body), 403, "Authorization_RequestDenied")
    admin_id = mocked.get_user(mocked.admin_upn).id
    assert_envelope(client(mocked).post(url.format(admin_id), json=body), 403, "Authorization_RequestDenied")


def test_reset_password_synced_user_failure_reported_by_operation(hybrid, agent):
    tenant, synced, _ = hybrid
    agent.outcome = WritebackOutcome("failure", error="OnPremisesAdminActionRequired")
    with graph_mock(tenant):
        c = client(tenant)
        r = c.post(
            f"{G}/users/{synced.id}/authentication/methods/{C.PASSWORD_METHOD_ID}/resetPassword",
            json={"newPassword": "Reset-Passw0rd!"},
        )
        assert r.status_code == 202
        op = c.get(r.headers["Location"]).json()
        assert op["status"] == "failed" and "OnPremisesAdminActionRequired" in op["statusDetail"]
        assert agent.requests[-1].kind == "admin_reset"
        audits = c.get(
            f"{G}/auditLogs/directoryAudits",
            params={"$filter": "activityDisplayName eq 'Reset password (by admin)'"},
        ).json()["value"]
        assert audits[0]["result"] == "failure"
        assert {"key": "OnPremisesAgent", "value": "Microsoft Entra Connect"} in audits[0][
            "additionalDetails"
        ]


def test_me_change_password(mocked: Tenant):
    u = mocked.add_user("m@contoso.com", "M", password=USER_PASSWORD)
    c = client(mocked, u.user_principal_name)
    r = c.post(f"{G}/me/changePassword", json={"currentPassword": "nope", "newPassword": "Changed-Passw0rd"})
    assert_envelope(r, 400, "invalidRequest")
    r = c.post(
        f"{G}/me/changePassword", json={"currentPassword": USER_PASSWORD, "newPassword": "Changed-Passw0rd"}
    )
    assert r.status_code == 204 and mocked.check_password(u.id, "Changed-Passw0rd")


def test_methods_listing(hybrid):
    tenant, _, cloud = hybrid
    with graph_mock(tenant):
        methods = client(tenant).get(f"{G}/users/{cloud.id}/authentication/methods").json()["value"]
        types = [m["@odata.type"] for m in methods]
        assert types == [
            "#microsoft.graph.passwordAuthenticationMethod",
            "#microsoft.graph.phoneAuthenticationMethod",
            "#microsoft.graph.emailAuthenticationMethod",
        ]
        own = client(tenant, cloud.user_principal_name).get(f"{G}/me/authentication/methods")
        assert own.status_code == 200 and len(own.json()["value"]) == 3


def test_portal_toggle_writeback_as_global_admin_and_fail_as_user(mocked: Tenant):
    mocked.add_user("u@contoso.com", "U")
    admin, user = client(mocked), client(mocked, "u@contoso.com")
    url = f"{PORTAL}/OnPremisesPasswordResetPolicies"
    assert_envelope(user.get(url), 403, "Authorization_RequestDenied")
    assert_envelope(
        user.put(url, json={"passwordWritebackSupported": True}), 403, "Authorization_RequestDenied"
    )
    assert admin.get(url).json()["passwordWritebackSupported"] is False
    # Not onboarded by Connect yet: the portal refuses.
    assert_envelope(
        admin.put(url, json={"passwordWritebackSupported": True}), 400, "OnPremisesIntegrationNotConfigured"
    )
    mocked.onboard_password_writeback(mocked.admin_upn, mocked.admin_password)
    assert admin.get(f"{PORTAL}/IsOnPremisesPasswordResetAvailable").json() is True
    on = admin.put(url, json={"passwordWritebackSupported": True, "accountUnlockEnabled": True}).json()
    assert on["passwordWritebackSupported"] and on["accountUnlockEnabled"] and on["accountUnlockSupported"]
    assert mocked.onprem.writeback_enabled and mocked.onprem.unlock_enabled
    assert mocked.audit.query(activity=A.POLICY_CHANGE)[-1].initiated_by == mocked.admin_upn


def test_portal_licence_check():
    t = Tenant.create(licence="none")
    with graph_mock(t):
        r = client(t).get(f"{PORTAL}/OnPremisesPasswordResetPolicies")
        assert_envelope(r, 403, "accessDenied")


def test_portal_policy_blade(mocked: Tenant):
    g = mocked.add_group("SSPR pilot")
    c = client(mocked)
    r = c.put(
        f"{PORTAL}/PasswordResetPolicies",
        json={
            "enablementType": 1,
            "passwordResetEnabledGroupIds": [g.id],
            "numberOfAuthenticationMethodsRequired": 2,
        },
    )
    assert r.json()["enablementType"] == 1 and r.json()["passwordResetEnabledGroupName"] == "SSPR pilot"
    assert mocked.sspr_policy.enablement == "selected" and mocked.sspr_policy.methods_required == 2
    assert_envelope(c.put(f"{PORTAL}/PasswordResetPolicies", json={"enablementType": 7}), 400, "BadRequest")


def _flow(c: httpx.Client, tenant: Tenant, upn: str) -> str:
    begin = c.post(f"{SSPR}/begin", json={"userPrincipalName": upn})
    assert begin.status_code == 200, begin.text
    flow = begin.json()
    for m in flow["methods"][: flow["methodsRequired"]]:
        c.post(f"{SSPR}/sendCode", json={"flowId": flow["flowId"], "methodId": m["id"]})
        left = c.post(
            f"{SSPR}/verify",
            json={"flowId": flow["flowId"], "methodId": m["id"], "answer": tenant.outbox[-1][1]},
        )
        assert left.status_code == 200
    return flow["flowId"]


def test_end_user_flow_success_and_each_gate_code(hybrid, agent):
    tenant, synced, _ = hybrid
    with graph_mock(tenant):
        c = httpx.Client()
        fid = _flow(c, tenant, synced.user_principal_name)
        assert c.post(f"{SSPR}/reset", json={"flowId": fid, "newPassword": "Flow-Passw0rd!"}).json() == {
            "status": "succeeded"
        }
        assert agent.requests[-1].new_password == "Flow-Passw0rd!"
        # Agent rejects -> SSPR_0029 with the verbatim text.
        agent.outcome = WritebackOutcome("failure", error="OnPremisesAdminActionRequired")
        fid = _flow(c, tenant, synced.user_principal_name)
        err = assert_envelope(
            c.post(f"{SSPR}/reset", json={"flowId": fid, "newPassword": "Flow-Passw0rd!"}), 400, "SSPR_0029"
        )
        assert err["message"] == SsprCode.OnPremisesAdminActionRequired.text
        # Writeback disabled in the portal -> SSPR_0010 at begin.
        tenant.set_onprem(writeback_enabled=False)
        err = assert_envelope(
            c.post(f"{SSPR}/begin", json={"userPrincipalName": synced.user_principal_name}), 400, "SSPR_0010"
        )
        assert err["message"] == SsprCode.WritebackNotEnabled.text
        tenant.set_sspr_policy(enablement="none")
        assert_envelope(
            c.post(f"{SSPR}/begin", json={"userPrincipalName": synced.user_principal_name}), 400, "SSPR_0009"
        )
        assert_envelope(c.post(f"{SSPR}/begin", content=b"{nope"), 400, "BadRequest")


def test_token_endpoint_and_jwks(mocked: Tenant):
    from fakes.graph.auth import lab_app

    app = lab_app(mocked)
    login = f"https://login.microsoftonline.com/{mocked.id}"
    r = httpx.post(
        f"{login}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.app_id,
            "client_secret": app.secret,
            "scope": ".default",
        },
    )
    assert r.status_code == 200
    assert (
        httpx.get(f"{G}/users", headers={"Authorization": f"Bearer {r.json()['access_token']}"}).status_code
        == 200
    )
    bad = httpx.post(
        f"{login}/oauth2/v2.0/token",
        data={"grant_type": "password", "username": mocked.admin_upn, "password": "wrong"},
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    keys = httpx.get(f"{login}/discovery/v2.0/keys").json()["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256"
    assert httpx.get("https://login.microsoftonline.com/other.com/discovery/v2.0/keys").status_code == 400


def test_lab_credential_mints_valid_tokens(mocked: Tenant):
    cred = LabCredential(mocked, mocked.admin_upn)
    tok = cred.get_token("https://graph.microsoft.com/.default")
    r = httpx.get(f"{G}/me", headers={"Authorization": f"Bearer {tok.token}"})
    assert r.json()["userPrincipalName"] == mocked.admin_upn


def test_throttling_and_unavailable_are_seeded_and_enveloped(mocked: Tenant):
    c = client(mocked)
    mocked.faults.force("throttle")
    r = c.get(f"{G}/users")
    assert_envelope(r, 429, "TooManyRequests")
    assert r.headers["Retry-After"] == "1"
    assert c.get(f"{G}/users").status_code == 200
    mocked.faults.force("unavailable", retry_after=2)
    r = c.get(f"{G}/users")
    assert_envelope(r, 503, "serviceNotAvailable")
    assert r.headers["Retry-After"] == "2"


def _pattern(seed: int) -> list[int]:
    t = Tenant.create(seed=seed)
    t.faults.configure(throttle_rate=0.3)
    with graph_mock(t):
        c = client(t)
        return [c.get(f"{G}/organization").status_code for _ in range(30)]


def test_fault_rates_are_deterministic_per_seed():
    a, b, other = _pattern(5), _pattern(5), _pattern(6)
    assert a == b and 429 in a and 200 in a
    assert a != other


def test_operation_log_records_requests(mocked: Tenant):
    log = mocked.enable_oplog()
    c = client(mocked)
    c.get(f"{G}/users")
    c.get(f"{G}/users/nobody")
    ops = log.query(protocol="graph")
    assert [(o.actor, o.op, o.target, o.result) for o in ops] == [
        (mocked.admin_upn, "GET", "/v1.0/users", 200),
        (mocked.admin_upn, "GET", "/v1.0/users/nobody", 404),
    ]


def test_openapi_document_lists_routes(mocked: Tenant):
    doc = httpx.get(f"{G}/$openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "post" in doc["paths"]["/v1.0/users/{id}/authentication/methods/{mid}/resetPassword"]
    assert "put" in doc["paths"]["/api/PasswordReset/OnPremisesPasswordResetPolicies"]


def test_unknown_route_and_method(mocked: Tenant):
    c = client(mocked)
    assert_envelope(c.get(f"{G}/nonsense"), 400, "BadRequest")
    assert_envelope(c.delete(f"{G}/subscribedSkus"), 405, "Request_BadRequest")
