"""Every exercise added for user Properties, Connect's connector/OU filtering and Licences: fault -> fix.

Each test starts the exercise through the console, proves "Check my fix" fails, fixes the
fault only through console pages (the admin's path), and proves the check then passes —
which means the new password really bound to the DC (or the unlock really cleared lockoutTime).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from simlab.console import build_app
from simlab.console.pages_aduc_user import CANNOT_CHANGE_SIDS, cannot_change_aces, is_cannot_change_ace
from simlab.console.training import CONSOLE_FIXABLE, exercises
from simlab.faults import FAULTS
from simlab.lab import Lab

NEW_CONNECTOR_PASSWORD = "Connector-Rotated-2026!x"


def _messages(html: str) -> list[str]:
    return [m.replace("&#39;", "'") for m in re.findall(r'class="msg msg-\w+[^"]*"[^>]*>([^<]*)', html)]


def _status(html: str) -> str:
    found = re.search(r'id="status">([^<]*)<', html)
    return found.group(1) if found else ""


@pytest.fixture
def client(lab: Lab) -> TestClient:
    return TestClient(build_app(lab))


def _start(client: TestClient, fault: str) -> None:
    ex = next(e for e in exercises() if e.fault == fault)
    client.post("/training/start", data={"exercise": str(ex.number)})


def _group_dn(lab: Lab, cn: str) -> str:
    return next(e.dn for e in lab.dc.directory.lookup("cn", cn) if e.object_class == "group")


def _account_form(client: TestClient, dn: str) -> dict[str, str]:
    """The Account tab's checkboxes as the page renders them (what a browser would post back)."""
    html = client.get("/aduc/user", params={"dn": dn}).text
    data = {"dn": dn}
    for name in ("must_change", "cannot_change", "never_expires"):
        if re.search(rf'name="{name}" checked', html):
            data[name] = "on"
    return data


def _fix_protected_user(client: TestClient, lab: Lab) -> None:
    dn = lab.user("alice").dn
    page = client.get("/aduc/user", params={"dn": dn}).text
    assert "Domain Admins" in page and 'id="admincount"' in page
    client.post("/aduc/user/memberof/remove", data={"dn": dn, "group": _group_dn(lab, "Domain Admins")})
    client.post("/aduc/security/inheritance", data={"dn": dn, "action": "enable"})


def _fix_cannot_change(client: TestClient, lab: Lab) -> None:
    dn = lab.user("alice").dn
    data = _account_form(client, dn)
    assert data.pop("cannot_change") == "on", "the Account tab must show the checkbox ticked"
    client.post("/aduc/user/account", data=data)


def _fix_outside_filter(client: TestClient, lab: Lab) -> None:
    page = client.get("/connect/ou-filtering").text
    ous = re.findall(r'name="ou" value="([^"]+)"', page)
    assert ous
    pairs = [("domain", lab.spec.domain.dns), ("scope", "selected"), ("start_sync", "on")]
    body = urlencode(pairs + [("ou", dn) for dn in ous])
    client.post(
        "/connect/ou-filtering", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )


def _fix_not_synced(client: TestClient, lab: Lab) -> None:
    client.post("/connect/sync")


def _fix_no_licence(client: TestClient, lab: Lab) -> None:
    assert 'id="no-skus"' in client.get("/entra/licences").text
    client.post("/entra/licences", data={"product": "P1"})


def _fix_connector_password_changed(client: TestClient, lab: Lab) -> None:
    # What an admin does: set a new password on the account in ADUC, then give Connect the same one.
    client.post(
        "/aduc/user/reset",
        data={
            "dn": lab.dc.connector_dn,
            "password": NEW_CONNECTOR_PASSWORD,
            "confirm": NEW_CONNECTOR_PASSWORD,
        },
    )
    client.post(
        "/connect/connector",
        data={"domain": lab.spec.domain.dns, "sign_and_encrypt": "on", "password": NEW_CONNECTOR_PASSWORD},
    )


def _fix_connector_expired(client: TestClient, lab: Lab) -> None:
    data = _account_form(client, lab.dc.connector_dn)
    assert data.pop("must_change") == "on" and "never_expires" not in data
    data["never_expires"] = "on"
    client.post("/aduc/user/account", data=data)


def _fix_connector_locked(client: TestClient, lab: Lab) -> None:
    dn = lab.dc.connector_dn
    assert 'id="unlock"' in client.get("/aduc/user", params={"dn": dn}).text
    client.post("/aduc/user/account", data={**_account_form(client, dn), "unlock": "on"})


