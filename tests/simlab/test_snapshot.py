"""Lab snapshots: restore undoes faults, SSPR resets and log growth without rebuilding the lab."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from simlab.faults import apply_fault
from simlab.lab import Lab
from simlab.snapshot import SnapshotError
from simlab.spec import LabSpec

FAULTS = [
    ("missing-reset", {}),
    ("inheritance-disabled", {"user": "bob", "target": "ou"}),
    ("protected-user", {"user": "alice"}),
    ("min-password-age", {"days": 2}),
    ("connector-password-changed", {}),
    ("connect-service-stopped", {}),
    ("staging-mode", {}),
    ("writeback-off-portal", {}),
    ("cloud-only-user", {"user": "carol"}),
    ("no-licence", {}),
]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(LabSpec(seed=21, population={"users": 30})) as built:
        yield built


def _observable(lab: Lab) -> dict[str, object]:
    """What an admin or a test could see, without peeking at snapshot internals."""
    dc, tenant, connect = lab.dc, lab.tenant, lab.connect
    return {
        "ldif": lab.save_ldif(lab.workdir / "state.ldif").read_bytes(),
        "root_sd": dc.root().sd,
        "alice_sd": dc.directory.get(lab.user("alice").dn).sd,
        "counters": (dc.usn, dc.next_rid),
        "attr_stamps": dc.attr_stamps.state(),  # what DirSync returns as changed
        "tenant_users": sorted((u.id, u.user_principal_name) for u in tenant.users.values()),
        "licence": tenant.licence,
        "onprem": tenant.onprem,
        "sspr_policy": tenant.sspr_policy,
        "audit": [(a.id, a.activity_display_name) for a in tenant.audit],
        "events": [(e.record_id, e.event_id) for e in connect.eventlog],
        "security_log": len(dc.security_log),
        "oplog": len(lab.oplog),
        "connect": (connect.config, connect.service_running),
        "gpo": (lab.gpo.settings, lab.gpo.applied),
        "faults": list(lab.applied_faults),
        "flows": sorted(tenant.sspr_flows),
    }


def _script(lab: Lab, tag: str) -> list[object]:
    """A run of actions whose every outcome depends on the state (ids, SIDs, GUIDs, codes)."""
    out: list[object] = [lab.sspr_reset("alice", f"Reset-{tag}-Passw0rd!")]
    user = lab.create_user(f"zed{tag}", display_name="Zed Zulu")
    entry = lab.dc.directory.get(user.dn)
    out += [entry.guid, entry.attrs["objectsid"], lab.admin_reset("bob", f"Admin-{tag}-Passw0rd!")]
    out.append([a.id for a in lab.tenant.audit][-3:])
    return out


def test_restore_undoes_faults_resets_and_logs(lab: Lab):
    before = _observable(lab)
    snap = lab.snapshot()
    assert lab.sspr_reset("alice", "First-Passw0rd!1").ok
    for name, params in FAULTS:
        apply_fault(lab, name, **params)
    lab.advance(minutes=61)  # SDProp stamps alice, the GPO's minimum age lands
    assert lab.sspr_reset("alice", "Second-Passw0rd!2").code is not None
    changed = _observable(lab)
    assert all(changed[k] != before[k] for k in ("ldif", "root_sd", "tenant_users", "licence", "connect",
                                                  "events", "audit", "faults"))
    clock = lab.clock.now()
    lab.restore(snap)
    assert _observable(lab) == before
    assert lab.clock.now() == clock  # time never goes back
    # The lab behaves as before: writeback reaches AD as the restored connector account again.
    assert lab.sspr_reset("alice", "First-Passw0rd!1").ok  # history restored too: the password is new again
    assert lab.bind("alice", "First-Passw0rd!1").ok
    assert lab.tenant.get_user(f"carol@{lab.spec.domain.dns}") is None  # the cloud-only account is gone
    lab.restore(snap)


def test_a_snapshot_restores_again_and_replays_deterministically(lab: Lab):
    snap = lab.snapshot()
    mark = lab.oplog.mark()
    first = _script(lab, "a")
    after_first = _observable(lab)
    ops_first = Counter((o.op, o.actor, o.target, o.result) for o in lab.oplog.query(after=mark))
    lab.restore(snap)
    assert _script(lab, "a") == first  # same GUIDs, SIDs, tenant ids, outcomes
    # Restore closed the agent's LDAP connection, so both runs bind afresh: the same requests each time.
    assert Counter((o.op, o.actor, o.target, o.result) for o in lab.oplog.query(after=mark)) == ops_first
    assert _observable(lab) == after_first
    lab.restore(snap)
    assert lab.dc.directory.lookup("samaccountname", "zeda") == []


def test_restore_brings_back_a_broken_state_too(lab: Lab):
    base = lab.snapshot()
    apply_fault(lab, "connect-service-stopped")
    broken = lab.snapshot()
    code = lab.sspr_reset("alice", "Broken-Passw0rd!1").code
    assert code is not None
    lab.connect.start_service()
    assert lab.sspr_reset("alice", "Fixed-Passw0rd!2").ok
    lab.restore(broken)
    assert not lab.connect.service_running
    assert lab.sspr_reset("alice", "Broken-Passw0rd!1").code == code
    lab.restore(base)
    assert lab.connect.service_running and lab.sspr_reset("alice", "Fixed-Passw0rd!2").ok
    lab.restore(base)


def test_timers_stay_armed_after_restore(lab: Lab):
    snap = lab.snapshot()
    runs = lab.dc.sdprop.runs
    lab.advance(minutes=60)
    assert lab.dc.sdprop.runs == runs + 1
    lab.restore(snap)
    assert lab.dc.sdprop.runs == runs
    apply_fault(lab, "protected-user", user="bob")
    lab.advance(minutes=60)  # SDProp still runs on the clock after a restore
    assert lab.dc.directory.get(lab.user("bob").dn).attrs.get("admincount") == ["1"]
    lab.restore(snap)
    assert "admincount" not in lab.dc.directory.get(lab.user("bob").dn).attrs


def test_snapshots_only_fit_the_lab_they_came_from(lab: Lab):
    with Lab(LabSpec(seed=22, population={"users": 1})) as other:
        with pytest.raises(SnapshotError, match="another lab"):
            other.restore(lab.snapshot())
        snap = other.snapshot()
        other.reset()
        with pytest.raises(SnapshotError, match="reset"):
            other.restore(snap)
