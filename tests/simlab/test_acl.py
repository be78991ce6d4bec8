"""simlab.acl, the public SDDL/ACE API: round trips, ADUC words, edits, and ldap3 against a served lab."""

from __future__ import annotations

import ssl

import ldap3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab import acl
from simlab.lab import Lab
from simlab.spec import LabSpec

DOMAIN = "S-1-5-21-1004336348-1177238915-682003330"
MSOL = f"{DOMAIN}-1105"
RESET = "00299570-246d-11d0-a768-00aa006e0529"
USER_CLASS = "bf967aba-0de6-11d0-a285-00aa003049e2"
PWDLASTSET = "bf967a0a-0de6-11d0-a285-00aa003049e2"
UNEXPIRE = "ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501"

RIGHTS = ["Reset password", "Change password", "Unexpire Password", "Write pwdLastSet", "Write lockoutTime",
          "Full control", "Read", "Write all properties", "Read all properties", "Modify permissions",
          "Write Account Restrictions", "Replicating Directory Changes", "Send As"]
APPLIES = ["This object only", "This object and all descendant objects", "All descendant objects",
           "Descendant User objects", "Descendant Computer objects", "Descendant Organizational Unit objects"]
PRINCIPALS = [MSOL, "S-1-5-11", "S-1-1-0", "S-1-5-10", f"{DOMAIN}-512", "S-1-5-32-544"]


# -- words -> ACE ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("right", "applies", "deny", "sddl"),
    [
        ("Reset password", "Descendant User objects", False, f"(OA;CIIO;CR;{RESET};{USER_CLASS};{MSOL})"),
        ("Write pwdLastSet", "This object only", True, f"(OD;;WP;{PWDLASTSET};;{MSOL})"),
        ("Unexpire Password", "This object and all descendant objects", False,
         f"(OA;CI;CR;{UNEXPIRE};;{MSOL})"),
        ("Full control", "All descendant objects", True, f"(D;CIIO;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;{MSOL})"),
        ("Read", "this", False, f"(A;;LCRPLORC;;;{MSOL})"),
        ("write all properties", "descendant:user", False, f"(OA;CIIO;WP;;{USER_CLASS};{MSOL})"),
    ],
)
def test_build_ace_from_aduc_words_gives_the_ace_aduc_writes(right, applies, deny, sddl):
    ace = acl.build_ace(MSOL, right, applies, deny=deny)
    assert acl.format_ace(ace) == sddl
    assert acl.parse_one_ace(sddl) == ace


@pytest.mark.parametrize(
    ("right", "applies", "message"),
    [
        ("Reset pasword", "This object only", "unknown right 'Reset pasword'"),
        ("Write pwdLst", "This object only", "no attribute or property set called 'pwdLst'"),
        ("Reset password", "Descendant Unicorn objects", "unknown class 'Unicorn'"),
        ("Reset password", "everywhere", "unknown Applies to 'everywhere'"),
    ],
)
def test_unknown_words_are_refused_clearly(right, applies, message):
    with pytest.raises(acl.AclError, match=message):
        acl.build_ace(MSOL, right, applies)


def test_bad_sddl_and_bad_binary_raise_acl_error():
    with pytest.raises(acl.AclError, match="unknown SDDL right 'ZZ'"):
        acl.parse("D:(A;;ZZ;;;WD)")
    with pytest.raises(acl.AclError, match="no domain SID was given"):
        acl.parse("D:(A;;GA;;;DA)")  # DA needs the domain SID
    with pytest.raises(acl.AclError, match="truncated"):
        acl.parse(b"\x01\x00\x04\x80")


# -- round trips ---------------------------------------------------------------------------------
aces = st.builds(
    lambda sid, right, applies, deny: acl.build_ace(sid, right, applies, deny=deny),
    st.sampled_from(PRINCIPALS), st.sampled_from(RIGHTS), st.sampled_from(APPLIES), st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(aces, max_size=12), protected=st.booleans(),
       owner=st.sampled_from([None, "S-1-5-32-544", f"{DOMAIN}-512"]))
def test_sddl_and_binary_round_trip(entries, protected, owner):
    sd = acl.SecurityDescriptor(owner, owner, acl.Acl(()))
    for ace in entries:
        sd = acl.add_ace(sd, ace)
    if protected:
        sd = acl.protect(sd)
    assert acl.parse(acl.to_bytes(sd)) == sd
    for domain in (None, DOMAIN):
        text = acl.to_sddl(sd, domain)
        assert acl.parse(text, domain) == sd
        assert acl.to_sddl(acl.parse(text, domain), domain) == text
    # Canonical order: every explicit deny before every explicit allow.
    kinds = [a.is_deny for a in sd.dacl.aces]
    assert kinds == sorted(kinds, reverse=True)
    assert len(sd.dacl.aces) == len(set(entries))


