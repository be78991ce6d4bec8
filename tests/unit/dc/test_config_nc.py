"""Configuration and Schema NCs: what AD tooling reads besides the domain NC (in-process DC API)."""

from __future__ import annotations

import json
import re
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ldap3.protocol.rfc4512 import AttributeTypeInfo, ObjectClassInfo
from ldap3.protocol.schemas.ad2012R2 import ad_2012_r2_schema

from fakes.ad.api import Change, LdapError, ModOp, ResultCode, Scope
from fakes.ad.config_nc import (
    attribute_cn,
    attribute_type_description,
    directory_service_dn,
    ntds_settings_dn,
    object_class_description,
    subschema_values,
)
from fakes.ad.provision import provision
from fakes.ad.rights import EXTENDED_RIGHTS
from fakes.ad.sid import BUILTIN_ACCOUNT_OPERATORS

RESET = "00299570-246d-11d0-a768-00aa006e0529"
# ldap3 ships a capture of a real Windows Server 2012 R2 subschema: ground truth for the rendering.
_CAPTURE = json.loads(ad_2012_r2_schema)["raw"]
_CAPTURED_TYPES = {re.search(r"NAME '([^']+)'", v).group(1): v for v in _CAPTURE["attributeTypes"]}
_CAPTURED_CLASSES = {re.search(r"NAME '([^']+)'", v).group(1): v for v in _CAPTURE["objectClasses"]}
# Known differences, each a lab schema choice: the RBCD attribute is user-writable in the lab (tools
# write it); person/organizationalPerson are abstract in the lab's class model (88-classes in AD).
_TYPE_DEVIATIONS = {"msDS-AllowedToActOnBehalfOfOtherIdentity"}
_CLASS_DEVIATIONS = {"person", "organizationalPerson"}


@pytest.fixture(scope="module")
def dc():
    return provision(domain="contoso.com", users=12, seed=5)


def _one(dc, base, flt, attrs, session=None, scope=Scope.SUBTREE):
    res = dc.search(session or dc.admin_session(), base, scope, flt, attrs)
    assert len(res.entries) == 1, [e.dn for e in res.entries]
    return res.entries[0]


def _plain_user(dc):
    """A session bound as a populated (non-admin) user."""
    user = next(e for e in dc.directory.walk(dc.root()) if "OU=" in e.dn and e.object_class == "user")
    return dc.bind_session(user.dn, "Winter2026!Lab")


def _escape(raw: bytes) -> str:
    return "".join(f"\\{b:02x}" for b in raw)


# ------------------------------------------------------------------------------- subschema text
def test_attribute_types_match_a_real_ad_capture(dc):
    compared = 0
    for at in dc.schema.attributes():
        if at.name in _TYPE_DEVIATIONS:
            continue
        assert attribute_type_description(at) == _CAPTURED_TYPES[at.name]
        compared += 1
    assert compared >= 130


def test_object_class_heads_match_a_real_ad_capture(dc):
    def head(text: str) -> str:
        return re.split(r" (?:MUST|MAY) ", text)[0].rstrip(" )")

    for cls in dc.schema.classes():
        if cls.name in _CLASS_DEVIATIONS:
            continue
        assert head(object_class_description(cls)) == head(_CAPTURED_CLASSES[cls.name]), cls.name


def test_subschema_values_parse_with_ldap3_and_list_every_element(dc):
    values = subschema_values(dc.schema)
    types = AttributeTypeInfo.from_definition(list(values["attributeTypes"]))
    classes = ObjectClassInfo.from_definition(list(values["objectClasses"]))
    assert {n for n in types} == {a.name for a in dc.schema.attributes()}
    assert {n for n in classes} == {c.name for c in dc.schema.classes()}
    assert classes["user"].superior == ["organizationalPerson"]
    assert "sAMAccountName" in classes["user"].may_contain
    assert types["unicodePwd"].single_value is True


def test_top_renders_with_ads_double_space_and_sorted_runs_are_stable(dc):
    top = object_class_description(dc.schema.object_class("top"))
    assert top.startswith("( 2.5.6.0 NAME 'top'  ABSTRACT MUST (")
    assert subschema_values(dc.schema) == subschema_values(dc.schema)


@pytest.mark.parametrize(
    ("name", "cn"),
    [("sAMAccountName", "SAM-Account-Name"), ("pwdLastSet", "Pwd-Last-Set"), ("uSNChanged", "USN-Changed"),
     ("dNSHostName", "DNS-Host-Name"), ("memberOf", "Is-Member-Of-DL"), ("sIDHistory", "SID-History")],
)
def test_attribute_schema_cn(name, cn):
    assert attribute_cn(name) == cn


