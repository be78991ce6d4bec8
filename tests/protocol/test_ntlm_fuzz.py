"""Hypothesis fuzz of the NTLM/SPNEGO decode paths: only documented errors, and a lab that keeps serving."""

from __future__ import annotations

import socket

import pytest
import spnego
from _ntlm_helpers import bind_request
from conftest import connect
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.ad.ldap import codec
from fakes.ad.ldap.ntlm_bind import NtlmBinder
from fakes.ad.ldap.security_layer import SaslSecurityLayer, SecurityLayerError
from fakes.ad.ntlm import NtlmAcceptor, NtlmError, NtlmSecurity, ServerNames
from fakes.ad.provision import provision

NAMES = ServerNames("CONTOSO", "DC01", "contoso.com", "dc01.contoso.com")


def _valid_pair() -> tuple[bytes, bytes, bytes]:
    """A real NEGOTIATE, the CHALLENGE answering it and the matching AUTHENTICATE."""
    ctx = spnego.client("CONTOSO\\alice", "Pa55w.rd!", hostname="dc01", service="ldap", protocol="ntlm")
    negotiate = ctx.step()
    acceptor = NtlmAcceptor(NAMES, 133_000_000_000_000_000)
    challenge = acceptor.challenge(negotiate)
    return negotiate, challenge, ctx.step(challenge)


NEGOTIATE, CHALLENGE, AUTHENTICATE = _valid_pair()


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "grow"]))
        if action == "flip":
            data[i] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[i:]
        else:
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=120), mutated(NEGOTIATE)))
def test_challenge_only_raises_ntlm_error(token: bytes) -> None:
    try:
        NtlmAcceptor(NAMES, 133_000_000_000_000_000).challenge(token)
    except NtlmError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=200), mutated(AUTHENTICATE)))
def test_authenticate_and_verify_only_raise_ntlm_error(token: bytes) -> None:
    acceptor = NtlmAcceptor(NAMES, 133_000_000_000_000_000)
    acceptor.challenge(NEGOTIATE)
    try:
        logon = acceptor.authenticate(token)
    except NtlmError:
        return
    assert isinstance(logon.verify(b"\x11" * 16), bool)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_security_layer_only_raises_security_layer_error(data: bytes) -> None:
    layer = SaslSecurityLayer(NtlmSecurity(0xE2088297, b"k" * 16), 4096)
    try:
        layer.unwrap_stream(data)
    except SecurityLayerError:
        pass


@pytest.fixture(scope="module")
def dc():
    return provision(domain="contoso.com", users=2, seed=5)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(legs=st.lists(st.one_of(st.binary(max_size=160), mutated(NEGOTIATE), mutated(AUTHENTICATE),
                               st.none()), min_size=1, max_size=4),
       sicily=st.lists(st.sampled_from([codec.SICILY_DISCOVERY, codec.SICILY_NEGOTIATE,
                                        codec.SICILY_RESPONSE]), min_size=1, max_size=4))
def test_binder_answers_every_leg_with_a_bind_result(dc, legs, sicily) -> None:
    binder = NtlmBinder(dc)
    session = dc.new_session()
    for creds in legs:
        step = binder.gss_spnego(session, creds)
        assert step.code in (0, 7, 8, 14, 49)
    for leg, creds in zip(sicily, legs, strict=False):
        step = binder.sicily(session, leg, creds or b"")
        assert step.code in (0, 8, 49)


@pytest.fixture(scope="module")
def served(tmp_path_factory, dc):
    from fakes.ad.ldap import serve_dc

    with serve_dc(dc, workdir=tmp_path_factory.mktemp("ntlmfuzz")) as ep:
        yield ep


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(creds=st.one_of(st.binary(max_size=200), mutated(NEGOTIATE)), use_sicily=st.booleans())
def test_served_dc_survives_fuzzed_bind_tokens(served, dc, creds, use_sicily) -> None:
    ep = served
    if use_sicily:
        payload = bind_request(1, sicily=(codec.SICILY_NEGOTIATE, creds), name="NTLM")
    else:
        payload = bind_request(1, sasl=("GSS-SPNEGO", creds))
    s = socket.create_connection((ep.host, ep.ldap_port), timeout=2)
    try:
        s.sendall(payload)
        s.settimeout(1)
        assert s.recv(65536)  # an answer, not a silent drop
    finally:
        s.close()
    watcher = connect(ep, "plain", ep.admin_dn, ep.admin_password)
    assert watcher.bind()
    watcher.unbind()
