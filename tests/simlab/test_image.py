"""Lab images: an exact round trip through the cache, and every bad file rejected and rebuilt."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import msgpack
import pytest

from simlab import image_cache
from simlab.image import MAGIC, capture, image_key
from simlab.image_codec import encode
from simlab.lab import Lab
from simlab.spec import LabSpec

SPEC = LabSpec.model_validate({
    "seed": 7,
    "population": {"users": 25},
    "faults": [{"name": "min-password-age", "params": {"days": 1}},
               {"name": "inheritance-disabled", "params": {"user": "bob", "target": "ou"}}],
})
#: No faults and no LDIF: the loaded lab's skeleton DC is bare (no entry until the image's).
PLAIN = LabSpec.model_validate({
    "seed": 7,
    "population": {"users": 25, "named": [{"sam": "alice", "display_name": "Alice Adams"},
                                          {"sam": "carol", "display_name": "Carol Cole"}]},
    "protected": [{"user": "carol", "group": "Domain Admins"}],
})


pytestmark = pytest.mark.usefixtures("cache_home")  # every test: its own cache folder (conftest)


def _entries(lab: Lab) -> list[tuple]:
    return [(e.guid, e.dn, e.parent.dn if e.parent else None, e.rdn_key, e.object_class, e.sd,
             {k: list(v) for k, v in e.attrs.items()}) for e in lab.dc.directory.walk()]


def _state(lab: Lab) -> dict[str, object]:
    """Everything an image must carry, read through the lab's objects."""
    dc, tenant, sync = lab.dc, lab.tenant, lab.connect.sync
    return {
        "entries": _entries(lab),
        "dc": (dc.usn, dc.next_rid, dc.rng.getstate(), dc.admin_dn, dc.admin_password, dc.connector_dn,
               dc.connector_password, dc.sdprop.runs, dc.ldap_policy, dc.attr_stamps.state()),
        "tenant_users": dict(tenant.users),
        "methods": dict(tenant.methods),
        "tenant": (tenant.licence, tenant.onprem, tenant.sspr_policy, tenant.sync_features),
        "connect": (lab.connect.service_running, lab.connect.config.features, lab.connect.config.writeback),
        "sync": (dict(sync.connector_space), dict(sync._exported), dict(sync._high_usn), len(sync.history)),
        "clock": (lab.clock.now(), lab.clock.pending()),
        "logs": (lab.oplog.records(), lab.connect.eventlog.records(), dc.security_log.records(),
                 list(tenant.audit)),
        "gpo": (lab.gpo.settings, lab.gpo.applied),
        "faults": list(lab.applied_faults),
        "marks": (lab.build_mark, lab.event_mark),
    }


def _without_endpoints(lab: Lab) -> bytes:
    data = capture(lab)
    data["state"]["connect_config"] = None  # ports and CA file are each process's own
    return encode(data)


def _accounts(lab: Lab) -> dict[str, object]:
    """The endpoint line's names and credentials (ports, URLs and CA file are each process's own)."""
    return {k: v for k, v in lab.endpoints().items() if "port" not in k and "url" not in k and "ca" not in k}


@pytest.mark.parametrize("spec", [SPEC, PLAIN], ids=["faults", "plain"])
def test_round_trip_is_exact(cache_home: Path, spec: LabSpec):
    with Lab(spec, cache=True) as cold:
        assert cold.cache_status == "miss"
        assert len(list(cache_home.glob("*.simlab-image"))) == 1
        with Lab(spec, cache=True) as warm:
            assert warm.cache_status == "hit"
            expected, got = _state(cold), _state(warm)
            for key in expected:
                assert got[key] == expected[key], key
            assert len(got["entries"]) == len(expected["entries"]) > 25  # type: ignore[arg-type]
            assert expected["dc"][-1], "the build writes attributes after creation (DirSync's stamps)"
            assert _without_endpoints(warm) == _without_endpoints(cold)
            assert _accounts(warm) == _accounts(cold)
            # The Connect server points at the new process's own DC endpoints.
            assert warm.connect.config.directories[0].ldaps_port == warm.ldap_endpoints.ldaps_port
            connectors = [lab.connect.config.directories[0].connector for lab in (warm, cold)]
            assert connectors[0] == connectors[1]


