"""The last-lab file: how CLI commands in another terminal find the lab `simlab serve` started.

Kept free of heavy imports on purpose: every ``simlab fault/events/sspr/stop`` reads it first,
and it should not pull in the lab, Twisted or Starlette just to learn a URL and a token.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

LAST_LAB = Path.home() / ".simlab" / "last-lab.json"
NO_LAB = "No served lab found: start one with `simlab serve` (or pass --lab URL)."


class NoServedLab(LookupError):
    """There is no last-lab file (or it is unreadable): no `simlab serve` is known."""


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (it holds passwords and tokens)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


def remember(endpoints: dict[str, Any], path: Path = LAST_LAB) -> None:
    """Store the served lab's endpoints (incl. the control token) for later CLI calls."""
    write_private(path, json.dumps(endpoints, indent=2))


def recall(path: Path = LAST_LAB) -> dict[str, Any]:
    """The endpoints of the last ``simlab serve`` (raises :class:`NoServedLab` if there is none)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise NoServedLab(NO_LAB) from None


def forget(control_url: str, path: Path = LAST_LAB) -> None:
    """Drop the last-lab file when it still points at this (now stopped) lab."""
    with contextlib.suppress(OSError, ValueError, NoServedLab):
        if recall(path).get("control_url") == control_url:
            path.unlink()
