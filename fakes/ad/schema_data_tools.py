"""Schema rows for the classes and attributes outside AD tools read (ldapdomaindump, bloodhound,
impacket's examples), merged into :mod:`fakes.ad.schema_data`.

ldap3 clients opened with ``get_info=ALL`` (ldapdomaindump, bloodhound-python) check every class
and attribute named in a filter against the DC's published subschema and stop with
``LDAPObjectClassError``/``LDAPAttributeError`` when one is missing, so the DC must publish what a
Windows DC publishes for the names they use. Every row is transcribed, not written from memory,
from the Windows Server 2016 schema LDF published with MS-ADSC/MS-ADA* (the copy read: Samba's
``setup/ad-schema/AD_DS_{Attributes,Classes}__Windows_Server_2016.ldf``): lDAPDisplayName,
attributeID/governsID, attributeSyntax, isSingleValued, systemOnly, schemaIDGUID,
attributeSecurityGUID, rangeUpper, the FLAG_ATTR_IS_CONSTRUCTED system flag, subClassOf,
objectClassCategory, possSuperiors, defaultSecurityDescriptor and the cn. must/may lists keep
the attributes this schema knows. Row formats are those of ``schema_data``.
"""

from __future__ import annotations

Row = tuple

TOOL_ATTRIBUTES: tuple[Row, ...] = (
    ("flatName", "1.2.840.113556.1.4.511", "2.5.5.12", True, False,
     "b7b13117-b82e-11d0-afee-0000f80367c1", None, None, ""),
    ("securityIdentifier", "1.2.840.113556.1.4.121", "2.5.5.17", True, False,
     "bf967a2f-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("trustAttributes", "1.2.840.113556.1.4.470", "2.5.5.9", True, False,
     "80a67e5a-9f22-11d0-afdd-00c04fd930c9", None, None, ""),
    ("trustDirection", "1.2.840.113556.1.4.132", "2.5.5.9", True, False,
     "bf967a5c-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("trustType", "1.2.840.113556.1.4.136", "2.5.5.9", True, False,
     "bf967a60-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("trustPartner", "1.2.840.113556.1.4.133", "2.5.5.12", True, False,
     "bf967a5d-0de6-11d0-a285-00aa003049e2", None, 1024, ""),
    ("gPCFileSysPath", "1.2.840.113556.1.4.894", "2.5.5.12", True, False,
     "f30e3bc1-9ff0-11d1-b603-0000f80367c1", None, None, ""),
    ("gPCFunctionalityVersion", "1.2.840.113556.1.4.893", "2.5.5.9", True, False,
     "f30e3bc0-9ff0-11d1-b603-0000f80367c1", None, None, ""),
    ("versionNumber", "1.2.840.113556.1.4.141", "2.5.5.9", True, False,
     "bf967a76-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("flags", "1.2.840.113556.1.4.38", "2.5.5.9", True, False,
     "bf967976-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("operatingSystemVersion", "1.2.840.113556.1.4.364", "2.5.5.12", True, False,
     "3e978926-8c01-11d0-afda-00c04fd930c9", None, None, ""),
    ("operatingSystemServicePack", "1.2.840.113556.1.4.365", "2.5.5.12", True, False,
     "3e978927-8c01-11d0-afda-00c04fd930c9", None, None, ""),
    ("operatingSystemHotfix", "1.2.840.113556.1.4.415", "2.5.5.12", True, False,
     "bd951b3c-9c96-11d0-afdd-00c04fd930c9", None, None, ""),
    ("msDS-AllowedToDelegateTo", "1.2.840.113556.1.4.1787", "2.5.5.12", False, False,
     "800d94d7-b7a1-42a1-b14d-7cae1423d07f", "e48d0154-bcf8-11d1-8702-00c04fb96050", None, ""),
    ("msDS-GroupMSAMembership", "1.2.840.113556.1.4.2200", "2.5.5.15", True, False,
     "888eedd6-ce04-df40-b462-b8a50e41ba38", None, 132096, ""),
    ("isDeleted", "1.2.840.113556.1.2.48", "2.5.5.8", True, True,
     "bf96798f-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("unixUserPassword", "1.2.840.113556.1.4.1910", "2.5.5.10", False, False,
     "612cb747-c0e8-4f92-9221-fdd5f15b550d", None, 128, ""),
    ("ms-DS-MachineAccountQuota", "1.2.840.113556.1.4.1411", "2.5.5.9", True, False,
     "d064fb68-1480-11d3-91c1-0000f87a57d4", None, None, ""),
    ("msDS-SupportedEncryptionTypes", "1.2.840.113556.1.4.1963", "2.5.5.9", True, False,
     "20119867-1d04-4ab7-9371-cfc3d5df0afd", "77b5b886-944a-11d1-aebd-0000f80367c1", None, ""),
    ("msDS-ManagedPasswordInterval", "1.2.840.113556.1.4.2199", "2.5.5.9", True, True,
     "f8758ef7-ac76-8843-a2ee-a26b4dcaf409", None, None, ""),
    ("msDS-ManagedPassword", "1.2.840.113556.1.4.2196", "2.5.5.10", True, False,
     "e362ed86-b728-0842-b27d-2dea7a9df218", None, None, "co"),
    ("msDS-ManagedPasswordId", "1.2.840.113556.1.4.2197", "2.5.5.10", True, True,
     "0e78295a-c6d3-0a40-b491-d62251ffa0a6", None, 1024, ""),
    ("msDS-ManagedPasswordPreviousId", "1.2.840.113556.1.4.2198", "2.5.5.10", True, True,
     "d0d62131-2d4a-d04f-99d9-1c63646229a4", None, 1024, ""),
    ("gPCMachineExtensionNames", "1.2.840.113556.1.4.1348", "2.5.5.12", True, False,
     "32ff8ecc-783f-11d2-9916-0000f87a57d4", None, None, ""),
    ("gPCUserExtensionNames", "1.2.840.113556.1.4.1349", "2.5.5.12", True, False,
     "42a75fc6-783f-11d2-9916-0000f87a57d4", None, None, ""),
    ("mS-DS-CreatorSID", "1.2.840.113556.1.4.1410", "2.5.5.17", True, True,
     "c5e60132-1480-11d3-91c1-0000f87a57d4", None, None, ""),
    ("dnsRecord", "1.2.840.113556.1.4.382", "2.5.5.10", False, False,
     "e0fa1e69-9b45-11d0-afdd-00c04fd930c9", None, None, ""),
    ("dNSTombstoned", "1.2.840.113556.1.4.1414", "2.5.5.8", True, False,
     "d5eb2eb7-be4e-463b-a214-634a44d7392e", None, None, ""),
    ("dNSProperty", "1.2.840.113556.1.4.1306", "2.5.5.10", False, False,
     "675a15fe-3b70-11d2-90cc-00c04fd91ab1", None, None, ""),
)

