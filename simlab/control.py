"""The control API of a served lab: what ``simlab fault``, ``simlab events``, ``simlab sspr``,
``simlab advance``, ``simlab doctor`` and ``simlab stop`` talk to from another terminal.

A small JSON API on 127.0.0.1 guarded by a random bearer token (printed by ``simlab serve``
and stored, mode 0600, in the last-lab file). It drives the lab through the same methods
scenarios use; it is the trainer's remote control, not part of any faked product.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from fakes.eventlog import LEVELS, to_jsonl, to_xml
from simlab.lab import Lab, LabError
from simlab.lastlab import LAST_LAB, NO_LAB, forget, recall, remember, write_private

__all__ = ["LAST_LAB", "NO_LAB", "build_app", "close_together", "forget", "recall", "remember",
           "serve_control", "write_private"]


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


def _event_filters(q: Any) -> dict[str, Any]:
    """``EventLog.query`` arguments from ``/events`` query parameters, with admin-readable errors."""
    try:
        ids = [int(i) for i in q.get("id", "").split(",") if i.strip()] or None
    except ValueError:
        raise _BadRequest(f"event IDs are numbers like 31001,6329, not {q.get('id')!r}") from None
    level = q.get("level") or None
    if level is not None and level.lower() not in {lv.lower() for lv in LEVELS}:
        raise _BadRequest(f"unknown level {level!r}: use one of {', '.join(LEVELS)}")
    try:
        since = datetime.fromisoformat(q["since"]) if q.get("since") else None
    except ValueError:
        raise _BadRequest(f"--since takes an ISO 8601 time like 2026-01-05T09:00, not {q['since']!r}") \
            from None
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    after = q.get("after", "0") or "0"
    if not after.isdigit():
        raise _BadRequest(f"--after takes a record ID, not {after!r}")
    return {"event_ids": ids, "source": q.get("source") or None, "level": level, "since": since,
            "after_record": int(after)}


def build_app(lab: Lab, token: str, on_stop: Callable[[], None] | None = None) -> Starlette:
    """The control API's routes; ``on_stop`` (if given) is what ``POST /stop`` calls."""
    lock = threading.Lock()  # one lab action at a time, like one admin at the keyboard

    def guarded(handler):
        async def endpoint(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {token}":
                return JSONResponse({"error": "missing or wrong bearer token"}, status_code=401)
            try:
                with lock:
                    return await handler(request)
            except KeyError as exc:  # a missing field in the request body, not a lab failure
                return JSONResponse({"error": f"missing field {exc.args[0]!r}"}, status_code=400)
            except (_BadRequest, LabError, ValueError, TypeError) as exc:  # FaultError is a ValueError
                return JSONResponse({"error": str(exc)}, status_code=400)
            except RuntimeError as exc:  # the lab's state forbids it, e.g. "the ADSync service is stopped"
                return JSONResponse({"error": str(exc)}, status_code=409)
            except Exception as exc:  # a bug: say so in one line here, full traceback on serve's stderr
                traceback.print_exc()
                message = f"the lab failed ({type(exc).__name__}: {exc}); see `simlab serve`'s terminal"
                return JSONResponse({"error": message}, status_code=500)
        return endpoint

    async def info(request: Request) -> Response:
        return JSONResponse({**lab.endpoints(), "now": lab.clock.now().isoformat(),
                             "applied_faults": lab.applied_faults})

    async def faults(request: Request) -> Response:
        from simlab.faults import FAULTS  # the catalogue loads on first use, not with every lab

        return JSONResponse([{"name": f.name, "category": f.category, "title": f.title,
                              "params": f.params} for f in FAULTS.values()])

    async def fault(request: Request) -> Response:
        from simlab.faults import apply_fault

        name = request.path_params["name"]
        params = await _json(request)
        applied = apply_fault(lab, name, **params)
        return JSONResponse({"applied": applied.name, "title": applied.title, "symptom": applied.symptom.text,
                             "code": applied.symptom.code, "events": list(applied.symptom.events),
                             "fix": applied.fix})

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
        from pydantic import ValidationError  # (a served lab from the image cache starts without it)

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
        return JSONResponse({"ok": attempt.ok, "code": attempt.code, "message": attempt.message,
                             "user": lab.upn(body["user"])})

    async def events(request: Request) -> Response:
        q = request.query_params
        log = lab.dc.security_log if q.get("log", "").lower() == "security" else lab.connect.eventlog
        found = log.query(**_event_filters(q))
        total = len(found)
        tail = q.get("tail", "0") or "0"
        if not tail.isdigit():
            raise _BadRequest(f"--tail takes a number of events, not {tail!r}")
        if int(tail):
            found = found[-int(tail):]  # newest last: the tail is what happened most recently
        headers = {"X-Simlab-Total": str(total)}
        if q.get("format") == "xml":
            return Response(to_xml(found), media_type="application/xml", headers=headers)
        return PlainTextResponse(to_jsonl(found), media_type="application/x-ndjson", headers=headers)

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

    async def stop(request: Request) -> Response:
        if on_stop is None:
            raise _BadRequest("this lab is not run by `simlab serve`; stop it where it was started")
        on_stop()
        # A cold build's image still being written: the process outlives its servers until it is.
        save = getattr(lab, "image_save", None)
        saving = save is not None and not save.done
        return JSONResponse({"stopping": True, "pid": os.getpid(), "saving_image": saving,
                             **({"image_file": str(save.target)} if saving else {})})

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
        Route("/stop", guarded(stop), methods=["POST"]),
    ]
    return Starlette(routes=routes)


@contextlib.contextmanager
def serve_control(lab: Lab, host: str = "127.0.0.1", port: int = 0,
                  on_stop: Callable[[], None] | None = None) -> Iterator[tuple[str, str]]:
    """Serve the control API in a background thread; yields (url, token).

    ``on_stop`` enables ``POST /stop`` (``simlab stop``).
    """
    import uvicorn

    from fakes.uvicorn_thread import ServerStartError, bound_port, start_server

    token = secrets.token_urlsafe(24)
    config = uvicorn.Config(build_app(lab, token, on_stop), host=host, port=port, log_level="warning",
                            lifespan="off", access_log=False)
    try:
        server, thread = start_server(config, name="simlab-control", what="the control API")
    except ServerStartError:
        raise LabError("the control API did not start") from None
    bound = bound_port(server)
    try:
        yield f"http://{host}:{bound}", token
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def close_together(*closers: Callable[[], object]) -> None:
    """Run shutdown steps at the same time and wait for all of them.

    Each uvicorn server polls its exit flag every 0.1 s and then lingers ~0.1 s for open
    connections; stopping the control API, the console and the lab one after another cost
    ~0.6 s, in parallel it costs the slowest one. The first error is re-raised after all ran.
    """
    errors: list[BaseException] = []

    def run(closer: Callable[[], object]) -> None:
        try:
            closer()
        except BaseException as exc:  # reported below, after the others finished
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,), name="simlab-stop", daemon=True) for c in closers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
