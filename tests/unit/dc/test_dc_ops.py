"""DomainController operation API: bind, rootDSE, search rules, paging, writes, logs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.ad import controls as ctl
from fakes.ad import errors, passwords
from fakes.ad.api import Change, Control, LdapError, ModOp, ResultCode, Scope
from fakes.ad.provision import DEFAULT_USER_PASSWORD, provision
from fakes.ad.security.descriptor import SecurityDescriptor
from fakes.clock import SimClock
from fakes.oplog import OperationLog

PW = DEFAULT_USER_PASSWORD


@pytest.fixture(scope="module")
def dc():
    clock = SimClock()
    return provision(users=60, seed=11, clock=clock, oplog=OperationLog(clock))


def users(dc, flt="(&(objectClass=user)(userAccountControl=512)(lockoutTime=0))"):
    s = dc.system_session()
    return [e for e in dc.search(s, f"OU=Staff,{dc.domain_dn}", Scope.SUBTREE, flt, ["*"]).entries]


def raises(code: int, fn, *args, **kw) -> LdapError:
    with pytest.raises(LdapError) as info:
        fn(*args, **kw)
    assert info.value.code == code, info.value
    return info.value


def test_root_dse_is_anonymous_and_windows_2016_like(dc) -> None:
    anon = dc.new_session()
    r = dc.search(anon, "", Scope.BASE, "(objectClass=*)")
    e = r.entries[0]
    assert e.first("defaultNamingContext") == dc.domain_dn
    assert e.first("domainControllerFunctionality") == "7"
    assert ctl.POLICY_HINTS in e.text("supportedControl") and ctl.PAGED_RESULTS in e.text("supportedControl")
    assert e.first("dnsHostName") == "dc01.contoso.com"
    only = dc.search(anon, "", Scope.BASE, "(objectClass=*)", ["currentTime"]).entries[0]
    assert list(only.attributes) == ["currentTime"]
    before = only.first("currentTime")
    dc.clock.advance(hours=1)
    assert (
        dc.search(anon, "", Scope.BASE, "(objectClass=*)", ["currentTime"]).entries[0].first("currentTime")
        != before
    )


def test_anonymous_search_needs_bind(dc) -> None:
    err = raises(1, dc.search, dc.new_session(), dc.domain_dn, Scope.BASE)
    assert errors.canonical(err.message) == errors.OPERATIONS_ERROR_NO_BIND


def test_bind_name_forms_and_token(dc) -> None:
    u = users(dc)[0]
    sam, upn = u.first("sAMAccountName"), u.first("userPrincipalName")
    for name in (u.dn, upn, f"CONTOSO\\{sam}", f"{sam}@contoso.com"):
        s = dc.bind_session(name, PW)
        assert s.principal_dn == u.dn
        assert "S-1-5-11" in s.token and dc.domain_sid + "-513" in s.token
    who = dc.extended(s, "1.3.6.1.4.1.4203.1.11.3", None)
    assert who.value == f"u:CONTOSO\\{sam}".encode()


@pytest.mark.parametrize(
    ("setup", "data"),
    [("unknown", "525"), ("wrong", "52e"), ("disabled", "533"), ("mustchange", "773"), ("expired", "532")],
)
def test_bind_failures(setup: str, data: str) -> None:
    dc = provision(users=5, seed=2)
    u = users(dc)[0]
    name, pw = u.dn, PW
    sys = dc.system_session()
    if setup == "unknown":
        name = f"CN=Nobody,{dc.domain_dn}"
    elif setup == "wrong":
        pw = "nope"
    elif setup == "disabled":
        dc.modify(sys, u.dn, [Change(ModOp.REPLACE, "userAccountControl", ("514",))])
    elif setup == "mustchange":
        dc.modify(sys, u.dn, [Change(ModOp.REPLACE, "pwdLastSet", ("0",))])
    elif setup == "expired":
        dc.clock.advance(days=43)
    err = raises(49, dc.bind_session, name, pw)
    assert errors.canonical(err.message) == errors.BIND_TEMPLATE.format(data=data)


def test_unknown_extended_and_critical_control(dc) -> None:
    s = dc.admin_session()
    err = raises(2, dc.extended, s, "1.2.3.4", None)
    assert errors.canonical(err.message) == errors.UNKNOWN_EXTENDED
    raises(12, dc.search, s, dc.domain_dn, Scope.BASE, controls=[Control("1.2.3.4.5", True)])
    dc.search(s, dc.domain_dn, Scope.BASE, controls=[Control("1.2.3.4.5", False)])


def test_no_such_object_names_best_match(dc) -> None:
    err = raises(32, dc.search, dc.admin_session(), f"OU=Missing,OU=Staff,{dc.domain_dn}", Scope.BASE)
    assert err.matched_dn == f"OU=Staff,{dc.domain_dn}"
    assert f"best match of:\n\t'OU=Staff,{dc.domain_dn}'" in err.message


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 25))
def test_paged_search_returns_everything_once(dc, page: int) -> None:
    s = dc.admin_session()
    flt = "(objectClass=user)"
    full = {e.dn for e in dc.search(s, dc.domain_dn, Scope.SUBTREE, flt, ["1.1"]).entries}
    got: list[str] = []
    cookie = b""
    for _ in range(1000):
        r = dc.search(
            s,
            dc.domain_dn,
            Scope.SUBTREE,
            flt,
            ["1.1"],
            controls=[Control(ctl.PAGED_RESULTS, True, ctl.encode_paged(page, cookie))],
        )
        assert len(r.entries) <= page
        got.extend(e.dn for e in r.entries)
        _, cookie = ctl.decode_paged(r.result.controls[0].value)
        if not cookie:
            break
    assert sorted(got) == sorted(full)


def _pages(dc, s, base: str, scope: Scope, flt: str, size: int, between=lambda n: None) -> list[list[str]]:
    """Each page's DNs of a paged search (``between(n)`` runs after page n)."""
    pages, cookie = [], b""
    while True:
        r = dc.search(s, base, scope, flt, ["1.1"],
                      controls=[Control(ctl.PAGED_RESULTS, True, ctl.encode_paged(size, cookie))])
        pages.append([e.dn for e in r.entries])
        _, cookie = ctl.decode_paged(r.result.controls[0].value)
        if not cookie:
            return pages
        between(len(pages))


