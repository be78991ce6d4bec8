"""Indexes made on first use (fakes/ad/indexes.py) answer exactly as indexes kept from the start.

Three directories run the same random add/modify/delete/move/query sequences: one whose every
index exists from the first entry on (what the store did before indexes became lazy), one
whose indexes are made when a query first needs them, and one loaded from a lab image's
directory section part-way through (saved buckets imported per index, with the changes made
since loading). Every lookup and search must return the same entries in the same order, a
lookup the entries a full scan finds, and every index table must end up identical.
"""

from __future__ import annotations

import operator
import threading
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.ad import indexes
from fakes.ad.api import Scope
from fakes.ad.directory import Directory, DirectoryError
from fakes.ad.filters import match_key, parse_filter
from fakes.ad.indexes import INDEX_NAMES, Indexes
from fakes.ad.schema import default_schema
from fakes.ad.sid import sid_to_bytes
from simlab.image_directory import capture_directory, load_directory

from .conftest import CATEGORY, DOMAIN_SID

SCHEMA = default_schema()
BASE = "DC=contoso,DC=com"
OUS = ("OU=Staff", "OU=Sales,OU=Staff", "OU=IT")
NAMES = ("Ann", "Bob", "Cy", "ann", "Dee")  # few values, so buckets hold several entries
# Bulk creators share one objectClass/objectCategory list between entries: some adds do too.
SHARED_CLASSES = SCHEMA.object_class_values("user")
SHARED_CATEGORY = [CATEGORY.format("Person")]
CLASSES = (SHARED_CLASSES, ["top", "person", "organizationalPerson", "contact"], ["top", "group"])
CATEGORIES = (SHARED_CATEGORY, [CATEGORY.format("Group")], ["CN=Person,CN=Schema,CN=Configuration,DC=x"])
SIDS = tuple(sid_to_bytes(f"{DOMAIN_SID}-{rid}") for rid in (1101, 1102, 1103))
# An attribute the draws change -> values it may take (indexed ones, and one that is not).
VALUES: dict[str, st.SearchStrategy[list]] = {
    "cn": st.lists(st.sampled_from(NAMES), max_size=1),
    "sAMAccountName": st.lists(st.sampled_from(NAMES), max_size=1),
    "userPrincipalName": st.lists(st.sampled_from([f"{n}@contoso.com" for n in NAMES]), max_size=1),
    "mail": st.lists(st.sampled_from(["a@x.com", "A@X.com", "b@x.com"]), max_size=2),
    "objectSid": st.lists(st.sampled_from(SIDS), max_size=1),
    "objectClass": st.sampled_from(CLASSES).map(list),
    "objectCategory": st.sampled_from(CATEGORIES).map(list),
    "adminCount": st.lists(st.sampled_from(["1", "0"]), max_size=1),
    "servicePrincipalName": st.lists(st.sampled_from(["HTTP/web", "http/WEB", "cifs/fs"]), max_size=2,
                                     unique=True),
    "department": st.lists(st.sampled_from(["IT", "Sales"]), max_size=1),
}
QUERIES = [f"({a}={v})" for a, v in [
    ("cn", "ann"), ("sAMAccountName", "BOB"), ("userPrincipalName", "cy@contoso.com"), ("mail", "a@x.com"),
    ("objectClass", "person"), ("objectClass", "group"), ("objectCategory", "person"),
    ("objectCategory", CATEGORY.format("Group")), ("adminCount", "1"), ("servicePrincipalName", "http/web"),
    ("objectSid", f"{DOMAIN_SID}-1102"), ("department", "IT")]]
QUERIES += ["(&(objectCategory=person)(cn=Bob))", "(|(mail=b@x.com)(sAMAccountName=dee))",
            "(&(objectClass=user)(|(adminCount=1)(cn=ann)))"]

adds = st.tuples(st.just("add"), st.integers(0, 2), st.sampled_from(NAMES), st.booleans(),
                st.fixed_dictionaries({}, optional=VALUES))
