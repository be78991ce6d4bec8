"""Server-side sorting over the wire with OpenLDAP's ldapsearch (-E sss=...)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from fakes.ad.ldap import DcEndpoints, serve_dc
from fakes.ad.provision import provision

pytestmark = pytest.mark.needs_tool("ldapsearch")
USERS = "(&(objectClass=user)(sn=*))"


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[tuple[object, DcEndpoints]]:
    dc = provision(users=40, seed=12)
    with serve_dc(dc, workdir=tmp_path_factory.mktemp("sort")) as ep:
        yield dc, ep


def _ldapsearch(ep: DcEndpoints, base: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", ep.ldap_url, "-D", ep.admin_dn,
           "-w", ep.admin_password, "-b", base, *extra, USERS, "sn"]
    return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=20)


def _surnames(stdout: str) -> list[str]:
    return [line.split(": ", 1)[1] for line in stdout.splitlines() if line.startswith("sn: ")]


def test_ldapsearch_gets_sorted_results(lab):
    dc, ep = lab
    users = dc.directory.lookup("objectclass", "user")
    stored = sorted((e.attrs["sn"][0] for e in users if e.attrs.get("sn")), key=str.casefold)
    r = _ldapsearch(ep, dc.domain_dn, "-E", "!sss=sn")
    assert r.returncode == 0, r.stderr
    assert _surnames(r.stdout) == stored
    r = _ldapsearch(ep, dc.domain_dn, "-E", "sss=-sn")
    assert r.returncode == 0, r.stderr
    assert [s.casefold() for s in _surnames(r.stdout)] == [s.casefold() for s in reversed(stored)]


def test_ldapsearch_with_two_critical_keys_gets_unavailable_critical_extension(lab):
    dc, ep = lab
    r = _ldapsearch(ep, dc.domain_dn, "-E", "!sss=sn/givenName")
    assert r.returncode == 12, (r.returncode, r.stderr)
