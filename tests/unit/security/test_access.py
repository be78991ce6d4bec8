"""Access checks: unit cases from FACTS.md 5.6 / Samba's acl.py and a brute-force per-bit oracle."""

from __future__ import annotations

from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.ad.security import constants as C
from fakes.ad.security.access import (
    check_access,
    child_access,
    has_control_access,
    property_access,
    validated_write,
)
from fakes.ad.security.descriptor import Ace, Acl, SecurityDescriptor
from fakes.ad.security.inheritance import map_generic

DOM = "S-1-5-21-1-2-3"
ME = DOM + "-1105"
OTHER = DOM + "-1106"
TOKEN = frozenset({ME, "S-1-1-0", "S-1-5-11", DOM + "-513"})
RESET = UUID("00299570-246d-11d0-a768-00aa006e0529")
CHANGE = UUID("ab721a53-1e2f-11d0-9819-00aa0040529b")
USER = UUID("bf967aba-0de6-11d0-a285-00aa003049e2")
GROUP = UUID("bf967a9c-0de6-11d0-a285-00aa003049e2")
UAR = UUID("4c164200-20c0-11d0-a768-00aa006e0529")  # User-Account-Restrictions property set
PWDLASTSET = UUID("bf967a0a-0de6-11d0-a285-00aa003049e2")
LOCKOUT = UUID("28630ebf-41d5-11d1-a9c1-0000f80367c1")
VW_DNS = UUID("72e39547-7b18-11d1-adef-00c04fd8d5cd")


def sd(text: str) -> SecurityDescriptor:
    return SecurityDescriptor.from_sddl(text, DOM)


def test_samba_deny_wp_self_does_not_block_reset_right() -> None:
    # FACTS 5.6 / Samba acl.py AclCARTests: the reset is a CR check; WP is irrelevant.
    target = sd(f"O:DAD:(D;;WP;;;PS)(OA;;CR;{RESET};;PS)")
    assert has_control_access(target, TOKEN, RESET, self_sid=ME)
    assert not has_control_access(target, TOKEN, RESET, self_sid=OTHER)
    plain_wp = sd("O:DAD:(A;;WP;;;PS)")
    assert not has_control_access(plain_wp, TOKEN, RESET, self_sid=ME)


def test_control_access_first_matching_ace_wins() -> None:
    deny_first = sd(f"O:DAD:(OD;;CR;{RESET};;WD)(OA;;CR;{RESET};;{ME})")
    assert not has_control_access(deny_first, TOKEN, RESET)
    allow_first = sd(f"O:DAD:(OA;;CR;{RESET};;{ME})(OD;;CR;{RESET};;WD)")
    assert has_control_access(allow_first, TOKEN, RESET)
    other_right = sd(f"O:DAD:(OD;;CR;{CHANGE};;WD)(OA;;CR;;;{ME})")
    assert has_control_access(other_right, TOKEN, RESET)  # no-GUID OA grants every right
    assert not has_control_access(other_right, TOKEN, CHANGE)
    plain_all = sd(f"O:DAD:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;{ME})")
    assert has_control_access(plain_all, TOKEN, RESET)  # DA's reset comes from a plain allow with CR
    inherit_only = sd(f"O:DAD:(OA;CIIO;CR;{RESET};;{ME})")
    assert not has_control_access(inherit_only, TOKEN, RESET)
    assert not has_control_access(sd("O:DAD:"), TOKEN, RESET)
    assert has_control_access(SecurityDescriptor(DOM + "-512", None, None), TOKEN, RESET)


def test_validated_write_uses_sw_bit() -> None:
    target = sd(f"O:DAD:(OA;;SW;{VW_DNS};;{ME})(OA;;CR;{RESET};;{ME})")
    assert validated_write(target, TOKEN, VW_DNS)
    assert not validated_write(target, TOKEN, RESET)
    assert not has_control_access(target, TOKEN, VW_DNS)


