"""The lab-spec strategies: a spec either builds or is refused with a LabError, never a FaultError."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from simlab.faults import FaultError
from simlab.lab import Lab, LabError
from simlab.spec import LabSpec
from simlab.strategies import lab_specs


def test_a_fault_the_throttled_portal_refuses_fails_the_build_with_a_lab_error():
    spec = LabSpec.model_validate({"faults": ["graph-throttled", "unlock-off"]})
    with pytest.raises(LabError, match=r"'unlock-off' could not be applied: the portal refused the change: "
                                       r"429 .*TooManyRequests") as caught:
        Lab(spec).start()
    assert isinstance(caught.value.__cause__, FaultError)
    # The other order is fine: unlock-off goes through before Graph starts throttling.
    with Lab(LabSpec.model_validate({"faults": ["unlock-off", "graph-throttled"]})) as lab:
        assert lab.applied_faults == ["unlock-off", "graph-throttled"]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=lab_specs(max_users=4, with_faults=True))
def test_every_generated_spec_builds_or_raises_a_lab_error(spec: LabSpec):
    try:
        lab = Lab(spec).start()
    except LabError:
        return
    lab.close()
