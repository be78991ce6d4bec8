"""The Configuration and Schema naming contexts: what AD tooling reads besides the domain NC.

Built once per provision from the lab's own :class:`~fakes.ad.schema.Schema` and
:data:`~fakes.ad.rights.EXTENDED_RIGHTS` (no second copy of any GUID):

* ``CN=Configuration,<domain>`` (its own NC head, instanceType 13): ``CN=Partitions`` with one
  crossRef per NC (the domain's carries ``nETBIOSName``), ``CN=Sites/Default-First-Site-Name/
  Servers/<DC>/NTDS Settings`` (the rootDSE's ``dsServiceName``), ``CN=Services/Windows NT/
  Directory Service`` (where ``dSHeuristics`` lives; unset by default, like Windows) and
  ``CN=Extended-Rights`` with one controlAccessRight per right;
* ``CN=Schema,CN=Configuration,<domain>`` (its own NC head): one attributeSchema/classSchema
  object per schema element and ``CN=Aggregate`` (subSchema), whose ``attributeTypes`` /
  ``objectClasses`` are constructed in RFC 4512 form exactly as AD renders them
  (:func:`subschema_values`; format checked against ldap3's capture of a Windows Server 2012 R2
  subschema).

Both NCs are separate directory roots, so a subtree search of the domain NC does not return
their objects (AD answers those with continuation references). Default security: the NC heads
carry Samba's copies of the Windows NC-head descriptors (Authenticated Users read, Enterprise /
Schema Admins write); the objects below get their class defaults plus what the heads pass down.
"""

from __future__ import annotations

import random
import re
from functools import cache
from typing import TYPE_CHECKING

from fakes.ad import schema_data
from fakes.ad.dc_write import create_entry
from fakes.ad.rights import APPLIES_TO, EXTENDED_RIGHTS, LOCALIZATION_IDS, VALID_ACCESSES
from fakes.ad.schema import AttributeType, ObjectClass, Schema, Syntax
from fakes.ad.sid import make_sid

if TYPE_CHECKING:
    from fakes.ad.dc import DomainController
    from fakes.ad.directory import Entry

__all__ = [
    "SITE",
    "attribute_cn",
    "attribute_type_description",
    "build_config_nc",
    "class_cn",
    "directory_service_dn",
    "ntds_settings_dn",
    "object_class_description",
    "om_syntax",
    "subschema_values",
]

SITE = "Default-First-Site-Name"
#: objectVersion of CN=Schema for Windows Server 2016 (functional level 7 in the rootDSE).
SCHEMA_VERSION = "87"
_ENTERPRISE_ADMINS = 519
_SCHEMA_ADMINS = 518
_ENTERPRISE_RODCS = 498

# Samba's copies of the Windows NC-head descriptors (python/samba/provision get_config_descriptor,
# schema.py get_schema_descriptor), SACLs left out. "{rodc}" is the forest root's Enterprise
# Read-only Domain Controllers group.
_REPL = "1131f6a{}-9c07-11d1-f79f-00c04fc2dcd2"
_FILTERED = "89e95b76-444d-4c62-991a-0facbeda640c"
CONFIG_SDDL = (
    "O:EAG:EAD:"
    + "".join(f"(OA;;CR;{_REPL.format(x)};;{who})" for who in ("ED", "BA") for x in "abc")
    + "(A;;RPLCLORC;;;AU)(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;EA)"
    "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;CIIO;RPWPCRCCLCLORCWOWDSDSW;;;DA)"
    + f"(OA;;CR;{_REPL.format('d')};;ED)(OA;;CR;{_FILTERED};;ED)"
    + f"(OA;;CR;{_REPL.format('d')};;BA)(OA;;CR;{_FILTERED};;BA)"
    + "(OA;;CR;" + _REPL.format("a") + ";;{rodc})"
)
SCHEMA_SDDL = (
    "O:SAG:SAD:AI(OA;;CR;e12b56b6-0a95-11d1-adbb-00c04fd8d5cd;;SA)"
    + "".join(f"(OA;;CR;{_REPL.format(x)};;{who})" for who in ("ED", "BA") for x in "abc")
    + "(A;CI;RPLCLORC;;;AU)(A;CI;RPWPCRCCLCLORCWOWDSW;;;SA)(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)"
    + f"(OA;;CR;{_REPL.format('d')};;ED)(OA;;CR;{_FILTERED};;ED)"
    + f"(OA;;CR;{_REPL.format('d')};;BA)(OA;;CR;{_FILTERED};;BA)"
)

