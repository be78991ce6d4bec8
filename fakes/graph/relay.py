"""The writeback relay between the tenant and an on-premises agent.

In Entra the cloud password-reset service hands a request to a tenant-specific Service
Bus relay and the Connect server's writeback service answers it. Here the relay is an
in-process hand-off: the tenant's SSPR flow :meth:`WritebackRelay.submit`\\ s a
:class:`WritebackRequest`; whichever agent is registered (the simulated Connect server,
while its service runs) handles it and returns a :class:`WritebackOutcome`. With no
agent, or a stopped one, the request fails the way an unreachable on-premises
environment does.

The tenant imports nothing from :mod:`fakes.connect`; Connect implements
:class:`WritebackAgent` and registers itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal, Protocol

RequestKind = Literal["reset", "change", "unlock", "admin_reset"]
OutcomeStatus = Literal["success", "failure", "unreachable"]


@dataclass(frozen=True)
class WritebackRequest:
    """One password operation travelling from the cloud to on-premises AD.

    ``cloud_anchor`` is the user's onPremisesImmutableId (base64 of the objectGUID
    or mS-DS-ConsistencyGuid); the agent finds the AD object from it, as the real
    lookup chain does. ``unlock`` asks for lockoutTime=0 (alone for kind ``unlock``,
    together with the reset otherwise). ``force_change`` asks for pwdLastSet=0
    (an admin's "must change password at next sign-in").
    """

    kind: RequestKind
    tracking_id: str
    cloud_anchor: str
    user_principal_name: str
    new_password: str | None = None
    current_password: str | None = None
    unlock: bool = False
    force_change: bool = False
    requested_by: str = ""


@dataclass(frozen=True)
class WritebackOutcome:
    """How the agent's attempt ended, as each observer sees it.

    ``status`` drives the user-facing answer: ``success``; ``failure`` (on-premises
    rejected it: ``error`` names the SSPR error enum, e.g. ``OnPremisesAdminActionRequired``,
    or ``PasswordPolicyViolation``); ``unreachable`` (relay/agent down: SSPR_0030).
    ``event_ids`` lists the Connect Application events the attempt wrote, ``ldap_result``
    the last LDAP result code the agent saw (None when it never reached the DC).
    """

    status: OutcomeStatus
    error: str | None = None
    detail: str = ""
    event_ids: tuple[int, ...] = ()
    ldap_result: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


class WritebackAgent(Protocol):
    """Implemented by the Connect server's password writeback service."""

    def handle(self, request: WritebackRequest) -> WritebackOutcome: ...


class WritebackRelay:
    """The tenant's relay endpoint: at most one registered agent per tenant."""

    def __init__(self) -> None:
        self._agent: WritebackAgent | None = None
        self._lock = threading.Lock()

    def register(self, agent: WritebackAgent) -> None:
        with self._lock:
            self._agent = agent

    def unregister(self, agent: WritebackAgent | None = None) -> None:
        with self._lock:
            if agent is None or self._agent is agent:
                self._agent = None

    @property
    def connected(self) -> bool:
        return self._agent is not None

    def submit(self, request: WritebackRequest) -> WritebackOutcome:
        """Deliver ``request`` to the agent, or fail as an unreachable relay does."""
        with self._lock:
            agent = self._agent
        if agent is None:
            return WritebackOutcome(
                "unreachable",
                error="OnPremisesConnectivityError",
                detail="No password writeback agent is listening on the tenant's relay.",
            )
        return agent.handle(request)
