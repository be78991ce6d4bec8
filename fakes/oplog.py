"""The operation log: every request a client made to a fake, who made it and how it ended.

Scenarios and tests assert on it the way Java tests assert on UnboundID's in-memory
server access log: "wrote exactly these ACEs", "never sent unicodePwd over plain LDAP",
"made no changes outside OU=Staff".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Operation:
    """One request: ``protocol`` is ``ldap`` or ``graph``; ``op`` the verb (``modify``, ``GET``)."""

    seq: int
    time: datetime
    protocol: str
    actor: str
    op: str
    target: str
    result: int
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        # LDAP success is 0 (compare true/false are 6/5); HTTP success is 2xx.
        if self.protocol == "ldap":
            return self.result in (0, 5, 6)
        return 200 <= self.result < 300


class OperationLog:
    """Thread-safe, append-only list of :class:`Operation` with simple queries."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._ops: list[Operation] = []
        self._lock = threading.Lock()

    def record(
        self,
        protocol: str,
        actor: str,
        op: str,
        target: str,
        result: int,
        message: str = "",
        **details: Any,
    ) -> Operation:
        with self._lock:
            entry = Operation(
                len(self._ops) + 1, self._clock.now(), protocol, actor, op, target, result, message, details
            )
            self._ops.append(entry)
        return entry

    def query(
        self,
        *,
        protocol: str | None = None,
        op: str | None = None,
        actor: str | None = None,
        where: Callable[[Operation], bool] | None = None,
        after: int = 0,
    ) -> list[Operation]:
        with self._lock:
            ops = list(self._ops)
        return [
            o
            for o in ops
            if o.seq > after
            and (protocol is None or o.protocol == protocol)
            and (op is None or o.op.lower() == op.lower())
            and (actor is None or o.actor.lower() == actor.lower())
            and (where is None or where(o))
        ]

    def mark(self) -> int:
        """A bookmark for ``query(after=...)``."""
        with self._lock:
            return len(self._ops)

    def __len__(self) -> int:
        return len(self._ops)

    def clear(self) -> None:
        with self._lock:
            self._ops.clear()

    def records(self) -> list[Operation]:
        """Every operation in order (a copy): what a lab image or snapshot keeps."""
        with self._lock:
            return list(self._ops)

    def replace_records(self, ops: Iterable[Operation]) -> None:
        """Make the log exactly ``ops`` (``seq`` numbers are positions, so they must run 1..n)."""
        with self._lock:
            self._ops[:] = ops

    def truncate(self, length: int) -> None:
        """Drop every operation after the first ``length`` (a snapshot restore's cut)."""
        with self._lock:
            del self._ops[length:]