def test_object_level_rights_owner_and_dacl_states() -> None:
    nothing = sd(f"O:{ME}D:")
    assert check_access(nothing, TOKEN, C.RIGHT_READ_CONTROL | C.RIGHT_WRITE_DAC | C.RIGHT_WRITE_OWNER) == (
        C.RIGHT_READ_CONTROL | C.RIGHT_WRITE_DAC
    )  # owner implicit rights survive an empty DACL; WO is not implicit (MS-DTYP choice)
    deny_owner = sd(f"O:{ME}D:(D;;RCWD;;;{ME})")
    assert check_access(deny_owner, TOKEN, C.RIGHT_WRITE_DAC) == C.RIGHT_WRITE_DAC
    owner_rights = sd(f"O:{ME}D:(A;;RC;;;OW)")
    assert check_access(owner_rights, TOKEN, C.RIGHT_READ_CONTROL | C.RIGHT_WRITE_DAC) == C.RIGHT_READ_CONTROL
    assert check_access(sd("O:DAD:"), TOKEN, C.RIGHT_READ_CONTROL) == 0
    assert check_access(SecurityDescriptor(DOM + "-512", None, None), TOKEN, 0xF01FF) == 0xF01FF
    null_dacl = sd("O:DAD:NO_ACCESS_CONTROL")
    assert check_access(null_dacl, TOKEN, C.RIGHT_DELETE) == C.RIGHT_DELETE


def test_deny_after_allow_does_not_remove_and_object_aces_do_not_grant_plain_bits() -> None:
    target = sd(f"O:DAD:(A;;RCSD;;;{ME})(D;;SDWD;;;WD)(A;;WD;;;{ME})(OA;;WO;{USER};;{ME})(A;IO;WO;;;{ME})")
    assert check_access(target, TOKEN, C.RIGHT_DELETE | C.RIGHT_READ_CONTROL) == (
        C.RIGHT_DELETE | C.RIGHT_READ_CONTROL
    )
    assert check_access(target, TOKEN, C.RIGHT_WRITE_DAC) == 0
    assert check_access(target, TOKEN, C.RIGHT_WRITE_OWNER) == 0
    generic = sd(f"O:DAD:(A;;GA;;;{ME})")
    assert check_access(generic, TOKEN, C.RIGHT_DS_DELETE_TREE) == C.RIGHT_DS_DELETE_TREE


def test_property_access_object_type_tree() -> None:
    # WP on User-Account-Restrictions grants pwdLastSet (member) but not lockoutTime (in no property set).
    target = sd(f"O:DAD:(OA;;WP;{UAR};;{ME})(OA;;RP;{LOCKOUT};;{ME})")
    wp = C.RIGHT_DS_WRITE_PROPERTY
    assert property_access(target, TOKEN, wp, class_guid=USER, attribute=PWDLASTSET, property_set=UAR)
    assert not property_access(target, TOKEN, wp, class_guid=USER, attribute=LOCKOUT, property_set=None)
    assert property_access(target, TOKEN, C.RIGHT_DS_READ_PROPERTY, class_guid=USER, attribute=LOCKOUT,
                           property_set=None)
    # A deny on the property set beats a later attribute allow; an earlier attribute allow wins.
    deny_set = sd(f"O:DAD:(OD;;WP;{UAR};;WD)(OA;;WP;{PWDLASTSET};;{ME})")
    assert not property_access(deny_set, TOKEN, wp, class_guid=USER, attribute=PWDLASTSET, property_set=UAR)
    allow_first = sd(f"O:DAD:(OA;;WP;{PWDLASTSET};;{ME})(OD;;WP;{UAR};;WD)")
    assert property_access(allow_first, TOKEN, wp, class_guid=USER, attribute=PWDLASTSET, property_set=UAR)
    # Class-level grant covers every attribute; a GUID for another class does not.
    by_class = sd(f"O:DAD:(OA;;WP;{USER};;{ME})")
    assert property_access(by_class, TOKEN, wp, class_guid=USER, attribute=LOCKOUT, property_set=None)
    assert not property_access(by_class, TOKEN, wp, class_guid=GROUP, attribute=LOCKOUT, property_set=None)
    self_write = sd("O:DAD:(A;;RPWP;;;PS)")
    assert property_access(self_write, TOKEN, wp | C.RIGHT_DS_READ_PROPERTY, class_guid=USER,
                           attribute=LOCKOUT, property_set=None, self_sid=ME)
    assert not property_access(self_write, TOKEN, wp, class_guid=USER, attribute=LOCKOUT, property_set=None)


