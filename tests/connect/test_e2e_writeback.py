"""End to end: tenant SSPR -> relay -> Connect agent -> LDAPS -> fake DC, and FACTS 9's fault rows.

Each fault is applied as an admin would (LDAP DACL/policy edits, Connect settings, tenant
toggles) and the test asserts the Connect events, the SSPR code and the audit entry.
"""

from __future__ import annotations

import uuid

import pytest

pytest.importorskip("fakes.ad.provision", reason="the DC provisioning module has not landed yet")

from fakes.ad.provision import DEFAULT_USER_PASSWORD
from fakes.ad.security.descriptor import Ace
from fakes.connect.adsyncconfig import (
    get_objects_with_inheritance_disabled,
    set_password_writeback_permissions,
)
from fakes.graph.errors import SsprError
from tests.connect.lab import pick_user, served_lab

RESET = uuid.UUID("00299570-246d-11d0-a768-00aa006e0529")
UNEXPIRE = uuid.UUID("ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501")
LOCKOUT_TIME = uuid.UUID("28630ebf-41d5-11d1-a9c1-0000f80367c1")
PWD_LAST_SET = uuid.UUID("bf967a0a-0de6-11d0-a285-00aa003049e2")
DENY_OBJECT, CR, WP = 0x06, 0x100, 0x20
NEW = "Wr1teback-Passw0rd!"
RESET_SELF = "Reset password (self-service)"


@pytest.fixture
def lab():
    with served_lab() as lab:
        yield lab


def connector_sid(lab) -> str:
    return lab.sid_of(lab.ep.connector_dn)


def deny(lab, dn: str, mask: int, guid: uuid.UUID) -> None:
    sid = connector_sid(lab)
    lab.edit_dacl(dn, lambda aces: [Ace(DENY_OBJECT, 0, mask, sid, guid), *aces])


def expect_failure(lab, upn: str, code: str, *, unlock: bool = False) -> None:
    with pytest.raises(SsprError) as info:
        lab.sspr_reset(upn, NEW, unlock=unlock)
    assert info.value.code == code
    entry = lab.last_audit(upn)
    assert entry.activity_display_name == RESET_SELF and entry.result == "failure"


def test_healthy_reset_binds_with_new_password_only(lab) -> None:
    upn, dn = pick_user(lab)
    old = DEFAULT_USER_PASSWORD
    assert lab.can_bind(dn, old)
    mark = lab.server.eventlog.last_record_id()
    lab.sspr_reset(upn, NEW)
    assert lab.events(mark) == [31001, 31002]
    assert lab.can_bind(dn, NEW)
    assert not lab.can_bind(dn, old)
    entry = lab.last_audit(upn)
    assert entry.activity_display_name == RESET_SELF and entry.result == "success"
    assert ("OnPremisesAgent", "Microsoft Entra Connect") in entry.additional_details
    assert lab.read(dn, "pwdLastSet")["pwdLastSet"][0] != b"0"  # unexpired, not "must change"


def test_unlock_clears_lockout_time(lab) -> None:
    upn, dn = pick_user(lab)
    lab.modify(lab.ep.base_dn, lockoutThreshold=3)
    for _ in range(4):
        assert not lab.can_bind(dn, "definitely-wrong-1A!")
    assert int(lab.read(dn, "lockoutTime")["lockoutTime"][0]) > 0
    mark = lab.server.eventlog.last_record_id()
    lab.sspr_unlock(upn)
    assert lab.events(mark) == [31001, 31002]
    assert lab.read(dn, "lockoutTime")["lockoutTime"][0] == b"0"


def test_missing_reset_right_is_33004_and_sspr_0029(lab) -> None:
    upn, dn = pick_user(lab)
    deny(lab, dn, CR, RESET)
    mark = lab.server.eventlog.last_record_id()
    expect_failure(lab, upn, "SSPR_0029")
    assert lab.events(mark) == [31001, 6329, 33004, 31003]
    assert not lab.can_bind(dn, NEW)


def test_missing_write_lockout_time_breaks_unlock(lab) -> None:
    upn, dn = pick_user(lab)
    deny(lab, dn, WP, LOCKOUT_TIME)
    mark = lab.server.eventlog.last_record_id()
    with pytest.raises(SsprError) as info:
        lab.sspr_unlock(upn)
    assert info.value.code == "SSPR_0029"
    assert lab.events(mark) == [31001, 33004, 31003]
    assert lab.last_audit(upn).activity_display_name == "Unlock user account (self-service)"


def test_missing_write_pwd_last_set_is_33004(lab) -> None:
    upn, dn = pick_user(lab)
    deny(lab, dn, WP, PWD_LAST_SET)
    mark = lab.server.eventlog.last_record_id()
    expect_failure(lab, upn, "SSPR_0029")
    assert lab.events(mark) == [31001, 33004, 31003]


