"""Raw schema data: the attributes and classes AD tooling touches, with their real identifiers.

Attribute rows were transcribed from the Windows Server 2008 R2 schema as published in
MS-ADA1/2/3 (the copy read: samba-team/samba source4/setup/ad-schema/
MS-AD_Schema_2K8_R2_Attributes.txt): lDAPDisplayName, attributeID, attributeSyntax,
isSingleValued, systemOnly, schemaIDGUID, attributeSecurityGUID, rangeUpper and the
FLAG_ATTR_IS_CONSTRUCTED / FLAG_ATTR_IS_OPERATIONAL system flags.

Class rows: schemaIDGUIDs for user, inetOrgPerson, group, computer and organizationalUnit
are in FACTS.md 5.1; the others are the well-known MS-ADSC values written from memory and
NOT re-verified against a source in this pass (marked ``# unverified``). must/may lists are
the subset of MS-ADSC's lists that this schema knows (system and regular contents merged).
"""

from __future__ import annotations

# Property sets (attributeSecurityGUID values); names are the controlAccessRight CNs.
PROPERTY_SETS: dict[str, str] = {
    "User-Account-Restrictions": "4c164200-20c0-11d0-a768-00aa006e0529",
    "User-Logon": "5f202010-79a5-11d0-9020-00c04fc2d4cf",
    "Domain-Password": "c7407360-20bf-11d0-a768-00aa006e0529",
    "General-Information": "59ba2f42-79a2-11d0-9020-00c04fc2d3cf",
    "Public-Information": "e48d0154-bcf8-11d1-8702-00c04fb96050",
    "Personal-Information": "77b5b886-944a-11d1-aebd-0000f80367c1",
    "Web-Information": "e45795b3-9455-11d1-aebd-0000f80367c1",
    "Email-Information": "e45795b2-9455-11d1-aebd-0000f80367c1",
    "Membership": "bc0ac240-79a9-11d0-9020-00c04fc2d4cf",
    "RAS-Information": "037088f8-0ae1-11d2-b422-00a0c968f939",
    "DNS-Host-Name-Attributes": "72e39547-7b18-11d1-adef-00c04fd8d5cd",
    "Domain-Other-Parameters": "b8119fd0-04f6-4762-ab7a-4986c76b3f9a",
    "Private-Information": "91e647de-d96f-4b70-9557-d63ff4f3ccd8",
    "Terminal-Server-License-Server": "5805bc62-bdc9-4428-a5e2-856a0f4c185e",
}

_UAR = PROPERTY_SETS["User-Account-Restrictions"]
_LOGON = PROPERTY_SETS["User-Logon"]
_DOMPWD = PROPERTY_SETS["Domain-Password"]
_GEN = PROPERTY_SETS["General-Information"]
_PUB = PROPERTY_SETS["Public-Information"]
_PERS = PROPERTY_SETS["Personal-Information"]
_MEMB = PROPERTY_SETS["Membership"]
_RAS = PROPERTY_SETS["RAS-Information"]
_DNSH = PROPERTY_SETS["DNS-Host-Name-Attributes"]

