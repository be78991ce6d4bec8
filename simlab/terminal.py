"""What a person at a terminal reads: the ``simlab serve`` summary and the admin-style messages.

The CLI keeps two audiences apart. Tools read stdout (one JSON line from ``serve``, ``--json``
everywhere else) and must never see decoration; people read short, plain messages that name
things the way Windows and the Entra admin center do. This module renders the second kind,
with rich, and decides which audience is present: a stream is a terminal when it is a TTY,
or when ``SIMLAB_FORCE_TERMINAL=1`` says so (tests and ``script``-like wrappers). The width is
rich's: the terminal's, else ``COLUMNS``, else 80.

rich loads only when something is rendered for a person (~0.1 s of imports): ``simlab serve``
on a pipe, and every lab start before its endpoint line, never pay for it.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

#: Set to 1 to render as on a terminal even when the stream is a pipe (0 forces the opposite).
FORCE_ENV = "SIMLAB_FORCE_TERMINAL"


def is_terminal(stream: IO[str] | None = None) -> bool:
    """Whether a person (not a tool) reads ``stream`` (default stdout)."""
    forced = os.environ.get(FORCE_ENV, "").strip().lower()
    if forced:
        return forced not in ("0", "false", "no")
    stream = stream or sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def console(*, stderr: bool = False) -> Console:
    """A rich console for messages: no markup guessing, no highlighting of numbers/paths.

    On a pipe, long messages stay one line each (``soft_wrap``) so tools can grep them.
    """
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = is_terminal(stream)
    return Console(file=stream, force_terminal=tty, highlight=False, markup=False, emoji=False,
                   soft_wrap=not tty)


def say(text: Any, *, stderr: bool = False, style: str | None = None) -> None:
    """Print a plain message (or a rich renderable), word-wrapped to the terminal's width."""
    console(stderr=stderr).print(text, style=style)


def labelled(title: str, rows: Iterable[tuple[str, str]]) -> Any:
    """A title line over indented ``Label: value`` rows; on a terminal values wrap under themselves.

    On a pipe each row stays one line, so ``grep Symptom:`` works.
    """
    rows = [(label, value) for label, value in rows if value]
    if not is_terminal():
        return "\n".join([title] + [f"  {label}: {value}" for label, value in rows])
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(f"  {label}:", value)
    return Group(Text(title, style="bold"), grid)


# -- simlab serve -------------------------------------------------------------------------------
#: ``lab.cache_status`` as ``simlab serve`` reports it: where this lab came from.
LAB_IMAGE = {"hit": "loaded", "miss": "built", "rejected": "rebuilt", "off": "off"}


_IMAGE_NOTE = {"loaded": "loaded from the image cache",
               "built": "built (no image of this spec was cached)",
               "rebuilt": "built again (the cached image was rejected; see the warning above)",
               "off": "cache off: built, not saved"}


def serve_facts(lab: Any) -> dict[str, Any]:
    """What ``simlab serve`` adds to :meth:`Lab.endpoints`: a user to try, and whether the lab was
    loaded from its image (a CI job can check its image cache worked)."""
    facts: dict[str, Any] = {"lab_image": LAB_IMAGE.get(lab.cache_status, lab.cache_status)}
    named = list(lab.spec.population.named)
    if named:
        facts["sample_user"] = lab.upn(named[0].sam)
        facts["sample_user_password"] = named[0].password or lab.spec.population.password
    return facts


