"""The store: tree, indexes, links, moves, snapshots."""

from __future__ import annotations

from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.ad.api import Scope
from fakes.ad.directory import Directory, Entry, EntryExists, NoSuchEntry, NotLeaf
from fakes.ad.filters import Equal, parse_filter
from fakes.ad.schema import default_schema

from .conftest import DOMAIN_SID, make_user

Lab = tuple[Directory, dict[str, Entry]]


def test_get_by_any_case_and_guid_and_sid(lab: Lab) -> None:
    d, e = lab
    assert d.get("cn=JOHN SMITH, ou=staff,dc=CONTOSO,dc=com") is e["john"]
    assert d.by_guid(UUID(int=1102)) is e["jane"]
    assert d.by_sid(f"{DOMAIN_SID}-1103") is e["bob"]
    assert d.get("CN=Nobody,OU=Staff,DC=contoso,DC=com") is None
    assert d.nearest("CN=Nobody,OU=Sales,OU=Staff,DC=contoso,DC=com") is e["sales"]
    assert d.nearest("DC=other,DC=com") is None
    assert len(d) == 9


def test_add_duplicate_rejected(lab: Lab) -> None:
    d, e = lab
    with pytest.raises(EntryExists):
        d.add(e["staff"], "cn=john smith", {"objectClass": ["top", "user"]})
    assert d.add(e["sales"], "CN=John Smith", {"objectClass": ["top", "user"]}).object_class == "user"


def test_lookup_indexed_and_scan(lab: Lab) -> None:
    d, e = lab
    assert d.lookup("sAMAccountName", "JANE.DOE") == [e["jane"]]
    assert d.lookup("userPrincipalName", b"bob.stone@CONTOSO.com") == [e["bob"]]
    assert set(d.lookup("objectClass", "person")) == {e["john"], e["jane"], e["bob"]}
    assert d.lookup("adminCount", "1") == [e["john"]]
    assert d.lookup("userAccountControl", "514") == [e["jane"]]  # not indexed: scan
    assert d.lookup("objectGUID", UUID(int=1101).bytes_le) == [e["john"]]


def test_links_members_and_cleanup(lab: Lab) -> None:
    d, e = lab
    assert set(d.members(e["outer"])) == {e["inner"], e["john"]}
    assert set(d.member_of(e["john"])) == {e["outer"]}
    assert d.transitive_groups(e["jane"]) == {e["inner"], e["outer"], e["loop"]}
    assert d.direct_reports(e["john"]) == [e["jane"]]
    d.remove(e["john"])
    assert e["john"].dn not in e["outer"].attrs["member"]
    assert d.members(e["outer"]) == [e["inner"]]
    assert d.direct_reports(e["john"]) == []
    with pytest.raises(NoSuchEntry):
        d.set_values(e["john"], "cn", ["x"])
    with pytest.raises(NotLeaf):
        d.remove(e["sales"])


def test_move_subtree_keeps_guid_sid_and_rewrites_links(lab: Lab) -> None:
    d, e = lab
    d.move(e["sales"], e["root"], "OU=Sales EMEA")
    jane = e["jane"]
    assert jane.dn == "CN=Jane Doe,OU=Sales EMEA,DC=contoso,DC=com"
    assert d.get(jane.dn) is jane and d.get("CN=Jane Doe,OU=Sales,OU=Staff,DC=contoso,DC=com") is None
    assert d.by_sid(f"{DOMAIN_SID}-1102") is jane and jane.guid == UUID(int=1102)
    assert jane.dn in e["inner"].attrs["member"]
    assert e["bob"].attrs["manager"] == [jane.dn]
    assert e["sales"].attrs["ou"] == ["Sales EMEA"]
    assert d.member_of(jane) == [e["inner"]]
    assert d.canonical_name(e["bob"]) == "contoso.com/Sales EMEA/Bob Stone"
    with pytest.raises(EntryExists):
        d.move(e["staff"], e["root"], "OU=sales emea")


