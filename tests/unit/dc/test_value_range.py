"""Range retrieval of attribute values (MS-ADTS 3.1.1.3.1.3.3): the rules and the DC's searches."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakes.ad import controls as ctl
from fakes.ad import errors
from fakes.ad.api import Control, LdapError, ResultCode, Scope
from fakes.ad.provision import DEFAULT_USER_PASSWORD, OuLayout, provision
from fakes.ad.value_range import RangePastEnd, ValueRange, ranged, split_description


# --------------------------------------------------------------------------- the rules
@pytest.mark.parametrize(("description", "expected"), [
    ("member", ("member", None)),
    ("Member;Range=0-*", ("member", ValueRange(0, None))),
    ("member;range=1500-2999", ("member", ValueRange(1500, 2999))),
    ("member;range=7-7", ("member", ValueRange(7, 7))),
    ("userCertificate;binary", ("usercertificate;binary", None)),  # other options: as before
    ("member;range=5", None),
    ("member;range=a-*", None),
    ("member;range=-1-*", None),
    ("member;range=9-3", None),
    ("member;range=0-*;binary", None),
    ("member;range=\u0661-*", None),  # an Arabic-Indic digit is not a range bound
])
def test_split_description(description, expected):
    assert split_description(description) == expected


def test_ranged_without_a_range_option():
    values = list(range(7))
    assert ranged("member", values, None, 7, linked=True) == [("member", values)]
    ranged_pair = [("member", []), ("member;range=0-4", values[:5])]
    assert ranged("member", values, None, 5, linked=True) == ranged_pair


def test_ranged_with_a_range_option():
    values = list(range(10))

    def answer(low: int, high: int | None, limit: int) -> list[tuple[str, list]]:
        return ranged("member", values, ValueRange(low, high), limit, linked=True)

    assert answer(0, None, 20) == [("member;range=0-*", values)]
    assert answer(0, None, 4) == [("member;range=0-3", [0, 1, 2, 3])]
    assert answer(4, None, 4) == [("member;range=4-7", [4, 5, 6, 7])]
    assert answer(8, None, 4) == [("member;range=8-*", [8, 9])]
    assert answer(2, 3, 4) == [("member;range=2-3", [2, 3])]
    # A high bound at or past the last value is answered with '*'.
    assert answer(5, 9, 20) == [("member;range=5-*", values[5:])]
    assert answer(5, 500, 20) == [("member;range=5-*", values[5:])]


def test_ranged_past_the_end():
    values = [b"a", b"b"]
    with pytest.raises(RangePastEnd):
        ranged("member", values, ValueRange(2, None), 10, linked=True)
    assert ranged("member", values, ValueRange(2, None), 10, linked=True, past_end_ok=True) == [
        ("member;range=2-*", [])]
    assert ranged("otherWellKnownObjects", values, ValueRange(5, 9), 10, linked=False) == [
        ("otherWellKnownObjects;range=5-*", [])]


@given(count=st.integers(1, 400), limit=st.integers(1, 60), step=st.integers(0, 80))
def test_following_the_ranges_returns_every_value_once(count, limit, step):
    """A client that follows the server's answers (what ldap3's auto_range does: ask for
    ``high+1-*`` until the high bound is ``*``) gets every value exactly once, in order, and no
    answer holds more than the limit. ``step`` > 0 asks for explicit ``low-(low+step)`` ranges."""
    values = list(range(count))
    pairs = ranged("member", values, None, limit, linked=True)
    got: list[int] = []
    if len(pairs) == 1:
        got = pairs[0][1]
    else:
        while True:
            name, chunk = pairs[-1]
            assert len(chunk) <= limit
            got += chunk
            high = name.split("=", 1)[1].split("-")[1]
            if high == "*":
                break
            following = ValueRange(int(high) + 1, int(high) + 1 + step if step else None)
            pairs = ranged("member", values, following, limit, linked=True)
            assert len(pairs) == 1
    assert got == values


# --------------------------------------------------------------------------- the DC
@pytest.fixture(scope="module")
def dc():
    dc = provision(users=23, seed=5, ou_layout=OuLayout(departments=("Sales",)))
    dc.max_val_range = 10
    return dc


def _group(dc, session, attrs, controls=()):
    r = dc.search(session, dc.domain_dn, Scope.SUBTREE, "(cn=GG-Sales)", attrs, controls=controls)
    assert len(r.entries) == 1
    return r.entries[0].attributes


def _members(dc) -> list[bytes]:
    group = dc.directory.lookup("cn", "GG-Sales")[0]
    return [v.encode() for v in group.attrs["member"]]


def test_a_big_attribute_comes_back_ranged(dc):
    members = _members(dc)
    assert len(members) == 23
    admin = dc.admin_session()
    for attrs in (["member"], ["cn", "member"], ["*"]):
        got = _group(dc, admin, attrs)
        assert got["member"] == []
        assert got["member;range=0-9"] == members[:10]
        assert not any(k.startswith("member;range=") and k != "member;range=0-9" for k in got)
    # Small attributes are unchanged, and a paged search ranges the same way.
    assert _group(dc, admin, ["cn"])["cn"] == [b"GG-Sales"]
    paged = _group(dc, admin, ["member"], [Control(ctl.PAGED_RESULTS, False, ctl.encode_paged(5, b""))])
    assert paged["member;range=0-9"] == members[:10]


def test_asking_for_ranges(dc):
    members = _members(dc)
    admin = dc.admin_session()
    assert _group(dc, admin, ["member;range=10-*"]) == {"member;range=10-19": members[10:20]}
    assert _group(dc, admin, ["member;Range=20-*"]) == {"member;range=20-*": members[20:]}
    assert _group(dc, admin, ["member;range=3-4", "cn"]) == {"member;range=3-4": members[3:5],
                                                              "cn": [b"GG-Sales"]}
    assert _group(dc, admin, ["member;range=bad"]) == {}
    dc.max_val_range = 100
    try:
        assert _group(dc, admin, ["member"]) == {"member": members}
        assert _group(dc, admin, ["member;range=0-*"]) == {"member;range=0-*": members}
    finally:
        dc.max_val_range = 10


def test_past_the_last_value_is_an_operations_error_unless_noerr(dc):
    admin = dc.admin_session()
    with pytest.raises(LdapError) as caught:
        _group(dc, admin, ["member;range=23-*"])
    assert caught.value.code == ResultCode.OPERATIONS_ERROR
    assert errors.canonical(caught.value.message) == errors.RANGE_PAST_END
    noerr = [Control(ctl.RANGE_RETRIEVAL_NOERR, False, None)]
    assert _group(dc, admin, ["member;range=23-*"], noerr) == {"member;range=23-*": []}


def test_a_user_gets_the_same_ranges_through_the_read_checks(dc):
    """A plain user's search goes through the per-attribute read checks (the admin's does too,
    but a user's rights are memoised per access context): the ranges come out the same."""
    members = _members(dc)
    user = dc.directory.lookup("department", "Sales")[0]
    session = dc.bind_session(user.dn, DEFAULT_USER_PASSWORD)
    got = _group(dc, session, ["member", "cn"])
    assert got == {"member": [], "member;range=0-9": members[:10], "cn": [b"GG-Sales"]}
    assert _group(dc, session, ["member;range=10-*"]) == {"member;range=10-19": members[10:20]}
