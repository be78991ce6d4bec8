"""Deny ACEs that break writeback, named the way an admin fixes them.

For every Deny entry that applies to the connector account's token this module says which
writeback right it takes away (Reset password, Change password, Write lockoutTime, Write
pwdLastSet, Unexpire Password), on which object it is set (explicit on the user, or set on
an OU / the domain root and inherited), what the user sees, and how to remove it (the
``simlab acl remove`` command and the ADUC steps). Pure functions over what
:mod:`simlab.doctor.adread` read; :mod:`simlab.doctor.adcheck` calls them.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fakes.ad.security import constants as K
from fakes.ad.security.descriptor import Ace, SecurityDescriptor
from fakes.ad.security.inheritance import map_generic
from simlab.acl import find_origin
from simlab.doctor.catalogue import ev, finding
from simlab.doctor.model import Evidence, Finding

_AD = "Active Directory (LDAP)"
SELF, EVERYONE = "S-1-5-10", "S-1-1-0"

#: What each denied right breaks, as the user and the Connect log show it.
EFFECTS = {
    "reset": "SSPR resets fail before the password is set: SSPR_0029, Connect 33004 (ADPermissionsError)",
    "pwdlastset": "SSPR resets fail after the password is set, when the agent writes pwdLastSet: "
                  "SSPR_0029, Connect 33004",
    "unexpire": "SSPR resets fail after the password is set: pwdLastSet = -1 needs Unexpire Password on "
                "the domain object: SSPR_0029, Connect 33004",
    "lockouttime": "account unlock (and reset with unlock) fails when the agent writes lockoutTime: "
                   "SSPR_0029, Connect 33004",
    "change": "cloud password changes written back fail (Connect 31008); resets still work",
}


@dataclass(frozen=True, slots=True)
class Right:
    """One writeback right: how ADUC names it, the access bit and the GUIDs an ACE may carry."""

    key: str
    label: str
    bit: int
    guids: frozenset


def denied_rights(ace: Ace, rights: Iterable[Right], token: frozenset[str]) -> list[Right]:
    """The ``rights`` a Deny ``ace`` takes from ``token`` where the ACE is effective."""
    if not ace.is_deny or ace.inherit_only or ace.sid not in token:
        return []
    mask = map_generic(ace.mask)
    return [r for r in rights if mask & r.bit and ace.object_type in r.guids]


def reaches_users(ace: Ace, user_class: object) -> bool:
    """An explicit ACE on a container that user objects below it inherit."""
    return (
        not ace.inherited
        and bool(ace.flags & K.CONTAINER_INHERIT_ACE)
        and not ace.flags & K.NO_PROPAGATE_INHERIT_ACE
        and ace.inherited_object_type in (None, user_class)
    )


@dataclass(frozen=True, slots=True)
class DenyCause:
    """A Deny entry that takes writeback rights away, with where it is set."""

    ace: Ace  # as set on ``set_on`` (explicit form)
    set_on: str  # the object carrying the explicit ACE
    seen_on: str  # the object the rights are checked on (the user or the domain object)
    rights: tuple[Right, ...]

    @property
    def inherited(self) -> bool:
        return self.set_on.lower() != self.seen_on.lower()

    def words(self) -> str:
        return " and ".join(r.label for r in self.rights)


def cause_for(
    ace: Ace, seen_on: str, rights: list[Right], ancestors: Sequence[tuple[str, SecurityDescriptor]]
) -> DenyCause:
    """A :class:`DenyCause` for ``ace`` found in the DACL of ``seen_on`` (inherited ones traced up)."""
    origin = find_origin(ace, ancestors)
    if origin is None:
        return DenyCause(ace, seen_on, seen_on, tuple(rights))
    return DenyCause(origin[1], origin[0], seen_on, tuple(rights))


def deny_finding(
    cause: DenyCause,
    *,
    account: str,
    sddl: str,
    row: str,
    extra: Sequence[Evidence] = (),
    user: str | None = None,
    note: str = "",
) -> Finding:
    """The ``explicit-deny`` finding for one Deny entry: the ACE, the object, the rights, the fix."""
    where = (
        f"explicit ACE on {cause.set_on}"
        if not cause.inherited
        else f"explicit ACE on {cause.set_on} (inherited by {cause.seen_on})"
    )
    how = "explicit" if not cause.inherited else f"inherited by {cause.seen_on.split(',', 1)[0]}"
    title = f"Deny {cause.words()} for {account} on {cause.set_on} ({how})"
    effects = "; ".join(EFFECTS[r.key] for r in cause.rights if r.key in EFFECTS)
    note = f". {note}" if note else ""
    evidence = [
        ev(_AD, where, f"{sddl}  [{row}]"),
        ev("doctor", "denied writeback rights", f"{cause.words()} — {effects}{note}"),
        *extra,
    ]
    fix = [
        remove_command(cause.set_on, sddl),
        f"ADUC > View > Advanced Features > {cause.set_on} > Properties > Security > Advanced: select "
        f"'{row}' > Remove > OK.",
    ]
    only_change = all(r.key == "change" for r in cause.rights)
    return finding("explicit-deny", "warning" if only_change else "error", evidence, fix, user=user,
                   title=title)


def remove_command(dn: str, sddl: str) -> str:
    """The ``simlab acl remove`` command line that deletes exactly this explicit ACE."""
    return f"simlab acl remove {shlex.quote(dn)} --ace {shlex.quote(sddl)}"


def user_cannot_change(denies: Iterable[Ace]) -> list[Ace]:
    """ADUC's "User cannot change password": explicit Deny Change Password for Everyone and SELF."""
    return [a for a in denies if not a.inherited and a.sid in (EVERYONE, SELF)]
