"""An OpenAPI 3.0 description of the app's routes (served at ``/v1.0/$openapi.json``).

Generated from the Starlette route table so it never drifts from what is served; request
bodies are described for the routes that take one. Fuzzers use it to enumerate inputs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_STR, _BOOL, _INT = {"type": "string"}, {"type": "boolean"}, {"type": "integer"}


def _obj(**props: dict) -> dict:
    return {"type": "object", "properties": props}


BODIES: dict[tuple[str, str], dict] = {
    ("POST", "/v1.0/users"): _obj(
        accountEnabled=_BOOL,
        displayName=_STR,
        userPrincipalName=_STR,
        mail=_STR,
        passwordProfile=_obj(password=_STR, forceChangePasswordNextSignIn=_BOOL),
    ),
    ("PATCH", "/v1.0/users/{id}"): _obj(
        displayName=_STR,
        accountEnabled=_BOOL,
        jobTitle=_STR,
        passwordPolicies=_STR,
        passwordProfile=_obj(password=_STR, forceChangePasswordNextSignIn=_BOOL),
    ),
    ("POST", "/v1.0/users/{id}/authentication/methods/{mid}/resetPassword"): _obj(newPassword=_STR),
    ("POST", "/v1.0/me/changePassword"): _obj(currentPassword=_STR, newPassword=_STR),
    ("PATCH", "/v1.0/directory/onPremisesSynchronization/{id}"): _obj(features={"type": "object"}),
    ("PATCH", "/v1.0/policies/authorizationPolicy"): _obj(allowedToUseSSPR=_BOOL),
    ("PUT", "/api/PasswordReset/OnPremisesPasswordResetPolicies"): _obj(
        passwordWritebackSupported=_BOOL,
        accountUnlockEnabled=_BOOL,
        cloudProvisioningEnablementForTenant=_BOOL,
    ),
    ("PUT", "/api/PasswordReset/PasswordResetPolicies"): _obj(
        enablementType=_INT,
        numberOfAuthenticationMethodsRequired=_INT,
        passwordResetEnabledGroupIds={"type": "array", "items": _STR},
        registrationRequiredOnSignIn=_BOOL,
    ),
    ("POST", "/sspr/begin"): _obj(userPrincipalName=_STR),
    ("POST", "/sspr/sendCode"): _obj(flowId=_STR, methodId=_STR),
    ("POST", "/sspr/verify"): _obj(flowId=_STR, methodId=_STR, answer=_STR),
    ("POST", "/sspr/reset"): _obj(flowId=_STR, newPassword=_STR, unlock=_BOOL),
    ("POST", "/sspr/unlock"): _obj(flowId=_STR),
}
COLLECTION_PARAMS = [
    {"name": n, "in": "query", "required": False, "schema": _STR}
    for n in ("$filter", "$select", "$top", "$skiptoken", "$orderby", "$count")
]
COLLECTIONS = {
    "/v1.0/users",
    "/v1.0/directoryRoles",
    "/v1.0/roleManagement/directory/roleAssignments",
    "/v1.0/auditLogs/directoryAudits",
    "/v1.0/groups",
}
_ERROR = {
    "description": "Graph error envelope",
    "content": {
        "application/json": {
            "schema": _obj(
                error=_obj(code=_STR, message=_STR, innerError=_obj(**{"request-id": _STR, "date": _STR}))
            )
        }
    },
}


def build_openapi(routes: Iterable) -> dict:
    """The document for ``routes`` (Starlette ``Route`` objects)."""
    paths: dict[str, dict] = {}
    for route in routes:
        path = getattr(route, "path", None)
        methods = getattr(route, "methods", None)
        if not path or not methods:
            continue
        names = re.findall(r"{(\w+)}", path)
        for method in sorted(m for m in methods if m != "HEAD"):
            op: dict = {
                "operationId": f"{method.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_')}",
                "parameters": [{"name": n, "in": "path", "required": True, "schema": _STR} for n in names],
                "responses": {
                    "200": {"description": "OK"},
                    "400": _ERROR,
                    "401": _ERROR,
                    "403": _ERROR,
                    "404": _ERROR,
                },
            }
            if method == "GET" and path in COLLECTIONS:
                op["parameters"] += COLLECTION_PARAMS
            body = BODIES.get((method, path))
            if body is not None:
                op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "simlab fake Microsoft Graph + Entra portal", "version": "1.0"},
        "servers": [{"url": "https://graph.microsoft.com"}],
        "paths": paths,
    }
