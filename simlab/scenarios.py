"""Scenarios: a lab, faults, steps and expectations in one YAML file, and the code that runs them.

    name: missing-reset
    lab: {population: {users: 10}}
    faults: [missing-reset]
    steps:
      - sspr_reset: {user: alice, password: "Fresh-Passw0rd-2026!"}
        expect: {ok: false, code: SSPR_0029, events: [31001, 33004, 31003]}
    expect:
      audit: [{activity: "Reset password (self-service)", result: failure}]

Every step is one action (see :data:`ACTIONS`) with an optional ``expect`` checked right
after it; the scenario's ``expect`` is checked at the end against everything since the
lab was built. docs/scenarios.md is the reference.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from simlab import expectations, scenario_steps
from simlab.faults import apply_fault
from simlab.lab import Lab
from simlab.spec import FaultRef, LabSpec
from simlab.specfile import SpecError, child_node, read_yaml_file, validate


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    expect: dict[str, Any] = Field(default_factory=dict)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    lab: dict[str, Any] = Field(default_factory=dict)
    faults: list[Any] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    expect: dict[str, Any] = Field(default_factory=dict)
    source: str = ""

    @field_validator("steps", mode="before")
    @classmethod
    def _steps(cls, value: Any) -> Any:
        # "- sspr_reset: {...}\n  expect: {...}" -> Step(action, params, expect)
        if not isinstance(value, list):
            return value
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise ValueError(f"step {i + 1} must be a mapping such as '- sspr_reset: {{user: alice}}'")
            actions = [k for k in item if k != "expect"]
            if len(actions) != 1:
                raise ValueError(f"step {i + 1} must name exactly one action, found {actions or 'none'}")
            name = actions[0]
            if name not in ACTIONS:
                known = ", ".join(sorted(ACTIONS))
                raise ValueError(f"step {i + 1}: unknown action {name!r}; known: {known}")
            params = item[name] or {}
            if not isinstance(params, dict):
                raise ValueError(f"step {i + 1}: {name} takes a mapping of parameters")
            out.append({"action": name, "params": params, "expect": item.get("expect") or {}})
        return out

    def lab_spec(self, seed: int | None = None) -> LabSpec:
        data = dict(self.lab)
        data.setdefault("name", self.name)
        if seed is not None:
            data["seed"] = seed
        data["faults"] = list(data.get("faults", [])) + list(self.faults)
        return LabSpec.model_validate(data)

    @classmethod
    def load(cls, path: Path | str) -> Scenario:
        """Read a scenario file; its ``lab`` section is validated as a lab spec (errors: file:line: field)."""
        data, node = read_yaml_file(path)
        return cls.from_document(data, node, path)

    @classmethod
    def from_document(cls, data: Any, node: Any, path: Path | str) -> Scenario:
        """Validate an already parsed scenario file (``node`` gives the lines for errors)."""
        if isinstance(data, dict):
            data.setdefault("name", Path(path).stem)
            data["source"] = str(path)
        scenario = validate(cls, data, node, str(path))
        validate(LabSpec, scenario.lab, child_node(node, "lab"), str(path), prefix="lab.")
        return scenario


@dataclass
class StepOutcome:
    index: int
    action: str
    result: dict[str, Any]
    failures: list[str] = field(default_factory=list)


@dataclass
class ScenarioResult:
    name: str
    source: str
    passed: bool
    duration: float
    failures: list[str] = field(default_factory=list)
    steps: list[StepOutcome] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "passed": self.passed,
            "duration": round(self.duration, 3),
            "failures": self.failures,
            "error": self.error,
            "steps": [{"index": s.index, "action": s.action, "result": _jsonable(s.result),
                       "failures": s.failures} for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScenarioResult:
        """The inverse of :meth:`to_dict` (results cross process boundaries as JSON under ``-n``)."""
        steps = [StepOutcome(s["index"], s["action"], s["result"], list(s["failures"]))
                 for s in data["steps"]]
        return cls(data["name"], data["source"], data["passed"], data["duration"], list(data["failures"]),
                   steps, data.get("error"))


# -- actions ------------------------------------------------------------------------------
def _sspr_reset(lab: Lab, user: str, password: str, unlock: bool = False) -> dict:
    return _attempt(lab.sspr_reset(user, password, unlock=unlock))


def _sspr_unlock(lab: Lab, user: str) -> dict:
    return _attempt(lab.sspr_unlock(user))


def _change_password(lab: Lab, user: str, current: str, new: str) -> dict:
    return _attempt(lab.change_password(user, current, new))


def _admin_reset(lab: Lab, user: str, password: str | None = None) -> dict:
    return _attempt(lab.admin_reset(user, password))


def _bind(lab: Lab, user: str, password: str, transport: str = "ldaps", authentication: str = "simple"
          ) -> dict:
    result = lab.bind(user, password, transport=transport, authentication=authentication)  # type: ignore
    return {"result": result.code, "message": result.message}


def _bad_binds(lab: Lab, user: str, count: int = 5) -> dict:
    codes = [lab.bind(user, "definitely-not-the-password").code for _ in range(count)]
    return {"results": codes}


def _advance(lab: Lab, minutes: float = 0, hours: float = 0, days: float = 0, seconds: float = 0) -> dict:
    fired = lab.advance(minutes=minutes, hours=hours, days=days, seconds=seconds)
    return {"fired": fired}


def _gpupdate(lab: Lab) -> dict:
    lab.gpupdate()
    return {}


def _gpo(lab: Lab, **settings: Any) -> dict:
    lab.gpo.edit(**settings)
    return {"pending": lab.gpo.pending}


def _apply_fault(lab: Lab, name: str, **params: Any) -> dict:
    apply_fault(lab, name, **params)
    return {"applied": name}


def _grant_tutorial_permissions(lab: Lab) -> dict:
    lab.grant_tutorial_permissions()
    return {}


def _connect(lab: Lab, action: str) -> dict:
    server = lab.connect
    admin = (lab.tenant.admin_upn, lab.tenant.admin_password)
    actions = {
        "start_service": server.start_service,
        "stop_service": server.stop_service,
        "enable_writeback": lambda: server.enable_password_writeback(*admin),
        "disable_writeback": lambda: server.disable_password_writeback(*admin),
        "sync": lambda: server.run_sync_cycle("Delta"),
        "full_sync": lambda: server.run_sync_cycle("Initial"),
        "leave_staging": lambda: server.set_staging_mode(False),
    }
    if action not in actions:
        raise ValueError(f"connect action must be one of {sorted(actions)}")
    actions[action]()
    return {"service": "Running" if server.service_running else "Stopped"}


def _portal(lab: Lab, **fields: Any) -> dict:
    from simlab import portal

    response = portal.set_onprem_policy(lab.tenant, **fields)
    return {"status": response.status_code, "body": response.json()}


def _graph(
    lab: Lab, path: str, method: str = "GET", body: dict | None = None, as_user: str | None = None
) -> dict:
    """One Graph request as the tenant's Global Administrator (or ``as_user``), no retries."""
    from simlab import portal

    response = portal.call(lab.tenant, method, "https://graph.microsoft.com" + path, body, as_user)
    try:
        payload = response.json()
    except ValueError:
        payload = response.text
    retry_after = response.headers.get("Retry-After")
    return {"status": response.status_code, "retry_after": retry_after, "body": payload}


