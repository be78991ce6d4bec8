"""Graph v1.0 JSON shapes for the tenant's records (what clients deserialize)."""

from __future__ import annotations

from fakes.graph import catalog as C
from fakes.graph.audit import iso
from fakes.graph.model import AuthMethod, Group, LongRunningOperation, RoleAssignment, User
from fakes.graph.tenant import Tenant

#: Properties Graph v1.0 returns for a user when no $select is given.
DEFAULT_USER_FIELDS = (
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
)


def user_json(tenant: Tenant, user: User) -> dict:
    """Every supported user property (callers project to $select or the default set)."""
    return {
        "id": user.id,
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": user.given_name,
        "jobTitle": user.job_title,
        "mail": user.mail,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "surname": user.surname,
        "userPrincipalName": user.user_principal_name,
        "accountEnabled": user.account_enabled,
        "createdDateTime": iso(user.created),
        "department": user.department,
        "usageLocation": user.usage_location,
        "userType": "Member",
        "passwordPolicies": user.password_policies,
        "passwordProfile": {
            "forceChangePasswordNextSignIn": user.force_change_password_next_sign_in,
            "password": None,
        },
        "lastPasswordChangeDateTime": iso(user.last_password_change or user.created),
        "onPremisesSyncEnabled": user.on_premises_sync_enabled,
        "onPremisesImmutableId": user.on_premises_immutable_id,
        "onPremisesSamAccountName": user.on_premises_sam_account_name,
        "onPremisesDistinguishedName": user.on_premises_distinguished_name,
        "onPremisesSecurityIdentifier": user.on_premises_security_identifier,
        "onPremisesDomainName": user.on_premises_domain_name,
        "onPremisesUserPrincipalName": user.on_premises_user_principal_name,
        "onPremisesLastSyncDateTime": iso(user.on_premises_last_sync),
    }


USER_PROPERTIES = (
    "id",
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
    "accountEnabled",
    "createdDateTime",
    "department",
    "usageLocation",
    "userType",
    "passwordPolicies",
    "passwordProfile",
    "lastPasswordChangeDateTime",
    "onPremisesSyncEnabled",
    "onPremisesImmutableId",
    "onPremisesSamAccountName",
    "onPremisesDistinguishedName",
    "onPremisesSecurityIdentifier",
    "onPremisesDomainName",
    "onPremisesUserPrincipalName",
    "onPremisesLastSyncDateTime",
)


def group_json(group: Group) -> dict:
    return {
        "id": group.id,
        "displayName": group.display_name,
        "mailNickname": group.mail_nickname,
        "securityEnabled": group.security_enabled,
        "mailEnabled": False,
        "groupTypes": [],
        "createdDateTime": iso(group.created),
    }


GROUP_PROPERTIES = (
    "id",
    "displayName",
    "mailNickname",
    "securityEnabled",
    "mailEnabled",
    "groupTypes",
    "createdDateTime",
)


def method_json(method: AuthMethod) -> dict | None:
    """Graph authenticationMethod JSON; security questions have no v1.0 representation (None)."""
    odata = C.ODATA_TYPES.get(method.kind)
    if odata is None:
        return None
    body: dict = {"@odata.type": odata, "id": method.id}
    if method.kind == "phone":
        body.update(phoneNumber=method.value, phoneType=method.phone_type, smsSignInState="notSupported")
    elif method.kind == "email":
        body.update(emailAddress=method.value)
    else:
        body.update(
            displayName=method.value,
            deviceTag="SoftwareTokenActivated",
            phoneAppVersion="6.2401.0119",
            createdDateTime=iso(method.created),
        )
    return body


def password_method_json(user: User) -> dict:
    return {
        "@odata.type": C.ODATA_TYPES["password"],
        "id": C.PASSWORD_METHOD_ID,
        "password": None,
        "createdDateTime": iso(user.last_password_change or user.created),
    }


