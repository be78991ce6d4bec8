"""Standard ports made easy: each lab on 389/636 of a loopback address of its own, side by side;
clients that hard-code the ports (ldap3 defaults, ldapsearch URLs without a port) reach it, and
the LDAPS certificate names the address and the DC's host name."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import ldap3
import pytest
from _served import stop_serve
from cryptography import x509

from simlab.lab import Lab
from simlab.loopback import NoFreeLoopbackError, ports_free
from simlab.spec import LabSpec

ROOT = Path(__file__).resolve().parents[2]
needs_ldapsearch = pytest.mark.skipif(shutil.which("ldapsearch") is None, reason="ldap-utils not installed")


def _can_bind_389() -> bool:
    try:
        ports_free("127.0.0.1", (389,))
    except NoFreeLoopbackError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _can_bind_389(), reason="binding port 389 is not permitted here")


def _sans(host: str) -> tuple[set[str], set[str]]:
    pem = ssl.get_server_certificate((host, 636))
    ext = x509.load_pem_x509_certificate(pem.encode()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName)
    names = set(ext.value.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in ext.value.get_values_for_type(x509.IPAddress)}
    return names, ips


def _whoami(ep: dict[str, Any], *, secure: bool) -> str:
    """ldap3 with its default ports (no port given): 389, or 636 with use_ssl."""
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ep["ca_file"])
    server = ldap3.Server(ep["host"], use_ssl=secure, tls=tls, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=ep["admin_dn"], password=ep["admin_password"], raise_exceptions=True)
    conn.bind()
    who = conn.extend.standard.who_am_i()
    conn.unbind()
    return who


def test_two_labs_side_by_side_on_standard_ports():
    one = Lab(LabSpec(population={"users": 3}), standard_ports=True).start()
    try:
        fabrikam = LabSpec(population={"users": 3}, domain={"dns": "fabrikam.com"})
        two = Lab(fabrikam, standard_ports=True).start()
        try:
            a, b = one.endpoints(), two.endpoints()
            assert a["host"] != b["host"]
            for ep, lab in ((a, one), (b, two)):
                assert ipaddress.ip_address(ep["host"]).is_loopback and ep["host"] != "127.0.0.1"
                assert (ep["ldap_port"], ep["ldaps_port"]) == (389, 636)
                assert ep["dns_host_name"] == f"dc01.{ep['dns_domain']}"
                assert ep["netbios_domain"] == lab.dc.netbios_name
                assert _whoami(ep, secure=False) == f"u:{ep['netbios_domain']}\\Administrator"
                assert _whoami(ep, secure=True) == f"u:{ep['netbios_domain']}\\Administrator"
                names, ips = _sans(ep["host"])
                assert ep["host"] in ips
                assert {ep["dns_host_name"], ep["dns_domain"]} <= names
            assert (a["netbios_domain"], b["netbios_domain"]) == ("CONTOSO", "FABRIKAM")
        finally:
            two.close()
    finally:
        one.close()
    assert ports_free(a["host"]) and ports_free(b["host"])  # closing a lab lets go of its address


@needs_ldapsearch
@pytest.mark.simlab(standard_ports=True, spec={"population": {"users": 3}})
def test_served_lab_fixture_with_standard_ports_and_ldapsearch_without_a_port(served_lab: Lab):
    ep = served_lab.endpoints()
    env = {**os.environ, "LDAPTLS_CACERT": ep["ca_file"], "LDAPTLS_REQCERT": "demand"}
    for url, extra in ((f"ldap://{ep['host']}", []), (f"ldap://{ep['host']}", ["-ZZ"]),
                       (f"ldaps://{ep['host']}", [])):
        r = subprocess.run(["ldapsearch", "-x", "-H", url, *extra, "-D", ep["admin_dn"], "-w",
                            ep["admin_password"], "-LLL", "-b", "", "-s", "base", "dnsHostName"],
                           capture_output=True, text=True, env=env, timeout=20, check=False)
        assert r.returncode == 0, (url, r.stderr)
        assert f"dnsHostName: {ep['dns_host_name']}" in r.stdout


def test_serve_standard_ports_prints_the_address_and_names(tmp_path: Path):
    cmd = [sys.executable, "-m", "simlab.cli", "serve", "--standard-ports", "--users", "3"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "HOME": str(tmp_path)})
    try:
        ep = json.loads(proc.stdout.readline())
        assert ep["ldap_url"] == f"ldap://{ep['host']}:389" and ep["ldaps_url"] == f"ldaps://{ep['host']}:636"
        assert (ep["dns_host_name"], ep["netbios_domain"], ep["dns_domain"]) == (
            "dc01.contoso.com", "CONTOSO", "contoso.com")
        assert _whoami(ep, secure=True) == "u:CONTOSO\\Administrator"
    finally:
        stop_serve(proc)


def test_serve_standard_ports_refuses_explicit_ports():
    cmd = [sys.executable, "-m", "simlab.cli", "serve", "--standard-ports", "--ldap-port", "1389"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert r.returncode == 2 and "--standard-ports picks the address and ports itself" in r.stderr
