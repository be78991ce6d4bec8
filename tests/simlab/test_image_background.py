"""A cold build's image written by a forked child after the lab is ready: what stopping does to it.

`Lab.close()` kills an unfinished child (no partial file). `simlab serve` closes its servers,
then waits for the image; a second Ctrl-C or SIGTERM skips it (simlab.cli_serve._ImageSave).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _served import stop_serve

from simlab import image_cache
from simlab.cli_serve import _ImageSave
from simlab.image import MAGIC
from simlab.lab import Lab
from simlab.spec import LabSpec

SPEC = LabSpec.model_validate({"seed": 11, "population": {"users": 5}})


pytestmark = pytest.mark.usefixtures("cache_home")  # every test: its own cache folder (conftest)


@pytest.fixture
def stuck_save(monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    """A lab whose background save has written half a temp file and never finishes (until killed)."""
    read_end, write_end = os.pipe()  # child -> parent: "my temp file is there"
    never, keep_open = os.pipe()  # nothing is ever written here

    def stuck_store(lab, key, *, tmp=None):  # the child: half a file, then it blocks
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(MAGIC)
        os.write(write_end, b"x")
        os.read(never, 1)

    monkeypatch.setattr(image_cache, "store", stuck_store)
    lab = Lab(SPEC, cache=True, save_in_background=True).start()
    try:
        assert os.read(read_end, 1) == b"x"  # the child has written its partial temp file
        assert lab.image_save.tmp.exists() and not lab.image_save.done
        yield lab
    finally:
        lab.close()
        for fd in (read_end, write_end, never, keep_open):
            os.close(fd)


def test_a_lab_closed_during_its_background_save_leaves_no_file(cache_home: Path, stuck_save: Lab):
    save = stuck_save.image_save
    stuck_save.close()
    assert save.done and save.status != 0
    assert list(cache_home.iterdir()) == []


def test_the_writer_ignores_ctrl_c_and_serve_waits_for_it_until_told_to_skip(
        cache_home: Path, stuck_save: Lab, capsys: pytest.CaptureFixture):
    import threading

    save = stuck_save.image_save
    image = _ImageSave()
    image.take(stuck_save)
    stuck_save.close()  # the servers: the save is no longer the lab's to cancel
    assert stuck_save.image_save is None and not save.done
    os.kill(save.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
    assert save.wait(0.3) is None, "the image writer died of the Ctrl-C meant for serve"

    waiting = threading.Thread(target=image.finish, daemon=True)
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive() and image.finishing.is_set() and not save.done
    image.skip.set()  # what serve's handler does on a second Ctrl-C / SIGTERM
    waiting.join(10)
    assert not waiting.is_alive() and save.done and save.status != 0
    assert list(cache_home.iterdir()) == []  # no partial file
    err = capsys.readouterr().err
    assert "finishing the lab image for the next start (Ctrl-C skips it)" in err
    assert "lab image not saved (skipped)" in err


#: `simlab serve` whose image writer waits at a FIFO before saving: the test opens the gate.
GATED_SERVE = """
import sys
from simlab import image_cache
GATE = sys.argv.pop(1)
real_store = image_cache.store
def gated_store(lab, key, *, tmp=None):
    with open(GATE, "rb") as gate:  # blocks until the test opens the FIFO for writing
        gate.read()
    return real_store(lab, key, tmp=tmp)
