"""Well-known identifiers of the Entra/Graph world the fake tenant reuses verbatim.

Sources are the rows of reference/FACTS.md section 4.6 (roles, SKUs, service plans)
and 4.5 (password method id). Values FACTS marks unconfirmed are flagged here too.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- directory role templates (FACTS 4.6) ---
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
HYBRID_IDENTITY_ADMINISTRATOR = "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2"
PASSWORD_ADMINISTRATOR = "966707d0-3269-4727-9be2-8c3a10f19b9d"
HELPDESK_ADMINISTRATOR = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
AUTHENTICATION_ADMINISTRATOR = "c4e39bd9-1100-46d3-8c65-fb160da0071f"
PRIVILEGED_AUTHENTICATION_ADMINISTRATOR = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
# Third-party list only (FACTS gap 8).
AUTHENTICATION_POLICY_ADMINISTRATOR = "0526716b-113d-4c15-b2c8-68e3c22b9f80"
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
DIRECTORY_SYNCHRONIZATION_ACCOUNTS = "d29b2b05-8046-44ba-8758-1e26182fcf32"

ROLE_NAMES: dict[str, str] = {
    GLOBAL_ADMINISTRATOR: "Global Administrator",
    HYBRID_IDENTITY_ADMINISTRATOR: "Hybrid Identity Administrator",
    PASSWORD_ADMINISTRATOR: "Password Administrator",
    HELPDESK_ADMINISTRATOR: "Helpdesk Administrator",
    AUTHENTICATION_ADMINISTRATOR: "Authentication Administrator",
    PRIVILEGED_AUTHENTICATION_ADMINISTRATOR: "Privileged Authentication Administrator",
    AUTHENTICATION_POLICY_ADMINISTRATOR: "Authentication Policy Administrator",
    USER_ADMINISTRATOR: "User Administrator",
    DIRECTORY_SYNCHRONIZATION_ACCOUNTS: "Directory Synchronization Accounts",
}
#: Accepts role display names as well as template ids, for ``Tenant.add_user(roles=...)``.
ROLE_BY_NAME: dict[str, str] = {name.lower(): rid for rid, name in ROLE_NAMES.items()}

#: Roles that may reset another user's password with Graph resetPassword (FACTS 4.5, stored doc version).
RESET_PASSWORD_ROLES = frozenset(
    {GLOBAL_ADMINISTRATOR, PRIVILEGED_AUTHENTICATION_ADMINISTRATOR, AUTHENTICATION_ADMINISTRATOR}
)
#: Roles the Connect wizard accepts when enabling/disabling writeback (FACTS 4.6: tutorial + wizard).
WRITEBACK_ONBOARDING_ROLES = frozenset({GLOBAL_ADMINISTRATOR, HYBRID_IDENTITY_ADMINISTRATOR})
#: Roles allowed to write users (profile fields) in the lab's simplified model.
USER_WRITE_ROLES = frozenset({GLOBAL_ADMINISTRATOR, USER_ADMINISTRATOR})
#: Roles allowed to set another user's passwordProfile with PATCH.
PASSWORD_WRITE_ROLES = frozenset(
    {
        GLOBAL_ADMINISTRATOR,
        USER_ADMINISTRATOR,
        PASSWORD_ADMINISTRATOR,
        HELPDESK_ADMINISTRATOR,
        AUTHENTICATION_ADMINISTRATOR,
        PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
    }
)
#: Roles that read the portal's SSPR blades; saving them needs Global Administrator (FACTS 4.6, [S1]).
PORTAL_READ_ROLES = frozenset(
    {GLOBAL_ADMINISTRATOR, AUTHENTICATION_POLICY_ADMINISTRATOR, HYBRID_IDENTITY_ADMINISTRATOR}
)
PORTAL_WRITE_ROLES = frozenset({GLOBAL_ADMINISTRATOR})
#: Roles whose holders fall under the Microsoft-managed admin SSPR policy (two gates), FACTS 2.
ADMIN_ROLES = frozenset(ROLE_NAMES) - {DIRECTORY_SYNCHRONIZATION_ACCOUNTS}


# --- licences (FACTS 4.6; skuIds unconfirmed, service plan ids confirmed) ---
@dataclass(frozen=True, slots=True)
class SkuInfo:
    """A licence SKU as ``subscribedSkus`` lists it, with its service plans."""
    sku_id: str
    sku_part_number: str
    service_plans: tuple[tuple[str, str], ...]  # (servicePlanId, servicePlanName)


AAD_PREMIUM_PLAN = "41781fb2-bc02-4b7c-bd55-b576c07bb09d"
AAD_PREMIUM_P2_PLAN = "eec0eb4f-6444-4f95-aba0-50c24d67f998"
SKUS: dict[str, SkuInfo] = {
    "P1": SkuInfo(
        "078d2b04-f1bd-4330-a4c6-dc0f2df6e5e4", "AAD_PREMIUM", ((AAD_PREMIUM_PLAN, "AAD_PREMIUM"),)
    ),
    "P2": SkuInfo(
        "84a661c4-e949-4bd2-a560-ed7766fcaf2b",
        "AAD_PREMIUM_P2",
        ((AAD_PREMIUM_PLAN, "AAD_PREMIUM"), (AAD_PREMIUM_P2_PLAN, "AAD_PREMIUM_P2")),
    ),
}
LICENCES = ("P1", "P2", "none")

# --- authentication methods ---
#: The fixed id of every user's password method (FACTS 4.5, [S17]).
PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"
#: Graph's fixed ids for phone methods by phoneType and for the email method (Graph docs; not in FACTS).
PHONE_METHOD_IDS = {
    "mobile": "3179e48a-750b-4051-897c-87b9720928f7",
    "alternateMobile": "b6332ec1-7057-4abe-9331-3d72feddfe41",
    "office": "e37fc753-ff3b-4958-9484-eaa9425c82bc",
}
EMAIL_METHOD_ID = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f"
#: Method kinds a user can register for SSPR; security questions exist only in SSPR, not in Graph v1.0.
METHOD_KINDS = ("phone", "email", "microsoftAuthenticator", "securityQuestion")
ODATA_TYPES = {
    "password": "#microsoft.graph.passwordAuthenticationMethod",
    "phone": "#microsoft.graph.phoneAuthenticationMethod",
    "email": "#microsoft.graph.emailAuthenticationMethod",
    "microsoftAuthenticator": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
}

# --- applications ---
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCE = "https://graph.microsoft.com"
#: Audience of portal (main.iam.ad.ext.azure.com) tokens; third-party code only (FACTS 4.7).
PORTAL_APP_ID = "74658136-14ec-4630-ad9b-26e160ff0fc6"

#: Audit log category/service for SSPR entries (FACTS 3).
SSPR_SERVICE = "Self-service Password Management"
