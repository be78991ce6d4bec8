"""What doctor reports: findings (with verbatim evidence and the fix), the checks it ran, renderers.

A finding's ``id`` is the fault catalogue name it corresponds to (``missing-reset``,
``protected-user``...), so a test can compare what doctor found with what was broken.
Findings that match no catalogue entry use ids outside it (``writeback-access-denied``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info"]
CheckStatus = Literal["ok", "finding", "skipped"]

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One thing doctor read, verbatim: where (``source``), what (``item``) and the value seen."""

    source: str
    item: str
    value: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One diagnosed problem: catalogue id, how bad, what was read, and how to fix it."""

    id: str
    severity: Severity
    title: str
    category: str
    evidence: tuple[Evidence, ...]
    fix: tuple[str, ...]
    user: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Check:
    """A check doctor ran (or could not run) and how it ended."""

    name: str
    status: CheckStatus
    detail: str = ""


@dataclass(frozen=True)
class Report:
    """The result of :func:`simlab.doctor.diagnose`."""

    target: str
    user: str | None
    findings: tuple[Finding, ...]
    checks: tuple[Check, ...] = ()
    read_at: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def ids(self) -> frozenset[str]:
        """The finding ids (catalogue fault names) as a set."""
        return frozenset(f.id for f in self.findings)

    @property
    def healthy(self) -> bool:
        return not self.findings

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (_SEVERITY_ORDER[f.severity], f.category, f.id))

    # -- renderers -------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "user": self.user,
            "read_at": self.read_at,
            "healthy": self.healthy,
            "findings": [f.to_dict() for f in self.sorted_findings()],
            "checks": [asdict(c) for c in self.checks],
            "notes": list(self.notes),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON (findings sorted by severity, then category)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    def to_text(self) -> str:
        """Plain text for a terminal: a check list, then each finding with evidence and fix."""
        who = f" for user {self.user}" if self.user else ""
        lines = [
            f"simlab doctor: {self.target}{who}" + (f" (read at {self.read_at})" if self.read_at else "")
        ]
        lines.append("")
        width = max((len(c.name) for c in self.checks), default=10)
        for c in self.checks:
            mark = {"ok": "OK  ", "finding": "FAIL", "skipped": "SKIP"}[c.status]
            lines.append(f"  [{mark}] {c.name.ljust(width)}  {c.detail}".rstrip())
        lines.append("")
        if not self.findings:
            lines.append("No problems found.")
        for n, f in enumerate(self.sorted_findings(), 1):
            scope = f" (user {f.user})" if f.user else ""
            lines.append(f"{n}. [{f.severity.upper()}] {f.id}: {f.title}{scope}")
            for e in f.evidence:
                value = e.value.replace("\n", "\n" + " " * 8)
                lines.append(f"     - {e.source} / {e.item}: {value}")
            lines.append("     Fix:")
            lines.extend(f"       * {step}" for step in f.fix)
            lines.append("")
        for note in self.notes:
            lines.append(f"Note: {note}")
        return "\n".join(lines).rstrip() + "\n"

    def to_markdown(self) -> str:
        """GitHub-flavoured Markdown: a summary table, then one section per finding."""
        who = f" — user `{self.user}`" if self.user else ""
        out = [f"# simlab doctor: {self.target}{who}", ""]
        if self.read_at:
            out += [f"Read at {self.read_at}.", ""]
        out += ["| Check | Status | Detail |", "|---|---|---|"]
        out += [f"| {c.name} | {c.status} | {_md_cell(c.detail)} |" for c in self.checks]
        out.append("")
        if not self.findings:
            out += ["**No problems found.**", ""]
        else:
            out += ["| Severity | Finding | Title |", "|---|---|---|"]
            out += [f"| {f.severity} | `{f.id}` | {_md_cell(f.title)} |" for f in self.sorted_findings()]
            out.append("")
        for f in self.sorted_findings():
            scope = f" (user `{f.user}`)" if f.user else ""
            out += [
                f"## `{f.id}` — {f.title}{scope}",
                "",
                f"Severity: **{f.severity}**, category: {f.category}.",
                "",
                "Evidence:",
                "",
            ]
            for e in f.evidence:
                out.append(f"- {e.source} — {e.item}:")
                out += ["", "  ```", *[f"  {line}" for line in e.value.splitlines() or [""]], "  ```", ""]
            out += ["Fix:", ""]
            out += [f"{i}. {step}" for i, step in enumerate(f.fix, 1)]
            out.append("")
        out += [f"> {note}" for note in self.notes]
        return "\n".join(out).rstrip() + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