def test_aggregate_serves_constructed_subschema_only_when_asked(dc):
    agg = f"CN=Aggregate,{dc.schema_dn}"
    plain = _one(dc, agg, "(objectClass=subschema)", ["*"], scope=Scope.BASE)
    assert "attributeTypes" not in plain.attributes
    asked = _one(dc, agg, "(objectClass=subschema)", ["attributeTypes", "objectClasses", "modifyTimeStamp"],
                 scope=Scope.BASE)
    assert len(asked.attributes["attributeTypes"]) == len(dc.schema.attributes())
    assert asked.attributes["modifyTimeStamp"] == plain.attributes["whenChanged"]
    # Other objects have no subschema attributes even when asked.
    root = _one(dc, dc.domain_dn, "(objectClass=*)", ["attributeTypes"], scope=Scope.BASE)
    assert "attributeTypes" not in root.attributes


def test_root_dse_points_at_the_objects_that_exist(dc):
    session = dc.new_session()
    dse = dc.search(session, "", Scope.BASE, "(objectClass=*)", ["*"]).entries[0].attributes
    for attr in ("subschemaSubentry", "dsServiceName", "configurationNamingContext", "schemaNamingContext"):
        target = dse[attr][0].decode()
        assert dc.get_entry(target) is not None, attr
    assert dse["dsServiceName"][0].decode() == ntds_settings_dn(dc)
    assert b"1.3.6.1.4.1.1466.20037" in dse["supportedExtension"]


# ------------------------------------------------------------------------------- NC boundaries
def test_domain_subtree_search_stays_in_the_domain_nc(dc):
    res = dc.search(dc.admin_session(), dc.domain_dn, Scope.SUBTREE, "(objectClass=*)", ["1.1"])
    assert res.entries and all(e.dn.lower().endswith(dc.domain_dn.lower()) for e in res.entries)
    assert not any("cn=configuration," in e.dn.lower() for e in res.entries)
    flt = "(objectClass=attributeSchema)"
    config = dc.search(dc.admin_session(), dc.config_dn, Scope.SUBTREE, flt, ["1.1"])
    assert config.entries == []
    schema = dc.search(dc.admin_session(), dc.schema_dn, Scope.ONELEVEL, flt, ["1.1"])
    assert len(schema.entries) == len(dc.schema.attributes())


def test_nc_heads_are_marked_and_do_not_inherit(dc):
    for dn in (dc.config_dn, dc.schema_dn):
        head = dc.get_entry(dn)
        assert head.parent is None and head.attrs["instancetype"] == ["13"]
        sd = dc.sds.parse(head.sd)
        assert not any(a.inherited for a in sd.dacl.aces)


# ------------------------------------------------------------------------------- GUID resolution
def test_extended_rights_resolve_by_rights_guid_for_a_plain_user(dc):
    session = _plain_user(dc)
    hit = _one(dc, f"CN=Extended-Rights,{dc.config_dn}", f"(rightsGuid={RESET})",
               ["displayName", "appliesTo", "validAccesses", "localizationDisplayId"], session=session)
    assert hit.attributes["displayName"] == [b"Reset Password"]
    assert hit.attributes["validAccesses"] == [b"256"]
    assert hit.attributes["localizationDisplayId"] == [b"3"]
    applies = {UUID(v.decode()) for v in hit.attributes["appliesTo"]}
    assert dc.schema.object_class("user").schema_id_guid in applies


def test_every_extended_right_has_one_object(dc):
    res = dc.search(dc.admin_session(), f"CN=Extended-Rights,{dc.config_dn}", Scope.ONELEVEL,
                    "(objectClass=controlAccessRight)", ["rightsGuid", "displayName"])
    got = {(e.attributes["rightsGuid"][0].decode(), e.attributes["displayName"][0].decode())
           for e in res.entries}
    assert got == {(str(r.guid), r.display_name) for r in EXTENDED_RIGHTS}


@pytest.mark.parametrize(("name", "kind"), [
    ("pwdLastSet", "attributeSchema"), ("lockoutTime", "attributeSchema"),
    ("user", "classSchema"), ("controlAccessRight", "classSchema"),
])
def test_schema_objects_resolve_by_binary_schema_id_guid(dc, name, kind):
    element = dc.schema.find_attribute(name) or dc.schema.object_class(name)
    flt = f"(schemaIDGUID={_escape(element.schema_id_guid.bytes_le)})"
    hit = _one(dc, dc.schema_dn, flt, ["lDAPDisplayName", "objectClass", "schemaIDGUID"])
    assert hit.attributes["lDAPDisplayName"] == [name.encode()]
    assert kind.encode() in hit.attributes["objectClass"]
    assert UUID(bytes_le=hit.attributes["schemaIDGUID"][0]) == element.schema_id_guid


