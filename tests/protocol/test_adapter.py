"""The wire adapter in isolation, against a recording test double of the DC (ldap3 SYNC client)."""

from __future__ import annotations

import socket

import ldap3
import pytest
from conftest import connect, raw_socket, read_all
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.ad import controls as ctl
from fakes.ad.ldap import encode, serve_dc
from fakes.ad.ldap.filters import to_string

MODES = ["plain", "ldaps", "starttls"]


@pytest.mark.parametrize("mode", MODES)
def test_bind_search_and_encrypted_flag(double, double_ep, mode):
    c = connect(double_ep, mode, double.admin_dn, double.admin_password)
    assert c.bind(), c.result
    assert c.search(double.domain_dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["*"])
    assert c.entries[0].entry_dn == double.domain_dn
    assert c.entries[0]["dc"].value == "lab"
    c.unbind()
    bind = next(a for n, a in double.calls if n == "bind")
    assert bind[2] is (mode != "plain")  # encrypted seen by the DC at bind time
    search = [a for n, a in double.calls if n == "search"][-1]
    assert search[5] is (mode != "plain")


def test_bad_password_gets_dc_answer(double, double_ep):
    c = connect(double_ep, "plain", double.admin_dn, "wrong")
    assert not c.bind()
    assert c.result["result"] == 49
    assert "data 52e" in c.result["message"]


def test_upn_bind_passed_through(double, double_ep):
    c = connect(double_ep, "ldaps", double.admin_upn, double.admin_password)
    assert c.bind()
    assert c.extend.standard.who_am_i() == f"dn:{double.admin_dn}"


def test_only_the_reactor_thread_touches_the_dc(double, double_ep):
    c = connect(double_ep, "plain", double.admin_dn, double.admin_password)
    c.bind()
    c.search(double.domain_dn, "(objectClass=*)")
    assert double.threads == {"simlab-reactor"}


def test_filters_arrive_as_equivalent_text(double, double_ep):
    c = connect(double_ep, "plain", double.admin_dn, double.admin_password)
    c.bind()
    text = ("(&(objectClass=user)(|(cn=a\\2ab*)(!(sn>=x)))(mail=*@x.test)"
            "(userAccountControl:1.2.840.113556.1.4.803:=2))")
    c.search(double.domain_dn, text)
    assert [a for n, a in double.calls if n == "search"][-1][2] == text


_attr = st.sampled_from(["cn", "sn", "objectClass", "sAMAccountName", "userAccountControl"])
# ldap3 trims whitespace in assertion values client-side, so values avoid it; specials test escaping.
_val = st.text("abcXYZ019-_.@*()\\é", min_size=1, max_size=8).map(str.encode)
_leaf = st.one_of(
    st.tuples(st.sampled_from(["eq", "ge", "le", "approx"]), _attr, _val),
    st.tuples(st.just("present"), _attr),
    st.tuples(st.just("substrings"), _attr, st.none() | _val, st.lists(_val, max_size=2), st.none() | _val)
    .filter(lambda t: t[2] is not None or t[3] or t[4] is not None),
)
_tree = st.recursive(
    _leaf,
    lambda kids: st.one_of(st.tuples(st.sampled_from(["and", "or"]), st.lists(kids, min_size=1, max_size=3)),
                           st.tuples(st.just("not"), kids)),
    max_leaves=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=_tree)
def test_filter_round_trip_through_ldap3(double, double_ep, tree):
    # ldap3 encodes our rendering to BER; the server decodes it and renders it again.
    text = to_string(tree)
    c = connect(double_ep, "plain", double.admin_dn, double.admin_password)
    c.bind()
    c.search(double.domain_dn, text, search_scope=ldap3.BASE)
    c.unbind()
    assert [a for n, a in double.calls if n == "search"][-1][2] == text


def test_request_and_response_controls(double, double_ep):
    c = connect(double_ep, "plain", double.admin_dn, double.admin_password)
    c.bind()
    sd = (ctl.SD_FLAGS, True, ctl.encode_sd_flags(4))
    c.search(double.domain_dn, "(objectClass=*)", attributes=["nTSecurityDescriptor"], controls=[sd],
             paged_size=7)
    controls = [a for n, a in double.calls if n == "search"][-1][4]
    by_oid = {x.oid: x for x in controls}
    assert by_oid[ctl.SD_FLAGS].critical is True
    assert ctl.decode_sd_flags(by_oid[ctl.SD_FLAGS].value) == 4
    assert ctl.decode_paged(by_oid[ctl.PAGED_RESULTS].value) == (7, b"")
    assert ctl.PAGED_RESULTS in c.result["controls"]


