"""LDAP server signing requirements on the wire: what a simple bind meets when signing is required.

With ``signing="require"`` a Windows DC refuses a simple bind with credentials on plain 389
with 8 strongerAuthRequired; LDAPS and StartTLS binds still work because TLS already
protects the session, and anonymous binds (rootDSE discovery) still work.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest
from conftest import connect

from fakes.ad import errors
from fakes.ad.api import LdapError
from fakes.ad.bind_policy import LdapServerPolicy
from fakes.ad.ldap import DcEndpoints, serve_dc
from fakes.ad.provision import provision


@pytest.fixture
def signing_lab(tmp_path: Path) -> Iterator[tuple[object, DcEndpoints]]:
    dc = provision(domain="contoso.com", users=3, seed=1)
    dc.ldap_policy = LdapServerPolicy(signing="require")
    with serve_dc(dc, workdir=tmp_path) as ep:
        yield dc, ep


def test_simple_bind_on_plain_ldap_gets_stronger_auth_required(signing_lab):
    _, ep = signing_lab
    c = connect(ep, "plain", ep.admin_dn, ep.admin_password)
    assert not c.bind()
    assert c.result["result"] == 8
    assert c.result["message"] == errors.stronger_auth_required().message
    # The refusal comes before the credential check: a wrong password gets the same answer.
    c2 = connect(ep, "plain", ep.admin_dn, "wrong")
    assert not c2.bind()
    assert c2.result["result"] == 8


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
def test_tls_binds_still_work(signing_lab, mode):
    dc, ep = signing_lab
    c = connect(ep, mode, ep.admin_dn, ep.admin_password)
    assert c.bind(), c.result
    assert c.extend.standard.who_am_i() == f"u:{dc.netbios_name}\\Administrator"
    c.unbind()


def test_anonymous_root_dse_still_works(signing_lab):
    dc, ep = signing_lab
    c = connect(ep, "plain")
    assert c.bind()
    assert c.search("", "(objectClass=*)", search_scope=ldap3.BASE, attributes=["defaultNamingContext"])
    assert c.response[0]["raw_attributes"]["defaultNamingContext"] == [dc.domain_dn.encode()]


def test_default_policy_accepts_plain_simple_bind_and_records_mechanism(tmp_path):
    dc = provision(domain="contoso.com", users=3, seed=1)
    session = dc.new_session()
    dc.bind(session, dc.admin_dn, dc.admin_password)
    assert session.mechanism == "SIMPLE" and not session.tls
    dc.ldap_policy = LdapServerPolicy(signing="require")
    with pytest.raises(LdapError) as exc:
        dc.bind(session, dc.admin_dn, dc.admin_password)
    assert exc.value.code == 8
    assert session.anonymous and session.mechanism == ""
