"""Entra admin center > Billing > Licenses: the tenant's subscriptions, and "Assign Entra ID P1".

Reads are Graph ``GET /v1.0/subscribedSkus`` as the signed-in admin. The Graph fake has no
endpoint that buys or activates a subscription (real tenants do that in the Microsoft 365
admin center's commerce flow, outside Graph), so "Start a P1 subscription" is done here:
the console checks the signed-in account holds Global Administrator (the role that can
purchase), then sets the tenant's public ``licence`` attribute under its lock.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fakes.graph import catalog as C
from simlab.console.state import GRAPH_BASE, error_text, graph_error
from simlab.console.web import form, redirect, render, state_of

#: Product names as the admin center shows them, by the tenant's licence key.
PRODUCTS = {"P1": "Microsoft Entra ID P1", "P2": "Microsoft Entra ID P2"}
#: Roles that may start a subscription (the billing flow wants a Global Administrator here).
PURCHASE_ROLES = frozenset({C.GLOBAL_ADMINISTRATOR})


async def licences(request: Request) -> Response:
    state = state_of(request)
    response = await state.graph.request("GET", f"{GRAPH_BASE}/v1.0/subscribedSkus", as_user=state.signed_in)
    if response.status_code != 200:
        code, message = graph_error(response)
        return render(
            request, "entra_licences.html", denied=error_text(code, message), skus=[], products=PRODUCTS
        )
    return render(
        request, "entra_licences.html", denied=None, skus=response.json().get("value", []), products=PRODUCTS
    )


def purchase_refusal(tenant: object, upn: str) -> str | None:
    """Why ``upn`` may not start a subscription in ``tenant`` (None when allowed)."""
    user = tenant.get_user(upn)  # type: ignore[attr-defined]
    if user is None:
        return f"AADSTS50034: The user account {upn} does not exist in the directory."
    if not tenant.roles_of(user) & PURCHASE_ROLES:  # type: ignore[attr-defined]
        return "Authorization_RequestDenied: Insufficient privileges to complete the operation."
    return None


async def licences_assign(request: Request) -> Response:
    state = state_of(request)
    tenant = state.lab.tenant
    product = (await form(request)).get("product", "")
    if product not in PRODUCTS:
        state.notify("error", f"Unknown product {product!r}.")
        return redirect("/entra/licences")
    refusal = purchase_refusal(tenant, state.signed_in)
    if refusal:
        state.notify("error", refusal)
        return redirect("/entra/licences")
    with tenant.lock:
        tenant.licence = product
    state.step(f"Admin center: started a {PRODUCTS[product]} subscription")
    state.notify("ok", f"{PRODUCTS[product]} is now active for the tenant.")
    return redirect("/entra/licences")


def routes() -> list[Route]:
    return [
        Route("/entra/licences", licences),
        Route("/entra/licences", licences_assign, methods=["POST"]),
    ]