def test_modify_add_delete_compare(double, double_ep):
    c = connect(double_ep, "ldaps", double.admin_dn, double.admin_password)
    c.bind()
    dn = "CN=x,DC=lab,DC=test"
    assert c.add(dn, ["top", "user"], {"cn": "x", "description": ["a", "b"]})
    assert c.modify(dn, {"description": [(ldap3.MODIFY_REPLACE, ["c"])]})
    assert double.entries[dn.lower()]["description"] == [b"c"]
    assert c.compare(dn, "description", "c") is True
    assert c.compare(dn, "description", "d") is False
    assert not c.add(dn, ["top"], {"cn": "x"})
    assert c.result["result"] == 68
    assert c.delete(dn)
    assert dn.lower() not in double.entries


def test_types_only(double, double_ep):
    c = connect(double_ep, "plain", double.admin_dn, double.admin_password)
    c.bind()
    c.search(double.domain_dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["*"], types_only=True)
    assert set(c.response[0]["attributes"]) == {"dc", "objectClass"}
    assert all(v == [] for v in c.response[0]["attributes"].values())


def test_dc_exception_becomes_80_and_server_lives(double, double_ep):
    c = connect(double_ep, "plain", double.admin_dn, double.admin_password)
    c.bind()
    double.raise_on = "search"
    assert not c.search(double.domain_dn, "(objectClass=*)")
    assert c.result["result"] == 80
    assert "RuntimeError" in c.result["message"]
    double.raise_on = None
    assert c.search(double.domain_dn, "(objectClass=*)")


def test_not_implemented_becomes_53(double, double_ep):
    c = connect(double_ep, "plain", double.admin_dn, double.admin_password)
    c.bind()
    assert not c.modify_dn("CN=x,DC=lab,DC=test", "CN=y")
    assert c.result["result"] == 53
    assert "not implemented" in c.result["message"]


def test_sasl_bind_is_refused_like_an_unknown_mechanism(double, double_ep):
    c = connect(double_ep, "plain", authentication=ldap3.SASL, sasl_mechanism="PLAIN",
                sasl_credentials=(None, "u", "p"))
    assert not c.bind()
    assert c.result["result"] == 7


def test_starttls_twice_is_an_operations_error(double, double_ep):
    c = connect(double_ep, "starttls", double.admin_dn, double.admin_password)
    c.bind()
    c.extended(ctl.STARTTLS)
    assert c.result["result"] == 1
    assert c.search(double.domain_dn, "(objectClass=*)")  # still usable, still TLS


def test_starttls_over_ldaps_is_refused(double, double_ep):
    c = connect(double_ep, "ldaps")
    c.extended(ctl.STARTTLS)
    assert c.result["result"] == 1


def test_garbage_gets_notice_of_disconnection_and_others_carry_on(double, double_ep):
    good = connect(double_ep, "plain", double.admin_dn, double.admin_password)
    good.bind()
    s = raw_socket(double_ep)
    s.sendall(b"\x30\x05\x02\x01\x01\x99\x00")  # unknown protocolOp tag 0x99
    reply = read_all(s)
    s.close()
    assert b"1.3.6.1.4.1.1466.20036" in reply
    assert reply[0] == 0x30 and b"\x02\x01\x00\x78" in reply  # messageID 0, ExtendedResponse
    assert good.search(double.domain_dn, "(objectClass=*)")


def test_oversized_message_disconnects(double, tmp_path):
    with serve_dc(double, workdir=tmp_path, max_message=4096) as ep:
        s = raw_socket(ep)
        s.sendall(b"\x30\x83\x10\x00\x00" + b"\x00" * 100)
        reply = read_all(s)
        s.close()
        assert b"1.3.6.1.4.1.1466.20036" in reply
        c = connect(ep, "plain", double.admin_dn, double.admin_password)
        assert c.bind()


def test_split_and_pipelined_messages(double, double_ep):
    bind = encode.tlv(0x30, b"\x02\x01\x01" + encode.tlv(0x60, b"\x02\x01\x03" + encode.tlv(0x04, b"")
                                                      + encode.tlv(0x80, b"")))
    who = encode.tlv(0x30, b"\x02\x01\x02" + encode.tlv(0x77, encode.tlv(0x80, ctl.WHOAMI.encode())))
    s = raw_socket(double_ep)
    data = bind + who
    for i in range(len(data)):  # one byte at a time
        s.send(data[i : i + 1])
    got = b""
    while got.count(b"\x30") < 2 or len(got) < 20:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
        if b"\x78" in got:
            break
    s.close()
    assert b"\x61" in got and b"\x78" in got


def test_refuses_non_loopback(double):
    with pytest.raises(ValueError, match="non-loopback"), serve_dc(double, host="10.1.2.3"):
        pass


def test_second_loopback_address(double, tmp_path):
    try:
        socket.create_server(("127.0.0.2", 0)).close()
    except OSError:
        pytest.skip("127.0.0.2 not bindable here")
    with serve_dc(double, host="127.0.0.2", workdir=tmp_path) as ep:
        assert ep.ldap_url.startswith("ldap://127.0.0.2:")
        c = connect(ep, "ldaps", double.admin_dn, double.admin_password)
        assert c.bind()