def sku_json(tenant: Tenant, sku: C.SkuInfo) -> dict:
    return {
        "id": f"{tenant.id}_{sku.sku_id}",
        "accountId": tenant.id,
        "accountName": tenant.display_name,
        "appliesTo": "User",
        "capabilityStatus": "Enabled",
        "consumedUnits": len(tenant.users),
        "skuId": sku.sku_id,
        "skuPartNumber": sku.sku_part_number,
        "subscriptionIds": [],
        "prepaidUnits": {"enabled": 25, "suspended": 0, "warning": 0, "lockedOut": 0},
        "servicePlans": [
            {
                "servicePlanId": pid,
                "servicePlanName": name,
                "provisioningStatus": "Success",
                "appliesTo": "User",
            }
            for pid, name in sku.service_plans
        ],
    }


def organization_json(tenant: Tenant) -> dict:
    return {
        "id": tenant.id,
        "displayName": tenant.display_name,
        "tenantType": "AAD",
        "createdDateTime": None,
        "onPremisesSyncEnabled": tenant.on_premises_sync_enabled,
        "onPremisesLastSyncDateTime": iso(tenant.on_premises_last_sync),
        "verifiedDomains": [
            {
                "name": d,
                "type": "Managed",
                "isDefault": d == tenant.domain,
                "isInitial": d == tenant.initial_domain,
                "capabilities": "Email, OfficeCommunicationsOnline",
            }
            for d in tenant.verified_domains
        ],
        "assignedPlans": [
            {
                "service": "AADPremiumService",
                "capabilityStatus": "Enabled",
                "servicePlanId": pid,
                "assignedDateTime": None,
            }
            for sku in tenant.subscribed_skus()
            for pid, _ in sku.service_plans
        ],
    }


def sync_json(tenant: Tenant) -> dict:
    """onPremisesDirectorySynchronization (FACTS 4.3); feature flags default off."""
    names = (
        "blockCloudObjectTakeoverThroughHardMatch",
        "blockSoftMatch",
        "bypassDirSyncOverrides",
        "cloudPasswordPolicyForPasswordSyncedUsers",
        "concurrentCredentialUpdate",
        "concurrentOrgIdProvisioning",
        "deviceWriteback",
        "directoryExtensions",
        "fopeConflictResolution",
        "groupWriteBack",
        "passwordSync",
        "passwordWriteback",
        "quarantineUponProxyAddressesConflict",
        "quarantineUponUpnConflict",
        "softMatchOnUpn",
        "synchronizeUpnForManagedUsers",
        "unifiedGroupWriteback",
        "userForcePasswordChangeOnLogon",
        "userWriteback",
    )
    features = {f"{n}Enabled": tenant.sync_features.get(f"{n}Enabled", False) for n in names}
    return {
        "id": tenant.id,
        "configuration": {
            "accidentalDeletionPrevention": None,
            "synchronizationInterval": "PT30M",
            "customerRequestedSynchronizationInterval": None,
        },
        "features": features,
    }


def role_json(template_id: str, role_object_id: str) -> dict:
    return {
        "id": role_object_id,
        "displayName": C.ROLE_NAMES[template_id],
        "description": None,
        "roleTemplateId": template_id,
    }


def assignment_json(ra: RoleAssignment) -> dict:
    return {
        "id": ra.id,
        "principalId": ra.principal_id,
        "roleDefinitionId": ra.role_definition_id,
        "directoryScopeId": ra.directory_scope_id,
    }


ASSIGNMENT_PROPERTIES = ("id", "principalId", "roleDefinitionId", "directoryScopeId")


def operation_json(op: LongRunningOperation, location: str) -> dict:
    return {
        "@odata.type": "#microsoft.graph.longRunningOperation",
        "id": op.id,
        "createdDateTime": iso(op.created),
        "lastActionDateTime": iso(op.last_action),
        "status": op.status,
        "statusDetail": op.status_detail or None,
        "resourceLocation": location,
    }
