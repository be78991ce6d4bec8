"""HTTP plumbing shared by the Graph, portal, SSPR and login routes.

:class:`GraphMiddleware` wraps the whole app: it collapses the msgraph-sdk's ``//`` in
paths (ldaptor-graph-notes 3a), stamps request-id/client-request-id, applies the tenant's
seeded faults (429/503 with Retry-After, latency), renders every :class:`GraphError` (and
any bug) in Graph's envelope, and records the request in the tenant's operation log.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fakes.graph import auth, odata
from fakes.graph.errors import (
    BAD_JSON,
    INSUFFICIENT_PRIVILEGES,
    THROTTLED,
    UNAVAILABLE,
    GraphError,
    bad_request,
    envelope,
    not_found,
)
from fakes.graph.model import Principal, User
from fakes.graph.tenant import Tenant

_SLASHES = re.compile(r"/{2,}")


class GraphMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware, so streaming and errors stay simple)."""

    def __init__(self, app: ASGIApp, tenant: Tenant) -> None:
        self.app = app
        self.tenant = tenant
        self._n = 0
        self._lock = threading.Lock()

    def _request_id(self) -> str:
        with self._lock:
            self._n += 1
            n = self._n
        return str(uuid.uuid5(uuid.UUID(self.tenant.id), f"request:{n}"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _SLASHES.sub("/", scope["path"])
        scope = dict(scope, path=path, raw_path=path.encode())
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = self._request_id()
        crid = headers.get("client-request-id") or rid
        state = scope.setdefault("state", {})
        state.update(request_id=rid, client_request_id=crid, actor="anonymous")
        status_box = [500]
        started = [False]

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                started[0] = True
                status_box[0] = message["status"]
                extra = [(b"request-id", rid.encode()), (b"client-request-id", crid.encode())]
                message = dict(message, headers=[*message.get("headers", []), *extra])
            await send(message)

        fault = self.tenant.faults.next(path)
        if fault.delay > 0:
            await asyncio.sleep(fault.delay)
        if fault.kind is not None:
            if fault.kind == "throttle":
                body = envelope(
                    *THROTTLED, request_id=rid, client_request_id=crid, date=self.tenant.clock.now()
                )
                # FACTS 4.2: the current throttling example carries code/status inside innerError.
                body["error"]["innerError"].update(code="429", status="429", message="Please retry after")
                resp = JSONResponse(body, 429, headers={"Retry-After": str(fault.retry_after)})
            else:
                body = envelope(
                    *UNAVAILABLE, request_id=rid, client_request_id=crid, date=self.tenant.clock.now()
                )
                resp = JSONResponse(body, 503, headers={"Retry-After": str(fault.retry_after)})
            await resp(scope, receive, send_wrapped)
        else:
            try:
                await self.app(scope, receive, send_wrapped)
            except Exception as exc:
                # Starlette's error middleware re-raises after answering; answer only if nobody has.
                if not started[0]:
                    err = exc if isinstance(exc, GraphError) else GraphError(500, INTERNAL)
                    await self.error_response(err, rid, crid)(scope, receive, send_wrapped)
        if self.tenant.oplog is not None:
            self.tenant.oplog.record(
                "graph", state.get("actor", "anonymous"), scope["method"], path, status_box[0], request_id=rid
            )

    def error_response(self, err: GraphError, rid: str, crid: str) -> Response:
        body = envelope(
            err.code, err.message, request_id=rid, client_request_id=crid, date=self.tenant.clock.now()
        )
        return JSONResponse(body, err.status, headers=err.headers)


INTERNAL = ("generalException", "An internal server error occurred.")


def render_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler: any error in Graph's envelope with this request's ids."""
    err = exc if isinstance(exc, GraphError) else GraphError(500, INTERNAL)
    state = request.scope.get("state", {})
    rid = state.get("request_id", "")
    body = envelope(
        err.code,
        err.message,
        request_id=rid,
        client_request_id=state.get("client_request_id"),
        date=tenant_of(request).clock.now(),
    )
    return JSONResponse(body, err.status, headers=err.headers)


def tenant_of(request: Request) -> Tenant:
    return request.app.state.tenant


def principal(request: Request) -> Principal:
    """Validate the bearer token (401 on failure) and remember the actor for the operation log."""
    p = auth.verify_token(tenant_of(request), request.headers.get("authorization"))
    request.scope["state"]["actor"] = p.name
    return p


def require(
    p: Principal,
    *,
    delegated: tuple[str, ...] = (),
    app: tuple[str, ...] = (),
    roles: frozenset[str] | None = None,
) -> None:
    """403 unless the token holds one of the scopes/app roles and (delegated) one of ``roles``."""
    if p.kind == "user":
        if delegated and not (p.scopes & set(delegated)):
            raise GraphError(403, INSUFFICIENT_PRIVILEGES)
        if roles is not None and not (p.wids & roles):
            raise GraphError(403, INSUFFICIENT_PRIVILEGES)
    elif not app or not (p.roles & set(app)):
        raise GraphError(403, INSUFFICIENT_PRIVILEGES)


async def body_json(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object; 400 in the envelope for bad JSON or a non-object."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise GraphError(400, bad_request("Empty Payload. JSON content expected."))
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GraphError(400, BAD_JSON) from exc
    if not isinstance(data, dict):
        raise GraphError(400, BAD_JSON)
    return data


def field(data: dict, name: str, kind: type | tuple[type, ...], *, required: bool = False) -> Any:
    """A typed field of a JSON body (400 when missing/mistyped)."""
    if name not in data or data[name] is None:
        if required:
            raise GraphError(400, bad_request(f"Missing required property '{name}'."))
        return None
    value = data[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise GraphError(400, bad_request(f"Invalid value for property '{name}'."))
    return value


def base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def params(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items()}


# --- response helpers shared by the route modules ---
META = "https://graph.microsoft.com/v1.0/$metadata#"
READ_USERS = (
    "User.Read.All",
    "User.ReadBasic.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
WRITE_USERS = ("User.ReadWrite.All", "Directory.ReadWrite.All")
READ_METHODS = (
    "UserAuthenticationMethod.Read",
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite",
    "UserAuthenticationMethod.ReadWrite.All",
)
READ_ORG = ("User.Read", "Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All")
READ_ROLES = ("RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory", "Directory.Read.All")
SYNC_READ = ("OnPremDirectorySynchronization.Read.All", "OnPremDirectorySynchronization.ReadWrite.All")


def json_response(data: dict, status: int = 200, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(data, status, headers=headers)


def find_user(tenant: Tenant, key: str) -> User:
    user = tenant.get_user(key)
    if user is None:
        raise GraphError(404, not_found(key))
    return user


def collection(
    request: Request,
    items: Sequence[Any],
    props: tuple[str, ...],
    entity: str,
    context: str,
    default: tuple[str, ...] | None = None,
    shape: Callable[[Any], dict] | None = None,
) -> JSONResponse:
    """An OData collection response of ``items`` (dicts, or objects ``shape`` makes dicts of:
    see :func:`odata.apply`), filtered, ordered, paged and projected as the request asks."""
    q = odata.parse_query(params(request), props, entity)
    page, nxt, total = odata.apply(items, q, shape)
    body: dict = {"@odata.context": META + context}
    if q.count:
        body["@odata.count"] = total
    if nxt is not None:
        qp = dict(params(request))
        qp["$skiptoken"] = odata.encode_skiptoken(nxt)
        qp.setdefault("$top", str(q.top))
        query = "&".join(f"{k}={quote_param(v)}" for k, v in qp.items())
        body["@odata.nextLink"] = f"{base_url(request)}{request.url.path}?{query}"
    body["value"] = [odata.project(o, q.select, default) for o in page]
    return json_response(body)


def quote_param(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="'(),$")
