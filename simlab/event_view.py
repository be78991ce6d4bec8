"""``simlab events`` on a terminal: one line per event like Event Viewer's list, or whole messages.

Pure rendering of event dicts (``fakes.eventlog.Event.to_dict``, as the control API sends them):
the compact view fits a given width with fixed columns (time, ID, level, source) and the first
line of the message cut with an ellipsis; ``--full`` shows each message whole under a header
line, like Event Viewer's General tab. Filtering and the tail happen in the control API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rich.cells import cell_len
from rich.console import Group
from rich.padding import Padding
from rich.text import Text

#: How each level stands out in the list (the colours Event Viewer's icons use).
LEVEL_STYLES = {"Error": "red", "Critical": "bold red", "Warning": "yellow", "Audit Failure": "red"}
_SOURCE_MAX = 20
# The compact view drops the per-request GUID that starts PasswordResetService messages: cut to
# 80 columns it would be all a trainee sees. --full and --json keep it.
_TRACKING = re.compile(r"^TrackingId: [0-9a-fA-F-]{36}, ")


def short_time(iso: str) -> str:
    """``2026-01-05T09:00:00+00:00`` -> ``01-05 09:00:00`` (the simulated year rarely changes)."""
    return datetime.fromisoformat(iso).strftime("%m-%d %H:%M:%S")


def short_source(source: str) -> str:
    """Event Viewer shows "Microsoft Windows security auditing."; the prefix says nothing here."""
    return source.removeprefix("Microsoft-Windows-")


def first_line(message: str) -> str:
    """The first non-empty line of ``message`` without the leading TrackingId."""
    line = next((ln.strip() for ln in message.splitlines() if ln.strip()), "")
    return _TRACKING.sub("", line)


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells, ending in an ellipsis when cut."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    out = Text(text)
    out.truncate(width, overflow="ellipsis")
    return out.plain


def compact_lines(events: Iterable[dict[str, Any]], width: int) -> list[Text]:
    """One line per event, each at most ``width`` cells, with a header line first."""
    rows = list(events)
    id_w = max([len("ID")] + [len(str(e["event_id"])) for e in rows])
    level_w = max([len("Level")] + [len(e["level"]) for e in rows])
    source_w = min(_SOURCE_MAX, max([len("Source")] + [len(short_source(e["source"])) for e in rows]))
    fixed = 14 + 1 + id_w + 1 + level_w + 1 + source_w + 1
    message_w = max(width - fixed, 0)
    header = Text(f"{'Time':<14} {'ID':>{id_w}} {'Level':<{level_w}} {'Source':<{source_w}} "
                  f"{_fit('Message', message_w)}".rstrip(), style="bold")
    lines = [header]
    for e in rows:
        line = Text(f"{short_time(e['time']):<14} {e['event_id']:>{id_w}} ")
        line.append(f"{e['level']:<{level_w}}", style=LEVEL_STYLES.get(e["level"]))
        line.append(f" {_fit(short_source(e['source']), source_w):<{source_w}} ")
        line.append(_fit(first_line(e["message"]), message_w))
        line.rstrip()
        line.truncate(width)  # a very narrow terminal: cut the fixed columns too, never wrap
        lines.append(line)
    return lines


def full_blocks(events: Iterable[dict[str, Any]]) -> Group:
    """Each event like Event Viewer's General tab: ID, level, time; source, computer; the message."""
    parts: list[Any] = []
    for e in events:
        header = Text(f"Event ID {e['event_id']}  ", style="bold")
        header.append(e["level"], style=LEVEL_STYLES.get(e["level"], "bold"))
        header.append(f"  {e['time'][:19].replace('T', ' ')}", style="bold")
        parts.append(header)
        parts.append(Text(f"{e['source']} on {e['computer']}, record {e['record_id']}", style="dim"))
        # Windows lays the Security log's "Name:\t\tvalue" lines out on tab stops; 4 columns keep
        # a SID on the same line as its label at 80 columns.
        parts.append(Padding(Text(e["message"].expandtabs(4)), (0, 0, 1, 2)))
    return Group(*parts)


def tail_note(shown: int, total: int) -> str | None:
    """What a cut list tells the reader (None when everything is shown)."""
    if shown >= total:
        return None
    return f"Showing the newest {shown} of {total} events (--tail 0 shows all, --id/--level filter)."
