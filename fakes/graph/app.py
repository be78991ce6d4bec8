"""The Starlette app: a Graph v1.0 subset, plus portal, SSPR and login routes, over one tenant.

``build_app(tenant)`` returns an ASGI app serving every host the lab fakes
(graph.microsoft.com, main.iam.ad.ext.azure.com, passwordreset.microsoftonline.com,
login.microsoftonline.com) by path: ``/v1.0/...`` Graph, ``/api/PasswordReset/...`` portal,
``/sspr/...`` end-user flow, ``/{tenant}/oauth2/...`` login. The OpenAPI document is at
``/v1.0/$openapi.json``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakes.graph import catalog as C
from fakes.graph import directory, odata, shapes, sspr
from fakes.graph.errors import (
    INSUFFICIENT_PRIVILEGES,
    ONPREM_POLICY_ADMIN,
    PASSWORD_COMPLEXITY,
    SYNCED_OBJECT_UPDATE,
    GraphError,
    SsprError,
    bad_request,
    invalid_request,
    method_not_allowed,
    no_route,
    not_found,
)
from fakes.graph.http import (
    META,
    READ_METHODS,
    READ_USERS,
    WRITE_USERS,
    GraphMiddleware,
    body_json,
    collection,
    field,
    find_user,
    json_response,
    principal,
    render_error,
    require,
    tenant_of,
)
from fakes.graph.model import Principal, User
from fakes.graph.tenant import Tenant, meets_cloud_policy

# Properties Entra masters on-premises for synced users (PATCH -> FACTS 4.4 400).
MASTERED = {
    "displayName",
    "givenName",
    "surname",
    "mail",
    "accountEnabled",
    "userPrincipalName",
    "jobTitle",
    "department",
    "passwordProfile",
}
PATCHABLE = {
    "displayName": str,
    "givenName": str,
    "surname": str,
    "jobTitle": str,
    "department": str,
    "accountEnabled": bool,
    "usageLocation": str,
    "passwordPolicies": str,
    "passwordProfile": dict,
    "mail": str,
}


# --- users ----------------------------------------------------------------------------
async def list_users(request: Request) -> Response:
    tenant = tenant_of(request)
    require(principal(request), delegated=READ_USERS, app=READ_USERS)
    with tenant.lock:  # only the users the page shows are shaped, unless a filter or order needs all
        return collection(request, list(tenant.users.values()), shapes.USER_PROPERTIES,
                          "microsoft.graph.user", "users", shapes.DEFAULT_USER_FIELDS,
                          shape=lambda u: shapes.user_json(tenant, u))


def _one_user(request: Request, user: User) -> Response:
    tenant = tenant_of(request)
    select = odata.parse_select(
        request.query_params.get("$select"), shapes.USER_PROPERTIES, "microsoft.graph.user"
    )
    body = {
        "@odata.context": META + "users/$entity",
        **odata.project(shapes.user_json(tenant, user), select, shapes.DEFAULT_USER_FIELDS),
    }
    return json_response(body)


async def get_user(request: Request) -> Response:
    tenant = tenant_of(request)
    p = principal(request)
    user = find_user(tenant, request.path_params["id"])
    if not (p.kind == "user" and p.id == user.id):
        require(p, delegated=READ_USERS, app=READ_USERS)
    return _one_user(request, user)


def _me(request: Request) -> tuple[Principal, User]:
    p = principal(request)
    if p.kind != "user":
        raise GraphError(400, bad_request("/me request is only valid with delegated authentication flow."))
    return p, find_user(tenant_of(request), p.id)


async def get_me(request: Request) -> Response:
    _, user = _me(request)
    return _one_user(request, user)


async def create_user(request: Request) -> Response:
    tenant = tenant_of(request)
    p = principal(request)
    require(p, delegated=WRITE_USERS, app=WRITE_USERS, roles=C.USER_WRITE_ROLES)
    data = await body_json(request)
    upn = field(data, "userPrincipalName", str, required=True)
    name = field(data, "displayName", str, required=True)
    profile = field(data, "passwordProfile", dict, required=True)
    password = field(profile, "password", str, required=True)
    if not meets_cloud_policy(password):
        raise GraphError(400, PASSWORD_COMPLEXITY)
    enabled = field(data, "accountEnabled", bool, required=True)
    try:
        user = tenant.add_user(
            upn,
            name,
            password=password,
            account_enabled=enabled,
            mail=field(data, "mail", str),
            force_change_password_next_sign_in=bool(profile.get("forceChangePasswordNextSignIn")),
        )
    except ValueError as exc:
        raise GraphError(400, ("Request_BadRequest", str(exc))) from exc
    body = {
        "@odata.context": META + "users/$entity",
        **odata.project(shapes.user_json(tenant, user), None, shapes.DEFAULT_USER_FIELDS),
    }
    return json_response(body, 201)


async def patch_user(request: Request) -> Response:
    tenant = tenant_of(request)
    p = principal(request)
    user = find_user(tenant, request.path_params["id"])
    data = await body_json(request)
    password_only = set(data) <= {"passwordProfile"}
    require(
        p,
        delegated=WRITE_USERS,
        app=WRITE_USERS,
        roles=C.PASSWORD_WRITE_ROLES if password_only else C.USER_WRITE_ROLES,
    )
    for key, value in data.items():
        kind = PATCHABLE.get(key)
        if kind is None:
            raise GraphError(400, ("Request_BadRequest", f"Invalid property '{key}'."))
        if value is not None and not isinstance(value, kind):
            raise GraphError(400, bad_request(f"Invalid value for property '{key}'."))
    if user.synced and set(data) & MASTERED:
        raise GraphError(400, SYNCED_OBJECT_UPDATE)
    changes: dict = {}
    names = {
        "displayName": "display_name",
        "givenName": "given_name",
        "surname": "surname",
        "jobTitle": "job_title",
        "department": "department",
        "accountEnabled": "account_enabled",
        "usageLocation": "usage_location",
        "passwordPolicies": "password_policies",
        "mail": "mail",
    }
    for key, attr in names.items():
        if key in data:
            if key == "accountEnabled" and data[key] is None:
                continue
            changes[attr] = data[key]
    profile = data.get("passwordProfile")
    if profile:
        password = field(profile, "password", str)
        force = field(profile, "forceChangePasswordNextSignIn", bool)
        if password is not None:
            if not meets_cloud_policy(password):
                raise GraphError(400, PASSWORD_COMPLEXITY)
            tenant.set_cloud_password(user.id, password, force_change=bool(force))
        elif force is not None:
            changes["force_change_password_next_sign_in"] = force
    if changes:
        tenant.update_user(user.id, **changes)
    return Response(status_code=204)


# --- authentication methods and password operations -------------------------------------
def _methods_target(request: Request, p: Principal) -> User:
    tenant = tenant_of(request)
    key = request.path_params.get("id")
    user = find_user(tenant, key) if key else find_user(tenant, p.id if p.kind == "user" else "")
    if p.kind == "user" and p.id == user.id:
        require(p, delegated=READ_METHODS)
    else:
        require(
            p,
            delegated=("UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"),
            app=("UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"),
            roles=C.PASSWORD_WRITE_ROLES | C.RESET_PASSWORD_ROLES,
        )
    return user


async def list_methods(request: Request) -> Response:
    tenant = tenant_of(request)
    p = principal(request)
    user = _methods_target(request, p)
    items = [shapes.password_method_json(user)]
    items += [m for m in (shapes.method_json(x) for x in tenant.methods_of(user)) if m is not None]
    return json_response(
        {"@odata.context": META + f"users('{user.id}')/authentication/methods", "value": items}
    )


async def list_password_methods(request: Request) -> Response:
    p = principal(request)
    user = _methods_target(request, p)
    return json_response(
        {
            "@odata.context": META + f"users('{user.id}')/authentication/passwordMethods",
            "value": [shapes.password_method_json(user)],
        }
    )


async def reset_password(request: Request) -> Response:
    tenant = tenant_of(request)
    p = principal(request)
    user = find_user(tenant, request.path_params["id"])
    if p.kind != "user":
        raise GraphError(403, INSUFFICIENT_PRIVILEGES)  # FACTS 4.5: app-only not supported
    require(p, delegated=("UserAuthenticationMethod.ReadWrite.All",), roles=C.RESET_PASSWORD_ROLES)
    if p.id == user.id:
        raise GraphError(403, INSUFFICIENT_PRIVILEGES)  # FACTS 4.5: not on one's own account
    if request.path_params["mid"] != C.PASSWORD_METHOD_ID:
        raise GraphError(404, not_found(request.path_params["mid"]))
    data = await body_json(request, required=False)
    new_password = field(data, "newPassword", str)
    if new_password is None and user.synced:
        raise GraphError(
            400,
            invalid_request(
                "newPassword is required for users whose password is written back to on-premises."
            ),
        )
    if new_password is not None and not user.synced and not meets_cloud_policy(new_password):
        raise GraphError(400, PASSWORD_COMPLEXITY)
    op = sspr.admin_reset(tenant, p.name, user, new_password)
    location = (
        f"https://graph.microsoft.com/v1.0/users/{user.id}/authentication/operations/{op.id}"
        "?aadgdc=DUB02P&aadgsu=ssprprod-a"
    )
    body: dict = {}
    if op.new_password is not None:
        body = {
            "@odata.context": META + "microsoft.graph.passwordResetResponse",
            "newPassword": op.new_password,
        }
    return json_response(body, 202, headers={"Location": location})


def _op_location(user: User, op_id: str) -> str:
    return f"https://graph.microsoft.com/v1.0/users/{user.id}/authentication/passwordMethods/{C.PASSWORD_METHOD_ID}"


async def get_operation(request: Request) -> Response:
    tenant = tenant_of(request)
    p = principal(request)
    user = _methods_target(request, p)
    op = tenant.operations.get(request.path_params["op"])
    if op is None or op.user_id != user.id:
        raise GraphError(404, not_found(request.path_params["op"]))
    return json_response(
        {
            "@odata.context": META + f"users('{user.id}')/authentication/operations/$entity",
            **shapes.operation_json(op, _op_location(user, op.id)),
        }
    )


async def list_operations(request: Request) -> Response:
    tenant = tenant_of(request)
    p = principal(request)
    user = _methods_target(request, p)
    ops = [
        shapes.operation_json(o, _op_location(user, o.id))
        for o in tenant.operations.values()
        if o.user_id == user.id
    ]
    return json_response(
        {"@odata.context": META + f"users('{user.id}')/authentication/operations", "value": ops}
    )


async def change_password(request: Request) -> Response:
    tenant = tenant_of(request)
    _, user = _me(request)
    data = await body_json(request)
    current = field(data, "currentPassword", str, required=True)
    new = field(data, "newPassword", str, required=True)
    try:
        sspr.change_password(tenant, user, current, new)
    except SsprError as err:
        if err.enum_name in ("PasswordPolicyViolation",) and not user.synced:
            raise GraphError(400, PASSWORD_COMPLEXITY) from err
        if err.reason in ("PasswordPolicyViolation", "ADPasswordPolicyError"):
            raise GraphError(400, ONPREM_POLICY_ADMIN) from err
        if err.enum_name == "IncorrectCurrentPassword":
            raise GraphError(400, invalid_request("Invalid currentPassword.")) from err
        raise GraphError(400, invalid_request(err.message)) from err
    return Response(status_code=204)


async def openapi_doc(request: Request) -> Response:
    from fakes.graph.openapi import build_openapi

    return json_response(build_openapi(request.app.routes))


def graph_routes() -> list[Route]:
    u = "/v1.0/users/{id}"
    return [
        Route("/v1.0/$openapi.json", openapi_doc, methods=["GET"]),
        Route("/v1.0/users", list_users, methods=["GET"]),
        Route("/v1.0/users", create_user, methods=["POST"]),
        Route("/v1.0/me", get_me, methods=["GET"]),
        Route("/v1.0/me/changePassword", change_password, methods=["POST"]),
        Route("/v1.0/me/authentication/methods", list_methods, methods=["GET"]),
        Route(u, get_user, methods=["GET"]),
        Route(u, patch_user, methods=["PATCH"]),
        Route(u + "/authentication/methods", list_methods, methods=["GET"]),
        Route(u + "/authentication/passwordMethods", list_password_methods, methods=["GET"]),
        Route(u + "/authentication/methods/{mid}/resetPassword", reset_password, methods=["POST"]),
        Route(u + "/authentication/operations", list_operations, methods=["GET"]),
        Route(u + "/authentication/operations/{op}", get_operation, methods=["GET"]),
        Route("/v1.0/subscribedSkus", directory.subscribed_skus, methods=["GET"]),
        Route("/v1.0/organization", directory.organization, methods=["GET"]),
        Route("/v1.0/organization/{id}", directory.organization, methods=["GET"]),
        Route("/v1.0/directory/onPremisesSynchronization", directory.onprem_sync, methods=["GET"]),
        Route(
            "/v1.0/directory/onPremisesSynchronization/{id}", directory.onprem_sync, methods=["GET", "PATCH"]
        ),
        Route("/v1.0/directoryRoles", directory.directory_roles, methods=["GET"]),
        Route("/v1.0/directoryRoles/{id}/members", directory.directory_role_members, methods=["GET"]),
        Route("/v1.0/roleManagement/directory/roleAssignments", directory.role_assignments, methods=["GET"]),
        Route("/v1.0/auditLogs/directoryAudits", directory.directory_audits, methods=["GET"]),
        Route("/v1.0/groups", directory.list_groups, methods=["GET"]),
        Route("/v1.0/groups/{id}/members", directory.group_members, methods=["GET"]),
        Route("/v1.0/policies/authorizationPolicy", directory.authorization_policy, methods=["GET", "PATCH"]),
    ]


def build_app(tenant: Tenant) -> GraphMiddleware:
    """The ASGI app for ``tenant`` (Graph + portal + SSPR + login), wrapped in :class:`GraphMiddleware`."""
    from fakes.graph.portal import login_routes, portal_routes, sspr_routes

    routes = [*graph_routes(), *portal_routes(), *sspr_routes(), *login_routes()]
    handlers = {404: _unknown, 405: _bad_method, GraphError: render_error, Exception: render_error}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.tenant = tenant
    return GraphMiddleware(app, tenant)


async def _unknown(request: Request, exc: Exception) -> Response:
    return render_error(request, GraphError(400, no_route(request.url.path)))


async def _bad_method(request: Request, exc: Exception) -> Response:
    return render_error(request, GraphError(405, method_not_allowed()))