# LDAP syntax OIDs AD publishes in attributeTypes, by attributeSyntax (read off the 2012 R2 capture).
_LDAP_SYNTAX = {
    Syntax.STRING: "1.3.6.1.4.1.1466.115.121.1.15",
    Syntax.PRINTABLE: "1.3.6.1.4.1.1466.115.121.1.26",
    Syntax.INTEGER: "1.3.6.1.4.1.1466.115.121.1.27",
    Syntax.LARGE_INTEGER: "1.2.840.113556.1.4.906",
    Syntax.BOOLEAN: "1.3.6.1.4.1.1466.115.121.1.7",
    Syntax.DN: "1.3.6.1.4.1.1466.115.121.1.12",
    Syntax.DN_BINARY: "1.2.840.113556.1.4.903",
    Syntax.OID: "1.3.6.1.4.1.1466.115.121.1.38",
    Syntax.OCTETS: "1.3.6.1.4.1.1466.115.121.1.40",
    Syntax.GUID: "1.3.6.1.4.1.1466.115.121.1.40",
    Syntax.SID: "1.3.6.1.4.1.1466.115.121.1.40",
    Syntax.UNICODE_PWD: "1.3.6.1.4.1.1466.115.121.1.40",
    Syntax.GENERALIZED_TIME: "1.3.6.1.4.1.1466.115.121.1.24",
    Syntax.SECURITY_DESCRIPTOR: "1.2.840.113556.1.4.907",
}
# oMSyntax by attributeSyntax (MS-ADTS 3.1.1.2.2.2); IA5 strings are 22, enumerations 10.
_OM_SYNTAX = {
    Syntax.STRING: 64, Syntax.PRINTABLE: 22, Syntax.INTEGER: 2, Syntax.LARGE_INTEGER: 65, Syntax.BOOLEAN: 1,
    Syntax.DN: 127, Syntax.DN_BINARY: 127, Syntax.OID: 6, Syntax.OCTETS: 4, Syntax.GUID: 4, Syntax.SID: 4,
    Syntax.UNICODE_PWD: 4, Syntax.GENERALIZED_TIME: 24, Syntax.SECURITY_DESCRIPTOR: 66,
}
# oMObjectClass of the object syntaxes: DS-DN 1.3.12.2.1011.28.0.714, DN-Binary 1.2.840.113556.1.1.1.11.
_OM_OBJECT_CLASS = {
    Syntax.DN: bytes.fromhex("2b0c0287731c00854a"),
    Syntax.DN_BINARY: bytes.fromhex("2a864886f7140101010b"),
}
_KIND = {"structural": "STRUCTURAL", "abstract": "ABSTRACT", "auxiliary": "AUXILIARY"}
_CATEGORY = {"structural": "1", "abstract": "2", "auxiliary": "3"}
_FLAG_SCHEMA_BASE_OBJECT = 0x10
_FLAG_ATTR_IS_CONSTRUCTED = 0x4
_FLAG_ATTR_IS_OPERATIONAL = 0x8


# ---------------------------------------------------------------------------------- pure rendering
def om_syntax(at: AttributeType) -> int:
    """The attribute's oMSyntax."""
    if at.syntax is Syntax.INTEGER and at.name in schema_data.OM_ENUMERATION:
        return 10
    return _OM_SYNTAX[at.syntax]