def serve_summary(endpoints: dict[str, Any], *, pid: int) -> Table:
    """The short human summary ``simlab serve`` prints on stderr (fits 80 columns).

    Everything shown is also in the JSON line / endpoints file; secrets too long to read
    (the connector password, the Graph tokens) are only named there.
    """
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    netbios = endpoints.get("netbios", "")
    add = grid.add_row
    add("Domain", f"{endpoints.get('domain')} (NetBIOS {netbios}); DC {endpoints.get('dns_host_name', '?')}")
    add("LDAP", str(endpoints.get("ldap_url")))
    if endpoints.get("ldaps_url"):
        add("LDAPS", str(endpoints["ldaps_url"]))
    add("CA file", str(endpoints.get("ca_file")))
    add("Admin", f"{netbios}\\Administrator / {endpoints.get('admin_password')}")
    if endpoints.get("sample_user"):
        add("User", f"{endpoints['sample_user']} / {endpoints.get('sample_user_password')}")
    connector = str(endpoints.get("connector_dn", "")).split(",", 1)[0].split("=", 1)[-1]
    add("Connector", f"{netbios}\\{connector} (password in the endpoints file)")
    add("Tenant admin", f"{endpoints.get('tenant_admin_upn')} / {endpoints.get('tenant_admin_password')}")
    add("Graph", f"{endpoints.get('graph_base_url')} (tokens in the endpoints file)")
    if endpoints.get("ui_url"):
        add("Console", str(endpoints["ui_url"]))
    if endpoints.get("endpoints_file"):
        add("Endpoints", str(endpoints["endpoints_file"]))
    image = endpoints.get("lab_image")
    if image:
        add("Lab image", _IMAGE_NOTE.get(image, image))
    add("Stop", f"Ctrl-C, `kill {pid}` or `simlab stop`")
    outer = Table.grid()
    outer.add_row(Text(f"simlab: lab {endpoints.get('domain')} is up (pid {pid})", style="bold green"))
    outer.add_row(grid)
    return outer


def print_serve_summary(endpoints: dict[str, Any], *, pid: int) -> None:
    """The summary on stderr, but only when a person watches stderr."""
    if is_terminal(sys.stderr):
        out = console(stderr=True)
        out.print()  # set it apart from the JSON line above it on the same screen
        out.print(serve_summary(endpoints, pid=pid))


# -- control-driven commands ---------------------------------------------------------------------
def fault_applied(data: dict[str, Any]) -> Any:
    """``simlab fault NAME``: what was broken, what the user will see, how an admin fixes it."""
    title = f": {data['title']}" if data.get("title") else ""
    rows = [("Symptom", data["symptom"]), ("Fix", data["fix"])]
    return labelled(f"Applied fault {data['applied']}{title}", rows)


def fault_entry(fault: Any) -> Any:
    """One catalogue entry of ``simlab faults``: name, category, title, then what/symptom/fix."""
    return labelled(f"{fault.name} ({fault.category}): {fault.title}",
                    [("What", fault.description), ("Symptom", fault.symptom.text), ("Fix", fault.fix)])


def clock_advanced(data: dict[str, Any]) -> str:
    """``simlab advance``: the new simulated time and the background jobs that ran."""
    now = str(data["now"]).replace("T", " ").replace("+00:00", " UTC")
    counts = Counter(_job_name(name) for name in data.get("fired") or [])
    jobs = [name if n == 1 else f"{name} (x{n})" for name, n in counts.items()]
    ran = "; ran: " + ", ".join(jobs) if jobs else "; nothing was due"
    return f"Simulated time is now {now}{ran}."


def _job_name(timer: str) -> str:
    """A clock timer's name as an admin knows the job (``adsync-delta-cycle`` -> Delta sync cycle)."""
    if timer.startswith("sd-propagation "):
        return "SD propagation"
    return {"adsync-delta-cycle": "Delta sync cycle"}.get(timer, timer)


#: What the SSPR portal page says when the action succeeds (the console shows the same text).
SSPR_DONE = {
    "reset": "Your password has been reset.",
    "unlock": "Your account has been unlocked.",
    "change": "Your password has been changed.",
}


def sspr_result(action: str, data: dict[str, Any]) -> str:
    """One line: the portal's success text, or the SSPR code and message it shows on failure."""
    if data["ok"]:
        return SSPR_DONE[action]
    message = data.get("message") or ""
    code = str(data.get("code"))
    return message if message.startswith(code) else f"{code}: {message}"


def wizard_result(data: dict[str, Any]) -> str:
    """The Connect wizard's last page, with the Application-log events it wrote."""
    events = ", ".join(map(str, data.get("events") or [])) or "none"
    if not data["ok"]:
        return f"Configuration failed: {data['message']} (events: {events})"
    state = "enabled" if data["password_writeback"] else "disabled"
    return f"Configuration complete. Password writeback is {state} (events: {events})."