# A few entries first, so that changes and queries meet entries (and shared buckets) often.
ops = st.builds(operator.add, st.lists(adds, min_size=3, max_size=12), st.lists(st.one_of(
    adds,
    st.tuples(st.just("set"), st.integers(0, 50), st.sampled_from(sorted(VALUES)), st.data()),
    st.tuples(st.just("remove"), st.integers(0, 50)),
    st.tuples(st.just("move"), st.integers(0, 50), st.integers(0, 2), st.sampled_from(NAMES)),
    st.tuples(st.just("query"), st.sampled_from(QUERIES)),
    st.tuples(st.just("lookup"), st.sampled_from(sorted(VALUES)), st.sampled_from(NAMES)),
    st.tuples(st.just("image")),  # load the third directory from the eager one's image now
), max_size=40))


def _start(*, eager: bool) -> Directory:
    d = Directory(SCHEMA)
    if eager:
        for name in INDEX_NAMES:
            d._ix.table(name)
    root = d.add(None, BASE, {"objectClass": ["top", "domain", "domainDNS"], "dc": ["contoso"]},
                 guid=UUID(int=1))
    staff = d.add(root, "OU=Staff", {"objectClass": ["top", "organizationalUnit"]}, guid=UUID(int=2))
    d.add(staff, "OU=Sales", {"objectClass": ["top", "organizationalUnit"]}, guid=UUID(int=3))
    d.add(root, "OU=IT", {"objectClass": ["top", "organizationalUnit"]}, guid=UUID(int=4))
    return d


def _from_image(d: Directory) -> Directory:
    head, columns = capture_directory(d, d.snapshot(copy=False))
    warm = Directory(SCHEMA)
    warm.restore(load_directory(head, columns))
    assert warm._ix.built() == ()  # nothing imported yet
    return warm


def _tables(d: Directory) -> dict[str, dict]:
    """Every index table with its buckets' entries in order (by GUID)."""
    def bucket(cur: object) -> list:
        return [e.guid for e in cur] if type(cur) is dict else [cur.guid]  # type: ignore[attr-defined]

    return {name: {k: bucket(v) for k, v in d._ix.table(name).items()} for name in INDEX_NAMES}


def _users(d: Directory) -> list[str]:
    return sorted(e.dn for e in d.walk() if e.rdn_key.startswith("cn="))


def _apply(d: Directory, op: tuple, guid: int, picked: dict) -> object:
    """Run ``op`` on ``d``; the result (entries as DNs, or the error type) is what must agree."""
    kind = op[0]
    users = _users(d)
    try:
        if kind == "add":
            _, ou, name, share, attrs = op
            parent = d.get(f"{OUS[ou]},{BASE}")
            attrs = {"objectClass": SHARED_CLASSES if share else list(SHARED_CLASSES),
                     "objectCategory": SHARED_CATEGORY if share else list(SHARED_CATEGORY), **attrs}
            return d.add(parent, f"CN={name}", attrs, guid=UUID(int=guid)).dn
        if kind == "query":
            return [e.dn for e in d.search(d.get(BASE), Scope.SUBTREE, parse_filter(op[1]))]
        if kind == "lookup":
            _, attr, value = op
            found = [e.dn for e in d.lookup(attr, value)]
            at = SCHEMA.find_attribute(attr)
            scan = {e.dn for e in d.walk() if match_key(at, value) in {match_key(at, v) for v in e.get(attr)}}
            assert set(found) == scan and len(found) == len(scan)
            return found
        if not users:
            return None
        entry = d.get(users[op[1] % len(users)])
        if kind == "set":
            d.set_values(entry, op[2], picked[op])
        elif kind == "remove":
            d.remove(entry)
        elif kind == "move":
            d.move(entry, d.get(f"{OUS[op[2]]},{BASE}"), f"CN={op[3]}")
        return entry.dn
    except DirectoryError as exc:
        return type(exc).__name__


