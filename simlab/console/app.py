"""The console's Starlette app, its home/clock/training pages, and ``serve_console``.

Stack: server-rendered Jinja2 templates, plain HTML forms (Post/Redirect/Get), and a
vendored htmx (``hx-boost``) that turns links and forms into in-page swaps. No npm
build, no client state: every page works with JavaScript off, and keyboard users get
ordinary links, buttons and labelled inputs.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from simlab.console import pages_ad, pages_aduc_user, pages_connect, pages_entra, pages_licences, training
from simlab.console.state import ConsoleState
from simlab.console.web import HERE, form, redirect, render, state_of

if TYPE_CHECKING:
    from simlab.lab import Lab

CLOCK_STEPS = (5, 30, 60, 24 * 60)


async def home(request: Request) -> Response:
    lab = state_of(request).lab
    return render(request, "home.html", endpoints=lab.endpoints(), spec=lab.spec)


async def advance_clock(request: Request) -> Response:
    state = state_of(request)
    data = await form(request)
    try:
        minutes = int(data.get("minutes", "0"))
    except ValueError:
        minutes = 0
    if minutes not in CLOCK_STEPS:
        state.notify("error", f"Choose one of {', '.join(map(str, CLOCK_STEPS))} minutes.")
    else:
        ran = state.lab.advance(minutes=minutes)
        state.step(f"Waited {minutes} minutes")
        done = f" Ran: {', '.join(sorted(set(ran)))}." if ran else ""
        state.notify("info", f"Simulated time moved {minutes} minutes.{done}")
    return redirect(data.get("back") or "/")


async def training_page(request: Request) -> Response:
    state = state_of(request)
    session = state.training
    shown = session.exercise.hints[: session.hints_used] if session else ()
    return render(request, "training.html", exercises=training.exercises(), session=session, hints=shown)


async def training_start(request: Request) -> Response:
    state = state_of(request)
    number = (await form(request)).get("exercise", "")
    chosen = next((e for e in training.exercises() if str(e.number) == number), None)
    if chosen is None:
        state.notify("error", "Pick an exercise first.")
        return redirect("/training")
    state.sspr_flows.clear()
    state.signed_in = ""
    state.training = training.start(state.lab, state.base_spec, chosen)
    state.signed_in = state.lab.tenant.admin_upn
    state.notify("info", f"Exercise {chosen.number} started on a rebuilt lab. Investigate, fix, then check.")
    return redirect("/training")


async def training_hint(request: Request) -> Response:
    state = state_of(request)
    session = state.training
    if session is not None and session.hints_used < len(session.exercise.hints):
        session.hints_used += 1
    return redirect("/training#hints")


async def training_check(request: Request) -> Response:
    state = state_of(request)
    session = state.training
    if session is None:
        state.notify("error", "No exercise is running.")
        return redirect("/training")
    if session.finished:
        state.notify("info", "This exercise is already solved.")
        return redirect("/training")
    result = training.check(state.lab, session)
    state.notify("ok" if result.ok else "error", result.detail)
    return redirect("/training")


async def training_stop(request: Request) -> Response:
    state = state_of(request)
    state.training = None
    state.notify("info", "Exercise closed.")
    return redirect("/training")


def build_app(lab: Lab) -> Starlette:
    """The console's ASGI app over a started ``lab``."""
    routes = [
        Route("/", home),
        Route("/clock", advance_clock, methods=["POST"]),
        Route("/training", training_page),
        Route("/training/start", training_start, methods=["POST"]),
        Route("/training/hint", training_hint, methods=["POST"]),
        Route("/training/check", training_check, methods=["POST"]),
        Route("/training/stop", training_stop, methods=["POST"]),
        *pages_entra.routes(),
        *pages_licences.routes(),
        *pages_ad.routes(),
        *pages_aduc_user.routes(),
        *pages_connect.routes(),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.console = ConsoleState.create(lab)
    return app


@contextlib.contextmanager
def serve_console(lab: Lab, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve the console with uvicorn in a background thread; yields the base URL (``http://127.0.0.1:N``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_host, bound_port = sock.getsockname()[:2]
    config = uvicorn.Config(build_app(lab), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="simlab-console", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the console's web server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
