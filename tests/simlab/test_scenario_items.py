"""Scenario YAML files as pytest items: selection, reports, xdist, --lf, sharding, and `simlab run -n`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

from simlab.scenarios import Scenario, discover

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = discover([ROOT / "scenarios"])

PASSING = """
name: resets-fine
tags: [healthy, demo]
lab: {population: {users: 3}}
steps:
  - sspr_reset: {user: alice, password: "Fresh-Passw0rd-2026!"}
    expect: {ok: true}
"""
FAILING = """
name: wrong-guess
tags: [demo]
lab: {population: {users: 3}}
steps:
  - advance: {minutes: 1}
  - sspr_reset: {user: alice, password: "Fresh-Passw0rd-2026!"}
    expect: {ok: false, code: SSPR_0029}
expect:
  security_events: [4740]
"""


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600, check=False)


def _simlab(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simlab.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, check=False)


def _two_scenarios(pytester) -> None:
    pytester.makefile(".scenario.yaml", ok=PASSING, bad=FAILING)


def test_shipped_catalogue_under_xdist_runs_each_scenario_once_like_simlab_run(tmp_path: Path):
    """The whole catalogue through pytest -n 2 equals `simlab run scenarios`, one item per file."""
    junit, results = tmp_path / "junit.xml", tmp_path / "results.json"
    items = _pytest(ROOT, "-q", "-p", "no:cacheprovider", "-n", "2", "scenarios", f"--junitxml={junit}",
                    f"--simlab-results={results}")
    assert items.returncode == 0, items.stdout[-3000:]
    cases = ET.parse(junit).getroot().iter("testcase")
    ran = sorted((c.get("classname"), c.get("name")) for c in cases)
    expected = sorted((str(p.relative_to(ROOT)).replace("/", "."), Scenario.load(p).name) for p in SHIPPED)
    assert ran == expected  # every shipped scenario, exactly once

    serial = _simlab(ROOT, "run", "scenarios", "--json", "-")
    assert serial.returncode == 0, serial.stderr[-3000:]
    by_runner = {s["name"]: (s["passed"], s["failures"]) for s in json.loads(serial.stdout)["scenarios"]}
    by_pytest = {s["name"]: (s["passed"], s["failures"]) for s in json.loads(results.read_text())}
    assert by_pytest == by_runner and len(by_pytest) == len(SHIPPED)


def test_failure_report_shows_step_expectation_and_answer(pytester):
    _two_scenarios(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "wrong")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*bad.scenario.yaml:6: step 2 of 2",
        "    sspr_reset: {'password': 'Fresh-Passw0rd-2026!', 'user': 'alice'}",
        "    expect: {'code': 'SSPR_0029', 'ok': False}",
        ">   lab answered: {'code': None, 'message': '', 'ok': True}",
        "E   ok: expected False, got True",
        "E   code: expected 'SSPR_0029', got None",
        "*bad.scenario.yaml:8: scenario expect: {'security_events': *",  # (fnmatch: [..] is a class)
        "E   security events expected ?4740? in this order, got *",
        "FAILED bad.scenario.yaml::wrong-guess - step 2 (sspr_reset): ok: expected*",
    ])


def test_keyword_marker_junit_and_exitfirst_select_scenarios(pytester):
    _two_scenarios(pytester)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "resets").assert_outcomes(passed=1)
    # tags are registered markers: --strict-markers accepts them, -m selects by them
    by_tag = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers", "-m", "healthy")
    by_tag.assert_outcomes(passed=1)
    junit = pytester.path / "j.xml"
    both = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "demo", "-x", f"--junitxml={junit}",
                                         "bad.scenario.yaml", "ok.scenario.yaml")
    both.assert_outcomes(failed=1)  # -x: stopped after the first (failing) scenario
    failure = ET.parse(junit).getroot().find(".//testcase[@name='wrong-guess']/failure")
    assert failure is not None and "lab answered" in (failure.get("message") or "")


def test_last_failed_reruns_only_the_failing_scenario(pytester):
    _two_scenarios(pytester)
    pytester.runpytest_subprocess().assert_outcomes(passed=1, failed=1)
    again = pytester.runpytest_subprocess("--lf")
    again.assert_outcomes(failed=1)  # and nothing else ran
    again.stdout.fnmatch_lines(["run-last-failure: rerun previous 1 failure*"])


def test_ini_option_collects_a_directory_and_leaves_other_yaml_alone(pytester):
    pytester.makefile(".yaml", **{"checks/one": PASSING, "labs/spec": "population: {users: 3}\n"})
    pytester.makeini("[pytest]\nsimlab_scenarios = checks\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["checks/one.yaml::resets-fine", "*1 test collected*"])


def test_invalid_scenario_is_a_collection_error_with_file_and_line(pytester):
    pytester.makefile(".scenario.yaml", broken="name: x\nsteps:\n  - teleport: {to: mars}\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*broken.scenario.yaml:2: steps: *unknown action 'teleport'*"])


def test_pytest_split_shards_the_catalogue_deterministically():
    """--splits/--group (pytest-split): the groups partition the items, the same way every time."""
    def group(i: int) -> list[str]:
        out = _pytest(ROOT, "-q", "-p", "no:cacheprovider", "--collect-only", "--splits", "2",
                      "--group", str(i), "scenarios")
        assert out.returncode == 0, out.stdout[-2000:]
        return [line for line in out.stdout.splitlines() if "::" in line]

    groups = [group(1), group(2)]
    every = [ids for g in groups for ids in g]
    assert len(every) == len(set(every)) == len(SHIPPED)
    assert all(groups) and group(1) == groups[0]


def test_simlab_run_parallel_keeps_options_and_outputs(tmp_path: Path):
    (tmp_path / "ok.yaml").write_text(PASSING)
    (tmp_path / "bad.yaml").write_text(FAILING)
    (tmp_path / "test_not_a_scenario.py").write_text("def test_x():\n    raise AssertionError\n")
    junit = tmp_path / "out.xml"
    run = _simlab(tmp_path, "run", "-n", "2", ".", "--json", "-", "--junit", str(junit))
    assert run.returncode == 1, run.stderr
    data = json.loads(run.stdout)
    assert (data["passed"], data["failed"]) == (1, 1)
    assert [s["name"] for s in data["scenarios"]] == ["wrong-guess", "resets-fine"]  # path order, like serial
    assert data["scenarios"][0]["source"] == "bad.yaml"
    assert "1 passed, 1 failed" in run.stderr and "wrong-guess" in run.stderr
    assert ET.parse(junit).getroot().get("failures") == "1"

    only_ok = _simlab(tmp_path, "run", "-n", "2", ".", "-k", "healthy", "--seed", "7", "--json", "-")
    assert only_ok.returncode == 0, only_ok.stderr
    assert [s["name"] for s in json.loads(only_ok.stdout)["scenarios"]] == ["resets-fine"]
    assert _simlab(tmp_path, "run", "-n", "2", ".", "-k", "nothing-matches").returncode == 5
