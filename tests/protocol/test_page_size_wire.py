"""MaxPageSize over the wire: a search without paging of more than 1000 entries (AD's default)
gets 1000 and sizeLimitExceeded, with ldap3 and with ldapsearch; paged, it gets them all."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from conftest import connect

from fakes.ad import errors
from fakes.ad.ldap import DcEndpoints, serve_dc
from fakes.ad.provision import provision

USERS = "(&(objectClass=user)(!(objectClass=computer)))"


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[tuple[object, DcEndpoints, int]]:
    dc = provision(users=1200, seed=4)
    count = sum(1 for e in dc.directory.lookup("objectclass", "user") if e.object_class == "user")
    with serve_dc(dc, workdir=tmp_path_factory.mktemp("pages")) as ep:
        yield dc, ep, count


def test_ldap3_without_paging_gets_1000_and_size_limit_exceeded(lab):
    dc, ep, count = lab
    assert count > 1000
    conn = connect(ep, "plain", ep.admin_dn, ep.admin_password)
    try:
        assert conn.bind()
        conn.search(dc.domain_dn, USERS, attributes=["cn"])
        assert conn.result["result"] == 4
        assert errors.canonical(conn.result["message"]) == errors.SIZE_LIMIT
        assert len([r for r in conn.response if r["type"] == "searchResEntry"]) == 1000
        paged = conn.extend.standard.paged_search(dc.domain_dn, USERS, attributes=["cn"], paged_size=5000,
                                                  generator=False)
        assert len([r for r in paged if r["type"] == "searchResEntry"]) == count
    finally:
        conn.unbind()


@pytest.mark.needs_tool("ldapsearch")
def test_ldapsearch_without_paging_exits_4(lab):
    dc, ep, count = lab

    def run(*extra: str) -> subprocess.CompletedProcess:
        cmd = ["ldapsearch", "-x", "-LLL", "-H", ep.ldap_url, "-D", ep.admin_dn, "-w", ep.admin_password,
               "-b", dc.domain_dn, *extra, USERS, "1.1"]
        return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=30)

    r = run()
    assert r.returncode == 4, r.stderr
    assert "Size limit exceeded" in r.stderr
    assert r.stdout.count("\ndn: ") + r.stdout.startswith("dn: ") == 1000
    r = run("-E", "pr=1000/noprompt")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\ndn: ") + r.stdout.startswith("dn: ") == count
