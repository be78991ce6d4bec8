"""Lazily decoded image tables: a loaded lab's tenant users, methods, audit log and connector
space are the built lab's, whether or not they were decoded yet, over the wire too."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import httpx
import ldap3
import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.connect.sync import ConnectorObject
from fakes.graph.model import AuthMethod, User
from simlab import image_codec
from simlab.image_codec import Table, decode, encode
from simlab.lab import Lab
from simlab.lazy_rows import LazyDecodeError
from simlab.spec import LabSpec

SPEC = LabSpec.model_validate({"seed": 11, "population": {"users": 300}})
PASSWORD = "Lazy-Reset-Passw0rd!7"


@pytest.fixture(autouse=True)
def cache_home(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """conftest's own cache folder, with small chunks: 300 users span several, so a read decodes
    one chunk and leaves the others."""
    monkeypatch.setattr(image_codec, "CHUNK_ROWS", 64)
    return cache_home


def _undecoded(values: object, cls: type) -> int:
    return sum(1 for v in values if type(v) is not cls)  # type: ignore[attr-defined]


def _synced_user(lab: Lab) -> User:
    """A synced user with registered methods, far from the first chunk."""
    users = [u for u in lab.tenant.users.values() if u.synced and lab.tenant.methods.get(u.id)]
    return users[200]


def test_a_loaded_lab_holds_the_built_tenant_and_connector_space():
    with Lab(SPEC, cache=True) as built:
        assert built.cache_status == "miss"
        with Lab(SPEC, cache=True) as loaded:
            assert loaded.cache_status == "hit"
            tenant, sync = loaded.tenant, loaded.connect.sync
            # Nothing read yet: the objects are still placeholders (and the audit log undecoded).
            assert _undecoded(tenant.users.values(), User) > 290
            assert _undecoded(sync.connector_space.values(), ConnectorObject) > 290
            assert _undecoded([m for ms in tenant.methods.values() for m in ms], AuthMethod) > 580
            assert tenant.audit._entries.waiting == len(tenant.audit) == len(built.tenant.audit)
            # After a sync the exported objects *are* the connector space's, as in the built lab.
            assert all(sync._exported[a] is o for a, o in sync.connector_space.items())
            assert tenant.users == built.tenant.users
            assert tenant.methods == built.tenant.methods
            assert (tenant._by_upn, tenant._by_anchor) == (built.tenant._by_upn, built.tenant._by_anchor)
            assert sync.connector_space == built.connect.sync.connector_space
            assert list(tenant.audit) == list(built.tenant.audit)
            # Reading made them the real classes.
            assert {type(u) for u in tenant.users.values()} == {User}
            assert {type(o) for o in sync.connector_space.values()} == {ConnectorObject}


def test_the_tenant_users_and_the_connector_space_wait_for_their_first_read():
    with Lab(SPEC, cache=True) as built, Lab(SPEC, cache=True) as loaded:
        assert (built.cache_status, loaded.cache_status) == ("miss", "hit")
        tenant, sync = loaded.tenant, loaded.connect.sync
        assert set(vars(tenant)["_deferred"]) == {"users", "methods", "_by_upn", "_by_anchor"}
        assert set(vars(sync)["_deferred"]) == {"connector_space", "_exported"}
        # The served endpoint line's token users come from the image while the users wait.
        expected = (built.tenant.get_user(built.tenant.admin_upn), built.tenant.first_ordinary_user())
        assert tenant.token_users() == expected and tenant.is_deferred("users")
        user = _first_synced(tenant)  # the first read: the users and their UPN lookup only
        assert set(vars(tenant)["_deferred"]) == {"methods", "_by_anchor"}
        assert tenant.user_by_anchor(user.on_premises_immutable_id) == user
        assert set(vars(tenant)["_deferred"]) == {"methods"}
        assert tenant.users == built.tenant.users and tenant.methods == built.tenant.methods
        assert "_deferred" not in vars(tenant)
        assert (tenant._by_upn, tenant._by_anchor) == (built.tenant._by_upn, built.tenant._by_anchor)
        assert "_deferred" in vars(sync)  # its own tables: still waiting
        assert sync.connector_space == built.connect.sync.connector_space
        assert all(sync._exported[a] is o for a, o in sync.connector_space.items())


@pytest.mark.parametrize("first", ["methods", "users, one removed"])
def test_methods_and_anchors_load_right_whichever_table_is_read_first(first):
    with Lab(SPEC, cache=True) as built, Lab(SPEC, cache=True) as loaded:
        tenant = loaded.tenant
        if first == "methods":
            assert tenant.methods == built.tenant.methods and tenant.is_deferred("users")
            assert tenant._by_anchor == built.tenant._by_anchor and tenant.is_deferred("users")
            assert tenant.users == built.tenant.users
        else:  # the users dict changes (later positions shift) before the others are read
            del tenant.users[_first_synced(tenant).id]
            assert tenant.is_deferred("methods") and tenant.methods == built.tenant.methods
            assert tenant.is_deferred("_by_anchor") and tenant._by_anchor == built.tenant._by_anchor


def test_token_users_follow_the_live_tenant_once_its_users_are_read():
    with Lab(SPEC, cache=True), Lab(SPEC, cache=True) as loaded:
        tenant = loaded.tenant
        admin, first = tenant.token_users()
        tenant.update_user(first.id, account_enabled=False)  # reads the users: the saved pair is stale
        again_admin, second = tenant.token_users()
        assert again_admin == admin and second.id != first.id and second.account_enabled


def test_a_snapshot_of_a_loaded_lab_reads_what_waits_and_restores_it():
    with Lab(SPEC, cache=True) as built, Lab(SPEC, cache=True) as loaded:
        snap = loaded.snapshot()
        assert "_deferred" not in vars(loaded.tenant) and "_deferred" not in vars(loaded.connect.sync)
        user = _first_synced(loaded.tenant)
        loaded.tenant.methods.pop(user.id)
        loaded.connect.sync.connector_space.clear()
        loaded.restore(snap)
        assert loaded.tenant.methods == built.tenant.methods
        assert loaded.connect.sync.connector_space == built.connect.sync.connector_space


def _first_synced(tenant) -> User:
    return next(u for u in tenant.users.values() if u.synced and u.on_premises_immutable_id)


def test_placeholders_behave_as_their_objects():
    with Lab(SPEC, cache=True) as built:
        expected = _synced_user(built)
        with Lab(SPEC, cache=True) as loaded:
            users = loaded.tenant.users
            other, lazy = users[expected.id], users[list(users)[-1]]
            assert type(other) is not User and isinstance(other, User)
            assert other == expected and hash(other) == hash(expected) and repr(other) == repr(expected)
            assert type(other) is User  # the first read filled it
            assert type(lazy) is not User
            changed = dataclasses.replace(lazy, display_name="Renamed")
            assert type(changed) is User and changed.display_name == "Renamed"
            assert changed.id == built.tenant.users[changed.id].id
            with pytest.raises(dataclasses.FrozenInstanceError):
                users[list(users)[-2]].display_name = "x"  # type: ignore[misc]


def test_served_graph_and_sspr_on_users_not_decoded_yet():
    with Lab(SPEC, cache=True) as built:
        expected = _synced_user(built)
    with Lab(SPEC, cache=True) as lab:
        tenant = lab.tenant
        assert type(tenant.users[expected.id]) is not User  # not decoded yet
        ep = lab.serve_graph()
        admin = {"Authorization": f"Bearer {ep.tokens['global_admin']}"}
        sspr = f"{ep.sspr_url}/sspr"
        with httpx.Client(verify=lab.ca.client_context()) as c:
            got = c.get(f"{ep.base_url}/users/{expected.id}", headers=admin,
                        params={"$select": "userPrincipalName,onPremisesDistinguishedName"})
            assert got.status_code == 200, got.text
            assert got.json()["userPrincipalName"] == expected.user_principal_name
            assert got.json()["onPremisesDistinguishedName"] == expected.on_premises_distinguished_name
            flow = c.post(f"{sspr}/begin", json={"userPrincipalName": expected.user_principal_name}).json()
            assert len(flow["methods"]) == len(built.tenant.methods[expected.id])
            for method in flow["methods"][: flow["methodsRequired"]]:
                c.post(f"{sspr}/sendCode", json={"flowId": flow["flowId"], "methodId": method["id"]})
                verify = {"flowId": flow["flowId"], "methodId": method["id"], "answer": tenant.outbox[-1][1]}
                assert c.post(f"{sspr}/verify", json=verify).status_code == 200
            reset = c.post(f"{sspr}/reset", json={"flowId": flow["flowId"], "newPassword": PASSWORD})
            assert reset.json() == {"status": "succeeded"}, reset.text
        # Written back to AD: the user binds over LDAP with the new password.
        assert lab.bind(expected.on_premises_sam_account_name, PASSWORD).ok
        assert len(lab.tenant.audit) == len(built.tenant.audit) + 2  # reset activity + progress
        assert lab.tenant.audit.query()[-1].target_upn == expected.user_principal_name


def _delta_script(lab: Lab) -> list[object]:
    """Changes in AD, then a delta sync: what it imports, exports and leaves alone."""
    lab.create_user("zed", display_name="Zed Zulu")
    conn = lab.ldap()
    try:
        dn = _synced_user(lab).on_premises_distinguished_name
        assert conn.modify(dn, {"displayName": [(ldap3.MODIFY_REPLACE, ["Renamed In AD"])]}), conn.result
    finally:
        conn.unbind()
    report = lab.connect.run_sync_cycle("Delta")
    users = lab.tenant.users
    return [(report.policy, report.imported, report.exported, report.deleted, report.passwords_synced),
            sorted((u.user_principal_name, u.display_name) for u in users.values()),
            sorted(lab.connect.sync.connector_space), len(lab.tenant.audit),
            [(e.event_id, e.data) for e in lab.connect.eventlog.records()][-6:]]


def test_a_delta_sync_after_a_load_does_what_it_does_after_a_build():
    with Lab(SPEC, cache=True) as built:
        expected = _delta_script(built)
    with Lab(SPEC, cache=True) as loaded:
        assert loaded.cache_status == "hit"
        assert _delta_script(loaded) == expected


# -- the codec's lazy tables ------------------------------------------------------------------
_METHODS = st.builds(
    AuthMethod, id=st.text(max_size=6), kind=st.sampled_from(["phone", "email", "securityQuestion"]),
    created=st.datetimes(timezones=st.just(UTC)), value=st.text(max_size=4),
    phone_type=st.sampled_from(["mobile", "office"]), secret=st.text(max_size=3))


@settings(max_examples=60, deadline=None)
@given(groups=st.lists(st.lists(_METHODS, max_size=3).map(tuple), min_size=1, max_size=30),
       chunk=st.integers(1, 9), data=st.data())
def test_a_lazy_table_decodes_each_object_on_first_read_in_any_order(groups, chunk, data):
    if not any(groups):
        groups.append((AuthMethod("m", "email", datetime(2026, 1, 5, tzinfo=UTC)),))
    table = {f"user{i}": g for i, g in enumerate(groups)}
    old, image_codec.CHUNK_ROWS = image_codec.CHUNK_ROWS, chunk
    try:
        back = decode(encode(Table(table, lazy=True)))
    finally:
        image_codec.CHUNK_ROWS = old
    flat = [m for g in back.values() for m in g]
    assert list(back) == list(table) and [len(g) for g in back.values()] == [len(g) for g in groups]
    assert all(type(m) is not AuthMethod for m in flat)
    expected = [m for g in groups for m in g]
    for i in data.draw(st.permutations(range(len(flat)))):
        assert flat[i] == expected[i] and type(flat[i]) is AuthMethod
    assert back == table


def test_a_lazy_chunk_that_cannot_be_decoded_names_what_failed():
    values = [AuthMethod(f"m{i}", "email", datetime(2026, 1, 5, tzinfo=UTC)) for i in range(10)]
    old, image_codec.CHUNK_ROWS = image_codec.CHUNK_ROWS, 4
    try:
        ext = msgpack.unpackb(encode(Table(values, lazy=True)))
    finally:
        image_codec.CHUNK_ROWS = old
    *head, chunks = msgpack.unpackb(ext.data)
    chunks[1] = b"not zstd"  # rows 4-7
    back = decode(msgpack.packb(msgpack.ExtType(ext.code, msgpack.packb([*head, chunks]))))
    assert back[0] == values[0] and back[9] == values[9]
    failed = r"fakes\.graph\.model:AuthMethod \(rows 4-7\) cannot be decoded"
    with pytest.raises(LazyDecodeError, match=failed):
        back[5].id  # noqa: B018


def test_reading_the_application_log_of_a_loaded_lab_decodes_no_connector_object():
    with Lab(SPEC, cache=True) as built:
        expected = built.connect.eventlog.records()
        with Lab(SPEC, cache=True) as loaded:
            space = loaded.connect.sync.connector_space
            assert loaded.connect.eventlog.records() == expected
            assert _undecoded(space.values(), ConnectorObject) == len(space)


def test_a_snapshot_of_a_loaded_lab_keeps_its_audit_log_undecoded_and_restores_it_twice():
    with Lab(SPEC, cache=True) as built:
        expected = list(built.tenant.audit)
    with Lab(SPEC, cache=True) as lab:
        snap = lab.snapshot()
        assert snap.audit.later is not None and snap.audit.later_count == len(expected)
        for _ in range(2):
            assert lab.sspr_reset(_synced_user(lab).on_premises_sam_account_name, PASSWORD).ok
            assert len(lab.tenant.audit) > len(expected)
            lab.restore(snap)
            assert len(lab.tenant.audit) == len(expected)
            assert list(lab.tenant.audit) == expected


def test_placeholders_read_from_many_threads_at_once_are_filled_once_and_right():
    import random
    import sys
    import threading

    when = datetime(2026, 1, 5, tzinfo=UTC)
    values = [AuthMethod(f"m{i}", "email", when, value=f"v{i}") for i in range(2000)]
    old, image_codec.CHUNK_ROWS = image_codec.CHUNK_ROWS, 50
    try:
        back = decode(encode(Table(values, lazy=True)))
    finally:
        image_codec.CHUNK_ROWS = old
    wrong: list[int] = []

    def read(seed: int) -> None:
        order = list(range(len(back)))
        random.Random(seed).shuffle(order)
        wrong.extend(i for i in order if (back[i].id, back[i].value) != (f"m{i}", f"v{i}"))

    threads = [threading.Thread(target=read, args=(n,)) for n in range(6)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, mid-fill included
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == [] and back == values and {type(m) for m in back} == {AuthMethod}


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["a", "b", "c"])), min_size=1,
                     max_size=20),
       keyed=st.booleans(), lazy=st.booleans(), chunk=st.integers(1, 7))
def test_columns_equal_to_another_column_or_to_the_keys_round_trip(rows, keyed, lazy, chunk):
    from fakes.graph.model import RoleAssignment

    # Columns often equal each other (and the keys) here: stored as references, decoded exactly.
    values = [RoleAssignment(f"id{i}" if keyed else a, a, b, a) for i, (a, b) in enumerate(rows)]
    table = {v.id: v for v in values} if keyed else values
    old, image_codec.CHUNK_ROWS = image_codec.CHUNK_ROWS, chunk
    try:
        back = decode(encode(Table(table, lazy=lazy)))
    finally:
        image_codec.CHUNK_ROWS = old
    assert back == table
    got = list(back.values()) if keyed else back
    assert all(o.role_definition_id is not None and type(o) is RoleAssignment for o in got)


def test_connector_objects_decoded_on_demand_share_their_users_strings():
    with Lab(SPEC, cache=True):
        pass
    with Lab(SPEC, cache=True) as lab:
        tenant = lab.tenant
        for anchor, obj in list(lab.connect.sync.connector_space.items())[100:110]:
            user = tenant.users[tenant._by_anchor[anchor]]
            assert obj.dn is user.on_premises_distinguished_name and obj.upn is user.user_principal_name
            assert obj.sid is user.on_premises_security_identifier and obj.mail is user.mail


def test_strings_decoded_on_demand_are_one_object_across_directory_tenant_and_audit():
    with Lab(SPEC, cache=True):
        pass
    with Lab(SPEC, cache=True) as lab:
        tenant, directory = lab.tenant, lab.dc.directory
        synced = [u for u in tenant.users.values() if u.synced]
        # Either side may be decoded first: the tenant user before its entry, or the other way.
        for n, user in enumerate(synced[100:110]):
            entry = directory.get(user.on_premises_distinguished_name)
            assert entry is not None
            if n % 2:
                user = tenant.users[user.id]
            attrs = entry.attrs
            assert entry.dn is user.on_premises_distinguished_name
            assert attrs["userprincipalname"][0] is user.user_principal_name
            assert attrs["samaccountname"][0] is user.on_premises_sam_account_name
            assert attrs["displayname"][0] is user.display_name
        groups = [e for e in directory.walk() if e.attrs.get("member")]
        assert groups, "the seeded population has groups with members"
        for dn in groups[0].attrs["member"][:20]:
            assert directory.get(dn).dn is dn  # a member value is its entry's DN object
        upns = {u.user_principal_name: u.user_principal_name for u in synced}
        audited = [a for a in tenant.audit.records() if a.target_upn in upns]
        assert audited and all(a.target_upn is upns[a.target_upn] for a in audited)


@pytest.mark.parametrize("lazy", [False, True])
def test_one_instant_in_two_time_zones_stays_two_values(lazy):
    from datetime import timedelta, timezone

    from fakes.graph.model import AuditEntry

    # A column of few distinct values is stored as those values plus indexes; equal instants in
    # different zones compare equal, and must still come back each in its own zone.
    utc = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    paris = utc.astimezone(timezone(timedelta(hours=1)))
    entries = [AuditEntry(f"a{i}", (utc, paris)[i % 2], "Reset password (self-service)", "UserManagement",
                          "Self-service Password Management", "Update", "success", "", f"c{i}", "x")
               for i in range(16)]
    back = decode(encode(Table(entries, lazy=lazy)))
    assert [e.activity_date_time.utcoffset() for e in back] == [e.activity_date_time.utcoffset()
                                                                for e in entries]
    assert back == entries


def _graph_reads(lab: Lab) -> list[object]:
    """What a Graph client lists from the served tenant: every user page, one user's methods, the
    audit log (the whole tenant read through the wire, as a listing tool would)."""
    ep = lab.serve_graph()
    admin = {"Authorization": f"Bearer {ep.tokens['global_admin']}"}
    out: list[object] = []
    with httpx.Client(verify=lab.ca.client_context(), headers=admin) as c:
        select = "id,userPrincipalName,onPremisesDistinguishedName"
        url: str | None = f"{ep.base_url}/users?$top=100&$select={select}"
        while url:
            page = c.get(url)
            assert page.status_code == 200, page.text
            body = page.json()
            out.extend(body["value"])
            url = body.get("@odata.nextLink")
        user = _synced_user(lab)
        out.append(c.get(f"{ep.base_url}/users/{user.id}/authentication/methods").json())
        audits = c.get(f"{ep.base_url}/auditLogs/directoryAudits")
        out.append(audits.status_code)
        out.append(audits.json().get("value") if audits.status_code == 200 else audits.text)
    return out


def test_a_served_loaded_lab_lists_the_same_tenant_over_graph_as_a_built_one():
    with Lab(SPEC, cache=True) as built:
        expected = _graph_reads(built)
    with Lab(SPEC, cache=True) as lab:
        assert lab.cache_status == "hit"
        assert _undecoded(lab.tenant.users.values(), User) > 0
        assert _graph_reads(lab) == expected
        assert _undecoded(lab.tenant.users.values(), User) == 0  # the listing read every user
