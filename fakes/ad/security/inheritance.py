"""Security descriptor creation, inheritance and SD modify merging for directory objects.

MS-DTYP 2.5.3.4 (CreateSecurityDescriptor / ComputeACL) as profiled by MS-ADTS 6.1.3: every DS object
is a container (so CONTAINER_INHERIT is what matters), ACEs with an InheritedObjectType are
effective only on objects of that structural class, and the DACL/SACL get AUTO_INHERITED.
Where MS-DTYP's pseudo-code and Windows disagree we follow the behaviour Samba's
``libcli/security/create_descriptor.c`` reproduces (reference/FACTS.md 5.4 and 5.6).
"""

from __future__ import annotations

from uuid import UUID

from fakes.ad.sid import CREATOR_GROUP, CREATOR_OWNER

from .constants import (
    ACCESS_ALLOWED_ACE_TYPE,
    ACCESS_ALLOWED_OBJECT_ACE_TYPE,
    ACCESS_DENIED_ACE_TYPE,
    ACCESS_DENIED_OBJECT_ACE_TYPE,
    ACL_REVISION_DS,
    ALL_SECURITY_INFORMATION,
    AUDIT_FLAGS,
    CONTAINER_INHERIT_ACE,
    DACL_SECURITY_INFORMATION,
    DENY_TYPES,
    DS_GENERIC_ALL,
    DS_GENERIC_EXECUTE,
    DS_GENERIC_READ,
    DS_GENERIC_WRITE,
    GENERIC_ALL,
    GENERIC_BITS,
    GENERIC_EXECUTE,
    GENERIC_READ,
    GENERIC_WRITE,
    GROUP_SECURITY_INFORMATION,
    INHERIT_ONLY_ACE,
    INHERITED_ACE,
    NO_PROPAGATE_INHERIT_ACE,
    OBJECT_INHERIT_ACE,
    OWNER_SECURITY_INFORMATION,
    SACL_SECURITY_INFORMATION,
    SE_DACL_AUTO_INHERIT_REQ,
    SE_DACL_AUTO_INHERITED,
    SE_DACL_PRESENT,
    SE_DACL_PROTECTED,
    SE_SACL_AUTO_INHERIT_REQ,
    SE_SACL_AUTO_INHERITED,
    SE_SACL_PRESENT,
    SE_SACL_PROTECTED,
    SE_SELF_RELATIVE,
    SYSTEM_AUDIT_ACE_TYPE,
    SYSTEM_AUDIT_OBJECT_ACE_TYPE,
)
from .descriptor import Ace, Acl, SecurityDescriptor

__all__ = ["apply_sd_update", "canonicalize", "compute_descriptor", "inherit_acl", "map_generic"]

_INHERIT_FLAGS = OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE | NO_PROPAGATE_INHERIT_ACE
_DOWNGRADE = {
    ACCESS_ALLOWED_OBJECT_ACE_TYPE: ACCESS_ALLOWED_ACE_TYPE,
    ACCESS_DENIED_OBJECT_ACE_TYPE: ACCESS_DENIED_ACE_TYPE,
    SYSTEM_AUDIT_OBJECT_ACE_TYPE: SYSTEM_AUDIT_ACE_TYPE,
}


def map_generic(mask: int) -> int:
    """Replace GA/GR/GW/GX by their DS meanings (MS-ADTS 5.1.3.2); other bits unchanged."""
    if not mask & GENERIC_BITS:
        return mask
    out = mask & ~GENERIC_BITS
    if mask & GENERIC_ALL:
        out |= DS_GENERIC_ALL
    if mask & GENERIC_READ:
        out |= DS_GENERIC_READ
    if mask & GENERIC_WRITE:
        out |= DS_GENERIC_WRITE
    if mask & GENERIC_EXECUTE:
        out |= DS_GENERIC_EXECUTE
    return out


def _needs_expansion(ace: Ace) -> bool:
    return bool(ace.mask & GENERIC_BITS) or ace.sid == CREATOR_OWNER or ace.sid == CREATOR_GROUP


def _expanded(ace: Ace, owner: str | None, group: str | None, flags: int) -> Ace:
    """Effective copy: generic bits mapped, CREATOR OWNER/GROUP replaced, ``flags`` set."""
    sid = ace.sid
    if sid == CREATOR_OWNER and owner is not None:
        sid = owner
    elif sid == CREATOR_GROUP and group is not None:
        sid = group
    return Ace(ace.ace_type, flags, map_generic(ace.mask), sid, ace.object_type, ace.inherited_object_type)