def test_paged_search_pages_are_full_and_the_last_has_no_cookie_only_when_nothing_follows(dc) -> None:
    """Matches are found page by page (a cursor, not a list made at the first page): every page
    but the last is full, and no empty page follows one that ended the results exactly."""
    s = dc.admin_session()
    flt = "(objectClass=user)"
    full = [e.dn for e in dc.search(s, dc.domain_dn, Scope.SUBTREE, flt, ["1.1"]).entries]
    for size in (1, 7, len(full) // 2, len(full), len(full) + 1):
        pages = _pages(dc, s, dc.domain_dn, Scope.SUBTREE, flt, size)
        assert [dn for page in pages for dn in page] == full  # same order as without paging
        assert all(len(page) == size for page in pages[:-1]) and 0 < len(pages[-1]) <= size


def test_a_paged_search_sees_changes_made_between_pages_and_never_fails_on_them() -> None:
    """Between pages an admin deletes and adds users, also in the one-level case: no entry comes
    twice, no deleted one comes at all, every other one comes, and the search does not break."""
    dc = provision(users=40, seed=8, clock=SimClock())
    s = dc.admin_session()
    sales = f"OU=Sales,OU=Staff,{dc.domain_dn}"
    # (sn=*) walks the tree, (objectClass=user) takes its candidates from an index
    runs = [(scope, flt) for scope in (Scope.ONELEVEL, Scope.SUBTREE)
            for flt in ("(sn=*)", "(objectClass=user)")]
    for n, (scope, flt) in enumerate(runs):
        users = [e.dn for e in dc.search(s, sales, scope, flt, ["1.1"]).entries]

        def change(page: int, n: int = n, doomed: str = users[-1]) -> None:
            if page == 1:  # (the OU's child count changes too)
                dc.delete(s, doomed)
                for i in range(2):
                    name = f"late{n}{i}"
                    attrs = {"objectClass": ["user"], "sAMAccountName": [name], "sn": [name]}
                    dc.add(s, f"CN={name},{sales}", attrs)

        got = [dn for page in _pages(dc, s, sales, scope, flt, 2, change) for dn in page]
        assert len(got) == len(set(got)) and users[-1] not in got
        assert set(users[:-1]) <= set(got)


def test_size_limit_and_types_only(dc) -> None:
    s = dc.admin_session()
    r = dc.search(s, dc.domain_dn, Scope.SUBTREE, "(objectClass=user)", ["cn"], size_limit=3)
    assert r.result.code == ResultCode.SIZE_LIMIT_EXCEEDED and len(r.entries) == 3
    t = dc.search(s, dc.admin_dn, Scope.BASE, "(objectClass=*)", ["cn", "sAMAccountName"], types_only=True)
    assert t.entries[0].attributes == {"cn": [], "sAMAccountName": []}


def test_secrets_never_returned_and_sd_only_on_request(dc) -> None:
    s = dc.admin_session()
    e = dc.search(s, dc.admin_dn, Scope.BASE, "(objectClass=*)", ["*", "unicodePwd"]).entries[0]
    assert not e.get("unicodePwd") and not e.get("ntPwdHistory") and not e.get("nTSecurityDescriptor")
    assert e.get("objectGUID")[0] == dc.get_entry(dc.admin_dn).guid.bytes_le
    ctrl = Control(ctl.SD_FLAGS, True, ctl.encode_sd_flags(4))
    e2 = dc.search(s, dc.admin_dn, Scope.BASE, "(objectClass=*)", ["*"], controls=[ctrl]).entries[0]
    sd = SecurityDescriptor.from_bytes(e2.get("nTSecurityDescriptor")[0])
    assert sd.owner is None and sd.dacl is not None


def test_normal_user_cannot_read_sd_without_sacl_privilege(dc) -> None:
    u = users(dc)[0]
    s = dc.bind_session(u.dn, PW)
    e = dc.search(s, dc.admin_dn, Scope.BASE, "(objectClass=*)", ["nTSecurityDescriptor", "cn"]).entries[0]
    assert e.get("cn") and not e.get("nTSecurityDescriptor")  # SACL part asked by default -> omitted


def test_constructed_attributes(dc) -> None:
    s = dc.admin_session()
    r = dc.search(
        s,
        dc.admin_dn,
        Scope.BASE,
        "(objectClass=*)",
        ["tokenGroups", "canonicalName", "msDS-User-Account-Control-Computed", "memberOf"],
    )
    e = r.entries[0]
    assert e.first("canonicalName") == "contoso.com/Users/Administrator"
    assert len(e.get("tokenGroups")) >= 4 and e.first("msDS-User-Account-Control-Computed") == "0"
    sub = dc.search(s, dc.admin_dn, Scope.SUBTREE, "(objectClass=*)", ["tokenGroups"]).entries[0]
    assert not sub.get("tokenGroups")  # AD computes tokenGroups only for base-scope searches


def test_modify_errors(dc) -> None:
    s = dc.admin_session()
    u = users(dc)[1].dn
    err = raises(80, dc.modify, s, u, [Change(ModOp.REPLACE, "pwdLastSet", ("5",))])
    assert errors.canonical(err.message) == errors.PWDLASTSET_VALUE
    raises(53, dc.modify, s, u, [Change(ModOp.DELETE, "lockoutTime", ())])
    raises(17, dc.modify, s, u, [Change(ModOp.REPLACE, "noSuchAttr", ("x",))])
    raises(53, dc.modify, s, u, [Change(ModOp.REPLACE, "objectSid", (b"\x01",))])
    raises(19, dc.modify, s, u, [Change(ModOp.REPLACE, "displayName", ("a", "b"))])
    raises(20, dc.modify, s, u, [Change(ModOp.ADD, "sn", ("x",)), Change(ModOp.ADD, "sn", ("x",))])
    raises(16, dc.modify, s, u, [Change(ModOp.DELETE, "description", ("absent",))])
    permissive = Control(ctl.PERMISSIVE_MODIFY, False)
    dc.modify(s, u, [Change(ModOp.DELETE, "description", ("absent",))], controls=[permissive])
    # A failed request changes nothing (atomic modify).
    before = dc.get_entry(u).attrs.get("title")
    raises(
        17,
        dc.modify,
        s,
        u,
        [Change(ModOp.REPLACE, "title", ("New",)), Change(ModOp.REPLACE, "bogus", ("x",))],
    )
    assert dc.get_entry(u).attrs.get("title") == before


def test_change_wrong_old_password_counts_bad_password(dc) -> None:
    u = users(dc)[2].dn
    s = dc.bind_session(u, PW)
    err = raises(
        19,
        dc.modify,
        s,
        u,
        [
            Change(ModOp.DELETE, "unicodePwd", (passwords.encode_unicode_pwd("x"),)),
            Change(ModOp.ADD, "unicodePwd", (passwords.encode_unicode_pwd("Y-2026pw!"),)),
        ],
    )
    assert errors.canonical(err.message) == errors.WRONG_OLD_PASSWORD
    assert dc.get_entry(u).attrs["badpwdcount"] == ["1"]


def test_add_user_delete_rename_compare(dc) -> None:
    s = dc.admin_session()
    dn = f"CN=Test User,OU=Sales,OU=Staff,{dc.domain_dn}"
    dc.add(
        s,
        dn,
        {
            "objectClass": ["top", "person", "organizationalPerson", "user"],
            "sAMAccountName": ["tuser"],
            "unicodePwd": [passwords.encode_unicode_pwd("Alpha-2026!xy")],
        },
    )
    e = dc.get_entry(dn)
    assert e.attrs["useraccountcontrol"] == ["512"] and e.attrs["pwdlastset"] == ["0"]
    raises(68, dc.add, s, dn, {"objectClass": ["user"], "sAMAccountName": ["other"]})
    raises(68, dc.add, s, f"CN=Dup,{dc.domain_dn}", {"objectClass": ["user"], "sAMAccountName": ["tuser"]})
    assert dc.compare(s, dn, "sAMAccountName", "TUSER").code == ResultCode.COMPARE_TRUE
    assert dc.compare(s, dn, "sAMAccountName", "x").code == ResultCode.COMPARE_FALSE
    dc.modify_dn(s, dn, "CN=Renamed User", new_superior=f"OU=HR,OU=Staff,{dc.domain_dn}")
    moved = dc.get_entry(f"CN=Renamed User,OU=HR,OU=Staff,{dc.domain_dn}")
    assert moved is not None and moved.guid == e.guid
    raises(66, dc.delete, s, f"OU=HR,OU=Staff,{dc.domain_dn}")
    dc.delete(s, moved.dn)
    assert dc.get_entry(moved.dn) is None
    # A plain user may not create objects in OU=Staff.
    u = dc.bind_session(users(dc)[3].dn, PW)
    raises(50, dc.add, u, f"CN=Nope,OU=Sales,OU=Staff,{dc.domain_dn}", {"objectClass": ["user"]})


def test_oplog_records_without_password_values(dc) -> None:
    s = dc.admin_session()
    u = users(dc)[4].dn
    dc.modify(s, u, [Change(ModOp.REPLACE, "unicodePwd", (passwords.encode_unicode_pwd("Oplog-2026!pw"),))])
    op = dc.oplog.query(op="modify")[-1]
    assert op.target == u and op.result == 0 and op.details["attributes"] == ["unicodePwd"]
    assert op.details["encrypted"] is True and "Oplog-2026" not in repr(op)


def test_deterministic_and_interned() -> None:
    a, b = provision(users=30, seed=5), provision(users=30, seed=5)
    assert a.domain_sid == b.domain_sid and a.connector_dn == b.connector_dn
    assert [e.guid for e in a.directory.walk()] == [e.guid for e in b.directory.walk()]
    assert provision(users=1, seed=6).domain_sid != a.domain_sid
    ou = a.get_entry(f"OU=Sales,OU=Staff,{a.domain_dn}")
    sds = {id(c.sd) for c in ou.children.values() if c.object_class == "user"}
    assert len(sds) == 1


def test_population_special_cases() -> None:
    dc = provision(users=400, seed=9)
    s = dc.system_session()
    base = f"OU=Staff,{dc.domain_dn}"
    assert dc.search(s, base, Scope.SUBTREE, "(userAccountControl=514)", ["1.1"]).entries
    assert dc.search(s, base, Scope.SUBTREE, "(&(objectClass=user)(!(lockoutTime=0)))", ["1.1"]).entries
    protected = dc.search(s, base, Scope.SUBTREE, "(adminCount=1)", ["1.1"]).entries
    assert len(protected) == 2


def test_propagation_reinherits_each_child_as_one_recompute_per_child_would() -> None:
    """Siblings with other descriptors (explicit ACEs, inheritance off) or classes get their own
    re-inherited SD; the shared per-parent memo must never hand one child another's."""
    dc = provision(users=30, seed=4, clock=SimClock())
    staff = dc.directory.get(f"OU=Staff,{dc.domain_dn}")
    kids = [e for e in dc.directory.walk(staff) if e is not staff]
    # Make siblings differ: one protected (inheritance disabled), one with an explicit ACE.
    protected, explicit = kids[3], kids[5]
    protected.sd = dc.sds.store(dc.sds.from_sddl("O:DAG:DAD:P(A;;GA;;;DA)"))
    explicit.sd = dc.sds.compute(explicit.parent.sd, dc.sds.from_sddl("D:(A;;RP;;;S-1-5-11)"),
                                 dc.class_guid(explicit.object_class))
    before = {e.guid: e.sd for e in kids}
    staff.sd = dc.sds.compute(staff.parent.sd, dc.sds.from_sddl("D:(A;CI;RPWP;;;S-1-5-10)"),
                              dc.class_guid(staff.object_class))
    expected: dict = {}
    sds = {e.guid: e.sd for e in [staff, *kids]}
    for e in kids:  # parents first (walk order): one recompute per child, as before the memo
        sds[e.guid] = expected[e.guid] = dc.sds.recompute(sds[e.parent.guid], before[e.guid],
                                                           dc.class_guid(e.object_class))
    dc._propagate_now(staff)
    assert {e.guid: e.sd for e in kids} == expected
    assert len({expected[protected.guid], expected[explicit.guid], expected[kids[4].guid]}) == 3
