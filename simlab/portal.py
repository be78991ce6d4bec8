"""Admin actions in the Entra admin center, made over HTTP like the browser makes them.

The lab's faults and fixes toggle the "On-premises integration" blade through the
portal-shaped endpoints of the Graph fake (with a Global Administrator token), so
role checks, audit entries ("Self-service password reset policy changes") and the
operation log all see what a real admin's click would produce.
"""

from __future__ import annotations

from typing import Any

import httpx

from fakes.graph.auth import make_token
from fakes.graph.mock import graph_mock

PORTAL = "https://main.iam.ad.ext.azure.com/api/PasswordReset"


def call(
    tenant: Any, method: str, url: str, body: dict | None = None, as_user: str | None = None
) -> httpx.Response:
    """One request to the tenant's Graph or portal hosts, in-process, as ``as_user`` (default: the
    Global Administrator); the response is returned, never raised."""
    token = make_token(tenant, as_user or tenant.admin_upn)
    with graph_mock(tenant, pass_through=False), httpx.Client() as client:
        return client.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"})


def get_onprem_policies(tenant: Any, *, as_user: str | None = None) -> dict:
    """GET OnPremisesPasswordResetPolicies (what the blade shows)."""
    response = call(tenant, "GET", f"{PORTAL}/OnPremisesPasswordResetPolicies", None, as_user)
    response.raise_for_status()
    return response.json()


def set_onprem_policy(tenant: Any, *, as_user: str | None = None, **fields: Any) -> httpx.Response:
    """PUT blade fields, e.g. ``passwordWritebackSupported=False``; returns the response (not raised)."""
    return call(tenant, "PUT", f"{PORTAL}/OnPremisesPasswordResetPolicies", fields, as_user)