image_cache.store = gated_store
from simlab.cli import main
sys.argv[0] = "simlab"
main()
"""


def _serve(args: list[str], gate: Path | None = None) -> tuple[subprocess.Popen, dict]:
    """`simlab serve ARGS` in a session of its own (its image writer gated at ``gate``) and its
    endpoints, once its endpoint line is out."""
    env = {**os.environ, "SIMLAB_FORCE_TERMINAL": "0"}
    cmd = [sys.executable, "-c", GATED_SERVE, str(gate), "serve", *args] if gate else \
        [sys.executable, "-m", "simlab.cli", "serve", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    line = proc.stdout.readline()
    assert line.startswith("{"), proc.stderr.read()
    return proc, json.loads(line)


def _stderr_until(proc: subprocess.Popen, text: str) -> str:
    seen = ""
    while text not in seen:
        line = proc.stderr.readline()
        assert line, f"stderr ended before {text!r}: {seen}"
        seen += line
    return seen


def _signal(proc: subprocess.Popen, endpoints: dict, how: str) -> subprocess.Popen | None:
    """Stop the lab ``how`` a user would; `simlab stop` is returned running (it waits for the image)."""
    if how == "ctrl-c":  # a terminal sends it to the whole foreground process group
        os.killpg(proc.pid, signal.SIGINT)
    elif how == "simlab stop":
        cmd = [sys.executable, "-m", "simlab.cli", "stop", "--lab", endpoints["control_url"]]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "SIMLAB_CONTROL_TOKEN": endpoints["control_token"]})
    else:
        proc.send_signal(signal.SIGTERM)
    return None


@pytest.mark.parametrize(("how", "again"), [("kill", False), ("ctrl-c", False), ("simlab stop", False),
                                            ("ctrl-c", True), ("kill", True)],
                         ids=["kill-waits", "ctrl-c-waits", "simlab-stop-waits", "second-ctrl-c-skips",
                              "second-kill-skips"])
def test_serve_stopped_during_its_image_save_waits_for_it_unless_signalled_again(
        cache_home: Path, tmp_path: Path, how: str, again: bool):
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    proc, endpoints = _serve(["--users", "40"], gate)
    assert endpoints["lab_image"] == "built"
    stopper = _signal(proc, endpoints, how)
    _stderr_until(proc, "simlab: finishing the lab image for the next start (Ctrl-C skips it)")
    assert proc.poll() is None  # its servers are closed; it waits for the image (not killed by the Ctrl-C)
    if stopper is not None:  # `simlab stop` has seen the listeners close, and waits on
        said = stopper.stdout.readline()
        assert said == f"Lab stopped (pid {proc.pid}); it is finishing the lab image for the next start...\n"
        assert stopper.poll() is None
    if again:
        _signal(proc, endpoints, how)
        _stderr_until(proc, "simlab: lab image not saved (skipped)")
    else:
        with open(gate, "wb"):  # the writer, blocked opening the FIFO, goes on
            pass
        _stderr_until(proc, "simlab: lab image saved (")
    stop_serve(proc)
    assert proc.returncode == 0
    images = list(cache_home.glob("*.simlab-image"))
    if stopper is not None:
        out, err = stopper.communicate(timeout=60)
        assert stopper.returncode == 0 and out == f"Lab image saved ({images[0]}).\n", err
    assert not list(cache_home.glob(".*.tmp"))  # no partial file either way
    if again:
        assert images == []
        return
    assert len(images) == 1
    stamp = images[0].stat().st_mtime_ns
    proc, endpoints = _serve(["--users", "40"])  # the next start loads that image
    stop_serve(proc)
    assert endpoints["lab_image"] == "loaded"
    assert proc.returncode == 0
    assert [p.stat().st_mtime_ns for p in cache_home.glob("*.simlab-image")] == [stamp]  # not rebuilt


# -- saves that outlive their lab (the pytest fixtures, the scenario runner) ------------------------
def test_a_released_save_outlives_its_lab_and_a_second_build_does_not_race_it(
        cache_home: Path, stuck_save: Lab):
    from simlab import image_saver

    save = stuck_save.release_image_save()
    stuck_save.close()  # the save is no longer the lab's: closing does not kill it
    assert stuck_save.image_save is None and not save.done
    assert image_saver.in_flight(save.key) is save and save in image_saver.unfinished()
    with Lab(SPEC, cache=True, save_in_background=True) as again:  # the same spec, while it writes
        assert again.cache_status == "miss" and again.image_save is None
        assert again.cache_message == "simlab: this lab's image is being saved by an earlier build"
        assert image_saver.unfinished() == [save]
    image_saver.cancel_all()  # (an interrupted session)
    assert save.done and save.status != 0 and image_saver.unfinished() == []
    assert list(cache_home.iterdir()) == []  # its temporary file went with it


def test_finish_all_waits_for_released_saves_and_says_so(cache_home: Path):
    from simlab import image_saver

    with Lab(SPEC, cache=True, save_in_background=True) as cold:
        save = cold.release_image_save()
    said: list[str] = []
    assert image_saver.finish_all(said.append) == [save]
    assert save.status == 0 and save.target.exists()
    assert said == ["simlab: finishing 1 lab image(s) for the next run (Ctrl-C skips)"]
    assert image_saver.unfinished() == [] and image_saver.finish_all(said.append) == []
    assert len(said) == 1  # nothing left: nothing said
    with Lab(SPEC, cache=True) as warm:
        assert warm.cache_status == "hit"


def test_big_labs_only_save_in_background_when_asked_for_big(cache_home: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    from simlab import image_saver

    with Lab(SPEC, cache=True, save_in_background="big") as small:  # a few dozen entries: saved at once
        assert small.cache_status == "miss" and small.image_save is None
        assert list(cache_home.glob("*.simlab-image"))
    monkeypatch.setattr(image_saver, "BACKGROUND_MIN_ENTRIES", 1)
    spec = LabSpec.model_validate({"seed": 12, "population": {"users": 5}})
    with Lab(spec, cache=True, save_in_background="big") as big:
        assert big.image_save is not None and big.image_save.wait() == 0
