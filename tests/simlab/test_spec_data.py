"""SpecData: a validated spec read back without pydantic, and the spec notes `simlab serve` keeps.

The property: whatever a spec holds, its SpecData reads, compares and keys like it. The notes: a
start from the same inputs recalls the spec only while its image is in the cache and the inputs
are the same bytes. On the wire: a second `simlab serve` starts without importing pydantic and
serves, and a GPO edit through its control API still validates (pydantic loads then).
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import msgpack
import pytest
from _served import stop_serve
from hypothesis import given, settings
from hypothesis import strategies as st
from ldap3 import Connection, Server
from pydantic import BaseModel, ValidationError

from simlab import image_cache
from simlab.image_codec import CodecError, decode, encode
from simlab.image_file import image_key
from simlab.lab import Lab
from simlab.spec import LabSpec, PasswordPolicySpec
from simlab.spec_data import SpecData, from_tree, model_class, tree

_names = st.text("abcdefghij", min_size=1, max_size=8)


@st.composite
def specs(draw: st.DrawFn) -> LabSpec:
    """Specs with every kind of field: nested models, lists of models, literals or lists, a
    fault's free-form params, an optional LDIF seed."""
    named = draw(st.lists(st.fixed_dictionaries(
        {"sam": _names}, optional={"ou": st.none() | _names, "display_name": _names, "password": _names,
                                   "state": st.sampled_from(["enabled", "disabled", "locked", "expired"])}),
        max_size=3))
    params = st.dictionaries(_names, st.none() | st.integers(-5, 5) | _names | st.lists(_names, max_size=2),
                             max_size=2)
    data: dict[str, Any] = {
        "name": draw(_names),
        "seed": draw(st.integers(0, 2**31)),
        "domain": {"dns": draw(st.sampled_from(["contoso.com", "fabrikam.local"])),
                   "dcs": draw(st.integers(1, 2))},
        "population": {"users": draw(st.integers(0, 200_000)), "named": named,
                       "departments": draw(st.lists(_names, min_size=1, max_size=3))},
        "password_policy": {"min_age_days": draw(st.integers(0, 998)), "complexity": draw(st.booleans())},
        "protected": draw(st.lists(st.fixed_dictionaries({"user": _names}), max_size=2)),
        "connect": {"ou_filter": draw(st.lists(_names, max_size=2)),
                    "account": draw(st.sampled_from(["custom", "express"]))},
        "tenant": {"throttle_rate": draw(st.floats(0, 1)),
                   "sspr": {"registered": draw(st.sampled_from(["all", "none"])
                                               | st.lists(_names, max_size=2))}},
        "faults": draw(st.lists(st.fixed_dictionaries({"name": _names, "params": params}), max_size=2)),
    }
    if draw(st.booleans()):
        data["directory"] = {"ldif": f"/seed/{draw(_names)}.ldif",
                             "mode": draw(st.sampled_from(["merge", "replace"]))}
    return LabSpec.model_validate(data)


def _reads_alike(data: Any, model: Any, where: str = "spec") -> None:
    """Every field, all the way down, reads the same through the SpecData and the model."""
    if isinstance(model, BaseModel):
        assert isinstance(data, SpecData), where
        for name in type(model).model_fields:
            _reads_alike(getattr(data, name), getattr(model, name), f"{where}.{name}")
    elif isinstance(model, list):
        assert isinstance(data, list) and len(data) == len(model), where
        for i, (d, m) in enumerate(zip(data, model, strict=True)):
            _reads_alike(d, m, f"{where}[{i}]")
    else:
        assert data == model and type(data) is type(model), where


@settings(max_examples=60, deadline=None)
@given(spec=specs())
def test_a_spec_read_back_reads_compares_and_keys_like_the_model(spec: LabSpec):
    data = from_tree(json.loads(json.dumps(tree(spec))))  # what a spec note holds
    _reads_alike(data, spec)
    assert data == spec and spec == data
    assert not (data != spec)  # noqa: SIM202  (__ne__ is Python's default: the inverse of __eq__)
    assert data.json() == spec.model_dump(mode="json")
    assert image_key(data) == image_key(spec)
    assert tree(data) == tree(spec)
    # Anything but a field is the real model's, made on first use.
    assert data.model_dump() == spec.model_dump()
    assert data.real() == spec and isinstance(data.real(), LabSpec)
    assert data.model_copy(update={"seed": 1}).seed == 1
    assert data != spec.model_copy(update={"seed": spec.seed + 1})


