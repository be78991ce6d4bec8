"""Access checks against a directory object's security descriptor (MS-ADTS 5.1.3.3, FACTS.md 5.6).

Rules shared by every check: a missing or NULL DACL grants everything; an empty one grants nothing
(beyond the owner's implicit rights for :func:`check_access`); inherit-only and audit ACEs are
skipped; PRINCIPAL_SELF in an ACE stands for the object's own SID (``self_sid``); each access bit is
decided by the first ACE that mentions it (so a deny after an allow does not take the bit back).

Owner implicit rights: READ_CONTROL | WRITE_DAC, granted before the DACL walk and only when the
DACL holds no OWNER RIGHTS (S-1-3-4) ACE -- MS-DTYP 2.5.3.2. MS-ADTS 5.1.3.3.2 adds WRITE_OWNER; we
follow MS-DTYP because Windows requires WO (or SeTakeOwnership) to change the owner even for the
owner, and the DC layer handles SeTakeOwnership/DS-Set-Owner separately.

All functions are pure and allocate nothing per ACE: they run on every LDAP operation.
"""

from __future__ import annotations

from uuid import UUID

from fakes.ad.sid import OWNER_RIGHTS, PRINCIPAL_SELF

from .constants import (
    ACCESS_ALLOWED_ACE_TYPE,
    ACCESS_ALLOWED_OBJECT_ACE_TYPE,
    ACCESS_DENIED_ACE_TYPE,
    ACCESS_DENIED_OBJECT_ACE_TYPE,
    GENERIC_BITS,
    INHERIT_ONLY_ACE,
    RIGHT_DS_CONTROL_ACCESS,
    RIGHT_DS_WRITE_PROPERTY_EXTENDED,
    RIGHT_READ_CONTROL,
    RIGHT_WRITE_DAC,
)
from .descriptor import SecurityDescriptor
from .inheritance import map_generic

__all__ = [
    "OWNER_IMPLICIT_RIGHTS",
    "check_access",
    "child_access",
    "has_control_access",
    "property_access",
    "validated_write",
]

#: What ownership alone grants (see module docstring for the MS-DTYP vs MS-ADTS choice).
OWNER_IMPLICIT_RIGHTS = RIGHT_READ_CONTROL | RIGHT_WRITE_DAC

_ALLOW = ACCESS_ALLOWED_ACE_TYPE
_DENY = ACCESS_DENIED_ACE_TYPE
_OALLOW = ACCESS_ALLOWED_OBJECT_ACE_TYPE
_ODENY = ACCESS_DENIED_OBJECT_ACE_TYPE
_OBJ = (_OALLOW, _ODENY)
_GRANTS = (_ALLOW, _OALLOW)


def _effective_token(sd: SecurityDescriptor, token: frozenset[str]) -> frozenset[str]:
    # OWNER RIGHTS ACEs apply to whoever owns the object.
    if sd.owner is not None and sd.owner in token and OWNER_RIGHTS not in token:
        return token | {OWNER_RIGHTS}
    return token


def _walk(aces: tuple, token: frozenset[str], desired: int, granted: int,
          nodes: frozenset[UUID] | tuple | None, self_sid: str | None) -> int:
    """The per-bit DACL walk (MS-ADTS 5.1.3.3.2): the first ACE deciding a bit wins; IO ACEs skipped.

    ``nodes`` are the object-type GUIDs that apply (class, property set, attribute); with None,
    object ACEs that name an ObjectType are skipped (plain object-level rights). ``granted``
    starts with any implicit owner rights.
    """
    denied = 0
    for ace in aces:
        if ace.flags & INHERIT_ONLY_ACE:
            continue
        kind = ace.ace_type
        if kind in _OBJ:
            if ace.object_type is not None and (nodes is None or ace.object_type not in nodes):
                continue
        elif kind not in (_ALLOW, _DENY):
            continue
        sid = ace.sid
        if sid == PRINCIPAL_SELF and self_sid is not None:
            sid = self_sid
        if sid not in token:
            continue
        bits = ace.mask
        if bits & GENERIC_BITS:
            bits = map_generic(bits)
        if kind in _GRANTS:
            granted |= bits & ~denied
        else:
            denied |= bits & ~granted
        if (granted | denied) & desired == desired:
            break
    return granted & desired