def test_child_access_by_class() -> None:
    target = sd(f"O:DAD:(OA;;CCDC;{USER};;{ME})(OD;;CC;{GROUP};;WD)(A;;CC;;;{ME})")
    assert child_access(target, TOKEN, C.RIGHT_DS_CREATE_CHILD | C.RIGHT_DS_DELETE_CHILD, child_class=USER)
    assert not child_access(target, TOKEN, C.RIGHT_DS_CREATE_CHILD, child_class=GROUP)
    assert child_access(target, TOKEN, C.RIGHT_DS_CREATE_CHILD, child_class=UUID(int=5))
    assert not child_access(target, TOKEN, C.RIGHT_DS_DELETE_CHILD, child_class=UUID(int=5))


# --- brute-force oracle ---
SIDS = st.sampled_from([ME, OTHER, "S-1-1-0", "S-1-5-10", "S-1-5-18", DOM + "-512"])
GUIDS = st.sampled_from([None, USER, GROUP, UAR, PWDLASTSET, LOCKOUT, RESET])
MASKS = st.integers(0, 0xFFFFFFFF) | st.sampled_from([0x10, 0x20, 0x30, 0x100, 0x20000, C.GENERIC_ALL])


@st.composite
def dacls(draw: st.DrawFn) -> SecurityDescriptor:
    aces = []
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from([0, 1, 2, 5, 6]))
        obj = kind in (5, 6)
        flags = draw(st.sampled_from([0, C.INHERIT_ONLY_ACE, C.INHERITED_ACE, C.CONTAINER_INHERIT_ACE]))
        aces.append(Ace(kind, flags, draw(MASKS), draw(SIDS), draw(GUIDS) if obj else None, None))
    owner = draw(st.sampled_from([ME, OTHER, DOM + "-512"]))
    return SecurityDescriptor(owner, None, Acl(tuple(aces)))


def naive(sd_: SecurityDescriptor, token: frozenset[str], desired: int, applies, self_sid: str | None,
          owner_bits: int) -> int:  # type: ignore[no-untyped-def]
    """Decide each bit separately by scanning the DACL from the top."""
    assert sd_.dacl is not None
    granted = 0
    for bit in (1 << i for i in range(32)):
        if not desired & bit:
            continue
        if bit & owner_bits and sd_.owner in token:
            granted |= bit
            continue
        for ace in sd_.dacl.aces:
            if ace.flags & C.INHERIT_ONLY_ACE or ace.ace_type not in (0, 1, 5, 6) or not applies(ace):
                continue
            sid = self_sid if ace.sid == "S-1-5-10" and self_sid else ace.sid
            if sid in token and map_generic(ace.mask) & bit:
                if ace.ace_type in (0, 5):
                    granted |= bit
                break
    return granted


TOKENS = st.sets(st.sampled_from([ME, OTHER, "S-1-1-0", "S-1-5-18"]), max_size=3).map(frozenset)


@given(dacls(), TOKENS, MASKS, st.sampled_from([None, ME, OTHER]))
@settings(max_examples=250)
def test_check_access_matches_naive(sd_: SecurityDescriptor, token: frozenset[str], desired: int,
                                    self_sid: str | None) -> None:
    expected = naive(sd_, token, desired, lambda a: a.object_type is None, self_sid,
                     C.RIGHT_READ_CONTROL | C.RIGHT_WRITE_DAC)
    assert check_access(sd_, token, desired, self_sid=self_sid) == expected


@given(dacls(), TOKENS, st.sampled_from([0x10, 0x20, 0x30]), st.sampled_from([None, UAR]),
       st.sampled_from([PWDLASTSET, LOCKOUT]), st.sampled_from([None, ME]))
@settings(max_examples=250)
def test_property_access_matches_naive(sd_: SecurityDescriptor, token: frozenset[str], mask: int,
                                       pset: UUID | None, attr: UUID, self_sid: str | None) -> None:
    nodes = {USER, attr} | ({pset} if pset else set())
    expected = naive(sd_, token, mask, lambda a: a.object_type is None or a.object_type in nodes, self_sid, 0)
    got = property_access(sd_, token, mask, class_guid=USER, attribute=attr, property_set=pset,
                          self_sid=self_sid)
    assert got == (expected == mask)


@given(dacls(), TOKENS, st.sampled_from([RESET, CHANGE]))
@settings(max_examples=300)
def test_control_access_matches_first_match_scan(sd_: SecurityDescriptor, token: frozenset[str],
                                                 right: UUID) -> None:
    expected = bool(naive(sd_, token, C.RIGHT_DS_CONTROL_ACCESS,
                          lambda a: a.object_type is None or a.object_type == right, None, 0))
    assert has_control_access(sd_, token, right) == expected
