"""LDIF save/load: RFC 2849 reading/writing, byte-identical round trips, seeding a lab from a real export."""

from __future__ import annotations

import base64
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.ad import passwords
from fakes.ad.provision import grant_on, provision
from fakes.ad.security import constants as K
from fakes.ad.security.descriptor import Ace
from fakes.ad.sid import make_sid, sid_from_bytes
from simlab.lab import Lab, LabError
from simlab.ldif import (
    PASSWORD_DIGEST,
    LdifError,
    export_ldif,
    format_line,
    import_ldif,
    load_ldif,
    parse_ldif,
)
from simlab.spec import LabSpec

FOREIGN_SID = "S-1-5-21-3623811015-3361044348-30300820"

# What `ldapsearch -LLL -H ldaps://dc01.contoso.com -b DC=contoso,DC=com '(|(objectClass=organizationalUnit)
# (objectClass=user)(objectClass=group)(objectClass=domainDNS)(cn=Users))'` prints for a small real domain:
# no version line, folded at 76 columns, base64 for binary and non-ASCII, operational attributes, attributes
# the lab's schema lacks, back links (memberOf), children before parents (ldapsearch order is the server's).
REAL_EXPORT = """\
dn: CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: Jane Doe
sn: Doe
givenName: Jane
distinguishedName: CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com
instanceType: 4
whenCreated: 20230301101112.0Z
whenChanged: 20250911080910.0Z
displayName: Jane Doe
uSNCreated: 20481
memberOf: CN=Helpdesk,OU=Groups,OU=Corp,DC=contoso,DC=com
uSNChanged: 98311
department: Finance
name: Jane Doe
objectGUID:: Omwajjs8Dk+aY5sKXX8cAQ==
userAccountControl: 512
badPwdCount: 0
codePage: 0
countryCode: 0
badPasswordTime: 0
lastLogoff: 0
lastLogon: 133700000000000000
pwdLastSet: 133650000000000000
primaryGroupID: 513
objectSid:: AQUAAAAAAAUVAAAAx/f+13x3VciUWs4BUAQAAA==
accountExpires: 9223372036854775807
logonCount: 12
sAMAccountName: jane.doe
sAMAccountType: 805306368
userPrincipalName: jane.doe@contoso.com
objectCategory: CN=Person,CN=Schema,CN=Configuration,DC=contoso,DC=com
dSCorePropagationData: 16010101000000.0Z
lastLogonTimestamp: 133699000000000000
mail: jane.doe@contoso.com

dn: OU=Corp,DC=contoso,DC=com
objectClass: top
objectClass: organizationalUnit
ou: Corp
description: Corporate accounts (managed by the identity team; do not move ob
 jects out of this OU without a change ticket)
distinguishedName: OU=Corp,DC=contoso,DC=com
instanceType: 4
whenCreated: 20230301100000.0Z
whenChanged: 20230301100000.0Z
uSNCreated: 12790
uSNChanged: 12791
name: Corp
objectGUID:: Omwajjs8Dk+aY5sKXX8cAw==
objectCategory: CN=Organizational-Unit,CN=Schema,CN=Configuration,DC=contoso,D
 C=com
gPLink: [LDAP://cn={31B2F340-016D-11D2-945F-00C04FB984F9},cn=policies,cn=syste
 m,DC=contoso,DC=com;0]
dSCorePropagationData: 16010101000000.0Z

dn: OU=Users,OU=Corp,DC=contoso,DC=com
objectClass: top
objectClass: organizationalUnit
ou: Users
name: Users
objectGUID:: Omwajjs8Dk+aY5sKXX8cBA==
whenChanged: 20230301100000.0Z

dn:: Q049Sm9zw6kgTcO8bGxlcixPVT1Vc2VycyxPVT1Db3JwLERDPWNvbnRvc28sREM9Y29t
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn:: Sm9zw6kgTcO8bGxlcg==
displayName:: Sm9zw6kgTcO8bGxlcg==
sAMAccountName: jose.muller
userPrincipalName: jose.muller@contoso.com
userAccountControl: 512
objectSid:: AQUAAAAAAAUVAAAAx/f+13x3VciUWs4BUQQAAA==
objectGUID:: Omwajjs8Dk+aY5sKXX8cAg==
msExchMailboxGuid:: 3q2+7w==
lockoutTime: 133700000000000000

dn: OU=Groups,OU=Corp,DC=contoso,DC=com
objectClass: top
objectClass: organizationalUnit
ou: Groups

dn: CN=Helpdesk,OU=Groups,OU=Corp,DC=contoso,DC=com
objectClass: top
objectClass: group
cn: Helpdesk
member: CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com
member:: Q049Sm9zw6kgTcO8bGxlcixPVT1Vc2VycyxPVT1Db3JwLERDPWNvbnRvc28sREM9Y29t
groupType: -2147483646
sAMAccountName: Helpdesk
objectSid:: AQUAAAAAAAUVAAAAx/f+13x3VciUWs4BUgQAAA==
objectGUID:: Omwajjs8Dk+aY5sKXX8cBQ==

dn: CN=Administrator,CN=Users,DC=contoso,DC=com
objectClass: top
objectClass: person
objectClass: organizationalPerson
objectClass: user
cn: Administrator
description: Built-in account for administering the computer/domain
objectSid:: AQUAAAAAAAUVAAAAx/f+13x3VciUWs4B9AEAAA==
memberOf: CN=Domain Admins,CN=Users,DC=contoso,DC=com
adminCount: 1

dn: DC=contoso,DC=com
objectClass: top
objectClass: domain
objectClass: domainDNS
dc: contoso
objectSid:: AQQAAAAAAAUVAAAAx/f+13x3VciUWs4B
creationTime: 133700000000000000
forceLogoff: -9223372036854775808
uSNChanged: 155000
description: contoso.com production domain
"""


