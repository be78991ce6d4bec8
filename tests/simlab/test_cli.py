"""The command line as users run it: real subprocesses, a served lab, real LDAP clients."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

from _served import stop_serve

ROOT = Path(__file__).resolve().parents[2]
SIMLAB = [sys.executable, "-m", "simlab.cli"]


def simlab(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SIMLAB, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, check=False
    )


@contextlib.contextmanager
def served(
    tmp_path: Path, *args: str, extra_env: dict | None = None
) -> Iterator[tuple[dict, dict, subprocess.Popen]]:
    """`simlab serve` in a subprocess (HOME in tmp_path); yields its endpoints, env and process."""
    env = {**os.environ, "HOME": str(tmp_path), **(extra_env or {})}
    proc = subprocess.Popen(
        [*SIMLAB, "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        yield json.loads(proc.stdout.readline()), env, proc
    finally:
        stop_serve(proc)


def test_run_reports_and_exits_by_result(tmp_path: Path):
    junit, out = tmp_path / "r.xml", tmp_path / "r.json"
    ok = simlab("run", "scenarios/tutorial-healthy-reset.yaml", "--junit", str(junit), "--json", str(out))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 passed, 0 failed" in ok.stdout
    assert ET.parse(junit).getroot().get("failures") == "0"
    assert json.loads(out.read_text())["passed"] == 1

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nlab: {population: {users: 3}}\nsteps:\n"
        "  - sspr_reset: {user: alice, password: 'Fresh-Passw0rd-2026!'}\n    expect: {ok: false}\n"
    )
    failed = simlab("run", str(bad))
    assert failed.returncode == 1 and "0 passed, 1 failed" in failed.stdout


def test_run_saves_a_big_labs_image_in_the_background_and_waits_for_it_at_the_end(tmp_path: Path):
    """10k users: the scenario does not wait for its lab's image; the run does, once, at its end."""
    big = tmp_path / "big.yaml"
    big.write_text(
        "name: big\nlab: {seed: 31, population: {users: 10000}}\nsteps:\n"
        "  - sspr_reset: {user: alice, password: 'Fresh-Passw0rd-2026!'}\n    expect: {ok: true}\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env.pop("SIMLAB_NO_CACHE", None)
    cold = simlab("run", str(big), env=env)
    assert cold.returncode == 0 and "1 passed, 0 failed" in cold.stdout, cold.stdout + cold.stderr
    assert "simlab: finishing 1 lab image(s) for the next run (Ctrl-C skips)" in cold.stderr
    images = list((tmp_path / "xdg" / "simlab").glob("*.simlab-image"))
    assert len(images) == 1
    warm = simlab("run", str(big), env=env)  # loads that image: nothing left to finish
    assert warm.returncode == 0 and "finishing" not in warm.stderr, warm.stdout + warm.stderr
    assert list((tmp_path / "xdg" / "simlab").glob("*.simlab-image")) == images


def test_run_rejects_invalid_scenarios_with_file_and_line(tmp_path: Path):
    bad = tmp_path / "typo.yaml"
    bad.write_text("name: typo\nlab:\n  tenant: {licence: P3}\n")
    result = simlab("run", str(bad))
    assert result.returncode == 2 and f"{bad}" in result.stderr and "licence" in result.stderr


def test_no_selected_scenarios_is_not_success():
    result = simlab("run", "scenarios", "-k", "no-scenario-has-this-name")
    assert result.returncode == 5


def test_faults_json_lists_the_catalogue():
    result = simlab("faults", "--json")
    data = json.loads(result.stdout)
    assert {"missing-reset", "min-password-age", "staging-mode"} <= {f["name"] for f in data}
    assert all(f["fix"] for f in data)


def test_the_five_minute_tour(tmp_path: Path):
    """serve a lab, break it, watch SSPR fail, read events, run doctor, fix it, see it work."""
    with served(tmp_path, "--users", "10") as (endpoints, env, proc):
        assert endpoints["ldaps_url"].startswith("ldaps://127.0.0.1:")
        assert endpoints["graph_base_url"].startswith("https://127.0.0.1:")

        broke = simlab("fault", "missing-reset", env=env)
        assert broke.returncode == 0 and "Applied fault missing-reset" in broke.stdout
        reset = simlab("sspr", "reset", "alice", "Fresh-Passw0rd-2026!", env=env)
        assert reset.returncode == 1 and reset.stdout.startswith("SSPR_0029")
        events = simlab("events", "--json", env=env)
        ids = [json.loads(line)["event_id"] for line in events.stdout.splitlines()]
        assert ids[-3:] == [6329, 33004, 31003] or 33004 in ids

        doctor = simlab("doctor", "--user", "alice", "--format", "json", env=env)
        assert doctor.returncode == 1, doctor.stderr
        assert {f["id"] for f in json.loads(doctor.stdout)["findings"]} == {"missing-reset"}

        fixed = simlab("connect", "set-writeback-permissions", env=env)
        assert fixed.returncode == 0, fixed.stderr
        reset = simlab("sspr", "reset", "alice", "Fresh-Passw0rd-2026!", env=env)
        assert reset.stdout.strip() == "Your password has been reset."
        assert simlab("doctor", "--user", "alice", env=env).returncode == 0

        # The Connect wizard refuses a wrong Global Administrator password: offboarding fails (31014).
        refused = simlab(
            "connect",
            "wizard",
            "--no-writeback",
            "--admin-upn",
            endpoints["tenant_admin_upn"],
            "--admin-password",
            "wrong",
            env=env,
        )
        assert refused.returncode == 1 and "Error getting auth token." in refused.stdout
        later = simlab("events", "--json", "--id", "31014", "--since", "2026-01-05T09:00:00", env=env)
        assert [json.loads(line)["event_id"] for line in later.stdout.splitlines()] == [31014]
        assert "MSOL_" in simlab("connect", "config", env=env).stdout

        if shutil.which("ldapwhoami"):
            who = subprocess.run(
                [
                    "ldapwhoami",
                    "-H",
                    endpoints["ldaps_url"],
                    "-x",
                    "-D",
                    "alice@contoso.com",
                    "-w",
                    "Fresh-Passw0rd-2026!",
                ],
                capture_output=True,
                text=True,
                env={**env, "LDAPTLS_CACERT": endpoints["ca_file"]},
                timeout=30,
                check=False,
            )
            assert who.stdout.strip() == "u:CONTOSO\\alice", who.stderr
        assert "lab stopped" in stop_serve(proc)  # (SIGTERM, as `kill` sends)
    assert proc.returncode == 0


def test_serve_refuses_a_non_loopback_address():
    result = simlab("serve", "--host", "0.0.0.0", timeout=60)
    assert result.returncode != 0 and "loopback" in (result.stderr + result.stdout).lower()


def test_serve_validates_its_options_like_the_spec_file():
    for users, message in [("-3", "greater than or equal to 0"), ("300000", "less than or equal to 200000")]:
        result = simlab("serve", "--users", users, "--no-cache", timeout=60)
        assert result.returncode == 2, result.stdout
        assert f"Error: command line: population.users: Input should be {message}" in result.stderr


def test_doctor_against_an_endpoint_pair(tmp_path: Path):
    """doctor needs no lab object: any LDAPS URL + admin credentials (+ Graph URL and token)."""
    with served(tmp_path, "--users", "5") as (ep, env, _):
        assert simlab("fault", "inheritance-disabled", env=env).returncode == 0
        events = tmp_path / "events.jsonl"
        events.write_text(simlab("events", "--json", env=env).stdout)
        result = simlab(
            "doctor",
            "--ldap-url",
            ep["ldaps_url"],
            "--admin-dn",
            ep["admin_dn"],
            "--admin-password",
            ep["admin_password"],
            "--ca-file",
            ep["ca_file"],
            "--graph-url",
            ep["graph_base_url"],
            "--token",
            ep["tokens"]["global_admin"],
            "--events",
            str(events),
            "--user",
            "alice",
            "--format",
            "json",
            env=env,
        )
        assert result.returncode == 1, result.stderr
        assert "inheritance-disabled" in {f["id"] for f in json.loads(result.stdout)["findings"]}

        # The msgraph-sdk example talks HTTPS to the served Graph with the lab CA and a ready-made token.
        endpoints_file = tmp_path / "endpoints.json"
        endpoints_file.write_text(json.dumps(ep))
        listed = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "graph_list_synced_users.py"), str(endpoints_file)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        assert "alice@contoso.com\talice\tCN=Alice Adams,OU=Sales,OU=Staff,DC=contoso,DC=com" in listed.stdout