def test_search_scopes_and_index_use(lab: Lab) -> None:
    d, e = lab
    person = parse_filter("(objectClass=person)")
    assert list(d.search(e["staff"], Scope.ONELEVEL, person)) == [e["john"]]
    assert set(d.search(e["sales"], Scope.SUBTREE, person)) == {e["jane"], e["bob"]}
    assert list(d.search(e["jane"], Scope.BASE, parse_filter("(objectClass=*)"))) == [e["jane"]]
    assert d._candidates(parse_filter("(&(cn=x*)(sAMAccountName=bob.stone))")) == [e["bob"]]
    assert d._candidates(parse_filter("(cn=x*)")) is None
    assert d.canonical_name(e["root"]) == "contoso.com/"


def test_snapshot_restore_keeps_identity(lab: Lab) -> None:
    d, e = lab
    snap = d.snapshot()
    d.set_values(e["jane"], "sAMAccountName", ["renamed"])
    d.remove(e["bob"])
    make_user(d, e["sales"], "New Person", 2000)
    d.restore(snap)
    assert d.lookup("sAMAccountName", "jane.doe") == [e["jane"]]
    assert d.lookup("sAMAccountName", "renamed") == []
    assert d.get(e["bob"].dn) is e["bob"] and d.lookup("sAMAccountName", "new.person") == []
    assert len(d) == 9 and set(d.member_of(e["john"])) == {e["outer"]}


def test_links_written_before_target_exists(lab: Lab) -> None:
    d, e = lab
    future = "CN=Later,OU=Staff,DC=contoso,DC=com"
    d.set_values(e["outer"], "member", [*e["outer"].attrs["member"], future])
    later = make_user(d, e["staff"], "Later", 3000)
    assert later.dn == future and d.member_of(later) == [e["outer"]]
    snap = d.snapshot()
    d.restore(snap)
    assert d.member_of(later) == [e["outer"]] and set(d.member_of(e["jane"])) == {e["inner"]}


# --- property: indexed lookup == linear scan after random operations ---------------------

_names = st.sampled_from(["amy", "ben", "cat", "dan", "eve"])
_ops = st.lists(st.tuples(st.sampled_from(["add", "set", "remove", "move", "member"]), _names, _names,
                          st.integers(0, 10)), max_size=25)


@settings(max_examples=60, deadline=None)
@given(_ops)
def test_indexes_match_linear_scan(ops: list[tuple[str, str, str, int]]) -> None:
    d = Directory(default_schema())
    root = d.add(None, "DC=t,DC=test", {"objectClass": ["top", "domainDNS"]})
    ous = [d.add(root, f"OU={n}", {"objectClass": ["top", "organizationalUnit"]}) for n in ("a", "b")]
    group = d.add(root, "CN=G", {"objectClass": ["top", "group"], "groupType": ["2"]})
    users: list[Entry] = []
    for op, n1, n2, k in ops:
        if op == "add":
            try:
                users.append(d.add(ous[k % 2], f"CN={n1}{k}", {
                    "objectClass": ["top", "person", "organizationalPerson", "user"],
                    "sAMAccountName": [n2], "mail": [f"{n1}@x"], "adminCount": [str(k % 2)]}))
            except EntryExists:
                pass
        elif users and op == "set":
            d.set_values(users[k % len(users)], "sAMAccountName", [n1] if k % 3 else [])
        elif users and op == "remove":
            d.remove(users.pop(k % len(users)))
        elif users and op == "move":
            try:
                d.move(users[k % len(users)], ous[(k + 1) % 2], f"CN={n2}{k}")
            except EntryExists:
                pass
        elif users and op == "member":
            d.set_values(group, "member", [u.dn for u in users[: k % (len(users) + 1)]])
    for attr in ("sAMAccountName", "mail", "adminCount", "objectClass", "cn"):
        for value in ["amy", "ben", "cat", "dan", "eve", "amy@x", "0", "1", "person", "user", "amy3", "ben4"]:
            indexed = set(d.lookup(attr, value))
            scanned = {e for e in d.walk() if Equal(attr, value.encode()) and _scan(d, e, attr, value)}
            assert indexed == scanned, (attr, value)
    for u in users:
        assert d.get(u.dn) is u
        assert (u in d.members(group)) == (group in d.member_of(u))


def _scan(d: Directory, e: Entry, attr: str, value: str) -> bool:
    from fakes.ad.filters import compile_filter

    return compile_filter(Equal(attr, value.encode()), d)(e) is True