# (lDAPDisplayName, attributeID, attributeSyntax, single_valued, system_only, schemaIDGUID,
#  attributeSecurityGUID or None, rangeUpper or None, flags) where flags is a string of
#  "c" (constructed) / "o" (operational: only returned when asked for by name).
ATTRIBUTES: tuple[tuple[str, str, str, bool, bool, str, str | None, int | None, str], ...] = (
    ("accountExpires", "1.2.840.113556.1.4.159", "2.5.5.16", True, False,
     "bf967915-0de6-11d0-a285-00aa003049e2", _UAR, None, ""),
    ("adminCount", "1.2.840.113556.1.4.150", "2.5.5.9", True, False,
     "bf967918-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("allowedAttributes", "1.2.840.113556.1.4.913", "2.5.5.2", False, True,
     "9a7ad940-ca53-11d1-bbd0-0080c76670c0", _PUB, None, "co"),
    ("allowedAttributesEffective", "1.2.840.113556.1.4.914", "2.5.5.2", False, True,
     "9a7ad941-ca53-11d1-bbd0-0080c76670c0", _PUB, None, "co"),
    ("allowedChildClasses", "1.2.840.113556.1.4.911", "2.5.5.2", False, True,
     "9a7ad942-ca53-11d1-bbd0-0080c76670c0", _PUB, None, "co"),
    ("allowedChildClassesEffective", "1.2.840.113556.1.4.912", "2.5.5.2", False, True,
     "9a7ad943-ca53-11d1-bbd0-0080c76670c0", _PUB, None, "co"),
    ("badPasswordTime", "1.2.840.113556.1.4.49", "2.5.5.16", True, False,
     "bf96792d-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("badPwdCount", "1.2.840.113556.1.4.12", "2.5.5.9", True, False,
     "bf96792e-0de6-11d0-a285-00aa003049e2", _LOGON, None, ""),
    ("canonicalName", "1.2.840.113556.1.4.916", "2.5.5.12", False, True,
     "9a7ad945-ca53-11d1-bbd0-0080c76670c0", None, None, "co"),
    ("cn", "2.5.4.3", "2.5.5.12", True, False,
     "bf96793f-0de6-11d0-a285-00aa003049e2", _PUB, 64, ""),
    ("comment", "1.2.840.113556.1.4.156", "2.5.5.12", True, False,
     "bf967a6a-0de6-11d0-a285-00aa003049e2", _GEN, None, ""),
    ("company", "1.2.840.113556.1.2.146", "2.5.5.12", True, False,
     "f0f8ff88-1191-11d0-a060-00aa006c33ed", _PUB, 64, ""),
    ("createTimeStamp", "2.5.18.1", "2.5.5.11", True, True,
     "2df90d73-009f-11d2-aa4c-00c04fd7d83a", None, None, "c"),
    ("dBCSPwd", "1.2.840.113556.1.4.55", "2.5.5.10", True, False,
     "bf96799c-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("dc", "0.9.2342.19200300.100.1.25", "2.5.5.12", True, False,
     "19195a55-6da0-11d0-afd3-00c04fd930c9", None, 255, ""),
    ("department", "1.2.840.113556.1.2.141", "2.5.5.12", True, False,
     "bf96794f-0de6-11d0-a285-00aa003049e2", _PUB, 64, ""),
    ("description", "2.5.4.13", "2.5.5.12", False, False,
     "bf967950-0de6-11d0-a285-00aa003049e2", _PUB, 1024, ""),
    ("directReports", "1.2.840.113556.1.2.436", "2.5.5.1", False, True,
     "bf967a1c-0de6-11d0-a285-00aa003049e2", _PUB, None, ""),
    ("displayName", "1.2.840.113556.1.2.13", "2.5.5.12", True, False,
     "bf967953-0de6-11d0-a285-00aa003049e2", _GEN, 256, ""),
    ("distinguishedName", "2.5.4.49", "2.5.5.1", True, True,
     "bf9679e4-0de6-11d0-a285-00aa003049e2", _PUB, None, ""),
    ("dNSHostName", "1.2.840.113556.1.4.619", "2.5.5.12", True, False,
     "72e39547-7b18-11d1-adef-00c04fd8d5cd", _DNSH, 2048, ""),
    ("dSHeuristics", "1.2.840.113556.1.2.212", "2.5.5.12", True, False,
     "f0f8ff86-1191-11d0-a060-00aa006c33ed", None, None, ""),
    ("fSMORoleOwner", "1.2.840.113556.1.4.369", "2.5.5.1", True, False,
     "66171887-8f3c-11d0-afda-00c04fd930c9", None, None, ""),
    ("givenName", "2.5.4.42", "2.5.5.12", True, False,
     "f0f8ff8e-1191-11d0-a060-00aa006c33ed", _PUB, 64, ""),
    ("gPLink", "1.2.840.113556.1.4.891", "2.5.5.12", True, False,
     "f30e3bbe-9ff0-11d1-b603-0000f80367c1", None, None, ""),
    ("gPOptions", "1.2.840.113556.1.4.892", "2.5.5.9", True, False,
     "f30e3bbf-9ff0-11d1-b603-0000f80367c1", None, None, ""),
    ("groupType", "1.2.840.113556.1.4.750", "2.5.5.9", True, False,
     "9a9a021e-4a5b-11d1-a9c3-0000f80367c1", None, None, ""),
    ("homeDirectory", "1.2.840.113556.1.4.44", "2.5.5.12", True, False,
     "bf967985-0de6-11d0-a285-00aa003049e2", _LOGON, None, ""),
    ("homeDrive", "1.2.840.113556.1.4.45", "2.5.5.12", True, False,
     "bf967986-0de6-11d0-a285-00aa003049e2", _LOGON, None, ""),
    ("info", "1.2.840.113556.1.2.81", "2.5.5.12", True, False,
     "bf96793e-0de6-11d0-a285-00aa003049e2", _PERS, 1024, ""),
    ("instanceType", "1.2.840.113556.1.2.1", "2.5.5.9", True, True,
     "bf96798c-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("isCriticalSystemObject", "1.2.840.113556.1.4.868", "2.5.5.8", True, False,
     "00fbf30d-91fe-11d1-aebc-0000f80367c1", None, None, ""),
    ("lastLogoff", "1.2.840.113556.1.4.51", "2.5.5.16", True, False,
     "bf967996-0de6-11d0-a285-00aa003049e2", _LOGON, None, ""),
    ("lastLogon", "1.2.840.113556.1.4.52", "2.5.5.16", True, False,
     "bf967997-0de6-11d0-a285-00aa003049e2", _LOGON, None, ""),
    ("lastLogonTimestamp", "1.2.840.113556.1.4.1696", "2.5.5.16", True, False,
     "c0e20a04-0e5a-4ff3-9482-5efeaecd7060", _LOGON, None, ""),
    ("lockOutObservationWindow", "1.2.840.113556.1.4.61", "2.5.5.16", True, False,
     "bf9679a4-0de6-11d0-a285-00aa003049e2", _DOMPWD, None, ""),
    ("lockoutDuration", "1.2.840.113556.1.4.60", "2.5.5.16", True, False,
     "bf9679a5-0de6-11d0-a285-00aa003049e2", _DOMPWD, None, ""),
    ("lockoutThreshold", "1.2.840.113556.1.4.73", "2.5.5.9", True, False,
     "bf9679a6-0de6-11d0-a285-00aa003049e2", _DOMPWD, 65535, ""),
    # lockoutTime has no attributeSecurityGUID: member of no property set (FACTS 5.1).
    ("lockoutTime", "1.2.840.113556.1.4.662", "2.5.5.16", True, False,
     "28630ebf-41d5-11d1-a9c1-0000f80367c1", None, None, ""),
    ("logonCount", "1.2.840.113556.1.4.169", "2.5.5.9", True, False,
     "bf9679aa-0de6-11d0-a285-00aa003049e2", _LOGON, None, ""),
    ("logonHours", "1.2.840.113556.1.4.64", "2.5.5.10", True, False,
     "bf9679ab-0de6-11d0-a285-00aa003049e2", _LOGON, None, ""),
    ("logonWorkstation", "1.2.840.113556.1.4.65", "2.5.5.10", True, False,
     "bf9679ac-0de6-11d0-a285-00aa003049e2", _LOGON, None, ""),
    ("mail", "0.9.2342.19200300.100.1.3", "2.5.5.12", True, False,
     "bf967961-0de6-11d0-a285-00aa003049e2", _PUB, 256, ""),
    ("manager", "0.9.2342.19200300.100.1.10", "2.5.5.1", True, False,
     "bf9679b5-0de6-11d0-a285-00aa003049e2", _PUB, None, ""),
    ("maxPwdAge", "1.2.840.113556.1.4.74", "2.5.5.16", True, False,
     "bf9679bb-0de6-11d0-a285-00aa003049e2", _DOMPWD, None, ""),
    ("member", "2.5.4.31", "2.5.5.1", False, False,
     "bf9679c0-0de6-11d0-a285-00aa003049e2", _MEMB, None, ""),
    ("memberOf", "1.2.840.113556.1.2.102", "2.5.5.1", False, True,
     "bf967991-0de6-11d0-a285-00aa003049e2", _MEMB, None, ""),
    ("minPwdAge", "1.2.840.113556.1.4.78", "2.5.5.16", True, False,
     "bf9679c2-0de6-11d0-a285-00aa003049e2", _DOMPWD, None, ""),
    ("minPwdLength", "1.2.840.113556.1.4.79", "2.5.5.9", True, False,
     "bf9679c3-0de6-11d0-a285-00aa003049e2", _DOMPWD, None, ""),
    ("modifyTimeStamp", "2.5.18.2", "2.5.5.11", True, True,
     "9a7ad94a-ca53-11d1-bbd0-0080c76670c0", None, None, "c"),
    ("mS-DS-ConsistencyGuid", "1.2.840.113556.1.4.1360", "2.5.5.10", True, False,
     "23773dc2-b63a-11d2-90e1-00c04fd91ab1", None, None, ""),
    # Windows Server 2012 attribute, absent from the 2008 R2 file that was read: OID and
    # schemaIDGUID written from memory (unverified); property set per FACTS 5.1.
    ("msDS-AllowedToActOnBehalfOfOtherIdentity", "1.2.840.113556.1.4.2182", "2.5.5.15", True, False,
     "3f78c3e5-f79a-46bd-a0b8-9d18116ddc79", _UAR, 132096, ""),
    ("msDS-Behavior-Version", "1.2.840.113556.1.4.1459", "2.5.5.9", True, True,
     "d31a8757-2447-4545-8081-3bb610cacbf2", None, None, ""),
    ("msDS-User-Account-Control-Computed", "1.2.840.113556.1.4.1460", "2.5.5.9", True, False,
     "2cc4b836-b63f-4940-8d23-ea7acf06af56", _UAR, None, "co"),
    ("msDS-UserPasswordExpiryTimeComputed", "1.2.840.113556.1.4.1996", "2.5.5.16", True, False,
     "add5cf10-7b09-4449-9ae6-2534148f8a72", _UAR, None, "co"),
    ("name", "1.2.840.113556.1.4.1", "2.5.5.12", True, True,
     "bf967a0e-0de6-11d0-a285-00aa003049e2", _PUB, 255, ""),
    ("nextRid", "1.2.840.113556.1.4.88", "2.5.5.9", True, False,
     "bf9679db-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("nTSecurityDescriptor", "1.2.840.113556.1.2.281", "2.5.5.15", True, False,
     "bf9679e3-0de6-11d0-a285-00aa003049e2", None, 132096, "o"),
    ("ntPwdHistory", "1.2.840.113556.1.4.94", "2.5.5.10", False, False,
     "bf9679e2-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("objectCategory", "1.2.840.113556.1.4.782", "2.5.5.1", True, False,
     "26d97369-6070-11d1-a9c6-0000f80367c1", _PUB, None, ""),
    ("objectClass", "2.5.4.0", "2.5.5.2", False, True,
     "bf9679e5-0de6-11d0-a285-00aa003049e2", _PUB, None, ""),
    ("objectGUID", "1.2.840.113556.1.4.2", "2.5.5.10", True, True,
     "bf9679e7-0de6-11d0-a285-00aa003049e2", _PUB, 16, ""),
    ("objectSid", "1.2.840.113556.1.4.146", "2.5.5.17", True, True,
     "bf9679e8-0de6-11d0-a285-00aa003049e2", _GEN, 28, ""),
    ("operatingSystem", "1.2.840.113556.1.4.363", "2.5.5.12", True, False,
     "3e978925-8c01-11d0-afda-00c04fd930c9", None, None, ""),
    ("ou", "2.5.4.11", "2.5.5.12", False, False,
     "bf9679f0-0de6-11d0-a285-00aa003049e2", _PUB, 64, ""),
    ("primaryGroupID", "1.2.840.113556.1.4.98", "2.5.5.9", True, False,
     "bf967a00-0de6-11d0-a285-00aa003049e2", _GEN, None, ""),
    ("profilePath", "1.2.840.113556.1.4.139", "2.5.5.12", True, False,
     "bf967a05-0de6-11d0-a285-00aa003049e2", _LOGON, None, ""),
    ("pwdHistoryLength", "1.2.840.113556.1.4.95", "2.5.5.9", True, False,
     "bf967a09-0de6-11d0-a285-00aa003049e2", _DOMPWD, 65535, ""),
    ("pwdLastSet", "1.2.840.113556.1.4.96", "2.5.5.16", True, False,
     "bf967a0a-0de6-11d0-a285-00aa003049e2", _UAR, None, ""),
    ("pwdProperties", "1.2.840.113556.1.4.93", "2.5.5.9", True, False,
     "bf967a0b-0de6-11d0-a285-00aa003049e2", _DOMPWD, None, ""),
    ("rIDManagerReference", "1.2.840.113556.1.4.368", "2.5.5.1", True, True,
     "66171886-8f3c-11d0-afda-00c04fd930c9", None, None, ""),
    ("sAMAccountName", "1.2.840.113556.1.4.221", "2.5.5.12", True, False,
     "3e0abfd0-126a-11d0-a060-00aa006c33ed", _GEN, 256, ""),
    ("sAMAccountType", "1.2.840.113556.1.4.302", "2.5.5.9", True, False,
     "6e7b626c-64f2-11d0-afd2-00c04fd930c9", _GEN, None, ""),
    ("scriptPath", "1.2.840.113556.1.4.62", "2.5.5.12", True, False,
     "bf9679a8-0de6-11d0-a285-00aa003049e2", _LOGON, None, ""),
    ("sDRightsEffective", "1.2.840.113556.1.4.1304", "2.5.5.9", True, False,
     "c3dbafa6-33df-11d2-98b2-0000f87a57d4", _GEN, None, "co"),
    ("servicePrincipalName", "1.2.840.113556.1.4.771", "2.5.5.12", False, False,
     "f3a64788-5306-11d1-a9c5-0000f80367c1", _PUB, None, ""),
    ("showInAdvancedViewOnly", "1.2.840.113556.1.2.169", "2.5.5.8", True, False,
     "bf967984-0de6-11d0-a285-00aa003049e2", _GEN, None, ""),
    ("sIDHistory", "1.2.840.113556.1.4.609", "2.5.5.17", False, False,
     "17eb4278-d167-11d0-b002-0000f80367c1", _GEN, None, ""),
    ("sn", "2.5.4.4", "2.5.5.12", True, False,
     "bf967a41-0de6-11d0-a285-00aa003049e2", _PUB, 64, ""),
    ("systemFlags", "1.2.840.113556.1.4.375", "2.5.5.9", True, True,
     "e0fa1e62-9b45-11d0-afdd-00c04fd930c9", _PUB, None, ""),
    ("telephoneNumber", "2.5.4.20", "2.5.5.12", True, False,
     "bf967a49-0de6-11d0-a285-00aa003049e2", _PERS, 64, ""),
    ("title", "2.5.4.12", "2.5.5.12", True, False,
     "bf967a55-0de6-11d0-a285-00aa003049e2", _PUB, 128, ""),
    ("tokenGroups", "1.2.840.113556.1.4.1301", "2.5.5.17", False, False,
     "b7c69e6d-2cc7-11d2-854e-00a0c983f608", _RAS, None, "co"),
    ("unicodePwd", "1.2.840.113556.1.4.90", "2.5.5.10", True, False,
     "bf9679e1-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("userAccountControl", "1.2.840.113556.1.4.8", "2.5.5.9", True, False,
     "bf967a68-0de6-11d0-a285-00aa003049e2", _UAR, None, ""),
    ("userCertificate", "2.5.4.36", "2.5.5.10", False, False,
     "bf967a7f-0de6-11d0-a285-00aa003049e2", _PERS, 32768, ""),
    ("userParameters", "1.2.840.113556.1.4.138", "2.5.5.12", True, False,
     "bf967a6d-0de6-11d0-a285-00aa003049e2", _UAR, 32767, ""),
    ("userPassword", "2.5.4.35", "2.5.5.10", False, False,
     "bf967a6e-0de6-11d0-a285-00aa003049e2", None, 128, ""),
    ("userPrincipalName", "1.2.840.113556.1.4.656", "2.5.5.12", True, False,
     "28630ebb-41d5-11d1-a9c1-0000f80367c1", _PUB, 1024, ""),
    ("userWorkstations", "1.2.840.113556.1.4.86", "2.5.5.12", True, False,
     "bf9679d7-0de6-11d0-a285-00aa003049e2", _LOGON, 1024, ""),
    ("uSNChanged", "1.2.840.113556.1.2.120", "2.5.5.16", True, True,
     "bf967a6f-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("uSNCreated", "1.2.840.113556.1.2.19", "2.5.5.16", True, True,
     "bf967a70-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("wellKnownObjects", "1.2.840.113556.1.4.618", "2.5.5.7", False, True,
     "05308983-7688-11d1-aded-00c04fd8d5cd", None, None, ""),
    ("whenChanged", "1.2.840.113556.1.2.3", "2.5.5.11", True, True,
     "bf967a77-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("whenCreated", "1.2.840.113556.1.2.2", "2.5.5.11", True, True,
     "bf967a78-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("wWWHomePage", "1.2.840.113556.1.2.464", "2.5.5.12", True, False,
     "bf967a7a-0de6-11d0-a285-00aa003049e2", PROPERTY_SETS["Web-Information"], 2048, ""),
    # --- Configuration/schema NC attributes (schemaIDGUIDs read in MS-ADLS / MS-ADA1-3 copies; OIDs and
    # single-valued/NO-USER-MODIFICATION cross-checked against ldap3's AD 2012 R2 subschema capture).
    ("appliesTo", "1.2.840.113556.1.4.341", "2.5.5.12", False, False,
     "8297931d-86d3-11d0-afda-00c04fd930c9", None, 36, ""),
    ("attributeID", "1.2.840.113556.1.2.30", "2.5.5.2", True, True,
     "bf967922-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("attributeSecurityGUID", "1.2.840.113556.1.4.149", "2.5.5.10", True, False,
     "bf967924-0de6-11d0-a285-00aa003049e2", None, 16, ""),
    ("attributeSyntax", "1.2.840.113556.1.2.32", "2.5.5.2", True, True,
     "bf967925-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("attributeTypes", "2.5.21.5", "2.5.5.12", False, True,
     "9a7ad944-ca53-11d1-bbd0-0080c76670c0", None, None, "co"),
    ("defaultObjectCategory", "1.2.840.113556.1.4.783", "2.5.5.1", True, False,
     "26d97367-6070-11d1-a9c6-0000f80367c1", None, None, ""),
    ("defaultSecurityDescriptor", "1.2.840.113556.1.4.224", "2.5.5.12", True, False,
     "807a6d30-1669-11d0-a064-00aa006c33ed", None, 32767, ""),
    ("dITContentRules", "2.5.21.2", "2.5.5.12", False, True,
     "9a7ad946-ca53-11d1-bbd0-0080c76670c0", None, None, "co"),
    ("dMDLocation", "1.2.840.113556.1.2.36", "2.5.5.1", True, True,
     "f0f8ff8b-1191-11d0-a060-00aa006c33ed", None, None, ""),
    ("dnsRoot", "1.2.840.113556.1.4.28", "2.5.5.12", False, False,
     "bf967959-0de6-11d0-a285-00aa003049e2", None, 255, ""),
    ("governsID", "1.2.840.113556.1.2.22", "2.5.5.2", True, True,
     "bf96797d-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("hasMasterNCs", "1.2.840.113556.1.2.14", "2.5.5.1", False, True,
     "bf967982-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("invocationId", "1.2.840.113556.1.2.115", "2.5.5.10", True, True,
     "bf96798e-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("isSingleValued", "1.2.840.113556.1.2.33", "2.5.5.8", True, True,
     "bf967992-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("lDAPDisplayName", "1.2.840.113556.1.2.460", "2.5.5.12", True, False,
     "bf96799a-0de6-11d0-a285-00aa003049e2", None, 256, ""),
    ("localizationDisplayId", "1.2.840.113556.1.4.1353", "2.5.5.9", True, False,
     "a746f0d1-78d0-11d2-9916-0000f87a57d4", None, None, ""),
    ("mayContain", "1.2.840.113556.1.2.25", "2.5.5.2", False, False,
     "bf9679bf-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("msDS-hasMasterNCs", "1.2.840.113556.1.4.1836", "2.5.5.1", False, True,
     "ae2de0e2-59d7-4d47-8d47-ed4dfe4357ad", None, None, ""),
    ("mustContain", "1.2.840.113556.1.2.24", "2.5.5.2", False, False,
     "bf9679d3-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("nCName", "1.2.840.113556.1.2.16", "2.5.5.1", True, True,
     "bf9679d6-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("nETBIOSName", "1.2.840.113556.1.4.87", "2.5.5.12", True, False,
     "bf9679d8-0de6-11d0-a285-00aa003049e2", None, 16, ""),
    ("objectClassCategory", "1.2.840.113556.1.2.370", "2.5.5.9", True, True,
     "bf9679e6-0de6-11d0-a285-00aa003049e2", None, 3, ""),
    ("objectClasses", "2.5.21.6", "2.5.5.12", False, True,
     "9a7ad94b-ca53-11d1-bbd0-0080c76670c0", None, None, "co"),
    ("objectVersion", "1.2.840.113556.1.2.76", "2.5.5.9", True, False,
     "16775848-47f3-11d1-a9c3-0000f80367c1", None, None, ""),
    ("oMObjectClass", "1.2.840.113556.1.2.218", "2.5.5.10", True, True,
     "bf9679ec-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("oMSyntax", "1.2.840.113556.1.2.231", "2.5.5.9", True, True,
     "bf9679ed-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("options", "1.2.840.113556.1.4.307", "2.5.5.9", True, False,
     "19195a53-6da0-11d0-afd3-00c04fd930c9", None, None, ""),
    ("possSuperiors", "1.2.840.113556.1.2.8", "2.5.5.2", False, False,
     "bf9679fa-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("rangeLower", "1.2.840.113556.1.2.34", "2.5.5.9", True, False,
     "bf967a0c-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("rangeUpper", "1.2.840.113556.1.2.35", "2.5.5.9", True, False,
     "bf967a0d-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("rDNAttID", "1.2.840.113556.1.2.26", "2.5.5.2", True, True,
     "bf967a0f-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("rightsGuid", "1.2.840.113556.1.4.340", "2.5.5.12", True, False,
     "8297931c-86d3-11d0-afda-00c04fd930c9", None, 36, ""),
    ("schemaIDGUID", "1.2.840.113556.1.4.148", "2.5.5.10", True, True,
     "bf967923-0de6-11d0-a285-00aa003049e2", None, 16, ""),
    ("searchFlags", "1.2.840.113556.1.2.334", "2.5.5.9", True, False,
     "bf967a2d-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("serverReference", "1.2.840.113556.1.4.515", "2.5.5.1", True, False,
     "26d9736d-6070-11d1-a9c6-0000f80367c1", None, None, ""),
    ("subClassOf", "1.2.840.113556.1.2.21", "2.5.5.2", True, True,
     "bf967a3b-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("subSchemaSubEntry", "2.5.18.10", "2.5.5.1", False, True,
     "9a7ad94d-ca53-11d1-bbd0-0080c76670c0", None, None, "co"),
    ("systemMayContain", "1.2.840.113556.1.4.196", "2.5.5.2", False, True,
     "bf967a44-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("systemMustContain", "1.2.840.113556.1.4.197", "2.5.5.2", False, True,
     "bf967a45-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("systemOnly", "1.2.840.113556.1.4.170", "2.5.5.8", True, True,
     "bf967a46-0de6-11d0-a285-00aa003049e2", None, None, ""),
    # schemaIDGUID follows the System-* series (bf967a43..46 read); this one not read (unverified).
    ("systemPossSuperiors", "1.2.840.113556.1.4.195", "2.5.5.2", False, True,
     "bf967a47-0de6-11d0-a285-00aa003049e2", None, None, ""),
    ("validAccesses", "1.2.840.113556.1.4.1356", "2.5.5.9", True, False,
     "4d2fa380-7f54-11d2-992a-0000f87a57d4", None, None, ""),
)