def attribute_cn(name: str) -> str:
    """CN of the attributeSchema object named ``name`` (``sAMAccountName`` -> ``SAM-Account-Name``)."""
    known = schema_data.ATTRIBUTE_CN.get(name)
    if known is not None:
        return known
    if name.startswith("msDS-"):
        return "ms-DS-" + attribute_cn(name[5:])
    # Split camelCase, keeping acronym runs together: "sAMAccountName" -> s AM Account Name.
    parts = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+|[A-Z]", name.replace("-", ""))
    words: list[str] = []
    for p in parts:
        if words and len(words[-1]) == 1 and words[-1].islower():
            words[-1] = (words[-1] + p).upper() if p.isupper() else words[-1] + p
        else:
            words.append(p)
    return "-".join(w[:1].upper() + w[1:] for w in words)


def class_cn(cls: ObjectClass) -> str:
    """CN of the classSchema object for ``cls``."""
    return schema_data.CLASS_CN.get(cls.name, cls.default_object_category)


def attribute_type_description(at: AttributeType) -> str:
    """One ``attributeTypes`` value, as AD renders it (RFC 4512 AttributeTypeDescription subset)."""
    out = f"( {at.oid} NAME '{at.name}' SYNTAX '{_LDAP_SYNTAX[at.syntax]}'"
    if at.single_valued:
        out += " SINGLE-VALUE"
    if at.system_only:
        out += " NO-USER-MODIFICATION"
    return out + " )"


@cache
def _declared_lists() -> dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]:
    # must/may/possSuperiors in schema_data's order (ObjectClass holds frozensets, whose order
    # varies between interpreter runs; the subschema must be the same for every run).
    return {row[0]: (tuple(dict.fromkeys(row[5])), tuple(dict.fromkeys(row[6])), tuple(dict.fromkeys(row[7])))
            for row in schema_data.CLASSES}


def object_class_description(cls: ObjectClass) -> str:
    """One ``objectClasses`` value, as AD renders it (note the double space when there is no SUP)."""
    must, may, _ = _declared_lists()[cls.name]
    out = f"( {cls.oid} NAME '{cls.name}' " + (f"SUP {cls.superior} " if cls.superior else " ")
    out += _KIND[cls.kind]
    if must:
        out += f" MUST ({' $ '.join(must)} )"
    if may:
        out += f" MAY ({' $ '.join(may)} )"
    return out + " )"


@cache
def subschema_values(schema: Schema) -> dict[str, tuple[str, ...]]:
    """The constructed attributes of CN=Aggregate: ``attributeTypes`` and ``objectClasses``."""
    return {
        "attributeTypes": tuple(attribute_type_description(a) for a in schema.attributes()),
        "objectClasses": tuple(object_class_description(c) for c in schema.classes()),
    }


# ---------------------------------------------------------------------------------- DNs
def ntds_settings_dn(dc: DomainController) -> str:
    """The DC's nTDSDSA object (the rootDSE's ``dsServiceName``)."""
    return f"CN=NTDS Settings,CN={dc.dc_name},CN=Servers,CN={SITE},CN=Sites,{dc.config_dn}"


def directory_service_dn(dc: DomainController) -> str:
    """The nTDSService object holding ``dSHeuristics``."""
    return f"CN=Directory Service,CN=Windows NT,CN=Services,{dc.config_dn}"


# ---------------------------------------------------------------------------------- building
def build_config_nc(dc: DomainController) -> None:
    """Create the Configuration and Schema NCs (once, right after the domain infrastructure).

    Object GUIDs come from an RNG derived from the domain SID rather than ``dc.rng``, so adding
    these NCs leaves every domain object (and the connector account name) exactly as a seed made
    them before; uSNs are taken from the DC's counter like any other originating write.
    """
    saved = dc.rng
    dc.rng = random.Random(f"config-nc:{dc.domain_sid}")
    try:
        _build(dc)
    finally:
        dc.rng = saved