def _line_of(start: str) -> int:
    return next(i for i, line in enumerate(REAL_EXPORT.splitlines(), 1) if line.startswith(start))


@pytest.fixture(scope="module")
def small_dc_ldif() -> str:
    return export_ldif(provision(seed=11, users=14))


# --------------------------------------------------------------------------- RFC 2849
def test_parser_unfolds_decodes_base64_and_skips_comments():
    doc = parse_ldif("# hello\nversion: 1\n\ndn: CN=a,DC=x\ndescription: one\n  two\ncn:: w6k=\n"
                     "changetype: add\n\n\n# between\ndn: CN=b,DC=x\ncn: b\n", "t.ldif")
    assert doc.version == 1 and doc.comments == ("# hello", "# between")
    a, b = doc.records
    assert a.dn == "CN=a,DC=x" and a.line == 4
    assert dict(a.attrs) == {"description": b"one two", "cn": "é".encode()}
    assert b.line == 12 and b.attrs == (("cn", b"b"),)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("dn: CN=a,DC=x\ncn: a\n\ndn: CN=b,DC=x\nchangetype: modify\nreplace: cn\n", 5, "changetype"),
        ("dn: CN=a,DC=x\ncn:: ***\n", 2, "base64"),
        ("version: 1\n\ncn: a\n", 3, "must start with 'dn:'"),
        ("version: 2\n", 1, "version"),
        ("dn: CN=a,DC=x\nphoto:< file:///etc/passwd\n", 2, "URL"),
        ("dn: CN=a,DC=x\nno colon here\n", 2, "expected 'attribute: value'"),
    ],
)
def test_parse_errors_name_file_and_line(text: str, line: int, words: str):
    with pytest.raises(LdifError) as info:
        parse_ldif(text, "seed.ldif")
    assert str(info.value).startswith(f"seed.ldif:{line}: ") and words in str(info.value)


@given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_format_line_folds_at_76_and_reads_back(value: bytes):
    text = format_line("description", value)
    assert all(len(line) <= 76 for line in text.splitlines())
    assert parse_ldif("dn: CN=x,DC=y\n" + text).records[0].attrs == (("description", value),)


# --------------------------------------------------------------------------- simlab export
def test_export_carries_binary_ids_sd_and_lab_only_secrets(small_dc_ldif: str):
    doc = parse_ldif(small_dc_ldif)
    assert small_dc_ldif.startswith("# simlab LDIF export") and doc.is_simlab_export
    dc = provision(seed=11, users=14)
    admin = dc.directory.get(dc.admin_dn)
    rec = next(r for r in doc.records if r.dn == admin.dn)
    values = dict(rec.attrs)
    assert UUID(bytes_le=values["objectGUID"]) == admin.guid
    assert sid_from_bytes(values["objectSid"]) == make_sid(dc.domain_sid, 500)
    assert values["nTSecurityDescriptor"] == admin.sd
    assert values[PASSWORD_DIGEST] == passwords.password_digest(dc.admin_password)
    assert "objectSid:: " in small_dc_ldif and "\nunicodePwd:" not in small_dc_ldif
    # Parents first: every record's parent came earlier.
    seen: set[str] = set()
    for r in doc.records:
        parent = r.dn.split(",", 1)[1] if r.dn.count("=") > 2 else None
        assert parent is None or parent.lower() in seen
        seen.add(r.dn.lower())