def test_attribute_schema_carries_property_set_and_syntax(dc):
    hit = _one(dc, dc.schema_dn, "(lDAPDisplayName=pwdLastSet)",
               ["attributeSecurityGUID", "attributeSyntax", "oMSyntax", "isSingleValued", "attributeID"])
    account_restrictions = UUID("4c164200-20c0-11d0-a768-00aa006e0529")
    assert UUID(bytes_le=hit.attributes["attributeSecurityGUID"][0]) == account_restrictions
    assert hit.attributes["attributeSyntax"] == [b"2.5.5.16"]
    assert hit.attributes["oMSyntax"] == [b"65"]
    lockout = _one(dc, dc.schema_dn, "(lDAPDisplayName=lockoutTime)", ["attributeSecurityGUID"])
    assert "attributeSecurityGUID" not in lockout.attributes  # member of no property set (FACTS 5.1)


def test_cross_ref_gives_the_netbios_name(dc):
    hit = _one(dc, f"CN=Partitions,{dc.config_dn}", f"(&(objectClass=crossRef)(nCName={dc.domain_dn}))",
               ["nETBIOSName", "dnsRoot", "systemFlags"])
    assert hit.attributes["nETBIOSName"] == [b"CONTOSO"]
    assert hit.attributes["dnsRoot"] == [b"contoso.com"]
    assert hit.attributes["systemFlags"] == [b"3"]


# ------------------------------------------------------------------------------- security
def test_plain_user_reads_but_cannot_write_the_config_nc(dc):
    session = _plain_user(dc)
    assert _one(dc, directory_service_dn(dc), "(objectClass=*)", ["cn"], session=session, scope=Scope.BASE)
    with pytest.raises(LdapError) as exc:
        dc.modify(session, directory_service_dn(dc), [Change(ModOp.REPLACE, "dSHeuristics", ["0000000001"])])
    assert exc.value.code == ResultCode.INSUFFICIENT_ACCESS_RIGHTS


def _lab_with_account_operator(seed: int):
    lab = provision(users=3, seed=seed)
    ops = lab.directory.by_sid(BUILTIN_ACCOUNT_OPERATORS)
    member = next(e for e in lab.directory.walk(lab.root()) if "OU=" in e.dn and e.object_class == "user")
    lab.modify(lab.system_session(), ops.dn, [Change(ModOp.ADD, "member", [member.dn])])
    return lab, member


def test_ds_heuristics_on_directory_service_changes_sdprop_exclusions():
    lab, member = _lab_with_account_operator(seed=8)
    admin = lab.admin_session()
    # 16th character = dwAdminSDExMask; 1 excludes Account Operators (MS-ADTS 3.1.1.6.1.4).
    heuristics = [Change(ModOp.REPLACE, "dSHeuristics", ["0000000001000001"])]
    lab.modify(admin, directory_service_dn(lab), heuristics)
    assert lab.sdprop.ds_heuristics == "0000000001000001"
    lab.sdprop.run()
    assert member not in lab.sdprop.protected()
    assert member.attrs.get("admincount") is None
    lab.modify(admin, directory_service_dn(lab), [Change(ModOp.DELETE, "dSHeuristics", [])])
    assert lab.sdprop.ds_heuristics == ""
    lab.sdprop.run()
    assert member in lab.sdprop.protected()
    assert member.attrs.get("admincount") == ["1"]


# ------------------------------------------------------------------------------- determinism
def _export(lab) -> list[tuple]:
    return [(e.dn, e.guid, e.sd, sorted((k, tuple(v)) for k, v in e.attrs.items()))
            for e in lab.directory.walk()]


def test_two_provisions_with_one_seed_are_identical_after_sdprop():
    a, _ = _lab_with_account_operator(seed=11)
    b, _ = _lab_with_account_operator(seed=11)
    for lab in (a, b):
        lab.sdprop.run()
    assert _export(a) == _export(b)
    assert [e.dn for e in a.sdprop.protected()] == [e.dn for e in b.sdprop.protected()]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_config_nc_is_a_function_of_the_seed(seed):
    a, b = provision(seed=seed), provision(seed=seed)
    head = a.get_entry(a.config_dn)
    assert head is not None
    assert [(e.dn, e.guid, e.attrs.get("usncreated")) for e in a.directory.walk(head)] == \
        [(e.dn, e.guid, e.attrs.get("usncreated")) for e in b.directory.walk(b.get_entry(b.config_dn))]