@settings(max_examples=150, deadline=None)
@given(sequence=ops, point_lookups=st.sampled_from([0, 1, 3, indexes.POINT_LOOKUPS]))
def test_lazy_and_loaded_indexes_answer_as_eager_ones(sequence: list[tuple], point_lookups: int):
    """(A warm directory answers its first ``point_lookups`` lookups per index from the saved
    lists, then imports the index: both ways, and the switch between them, are covered.)"""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(indexes, "POINT_LOOKUPS", point_lookups)
        _lazy_and_loaded_answer_as_eager(sequence)


def _lazy_and_loaded_answer_as_eager(sequence: list[tuple]) -> None:
    eager, lazy = _start(eager=True), _start(eager=False)
    warm: Directory | None = None
    picked: dict = {}
    for guid, op in enumerate(sequence, start=100):
        if op[0] == "image":
            warm = _from_image(eager)
            continue
        if op[0] == "set":
            picked[op] = op[3].draw(VALUES[op[2]])
        expected = _apply(eager, op, guid, picked)
        assert _apply(lazy, op, guid, picked) == expected, op
        if warm is not None:
            assert _apply(warm, op, guid, picked) == expected, op
    assert _tables(lazy) == _tables(eager)
    if warm is not None:
        assert _tables(warm) == _tables(eager)


def test_an_index_is_made_when_first_needed_and_not_before():
    d = _start(eager=False)
    staff = d.get(f"OU=Staff,{BASE}")
    for i in range(20):
        d.add(staff, f"CN=U{i}", {"objectClass": SHARED_CLASSES, "cn": [f"U{i}"],
                                  "sAMAccountName": [f"u{i}"]})
    d.remove(d.get(f"CN=U3,OU=Staff,{BASE}"))
    d.set_values(d.get(f"CN=U4,OU=Staff,{BASE}"), "department", ["IT"])  # not indexed
    assert d._ix.built() == ()  # adds, removes and other attributes made no index
    assert [e.dn for e in d.lookup("sAMAccountName", "U5")] == [f"CN=U5,OU=Staff,{BASE}"]
    assert d._ix.built() == ("samaccountname",)
    person = parse_filter("(objectCategory=person)")
    first = [e.dn for e in d.search(d.get(BASE), Scope.SUBTREE, person)]
    assert d._ix.built() == ("samaccountname",)  # the first search read the entries instead
    assert [e.dn for e in d.search(d.get(BASE), Scope.SUBTREE, person)] == first
    assert d._ix.built() == ("samaccountname", "~objectcategory.cn")  # the second made the index
    d.set_values(d.get(f"CN=U6,OU=Staff,{BASE}"), "mail", ["u6@x.com"])  # made before the change
    assert d._ix.built() == ("samaccountname", "mail", "~objectcategory.cn")
    assert [e.dn for e in d.lookup("mail", "U6@X.COM")] == [f"CN=U6,OU=Staff,{BASE}"]


def test_a_loaded_directory_imports_only_the_indexes_it_uses():
    source = _start(eager=False)
    staff = source.get(f"OU=Staff,{BASE}")
    for i in range(10):
        source.add(staff, f"CN=U{i}", {"objectClass": SHARED_CLASSES, "sAMAccountName": [f"u{i}"],
                                       "objectSid": [SIDS[i % 3]]})
    warm = _from_image(source)
    added = warm.add(warm.get(f"OU=IT,{BASE}"), "CN=New",
                     {"objectClass": ["top", "group"], "sAMAccountName": ["u1"]})
    warm.remove(warm.get(f"CN=U1,OU=Staff,{BASE}"))
    assert warm._ix.built() == ()  # added and removed: journaled, nothing imported
    assert warm.lookup("sAMAccountName", "u1") == [added]
    assert warm._ix.built() == ()  # the first lookups are answered from the saved lists
    for _ in range(indexes.POINT_LOOKUPS):
        assert [e.dn for e in warm.lookup("sAMAccountName", "u2")] == [f"CN=U2,OU=Staff,{BASE}"]
    assert warm._ix.built() == ("samaccountname",)
    assert warm.lookup("sAMAccountName", "u1") == [added]
    assert all(type(e).__name__ == "_LazyEntry" for e in warm.walk() if e.rdn_key.startswith("cn=u"))