def test_remove_protect_unprotect():
    deny = acl.build_ace(MSOL, "Write pwdLastSet", deny=True)
    allow = acl.build_ace(MSOL, "Reset password", "Descendant User objects")
    inherited = acl.build_ace("S-1-5-11", "Read").replace(flags=acl.constants.INHERITED_ACE)
    sd = acl.add_ace(acl.add_ace(acl.SecurityDescriptor(None, None, acl.Acl((inherited,))), allow), deny)
    assert sd.dacl.aces == (deny, allow, inherited)

    kept, removed = acl.remove_aces(sd, lambda a: acl.matches(a, template=deny))
    assert removed == [deny] and kept.dacl.aces == (allow, inherited)
    _, removed = acl.remove_aces(sd, lambda a: acl.matches(a, sid=MSOL, deny=False))
    assert removed == [allow]
    _, removed = acl.remove_aces(sd, lambda a: a.sid == "S-1-5-11")
    assert removed == []  # inherited entries are removed where they are set

    converted = acl.protect(sd)
    assert converted.protected and not any(a.inherited for a in converted.dacl.aces)
    assert len(converted.dacl.aces) == 3
    assert acl.protect(sd, keep_inherited=False).dacl.aces == (deny, allow)
    assert not acl.unprotect(converted).protected
    assert acl.explicit_dacl(sd).dacl.aces == (deny, allow) and acl.explicit_dacl(sd).owner is None
    with pytest.raises(acl.AclError, match="inherited"):
        acl.add_ace(sd, inherited)


def test_rows_and_origin_read_like_aduc():
    deny = acl.build_ace(MSOL, "Reset password", "Descendant User objects", deny=True)
    ou = acl.SecurityDescriptor(None, None, acl.Acl((deny,)))
    on_user = deny.replace(flags=acl.constants.INHERITED_ACE, inherited_object_type=None)
    user = acl.SecurityDescriptor(None, None, acl.Acl((on_user,)))
    chain = [("OU=Sales,DC=contoso,DC=com", ou)]
    assert acl.find_origin(on_user, chain) == ("OU=Sales,DC=contoso,DC=com", deny)
    (row,) = acl.rows(user, DOMAIN, resolve={MSOL: "CONTOSO\\MSOL_1"}.get, ancestors=chain)
    assert (row.type, row.principal, row.access, row.inherited_from, row.applies_to) == (
        "Deny", "CONTOSO\\MSOL_1", "Reset password", "OU=Sales,DC=contoso,DC=com", "This object only")
    table = acl.format_table([row] * 2, width=60)
    assert all(len(line) <= 60 for line in table.splitlines())
    assert table.splitlines()[0].startswith("Type")
    assert acl.describe(deny, "CONTOSO\\MSOL_1") == (
        "Deny CONTOSO\\MSOL_1: Reset password (applies to: Descendant User objects)")


# -- with plain ldap3 against a served lab ------------------------------------------------------
@pytest.fixture(scope="module")
def lab():
    lab = Lab(LabSpec(population={"users": 5})).start()
    yield lab
    lab.close()


def _admin(lab: Lab) -> ldap3.Connection:
    e = lab.endpoints()
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=e["ca_file"])
    # ldap3's defaults (get_info=SCHEMA: attribute names are checked against the DC's schema).
    server = ldap3.Server(e["ldaps_url"], use_ssl=True, tls=tls)
    return ldap3.Connection(server, e["admin_dn"], e["admin_password"], auto_bind=True)


def test_read_edit_write_with_ldap3(lab):
    conn = _admin(lab)
    dn = lab.user("bob").dn
    msol_name = f"{lab.endpoints()['netbios']}\\{lab.dc.connector_dn.split(',')[0][3:]}"
    sid = acl.resolve_principal(conn, msol_name)
    assert sid == lab.connector_sid()
    assert acl.resolve_principal(conn, "Authenticated Users") == "S-1-5-11"
    assert acl.resolve_principal(conn, lab.user("bob").upn) == acl.resolve_principal(conn, "bob")
    with pytest.raises(acl.AclError, match='Name Not Found: An object named "nobody" cannot be found'):
        acl.resolve_principal(conn, "nobody")

    before = acl.read(conn, dn)
    deny = acl.build_ace(sid, "Write lockoutTime", deny=True)
    mark = lab.oplog.mark()
    acl.write(conn, dn, acl.add_ace(before, deny))
    (op,) = lab.oplog.query(protocol="ldap", op="modify", after=mark)
    assert op.target.lower() == dn.lower() and op.result == 0  # the lab's operation log has the write
    after = acl.read(conn, dn)
    assert after.dacl.aces[0] == deny
    assert after.owner == before.owner  # a DACL-only write leaves the owner alone
    resolve = acl.name_resolver(conn)
    assert resolve(sid) == msol_name
    table = acl.rows(after, lab.dc.domain_sid, resolve=resolve,
                     ancestors=acl.read_ancestors(conn, dn, lab.dc.domain_dn))
    assert (table[0].type, table[0].principal, table[0].access) == ("Deny", msol_name, "Write lockoutTime")
    assert any(r.inherited_from == lab.dc.domain_dn and r.access == "Reset password" for r in table)

    acl.write(conn, dn, acl.remove_aces(after, lambda a: a == deny)[0])
    assert acl.read(conn, dn).dacl == before.dacl
    with pytest.raises(acl.AclError, match="32 noSuchObject"):
        acl.read(conn, f"CN=nobody,{lab.dc.domain_dn}")
    conn.unbind()
