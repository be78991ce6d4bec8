"""Inheritance (compute_descriptor), canonical order and SD_FLAGS merges."""

from __future__ import annotations

from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.ad.security import constants as C
from fakes.ad.security.descriptor import Ace, Acl, SecurityDescriptor
from fakes.ad.security.inheritance import apply_sd_update, canonicalize, compute_descriptor, map_generic

DOM = "S-1-5-21-1-2-3"
MSOL = DOM + "-1105"
DA = DOM + "-512"
USER = UUID("bf967aba-0de6-11d0-a285-00aa003049e2")
OU = UUID("bf967aa5-0de6-11d0-a285-00aa003049e2")
RESET = "00299570-246d-11d0-a768-00aa006e0529"
UNEXPIRE = "ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501"
LOCKOUT = "28630ebf-41d5-11d1-a9c1-0000f80367c1"
PWDLASTSET = "bf967a0a-0de6-11d0-a285-00aa003049e2"
CHANGE = "ab721a53-1e2f-11d0-9819-00aa0040529b"
U = str(USER)

# FACTS.md 5.4: the tutorial's ACEs on the domain root.
TUTORIAL = (
    f"(OA;CIIO;CR;{RESET};{U};{MSOL})(OA;CIIO;WP;{LOCKOUT};{U};{MSOL})(OA;CIIO;WP;{PWDLASTSET};{U};{MSOL})"
    f"(OA;CI;CR;{UNEXPIRE};;{MSOL})(OA;CIIO;CR;{CHANGE};{U};{MSOL})"
)


def sd(text: str) -> SecurityDescriptor:
    return SecurityDescriptor.from_sddl(text, DOM)


def dacl_of(result: SecurityDescriptor) -> str:
    return result.to_sddl(DOM).split("D:", 1)[1]


def test_tutorial_aces_on_a_user_and_an_intermediate_ou() -> None:
    root = sd("O:BAG:BAD:AI" + TUTORIAL)
    creator = sd("D:(A;;RPWP;;;DA)")
    user = compute_descriptor(root, creator, USER, owner=DA, group=DA)
    assert dacl_of(user) == (
        "AI(A;;RPWP;;;DA)"
        f"(OA;CIID;CR;{RESET};{U};{MSOL})(OA;CIID;WP;{LOCKOUT};{U};{MSOL})(OA;CIID;WP;{PWDLASTSET};{U};{MSOL})"
        f"(OA;CIID;CR;{UNEXPIRE};;{MSOL})(OA;CIID;CR;{CHANGE};{U};{MSOL})"
    )
    ou = compute_descriptor(root, sd("D:"), OU, owner=DA, group=DA)
    assert f"(OA;CIIOID;CR;{RESET};{U};{MSOL})" in dacl_of(ou)
    assert f"(OA;CIID;CR;{UNEXPIRE};;{MSOL})" in dacl_of(ou)
    # The ineffective copy on the OU still reaches users below it.
    nested = compute_descriptor(ou, creator, USER, owner=DA, group=DA)
    assert dacl_of(nested) == dacl_of(user)


def test_generic_and_creator_owner_split_into_effective_and_inheritable() -> None:
    root = sd("O:BAG:BAD:(A;CI;GA;;;CO)(A;CI;GR;;;AU)")
    child = compute_descriptor(root, sd("D:"), OU, owner=MSOL, group=DA)
    assert dacl_of(child) == (
        f"AI(A;ID;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;{MSOL})(A;CIIOID;GA;;;CO)(A;ID;LCRPLORC;;;AU)(A;CIIOID;GR;;;AU)"
    )


def test_no_propagate_copied_once_and_oi_only_never_effective() -> None:
    root = sd(f"O:BAG:BAD:(A;CINP;RP;;;AU)(OA;CINP;CR;{RESET};{U};WD)(A;OI;WP;;;AU)(A;;RC;;;BU)")
    user = compute_descriptor(root, sd("D:"), USER, owner=DA, group=DA)
    # NP: effective copy only, inheritance flags and inherited object type gone (Samba create_descriptor.c).
    assert dacl_of(user) == f"AI(A;ID;RP;;;AU)(OA;ID;CR;{RESET};;WD)(A;OIIOID;WP;;;AU)"
    ou = compute_descriptor(root, sd("D:"), OU, owner=DA, group=DA)
    assert dacl_of(ou) == "AI(A;ID;RP;;;AU)(A;OIIOID;WP;;;AU)"  # NP on a non-matching class is dropped
    grandchild = compute_descriptor(user, sd("D:"), USER, owner=DA, group=DA)
    assert dacl_of(grandchild) == "AI(A;OIIOID;WP;;;AU)"