# oMSyntax for INTEGER-syntax attributes that are enumerations (10) rather than integers (2).
OM_ENUMERATION = frozenset({"objectClassCategory", "searchFlags", "groupType", "sAMAccountType"})
# searchFlags values read in MS-ADLS/MS-ADA (fATTINDEX 1, fANR 4, fPRESERVEONDELETE 8, fCOPY 16);
# attributes not listed are published with 0 (not verified for each).
SEARCH_FLAGS: dict[str, int] = {
    "name": 13, "objectClass": 9, "objectSid": 9, "objectGUID": 9, "lDAPDisplayName": 9, "sn": 5,
    "mail": 1, "ou": 1, "objectCategory": 1, "instanceType": 8, "nTSecurityDescriptor": 8,
    "memberOf": 16, "manager": 16, "dnsRoot": 1, "nETBIOSName": 1, "attributeSyntax": 8, "governsID": 8,
    "oMSyntax": 8, "nCName": 8, "subClassOf": 8, "systemFlags": 8, "invocationId": 1,
    "showInAdvancedViewOnly": 17,
}
# CN of classSchema objects whose CN differs from their defaultObjectCategory's CN.
CLASS_CN: dict[str, str] = {
    "user": "User", "inetOrgPerson": "inetOrgPerson", "organizationalPerson": "Organizational-Person",
    "contact": "Contact",
}
# CN of attributeSchema objects that are not the mechanical hyphenation of the lDAPDisplayName
# (read in MS-ADLS this pass); the rest are derived (sAMAccountName -> SAM-Account-Name).
ATTRIBUTE_CN: dict[str, str] = {
    "cn": "Common-Name", "name": "RDN", "memberOf": "Is-Member-Of-DL", "mail": "E-mail-Addresses",
    "sn": "Surname", "ou": "Organizational-Unit-Name", "objectGUID": "Object-Guid", "l": "Locality-Name",
    "nTSecurityDescriptor": "NT-Security-Descriptor", "lDAPDisplayName": "LDAP-Display-Name",
    "attributeID": "Attribute-ID", "schemaIDGUID": "Schema-ID-GUID", "nETBIOSName": "NETBIOS-Name",
    "nCName": "NC-Name", "dMDLocation": "DMD-Location", "oMSyntax": "OM-Syntax",
    "oMObjectClass": "OM-Object-Class", "rDNAttID": "RDN-Att-ID", "governsID": "Governs-ID",
    "attributeSecurityGUID": "Attribute-Security-GUID", "dITContentRules": "DIT-Content-Rules",
    "subSchemaSubEntry": "SubSchemaSubEntry", "msDS-hasMasterNCs": "ms-DS-Has-Master-NCs",
    "msDS-Behavior-Version": "ms-DS-Behavior-Version", "dnsRoot": "Dns-Root",
    "modifyTimeStamp": "Modify-Time-Stamp", "mS-DS-ConsistencyGuid": "MS-DS-Consistency-Guid",
    "msDS-User-Account-Control-Computed": "ms-DS-User-Account-Control-Computed",
    "hasMasterNCs": "Has-Master-NCs", "invocationId": "Invocation-Id", "manager": "Manager",
}