# cn of each attributeSchema object above.
TOOL_ATTRIBUTE_CN: dict[str, str] = {
    "flatName": "Flat-Name",
    "securityIdentifier": "Security-Identifier",
    "trustAttributes": "Trust-Attributes",
    "trustDirection": "Trust-Direction",
    "trustType": "Trust-Type",
    "trustPartner": "Trust-Partner",
    "gPCFileSysPath": "GPC-File-Sys-Path",
    "gPCFunctionalityVersion": "GPC-Functionality-Version",
    "versionNumber": "Version-Number",
    "flags": "Flags",
    "operatingSystemVersion": "Operating-System-Version",
    "operatingSystemServicePack": "Operating-System-Service-Pack",
    "operatingSystemHotfix": "Operating-System-Hotfix",
    "msDS-AllowedToDelegateTo": "ms-DS-Allowed-To-Delegate-To",
    "msDS-GroupMSAMembership": "ms-DS-GroupMSAMembership",
    "isDeleted": "Is-Deleted",
    "unixUserPassword": "UnixUserPassword",
    "ms-DS-MachineAccountQuota": "MS-DS-Machine-Account-Quota",
    "msDS-SupportedEncryptionTypes": "ms-DS-Supported-Encryption-Types",
    "msDS-ManagedPasswordInterval": "ms-DS-ManagedPasswordInterval",
    "msDS-ManagedPassword": "ms-DS-ManagedPassword",
    "msDS-ManagedPasswordId": "ms-DS-ManagedPasswordId",
    "msDS-ManagedPasswordPreviousId": "ms-DS-ManagedPasswordPreviousId",
    "gPCMachineExtensionNames": "GPC-Machine-Extension-Names",
    "gPCUserExtensionNames": "GPC-User-Extension-Names",
    "mS-DS-CreatorSID": "MS-DS-Creator-SID",
    "dnsRecord": "Dns-Record",
    "dNSTombstoned": "DNS-Tombstoned",
    "dNSProperty": "DNS-Property",
}