def test_unexpire_removed_from_domain_root_is_33004(lab) -> None:
    upn, _ = pick_user(lab)
    lab.edit_dacl(lab.ep.base_dn, lambda aces: [a for a in aces if a.object_type != UNEXPIRE])
    mark = lab.server.eventlog.last_record_id()
    expect_failure(lab, upn, "SSPR_0029")
    assert lab.events(mark) == [31001, 33004, 31003]


def test_inheritance_disabled_on_the_ou_is_33004_and_listed(lab) -> None:
    upn, dn = pick_user(lab)
    ou = dn.split(",", 1)[1]
    lab.edit_dacl(ou, lambda aces: aces, protect=True)
    admin = lab.admin()
    assert ou in get_objects_with_inheritance_disabled(admin, lab.ep.base_dn)
    mark = lab.server.eventlog.last_record_id()
    expect_failure(lab, upn, "SSPR_0029")
    assert 33004 in lab.events(mark)


def test_protected_user_after_sdprop_is_33004_admin_count(lab) -> None:
    lab.clock.advance(minutes=61)  # SDProp stamps AdminSDHolder's DACL on protected users
    upn, _ = pick_user(lab, protected=True)
    mark = lab.server.eventlog.last_record_id()
    expect_failure(lab, upn, "SSPR_0029")
    assert lab.events(mark)[-2:] == [33004, 31003]
    assert "AdminCount is set to 1" in lab.server.eventlog.query(event_ids=[33004])[-1].message


def test_min_password_age_is_policy_violation_33008(lab) -> None:
    upn, dn = pick_user(lab)
    lab.modify(lab.ep.base_dn, minPwdAge=-864000000000)  # 1 day, the GPO default
    lab.sspr_reset(upn, NEW)  # the first reset of the day works...
    mark = lab.server.eventlog.last_record_id()
    with pytest.raises(SsprError) as info:
        lab.sspr_reset(upn, "Second-Passw0rd!")  # ...the second within a day does not
    assert info.value.code == "PasswordPolicyViolation"
    assert lab.events(mark) == [31001, 6329, 33008, 31003]
    assert "0x80230619" in lab.server.eventlog.query(event_ids=[6329])[-1].message
    assert lab.last_audit(upn).result == "failure"
    assert lab.can_bind(dn, NEW)
    lab.clock.advance(days=1, minutes=1)
    lab.sspr_reset(upn, "Second-Passw0rd!")


def test_complexity_failure_is_33008(lab) -> None:
    upn, _ = pick_user(lab)
    mark = lab.server.eventlog.last_record_id()
    with pytest.raises(SsprError):
        lab.sspr_reset(upn, "simplesimple")
    assert 33008 in lab.events(mark)


def test_service_stopped_is_31016_and_sspr_0030(lab) -> None:
    upn, _ = pick_user(lab)
    lab.server.stop_service()
    assert lab.events()[-1] == 31016
    with pytest.raises(SsprError) as info:
        lab.sspr_reset(upn, NEW)
    assert info.value.code == "SSPR_0030"
    lab.server.start_service()
    assert lab.events()[-1] == 31015
    lab.sspr_reset(upn, NEW)


def test_writeback_disabled_in_connect_is_sspr_0010(lab) -> None:
    upn, _ = pick_user(lab)
    lab.server.disable_password_writeback(lab.tenant.admin_upn, lab.tenant.admin_password)
    with pytest.raises(SsprError) as info:
        lab.sspr_reset(upn, NEW)
    assert info.value.code == "SSPR_0010"


def test_sign_and_encrypt_off_is_hr_8023062c(lab) -> None:
    upn, _ = pick_user(lab)
    lab.server.update_directory("contoso.com", sign_and_encrypt=False)
    mark = lab.server.eventlog.last_record_id()
    expect_failure(lab, upn, "SSPR_0029")
    assert lab.events(mark) == [31001, 6329, 33009, 31003]
    assert "8023062C" in lab.server.eventlog.query(event_ids=[6329])[-1].message


def test_user_deleted_on_prem_is_33002(lab) -> None:
    upn, dn = pick_user(lab)
    admin = lab.admin()
    assert admin.delete(dn), admin.result
    mark = lab.server.eventlog.last_record_id()
    expect_failure(lab, upn, "SSPR_0029")
    assert lab.events(mark) == [31001, 33002, 31003]


def test_connector_password_changed_is_bind_failure(lab) -> None:
    upn, _ = pick_user(lab)
    lab.server.writeback.close()
    lab.server.update_directory(
        "contoso.com",
        connector=lab.server.config.directories[0].connector.__class__(
            **{**_fields(lab.server.config.directories[0].connector), "password": "stale-Passw0rd!"}
        ),
    )
    mark = lab.server.eventlog.last_record_id()
    expect_failure(lab, upn, "SSPR_0029")
    assert lab.events(mark) == [31001, 33009, 31003]


