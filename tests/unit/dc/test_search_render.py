"""Search rendering with per-context memos: access checks still apply entry by entry.

The reader caches read-property decisions and the attribute plan per (descriptor,
class, requester-is-the-object); these tests make contexts differ and check each
entry gets its own answer, and that paged and unpaged results agree.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

import pytest

from fakes.ad import controls as ctl
from fakes.ad.api import Control, Scope
from fakes.ad.provision import DEFAULT_USER_PASSWORD, provision
from fakes.ad.security import constants as K
from fakes.ad.security.descriptor import Ace, Acl

SYNC = ["objectGUID", "objectSid", "sAMAccountName", "userPrincipalName", "displayName", "distinguishedName",
        "userAccountControl", "mail", "pwdLastSet", "uSNChanged", "isCriticalSystemObject"]
USER_FILTER = "(&(objectClass=user)(!(objectClass=computer)))"
MAIL = UUID("bf967961-0de6-11d0-a285-00aa003049e2")
SELF = "S-1-5-10"


@pytest.fixture(scope="module")
def dc():
    dc = provision(users=40, seed=21)
    # Every Sales user gets one identical descriptor (interned: one bytes object) whose first ACE
    # hides mail from the user itself only (PRINCIPAL_SELF), ahead of the default allows.
    deny_self = Ace(K.ACCESS_DENIED_OBJECT_ACE_TYPE, 0, K.RIGHT_DS_READ_PROPERTY, SELF, MAIL)
    for user in _sales_users(dc):
        sd = dc.sds.parse(user.sd)
        explicit = tuple(a for a in sd.dacl.aces if not a.inherited)
        new = replace(sd, dacl=Acl((deny_self, *explicit)))
        user.sd = dc.sds.compute(user.parent.sd, new, dc.class_guid("user"))
    return dc


def _sales_users(dc) -> list:
    return [e for e in dc.directory.lookup("department", "Sales") if e.object_class == "user"]


def _paged(dc, session, base: str, flt: str, attrs: list[str], size: int) -> list:
    out, cookie = [], b""
    for _ in range(1000):
        r = dc.search(session, base, Scope.SUBTREE, flt, attrs,
                      controls=[Control(ctl.PAGED_RESULTS, False, ctl.encode_paged(size, cookie))])
        out.extend(r.entries)
        control = next(c for c in r.result.controls if c.oid == ctl.PAGED_RESULTS)
        _, cookie = ctl.decode_paged(control.value)
        if not cookie:
            return out
    raise AssertionError("paging never ended")


def test_self_context_hides_mail_only_on_the_requesters_own_entry(dc) -> None:
    me, *others = _sales_users(dc)
    session = dc.bind_session(me.dn, DEFAULT_USER_PASSWORD)
    assert dc.sds.parse(me.sd) == dc.sds.parse(others[0].sd) and me.sd is others[0].sd
    for attrs in (["mail", "sAMAccountName"], ["*"]):
        base = f"OU=Sales,OU=Staff,{dc.domain_dn}"
        r = dc.search(session, base, Scope.SUBTREE, "(objectClass=user)", attrs)
        by_dn = {e.dn: e for e in r.entries}
        assert by_dn[me.dn].get("mail") == []
        assert by_dn[me.dn].get("sAMAccountName") == [me.attrs["samaccountname"][0].encode()]
        for other in others:
            assert by_dn[other.dn].get("mail") == [other.attrs["mail"][0].encode()]


def test_outside_the_ou_the_same_user_reads_its_own_mail(dc) -> None:
    it_user = next(e for e in dc.directory.lookup("department", "IT") if e.object_class == "user")
    session = dc.bind_session(it_user.dn, DEFAULT_USER_PASSWORD)
    r = dc.search(session, it_user.dn, Scope.BASE, "(objectClass=*)", ["mail"])
    assert r.entries[0].get("mail") == [it_user.attrs["mail"][0].encode()]


def test_paged_import_matches_unpaged_and_keeps_request_order(dc) -> None:
    session = dc.bind_session(dc.connector_dn, dc.connector_password)
    whole = dc.search(session, dc.domain_dn, Scope.SUBTREE, USER_FILTER, SYNC).entries
    for size in (1, 7, 1000):
        paged = _paged(dc, session, dc.domain_dn, USER_FILTER, SYNC, size)
        assert [(e.dn, e.attributes) for e in paged] == [(e.dn, e.attributes) for e in whole]
    users = [e for e in whole if e.dn.endswith(f"OU=Staff,{dc.domain_dn}")]
    assert len(users) == 40
    for e in users:
        assert e.get("objectGUID") == [dc.directory.get(e.dn).guid.bytes_le]
        assert e.get("distinguishedName") == [e.dn.encode()]
        assert all(name in e.attributes for name in ("objectSid", "sAMAccountName", "userAccountControl"))


def test_types_only_and_no_attributes(dc) -> None:
    admin = dc.admin_session()
    user = _sales_users(dc)[0]
    typed = dc.search(admin, user.dn, Scope.BASE, "(objectClass=*)", ["cn", "mail", "objectGUID"],
                      types_only=True).entries[0]
    assert typed.attributes == {"cn": [], "mail": [], "objectGUID": []}
    none = dc.search(admin, user.dn, Scope.BASE, "(objectClass=*)", ["1.1"]).entries[0]
    assert none.attributes == {}


def test_secret_and_unreadable_attributes_never_render(dc) -> None:
    session = dc.bind_session(dc.connector_dn, dc.connector_password)
    r = dc.search(session, f"OU=Staff,{dc.domain_dn}", Scope.SUBTREE, "(objectClass=user)",
                  ["unicodePwd", "ntPwdHistory", "sAMAccountName", "noSuchAttribute"])
    assert r.entries
    assert all(set(e.attributes) == {"sAMAccountName"} for e in r.entries)