def check_access(sd: SecurityDescriptor, token: frozenset[str], desired: int, *,
                 self_sid: str | None = None) -> int:
    """Subset of ``desired`` granted for object-level rights (RC, WD, WO, SD, DT, LC, CC/DC for any class...).

    Object ACEs that carry an ObjectType are about a specific attribute/class/right and never grant
    or deny these plain bits.
    """
    dacl = sd.dacl
    if dacl is None:
        return desired
    granted = 0
    owner_in_token = sd.owner is not None and sd.owner in token
    if owner_in_token:
        if not any(ace.sid == OWNER_RIGHTS for ace in dacl.aces):
            granted = OWNER_IMPLICIT_RIGHTS
        token = _effective_token(sd, token)
    return _walk(dacl.aces, token, desired, granted, None, self_sid)


def _first_match(sd: SecurityDescriptor, token: frozenset[str], bit: int, right: UUID,
                 self_sid: str | None) -> bool:
    dacl = sd.dacl
    if dacl is None:
        return True
    token = _effective_token(sd, token)
    for ace in dacl.aces:
        if ace.flags & INHERIT_ONLY_ACE:
            continue
        kind = ace.ace_type
        if kind in _OBJ:
            if ace.object_type is not None and ace.object_type != right:
                continue
        elif kind not in (_ALLOW, _DENY):
            continue
        mask = ace.mask
        if mask & GENERIC_BITS:
            mask = map_generic(mask)
        if not mask & bit:
            continue
        sid = ace.sid
        if sid == PRINCIPAL_SELF and self_sid is not None:
            sid = self_sid
        if sid not in token:
            continue
        return kind in _GRANTS
    return False


def has_control_access(sd: SecurityDescriptor, token: frozenset[str], right: UUID, *,
                       self_sid: str | None = None) -> bool:
    """Control access right ``right`` (e.g. Reset Password): the first ACE with CR that names it
    (object ACE with that GUID or none, or a plain A/D) decides (MS-ADTS 5.1.3.3.4)."""
    return _first_match(sd, token, RIGHT_DS_CONTROL_ACCESS, right, self_sid)


def validated_write(sd: SecurityDescriptor, token: frozenset[str], right: UUID, *,
                    self_sid: str | None = None) -> bool:
    """Validated write ``right`` (SW/VW bit), decided like a control access right (MS-ADTS 5.1.3.3.5)."""
    return _first_match(sd, token, RIGHT_DS_WRITE_PROPERTY_EXTENDED, right, self_sid)


def _object_walk(sd: SecurityDescriptor, token: frozenset[str], mask: int, nodes: frozenset[UUID] | tuple,
                 self_sid: str | None) -> bool:
    dacl = sd.dacl
    if dacl is None:
        return True
    token = _effective_token(sd, token)
    return _walk(dacl.aces, token, mask, 0, nodes, self_sid) == mask


def property_access(sd: SecurityDescriptor, token: frozenset[str], mask: int, *, class_guid: UUID,
                    attribute: UUID, property_set: UUID | None, self_sid: str | None = None) -> bool:
    """RP and/or WP (``mask``) on one attribute, via the object-type tree class -> property set ->
    attribute (MS-ADTS 5.1.3.3.3): an ACE counts when it has no ObjectType or its ObjectType is the
    class, the attribute's property set or the attribute itself. Grants and denies at other nodes
    cannot reach this attribute's node."""
    nodes = (class_guid, attribute) if property_set is None else (class_guid, property_set, attribute)
    return _object_walk(sd, token, mask, nodes, self_sid)


def child_access(sd: SecurityDescriptor, token: frozenset[str], mask: int, *, child_class: UUID,
                 self_sid: str | None = None) -> bool:
    """CC and/or DC (``mask``) for children of class ``child_class``."""
    return _object_walk(sd, token, mask, (child_class,), self_sid)