def test_no_secrets_export_omits_password_material_and_import_gives_default_password():
    dc = provision(seed=2, users=3)
    text = export_ldif(dc, secrets=False)
    assert "x-simlab" not in text
    fresh = provision(seed=2, users=0)
    result = import_ldif(fresh, text, mode="replace", default_password="Spring2027!Lab")
    assert any("default user password" in w.message for w in result.warnings)
    user = next(e for e in fresh.directory.walk() if e.dn.startswith("CN=") and "OU=Sales" in e.dn
                and e.object_class == "user")
    fresh.bind_session(user.dn, "Spring2027!Lab")


def _mutate(dc, names: list[str], locked: list[bool], deny: bool) -> dict[str, str]:
    """A few admin-style changes the round trip must keep: users, members, lockout, DACL edits."""
    from fakes.ad.dc_write import create_entry

    staff = dc.directory.get(f"OU=Staff,{dc.domain_dn}")
    group = dc.directory.get(f"CN=Domain Admins,CN=Users,{dc.domain_dn}")
    creds: dict[str, str] = {}
    for i, (name, lock) in enumerate(zip(names, locked)):
        sam = f"u{i}"
        entry = create_entry(dc, staff, f"CN=u{i}", {"cn": [f"u{i}"], "samaccountname": [sam],
                             "description": [name], "displayname": [name], "useraccountcontrol": ["512"],
                             "lockouttime": [str(dc.clock.filetime()) if lock else "0"]}, "user")
        password = f"Pw{i}!Kq7#zXy"
        dc.set_password(entry.dn, password)
        creds[entry.dn] = password
        if i % 2:
            dc.directory.set_values(group, "member", [*group.attrs.get("member", ()), entry.dn])
    if deny:
        deny_ace = Ace(K.ACCESS_DENIED_ACE_TYPE, K.CONTAINER_INHERIT_ACE, K.RIGHT_DS_CONTROL_ACCESS,
                       make_sid(dc.domain_sid, 513))
        grant_on(dc, staff.dn, [deny_ace])
    dc.sdprop.run()
    return creds


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30), max_size=4),
    locked=st.lists(st.booleans(), min_size=4, max_size=4),
    deny=st.booleans(),
    other_seed=st.booleans(),
)
def test_round_trip_is_byte_identical_and_keeps_binds(names, locked, deny, other_seed):
    dc = provision(seed=4, users=8)
    creds = _mutate(dc, names, locked, deny)
    first = export_ldif(dc)
    # Another seed is another domain SID (adopted from the file); its own connector account would need a
    # password reset, which no byte-identical round trip can show, so that lab has none.
    fresh = provision(seed=9, users=0, connector_account=False) if other_seed else provision(seed=4)
    import_ldif(fresh, first, mode="replace")
    assert export_ldif(fresh) == first
    assert fresh.domain_sid == dc.domain_sid
    for e in dc.directory.walk():
        twin = fresh.directory.by_guid(e.guid)
        assert twin is not None and twin.dn == e.dn and twin.attrs == e.attrs and twin.sd == e.sd
    for dn, password in creds.items():
        if dc.directory.get(dn).attrs["lockouttime"] == ["0"]:
            fresh.bind_session(dn, password)


def test_lab_round_trip_through_the_spec(tmp_path: Path):
    spec = LabSpec(seed=5, protected=[{"user": "bob", "group": "Domain Admins"}],
                   population={"users": 10, "named": [{"sam": "alice"}, {"sam": "bob"},
                                                      {"sam": "carol"}, {"sam": "eve", "state": "locked"}]})
    with Lab(spec) as lab:
        lab.edit_dacl(lab.user("alice").dn, lambda aces: aces, protect=True)
        first = lab.save_ldif(tmp_path / "lab.ldif").read_bytes()
        alice_sd = lab.dc.directory.get(lab.user("alice").dn).sd
    seeded = {**spec.model_dump(), "directory": {"ldif": str(tmp_path / "lab.ldif"), "mode": "replace"}}
    with Lab(LabSpec.model_validate(seeded)) as again:
        assert again.save_ldif(tmp_path / "again.ldif").read_bytes() == first
        assert again.dc.directory.get(again.user("alice").dn).sd == alice_sd
        bob = again.dc.directory.get(again.user("bob").dn)
        assert bob.attrs["admincount"] == ["1"]
        assert again.dc.directory.get(again.user("eve").dn).attrs["lockouttime"] != ["0"]
        assert again.bind("alice", spec.population.password).ok
        # alice's inheritance is still disabled (SSPR_0029, like before the save); carol's reset writes back.
        assert again.sspr_reset("alice", "Fresh-Passw0rd!9").code == "SSPR_0029"
        assert again.sspr_reset("carol", "Fresh-Passw0rd!9").ok
        assert again.bind("carol", "Fresh-Passw0rd!9").ok


