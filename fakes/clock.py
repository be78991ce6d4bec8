"""Simulated time shared by every fake in a lab.

Nothing in simlab sleeps: password ages, lockout windows, token expiry, SDProp,
sync cycles and GPO refresh all read one :class:`SimClock`, and scenarios move it
forward with :meth:`SimClock.advance`, which runs whatever fell due on the way in
time order.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

#: 1601-01-01, the epoch of Windows FILETIME values (pwdLastSet, lockoutTime, ...).
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
#: Where a fresh lab's clock starts unless told otherwise: a Monday morning.
DEFAULT_START = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


def to_filetime(moment: datetime) -> int:
    """Return ``moment`` as a FILETIME: 100-ns intervals since 1601-01-01 UTC."""
    delta = moment - FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def from_filetime(value: int) -> datetime:
    """Inverse of :func:`to_filetime`."""
    return FILETIME_EPOCH + timedelta(microseconds=value // 10)


def interval_to_timedelta(value: int) -> timedelta:
    """AD policy intervals (minPwdAge, lockoutDuration, ...) are negative 100-ns counts."""
    return timedelta(microseconds=abs(value) // 10)


def timedelta_to_interval(delta: timedelta) -> int:
    """Inverse of :func:`interval_to_timedelta` (always zero or negative, as AD stores it)."""
    return -int(delta.total_seconds() * 10_000_000)


def to_generalized_time(moment: datetime) -> str:
    """AD's GeneralizedTime form as whenCreated/whenChanged show it: ``20260105090000.0Z``."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S.0Z")


@dataclass(order=True)
class _Timer:
    """A timer on the simulated clock, ordered by due time then creation order."""
    due: datetime
    seq: int
    callback: Callable[[], object] = field(compare=False)
    every: timedelta | None = field(compare=False, default=None)
    name: str = field(compare=False, default="")
    cancelled: bool = field(compare=False, default=False)


class TimerHandle:
    """Returned by :meth:`SimClock.schedule`; call :meth:`cancel` to stop the timer."""

    def __init__(self, timer: _Timer) -> None:
        self._timer = timer

    @property
    def name(self) -> str:
        return self._timer.name

    @property
    def due(self) -> datetime:
        return self._timer.due

    def cancel(self) -> None:
        self._timer.cancelled = True


class SimClock:
    """An injectable clock whose time moves only when told to.

    ``schedule`` registers callbacks (one-shot or periodic); ``advance`` moves time
    forward and fires them in due order, setting :meth:`now` to each timer's due time
    while it runs, so a callback sees the time at which it was meant to happen.
    """

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock needs a timezone-aware start time")
        self._now = start
        self._timers: list[_Timer] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()

    def now(self) -> datetime:
        """The current simulated time (timezone-aware, UTC)."""
        return self._now

    def filetime(self) -> int:
        """The current simulated time as a Windows FILETIME."""
        return to_filetime(self._now)

    def timestamp(self) -> float:
        """The current simulated time as POSIX seconds (for JWT ``iat``/``exp``)."""
        return self._now.timestamp()

    def schedule(
        self,
        delay: timedelta | float,
        callback: Callable[[], object],
        *,
        every: timedelta | float | None = None,
        name: str = "",
    ) -> TimerHandle:
        """Run ``callback`` after ``delay`` (seconds or timedelta); repeat ``every`` if given."""
        delay = _as_delta(delay)
        period = None if every is None else _as_delta(every)
        if period is not None and period <= timedelta(0):
            raise ValueError("a periodic timer needs a positive period")
        with self._lock:
            timer = _Timer(self._now + delay, next(self._seq), callback, period, name)
            heapq.heappush(self._timers, timer)
        return TimerHandle(timer)

    def pending(self) -> list[tuple[str, datetime]]:
        """Names and due times of the live timers, soonest first."""
        with self._lock:
            return [(t.name, t.due) for t in sorted(self._timers) if not t.cancelled]

    def advance(
        self,
        delta: timedelta | float = 0,
        *,
        seconds: float = 0,
        minutes: float = 0,
        hours: float = 0,
        days: float = 0,
    ) -> list[str]:
        """Move time forward and fire every timer that falls due; return their names in order."""
        step = _as_delta(delta) + timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)
        if step < timedelta(0):
            raise ValueError("time only moves forward")
        target = self._now + step
        fired: list[str] = []
        while True:
            with self._lock:
                if not self._timers or self._timers[0].due > target:
                    break
                timer = heapq.heappop(self._timers)
                if timer.cancelled:
                    continue
                self._now = max(self._now, timer.due)
                if timer.every is not None:
                    timer.due = timer.due + timer.every
                    timer.seq = next(self._seq)
                    heapq.heappush(self._timers, timer)
            # Callbacks run outside the lock so they may schedule or read the clock.
            timer.callback()
            fired.append(timer.name)
        with self._lock:
            self._now = target
        return fired

    def set(self, moment: datetime) -> list[str]:
        """Advance to an absolute time (must not be in the past)."""
        return self.advance(moment - self._now)


def _as_delta(value: timedelta | float) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=value)
