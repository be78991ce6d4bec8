"""Shared test fixtures. Protocol tests bind only to 127.0.0.1 with ephemeral ports."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from fakes.clock import SimClock

# Speed is measured in benchmarks/, never asserted: hypothesis's per-example deadline is a
# timing threshold that fails honest properties on a loaded 2-core CI machine.
settings.register_profile("simlab", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("simlab")


@pytest.fixture
def clock() -> SimClock:
    return SimClock()
