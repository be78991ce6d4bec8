"""Seeded, deterministic transport faults for the Graph fake: throttling, 503s and latency.

A :class:`FaultPlan` is configuration on the tenant, consulted once per request in arrival
order; the same seed and the same request sequence give the same faults. ``force`` queues
faults for the next requests regardless of rates (what a scenario uses to say "the next
call is throttled").
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["throttle", "unavailable"]


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one request: answer 429/503 (with Retry-After) and/or delay it."""

    kind: FaultKind | None
    retry_after: int = 1
    delay: float = 0.0


class FaultPlan:
    """Rates in [0, 1] per request; latency in seconds, uniformly drawn in ``latency`` (lo, hi)."""

    def __init__(
        self,
        *,
        seed: int = 0,
        throttle_rate: float = 0.0,
        unavailable_rate: float = 0.0,
        latency: tuple[float, float] = (0.0, 0.0),
        retry_after: int = 1,
        exempt_paths: tuple[str, ...] = ("/$openapi.json",),
    ) -> None:
        self._seed = seed
        self.throttle_rate = throttle_rate
        self.unavailable_rate = unavailable_rate
        self.latency = latency
        self.retry_after = retry_after
        self.exempt_paths = exempt_paths
        self._rng = random.Random(f"graph-faults:{seed}")
        self._forced: deque[Fault] = deque()
        self._lock = threading.Lock()
        self.injected: list[tuple[int, FaultKind]] = []  # (request number, kind) for assertions
        self._count = 0

    def configure(
        self,
        *,
        throttle_rate: float | None = None,
        unavailable_rate: float | None = None,
        latency: tuple[float, float] | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Change rates; also restarts the seeded sequence so runs stay reproducible."""
        with self._lock:
            if throttle_rate is not None:
                self.throttle_rate = throttle_rate
            if unavailable_rate is not None:
                self.unavailable_rate = unavailable_rate
            if latency is not None:
                self.latency = latency
            if retry_after is not None:
                self.retry_after = retry_after
            self._rng = random.Random(f"graph-faults:{self._seed}")

    def force(self, kind: FaultKind, count: int = 1, *, retry_after: int | None = None) -> None:
        """Make the next ``count`` requests fail with ``kind``."""
        with self._lock:
            for _ in range(count):
                self._forced.append(Fault(kind, self.retry_after if retry_after is None else retry_after))

    def next(self, path: str) -> Fault:
        """Decide the fault for the next request (exempt paths never fail)."""
        with self._lock:
            self._count += 1
            if any(path.endswith(p) for p in self.exempt_paths):
                return Fault(None)
            # Always draw all three numbers so one rate's change never shifts the other sequences.
            r_throttle, r_unavail, r_delay = self._rng.random(), self._rng.random(), self._rng.random()
            lo, hi = self.latency
            delay = lo + (hi - lo) * r_delay
            if self._forced:
                fault = self._forced.popleft()
                fault = Fault(fault.kind, fault.retry_after, delay)
            elif r_throttle < self.throttle_rate:
                fault = Fault("throttle", self.retry_after, delay)
            elif r_unavail < self.unavailable_rate:
                fault = Fault("unavailable", self.retry_after, delay)
            else:
                fault = Fault(None, self.retry_after, delay)
            if fault.kind is not None:
                self.injected.append((self._count, fault.kind))
            return fault
