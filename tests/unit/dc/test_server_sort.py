"""Server-side sorting (RFC 2891) as AD does it: one key, case-insensitive text, numbers as numbers,
entries without the attribute last (first in reverse), the SortResult control on the answer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakes.ad import controls as ctl
from fakes.ad import errors
from fakes.ad.api import Control, LdapError, ResultCode, Scope
from fakes.ad.provision import provision

USERS = "(objectClass=user)"


@pytest.fixture(scope="module")
def dc():
    return provision(users=25, seed=7)


def _search(dc, keys, *, critical=False, attrs=("sn",), extra=(), size_limit=0, session=None):
    sort = Control(ctl.SORT, critical, ctl.encode_sort(keys))
    return dc.search(session or dc.admin_session(), dc.domain_dn, Scope.SUBTREE, USERS, list(attrs),
                     controls=[sort, *extra], size_limit=size_limit)


def _sort_result(result) -> bytes:
    (answer,) = [c for c in result.result.controls if c.oid == ctl.SORT_RESPONSE]
    return answer.value


def _expected(dc, name: str, reverse: bool = False, key=str.casefold) -> list[str]:
    users = [e for e in dc.directory.lookup("objectclass", "user")]
    order = sorted(users, key=lambda e: (0, key(e.attrs[name][0])) if e.attrs.get(name) else (1,),
                   reverse=reverse)
    return [e.dn for e in order]


@given(keys=st.lists(st.tuples(st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True),
                               st.none() | st.from_regex(r"[0-9]+(\.[0-9]+){1,6}", fullmatch=True),
                               st.booleans()), min_size=1, max_size=3))
def test_the_sort_request_codec_round_trips(keys):
    wanted = [ctl.SortKey(*k) for k in keys]
    assert ctl.decode_sort(ctl.encode_sort(wanted)) == wanted


@pytest.mark.parametrize("value", [None, b"", b"\x30\x00", b"\x30\x03\x04\x01", b"\x04\x02sn",
                                   b"\x30\x06\x30\x04\x02\x02\x00\x01"])
def test_a_malformed_sort_request_is_a_control_error(dc, value):
    with pytest.raises(LdapError) as caught:
        dc.search(dc.admin_session(), dc.domain_dn, Scope.SUBTREE, USERS, ["sn"],
                  controls=[Control(ctl.SORT, False, value)])
    assert caught.value.code == ResultCode.PROTOCOL_ERROR
    assert errors.canonical(caught.value.message) == errors.CONTROL_DECODE


def test_sorted_by_one_key_ascending_and_in_reverse(dc):
    r = _search(dc, [ctl.SortKey("sn")])
    assert [e.dn for e in r.entries] == _expected(dc, "sn")
    assert _sort_result(r) == ctl.encode_sort_result(0)
    r = _search(dc, [ctl.SortKey("SN", None, True)], critical=True)
    assert [e.dn for e in r.entries] == _expected(dc, "sn", reverse=True)
    assert not r.entries[0].attributes.get("sn") and r.entries[-1].attributes.get("sn")  # no sn: first


def test_numbers_sort_as_numbers(dc):
    r = _search(dc, [ctl.SortKey("uSNCreated", None, True)], attrs=("uSNCreated",))
    assert [e.dn for e in r.entries] == _expected(dc, "usncreated", reverse=True, key=int)


def test_more_than_one_key_is_refused(dc):
    two = [ctl.SortKey("sn"), ctl.SortKey("givenName")]
    unsorted = dc.search(dc.admin_session(), dc.domain_dn, Scope.SUBTREE, USERS, ["sn"])
    r = _search(dc, two)
    assert [e.dn for e in r.entries] == [e.dn for e in unsorted.entries]
    assert _sort_result(r) == ctl.encode_sort_result(53)
    with pytest.raises(LdapError) as caught:
        _search(dc, two, critical=True)
    assert caught.value.code == ResultCode.UNAVAILABLE_CRITICAL_EXTENSION


def test_an_unknown_attribute_is_no_such_attribute(dc):
    r = _search(dc, [ctl.SortKey("noSuchThing")])
    assert _sort_result(r) == ctl.encode_sort_result(16, "noSuchThing")


def test_sorted_pages_and_the_page_size_limit(dc):
    expected = _expected(dc, "sn")
    got, cookie, session = [], b"", dc.admin_session()
    for _ in range(20):
        paged = Control(ctl.PAGED_RESULTS, False, ctl.encode_paged(4, cookie))
        r = _search(dc, [ctl.SortKey("sn")], extra=[paged], session=session)
        assert _sort_result(r) == ctl.encode_sort_result(0)
        got += [e.dn for e in r.entries]
        cookie = ctl.decode_paged(next(c for c in r.result.controls if c.oid == ctl.PAGED_RESULTS).value)[1]
        if not cookie:
            break
    assert got == expected
    r = _search(dc, [ctl.SortKey("sn")], size_limit=5)
    assert r.result.code == ResultCode.SIZE_LIMIT_EXCEEDED and [e.dn for e in r.entries] == expected[:5]
    assert _sort_result(r) == ctl.encode_sort_result(0)


def test_a_value_the_requester_may_not_read_sorts_as_no_value():
    """The order must not tell what an entry hides: a denied sn sorts with the entries without one."""
    from dataclasses import replace

    from fakes.ad.provision import DEFAULT_USER_PASSWORD
    from fakes.ad.security import constants as K
    from fakes.ad.security.descriptor import Ace, Acl

    dc = provision(users=12, seed=3)
    users = [e for e in dc.directory.lookup("objectclass", "user") if e.attrs.get("sn")]
    hidden = min(users, key=lambda e: e.attrs["sn"][0].casefold())
    reader = next(e for e in users if e is not hidden)
    deny = Ace(K.ACCESS_DENIED_OBJECT_ACE_TYPE, 0, K.RIGHT_DS_READ_PROPERTY, dc.sid_of(reader),
               dc.schema.attribute("sn").schema_id_guid)
    sd = dc.sds.parse(hidden.sd)
    explicit = tuple(a for a in sd.dacl.aces if not a.inherited)
    denied = replace(sd, dacl=Acl((deny, *explicit)))
    hidden.sd = dc.sds.compute(hidden.parent.sd, denied, dc.class_guid("user"))
    others = {e.dn for e in users if e is not hidden}

    def position(order: list[str]) -> tuple[int, int, int]:
        where = [i for i, dn in enumerate(order) if dn in others]
        return order.index(hidden.dn), min(where), max(where)

    admin = [e.dn for e in _search(dc, [ctl.SortKey("sn")]).entries]
    mine = [e.dn for e in _search(dc, [ctl.SortKey("sn")],
                                  session=dc.bind_session(reader.dn, DEFAULT_USER_PASSWORD)).entries]
    spot, first, _ = position(admin)
    assert spot < first  # the least sn comes first for whoever may read it
    spot, _, last = position(mine)
    assert spot > last  # and after every readable sn for the user it is hidden from
