"""Signed and sealed NTLM sessions on plain LDAP, driven by clients that turn sealing on.

- msldap (the AD toolkit behind several audit tools): SASL GSS-SPNEGO and Sicily, both
  with NTLMSSP_NEGOTIATE_SEAL, so every PDU after the bind is wrapped; over LDAPS it sends
  the tls-server-end-point channel binding, which proves the DC computes the same one.
- python-ldap and ldapsearch/ldapmodify through Cyrus SASL GSS-SPNEGO with Debian's
  gss-ntlmssp (credentials from an NTLM_USER_FILE), as Linux admins run them.

Password reset and change over the sealed 389 session work, as on Windows.
"""

from __future__ import annotations

import asyncio
import base64
import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _ntlm_helpers import USER_PASSWORD, ntlm_lab, ordinary_user
from conftest import connect

from fakes.ad import errors
from fakes.ad.bind_policy import LdapServerPolicy
from fakes.ad.ldap import DcEndpoints

PYTHON_LDAP_MISSING = (
    "python-ldap not installed (apt-get install libldap2-dev libsasl2-dev; pip install '.[ldap-c]')"
)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[object, DcEndpoints]]:
    with ntlm_lab(tmp_path) as served:
        yield served


# ------------------------------------------------------------------ msldap

async def _msldap(url: str, ca_file: str | None, work):
    from msldap.commons.factory import LDAPConnectionFactory

    client = LDAPConnectionFactory.from_url(url).get_client()
    _, err = await client.connect()
    try:
        return err if err is not None else await work(client)
    finally:  # a refused bind leaves the connection open too
        await client.disconnect()


def msldap_run(ep: DcEndpoints, scheme: str, user: str, password: str, work, *, ldaps: bool = False):
    pytest.importorskip("msldap", reason="msldap not installed")
    port = ep.ldaps_port if ldaps else ep.ldap_port
    proto = "ldaps" if ldaps else "ldap"
    url = f"{proto}+{scheme}://{user}:{password}@{ep.host}:{port}/?dc={ep.host}"
    return asyncio.run(_msldap(url, ep.ca_file, work))


async def _whoami_and_search(client):
    who, err = await client.whoami()
    assert err is None, err
    found = []
    async for entry, err in client.pagedsearch("(sAMAccountName=Administrator)", ["distinguishedName"]):
        assert err is None, err
        found.append(entry["attributes"]["distinguishedName"])
    return who, found


@pytest.mark.parametrize("scheme", ["ntlm-password", "sicily-password"])
def test_msldap_sealed_bind_whoami_and_search(lab, scheme):
    dc, ep = lab
    who, found = msldap_run(ep, scheme, f"{dc.netbios_name}\\Administrator", ep.admin_password,
                            _whoami_and_search)
    assert who == f"u:{dc.netbios_name}\\Administrator"
    assert found == [ep.admin_dn]


@pytest.mark.parametrize("scheme", ["ntlm-password", "sicily-password"])
def test_reset_and_change_unicode_pwd_over_sealed_389(lab, scheme):
    dc, ep = lab
    dn, sam = ordinary_user(dc)

    async def reset(client):
        return await client.change_password(dn, "N3w!Sealed-Pass1")

    ok, err = msldap_run(ep, scheme, f"{dc.netbios_name}\\Administrator", ep.admin_password, reset)
    assert ok and err is None, err
    set_min_age_zero = dc.get_entry(dc.domain_dn)
    dc.directory.set_values(set_min_age_zero, "minpwdage", ["0"])

    async def change(client):
        return await client.change_password(dn, "An0ther!Sealed-2", "N3w!Sealed-Pass1")

    ok, err = msldap_run(ep, scheme, f"{dc.netbios_name}\\{sam}", "N3w!Sealed-Pass1", change)
    assert ok and err is None, err
    # The new password works for a simple bind too (same NT hash).
    assert connect(ep, "ldaps", dn, "An0ther!Sealed-2").bind()


def test_sealed_session_wrong_old_password_is_the_windows_19(lab):
    dc, ep = lab
    dn, sam = ordinary_user(dc)

    async def change(client):
        return await client.change_password(dn, "An0ther!Sealed-2", "not-the-old-one")

    ok, err = msldap_run(ep, "ntlm-password", f"{dc.netbios_name}\\{sam}", USER_PASSWORD, change)
    assert not ok
    # msldap quotes the diagnostic with repr(); compare the escaped Windows text.
    expected = errors.wrong_old_password().message
    assert "constraintViolation" in str(err) and repr(expected)[1:-1] in str(err)


def test_msldap_signs_so_signing_policy_accepts_it(lab):
    dc, ep = lab
    dc.ldap_policy = LdapServerPolicy(signing="require")
    who, _ = msldap_run(ep, "ntlm-password", f"{dc.netbios_name}\\Administrator", ep.admin_password,
                        _whoami_and_search)
    assert who == f"u:{dc.netbios_name}\\Administrator"