# Attributes every object carries (MS-ADSC class top systemMustContain/mayContain subset).
_TOP_MUST = ("objectClass", "objectCategory", "nTSecurityDescriptor", "instanceType")
_TOP_MAY = (
    "cn", "name", "description", "distinguishedName", "objectGUID", "whenCreated", "whenChanged",
    "uSNCreated", "uSNChanged", "isCriticalSystemObject", "showInAdvancedViewOnly", "systemFlags",
    "canonicalName", "allowedAttributes", "allowedAttributesEffective", "allowedChildClasses",
    "allowedChildClassesEffective", "sDRightsEffective", "createTimeStamp", "modifyTimeStamp",
    "wellKnownObjects", "fSMORoleOwner", "memberOf", "directReports", "wWWHomePage", "info",
    "objectVersion", "subSchemaSubEntry", "displayName",
)
_SECURITY_PRINCIPAL_MAY = (
    "objectSid", "sAMAccountName", "sAMAccountType", "tokenGroups", "sIDHistory", "adminCount",
)
_USER_MAY = (
    "accountExpires", "badPasswordTime", "badPwdCount", "dBCSPwd", "homeDirectory", "homeDrive",
    "lastLogoff", "lastLogon", "lastLogonTimestamp", "lockoutTime", "logonCount", "logonHours",
    "logonWorkstation", "mS-DS-ConsistencyGuid", "msDS-AllowedToActOnBehalfOfOtherIdentity",
    "msDS-User-Account-Control-Computed", "msDS-UserPasswordExpiryTimeComputed", "ntPwdHistory",
    "primaryGroupID", "profilePath", "pwdLastSet", "scriptPath", "servicePrincipalName",
    "unicodePwd", "userAccountControl", "userCertificate", "userParameters", "userPrincipalName",
    "userWorkstations", "comment", "mail", "company", "department", "manager", "title",
)
_DOMAIN_POLICY = (
    "minPwdAge", "maxPwdAge", "minPwdLength", "pwdHistoryLength", "pwdProperties", "lockoutThreshold",
    "lockoutDuration", "lockOutObservationWindow", "nextRid", "rIDManagerReference", "gPLink",
    "gPOptions", "msDS-Behavior-Version", "objectSid",
)

