"""The fake tenant's error catalogue: Graph error envelope, SSPR_00xx codes, tenant errors.

Every string a client or trainee sees comes from here. Verbatim texts are from
reference/FACTS.md (sections 2, 4 and 9); strings FACTS lacks were taken from public
captures of live Graph answers (issue threads) and are marked as such.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import Enum

# --- Graph error codes/messages -------------------------------------------------------
# (code, message) pairs. Captured live answers (third-party issue threads, not in FACTS):
TOKEN_MISSING = ("InvalidAuthenticationToken", "Access token is empty.")
TOKEN_INVALID = ("InvalidAuthenticationToken", "Access token validation failure.")
TOKEN_EXPIRED = ("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
INSUFFICIENT_PRIVILEGES = (
    "Authorization_RequestDenied",
    "Insufficient privileges to complete the operation.",
)
# FACTS 4.4 [S42] (message confirmed, code from a third-party capture).
SYNCED_OBJECT_UPDATE = (
    "Request_BadRequest",
    "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects "
    "currently undergoing migration.",
)
# FACTS 4.2 [S20]/[S39].
THROTTLED = ("TooManyRequests", "Please retry again later.")
# Lab wording (Graph's generic 503 code from FACTS 4.1; text unconfirmed).
UNAVAILABLE = ("serviceNotAvailable", "The service is temporarily unavailable. Please retry later.")
# Lab wording for the documented "invalidRequest" code (exact live texts unconfirmed).
BAD_JSON = (
    "BadRequest",
    "Unable to read JSON request payload. Please ensure Content-Type header is set and "
    "payload is of valid JSON format.",
)
PASSWORD_COMPLEXITY = (
    "Request_BadRequest",
    "The specified password does not comply with password complexity requirements. Please provide a "
    "different password.",
)
# FACTS 2 [S10]: the admin-facing answer when on-premises policy rejects a reset.
ONPREM_POLICY_ADMIN = (
    "Request_BadRequest",
    "Unfortunately, you cannot reset this user's password because your on-premises policy does not allow "
    "it. Please review your on-premises policy to ensure that it is setup correctly.",
)
#: FACTS 2: what users see when a feature is not enabled/licensed for them.
FEATURE_NOT_ENABLED = "Your administrator has not enabled you to use this feature."
#: FACTS 9 / [S11]: the Connect wizard's licence failure.
WRITEBACK_LICENCE_MESSAGE = "Unable to configure password writeback. Ensure you have the required license."
#: FACTS 1.1 32009: the wizard's failure to get a token for the admin it was given.
AUTH_TOKEN_ERROR = "Error getting auth token."


def not_found(resource_id: str) -> tuple[str, str]:
    """Graph's 404 for a missing directory object (captured live answer)."""
    return (
        "Request_ResourceNotFound",
        f"Resource '{resource_id}' does not exist or one of its queried reference-property objects are not "
        "present.",
    )


def no_route(path: str) -> tuple[str, str]:
    # Lab wording for an unknown segment; Graph answers 400 BadRequest for unknown segments.
    return ("BadRequest", f"Resource not found for the segment '{path.rstrip('/').rsplit('/', 1)[-1]}'.")


def bad_request(message: str) -> tuple[str, str]:
    return ("BadRequest", message)


def invalid_request(message: str) -> tuple[str, str]:
    return ("invalidRequest", message)


def method_not_allowed() -> tuple[str, str]:
    return ("Request_BadRequest", "Specified HTTP method is not allowed for the request target.")