def test_spec_data_is_read_only_and_copies_as_itself():
    data = from_tree(tree(LabSpec()))
    with pytest.raises(AttributeError, match="read-only"):
        data.seed = 3
    assert copy.deepcopy(data) is data and copy.copy(data) is data
    assert pickle.loads(pickle.dumps(data)) == LabSpec()
    assert repr(from_tree(tree(PasswordPolicySpec()))).startswith("PasswordPolicySpec(min_age_days=0, ")
    with pytest.raises(AttributeError):
        data.no_such_field  # noqa: B018
    assert model_class(data) is LabSpec and model_class(LabSpec()) is LabSpec


def test_the_console_makes_its_exercise_base_from_spec_data_as_from_the_model():
    from simlab.console.training import healthy_spec

    spec = LabSpec.model_validate({"connect": {"staging": True, "ou_filter": ["Sales"]},
                                   "tenant": {"licence": "none", "sspr": {"registered": ["bob"]}},
                                   "faults": ["writeback-disabled-connect"]})
    assert healthy_spec(from_tree(tree(spec))) == healthy_spec(spec)


@pytest.mark.parametrize(("node", "reason"), [
    ({"model": ["os:system", {}]}, "'os:system' is not a simlab spec model"),
    ({"model": ["simlab.spec", {}]}, "is not a simlab spec model"),
    ({"value": 1, "list": []}, "one-key map"),
    ({"list": "abc"}, "not a spec tree node"),
    ({"model": ["simlab.spec:LabSpec"]}, "not a spec tree node"),
    ([1, 2], "one-key map"),
])
def test_a_malformed_tree_is_refused(node: Any, reason: str):
    with pytest.raises(ValueError, match=reason):
        from_tree(node)


def test_a_model_not_a_pydantic_one_is_refused_when_made():
    with pytest.raises(ValueError, match="is not a pydantic model"):
        SpecData("simlab.lab:Lab", {}).real()


def test_lab_images_keep_spec_models_as_spec_data():
    policy = PasswordPolicySpec(min_age_days=3, complexity=False)
    back = decode(encode({"gpo": policy}))["gpo"]
    assert isinstance(back, SpecData) and back == policy and back.min_age_days == 3
    assert decode(encode(back)) == policy  # (a loaded lab's settings save again)
    forged = msgpack.packb(msgpack.ExtType(11, msgpack.packb({"model": ["os:system", {"x": {"value": 1}}]})))
    with pytest.raises(CodecError, match="'os:system' is not a simlab spec model"):
        decode(forged)


@pytest.mark.usefixtures("cache_home")
def test_a_loaded_lab_edits_its_gpo_as_a_built_one_does():
    spec = LabSpec.model_validate({"seed": 3, "population": {"users": 3}})
    with Lab(spec, cache=True):
        pass
    with Lab(spec, cache=True) as lab:
        assert lab.cache_status == "hit" and isinstance(lab.gpo.settings, SpecData)
        assert not lab.gpo.pending
        with pytest.raises(ValidationError):
            lab.gpo.edit(min_age_days=-1)
        lab.gpo.edit(min_age_days=2)
        assert isinstance(lab.gpo.settings, PasswordPolicySpec) and lab.gpo.pending
        lab.gpupdate()
        assert not lab.gpo.pending
        assert lab.dc.directory.get(lab.dc.domain_dn).attrs["minpwdage"] == [str(-2 * 864_000_000_000)]


@pytest.mark.usefixtures("cache_home")
def test_a_lab_built_from_spec_data_is_the_lab_its_spec_builds():
    from test_image import _state

    spec = LabSpec.model_validate({"seed": 9, "population": {"users": 6, "named": [{"sam": "alice"}]},
                                   "protected": [{"user": "alice"}], "connect": {"ou_filter": ["Sales"]},
                                   "faults": [{"name": "min-password-age", "params": {"days": 1}}]})
    with Lab(spec) as built, Lab(from_tree(tree(spec))) as from_data:
        expected, got = _state(built), _state(from_data)
        for key in expected:
            assert got[key] == expected[key], key


