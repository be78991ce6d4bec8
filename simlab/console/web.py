"""Shared plumbing for the console's pages: templates, rendering, redirects, form reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from simlab.console.state import ConsoleState

HERE = Path(__file__).parent
TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

#: Top navigation: (path prefix, label). Order is the keyboard focus order of the header.
NAV: tuple[tuple[str, str], ...] = (
    ("/entra", "Entra admin center"),
    ("/sspr", "Password reset (aka.ms/sspr)"),
    ("/aduc", "AD Users and Computers"),
    ("/gpo", "Group Policy"),
    ("/connect", "Entra Connect"),
    ("/events", "Event Viewer"),
    ("/training", "Training"),
)


def state_of(request: Request) -> ConsoleState:
    return request.app.state.console


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a full page (``base.html`` layout) with the header, clock and messages filled in."""
    state = state_of(request)
    page = TEMPLATES.get_template(template)
    html = page.render(
        request=request,
        nav=NAV,
        path=request.url.path,
        now=state.lab.clock.now(),
        training=state.training,
        signed_in=state.signed_in,
        messages=state.take_flash(),
        **context,
    )
    return HTMLResponse(html, status_code=status)


def redirect(url: str) -> Response:
    """Post/Redirect/Get: 303 so a reload never repeats the change."""
    return RedirectResponse(url, status_code=303)


async def form(request: Request) -> dict[str, str]:
    """The posted form as a plain dict (last value wins; checkboxes absent when unticked).

    Every console form is urlencoded, so the body is parsed here rather than through
    Starlette's ``request.form()``, which would add python-multipart as a dependency.
    """
    body = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def ticked(data: dict[str, str], name: str) -> bool:
    return data.get(name, "").lower() in ("on", "true", "1", "yes")
