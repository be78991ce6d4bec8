"""What one console holds: the lab, who is signed in, the training session, and a Graph client.

The console is a single-trainee tool over one lab, so its state lives in the app, not in
cookies. Admin-center pages reach the tenant through the Graph fake's own HTTP app
(portal-shaped endpoints, the SSPR flow, Graph v1.0), called in-process over ASGI with a
token minted for the signed-in admin: role and licence checks, audit entries and the
operation log all happen exactly as for a browser talking to the real service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from fakes.graph.app import build_app
from fakes.graph.auth import make_token

if TYPE_CHECKING:
    from simlab.console.training import TrainingSession
    from simlab.lab import Lab
    from simlab.spec import LabSpec

PORTAL_BASE = "https://main.iam.ad.ext.azure.com"
SSPR_BASE = "https://passwordreset.microsoftonline.com"
GRAPH_BASE = "https://graph.microsoft.com"


class GraphCaller:
    """HTTP calls into the lab tenant's Graph/portal app, rebuilt when the lab is rebuilt."""

    def __init__(self, lab: Lab) -> None:
        self._lab = lab
        self._tenant: Any = None
        self._transport: httpx.ASGITransport | None = None

    def _current(self) -> httpx.ASGITransport:
        tenant = self._lab.tenant
        # Lab.reset() replaces the tenant object; an app built on the old one would be stale.
        if self._transport is None or self._tenant is not tenant:
            self._tenant = tenant
            self._transport = httpx.ASGITransport(app=build_app(tenant))
        return self._transport

    async def request(
        self, method: str, url: str, *, as_user: str | None = None, json: Any = None
    ) -> httpx.Response:
        """Send one request; ``as_user`` (a UPN) gets a freshly minted delegated token."""
        headers = {}
        if as_user is not None:
            # Minted per call: simulated time moves, and a token from an hour ago has expired.
            headers["Authorization"] = f"Bearer {make_token(self._lab.tenant, as_user)}"
        async with httpx.AsyncClient(transport=self._current()) as client:
            return await client.request(method, url, json=json, headers=headers)


def graph_error(response: httpx.Response) -> tuple[str, str]:
    """The ``(code, message)`` of a Graph-style error envelope (or the status line)."""
    try:
        err = response.json().get("error", {})
        return str(err.get("code", response.status_code)), str(err.get("message", ""))
    except (ValueError, AttributeError):
        return str(response.status_code), response.text[:200]


def error_text(code: str | None, message: str) -> str:
    """``code: message``, without repeating a code the message already starts with (SSPR_00xx)."""
    if not code or message.startswith(str(code)):
        return message
    return f"{code}: {message}"


@dataclass(slots=True)
class ConsoleState:
    """Mutable per-console state (one lab, one trainee)."""

    lab: Lab
    base_spec: LabSpec
    graph: GraphCaller
    signed_in: str = ""
    training: TrainingSession | None = None
    flash: list[tuple[str, str]] = field(default_factory=list)
    #: The SSPR portal's begin answers by flowId (methods to show on later steps).
    sspr_flows: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def create(cls, lab: Lab) -> ConsoleState:
        return cls(lab=lab, base_spec=lab.spec, graph=GraphCaller(lab), signed_in=lab.tenant.admin_upn)

    def step(self, description: str) -> None:
        """Record a trainee action (a change made in the console) for the running exercise."""
        if self.training is not None and not self.training.finished:
            self.training.steps.append(description)

    def notify(self, level: str, text: str) -> None:
        """Queue a message for the next rendered page (``ok``, ``error`` or ``info``)."""
        self.flash.append((level, text))

    def take_flash(self) -> list[tuple[str, str]]:
        messages, self.flash = self.flash, []
        return messages
