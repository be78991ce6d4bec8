"""The terminal as people use it, at 80 columns: serve's summary, events, admin messages, stopping.

Rich's width is pinned with ``COLUMNS=80`` (``LINES`` for the screenful) and terminal rendering
is forced with ``SIMLAB_FORCE_TERMINAL=1``; escape codes (bold, colours) are stripped before checks.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from rich.cells import cell_len
from test_cli import served, simlab

from fakes.ad.rights import AppliesTo, make_ace
from fakes.connect.adsyncconfig import Grant
from simlab.event_view import compact_lines, first_line

TERMINAL = {"SIMLAB_FORCE_TERMINAL": "1", "COLUMNS": "80", "LINES": "30", "NO_COLOR": "1", "TERM": "xterm"}
PIPED = {"SIMLAB_FORCE_TERMINAL": "0"}
ROW = re.compile(r"^\d\d-\d\d \d\d:\d\d:\d\d +(\d+) ")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def shown(*args: str, env: dict) -> subprocess.CompletedProcess:
    """`simlab ARGS` as a person at an 80x30 terminal sees it (escape codes removed)."""
    result = simlab(*args, env={**env, **TERMINAL, **{k: v for k, v in env.items() if k == "LINES"}})
    result.stdout, result.stderr = ANSI.sub("", result.stdout), ANSI.sub("", result.stderr)
    return result


def _ids(stdout: str) -> list[int]:
    """Event IDs of a compact view's rows; fails on a row without one."""
    lines = stdout.splitlines()
    assert lines[0].split()[:3] == ["Time", "ID", "Level"]
    ids = []
    for line in lines[1:]:
        match = ROW.match(line)
        assert match, f"row without an event ID: {line!r}"
        ids.append(int(match.group(1)))
    return ids


def _fits(text: str, width: int = 80) -> None:
    for line in text.splitlines():
        assert cell_len(line) <= width, f"{cell_len(line)} columns: {line!r}"


def test_serve_summary_endpoints_file_and_simlab_stop(tmp_path: Path):
    with served(tmp_path, "--users", "5", extra_env=TERMINAL) as (ep, env, proc):
        summary = []
        while not summary or not summary[-1].startswith("Stop"):
            line = ANSI.sub("", proc.stderr.readline()).rstrip("\n")
            summary += [line] if line or summary else []
        text = "\n".join(summary)
        _fits(text)
        assert f"lab contoso.com is up (pid {proc.pid})" in summary[0]
        for expected in (ep["ldap_url"], ep["ldaps_url"], ep["ca_file"], "alice@contoso.com / Winter2026!Lab",
                         "CONTOSO\\Administrator / Pa$$w0rd-Admin1", "CONTOSO\\MSOL_", "dc01.contoso.com",
                         ep["graph_base_url"], ep["endpoints_file"], f"kill {proc.pid}", "simlab stop"):
            assert expected in text, expected
        assert "eyJ" not in text  # tokens stay in the endpoints file
        saved = Path(ep["endpoints_file"])
        assert json.loads(saved.read_text()) == ep
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600

        stopped = simlab("stop", env=env)
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.strip() == f"Lab stopped (pid {proc.pid})."
        assert proc.wait(timeout=30) == 0
        assert "lab stopped" in proc.stderr.read()
        assert not (tmp_path / ".simlab" / "last-lab.json").exists()
        gone = simlab("events", env=env)
        assert gone.returncode == 1 and "No served lab found: start one with `simlab serve`" in gone.stderr


def test_sigterm_stops_cleanly_and_closes_every_port(tmp_path: Path):
    with served(tmp_path, "--users", "3", "--ui", extra_env=PIPED) as (ep, _env, proc):
        ports = [int(ep[k].rsplit(":", 1)[1].split("/")[0]) for k in ("ldap_url", "ldaps_url", "control_url",
                                                                        "ui_url", "portal_url")]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stderr.read() == "simlab: lab stopped\n"  # piped: no summary, no decoration
        for port in ports:
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
        assert not Path(ep["endpoints_file"]).exists()  # it lived in the lab's temporary workdir


