"""The fast paths behind bulk provisioning agree with the general ones they replace.

BulkCreator vs create_entry, add_prepared vs add, the DN tail memo vs plain per-RDN
normalisation, the exact-DN map across move/remove/restore, link buckets, and the
filter value-key memo.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.ad import dn as dnmod
from fakes.ad.api import Scope
from fakes.ad.dc_write import BulkCreator, create_entry
from fakes.ad.directory import Directory, EntryExists
from fakes.ad.dn import DNError, normalize_dn, normalize_rdn
from fakes.ad.filters import _MEMO_MAX, compile_filter, parse_filter
from fakes.ad.provision import provision
from fakes.ad.schema import default_schema

from .conftest import make_group, make_user


def _user_attrs(i: int) -> dict[str, list]:
    name = f"Bulk User {i}"
    return {
        "cn": [name],
        "samaccountname": [f"bulk{i}"],
        "userprincipalname": [f"bulk{i}@contoso.com"],
        "useraccountcontrol": ["512"],
        "department": ["Sales" if i % 2 else "IT"],
    }


def _dump(dc, parent_dn: str) -> list[tuple]:
    parent = dc.directory.get(parent_dn)
    return [(e.dn, e.guid, e.sd, e.object_class, e.rdn_key, list(e.attrs.items()))
            for e in parent.children.values()]


def test_bulk_creator_stores_exactly_what_create_entry_stores() -> None:
    a, b = provision(users=0, seed=7), provision(users=0, seed=7)
    ou_a = create_entry(a, a.root(), "OU=Bulk", {"ou": ["Bulk"]}, "organizationalUnit")
    ou_b = create_entry(b, b.root(), "OU=Bulk", {"ou": ["Bulk"]}, "organizationalUnit")
    maker = BulkCreator(b, ou_b, "user")
    for i in range(25):
        create_entry(a, ou_a, f"CN=Bulk User {i}", _user_attrs(i), "user")
        maker.create(f"CN=Bulk User {i}", _user_attrs(i))
    assert _dump(a, ou_a.dn) == _dump(b, ou_b.dn)
    assert (a.usn, a.next_rid) == (b.usn, b.next_rid)
    found = b.directory.lookup("sAMAccountName", "BULK3")
    assert [e.dn for e in found] == [f"CN=Bulk User 3,{ou_b.dn}"]


def test_bulk_creator_follows_a_parent_descriptor_change() -> None:
    dc = provision(users=0, seed=3)
    ou = create_entry(dc, dc.root(), "OU=Moving", {"ou": ["Moving"]}, "organizationalUnit")
    maker = BulkCreator(dc, ou, "user")
    first = maker.create("CN=One", _user_attrs(1))
    explicit = dc.sds.from_sddl("O:DAG:DAD:(A;;RPLC;;;AU)")
    ou.sd = dc.sds.compute(None, explicit, dc.class_guid("organizationalUnit"))
    second = maker.create("CN=Two", _user_attrs(2))
    reference = create_entry(dc, ou, "CN=Three", _user_attrs(3), "user")
    assert second.sd == reference.sd != first.sd


def test_add_prepared_takes_the_dict_and_keeps_every_check(lab) -> None:
    d, e = lab
    attrs = {d.attr_key("cn"): ["Prepared"], d.attr_key("sAMAccountName"): ["prepared"],
             d.attr_key("objectClass"): d.schema.object_class_values("user")}
    entry = d.add_prepared(e["sales"], "CN=Prepared", attrs, guid=d._new_guid(), sd=b"", object_class="user")
    assert entry.attrs is attrs
    assert d.lookup("sAMAccountName", "PREPARED") == [entry]
    assert d.lookup("objectClass", "person") and entry in d.lookup("objectClass", "person")
    with pytest.raises(EntryExists):
        d.add_prepared(e["sales"], "cn=prepared", {"cn": ["x"]}, guid=d._new_guid(), sd=b"",
                       object_class="user")
    assert d.attr_key("SAMAccountName") is d.attr_key("samaccountname")


_RDN_PARTS = st.sampled_from(
    ["CN=a", "cn=A ", "OU= Sales", "dc=Com", "bad", "=v", "1.2.3=x", " CN = q", "O=x=y"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_RDN_PARTS, min_size=1, max_size=5))
def test_normalize_dn_tail_memo_matches_per_rdn_normalisation(parts: list[str]) -> None:
    text = ",".join(parts)

    def reference() -> str:
        return ",".join(normalize_rdn(p) for p in parts)

    try:
        expected: object = reference()
    except DNError:
        expected = DNError
    for _ in range(2):  # second call takes the memo
        try:
            got: object = normalize_dn(text)
        except DNError:
            got = DNError
        assert got == expected


def test_normalize_dn_memo_is_bounded() -> None:
    for i in range(dnmod._TAIL_MEMO_MAX + 10):
        normalize_dn(f"CN=x,OU=o{i},DC=example,DC=com")
    assert len(dnmod._TAIL_MEMO) <= dnmod._TAIL_MEMO_MAX


def test_exact_dn_map_follows_move_remove_and_restore(lab) -> None:
    d, e = lab
    bob = e["bob"]
    old = bob.dn
    assert d.get(old) is bob and d.get(old.upper()) is bob
    snap = d.snapshot()
    d.move(bob, e["staff"], "CN=Bob Renamed")
    assert d.get(old) is None and d.get(old.lower()) is None
    assert d.get(bob.dn) is bob and d.get(bob.dn.lower()) is bob
    d.restore(snap)
    assert d.get(old) is bob
    assert d.get(f"CN=Bob Renamed,{e['staff'].dn}") is None
    d.remove(bob)
    assert d.get(old) is None and d.get(old.lower()) is None


def test_link_buckets_track_one_and_many_sources(lab) -> None:
    d, e = lab
    bob = make_user(d, e["sales"], "Bob Links", 3101)
    g1 = make_group(d, e["sales"], "GL-One", 3102, [bob])
    assert d.member_of(bob) == [g1]
    g2 = make_group(d, e["sales"], "GL-Two", 3103, [bob])
    assert d.member_of(bob) == [g1, g2]
    d.set_values(g1, "member", [])
    assert d.member_of(bob) == [g2]
    # A DN written in another spelling still resolves through normalisation.
    d.set_values(g1, "member", [bob.dn.upper()])
    assert set(d.member_of(bob)) == {g1, g2}
    d.set_values(g1, "member", [])
    d.set_values(g2, "member", [])
    assert d.member_of(bob) == []
    d.remove(bob)


def test_filter_value_memo_stays_correct_past_its_capacity() -> None:
    d = Directory(default_schema())
    root = d.add(None, "DC=t,DC=test", {"objectClass": ["top", "domain", "domainDNS"], "dc": ["t"]})
    n = _MEMO_MAX + 50
    for i in range(n):
        attrs = {"objectClass": ["top", "person"], "cn": [f"u{i}"], "description": [f"D{i % 7}"]}
        d.add(root, f"CN=u{i}", attrs)
    match = compile_filter(parse_filter("(description=d3)"), d)
    hits = [e for e in d.walk(root) if match(e) is True]
    assert len(hits) == len([i for i in range(n) if i % 7 == 3])
    unique = compile_filter(parse_filter(f"(cn=U{n - 1})"), d)
    assert [e.dn for e in d.walk(root) if unique(e) is True] == [f"CN=u{n - 1},DC=t,DC=test"]
    found = d.search(root, Scope.SUBTREE, parse_filter(f"(cn=u{n - 2})"))
    assert [e.dn for e in found] == [f"CN=u{n - 2},DC=t,DC=test"]


_VALUE_CHARS = st.sampled_from(list("aZ ,+\"\\<>;=#\n\r\x00éẞİK1-"))


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["CN", "ou", "x-y", "1.2.3", "C N"]), st.text(alphabet=_VALUE_CHARS, max_size=12))
def test_rdn_with_key_matches_rdn_string_then_normalize(attr: str, value: str) -> None:
    rdn = dnmod.rdn_string(attr, value)
    try:
        expected: object = (rdn, normalize_rdn(rdn))
    except DNError:
        expected = DNError
    try:
        got: object = dnmod.rdn_with_key(attr, value)
    except DNError:
        got = DNError
    assert got == expected


def test_bulk_objects_stay_indexed_across_snapshot_restore() -> None:
    dc = provision(users=0, seed=5)
    ou = create_entry(dc, dc.root(), "OU=Snap", {"ou": ["Snap"]}, "organizationalUnit")
    maker = BulkCreator(dc, ou, "user")
    first = maker.create("CN=Before", _user_attrs(1))
    snap = dc.directory.snapshot()
    dc.directory.restore(snap)
    after = maker.create("CN=After", _user_attrs(2))
    people = dc.directory.search(ou, Scope.SUBTREE, parse_filter("(objectCategory=person)"))
    assert [e.dn for e in people] == [first.dn, after.dn]
    assert set(dc.directory.lookup("objectClass", "organizationalPerson")) >= {first, after}
