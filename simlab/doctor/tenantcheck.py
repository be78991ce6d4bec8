"""Tenant rules, read over HTTP like the admin center does: Graph plus the portal's SSPR blades.

The first 429 ends the tenant checks (hammering a throttled API is what Microsoft's
guidance says not to do); the rest are listed as skipped. Without a P1/P2 licence the
SSPR blades answer 403, so the last saved On-premises integration settings are taken
from the directory audit log ("Self-service password reset policy changes"), which free
tenants keep too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from simlab.doctor.catalogue import ev, finding
from simlab.doctor.model import Check, Evidence, Finding
from simlab.doctor.sources import TenantClient

PREMIUM_PLANS = {"AAD_PREMIUM", "AAD_PREMIUM_P2"}
POLICY_CHANGE = "Self-service password reset policy changes"
_BLADE = "Entra admin center > Password reset > On-premises integration"
_MAX_PAGES = 20


class Throttled(Exception):
    """Graph answered 429."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass
class TenantState:
    """What the tenant checks learned, for the cross-checks with Connect."""

    findings: list[Finding] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    onprem: dict[str, Any] | None = None
    onprem_source: str = ""
    throttled: bool = False

    def cloud_sync(self) -> tuple[bool, Evidence] | None:
        if self.onprem is None:
            return None
        value = bool(self.onprem.get("cloudProvisioningEnablementForTenant"))
        return value, ev(self.onprem_source, "cloudProvisioningEnablementForTenant", value)


class TenantReader:
    def __init__(self, client: TenantClient) -> None:
        self.client = client

    def get(self, url: str) -> httpx.Response:
        response = self.client.http.get(url)
        if response.status_code == 429:
            raise Throttled(response)
        return response

    def graph(self, path: str) -> httpx.Response:
        return self.get(f"{self.client.graph_base}{path}")

    def portal(self, path: str) -> httpx.Response:
        return self.get(f"{self.client.portal_base}/api/PasswordReset/{path}")


def check_tenant(
    client: TenantClient, *, upn: str | None, in_ad: bool, name: str | None, outside: bool = False
) -> TenantState:
    """Licence, the SSPR blades and (with ``upn``) the user's cloud object."""
    state = TenantState()
    reader = TenantReader(client)
    steps = [("licence", _licence), ("SSPR policy", _sspr_policy), ("on-premises integration", _onprem)]
    if upn:
        steps.append(("user in the tenant", lambda r, s: _user(r, s, upn, in_ad, name, outside)))
    for i, (label, step) in enumerate(steps):
        try:
            step(reader, state)
        except Throttled as exc:
            r = exc.response
            state.throttled = True
            state.findings.append(
                finding(
                    "graph-throttled",
                    "warning",
                    [
                        ev(
                            "Microsoft Graph",
                            f"GET {r.request.url}",
                            f"HTTP 429, Retry-After: {r.headers.get('Retry-After')}\n{r.text}",
                        )
                    ],
                    [
                        "Honour Retry-After (the Graph SDK's retry handler does), batch requests ($batch), "
                        "add "
                        "exponential back-off, and spread bulk jobs over time.",
                        "Re-run doctor once the tenant answers again: the tenant checks were skipped.",
                    ],
                )
            )
            state.checks.append(Check(label, "finding", "HTTP 429 Too Many Requests"))
            state.checks += [Check(lbl, "skipped", "Graph is throttling") for lbl, _ in steps[i + 1 :]]
            break
    return state


def _licence(reader: TenantReader, state: TenantState) -> None:
    r = reader.graph("/subscribedSkus")
    r.raise_for_status()
    skus = r.json().get("value", [])
    plans = {
        p.get("servicePlanName")
        for s in skus
        if s.get("capabilityStatus") == "Enabled"
        for p in s.get("servicePlans", [])
    }
    names = ", ".join(s.get("skuPartNumber", "?") for s in skus) or "(none)"
    if plans & PREMIUM_PLANS:
        state.checks.append(Check("licence", "ok", names))
        return
    state.findings.append(
        finding(
            "no-licence",
            "error",
            [ev("Microsoft Graph", "GET /subscribedSkus: skuPartNumber", names)],
            [
                "Microsoft 365 admin center > Billing > Purchase services: Microsoft Entra ID P1 or P2 (or "
                "start a "
                "trial); SSPR with on-premises writeback needs P1 (SSPR_0012 until then)."
            ],
        )
    )
    state.checks.append(Check("licence", "finding", f"no Entra ID P1/P2 plan in {names}"))


def _sspr_policy(reader: TenantReader, state: TenantState) -> None:
    r = reader.portal("PasswordResetPolicies")
    if r.status_code != 200:
        state.checks.append(Check("SSPR policy", "skipped", f"blade answered {r.status_code}: {_message(r)}"))
        return
    body = r.json()
    kind = {0: "None", 1: "Selected", 2: "All"}.get(
        body.get("enablementType"), str(body.get("enablementType"))
    )
    if kind == "None":
        state.findings.append(
            finding(
                "sspr-disabled",
                "error",
                [
                    ev(
                        "Entra admin center > Password reset > Properties",
                        "Self service password reset enabled",
                        kind,
                    )
                ],
                [
                    "Entra admin center > Protection > Password reset > Properties: Selected (a group) or "
                    "All, Save."
                ],
            )
        )
    state.checks.append(Check("SSPR policy", "finding" if kind == "None" else "ok", f"enabled for: {kind}"))


