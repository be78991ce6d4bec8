"""The control API of a served lab: what ``simlab fault``, ``simlab events``, ``simlab sspr``,
``simlab advance`` and ``simlab doctor`` talk to from another terminal.

A small JSON API on 127.0.0.1 guarded by a random bearer token (printed by ``simlab serve``
and stored, mode 0600, in the last-lab file). It drives the lab through the same methods
scenarios use; it is the trainer's remote control, not part of any faked product.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from fakes.eventlog import to_jsonl, to_xml
from simlab.faults import FAULTS, FaultError, apply_fault
from simlab.lab import Lab, LabError

LAST_LAB = Path.home() / ".simlab" / "last-lab.json"


class _BadRequest(Exception):
    pass


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise _BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _BadRequest("request body must be a JSON object")
    return data


def build_app(lab: Lab, token: str) -> Starlette:
    lock = threading.Lock()  # one lab action at a time, like one admin at the keyboard

    def guarded(handler):
        async def endpoint(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {token}":
                return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
            try:
                with lock:
                    return await handler(request)
            except (_BadRequest, FaultError, LabError, ValueError, TypeError, KeyError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return endpoint

    async def info(request: Request) -> Response:
        return JSONResponse({**lab.endpoints(), "now": lab.clock.now().isoformat(),
                             "applied_faults": lab.applied_faults})

    async def faults(request: Request) -> Response:
        return JSONResponse([{"name": f.name, "category": f.category, "title": f.title,
                              "params": f.params} for f in FAULTS.values()])

    async def fault(request: Request) -> Response:
        name = request.path_params["name"]
        params = await _json(request)
        applied = apply_fault(lab, name, **params)
        return JSONResponse({"applied": applied.name, "symptom": applied.symptom.text, "fix": applied.fix})

    async def advance(request: Request) -> Response:
        body = await _json(request)
        units = ("seconds", "minutes", "hours", "days")
        fired = lab.advance(**{k: float(v) for k, v in body.items() if k in units})
        return JSONResponse({"now": lab.clock.now().isoformat(), "fired": fired})

    async def gpupdate(request: Request) -> Response:
        lab.gpupdate()
        return JSONResponse({"applied": True})

    gpos = {"default-domain-policy": lambda: lab.gpo, "default-domain-controllers-policy": lambda: lab.dc_gpo}

    def gpo_state(name: str) -> dict[str, Any]:
        gpo = gpos[name]()
        return {"name": name, "settings": gpo.settings.model_dump(), "pending": gpo.pending,
                "applied": gpo.applied.model_dump() if gpo.applied is not None else None}

    async def gpo_list(request: Request) -> Response:
        return JSONResponse([gpo_state(name) for name in gpos])

    async def gpo_edit(request: Request) -> Response:
        # An edit in the GPO editor: validated like the spec, in force at the next refresh or gpupdate.
        name = request.path_params["name"]
        if name not in gpos:
            raise _BadRequest(f"unknown GPO {name!r}; one of {sorted(gpos)}")
        try:
            gpos[name]().edit(**await _json(request))
        except ValidationError as err:
            first = err.errors()[0]
            raise _BadRequest(f"{'.'.join(map(str, first['loc'])) or 'value'}: {first['msg']}") from None
        return JSONResponse(gpo_state(name))

    async def sspr(request: Request) -> Response:
        action = request.path_params["action"]
        body = await _json(request)
        if action == "reset":
            attempt = lab.sspr_reset(body["user"], body["password"], unlock=bool(body.get("unlock")))
        elif action == "unlock":
            attempt = lab.sspr_unlock(body["user"])
        elif action == "change":
            attempt = lab.change_password(body["user"], body["current"], body["new"])
        elif action == "admin-reset":
            attempt = lab.admin_reset(body["user"], body.get("password"))
        else:
            raise _BadRequest(f"unknown SSPR action {action!r}")
        return JSONResponse({"ok": attempt.ok, "code": attempt.code, "message": attempt.message})

    async def events(request: Request) -> Response:
        q = request.query_params
        log = lab.dc.security_log if q.get("log", "").lower() == "security" else lab.connect.eventlog
        ids = [int(i) for i in q.get("id", "").split(",") if i.strip()] or None
        since = datetime.fromisoformat(q["since"]) if q.get("since") else None
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        found = log.query(event_ids=ids, source=q.get("source") or None, after_record=int(q.get("after", 0)),
                          since=since)
        if q.get("format") == "xml":
            return Response(to_xml(found), media_type="application/xml")
        return PlainTextResponse(to_jsonl(found), media_type="application/x-ndjson")

    async def doctor(request: Request) -> Response:
        from simlab.doctor import diagnose

        report = diagnose(lab, user=request.query_params.get("user") or None)
        fmt = request.query_params.get("format", "text")
        renderers = {"json": (report.to_json, "application/json"),
                     "markdown": (report.to_markdown, "text/markdown")}
        body, media = renderers.get(fmt, (report.to_text, "text/plain"))
        headers = {"X-Simlab-Findings": str(len(report.findings))}
        return PlainTextResponse(body(), media_type=media, headers=headers)

    async def connect(request: Request) -> Response:
        from simlab.scenarios import ACTIONS

        return JSONResponse(ACTIONS["connect"](lab, action=request.path_params["action"]))

    async def wizard(request: Request) -> Response:
        from fakes.connect.server import WizardError

        body = await _json(request)
        try:
            result = lab.connect.configure_writeback(bool(body["writeback"]), admin_upn=body["admin_upn"],
                                                     admin_password=body["admin_password"])
        except WizardError as err:
            return JSONResponse({"ok": False, "message": err.message, "events": list(err.event_ids)})
        return JSONResponse({"ok": True, "password_writeback": result.password_writeback,
                             "events": list(result.event_ids)})

    async def connect_config(request: Request) -> Response:
        return JSONResponse(lab.connect.view_configuration(), media_type="application/json")

    routes = [
        Route("/lab", guarded(info)),
        Route("/faults", guarded(faults)),
        Route("/faults/{name}", guarded(fault), methods=["POST"]),
        Route("/clock/advance", guarded(advance), methods=["POST"]),
        Route("/gpupdate", guarded(gpupdate), methods=["POST"]),
        Route("/gpo", guarded(gpo_list)),
        Route("/gpo/{name}", guarded(gpo_edit), methods=["POST"]),
        Route("/sspr/{action}", guarded(sspr), methods=["POST"]),
        Route("/events", guarded(events)),
        Route("/doctor", guarded(doctor)),
        Route("/connect/wizard", guarded(wizard), methods=["POST"]),
        Route("/connect/config", guarded(connect_config)),
        Route("/connect/{action}", guarded(connect), methods=["POST"]),
    ]
    return Starlette(routes=routes)


@contextlib.contextmanager
def serve_control(lab: Lab, host: str = "127.0.0.1", port: int = 0) -> Iterator[tuple[str, str]]:
    """Serve the control API in a background thread; yields (url, token)."""
    import uvicorn

    token = secrets.token_urlsafe(24)
    config = uvicorn.Config(build_app(lab, token), host=host, port=port, log_level="warning",
                            lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="simlab-control", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise LabError("the control API did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}", token
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def remember(endpoints: dict[str, Any], path: Path = LAST_LAB) -> None:
    """Store the served lab's endpoints (incl. the control token) for later CLI calls."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(endpoints, indent=2))
    path.chmod(0o600)


def recall(path: Path = LAST_LAB) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise LabError(f"no served lab found ({path}); start one with `simlab serve` or pass --lab") from None
