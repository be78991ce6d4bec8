"""The tenant's bulk build paths leave exactly the state the one-call-per-user code left (same ids,
methods, audit entries, RNG position): the old bodies are kept here as the reference."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.clock import SimClock
from fakes.graph import audit as A
from fakes.graph import catalog as C
from fakes.graph.model import User
from fakes.graph.tenant import SyncedFields, Tenant

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
