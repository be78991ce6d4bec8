"""One Twisted reactor per process, run in a daemon thread and started on first use.

Synchronous callers (pytest, the CLI, the Connect fake) never touch Twisted directly:
:func:`call` runs a function in the reactor thread and returns its result (waiting on
Deferreds), re-raising its exception. Twisted's global reactor cannot be restarted,
so :func:`stop` is for process shutdown only; labs stop their listeners instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_thread: threading.Thread | None = None
_stopped = False


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


def ensure_running(timeout: float = 10.0) -> None:
    """Start the reactor thread if it is not running yet; wait until it is."""
    global _thread
    with _lock:
        if _stopped:
            raise RuntimeError("the Twisted reactor was stopped and cannot be restarted in this process")
        if _thread is not None and _thread.is_alive():
            return
        reactor = _reactor()
        if reactor.running:
            # Someone else runs the reactor (e.g. a Twisted application); use it as is.
            return
        ready = threading.Event()
        reactor.callWhenRunning(ready.set)
        _thread = threading.Thread(
            target=reactor.run, kwargs={"installSignalHandlers": False}, name="simlab-reactor", daemon=True
        )
        _thread.start()
    if not ready.wait(timeout):
        raise RuntimeError("the Twisted reactor did not start")


def in_reactor_thread() -> bool:
    return _thread is not None and threading.current_thread() is _thread


def call(fn: Callable[..., T], *args: Any, timeout: float = 30.0, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` in the reactor thread and return its (awaited) result."""
    from twisted.internet import defer

    ensure_running()
    if in_reactor_thread():
        raise RuntimeError("call() from the reactor thread would deadlock")
    reactor = _reactor()
    done = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        d = defer.maybeDeferred(fn, *args, **kwargs)

        def ok(value: Any) -> None:
            box["value"] = value
            done.set()

        def fail(failure: Any) -> None:
            box["error"] = failure.value
            done.set()

        d.addCallbacks(ok, fail)

    reactor.callFromThread(run)
    if not done.wait(timeout):
        name = getattr(fn, "__name__", fn)
        raise TimeoutError(f"{name!r} did not finish in the reactor within {timeout} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def stop(timeout: float = 10.0) -> None:
    """Stop the reactor thread (process shutdown only: it cannot be started again)."""
    global _stopped, _thread
    with _lock:
        thread = _thread
        if thread is None or not thread.is_alive():
            return
        _stopped = True
        _reactor().callFromThread(_reactor().stop)
    thread.join(timeout)
    _thread = None
