"""Scenario YAML files as pytest items (loaded by :mod:`simlab.pytest_plugin`).

Which files: every ``*.yaml``/``*.yml`` under the paths of the ``simlab_scenarios`` ini option
(relative to the rootdir, e.g. ``simlab_scenarios = scenarios``), plus any file named
``*.scenario.yaml`` anywhere. Each scenario is one item, run by the same engine as ``simlab run``
(:func:`simlab.scenarios.run_scenario`); its tags become markers (``-m fault``), its name and tags
work with ``-k``. A failure shows the step, its expectation, what the lab answered and the failed
check, the way pytest shows an assert.

Options: ``--simlab-seed N`` overrides every lab's seed; ``--simlab-select WORD`` is ``simlab run
-k``'s selection (name or tag substring, ``not WORD``); ``--simlab-results FILE`` writes every
scenario's result as JSON (``simlab run -n`` reads it; works under pytest-xdist).
"""

from __future__ import annotations

import json
import os
import re
import reprlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SUFFIXES = (".yaml", ".yml")
_TAGS = pytest.StashKey[set]()
_short = reprlib.Repr()  # long Graph bodies and stdout stay readable in a failure report
_short.maxstring = _short.maxother = 160
_short.maxdict = _short.maxlist = 12


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("simlab_scenarios", type="args", default=[],
                  help="simlab: files/directories of scenario YAML collected as tests (relative to rootdir)")
    group = parser.getgroup("simlab", "simlab scenarios")
    group.addoption("--simlab-seed", type=int, default=None, help="Override every scenario lab's seed.")
    group.addoption("--simlab-select", default=None, metavar="WORD",
                    help="Only scenarios whose name or tag contains WORD ('not WORD' excludes), "
                         "as simlab run -k.")
    group.addoption("--simlab-results", default=None, metavar="FILE",
                    help="Write the scenario results as JSON (what simlab run --json writes).")


def pytest_configure(config: pytest.Config) -> None:
    target = config.getoption("simlab_results", None)
    if target and not hasattr(config, "workerinput"):  # a plain run or the xdist controller
        config.pluginmanager.register(ResultsFile(target), "simlab-results-file")


def _scenario_roots(config: pytest.Config) -> list[Path]:
    return [(config.rootpath / p).resolve() for p in config.getini("simlab_scenarios")]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in SUFFIXES:
        return None
    named = file_path.name.endswith((".scenario.yaml", ".scenario.yml"))
    resolved = file_path.resolve()
    listed = any(resolved == root or root in resolved.parents for root in _scenario_roots(parent.config))
    return ScenarioFile.from_parent(parent, path=file_path) if named or listed else None


class ScenarioFile(pytest.File):
    """One scenario YAML file; a file that does not validate is a collection error naming file:line."""

    def collect(self) -> Iterator[pytest.Item]:
        from simlab.scenarios import Scenario, select
        from simlab.specfile import SpecError, child_node, read_yaml_file

        try:
            data, node = read_yaml_file(self.path)
            scenario = Scenario.from_document(data, node, self.path)
        except SpecError as exc:
            raise self.CollectError("\n".join(exc.problems)) from None
        if not select([scenario], self.config.getoption("simlab_select")):
            return
        steps = child_node(node, "steps")
        item = ScenarioItem.from_parent(
            self, name=scenario.name, scenario=scenario,
            step_lines=[n.start_mark.line + 1 for n in getattr(steps, "value", [])],
            expect_line=_key_line(node, "expect"),
        )
        registered = self.config.stash.setdefault(_TAGS, set())
        for tag in scenario.tags:
            # Tags are markers (-m TAG); registered (once: thousands of files share a few tags)
            # before use so --strict-markers accepts them.
            if tag not in registered:
                self.config.addinivalue_line("markers", f"{tag}: simlab scenario tag")
                registered.add(tag)
            item.add_marker(tag)
        yield item


def _key_line(node: Any, key: str) -> int | None:
    """1-based line of ``key:`` in a YAML mapping node."""
    for k, _ in getattr(node, "value", []):
        if getattr(k, "value", None) == key:
            return k.start_mark.line + 1
    return None


class ScenarioFailed(Exception):
    """Raised by a failed scenario item; carries the result for :meth:`ScenarioItem.repr_failure`."""

    def __init__(self, result: Any) -> None:
        super().__init__("\n".join(result.failures))
        self.result = result


class ScenarioItem(pytest.Item):
    """One scenario: builds its lab, runs its steps, checks its expectations."""

    def __init__(self, *, scenario: Any, step_lines: list[int], expect_line: int | None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.step_lines = step_lines
        self.expect_line = expect_line
        self.result: Any = None

    def runtest(self) -> None:
        from simlab.scenarios import run_scenario

        self.result = run_scenario(self.scenario, seed=self.config.getoption("simlab_seed"))
        if not self.result.passed:
            raise ScenarioFailed(self.result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return explain(self, excinfo.value.result)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario: {self.name}"


def _line(item: ScenarioItem, index: int) -> str:
    lines = item.step_lines
    return f"{item.path.name}:{lines[index - 1]}" if 0 < index <= len(lines) else item.path.name


def _step_block(item: ScenarioItem, index: int, action: str) -> list[str]:
    step = item.scenario.steps[index - 1]
    return ["", f"{_line(item, index)}: step {index} of {len(item.scenario.steps)}",
            f"    {action}: {_short.repr(step.params)}", f"    expect: {_short.repr(step.expect)}"]


_RAISED = re.compile(r"step (\d+) \((\w+)\): ")


def explain(item: ScenarioItem, result: Any) -> str:
    """The failure as pytest shows an assert: the step, its expectation, the lab's answer, ``E`` lines.

    The first line is the first failure (pytest's short summary shows it).
    """
    out = [result.failures[0] if result.failures else "failed", f"scenario {result.name} ({result.source})"]
    for outcome in result.steps:
        if outcome.failures:
            out += _step_block(item, outcome.index, outcome.action)
            out += [f">   lab answered: {_short.repr(outcome.result)}"]
            out += [f"E   {f}" for f in outcome.failures]
    shown = {f"step {o.index} ({o.action}): {f}" for o in result.steps for f in o.failures}
    final = []
    for failure in (f for f in result.failures if f not in shown):
        raised = _RAISED.match(failure)
        if raised:  # the step itself raised: there is no answer to show
            out += _step_block(item, int(raised.group(1)), raised.group(2))
            out += [f"E   raised {failure[raised.end():]}"]
        elif failure.startswith("lab: "):
            out += ["", f"{item.path.name}: building the lab", f"E   raised {failure[5:]}"]
        else:
            final.append(failure)
    if final:
        where = f"{item.path.name}:{item.expect_line}" if item.expect_line else item.path.name
        out += ["", f"{where}: scenario expect: {_short.repr(item.scenario.expect)}"]
        out += [f"E   {f}" for f in final]
    return "\n".join(out)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if isinstance(item, ScenarioItem) and report.when == "call" and item.result is not None:
        # A plain dict attribute survives pytest-xdist's report serialisation to the controller.
        report.simlab_result = item.result.to_dict()
    return report


class ResultsFile:
    """``--simlab-results FILE``: collects every scenario's result where reports arrive, writes JSON."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.results: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "simlab_result", None)
        if data is not None:
            self.results.append({**data, "nodeid": report.nodeid})

    def pytest_sessionfinish(self) -> None:
        self.path.write_text(json.dumps(self.results, indent=1) + os.linesep)
