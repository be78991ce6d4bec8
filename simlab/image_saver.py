"""Saving a lab image after the lab is ready: a forked child writes it (see docs/images.md).

Encoding a 100k-user lab takes seconds. ``simlab serve`` should not make its clients wait for
that, and the image must still be the lab *as built* — not whatever a client has changed by
the time the encoder reaches an object. A forked child gets exactly that: a copy-on-write
picture of the process at the instant the build finished, encoded on the other core while
the parent serves. The lab's locks are held across the fork so the child never inherits one
that another thread (the reactor) held mid-operation.

The child writes through :func:`simlab.image.save_image`: a temporary file renamed into place,
so a reader sees no image or a whole one. :meth:`BackgroundSave.cancel` (called when the lab is
closed) kills an unfinished child and removes its temporary file: a lab stopped during the save
leaves no partial file. ``simlab serve`` does not close the lab that way: it closes the servers,
then waits for the image (simlab.cli_serve._ImageSave).

A save outlives its lab where the caller asks (:meth:`simlab.lab.Lab.release_image_save`): the
pytest fixtures and the scenario runner release a big lab's save once the lab is built, so the
test neither waits for it nor kills it by closing its lab when it ends, and they wait for every
save still running when the session or the run ends (:func:`finish_all`). While a save of one
image key runs, a cold build of the same key in this process does not start a second one
(:func:`in_flight`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from fakes.forked import begin_child, fork

if TYPE_CHECKING:
    from simlab.lab import Lab

#: The child gives up (SIGALRM's default action ends it) if the encode takes this long.
CHILD_DEADLINE_SECONDS = 600
#: ``Lab(save_in_background="big")`` (the pytest fixtures, the scenario runner) saves in the
#: background only a directory of at least this many entries: its save takes a second or more
#: (10 s at 100k users). A small lab's takes tens of milliseconds, no more than the fork costs,
#: and is done before the lab is handed over.
BACKGROUND_MIN_ENTRIES = 10_000

# Every save of this process whose child has not been reaped, by the child's pid.
_running: dict[int, BackgroundSave] = {}
_running_lock = threading.Lock()


def can_fork() -> bool:
    """Whether this platform can save in the background (POSIX ``fork``)."""
    return hasattr(os, "fork")


def wanted(lab: Lab, mode: bool | str) -> bool:
    """Whether ``lab``'s image is saved in the background for ``Lab(save_in_background=mode)``:
    ``True`` always, ``"big"`` for a directory of :data:`BACKGROUND_MIN_ENTRIES` entries or
    more, where the platform can fork."""
    if mode == "big":
        return can_fork() and len(lab.dc.directory) >= BACKGROUND_MIN_ENTRIES
    return bool(mode) and can_fork()


@contextlib.contextmanager
def _lab_locks(lab: Lab) -> Iterator[None]:
    """Every lock the encoder takes, held across the fork so each process gets them released.

    Outer locks first, in simlab.snapshot.take_snapshot's order (dc, then tenant), then the
    Connect server's, then the leaf locks of the clock, the sync engine and the logs.
    """
    connect, tenant = lab.connect, lab.tenant
    candidates = [lab.dc.lock, tenant.lock, connect._lock, lab.clock._lock,
                  getattr(connect.sync, "_lock", None), getattr(tenant.faults, "_lock", None),
                  getattr(tenant.audit, "_lock", None), getattr(lab.oplog, "_lock", None),
                  getattr(connect.eventlog, "_lock", None), getattr(lab.dc.security_log, "_lock", None)]
    with contextlib.ExitStack() as held:
        seen: set[int] = set()
        for lock in candidates:
            if lock is not None and id(lock) not in seen:
                seen.add(id(lock))
                held.enter_context(lock)
        yield


class BackgroundSave:
    """One image save running in a forked child process."""

    def __init__(self, pid: int, tmp: Path, target: Path, key: str = "") -> None:
        self.pid, self.tmp, self.target, self.key = pid, tmp, target, key
        #: The child's exit status once it has ended (0: the image is in place).
        self.status: int | None = None
        with _running_lock:
            _running[pid] = self
        self._reaper = threading.Thread(target=self._reap, name=f"simlab-image-save-{pid}", daemon=True)
        self._reaper.start()

    def _reap(self) -> None:
        try:
            _, status = os.waitpid(self.pid, 0)
            self.status = os.waitstatus_to_exitcode(status)
            if self.status != 0:
                self.tmp.unlink(missing_ok=True)  # killed or failed mid-write: no partial file stays
        finally:
            with _running_lock:
                _running.pop(self.pid, None)

    @property
    def done(self) -> bool:
        return not self._reaper.is_alive()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the child; its exit status (None if still running after ``timeout``)."""
        self._reaper.join(timeout)
        return self.status

    def cancel(self) -> None:
        """Stop an unfinished save: kill the child and remove its temporary file."""
        if not self.done:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self._reaper.join()


