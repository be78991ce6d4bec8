"""The LDAP hardening faults against NTLM clients over a served lab: ldap3's unsigned NTLM (Sicily),
msldap's sealed NTLM (GSS-SPNEGO and Sicily, with a channel binding token over LDAPS)."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fakes.ad import errors
from simlab.doctor import diagnose
from simlab.lab import Lab
from simlab.spec import LabSpec

pytest.importorskip("Crypto.Hash.MD4", reason="ldap3's NTLM needs MD4 from pycryptodome on OpenSSL 3")
pytest.importorskip("msldap", reason="msldap not installed")

PASSWORD = "Winter2026!Lab"


def _lab(fault: str) -> Lab:
    return Lab(LabSpec.model_validate({"population": {"users": 4}, "faults": [fault]}))


def _msldap_whoami(lab: Lab, scheme: str, *, ldaps: bool = False) -> Any:
    """msldap binds as alice: NTLM with sign+seal on 389; over LDAPS with the channel binding token."""
    from msldap.commons.factory import LDAPConnectionFactory

    ep = lab.endpoints()
    proto, port = ("ldaps", ep["ldaps_port"]) if ldaps else ("ldap", ep["ldap_port"])
    url = f"{proto}+{scheme}://{ep['netbios_domain']}\\alice:{PASSWORD}@{ep['host']}:{port}/?dc={ep['host']}"

    async def run() -> Any:
        client = LDAPConnectionFactory.from_url(url).get_client()
        _, err = await client.connect()
        if err is not None:
            return err
        try:
            who, err = await client.whoami()
            return err or who
        finally:
            await client.disconnect()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def signing_lab() -> Any:
    with _lab("ldap-signing-required") as lab:
        yield lab


_CYRUS = bool(glob.glob("/usr/lib/*/sasl2/libgssapiv2.so*")) and bool(glob.glob("/etc/gss/mech.d/*ntlmssp*"))


@pytest.mark.skipif(not (_CYRUS and shutil.which("ldapwhoami")),
                    reason="needs ldap-utils, libsasl2-modules-gssapi-mit and gss-ntlmssp")
def test_ldapwhoami_gss_spnego_signs_and_passes_where_a_simple_bind_is_refused(signing_lab: Lab,
                                                                               tmp_path: Path):
    ep = signing_lab.endpoints()
    users = tmp_path / "ntlm_users"
    users.write_text(f"{ep['netbios_domain']}:alice:{PASSWORD}\n")
    env = {**os.environ, "NTLM_USER_FILE": str(users)}
    sasl = subprocess.run(["ldapwhoami", "-H", ep["ldap_url"], "-Y", "GSS-SPNEGO"], capture_output=True,
                          text=True, env=env, timeout=20, check=False)
    assert sasl.returncode == 0, sasl.stderr
    assert sasl.stdout.strip() == "u:CONTOSO\\alice"
    cmd = ["ldapwhoami", "-x", "-H", ep["ldap_url"], "-D", signing_lab.user("alice").dn, "-w", PASSWORD]
    simple = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=20, check=False)
    assert simple.returncode == 8 and errors.STRONGER_AUTH_REQUIRED in simple.stderr


@pytest.fixture(scope="module")
def cbt_lab() -> Any:
    with _lab("ldap-channel-binding-always") as lab:
        yield lab


def test_unsigned_ntlm_on_389_is_refused_with_stronger_auth_required(signing_lab: Lab):
    result = signing_lab.bind("alice", PASSWORD, transport="ldap", authentication="ntlm")
    assert (result.code, result.message.rstrip("\x00")) == (8, errors.STRONGER_AUTH_REQUIRED)


@pytest.mark.parametrize("transport", ["ldaps", "starttls"])
def test_ntlm_over_tls_is_accepted_when_signing_is_required(signing_lab: Lab, transport: str):
    assert signing_lab.bind("alice", PASSWORD, transport=transport, authentication="ntlm").ok


@pytest.mark.parametrize("scheme", ["ntlm-password", "sicily-password"])
def test_signed_ntlm_on_389_is_accepted_when_signing_is_required(signing_lab: Lab, scheme: str):
    assert _msldap_whoami(signing_lab, scheme) == "u:CONTOSO\\alice"


def test_ntlm_over_ldaps_without_cbt_is_refused_with_bad_bindings(cbt_lab: Lab):
    result = cbt_lab.bind("alice", PASSWORD, transport="ldaps", authentication="ntlm")
    expected = errors.bind_failed(errors.BIND_BAD_BINDINGS, sspi=True).message.rstrip("\x00")
    assert (result.code, result.message.rstrip("\x00")) == (49, expected)
    assert expected.startswith("80090346: LdapErr: ") and "data 80090346" in expected


def test_cbt_always_accepts_a_client_that_sends_the_token_and_simple_binds(cbt_lab: Lab):
    assert _msldap_whoami(cbt_lab, "ntlm-password", ldaps=True) == "u:CONTOSO\\alice"
    assert cbt_lab.bind("alice", PASSWORD, transport="ldaps").ok
    assert cbt_lab.bind("alice", PASSWORD, transport="ldap", authentication="ntlm").ok  # no TLS, no CBT


def test_cbt_always_writeback_doctor_and_fix():
    with _lab("ldap-channel-binding-always") as lab:
        assert lab.sspr_reset("alice", "Bound-Passw0rd-2026!").ok  # the agent simple-binds over LDAPS
        report = diagnose(lab)
        assert report.ids == {"ldap-channel-binding-always"}
        assert any("80090346" in e.value for e in report.findings[0].evidence)
        lab.dc_gpo.edit(ldap_channel_binding="when_supported")
        assert not lab.bind("alice", "Bound-Passw0rd-2026!", transport="ldaps", authentication="ntlm").ok
        lab.gpupdate()
        assert lab.bind("alice", "Bound-Passw0rd-2026!", transport="ldaps", authentication="ntlm").ok
        assert diagnose(lab).healthy
