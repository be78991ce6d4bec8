"""Rights naming the way ADUC (Advanced Security) and dsacls show them (the dsacls command
line's own grammar, ``/G`` grants, lives in :mod:`fakes.ad.dsacls`).

Extended rights and property sets carry their real rightsGuid values (FACTS.md 5.1 and
the attributeSecurityGUIDs of MS-ADA1/2/3). Send-As/Receive-As come from the user class
default SD in FACTS 5.5; the validated-write GUIDs equal the dNSHostName and
servicePrincipalName schemaIDGUIDs (read in the MS-ADA copy) and Self-Membership equals
member's schemaIDGUID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from uuid import UUID

from fakes.ad.schema import Schema, default_schema
from fakes.ad.schema_data import PROPERTY_SETS
from fakes.ad.security import constants as c
from fakes.ad.security.descriptor import Ace

__all__ = [
    "APPLIES_TO",
    "EXTENDED_RIGHTS",
    "LOCALIZATION_IDS",
    "VALID_ACCESSES",
    "AppliesTo",
    "ExtendedRight",
    "RightsError",
    "applies_to_from_words",
    "applies_to_of",
    "applies_to_text",
    "describe_ace",
    "make_ace",
    "permission_from_words",
    "property_guid",
    "right_by_guid",
    "right_by_name",
]


class RightsError(ValueError):
    """An unknown right/attribute/class name, or an ACE shape this module cannot express."""


@dataclass(frozen=True, slots=True)
class ExtendedRight:
    """A controlAccessRight: CN, displayName (dsacls), ADUC label, rightsGuid, kind."""

    cn: str
    display_name: str
    aduc_label: str
    guid: UUID
    kind: str  # "extended" (CR), "validated" (VW) or "property-set" (RP/WP)


def _r(cn: str, display: str, label: str, guid: str, kind: str = "extended") -> ExtendedRight:
    return ExtendedRight(cn, display, label, UUID(guid), kind)


# ADUC's names for the property sets (controlAccessRight displayName).
_PS_LABELS = {
    "User-Account-Restrictions": "Account Restrictions",
    "User-Logon": "Logon Information",
    "Domain-Password": "Domain Password & Lockout Policies",
    "General-Information": "General Information",
    "Public-Information": "Public Information",
    "Personal-Information": "Personal Information",
    "Web-Information": "Web Information",
    "Email-Information": "Phone and Mail Options",
    "Membership": "Group Membership",
    "RAS-Information": "Remote Access Information",
    "DNS-Host-Name-Attributes": "DNS Host Name Attributes",
    "Domain-Other-Parameters": "Other Domain Parameters (for use by SAM)",
    "Private-Information": "Private Information",
    "Terminal-Server-License-Server": "Terminal Server License Server",
}

EXTENDED_RIGHTS: tuple[ExtendedRight, ...] = (
    _r(
        "User-Force-Change-Password",
        "Reset Password",
        "Reset password",
        "00299570-246d-11d0-a768-00aa006e0529",
    ),
    _r("User-Change-Password", "Change Password", "Change password", "ab721a53-1e2f-11d0-9819-00aa0040529b"),
    _r("Unexpire-Password", "Unexpire Password", "Unexpire password", "ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501"),
    _r(
        "Update-Password-Not-Required-Bit",
        "Update Password Not Required Bit",
        "Update password not required bit",
        "280f369c-67c7-438e-ae98-1d46f3c6f541",
    ),
    _r(
        "Enable-Per-User-Reversibly-Encrypted-Password",
        "Enable Per User Reversibly Encrypted Password",
        "Enable per user reversibly encrypted password",
        "05c74c5e-4deb-43b4-bd9f-86664c2a7fd5",
    ),
    _r(
        "DS-Replication-Get-Changes",
        "Replicating Directory Changes",
        "Replicating Directory Changes",
        "1131f6aa-9c07-11d1-f79f-00c04fc2dcd2",
    ),
    _r(
        "DS-Replication-Synchronize",
        "Replication Synchronization",
        "Replication synchronization",
        "1131f6ab-9c07-11d1-f79f-00c04fc2dcd2",
    ),
    _r(
        "DS-Replication-Manage-Topology",
        "Manage Replication Topology",
        "Manage replication topology",
        "1131f6ac-9c07-11d1-f79f-00c04fc2dcd2",
    ),
    _r(
        "DS-Replication-Get-Changes-All",
        "Replicating Directory Changes All",
        "Replicating Directory Changes All",
        "1131f6ad-9c07-11d1-f79f-00c04fc2dcd2",
    ),
    _r("Send-As", "Send As", "Send As", "ab721a54-1e2f-11d0-9819-00aa0040529b"),
    _r("Receive-As", "Receive As", "Receive As", "ab721a56-1e2f-11d0-9819-00aa0040529b"),
    _r(
        "Validated-DNS-Host-Name",
        "Validated write to DNS host name",
        "Validated write to DNS host name",
        "72e39547-7b18-11d1-adef-00c04fd8d5cd",
        "validated",
    ),
    _r(
        "Validated-SPN",
        "Validated write to service principal name",
        "Validated write to service principal name",
        "f3a64788-5306-11d1-a9c5-0000f80367c1",
        "validated",
    ),
    _r(
        "Self-Membership",
        "Add/Remove self as member",
        "Add/remove self as member",
        "bf9679c0-0de6-11d0-a285-00aa003049e2",
        "validated",
    ),
    *(
        _r(cn, _PS_LABELS.get(cn, cn), _PS_LABELS.get(cn, cn), g, "property-set")
        for cn, g in PROPERTY_SETS.items()
    ),
)
# appliesTo of each controlAccessRight object, as class lDAPDisplayNames (resolved to schemaIDGUIDs by
# the schema). Read in Samba's extended-rights.ldif (MS-ADTS 6.1.1.2.7 transcription); classes the lab
# schema lacks (msDS-ManagedServiceAccount) are left out.
_PASSWORD_TARGETS = ("computer", "user", "inetOrgPerson")
_REPLICATION_TARGETS = ("dMD", "configuration", "domainDNS")
APPLIES_TO: dict[str, tuple[str, ...]] = {
    "User-Force-Change-Password": _PASSWORD_TARGETS,
    "User-Change-Password": _PASSWORD_TARGETS,
    "Send-As": _PASSWORD_TARGETS,
    "Receive-As": _PASSWORD_TARGETS,
    "Unexpire-Password": ("domainDNS",),
    "Update-Password-Not-Required-Bit": ("domainDNS",),
    "Enable-Per-User-Reversibly-Encrypted-Password": ("domainDNS",),
    "DS-Replication-Get-Changes": _REPLICATION_TARGETS,
    "DS-Replication-Synchronize": _REPLICATION_TARGETS,
    "DS-Replication-Manage-Topology": _REPLICATION_TARGETS,
    "DS-Replication-Get-Changes-All": _REPLICATION_TARGETS,
    "Validated-DNS-Host-Name": ("computer",),
    "Validated-SPN": ("computer",),
    "Self-Membership": ("group",),
    "User-Account-Restrictions": ("inetOrgPerson", "computer", "user"),
    "User-Logon": ("inetOrgPerson", "user"),
    "Domain-Password": ("domainDNS", "domain"),
    "General-Information": ("inetOrgPerson", "user"),
    "Public-Information": ("inetOrgPerson", "computer", "user"),
    "Personal-Information": ("inetOrgPerson", "computer", "contact", "user"),
    "Web-Information": ("inetOrgPerson", "contact", "user"),
    "Email-Information": ("inetOrgPerson", "group", "user"),
    "Membership": ("inetOrgPerson", "user"),
    "RAS-Information": ("inetOrgPerson", "user"),
    "DNS-Host-Name-Attributes": ("computer",),
    "Domain-Other-Parameters": ("domainDNS",),
    "Private-Information": ("user", "inetOrgPerson"),
    "Terminal-Server-License-Server": ("user", "inetOrgPerson"),
}
# localizationDisplayId values read on Microsoft Learn (adschema r-* pages); others are not published here.
LOCALIZATION_IDS: dict[str, int] = {"User-Change-Password": 2, "User-Force-Change-Password": 3}
# validAccesses by kind (MS-ADTS 5.1.3.2.1): CR for extended rights, VW for validated writes, RP|WP for
# property sets.
VALID_ACCESSES: dict[str, int] = {"extended": 0x100, "validated": 0x8, "property-set": 0x30}

_BY_NAME = {n.casefold(): r for r in EXTENDED_RIGHTS for n in (r.cn, r.display_name, r.aduc_label)}
_BY_GUID = {r.guid: r for r in EXTENDED_RIGHTS if r.kind != "property-set"}
_PS_BY_GUID = {r.guid: r for r in EXTENDED_RIGHTS if r.kind == "property-set"}


def right_by_name(name: str) -> ExtendedRight:
    found = _BY_NAME.get(name.casefold())
    if found is None:
        raise RightsError(f"unknown extended right {name!r}")
    return found


def right_by_guid(guid: UUID) -> ExtendedRight | None:
    return _BY_GUID.get(guid) or _PS_BY_GUID.get(guid)


class AppliesTo(Enum):
    """ADUC "Applies to" choices (FACTS 5.3)."""

    THIS_OBJECT_ONLY = "This object only"
    THIS_OBJECT_AND_DESCENDANTS = "This object and all descendant objects"
    ALL_DESCENDANTS = "All descendant objects"
    DESCENDANT_CLASS = "Descendant {} objects"


def _flags_for(applies_to: AppliesTo) -> int:
    if applies_to is AppliesTo.THIS_OBJECT_ONLY:
        return 0
    if applies_to is AppliesTo.THIS_OBJECT_AND_DESCENDANTS:
        return c.CONTAINER_INHERIT_ACE
    return c.CONTAINER_INHERIT_ACE | c.INHERIT_ONLY_ACE


def property_guid(schema: Schema, name: str) -> UUID:
    at = schema.find_attribute(name)
    if at is not None:
        return at.schema_id_guid
    r = _BY_NAME.get(name.casefold())
    if r is not None and r.kind == "property-set":
        return r.guid
    raise RightsError(f"unknown attribute or property set {name!r}")


def make_ace(
    sid: str,
    *,
    right: str | None = None,
    write_property: str | None = None,
    read_property: str | None = None,
    mask: int | None = None,
    applies_to: AppliesTo,
    descendant_class: str | None = None,
    deny: bool = False,
    schema: Schema | None = None,
) -> Ace:
    """Build the ACE ADUC writes for one permission line.

    ``make_ace(msol, right="Reset Password", applies_to=AppliesTo.DESCENDANT_CLASS,
    descendant_class="user")`` gives ``(OA;CIIO;CR;00299570-...;bf967aba-...;<msol>)``.
    """
    schema = schema or default_schema()
    chosen = [x is not None for x in (right, write_property, read_property)]
    if sum(chosen) > 1:
        raise RightsError("give only one of right=, write_property=, read_property=")
    object_type: UUID | None = None
    if right is not None:
        r = right_by_name(right)
        object_type = r.guid
        bits = {
            "extended": c.RIGHT_DS_CONTROL_ACCESS,
            "validated": c.RIGHT_DS_WRITE_PROPERTY_EXTENDED,
            "property-set": c.RIGHT_DS_READ_PROPERTY | c.RIGHT_DS_WRITE_PROPERTY,
        }[r.kind]
    elif write_property is not None:
        object_type, bits = property_guid(schema, write_property), c.RIGHT_DS_WRITE_PROPERTY
    elif read_property is not None:
        object_type, bits = property_guid(schema, read_property), c.RIGHT_DS_READ_PROPERTY
    else:
        if mask is None:
            raise RightsError("give right=, write_property=, read_property= or mask=")
        bits = 0
    if mask is not None:
        bits = mask if not any(chosen) else bits | mask
    inherited_type: UUID | None = None
    if applies_to is AppliesTo.DESCENDANT_CLASS:
        if not descendant_class:
            raise RightsError("AppliesTo.DESCENDANT_CLASS needs descendant_class=")
        inherited_type = schema.object_class(descendant_class).schema_id_guid
    elif descendant_class:
        raise RightsError("descendant_class= only goes with AppliesTo.DESCENDANT_CLASS")
    is_object = object_type is not None or inherited_type is not None
    if is_object:
        ace_type = c.ACCESS_DENIED_OBJECT_ACE_TYPE if deny else c.ACCESS_ALLOWED_OBJECT_ACE_TYPE
    else:
        ace_type = c.ACCESS_DENIED_ACE_TYPE if deny else c.ACCESS_ALLOWED_ACE_TYPE
    return Ace(ace_type, _flags_for(applies_to), bits, sid, object_type, inherited_type)


def applies_to_of(ace: Ace, schema: Schema | None = None) -> tuple[AppliesTo, str | None]:
    """ADUC's "Applies to" for ``ace`` and the descendant class name when there is one."""
    schema = schema or default_schema()
    inherit = ace.flags & (c.CONTAINER_INHERIT_ACE | c.OBJECT_INHERIT_ACE)
    if ace.inherited_object_type is not None:
        cls = schema.class_by_guid(ace.inherited_object_type)
        return AppliesTo.DESCENDANT_CLASS, cls.name if cls else str(ace.inherited_object_type)
    if not inherit:
        return AppliesTo.THIS_OBJECT_ONLY, None
    if ace.flags & c.INHERIT_ONLY_ACE:
        return AppliesTo.ALL_DESCENDANTS, None
    return AppliesTo.THIS_OBJECT_AND_DESCENDANTS, None