class GraphError(Exception):
    """An HTTP answer in Graph's error envelope; raised anywhere below the app and rendered once."""

    def __init__(
        self, status: int, code_message: tuple[str, str], *, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.code, self.message = code_message
        self.headers = dict(headers or {})
        super().__init__(f"{status} {self.code}: {self.message}")


def envelope(
    code: str, message: str, *, request_id: str, client_request_id: str | None, date: datetime
) -> dict:
    """Graph's error body (FACTS 4.1): error.code/message + innerError request-id/date."""
    inner = {"date": date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "request-id": request_id}
    inner["client-request-id"] = client_request_id or request_id
    return {"error": {"code": code, "message": message, "innerError": inner}}


def envelope_bytes(
    error: GraphError, *, request_id: str, client_request_id: str | None, date: datetime
) -> bytes:
    body = envelope(
        error.code, error.message, request_id=request_id, client_request_id=client_request_id, date=date
    )
    return json.dumps(body).encode()


# --- SSPR user-facing codes (FACTS 2, verbatim) ---------------------------------------
class SsprCode(Enum):
    """SSPR error enum name -> (number, text shown to the user)."""

    TenantSSPRFlagDisabled = (
        9,
        "SSPR_0009: We've detected that password reset hasn't been enabled by your administrator. Contact "
        "your admin and ask them to enable password reset for your organization.",
    )
    WritebackNotEnabled = (
        10,
        "SSPR_0010: We've detected that password writeback hasn't been enabled. Contact your admin and ask "
        "them to enable password writeback.",
    )
    SsprNotEnabledInUserPolicy = (
        11,
        "SSPR_0011: Your organization hasn't defined a password reset policy. Contact your admin and ask "
        "them to define a password reset policy.",
    )
    UserNotLicensed = (
        12,
        "SSPR_0012: Your organization doesn't have the required licenses necessary to perform password "
        "reset. Contact your admin and ask them to review the license assignments.",
    )
    UserNotMemberOfScopedAccessGroup = (
        13,
        "SSPR_0013: You aren't a member of a group enabled for password reset. Contact your admin and "
        "request to be added to the group.",
    )
    UserNotProperlyConfigured = (
        14,
        "SSPR_0014: Additional security info is needed to reset your password. To proceed, contact your "
        "admin and ask them to reset your password. After you can access to your account, you can register "
        "additional security info at https://aka.ms/ssprsetup. Your admin can add additional security info "
        "to your account by following the steps in [Set and read authentication data for password reset]"
        "(howto-sspr-authenticationdata.md).",
    )
    OnPremisesAdminActionRequired = (
        29,
        "SSPR_0029: We're unable to reset your password due to an error in your on-premises configuration. "
        "Contact your admin and ask them to investigate.",
    )
    OnPremisesConnectivityError = (
        30,
        "SSPR_0030: We can't reset your password due to a poor connection with your on-premises "
        "environment. Contact your admin and ask them to investigate.",
    )

    @property
    def number(self) -> int:
        return self.value[0]

    @property
    def code(self) -> str:
        return f"SSPR_{self.value[0]:04d}"

    @property
    def text(self) -> str:
        return self.value[1]


class SsprError(Exception):
    """An SSPR flow stopped at a gate. ``code`` is an :class:`SsprCode` or a lab code string."""

    def __init__(self, code: SsprCode | str, message: str | None = None, *, reason: str = "") -> None:
        self.sspr = code if isinstance(code, SsprCode) else None
        self.code = code.code if isinstance(code, SsprCode) else code
        self.enum_name = code.name if isinstance(code, SsprCode) else code
        self.message = message or (code.text if isinstance(code, SsprCode) else code)
        self.reason = reason or self.enum_name
        super().__init__(self.message)


#: Error names (WritebackOutcome.error) that mean "on-premises password policy rejected it".
POLICY_VIOLATION_ERRORS = frozenset({"PasswordPolicyViolation", "ADPasswordPolicyError"})
#: User-facing text for an on-premises policy rejection in the end-user flow. Entra's exact user wording is
#: not in FACTS (gap 12); this lab text paraphrases the admin message of [S10].
ONPREM_POLICY_USER = (
    "Your new password doesn't meet the requirements of your organization's on-premises password policy. "
    "Choose a different password, or contact your admin."
)
#: FACTS 2 OnPremisesSuccessCloudFailure (prefix only; the rest is technical detail).
ONPREM_SUCCESS_CLOUD_FAILURE = (
    "Password reset was successful on-premises, but there was an error while writing to the cloud."
)


# --- tenant-level errors (the Connect wizard and lab API) ------------------------------
class TenantError(Exception):
    """Base class for errors raised by the tenant's Python API."""


class TenantAuthError(TenantError):
    """Wrong credentials (the wizard logs 32009 "Error getting auth token.")."""


class TenantPermissionError(TenantError):
    """Valid credentials without a role the operation needs."""


class TenantLicenceError(TenantError):
    """No Entra ID P1/P2 subscription in the tenant."""
