"""The tenant's bulk build paths leave exactly the state the one-call-per-user code left (same ids,
methods, audit entries, RNG position): the old bodies are kept here as the reference."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.clock import SimClock
from fakes.graph import audit as A
from fakes.graph import catalog as C
from fakes.graph import tenant_bulk
from fakes.graph.model import User
from fakes.graph.tenant import SyncedFields, Tenant
from fakes.graph.tenant_bulk import SyncedColumns, guid4, guid4_column

# A row: (user number, display-name variant, enabled): a number seen before is an update.
_ROWS = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 2), st.booleans()), max_size=30)


def _row(n: int, variant: int, enabled: bool) -> SyncedFields:
    upn = f"user{n}@contoso.com"
    return SyncedFields(f"anchor{n}==", upn, f"User {n} v{variant}", f"user{n}",
                        f"CN=User {n},OU=Staff,DC=contoso,DC=com", f"S-1-5-21-1-2-3-{1000 + n}",
                        "contoso.com", enabled, upn if variant else None)


def _state(tenant: Tenant) -> tuple:
    """Everything the build paths touch, ids included, and where the id RNG stands."""
    return (list(tenant.users.items()), dict(tenant._by_upn), dict(tenant._by_anchor),
            dict(tenant.methods), list(tenant.audit), tenant._rng.getstate())


def _upsert_reference(tenant: Tenant, row: SyncedFields) -> User:
    """upsert_synced_user as it was before the bulk path (one dict, one User per call)."""
    now = tenant.clock.now()
    synced = dict(user_principal_name=row.user_principal_name, display_name=row.display_name,
                  account_enabled=row.account_enabled, mail=row.mail, on_premises_sync_enabled=True,
                  on_premises_immutable_id=row.immutable_id,
                  on_premises_sam_account_name=row.sam_account_name,
                  on_premises_distinguished_name=row.distinguished_name,
                  on_premises_security_identifier=row.security_identifier,
                  on_premises_domain_name=row.domain_name,
                  on_premises_user_principal_name=row.user_principal_name, on_premises_last_sync=now)
    with tenant.lock:
        existing = tenant.user_by_anchor(row.immutable_id)
        if existing is None:
            if row.user_principal_name.lower() in tenant._by_upn:
                raise ValueError(f"userPrincipalName {row.user_principal_name!r} is used by a cloud object")
            user = User(id=tenant.new_id(), created=now, **synced)
        else:
            user = replace(existing, **synced)
        tenant._store(user)
        return user


def _register_reference(tenant: Tenant, upn: str, kinds: tuple[str, ...]) -> None:
    """register_for_sspr as it was before the bulk path (add_method per kind, then audit.write)."""
    target = tenant.get_user(upn)
    if target is None:
        raise KeyError(upn)
    local = target.user_principal_name.split("@")[0]
    defaults = {"phone": "+1 4255550100", "email": f"{local}@alt.example",
                "microsoftAuthenticator": "Lab phone", "securityQuestion": "What is the lab's name?"}
    for kind in kinds:
        tenant.add_method(target, kind, defaults[kind], secret="simlab" if kind == "securityQuestion" else "")
    tenant.audit.write(A.REGISTERED, initiated_by=target.user_principal_name, target_id=target.id,
                       target_upn=target.user_principal_name, category="UserManagement")


def _pair(seed: int) -> tuple[Tenant, Tenant]:
    clock = SimClock()
    return (Tenant.create(clock=clock, seed=seed), Tenant.create(clock=clock, seed=seed))


@given(seed=st.integers(0, 2**16), rows=_ROWS)
@settings(max_examples=60, deadline=None)
def test_bulk_upsert_is_one_upsert_per_row(seed: int, rows: list[tuple[int, int, bool]]) -> None:
    one, bulk = _pair(seed)
    users = [_upsert_reference(one, _row(*r)) for r in rows]
    assert list(bulk.upsert_synced_users([_row(*r) for r in rows])) == users
    assert _state(bulk) == _state(one)


def test_bulk_upsert_stops_at_a_cloud_owned_upn_with_the_rows_before_stored() -> None:
    one, bulk = _pair(7)
    for tenant in (one, bulk):
        tenant.add_user("user3@contoso.com", "Cloud user 3")
    rows = [_row(1, 0, True), _row(2, 1, True), _row(3, 0, True), _row(4, 0, True)]
    for row in rows[:2]:
        _upsert_reference(one, row)
    with pytest.raises(ValueError, match="used by a cloud object"):
        _upsert_reference(one, rows[2])
    done = []
    with pytest.raises(ValueError, match="used by a cloud object"):
        for user in bulk.upsert_synced_users(rows):
            done.append(user.on_premises_immutable_id)
    assert done == ["anchor1==", "anchor2=="]
    assert _state(bulk) == _state(one)


@given(seed=st.integers(0, 2**16), picks=st.lists(st.integers(0, 9), max_size=25),
       kinds=st.lists(st.sampled_from(C.METHOD_KINDS), min_size=1, max_size=4))
@settings(max_examples=60, deadline=None)
def test_bulk_registration_is_one_registration_per_user(seed: int, picks: list[int],
                                                        kinds: list[str]) -> None:
    """Same methods (ids drawn for authenticator/questions), audit entries and RNG position, also
    for a user registered twice."""
    one, bulk = _pair(seed)
    for tenant in (one, bulk):
        list(tenant.upsert_synced_users([_row(n, 0, True) for n in range(10)]))
    targets = [f"user{n}@contoso.com" for n in picks]
    for upn in targets:
        _register_reference(one, upn, tuple(kinds))
    # Users named by UPN or given as User objects (a stale copy too: the tenant's own one counts).
    given_as = [bulk.get_user(upn) if i % 2 else upn for i, upn in enumerate(targets)]
    given_as = [replace(u, display_name="stale") if i % 4 == 1 else u for i, u in enumerate(given_as)]
    assert bulk.register_many_for_sspr(given_as, tuple(kinds)) == len(targets)
    assert _state(bulk) == _state(one)


def test_bulk_registration_logs_the_users_before_an_unknown_one() -> None:
    one, bulk = _pair(2)
    for tenant in (one, bulk):
        list(tenant.upsert_synced_users([_row(n, 0, True) for n in range(3)]))
    _register_reference(one, "user0@contoso.com", ("phone", "email"))
    with pytest.raises(KeyError):
        _register_reference(one, "ghost@contoso.com", ("phone", "email"))
    with pytest.raises(KeyError):
        bulk.register_many_for_sspr(["user0@contoso.com", "ghost@contoso.com", "user1@contoso.com"])
    assert _state(bulk) == _state(one)
    assert [e.target_upn for e in bulk.audit] == ["user0@contoso.com"]


def test_registration_refuses_an_unknown_method_kind_before_touching_anything() -> None:
    tenant = Tenant.create(seed=1)
    before = _state(tenant)
    with pytest.raises(ValueError, match="method kind must be one of"):
        tenant.register_many_for_sspr([tenant.admin_upn], ("phone", "carrierPigeon"))
    assert _state(tenant) == before


def test_registration_with_no_method_kind_is_refused_before_touching_anything() -> None:
    """No audit entry "registered security info" for a user who registered nothing."""
    tenant = Tenant.create(seed=1)
    before = _state(tenant)
    for call in (lambda: tenant.register_many_for_sspr([tenant.admin_upn], ()),
                 lambda: tenant.register_for_sspr(tenant.admin_upn, ())):
        with pytest.raises(ValueError, match="at least one method kind"):
            call()
    assert _state(tenant) == before


def test_phone_and_email_registration_makes_its_audit_entries_when_the_log_is_read(monkeypatch) -> None:
    """The lab's registration draws its ids at once and makes the entries on the first read (or
    again after a snapshot restore): the same entries as when made one by one."""
    one, bulk = _pair(5)
    for tenant in (one, bulk):
        list(tenant.upsert_synced_users([_row(n, 0, True) for n in range(6)]))
        tenant.audit.write(A.POLICY_CHANGE, initiated_by=tenant.admin_upn)  # an entry before them
    for n in range(6):
        _register_reference(one, f"user{n}@contoso.com", ("phone", "email"))
    made = []
    entry = bulk.audit.entry
    monkeypatch.setattr(bulk.audit, "entry", lambda *a, **k: made.append("entry_id" in k) or entry(*a, **k))
    saved = bulk.audit.state()  # before: the policy change only
    bulk.register_many_for_sspr([f"user{n}@contoso.com" for n in range(6)])
    assert made == [] and len(bulk.audit) == len(one.audit) == 7
    after = bulk.audit.state()  # the six still to be made
    bulk.audit.write(A.POLICY_CHANGE, initiated_by=bulk.admin_upn)
    one.audit.write(A.POLICY_CHANGE, initiated_by=one.admin_upn)
    assert made == [False]  # the write made its own entry only
    assert _state(bulk) == _state(one) and made == [False] + [True] * 6
    bulk.audit.restore(after)
    assert bulk.audit.records() == one.audit.records()[:7]
    bulk.audit.restore(saved)
    assert bulk.audit.records() == one.audit.records()[:1]


# --- the column-wise paths (fakes/graph/tenant_bulk.py) against the reference above ---------------

@given(seed=st.integers(0, 2**32), count=st.integers(0, 40))
@settings(max_examples=80, deadline=None)
def test_one_wide_draw_cuts_into_the_ids_of_one_draw_per_id(seed: int, count: int) -> None:
    """getrandbits(128 * n) uses the same RNG words as n getrandbits(128) calls, the first draw in
    the lowest bits: the ids match one by one and the RNG ends in the same state."""
    one, wide = random.Random(seed), random.Random(seed)
    expected = [str(uuid.UUID(int=one.getrandbits(128), version=4)) for _ in range(count)]
    assert [guid4(int(u.replace("-", ""), 16)) for u in expected] == expected
    assert guid4_column(wide.getrandbits(128 * count), count) == expected
    assert wide.getstate() == one.getstate()


# An export row: (anchor number, UPN number, UPN in upper case, display-name variant, enabled). Anchor
# and UPN vary apart, so a batch holds updates, repeated anchors and UPN clashes (in any case).
_EXPORT_ROWS = st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15), st.booleans(), st.integers(0, 2),
                                  st.booleans()), max_size=25)


def _export_row(anchor: int, upn: int, upper: bool, variant: int, enabled: bool) -> SyncedFields:
    name = f"User{upn}@Contoso.com" if upper else f"user{upn}@contoso.com"
    return SyncedFields(f"anchor{anchor}==", name, f"User {anchor} v{variant}", f"user{anchor}",
                        f"CN=User {anchor},OU=Staff,DC=contoso,DC=com", f"S-1-5-21-1-2-3-{1000 + anchor}",
                        "contoso.com", enabled, name if variant else None)


def _reference_export(tenant: Tenant, rows: list[SyncedFields]) -> tuple[list[User], str | None]:
    """The users one upsert per row returns, up to the refused row (and its message)."""
    users: list[User] = []
    for row in rows:
        try:
            users.append(_upsert_reference(tenant, row))
        except ValueError as err:
            return users, str(err)
    return users, None


def _bulk_export(users: Iterator[User]) -> tuple[list[User], str | None]:
    done: list[User] = []
    try:
        for user in users:
            done.append(user)
    except ValueError as err:
        return done, str(err)
    return done, None


@pytest.mark.parametrize("given_as", ["list", "columns", "generator"])
@given(seed=st.integers(0, 2**16), before=_EXPORT_ROWS, cloud=st.sets(st.integers(0, 15), max_size=3),
       rows=_EXPORT_ROWS)
@settings(max_examples=50, deadline=None)
def test_an_export_batch_equals_one_upsert_per_row(given_as: str, seed: int, before: list, cloud: set[int],
                                                   rows: list) -> None:
    """Whatever the batch holds (new users, users synced earlier, a repeated anchor, a UPN that a
    cloud user or an earlier row holds), the same users field by field, the same refusal at the
    same row with the rows before it stored, ids, dict order and RNG state."""
    one, bulk = _pair(seed)
    for tenant in (one, bulk):
        for n in sorted(cloud):
            tenant.add_user(f"USER{n}@contoso.com", f"Cloud user {n}")
        _reference_export(tenant, [_export_row(*r) for r in before])  # users synced earlier
    batch = [_export_row(*r) for r in rows]
    expected = _reference_export(one, batch)
    if given_as == "columns":
        columns = SyncedColumns(*map(list, zip(*batch, strict=True))) if batch else SyncedColumns(*[[]] * 9)
        got = _bulk_export(bulk.upsert_synced_columns(columns))
    else:
        got = _bulk_export(bulk.upsert_synced_users(batch if given_as == "list" else iter(batch)))
    assert got == expected
    assert all(type(user) is User for user in got[0])
    assert _state(bulk) == _state(one)


def test_an_initial_export_is_made_column_wise_and_a_lower_case_upn_is_its_own_key(monkeypatch) -> None:
    """A batch of new users never reaches the row-by-row path; a lower-case UPN is its own lookup key
    (one string per user, as the row path stores it)."""
    one, bulk = _pair(4)
    rows = [_export_row(n, n, n % 2 == 0, 1, True) for n in range(12)]
    expected = _reference_export(one, rows)
    monkeypatch.setattr(tenant_bulk, "upsert_rows", lambda *a: pytest.fail("row-by-row path taken"))
    assert _bulk_export(bulk.upsert_synced_users(rows)) == expected
    assert _state(bulk) == _state(one)
    keys = {key: key for key in bulk._by_upn}
    for user in bulk.users.values():
        upn = user.user_principal_name
        assert (keys[upn.lower()] is upn) == (upn == upn.lower())


def test_an_export_stores_the_new_rows_before_a_clash_at_once_and_the_rest_row_by_row() -> None:
    """A UPN clash in the middle of an initial export: the users before it come from the column
    path, the refusal from the row path, as one upsert per row would have it."""
    one, bulk = _pair(9)
    for tenant in (one, bulk):
        tenant.add_user("user5@contoso.com", "Cloud user 5")
    rows = [_export_row(n, n, False, 0, True) for n in range(10)]
    expected = _reference_export(one, rows)
    got = _bulk_export(bulk.upsert_synced_users(rows))
    assert got == expected and len(got[0]) == 5
    assert got[1] is not None and "'user5@contoso.com' is used by a cloud object" in got[1]
    assert _state(bulk) == _state(one)


# Registration picks: (user number, a method registered earlier or None, given as: 0 UPN, 1 the
# tenant's User, 2 a stale copy of it)
_REGISTER_PICKS = st.lists(st.tuples(st.integers(0, 9), st.none() | st.sampled_from(C.METHOD_KINDS),
                                     st.integers(0, 2)), max_size=20)


@given(seed=st.integers(0, 2**16), picks=_REGISTER_PICKS, unknown_at=st.none() | st.integers(0, 20),
       unknown_as_user=st.booleans(),
       kinds=st.lists(st.sampled_from(["phone", "email"]), min_size=1, max_size=3))
@settings(max_examples=80, deadline=None)
def test_a_phone_and_email_registration_batch_equals_one_registration_per_user(
        seed: int, picks: list[tuple[int, str | None, int]], unknown_at: int | None, unknown_as_user: bool,
        kinds: list[str]) -> None:
    """The lab's registration (phone and/or email): the same methods tuples, audit entries, ids and
    RNG position, for users with methods already, repeated, named by UPN or given as (stale) User
    objects, and an unknown user (by UPN, or a User the tenant does not hold) stopping it at the
    same place."""
    one, bulk = _pair(seed)
    for tenant in (one, bulk):
        list(tenant.upsert_synced_users([_row(n, 0, True) for n in range(10)]))
        for n, earlier in sorted({n: earlier for n, earlier, _ in picks if earlier}.items()):
            _register_reference(tenant, f"user{n}@contoso.com", (earlier,))
    named = [(f"user{n}@contoso.com", how) for n, _, how in picks]  # (UPN, given as)
    if unknown_at is not None:
        named.insert(min(unknown_at, len(named)), ("ghost@contoso.com", 0))
    stopped = False
    for upn, _ in named:
        try:
            _register_reference(one, upn, tuple(kinds))
        except KeyError:
            stopped = True
            break
    given_as: list[User | str] = [upn if how == 0 else bulk.get_user(upn) for upn, how in named]
    if unknown_at is not None and unknown_as_user:
        held = bulk.get_user(bulk.admin_upn)
        given_as[min(unknown_at, len(picks))] = replace(held, id="00000000-0000-4000-8000-000000000000")
    given_as = [replace(u, display_name="stale") if isinstance(u, User) and how == 2 else u
                for u, (_, how) in zip(given_as, named, strict=True)]
    if stopped:
        with pytest.raises(KeyError):
            bulk.register_many_for_sspr(given_as, tuple(kinds))
    else:
        assert bulk.register_many_for_sspr(given_as, tuple(kinds)) == len(named)
    assert _state(bulk) == _state(one)


def test_the_labs_registration_is_made_column_wise_with_one_shared_phone(monkeypatch) -> None:
    """Distinct users the tenant holds, without methods yet: never the row-by-row path."""
    one, bulk = _pair(6)
    for tenant in (one, bulk):
        list(tenant.upsert_synced_users([_row(n, 0, True) for n in range(8)]))
    for n in range(8):
        _register_reference(one, f"user{n}@contoso.com", ("phone", "email"))
    monkeypatch.setattr(tenant_bulk, "_register_each", lambda *a: pytest.fail("row-by-row path taken"))
    assert bulk.register_many_for_sspr([u for u in bulk.users.values() if u.synced]) == 8
    assert _state(bulk) == _state(one)
    assert len({id(methods[0]) for methods in bulk.methods.values()}) == 1
    assert [m.kind for m in next(iter(bulk.methods.values()))] == ["phone", "email"]


def test_a_row_that_is_not_text_fails_at_its_row_as_one_upsert_per_row_did() -> None:
    one, bulk = _pair(8)
    rows = [_export_row(n, n, False, 0, True) for n in (1, 2, 3)]
    rows[1] = rows[1]._replace(user_principal_name=None)
    _upsert_reference(one, rows[0])
    with pytest.raises(AttributeError):
        _upsert_reference(one, rows[1])
    users = bulk.upsert_synced_users(rows)
    assert next(users).on_premises_immutable_id == "anchor1=="
    with pytest.raises(AttributeError):
        next(users)
    assert _state(bulk) == _state(one)