# -- spec notes -------------------------------------------------------------------------------
def _noted(cache_home: Path, spec_file: str | None, seed: int | None, users: int | None) -> LabSpec:
    from simlab.cli import _load_spec

    spec = _load_spec(spec_file, seed, users)
    with Lab(spec, cache=True):
        pass
    image_cache.remember_spec(spec_file, seed, users, spec)
    return spec


def test_a_note_recalls_the_spec_while_its_image_is_there(cache_home: Path, tmp_path: Path):
    spec_file = tmp_path / "lab.yaml"
    spec_file.write_text("seed: 4\npopulation: {users: 2, named: [{sam: dana}]}\n")
    spec = _noted(cache_home, str(spec_file), None, 3)
    recalled = image_cache.recall_spec(str(spec_file), None, 3)
    assert isinstance(recalled, SpecData) and recalled == spec and recalled.population.users == 3
    # Other inputs are other notes.
    assert image_cache.recall_spec(str(spec_file), None, 4) is None
    assert image_cache.recall_spec(str(spec_file), 4, 3) is None
    assert image_cache.recall_spec(None, None, 3) is None
    # The spec file's bytes count, not its name or time.
    spec_file.write_text("seed: 5\npopulation: {users: 2, named: [{sam: dana}]}\n")
    assert image_cache.recall_spec(str(spec_file), None, 3) is None
    spec_file.write_text("seed: 4\npopulation: {users: 2, named: [{sam: dana}]}\n")
    assert image_cache.recall_spec(str(spec_file), None, 3) == spec
    # No image, no recall: the start that builds validates its spec.
    (image,) = cache_home.glob("*.simlab-image")
    image.unlink()
    assert image_cache.recall_spec(str(spec_file), None, 3) is None
    assert image_cache.clear(stale_only=True) == 0 and list(cache_home.glob("*.simlab-spec")) == []


def test_a_changed_ldif_is_not_recalled(cache_home: Path, tmp_path: Path):
    from simlab.ldif_export import export_ldif

    with Lab(LabSpec.model_validate({"population": {"users": 2}})) as source:
        (tmp_path / "seed.ldif").write_text(export_ldif(source.dc))
    spec_file = tmp_path / "lab.yaml"
    spec_file.write_text("population: {users: 0}\ndirectory: {ldif: seed.ldif}\n")
    _noted(cache_home, str(spec_file), None, None)
    assert image_cache.recall_spec(str(spec_file), None, None) is not None
    with (tmp_path / "seed.ldif").open("a") as fh:
        fh.write("\n")
    assert image_cache.recall_spec(str(spec_file), None, None) is None


def test_the_key_follows_an_ldif_rewritten_to_the_same_size(tmp_path: Path):
    # image_key reads a seeded LDIF again only when its inode, size or mtime moved.
    ldif = tmp_path / "seed.ldif"
    ldif.write_text("dn: CN=a,DC=contoso,DC=com\n")
    spec = LabSpec.model_validate({"directory": {"ldif": str(ldif)}})
    first = image_key(spec)
    assert image_key(spec) == first
    ldif.write_text("dn: CN=b,DC=contoso,DC=com\n")
    assert image_key(spec) != first


@pytest.mark.parametrize("garbage", [b"", b"{not json", b'{"image": "x"}', b'{"image": 1, "spec": []}',
                                     b'{"image": "x", "spec": {"model": ["os:system", {}]}}',
                                     # JSON a model's, tagged a plain value: no .ldif to read
                                     b'{"image": "x", "spec": {"model": ["simlab.spec:LabSpec",'
                                     b' {"directory": {"value": {"ldif": "x"}}}]}}'])
def test_a_bad_note_is_ignored(cache_home: Path, garbage: bytes):
    _noted(cache_home, None, 8, 1)
    (note,) = cache_home.glob("*.simlab-spec")
    note.write_bytes(garbage)
    assert image_cache.recall_spec(None, 8, 1) is None
    assert image_cache.clear(stale_only=True) == 0 and not note.exists()


