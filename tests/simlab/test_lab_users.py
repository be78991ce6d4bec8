"""Lab cloud actions: an admin reset that fails answers like the end-user flow does."""

from __future__ import annotations

from simlab.lab import Lab
from simlab.spec import LabSpec


def test_a_failed_admin_reset_reports_the_sspr_code_and_message():
    spec = LabSpec.model_validate({"tenant": {"writeback": False}})
    with Lab(spec) as lab:
        attempt = lab.admin_reset("alice", "Adm1n-Reset-Passw0rd!")
        assert not attempt.ok
        assert attempt.code == "SSPR_0010"
        assert attempt.reason == "WritebackNotEnabled"
        assert attempt.message.startswith("SSPR_0010: We've detected that password writeback hasn't")
        # The same gate in the end-user flow gives the same answer.
        assert lab.sspr_reset("alice", "Us3r-Reset-Passw0rd!").code == attempt.code
