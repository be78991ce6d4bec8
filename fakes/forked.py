"""A generator run in a forked child process, its items streamed back as they are made.

Building a big lab is pure Python on one core while the machine's second core idles. Work that
needs nothing from the parent but a copy of its state at one moment (drawing a population's
names from the seeded RNG) can run in a child: :func:`forked_items` forks, the child runs the
generator and sends its items in msgpack frames through a pipe, then sends what ``finish()``
returns (the RNG's state, say) and ends with ``os._exit``; the parent yields the items as they
arrive, so it works on the first ones while the child makes the rest, and gets ``finish()``'s
value at the end, as if both had run here.

Only msgpack's own types travel (ints up to 64 bits, str, bytes, lists, None, bool). The child
closes no descriptor and never returns into the parent's stack; it touches no lock another
thread could hold (callers make sure of that: the generator is plain computation). Failures are
clear: a child that raises sends the error's type and text, one that dies or stays silent for
:data:`IDLE_TIMEOUT` seconds is reaped or killed, and :class:`ForkedError` says which.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import msgpack

from fakes import keys

IDLE_TIMEOUT = 60.0
_FRAME_ITEMS = 2000
_FIRST_FRAME_ITEMS = 100
_READ_SIZE = 1 << 20
_POLL_MS = 250
_ITEMS, _DONE, _ERROR = 0, 1, 2


class ForkedError(RuntimeError):
    """The child failed: it raised (type and message given), died, or went silent."""


def usable() -> bool:
    """Whether forking pays here: Linux (macOS forks a threaded process unsafely) with two
    cores or more for this process."""
    return hasattr(os, "fork") and hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) >= 2


def forked_items(items: Callable[[], Iterator[list]], finish: Callable[[], Any],
                 what: str, started: Callable[[], None] | None = None) -> Iterator[list]:
    """Yield what ``items()`` yields, made in a forked child; then return ``finish()``'s value as
    the child saw it (``StopIteration.value``; ``yield from`` gives it). ``what`` names the work in
    errors; ``started()``, if given, runs in this process once the child is forked, while the
    child starts (work to overlap with it). Raises :class:`ForkedError`; OSError if no process can
    be forked (nothing was yielded and ``started`` not called then: the caller may run ``items()``
    itself)."""
    read_fd, write_fd = os.pipe()
    try:
        pid = fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        raise
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        _child(items, finish, write_fd)
    os.close(write_fd)
    try:
        if started is not None:
            started()
        return (yield from _receive(pid, read_fd, what))
    finally:
        os.close(read_fd)


def usable_or_forced(variable: str, default: bool) -> bool:
    """Whether to use a helper process: the environment ``variable`` when it is ``0`` or ``1``
    (``1`` still needs ``fork``), else ``default`` (the caller's own reason: size, a setting)
    where forking pays (:func:`usable`)."""
    forced = os.environ.get(variable, "")
    if forced in ("0", "1"):
        return forced == "1" and hasattr(os, "fork")
    return default and usable()


def fork() -> int:
    """``os.fork()`` for this project's helpers: first waits for a signing key being made (no
    other thread may be inside OpenSSL when the process forks: the child could inherit a lock
    held mid-operation), and hushes Python 3.12+'s warning about forking a threaded process (each
    caller holds, across the fork, the locks its child takes, which is what makes it safe)."""
    keys.settle()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def begin_child(deadline: int = 0) -> None:
    """What a forked child does first: no cyclic GC passes over its copy of the whole heap, the
    parent's event loop does not hear its signals, Ctrl-C or a kill ends it, and so does SIGALRM
    after ``deadline`` seconds when one is given."""
    gc.disable()
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(number, signal.SIG_DFL)
    if deadline:
        signal.alarm(deadline)


def send(fd: int, frame: list[Any]) -> None:
    """Write one msgpack frame to the pipe ``fd`` (all of it: a full pipe takes several writes)."""
    view = memoryview(msgpack.packb(frame))
    while view:
        view = view[os.write(fd, view):]


def _child(items: Callable[[], Iterator[list]], finish: Callable[[], Any], fd: int) -> None:
    code = 1
    try:
        begin_child()
        frame: list[list] = []
        size = _FIRST_FRAME_ITEMS  # a small first frame: the parent starts working sooner
        for item in items():
            frame.append(item)
            if len(frame) == size:
                send(fd, [_ITEMS, frame])
                frame, size = [], _FRAME_ITEMS
        if frame:
            send(fd, [_ITEMS, frame])
        send(fd, [_DONE, finish()])
        code = 0
    except BaseException as exc:  # the child must reach os._exit whatever happens
        with contextlib.suppress(BaseException):
            send(fd, [_ERROR, type(exc).__name__, str(exc)])
    finally:
        os._exit(code)


def _receive(pid: int, fd: int, what: str) -> Iterator[list]:
    def died(how: str) -> ForkedError:
        return ForkedError(f"{what}: the helper process {how}")

    with contextlib.closing(frames(pid, fd, last=lambda frame: frame[0] != _ITEMS, died=died,
                                   idle_timeout=IDLE_TIMEOUT)) as arriving:
        for frame in arriving:
            if frame[0] == _ITEMS:
                yield from frame[1]
            elif frame[0] == _DONE:
                return frame[1]
            else:
                raise died(f"failed: {frame[1]}: {frame[2]}")
    raise died("ended without a last frame")  # (frames() only ends by raising)


def frames(pid: int, fd: int, *, last: Callable[[list], bool], died: Callable[[str], Exception],
           idle_timeout: float) -> Iterator[list]:
    """The msgpack frames child ``pid`` writes to ``fd``, as they arrive, until the caller stops.

    The child is reaped when ``last(frame)`` says it sent its last frame (before that frame is
    yielded). A child that ends before that raises ``died(how it ended)``, one that sends nothing
    for ``idle_timeout`` seconds ``died("sent no data for N s and was killed")``. A caller that
    stops early (an error, Ctrl-C; close the generator) leaves no child: it is killed and reaped.
    """
    unpacker = msgpack.Unpacker()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    quiet_since = time.monotonic()
    exited: int | None = None
    try:
        while True:
            if poller.poll(_POLL_MS):
                data = os.read(fd, _READ_SIZE)
                if not data:  # EOF without a last frame: the child died
                    exited = reap(pid)
                    raise died(death(exited))
                quiet_since = time.monotonic()
                unpacker.feed(data)
                for frame in unpacker:
                    if last(frame):
                        exited = reap(pid)  # it leaves right after its last frame
                    yield frame
                continue
            # Nothing to read: a child that exited while someone else holds the pipe open (a
            # concurrent fork elsewhere) gives no EOF, so ask for its status too.
            exited = reap(pid, block=False)
            if exited is not None:
                raise died(death(exited))
            if time.monotonic() - quiet_since > idle_timeout:
                raise died(f"sent no data for {idle_timeout:g} s and was killed")
    finally:
        if exited is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            reap(pid)


def reap(pid: int, *, block: bool = True) -> int | None:
    """The child's exit code (negative: killed by that signal); None if it runs on (``block=False``)."""
    try:
        done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return 0
    if done == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def death(code: int) -> str:
    """How a child that ended with exit code ``code`` (from :func:`reap`) ended, for messages."""
    if code < 0:
        return f"killed by signal {-code} ({signal.Signals(-code).name}) before it finished"
    return f"exited with status {code} before it finished"


__all__ = ["IDLE_TIMEOUT", "ForkedError", "begin_child", "death", "fork", "forked_items", "frames", "reap",
           "send", "usable", "usable_or_forced"]