def test_cache_clear_removes_the_notes(cache_home: Path):
    _noted(cache_home, None, 8, 1)
    assert len(list(cache_home.glob("*.simlab-spec"))) == 1
    assert image_cache.clear(stale_only=True) == 0 and len(list(cache_home.glob("*.simlab-spec"))) == 1
    assert image_cache.clear() == 1 and list(cache_home.iterdir()) == []


def test_no_cache_means_no_recall(cache_home: Path, monkeypatch: pytest.MonkeyPatch):
    spec = _noted(cache_home, None, 8, 1)
    assert image_cache.recall_spec(None, 8, 1) == spec
    monkeypatch.setenv("SIMLAB_NO_CACHE", "1")
    assert image_cache.recall_spec(None, 8, 1) is None


# -- on the wire ------------------------------------------------------------------------------
#: `simlab serve` that says on stderr when (and if) pydantic is first imported.
WATCHED_SERVE = """
import importlib.abc, sys
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "pydantic":
            sys.stderr.write("WATCH: pydantic imported\\n")
            sys.meta_path.remove(self)
        return None
sys.meta_path.insert(0, Watch())
from simlab.cli import main
sys.argv[0] = "simlab"
main()
"""


def _serve(args: list[str]) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, "-c", WATCHED_SERVE, "serve", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "SIMLAB_FORCE_TERMINAL": "0"})
    line = proc.stdout.readline()
    assert line.startswith("{"), proc.stderr.read()
    return proc, json.loads(line)


@pytest.mark.usefixtures("cache_home")
def test_a_second_serve_starts_without_pydantic_and_serves(tmp_path: Path):
    spec_file = tmp_path / "lab.yaml"
    spec_file.write_text("seed: 12\npopulation:\n  users: 3\n"
                         "  named: [{sam: alice, display_name: Alice Adams}]\n")
    args = ["--spec", str(spec_file), "--users", "4"]
    first, ep = _serve(args)
    assert ep["lab_image"] == "built"
    assert "WATCH: pydantic imported" in stop_serve(first)  # (serve waits for its image on SIGTERM)

    second, ep = _serve(args)
    try:
        assert ep["lab_image"] == "loaded"
        conn = Connection(Server(ep["ldap_url"]), user=f"CONTOSO\\{ep['sample_user'].split('@')[0]}",
                          password=ep["sample_user_password"])
        assert conn.bind(), conn.result
        assert conn.search(ep["base_dn"], "(sAMAccountName=alice)", attributes=["displayName"])
        assert conn.entries[0].displayName.value == "Alice Adams"
        conn.unbind()
        me = httpx.get(f"{ep['graph_base_url']}/users/{ep['sample_user']}", verify=ep["ca_file"],
                       headers={"Authorization": f"Bearer {ep['tokens']['global_admin']}"})
        assert me.status_code == 200 and me.json()["displayName"] == "Alice Adams"
    finally:
        err = stop_serve(second)
    assert "WATCH: pydantic imported" not in err

    third, ep = _serve(args)  # a GPO edit still validates: pydantic loads for it
    try:
        control = {"Authorization": f"Bearer {ep['control_token']}"}
        bad = httpx.post(f"{ep['control_url']}/gpo/default-domain-policy", json={"min_age_days": -1},
                         headers=control)
        assert bad.status_code == 400 and "min_age_days" in bad.json()["error"]
        good = httpx.post(f"{ep['control_url']}/gpo/default-domain-policy", json={"min_age_days": 1},
                          headers=control)
        assert good.status_code == 200, good.text
        assert good.json()["settings"]["min_age_days"] == 1 and good.json()["pending"] is True
    finally:
        err = stop_serve(third)
    assert "WATCH: pydantic imported" in err

    spec_file.write_text(spec_file.read_text().replace("seed: 12", "seed: 13"))
    fourth, ep = _serve(args)  # another spec: built, and validated first
    assert ep["lab_image"] == "built"
    assert "WATCH: pydantic imported" in stop_serve(fourth)
