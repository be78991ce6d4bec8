"""Doctor: rendering, pure rules on synthetic inputs, evidence/fix content, and endpoint reading."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from fakes.eventlog import to_jsonl
from simlab.doctor import EndpointSource, EventRecord, GpoView, diagnose
from simlab.doctor.accountcheck import password_policy
from simlab.doctor.adread import DomainInfo
from simlab.doctor.connectcheck import ConnectView, failed_onboarding, ou_filter, service_and_mode
from simlab.doctor.model import Check, Evidence, Finding, Report
from simlab.faults import apply_fault
from simlab.lab import Lab
from simlab.spec import LabSpec

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _lab() -> Lab:
    lab = Lab(LabSpec(population={"users": 10})).start()
    lab.advance(minutes=1)  # faults come after the build, as in real life
    return lab


@pytest.fixture
def lab():
    lab = _lab()
    yield lab
    lab.close()


def _event(event_id: int, minute: int = 0, message: str = "m") -> EventRecord:
    return EventRecord(event_id, "PasswordResetService", "Information", T0.replace(minute=minute), message)


# -- report rendering ------------------------------------------------------------------------
def _report() -> Report:
    f = Finding("missing-reset", "error", "Connector account lacks Reset password", "permissions",
                (Evidence("Active Directory (LDAP)", "DACL", "(OA;CIIO;CR;x;y;S-1-5-21-1)\nsecond line"),),
                ('dsacls "DC=contoso,DC=com" /G "CONTOSO\\MSOL_1:CA;Reset Password;user" /I:S',))
    g = Finding("unlock-off", "warning", "Unlock off", "tenant", (), ("Tick it",), user="alice")
    return Report("lab", "alice", (g, f), (Check("licence", "ok", "AAD_PREMIUM"),), "2026-01-05T09:00:00")


def test_json_round_trips_and_sorts_errors_first():
    data = json.loads(_report().to_json())
    assert [f["id"] for f in data["findings"]] == ["missing-reset", "unlock-off"]
    assert data["healthy"] is False
    assert data["findings"][0]["evidence"][0]["value"].endswith("second line")


def test_text_and_markdown_carry_evidence_and_fix():
    r = _report()
    text, md = r.to_text(), r.to_markdown()
    for out in (text, md):
        assert "(OA;CIIO;CR;x;y;S-1-5-21-1)" in out
        assert 'dsacls "DC=contoso,DC=com"' in out
    assert "[ERROR] missing-reset" in text
    assert "| error | `missing-reset` |" in md
    assert "## `unlock-off`" in md


def test_empty_report_says_healthy():
    r = Report("lab", None, ())
    assert r.healthy and "No problems found." in r.to_text() and "No problems found" in r.to_markdown()


# -- pure rules --------------------------------------------------------------------------------
def test_failed_onboarding_needs_32009_after_the_last_start():
    assert failed_onboarding([_event(31004), _event(32009, 1, "Error getting auth token.")])
    assert not failed_onboarding([_event(31004), _event(32009, 1), _event(31004, 2), _event(31005, 3)])
    assert not failed_onboarding([_event(31004), _event(32011, 1)])  # licence, not a role problem
    assert not failed_onboarding([])


def test_ou_filter_rule():
    view = ConnectView({"Synchronized directories": [
        {"Directory": "contoso.com", "OU filtering": ["OU=Sales,OU=Staff,DC=contoso,DC=com"]}]})
    inside = ou_filter(view, "contoso.com", "CN=A,OU=Sales,OU=Staff,DC=contoso,DC=com", "a")
    outside = ou_filter(view, "contoso.com", "CN=B,OU=HR,OU=Staff,DC=contoso,DC=com", "b")
    assert inside[0] == [] and [f.id for f in outside[0]] == ["user-outside-ou-filter"]
    assert "OU=HR,OU=Staff,DC=contoso,DC=com" in outside[0][0].fix[0]


def test_service_and_mode_reads_the_configuration_page():
    view = ConnectView({"Service": "Stopped", "Staging mode": True,
                        "Optional features": {"Password writeback": True},
                        "Synchronized directories": [{"Directory": "contoso.com",
                                                      "Sign and Encrypt LDAP Traffic": False}]})
    ids = {f.id for f in service_and_mode(view, [_event(31016)])[0]}
    assert ids == {"connect-service-stopped", "staging-mode", "ldap-sign-and-encrypt-off"}


def _domain(**policy: int) -> DomainInfo:
    base = {"minPwdAge": 0, "maxPwdAge": -36288000000000, "minPwdLength": 7, "pwdHistoryLength": 24,
            "pwdProperties": 1, "lockoutThreshold": 0, "lockoutDuration": 0, "lockOutObservationWindow": 0}
    return DomainInfo("DC=contoso,DC=com", "S-1-5-21-1-2-3", None, {**base, **policy}, T0)  # type: ignore[arg-type]


def test_policy_rule_sees_applied_and_pending_values():
    assert password_policy(_domain(), None)[0] == []
    assert [f.id for f in password_policy(_domain(minPwdAge=-864000000000), None)[0]] == ["min-password-age"]
    pending = GpoView({"min_age_days": 2, "min_length": 7, "history": 24}, pending=True)
    found = password_policy(_domain(), pending)[0]
    assert [f.id for f in found] == ["min-password-age"]
    assert any("not yet applied" in e.value for e in found[0].evidence)
    assert [f.id for f in password_policy(_domain(minPwdLength=12), None)[0]] == ["password-policy-conflict"]


# -- evidence and fixes on a real lab --------------------------------------------------------------
def test_missing_reset_fix_names_the_real_account_and_dn(lab):
    apply_fault(lab, "missing-reset")
    (f,) = diagnose(lab).findings
    account = lab.connect.view_configuration()["Synchronized directories"][0]["Account"]
    assert f.id == "missing-reset"
    assert f'dsacls "{lab.dc.domain_dn}" /G "{account}:CA;Reset Password;user" /I:S' in f.fix


def test_a_failed_reset_adds_the_connect_events_to_the_evidence(lab):
    apply_fault(lab, "missing-reset")
    assert not lab.sspr_reset("alice", "N3w-Passw0rd!2026").ok
    (f,) = diagnose(lab, user="alice").findings
    assert any("event 33004" in e.item for e in f.evidence)


def test_explicit_deny_evidence_is_the_sddl_and_names_the_ou(lab):
    apply_fault(lab, "explicit-deny", user="alice", target="ou")
    report = diagnose(lab, user="alice")
    (f,) = report.findings
    ou = lab.user("alice").dn.split(",", 1)[1]
    assert f.id == "explicit-deny" and f.user == "alice"
    assert any(e.value.startswith("(OD;") and ou in e.item for e in f.evidence)
    assert any("Reset password: DENIED" in e.value for e in f.evidence)


def test_protected_user_after_sdprop_is_not_also_inheritance_disabled(lab):
    apply_fault(lab, "protected-user")
    lab.advance(minutes=61)  # SDProp stamps adminCount=1 and the protected AdminSDHolder DACL
    report = diagnose(lab, user="alice")
    assert report.ids == {"protected-user"}
    evidence = " ".join(e.value for e in report.findings[0].evidence)
    assert "Domain Admins" in evidence and "SE_DACL_PROTECTED" in evidence


def test_admin_lacks_role_quotes_event_32009(lab):
    apply_fault(lab, "admin-lacks-role")
    (f,) = diagnose(lab).findings
    assert f.id == "admin-lacks-role"
    assert any("32009" in e.item for e in f.evidence)


def test_doctor_does_not_read_applied_faults(lab):
    apply_fault(lab, "staging-mode")
    lab.applied_faults.clear()
    assert diagnose(lab).ids == {"staging-mode"}


def test_healthy_protected_it_admin_is_reported_only_when_asked_about(lab):
    conn = lab.ldap()
    conn.search(lab.dc.domain_dn, "(&(objectClass=user)(adminCount=1)(sAMAccountName=*)(!(cn=krbtgt))"
                "(!(cn=Administrator)))", attributes=["sAMAccountName"])
    admin = conn.response[0]["attributes"]["sAMAccountName"]
    admin = admin[0] if isinstance(admin, list) else admin
    conn.unbind()
    assert diagnose(lab).healthy
    assert diagnose(lab, user=admin).ids == {"protected-user"}


# -- any LDAP + Graph pair ------------------------------------------------------------------------------
def _endpoint_source(lab: Lab, tmp_path, *, with_connect: bool = True) -> EndpointSource:
    graph = lab.serve_graph()
    ep = lab.endpoints()
    events = tmp_path / "events.jsonl"
    config = tmp_path / "connect.json"
    events.write_text(to_jsonl(lab.connect.eventlog.query()))
    config.write_text(json.dumps(lab.connect.view_configuration()))
    return EndpointSource(ldap_url=ep["ldaps_url"], ca_file=ep["ca_file"], admin_dn=ep["admin_dn"],
                          admin_password=ep["admin_password"], graph_url=graph.base_url,
                          token=graph.tokens["global_admin"], graph_ca_file=graph.ca_file,
                          events_file=events if with_connect else None,
                          connect_config_file=config if with_connect else None)


def test_endpoint_source_matches_the_lab_source(lab, tmp_path):
    apply_fault(lab, "missing-wp-lockouttime")
    apply_fault(lab, "unlock-off")
    apply_fault(lab, "ldap-sign-and-encrypt-off")
    report = diagnose(_endpoint_source(lab, tmp_path), user="alice")
    assert report.ids == diagnose(lab, user="alice").ids == {
        "missing-wp-lockouttime", "unlock-off", "ldap-sign-and-encrypt-off"}


def test_endpoint_source_without_connect_finds_the_msol_account_and_skips_connect(lab, tmp_path):
    apply_fault(lab, "missing-reset")
    report = diagnose(_endpoint_source(lab, tmp_path, with_connect=False))
    assert report.ids == {"missing-reset"}
    assert any(c.name == "Connect configuration" and c.status == "skipped" for c in report.checks)


def test_endpoint_source_sees_min_age_only_once_the_gpo_is_applied(lab, tmp_path):
    apply_fault(lab, "min-password-age")
    source = _endpoint_source(lab, tmp_path)
    assert "min-password-age" not in diagnose(source).ids  # no GPO editor: the DC still enforces 0
    assert diagnose(lab).ids == {"min-password-age"}  # the GPO editor shows the pending edit
    lab.gpupdate()
    assert diagnose(source).ids == {"min-password-age"}


def test_endpoint_source_bad_admin_password_is_a_clear_error(lab):
    ep = lab.endpoints()
    source = EndpointSource(ldap_url=ep["ldaps_url"], ca_file=ep["ca_file"], admin_dn=ep["admin_dn"],
                            admin_password="wrong")
    with pytest.raises(ConnectionError, match="bind as"):
        diagnose(source)


def test_diagnose_rejects_other_objects():
    with pytest.raises(TypeError, match="Lab or a Source"):
        diagnose(object())