def _run(lab: Lab, command: str, timeout: float = 120, cwd: str | None = None) -> dict:
    env = {**os.environ, **lab.env(), "PYTHON": sys.executable}
    argv = shlex.split(command)
    if argv and argv[0] == "python":
        argv[0] = sys.executable  # the interpreter simlab runs under, with its packages
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False)
    return {"exit": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


ACTIONS = {
    "sspr_reset": _sspr_reset,
    "sspr_unlock": _sspr_unlock,
    "change_password": _change_password,
    "admin_reset": _admin_reset,
    "bind": _bind,
    "bad_binds": _bad_binds,
    "advance": _advance,
    "gpupdate": _gpupdate,
    "gpo": _gpo,
    "dc_gpo": scenario_steps.dc_gpo,
    "doctor": scenario_steps.doctor,
    "apply_fault": _apply_fault,
    "grant_tutorial_permissions": _grant_tutorial_permissions,
    "connect": _connect,
    "portal": _portal,
    "graph": _graph,
    "run": _run,
}


def _attempt(attempt: Any) -> dict:
    return {"ok": attempt.ok, "code": attempt.code, "message": attempt.message}


# -- running ------------------------------------------------------------------------------
def run_scenario(
    scenario: Scenario, *, seed: int | None = None, base_dir: Path | None = None
) -> ScenarioResult:
    """Build the scenario's lab, run its steps, check expectations; never raises for a failing scenario."""
    started = time.perf_counter()
    result = ScenarioResult(scenario.name, scenario.source, False, 0.0)
    cwd = str(base_dir or (Path(scenario.source).parent if scenario.source else Path.cwd()))
    where = "lab"  # what was running when something raised: the lab build, a step, the final checks
    try:
        # SIMLAB_NO_CACHE=1 / --no-cache turn the cache off. A big lab's image is written in the
        # background, past the scenario's end: the run waits for it at its end (image_saver.finish_all).
        with Lab(scenario.lab_spec(seed), cache=True, save_in_background="big") as lab:
            lab.release_image_save()
            watch = expectations.Watch.start(lab, scenario.expect)
            for i, step in enumerate(scenario.steps, 1):
                where = f"step {i} ({step.action})"
                event_mark = lab.connect.eventlog.last_record_id()
                audit_mark = len(lab.tenant.audit.query())
                params = dict(step.params)
                if step.action == "run":
                    params.setdefault("cwd", cwd)
                outcome = StepOutcome(i, step.action, ACTIONS[step.action](lab, **params))
                outcome.failures = expectations.check_step(lab, outcome.result, step.expect,
                                                           event_mark=event_mark, audit_mark=audit_mark)
                result.steps.append(outcome)
                result.failures += [f"step {i} ({step.action}): {f}" for f in outcome.failures]
            where = "expect"
            result.failures += expectations.check_final(lab, watch)
    except Exception as exc:  # a broken lab or step is a failed scenario, with the reason
        result.error = f"{type(exc).__name__}: {exc}"
        result.failures.append(f"{where}: {result.error}")
    result.passed = not result.failures
    result.duration = time.perf_counter() - started
    return result


def discover(paths: list[str | Path]) -> list[Path]:
    """Scenario files under the given files/directories (``*.yaml``/``*.yml``), sorted."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml"))
        elif p.exists():
            found.append(p)
        else:
            raise SpecError(str(p), [f"{p}: no such file or directory"])
    return found


def select(scenarios: list[Scenario], keyword: str | None) -> list[Scenario]:
    """``-k`` selection: substring of the name or a tag; ``not x`` excludes."""
    if not keyword:
        return scenarios
    negate = keyword.startswith("not ")
    word = keyword[4:] if negate else keyword
    hit = [s for s in scenarios if word in s.name or word in s.tags]
    return [s for s in scenarios if s not in hit] if negate else hit


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


__all__ = ["ACTIONS", "FaultRef", "Scenario", "ScenarioResult", "discover", "run_scenario", "select"]