def test_two_threads_needing_one_index_make_it_once(monkeypatch: pytest.MonkeyPatch):
    d = _start(eager=False)
    staff = d.get(f"OU=Staff,{BASE}")
    for i in range(3000):
        d.add(staff, f"CN=U{i}", {"objectClass": SHARED_CLASSES, "cn": [f"U{i}"]})
    scans: list[str] = []
    real_scan = Indexes._scan

    def counted(self: Indexes, name: str) -> dict:
        scans.append(name)
        return real_scan(self, name)

    monkeypatch.setattr(Indexes, "_scan", counted)
    start = threading.Barrier(4)
    results: list[list] = []

    def reader() -> None:
        start.wait()
        results.append([e.guid for e in d.lookup("objectClass", "person")])

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert scans == ["objectclass"]
    assert len(results) == 4 and all(r == results[0] for r in results) and len(results[0]) == 3000


# Values to look up in each indexed attribute (as the draws above spell them, and otherwise).
LOOKUPS: dict[str, tuple] = {
    "cn": NAMES, "sAMAccountName": (*NAMES, "BOB"),
    "userPrincipalName": ("ann@contoso.com", "Cy@Contoso.com"),
    "mail": ("a@x.com", "b@x.com"), "objectSid": SIDS, "objectClass": ("person", "group", "contact", "top"),
    "objectCategory": ("person", CATEGORY.format("Group")), "adminCount": ("1", "0"),
    "servicePrincipalName": ("http/web", "cifs/fs")}


@settings(max_examples=120, deadline=None)
@given(before=st.lists(adds, min_size=1, max_size=10),
       after=st.lists(st.one_of(adds, st.tuples(st.just("remove"), st.integers(0, 50))), max_size=10))
def test_a_saved_table_answers_lookups_as_the_imported_table(before: list[tuple], after: list[tuple]):
    """Point lookups on saved tables (entries added and removed since loading included) return
    what the eager directory returns, in the same order, and import nothing."""
    eager = _start(eager=True)
    for guid, op in enumerate(before, start=100):
        _apply(eager, op, guid, {})
    warm = _from_image(eager)
    for guid, op in enumerate(after, start=200):
        assert _apply(warm, op, guid, {}) == _apply(eager, op, guid, {}), op
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(indexes, "POINT_LOOKUPS", 10**6)
        for attr, values in LOOKUPS.items():
            for value in values:
                expected = [e.guid for e in eager.lookup(attr, value)]
                assert [e.guid for e in warm.lookup(attr, value)] == expected, (attr, value)
    assert warm._ix.built() == ()


@settings(max_examples=40, deadline=None)
@given(kinds=st.lists(st.sampled_from(["shared", "own", "contact", "group"]), min_size=20, max_size=120))
def test_a_shared_value_table_is_made_as_per_insert_indexing_makes_it(kinds: list[str]):
    """objectClass/objectCategory tables from a pass: many users sharing a few class lists (one
    per bulk creator, as a populated lab's) next to users with their own lists and a few other
    objects: the buckets and their keys come out in the order per-insert indexing gives."""
    eager, lazy = _start(eager=True), _start(eager=False)
    per_ou = [list(SHARED_CLASSES) for _ in OUS]  # three creators, three lists
    for i, kind in enumerate(kinds):
        classes = {"shared": per_ou[i % 3], "own": list(SHARED_CLASSES), "contact": list(CLASSES[1]),
                   "group": list(CLASSES[2])}[kind]
        for d in (eager, lazy):
            category = SHARED_CATEGORY if kind != "group" else CATEGORIES[1]
            d.add(d.get(f"{OUS[i % 3]},{BASE}"), f"CN=E{i}",
                  {"objectClass": classes, "objectCategory": category}, guid=UUID(int=100 + i))
    assert _tables(lazy) == _tables(eager)
    assert {name: list(lazy._ix.table(name)) for name in INDEX_NAMES} == {
        name: list(eager._ix.table(name)) for name in INDEX_NAMES}  # the keys in the same order too
