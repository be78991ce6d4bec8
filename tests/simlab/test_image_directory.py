"""A lab image's directory section: saved lookup tables equal a built lab's, attributes decoded lazily.

simlab/image_directory.py stores every index, link table and DN map, and decodes an entry's
attributes only when something reads them. These tests compare a loaded lab's directory
internals with the lab the image was made from, change entries that were never decoded, and
search a served warm lab over ldap3.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import ldap3
import msgpack
import pytest

from fakes.ad.directory import Directory, Entry
from fakes.ad.indexes import INDEX_NAMES, POINT_LOOKUPS
from simlab.image import ImageError, save_image
from simlab.image_codec import decode
from simlab.image_directory import capture_directory, load_directory
from simlab.lab import Lab
from simlab.spec import LabSpec

SPEC = LabSpec.model_validate({"seed": 11, "population": {"users": 300}})


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A cache holding SPEC's image; yields the cold lab that wrote it (kept open, not changed)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg")))
        mp.delenv("SIMLAB_NO_CACHE", raising=False)
        with Lab(SPEC, cache=True) as cold:
            assert cold.cache_status == "miss"
            yield cold


def _warm() -> Lab:
    lab = Lab(SPEC, cache=True)
    lab.start()
    assert lab.cache_status == "hit", lab.cache_message
    return lab


def _tables(d: Directory, *, ordered: bool = True) -> dict[str, Any]:
    """Every lookup table of ``d``, entries named by GUID (bucket order kept unless ``ordered`` is
    False: a snapshot restore rebuilds the buckets in walk order, not in insertion order)."""
    def _bucket(cur: object) -> object:
        if type(cur) is not dict:
            return cur.guid  # type: ignore[attr-defined]
        guids = [e.guid for e in cur]
        return guids if ordered else sorted(guids)

    return {
        "by_dn": {k: e.guid for k, e in d._by_dn.items()},
        # Exact spellings are a cache a loaded directory fills as names are looked up: whatever
        # it holds must name each entry by its own DN.
        "by_exact_dn": all(d._by_guid.get(e.guid.int) is e and e.dn == k for k, e in d._by_exact_dn.items()),
        "by_guid": {g: e.guid.int for g, e in d._by_guid.items()},
        "roots": [(k, e.guid) for k, e in d._roots.items()],
        "tree": {e.guid: (e.dn, e.rdn_key, e.parent.guid if e.parent else None, e.sd, e.object_class,
                          [(k, c.guid) for k, c in e.children.items()]) for e in d.walk()},
        "index": {a: {k: _bucket(v) for k, v in d._ix.table(a).items()} for a in INDEX_NAMES},
        "links": {a: {t.guid: _bucket(v) for t, v in links.items()} for a, links in d._links.items()},
        "pending": {a: {k: _bucket(v) for k, v in p.items()} for a, p in d._pending.items()},
    }


def _attrs(d: Directory) -> dict[Any, dict[str, list]]:
    return {e.guid: {k: list(v) for k, v in e.attrs.items()} for e in d.walk()}


def _shared(d: Directory) -> dict[int, list[tuple[Any, str]]]:
    """(entry GUID, attribute) pairs grouped by value list object."""
    groups: dict[int, list[tuple[Any, str]]] = {}
    for e in d.walk():
        for k, v in e.attrs.items():
            groups.setdefault(id(v), []).append((e.guid, k))
    return groups


def _undecoded(d: Directory) -> int:
    return sum(type(e) is not Entry for e in d.walk())


def test_loaded_tables_equal_the_built_ones_without_decoding_attributes(cache: Lab):
    with _warm() as warm:
        d = warm.dc.directory
        entries = len(d)
        assert entries > 300
        # Loading decoded (almost) nothing: the tables came from the image, not from attributes.
        assert _undecoded(d) > entries * 0.9
        assert _tables(d) == _tables(cache.dc.directory)
        assert _undecoded(d) > entries * 0.9  # reading the tables decodes nothing either
        assert _attrs(d) == _attrs(cache.dc.directory)
        assert _undecoded(d) == 0
        # Lists the built lab shares are shared after loading (the store never changes a value
        # list in place; the image shares equal single values too, so the loaded lab has fewer lists).
        where = {place: number for number, places in _shared(d).items() for place in places}
        built = list(_shared(cache.dc.directory).values())
        assert all(len({where[place] for place in places}) == 1 for places in built)
        assert len(_shared(d)) < len(built) * 0.75


def _change(lab: Lab) -> list[object]:
    """Modify, add under, rename and delete entries; on a warm lab none of them was decoded before."""
    d = lab.dc.directory
    users = [e for e in d.walk() if e.object_class == "user" and e.parent is not None
             and e.parent.rdn_key.startswith("ou=")]
    members = d._links["member"]
    decoded_before = [type(e) is Entry for e in users[:4]]
    first, second = users[0], users[1]
    shared_with = [e for e in users[1:] if e.attrs.get("objectclass") is first.attrs["objectclass"]]
    assert shared_with, "provisioned users share their objectClass list"
    d.set_values(first, "objectClass", [*first.attrs["objectclass"], "extensibleObject"])  # a shared list
    d.set_values(first, "description", ["changed on an image entry"])
    linked = next(e for e in users if e in members)  # a group member: the group's member value follows
    d.move(linked, linked.parent, "CN=Renamed From Image")
    d.remove(users[3])
    added = d.add(second.parent, "CN=Added Under Image", {"objectClass": ["top", "person"], "cn": ["x"]})
    return [decoded_before, list(shared_with[0].attrs["objectclass"]), linked.dn, added.dn,
            [g.dn for g in d.member_of(linked)], d.lookup("objectClass", "extensibleObject") == [first]]


def test_changes_to_undecoded_entries_match_a_built_lab(cache: Lab):
    with Lab(SPEC) as fresh:
        expected = _change(fresh)
        expected_tables, expected_attrs = _tables(fresh.dc.directory), _attrs(fresh.dc.directory)
    assert expected[0] == [True] * 4
    with _warm() as warm:
        got = _change(warm)
        assert got[0] == [False] * 4  # the warm lab's entries were still image blobs
        assert got[1:] == expected[1:]
        assert _tables(warm.dc.directory) == expected_tables
        assert _attrs(warm.dc.directory) == expected_attrs


def _search(lab: Lab) -> list[tuple[str, dict[str, list]]]:
    ep = lab.endpoints()
    conn = ldap3.Connection(ldap3.Server(ep["host"], port=ep["ldap_port"], get_info=ldap3.NONE),
                            ep["admin_dn"], ep["admin_password"], auto_bind=True)
    try:
        found = conn.extend.standard.paged_search(ep["base_dn"], "(&(objectCategory=person)(sn=*))",
                                                  ldap3.SUBTREE, attributes=["*", "memberOf"],
                                                  paged_size=200, generator=False)
        entries = [(r["dn"], {k: sorted(map(str, v)) for k, v in r["raw_attributes"].items()})
                   for r in found if r["type"] == "searchResEntry"]
        conn.search(ep["base_dn"], "(sAMAccountName=alice)", attributes=["displayName"])
        entries.append((conn.entries[0].entry_dn, {"displayName": [str(conn.entries[0].displayName)]}))
        return entries
    finally:
        conn.unbind()


def test_ldap_search_of_a_warm_lab_returns_what_the_cold_one_does(cache: Lab):
    expected = _search(cache)
    assert len(expected) > 300
    with _warm() as warm:
        assert _search(warm) == expected


# -- a bad blob is reported, never half-used ---------------------------------------------------
def _loaded(lab: Lab, blob: bytes) -> tuple[Entry, Entry]:
    d = lab.dc.directory
    head, columns = capture_directory(d, d.snapshot(copy=False))
    columns["attrs"][-1] = blob
    entries = list(load_directory(head, columns).by_guid.values())
    return entries[-1], entries[0]


def test_saved_index_tables_decode_alone_in_any_order(cache: Lab):
    """Each index table is one encoded value; a bucket equal to one saved before (objectClass
    person and user, objectCategory: the same 300 users) names it, and importing a later table
    first decodes the earlier one it names then."""
    d = cache.dc.directory
    head, columns = capture_directory(d, d.snapshot(copy=False))
    saved = {name: decode(blob) for name, blob in columns["tables"]["index"].items()}
    assert [name for name, table in saved.items() if any(m and type(m[0]) is str for m in table[3])]
    warm = Directory(d.schema)
    warm.restore(load_directory(head, columns))
    def guids(table: dict) -> dict:
        return {k: [e.guid for e in v] if type(v) is dict else v.guid for k, v in table.items()}

    for name in reversed(INDEX_NAMES):
        assert guids(warm._ix.table(name)) == guids(d._ix.table(name)), name
    assert warm._ix.built() == INDEX_NAMES


@pytest.mark.parametrize("blob", [
    b"\xc1 not msgpack",
    msgpack.packb([[0], [[msgpack.ExtType(9, msgpack.packb(["os:system", ["echo pwned"]]))]], [], []]),
    msgpack.packb([[0], [{"a": 1}], [], []]),  # not a value list
    msgpack.packb([[9999], [["x"]], [], []]),  # no such attribute name
    msgpack.packb([[0, 1], [["x"]], [], []]),  # a value list missing
    msgpack.packb([[0], [["x"]], [99999], [1]]),  # no such shared list
])
def test_an_undecodable_blob_raises_an_image_error_naming_the_entry(cache: Lab, blob: bytes):
    broken, fine = _loaded(cache, blob)
    with pytest.raises(ImageError, match=f"attributes of {broken.dn} cannot be decoded"):
        broken.attrs  # noqa: B018  (the property decodes)
    assert type(broken) is not Entry  # still undecoded: no half-made dict was installed
    assert fine.attrs and type(fine) is Entry


def test_a_loaded_entry_makes_its_guid_and_children_when_first_read(cache: Lab):
    d = cache.dc.directory
    head, columns = capture_directory(d, d.snapshot(copy=False))
    warm = Directory(d.schema)
    warm.restore(load_directory(head, columns))
    alice = cache.user("alice")
    loaded, built = warm.get(alice.dn), d.get(alice.dn)
    assert type(loaded) is not Entry and loaded.guid == built.guid and type(loaded.guid) is UUID
    assert warm.by_guid(built.guid) is loaded
    # A leaf's children: none until a child is added under it, which then stays (one dict).
    assert loaded.children == {}
    child = warm.add(loaded, "CN=Printer", {"objectclass": ["top", "container"]})
    assert loaded.children == {"cn=printer": child} and warm.get(f"cn=printer,{alice.dn}") is child
    # Decoding the attributes makes it a plain Entry that keeps both.
    assert loaded.attrs and type(loaded) is Entry
    assert loaded.guid == built.guid and loaded.children == {"cn=printer": child}
    fresh = warm.get(cache.user("bob").dn)
    assert fresh.attrs and type(fresh) is Entry and fresh.children == {} and type(fresh.guid) is UUID


@pytest.mark.parametrize("blob", [
    b"\xc1 not msgpack",
    msgpack.packb(["not", "four lists", "of keys and", "positions"]),
    msgpack.packb([["alice"], [0, 1], [], []]),  # keys without buckets
    msgpack.packb([[], [], ["x"], [["nowhere", 0]]]),  # a bucket naming a table not saved before it
])
def test_undecodable_saved_index_fails_clearly_when_first_looked_in(cache: Lab, blob: bytes):
    """A saved table stays encoded until a lookup needs it; if it cannot be decoded then, the
    lookup says so (the other tables still answer)."""
    d = cache.dc.directory
    head, columns = capture_directory(d, d.snapshot(copy=False))
    columns["tables"]["index"]["samaccountname"] = blob
    warm = Directory(d.schema)
    warm.restore(load_directory(head, columns))
    with pytest.raises((ImageError, ValueError), match="saved samaccountname index"):
        warm.lookup("sAMAccountName", "alice")
    assert [e.dn for e in warm.lookup("userPrincipalName", "alice@contoso.com")] == [cache.user("alice").dn]


def test_a_value_msgpack_cannot_hold_natively_is_refused_at_save(tmp_path: Path):
    with Lab(LabSpec.model_validate({"seed": 1, "population": {"users": 3}})) as lab:
        user = lab.dc.directory.get(lab.user("alice").dn)
        lab.dc.directory.set_values(user, "description", [Path("/not/a/value")])
        with pytest.raises(ImageError, match="cannot be saved as an image: an attribute of CN="):
            save_image(lab, tmp_path / "x.simlab-image", "key")
        assert not list(tmp_path.iterdir())


def test_a_snapshot_of_a_warm_lab_restores_it(cache: Lab):
    with _warm() as warm:
        d = warm.dc.directory
        before_tables, before_attrs = _tables(d, ordered=False), _attrs(d)
        snap = warm.snapshot()
        _change(warm)
        assert _tables(d, ordered=False) != before_tables
        warm.restore(snap)
        assert _tables(d, ordered=False) == before_tables
        assert _attrs(d) == before_attrs == _attrs(cache.dc.directory)


def test_attribute_blobs_stored_in_several_chunks_load_back(cache: Lab, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch):
    from simlab import image_directory
    from simlab.image import load_image

    monkeypatch.setattr(image_directory, "_CHUNK", 100)  # several stream values even at 300 users
    path = save_image(cache, tmp_path / "chunks.simlab-image", "key")
    made = load_image(path, "key")["entries"]
    assert len(cache.dc.directory) > 300
    assert {e.guid: e.attrs for e in made.by_guid.values()} == _attrs(cache.dc.directory)


def test_a_warm_lab_imports_each_index_when_queries_need_it(cache: Lab):
    built = cache.dc.directory
    user = next(e for e in built.walk() if e.object_class == "user" and e.attrs.get("mail"))
    mail, upn = user.attrs["mail"][0], user.attrs["userprincipalname"][0]
    with _warm() as warm:
        d = warm.dc.directory
        ready = d._ix.built()
        assert not {"mail", "userprincipalname", "cn"} & set(ready), ready  # still saved positions
        expected = [e.guid for e in built.lookup("mail", mail)]
        assert [e.guid for e in d.lookup("mail", mail.upper())] == expected
        assert set(d._ix.built()) == set(ready)  # answered from the saved lists
        for _ in range(POINT_LOOKUPS):
            assert [e.guid for e in d.lookup("mail", mail)] == expected
        assert set(d._ix.built()) == {*ready, "mail"}  # then imported: that index only
        ep = warm.endpoints()
        conn = ldap3.Connection(ldap3.Server(ep["host"], port=ep["ldap_port"], get_info=ldap3.NONE),
                                ep["admin_dn"], ep["admin_password"], auto_bind=True)
        try:
            conn.search(ep["base_dn"], f"(userPrincipalName={upn})", attributes=["sAMAccountName"])
            assert [r.entry_dn for r in conn.entries] == [user.dn]
        finally:
            conn.unbind()
        assert "cn" not in d._ix.built()
        assert _undecoded(d) > len(d) * 0.9  # importing decoded no entry's attributes


def test_a_warm_lab_remembers_exact_names_as_they_are_looked_up(cache: Lab):
    """A loaded directory starts with no exact-spelling table and fills it from lookups, with
    each entry's own DN only: another spelling, a rename or a delete leaves nothing stale."""
    with _warm() as warm:
        d = warm.dc.directory
        assert len(d._by_exact_dn) < len(d) // 10
        alice = d.lookup("sAMAccountName", "alice")[0]
        dn = alice.dn
        assert d.get(dn.upper()) is alice and dn.upper() not in d._by_exact_dn
        assert d.get(dn) is alice and d._by_exact_dn[dn] is alice
        d.move(alice, alice.parent, "CN=Alice Renamed")
        assert d.get(dn) is None and dn not in d._by_exact_dn
        assert d.get(alice.dn) is alice
        d.remove(alice)
        assert d.get(alice.dn) is None and alice.dn not in d._by_exact_dn
