"""ldap3 ``authentication=NTLM`` (the Sicily bind) against the served DC, unchanged client.

Plain, StartTLS and LDAPS; then the tutorial's directory work over an NTLM-bound session,
and every account-state failure with Windows' SSPI wording (``8009030C ... data XXX``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest
from _ntlm_helpers import USER_PASSWORD, ntlm_lab, ordinary_user, set_attr
from conftest import connect

from fakes.ad import controls as ctl
from fakes.ad import errors
from fakes.ad.bind_policy import LdapServerPolicy
from fakes.ad.ldap import DcEndpoints
from fakes.ad.security.descriptor import SecurityDescriptor
from fakes.ad.sid import sid_from_bytes
from fakes.connect.adsyncconfig import grant_aces
from simlab.tutorial import tutorial_aces

pytest.importorskip("Crypto.Hash.MD4", reason="ldap3's NTLM needs MD4 from pycryptodome on OpenSSL 3")

MODES = ["plain", "starttls", "ldaps"]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[object, DcEndpoints]]:
    with ntlm_lab(tmp_path) as served:
        yield served


def ntlm(ep: DcEndpoints, mode: str, user: str, password: str) -> ldap3.Connection:
    return connect(ep, mode, user, password, authentication=ldap3.NTLM)


def _pwd(text: str) -> bytes:
    return f'"{text}"'.encode("utf-16-le")


@pytest.mark.parametrize("mode", MODES)
def test_ntlm_bind_with_netbios_and_dns_domain_then_search(lab, mode):
    dc, ep = lab
    for name in (f"{dc.netbios_name}\\Administrator", f"{dc.dns_domain}\\Administrator"):
        c = ntlm(ep, mode, name, ep.admin_password)
        assert c.bind(), (name, c.result)
        assert c.extend.standard.who_am_i() == f"u:{dc.netbios_name}\\Administrator"
        assert c.search(dc.domain_dn, "(sAMAccountName=Administrator)", attributes=["distinguishedName"])
        assert [e["dn"] for e in c.response if e["type"] == "searchResEntry"] == [ep.admin_dn]
        c.unbind()


def test_user_binds_and_last_logon_is_recorded(lab):
    dc, ep = lab
    dn, sam = ordinary_user(dc)
    before = dc.get_entry(dn).attrs.get("lastlogon")
    dc.clock.advance(3600)
    c = ntlm(ep, "plain", f"{dc.netbios_name}\\{sam}", USER_PASSWORD)
    assert c.bind(), c.result
    assert dc.get_entry(dn).attrs["lastlogon"] != before
    assert dc.get_entry(dn).attrs["lastlogon"] == [str(dc.clock.filetime())]


def test_ntlm_session_reads_sd_with_flags_and_grants_tutorial_aces(lab):
    dc, ep = lab
    admin = ntlm(ep, "plain", f"{dc.netbios_name}\\Administrator", ep.admin_password)
    assert admin.bind(), admin.result
    admin.search(ep.connector_dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["objectSid"])
    sid = sid_from_bytes(admin.response[0]["raw_attributes"]["objectSid"][0])
    assert grant_aces(admin, dc.domain_dn, tutorial_aces(sid)) > 0  # some may come with Express setup
    sd_flags = [(ctl.SD_FLAGS, True, ctl.encode_sd_flags(ctl.DACL_SECURITY_INFORMATION))]
    assert admin.search(dc.domain_dn, "(objectClass=*)", search_scope=ldap3.BASE,
                        attributes=["nTSecurityDescriptor"], controls=sd_flags)
    sd = SecurityDescriptor.from_bytes(admin.response[0]["raw_attributes"]["nTSecurityDescriptor"][0])
    sddl = sd.to_sddl(dc.domain_sid)
    for ace in tutorial_aces(sid):
        assert ace in sd.dacl.aces, sddl
    # Granting again adds nothing: the ACEs are there.
    assert grant_aces(admin, dc.domain_dn, tutorial_aces(sid)) == 0


def test_unsealed_ntlm_on_plain_cannot_reset_but_ldaps_can(lab):
    dc, ep = lab
    dn, _ = ordinary_user(dc)
    name = f"{dc.netbios_name}\\Administrator"
    plain = ntlm(ep, "plain", name, ep.admin_password)
    assert plain.bind()
    assert not plain.modify(dn, {"unicodePwd": [(ldap3.MODIFY_REPLACE, [_pwd("N3w!Passw0rd-x")])]})
    assert (plain.result["result"], plain.result["message"]) == (53, errors.reset_needs_encryption().message)
    secure = ntlm(ep, "ldaps", name, ep.admin_password)
    assert secure.bind()
    new = {"unicodePwd": [(ldap3.MODIFY_REPLACE, [_pwd("N3w!Passw0rd-x")])]}
    assert secure.modify(dn, new), secure.result


def _expire_password(dc, dn):
    set_attr(dc, dn, "userAccountControl", "512")
    set_attr(dc, dn, "pwdLastSet", "1")


STATES = {
    "unknown-user": (None, errors.BIND_USER_NOT_FOUND),
    "disabled": (lambda dc, dn: set_attr(dc, dn, "userAccountControl", "514"), errors.BIND_ACCOUNT_DISABLED),
    "expired-account": (lambda dc, dn: set_attr(dc, dn, "accountExpires", "1"), errors.BIND_ACCOUNT_EXPIRED),
    "must-change": (lambda dc, dn: set_attr(dc, dn, "pwdLastSet", "0"), errors.BIND_MUST_RESET),
    "expired-password": (_expire_password, errors.BIND_PASSWORD_EXPIRED),
    "locked": (lambda dc, dn: set_attr(dc, dn, "lockoutTime", str(dc.clock.filetime())),
               errors.BIND_ACCOUNT_LOCKED),
}


@pytest.mark.parametrize("state", sorted(STATES))
@pytest.mark.parametrize("mode", ["plain", "ldaps"])
def test_account_state_failures_have_the_sspi_text(lab, state, mode):
    dc, ep = lab
    dn, sam = ordinary_user(dc)
    arrange, data = STATES[state]
    if state == "locked":
        set_attr(dc, dc.domain_dn, "lockoutThreshold", "5")
    if arrange is None:
        sam = "nobody-here"
    else:
        arrange(dc, dn)
    c = ntlm(ep, mode, f"{dc.netbios_name}\\{sam}", USER_PASSWORD)
    assert not c.bind()
    assert (c.result["result"], c.result["message"]) == (49, errors.ntlm_bind_failed(data).message)
    assert f"data {data}," in c.result["message"] and c.result["message"].startswith("8009030C:")


def test_wrong_passwords_count_lock_out_and_log_4740(lab):
    dc, ep = lab
    dn, sam = ordinary_user(dc)
    set_attr(dc, dc.domain_dn, "lockoutThreshold", "3")
    name = f"{dc.netbios_name}\\{sam}"
    wrong = errors.ntlm_bind_failed(errors.BIND_INVALID_CREDENTIALS).message
    for expected_count in (1, 2):
        c = ntlm(ep, "plain", name, "Wrong-Passw0rd")
        assert not c.bind()
        assert c.result["message"] == wrong
        assert dc.get_entry(dn).attrs["badpwdcount"] == [str(expected_count)]
    # A simple bind shares the same counter: the third bad password locks the account.
    s = connect(ep, "ldaps", dn, "Wrong-Passw0rd")
    assert not s.bind()
    assert [e.event_id for e in dc.security_log.query(event_ids=[4740])] == [4740]
    c = ntlm(ep, "plain", name, USER_PASSWORD)
    assert not c.bind()
    assert c.result["message"] == errors.ntlm_bind_failed(errors.BIND_ACCOUNT_LOCKED).message


def test_good_ntlm_bind_clears_the_bad_password_count(lab):
    dc, ep = lab
    dn, sam = ordinary_user(dc)
    name = f"{dc.netbios_name}\\{sam}"
    assert not ntlm(ep, "plain", name, "Wrong-Passw0rd").bind()
    assert dc.get_entry(dn).attrs["badpwdcount"] == ["1"]
    assert ntlm(ep, "plain", name, USER_PASSWORD).bind()
    assert dc.get_entry(dn).attrs["badpwdcount"] == ["0"]


def test_other_domain_name_is_unknown_user(lab):
    _, ep = lab
    c = ntlm(ep, "plain", "FABRIKAM\\Administrator", ep.admin_password)
    assert not c.bind()
    assert c.result["message"] == errors.ntlm_bind_failed(errors.BIND_USER_NOT_FOUND).message


def test_signing_required_refuses_unsigned_ntlm_on_plain_only(lab):
    dc, ep = lab
    dc.ldap_policy = LdapServerPolicy(signing="require")
    name = f"{dc.netbios_name}\\Administrator"
    c = ntlm(ep, "plain", name, ep.admin_password)  # ldap3 negotiates neither SIGN nor SEAL
    assert not c.bind()
    assert (c.result["result"], c.result["message"]) == (8, errors.stronger_auth_required().message)
    for mode in ("ldaps", "starttls"):
        assert ntlm(ep, mode, name, ep.admin_password).bind()


def test_channel_binding_always_refuses_a_client_without_cbt(lab):
    dc, ep = lab
    dc.ldap_policy = LdapServerPolicy(channel_binding="always")
    c = ntlm(ep, "ldaps", f"{dc.netbios_name}\\Administrator", ep.admin_password)
    assert not c.bind()
    expected = errors.bind_failed(errors.BIND_BAD_BINDINGS, sspi=True).message
    assert (c.result["result"], c.result["message"]) == (49, expected)
    # "When supported" accepts a client that sends none.
    dc.ldap_policy = LdapServerPolicy(channel_binding="when_supported")
    assert ntlm(ep, "ldaps", f"{dc.netbios_name}\\Administrator", ep.admin_password).bind()


def test_root_dse_advertises_only_gss_spnego(lab):
    _, ep = lab
    c = connect(ep, "plain")
    assert c.bind()
    c.search("", "(objectClass=*)", search_scope=ldap3.BASE, attributes=["supportedSASLMechanisms"])
    assert c.response[0]["raw_attributes"]["supportedSASLMechanisms"] == [b"GSS-SPNEGO"]
