"""Two ways to run the same app: in-process behind respx, or served by uvicorn on loopback.

``graph_mock(tenant)`` intercepts the Microsoft hosts for every httpx client in the process
(msgraph-sdk included, since it sits on httpx); ``serve_graph(tenant)`` runs uvicorn in a
background thread with a certificate from the lab CA, because SDK auth providers insist on
https for non-loopback hosts (ldaptor-graph-notes section 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fakes.graph.app import build_app
from fakes.graph.auth import make_token
from fakes.graph.tenant import Tenant
from fakes.tls import CertificateAuthority

if TYPE_CHECKING:  # httpx and respx load with graph_mock(): serve_graph() needs neither
    import httpx
    import respx

GRAPH_HOST = "graph.microsoft.com"
PORTAL_HOST = "main.iam.ad.ext.azure.com"
LOGIN_HOST = "login.microsoftonline.com"
SSPR_HOST = "passwordreset.microsoftonline.com"
HOSTS = (GRAPH_HOST, PORTAL_HOST, LOGIN_HOST, SSPR_HOST)
#: Lifetime (simulated seconds) of the ready-made tokens handed out by ``serve_graph``.
SERVED_TOKEN_LIFETIME = 24 * 3600


class _LoopThread:
    """One event loop in a daemon thread; sync callers submit coroutines to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="graph-mock-loop", daemon=True)
        self.thread.start()

    def run(self, coro) -> object:
        fut: Future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


class _Bridge:
    """A respx side effect answering from the ASGI app, for sync and async clients alike.

    respx cannot tell a side effect whether the caller is sync or async, so the app always
    runs on a private loop thread and the side effect returns a finished response.
    """

    def __init__(self, tenant: Tenant) -> None:
        import httpx

        self.transport = httpx.ASGITransport(app=build_app(tenant))
        self.loop = _LoopThread()

    async def _call(self, request: httpx.Request) -> httpx.Response:
        import httpx

        response = await self.transport.handle_async_request(request)
        body = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        import httpx

        copy = httpx.Request(request.method, request.url, headers=request.headers, content=request.read())
        return self.loop.run(self._call(copy))  # type: ignore[return-value]


@contextlib.contextmanager
def graph_mock(
    tenant: Tenant, *, hosts: tuple[str, ...] = HOSTS, pass_through: bool = True
) -> Iterator[respx.MockRouter]:
    """Intercept ``hosts`` for every httpx client while the block runs; yields the respx router.

    Other hosts pass through to the network unless ``pass_through`` is False (then respx
    refuses them), so a served lab on 127.0.0.1 stays reachable inside the block.
    """
    import respx

    bridge = _Bridge(tenant)
    try:
        with respx.mock(assert_all_called=False, assert_all_mocked=not pass_through) as router:
            for host in hosts:
                router.route(host=host).mock(side_effect=bridge)
            if pass_through:
                router.route().pass_through()
            yield router
    finally:
        bridge.loop.close()


@dataclass(frozen=True)
class GraphEndpoints:
    """Where a served tenant answers. ``base_url`` ends in ``/v1.0`` (give it to the SDK adapter);
    ``portal_url``, ``login_url`` and ``sspr_url`` are host roots standing in for the Microsoft hosts."""

    base_url: str
    portal_url: str
    login_url: str
    sspr_url: str
    ca_file: str | None
    tenant_id: str
    tokens: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "graph_base_url": self.base_url,
            "portal_url": self.portal_url,
            "login_url": self.login_url,
            "sspr_url": self.sspr_url,
            "ca_file": self.ca_file,
            "tenant_id": self.tenant_id,
            "tokens": dict(self.tokens),
        }


@contextlib.contextmanager
def serve_graph(
    tenant: Tenant,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ca: CertificateAuthority | None = None,
    tls: bool = True,
    startup_timeout: float = 10.0,
) -> Iterator[GraphEndpoints]:
    """Run the app under uvicorn in a background thread (HTTPS with a lab-CA cert unless ``tls=False``)."""
    # The tenant's RSA signing key (20-200 ms; cryptography releases the GIL) is made on the other
    # core while uvicorn loads and starts, not after: the tokens below need it.
    admin, plain = tenant.token_users()
    signing = threading.Thread(target=make_token, args=(tenant, "app"), daemon=True)
    signing.start()
    import uvicorn

    from fakes.uvicorn_thread import bound_port, start_server

    with tempfile.TemporaryDirectory(prefix="simlab-graph-") as tmp:
        ssl_kwargs: dict = {}
        ca_file = None
        if tls:
            ca = ca or CertificateAuthority.create()
            crt, key = ca.issue(["localhost"], [host]).write(Path(tmp), "graph")
            ca_file = str(ca.write(Path(tmp)))
            ssl_kwargs = {"ssl_certfile": str(crt), "ssl_keyfile": str(key)}
        config = uvicorn.Config(
            build_app(tenant),
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            **ssl_kwargs,
        )
        server, thread = start_server(config, name="graph-uvicorn", what="the Graph fake",
                                      timeout=startup_timeout)
        signing.join()
        try:
            bound = bound_port(server)
            root = f"{'https' if tls else 'http'}://{host}:{bound}"
            tokens = {
                "global_admin": make_token(tenant, admin or tenant.admin_upn, lifetime=SERVED_TOKEN_LIFETIME),
                "user": make_token(tenant, plain, lifetime=SERVED_TOKEN_LIFETIME),
                "app": make_token(tenant, "app", lifetime=SERVED_TOKEN_LIFETIME),
            }
            yield GraphEndpoints(f"{root}/v1.0", root, root, root, ca_file, tenant.id, tokens)
        finally:
            server.should_exit = True
            thread.join(timeout=0.5)
            if thread.is_alive():
                # A client that never closed its keep-alive socket would hold graceful shutdown open.
                server.force_exit = True
                thread.join(timeout=10)
