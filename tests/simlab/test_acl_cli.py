"""`simlab acl` as an admin runs it: real subprocesses against one served lab, 80-column terminal."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _served import stop_serve

ROOT = Path(__file__).resolve().parents[2]
SIMLAB = [sys.executable, "-m", "simlab.cli"]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[dict]:
    """`simlab serve` in a subprocess; yields its endpoints plus the env (HOME, COLUMNS=80) to use."""
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "HOME": str(home), "COLUMNS": "80"}
    proc = subprocess.Popen([*SIMLAB, "serve", "--users", "10"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        yield {**json.loads(proc.stdout.readline()), "env": env}
    finally:
        stop_serve(proc)


def run(served: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SIMLAB, *args], capture_output=True, text=True, timeout=120, env=served["env"],
                          cwd=ROOT, check=False)


def ok(served: dict, *args: str) -> str:
    result = run(served, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _msol(served: dict) -> str:
    return f"{served['netbios']}\\{served['connector_dn'].split(',')[0][3:]}"


def _user_dn(served: dict, sam: str) -> str:
    return json.loads(ok(served, "acl", "show", f"user:{sam}", "--json"))["dn"]


def test_show_lists_entries_like_aduc_in_80_columns(served):
    out = ok(served, "acl", "show", "user:alice")
    lines = out.splitlines()
    assert lines[0] == f"Advanced Security Settings for {_user_dn(served, 'alice')}"
    assert "Owner: CONTOSO\\Domain Admins" in out and "Inheritance: enabled" in out
    assert all(len(line) <= 80 for line in lines[3:]), out
    assert lines[4].split() == ["Type", "Principal", "Access", "Inherited", "from", "Applies", "to"]

    data = json.loads(ok(served, "acl", "show", "user:alice", "--json"))
    mine = {e["access"]: e for e in data["entries"] if e["principal"] == _msol(served)}
    assert set(mine) >= {"Reset password", "Write pwdLastSet", "Write lockoutTime", "Change password"}
    assert mine["Reset password"]["inherited_from"] == served["base_dn"]
    assert mine["Reset password"]["sddl"].startswith("(OA;CIID;CR;00299570-")
    sddl = ok(served, "acl", "show", "root", "--sddl").strip()
    assert sddl.startswith("O:BAG:BAD:") and "(OA;CI;CR;ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501;;" in sddl
    assert "AdminSDHolder" in ok(served, "acl", "show", "AdminSDHolder").splitlines()[0]


def test_grant_and_remove_print_what_an_admin_expects(served):
    bob = _user_dn(served, "bob")
    msol = _msol(served)
    out = ok(served, "acl", "grant", "user:bob", "--principal", msol, "--right", "Reset password")
    assert out == f"Granted Reset password to {msol} on {bob}: applies to this object only\n"
    again = ok(served, "acl", "grant", "user:bob", "-p", msol, "-r", "Reset password")
    assert again.startswith(f"{msol} already has Allow Reset password on {bob}")
    out = ok(served, "acl", "remove", "user:bob", "-p", msol, "-r", "Reset password", "--type", "allow")
    assert out == (f"Removed Allow {msol}: Reset password (applies to: This object only) from {bob}\n")
    # The inherited entries stay: remove names where they are set instead.
    gone = run(served, "acl", "remove", "user:bob", "-p", msol, "-r", "Reset password",
               "-a", "Descendant User objects")
    assert gone.returncode == 1
    assert f"inherited from {served['base_dn']}" in gone.stderr


def test_deny_breaks_the_reset_and_doctor_gives_the_fix_that_works(served):
    carol = _user_dn(served, "jthomas")
    out = ok(served, "acl", "deny", "user:jthomas", "-p", _msol(served), "-r", "Write pwdLastSet")
    assert out == f"Denied Write pwdLastSet to {_msol(served)} on {carol}: applies to this object only\n"
    reset = run(served, "sspr", "reset", "jthomas", "Fresh-Passw0rd-2026!")
    assert reset.returncode == 1 and reset.stdout.startswith("SSPR_0029")
    doctor = run(served, "doctor", "--user", "jthomas")
    assert doctor.returncode == 1
    assert f"explicit-deny: Deny Write pwdLastSet for {_msol(served)} on {carol} (explicit)" in doctor.stdout
    fix = next(line.strip()[2:] for line in doctor.stdout.splitlines() if "* simlab acl remove" in line)
    removed = ok(served, *shlex.split(fix)[1:])
    assert removed.startswith(f"Removed Deny {_msol(served)}: Write pwdLastSet")
    reset = ok(served, "sspr", "reset", "jthomas", "Other-Passw0rd-2026!")
    assert reset.strip() == "Your password has been reset."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grant", "user:alice", "-p", "nobody", "-r", "Reset password"],
         'Name Not Found: An object named "nobody" cannot be found.'),
        (["deny", "user:alice", "-p", "SELF", "-r", "Reset pasword"], "unknown right 'Reset pasword'"),
        (["deny", "user:alice", "-p", "SELF", "-r", "Reset password", "-a", "sideways"],
         "unknown Applies to 'sideways'"),
        (["set", "user:alice", "--sddl", "D:(A;;ZZ;;;WD)"], "unknown SDDL right 'ZZ'"),
        (["grant", "user:nobody", "-p", "SELF", "-r", "Read"], 'An object named "nobody" cannot be found'),
        (["protect", "CN=nobody,DC=contoso,DC=com"], "32 noSuchObject"),
        (["remove", "user:alice"], "give --principal"),
    ],
)
def test_bad_input_is_refused_and_the_lab_is_untouched(served, args, message):
    before = ok(served, "acl", "show", "user:alice", "--sddl")
    result = run(served, "acl", *args)
    assert result.returncode in (1, 2) and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert ok(served, "acl", "show", "user:alice", "--sddl") == before


def test_protect_inherit_and_set(served):
    ou = "OU=Staff," + served["base_dn"]
    out = ok(served, "acl", "protect", "ou:Staff")
    assert out.startswith(f"Disabled inheritance on {ou}: converted ") and "into explicit entries" in out
    data = json.loads(ok(served, "acl", "show", ou, "--json"))
    assert data["inheritance"] == "disabled" and all(e["inherited_from"] == "None" for e in data["entries"])
    assert ok(served, "acl", "inherit", "ou:Staff").startswith(f"Enabled inheritance on {ou}: it inherits ")
    assert json.loads(ok(served, "acl", "show", ou, "--json"))["inheritance"] == "enabled"

    explicit = "D:(A;;RPLCLORC;;;AU)(A;;GA;;;DA)"
    out = ok(served, "acl", "set", "ou:Staff", "--sddl", explicit)
    assert out == f"Set the permissions of {ou}: 2 explicit entries, inheritance enabled\n"
    sddl = ok(served, "acl", "show", "ou:Staff", "--sddl")
    # Stored as the DC canonicalises it; the inherited entries are the DC's to add back.
    assert "(A;;LCRPLORC;;;AU)" in sddl and "(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;DA)" in sddl and "ID;" in sddl
