"""The served app (uvicorn, HTTPS with the lab CA) with plain httpx: Graph, portal and SSPR flow."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from fakes.graph.mock import serve_graph
from fakes.graph.tenant import Tenant
from fakes.tls import CertificateAuthority


@pytest.fixture(scope="module")
def served():
    tenant = Tenant.create(seed=21)
    tenant.add_user("worker@contoso.com", "Worker")
    ca = CertificateAuthority.create()
    with serve_graph(tenant, ca=ca) as ep:
        yield tenant, ca, ep


def test_endpoints_shape_and_tokens(served):
    tenant, _, ep = served
    assert ep.base_url.startswith("https://127.0.0.1:") and ep.base_url.endswith("/v1.0")
    assert ep.tenant_id == tenant.id and set(ep.tokens) == {"global_admin", "user", "app"}
    assert Path(ep.ca_file).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert ep.to_json()["graph_base_url"] == ep.base_url


def test_https_requires_lab_ca(served):
    _, ca, ep = served
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{ep.base_url}/organization")
    with httpx.Client(verify=ca.client_context()) as c:
        r = c.get(
            f"{ep.base_url}/organization", headers={"Authorization": f"Bearer {ep.tokens['global_admin']}"}
        )
    assert r.status_code == 200 and r.json()["value"][0]["id"] == ep.tenant_id


def test_ready_made_tokens_have_their_powers(served):
    _, ca, ep = served
    url = f"{ep.portal_url}/api/PasswordReset/OnPremisesPasswordResetPolicies"
    with httpx.Client(verify=ca.client_context()) as c:
        ok = c.get(url, headers={"Authorization": f"Bearer {ep.tokens['global_admin']}"})
        denied = c.put(
            url, json={"accountUnlockEnabled": True}, headers={"Authorization": f"Bearer {ep.tokens['user']}"}
        )
        me = c.get(f"{ep.base_url}/me", headers={"Authorization": f"Bearer {ep.tokens['user']}"})
    assert ok.status_code == 200 and "passwordWritebackSupported" in ok.json()
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "Authorization_RequestDenied"
    assert me.json()["userPrincipalName"] == "worker@contoso.com"


def test_sspr_flow_served_reports_code(served):
    _, ca, ep = served
    with httpx.Client(verify=ca.client_context()) as c:
        r = c.post(f"{ep.sspr_url}/sspr/begin", json={"userPrincipalName": "worker@contoso.com"})
    # Worker registered no methods: the registration gate answers.
    assert r.status_code == 400 and r.json()["error"]["code"] == "SSPR_0014"


def test_stop_frees_the_port():
    tenant = Tenant.create(seed=22)
    with serve_graph(tenant, tls=False) as ep:
        url = f"{ep.base_url}/organization"
        assert httpx.get(url).status_code == 401
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)