def test_a_plain_spec_loads_into_a_bare_dc_and_one_with_faults_into_a_built_skeleton(
        cache_home: Path, monkeypatch: pytest.MonkeyPatch):
    from fakes.ad import provision

    for spec in (PLAIN, SPEC):
        with Lab(spec, cache=True):
            pass
    built: list[bool] = []
    original = provision._build
    monkeypatch.setattr(provision, "_build", lambda *a, **k: (built.append(True), original(*a, **k))[1])
    with Lab(PLAIN, cache=True) as plain:
        assert plain.cache_status == "hit" and built == []
        assert plain.bind("carol", PLAIN.population.password).ok
    with Lab(SPEC, cache=True) as faulted:  # each fault acts on a built, synced skeleton
        assert faulted.cache_status == "hit" and built == [True]


def test_an_image_without_its_accounts_is_rejected_and_the_lab_rebuilt(cache_home: Path, caplog,
                                                                       monkeypatch: pytest.MonkeyPatch):
    from simlab import image as image_module

    with Lab(PLAIN, cache=True):
        pass
    original = image_module.load_image

    def without_connector(*args: object, **kwargs: object) -> dict:
        data = original(*args, **kwargs)
        del data["state"]["dc"]["connector_dn"]
        return data

    monkeypatch.setattr(image_module, "load_image", without_connector)
    with Lab(PLAIN, cache=True) as lab:
        assert lab.cache_status == "rejected"
        assert "no saved accounts" in lab.cache_message
        assert lab.bind("carol", PLAIN.population.password).ok


def _script(lab: Lab) -> list[object]:
    """Actions whose outcomes depend on every part of the state (ids, SIDs, policy, logs, timers)."""
    out: list[object] = [lab.sspr_reset("alice", "Image-Reset-Passw0rd!1")]
    out.append(lab.sspr_reset("bob", "Image-Reset-Passw0rd!2"))  # bob's OU blocks inheritance: fails
    user = lab.create_user("zed", display_name="Zed Zulu")
    out += [user.dn, lab.dc.directory.get(user.dn).guid]
    out.append(lab.advance(minutes=61))  # GPO refresh, delta sync, SDProp fire in the same order
    out.append([(u.id, u.user_principal_name) for u in lab.tenant.users.values()])
    out.append([(e.record_id, e.event_id, e.time) for e in lab.connect.eventlog.records()][-6:])
    out.append([(o.seq, o.op, o.target, o.result) for o in lab.oplog.records()][-6:])
    out.append((lab.dc.usn, lab.dc.next_rid, [a.id for a in lab.tenant.audit][-3:]))
    return out


def test_a_loaded_lab_behaves_like_a_fresh_one():
    with Lab(SPEC) as fresh:
        expected = _script(fresh)
    with Lab(SPEC, cache=True):
        pass
    with Lab(SPEC, cache=True) as loaded:
        assert loaded.cache_status == "hit"
        assert _script(loaded) == expected


# -- bad images -------------------------------------------------------------------------------
def _image_file(cache_home: Path) -> Path:
    with Lab(SPEC, cache=True):
        pass
    (path,) = cache_home.glob("*.simlab-image")
    return path


def _rewrite_header(path: Path, **changes: object) -> None:
    data = path.read_bytes()
    (length,) = struct.unpack(">I", data[len(MAGIC):len(MAGIC) + 4])
    start = len(MAGIC) + 4
    header = json.loads(data[start:start + length])
    header.update(changes)
    new = json.dumps(header).encode()
    path.write_bytes(MAGIC + struct.pack(">I", len(new)) + new + data[start + length:])


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-1000])


def _other_spec_image(path: Path) -> None:
    # The file sits under SPEC's key but was built for another spec (e.g. copied by hand).
    other = SPEC.model_copy(update={"seed": 8})
    _rewrite_header(path, key=image_key(other))