DEFAULT_SD_USER = (
    "D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)"
    "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;AO)(A;;RPLCLORC;;;PS)"
    "(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;CR;ab721a54-1e2f-11d0-9819-00aa0040529b;;PS)"
    "(OA;;CR;ab721a56-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;RPWP;77B5B886-944A-11d1-AEBD-0000F80367C1;;PS)"
    "(OA;;RPWP;E45795B2-9455-11d1-AEBD-0000F80367C1;;PS)(OA;;RPWP;E45795B3-9455-11d1-AEBD-0000F80367C1;;PS)"
    "(OA;;RP;037088f8-0ae1-11d2-b422-00a0c968f939;;RS)(OA;;RP;4c164200-20c0-11d0-a768-00aa006e0529;;RS)"
    "(OA;;RP;bc0ac240-79a9-11d0-9020-00c04fc2d4cf;;RS)(A;;RC;;;AU)"
    "(OA;;RP;59ba2f42-79a2-11d0-9020-00c04fc2d3cf;;AU)(OA;;RP;77B5B886-944A-11d1-AEBD-0000F80367C1;;AU)"
    "(OA;;RP;E45795B3-9455-11d1-AEBD-0000F80367C1;;AU)(OA;;RP;e48d0154-bcf8-11d1-8702-00c04fb96050;;AU)"
    "(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)(OA;;RP;5f202010-79a5-11d0-9020-00c04fc2d4cf;;RS)"
    "(OA;;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;;CA)"
    "(OA;;RP;46a9b11d-60ae-405a-b7e8-ff8a58d456d2;;S-1-5-32-560)"
    "(OA;;WPRP;6db69a1c-9422-11d1-aebd-0000f80367c1;;S-1-5-32-561)"
    "(OA;;WPRP;5805bc62-bdc9-4428-a5e2-856a0f4c185e;;S-1-5-32-561)"
)
# Windows-like choices (not re-read from MS-ADSC this pass): full control for DA/SY/AO-style
# admins, read for Authenticated Users. Containers/OUs add Enterprise Domain Controllers read.
_SD_ADMIN_READ = (
    "D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPLCLORC;;;AU)"
)
_SD_OU = _SD_ADMIN_READ + "(A;;LCRPLORC;;;ED)"
_SD_GROUP = (
    "D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)"
    "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;AO)(A;;RPLCLORC;;;PS)(OA;;CR;ab721a55-1e2f-11d0-9819-00aa0040529b;;AU)"
    "(A;;RPLCLORC;;;AU)(OA;;RP;46a9b11d-60ae-405a-b7e8-ff8a58d456d2;;S-1-5-32-560)"
)