TOOL_CLASSES: tuple[Row, ...] = (
    ("leaf", "1.2.840.113556.1.5.20", "bf967a9e-0de6-11d0-a285-00aa003049e2", "top", "abstract",
     (),
     (),
     (),
     ("D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPLCLORC;;;AU)"),
     "Leaf"),
    ("trustedDomain", "1.2.840.113556.1.5.34", "bf967ab8-0de6-11d0-a285-00aa003049e2",
     "leaf", "structural",
     (),
     ("trustType", "trustPartner", "trustDirection", "trustAttributes", "securityIdentifier",
      "msDS-SupportedEncryptionTypes", "flatName"),
     ("container",),
     ("D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPLCLORC;;;AU)"
      "(OA;;WP;736e4812-af31-11d2-b7df-00805f48caeb;bf967ab8-0de6-11d0-a285-00aa003049e2;CO)"
      "(A;;SD;;;CO)"),
     "Trusted-Domain"),
    ("groupPolicyContainer", "1.2.840.113556.1.5.157", "f30e3bc2-9ff0-11d1-b603-0000f80367c1",
     "container", "structural",
     (),
     ("versionNumber", "gPCUserExtensionNames", "gPCMachineExtensionNames", "gPCFunctionalityVersion",
      "gPCFileSysPath", "flags"),
     (),
     ("D:P(A;CI;RPWPCCDCLCLOLORCWOWDSDDTSW;;;DA)(A;CI;RPWPCCDCLCLOLORCWOWDSDDTSW;;;EA)"
      "(A;CI;RPWPCCDCLCLOLORCWOWDSDDTSW;;;CO)(A;CI;RPWPCCDCLCLORCWOWDSDDTSW;;;SY)(A;CI;RPLCLORC;;;AU)"
      "(OA;CI;CR;edacfd8f-ffb3-11d1-b41d-00a0c968f939;;AU)(A;CI;LCRPLORC;;;ED)"),
     "Group-Policy-Container"),
    ("msDS-ManagedServiceAccount", "1.2.840.113556.1.5.264", "ce206244-5827-4a86-ba1c-1c0c386c1b64",
     "computer", "structural",
     (),
     (),
     ("domainDNS", "organizationalUnit", "container"),
     ("D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;AO)"
      "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPCRLCLORCSDDT;;;CO)"
      "(OA;;WP;4c164200-20c0-11d0-a768-00aa006e0529;;CO)"
      "(OA;;SW;72e39547-7b18-11d1-adef-00c04fd8d5cd;;CO)"
      "(OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;CO)"
      "(OA;;WP;3e0abfd0-126a-11d0-a060-00aa006c33ed;bf967a86-0de6-11d0-a285-00aa003049e2;CO)"
      "(OA;;WP;5f202010-79a5-11d0-9020-00c04fc2d4cf;bf967a86-0de6-11d0-a285-00aa003049e2;CO)"
      "(OA;;WP;bf967950-0de6-11d0-a285-00aa003049e2;bf967a86-0de6-11d0-a285-00aa003049e2;CO)"
      "(OA;;WP;bf967953-0de6-11d0-a285-00aa003049e2;bf967a86-0de6-11d0-a285-00aa003049e2;CO)"
      "(OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)"
      "(OA;;RPWP;77B5B886-944A-11d1-AEBD-0000F80367C1;;PS)"
      "(OA;;SW;72e39547-7b18-11d1-adef-00c04fd8d5cd;;PS)(A;;RPLCLORC;;;AU)"
      "(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)"
      "(OA;;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;;CA)"
      "(OA;;RP;46a9b11d-60ae-405a-b7e8-ff8a58d456d2;;S-1-5-32-560)"
      "(OA;;RP;b7c69e6d-2cc7-11d2-854e-00a0c983f608;;ED)"),
     "ms-DS-Managed-Service-Account"),
    ("msDS-GroupManagedServiceAccount", "1.2.840.113556.1.5.282", "7b8b558a-93a5-4af7-adca-c017e67f1057",
     "computer", "structural",
     ("msDS-ManagedPasswordInterval",),
     ("msDS-GroupMSAMembership", "msDS-ManagedPasswordPreviousId", "msDS-ManagedPasswordId",
      "msDS-ManagedPassword"),
     ("computer", "container", "organizationalUnit", "domainDNS"),
     ("D:(OD;;CR;00299570-246d-11d0-a768-00aa006e0529;;WD)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)"
      "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;AO)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPCRLCLORCSDDT;;;CO)"
      "(OA;;WP;4c164200-20c0-11d0-a768-00aa006e0529;;CO)"
      "(OA;;SW;72e39547-7b18-11d1-adef-00c04fd8d5cd;;CO)"
      "(OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;CO)"
      "(OA;;WP;3e0abfd0-126a-11d0-a060-00aa006c33ed;bf967a86-0de6-11d0-a285-00aa003049e2;CO)"
      "(OA;;WP;5f202010-79a5-11d0-9020-00c04fc2d4cf;bf967a86-0de6-11d0-a285-00aa003049e2;CO)"
      "(OA;;WP;bf967950-0de6-11d0-a285-00aa003049e2;bf967a86-0de6-11d0-a285-00aa003049e2;CO)"
      "(OA;;WP;bf967953-0de6-11d0-a285-00aa003049e2;bf967a86-0de6-11d0-a285-00aa003049e2;CO)"
      "(OA;;SW;f3a64788-5306-11d1-a9c5-0000f80367c1;;PS)"
      "(OA;;RPWP;77B5B886-944A-11d1-AEBD-0000F80367C1;;PS)"
      "(OA;;SW;72e39547-7b18-11d1-adef-00c04fd8d5cd;;PS)(A;;RPLCLORC;;;AU)"
      "(OA;;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;;CA)"
      "(OA;;RP;46a9b11d-60ae-405a-b7e8-ff8a58d456d2;;S-1-5-32-560)"
      "(OA;;RP;e362ed86-b728-0842-b27d-2dea7a9df218;;WD)"),
     "ms-DS-Group-Managed-Service-Account"),
    ("dnsZone", "1.2.840.113556.1.5.85", "e0fa1e8b-9b45-11d0-afdd-00c04fd930c9",
     "top", "structural",
     ("dc",),
     ("dNSProperty",),
     ("container",),
     ("D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;ED)"
      "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;CC;;;AU)(A;;RPLCLORC;;;WD)"
      "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;CO)"),
     "Dns-Zone"),
    ("dnsNode", "1.2.840.113556.1.5.86", "e0fa1e8c-9b45-11d0-afdd-00c04fd930c9",
     "top", "structural",
     ("dc",),
     ("dNSTombstoned", "dnsRecord", "dNSProperty"),
     ("dnsZoneScope", "dnsZone"),
     ("D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;ED)"
      "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;CO)(A;;RPLCLORC;;;WD)"),
     "Dns-Node"),
)

# Attributes the new rows add to existing classes' may lists (MS-ADSC: computer's
# systemMayContain, user's mayContain via its auxiliary classes, domainDNS's domain policy).
TOOL_MAY: dict[str, tuple[str, ...]] = {
    "user": ("msDS-AllowedToDelegateTo", "msDS-SupportedEncryptionTypes", "unixUserPassword",
             "mS-DS-CreatorSID"),
    "computer": ("operatingSystemVersion", "operatingSystemServicePack", "operatingSystemHotfix"),
    "domainDNS": ("ms-DS-MachineAccountQuota",),
    "top": ("isDeleted",),
    "container": ("flags",),
}


def merge(attributes: tuple[Row, ...], classes: tuple[Row, ...],
          attribute_cn: dict[str, str]) -> tuple[tuple[Row, ...], tuple[Row, ...], dict[str, str]]:
    """``schema_data``'s rows with the tool rows added (a pure function; rows keep their order)."""
    merged_classes = tuple(
        (*row[:6], (*row[6], *TOOL_MAY.get(row[0], ())), *row[7:]) for row in classes
    ) + TOOL_CLASSES
    return attributes + TOOL_ATTRIBUTES, merged_classes, {**attribute_cn, **TOOL_ATTRIBUTE_CN}