@pytest.mark.parametrize(("damage", "reason"), [
    (_corrupt, "corrupt (checksum mismatch)"),
    (_truncate, "is truncated"),
    (lambda p: _rewrite_header(p, format=99), "has image format 99"),
    (lambda p: _rewrite_header(p, code="0" * 16), "written by another simlab version"),
    (_other_spec_image, "built from another spec (hash mismatch)"),
    (lambda p: p.write_bytes(b"PK\x03\x04 not an image"), "not a simlab lab image"),
    (lambda p: p.write_bytes(p.read_bytes()[:len(MAGIC) + 10]), "truncated"),
])
@pytest.mark.parametrize("prefetched", [False, True], ids=["read-by-lookup", "prefetched"])
def test_a_bad_image_is_rejected_with_a_reason_and_the_lab_rebuilt(cache_home, damage, reason, caplog,
                                                                   prefetched):
    path = _image_file(cache_home)
    damage(path)
    if prefetched:  # as `simlab serve` does: read and checked on a thread, rejected by the lookup
        image_cache.prefetch(SPEC)
    with Lab(SPEC, cache=True) as lab:
        assert lab.cache_status == "rejected"
        assert reason in lab.cache_message and "rebuilding the lab" in lab.cache_message
        assert reason in caplog.text
        # Built the long way: the whole population is there and synced.
        assert len(lab.connect.sync.connector_space) >= 25
        assert lab.user("alice").dn
    with Lab(SPEC, cache=True) as again:  # the rebuild saved a good image in its place
        assert again.cache_status == "hit"


def test_a_prefetched_image_is_the_one_the_lab_loads(cache_home: Path, monkeypatch: pytest.MonkeyPatch):
    from simlab import image_file

    _image_file(cache_home)
    reads: list[str] = []
    for name in ("read_payload", "read_raw_payload"):
        real = getattr(image_file, name)
        monkeypatch.setattr(image_file, name,
                            lambda *a, _real=real, _name=name: reads.append(_name) or _real(*a))
    monkeypatch.setattr(image_cache, "read_raw_payload", image_file.read_raw_payload)
    import simlab.image

    monkeypatch.setattr(simlab.image, "read_payload", image_file.read_payload)
    image_cache.prefetch(SPEC)
    assert image_cache._prefetched  # a thread is reading it
    with Lab(SPEC, cache=True) as lab:
        assert lab.cache_status == "hit"
        assert reads == ["read_raw_payload"]  # the thread's read, nothing read again
        assert not image_cache._prefetched
        assert len(lab.connect.sync.connector_space) >= 25 and lab.user("alice").dn
    image_cache.prefetch(SPEC.model_copy(update={"seed": 99}))  # no image for that spec: no thread
    assert not image_cache._prefetched


@pytest.mark.parametrize("raw_bytes", [0, 10**15, 1000])
def test_a_prefetched_image_with_a_wrong_decompressed_size_is_rejected(cache_home, raw_bytes, caplog):
    path = _image_file(cache_home)
    _rewrite_header(path, raw_bytes=raw_bytes)  # unrecorded, absurd (no huge buffer is made), short
    image_cache.prefetch(SPEC)
    with Lab(SPEC, cache=True) as lab:
        assert lab.cache_status == "rejected"
        assert "cannot be decompressed" in lab.cache_message or "raw_bytes" in lab.cache_message
    with Lab(SPEC, cache=True) as again:
        assert again.cache_status == "hit"