def test_msldap_channel_binding_over_ldaps_matches_the_dc(lab):
    dc, ep = lab
    dc.ldap_policy = LdapServerPolicy(channel_binding="always")
    who, _ = msldap_run(ep, "ntlm-password", f"{dc.netbios_name}\\Administrator", ep.admin_password,
                        _whoami_and_search, ldaps=True)
    assert who == f"u:{dc.netbios_name}\\Administrator"


def test_msldap_wrong_password_gets_the_sspi_52e(lab):
    dc, ep = lab

    async def never(client):  # pragma: no cover - the bind fails first
        raise AssertionError("bound with a wrong password")

    err = msldap_run(ep, "ntlm-password", f"{dc.netbios_name}\\Administrator", "wrong", never)
    assert errors.ntlm_bind_failed(errors.BIND_INVALID_CREDENTIALS).message.rstrip("\x00") in str(err)


# ------------------------------------------------------------------ Cyrus SASL GSS-SPNEGO

def _cyrus_gss_spnego() -> str | None:
    """Why Cyrus SASL GSS-SPNEGO over gss-ntlmssp cannot run here, or None when it can."""
    if not glob.glob("/usr/lib/*/sasl2/libgssapiv2.so*"):
        return "libsasl2-modules-gssapi-mit not installed"
    if not glob.glob("/etc/gss/mech.d/*ntlmssp*"):
        return "gss-ntlmssp not installed"
    return None


needs_cyrus = pytest.mark.skipif(_cyrus_gss_spnego() is not None, reason=str(_cyrus_gss_spnego()))


@pytest.fixture
def ntlm_user_file(lab, tmp_path, monkeypatch) -> Path:
    dc, ep = lab
    path = tmp_path / "ntlm_users"
    path.write_text(f"{dc.netbios_name}:Administrator:{ep.admin_password}\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(path))
    return path


@needs_cyrus
def test_ldapsearch_and_ldapmodify_gss_spnego_sealed(lab, ntlm_user_file):
    if shutil.which("ldapwhoami") is None:
        pytest.skip("ldap-utils not installed")
    dc, ep = lab
    env = {**os.environ}
    r = subprocess.run(["ldapwhoami", "-H", ep.ldap_url, "-Y", "GSS-SPNEGO"], capture_output=True,
                       text=True, env=env, timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"u:{dc.netbios_name}\\Administrator"
    assert "SASL data security layer installed." in r.stderr
    dn, _ = ordinary_user(dc)
    value = base64.b64encode('"N3w!Cyrus-Pass1"'.encode("utf-16-le")).decode()
    ldif = f"dn: {dn}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {value}\n-\n"
    r = subprocess.run(["ldapmodify", "-H", ep.ldap_url, "-Y", "GSS-SPNEGO"], input=ldif, capture_output=True,
                       text=True, env=env, timeout=20)
    assert r.returncode == 0, r.stderr
    assert connect(ep, "ldaps", dn, "N3w!Cyrus-Pass1").bind()


# python-ldap keeps the GIL during sasl_interactive_bind_s, which would starve this process's
# reactor thread serving the lab, so the client runs in its own interpreter (as a tool would).
_PYTHON_LDAP_CLIENT = """
import sys, ldap, ldap.sasl
url, dn, value = sys.argv[1], sys.argv[2], sys.argv[3]
conn = ldap.initialize(url)
conn.set_option(ldap.OPT_REFERRALS, 0)
conn.sasl_interactive_bind_s("", ldap.sasl.sasl({}, "GSS-SPNEGO"))
print(conn.whoami_s())
conn.modify_s(dn, [(ldap.MOD_REPLACE, "unicodePwd", [value.encode("utf-16-le")])])
conn.unbind_s()
"""


@needs_cyrus
def test_python_ldap_sasl_gss_spnego_sealed(lab, ntlm_user_file):
    pytest.importorskip("ldap", reason=PYTHON_LDAP_MISSING)
    dc, ep = lab
    dn, _ = ordinary_user(dc)
    r = subprocess.run([sys.executable, "-c", _PYTHON_LDAP_CLIENT, ep.ldap_url, dn, '"N3w!PyLdap-Pass1"'],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"u:{dc.netbios_name}\\Administrator"
    assert connect(ep, "ldaps", dn, "N3w!PyLdap-Pass1").bind()


def test_python_ldap_simple_bind_still_works(lab):
    ldap = pytest.importorskip("ldap", reason=PYTHON_LDAP_MISSING)
    dc, ep = lab
    conn = ldap.initialize(ep.ldap_url)
    conn.simple_bind_s(ep.admin_dn, ep.admin_password)
    assert conn.whoami_s() == f"u:{dc.netbios_name}\\Administrator"
    with pytest.raises(ldap.INVALID_CREDENTIALS) as exc:
        ldap.initialize(ep.ldap_url).simple_bind_s(ep.admin_dn, "wrong")
    assert exc.value.args[0]["info"] == errors.bind_failed().message.rstrip("\x00")