def test_events_compact_tail_filters_and_admin_messages(tmp_path: Path):
    with served(tmp_path, "--users", "5", extra_env=PIPED) as (_ep, env, _proc):
        broke = simlab("fault", "missing-reset", "--json", env=env)
        applied = json.loads(broke.stdout)
        assert applied["applied"] == "missing-reset" and applied["code"] == "SSPR_0029"
        assert 33004 in applied["events"]
        failed = simlab("sspr", "reset", "alice", "Fresh-Passw0rd-2026!", "--json", env=env)
        assert failed.returncode == 1 and json.loads(failed.stdout)["code"] == "SSPR_0029"

        as_json = simlab("events", "--json", env=env).stdout
        every = [json.loads(line)["event_id"] for line in as_json.splitlines()]
        tail = shown("events", "--tail", "4", env=env)
        assert _ids(tail.stdout) == every[-4:] == [31001, 6329, 33004, 31003]
        _fits(tail.stdout)
        assert "…" in tail.stdout  # long first lines are cut, not wrapped
        assert f"Showing the newest 4 of {len(every)} events" in tail.stderr
        screenful = shown("events", env={**env, "LINES": "12"})
        assert _ids(screenful.stdout) == every[-8:]  # a screen of 12 lines: header, 8 rows, note, prompt
        piped = simlab("events", env={**env, **PIPED})
        assert _ids(piped.stdout) == every and piped.stderr == ""  # piped: all, newest last

        errors = shown("events", "--level", "error", env=env)
        assert _ids(errors.stdout) == [6329, 33004, 31003]
        audit = shown("events", "--security", "--id", "4724", "--level", "Audit Failure", env=env)
        assert _ids(audit.stdout) == [4724] and "Audit Failure" in audit.stdout
        _fits(audit.stdout)
        by_source = shown("events", "--source", "adsync", "--id", "6329,33004", "--full", env=env)
        assert "Event ID 6329" in by_source.stdout and "hr=80230626" in by_source.stdout
        assert "33004" not in by_source.stdout
        bad = shown("events", "--id", "31001,abc", env=env)
        assert bad.returncode == 2 and "event IDs are numbers like 31001,6329, not abc" in bad.stderr

        granted = shown("connect", "set-writeback-permissions", env=env)
        assert granted.returncode == 0, granted.stderr
        lines = granted.stdout.splitlines()
        assert re.fullmatch(r"Granted 1 ACE on DC=contoso,DC=com to CONTOSO\\MSOL_[0-9a-f]+:", lines[0])
        assert lines[1] == "  Allow  Reset password  (applies to: Descendant User objects)"
        _fits(granted.stdout)
        again = json.loads(simlab("connect", "set-writeback-permissions", "--json", env=env).stdout)
        assert again == [{"dn": "DC=contoso,DC=com", "account": lines[0].split(" to ")[1][:-1], "added": 0,
                          "aces": []}]
        assert simlab("sspr", "reset", "alice", "Fresh-Passw0rd-2026!", env=env).stdout == (
            "Your password has been reset.\n"
        )
        moved = json.loads(simlab("advance", "--minutes", "60", "--json", env=env).stdout)
        assert "SDProp" in moved["fired"]
        said = simlab("advance", "--minutes", "1", env=env).stdout
        assert said.startswith("Simulated time is now 2026-") and "UTC" in said
        unknown = simlab("fault", "no-such-fault", env=env)
        assert unknown.returncode == 1 and "no-such-fault" in unknown.stderr
        assert "Traceback" not in unknown.stderr


def test_no_served_lab_is_named_as_such(tmp_path: Path):
    result = simlab("sspr", "reset", "alice", "x", env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: No served lab found: start one with `simlab serve` (or pass --lab URL)."
    )


def _event(event_id: int, level: str, source: str, message: str) -> dict:
    return {"record_id": 1, "event_id": event_id, "level": level, "source": source, "message": message,
            "time": datetime(2026, 1, 5, 9, 30, tzinfo=UTC).isoformat(), "computer": "CONNECT01", "log": "x"}


def test_compact_lines_fit_any_width_and_keep_the_id():
    rows = [
        _event(33004, "Error", "PasswordResetService",
               "TrackingId: b3b68b57-da54-4267-9d13-8266d26d5396, Reason: ADPermissionsError, Context: CN=A"),
        _event(4724, "Audit Failure", "Microsoft-Windows-Security-Auditing",
               "An attempt was made to reset an account's password.\n\nSubject:\n\tSecurity ID:\tS-1-5-18"),
    ]
    for width in (80, 60, 120):
        lines = [line.plain for line in compact_lines(rows, width)]
        assert all(cell_len(line) <= width for line in lines)
        assert [ROW.match(line).group(1) for line in lines[1:]] == ["33004", "4724"]
    wide = [line.plain for line in compact_lines(rows, 120)]
    assert wide[1].endswith("Error         PasswordResetService Reason: ADPermissionsError, Context: CN=A")
    assert "Security-Auditing" in wide[2] and "Microsoft-Windows-" not in wide[2]
    assert first_line(rows[1]["message"]) == "An attempt was made to reset an account's password."


def test_grant_reads_like_an_admin_message():
    sid = "S-1-5-21-1-2-3-1105"
    ace = make_ace(sid, right="Reset Password", applies_to=AppliesTo.DESCENDANT_CLASS,
                   descendant_class="user")
    grant = Grant("OU=Staff,DC=contoso,DC=com", 1, "CONTOSO\\MSOL_x", (ace,))
    assert str(grant) == (
        "Granted 1 ACE on OU=Staff,DC=contoso,DC=com to CONTOSO\\MSOL_x:\n"
        "  Allow  Reset password  (applies to: Descendant User objects)"
    )
    assert "Grant(" not in str(grant)
    assert str(Grant("DC=contoso,DC=com", 0, "CONTOSO\\MSOL_x")) == (
        "No change on DC=contoso,DC=com: CONTOSO\\MSOL_x already has these permissions."
    )


def test_faults_catalogue_reads_at_80_columns():
    one = shown("faults", "missing-reset", env=dict(os.environ))
    assert one.returncode == 0, one.stderr
    _fits(one.stdout)
    lines = one.stdout.splitlines()
    assert lines[0] == "missing-reset (permissions): Connector account lacks Reset password"
    assert [line.split(":")[0].strip() for line in lines if line.startswith("  ") and ":" in line[:12]] == [
        "What", "Symptom", "Fix"]
    piped = simlab("faults", "missing-reset", "min-password-age", env={**os.environ, **PIPED})
    symptoms = [line for line in piped.stdout.splitlines() if line.startswith("  Symptom: ")]
    assert len(symptoms) == 2  # one line each on a pipe, however long
    assert symptoms[0] == "  Symptom: SSPR_0029; Connect logs 31001, 6329, 33004 (ADPermissionsError), 31003."
    assert simlab("faults", "no-such", env=dict(os.environ)).returncode == 2
