"""Schema lookups, class chains, property sets and identifiers from FACTS.md."""

from __future__ import annotations

from uuid import UUID

import pytest

from fakes.ad.schema import Schema, SchemaError, Syntax, default_schema

UAR = UUID("4c164200-20c0-11d0-a768-00aa006e0529")
USER_LOGON = UUID("5f202010-79a5-11d0-9020-00c04fc2d4cf")


@pytest.fixture(scope="module")
def schema() -> Schema:
    return default_schema()


def test_default_schema_is_cached(schema: Schema) -> None:
    assert default_schema() is schema


def test_unknown_attribute_raises_with_name(schema: Schema) -> None:
    with pytest.raises(SchemaError) as info:
        schema.attribute("noSuchAttr")
    assert info.value.name == "noSuchAttr"
    assert schema.find_attribute("noSuchAttr") is None
    with pytest.raises(SchemaError):
        schema.object_class("noSuchClass")


def test_case_insensitive_and_oid_lookup(schema: Schema) -> None:
    a = schema.attribute("SAMACCOUNTNAME")
    assert a.name == "sAMAccountName"
    assert schema.attribute("1.2.840.113556.1.4.221") is a
    assert a.schema_id_guid == UUID("3e0abfd0-126a-11d0-a060-00aa006c33ed")


@pytest.mark.parametrize(
    ("name", "guid"),
    [
        ("lockoutTime", "28630ebf-41d5-11d1-a9c1-0000f80367c1"),
        ("pwdLastSet", "bf967a0a-0de6-11d0-a285-00aa003049e2"),
        ("mS-DS-ConsistencyGuid", "23773dc2-b63a-11d2-90e1-00c04fd91ab1"),
    ],
)
def test_attribute_guids_from_facts(schema: Schema, name: str, guid: str) -> None:
    assert schema.attribute(name).schema_id_guid == UUID(guid)
    assert schema.attribute_by_guid(UUID(guid)).name == name


@pytest.mark.parametrize(
    ("name", "guid"),
    [
        ("user", "bf967aba-0de6-11d0-a285-00aa003049e2"),
        ("inetOrgPerson", "4828cc14-1437-45bc-9b07-ad6f015e5f28"),
        ("organizationalUnit", "bf967aa5-0de6-11d0-a285-00aa003049e2"),
    ],
)
def test_class_guids_from_facts(schema: Schema, name: str, guid: str) -> None:
    assert schema.object_class(name).schema_id_guid == UUID(guid)


def test_property_set_membership(schema: Schema) -> None:
    members = schema.property_set_members(UAR)
    assert members == {
        "accountExpires", "msDS-AllowedToActOnBehalfOfOtherIdentity", "msDS-User-Account-Control-Computed",
        "msDS-UserPasswordExpiryTimeComputed", "pwdLastSet", "userAccountControl", "userParameters",
    }
    every_set = (schema.property_set_members(g) for g in schema.property_sets().values())
    assert "lockoutTime" not in set().union(*every_set)
    assert schema.attribute("lockoutTime").property_set is None
    assert schema.attribute("unicodePwd").property_set is None
    assert {"badPwdCount", "logonHours", "scriptPath"} <= schema.property_set_members(USER_LOGON)


def test_syntaxes_and_flags(schema: Schema) -> None:
    assert schema.attribute("objectSid").syntax is Syntax.SID
    assert schema.attribute("objectGUID").syntax is Syntax.GUID
    assert schema.attribute("member").syntax is Syntax.DN and not schema.attribute("member").single_valued
    assert schema.attribute("pwdLastSet").syntax is Syntax.LARGE_INTEGER
    assert schema.attribute("unicodePwd").syntax is Syntax.UNICODE_PWD
    assert schema.attribute("tokenGroups").constructed
    assert schema.attribute("nTSecurityDescriptor").operational


def test_class_chain_and_structural(schema: Schema) -> None:
    assert [c.name for c in schema.class_chain("computer")] == [
        "top", "person", "organizationalPerson", "user", "computer"]
    assert schema.structural_class(["top", "person", "organizationalPerson", "user"]).name == "user"
    assert schema.structural_class(["user", "top", "computer"]).name == "computer"
    with pytest.raises(SchemaError):
        schema.structural_class(["top", "person"])
    assert schema.object_class("user").default_object_category == "Person"


def test_allowed_and_required(schema: Schema) -> None:
    allowed = schema.allowed_attributes(["user"])
    assert {"sAMAccountName", "pwdLastSet", "givenName", "cn", "objectClass"} <= allowed
    assert "groupType" not in allowed
    assert {"objectClass", "cn", "instanceType"} <= schema.required_attributes(["user"])
    assert "groupType" in schema.required_attributes(["group"])


def test_user_default_sd_is_facts_5_5(schema: Schema) -> None:
    sd = schema.object_class("user").default_sd
    assert sd.startswith("D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)")
    assert "(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)" in sd
    assert sd.endswith("(OA;;WPRP;5805bc62-bdc9-4428-a5e2-856a0f4c185e;;S-1-5-32-561)")