def _build(dc: DomainController) -> None:
    ea = make_sid(dc.domain_sid, _ENTERPRISE_ADMINS)
    sa = make_sid(dc.domain_sid, _SCHEMA_ADMINS)
    rodc = make_sid(dc.domain_sid, _ENTERPRISE_RODCS)
    ntds = ntds_settings_dn(dc)
    config = create_entry(
        dc, None, dc.config_dn, {"cn": ["Configuration"], "instancetype": ["13"]}, "configuration",
        explicit_sd=dc.sds.from_sddl(CONFIG_SDDL.replace("{rodc}", rodc)), owner=ea,
    )

    def add(parent: Entry, rdn: str, attrs: dict[str, list], cls: str, owner: str = ea) -> Entry:
        name = rdn.split("=", 1)[1]
        return create_entry(dc, parent, rdn, {"cn": [name], **attrs}, cls, owner=owner)

    partitions = add(config, "CN=Partitions", {
        "systemflags": ["-2147483648"], "msds-behavior-version": ["7"], "fsmoroleowner": [ntds],
    }, "crossRefContainer")
    dns = [dc.dns_domain]
    add(partitions, "CN=Enterprise Configuration",
        {"ncname": [dc.config_dn], "dnsroot": dns, "systemflags": ["1"]}, "crossRef")
    add(partitions, "CN=Enterprise Schema",
        {"ncname": [dc.schema_dn], "dnsroot": dns, "systemflags": ["1"]}, "crossRef")
    # FLAG_CR_NTDS_NC | FLAG_CR_NTDS_DOMAIN: an AD domain NC.
    add(partitions, f"CN={dc.netbios_name}", {
        "ncname": [dc.domain_dn], "dnsroot": dns, "netbiosname": [dc.netbios_name], "systemflags": ["3"],
    }, "crossRef")

    sites = add(config, "CN=Sites", {"systemflags": ["-2113929216"]}, "sitesContainer")
    site = add(sites, f"CN={SITE}", {}, "site")
    servers = add(site, "CN=Servers", {"systemflags": ["33554432"]}, "serversContainer")
    computer = f"CN={dc.dc_name.upper()},OU=Domain Controllers,{dc.domain_dn}"
    server = add(servers, f"CN={dc.dc_name}", {
        "dnshostname": [dc.dns_host_name], "serverreference": [computer], "systemflags": ["1375731712"],
    }, "server")
    masters = [dc.config_dn, dc.schema_dn, dc.domain_dn]
    add(server, "CN=NTDS Settings", {
        "options": ["1"],  # NTDSDSA_OPT_IS_GC
        "invocationid": [dc.new_guid().bytes_le],
        "dmdlocation": [dc.schema_dn],
        "hasmasterncs": masters,
        "msds-hasmasterncs": masters,
        "msds-behavior-version": ["7"],
        "systemflags": ["33554432"],
    }, "nTDSDSA")

    services = add(config, "CN=Services", {}, "container")
    windows_nt = add(services, "CN=Windows NT", {}, "container")
    # dSHeuristics is absent until an administrator sets it (Windows default).
    add(windows_nt, "CN=Directory Service", {}, "nTDSService")

    rights = add(config, "CN=Extended-Rights", {}, "container")
    for r in EXTENDED_RIGHTS:
        attrs: dict[str, list] = {
            "displayname": [r.display_name],
            "rightsguid": [str(r.guid)],
            "validaccesses": [str(VALID_ACCESSES[r.kind])],
            "showinadvancedviewonly": ["TRUE"],
        }
        applies = [str(dc.schema.object_class(c).schema_id_guid) for c in APPLIES_TO.get(r.cn, ())]
        if applies:
            attrs["appliesto"] = applies
        if r.cn in LOCALIZATION_IDS:
            attrs["localizationdisplayid"] = [str(LOCALIZATION_IDS[r.cn])]
        add(rights, f"CN={r.cn}", attrs, "controlAccessRight")

    _build_schema_nc(dc, sa, ntds)


