"""Portal-internal SSPR blades, the end-user SSPR flow API, and the login (token/JWKS) routes.

PORTAL-INTERNAL: ``/api/PasswordReset/...`` mimics what the Entra admin center calls on
main.iam.ad.ext.azure.com (FACTS 4.7: not a public API; shapes from third-party tooling,
several field names unconfirmed). Saving needs a Global Administrator and a P1/P2 licence.

The end-user flow (``/sspr/...``, served for passwordreset.microsoftonline.com) is the lab's
JSON rendering of the reset portal's pages: begin -> sendCode -> verify -> reset/unlock; each
gate failure is a 400 whose error code/message are the real SSPR_00xx strings.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fakes.graph import audit as A
from fakes.graph import auth, sspr
from fakes.graph import catalog as C
from fakes.graph.errors import INSUFFICIENT_PRIVILEGES, GraphError, SsprError
from fakes.graph.http import body_json, field, principal, tenant_of
from fakes.graph.model import Principal
from fakes.graph.tenant import Tenant

NOT_LICENSED = (
    "accessDenied",
    "Password reset requires a Microsoft Entra ID P1 or P2 license for the tenant.",
)
WRITEBACK_NOT_CONFIGURED = (
    "OnPremisesIntegrationNotConfigured",  # lab code: the portal greys the toggle out instead
    "Password writeback can't be enabled because it isn't configured in Microsoft Entra Connect.",
)
ENABLEMENT = {"none": 0, "selected": 1, "all": 2}
METHOD_FLAGS = {
    "mobilePhoneOptionEnabled": "phone",
    "emailOptionEnabled": "email",
    "mobileAppNotificationEnabled": "microsoftAuthenticator",
    "securityQuestionsOptionEnabled": "securityQuestion",
}


def _portal_admin(request: Request, *, write: bool) -> tuple[Tenant, Principal]:
    tenant = tenant_of(request)
    p = principal(request)
    roles = C.PORTAL_WRITE_ROLES if write else C.PORTAL_READ_ROLES
    if p.kind != "user" or not (p.wids & roles):
        raise GraphError(403, INSUFFICIENT_PRIVILEGES)
    if not tenant.licensed:
        raise GraphError(403, NOT_LICENSED)
    return tenant, p


def _onprem_json(tenant: Tenant) -> dict:
    o = tenant.onprem
    return {
        "passwordWritebackSupported": o.writeback_enabled,
        "accountUnlockEnabled": o.unlock_enabled,
        "accountUnlockSupported": True,
        # Field names below are unconfirmed (FACTS gap 10).
        "cloudProvisioningEnablementForTenant": o.cloud_sync_writeback_enabled,
        "enablementForTenant": o.writeback_supported,
    }


async def onprem_policies(request: Request) -> Response:
    tenant, p = _portal_admin(request, write=request.method == "PUT")
    if request.method == "PUT":
        data = await body_json(request)
        changes = {}
        for key, attr in (
            ("passwordWritebackSupported", "writeback_enabled"),
            ("accountUnlockEnabled", "unlock_enabled"),
            ("cloudProvisioningEnablementForTenant", "cloud_sync_writeback_enabled"),
        ):
            value = field(data, key, bool)
            if value is not None:
                changes[attr] = value
        turning_on = changes.get("writeback_enabled") or changes.get("cloud_sync_writeback_enabled")
        if turning_on and not tenant.onprem.writeback_supported:
            raise GraphError(400, WRITEBACK_NOT_CONFIGURED)
        before = _onprem_json(tenant)
        tenant.set_onprem(**changes)
        tenant.audit.write(
            A.POLICY_CHANGE,
            initiated_by=p.name,
            category="Policy",
            OldValue=str(before),
            NewValue=str(_onprem_json(tenant)),
        )
    return JSONResponse(_onprem_json(tenant))


async def onprem_available(request: Request) -> Response:
    tenant, _ = _portal_admin(request, write=False)
    return JSONResponse(tenant.onprem.writeback_supported)


def _policy_json(tenant: Tenant) -> dict:
    pol = tenant.sspr_policy
    group = tenant.groups.get(pol.group_id or "")
    body = {
        "objectId": "default",
        "enablementType": ENABLEMENT[pol.enablement],
        "numberOfAuthenticationMethodsRequired": pol.methods_required,
        "registrationRequiredOnSignIn": pol.registration_required,
        "registrationReconfirmIntevalInDays": pol.reconfirm_days,
        "passwordResetEnabledGroupIds": [pol.group_id] if pol.group_id else [],
        "passwordResetEnabledGroupName": group.display_name if group else None,
    }
    body.update({flag: kind in pol.allowed_methods for flag, kind in METHOD_FLAGS.items()})
    return body


async def reset_policies(request: Request) -> Response:
    tenant, p = _portal_admin(request, write=request.method == "PUT")
    if request.method == "PUT":
        data = await body_json(request)
        changes: dict = {}
        etype = field(data, "enablementType", int)
        if etype is not None:
            if etype not in (0, 1, 2):
                raise GraphError(400, ("BadRequest", "enablementType must be 0, 1 or 2."))
            changes["enablement"] = {v: k for k, v in ENABLEMENT.items()}[etype]
        count = field(data, "numberOfAuthenticationMethodsRequired", int)
        if count is not None:
            if count not in (1, 2):
                raise GraphError(400, ("BadRequest", "numberOfAuthenticationMethodsRequired must be 1 or 2."))
            changes["methods_required"] = count
        groups = field(data, "passwordResetEnabledGroupIds", list)
        if groups is not None:
            if len(groups) > 1 or any(not isinstance(g, str) or g not in tenant.groups for g in groups):
                raise GraphError(
                    400, ("BadRequest", "passwordResetEnabledGroupIds must name one existing group.")
                )
            changes["group_id"] = groups[0] if groups else None
        reg = field(data, "registrationRequiredOnSignIn", bool)
        if reg is not None:
            changes["registration_required"] = reg
        flags = {flag: field(data, flag, bool) for flag in METHOD_FLAGS}
        if any(v is not None for v in flags.values()):
            current = set(tenant.sspr_policy.allowed_methods)
            for flag, value in flags.items():
                if value is not None:
                    (current.add if value else current.discard)(METHOD_FLAGS[flag])
            changes["allowed_methods"] = tuple(k for k in C.METHOD_KINDS if k in current)
        before = _policy_json(tenant)
        tenant.set_sspr_policy(**changes)
        tenant.audit.write(
            A.POLICY_CHANGE,
            initiated_by=p.name,
            category="Policy",
            OldValue=str(before),
            NewValue=str(_policy_json(tenant)),
        )
    return JSONResponse(_policy_json(tenant))


def portal_routes() -> list[Route]:
    base = "/api/PasswordReset"
    return [
        Route(base + "/OnPremisesPasswordResetPolicies", onprem_policies, methods=["GET", "PUT"]),
        Route(base + "/IsOnPremisesPasswordResetAvailable", onprem_available, methods=["GET"]),
        Route(base + "/PasswordResetPolicies", reset_policies, methods=["GET", "PUT"]),
    ]


# --- end-user SSPR flow --------------------------------------------------------------------
def _sspr_error(err: SsprError) -> GraphError:
    return GraphError(400, (err.code, err.message))


async def _flow_call(request: Request, action) -> Response:
    tenant = tenant_of(request)
    data = await body_json(request)
    try:
        flow = sspr.get_flow(tenant, field(data, "flowId", str, required=True))
        request.scope["state"]["actor"] = flow.upn
        result = action(tenant, flow, data)
    except SsprError as err:
        raise _sspr_error(err) from err
    return JSONResponse(result)


async def sspr_begin(request: Request) -> Response:
    tenant = tenant_of(request)
    data = await body_json(request)
    upn = field(data, "userPrincipalName", str, required=True)
    request.scope["state"]["actor"] = upn
    try:
        flow = sspr.begin(tenant, upn)
    except SsprError as err:
        raise _sspr_error(err) from err
    return JSONResponse(
        {
            "flowId": flow.id,
            "methodsRequired": flow.methods_required,
            "unlockAvailable": flow.unlock_available,
            "methods": [
                {
                    "id": m.id,
                    "type": m.kind,
                    "display": m.value if m.kind == "securityQuestion" else sspr.mask(m.value),
                }
                for m in flow.methods
            ],
        }
    )


async def sspr_send(request: Request) -> Response:
    return await _flow_call(
        request, lambda t, f, d: {"sentTo": sspr.send_code(t, f, field(d, "methodId", str, required=True))}
    )


async def sspr_verify(request: Request) -> Response:
    return await _flow_call(
        request,
        lambda t, f, d: {
            "remaining": sspr.verify(
                t, f, field(d, "methodId", str, required=True), field(d, "answer", str, required=True)
            )
        },
    )


async def sspr_reset(request: Request) -> Response:
    def act(t, f, d):
        sspr.submit(t, f, field(d, "newPassword", str, required=True), unlock=bool(field(d, "unlock", bool)))
        return {"status": "succeeded"}

    return await _flow_call(request, act)


async def sspr_unlock(request: Request) -> Response:
    def act(t, f, d):
        sspr.unlock_account(t, f)
        return {"status": "succeeded"}

    return await _flow_call(request, act)


def sspr_routes() -> list[Route]:
    return [
        Route("/sspr/begin", sspr_begin, methods=["POST"]),
        Route("/sspr/sendCode", sspr_send, methods=["POST"]),
        Route("/sspr/verify", sspr_verify, methods=["POST"]),
        Route("/sspr/reset", sspr_reset, methods=["POST"]),
        Route("/sspr/unlock", sspr_unlock, methods=["POST"]),
    ]


# --- login.microsoftonline.com ---------------------------------------------------------------
def _check_tenant(request: Request) -> Tenant:
    tenant = tenant_of(request)
    key = request.path_params["tenant"].lower()
    if key not in (tenant.id, *tenant.verified_domains, "common", "organizations"):
        raise GraphError(400, ("invalid_tenant", f"AADSTS90002: Tenant '{key}' not found."))
    return tenant


async def token(request: Request) -> Response:
    tenant = _check_tenant(request)
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    status, body = auth.token_response(tenant, form)
    return JSONResponse(body, status)


async def keys(request: Request) -> Response:
    return JSONResponse(auth.jwks(_check_tenant(request)))


async def openid_configuration(request: Request) -> Response:
    tenant = _check_tenant(request)
    base = f"{request.url.scheme}://{request.url.netloc}/{tenant.id}"
    return JSONResponse(
        {
            "issuer": auth.issuer(tenant),
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "NA",
        }
    )


def login_routes() -> list[Route]:
    return [
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
        Route("/{tenant}/discovery/v2.0/keys", keys, methods=["GET"]),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
    ]
