"""Shared test fixtures. Protocol tests bind only to 127.0.0.1 with ephemeral ports.

``@pytest.mark.needs_tool("ldapsearch", ...)`` skips a test when a command is not on PATH, with
a reason naming the Debian package that provides it (from tests/system-packages.txt, the one
list ./run-tests installs from).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from fakes.clock import SimClock

# Speed is measured in benchmarks/, never asserted: hypothesis's per-example deadline is a
# timing threshold that fails honest properties on a loaded 2-core CI machine.
settings.register_profile("simlab", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("simlab")

SYSTEM_PACKAGES = Path(__file__).with_name("system-packages.txt")


def tool_packages(path: Path = SYSTEM_PACKAGES) -> dict[str, str]:
    """command -> Debian package, from the system package list."""
    packages: dict[str, str] = {}
    for line in path.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        for command in fields[1:]:
            packages[command] = fields[0]
    return packages


def missing_tools(tools: tuple[str, ...] | list[str]) -> str:
    """Which of the commands are not on PATH and how to get them ("" when all are there)."""
    missing = [t for t in tools if shutil.which(t) is None]
    packages = tool_packages()
    needed = sorted({packages.get(t, t) for t in missing})
    return f"{', '.join(missing)} (apt-get install {' '.join(needed)})" if missing else ""


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # tryfirst: skip before any fixture builds a lab for a test that cannot run anyway.
    for marker in item.iter_markers("needs_tool"):
        missing = missing_tools(marker.args)
        if missing:
            pytest.skip(f"not installed: {missing}")


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the children the test's code forks (``os.fork`` spied on, in the parent)."""
    pids: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return pids