_FULL = c.DS_GENERIC_ALL
_SIMPLE = (
    (c.RIGHT_DS_CREATE_CHILD, "Create all child objects"),
    (c.RIGHT_DS_DELETE_CHILD, "Delete all child objects"),
    (c.RIGHT_DS_LIST_CONTENTS, "List contents"),
    (c.RIGHT_DS_WRITE_PROPERTY_EXTENDED, "All validated writes"),
    (c.RIGHT_DS_READ_PROPERTY, "Read all properties"),
    (c.RIGHT_DS_WRITE_PROPERTY, "Write all properties"),
    (c.RIGHT_DS_DELETE_TREE, "Delete subtree"),
    (c.RIGHT_DS_LIST_OBJECT, "List object"),
    (c.RIGHT_DS_CONTROL_ACCESS, "All extended rights"),
    (c.RIGHT_DELETE, "Delete"),
    (c.RIGHT_READ_CONTROL, "Read permissions"),
    (c.RIGHT_WRITE_DAC, "Modify permissions"),
    (c.RIGHT_WRITE_OWNER, "Modify owner"),
)


#: ADUC's "Permissions" words that are plain access-mask bits (no object GUID), plus its two
#: summary rows "Read" and "Write" (the generic rights as AD maps them, MS-ADTS 5.1.3.2).
GENERAL_PERMISSIONS: dict[str, int] = {
    "full control": _FULL,
    "read": c.DS_GENERIC_READ,
    "write": c.DS_GENERIC_WRITE,
    **{label.casefold(): bit for bit, label in _SIMPLE},
}
_WORD_KWARGS = {"write": "write_property", "read": "read_property"}


