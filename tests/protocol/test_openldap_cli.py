"""OpenLDAP's command-line tools against the served real DC, over ldap://, ldaps:// and StartTLS (-ZZ)."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes.ad import errors
from fakes.ad.ldap import DcEndpoints, serve_dc
from fakes.ad.provision import provision

pytestmark = pytest.mark.needs_tool("ldapsearch", "ldapmodify", "ldapwhoami", "ldappasswd")
MODES = ["plain", "ldaps", "starttls"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[tuple[object, DcEndpoints]]:
    dc = provision(domain="contoso.com", users=5, seed=2)
    with serve_dc(dc, workdir=tmp_path_factory.mktemp("cli")) as ep:
        yield dc, ep


def run(ep: DcEndpoints, mode: str, tool: str, *args: str,
        stdin: str | None = None) -> subprocess.CompletedProcess:
    url = ep.ldaps_url if mode == "ldaps" else ep.ldap_url
    cmd = [tool, "-x", "-H", url, *(["-ZZ"] if mode == "starttls" else []), *args]
    env = {**os.environ, "LDAPTLS_CACERT": ep.ca_file, "LDAPTLS_REQCERT": "demand"}
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, timeout=20)


@pytest.mark.parametrize("mode", MODES)
def test_ldapsearch_root_dse_and_domain(lab, mode):
    dc, ep = lab
    r = run(ep, mode, "ldapsearch", "-LLL", "-b", "", "-s", "base", "(objectClass=*)", "defaultNamingContext")
    assert r.returncode == 0, r.stderr
    assert f"defaultNamingContext: {dc.domain_dn}" in r.stdout
    r = run(ep, mode, "ldapsearch", "-LLL", "-D", ep.admin_dn, "-w", ep.admin_password, "-b", dc.domain_dn,
            "(sAMAccountName=Administrator)", "distinguishedName")
    assert r.returncode == 0, r.stderr
    assert f"dn: {ep.admin_dn}" in r.stdout


@pytest.mark.parametrize("mode", MODES)
def test_ldapwhoami(lab, mode):
    dc, ep = lab
    r = run(ep, mode, "ldapwhoami", "-D", ep.admin_dn, "-w", ep.admin_password)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"u:{dc.netbios_name}\\Administrator"


@pytest.mark.parametrize("mode", MODES)
def test_ldapsearch_bad_password_shows_windows_text(lab, mode):
    _, ep = lab
    r = run(ep, mode, "ldapsearch", "-D", ep.admin_dn, "-w", "wrong", "-b", "", "-s", "base")
    assert r.returncode == 49
    assert errors.canonical(errors.bind_failed().message) in r.stderr


@pytest.mark.parametrize("mode", MODES)
def test_ldapmodify_unicodepwd_reset(lab, mode):
    dc, ep = lab
    r = run(ep, "ldaps", "ldapsearch", "-LLL", "-D", ep.admin_dn, "-w", ep.admin_password, "-b", dc.domain_dn,
            "(&(objectCategory=person)(objectClass=user)(!(adminCount=1))(!(sAMAccountName=MSOL_*))"
            "(!(sAMAccountName=Guest)))", "1.1")
    users = sorted(line[4:] for line in r.stdout.splitlines() if line.startswith("dn: "))
    assert users, r.stdout + r.stderr
    target = users[0]
    value = base64.b64encode('"Cli!Reset-Passw0rd"'.encode("utf-16-le")).decode()
    ldif = f"dn: {target}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {value}\n-\n"
    r = run(ep, mode, "ldapmodify", "-D", ep.admin_dn, "-w", ep.admin_password, stdin=ldif)
    if mode == "plain":
        assert r.returncode == 53
        assert errors.canonical(errors.reset_needs_encryption().message) in r.stderr
    else:
        assert r.returncode == 0, r.stderr
        who = run(ep, mode, "ldapwhoami", "-D", target, "-w", "Cli!Reset-Passw0rd")
        assert who.returncode == 0, who.stderr


def test_ldappasswd_is_unknown_extended_operation(lab):
    _, ep = lab
    r = run(ep, "ldaps", "ldappasswd", "-D", ep.admin_dn, "-w", ep.admin_password, "-s", "Whatever!1")
    out = r.stdout + r.stderr
    assert r.returncode != 0  # AD has no RFC 3062 password modify: protocolError (2)
    assert "Protocol error (2)" in out
    assert errors.canonical(errors.unknown_extended().message) in out


def test_ca_file_is_needed(lab, tmp_path: Path):
    _, ep = lab
    env = {**os.environ, "LDAPTLS_CACERT": str(tmp_path / "none.pem"), "LDAPTLS_REQCERT": "demand"}
    r = subprocess.run(["ldapwhoami", "-x", "-H", ep.ldaps_url], capture_output=True, text=True, env=env,
                       timeout=20)
    assert r.returncode != 0
