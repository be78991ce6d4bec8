"""Hand-made faults outside the catalogue (docs/acl.md): Deny entries written over LDAPS with
simlab.acl, a real SSPR reset through the lab, then doctor must name the right, the object and
the fix. Plus the property: any single Deny on a tutorial right that reaches the user is named.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import ldap3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simlab import acl
from simlab.doctor import diagnose
from simlab.lab import Lab
from simlab.spec import LabSpec

PASSWORD = "Fresh-Passw0rd-2026!"
TUTORIAL_RIGHTS = ["Reset password", "Change password", "Write lockoutTime", "Write pwdLastSet",
                   "Unexpire Password"]


@pytest.fixture
def lab() -> Iterator[Lab]:
    lab = Lab(LabSpec(population={"users": 10})).start()
    lab.advance(minutes=1)
    yield lab
    lab.close()


def _admin(lab: Lab) -> ldap3.Connection:
    e = lab.endpoints()
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=e["ca_file"])
    server = ldap3.Server(e["ldaps_url"], use_ssl=True, tls=tls, get_info=ldap3.NONE)
    return ldap3.Connection(server, e["admin_dn"], e["admin_password"], auto_bind=True)


def _deny(lab: Lab, dn: str, right: str, applies_to: str) -> acl.Ace:
    """Add a Deny for the connector account over LDAPS as Administrator, as ADUC would."""
    conn = _admin(lab)
    try:
        ace = acl.build_ace(lab.connector_sid(), right, applies_to, deny=True)
        acl.write(conn, dn, acl.add_ace(acl.read(conn, dn), ace))
        return ace
    finally:
        conn.unbind()


def _events(lab: Lab) -> list[int]:
    return [e.event_id for e in lab.connect.eventlog.query(after_record=lab.event_mark)]


def _named(report, right: str, dn: str):
    """The findings whose title names ``right`` and the object ``dn``."""
    return [f for f in report.findings if right.lower() in f.title.lower() and dn in f.title]


# -- the three faults of docs/acl.md ----------------------------------------------------------
def test_explicit_deny_write_pwdlastset_on_one_user(lab):
    alice = lab.user("alice").dn
    ace = _deny(lab, alice, "Write pwdLastSet", "This object only")
    attempt = lab.sspr_reset("alice", PASSWORD)
    assert (attempt.ok, attempt.code) == (False, "SSPR_0029")
    assert {31001, 33004, 31003} <= set(_events(lab))
    assert lab.sspr_reset("bob", PASSWORD).ok  # only alice carries the Deny

    report = diagnose(lab, user="alice")
    (f,) = _named(report, "Write pwdLastSet", alice)
    assert f.id == "explicit-deny" and "(explicit)" in f.title
    text = " ".join(e.value for e in f.evidence)
    assert acl.format_ace(ace) in text and "Write pwdLastSet: DENIED" in text
    assert "writing pwdLastSet" in text or "write pwdLastSet" in text  # the 33004 event is quoted
    assert f.fix[0].startswith("simlab acl remove ") and acl.format_ace(ace, lab.dc.domain_sid) in f.fix[0]

    conn = _admin(lab)  # the fix as written: remove exactly that ACE
    sd = acl.read(conn, alice)
    acl.write(conn, alice, acl.remove_aces(sd, lambda a: acl.matches(a, template=ace))[0])
    conn.unbind()
    # The first attempt had already set the password on-premises (history refuses it again).
    assert lab.sspr_reset("alice", "Another-Passw0rd-2026!").ok
    assert diagnose(lab, user="alice").healthy


def test_deny_reset_password_on_an_ou_inherited_by_its_users(lab):
    alice = lab.user("alice").dn
    ou = alice.split(",", 1)[1]
    ace = _deny(lab, ou, "Reset password", "This object and all descendant objects")
    attempt = lab.sspr_reset("alice", PASSWORD)
    assert (attempt.ok, attempt.code) == (False, "SSPR_0029")
    assert {31001, 6329, 33004, 31003} <= set(_events(lab))

    report = diagnose(lab, user="alice")
    (f,) = _named(report, "Reset password", ou)
    assert f.id == "explicit-deny" and "inherited by CN=Alice Adams" in f.title
    assert any(e.item.startswith(f"explicit ACE on {ou} (inherited by {alice})") for e in f.evidence)
    assert any("Reset password: DENIED" in e.value for e in f.evidence)
    assert acl.format_ace(ace, lab.dc.domain_sid) in f.fix[0] and ou in f.fix[0]


def test_deny_unexpire_password_on_the_domain_root(lab):
    root = lab.dc.domain_dn
    _deny(lab, root, "Unexpire Password", "This object only")
    attempt = lab.sspr_reset("alice", PASSWORD)
    assert (attempt.ok, attempt.code) == (False, "SSPR_0029")
    assert {31001, 33004, 31003} <= set(_events(lab))

    for user in (None, "alice"):  # a root Deny is found without naming a user
        report = diagnose(lab, user=user)
        (f,) = _named(report, "Unexpire Password", root)
        assert report.ids == {"explicit-deny"}, report.to_text()
        assert "pwdLastSet = -1 needs Unexpire Password" in " ".join(e.value for e in f.evidence)


# -- what doctor cannot explain --------------------------------------------------------------
def test_a_failure_doctor_cannot_explain_is_said_plainly_with_the_event(lab):
    alice = lab.user("alice").dn
    _deny(lab, alice, "Reset password", "This object only")
    assert not lab.sspr_reset("alice", PASSWORD).ok
    report = diagnose(lab)  # no --user: the per-user Deny is not read
    (f,) = report.findings
    assert f.id == "writeback-unexplained"
    assert any("event 33004" in e.item and "ADPermissionsError" in e.value for e in f.evidence)
    assert any(f"simlab doctor --user '{alice}'" in step for step in f.fix)
    assert report.to_text().count("writeback-unexplained") == 1
    assert diagnose(lab, user="alice").ids == {"explicit-deny"}  # and the hint leads to the cause


# -- the property ------------------------------------------------------------------------------
REACHING = {  # Applies to choices that reach the user from each object
    "user": ["This object only", "This object and all descendant objects"],
    "ou": ["This object and all descendant objects", "All descendant objects", "Descendant User objects"],
    "root": ["This object and all descendant objects", "All descendant objects", "Descendant User objects"],
}
cases = st.sampled_from(list(REACHING)).flatmap(
    lambda where: st.tuples(st.just(where), st.sampled_from(TUTORIAL_RIGHTS),
                            st.sampled_from(REACHING[where]))
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases)
def test_any_single_deny_on_a_tutorial_right_is_named_with_its_object(case):
    where, right, applies_to = case
    lab = Lab(LabSpec(population={"users": 10})).start()
    try:
        lab.advance(minutes=1)
        alice = lab.user("alice").dn
        dn = {"user": alice, "ou": alice.split(",", 1)[1], "root": lab.dc.domain_dn}[where]
        _deny(lab, dn, right, applies_to)
        report = diagnose(lab, user="alice")
        named = _named(report, right, dn)
        assert len(named) == 1, report.to_text()
        # Unexpire Password is checked on the domain object only: below it the Deny is harmless.
        harmless = right == "Unexpire Password" and not (where == "root" and "This object" in applies_to)
        assert named[0].id == ("ineffective-deny" if harmless else "explicit-deny")
        assert report.ids == {named[0].id}, report.to_text()
    finally:
        lab.close()
