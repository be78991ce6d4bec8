"""The fault catalogue is documented, parameter-checked, and each fault shows its symptom."""

import pytest

from simlab.faults import FAULTS, FaultError, apply_fault
from simlab.lab import Lab
from simlab.spec import LabSpec

SMALL = LabSpec(population={"users": 8})


def test_catalogue_covers_the_issue_list_and_is_documented():
    required = {
        "missing-reset",
        "missing-change",
        "missing-wp-lockouttime",
        "missing-wp-pwdlastset",
        "missing-unexpire",
        "unexpire-wrong-scope",
        "reset-wrong-scope",
        "inheritance-disabled",
        "protected-user",
        "explicit-deny",
        "min-password-age",
        "password-policy-conflict",
        "writeback-off-connect",
        "writeback-off-portal",
        "unlock-off",
        "cloud-sync-writeback-without-agent",
        "no-licence",
        "admin-lacks-role",
        "connect-service-stopped",
        "connector-password-expired",
        "connector-locked",
        "user-not-synced",
        "cloud-only-user",
        "user-outside-ou-filter",
        "staging-mode",
        "graph-throttled",
    }
    assert required <= set(FAULTS)
    for fault in FAULTS.values():
        assert fault.description and fault.fix and fault.symptom.text, fault.name


def test_unknown_fault_and_unknown_params_are_errors():
    with Lab(SMALL) as lab:
        with pytest.raises(FaultError, match="unknown fault"):
            apply_fault(lab, "no-such-fault")
        with pytest.raises(FaultError, match="takes"):
            apply_fault(lab, "missing-reset", user="alice")


def test_min_password_age_waits_for_the_gpo_refresh():
    with Lab(SMALL) as lab:
        apply_fault(lab, "min-password-age")
        assert lab.gpo.pending
        assert lab.sspr_reset("alice", "Fresh-Passw0rd-2026!").ok  # old policy still in force
        fired = lab.advance(minutes=5)
        assert "GPO refresh" in fired and not lab.gpo.pending
        attempt = lab.sspr_reset("alice", "Other-Passw0rd-2026!")
        assert (attempt.ok, attempt.code) == (False, "PasswordPolicyViolation")


@pytest.mark.parametrize("name", ["missing-reset", "inheritance-disabled", "connect-service-stopped"])
def test_a_fault_breaks_only_what_it_should(name):
    """bob is untouched by per-user faults on alice; lab-wide faults hit him too."""
    with Lab(SMALL, apply_faults=False) as lab:
        apply_fault(lab, name)
        alice = lab.sspr_reset("alice", "Fresh-Passw0rd-2026!")
        bob = lab.sspr_reset("bob", "Fresh-Passw0rd-2026!")
        assert not alice.ok
        assert bob.ok == FAULTS[name].per_user


def test_docs_faults_md_is_the_generated_catalogue():
    from pathlib import Path

    from simlab.faults import catalogue_markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "faults.md"
    assert doc.read_text() == catalogue_markdown(), "regenerate: simlab faults --markdown > docs/faults.md"


def test_a_lab_without_seeded_users_still_has_its_named_users_and_logs_graph_requests():
    from simlab import portal

    with Lab(LabSpec(population={"users": 0})) as lab:
        assert lab.sspr_reset("alice", "Fresh-Passw0rd-2026!").ok
        assert lab.connect.view_configuration()["Synchronized directories"][0]["Account type"] == "Custom"
        portal.get_onprem_policies(lab.tenant)
        assert lab.oplog.query(protocol="graph", op="GET")[-1].target.endswith(
            "OnPremisesPasswordResetPolicies"
        )


@pytest.mark.parametrize("auditing", [False, True])
def test_dacl_edits_reach_the_security_log_only_with_ds_auditing(auditing: bool):
    spec = LabSpec(population={"users": 3}, audit={"directory_service_changes": auditing})
    with Lab(spec) as lab:
        mark = lab.dc.security_log.last_record_id()
        apply_fault(lab, "missing-reset")
        ids = [e.event_id for e in lab.dc.security_log.query(after_record=mark)]
        assert (5136 in ids) is auditing


def test_a_fault_whose_sync_cycle_cannot_run_is_a_clear_error():
    # The connector account is locked out, so the wizard's closing sync of user-outside-ou-filter
    # is refused with the Windows 775 bind error: a FaultError on a running lab, a LabError for a spec.
    from simlab.lab import LabError

    spec = LabSpec(population={"users": 0}, faults=[{"name": "connector-locked"}])
    with Lab(spec) as lab:
        with pytest.raises(FaultError, match=r"user-outside-ou-filter.*sync cycle it runs failed.*775"):
            apply_fault(lab, "user-outside-ou-filter")
        assert "user-outside-ou-filter" not in lab.applied_faults
    both = LabSpec(population={"users": 0},
                   faults=[{"name": "connector-locked"}, {"name": "user-outside-ou-filter"}])
    with pytest.raises(LabError, match=r"faults: 'user-outside-ou-filter' could not be applied"):
        Lab(both).start()


def test_a_fault_ending_with_a_sync_cycle_on_a_stopped_service_is_a_clear_error():
    # (hypothesis found it: the spec order stopped the service first; the cycle raised RuntimeError)
    from simlab.lab import LabError

    stopped_first = LabSpec(population={"users": 0}, faults=[{"name": "connect-service-stopped"},
                                                              {"name": "user-outside-ou-filter"}])
    with pytest.raises(LabError, match=r"'user-outside-ou-filter'.*ADSync service is stopped.*after it"):
        Lab(stopped_first).start()
    with Lab(stopped_first.model_copy(update={"faults": stopped_first.faults[::-1]})) as lab:
        assert lab.applied_faults == ["user-outside-ou-filter", "connect-service-stopped"]
        assert not lab.connect.service_running
