"""A population drawn in the helper process is the population drawn here: same users, GUIDs,
descriptors, and the DC's RNG in the same state after."""

from __future__ import annotations

import hashlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes import forked
from fakes.ad import population
from fakes.ad.provision import provision
from fakes.clock import SimClock

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def _lab(monkeypatch: pytest.MonkeyPatch, helper: str, seed: int, users: int) -> tuple[str, object]:
    monkeypatch.setenv("SIMLAB_POPULATION_HELPER", helper)
    dc = provision(seed=seed, users=users, clock=SimClock())
    digest = hashlib.sha256()
    for e in dc.directory.walk():
        digest.update(repr((e.dn, e.guid, sorted(e.attrs.items()), e.sd, e.object_class)).encode())
    return digest.hexdigest(), dc.rng.getstate()


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32), users=st.sampled_from([1, 7, 250]))
def test_the_helper_draws_the_same_population(seed: int, users: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        assert _lab(patch, "1", seed, users) == _lab(patch, "0", seed, users)


def test_a_helper_that_dies_fails_the_build_clearly(monkeypatch: pytest.MonkeyPatch,
                                                    forks: list[int]) -> None:
    real, parent = population._rows, os.getpid()

    def rows(*args):
        for i, row in enumerate(real(*args)):
            if i == 100 and os.getpid() != parent:
                os._exit(3)
            yield row

    monkeypatch.setattr(population, "_rows", rows)
    monkeypatch.setenv("SIMLAB_POPULATION_HELPER", "1")
    with pytest.raises(forked.ForkedError, match="drawing the population: the helper process exited with "
                                                 "status 3 before it finished"):
        provision(seed=1, users=300, clock=SimClock())
    assert len(forks) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[0], os.WNOHANG)  # already reaped


def test_without_a_process_to_spare_the_rows_are_drawn_here(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _lab(monkeypatch, "0", 3, 120)

    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    assert _lab(monkeypatch, "1", 3, 120) == expected


def test_the_caller_works_while_the_helper_starts_and_faker_loads_only_there() -> None:
    """population_started runs once, before any user exists (a lab serves its DC then), and with
    the helper this process never loads Faker: the child does, while the caller works."""
    code = """
import json, os, sys
os.environ["SIMLAB_POPULATION_HELPER"] = "1"
from fakes.ad.provision import provision
from fakes.clock import SimClock
seen = []
dc = provision(seed=3, users=40, clock=SimClock(),
               population_started=lambda dc: seen.append((len(dc.directory), "faker" in sys.modules)))
users = sum(1 for e in dc.directory.walk() if e.object_class == "user")
print(json.dumps({"seen": seen, "size": len(dc.directory), "users": users, "faker": "faker" in sys.modules}))
"""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    got = json.loads(out.stdout)
    (size_then, faker_then), = got["seen"]
    assert size_then < got["size"] - 40 and got["users"] >= 40  # before the 40 users were made
    assert not faker_then and not got["faker"]