def test_no_cache_switch_builds_and_saves_nothing(cache_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SIMLAB_NO_CACHE", "1")
    with Lab(SPEC, cache=True) as lab:
        assert lab.cache_status == "off"
    assert not cache_home.exists() or not list(cache_home.iterdir())


def test_images_are_keyed_by_spec_seed_and_faults():
    more_users = SPEC.population.model_copy(update={"users": 26})
    keys = {image_key(SPEC), image_key(SPEC.model_copy(update={"seed": 8})),
            image_key(SPEC, apply_faults=False),
            image_key(SPEC.model_copy(update={"population": more_users}))}
    assert len(keys) == 4
    assert image_key(LabSpec.model_validate(SPEC.model_dump())) == image_key(SPEC)  # normalised


def test_cache_list_and_clear(cache_home: Path):
    from click.testing import CliRunner

    from simlab.cli import cli

    _image_file(cache_home)
    runner = CliRunner()
    assert runner.invoke(cli, ["cache", "path"]).output.strip() == str(cache_home)
    output = runner.invoke(cli, ["cache", "list", "--json"]).output
    listed = [json.loads(line) for line in output.splitlines()]
    assert [(row["spec"], row["users"], row["usable"]) for row in listed] == [("lab", 25, True)]
    (cache_home / "junk.simlab-image").write_bytes(b"junk")
    text = runner.invoke(cli, ["cache", "list"]).output
    assert "unreadable: junk.simlab-image is not a simlab lab image" in text
    # An image another simlab wrote (its code fingerprint), next to the junk: both stale.
    (path,) = [p for p in cache_home.glob("*.simlab-image") if p.name != "junk.simlab-image"]
    other = cache_home / ("0" * 64 + ".simlab-image")
    other.write_bytes(path.read_bytes())
    _rewrite_header(other, code="0" * 16)
    assert "stale (other simlab code or format" in runner.invoke(cli, ["cache", "list"]).output
    assert runner.invoke(cli, ["cache", "clear", "--stale"]).output.startswith("removed 2 file(s)")
    assert [p.name for p in cache_home.iterdir()] == [path.name]
    assert runner.invoke(cli, ["cache", "clear"]).output.startswith("removed 1 file(s)")
    assert image_cache.list_images() == []
    empty = runner.invoke(cli, ["cache", "list"])  # says so, on stderr: stdout stays one line per image
    assert empty.exit_code == 0 and empty.stdout == ""
    assert f"no lab images in {cache_home}" in empty.stderr
    assert runner.invoke(cli, ["cache", "list", "--json"]).stdout == ""


def test_cache_build_saves_the_image_a_start_then_loads(cache_home: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    from click.testing import CliRunner

    from simlab.cli import cli

    spec_file = tmp_path / "lab.yaml"
    spec_file.write_text("name: ci-lab\nseed: 3\npopulation: {users: 4}\n")
    runner = CliRunner()
    built = runner.invoke(cli, ["cache", "build", "--spec", str(spec_file), "--users", "6", "--json"])
    assert built.exit_code == 0, built.output
    row = json.loads(built.stdout)
    spec = LabSpec.load(spec_file)
    spec = spec.model_copy(update={"population": spec.population.model_copy(update={"users": 6})})
    assert (row["status"], row["name"], row["users"]) == ("built", "ci-lab", 6)
    assert row["file"] == str(image_cache.image_path(image_key(spec))) and Path(row["file"]).is_file()
    with Lab(spec, cache=True) as lab:  # what serve, run and the fixtures do with that spec
        assert lab.cache_status == "hit"
    again = runner.invoke(cli, ["cache", "build", "--spec", str(spec_file), "--users", "6"])
    assert again.exit_code == 0
    assert again.stdout.startswith(f"cached  {Path(row['file']).name[:16]}  ci-lab  6 users")
    # A spec whose lab cannot be built is a one-line error, as from `simlab serve`; no image.
    spec_file.write_text("name: broken\nfaults: [no-such-fault]\n")
    monkeypatch.setattr("signal.signal", lambda *_: None)  # (serve's Ctrl-C handler: not in pytest)
    for args in (["cache", "build", "--spec", str(spec_file)], ["serve", "--spec", str(spec_file)]):
        failed = runner.invoke(cli, args)
        assert failed.exit_code == 1 and isinstance(failed.exception, SystemExit)
        assert failed.stderr.startswith("Error: faults: 'no-such-fault' could not be applied: unknown fault")
    assert len(image_cache.list_images()) == 1
    monkeypatch.setenv("SIMLAB_NO_CACHE", "1")
    off = runner.invoke(cli, ["cache", "build"])
    assert off.exit_code == 1 and "the lab image cache is off here (SIMLAB_NO_CACHE is set)" in off.stderr


# -- the format is safe to load from a shared cache -------------------------------------------
def _forge(path: Path, payload: bytes) -> None:
    """Replace the payload and make the header's length and checksum match it (a crafted file)."""
    import hashlib

    import zstandard

    body = zstandard.ZstdCompressor().compress(payload)
    data = path.read_bytes()
    (length,) = struct.unpack(">I", data[len(MAGIC):len(MAGIC) + 4])
    path.write_bytes(data[:len(MAGIC) + 4 + length] + body)
    _rewrite_header(path, payload_bytes=len(body), payload_sha256=hashlib.sha256(body).hexdigest(),
                    raw_bytes=len(payload))


_DATACLASS_EXT = 9  # simlab.image_codec's extension code for a dataclass


@pytest.mark.parametrize(("payload", "reason"), [
    # An extension naming a callable outside simlab (what a pickle gadget would do).
    (msgpack.packb(msgpack.ExtType(_DATACLASS_EXT, msgpack.packb(["os:system", ["echo pwned"]]))),
     "'os:system' is not one simlab images may contain"),
    # A simlab class that is not a plain data class.
    (msgpack.packb(msgpack.ExtType(_DATACLASS_EXT, msgpack.packb(["simlab.lab:Lab", []]))),
     "'simlab.lab:Lab' is not a dataclass"),
    (b"\xc1 not msgpack", "cannot be decoded"),
    (b"".join(map(msgpack.packb, [{"keys": [], "sds": [], "shared": [], "classes": [], "count": 5,
                                    "chunk": 10}, b"", [], [], [], [], [], [], [], {}, {}, {}])),
     "the directory columns do not all hold 5 entries"),
])
def test_a_crafted_payload_is_refused_not_executed(cache_home, payload, reason):
    path = _image_file(cache_home)
    _forge(path, payload)
    with Lab(SPEC, cache=True) as lab:
        assert lab.cache_status == "rejected"
        assert reason in lab.cache_message
        assert len(lab.connect.sync.connector_space) >= 25


def test_codec_refuses_to_store_foreign_objects():
    from simlab.image_codec import CodecError

    with pytest.raises(CodecError, match="cannot be stored"):
        encode({"x": Path("/")})


def test_concurrent_cold_builds_leave_one_good_image(cache_home: Path):
    import os
    import subprocess
    import sys

    code = ("from simlab.lab import Lab; from simlab.spec import LabSpec\n"
            f"Lab(LabSpec.model_validate({SPEC.model_dump(mode='json')!r}), cache=True).start().close()")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ)) for _ in range(2)]
    assert [p.wait(300) for p in procs] == [0, 0]
    # One image, no temp files left behind.
    assert [p.name for p in cache_home.iterdir()] == [f"{image_key(SPEC)}{image_cache.SUFFIX}"]
    with Lab(SPEC, cache=True) as lab:
        assert lab.cache_status == "hit"


