"""Rendering scenario results: a rich table for people, JSON and JUnit XML for CI."""

from __future__ import annotations

import json
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from rich.console import Console
from rich.table import Table

from simlab.scenarios import ScenarioResult


def table(results: Sequence[ScenarioResult]) -> Table:
    t = Table(title="simlab scenarios", show_lines=False)
    t.add_column("scenario")
    t.add_column("result")
    t.add_column("time", justify="right")
    t.add_column("first failure", overflow="fold")
    for r in results:
        status = "[green]PASS[/green]" if r.passed else "[red]FAIL[/red]"
        t.add_row(r.name, status, f"{r.duration:.2f}s", r.failures[0] if r.failures else "")
    return t


def summary_line(results: Sequence[ScenarioResult]) -> str:
    passed = sum(r.passed for r in results)
    # The plain "N passed, N failed" line CI systems read.
    return f"{passed} passed, {len(results) - passed} failed"


def print_report(results: Sequence[ScenarioResult], console: Console | None = None) -> None:
    console = console or Console()
    console.print(table(results))
    for r in results:
        if not r.passed:
            console.print(f"[bold red]{r.name}[/bold red] ({r.source})")
            for failure in r.failures:
                console.print(f"  - {failure}", markup=False)
    console.print(summary_line(results), markup=False, highlight=False)


def to_json(results: Sequence[ScenarioResult]) -> str:
    passed = sum(r.passed for r in results)
    return json.dumps({"passed": passed, "failed": len(results) - passed,
                       "scenarios": [r.to_dict() for r in results]}, indent=2)


def to_junit(results: Sequence[ScenarioResult]) -> str:
    suite = ET.Element("testsuite", name="simlab", tests=str(len(results)),
                       failures=str(sum(not r.passed for r in results)),
                       time=f"{sum(r.duration for r in results):.3f}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="simlab.scenarios", name=r.name,
                             file=r.source, time=f"{r.duration:.3f}")
        if not r.passed:
            failure = ET.SubElement(case, "failure", message=r.failures[0] if r.failures else "failed")
            failure.text = "\n".join(r.failures)
    return ET.tostring(ET.ElementTree(suite).getroot(), encoding="unicode", xml_declaration=True)
