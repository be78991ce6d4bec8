"""Random and mutated BER thrown at the codec and at a served DC.

Properties: the decoder only ever raises DecodeError; the server answers or drops the
offending client, never dies; a client connected throughout keeps working; the data
it reads before and after is identical.
"""

from __future__ import annotations

import socket

import ldap3
import pytest
from conftest import connect
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.ad.ldap import codec
from fakes.ad.ldap.encode import tlv

# Valid requests to mutate (bind, search with filter + paged control, modify, extended).
_SEEDS = [
    tlv(0x30, b"\x02\x01\x01" + tlv(0x60, b"\x02\x01\x03\x04\x00\x80\x00")),
    tlv(0x30, b"\x02\x01\x02" + tlv(0x63, tlv(0x04, b"DC=lab,DC=test")
              + b"\x0a\x01\x02\x0a\x01\x00\x02\x01\x00\x02\x01\x00\x01\x01\x00"
              + tlv(0xA0, tlv(0xA3, tlv(0x04, b"cn") + tlv(0x04, b"x"))
                          + tlv(0xA4, tlv(0x04, b"sn") + tlv(0x30, b"\x80\x01a\x82\x01b")))
              + tlv(0x30, tlv(0x04, b"cn")))
              + tlv(0xA0, tlv(0x30, tlv(0x04, b"1.2.840.113556.1.4.319")
                                          + tlv(0x04, b"0\x05\x02\x01\x05\x04\x00")))),
    tlv(0x30, b"\x02\x01\x03" + tlv(0x66, tlv(0x04, b"DC=lab,DC=test") + tlv(
        0x30, tlv(0x30, b"\x0a\x01\x02" + tlv(0x30, tlv(0x04, b"description")
                                                          + tlv(0x31, tlv(0x04, b"v"))))))),
    tlv(0x30, b"\x02\x01\x04" + tlv(0x77, tlv(0x80, b"1.3.6.1.4.1.4203.1.11.3"))),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "length"]))
        i = draw(st.integers(0, len(data) - 1)) if data else 0
        if kind == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "delete" and data:
            del data[i]
        elif kind == "truncate":
            del data[i:]
        elif kind == "length" and len(data) > 1:
            data[1] = draw(st.integers(0, 255))
    return bytes(data)


def test_seeds_are_valid() -> None:
    for seed in _SEEDS:
        assert codec.frame_length(seed, 0) == len(seed)
        codec.decode_message(seed)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.binary(max_size=200), mutated()))
def test_decoder_only_raises_decode_error(data: bytes) -> None:
    try:
        n = codec.frame_length(data, 0)
        if n is not None and n <= len(data):
            codec.decode_message(data[:n])
    except codec.DecodeError:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from fakes.ad.ldap import serve_dc
    from fakes.ad.provision import provision

    dc = provision(domain="lab.test", users=5, seed=3)
    with serve_dc(dc, workdir=tmp_path_factory.mktemp("fuzz")) as ep:
        watcher = connect(ep, "ldaps", ep.admin_dn, ep.admin_password)
        assert watcher.bind()
        yield dc, ep, watcher, _snapshot(watcher, dc.domain_dn)


def _snapshot(watcher: ldap3.Connection, base: str) -> list:
    assert watcher.search(base, "(objectClass=*)", search_scope=ldap3.SUBTREE, attributes=["*"])
    return sorted((e["dn"], sorted((k, sorted(v)) for k, v in e["raw_attributes"].items()))
                  for e in watcher.response)


def _blast(ep, payload: bytes) -> None:
    s = socket.create_connection((ep.host, ep.ldap_port), timeout=2)
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(0.5)
        for _ in range(64):  # bounded drain
            if not s.recv(65536):
                break
    except OSError:
        pass
    finally:
        s.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.one_of(st.binary(min_size=1, max_size=300), mutated(),
                         st.lists(mutated(), min_size=2, max_size=4).map(b"".join)))
def test_server_survives_random_and_mutated_ber(served, payload: bytes) -> None:
    dc, ep, watcher, before = served
    _blast(ep, payload)
    # The long-lived client is unaffected and the directory is intact (the blasts run
    # unauthenticated, so even a mutated-but-valid modify must not change anything).
    assert _snapshot(watcher, dc.domain_dn) == before
    fresh = connect(ep, "plain", ep.admin_dn, ep.admin_password)
    assert fresh.bind()
    fresh.unbind()
