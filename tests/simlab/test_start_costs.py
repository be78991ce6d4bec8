"""What a lab start leaves for later: `simlab serve` prints its endpoint line without loading
pyspnego, rich, PyYAML or the fault catalogue (nor ldap3 and pydantic, from its image), and they
still load (and work) when needed; the
objects of the start are frozen out of the cyclic GC's passes once the line is out.

Each start runs in a fresh interpreter (sys.modules and the GC of this pytest process say nothing).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _served import stop_serve

#: Replaces the terminal summary of `simlab serve` (called right after the endpoint line): note
#: what is loaded, then bind with NTLM over LDAPS (ldap3, unchanged client), then stop the lab.
_PROBE = """
import gc, json, os, signal, ssl, sys
import simlab.terminal

WATCH = ("spnego", "fakes.ad.ntlm", "fakes.ad.ldap.ntlm_bind", "rich", "yaml", "simlab.faults", "ldap3",
         "pydantic")


def probe(endpoints, *, pid):
    loaded = sorted(m for m in WATCH if m in sys.modules)
    import ldap3

    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=endpoints["ca_file"])
    server = ldap3.Server(endpoints["ldaps_url"], use_ssl=True, tls=tls, get_info=ldap3.NONE)
    user = endpoints["netbios"] + "\\\\Administrator"
    conn = ldap3.Connection(server, user, endpoints["admin_password"], authentication=ldap3.NTLM)
    bound = conn.bind()
    who = conn.extend.standard.who_am_i() if bound else None
    conn.unbind()
    print(json.dumps({"at_line": loaded, "bound": bound, "who": who, "gc": gc.isenabled(),
                      "frozen": gc.get_freeze_count(),
                      "after_bind": sorted(m for m in WATCH if m in sys.modules)}), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)


simlab.terminal.print_serve_summary = probe
from simlab.cli import main

sys.argv = ["simlab", *sys.argv[1:]]
main()
"""


def _serve_probe(tmp_path: Path, *args: str) -> dict:
    env = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"), "SIMLAB_FORCE_TERMINAL": "0",
           "PATH": "/usr/bin:/bin"}
    with subprocess.Popen([sys.executable, "-c", _PROBE, "serve", "--users", "0", "--workdir",
                           str(tmp_path / "lab"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env, cwd=Path(__file__).resolve().parents[2]) as proc:
        try:
            endpoints = json.loads(proc.stdout.readline())
            probe = json.loads(proc.stdout.readline())
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                stop_serve(proc)
        errors = proc.stderr.read()
    assert proc.returncode == 0, errors
    assert endpoints["ldaps_url"].startswith("ldaps://")
    return probe


@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_serve_loads_ntlm_rich_yaml_and_faults_only_when_needed(tmp_path: Path, cache: str):
    pytest.importorskip("Crypto.Hash.MD4", reason="ldap3's NTLM needs MD4 from pycryptodome on OpenSSL 3")
    if cache == "warm":  # the first start builds the lab and saves its image; the second loads it
        _serve_probe(tmp_path)
    probe = _serve_probe(tmp_path)
    # A cold build's Connect server reads the directory with ldap3, and its spec is validated
    # (pydantic); a lab from its image (no faults: its skeleton runs no sync or wizard) has loaded
    # neither when it prints its line: the spec is the one the first start noted (spec_data.py).
    assert probe["at_line"] == ([] if cache == "warm" else ["ldap3", "pydantic"])
    # The first NTLM bind loads pyspnego and the NTLM code, and the bind works (channel binding
    # hash computed from the served certificate at that moment).
    assert probe["bound"] is True
    assert probe["who"] == "u:CONTOSO\\Administrator"
    assert {"spnego", "fakes.ad.ntlm", "fakes.ad.ldap.ntlm_bind"} <= set(probe["after_bind"])
    assert ("pydantic" in probe["after_bind"]) is (cache == "cold")
    # The collector is back on after the start, the start's objects frozen out of its scans.
    assert probe["gc"] is True
    assert probe["frozen"] > 10_000


def test_pyspnego_md4_read_from_its_file_is_pyspnegos_md4():
    from spnego._ntlm_raw.md4 import md4

    from fakes.ad.passwords import _pyspnego_md4

    ours = _pyspnego_md4()
    # RFC 1320 A.5 test suite, and a password's NT hash input.
    assert ours(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d"
    assert ours(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"
    data = "Pa$$w0rd-Admin1".encode("utf-16-le")
    assert ours(data) == md4(data)


def test_channel_binding_is_computed_from_the_served_certificate_on_first_use():
    from fakes.ad.ldap.ntlm_bind import channel_binding_hash
    from fakes.ad.ldap.protocol import DcLdapFactory
    from fakes.ad.ldap.serve import _first_cert_der
    from fakes.tls import CertificateAuthority

    der = _first_cert_der(CertificateAuthority.create().issue(["dc01.contoso.com"], ["127.0.0.1"]).cert_pem)
    factory = DcLdapFactory(object(), tls_cert_der=der)
    assert factory.channel_binding == channel_binding_hash(der)
    assert len(factory.channel_binding) == 16
    assert DcLdapFactory(object()).channel_binding is None
    assert DcLdapFactory(object(), channel_binding=b"x" * 16).channel_binding == b"x" * 16

