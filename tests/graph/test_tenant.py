"""Tenant model: determinism, users, synced users, roles, licences, writeback onboarding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakes.clock import SimClock
from fakes.graph import catalog as C
from fakes.graph.errors import (
    WRITEBACK_LICENCE_MESSAGE,
    TenantAuthError,
    TenantLicenceError,
    TenantPermissionError,
)
from fakes.graph.tenant import Tenant, meets_cloud_policy
from tests.graph.conftest import add_synced


def test_same_seed_same_ids_different_seed_different_ids():
    a, b, c = (Tenant.create(seed=s) for s in (3, 3, 4))
    ua, ub, uc = (t.add_user("x@contoso.com", "X") for t in (a, b, c))
    assert a.id == b.id and ua.id == ub.id
    assert a.id != c.id and ua.id != uc.id


def test_create_has_cloud_only_global_admin_with_known_password(tenant: Tenant):
    admin = tenant.authenticate(tenant.admin_upn, tenant.admin_password)
    assert admin.user_principal_name == "admin@contoso.onmicrosoft.com"
    assert admin.on_premises_sync_enabled is None
    assert tenant.has_role(admin, C.GLOBAL_ADMINISTRATOR)


def test_authenticate_rejects_wrong_password_and_disabled_user(tenant: Tenant):
    tenant.add_user("d@contoso.com", "D", password="Right-Passw0rd", account_enabled=False)
    with pytest.raises(TenantAuthError, match=r"Error getting auth token\."):
        tenant.authenticate(tenant.admin_upn, "wrong")
    with pytest.raises(TenantAuthError):
        tenant.authenticate("d@contoso.com", "Right-Passw0rd")


def test_add_user_refuses_unverified_domain_and_duplicates(tenant: Tenant):
    with pytest.raises(ValueError, match="verified domain"):
        tenant.add_user("x@fabrikam.com", "X")
    tenant.add_user("x@contoso.com", "X")
    with pytest.raises(ValueError, match="already exists"):
        tenant.add_user("X@CONTOSO.COM", "X again")


def test_roles_by_name_or_template(tenant: Tenant):
    u = tenant.add_user("h@contoso.com", "H", roles=("Hybrid Identity Administrator",))
    tenant.assign_role(u, C.PASSWORD_ADMINISTRATOR)
    assert tenant.roles_of(u) == {C.HYBRID_IDENTITY_ADMINISTRATOR, C.PASSWORD_ADMINISTRATOR}
    with pytest.raises(ValueError):
        tenant.assign_role(u, "Supreme Leader")


def test_upsert_synced_user_creates_then_updates_by_anchor(tenant: Tenant, clock: SimClock):
    first = add_synced(tenant)
    assert first.on_premises_sync_enabled is True
    assert first.on_premises_last_sync == clock.now()
    clock.advance(minutes=30)
    again = tenant.upsert_synced_user(
        immutable_id="anchor-sam==",
        user_principal_name="sam@contoso.com",
        display_name="Sam Renamed",
        sam_account_name="sam",
        distinguished_name="CN=Sam,OU=Moved,DC=contoso,DC=com",
        security_identifier="S-1-5-21-1-2-3-1105",
        domain_name="contoso.com",
        account_enabled=False,
    )
    assert again.id == first.id
    assert again.display_name == "Sam Renamed" and again.account_enabled is False
    assert again.on_premises_last_sync == clock.now()
    tenant.remove_synced_user("anchor-sam==")
    assert tenant.get_user("sam@contoso.com") is None


def test_mark_directory_synced_sets_org_state(tenant: Tenant, clock: SimClock):
    assert tenant.on_premises_sync_enabled is None
    clock.advance(hours=1)
    tenant.mark_directory_synced()
    assert tenant.on_premises_sync_enabled is True and tenant.on_premises_last_sync == clock.now()


def test_password_hash_sync_lets_synced_user_sign_in(tenant: Tenant):
    add_synced(tenant)
    with pytest.raises(TenantAuthError):
        tenant.authenticate("sam@contoso.com", "OnPrem-Passw0rd")
    tenant.set_password_hash("anchor-sam==", "OnPrem-Passw0rd")
    assert tenant.authenticate("sam@contoso.com", "OnPrem-Passw0rd").on_premises_sam_account_name == "sam"


def test_onboarding_needs_admin_role(tenant: Tenant):
    tenant.add_user("plain@contoso.com", "Plain", password="Plain-Passw0rd")
    with pytest.raises(TenantPermissionError, match=r"Error getting auth token\."):
        tenant.onboard_password_writeback("plain@contoso.com", "Plain-Passw0rd")
    with pytest.raises(TenantAuthError):
        tenant.onboard_password_writeback(tenant.admin_upn, "nope")
    assert tenant.onprem.writeback_supported is False


def test_onboarding_by_hybrid_identity_admin_and_offboarding(tenant: Tenant):
    tenant.add_user(
        "hia@contoso.com", "HIA", password="Hia-Passw0rd!", roles=(C.HYBRID_IDENTITY_ADMINISTRATOR,)
    )
    tenant.onboard_password_writeback("hia@contoso.com", "Hia-Passw0rd!")
    assert tenant.onprem.writeback_supported and tenant.onprem.onboarded_by == "hia@contoso.com"
    tenant.set_onprem(writeback_enabled=True)
    tenant.offboard_password_writeback("hia@contoso.com", "Hia-Passw0rd!")
    assert not tenant.onprem.writeback_supported and not tenant.onprem.writeback_enabled


def test_onboarding_without_licence_fails_with_connect_message():
    t = Tenant.create(licence="none")
    with pytest.raises(TenantLicenceError) as exc:
        t.onboard_password_writeback(t.admin_upn, t.admin_password)
    assert str(exc.value) == WRITEBACK_LICENCE_MESSAGE
    assert t.subscribed_skus() == []


@pytest.mark.parametrize("licence,parts", [("P1", {"AAD_PREMIUM"}), ("P2", {"AAD_PREMIUM_P2"})])
def test_licences_map_to_skus(licence, parts):
    t = Tenant.create(licence=licence)
    assert {s.sku_part_number for s in t.subscribed_skus()} == parts
    plans = {p for s in t.subscribed_skus() for p, _ in s.service_plans}
    assert C.AAD_PREMIUM_PLAN in plans


def test_invalid_licence_rejected():
    with pytest.raises(ValueError):
        Tenant.create(licence="E5")


@given(st.text(min_size=0, max_size=40))
def test_cloud_policy_property(pw: str):
    classes = sum(
        [
            any(c.islower() for c in pw),
            any(c.isupper() for c in pw),
            any(c.isdigit() for c in pw),
            any(not c.isalnum() for c in pw),
        ]
    )
    assert meets_cloud_policy(pw) == (8 <= len(pw) <= 256 and classes >= 3)