def in_flight(key: str) -> BackgroundSave | None:
    """This process's unfinished save of the image ``key``, if one is running."""
    with _running_lock:
        return next((save for save in _running.values() if save.key == key), None)


def unfinished() -> list[BackgroundSave]:
    """This process's saves still running, oldest first (released ones included)."""
    with _running_lock:
        return list(_running.values())


def finish_all(say: Callable[[str], None]) -> list[BackgroundSave]:
    """Wait for every save still running, telling ``say`` what happens in a line each (that it
    waits, that a Ctrl-C skipped the rest, that some failed); the saves it waited for."""
    saves = unfinished()
    if not saves:
        return saves
    say(f"simlab: finishing {len(saves)} lab image(s) for the next run (Ctrl-C skips)")
    try:
        for save in saves:
            save.wait()
    except KeyboardInterrupt:
        cancel_all()
        say("simlab: lab images not saved (skipped)")
        return saves
    failed = sum(save.status != 0 for save in saves)
    if failed:
        say(f"simlab: {failed} lab image(s) not saved (the writer failed; the next run builds the lab)")
    return saves


def cancel_all() -> None:
    """Kill every save still running (their temporary files are removed)."""
    for save in unfinished():
        save.cancel()


def save_in_background(lab: Lab, key: str) -> BackgroundSave:
    """Fork a child that saves ``lab``'s image under ``key``; the parent returns at once."""
    from simlab import image, image_cache  # noqa: F401  (the child imports nothing: see below)

    # A module the child imported for the first time could have its import lock held by another
    # thread of the parent at the fork (a test's servers, say): the child would wait forever.
    target = image_cache.image_path(key)
    with _lab_locks(lab):  # the locks the child uses, held across the fork: each process gets them released
        pid = fork()
    # Both processes leave the block above, so each releases its own copy of the locks.
    if pid == 0:  # the child: never returns
        _child(lab, key, target)
    return BackgroundSave(pid, _temp_path(target, pid), target, key)


def _temp_path(target: Path, pid: int) -> Path:
    return target.with_name(f".{target.name}.bg{pid}.tmp")


def _child(lab: Lab, key: str, target: Path) -> None:
    code = 1
    try:
        # The parent's handlers (serve's "stop the lab") mean nothing here. A kill ends the
        # child, and the parent's reaper removes its temp file; Ctrl-C at a terminal, which
        # reaches the whole process group, is ignored: the parent decides (serve waits for the
        # image, a second Ctrl-C cancels it). No cyclic GC passes over the same million-object
        # heap as the build.
        begin_child(CHILD_DEADLINE_SECONDS)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        from simlab import image_cache

        saved = image_cache.store(lab, key, tmp=_temp_path(target, os.getpid()))
        code = 0 if saved is not None else 1
    except BaseException:  # the child must reach os._exit whatever happens
        code = 1
    finally:
        # No atexit handlers, no flushing of the parent's buffered output, no Twisted shutdown.
        os._exit(code)


__all__ = ["BACKGROUND_MIN_ENTRIES", "BackgroundSave", "can_fork", "cancel_all", "finish_all", "in_flight",
           "save_in_background", "unfinished", "wanted"]