# --------------------------------------------------------------------------- foreign exports
def test_real_export_merges_into_a_provisioned_domain():
    dc = provision(seed=3, users=0)
    roots_before, usn_before = len(dc.directory.roots()), dc.usn
    admin_guid = dc.directory.get(dc.admin_dn).guid
    result = import_ldif(dc, REAL_EXPORT, source="contoso.ldif", default_password="Welcome2026!Lab")
    assert (result.flavor, result.created, result.merged) == ("foreign", 6, 2)
    assert len(dc.directory.roots()) == roots_before  # the NC head was merged, not duplicated
    root = dc.root()
    assert root.attrs["description"] == ["contoso.com production domain"]
    assert sid_from_bytes(root.attrs["objectsid"][0]) == dc.domain_sid
    # Unknown attributes are reported once each with the line of their first record, never loaded.
    skipped = {w.message.split("attribute ")[1].split()[0]: w.line
               for w in result.warnings if "schema" in w.message}
    assert skipped == {"codePage": 1, "countryCode": 1, "msExchMailboxGuid": _line_of("dn:: Q049Sm9z"),
                       "creationTime": _line_of("dn: DC=contoso"), "forceLogoff": _line_of("dn: DC=contoso")}
    jane = dc.directory.get("CN=Jane Doe,OU=Users,OU=Corp,DC=contoso,DC=com")
    assert jane.guid == UUID("8e1a6c3a-3c3b-4f0e-9a63-9b0a5d7f1c01")
    assert sid_from_bytes(jane.attrs["objectsid"][0]) == make_sid(dc.domain_sid, 1104)  # RID kept, re-based
    assert int(jane.attrs["usnchanged"][0]) > usn_before
    assert jane.attrs["whenchanged"] == ["20260105090000.0Z"]  # stamped by the lab, not the file's
    assert "memberof" not in jane.attrs and "distinguishedname" not in jane.attrs
    assert jane.attrs["lastlogon"] == ["133700000000000000"]
    corp = dc.directory.get("OU=Corp,DC=contoso,DC=com")
    assert corp.attrs["description"][0].endswith("out of this OU without a change ticket)")
    jose = dc.directory.get("CN=José Müller,OU=Users,OU=Corp,DC=contoso,DC=com")
    assert jose.attrs["displayname"] == ["José Müller"] and "msexchmailboxguid" not in jose.attrs
    helpdesk = dc.directory.get("CN=Helpdesk,OU=Groups,OU=Corp,DC=contoso,DC=com")
    assert {g.dn for g in (dc.directory.member_of(jane) + dc.directory.member_of(jose))} == {helpdesk.dn}
    # No SD in the file: class default + what the parent passes down, exactly as an LDAP add.
    admin = dc.admin_session()
    dc.add(admin, "CN=Probe,OU=Users,OU=Corp,DC=contoso,DC=com",
           {"objectClass": [b"user"], "sAMAccountName": [b"probe"]})
    assert jane.sd == dc.directory.get("CN=Probe,OU=Users,OU=Corp,DC=contoso,DC=com").sd
    # Users without password material get the default; the existing Administrator keeps the lab's.
    dc.bind_session("jane.doe@contoso.com", "Welcome2026!Lab")
    dc.bind_session(dc.admin_dn, dc.admin_password)
    administrator = dc.directory.get(dc.admin_dn)
    assert administrator.guid == admin_guid and administrator.attrs["description"][0].startswith("Built-in")
    # New SIDs are allocated past everything loaded.
    assert dc.next_rid > 1106


