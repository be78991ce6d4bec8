"""SID codec, well-known SIDs, RID helpers and SDDL aliases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakes.ad import sid as S


def test_known_binary_encoding_of_builtin_administrators() -> None:
    # MS-DTYP 2.4.2.2: revision 1, 2 sub-authorities, authority 5 big-endian, sub-authorities LE.
    data = S.sid_to_bytes("S-1-5-32-544")
    assert data.hex() == "01020000000000052000000020020000"
    assert S.sid_from_bytes(data) == "S-1-5-32-544"


def test_domain_account_sid_round_trip_and_parts() -> None:
    sid = "S-1-5-21-2707697457-1696005415-603398217-512"
    assert S.sid_from_bytes(S.sid_to_bytes(sid)) == sid
    assert S.domain_sid_of(sid) == "S-1-5-21-2707697457-1696005415-603398217"
    assert S.rid_of(sid) == S.DOMAIN_ADMINS == 512
    assert S.make_sid(S.domain_sid_of(sid), S.DOMAIN_USERS).endswith("-513")
    assert S.is_domain_sid("S-1-5-21-1-2-3") and not S.is_domain_sid(sid)


def test_builtin_domain_of_alias() -> None:
    assert S.domain_sid_of(S.BUILTIN_ACCOUNT_OPERATORS) == "S-1-5-32"
    with pytest.raises(S.SidError, match="not a domain account SID"):
        S.domain_sid_of(S.EVERYONE)


def test_large_authority_printed_in_hex() -> None:
    # MS-DTYP 2.4.2.1: authorities of 2**32 and above use hex; below that, decimal.
    data = S.sid_to_bytes("S-1-0x000100000000-7")
    assert data[2:8] == bytes.fromhex("000100000000")
    assert S.sid_from_bytes(data) == "S-1-0x000100000000-7"
    assert S.sid_from_bytes(S.sid_to_bytes("S-1-0xFFFFFFFF-7")) == "S-1-4294967295-7"


@pytest.mark.parametrize(
    "bad",
    ["", "S-1", "S-2-5-32", "S-1-5-x", "S-1-5-4294967296", "S-1-281474976710656-1",
     "S-1-5" + "-1" * 16, "1-5-32-544"],
)
def test_malformed_strings_rejected(bad: str) -> None:
    with pytest.raises(S.SidError):
        S.sid_to_bytes(bad)


@pytest.mark.parametrize(
    ("data", "why"),
    [(b"\x01\x02\x00", "truncated"), (b"\x02\x01" + b"\x00" * 10, "revision 2"),
     (b"\x01\x10" + b"\x00" * 70, "16 sub-authorities"), (b"\x01\x02" + b"\x00" * 10, "truncated")],
)
def test_malformed_binary_rejected(data: bytes, why: str) -> None:
    with pytest.raises(S.SidError, match=why):
        S.sid_from_bytes(data)


def test_lowercase_prefix_is_normalized() -> None:
    assert S.normalize_sid("s-1-5-18") == S.SYSTEM


def test_well_known_constants() -> None:
    assert S.PRINCIPAL_SELF == "S-1-5-10"
    assert S.ENTERPRISE_DOMAIN_CONTROLLERS == "S-1-5-9"
    assert S.BUILTIN_PRE_WINDOWS_2000_COMPATIBLE_ACCESS == "S-1-5-32-554"
    assert (S.GROUP_POLICY_CREATOR_OWNERS, S.READONLY_DOMAIN_CONTROLLERS) == (520, 521)


@pytest.mark.parametrize(
    ("alias", "expected"),
    [("WD", "S-1-1-0"), ("AU", "S-1-5-11"), ("PS", "S-1-5-10"), ("ED", "S-1-5-9"), ("RU", "S-1-5-32-554"),
     ("AO", "S-1-5-32-548"), ("BA", "S-1-5-32-544"), ("CO", "S-1-3-0"), ("SY", "S-1-5-18"),
     ("DA", "S-1-5-21-1-2-3-512"), ("DU", "S-1-5-21-1-2-3-513"), ("DC", "S-1-5-21-1-2-3-515"),
     ("DD", "S-1-5-21-1-2-3-516"), ("EA", "S-1-5-21-1-2-3-519"), ("SA", "S-1-5-21-1-2-3-518"),
     ("CA", "S-1-5-21-1-2-3-517"), ("RS", "S-1-5-21-1-2-3-553"), ("PA", "S-1-5-21-1-2-3-520"),
     ("RO", "S-1-5-21-1-2-3-498")],
)
def test_alias_resolution(alias: str, expected: str) -> None:
    assert S.sid_for_alias(alias, "S-1-5-21-1-2-3") == expected
    assert S.alias_for_sid(expected, "S-1-5-21-1-2-3") == alias


def test_domain_alias_needs_domain_sid() -> None:
    with pytest.raises(S.SidError, match="relative to the domain SID"):
        S.sid_for_alias("DA")
    assert S.alias_for_sid("S-1-5-21-1-2-3-512") is None
    assert S.alias_for_sid("S-1-5-21-9-9-9-512", "S-1-5-21-1-2-3") is None
    with pytest.raises(S.SidError, match="unknown"):
        S.sid_for_alias("ZZ")


@given(
    authority=st.integers(0, (1 << 48) - 1),
    subs=st.lists(st.integers(0, (1 << 32) - 1), max_size=15),
)
def test_binary_round_trip_property(authority: int, subs: list[int]) -> None:
    text = S._format(authority, tuple(subs))
    data = S.sid_to_bytes(text)
    assert len(data) == 8 + 4 * len(subs) == S.sid_length(data)
    assert S.sid_from_bytes(data) == text
    assert S.normalize_sid(text) == text
