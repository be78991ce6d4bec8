"""fakes.forked: a generator run in a forked child streams its items back, errors come back clear,
and no child outlives its consumer."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from fakes import forked

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def _collect(items, finish=lambda: "done", what="testing") -> tuple[list, object]:
    gen = forked.forked_items(items, finish, what)
    got = []
    try:
        while True:
            got.append(next(gen))
    except StopIteration as stop:
        return got, stop.value


def _reaped(pids: list[int]) -> bool:
    """Every child forked was waited for (asking another process's children would steal them)."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        return False
    return bool(pids)


def test_items_come_back_in_order_then_the_finish_value_from_the_child(forks: list[int]) -> None:
    parent = os.getpid()
    items = lambda: ([i, f"s{i}", bytes([i % 256]), os.getpid() != parent] for i in range(5000))  # noqa: E731
    got, value = _collect(items, finish=lambda: [os.getpid() != parent, "end"])
    assert got == [[i, f"s{i}", bytes([i % 256]), True] for i in range(5000)]
    assert value == [True, "end"]  # computed in the child
    assert _reaped(forks)


@pytest.mark.parametrize(("fail", "expected"), [
    (lambda: 1 / 0, "testing: the helper process failed: ZeroDivisionError: division by zero"),
    (lambda: os._exit(3), "testing: the helper process exited with status 3 before it finished"),
    (lambda: os.kill(os.getpid(), signal.SIGKILL),
     "testing: the helper process killed by signal 9 (SIGKILL) before it finished"),
])
def test_a_failing_child_is_a_clear_error_and_is_reaped(fail, expected: str, forks: list[int]) -> None:
    def items() -> Iterator[list]:
        for i in range(5000):
            if i == 4500:
                fail()
            yield [i]

    with pytest.raises(forked.ForkedError) as info:
        _collect(items)
    assert str(info.value) == expected
    assert _reaped(forks)


def test_a_silent_child_is_killed(monkeypatch: pytest.MonkeyPatch, forks: list[int]) -> None:
    monkeypatch.setattr(forked, "IDLE_TIMEOUT", 0.3)

    def items() -> Iterator[list]:
        time.sleep(3600)
        yield [0]

    silent = r"^testing: the helper process sent no data for 0\.3 s and was killed$"
    with pytest.raises(forked.ForkedError, match=silent):
        _collect(items)
    assert _reaped(forks)


def test_a_consumer_that_stops_early_leaves_no_child(forks: list[int]) -> None:
    gen = forked.forked_items(lambda: ([i] for i in range(10**7)), lambda: None, "testing")
    assert next(gen) == [0]
    gen.close()
    assert _reaped(forks)
