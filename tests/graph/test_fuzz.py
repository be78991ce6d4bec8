"""Property/fuzz tests over the OpenAPI document: no 500 on any input; errors always in the envelope."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.graph.app import build_app
from fakes.graph.auth import make_token
from fakes.graph.tenant import Tenant

TENANT = Tenant.create(seed=11)
TENANT.add_user("fuzz@contoso.com", "Fuzz", department="QA")
TENANT.onboard_password_writeback(TENANT.admin_upn, TENANT.admin_password)
TOKEN = make_token(TENANT, TENANT.admin_upn, lifetime=10**9)


def _asgi_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_app(TENANT)), base_url="https://graph.microsoft.com"
    )


def _operations() -> list[tuple[str, str, dict]]:
    import asyncio

    async def fetch():
        async with _asgi_client() as c:
            return (await c.get("/v1.0/$openapi.json")).json()

    doc = asyncio.run(fetch())
    return [(m.upper(), path, op) for path, ops in doc["paths"].items() for m, op in ops.items()]


OPERATIONS = _operations()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


def _body_strategy(op: dict):
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    keys = list(schema.get("properties", {})) if schema else []
    shaped = st.dictionaries(st.sampled_from(keys) if keys else st.text(max_size=8), json_values, max_size=4)
    raw = st.binary(max_size=40)
    return st.one_of(
        shaped.map(lambda d: json.dumps(d).encode()), raw, json_values.map(lambda v: json.dumps(v).encode())
    )


@st.composite
def requests(draw):
    method, path, op = draw(st.sampled_from(OPERATIONS))
    for param in op.get("parameters", []):
        if param["in"] == "path":
            value = draw(
                st.one_of(
                    st.text(min_size=1, max_size=12),
                    st.sampled_from(["fuzz@contoso.com", TENANT.id, "28c10230-6103-485e-b985-444c60001490"]),
                )
            )
            path = path.replace("{" + param["name"] + "}", quote(value, safe="") or "x")
    query = {}
    for param in op.get("parameters", []):
        if param["in"] == "query" and draw(st.booleans()):
            query[param["name"]] = draw(
                st.one_of(
                    st.text(max_size=30),
                    st.sampled_from(
                        [
                            "displayName eq 'Fuzz'",
                            "startswith(userPrincipalName,'f')",
                            "5",
                            "id,displayName",
                            "true",
                        ]
                    ),
                )
            )
    body = draw(_body_strategy(op)) if method in ("POST", "PUT", "PATCH") else b""
    auth = draw(st.sampled_from(["admin", "none", "garbage"]))
    return method, path, query, body, auth


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_no_500_and_errors_in_envelope(req):
    import asyncio

    method, path, query, body, auth = req
    headers = {"Content-Type": "application/json"}
    if auth == "admin":
        headers["Authorization"] = f"Bearer {TOKEN}"
    elif auth == "garbage":
        headers["Authorization"] = "Bearer abc.def.ghi"

    async def send():
        async with _asgi_client() as c:
            return await c.request(method, path, params=query, content=body, headers=headers)

    r = asyncio.run(send())
    assert r.status_code < 500, (method, path, query, body, r.text)
    if r.status_code >= 400 and not path.endswith("/oauth2/v2.0/token"):
        err = r.json()["error"]
        assert isinstance(err["code"], str) and isinstance(err["message"], str)
        assert err["innerError"]["request-id"]


@pytest.mark.parametrize("method,path", [(m, p) for m, p, op in OPERATIONS if "requestBody" in op])
def test_bad_json_is_400_envelope(method, path):
    import asyncio

    path = path.replace("onPremisesSynchronization/{id}", f"onPremisesSynchronization/{TENANT.id}")
    path = path.replace("{id}", "fuzz@contoso.com").replace("{mid}", "28c10230-6103-485e-b985-444c60001490")
    if "{" in path:
        pytest.skip("no concrete id for this template")

    async def send():
        async with _asgi_client() as c:
            return await c.request(
                method,
                path,
                content=b"{not json",
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )

    r = asyncio.run(send())
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "BadRequest"
    assert r.json()["error"]["innerError"]["request-id"] == r.headers["request-id"]