def test_protected_dacl_keeps_explicit_only_and_client_inherited_become_explicit() -> None:
    root = sd("O:BAG:BAD:(A;CI;RP;;;AU)")
    creator = sd("D:P(A;;RC;;;WD)(A;ID;WP;;;BA)")
    child = compute_descriptor(root, creator, USER, owner=DA, group=DA)
    assert dacl_of(child) == "PAI(A;;WP;;;BA)(A;;RC;;;WD)"
    assert child.protected


def test_explicit_inherited_aces_dropped_and_explicit_sorted() -> None:
    root = sd("O:BAG:BAD:(A;CI;RP;;;AU)")
    current = sd("O:DAG:DAD:AI(A;;RC;;;WD)(A;ID;WP;;;BA)(D;;WP;;;PS)(A;IO;RP;;;AU)")
    out = compute_descriptor(root, current, USER)
    assert out.owner == DA
    assert dacl_of(out) == "AI(D;;WP;;;PS)(A;;RC;;;WD)(A;CIID;RP;;;AU)"


def test_nc_root_inherits_nothing_and_sacl_inherits_with_audit_flags() -> None:
    root_creator = sd("O:BAG:BAD:(A;CI;RP;;;AU)S:(AU;CISA;WP;;;WD)(OU;CIIOSA;WP;;" + str(OU) + ";WD)")
    root = compute_descriptor(None, root_creator, UUID(int=7))
    # Explicit ACEs are stored largest first (object ACE before the plain one).
    assert root.to_sddl(DOM) == f"O:BAG:BAD:AI(A;CI;RP;;;AU)S:AI(OU;CIIOSA;WP;;{OU};WD)(AU;CISA;WP;;;WD)"
    user = compute_descriptor(root, sd("D:"), USER, owner=DA, group=DA)
    assert user.to_sddl(DOM).endswith(f"S:AI(OU;CIIOIDSA;WP;;{OU};WD)(AU;CIIDSA;WP;;;WD)")
    ou = compute_descriptor(root, sd("D:"), OU, owner=DA, group=DA)
    assert ou.to_sddl(DOM).endswith(f"S:AI(OU;CIIDSA;WP;;{OU};WD)(AU;CIIDSA;WP;;;WD)")


def test_no_dacl_anywhere_gives_empty_dacl() -> None:
    out = compute_descriptor(None, SecurityDescriptor(DA, DA, None), USER)
    assert out.dacl == Acl(()) and out.dacl_present


def test_map_generic() -> None:
    assert map_generic(C.GENERIC_ALL) == C.DS_GENERIC_ALL == 0xF01FF
    assert map_generic(C.GENERIC_READ | 0x100) == 0x20094 | 0x100
    assert map_generic(C.GENERIC_WRITE) == 0x20028
    assert map_generic(C.GENERIC_EXECUTE) == 0x20004
    assert map_generic(0x30) == 0x30


def test_apply_sd_update_honours_sd_flags() -> None:
    current = sd("O:DAG:DUD:AI(A;;RC;;;WD)(A;ID;RP;;;AU)S:AI(AU;SA;WP;;;WD)")
    new = sd("O:BAG:BAD:P(A;;WP;;;BU)(A;ID;RP;;;BA)S:(AU;FA;RP;;;WD)")
    dacl_only = apply_sd_update(current, new, C.DACL_SECURITY_INFORMATION)
    assert (dacl_only.owner, dacl_only.group) == (DA, DOM + "-513")
    # Protected: the supplied inherited ACE becomes explicit in compute_descriptor; nothing else changes.
    assert dacl_only.protected and dacl_only.sacl == current.sacl
    assert compute_descriptor(None, dacl_only, USER).to_sddl(DOM).startswith(
        "O:DAG:DUD:PAI(A;;RP;;;BA)(A;;WP;;;BU)S:AI"
    )
    owner_only = apply_sd_update(current, new, C.OWNER_SECURITY_INFORMATION)
    assert owner_only.owner == "S-1-5-32-544" and owner_only.dacl == current.dacl
    everything = apply_sd_update(current, new, 0)
    assert everything.group == "S-1-5-32-544" and everything.sacl == new.sacl
    unprotected = sd("D:(A;;WP;;;BU)(A;ID;RP;;;BA)")
    merged = apply_sd_update(current, unprotected, C.DACL_SECURITY_INFORMATION)
    assert merged.dacl is not None and [a.sid for a in merged.dacl.aces] == ["S-1-5-32-545"]


