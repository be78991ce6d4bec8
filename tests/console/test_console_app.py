"""The console's pages in-process (Starlette TestClient): each action changes the lab as an admin's would."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from fakes.ad.rights import AppliesTo, RightsError
from fakes.ad.security.sddl import format_ace
from simlab.console import build_app
from simlab.console.pages_ad import (
    APPLIES_CHOICES,
    PERMISSION_CHOICES,
    build_tree,
    parse_applies,
    parse_permission,
)
from simlab.console.training import CONSOLE_FIXABLE, exercises, healthy_spec, score
from simlab.faults import FAULTS
from simlab.lab import Lab
from tests.console.conftest import small_spec


def _messages(html: str) -> list[str]:
    return [m.replace("&#39;", "'") for m in re.findall(r'class="msg msg-\w+[^"]*"[^>]*>([^<]*)', html)]


@pytest.fixture
def client(lab: Lab) -> TestClient:
    return TestClient(build_app(lab))


def _explicit_sddl(lab: Lab, dn: str) -> list[str]:
    from simlab.console.pages_ad import _read_sd

    sd = _read_sd(lab, dn)
    return [format_ace(a, lab.dc.domain_sid) for a in sd.dacl.aces if not a.inherited]


def test_every_page_renders(client: TestClient, lab: Lab) -> None:
    for path in [
        "/",
        "/entra/password-reset/onprem",
        "/entra/password-reset/properties",
        "/entra/audit",
        "/sspr",
        "/aduc",
        f"/aduc/security?dn={lab.dc.domain_dn}",
        "/gpo",
        "/connect",
        "/connect/features",
        "/events",
        "/events?log=Security",
        "/training",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "<h1>" in response.text, path


def test_sspr_unknown_user_and_writeback_off_show_entra_strings(client: TestClient, lab: Lab) -> None:
    r = client.post("/sspr", data={"step": "begin", "upn": "nobody@contoso.com"})
    assert "We couldn't find an account with that username." in r.text.replace("&#39;", "'")
    lab.tenant.set_onprem(writeback_enabled=False)
    r = client.post("/sspr", data={"step": "begin", "upn": "alice@contoso.com"})
    assert "SSPR_0010: We've detected that password writeback hasn't been enabled." in r.text.replace(
        "&#39;", "'"
    )


def test_onprem_blade_refuses_a_non_admin_and_writes_audit_for_the_admin(
    client: TestClient, lab: Lab
) -> None:
    client.post("/entra/signin", data={"upn": "alice@contoso.com"})
    r = client.get("/entra/password-reset/onprem")
    assert 'id="blade-error"' in r.text and "Authorization_RequestDenied" in r.text
    client.post("/entra/signin", data={"upn": lab.tenant.admin_upn})
    before = len(lab.tenant.audit.query(activity="Self-service password reset policy changes"))
    r = client.post(
        "/entra/password-reset/onprem", data={"passwordWritebackSupported": "on"}
    )  # unlock unticked
    assert "Successfully updated" in " ".join(_messages(r.text))
    assert lab.tenant.onprem.unlock_enabled is False and lab.tenant.onprem.writeback_enabled is True
    assert len(lab.tenant.audit.query(activity="Self-service password reset policy changes")) == before + 1


def test_sspr_properties_save_changes_enablement(client: TestClient, lab: Lab) -> None:
    client.post("/entra/password-reset/properties", data={"enablementType": "0"})
    assert lab.tenant.sspr_policy.enablement == "none"
    r = client.post("/sspr", data={"step": "begin", "upn": "alice@contoso.com"})
    assert "SSPR_0009" in r.text
    r = client.post("/entra/password-reset/properties", data={"enablementType": "2"})
    assert "Successfully updated" in " ".join(_messages(r.text))
    assert lab.tenant.sspr_policy.enablement == "all"


def test_add_then_remove_an_ace_round_trips_the_dacl(client: TestClient, lab: Lab) -> None:
    dn = f"OU=Sales,OU=Staff,{lab.dc.domain_dn}"
    before = _explicit_sddl(lab, dn)
    r = client.post(
        "/aduc/security/add",
        data={
            "dn": dn,
            "principal": "Everyone",
            "type": "deny",
            "applies": "class:user",
            "permission": "right:Reset Password",
        },
    )
    assert "Added: Deny Everyone" in " ".join(_messages(r.text))
    added = [s for s in _explicit_sddl(lab, dn) if s not in before]
    assert added == [
        "(OD;CIIO;CR;00299570-246d-11d0-a768-00aa006e0529;bf967aba-0de6-11d0-a285-00aa003049e2;WD)"
    ]
    r = client.post("/aduc/security/remove", data={"dn": dn, "sddl": added[0]})
    assert "Permission entry removed." in _messages(r.text)
    assert _explicit_sddl(lab, dn) == before


def test_unknown_principal_gets_the_object_picker_message(client: TestClient, lab: Lab) -> None:
    r = client.post(
        "/aduc/security/add",
        data={
            "dn": lab.dc.domain_dn,
            "principal": "ghost",
            "type": "allow",
            "applies": "this",
            "permission": "mask:readall",
        },
    )
    assert 'Name Not Found: An object named "ghost" cannot be found.' in r.text.replace("&#34;", '"')


def test_inheritance_disable_remove_then_enable(client: TestClient, lab: Lab) -> None:
    dn = lab.user("alice").dn
    client.post("/aduc/security/inheritance", data={"dn": dn, "action": "remove"})
    r = client.get("/aduc/security", params={"dn": dn})
    assert "Inheritance is disabled" in r.text and 'class="inherited"' not in r.text
    assert lab.sspr_reset("alice", "Blocked-By-Protect-1!").code == "SSPR_0029"
    client.post("/aduc/security/inheritance", data={"dn": dn, "action": "enable"})
    r = client.get("/aduc/security", params={"dn": dn})
    assert "Inheritance is enabled" in r.text and 'class="inherited"' in r.text
    assert lab.sspr_reset("alice", "Works-Again-2026!x").ok


def test_gpo_edit_is_pending_until_gpupdate(client: TestClient, lab: Lab) -> None:
    client.post(
        "/gpo",
        data={
            "min_age_days": "2",
            "max_age_days": "42",
            "min_length": "7",
            "history": "24",
            "complexity": "on",
            "lockout_threshold": "0",
            "lockout_duration_minutes": "30",
            "lockout_window_minutes": "30",
        },
    )
    assert lab.gpo.pending and 'id="gpo-pending"' in client.get("/gpo").text
    r = client.post("/gpo/gpupdate")
    assert "Computer Policy update has completed successfully." in r.text
    assert not lab.gpo.pending and lab.gpo.applied.min_age_days == 2


def test_connect_wizard_with_a_non_admin_fails_with_32009(client: TestClient, lab: Lab) -> None:
    client.post(
        "/connect/features",
        data={"upn": lab.tenant.admin_upn, "password": lab.tenant.admin_password, "password_hash_sync": "on"},
    )
    assert not lab.connect.config.features.password_writeback
    r = client.post(
        "/connect/features",
        data={
            "upn": "alice@contoso.com",
            "password": "wrong",
            "password_hash_sync": "on",
            "password_writeback": "on",
        },
    )
    assert r.status_code == 400 and 'id="wizard-error"' in r.text and "32009" in r.text
    assert not lab.connect.config.features.password_writeback


def test_service_stop_start_and_event_filter(client: TestClient, lab: Lab) -> None:
    client.post("/connect/service", data={"action": "stop"})
    assert not lab.connect.service_running
    r = client.get("/events", params={"ids": "31016"})
    assert re.findall(r'class="event-id">(\d+)<', r.text) == ["31016"]
    client.post("/connect/service", data={"action": "start"})
    assert lab.connect.service_running


def test_clock_buttons_advance_simulated_time(client: TestClient, lab: Lab) -> None:
    start = lab.clock.now()
    client.post("/clock", data={"minutes": "60", "back": "/"})
    assert (lab.clock.now() - start).total_seconds() == 3600
    after_hour = lab.clock.now()
    r = client.post("/clock", data={"minutes": "7"})
    assert lab.clock.now() == after_hour, "an unlisted step must not move the clock"
    assert "Choose one of" in " ".join(_messages(r.text))


def test_training_start_rebuilds_healthy_then_faulty_and_scores(client: TestClient, lab: Lab) -> None:
    ex = next(e for e in exercises() if e.fault == "writeback-off-portal")
    client.post("/training/start", data={"exercise": str(ex.number)})
    assert lab.applied_faults == ["writeback-off-portal"]
    r = client.post("/training/check")
    assert "SSPR_0010" in " ".join(_messages(r.text))
    client.post("/training/hint")
    client.post(
        "/entra/password-reset/onprem",
        data={"passwordWritebackSupported": "on", "accountUnlockEnabled": "on"},
    )
    r = client.post("/training/check")
    assert 'id="status">Solved<' in r.text
    assert f'id="score">{score(solved=True, steps=1, hints_used=1, failed_checks=1)} / 100<' in r.text


def test_exercises_come_from_the_catalogue() -> None:
    names = [e.fault for e in exercises()]
    assert set(CONSOLE_FIXABLE) <= set(FAULTS), "every fixable exercise must exist in the catalogue"
    assert names and len(set(names)) == len(names)
    for ex in exercises():
        fault = FAULTS[ex.fault]
        assert fault.fix in ex.hints[-1] and fault.symptom.text in ex.hints[0]
        assert ex.fault not in ex.ticket and fault.title not in ex.ticket


def test_healthy_spec_undoes_what_breaks_writeback() -> None:
    broken = small_spec(
        connect={"tutorial_permissions": False, "password_writeback": False, "service_running": False},
        tenant={"writeback": False, "licence": "none"},
        faults=["no-licence"],
    )
    healthy = healthy_spec(broken)
    assert healthy.connect.tutorial_permissions and healthy.connect.password_writeback
    assert healthy.tenant.writeback and healthy.tenant.licence == "P1" and healthy.faults == []
    assert healthy.domain == broken.domain and healthy.population == broken.population


@given(st.booleans(), st.integers(0, 60), st.integers(0, 3), st.integers(0, 10))
def test_score_bounds_and_monotonic(solved: bool, steps: int, hints: int, failed: int) -> None:
    s = score(solved=solved, steps=steps, hints_used=hints, failed_checks=failed)
    assert (0 <= s <= 100) and (s == 0) == (not solved)
    assert score(solved=solved, steps=steps + 1, hints_used=hints, failed_checks=failed) <= s
    assert score(solved=solved, steps=steps, hints_used=hints + 1, failed_checks=failed) <= s
    assert score(solved=solved, steps=steps, hints_used=hints, failed_checks=failed + 1) <= s


def test_form_choices_map_to_aduc_flags() -> None:
    for value, label in APPLIES_CHOICES:
        applies, cls = parse_applies(value)
        assert (applies is AppliesTo.DESCENDANT_CLASS) == (cls is not None)
        assert label.lower().startswith(applies.value.split("{")[0].lower().strip())
    for _, value, _ in PERMISSION_CHOICES:
        assert len(parse_permission(value)) == 1
    with pytest.raises(RightsError):
        parse_permission("right:")
    with pytest.raises(RightsError):
        parse_applies("class:")


def test_build_tree_nests_by_parent() -> None:
    root = "DC=contoso,DC=com"
    tree = build_tree(
        root,
        ["OU=Staff,DC=contoso,DC=com", "OU=Sales,OU=Staff,DC=contoso,DC=com", "CN=Users,DC=contoso,DC=com"],
    )
    assert tree.name == "contoso.com"
    assert [c.name for c in tree.children] == ["Staff", "Users"]
    assert [c.name for c in tree.children[0].children] == ["Sales"]


def test_aduc_lists_every_child_past_max_page_size(client: TestClient, lab: Lab) -> None:
    """ADUC pages its reads: an OU with more children than the DC's MaxPageSize lists them all."""
    ou = next(e for e in lab.dc.directory.lookup("objectclass", "organizationalUnit")
              if len(e.children) > 3)
    lab.dc.max_page_size = 2
    response = client.get("/aduc", params={"dn": ou.dn})
    assert response.status_code == 200
    for child in ou.children.values():
        name = child.attrs.get("name", [child.dn.split(",", 1)[0].split("=", 1)[1]])[0]
        assert html.escape(name) in response.text
