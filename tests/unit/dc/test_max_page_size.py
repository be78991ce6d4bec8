"""MaxPageSize (LDAP policy, MS-ADTS 3.1.1.3.4.6): the most entries a page, or a search without
paging, returns. Past it, a search without paging ends in sizeLimitExceeded with the entries so
far, as on a DC (a tool that forgets to page meets it in the lab too)."""

from __future__ import annotations

import pytest

from fakes.ad import controls as ctl
from fakes.ad import errors
from fakes.ad.api import Control, ResultCode, Scope
from fakes.ad.provision import provision

USERS = "(&(objectClass=user)(!(objectClass=computer)))"


@pytest.fixture(scope="module")
def dc():
    dc = provision(users=30, seed=9)
    dc.max_page_size = 10
    return dc


def _all_users(dc) -> list[str]:
    return [e.dn for e in dc.directory.lookup("objectclass", "user") if e.object_class == "user"]


def test_a_search_without_paging_stops_at_max_page_size(dc):
    admin = dc.admin_session()
    everyone = _all_users(dc)
    assert len(everyone) > 30
    for size_limit in (0, 50):  # none, or one above the policy's
        r = dc.search(admin, dc.domain_dn, Scope.SUBTREE, USERS, ["cn"], size_limit=size_limit)
        assert len(r.entries) == 10
        assert r.result.code == ResultCode.SIZE_LIMIT_EXCEEDED
        assert errors.canonical(r.result.message) == errors.SIZE_LIMIT
        assert [e.dn for e in r.entries] == everyone[:10]
    r = dc.search(admin, dc.domain_dn, Scope.SUBTREE, USERS, ["cn"], size_limit=4)
    assert len(r.entries) == 4 and r.result.code == ResultCode.SIZE_LIMIT_EXCEEDED


def test_a_small_result_is_whole(dc):
    r = dc.search(dc.admin_session(), dc.domain_dn, Scope.SUBTREE, "(cn=GG-*)", ["cn"])
    assert r.result.code == ResultCode.SUCCESS and 0 < len(r.entries) <= 10


def test_pages_are_cut_to_max_page_size(dc):
    admin = dc.admin_session()
    pages, cookie = [], b""
    for _ in range(100):
        r = dc.search(admin, dc.domain_dn, Scope.SUBTREE, USERS, ["cn"],
                      controls=[Control(ctl.PAGED_RESULTS, False, ctl.encode_paged(25, cookie))])
        assert r.result.code == ResultCode.SUCCESS
        pages.append([e.dn for e in r.entries])
        cookie = ctl.decode_paged(r.result.controls[0].value)[1]
        if not cookie:
            break
    assert all(len(p) == 10 for p in pages[:-1]) and 0 < len(pages[-1]) <= 10
    assert [dn for p in pages for dn in p] == _all_users(dc)
