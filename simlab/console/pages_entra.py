"""Entra admin center look-alike (Protection > Password reset, audit logs) and the SSPR portal.

Every read and write goes through the Graph fake's HTTP endpoints as the signed-in admin
(portal-internal PasswordReset blades, Graph v1.0) or as the anonymous end user (the SSPR
flow), so the console sees the same 403s, SSPR codes and audit entries a browser would.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakes.graph import audit as A
from simlab.console.state import GRAPH_BASE, PORTAL_BASE, SSPR_BASE, error_text, graph_error
from simlab.console.web import form, redirect, render, state_of, ticked

BLADE = f"{PORTAL_BASE}/api/PasswordReset"
ACTIVITIES = (
    A.RESET_SELF,
    A.UNLOCK_SELF,
    A.CHANGE_SELF,
    A.RESET_ADMIN,
    A.FLOW_PROGRESS,
    A.POLICY_CHANGE,
    A.BLOCKED,
    A.REGISTERED,
)
ENABLEMENT = {0: "None", 1: "Selected", 2: "All"}
#: Portal labels (FACTS 4.7 / tutorial) for the On-premises integration checkboxes, with their fields.
ONPREM_OPTIONS = (
    ("passwordWritebackSupported", "Write back passwords to your on-premises directory"),
    ("cloudProvisioningEnablementForTenant", "Write back passwords with Microsoft Entra Connect cloud sync"),
    ("accountUnlockEnabled", "Allow users to unlock accounts without resetting their password"),
)


async def overview(request: Request) -> Response:
    return redirect("/entra/password-reset/onprem")


async def sign_in(request: Request) -> Response:
    state = state_of(request)
    data = await form(request)
    upn = data.get("upn", "").strip()
    if state.lab.tenant.get_user(upn) is None:
        state.notify("error", f"AADSTS50034: The user account {upn} does not exist in the directory.")
    else:
        state.signed_in = upn
        state.notify("ok", f"Signed in to the admin center as {upn}.")
    return redirect(data.get("back") or "/entra")


async def onprem(request: Request) -> Response:
    state = state_of(request)
    response = await state.graph.request(
        "GET", f"{BLADE}/OnPremisesPasswordResetPolicies", as_user=state.signed_in
    )
    if response.status_code != 200:
        code, message = graph_error(response)
        return render(
            request,
            "entra_onprem.html",
            denied=error_text(code, message),
            policy=None,
            options=ONPREM_OPTIONS,
        )
    available = await state.graph.request(
        "GET", f"{BLADE}/IsOnPremisesPasswordResetAvailable", as_user=state.signed_in
    )
    return render(
        request,
        "entra_onprem.html",
        denied=None,
        policy=response.json(),
        available=available.status_code == 200 and available.json() is True,
        options=ONPREM_OPTIONS,
    )


async def onprem_save(request: Request) -> Response:
    state = state_of(request)
    data = await form(request)
    current = await state.graph.request(
        "GET", f"{BLADE}/OnPremisesPasswordResetPolicies", as_user=state.signed_in
    )
    if current.status_code != 200:
        code, message = graph_error(current)
        state.notify("error", error_text(code, message))
        return redirect("/entra/password-reset/onprem")
    before = current.json()
    # Only changed fields go in the PUT, as the blade's tooling sends them.
    changes = {key: ticked(data, key) for key, _ in ONPREM_OPTIONS if ticked(data, key) != before.get(key)}
    if not changes:
        state.notify("info", "No changes to save.")
        return redirect("/entra/password-reset/onprem")
    response = await state.graph.request(
        "PUT", f"{BLADE}/OnPremisesPasswordResetPolicies", as_user=state.signed_in, json=changes
    )
    if response.status_code == 200:
        state.step(f"Admin center: saved On-premises integration {changes}")
        state.notify("ok", "Successfully updated on-premises integration settings.")
    else:
        code, message = graph_error(response)
        state.notify("error", f"Could not save: {code}: {message}")
    return redirect("/entra/password-reset/onprem")


async def properties(request: Request) -> Response:
    state = state_of(request)
    response = await state.graph.request(
        "GET", f"{BLADE}/PasswordResetPolicies?getPasswordResetEnabledGroup=true", as_user=state.signed_in
    )
    if response.status_code != 200:
        code, message = graph_error(response)
        return render(
            request, "entra_properties.html", denied=error_text(code, message), policy=None, groups=[]
        )
    groups = await state.graph.request("GET", f"{GRAPH_BASE}/v1.0/groups", as_user=state.signed_in)
    group_list = groups.json().get("value", []) if groups.status_code == 200 else []
    return render(
        request,
        "entra_properties.html",
        denied=None,
        policy=response.json(),
        groups=group_list,
        enablement=ENABLEMENT,
    )


async def properties_save(request: Request) -> Response:
    state = state_of(request)
    data = await form(request)
    body: dict = {"enablementType": int(data.get("enablementType", "0"))}
    if body["enablementType"] == 1:
        body["passwordResetEnabledGroupIds"] = [data["group"]] if data.get("group") else []
    response = await state.graph.request(
        "PUT", f"{BLADE}/PasswordResetPolicies", as_user=state.signed_in, json=body
    )
    if response.status_code == 200:
        state.step(f"Admin center: SSPR enabled = {ENABLEMENT[body['enablementType']]}")
        state.notify("ok", "Successfully updated password reset properties.")
    else:
        code, message = graph_error(response)
        state.notify("error", f"Could not save: {code}: {message}")
    return redirect("/entra/password-reset/properties")


async def audit(request: Request) -> Response:
    state = state_of(request)
    q = request.query_params
    clauses = []
    if q.get("activity") in ACTIVITIES:
        clauses.append(f"activityDisplayName eq '{q['activity']}'")
    if q.get("result") in ("success", "failure"):
        clauses.append(f"result eq '{q['result']}'")
    url = f"{GRAPH_BASE}/v1.0/auditLogs/directoryAudits?$top=200"
    if clauses:
        url += "&$filter=" + quote(" and ".join(clauses))
    response = await state.graph.request("GET", url, as_user=state.signed_in)
    if response.status_code != 200:
        code, message = graph_error(response)
        return render(
            request, "entra_audit.html", denied=error_text(code, message), rows=[], q=q, activities=ACTIVITIES
        )
    target = q.get("target", "").strip().lower()
    rows = []
    for item in response.json().get("value", []):
        upns = [t.get("userPrincipalName") or "" for t in item.get("targetResources", [])]
        if target and not any(target in u.lower() for u in upns):
            continue
        by = (item.get("initiatedBy") or {}).get("user") or (item.get("initiatedBy") or {}).get("app") or {}
        rows.append(
            {
                "time": item["activityDateTime"],
                "service": item["loggedByService"],
                "category": item["category"],
                "activity": item["activityDisplayName"],
                "result": item["result"],
                "reason": item["resultReason"],
                "target": ", ".join(u for u in upns if u),
                "by": by.get("userPrincipalName") or by.get("appId") or "",
                "details": item.get("additionalDetails", []),
            }
        )
    return render(request, "entra_audit.html", denied=None, rows=rows, q=q, activities=ACTIVITIES)


# -- the end user's reset portal ---------------------------------------------------------------
async def sspr_start(request: Request) -> Response:
    return render(request, "sspr.html", stage="identify", error=None, flow=None)


async def _flow_post(request: Request, path: str, body: dict) -> tuple[dict | None, str | None]:
    response = await state_of(request).graph.request("POST", f"{SSPR_BASE}/sspr/{path}", json=body)
    if response.status_code == 200:
        return response.json(), None
    code, message = graph_error(response)
    return None, error_text(code, message)


async def sspr_post(request: Request) -> Response:
    """One handler for every step: the posted ``step`` says which SSPR flow call to make."""
    state = state_of(request)
    data = await form(request)
    step = data.get("step", "")
    flow_id = data.get("flowId", "")
    flow = state.sspr_flows.get(flow_id)
    if step == "begin":
        result, error = await _flow_post(request, "begin", {"userPrincipalName": data.get("upn", "").strip()})
        if error:
            return render(request, "sspr.html", stage="identify", error=error, flow=None, upn=data.get("upn"))
        assert result is not None
        state.sspr_flows[result["flowId"]] = {
            **result,
            "upn": data.get("upn", "").strip(),
            "remaining": result["methodsRequired"],
            "verified": [],
        }
        return render(
            request, "sspr.html", stage="verify", error=None, flow=state.sspr_flows[result["flowId"]]
        )
    if flow is None:
        return render(
            request,
            "sspr.html",
            stage="identify",
            status=400,
            flow=None,
            error="FlowNotFound: Your password reset session has expired. Start again.",
        )
    if step == "send":
        method = data.get("methodId", "")
        result, error = await _flow_post(request, "sendCode", {"flowId": flow_id, "methodId": method})
        flow["sentTo"], flow["methodId"] = (result or {}).get("sentTo"), method
        return render(
            request, "sspr.html", stage="verify", error=error, flow=flow, inbox=_inbox(state, flow, method)
        )
    if step == "verify":
        body = {"flowId": flow_id, "methodId": data.get("methodId", ""), "answer": data.get("answer", "")}
        result, error = await _flow_post(request, "verify", body)
        if error:
            return render(
                request,
                "sspr.html",
                stage="verify",
                error=error,
                flow=flow,
                inbox=_inbox(state, flow, body["methodId"]),
            )
        assert result is not None
        flow["remaining"] = result["remaining"]
        flow["verified"].append(body["methodId"])
        flow.pop("sentTo", None)
        stage = "verify" if result["remaining"] else "choose"
        return render(request, "sspr.html", stage=stage, error=None, flow=flow)
    if step in ("reset", "unlock"):
        if step == "reset" and data.get("newPassword") != data.get("confirmPassword"):
            return render(
                request,
                "sspr.html",
                stage="choose",
                flow=flow,
                error="The passwords you entered don't match.",
            )
        body = {"flowId": flow_id}
        if step == "reset":
            body["newPassword"] = data.get("newPassword", "")
        result, error = await _flow_post(request, "reset" if step == "reset" else "unlock", body)
        if error:
            return render(request, "sspr.html", stage="choose", error=error, flow=flow)
        state.sspr_flows.pop(flow_id, None)
        return render(request, "sspr.html", stage="done", error=None, flow=flow, unlocked=step == "unlock")
    return render(
        request, "sspr.html", stage="identify", error=f"Unknown step {step!r}.", flow=None, status=400
    )


def _inbox(state, flow: dict, method_id: str) -> list[str]:
    """The simulated phone/mailbox: messages the lab 'sent' to the chosen method's destination."""
    tenant = state.lab.tenant
    method = next((m for m in tenant.methods_of(flow["upn"]) if m.id == method_id), None)
    if method is None or method.kind == "securityQuestion":
        return []
    return [
        f"Use verification code {code} for Microsoft authentication."
        for dest, code in tenant.outbox[-5:]
        if dest == method.value
    ][-1:]


def routes() -> list[Route]:
    return [
        Route("/entra", overview),
        Route("/entra/signin", sign_in, methods=["POST"]),
        Route("/entra/password-reset/onprem", onprem),
        Route("/entra/password-reset/onprem", onprem_save, methods=["POST"]),
        Route("/entra/password-reset/properties", properties),
        Route("/entra/password-reset/properties", properties_save, methods=["POST"]),
        Route("/entra/audit", audit),
        Route("/sspr", sspr_start),
        Route("/sspr", sspr_post, methods=["POST"]),
    ]
