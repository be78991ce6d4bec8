"""50 concurrent ldap3 clients doing mixed reads and writes against one served DC.

No lost writes: every client adds distinct values to one shared multi-valued attribute (SPNs),
and all of them are there at the end. No torn writes: writers set givenName and sn to the
same token in one modify; readers must never see them differ.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest
from conftest import connect

from fakes.ad.ldap import DcEndpoints, serve_dc
from fakes.ad.provision import provision

CLIENTS = 50
ROUNDS = 12


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[object, DcEndpoints]]:
    dc = provision(domain="contoso.com", users=5, seed=4)
    with serve_dc(dc, workdir=tmp_path) as ep:
        yield dc, ep


def test_fifty_clients_no_lost_or_torn_writes(lab):
    dc, ep = lab
    admin = connect(ep, "plain", ep.admin_dn, ep.admin_password)
    assert admin.bind()
    people = "(&(objectCategory=person)(sAMAccountName=*)(!(adminCount=1)))"
    admin.search(dc.domain_dn, people, attributes=["cn"])
    target = sorted(e["dn"] for e in admin.response if e.get("type") == "searchResEntry")[0]
    start = threading.Barrier(CLIENTS)
    problems: list[str] = []

    def client(i: int) -> None:
        try:
            c = connect(ep, "plain", ep.admin_dn, ep.admin_password)
            assert c.bind()
            start.wait(timeout=30)
            for k in range(ROUNDS):
                if i % 2 == 0:
                    token = f"t{i}x{k}"
                    ok = c.modify(target, {"givenName": [(ldap3.MODIFY_REPLACE, [token])],
                                           "sn": [(ldap3.MODIFY_REPLACE, [token])]})
                    spn = f"HTTP/h{i}-{k}.contoso.com"
                    ok = ok and c.modify(target, {"servicePrincipalName": [(ldap3.MODIFY_ADD, [spn])]})
                    if not ok:
                        problems.append(f"client {i} write failed: {c.result}")
                else:
                    c.search(target, "(objectClass=*)", search_scope=ldap3.BASE,
                             attributes=["givenName", "sn"])
                    attrs = c.response[0]["raw_attributes"]
                    if attrs.get("givenName") != attrs.get("sn"):
                        problems.append(f"torn read: {attrs}")
            c.unbind()
        except Exception as exc:  # collected and asserted below
            problems.append(f"client {i}: {exc!r}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert not problems, problems[:5]

    admin.search(target, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["servicePrincipalName"])
    got = {v.decode() for v in admin.response[0]["raw_attributes"]["servicePrincipalName"]}
    expected = {f"HTTP/h{i}-{k}.contoso.com" for i in range(0, CLIENTS, 2) for k in range(ROUNDS)}
    assert got == expected
