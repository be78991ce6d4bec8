"""The tutorial's steps as admin actions: what "Enable Microsoft Entra password writeback" asks for.

Each grant is written the way ADUC writes it: read the domain root's DACL with the SD flags
control, add explicit ACEs, write the DACL back, and let the DC re-propagate. The same
functions serve the lab builder (healthy labs), the fault catalogue (as the fix) and
the doctor (as the expected state).
"""

from __future__ import annotations

from dataclasses import dataclass

from fakes.ad.rights import AppliesTo, make_ace
from fakes.ad.security.descriptor import Ace


@dataclass(frozen=True)
class TutorialGrant:
    """One row of the tutorial's permission table."""

    key: str
    label: str
    applies_to: AppliesTo
    right: str | None = None
    write_property: str | None = None
    descendant_class: str | None = None

    def ace(self, sid: str) -> Ace:
        return make_ace(
            sid,
            right=self.right,
            write_property=self.write_property,
            applies_to=self.applies_to,
            descendant_class=self.descendant_class,
        )


#: The tutorial's five grants for the connector account on the domain root (FACTS.md 5.4).
TUTORIAL_GRANTS: tuple[TutorialGrant, ...] = (
    TutorialGrant("reset", "Reset password", AppliesTo.DESCENDANT_CLASS, right="Reset Password",
                  descendant_class="user"),
    TutorialGrant("change", "Change password", AppliesTo.DESCENDANT_CLASS, right="Change Password",
                  descendant_class="user"),
    TutorialGrant("lockouttime", "Write lockoutTime", AppliesTo.DESCENDANT_CLASS,
                  write_property="lockoutTime", descendant_class="user"),
    TutorialGrant("pwdlastset", "Write pwdLastSet", AppliesTo.DESCENDANT_CLASS,
                  write_property="pwdLastSet", descendant_class="user"),
    TutorialGrant("unexpire", "Unexpire Password", AppliesTo.THIS_OBJECT_AND_DESCENDANTS,
                  right="Unexpire Password"),
)

GRANTS_BY_KEY = {g.key: g for g in TUTORIAL_GRANTS}


def tutorial_aces(sid: str) -> list[Ace]:
    """The tutorial's ACEs for the account with objectSid ``sid``."""
    return [g.ace(sid) for g in TUTORIAL_GRANTS]