def _sort_key(ace: Ace) -> tuple[int, bytes]:
    data = ace.to_bytes()
    return -len(data), data


def canonicalize(acl: Acl) -> Acl:
    """Order an ACL the way AD stores it: explicit deny, other explicit, then inherited ACEs unchanged.

    Within each explicit group Windows sorts by ACE size (largest first) and then by the ACE's bytes;
    measured on a Windows DC's domain-root DACL (LDP dump), which is how MS-ADTS 6.1.3.1's
    "octet string order" plays out. The sort is stable and idempotent.
    """
    deny: list[Ace] = []
    other: list[Ace] = []
    inherited: list[Ace] = []
    for ace in acl.aces:
        if ace.flags & INHERITED_ACE:
            inherited.append(ace)
        elif ace.ace_type in DENY_TYPES:
            deny.append(ace)
        else:
            other.append(ace)
    deny.sort(key=_sort_key)
    other.sort(key=_sort_key)
    return Acl((*deny, *other, *inherited), acl.revision)


def _explicit_aces(acl: Acl | None, owner: str | None, group: str | None, protected: bool) -> list[Ace]:
    """The creator SD's own ACEs as stored: ID ones dropped (or made explicit when protected)."""
    out: list[Ace] = []
    if acl is None:
        return out
    for ace in acl.aces:
        if ace.flags & INHERITED_ACE:
            if not protected:
                continue
            # "Disable inheritance" keeps the ACEs it is given, as explicit ones (Samba does the same).
            ace = ace.replace(flags=ace.flags & ~INHERITED_ACE)
        flags = ace.flags
        if flags & INHERIT_ONLY_ACE:
            if flags & (CONTAINER_INHERIT_ACE | OBJECT_INHERIT_ACE):
                out.append(ace)
            # An IO ACE that nothing inherits is meaningless; Windows drops it.
            continue
        if not _needs_expansion(ace):
            out.append(ace)
        elif flags & CONTAINER_INHERIT_ACE:
            # Keep the generic/CREATOR form for children, add the effective form for this object.
            out.append(ace.replace(flags=flags | INHERIT_ONLY_ACE))
            out.append(_expanded(ace, owner, group, flags & AUDIT_FLAGS))
        else:
            out.append(_expanded(ace, owner, group, flags & AUDIT_FLAGS))
    return out


def inherit_acl(parent_acl: Acl | None, object_class: UUID, owner: str | None,
                group: str | None) -> list[Ace]:
    """ACEs a child of structural class ``object_class`` inherits from its parent's ACL, in parent order."""
    out: list[Ace] = []
    if parent_acl is None:
        return out
    for ace in parent_acl.aces:
        flags = ace.flags
        if not flags & (CONTAINER_INHERIT_ACE | OBJECT_INHERIT_ACE):
            continue
        # Every DS object is a container: only CI makes an ACE effective on the child.
        applies = bool(flags & CONTAINER_INHERIT_ACE)
        if applies and ace.inherited_object_type is not None and ace.inherited_object_type != object_class:
            applies = False
        if flags & NO_PROPAGATE_INHERIT_ACE:
            if applies:
                out.append(_effective_copy(ace, owner, group))
            continue
        if not applies:
            out.append(ace.replace(flags=flags | INHERITED_ACE | INHERIT_ONLY_ACE))
        elif _needs_expansion(ace):
            out.append(_effective_copy(ace, owner, group))
            out.append(ace.replace(flags=flags | INHERITED_ACE | INHERIT_ONLY_ACE))
        else:
            out.append(ace.replace(flags=(flags | INHERITED_ACE) & ~INHERIT_ONLY_ACE))
    return out


def _effective_copy(ace: Ace, owner: str | None, group: str | None) -> Ace:
    """Inherited ACE effective on this object only: no inheritance flags, no inherited object type;
    an object ACE left without any GUID becomes the plain type (Samba create_descriptor.c)."""
    copy = _expanded(ace, owner, group, (ace.flags & AUDIT_FLAGS) | INHERITED_ACE)
    if copy.inherited_object_type is None and copy.object_type is None:
        return copy if copy.ace_type not in _DOWNGRADE else copy.replace(ace_type=_DOWNGRADE[copy.ace_type])
    if copy.object_type is None:
        return Ace(_DOWNGRADE.get(copy.ace_type, copy.ace_type), copy.flags, copy.mask, copy.sid)
    return copy.replace(inherited_object_type=None)