# -- progress --------------------------------------------------------------------------------
class _Terminal:
    """A stand-in stderr that says it is a terminal and keeps what rich writes."""

    def __init__(self) -> None:
        self.text: list[str] = []

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.text.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_progress_shows_on_a_terminal_and_stays_silent_on_a_pipe(monkeypatch: pytest.MonkeyPatch, capfd):
    import sys

    from simlab.progress import build_progress

    terminal, pipe = _Terminal(), sys.stderr
    monkeypatch.setattr(sys, "stderr", terminal)
    with build_progress() as progress, Lab(SPEC, cache=True, progress=progress):
        pass
    shown = "".join(terminal.text)
    assert "Building the directory" in shown or "Initial sync" in shown or "Saving the lab image" in shown
    monkeypatch.setattr(sys, "stderr", pipe)
    with build_progress() as progress, Lab(SPEC, cache=True, progress=progress) as lab:
        assert lab.cache_status == "hit"
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # stderr is a pipe here: nothing extra


def test_a_lab_an_image_cannot_hold_is_served_and_not_saved(cache_home: Path, caplog):
    # Two DCs: a DACL edit reaches the agent's DC by a replication timer (a closure, not data).
    spec = LabSpec.model_validate({"domain": {"dcs": 2}, "faults": [
        {"name": "inheritance-disabled", "params": {"user": "bob", "target": "ou"}}]})
    with Lab(spec, cache=True) as lab:
        assert any(name.startswith("sd-propagation") for name, _ in lab.clock.pending())
        assert lab.user("bob").dn
    assert "lab image not saved: the lab has a pending SD replication timer" in caplog.text
    assert not list(cache_home.glob("*.simlab-image"))


def test_a_background_save_writes_the_image_as_built(cache_home: Path):
    """The image a forked child writes is the lab at the end of its build, not after later changes."""
    with Lab(SPEC, cache=True, save_in_background=True) as cold:
        assert cold.cache_status == "miss" and cold.image_save is not None
        built = _state(cold)
        cold.create_user("late", password="Lat3-Arrival!x9")  # after start: must not reach the image
        assert cold.image_save.wait() == 0
        assert [p.name for p in cache_home.iterdir()] == [cold.image_save.target.name]
        with Lab(SPEC, cache=True) as warm:
            assert warm.cache_status == "hit"
            got = _state(warm)
            for key in built:
                assert got[key] == built[key], key
