"""BER codecs of fakes.ad.controls, cross-checked against ldap3's own (pyasn1) encoders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ldap3.protocol.controls import build_control
from ldap3.protocol.microsoft import dir_sync_control, security_descriptor_control
from ldap3.protocol.rfc2696 import paged_search_control

from fakes.ad import controls as c


@given(st.integers(0, 2**31 - 1), st.binary(max_size=300))
def test_paged_round_trip(size: int, cookie: bytes) -> None:
    assert c.decode_paged(c.encode_paged(size, cookie)) == (size, cookie)


@given(st.integers(0, 2**31 - 1), st.binary(max_size=64))
def test_paged_matches_ldap3_encoding(size: int, cookie: bytes) -> None:
    value = bytes(paged_search_control(False, size, cookie)["controlValue"])
    assert c.decode_paged(value) == (size, cookie)
    assert c.encode_paged(size, cookie) == value


@given(st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.integers(0, 2**31 - 1),
       st.binary(max_size=120))
def test_dirsync_request_matches_ldap3(security: bool, ancestors: bool, public: bool, incremental: bool,
                                       max_bytes: int, cookie: bytes) -> None:
    control = dir_sync_control(True, security, ancestors, public, incremental, max_bytes, cookie)
    value = bytes(control["controlValue"])
    flags = (c.DIRSYNC_OBJECT_SECURITY * security | c.DIRSYNC_ANCESTORS_FIRST_ORDER * ancestors
             | c.DIRSYNC_PUBLIC_DATA_ONLY * public | c.DIRSYNC_INCREMENTAL_VALUES * incremental)
    assert c.decode_dirsync(value) == (flags, max_bytes, cookie)


def test_dirsync_flags_are_unsigned_whether_sent_in_four_bytes_or_five() -> None:
    four = bytes.fromhex("300b") + bytes.fromhex("020480000001") + bytes.fromhex("020100") + b"\x04\x00"
    five = c.ber_sequence(c.ber_integer(0x80000001), c.ber_integer(0), c.ber_octets(b""))
    assert c.decode_dirsync(four) == c.decode_dirsync(five) == (0x80000001, 0, b"")


def test_dirsync_response_shape() -> None:
    # DirSyncResponseValue ::= SEQUENCE { MoreResults INTEGER, unused INTEGER, CookieServer OCTET STRING }
    assert c.encode_dirsync_response(True, b"MSDS") == bytes.fromhex("300c020101020100") + b"\x04\x04MSDS"


@pytest.mark.parametrize("flags", [1, 2, 4, 5, 7, 8, 15])
def test_sd_flags_matches_ldap3(flags: int) -> None:
    ctrl = security_descriptor_control(sdflags=flags)[0]
    value = bytes(ctrl["controlValue"])
    assert str(ctrl["controlType"]) == c.SD_FLAGS
    assert c.decode_sd_flags(value) == flags
    assert c.encode_sd_flags(flags) == value


def test_sd_flags_zero_means_all() -> None:
    assert c.decode_sd_flags(c.encode_sd_flags(0)) == c.SD_FLAGS_ALL


@given(st.integers(-(2**31), 2**31 - 1))
def test_policy_hints_round_trip(flags: int) -> None:
    assert c.decode_policy_hints(c.encode_policy_hints(flags)) == flags


def test_policy_hints_known_bytes() -> None:
    # SEQUENCE { INTEGER 1 } — what Entra Connect / Samba clients send.
    assert c.encode_policy_hints() == b"\x30\x03\x02\x01\x01"
    assert c.decode_policy_hints(b"\x30\x03\x02\x01\x01") == 1


def test_ldap3_build_control_passes_value_through() -> None:
    built = build_control(c.POLICY_HINTS, True, c.encode_policy_hints(1), encode_control_value=False)
    assert str(built["controlType"]) == c.POLICY_HINTS


@pytest.mark.parametrize(
    "bad",
    [
        None,
        b"",
        b"\x30",
        b"\x30\x05\x02\x01\x01",  # length past end
        b"\x30\x03\x02\x01\x01\x00",  # trailing byte
        b"\x31\x03\x02\x01\x01",  # SET, not SEQUENCE
        b"\x30\x03\x04\x01\x01",  # OCTET STRING, not INTEGER
        b"\x30\x80\x02\x01\x01\x00\x00",  # indefinite length
        b"\x30\x00",  # empty
    ],
)
def test_malformed_values_raise(bad: bytes | None) -> None:
    for decode in (c.decode_sd_flags, c.decode_policy_hints, c.decode_paged):
        with pytest.raises(c.ControlValueError):
            decode(bad)


@given(st.binary(max_size=40))
def test_random_bytes_never_crash_decoders(data: bytes) -> None:
    for decode in (c.decode_sd_flags, c.decode_policy_hints, c.decode_paged, c.decode_search_options):
        try:
            decode(data)
        except c.ControlValueError:
            pass


def test_paged_long_form_length() -> None:
    cookie = bytes(range(256)) * 2
    value = c.encode_paged(1000, cookie)
    assert value[1] == 0x82  # long-form length was needed
    assert c.decode_paged(value) == (1000, cookie)


def test_supported_controls_shape() -> None:
    ctrls = c.SUPPORTED_CONTROLS
    assert len(ctrls) == len(set(ctrls))
    for oid in (c.PAGED_RESULTS, c.SD_FLAGS, c.POLICY_HINTS, c.POLICY_HINTS_DEPRECATED, c.PERMISSIVE_MODIFY,
                c.TREE_DELETE, c.SHOW_DELETED, c.DOMAIN_SCOPE):
        assert oid in ctrls
    assert ctrls[0] == c.PAGED_RESULTS and ctrls[-1] == c.LINK_TTL
