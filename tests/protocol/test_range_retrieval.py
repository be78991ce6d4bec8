"""Range retrieval over the wire (MS-ADTS 3.1.1.3.1.3.3): a group bigger than MaxValRange (1500,
AD's default) read with ldap3, as an AD-aware client would, and with OpenLDAP's ldapsearch."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from conftest import connect

from fakes.ad import controls as ctl
from fakes.ad import errors
from fakes.ad.ldap import DcEndpoints, serve_dc
from fakes.ad.provision import OuLayout, provision

MEMBERS = 1700  # one department: its GG- group holds every user


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[tuple[object, DcEndpoints, str, list[str]]]:
    dc = provision(users=MEMBERS, seed=3, ou_layout=OuLayout(departments=("Sales",)))
    group = dc.directory.lookup("cn", "GG-Sales")[0]
    with serve_dc(dc, workdir=tmp_path_factory.mktemp("range")) as ep:
        yield dc, ep, group.dn, list(group.attrs["member"])


@contextlib.contextmanager
def _admin(ep: DcEndpoints, **kw: object) -> Iterator[ldap3.Connection]:
    if kw.get("auto_range") is False:
        # ldap3 without auto_range but with its empty-attribute filling drops the plain name of a
        # ranged answer and fails (KeyError) when only the ranged name came back, as AD sends it
        # for a range option: read the raw answer instead.
        kw["return_empty_attributes"] = False
    conn = connect(ep, "plain", ep.admin_dn, ep.admin_password, **kw)
    try:
        assert conn.bind()
        yield conn
    finally:
        conn.unbind()


def _read(conn: ldap3.Connection, dn: str, attributes: list[str], **kw: object) -> dict | None:
    """The group's raw attributes, or None when the search failed (``conn.result`` says why)."""
    if not conn.search(dn, "(objectClass=group)", ldap3.BASE, attributes=attributes, **kw):
        return None
    return conn.response[0]["raw_attributes"]


def test_ldap3_follows_the_ranges_to_every_member(lab):
    """ldap3's auto_range (on by default) sees member;range=0-1499 and asks for the rest."""
    _, ep, group_dn, members = lab
    with _admin(ep) as conn:
        assert [v.decode() for v in _read(conn, group_dn, ["member"])["member"]] == members


def test_ldap3_without_auto_range_sees_the_first_range(lab):
    _, ep, group_dn, members = lab
    with _admin(ep, auto_range=False) as conn:
        raw = _read(conn, group_dn, ["member", "cn"])
        names = list(raw)  # (the order of the asked attributes is the DC's own)
        assert sorted(names) == ["cn", "member", "member;range=0-1499"]
        assert names.index("member;range=0-1499") == names.index("member") + 1  # side by side
        assert not raw["member"]  # ldap3 shows an empty value set as None
        assert [v.decode() for v in raw["member;range=0-1499"]] == members[:1500]
        assert raw["cn"] == [b"GG-Sales"]
        raw = _read(conn, group_dn, ["member;range=1500-*"])
        assert [v.decode() for v in raw["member;range=1500-*"]] == members[1500:]


def test_past_the_last_value(lab):
    """operationsError without LDAP_SERVER_RANGE_RETRIEVAL_NOERR_OID, an empty answer with it."""
    _, ep, group_dn, _ = lab
    past = f"member;range={MEMBERS}-*"
    with _admin(ep, auto_range=False) as conn:
        assert _read(conn, group_dn, [past]) is None
        assert conn.result["result"] == 1
        assert errors.canonical(conn.result["message"]) == errors.RANGE_PAST_END
        raw = _read(conn, group_dn, [past], controls=[(ctl.RANGE_RETRIEVAL_NOERR, False, None)])
        assert list(raw) == [past] and not raw[past]


@pytest.mark.needs_tool("ldapsearch")
def test_ldapsearch_shows_the_ranges(lab):
    _, ep, group_dn, members = lab

    def member_lines(attribute: str) -> list[str]:
        cmd = ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", ep.ldap_url, "-D", ep.admin_dn,
               "-w", ep.admin_password, "-b", group_dn, "-s", "base", "(objectClass=*)", attribute]
        r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=20)
        assert r.returncode == 0, r.stderr
        return [line for line in r.stdout.splitlines() if line.lower().startswith("member")]

    first = member_lines("member")
    assert first == [f"member;range=0-1499: {m}" for m in members[:1500]]
    rest = member_lines("member;range=1500-*")
    assert rest == [f"member;range=1500-*: {m}" for m in members[1500:]]
