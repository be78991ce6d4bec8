"""Widely used outside AD tools, run unchanged against a served lab with their default NTLM binds.

impacket (its LDAP client and the GetADUsers/GetUserSPNs/findDelegation examples), ldapdomaindump
and bloodhound-python hard-code 389/636, so the lab is served on a loopback address of its own
with the standard ports. Each test skips with the reason when the tool is not installed (they are
in the ``test`` extras). bloodhound-python locates the DC through DNS SRV records, which the lab
does not serve: its test answers those few DC-locator queries itself (see ``_dc_locator``).
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _opened import track

from simlab.lab import Lab
from simlab.loopback import NoFreeLoopbackError
from simlab.spec import LabSpec

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def lab() -> Iterator[dict[str, Any]]:
    try:
        served = Lab(LabSpec(), standard_ports=True).start()
    except (NoFreeLoopbackError, PermissionError, OSError) as exc:
        pytest.skip(f"no loopback address with free 389/636 here: {exc}")
    try:
        ep = served.endpoints()
        ep["_lab"] = served
        yield ep
    finally:
        served.close()


def _alice_dn(ep: dict[str, Any]) -> str:
    (alice,) = ep["_lab"].dc.directory.lookup("samaccountname", "alice")
    return alice.dn


def _impacket_connection(ep: dict[str, Any], scheme: str, **kw: Any) -> Any:
    """impacket's LDAPConnection, its socket with a timeout (impacket sets none: a DC that
    answers in a shape impacket does not expect would hang the test instead of failing it)."""
    ldap = pytest.importorskip("impacket.ldap.ldap", reason="impacket is not installed")
    old = socket.getdefaulttimeout()
    if scheme == "ldap":  # pyOpenSSL, under ldaps://, wants a blocking socket
        socket.setdefaulttimeout(15)
    try:
        return ldap.LDAPConnection(f"{scheme}://{ep['host']}", ep["base_dn"], **kw)
    finally:
        socket.setdefaulttimeout(old)


def _impacket_ldap(ep: dict[str, Any], scheme: str) -> Any:
    conn = _impacket_connection(ep, scheme)
    conn.login("Administrator", ep["admin_password"], ep["dns_domain"])
    return conn


def _entries(results: list[Any]) -> list[str]:
    from impacket.ldap import ldapasn1

    return [str(r["objectName"]) for r in results if isinstance(r, ldapasn1.SearchResultEntry)]


def _run(tool: str, *args: str, cwd: Path | None = None) -> str:
    script = BIN / tool
    if not script.exists():
        pytest.skip(f"{tool} is not installed next to {sys.executable}")
    cmd = [sys.executable, str(script), *args] if tool.endswith(".py") else [str(script), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("scheme", ["ldap", "ldaps"])
def test_impacket_ldap_client_binds_with_ntlm_and_searches(lab, scheme):
    # Over 389 impacket binds with GSS-SPNEGO and seals every later PDU (signing=True by default);
    # two searches on one session prove the sealed responses and sequence numbers line up.
    conn = _impacket_ldap(lab, scheme)
    try:
        for _ in range(2):
            found = conn.search(searchFilter="(sAMAccountName=alice)", attributes=["distinguishedName"])
            assert _entries(found) == [_alice_dn(lab)]
    finally:
        conn.close()


def test_impacket_sicily_bind_without_signing(lab):
    conn = _impacket_connection(lab, "ldap", signing=False)
    try:
        conn.login("Administrator", lab["admin_password"], lab["netbios_domain"],
                   authenticationChoice="sicilyNegotiate")
        found = conn.search(searchFilter="(objectClass=computer)", attributes=["dNSHostName"])
        assert _entries(found) == [f"CN={lab['dc_name']},OU=Domain Controllers,{lab['base_dn']}"]
    finally:
        conn.close()


def test_impacket_wrong_password_gets_windows_answer(lab):
    from impacket.ldap import ldap

    conn = _impacket_connection(lab, "ldap")
    try:
        with pytest.raises(ldap.LDAPSessionError, match=r"invalidCredentials.*data 52e"):
            conn.login("alice", "not-her-password", lab["dns_domain"])
    finally:
        conn.close()


def _creds(ep: dict[str, Any]) -> list[str]:
    return ["-dc-ip", ep["host"], f"{ep['dns_domain']}/Administrator:{ep['admin_password']}"]


def test_impacket_get_ad_users_lists_alice(lab):
    out = _run("GetADUsers.py", "-all", *_creds(lab))
    line = next(ln for ln in out.splitlines() if ln.startswith("alice "))
    assert f"alice@{lab['dns_domain']}" in line


def test_impacket_get_user_spns_lists_an_spn_set_over_a_sealed_session(lab):
    conn = _impacket_ldap(lab, "ldap")
    spn = f"HTTP/web01.{lab['dns_domain']}"
    try:
        conn.modify(_alice_dn(lab), {"servicePrincipalName": [(2, [spn])]})
    finally:
        conn.close()
    try:
        out = _run("GetUserSPNs.py", *_creds(lab))
        rows = [ln.split() for ln in out.splitlines() if ln.startswith(spn)]
        assert rows and rows[0][1] == "alice", out
    finally:
        ep_lab = lab["_lab"]
        ep_lab.dc.directory.set_values(ep_lab.dc.get_entry(_alice_dn(lab)), "serviceprincipalname", [])


def test_impacket_find_delegation_sees_the_dc_unconstrained(lab):
    out = _run("findDelegation.py", *_creds(lab))
    row = next(ln.split() for ln in out.splitlines() if ln.startswith(f"{lab['dc_name']}$"))
    assert row[1:3] == ["Computer", "Unconstrained"]
    assert row[-1] == "Yes"  # "SPN Exists": the DC account's HOST/ SPN


def test_impacket_addcomputer_as_a_plain_user_within_the_machine_account_quota(lab):
    dc = lab["_lab"].dc
    root = dc.get_entry(dc.domain_dn)
    dc.directory.set_values(root, "ms-ds-machineaccountquota", ["1"])
    user = f"{lab['dns_domain']}/alice:{lab['user_password']}"
    try:
        out = _run("addcomputer.py", "-method", "LDAPS", "-computer-name", "QUOTA1$",
                   "-computer-pass", "Comp-Pass-123!", "-dc-ip", lab["host"], user)
        assert "Successfully added machine account QUOTA1$" in out
        (ws,) = dc.directory.lookup("samaccountname", "QUOTA1$")
        from fakes.ad.sid import sid_to_bytes

        alice_sid = dc.sid_of(dc.get_entry(_alice_dn(lab)))
        assert ws.attrs["ms-ds-creatorsid"] == [sid_to_bytes(alice_sid)]
        # Past the quota: 53 with 0000216D, which addcomputer.py reports as "quota exceeded".
        script = BIN / "addcomputer.py"
        proc = subprocess.run([sys.executable, str(script), "-method", "LDAPS", "-computer-name", "QUOTA2$",
                               "-computer-pass", "Comp-Pass-123!", "-dc-ip", lab["host"], user],
                              capture_output=True, text=True, timeout=30)
        assert "machine quota exceeded" in proc.stdout + proc.stderr
        assert not dc.directory.lookup("samaccountname", "QUOTA2$")
    finally:
        dc.directory.set_values(root, "ms-ds-machineaccountquota", ["10"])
        for added in dc.directory.lookup("samaccountname", "QUOTA1$"):
            dc.directory.remove(added)


@pytest.mark.parametrize("scheme", ["ldap", "ldaps"])
def test_ldapdomaindump_writes_users_computers_and_policy(lab, tmp_path, scheme):
    pytest.importorskip("Crypto.Hash.MD4", reason="ldap3's NTLM needs MD4 from pycryptodome")
    args = ["-u", f"{lab['netbios_domain']}\\Administrator", "-p", lab["admin_password"],
            "-o", str(tmp_path), "--no-html", "--no-grep", f"{scheme}://{lab['host']}"]
    out = _run("ldapdomaindump", *args)
    assert "Domain dump finished" in out
    users = json.loads((tmp_path / "domain_users.json").read_text())
    alice = [u for u in users if u["attributes"]["sAMAccountName"] == ["alice"]]
    assert alice and alice[0]["dn"] == _alice_dn(lab)
    computers = json.loads((tmp_path / "domain_computers.json").read_text())
    dc01 = next(c for c in computers if c["attributes"]["sAMAccountName"] == [f"{lab['dc_name']}$"])
    assert dc01["attributes"]["operatingSystem"] == ["Windows Server 2022 Standard"]
    policy = json.loads((tmp_path / "domain_policy.json").read_text())
    assert policy[0]["attributes"]["ms-DS-MachineAccountQuota"] == [10]


# --- bloodhound-python: DC locator records (MS-ADTS 6.3.2.3) on the lab's own address --------


def _dns_answer(wire: bytes, ep: dict[str, Any]) -> bytes:
    import dns.message
    import dns.rcode
    import dns.rrset

    query = dns.message.from_wire(wire)
    resp = dns.message.make_response(query)
    q = query.question[0]
    name, domain, fqdn = q.name.to_text().lower(), ep["dns_domain"], ep["dns_host_name"]
    srv = {f"_ldap._tcp.pdc._msdcs.{domain}.": 389, f"_ldap._tcp.gc._msdcs.{domain}.": 3268,
           f"_ldap._tcp.dc._msdcs.{domain}.": 389, f"_kerberos._tcp.dc._msdcs.{domain}.": 88}
    if q.rdtype == 33 and name in srv:  # SRV
        resp.answer.append(dns.rrset.from_text(q.name, 600, "IN", "SRV", f"0 100 {srv[name]} {fqdn}."))
    elif q.rdtype == 1 and name in (f"{fqdn}.", f"{domain}."):  # A
        resp.answer.append(dns.rrset.from_text(q.name, 600, "IN", "A", ep["host"]))
    else:
        resp.set_rcode(dns.rcode.NXDOMAIN)
    return resp.to_wire()


def _read(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("DNS client went away")
        data += chunk
    return data


@pytest.fixture
def _dc_locator(lab) -> Iterator[None]:
    """DNS over TCP on the lab's address, port 53 (bloodhound's -ns takes no port): just the
    SRV and A records a Windows DNS holds for the DC. Not part of the lab, which has no DNS."""
    pytest.importorskip("dns.message", reason="dnspython is not installed")
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind((lab["host"], 53))
    except OSError as exc:
        server.close()
        pytest.skip(f"cannot listen on {lab['host']}:53 for the DC locator records: {exc}")
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            with client:
                client.settimeout(5)
                try:
                    size = struct.unpack("!H", _read(client, 2))[0]
                    answer = _dns_answer(_read(client, size), lab)
                    client.sendall(struct.pack("!H", len(answer)) + answer)
                except (OSError, ValueError):
                    continue

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def test_bloodhound_dconly_collects_users_groups_and_the_dc(lab, tmp_path, _dc_locator):
    pytest.importorskip("Crypto.Hash.MD4", reason="ldap3's NTLM needs MD4 from pycryptodome")
    out = _run("bloodhound-python", "-u", "Administrator", "-p", lab["admin_password"],
               "-d", lab["dns_domain"], "-ns", lab["host"], "--dns-tcp", "-c", "DCOnly",
               "--auth-method", "ntlm", cwd=tmp_path)
    assert "Done in" in out, out
    computers = json.loads(next(tmp_path.glob("*_computers.json")).read_text())["data"]
    dc01 = next(c for c in computers if c["Properties"]["samaccountname"] == f"{lab['dc_name']}$")
    assert dc01["Properties"]["unconstraineddelegation"] is True
    assert dc01["Properties"]["operatingsystem"] == "Windows Server 2022 Standard"
    users = json.loads(next(tmp_path.glob("*_users.json")).read_text())["data"]
    upn = f"ALICE@{lab['dns_domain'].upper()}"
    assert upn in [u["Properties"]["name"] for u in users]
    groups = json.loads(next(tmp_path.glob("*_groups.json")).read_text())["data"]
    admins = next(g for g in groups if g["Properties"]["name"].startswith("DOMAIN ADMINS@"))
    assert admins["Members"], "Domain Admins lost its members"
    gpos = json.loads(next(tmp_path.glob("*_gpos.json")).read_text())["data"]
    domain = lab["dns_domain"].upper()
    assert sorted(g["Properties"]["name"] for g in gpos) == [
        f"DEFAULT DOMAIN CONTROLLERS POLICY@{domain}", f"DEFAULT DOMAIN POLICY@{domain}"]


# --- the response shape impacket relies on, in-process (extra to the wire tests above) -------


def test_a_response_batch_is_one_sasl_buffer_split_only_past_the_cap(monkeypatch):
    from fakes.ad.ldap import security_layer
    from fakes.ad.ntlm import NtlmSecurity

    layer = security_layer.SaslSecurityLayer(NtlmSecurity(0xE2088297, b"k" * 16), 4096)
    pdus = [b"\x30\x03\x02\x01\x01", b"\x30\x03\x02\x01\x02", b"\x30\x03\x02\x01\x03"]
    (buffer,) = layer.wrap_batch(pdus)
    assert int.from_bytes(buffer[:4], "big") == len(buffer) - 4 == 16 + 15
    assert layer.context.seq_out == 1  # one signature for the whole batch
    monkeypatch.setattr(security_layer, "SEND_BUFFER_MAX", 10)
    assert [len(b) - 20 for b in layer.wrap_batch(pdus)] == [10, 5]


# --- what the fixes above give any client (ldap3, NTLM over plain LDAP) -----------------------


def _ldap3_ntlm(ep: dict[str, Any], user: str, password: str) -> Any:
    pytest.importorskip("Crypto.Hash.MD4", reason="ldap3's NTLM needs MD4 from pycryptodome")
    import ldap3

    server = ldap3.Server(ep["host"], port=ep["ldap_port"], connect_timeout=5)
    return track(ldap3.Connection(server, f"{ep['netbios_domain']}\\{user}", password,
                                  authentication=ldap3.NTLM, auto_bind=True, receive_timeout=10))


def test_domain_head_names_its_well_known_containers(lab):
    conn = _ldap3_ntlm(lab, "Administrator", lab["admin_password"])
    try:
        assert conn.search(lab["base_dn"], "(objectClass=*)", "BASE", attributes=["wellKnownObjects"])
        values = conn.response[0]["raw_attributes"]["wellKnownObjects"]
        computers = f"B:32:AA312825768811D1ADED00C04FD8D5CD:CN=Computers,{lab['base_dn']}".encode()
        assert computers in values
    finally:
        conn.unbind()


def test_quota_zero_refuses_a_plain_users_computer_with_0x216d(lab):
    dc = lab["_lab"].dc
    root = dc.get_entry(dc.domain_dn)
    dc.directory.set_values(root, "ms-ds-machineaccountquota", ["0"])
    conn = _ldap3_ntlm(lab, "alice", lab["user_password"])
    try:
        dn = f"CN=NOQUOTA,CN=Computers,{lab['base_dn']}"
        assert not conn.add(dn, ["computer"], {"sAMAccountName": "NOQUOTA$"})
        assert conn.result["result"] == 53
        assert conn.result["message"].startswith("0000216D: SvcErr: DSID-031A124C, problem 5003")
        # Create Child is still what it takes elsewhere: an OU gives alice 50, not the quota path.
        assert not conn.add(f"OU=Mine,{lab['base_dn']}", ["organizationalUnit"])
        assert conn.result["result"] == 50
    finally:
        conn.unbind()
        dc.directory.set_values(root, "ms-ds-machineaccountquota", ["10"])