_RDN_ATTRIBUTE = {"organizationalUnit": "ou", "domainDNS": "dc", "domain": "dc"}


def _system_flags(at: AttributeType) -> int:
    flags = _FLAG_SCHEMA_BASE_OBJECT
    if at.constructed:
        flags |= _FLAG_ATTR_IS_CONSTRUCTED
    elif at.operational:
        flags |= _FLAG_ATTR_IS_OPERATIONAL
    return flags


def _build_schema_nc(dc: DomainController, owner: str, ntds: str) -> None:
    schema = dc.schema
    root = create_entry(
        dc, None, dc.schema_dn,
        {"cn": ["Schema"], "instancetype": ["13"], "objectversion": [SCHEMA_VERSION],
         "fsmoroleowner": [ntds]},
        "dMD", explicit_sd=dc.sds.from_sddl(SCHEMA_SDDL), owner=owner,
    )
    base = str(_FLAG_SCHEMA_BASE_OBJECT)
    for at in schema.attributes():
        attrs: dict[str, list] = {
            "cn": [attribute_cn(at.name)],
            "ldapdisplayname": [at.name],
            "attributeid": [at.oid],
            "attributesyntax": [at.syntax.value if at.syntax.value.startswith("2.5.5.") else "2.5.5.10"],
            "omsyntax": [str(om_syntax(at))],
            "issinglevalued": ["TRUE" if at.single_valued else "FALSE"],
            "systemonly": ["TRUE" if at.system_only else "FALSE"],
            "searchflags": [str(schema_data.SEARCH_FLAGS.get(at.name, 0))],
            "schemaidguid": [at.schema_id_guid.bytes_le],
            "systemflags": [str(_system_flags(at))],
            "showinadvancedviewonly": ["TRUE"],
        }
        if at.property_set is not None:
            attrs["attributesecurityguid"] = [at.property_set.bytes_le]
        if at.range_upper is not None:
            attrs["rangeupper"] = [str(at.range_upper)]
        if at.syntax in _OM_OBJECT_CLASS:
            attrs["omobjectclass"] = [_OM_OBJECT_CLASS[at.syntax]]
        create_entry(dc, root, f"CN={attrs['cn'][0]}", attrs, "attributeSchema", owner=owner)
    declared = _declared_lists()
    for cls in schema.classes():
        must, may, poss = declared[cls.name]
        attrs = {
            "cn": [class_cn(cls)],
            "ldapdisplayname": [cls.name],
            "governsid": [cls.oid],
            "subclassof": [cls.superior or cls.name],  # top is its own superclass in AD
            "objectclasscategory": [_CATEGORY[cls.kind]],
            "schemaidguid": [cls.schema_id_guid.bytes_le],
            "defaultobjectcategory": [f"CN={cls.default_object_category},{dc.schema_dn}"],
            "rdnattid": [_RDN_ATTRIBUTE.get(cls.name, "cn")],
            "systemonly": ["FALSE"],
            "systemflags": [base],
            "showinadvancedviewonly": ["TRUE"],
        }
        # The lab keeps one list per class; AD splits system* and user-modifiable halves.
        if must:
            attrs["systemmustcontain"] = list(must)
        if may:
            attrs["systemmaycontain"] = list(may)
        if poss:
            attrs["systemposssuperiors"] = list(poss)
        if cls.default_sd:
            attrs["defaultsecuritydescriptor"] = [cls.default_sd]
        create_entry(dc, root, f"CN={attrs['cn'][0]}", attrs, "classSchema", owner=owner)
    create_entry(
        dc, root, "CN=Aggregate",
        {"cn": ["Aggregate"], "systemflags": ["134217728"], "showinadvancedviewonly": ["TRUE"]},
        "subSchema", owner=owner,
    )