def permission_from_words(text: str, schema: Schema | None = None) -> dict[str, object]:
    """``make_ace`` keywords for one ADUC permission line.

    Accepts the Permissions list ("Full control", "Read", "Write all properties", "Reset password",
    "Unexpire Password", any extended right's CN/display name), and the Properties list as
    "Write <attribute or property set>" / "Read <...>" ("Write pwdLastSet", "Write Account
    Restrictions"). Raises :class:`RightsError` for anything else.
    """
    schema = schema or default_schema()
    words = " ".join(text.split())
    key = words.casefold()
    if key in GENERAL_PERMISSIONS:
        return {"mask": GENERAL_PERMISSIONS[key]}
    found = _BY_NAME.get(key)
    if found is not None:
        return {"right": found.cn}
    verb, _, target = words.partition(" ")
    if verb.casefold() in _WORD_KWARGS and target:
        try:
            property_guid(schema, target)
        except RightsError:
            why = f"no attribute or property set called {target!r}"
            raise RightsError(f"unknown right {text!r}: {why}") from None
        return {_WORD_KWARGS[verb.casefold()]: target}
    raise RightsError(
        f"unknown right {text!r}: use an ADUC permission (Full control, Read, Write all properties, "
        "Reset password, Unexpire Password...) or 'Write <attribute>' / 'Read <attribute>'"
    )


