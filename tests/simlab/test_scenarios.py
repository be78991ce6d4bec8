"""The scenario runner reports failures precisely instead of raising.

The shipped catalogue itself runs as pytest items (``testpaths`` includes scenarios/, collected
by simlab.pytest_scenarios), so it is not run again here.
"""

from pathlib import Path

import pytest

from simlab.scenarios import Scenario, discover, run_scenario, select
from simlab.specfile import SpecError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = discover([ROOT / "scenarios"])


def test_catalogue_has_a_scenario_per_fault():
    from simlab.faults import FAULTS

    names = {Scenario.load(p).name for p in SHIPPED}
    assert {f"fault-{n}" for n in FAULTS} <= names


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_a_wrong_expectation_fails_with_what_was_seen(tmp_path: Path):
    path = _write(
        tmp_path,
        """
name: wrong
lab: {population: {users: 5}}
steps:
  - sspr_reset: {user: alice, password: "Fresh-Passw0rd-2026!"}
    expect: {ok: false, code: SSPR_0029, events: [33004]}
""",
    )
    result = run_scenario(Scenario.load(path))
    assert not result.passed
    assert any("ok: expected False, got True" in f for f in result.failures)
    assert any("events expected [33004]" in f for f in result.failures)


def test_a_broken_step_is_a_failed_scenario_not_a_crash(tmp_path: Path):
    path = _write(
        tmp_path,
        """
name: broken
lab: {population: {users: 5}}
steps:
  - sspr_reset: {user: nobody-at-all, password: "Fresh-Passw0rd-2026!"}
    expect: {ok: true}
  - apply_fault: {name: no-such-fault}
""",
    )
    result = run_scenario(Scenario.load(path))
    assert not result.passed and "unknown fault" in (result.error or "")


def test_unknown_action_is_a_load_error_with_the_line(tmp_path: Path):
    path = _write(tmp_path, "name: x\nsteps:\n  - teleport: {to: mars}\n")
    with pytest.raises(SpecError) as info:
        Scenario.load(path)
    assert "unknown action 'teleport'" in str(info.value) and f"{path}:" in str(info.value)


def test_bad_lab_section_is_reported(tmp_path: Path):
    path = _write(tmp_path, "name: x\nlab: {tenant: {licence: P9}}\n")
    with pytest.raises(SpecError, match=r"lab\.tenant\.licence"):
        Scenario.load(path)


def test_keyword_selection():
    scenarios = [Scenario.load(p) for p in SHIPPED]
    tutorial = select(scenarios, "tutorial")
    assert tutorial and all("tutorial" in s.name or "tutorial" in s.tags for s in tutorial)
    assert not set(s.name for s in select(scenarios, "not fault")) & {
        s.name for s in select(scenarios, "fault")
    }
