"""Graph v1.0 tenant-level resources: licences, organization, sync settings, roles, audit, groups, policy."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from fakes.graph import catalog as C
from fakes.graph import odata, shapes
from fakes.graph.audit import audit_to_graph
from fakes.graph.errors import GraphError, bad_request, not_found
from fakes.graph.http import (
    META,
    READ_ORG,
    READ_ROLES,
    READ_USERS,
    SYNC_READ,
    body_json,
    collection,
    field,
    json_response,
    principal,
    require,
    tenant_of,
)
from fakes.graph.tenant import Tenant


async def subscribed_skus(request: Request) -> Response:
    tenant = tenant_of(request)
    require(principal(request), delegated=READ_ORG, app=("Organization.Read.All", "Directory.Read.All"))
    return json_response(
        {
            "@odata.context": META + "subscribedSkus",
            "value": [shapes.sku_json(tenant, s) for s in tenant.subscribed_skus()],
        }
    )


async def organization(request: Request) -> Response:
    tenant = tenant_of(request)
    require(principal(request), delegated=READ_ORG, app=("Organization.Read.All", "Directory.Read.All"))
    org = shapes.organization_json(tenant)
    if "id" in request.path_params:
        if request.path_params["id"] != tenant.id:
            raise GraphError(404, not_found(request.path_params["id"]))
        return json_response({"@odata.context": META + "organization/$entity", **org})
    return json_response({"@odata.context": META + "organization", "value": [org]})


async def onprem_sync(request: Request) -> Response:
    tenant = tenant_of(request)
    p = principal(request)
    require(p, delegated=SYNC_READ, app=SYNC_READ, roles=C.WRITEBACK_ONBOARDING_ROLES)
    if "id" in request.path_params and request.path_params["id"] != tenant.id:
        raise GraphError(404, not_found(request.path_params["id"]))
    if request.method == "PATCH":
        require(
            p,
            delegated=("OnPremDirectorySynchronization.ReadWrite.All",),
            app=("OnPremDirectorySynchronization.ReadWrite.All",),
            roles=C.WRITEBACK_ONBOARDING_ROLES,
        )
        data = await body_json(request)
        features = field(data, "features", dict) or {}
        for key, value in features.items():
            if not isinstance(value, bool) or key not in shapes.sync_json(tenant)["features"]:
                raise GraphError(400, bad_request(f"Invalid value for property '{key}'."))
            if key != "passwordWritebackEnabled":  # FACTS 4.3: not in use; updates are ignored
                tenant.sync_features[key] = value
        return Response(status_code=204)
    body = shapes.sync_json(tenant)
    if "id" in request.path_params:
        return json_response({"@odata.context": META + "directory/onPremisesSynchronization/$entity", **body})
    return json_response({"@odata.context": META + "directory/onPremisesSynchronization", "value": [body]})


def _role_object_id(tenant: Tenant, template: str) -> str:
    return str(uuid.uuid5(uuid.UUID(tenant.id), template))


async def directory_roles(request: Request) -> Response:
    tenant = tenant_of(request)
    require(principal(request), delegated=READ_ROLES, app=READ_ROLES)
    with tenant.lock:
        active = sorted({r.role_definition_id for r in tenant.role_assignments.values()})
    roles = [shapes.role_json(t, _role_object_id(tenant, t)) for t in active]
    return collection(
        request,
        roles,
        ("id", "displayName", "description", "roleTemplateId"),
        "microsoft.graph.directoryRole",
        "directoryRoles",
    )


async def directory_role_members(request: Request) -> Response:
    tenant = tenant_of(request)
    require(principal(request), delegated=READ_ROLES, app=READ_ROLES)
    rid = request.path_params["id"]
    template = next((t for t in C.ROLE_NAMES if rid in (t, _role_object_id(tenant, t))), None)
    if template is None:
        raise GraphError(404, not_found(rid))
    with tenant.lock:
        members = [
            tenant.users[r.principal_id]
            for r in tenant.role_assignments.values()
            if r.role_definition_id == template and r.principal_id in tenant.users
        ]
    value = [
        {
            "@odata.type": "#microsoft.graph.user",
            **odata.project(shapes.user_json(tenant, u), None, shapes.DEFAULT_USER_FIELDS),
        }
        for u in members
    ]
    return json_response({"@odata.context": META + "directoryObjects", "value": value})


async def role_assignments(request: Request) -> Response:
    tenant = tenant_of(request)
    require(principal(request), delegated=READ_ROLES, app=READ_ROLES)
    with tenant.lock:
        items = [shapes.assignment_json(r) for r in tenant.role_assignments.values()]
    return collection(
        request,
        items,
        shapes.ASSIGNMENT_PROPERTIES,
        "microsoft.graph.unifiedRoleAssignment",
        "roleManagement/directory/roleAssignments",
    )


async def directory_audits(request: Request) -> Response:
    tenant = tenant_of(request)
    require(
        principal(request), delegated=("AuditLog.Read.All",), app=("AuditLog.Read.All",), roles=C.ADMIN_ROLES
    )
    items = list(tenant.audit)[::-1]  # newest first; only the page is shaped unless filtered
    props = (
        "id",
        "category",
        "correlationId",
        "result",
        "resultReason",
        "activityDisplayName",
        "activityDateTime",
        "loggedByService",
        "operationType",
        "initiatedBy",
        "targetResources",
        "additionalDetails",
    )
    return collection(request, items, props, "microsoft.graph.directoryAudit", "auditLogs/directoryAudits",
                      shape=audit_to_graph)


async def list_groups(request: Request) -> Response:
    tenant = tenant_of(request)
    require(
        principal(request), delegated=("Group.Read.All", *READ_USERS), app=("Group.Read.All", *READ_USERS)
    )
    items = [shapes.group_json(g) for g in tenant.groups.values()]
    return collection(request, items, shapes.GROUP_PROPERTIES, "microsoft.graph.group", "groups")


async def group_members(request: Request) -> Response:
    tenant = tenant_of(request)
    require(
        principal(request), delegated=("Group.Read.All", *READ_USERS), app=("Group.Read.All", *READ_USERS)
    )
    group = tenant.groups.get(request.path_params["id"])
    if group is None:
        raise GraphError(404, not_found(request.path_params["id"]))
    value = [
        {
            "@odata.type": "#microsoft.graph.user",
            **odata.project(shapes.user_json(tenant, tenant.users[m]), None, shapes.DEFAULT_USER_FIELDS),
        }
        for m in sorted(group.members)
        if m in tenant.users
    ]
    return json_response({"@odata.context": META + "directoryObjects", "value": value})


async def authorization_policy(request: Request) -> Response:
    tenant = tenant_of(request)
    p = principal(request)
    require(p, delegated=("Policy.Read.All", "Policy.ReadWrite.Authorization"), app=("Policy.Read.All",))
    if request.method == "PATCH":
        require(p, delegated=("Policy.ReadWrite.Authorization",), roles=frozenset({C.GLOBAL_ADMINISTRATOR}))
        data = await body_json(request)
        value = field(data, "allowedToUseSSPR", bool)
        if value is not None:
            tenant.allowed_to_use_sspr = value
        return Response(status_code=204)
    return json_response(
        {
            "@odata.context": META + "policies/authorizationPolicy/$entity",
            "id": "authorizationPolicy",
            "displayName": "Authorization Policy",
            "allowedToUseSSPR": tenant.allowed_to_use_sspr,
            "allowEmailVerifiedUsersToJoinOrganization": False,
            "blockMsolPowerShell": False,
        }
    )