def _compose(explicit: Acl | None, explicit_protected: bool, parent: Acl | None, object_class: UUID,
             owner: str | None, group: str | None) -> tuple[list[Ace], bool]:
    own = canonicalize(Acl(tuple(_explicit_aces(explicit, owner, group, explicit_protected)))).aces
    inherited = [] if explicit_protected else inherit_acl(parent, object_class, owner, group)
    return [*own, *inherited], bool(inherited)


def compute_descriptor(parent: SecurityDescriptor | None, explicit: SecurityDescriptor, object_class: UUID,
                       *, owner: str | None = None, group: str | None = None) -> SecurityDescriptor:
    """The SD stored on an object created (or re-propagated) under ``parent``.

    ``explicit`` is the creator SD (client-supplied or the class defaultSecurityDescriptor) or, on
    re-propagation, the object's current SD. Its owner/group win; ``owner``/``group`` are the
    defaults used when it has none (the DC computes them per MS-ADTS 6.1.3.7). ``parent`` None means
    an NC root, which inherits nothing.
    """
    new_owner = explicit.owner if explicit.owner is not None else owner
    new_group = explicit.group if explicit.group is not None else group
    dacl_protected = bool(explicit.control & SE_DACL_PROTECTED)
    sacl_protected = bool(explicit.control & SE_SACL_PROTECTED)
    dacl_aces, _ = _compose(explicit.dacl, dacl_protected, parent.dacl if parent else None, object_class,
                            new_owner, new_group)
    sacl_aces, sacl_inherited = _compose(explicit.sacl, sacl_protected, parent.sacl if parent else None,
                                         object_class, new_owner, new_group)
    # A stored DACL is never NULL (MS-ADTS 6.1.3): with nothing to put in it, it is empty.
    control = SE_SELF_RELATIVE | SE_DACL_PRESENT | SE_DACL_AUTO_INHERITED
    if dacl_protected:
        control |= SE_DACL_PROTECTED
    sacl: Acl | None = None
    if explicit.sacl is not None or sacl_inherited:
        sacl = Acl(tuple(sacl_aces), explicit.sacl.revision if explicit.sacl is not None else ACL_REVISION_DS)
        control |= SE_SACL_PRESENT | SE_SACL_AUTO_INHERITED
        if sacl_protected:
            control |= SE_SACL_PROTECTED
    return SecurityDescriptor(new_owner, new_group, Acl(tuple(dacl_aces)), sacl, control,
                              explicit.rm_control)


def _explicit_only(acl: Acl | None, protected: bool) -> Acl | None:
    if acl is None or protected:
        return acl
    return Acl(tuple(a for a in acl.aces if not a.flags & INHERITED_ACE), acl.revision)


def apply_sd_update(current: SecurityDescriptor, new: SecurityDescriptor,
                    sd_flags: int) -> SecurityDescriptor:
    """Merge an nTSecurityDescriptor modify into ``current`` under SD_FLAGS semantics (FACTS 5.2).

    Only the parts named by ``sd_flags`` (0 means all four) are taken from ``new``; a part ``new``
    does not carry is left as it was. Client-supplied inherited ACEs are dropped, except in a
    protected ACL where they become explicit. Run :func:`compute_descriptor` with the parent next.
    """
    flags = sd_flags & ALL_SECURITY_INFORMATION or ALL_SECURITY_INFORMATION
    owner, group = current.owner, current.group
    dacl, sacl = current.dacl, current.sacl
    dacl_bits = SE_DACL_PRESENT | SE_DACL_PROTECTED | SE_DACL_AUTO_INHERIT_REQ | SE_DACL_AUTO_INHERITED
    sacl_bits = SE_SACL_PRESENT | SE_SACL_PROTECTED | SE_SACL_AUTO_INHERIT_REQ | SE_SACL_AUTO_INHERITED
    control = current.control
    if flags & OWNER_SECURITY_INFORMATION and new.owner is not None:
        owner = new.owner
    if flags & GROUP_SECURITY_INFORMATION and new.group is not None:
        group = new.group
    if flags & DACL_SECURITY_INFORMATION and new.dacl is not None:
        dacl = _explicit_only(new.dacl, bool(new.control & SE_DACL_PROTECTED))
        control = (control & ~dacl_bits) | (new.control & dacl_bits)
    if flags & SACL_SECURITY_INFORMATION and new.sacl_present:
        sacl = _explicit_only(new.sacl, bool(new.control & SE_SACL_PROTECTED))
        control = (control & ~sacl_bits) | (new.control & sacl_bits)
    return SecurityDescriptor(owner, group, dacl, sacl, control, current.rm_control)
