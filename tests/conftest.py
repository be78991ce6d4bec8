"""Shared test fixtures. Protocol tests bind only to 127.0.0.1 with ephemeral ports."""

from __future__ import annotations

import pytest

from fakes.clock import SimClock


@pytest.fixture
def clock() -> SimClock:
    return SimClock()
