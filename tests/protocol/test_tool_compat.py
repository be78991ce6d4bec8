"""Real AD tooling against a served lab: ldap3 with get_info=ALL, ldapsearch GUID lookups."""

from __future__ import annotations

import datetime
import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest
from _opened import track

from fakes.ad.config_nc import directory_service_dn
from fakes.ad.ldap import DcEndpoints, serve_dc
from fakes.ad.provision import provision
from fakes.ad.sid import BUILTIN_ACCOUNT_OPERATORS

RESET = "00299570-246d-11d0-a768-00aa006e0529"
PAGED = "1.2.840.113556.1.4.319"


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[tuple[object, DcEndpoints]]:
    dc = provision(domain="contoso.com", users=6, seed=3)
    with serve_dc(dc, workdir=tmp_path_factory.mktemp("compat")) as ep:
        yield dc, ep


def _connect(ep: DcEndpoints, user: str | None = None, password: str | None = None) -> ldap3.Connection:
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ep.ca_file)
    server = ldap3.Server(ep.host, port=ep.ldaps_port, use_ssl=True, tls=tls, get_info=ldap3.ALL,
                          connect_timeout=5)
    return track(ldap3.Connection(server, user=user or ep.admin_dn, password=password or ep.admin_password,
                                  auto_bind=True, receive_timeout=10))


def _ldapsearch(ep: DcEndpoints, *args: str) -> subprocess.CompletedProcess:
    cmd = ["ldapsearch", "-x", "-LLL", "-H", ep.ldaps_url, "-D", ep.admin_dn, "-w", ep.admin_password, *args]
    env = {**os.environ, "LDAPTLS_CACERT": ep.ca_file, "LDAPTLS_REQCERT": "demand"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=20)


def test_ldap3_get_info_all_reads_dsa_info_and_schema(lab):
    dc, ep = lab
    conn = _connect(ep)
    try:
        info, schema = conn.server.info, conn.server.schema
        assert info is not None and schema is not None
        assert info.naming_contexts == [dc.domain_dn, dc.config_dn, dc.schema_dn]
        assert PAGED in [c[0] for c in info.supported_controls]
        assert "1.3.6.1.4.1.1466.20037" in [e[0] for e in info.supported_extensions]
        assert schema.attribute_types["sAMAccountName"].single_value is True
        assert schema.attribute_types["unicodePwd"].oid == "1.2.840.113556.1.4.90"
        assert schema.object_classes["user"].superior == ["organizationalPerson"]
    finally:
        conn.unbind()


def test_ldap3_formats_ad_values_from_the_published_schema(lab):
    dc, ep = lab
    conn = _connect(ep)
    try:
        assert conn.search(ep.base_dn, "(sAMAccountName=Administrator)",
                           attributes=["pwdLastSet", "objectSid", "objectGUID", "whenCreated",
                                       "userAccountControl"])
        entry = conn.entries[0]
        admin = dc.get_entry(dc.admin_dn)
        assert isinstance(entry.pwdLastSet.value, datetime.datetime)
        assert entry.objectSid.value == f"{dc.domain_sid}-500"
        assert entry.objectGUID.value == "{" + str(admin.guid) + "}"
        assert isinstance(entry.whenCreated.value, datetime.datetime)
        assert entry.userAccountControl.value == int(admin.attrs["useraccountcontrol"][0])
    finally:
        conn.unbind()


@pytest.mark.needs_tool("ldapsearch")
def test_ldapsearch_resolves_reset_password_by_rights_guid(lab):
    dc, ep = lab
    r = _ldapsearch(ep, "-b", f"CN=Extended-Rights,{dc.config_dn}", f"(rightsGuid={RESET})", "displayName")
    assert r.returncode == 0, r.stderr
    assert "displayName: Reset Password" in r.stdout
    assert r.stdout.count("dn: ") == 1


@pytest.mark.needs_tool("ldapsearch")
def test_ldapsearch_resolves_schema_id_guid_with_escaped_binary_filter(lab):
    dc, ep = lab
    guid = dc.schema.attribute("pwdLastSet").schema_id_guid
    escaped = "".join(f"\\{b:02x}" for b in guid.bytes_le)
    r = _ldapsearch(ep, "-b", dc.schema_dn, f"(schemaIDGUID={escaped})", "lDAPDisplayName")
    assert r.returncode == 0, r.stderr
    assert "lDAPDisplayName: pwdLastSet" in r.stdout


def test_cross_ref_gives_netbios_name_over_the_wire(lab):
    dc, ep = lab
    conn = _connect(ep)
    try:
        flt = f"(nCName={dc.domain_dn})"
        assert conn.search(f"CN=Partitions,{dc.config_dn}", flt, attributes=["nETBIOSName"])
        assert [e.nETBIOSName.value for e in conn.entries] == [dc.netbios_name]
    finally:
        conn.unbind()


def test_ds_heuristics_written_over_ldap_changes_sdprop(tmp_path: Path):
    dc = provision(users=3, seed=4)
    ops = dc.directory.by_sid(BUILTIN_ACCOUNT_OPERATORS)
    member = next(e for e in dc.directory.walk(dc.root()) if "OU=" in e.dn and e.object_class == "user")
    with serve_dc(dc, workdir=tmp_path) as ep:
        conn = _connect(ep)
        try:
            assert conn.modify(ops.dn, {"member": [(ldap3.MODIFY_ADD, [member.dn])]}), conn.result
            assert conn.modify(directory_service_dn(dc),
                               {"dSHeuristics": [(ldap3.MODIFY_REPLACE, ["0000000001000001"])]}), conn.result
            dc.sdprop.run()
            assert conn.search(member.dn, "(objectClass=*)", ldap3.BASE, attributes=["adminCount"])
            assert conn.entries[0].adminCount.value is None
            unset = {"dSHeuristics": [(ldap3.MODIFY_DELETE, [])]}
            assert conn.modify(directory_service_dn(dc), unset), conn.result
            dc.sdprop.run()
            assert conn.search(member.dn, "(objectClass=*)", ldap3.BASE, attributes=["adminCount"])
            assert conn.entries[0].adminCount.value == 1
        finally:
            conn.unbind()
