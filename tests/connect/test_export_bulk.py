"""Connect's export hands the tenant its changed users column by column: the same tenant, the same
remembered exports and the same stop at a refused row as the one-upsert-per-user export it replaced
(kept here as the reference). In-process unit tests: the import over LDAP is covered elsewhere."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.clock import SimClock
from fakes.connect.sync import ConnectorObject, SyncEngine, _same_export
from fakes.graph.tenant import Tenant


def _object(n: int, variant: int = 0, upn: int | None = None) -> ConnectorObject:
    name = f"user{n if upn is None else upn}@contoso.com"
    return ConnectorObject(f"anchor{n}==", f"CN=User {n},OU=Staff,DC=contoso,DC=com", f"user{n}", name,
                           f"User {n} v{variant}", f"S-1-5-21-1-2-3-{1000 + n}", variant != 2,
                           name if variant else None, 0, n, "contoso.com")


def _engine(seed: int) -> SyncEngine:
    clock = SimClock()
    return SyncEngine(tenant=Tenant.create(clock=clock, seed=seed), clock=clock, eventlog=None,  # type: ignore[arg-type]
                      config=lambda: None)  # type: ignore[arg-type, return-value]


def _export_reference(engine: SyncEngine, full_domains: set[str]) -> tuple[int, int]:
    """SyncEngine._export before the column path: one upsert per changed user, then deletions."""
    exported = deleted = 0
    for anchor, obj in list(engine.connector_space.items()):
        old = engine._exported.get(anchor)
        if old is None or not _same_export(old, obj):
            engine.tenant.upsert_synced_user(
                immutable_id=anchor, user_principal_name=obj.upn, display_name=obj.display_name,
                sam_account_name=obj.sam_account_name, distinguished_name=obj.dn, security_identifier=obj.sid,
                domain_name=obj.domain, account_enabled=obj.enabled, mail=obj.mail)
            engine._exported[anchor] = obj
            exported += 1
    for anchor in [a for a in engine._exported if a not in engine.connector_space]:
        if engine._exported[anchor].domain.lower() in full_domains:
            try:
                engine.tenant.remove_synced_user(anchor)
            except KeyError:
                pass
            del engine._exported[anchor]
            deleted += 1
    return exported, deleted


def _state(engine: SyncEngine) -> tuple:
    tenant = engine.tenant
    return (list(tenant.users.items()), list(tenant._by_upn.items()), list(tenant._by_anchor.items()),
            tenant._rng.getstate(), list(engine._exported.items()))


def _run(engine: SyncEngine, export, full: bool) -> tuple[tuple[int, int] | None, str | None]:
    try:
        return export(engine, {"contoso.com"} if full else set()), None
    except ValueError as err:
        return None, str(err)


# A cycle's connector space: (user number, display-name variant, UPN number or None for its own),
# one to three cycles in a row, each exported after the one before.
_SPACES = st.lists(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 2), st.none() | st.integers(0, 12)),
                            max_size=20), min_size=1, max_size=3)


@given(seed=st.integers(0, 2**16), cycles=_SPACES, cloud=st.sets(st.integers(0, 12), max_size=2),
       copies=st.booleans(), full=st.booleans())
@settings(max_examples=60, deadline=None)
def test_an_export_equals_one_upsert_per_changed_user(seed: int, cycles: list, cloud: set[int],
                                                      copies: bool, full: bool) -> None:
    """Initial and later exports (new, changed, unchanged and equal-but-rebuilt objects, two objects
    wanting one UPN, a UPN a cloud user holds, users gone on-premises): the same tenant, remembered
    exports, counts or error."""
    one, bulk = _engine(seed), _engine(seed)
    for engine in (one, bulk):
        for n in sorted(cloud):
            engine.tenant.add_user(f"user{n}@contoso.com", f"Cloud user {n}")
    for space in cycles:
        for engine in (one, bulk):
            objects = [_object(*row) for row in space]
            if copies:  # equal objects that are not the ones exported: compared field by field
                objects = [replace(o) for o in objects]
            engine.connector_space = {o.anchor: o for o in objects}
        expected = _run(one, _export_reference, full)
        assert _run(bulk, SyncEngine._export, full) == expected
        assert _state(bulk) == _state(one)
        if expected[1] is not None:
            break


def test_an_initial_export_stops_at_a_refused_user_with_the_users_before_it_exported() -> None:
    engine = _engine(3)
    engine.tenant.add_user("user4@contoso.com", "Cloud user 4")
    engine.connector_space = {o.anchor: o for o in map(_object, range(8))}
    with pytest.raises(ValueError, match=r"'user4@contoso\.com' is used by a cloud object"):
        engine._export(set())
    assert list(engine._exported) == [f"anchor{n}==" for n in range(4)]
    synced = [u.on_premises_immutable_id for u in engine.tenant.users.values() if u.synced]
    assert synced == list(engine._exported)


def test_a_delta_export_sends_only_the_changed_users() -> None:
    engine = _engine(5)
    engine.connector_space = {o.anchor: o for o in map(_object, range(6))}
    assert engine._export(set()) == (6, 0)
    engine.connector_space["anchor2=="] = _object(2, variant=1)
    engine.connector_space["anchor3=="] = replace(engine.connector_space["anchor3=="])  # equal: not sent
    engine.connector_space["anchor9=="] = _object(9)
    assert engine._export(set()) == (2, 0)
    assert engine.tenant.user_by_anchor("anchor2==").display_name == "User 2 v1"
    assert engine._exported["anchor9=="] is engine.connector_space["anchor9=="]