def test_real_export_seeds_a_lab_where_sspr_works(tmp_path: Path):
    (tmp_path / "contoso.ldif").write_text(REAL_EXPORT)
    (tmp_path / "lab.yaml").write_text("seed: 3\npopulation: {users: 5}\ndirectory: {ldif: contoso.ldif}\n")
    with Lab(LabSpec.load(tmp_path / "lab.yaml")) as lab:
        assert lab.ldif_import.created == 6
        assert lab.bind("jane.doe", lab.spec.population.password).ok
        assert lab.sspr_reset("jane.doe", "N3w-Passw0rd!x").ok
        assert lab.bind("jane.doe", "N3w-Passw0rd!x").ok
        assert lab.sspr_reset("alice", "N3w-Passw0rd!y").ok  # named users are still created


def test_load_errors_name_the_file_and_line(tmp_path: Path):
    path = tmp_path / "bad.ldif"
    path.write_text("dn: OU=A,DC=contoso,DC=com\nobjectClass: organizationalUnit\n\n"
                    "dn: CN=x,OU=Missing,DC=contoso,DC=com\nobjectClass: user\n")
    with pytest.raises(LdifError, match=rf"^{path}:4: no parent entry for CN=x,OU=Missing"):
        load_ldif(provision(seed=1), path)
    path.write_text("dn: CN=y,DC=contoso,DC=com\nobjectClass: printQueue\n")
    with pytest.raises(LdifError, match=rf"^{path}:1: .*no object class the lab knows"):
        load_ldif(provision(seed=1), path)
    with pytest.raises(LdifError, match=r"replace needs the domain NC head"):
        load_ldif(provision(seed=1), path, mode="replace")
    with pytest.raises(LdifError, match="cannot read"):
        load_ldif(provision(seed=1), tmp_path / "none.ldif")
    (tmp_path / "lab.yaml").write_text(f"directory: {{ldif: {path}}}\n")
    with pytest.raises(LabError, match=rf"directory.ldif: {path}:1:"):
        Lab(LabSpec.load(tmp_path / "lab.yaml")).start()


def test_binary_values_stay_base64_even_when_printable():
    dc = provision(seed=1)
    root = dc.root()
    dc.directory.set_values(root, "mS-DS-ConsistencyGuid", [b"ABCDEFGHIJKLMNOP"])
    text = export_ldif(dc)
    assert f"mS-DS-ConsistencyGuid:: {base64.b64encode(b'ABCDEFGHIJKLMNOP').decode()}" in text


def test_a_foreign_sd_keeps_its_explicit_aces_rebased_and_inherits_the_rest():
    from fakes.ad.security.descriptor import Acl, SecurityDescriptor

    dc = provision(seed=3)
    foreign_user = f"{FOREIGN_SID}-1104"
    stale = Ace(K.ACCESS_ALLOWED_ACE_TYPE, K.INHERITED_ACE, K.RIGHT_DS_READ_PROPERTY, "S-1-5-11")
    deny = Ace(K.ACCESS_DENIED_ACE_TYPE, 0, K.RIGHT_DS_CONTROL_ACCESS, foreign_user)
    sd = SecurityDescriptor(owner=f"{FOREIGN_SID}-512", group=f"{FOREIGN_SID}-512", dacl=Acl((deny, stale)))
    # Only the NC head names the exported domain; the OU has no SID, its SD names a foreign account.
    text = (REAL_EXPORT.split("\n\n")[-1]
            + "\n\ndn: OU=Sec,DC=contoso,DC=com\nobjectClass: organizationalUnit\n"
            f"nTSecurityDescriptor:: {base64.b64encode(sd.to_bytes()).decode()}\n")
    import_ldif(dc, text)
    stored = dc.sds.parse(dc.directory.get("OU=Sec,DC=contoso,DC=com").sd)
    explicit = [a for a in stored.dacl.aces if not a.inherited]
    assert explicit == [deny.replace(sid=make_sid(dc.domain_sid, 1104))]
    assert stored.owner == make_sid(dc.domain_sid, 512)
    inherited = [a for a in stored.dacl.aces if a.inherited]
    assert inherited and stale not in inherited  # the parent's inheritable ACEs, not the file's copies


def test_replace_import_keeps_naming_contexts_as_separate_roots():
    from fakes.ad.api import Scope

    dc = provision(seed=4, users=3)
    fresh = provision(seed=4, users=0)
    import_ldif(fresh, export_ldif(dc), mode="replace")
    for nc in (fresh.config_dn, fresh.schema_dn):
        assert fresh.directory.get(nc).parent is None, nc
    admin = fresh.admin_session()
    count = len(fresh.search(admin, fresh.domain_dn, Scope.SUBTREE, "(objectClass=*)").entries)
    assert count == len(dc.search(dc.admin_session(), dc.domain_dn, Scope.SUBTREE, "(objectClass=*)").entries)
