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
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from fakes.forked import begin_child, fork

if TYPE_CHECKING:
    from simlab.lab import Lab

#: The child gives up (SIGALRM's default action ends it) if the encode takes this long.
CHILD_DEADLINE_SECONDS = 600


def can_fork() -> bool:
    """Whether this platform can save in the background (POSIX ``fork``)."""
    return hasattr(os, "fork")


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

    def __init__(self, pid: int, tmp: Path, target: Path) -> None:
        self.pid, self.tmp, self.target = pid, tmp, target
        #: The child's exit status once it has ended (0: the image is in place).
        self.status: int | None = None
        self._reaper = threading.Thread(target=self._reap, name=f"simlab-image-save-{pid}", daemon=True)
        self._reaper.start()

    def _reap(self) -> None:
        _, status = os.waitpid(self.pid, 0)
        self.status = os.waitstatus_to_exitcode(status)
        if self.status != 0:
            self.tmp.unlink(missing_ok=True)  # killed or failed mid-write: no partial file stays

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


def save_in_background(lab: Lab, key: str) -> BackgroundSave:
    """Fork a child that saves ``lab``'s image under ``key``; the parent returns at once."""
    from simlab import image_cache

    target = image_cache.image_path(key)
    with _lab_locks(lab):  # the locks the child uses, held across the fork: each process gets them released
        pid = fork()
    # Both processes leave the block above, so each releases its own copy of the locks.
    if pid == 0:  # the child: never returns
        _child(lab, key, target)
    return BackgroundSave(pid, _temp_path(target, pid), target)


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


__all__ = ["BackgroundSave", "can_fork", "save_in_background"]
