"""Doctor's bind probes: where they go for an endpoint pair, and that they touch no account."""

from __future__ import annotations

from simlab.doctor import LabSource
from simlab.doctor.bindcheck import endpoint_targets, probe_signing
from simlab.faults import apply_fault
from simlab.lab import Lab
from simlab.spec import LabSpec

ADMIN = "CN=Administrator,CN=Users,DC=contoso,DC=com"


def test_endpoint_targets_pair_standard_ports_and_derive_names():
    t = endpoint_targets("ldaps://dc01.contoso.com", None, "DC=contoso,DC=com", ADMIN, "pw")
    assert (t.plain_url, t.ldaps_url) == ("ldap://dc01.contoso.com:389", "ldaps://dc01.contoso.com")
    assert (t.dns_domain, t.ntlm_user, t.ntlm_password) == ("contoso.com", "CONTOSO\\Administrator", "pw")
    t = endpoint_targets("ldap://127.0.0.9:389", "ca.pem", None, ADMIN, "pw")
    assert (t.plain_url, t.ldaps_url, t.ntlm_user) == ("ldap://127.0.0.9:389", "ldaps://127.0.0.9:636", None)
    t = endpoint_targets("ldap://127.0.0.1:40389", None, "DC=contoso,DC=com", ADMIN, "pw")
    assert t.ldaps_url is None  # an ephemeral port says nothing about where LDAPS is


def test_signing_probe_binds_as_nobody_and_changes_nothing():
    with Lab(LabSpec(population={"users": 3})) as lab:
        targets = LabSource(lab).bind_targets()
        before = lab.dc.usn
        probe, mechanisms = probe_signing(targets)
        assert probe.code == 49 and "data 525" in probe.message  # user not found, policy None
        assert mechanisms == ["GSS-SPNEGO"]
        apply_fault(lab, "ldap-signing-required")
        usn = lab.dc.usn
        probe, _ = probe_signing(targets)
        assert probe.code == 8
        assert lab.dc.usn == usn and usn >= before  # no directory write from either probe