_APPLIES_SHORT = {
    "this": AppliesTo.THIS_OBJECT_ONLY,
    "tree": AppliesTo.THIS_OBJECT_AND_DESCENDANTS,
    "descendants": AppliesTo.ALL_DESCENDANTS,
}


def applies_to_from_words(text: str, schema: Schema | None = None) -> tuple[AppliesTo, str | None]:
    """ADUC's "Applies to" words -> (:class:`AppliesTo`, descendant class lDAPDisplayName or None).

    "This object only", "This object and all descendant objects", "All descendant objects",
    "Descendant User objects" (any class: "Descendant Organizational Unit objects",
    "Descendant inetOrgPerson objects"); the short forms ``this``, ``tree``, ``descendants`` and
    ``descendant:<class>`` are accepted too.
    """
    schema = schema or default_schema()
    words = " ".join(text.split())
    key = words.casefold()
    for choice in _APPLIES_SHORT.values():
        if key == choice.value.casefold():
            return choice, None
    if key in _APPLIES_SHORT:
        return _APPLIES_SHORT[key], None
    cls_words = None
    if key.startswith("descendant:"):
        cls_words = words.split(":", 1)[1]
    elif key.startswith("descendant ") and key.endswith(" objects"):
        cls_words = words[len("descendant "):-len(" objects")]
    if cls_words:
        # ADUC shows class names with spaces ("Organizational Unit"); the schema has none.
        cls = schema.find_class(cls_words.replace(" ", ""))
        if cls is not None:
            return AppliesTo.DESCENDANT_CLASS, cls.name
        raise RightsError(f"unknown class {cls_words!r} in Applies to {text!r}")
    raise RightsError(
        f"unknown Applies to {text!r}: use 'This object only', 'This object and all descendant objects', "
        "'All descendant objects' or 'Descendant <Class> objects'"
    )