def _onprem(reader: TenantReader, state: TenantState) -> None:
    r = reader.portal("OnPremisesPasswordResetPolicies")
    if r.status_code == 200:
        state.onprem, state.onprem_source = r.json(), f"{_BLADE} (GET OnPremisesPasswordResetPolicies)"
    else:
        saved = _last_saved_onprem(reader)
        if saved is None:
            state.checks.append(
                Check(
                    "on-premises integration",
                    "skipped",
                    f"blade answered {r.status_code}: {_message(r)}; no saved change in the audit log",
                )
            )
            return
        state.onprem, state.onprem_source = (
            saved,
            (f"audit log '{POLICY_CHANGE}' NewValue (the blade answered {r.status_code})"),
        )
    o = state.onprem
    src = state.onprem_source
    found = []
    # With Connect offboarded the toggle is greyed out (enablementForTenant false): Connect is the cause.
    if not o.get("passwordWritebackSupported") and o.get("enablementForTenant"):
        found.append(
            finding(
                "writeback-off-portal",
                "error",
                [
                    ev(src, "passwordWritebackSupported", o.get("passwordWritebackSupported")),
                    ev(src, "enablementForTenant", o.get("enablementForTenant")),
                ],
                [f"{_BLADE}: tick 'Write back passwords to your on-premises directory', Save."],
            )
        )
    if o.get("accountUnlockEnabled") is False:
        found.append(
            finding(
                "unlock-off",
                "warning",
                [ev(src, "accountUnlockEnabled", False)],
                [f"{_BLADE}: tick 'Allow users to unlock accounts without resetting their password', Save."],
            )
        )
    state.findings += found
    state.checks.append(
        Check(
            "on-premises integration",
            "finding" if found else "ok",
            ", ".join(
                f"{k}={o.get(k)}"
                for k in (
                    "passwordWritebackSupported",
                    "accountUnlockEnabled",
                    "cloudProvisioningEnablementForTenant",
                )
            ),
        )
    )


def _last_saved_onprem(reader: TenantReader) -> dict[str, Any] | None:
    url = f"{reader.client.graph_base}/auditLogs/directoryAudits"
    latest = None
    for _ in range(_MAX_PAGES):
        r = reader.get(url)
        if r.status_code != 200:
            return None
        body = r.json()
        for entry in body.get("value", []):
            if entry.get("activityDisplayName") != POLICY_CHANGE:
                continue
            details = {d.get("key"): d.get("value") for d in entry.get("additionalDetails", [])}
            new = _literal(details.get("NewValue"))
            when = entry.get("activityDateTime", "")
            fresher = latest is None or when >= latest[0]
            if isinstance(new, dict) and "passwordWritebackSupported" in new and fresher:
                latest = (when, new)
        url = body.get("@odata.nextLink")
        if not url:
            break
    return latest[1] if latest else None


def _literal(text: object) -> object:
    if not isinstance(text, str):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None


def _user(
    reader: TenantReader, state: TenantState, upn: str, in_ad: bool, name: str | None, outside: bool
) -> None:
    fields = "id,userPrincipalName,onPremisesSyncEnabled,onPremisesSamAccountName,onPremisesDistinguishedName"
    r = reader.graph(f"/users/{quote(upn)}?$select={fields}")
    if r.status_code == 404:
        if outside:
            # Explained by Domain/OU filtering (reported with the Connect checks).
            state.checks.append(Check("user in the tenant", "finding", "absent: outside the OU filter"))
        elif in_ad:
            state.findings.append(
                finding(
                    "user-not-synced",
                    "error",
                    [
                        ev("Microsoft Graph", f"GET /users/{upn}", f"404 {_message(r)}"),
                        ev(
                            "Active Directory (LDAP)",
                            "user",
                            f"{upn} exists on-premises, inside the OU filter",
                        ),
                    ],
                    [
                        "Run Start-ADSyncSyncCycle -PolicyType Delta on the Connect server (or wait for the "
                        "30-minute "
                        "cycle), then check the user in Entra ID."
                    ],
                    user=name,
                )
            )
            state.checks.append(Check("user in the tenant", "finding", "not synchronized yet"))
        else:
            state.findings.append(
                finding(
                    "user-not-found",
                    "error",
                    [ev("Microsoft Graph", f"GET /users/{upn}", f"404 {_message(r)}")],
                    ["Check the spelling of the user name."],
                    user=name,
                )
            )
            state.checks.append(Check("user in the tenant", "finding", "unknown user"))
        return
    r.raise_for_status()
    body = r.json()
    if body.get("onPremisesSyncEnabled") is not True:
        state.findings.append(
            finding(
                "cloud-only-user",
                "warning",
                [
                    ev(
                        "Microsoft Graph",
                        f"GET /users/{upn}: onPremisesSyncEnabled",
                        body.get("onPremisesSyncEnabled"),
                    ),
                    ev("Active Directory (LDAP)", "user", "found" if in_ad else f"no user {upn} on-premises"),
                ],
                [
                    "This account's password lives in the cloud only; nothing is written back. Create or "
                    "match the "
                    "on-premises account (soft match on UPN/proxyAddresses or hard match on the source "
                    "anchor)."
                ],
                user=name,
            )
        )
        state.checks.append(Check("user in the tenant", "finding", "cloud-only"))
        return
    state.checks.append(
        Check("user in the tenant", "ok", f"synced from {body.get('onPremisesDistinguishedName')}")
    )


def _message(r: httpx.Response) -> str:
    try:
        return str(r.json().get("error", {}).get("message", ""))
    except ValueError:
        return r.text[:200]
