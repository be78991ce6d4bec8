"""The Group Policy page's Default Domain Controllers Policy, and the two LDAP hardening exercises:
start, "Check my fix" fails with the app's bind refused, fix on the GPO page + gpupdate, solved."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from simlab.console import build_app
from simlab.console.training import exercises
from simlab.lab import Lab

from .test_console_exercises import _messages, _status


@pytest.fixture
def client(lab: Lab) -> TestClient:
    return TestClient(build_app(lab))


def test_gpo_page_edits_the_dc_policy_pending_until_gpupdate(client: TestClient, lab: Lab):
    page = client.get("/gpo").text
    assert "Domain controller: LDAP server signing requirements" in page
    assert 'id="dc-gpo-pending"' not in page
    client.post("/gpo/dc", data={"ldap_server_signing": "require", "ldap_channel_binding": "never"})
    page = client.get("/gpo").text
    assert 'id="dc-gpo-pending"' in page and '<option value="require" selected>' in page
    assert lab.dc_gpo.pending and lab.dc.ldap_policy.signing == "none"
    client.post("/gpo/gpupdate")
    assert lab.dc.ldap_policy.signing == "require"
    assert 'id="dc-gpo-pending"' not in client.get("/gpo").text


def test_gpo_page_refuses_a_bad_value_and_keeps_the_settings(client: TestClient, lab: Lab):
    page = client.post("/gpo/dc", data={"ldap_channel_binding": "sometimes"}).text
    assert any(m.startswith("ldap_channel_binding:") for m in _messages(page))
    assert lab.dc_gpo.settings.ldap_channel_binding == "never" and not lab.dc_gpo.pending


@pytest.mark.parametrize(("fault", "fix", "refused"), [
    ("ldap-signing-required", {"ldap_server_signing": "none", "ldap_channel_binding": "never"},
     "8 00002028: LdapErr: DSID-0C090259"),
    ("ldap-channel-binding-always", {"ldap_server_signing": "none", "ldap_channel_binding": "when_supported"},
     "49 80090346: LdapErr:"),
])
def test_ldap_hardening_exercise_fails_then_is_fixed_on_the_gpo_page(
        client: TestClient, lab: Lab, fault: str, fix: dict[str, str], refused: str) -> None:
    pytest.importorskip("Crypto.Hash.MD4", reason="ldap3's NTLM needs MD4 from pycryptodome on OpenSSL 3")
    ex = next(e for e in exercises() if e.fault == fault)
    assert ex.action == "ldap_bind" and "HR app" in ex.ticket
    client.post("/training/start", data={"exercise": str(ex.number)})
    assert lab.applied_faults == [fault]
    first = client.post("/training/check").text
    assert _status(first) != "Solved"
    assert any(refused in m for m in _messages(first)), _messages(first)
    client.post("/gpo/dc", data=fix)
    pending = client.post("/training/check").text  # edited, not yet applied: still refused
    assert _status(pending) != "Solved"
    client.post("/gpo/gpupdate")
    done = client.post("/training/check").text
    assert _status(done) == "Solved", _messages(done)