def applies_to_text(ace: Ace, schema: Schema | None = None) -> str:
    """ADUC's "Applies to" column for ``ace`` ("Descendant User objects", "This object only"...)."""
    applies, cls = applies_to_of(ace, schema)
    if applies is AppliesTo.DESCENDANT_CLASS:
        return applies.value.format(cls[:1].upper() + cls[1:] if cls else "?")
    return applies.value


def _access_text(ace: Ace, schema: Schema) -> str:
    mask, g = ace.mask, ace.object_type
    if g is None:
        if mask & _FULL == _FULL:
            return "Full control"
        return ", ".join(label for bit, label in _SIMPLE if mask & bit) or "Special"
    parts: list[str] = []
    r = right_by_guid(g)
    at = schema.attribute_by_guid(g)
    cls = schema.class_by_guid(g)
    if mask & c.RIGHT_DS_CONTROL_ACCESS:
        parts.append(r.aduc_label if r else f"Extended right {g}")
    if mask & c.RIGHT_DS_WRITE_PROPERTY_EXTENDED:
        parts.append(r.aduc_label if r else f"Validated write {g}")
    for bit, verb in ((c.RIGHT_DS_READ_PROPERTY, "Read"), (c.RIGHT_DS_WRITE_PROPERTY, "Write")):
        if mask & bit:
            target = at.name if at else (r.aduc_label if r else str(g))
            parts.append(f"{verb} {target}")
    for bit, verb in ((c.RIGHT_DS_CREATE_CHILD, "Create"), (c.RIGHT_DS_DELETE_CHILD, "Delete")):
        if mask & bit:
            parts.append(f"{verb} {cls.name if cls else g} objects")
    return ", ".join(parts) or "Special"


def describe_ace(
    ace: Ace,
    domain_sid: str,
    resolve_name: Callable[[str], str | None] | None = None,
    schema: Schema | None = None,
) -> dict[str, object]:
    """The ADUC Advanced Security row for ``ace`` (type, principal, access, applies to, inherited)."""
    schema = schema or default_schema()
    principal = (resolve_name(ace.sid) if resolve_name else None) or ace.sid
    applies_text = applies_to_text(ace, schema)
    return {
        "type": "Deny" if ace.is_deny else ("Audit" if ace.is_audit else "Allow"),
        "principal": principal,
        "access": _access_text(ace, schema),
        "applies_to": applies_text,
        "inherited": ace.inherited,
        "domain_sid": domain_sid,
    }
