"""Lab spec validation: defaults give the healthy tutorial lab; errors name file, line and field."""

from pathlib import Path

import pytest

from simlab.spec import LabSpec
from simlab.specfile import SpecError


def test_defaults_describe_the_healthy_tutorial_lab():
    spec = LabSpec()
    assert spec.password_policy.min_age_days == 0
    assert spec.connect.tutorial_permissions and spec.connect.password_writeback
    assert spec.tenant.writeback and spec.tenant.unlock and spec.tenant.licence == "P1"
    assert [u.sam for u in spec.population.named] == ["alice", "bob"]


def test_errors_name_file_line_and_field(tmp_path: Path):
    path = tmp_path / "lab.yaml"
    path.write_text("name: x\ntenant:\n  licence: P3\n  sspr:\n    enabled: maybe\nbogus: 1\n")
    with pytest.raises(SpecError) as info:
        LabSpec.load(path)
    problems = info.value.problems
    assert any(p.startswith(f"{path}:3: tenant.licence:") for p in problems)
    assert any(p.startswith(f"{path}:5: tenant.sspr.enabled:") for p in problems)
    assert any(p.startswith(f"{path}:6: bogus:") for p in problems)


def test_bad_yaml_is_reported_with_its_line(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\npopulation: {users: [\n")
    with pytest.raises(SpecError) as info:
        LabSpec.load(path)
    assert "invalid YAML" in str(info.value) and str(path) in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(SpecError, match="cannot read"):
        LabSpec.load(tmp_path / "nope.yaml")


def test_fault_shorthands():
    spec = LabSpec.from_yaml(
        "faults: [missing-reset, {min-password-age: {days: 2}}, {name: x, params: {a: 1}}]"
    )
    assert [(f.name, f.params) for f in spec.faults] == [
        ("missing-reset", {}),
        ("min-password-age", {"days": 2}),
        ("x", {"a": 1}),
    ]


def test_lockout_window_cannot_exceed_duration():
    with pytest.raises(ValueError, match="lockout_window_minutes"):
        LabSpec.model_validate(
            {
                "password_policy": {
                    "lockout_threshold": 5,
                    "lockout_window_minutes": 60,
                    "lockout_duration_minutes": 30,
                }
            }
        )


def test_json_schema_is_exported():
    schema = LabSpec.json_schema()
    assert "tenant" in schema["properties"] and "$defs" in schema


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).resolve().parents[2] / "labs").glob("*.yaml")), ids=lambda p: p.stem
)
def test_shipped_lab_specs_build_and_behave_as_documented(path: Path):
    from simlab.lab import Lab

    spec = LabSpec.load(path).model_copy(
        update={"population": LabSpec.load(path).population.model_copy(update={"users": 5})}
    )
    with Lab(spec) as lab:
        attempt = lab.sspr_reset("alice", "Fresh-Passw0rd-2026!")
    expected = {"before-tutorial": "SSPR_0010", "healthy": None, "express-install": None}[path.stem]
    assert attempt.code == expected