def test_a_changed_connector_password_drops_the_cached_connection(lab) -> None:
    # The agent keeps its bound connection between writebacks; once the connector's settings
    # change, that connection is stale and must be closed, not left open beside the new one.
    upn, _ = pick_user(lab)
    lab.sspr_reset(upn, NEW)
    cached = list(lab.server.writeback._conns.values())
    assert cached and all(not conn.closed for conn in cached)
    lab.server.update_directory(
        "contoso.com",
        connector=lab.server.config.directories[0].connector.__class__(
            **{**_fields(lab.server.config.directories[0].connector), "password": "stale-Passw0rd!"}
        ),
    )
    expect_failure(lab, upn, "SSPR_0029")
    assert all(conn.closed for conn in cached)
    assert not lab.server.writeback._conns  # the refused one is not kept either


def test_adsync_permissions_cmdlet_fixes_a_lab_without_rights(lab) -> None:
    upn, dn = pick_user(lab)
    sid = connector_sid(lab)
    # An admin strips the connector account's ACEs from the domain root (a "custom account" lab).
    lab.edit_dacl(lab.ep.base_dn, lambda aces: [a for a in aces if a.sid != sid])
    expect_failure(lab, upn, "SSPR_0029")
    admin = lab.admin()
    grants = set_password_writeback_permissions(
        admin,
        base_dn=lab.ep.base_dn,
        account=f"{lab.dc.netbios_name}\\{lab.ep.connector_dn.split(',')[0][3:]}",
    )
    assert grants[0].added == 3
    again = set_password_writeback_permissions(admin, base_dn=lab.ep.base_dn, account=lab.ep.connector_dn)
    assert again[0].added == 0  # idempotent, like dsacls re-granting
    lab.sspr_reset(upn, NEW)
    assert lab.can_bind(dn, NEW)


def test_manual_aduc_grant_fixes_it_too(lab) -> None:
    rights = pytest.importorskip("fakes.ad.rights")
    upn, dn = pick_user(lab)
    sid = connector_sid(lab)
    lab.edit_dacl(lab.ep.base_dn, lambda aces: [a for a in aces if a.sid != sid])
    expect_failure(lab, upn, "SSPR_0029")
    d = rights.AppliesTo.DESCENDANT_CLASS
    grant = [
        rights.make_ace(sid, right="Reset Password", applies_to=d, descendant_class="user"),
        rights.make_ace(sid, write_property="lockoutTime", applies_to=d, descendant_class="user"),
        rights.make_ace(sid, write_property="pwdLastSet", applies_to=d, descendant_class="user"),
        rights.make_ace(
            sid, right="Unexpire Password", applies_to=rights.AppliesTo.THIS_OBJECT_AND_DESCENDANTS
        ),
    ]
    lab.edit_dacl(lab.ep.base_dn, lambda aces: [*aces, *grant])
    lab.sspr_reset(upn, NEW)
    assert lab.can_bind(dn, NEW)


def _fields(obj) -> dict:
    return {f: getattr(obj, f) for f in obj.__slots__}


def test_ou_filter_limits_what_sync_exports(lab) -> None:
    _, dn = pick_user(lab)
    ou = dn.split(",", 1)[1]
    lab.server.update_directory("contoso.com", ou_filter=(ou,))
    report = lab.server.run_sync_cycle("Initial")
    synced = [u for u in lab.tenant.users.values() if u.synced]
    assert synced and report.deleted > 0
    assert all(u.on_premises_distinguished_name.lower().endswith(ou.lower()) for u in synced)


def test_enabling_writeback_resyncs_every_hash_next_cycle(lab) -> None:
    lab.server.disable_password_writeback(lab.tenant.admin_upn, lab.tenant.admin_password)
    lab.server.run_sync_cycle("Delta")
    mark = lab.server.eventlog.last_record_id()
    lab.server.enable_password_writeback(lab.tenant.admin_upn, lab.tenant.admin_password)
    lab.clock.advance(minutes=30)  # the scheduler's delta cycle
    synced = sum(1 for u in lab.tenant.users.values() if u.synced)
    assert lab.events(mark).count(656) == synced == lab.events(mark).count(657)


def test_phs_carries_a_written_back_password_to_the_cloud(lab) -> None:
    upn, _ = pick_user(lab)
    lab.sspr_reset(upn, NEW)
    lab.clock.advance(minutes=30)
    user = lab.tenant.get_user(upn)
    assert lab.tenant.check_password(user.id, NEW)