def test_canonicalize_orders_deny_first_then_size_then_bytes() -> None:
    acl = sd(f"D:(A;;RC;;;WD)(OA;;CR;{RESET};;{DA})(D;;WP;;;WD)(A;ID;RP;;;AU)(A;;RC;;;{DA})").dacl
    assert acl is not None
    out = canonicalize(acl)
    assert [(a.ace_type, a.sid) for a in out.aces] == [
        (C.ACCESS_DENIED_ACE_TYPE, "S-1-1-0"),
        (C.ACCESS_ALLOWED_OBJECT_ACE_TYPE, DA),
        (C.ACCESS_ALLOWED_ACE_TYPE, DA),
        (C.ACCESS_ALLOWED_ACE_TYPE, "S-1-1-0"),
        (C.ACCESS_ALLOWED_ACE_TYPE, "S-1-5-11"),
    ]
    assert canonicalize(out) == out


# --- properties ---
SIDS = st.sampled_from(["S-1-1-0", "S-1-5-11", "S-1-3-0", "S-1-3-1", "S-1-5-10", DA, MSOL])
CLASSES = st.sampled_from([USER, OU, UUID(int=3)])
FLAGS = st.sets(st.sampled_from([C.OBJECT_INHERIT_ACE, C.CONTAINER_INHERIT_ACE, C.NO_PROPAGATE_INHERIT_ACE,
                                 C.INHERIT_ONLY_ACE, C.INHERITED_ACE])).map(sum)
MASKS = st.sampled_from([0x10, 0x20, 0x100, 0x30, 0x20094, C.GENERIC_ALL, C.GENERIC_READ | 0x20, 0x40000])


@st.composite
def inheritable_aces(draw: st.DrawFn) -> Ace:
    ace_type = draw(st.sampled_from([0, 1, 5, 6]))
    obj = ace_type in (5, 6)
    return Ace(ace_type, draw(FLAGS), draw(MASKS), draw(SIDS),
               draw(st.one_of(st.none(), st.just(UUID(RESET)))) if obj else None,
               draw(st.one_of(st.none(), CLASSES)) if obj else None)


def dacl_sd(aces: list[Ace], protected: bool = False, owner: str | None = DA) -> SecurityDescriptor:
    return SecurityDescriptor(owner, DA, Acl(tuple(aces)), None,
                              C.SE_DACL_PROTECTED if protected else 0)


ACE_LISTS = st.lists(inheritable_aces(), max_size=6)


@given(ACE_LISTS, ACE_LISTS, ACE_LISTS, CLASSES, CLASSES)
@settings(max_examples=200)
def test_move_equals_fresh_creation(parent_a: list[Ace], parent_b: list[Ace], creator: list[Ace],
                                    cls: UUID, parent_cls: UUID) -> None:
    root = compute_descriptor(None, dacl_sd([]), UUID(int=9))
    a = compute_descriptor(root, dacl_sd(parent_a), parent_cls)
    b = compute_descriptor(root, dacl_sd(parent_b), parent_cls)
    under_a = compute_descriptor(a, dacl_sd(creator, owner=None), cls, owner=MSOL, group=DA)
    moved = compute_descriptor(b, under_a, cls)
    fresh = compute_descriptor(b, dacl_sd(creator, owner=None), cls, owner=MSOL, group=DA)
    assert moved == fresh
    assert compute_descriptor(b, moved, cls) == moved  # re-propagation is idempotent


@given(ACE_LISTS, ACE_LISTS, ACE_LISTS, CLASSES)
@settings(max_examples=150)
def test_parent_edit_repropagates_and_spares_protected_children(
    parent_before: list[Ace], parent_after: list[Ace], child: list[Ace], cls: UUID
) -> None:
    before = compute_descriptor(None, dacl_sd(parent_before), OU)
    after = compute_descriptor(before, dacl_sd(parent_after), OU)  # admin rewrites the parent's DACL
    normal = compute_descriptor(before, dacl_sd(child), cls)
    assert compute_descriptor(after, normal, cls) == compute_descriptor(after, dacl_sd(child), cls)
    protected = compute_descriptor(before, dacl_sd(child, protected=True), cls)
    assert compute_descriptor(after, protected, cls).dacl == protected.dacl
    assert all(not a.inherited for a in protected.dacl.aces)  # type: ignore[union-attr]


@given(ACE_LISTS)
def test_canonicalize_idempotent_and_a_permutation(aces: list[Ace]) -> None:
    acl = Acl(tuple(aces))
    once = canonicalize(acl)
    assert canonicalize(once) == once
    assert sorted(map(repr, once.aces)) == sorted(map(repr, acl.aces))
    assert [a for a in once.aces if a.inherited] == [a for a in acl.aces if a.inherited]
