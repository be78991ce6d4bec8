"""LDAP server signing / channel binding as configuration: spec, Default Domain Controllers Policy
GPO (pending until refresh), the ldap-signing-required fault seen by real clients (ldap3 and the
OpenLDAP tools) over a served lab, SSPR writeback unaffected, doctor, the control API."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
from typing import Any

import httpx
import ldap3
import pytest

from fakes.ad import errors
from simlab.control import serve_control
from simlab.doctor import EndpointSource, diagnose
from simlab.faults import apply_fault
from simlab.lab import Lab
from simlab.spec import LabSpec
from simlab.specfile import SpecError

SMALL = {"population": {"users": 4}}
PASSWORD = "Winter2026!Lab"
needs_ldapsearch = pytest.mark.skipif(shutil.which("ldapsearch") is None, reason="ldap-utils not installed")


def _simple(lab: Lab, transport: str, user: str = "alice", password: str = PASSWORD) -> dict[str, Any]:
    """One simple bind with ldap3 as ``user`` over ``transport``; the bind response."""
    ep = lab.endpoints()
    secure = transport == "ldaps"
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ep["ca_file"])
    server = ldap3.Server(ep["host"], port=ep["ldaps_port"] if secure else ep["ldap_port"], use_ssl=secure,
                          tls=tls, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=lab.user(user).dn, password=password, raise_exceptions=False)
    conn.open()
    if transport == "starttls":
        assert conn.start_tls()
    conn.bind()
    result = dict(conn.result)
    conn.unbind()
    return result


def _ldapsearch(lab: Lab, url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LDAPTLS_CACERT": lab.endpoints()["ca_file"], "LDAPTLS_REQCERT": "demand"}
    return subprocess.run(["ldapsearch", "-x", "-H", url, *args], capture_output=True, text=True, env=env,
                          timeout=20, check=False)


# -- configuration -------------------------------------------------------------------------------
def test_spec_defaults_and_rejects_unknown_values():
    spec = LabSpec()
    assert (spec.dc_policy.ldap_server_signing, spec.dc_policy.ldap_channel_binding) == ("none", "never")
    with pytest.raises(SpecError, match=r"dc_policy\.ldap_server_signing"):
        LabSpec.from_yaml("dc_policy: {ldap_server_signing: required}\n")
    with pytest.raises(SpecError, match=r"dc_policy\.ldap_channel_binding"):
        LabSpec.from_yaml("dc_policy: {ldap_channel_binding: sometimes}\n")


def test_spec_sets_the_policy_at_build():
    spec = LabSpec.model_validate({**SMALL, "dc_policy": {"ldap_server_signing": "require",
                                                          "ldap_channel_binding": "always"}})
    with Lab(spec) as lab:
        policy = lab.dc.ldap_policy
        assert (policy.ldap_server_integrity, policy.ldap_enforce_channel_binding) == (2, 2)
        assert not lab.dc_gpo.pending
        assert _simple(lab, "ldap")["result"] == 8


def test_gpo_edit_is_pending_until_the_dc_refresh_then_until_gpupdate():
    with Lab(LabSpec.model_validate(SMALL)) as lab:
        lab.dc_gpo.edit(ldap_server_signing="require")
        assert lab.dc_gpo.pending and lab.dc.ldap_policy.signing == "none"
        assert _simple(lab, "ldap")["result"] == 0  # old setting still in force
        assert "GPO refresh" not in lab.advance(minutes=4)
        assert _simple(lab, "ldap")["result"] == 0
        assert lab.advance(minutes=1).count("GPO refresh") == 1  # one refresh applies both GPOs
        assert not lab.dc_gpo.pending
        assert _simple(lab, "ldap")["result"] == 8
        lab.dc_gpo.edit(ldap_server_signing="none")
        assert _simple(lab, "ldap")["result"] == 8
        lab.gpupdate()
        assert _simple(lab, "ldap")["result"] == 0


def test_snapshot_restores_the_dc_policy():
    with Lab(LabSpec.model_validate(SMALL)) as lab:
        snap = lab.snapshot()
        apply_fault(lab, "ldap-signing-required")
        lab.restore(snap)
        assert lab.dc.ldap_policy.signing == "none" and lab.dc_gpo.settings.ldap_server_signing == "none"
        assert _simple(lab, "ldap")["result"] == 0


# -- the fault over the wire -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def signing_lab() -> Any:
    with Lab(LabSpec.model_validate({**SMALL, "faults": ["ldap-signing-required"]})) as lab:
        yield lab


def test_simple_bind_on_389_gets_stronger_auth_required_with_the_exact_text(signing_lab: Lab):
    result = _simple(signing_lab, "ldap")
    assert (result["result"], result["description"]) == (8, "strongerAuthRequired")
    assert result["message"].rstrip("\x00") == errors.STRONGER_AUTH_REQUIRED
    assert result["message"].startswith("00002028: LdapErr: DSID-0C090259, comment: The server requires "
                                        "binds to turn on integrity checking if SSL\\TLS are not already")


@pytest.mark.parametrize("transport", ["ldaps", "starttls"])
def test_ldaps_and_starttls_simple_binds_still_work(signing_lab: Lab, transport: str):
    assert _simple(signing_lab, transport)["result"] == 0


def test_anonymous_root_dse_stays_readable_on_389(signing_lab: Lab):
    ep = signing_lab.endpoints()
    conn = ldap3.Connection(ldap3.Server(ep["host"], port=ep["ldap_port"], get_info=ldap3.NONE),
                            raise_exceptions=False)
    assert conn.bind()
    assert conn.search("", "(objectClass=*)", ldap3.BASE, attributes=["defaultNamingContext"])
    assert conn.entries[0].defaultNamingContext.value == ep["base_dn"]
    conn.unbind()


@needs_ldapsearch
def test_ldapsearch_shows_windows_answer_on_389_and_works_with_starttls(signing_lab: Lab):
    ep = signing_lab.endpoints()
    creds = ["-D", ep["admin_dn"], "-w", ep["admin_password"], "-b", ep["base_dn"], "-s", "base"]
    plain = _ldapsearch(signing_lab, ep["ldap_url"], *creds)
    assert plain.returncode == 8
    assert "Strong(er) authentication required (8)" in plain.stderr
    assert errors.STRONGER_AUTH_REQUIRED in plain.stderr
    assert _ldapsearch(signing_lab, ep["ldap_url"], "-ZZ", *creds).returncode == 0
    assert _ldapsearch(signing_lab, ep["ldaps_url"], *creds).returncode == 0


def test_connect_agent_keeps_writing_back_over_ldaps(signing_lab: Lab):
    attempt = signing_lab.sspr_reset("bob", "Signed-Passw0rd-2026!")
    assert attempt.ok, attempt
    assert _simple(signing_lab, "ldaps", "bob", "Signed-Passw0rd-2026!")["result"] == 0
    assert _simple(signing_lab, "ldap", "bob", "Signed-Passw0rd-2026!")["result"] == 8


def test_doctor_names_it_and_reads_over_tls(signing_lab: Lab):
    report = diagnose(signing_lab)
    assert report.ids == {"ldap-signing-required"}
    found = report.findings[0]
    assert any(errors.STRONGER_AUTH_REQUIRED in e.value for e in found.evidence)
    assert any(e.value == "Require signing" for e in found.evidence)
    ep = signing_lab.endpoints()
    creds = {"admin_dn": ep["admin_dn"], "admin_password": ep["admin_password"], "ca_file": ep["ca_file"],
             "base_dn": ep["base_dn"]}
    # ldap:// + CA file: doctor upgrades its own connection with StartTLS, and probes plain binds there.
    source = EndpointSource(ldap_url=ep["ldap_url"], ldaps_url=ep["ldaps_url"], **creds)
    assert "ldap-signing-required" in diagnose(source).ids
    # LDAPS on an ephemeral port: no plain port to probe, so the check is skipped, not guessed.
    report = diagnose(EndpointSource(ldap_url=ep["ldaps_url"], **creds))
    assert "ldap-signing-required" not in report.ids
    assert [c.status for c in report.checks if c.name == "LDAP server signing requirements"] == ["skipped"]


def test_doctor_without_tls_says_why_it_cannot_bind(signing_lab: Lab):
    ep = signing_lab.endpoints()
    source = EndpointSource(ldap_url=ep["ldap_url"], admin_dn=ep["admin_dn"],
                            admin_password=ep["admin_password"])
    with pytest.raises(ConnectionError, match="requires signing: use an ldaps:// URL"):
        diagnose(source)


def test_doctor_names_a_pending_edit_before_it_bites():
    with Lab(LabSpec.model_validate(SMALL)) as lab:
        lab.dc_gpo.edit(ldap_server_signing="require")
        report = diagnose(lab)
        assert report.ids == {"ldap-signing-required"}
        assert any("pending" in e.value for e in report.findings[0].evidence)


# -- control API -------------------------------------------------------------------------------------
def test_control_api_edits_the_dc_policy_and_refuses_bad_values():
    with Lab(LabSpec.model_validate(SMALL)) as lab, serve_control(lab) as (url, token):
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers) as http:
            listed = {g["name"]: g for g in http.get("/gpo").json()}
            assert listed["default-domain-controllers-policy"]["settings"]["ldap_server_signing"] == "none"
            bad = http.post("/gpo/default-domain-controllers-policy", json={"ldap_server_signing": "maybe"})
            assert bad.status_code == 400 and "ldap_server_signing" in bad.json()["error"]
            unknown = http.post("/gpo/no-such-gpo", json={})
            assert unknown.status_code == 400
            edited = http.post("/gpo/default-domain-controllers-policy",
                               json={"ldap_server_signing": "require"})
            assert edited.status_code == 200 and edited.json()["pending"] is True
            assert _simple(lab, "ldap")["result"] == 0
            assert http.post("/gpupdate").status_code == 200
            assert _simple(lab, "ldap")["result"] == 8
            assert http.get("/doctor").headers["X-Simlab-Findings"] == "1"
