"""The real provisioned DC served over LDAP, LDAPS and StartTLS, driven by ldap3 (SYNC).

Covers the tutorial's permission flow over the wire: the connector account's Express rights,
the tutorial ACEs written via nTSecurityDescriptor with the SD flags control, then reset /
pwdLastSet / lockoutTime as the connector, each failure with the exact Windows code and text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest
from conftest import connect

from fakes.ad import controls as ctl
from fakes.ad import errors
from fakes.ad.ldap import DcEndpoints, serve_dc
from fakes.ad.provision import provision
from fakes.ad.security.descriptor import SecurityDescriptor
from fakes.ad.sid import sid_from_bytes

MODES = ["plain", "ldaps", "starttls"]
USER_CLASS = "bf967aba-0de6-11d0-a285-00aa003049e2"
RESET = "00299570-246d-11d0-a768-00aa006e0529"
LOCKOUT_TIME = "28630ebf-41d5-11d1-a9c1-0000f80367c1"
PWD_LAST_SET = "bf967a0a-0de6-11d0-a285-00aa003049e2"
UNEXPIRE = "ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501"
PLAIN_RESET = errors.reset_needs_encryption().message


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[object, DcEndpoints]]:
    dc = provision(domain="contoso.com", users=10, seed=1)
    with serve_dc(dc, workdir=tmp_path) as ep:
        yield dc, ep


def _pwd(text: str) -> bytes:
    return f'"{text}"'.encode("utf-16-le")


def _a_user(c: ldap3.Connection, base: str) -> str:
    c.search(base, "(&(objectCategory=person)(objectClass=user)(!(adminCount=1))(!(sAMAccountName=MSOL_*))"
             "(!(sAMAccountName=Guest))(!(sAMAccountName=krbtgt)))", attributes=["sAMAccountName"])
    dns = sorted(e["dn"] for e in c.response if e.get("type") == "searchResEntry")
    assert dns, "provisioned lab has no ordinary user"
    return dns[0]


@pytest.mark.parametrize("mode", MODES)
def test_admin_binds_by_dn_upn_and_downlevel_name(lab, mode):
    dc, ep = lab
    for name in (ep.admin_dn, f"Administrator@{dc.dns_domain}", f"{dc.netbios_name}\\Administrator"):
        c = connect(ep, mode, name, ep.admin_password)
        assert c.bind(), (name, c.result)
        assert c.extend.standard.who_am_i() == f"u:{dc.netbios_name}\\Administrator"
        c.unbind()


@pytest.mark.parametrize("mode", MODES)
def test_wrong_password_is_the_windows_49(lab, mode):
    _, ep = lab
    c = connect(ep, mode, ep.admin_dn, "nope")
    assert not c.bind()
    assert c.result["result"] == 49
    assert c.result["message"] == errors.bind_failed(errors.BIND_INVALID_CREDENTIALS).message


def test_anonymous_sees_root_dse_only(lab):
    dc, ep = lab
    c = connect(ep, "plain")
    assert c.bind()
    assert c.search("", "(objectClass=*)", search_scope=ldap3.BASE, attributes=["*"])
    root = c.response[0]["raw_attributes"]
    assert root["defaultNamingContext"] == [dc.domain_dn.encode()]
    assert set(ctl.SUPPORTED_CONTROLS) <= {v.decode() for v in root["supportedControl"]}
    assert not c.search(dc.domain_dn, "(objectClass=*)", search_scope=ldap3.BASE)
    assert c.result["result"] == 1
    assert c.result["message"] == errors.bind_required().message


def test_paged_search_walks_every_user(lab):
    dc, ep = lab
    c = connect(ep, "ldaps", ep.admin_dn, ep.admin_password)
    c.bind()
    c.search(dc.domain_dn, "(objectClass=user)", attributes=["sAMAccountName"])
    everyone = {e["dn"] for e in c.response if e.get("type") == "searchResEntry"}
    paged = c.extend.standard.paged_search(dc.domain_dn, "(objectClass=user)", attributes=["sAMAccountName"],
                                           paged_size=3, generator=False)
    assert {e["dn"] for e in paged if e.get("type") == "searchResEntry"} == everyone
    assert len(everyone) > 10


@pytest.mark.parametrize("mode", MODES)
def test_tutorial_flow_as_connector(lab, mode):
    dc, ep = lab
    admin = connect(ep, "ldaps", ep.admin_dn, ep.admin_password)
    assert admin.bind()
    target = _a_user(admin, dc.domain_dn)
    hints = [(ctl.POLICY_HINTS, True, ctl.encode_policy_hints(1))]

    msol = connect(ep, mode, ep.connector_dn, ep.connector_password)
    assert msol.bind(), msol.result

    # A protected account (AdminSDHolder DACL, no Reset for the connector): the Windows 50 / 00000005.
    if mode != "plain":
        assert not msol.modify(ep.admin_dn, {"unicodePwd": [(ldap3.MODIFY_REPLACE, [_pwd("X!y2z3w4v5u6")])]},
                               controls=hints)
        assert (msol.result["result"], msol.result["message"]) == (50, errors.access_denied().message)

    # Reset with policy hints: plain LDAP is refused outright; encrypted works once, then the
    # second hinted reset the same day hits the default 1-day minimum password age.
    def reset(password: str) -> bool:
        change = {"unicodePwd": [(ldap3.MODIFY_REPLACE, [_pwd(password)])]}
        return msol.modify(target, change, controls=hints)

    if mode == "plain":
        assert not reset("N3w!Passw0rd-a")
        assert (msol.result["result"], msol.result["message"]) == (53, PLAIN_RESET)
    else:
        assert reset("N3w!Passw0rd-a"), msol.result
        assert not reset("N3w!Passw0rd-c")
        assert (msol.result["result"], msol.result["message"]) == (53, errors.password_policy_reset().message)

    # Admin follows the tutorial: minimum password age 0, and the connector's ACEs on the domain root.
    assert admin.modify(dc.domain_dn, {"minPwdAge": [(ldap3.MODIFY_REPLACE, [0])]}), admin.result
    admin.search(ep.connector_dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["objectSid"])
    sid = sid_from_bytes(admin.response[0]["raw_attributes"]["objectSid"][0])
    sd_flags = [(ctl.SD_FLAGS, True, ctl.encode_sd_flags(ctl.DACL_SECURITY_INFORMATION))]
    admin.search(dc.domain_dn, "(objectClass=*)", search_scope=ldap3.BASE,
                 attributes=["nTSecurityDescriptor"], controls=sd_flags)
    raw = admin.response[0]["raw_attributes"]["nTSecurityDescriptor"][0]
    sddl = SecurityDescriptor.from_bytes(raw).to_sddl(dc.domain_sid)
    extra = (f"(OA;CIIO;CR;{RESET};{USER_CLASS};{sid})(OA;CIIO;WP;{LOCKOUT_TIME};{USER_CLASS};{sid})"
             f"(OA;CIIO;WP;{PWD_LAST_SET};{USER_CLASS};{sid})(OA;CI;CR;{UNEXPIRE};;{sid})")
    new = SecurityDescriptor.from_sddl(sddl + extra, dc.domain_sid).to_bytes()
    assert admin.modify(dc.domain_dn, {"nTSecurityDescriptor": [(ldap3.MODIFY_REPLACE, [new])]},
                        controls=sd_flags), admin.result

    assert msol.modify(target, {"lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])]}), msol.result
    assert msol.modify(target, {"pwdLastSet": [(ldap3.MODIFY_REPLACE, ["0"])]}), msol.result
    assert not msol.modify(target, {"pwdLastSet": [(ldap3.MODIFY_REPLACE, ["12345"])]})
    assert (msol.result["result"], msol.result["message"]) == (80, errors.invalid_parameter().message)

    ok = reset("N3w!Passw0rd-b")
    if mode == "plain":
        assert not ok
        assert (msol.result["result"], msol.result["message"]) == (53, PLAIN_RESET)
    else:
        assert ok, msol.result
        user = connect(ep, mode, target, "N3w!Passw0rd-b")
        assert user.bind(), user.result
        # The user changes it back: wrong old password is the Windows 19 / 00000056.
        bad = user.modify(target, {"unicodePwd": [(ldap3.MODIFY_DELETE, [_pwd("wrong-old")]),
                                                  (ldap3.MODIFY_ADD, [_pwd("An0ther!Passw0rd")])]})
        assert not bad
        assert (user.result["result"], user.result["message"]) == (19, errors.wrong_old_password().message)