# (name, governsID, schemaIDGUID, superior, kind, must, may, possSuperiors, defaultSD, category CN)
CLASSES: tuple[tuple[str, str, str, str | None, str, tuple[str, ...], tuple[str, ...],
                     tuple[str, ...], str, str], ...] = (
    ("top", "2.5.6.0", "bf967ab7-0de6-11d0-a285-00aa003049e2",  # unverified
     None, "abstract", _TOP_MUST, _TOP_MAY, (), "", "Top"),
    ("person", "2.5.6.6", "bf967aa7-0de6-11d0-a285-00aa003049e2",  # unverified
     "top", "abstract", ("cn",), ("sn", "userPassword", "telephoneNumber"), ("container",), "", "Person"),
    ("organizationalPerson", "2.5.6.7", "bf967aa4-0de6-11d0-a285-00aa003049e2",  # unverified
     "person", "abstract", (), ("givenName", "displayName", "title", "department", "company", "manager",
                                "mail", "ou", "directReports", "homeDrive"),
     ("organizationalUnit", "container"), "", "Person"),
    ("user", "1.2.840.113556.1.5.9", "bf967aba-0de6-11d0-a285-00aa003049e2",
     "organizationalPerson", "structural", (), _SECURITY_PRINCIPAL_MAY + _USER_MAY,
     ("builtinDomain", "organizationalUnit", "domainDNS", "container"), DEFAULT_SD_USER, "Person"),
    ("inetOrgPerson", "2.16.840.1.113730.3.2.2", "4828cc14-1437-45bc-9b07-ad6f015e5f28",
     "user", "structural", (), (), ("builtinDomain", "organizationalUnit", "domainDNS", "container"),
     DEFAULT_SD_USER, "Person"),
    ("computer", "1.2.840.113556.1.3.30", "bf967a86-0de6-11d0-a285-00aa003049e2",
     "user", "structural", (), ("dNSHostName", "operatingSystem"),
     ("organizationalUnit", "domainDNS", "container"), _SD_ADMIN_READ, "Computer"),
    ("group", "1.2.840.113556.1.5.8", "bf967a9c-0de6-11d0-a285-00aa003049e2",
     "top", "structural", ("groupType",), (*_SECURITY_PRINCIPAL_MAY, "member", "mail", "manager"),
     ("builtinDomain", "organizationalUnit", "domainDNS", "container"), _SD_GROUP, "Group"),
    ("organizationalUnit", "2.5.6.5", "bf967aa5-0de6-11d0-a285-00aa003049e2",
     "top", "structural", ("ou",), ("gPLink", "gPOptions", "telephoneNumber", "manager"),
     ("organizationalUnit", "domainDNS", "domain"), _SD_OU, "Organizational-Unit"),
    ("container", "1.2.840.113556.1.3.23", "bf967a8b-0de6-11d0-a285-00aa003049e2",  # GUID unverified
     "top", "structural", ("cn",), (), ("domainDNS", "organizationalUnit", "container", "configuration",
                                        "builtinDomain", "domain"), _SD_OU, "Container"),
    ("domain", "1.2.840.113556.1.5.66", "19195a5a-6da0-11d0-afd3-00c04fd930c9",  # unverified
     "top", "abstract", ("dc",), _DOMAIN_POLICY, ("domainDNS", "organizationalUnit"), "", "Domain"),
    ("domainDNS", "1.2.840.113556.1.5.67", "19195a5b-6da0-11d0-afd3-00c04fd930c9",  # unverified
     "domain", "structural", (), ("dSHeuristics",), ("domainDNS",), _SD_ADMIN_READ, "Domain-DNS"),
    ("builtinDomain", "1.2.840.113556.1.5.4", "bf967a81-0de6-11d0-a285-00aa003049e2",  # unverified
     "top", "structural", (), _DOMAIN_POLICY, ("domainDNS",), _SD_ADMIN_READ, "Builtin-Domain"),
    # unverified:
    ("foreignSecurityPrincipal", "1.2.840.113556.1.5.76", "89e31c12-8530-11d0-afda-00c04fd930c9",
     "top", "structural", ("objectSid",), ("member",), ("container",), _SD_ADMIN_READ,
     "Foreign-Security-Principal"),
    ("contact", "1.2.840.113556.1.5.15", "5cb41ed0-0e4c-11d0-a286-00aa003049e2",  # unverified
     "organizationalPerson", "structural", ("cn",), (), ("organizationalUnit", "domainDNS", "container"),
     _SD_ADMIN_READ, "Person"),
    ("configuration", "1.2.840.113556.1.5.12", "bf967a87-0de6-11d0-a285-00aa003049e2",  # unverified
     "top", "structural", ("cn",), ("dSHeuristics",), ("domainDNS",), _SD_ADMIN_READ, "Configuration"),
    ("crossRefContainer", "1.2.840.113556.1.5.7000.53", "ef9e60e0-56f7-11d1-a9c6-0000f80367c1",  # unverified
     "top", "structural", (), ("fSMORoleOwner", "msDS-Behavior-Version"), ("configuration",),
     _SD_ADMIN_READ, "Cross-Ref-Container"),
    ("dMD", "1.2.840.113556.1.3.9", "bf967a8f-0de6-11d0-a285-00aa003049e2",  # unverified
     "top", "structural", ("cn",), ("fSMORoleOwner",), ("configuration",), _SD_ADMIN_READ, "DMD"),
    ("classSchema", "1.2.840.113556.1.3.13", "bf967a83-0de6-11d0-a285-00aa003049e2",  # unverified
     "top", "structural",
     ("cn", "subClassOf", "governsID", "objectClassCategory", "schemaIDGUID", "defaultObjectCategory"),
     ("possSuperiors", "mustContain", "mayContain", "rDNAttID", "lDAPDisplayName", "systemOnly",
      "systemMayContain", "systemMustContain", "systemPossSuperiors", "defaultSecurityDescriptor"),
     ("dMD",), _SD_ADMIN_READ, "Class-Schema"),
    ("attributeSchema", "1.2.840.113556.1.3.14", "bf967a80-0de6-11d0-a285-00aa003049e2",  # unverified
     "top", "structural",
     ("cn", "attributeID", "attributeSyntax", "isSingleValued", "oMSyntax", "lDAPDisplayName",
      "schemaIDGUID"),
     ("rangeLower", "rangeUpper", "oMObjectClass", "searchFlags", "attributeSecurityGUID", "systemOnly"),
     ("dMD",), _SD_ADMIN_READ, "Attribute-Schema"),
    # Configuration NC classes: governsIDs and must/may from ldap3's AD 2012 R2 subschema capture;
    # controlAccessRight's GUID and default SD read in MS-ADSC 2.26; site and nTDSDSA GUIDs are the
    # appliesTo values of Samba's extended-rights.ldif; the others are unverified.
    ("controlAccessRight", "1.2.840.113556.1.5.77", "8297931e-86d3-11d0-afda-00c04fd930c9",
     "top", "structural", (), ("rightsGuid", "appliesTo", "localizationDisplayId", "validAccesses"),
     ("container",), _SD_ADMIN_READ, "Control-Access-Right"),
    ("crossRef", "1.2.840.113556.1.3.11", "bf967a8d-0de6-11d0-a285-00aa003049e2",  # unverified
     "top", "structural", ("cn", "nCName", "dnsRoot"), ("nETBIOSName", "msDS-Behavior-Version"),
     ("crossRefContainer",), _SD_ADMIN_READ, "Cross-Ref"),
    ("sitesContainer", "1.2.840.113556.1.5.107", "7a4117da-cd67-11d0-afff-0000f80367c1",  # unverified
     "top", "structural", (), (), ("configuration",), _SD_ADMIN_READ, "Sites-Container"),
    ("site", "1.2.840.113556.1.5.31", "bf967ab3-0de6-11d0-a285-00aa003049e2",
     "top", "structural", (), ("gPLink", "gPOptions"), ("sitesContainer",), _SD_ADMIN_READ, "Site"),
    ("serversContainer", "1.2.840.113556.1.5.7000.48", "f780acc0-56f0-11d1-a9c6-0000f80367c1",  # unverified
     "top", "structural", (), (), ("site",), _SD_ADMIN_READ, "Servers-Container"),
    ("server", "1.2.840.113556.1.5.17", "bf967a92-0de6-11d0-a285-00aa003049e2",  # unverified
     "top", "structural", (), ("serverReference", "dNSHostName"), ("serversContainer",), _SD_ADMIN_READ,
     "Server"),
    # unverified GUID:
    ("applicationSettings", "1.2.840.113556.1.5.7000.49", "f780acc1-56f0-11d1-a9c6-0000f80367c1",
     "top", "abstract", (), (), ("server",), "", "Application-Settings"),
    ("nTDSDSA", "1.2.840.113556.1.5.7000.47", "f0f8ffab-1191-11d0-a060-00aa006c33ed",
     "applicationSettings", "structural", (),
     ("hasMasterNCs", "dMDLocation", "invocationId", "options", "serverReference", "msDS-hasMasterNCs",
      "msDS-Behavior-Version"),
     ("server",), _SD_ADMIN_READ, "NTDS-DSA"),
    ("nTDSService", "1.2.840.113556.1.5.72", "19195a5f-6da0-11d0-afd3-00c04fd930c9",  # unverified
     "top", "structural", (), ("dSHeuristics",), ("container",), _SD_ADMIN_READ, "NTDS-Service"),
    ("subSchema", "2.5.20.1", "5a8b3261-c38d-11d1-bbc9-0080c76670c0",  # unverified
     "top", "structural", (), ("dITContentRules", "attributeTypes", "objectClasses", "modifyTimeStamp"),
     ("dMD",), _SD_ADMIN_READ, "SubSchema"),
)

# The classes and attributes outside AD tools name in their filters (fakes.ad.schema_data_tools).
from fakes.ad.schema_data_tools import merge as _merge_tool_rows  # noqa: E402

ATTRIBUTES, CLASSES, ATTRIBUTE_CN = _merge_tool_rows(ATTRIBUTES, CLASSES, ATTRIBUTE_CN)
