"""The tenant's data model: immutable records the tenant replaces on every change.

Frozen dataclasses keep a snapshot (e.g. a request in flight) from seeing half an update;
the tenant swaps whole records under its lock with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Enablement = Literal["none", "selected", "all"]
OperationStatus = Literal["notStarted", "running", "succeeded", "failed"]


@dataclass(frozen=True, slots=True)
class User:
    """A directory user; field names follow Graph's user resource in snake_case."""

    id: str
    user_principal_name: str
    display_name: str
    created: datetime
    account_enabled: bool = True
    mail: str | None = None
    given_name: str | None = None
    surname: str | None = None
    job_title: str | None = None
    department: str | None = None
    usage_location: str | None = None
    password_policies: str | None = None
    force_change_password_next_sign_in: bool = False
    last_password_change: datetime | None = None
    # Synced-user fields; on_premises_sync_enabled None = never synced (FACTS 4.4).
    on_premises_sync_enabled: bool | None = None
    on_premises_immutable_id: str | None = None
    on_premises_sam_account_name: str | None = None
    on_premises_distinguished_name: str | None = None
    on_premises_security_identifier: str | None = None
    on_premises_domain_name: str | None = None
    on_premises_user_principal_name: str | None = None
    on_premises_last_sync: datetime | None = None

    @property
    def synced(self) -> bool:
        return bool(self.on_premises_sync_enabled)


@dataclass(frozen=True, slots=True)
class Group:
    """An Entra group (``/groups``): members by object ID."""
    id: str
    display_name: str
    created: datetime
    members: frozenset[str] = frozenset()
    mail_nickname: str = ""
    security_enabled: bool = True


@dataclass(frozen=True, slots=True)
class AuthMethod:
    """A registered authentication method. ``kind`` is one of catalog.METHOD_KINDS."""

    id: str
    kind: str
    created: datetime
    value: str = ""  # phone number, email address, authenticator device name, or question text
    phone_type: str = "mobile"
    secret: str = ""  # security-question answer (never serialised)


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    """A directory role assignment (``/roleManagement/directory/roleAssignments``)."""
    id: str
    principal_id: str
    role_definition_id: str
    directory_scope_id: str = "/"


@dataclass(frozen=True, slots=True)
class SsprPolicy:
    """The tenant's "Password reset" blade: who may reset and with how many methods."""

    enablement: Enablement = "all"
    group_id: str | None = None
    methods_required: int = 1
    allowed_methods: tuple[str, ...] = ("phone", "email", "microsoftAuthenticator", "securityQuestion")
    registration_required: bool = True
    reconfirm_days: int = 180


@dataclass(frozen=True, slots=True)
class OnPremisesIntegration:
    """The "On-premises integration" blade plus what the Connect wizard registered.

    ``writeback_supported`` is set by Connect's onboarding (never by the portal);
    ``writeback_enabled`` is the portal's "Write back passwords to your on-premises directory".
    """

    writeback_supported: bool = False
    writeback_enabled: bool = False
    cloud_sync_writeback_enabled: bool = False
    unlock_enabled: bool = False
    onboarded_by: str | None = None
    onboarded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One directoryAudit record (Graph's directoryAudit resource)."""

    id: str
    activity_date_time: datetime
    activity_display_name: str
    category: str
    logged_by_service: str
    operation_type: str
    result: Literal["success", "failure"]
    result_reason: str
    correlation_id: str
    initiated_by: str  # UPN or app id
    target_id: str | None = None
    target_upn: str | None = None
    additional_details: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class LongRunningOperation:
    """A resetPassword operation (Graph longRunningOperation / passwordResetResponse)."""

    id: str
    user_id: str
    created: datetime
    last_action: datetime
    status: OperationStatus
    status_detail: str = ""
    new_password: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a validated token speaks for: a user (delegated) or an application."""

    kind: Literal["user", "app"]
    id: str
    name: str  # UPN or app display name
    app_id: str
    scopes: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()  # app roles (application permissions)
    wids: frozenset[str] = frozenset()  # directory role template ids of the user
    claims: dict = field(default_factory=dict, compare=False)
