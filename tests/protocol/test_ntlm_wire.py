"""NTLM binds byte by byte: pyspnego as the client's NTLM engine, a raw socket as its LDAP stack.

Covers what packaged clients hide: raw NTLMSSP tokens in GSS-SPNEGO (Windows accepts
them), SPNEGO with another mechanism preferred, the server's mechListMIC (pyspnego checks
it), SASL-wrapped traffic after sealing, single-use challenges, NTLMv1, anonymous NTLM,
malformed tokens, channel bindings over LDAPS, and what happens to a sealed connection that
sends a wrong sequence number or garbage (only that client is dropped).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import spnego
from _ntlm_helpers import USER_PASSWORD, RawClient, ntlm_lab, ordinary_user, parse_response, whoami_request
from conftest import connect
from spnego._ntlm_raw import messages as m
from spnego._spnego import NegState, NegTokenInit, NegTokenResp, unpack_token
from spnego.channel_bindings import GssChannelBindings

from fakes.ad import errors
from fakes.ad.bind_policy import LdapServerPolicy
from fakes.ad.ldap import DcEndpoints, codec, messages
from fakes.ad.ldap.encode import tlv
from fakes.ad.ldap.ntlm_bind import tls_server_end_point
from fakes.ad.ntlm import NTLM_OID
from fakes.ad.passwords import password_digest

KRB5_OID = "1.2.840.113554.1.2.2"
INVALID_TOKEN = errors.bind_failed(errors.BIND_INVALID_TOKEN, sspi=True).message
WRONG = errors.ntlm_bind_failed(errors.BIND_INVALID_CREDENTIALS).message


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[object, DcEndpoints]]:
    with ntlm_lab(tmp_path) as served:
        yield served


def client(dc, user: str = "Administrator", password: str | None = None, *, protocol: str = "negotiate",
           **kw) -> spnego.ContextProxy:
    return spnego.client(f"{dc.netbios_name}\\{user}", password or dc.admin_password,
                         hostname=dc.dns_host_name, service="ldap", protocol=protocol, **kw)


def gss_bind(raw: RawClient, ctx, msg_id: int = 1):
    """Run a GSS-SPNEGO bind with ``ctx``; returns the final response."""
    token = ctx.step()
    resp = raw.bind(msg_id, sasl=("GSS-SPNEGO", token))
    while resp.code == 14:
        token = ctx.step(resp.extra[0x87])
        msg_id += 1
        resp = raw.bind(msg_id, sasl=("GSS-SPNEGO", token))
    if resp.code == 0 and 0x87 in resp.extra:
        ctx.step(resp.extra[0x87])  # pyspnego verifies the server's mechListMIC here
    return resp


def sealed_whoami(raw: RawClient, ctx, msg_id: int) -> str:
    blob = ctx.wrap(whoami_request(msg_id), encrypt=True).data
    raw.send(len(blob).to_bytes(4, "big") + blob)
    reply = raw.read_sasl()
    assert reply is not None, "server closed the sealed connection"
    resp = parse_response(ctx.unwrap(reply).data)
    assert resp.code == 0
    return resp.extra.get(0x8B, b"").decode()


def test_nt_hash_is_md4_of_utf16le():
    # The well-known NT hash of "Password" (MD4 of its UTF-16LE bytes).
    assert password_digest("Password").hex() == "a4f49c406510bdcab6824ee7c30fd852"
    assert password_digest("Winter2026!Lab") is password_digest("Winter" + "2026!Lab")


def test_spnego_bind_verifies_server_mic_and_seals(lab):
    dc, ep = lab
    raw = RawClient(ep)
    ctx = client(dc)
    resp = gss_bind(raw, ctx)
    assert resp.code == 0, resp.message
    final = unpack_token(resp.extra[0x87])
    assert isinstance(final, NegTokenResp) and final.neg_state == NegState.accept_complete
    assert ctx.complete
    assert sealed_whoami(raw, ctx, 5) == f"u:{dc.netbios_name}\\Administrator"
    assert sealed_whoami(raw, ctx, 6) == f"u:{dc.netbios_name}\\Administrator"


def test_raw_ntlmssp_tokens_in_gss_spnego(lab):
    dc, ep = lab
    raw = RawClient(ep)
    ctx = client(dc, protocol="ntlm")
    negotiate = ctx.step()
    resp = raw.bind(1, sasl=("GSS-SPNEGO", negotiate))
    assert resp.code == 14 and resp.extra[0x87].startswith(b"NTLMSSP\x00")
    challenge = m.Challenge.unpack(resp.extra[0x87])
    assert challenge.target_name == dc.netbios_name
    assert challenge.target_info[m.AvId.dns_computer_name] == dc.dns_host_name
    resp = raw.bind(2, sasl=("GSS-SPNEGO", ctx.step(resp.extra[0x87])))
    assert (resp.code, 0x87 in resp.extra) == (0, False)
    assert sealed_whoami(raw, ctx, 3) == f"u:{dc.netbios_name}\\Administrator"


def test_kerberos_preferred_gets_ntlm_chosen_then_negotiate(lab):
    dc, ep = lab
    raw = RawClient(ep)
    init = NegTokenInit(mech_types=[KRB5_OID, NTLM_OID], mech_token=b"\x60\x03not-kerberos").pack()
    resp = raw.bind(1, sasl=("GSS-SPNEGO", init))
    assert resp.code == 14
    choice = unpack_token(resp.extra[0x87])
    assert (choice.neg_state, choice.supported_mech, choice.response_token) == (
        NegState.accept_incomplete, NTLM_OID, None)
    ntlm = client(dc, protocol="ntlm", context_req=spnego.ContextReq.none)
    resp = raw.bind(2, sasl=("GSS-SPNEGO", NegTokenResp(response_token=ntlm.step()).pack()))
    assert resp.code == 14
    challenge = unpack_token(resp.extra[0x87]).response_token
    resp = raw.bind(3, sasl=("GSS-SPNEGO", NegTokenResp(response_token=ntlm.step(challenge)).pack()))
    assert resp.code == 0, resp.message
    raw.send(whoami_request(4))
    assert parse_response(raw.read_pdu()).extra[0x8B] == f"u:{dc.netbios_name}\\Administrator".encode()


def test_upn_and_bare_sam_account_names(lab):
    dc, ep = lab
    dn, sam = ordinary_user(dc)
    upn = dc.get_entry(dn).attrs["userprincipalname"][0]
    for username in (upn, sam):
        ctx = spnego.client(username, USER_PASSWORD, hostname=dc.dns_host_name, service="ldap",
                            protocol="ntlm")
        raw = RawClient(ep)
        assert gss_bind(raw, ctx).code == 0, username
        assert sealed_whoami(raw, ctx, 9) == f"u:{dc.netbios_name}\\{sam}"


def test_replayed_authenticate_fails_52e_on_another_connection(lab):
    dc, ep = lab
    first = RawClient(ep)
    ctx = client(dc, protocol="ntlm", context_req=spnego.ContextReq.none)  # no sealing: stay readable
    resp = first.bind(1, sasl=("GSS-SPNEGO", ctx.step()))
    authenticate = ctx.step(resp.extra[0x87])
    assert first.bind(2, sasl=("GSS-SPNEGO", authenticate)).code == 0
    # The same AUTHENTICATE again on the same connection: no challenge is pending any more.
    again = first.bind(3, sasl=("GSS-SPNEGO", authenticate))
    assert (again.code, again.message) == (49, INVALID_TOKEN)
    thief = RawClient(ep)
    resp = thief.bind(1, sasl=("GSS-SPNEGO", client(dc, protocol="ntlm").step()))
    assert resp.code == 14
    stolen = thief.bind(2, sasl=("GSS-SPNEGO", authenticate))
    assert (stolen.code, stolen.message) == (49, WRONG)
    assert dc.get_entry(ep.admin_dn).attrs["badpwdcount"] == ["1"]


def test_sicily_response_without_negotiate_is_an_invalid_token(lab):
    _, ep = lab
    raw = RawClient(ep)
    resp = raw.bind(1, sicily=(codec.SICILY_RESPONSE, b"NTLMSSP\x00\x03\x00\x00\x00"), name="NTLM")
    assert (resp.code, resp.message) == (49, INVALID_TOKEN)
    assert raw.bind(2, sicily=(codec.SICILY_DISCOVERY, b"")).matched == b"NTLM"


def test_ntlm_v1_is_refused_without_touching_the_account(lab, monkeypatch):
    dc, ep = lab
    monkeypatch.setenv("LM_COMPAT_LEVEL", "1")  # pyspnego then sends LM + NTLMv1 responses
    raw = RawClient(ep)
    ctx = client(dc, protocol="ntlm")
    resp = gss_bind(raw, ctx)
    assert (resp.code, resp.message) == (49, WRONG)
    assert dc.get_entry(ep.admin_dn).attrs.get("badpwdcount", [b"0"])[0] in ("0", b"0")


def test_anonymous_ntlm_is_an_anonymous_bind(lab):
    dc, ep = lab
    raw = RawClient(ep)
    ctx = client(dc, protocol="ntlm", context_req=spnego.ContextReq.none)
    resp = raw.bind(1, sasl=("GSS-SPNEGO", ctx.step()))
    flags = m.Challenge.unpack(resp.extra[0x87]).flags
    anon = m.Authenticate(flags=flags, lm_challenge_response=b"\x00", nt_challenge_response=b"",
                          domain_name="", username="", workstation="").pack()
    assert raw.bind(2, sasl=("GSS-SPNEGO", anon)).code == 0
    raw.send(whoami_request(3))
    assert parse_response(raw.read_pdu()).extra.get(0x8B, b"") == b""


@pytest.mark.parametrize("creds", [
    b"\x60\x05garbage", b"NTLMSSP\x00\x01", b"\xa1\x03\x30\x01\x00", b"", None,
    NegTokenInit(mech_types=[KRB5_OID]).pack(),
])
def test_malformed_spnego_tokens_get_invalid_token_and_the_connection_lives(lab, creds):
    _, ep = lab
    raw = RawClient(ep)
    resp = raw.bind(1, sasl=("GSS-SPNEGO", creds))
    assert (resp.code, resp.message) == (49, INVALID_TOKEN)
    raw.send(whoami_request(2))
    assert parse_response(raw.read_pdu()).code == 0


def test_unknown_sasl_mechanism_is_auth_method_not_supported(lab):
    _, ep = lab
    resp = RawClient(ep).bind(1, sasl=("GSSAPI", b"\x60\x00"))
    assert (resp.code, resp.message) == messages.SASL_UNSUPPORTED


def _sealed(dc, ep) -> tuple[RawClient, object]:
    raw = RawClient(ep)
    ctx = client(dc)
    assert gss_bind(raw, ctx).code == 0
    return raw, ctx


def test_wrong_sequence_number_drops_only_that_client(lab):
    dc, ep = lab
    raw, ctx = _sealed(dc, ep)
    blob = ctx.wrap(whoami_request(5), encrypt=True).data
    frame = len(blob).to_bytes(4, "big") + blob
    raw.send(frame)
    assert raw.read_sasl() is not None
    raw.send(frame)  # replayed: sequence number (and RC4 stream) no longer match
    assert raw.closed_by_server()
    other = connect(ep, "plain", ep.admin_dn, ep.admin_password)
    assert other.bind() and other.extend.standard.who_am_i()


@pytest.mark.parametrize("junk", [b"\x00\x00\x00\x20" + b"A" * 32, b"\x00\x00\x00\x04abcd",
                                  b"\x7f\xff\xff\xff" + b"B" * 64])
def test_garbage_in_a_sealed_session_drops_the_client(lab, junk):
    dc, ep = lab
    raw, _ = _sealed(dc, ep)
    raw.send(junk)
    assert raw.closed_by_server()
    assert connect(ep, "plain", ep.admin_dn, ep.admin_password).bind()


def test_unsealed_pdu_on_a_sealed_session_drops_the_client(lab):
    dc, ep = lab
    raw, _ = _sealed(dc, ep)
    raw.send(whoami_request(7))
    assert raw.closed_by_server()


@pytest.mark.parametrize("policy", ["when_supported", "always"])
def test_channel_binding_over_ldaps(lab, policy):
    dc, ep = lab
    dc.ldap_policy = LdapServerPolicy(channel_binding=policy)
    raw = RawClient(ep, ldaps=True)
    good = GssChannelBindings(application_data=tls_server_end_point(raw.peer_certificate()))
    assert gss_bind(raw, client(dc, channel_bindings=good)).code == 0
    bad = GssChannelBindings(application_data=b"tls-server-end-point:" + b"\x00" * 32)
    resp = gss_bind(RawClient(ep, ldaps=True), client(dc, channel_bindings=bad))
    assert (resp.code, resp.message) == (49, errors.bind_failed(errors.BIND_BAD_BINDINGS, sspi=True).message)


def test_signing_required_accepts_signed_spnego_on_plain(lab):
    dc, ep = lab
    dc.ldap_policy = LdapServerPolicy(signing="require")
    raw = RawClient(ep)
    ctx = client(dc, context_req=spnego.ContextReq.integrity)
    assert gss_bind(raw, ctx).code == 0
    unsigned = RawClient(ep)
    resp = gss_bind(unsigned, client(dc, protocol="ntlm", context_req=spnego.ContextReq.none))
    assert (resp.code, resp.message) == (8, errors.stronger_auth_required().message)


def test_signed_only_session_wraps_clear_text(lab):
    dc, ep = lab
    raw = RawClient(ep)
    ctx = client(dc, context_req=spnego.ContextReq.integrity)
    assert gss_bind(raw, ctx).code == 0
    pdu = whoami_request(4)
    sig = ctx.sign(pdu)
    raw.send((len(sig) + len(pdu)).to_bytes(4, "big") + sig + pdu)
    reply = raw.read_sasl()
    assert reply is not None and reply[16:].startswith(b"\x30")  # signature + clear LDAPMessage
    ctx.verify(reply[16:], reply[:16])
    assert parse_response(reply[16:]).extra[0x8B] == f"u:{dc.netbios_name}\\Administrator".encode()


def test_tampered_mic_fails_like_a_wrong_password(lab):
    dc, ep = lab
    raw = RawClient(ep)
    ctx = client(dc, protocol="ntlm")
    resp = raw.bind(1, sasl=("GSS-SPNEGO", ctx.step()))
    auth = bytearray(ctx.step(resp.extra[0x87]))
    assert m.Authenticate.unpack(bytes(auth)).mic is not None  # pyspnego sends a MIC (timestamp present)
    auth[72] ^= 0xFF  # MIC field (MS-NLMP 2.2.1.3: offset 72, after Version)
    resp = raw.bind(2, sasl=("GSS-SPNEGO", bytes(auth)))
    assert (resp.code, resp.message) == (49, WRONG)


@pytest.mark.parametrize(("req", "signing", "sealing"), [
    (spnego.ContextReq.default, True, True),
    (spnego.ContextReq.integrity, True, False),
    (spnego.ContextReq.none, False, False),
])
def test_session_records_mechanism_signing_and_sealing(req, signing, sealing):
    from fakes.ad.ldap.ntlm_bind import NtlmBinder
    from fakes.ad.provision import provision

    dc = provision(domain="contoso.com", users=1, seed=1)
    session = dc.new_session()
    binder = NtlmBinder(dc)
    ctx = client(dc, context_req=req)
    step = binder.gss_spnego(session, ctx.step())
    while step.code == 14:
        step = binder.gss_spnego(session, ctx.step(step.sasl_creds))
    assert step.code == 0, step.message
    assert (session.mechanism, session.signing, session.sealing) == ("GSS-SPNEGO", signing, sealing)
    assert session.encrypted is sealing  # sealing counts as an encrypted connection for unicodePwd
    assert (step.security is not None) is signing


def test_start_tls_on_a_sealed_session_is_refused_inside_the_layer(lab):
    dc, ep = lab
    raw, ctx = _sealed(dc, ep)
    start_tls = tlv(0x30, b"\x02\x01\x07" + tlv(0x77, tlv(0x80, b"1.3.6.1.4.1.1466.20037")))
    blob = ctx.wrap(start_tls, encrypt=True).data
    raw.send(len(blob).to_bytes(4, "big") + blob)
    resp = parse_response(ctx.unwrap(raw.read_sasl()).data)
    assert (resp.code, resp.message) == messages.TLS_AFTER_SASL_LAYER
    assert sealed_whoami(raw, ctx, 8) == f"u:{dc.netbios_name}\\Administrator"