FIXES: dict[str, Callable[[TestClient, Lab], None]] = {
    "protected-user": _fix_protected_user,
    "user-cannot-change-password": _fix_cannot_change,
    "user-outside-ou-filter": _fix_outside_filter,
    "user-not-synced": _fix_not_synced,
    "no-licence": _fix_no_licence,
    "connector-password-changed": _fix_connector_password_changed,
    "connector-password-expired": _fix_connector_expired,
    "connector-locked": _fix_connector_locked,
}


@pytest.mark.parametrize("fault", sorted(FIXES))
def test_new_exercise_fails_then_is_fixed_in_the_console(client: TestClient, lab: Lab, fault: str) -> None:
    _start(client, fault)
    assert lab.applied_faults == [fault]
    first = client.post("/training/check").text
    assert _status(first) != "Solved", _messages(first)
    code = FAULTS[fault].symptom.code
    if code and code.startswith("SSPR_"):
        assert code in " ".join(_messages(first))
    FIXES[fault](client, lab)
    done = client.post("/training/check").text
    assert _status(done) == "Solved", _messages(done)


def test_offered_exercises_cover_the_catalogue_but_the_unfixable() -> None:
    offered = {e.fault for e in exercises()}
    assert set(FIXES) <= offered
    assert len(offered) == len(CONSOLE_FIXABLE) == 28
    assert set(FAULTS) - offered == {"missing-change", "cloud-only-user", "graph-throttled"}


def test_cannot_change_checkbox_writes_and_removes_the_two_deny_aces(client: TestClient, lab: Lab) -> None:
    from simlab.console.pages_ad import _read_sd

    dn = lab.user("bob").dn
    data = {k: v for k, v in _account_form(client, dn).items()}
    client.post("/aduc/user/account", data={**data, "cannot_change": "on"})
    aces = _read_sd(lab, dn).dacl.aces
    assert sorted(a.sid for a in aces if is_cannot_change_ace(a)) == sorted(CANNOT_CHANGE_SIDS)
    assert all(is_cannot_change_ace(a) for a in cannot_change_aces())
    assert not lab.change_password("bob", lab.spec.population.password, "Blocked-Change-2026!x").ok
    client.post("/aduc/user/account", data=data)
    assert not any(is_cannot_change_ace(a) for a in _read_sd(lab, dn).dacl.aces)


def test_reset_password_mismatch_and_policy_errors_are_shown(client: TestClient, lab: Lab) -> None:
    dn = lab.user("bob").dn
    r = client.post(
        "/aduc/user/reset", data={"dn": dn, "password": "One-1!aaaaaa", "confirm": "Two-2!bbbbbb"}
    )
    assert "The passwords do not match." in _messages(r.text)
    r = client.post("/aduc/user/reset", data={"dn": dn, "password": "short", "confirm": "short"})
    assert any(m.startswith("Windows cannot complete the password change for") for m in _messages(r.text))
    r = client.post(
        "/aduc/user/reset", data={"dn": dn, "password": "Fresh-Pass-2026!x", "confirm": "Fresh-Pass-2026!x"}
    )
    assert lab.bind("bob", "Fresh-Pass-2026!x").ok


def test_licences_refuse_a_non_admin(client: TestClient, lab: Lab) -> None:
    with lab.tenant.lock:
        lab.tenant.licence = "none"
    client.post("/entra/signin", data={"upn": f"alice@{lab.spec.domain.dns}"})
    r = client.post("/entra/licences", data={"product": "P1"})
    assert "Authorization_RequestDenied" in " ".join(_messages(r.text))
    assert lab.tenant.licence == "none"


def test_ou_filtering_needs_a_selection(client: TestClient, lab: Lab) -> None:
    r = client.post("/connect/ou-filtering", data={"domain": lab.spec.domain.dns, "scope": "selected"})
    assert "Select at least one organizational unit" in " ".join(_messages(r.text))
    assert lab.connect.config.directories[0].ou_filter == ()


def test_protected_user_needs_inheritance_back_after_leaving_the_group(client: TestClient, lab: Lab) -> None:
    _start(client, "protected-user")
    dn = lab.user("alice").dn
    client.post("/aduc/user/memberof/remove", data={"dn": dn, "group": _group_dn(lab, "Domain Admins")})
    half = client.post("/training/check").text
    assert _status(half) != "Solved" and "SSPR_0029" in " ".join(_messages(half))


def test_connect_password_alone_does_not_fix_a_password_nobody_knows(client: TestClient, lab: Lab) -> None:
    _start(client, "connector-password-changed")
    client.post(
        "/connect/connector",
        data={"domain": lab.spec.domain.dns, "sign_and_encrypt": "on", "password": NEW_CONNECTOR_PASSWORD},
    )
    assert lab.connect.config.directories[0].connector.password == NEW_CONNECTOR_PASSWORD
    assert _status(client.post("/training/check").text) != "Solved"
