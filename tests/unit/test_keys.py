"""fakes.keys: signing keys made ahead on a thread are handed over once, and fork waits for them."""

from __future__ import annotations

import threading

import pytest

from fakes import keys


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[threading.Thread]:
    """keys._generate records the thread it runs on (and makes a real key)."""
    threads: list[threading.Thread] = []
    real = keys._generate

    def generate():
        threads.append(threading.current_thread())
        return real()

    monkeypatch.setattr(keys, "_generate", generate)
    monkeypatch.setattr(keys, "_ready", [])
    monkeypatch.setattr(keys, "_worker", None)
    return threads


def test_a_prepared_key_is_made_on_a_thread_and_taken_once(counted: list[threading.Thread]) -> None:
    keys.prepare()
    keys.prepare()  # already being made: no second thread
    first = keys.take()
    assert [t.name for t in counted] == ["simlab-keygen"]
    second = keys.take()  # nothing prepared any more: made now, on this thread
    assert counted[1] is threading.current_thread()
    assert first.key_size == second.key_size == 2048
    assert first.private_numbers() != second.private_numbers()


def test_settle_waits_for_the_key_being_made(counted: list[threading.Thread]) -> None:
    keys.settle()  # nothing started: returns at once
    keys.prepare()
    keys.settle()
    assert keys._worker is not None and not keys._worker.is_alive() and len(keys._ready) == 1


def test_two_tenants_sign_with_different_keys() -> None:
    from fakes.clock import SimClock
    from fakes.graph import auth
    from fakes.graph.tenant import Tenant

    keys.prepare()
    a, b = Tenant.create(clock=SimClock(), seed=1), Tenant.create(clock=SimClock(), seed=1)
    assert auth.jwks(a)["keys"][0]["n"] != auth.jwks(b)["keys"][0]["n"]
