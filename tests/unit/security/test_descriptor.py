"""Security descriptor model: self-relative binary and SDDL, real Windows samples and properties."""

from __future__ import annotations

import base64
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.ad.security import constants as C
from fakes.ad.security.descriptor import Ace, Acl, SecurityDescriptor, SecurityDescriptorError
from fakes.ad.security.inheritance import canonicalize

DOM = "S-1-5-21-1-2-3"

# A user object's nTSecurityDescriptor read from a Windows DC (AdminSDHolder-protected: D:PAI), published
# as a test vector by the PSOpenAD project (SecurityDescriptorTests.ParseRawSecurityDescriptor), where
# .NET's CommonSecurityDescriptor reports owner/group Domain Admins, 24 DACL and 3 SACL ACEs, RevisionDS.
WINDOWS_USER_SD_B64 = (
    "AQAUnBQFAAAwBQAAFAAAAKAAAAAEAIwAAwAAAAJAFAAgAAwAAQEAAAAAAAEAAAAAB1o4ACAAAAADAAAAvjsO8/Cf0RG2AwAA"
    "+ANnwaV6lr/mDdARooUAqgAwSeIBAQAAAAAAAQAAAAAHWjgAIAAAAAMAAAC/Ow7z8J/REbYDAAD4A2fBpXqWv+YN0BGihQCq"
    "ADBJ4gEBAAAAAAABAAAAAAQAdAQYAAAABQA8ABAAAAADAAAAAEIWTMAg0BGnaACqAG4FKRTMKEg3FLxFmwetbwFeXygBAgAA"
    "AAAABSAAAAAqAgAABQA8ABAAAAADAAAAAEIWTMAg0BGnaACqAG4FKbp6lr/mDdARooUAqgAwSeIBAgAAAAAABSAAAAAqAgAA"
    "BQA8ABAAAAADAAAAECAgX6V50BGQIADAT8LUzxTMKEg3FLxFmwetbwFeXygBAgAAAAAABSAAAAAqAgAABQA8ABAAAAADAAAA"
    "ECAgX6V50BGQIADAT8LUz7p6lr/mDdARooUAqgAwSeIBAgAAAAAABSAAAAAqAgAABQA8ABAAAAADAAAAQMIKvKl50BGQIADA"
    "T8LUzxTMKEg3FLxFmwetbwFeXygBAgAAAAAABSAAAAAqAgAABQA8ABAAAAADAAAAQMIKvKl50BGQIADAT8LUz7p6lr/mDdAR"
    "ooUAqgAwSeIBAgAAAAAABSAAAAAqAgAABQA8ABAAAAADAAAAQi+6WaJ50BGQIADAT8LTzxTMKEg3FLxFmwetbwFeXygBAgAA"
    "AAAABSAAAAAqAgAABQA8ABAAAAADAAAAQi+6WaJ50BGQIADAT8LTz7p6lr/mDdARooUAqgAwSeIBAgAAAAAABSAAAAAqAgAA"
    "BQA8ABAAAAADAAAA+IhwA+EK0hG0IgCgyWj5ORTMKEg3FLxFmwetbwFeXygBAgAAAAAABSAAAAAqAgAABQA8ABAAAAADAAAA"
    "+IhwA+EK0hG0IgCgyWj5Obp6lr/mDdARooUAqgAwSeIBAgAAAAAABSAAAAAqAgAABQA4ADAAAAABAAAAf3qWv+YN0BGihQCq"
    "ADBJ4gEFAAAAAAAFFQAAADEvZKEn/RZlSSD3IwUCAAAFACwAEAAAAAEAAAAdsalGrmBaQLfo/4pY1FbSAQIAAAAAAAUgAAAA"
    "MAIAAAUALAAwAAAAAQAAAByatm0ilNERrr0AAPgDZ8EBAgAAAAAABSAAAAAxAgAABQAsADAAAAABAAAAYrwFWMm9KESl4oVq"
    "D0wYXgECAAAAAAAFIAAAADECAAAFACwAlAACAAIAAAAUzChINxS8RZsHrW8BXl8oAQIAAAAAAAUgAAAAKgIAAAUALACUAAIA"
    "AgAAALp6lr/mDdARooUAqgAwSeIBAgAAAAAABSAAAAAqAgAABQAoAAABAAABAAAAUxpyqy8e0BGYGQCqAEBSmwEBAAAAAAAB"
    "AAAAAAUAKAAAAQAAAQAAAFMacqsvHtARmBkAqgBAUpsBAQAAAAAABQoAAAAFAigAMAEAAAEAAADeR+aRb9lwS5VX1j/088zY"
    "AQEAAAAAAAUKAAAAAAAkAL8BDgABBQAAAAAABRUAAAAxL2ShJ/0WZUkg9yMAAgAAAAAkAL8BDgABBQAAAAAABRUAAAAxL2Sh"
    "J/0WZUkg9yMHAgAAAAAYAL8BDwABAgAAAAAABSAAAAAgAgAAAAAUAJQAAgABAQAAAAAABQsAAAAAABQA/wEPAAEBAAAAAAAF"
    "EgAAAAEFAAAAAAAFFQAAADEvZKEn/RZlSSD3IwACAAABBQAAAAAABRUAAAAxL2ShJ/0WZUkg9yMAAgAA"
)
WINDOWS_DOMAIN = "S-1-5-21-2707697457-1696005415-603398217"

# FACTS.md 5.5: MS-ADSC 2.269 user defaultSecurityDescriptor.
USER_DEFAULT_SD = (
    "D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)"
    "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;AO)(A;;RPLCLORC;;;PS)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)"
    "(OA;;CR;ab721a54-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;CR;ab721a56-1e2f-11d0-9819-00aa0040529b;;PS)"
    "(OA;;RPWP;77B5B886-944A-11d1-AEBD-0000F80367C1;;PS)(OA;;RPWP;E45795B2-9455-11d1-AEBD-0000F80367C1;;PS)"
    "(OA;;RPWP;E45795B3-9455-11d1-AEBD-0000F80367C1;;PS)(OA;;RP;037088f8-0ae1-11d2-b422-00a0c968f939;;RS)"
    "(OA;;RP;4c164200-20c0-11d0-a768-00aa006e0529;;RS)(OA;;RP;bc0ac240-79a9-11d0-9020-00c04fc2d4cf;;RS)"
    "(A;;RC;;;AU)(OA;;RP;59ba2f42-79a2-11d0-9020-00c04fc2d3cf;;AU)(OA;;RP;77B5B886-944A-11d1-AEBD-0000F80367C1;;AU)"
    "(OA;;RP;E45795B3-9455-11d1-AEBD-0000F80367C1;;AU)(OA;;RP;e48d0154-bcf8-11d1-8702-00c04fb96050;;AU)"
    "(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)(OA;;RP;5f202010-79a5-11d0-9020-00c04fc2d4cf;;RS)"
    "(OA;;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;;CA)(OA;;RP;46a9b11d-60ae-405a-b7e8-ff8a58d456d2;;S-1-5-32-560)"
    "(OA;;WPRP;6db69a1c-9422-11d1-aebd-0000f80367c1;;S-1-5-32-561)"
    "(OA;;WPRP;5805bc62-bdc9-4428-a5e2-856a0f4c185e;;S-1-5-32-561)"
)

# FACTS.md 5.5: Samba's copy of the Windows domain-root default (get_domain_descriptor), GUIDs expanded.
USER = "bf967aba-0de6-11d0-a285-00aa003049e2"
INETORG = "4828cc14-1437-45bc-9b07-ad6f015e5f28"
ROOT_DEFAULT_SD = (
    "O:BAG:BAD:AI"
    + "".join(
        f"(OA;CIIO;RP;{ps};{cls};RU)"
        for cls in (USER, INETORG)
        for ps in ("4c164200-20c0-11d0-a768-00aa006e0529", "5f202010-79a5-11d0-9020-00c04fc2d4cf",
                   "bc0ac240-79a9-11d0-9020-00c04fc2d4cf", "59ba2f42-79a2-11d0-9020-00c04fc2d3cf",
                   "037088f8-0ae1-11d2-b422-00a0c968f939")
    )
    + f"(OA;CIIO;RPLCLORC;;{USER};RU)(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;BA)"
    "(OA;;CR;1131f6ad-9c07-11d1-f79f-00c04fc2dcd2;;BA)(OA;;CR;05c74c5e-4deb-43b4-bd9f-86664c2a7fd5;;AU)"
    "(OA;;CR;ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501;;AU)(OA;;CR;280f369c-67c7-438e-ae98-1d46f3c6f541;;AU)"
    "(A;;RPWPCRCCLCLORCWOWDSW;;;DA)(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;EA)(A;CI;RPWPCRCCLCLORCWOWDSDSW;;;BA)"
    "(A;;RPRC;;;RU)(A;CI;LC;;;RU)(A;;RP;;;WD)(A;;RPLCLORC;;;ED)(A;;RPLCLORC;;;AU)"
    "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)S:AI(AU;SA;CR;;;DU)(AU;SA;CR;;;BA)(AU;SA;WPWOWD;;;WD)"
)


def windows_sample() -> bytes:
    return base64.b64decode(WINDOWS_USER_SD_B64)


def test_windows_sample_parses_and_round_trips_byte_exact() -> None:
    data = windows_sample()
    sd = SecurityDescriptor.from_bytes(data)
    assert sd.owner == sd.group == WINDOWS_DOMAIN + "-512"
    assert sd.control == 0x9C14  # SR | DACL_PROTECTED | SACL_AI | DACL_AI | SACL_PRESENT | DACL_PRESENT
    assert sd.protected
    assert sd.dacl is not None and len(sd.dacl) == 24 and sd.dacl.revision == C.ACL_REVISION_DS
    assert sd.sacl is not None and len(sd.sacl) == 3 and sd.sacl.revision == C.ACL_REVISION_DS
    assert sd.to_bytes() == data


def test_windows_sample_sddl() -> None:
    sd = SecurityDescriptor.from_bytes(windows_sample())
    text = sd.to_sddl(WINDOWS_DOMAIN)
    assert text.startswith(
        "O:DAG:DAD:PAI(OA;;RP;4c164200-20c0-11d0-a768-00aa006e0529;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)"
    )
    # Everyone and SELF keep Change Password; SYSTEM has everything; the SACL is inherited from the root.
    assert "(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)" in text
    assert "(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)" in text
    assert "(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)" in text
    assert "S:AI(AU;SA;WPWDWO;;;WD)(OU;CIIOIDSA;WP;f30e3bbe-9ff0-11d1-b603-0000f80367c1;" in text
    assert SecurityDescriptor.from_sddl(text, WINDOWS_DOMAIN).to_bytes() == windows_sample()
    # Without the domain SID, domain-relative SIDs are printed numerically.
    assert sd.to_sddl().startswith(f"O:{WINDOWS_DOMAIN}-512G:{WINDOWS_DOMAIN}-512D:PAI")


def test_windows_sample_is_in_windows_canonical_order() -> None:
    sd = SecurityDescriptor.from_bytes(windows_sample())
    assert sd.dacl is not None and sd.sacl is not None
    assert canonicalize(sd.dacl) == sd.dacl
    assert canonicalize(sd.sacl) == sd.sacl


def test_user_default_sd_parses() -> None:
    sd = SecurityDescriptor.from_sddl(USER_DEFAULT_SD, DOM)
    assert sd.owner is None and sd.group is None and sd.sacl is None
    assert sd.dacl is not None and len(sd.dacl) == 24
    first = sd.dacl.aces[0]
    assert (first.ace_type, first.sid, first.mask) == (C.ACCESS_ALLOWED_ACE_TYPE, DOM + "-512", 0xF01FF)
    upper = sd.dacl.aces[7]
    assert upper.object_type == UUID("77b5b886-944a-11d1-aebd-0000f80367c1")
    out = sd.to_sddl(DOM)
    assert "77b5b886-944a-11d1-aebd-0000f80367c1" in out  # GUIDs printed lower-case
    assert "(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;DA)" in out
    assert SecurityDescriptor.from_sddl(out, DOM) == sd


def test_root_default_sd_parses_with_sacl() -> None:
    sd = SecurityDescriptor.from_sddl(ROOT_DEFAULT_SD, DOM)
    assert sd.owner == sd.group == "S-1-5-32-544"
    assert sd.control & C.SE_DACL_AUTO_INHERITED and sd.control & C.SE_SACL_AUTO_INHERITED
    assert sd.dacl is not None and len(sd.dacl) == 25
    assert sd.sacl is not None and [a.sid for a in sd.sacl.aces] == [DOM + "-513", "S-1-5-32-544", "S-1-1-0"]
    assert all(a.flags == C.SUCCESSFUL_ACCESS_ACE_FLAG for a in sd.sacl.aces)
    again = SecurityDescriptor.from_bytes(sd.to_bytes())
    assert again == sd and again.to_sddl(DOM) == sd.to_sddl(DOM)


def test_binary_layout_is_sacl_dacl_owner_group() -> None:
    sd = SecurityDescriptor.from_sddl("O:BAG:DUD:(A;;RC;;;AU)S:(AU;SA;WP;;;WD)", DOM)
    data = sd.to_bytes()
    offsets = (int.from_bytes(data[i:i + 4], "little") for i in (4, 8, 12, 16))
    off_owner, off_group, off_sacl, off_dacl = offsets
    assert off_sacl == 20 < off_dacl < off_owner < off_group


def test_any_part_order_accepted_on_read() -> None:
    sd = SecurityDescriptor.from_sddl("O:BAG:BAD:(A;;RC;;;AU)", DOM)
    data = sd.to_bytes()
    owner = data[-32:-16]
    group = data[-16:]
    dacl = data[20:-32]
    # Re-layout: owner, group, DACL.
    header = bytearray(data[:20])
    header[4:8] = (20).to_bytes(4, "little")
    header[8:12] = (36).to_bytes(4, "little")
    header[16:20] = (52).to_bytes(4, "little")
    moved = bytes(header) + owner + group + dacl
    assert SecurityDescriptor.from_bytes(moved) == sd


def test_null_dacl_and_empty_dacl_differ() -> None:
    null = SecurityDescriptor.from_sddl("O:BAD:NO_ACCESS_CONTROL", DOM)
    empty = SecurityDescriptor.from_sddl("O:BAD:", DOM)
    assert null.dacl is None and null.dacl_present
    assert empty.dacl == Acl(())
    assert null.to_sddl() == "O:BAD:NO_ACCESS_CONTROL" and empty.to_sddl() == "O:BAD:"
    assert SecurityDescriptor.from_bytes(null.to_bytes()) == null
    no_dacl = SecurityDescriptor("S-1-5-32-544", None, None)
    assert not no_dacl.dacl_present and no_dacl.to_sddl() == "O:BA"


def test_rights_spelling() -> None:
    def rights(mask: int) -> str:
        sd = SecurityDescriptor(None, None, Acl((Ace(0, 0, mask, "S-1-1-0"),)))
        return sd.to_sddl().split(";")[2]

    assert rights(0x30) == "RPWP"
    assert rights(C.GENERIC_ALL) == "GA"
    assert rights(0x1F01FF) == "FA"  # SYNCHRONIZE has no DS letter; Windows names the file aggregate
    assert rights(0x100000 | 0x10) == "0x100010"
    parsed = SecurityDescriptor.from_sddl("D:(A;;0x100010;;;WD)(A;;FA;;;WD)(A;;KA;;;WD)(A;;16;;;WD)")
    assert parsed.dacl is not None
    assert [a.mask for a in parsed.dacl.aces] == [0x100010, 0x1F01FF, 0xF003F, 16]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("D:(A;;RP;;;DA)", "relative to the domain SID"),
        ("D:(A;;XX;;;WD)", "unknown SDDL right"),
        ("D:(A;QQ;RP;;;WD)", "unknown SDDL ACE flag"),
        ("D:(Z;;RP;;;WD)", "unsupported SDDL ACE type"),
        ("D:(A;;RP;bf967aba-0de6-11d0-a285-00aa003049e2;;WD)", "cannot carry object GUIDs"),
        ("D:(OA;;RP;not-a-guid;;WD)", "invalid GUID"),
        ("D:(A;;RP;;WD)", "expected 6"),
        ("D:(A;;RP;;;WD", "unterminated"),
        ("O:BAO:BA", "appears twice"),
        ("hello", "no O:, G:, D: or S: section"),
        ("D:(A;;RP;;;S-1-5-x)", "neither a SID"),
        ("D:(A;;0x1FFFFFFFF;;;WD)", "exceed 32 bits"),
    ],
)
def test_bad_sddl_raises_clear_error(text: str, needle: str) -> None:
    with pytest.raises(SecurityDescriptorError, match=needle):
        SecurityDescriptor.from_sddl(text)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda b: b[:10], "truncated"),
        (lambda b: b"\x02" + b[1:], "revision 2"),
        (lambda b: b[:2] + b"\x04\x00" + b[4:], "not self-relative"),
        (lambda b: b[:16] + (10_000).to_bytes(4, "little") + b[20:], "outside"),
        (lambda b: b[:22] + (4000).to_bytes(2, "little") + b[24:], "invalid AclSize"),
        (lambda b: b[:28] + b"\x09" + b[29:], "unsupported type"),
    ],
)
def test_bad_binary_raises_clear_error(mutate, needle: str) -> None:  # type: ignore[no-untyped-def]
    good = SecurityDescriptor.from_sddl("O:BAG:BAD:(A;;RC;;;AU)", DOM).to_bytes()
    SecurityDescriptor.from_bytes(good)
    with pytest.raises(SecurityDescriptorError, match=needle):
        SecurityDescriptor.from_bytes(mutate(good))


def test_ace_properties_and_validation() -> None:
    flags = C.CONTAINER_INHERIT_ACE | C.INHERIT_ONLY_ACE | C.INHERITED_ACE
    ace = Ace(C.ACCESS_ALLOWED_OBJECT_ACE_TYPE, flags, 0x100, "S-1-1-0", UUID(int=1))
    assert ace.is_allow and ace.is_object_ace and ace.inherit_only and ace.inherited
    assert not ace.is_deny and not ace.is_audit
    assert Ace(C.SYSTEM_AUDIT_ACE_TYPE, 0x40, 1, "S-1-1-0").is_audit
    with pytest.raises(SecurityDescriptorError, match="cannot carry object GUIDs"):
        Ace(C.ACCESS_ALLOWED_ACE_TYPE, 0, 1, "S-1-1-0", UUID(int=1))
    with pytest.raises(SecurityDescriptorError, match="unsupported ACE type"):
        Ace(0x11, 0, 1, "S-1-1-0")
    assert Acl((ace,), revision=2).revision == C.ACL_REVISION_DS  # object ACEs force ACL_REVISION_DS


def test_replace_clears_present_bit() -> None:
    sd = SecurityDescriptor.from_sddl("O:BAD:(A;;RC;;;AU)S:(AU;SA;WP;;;WD)", DOM)
    assert not sd.replace(sacl=None).sacl_present
    assert sd.replace(owner="S-1-5-18").owner == "S-1-5-18"


# --- properties ---
SIDS = st.sampled_from(
    ["S-1-1-0", "S-1-5-10", "S-1-5-11", "S-1-5-18", "S-1-3-0", "S-1-5-32-544", "S-1-5-32-554",
     DOM + "-512", DOM + "-519", DOM + "-1105", "S-1-5-21-9-8-7-1000"]
)
GUIDS = st.one_of(st.none(), st.uuids())
ACE_TYPES = st.sampled_from(sorted(C.SUPPORTED_ACE_TYPES))


@st.composite
def aces(draw: st.DrawFn) -> Ace:
    ace_type = draw(ACE_TYPES)
    obj = ace_type in C.OBJECT_ACE_TYPES
    flags = draw(st.integers(0, 0xFF).map(lambda f: f & ~0x20))  # 0x20 has no SDDL name
    return Ace(ace_type, flags, draw(st.integers(0, 0xFFFFFFFF)), draw(SIDS),
               draw(GUIDS) if obj else None, draw(GUIDS) if obj else None)


@st.composite
def descriptors(draw: st.DrawFn, sddl_safe: bool = False) -> SecurityDescriptor:
    acl = st.one_of(st.none(), st.lists(aces(), max_size=8).map(lambda a: Acl(tuple(a))))
    sddl_bits = (C.SE_DACL_PROTECTED | C.SE_DACL_AUTO_INHERIT_REQ | C.SE_DACL_AUTO_INHERITED
                 | C.SE_SACL_PROTECTED | C.SE_SACL_AUTO_INHERIT_REQ | C.SE_SACL_AUTO_INHERITED)
    control = draw(st.integers(0, 0xFFFF))
    dacl, sacl = draw(acl), draw(acl)
    if sddl_safe:
        control &= sddl_bits | C.SE_DACL_PRESENT | C.SE_SACL_PRESENT
        # SDDL prints ACL flags only with the ACL, so flags without a present ACL cannot survive.
        if not (control & C.SE_DACL_PRESENT or dacl is not None):
            control &= ~(C.SE_DACL_PROTECTED | C.SE_DACL_AUTO_INHERIT_REQ | C.SE_DACL_AUTO_INHERITED)
        if not (control & C.SE_SACL_PRESENT or sacl is not None):
            control &= ~(C.SE_SACL_PROTECTED | C.SE_SACL_AUTO_INHERIT_REQ | C.SE_SACL_AUTO_INHERITED)
        return SecurityDescriptor(draw(st.one_of(st.none(), SIDS)), draw(st.one_of(st.none(), SIDS)),
                                  dacl, sacl, control)
    return SecurityDescriptor(draw(st.one_of(st.none(), SIDS)), draw(st.one_of(st.none(), SIDS)), dacl,
                              sacl, control, draw(st.integers(0, 0xFF)))


@given(descriptors())
@settings(max_examples=300)
def test_binary_round_trip_property(sd: SecurityDescriptor) -> None:
    data = sd.to_bytes()
    back = SecurityDescriptor.from_bytes(data)
    if not sd.control & C.SE_DACL_PRESENT or sd.dacl is not None:
        assert back == sd
    assert back.to_bytes() == data


@given(descriptors(sddl_safe=True), st.sampled_from([None, DOM]))
@settings(max_examples=300)
def test_sddl_round_trip_property(sd: SecurityDescriptor, domain: str | None) -> None:
    text = sd.to_sddl(domain)
    back = SecurityDescriptor.from_sddl(text, domain)
    assert back == sd
    assert back.to_sddl(domain) == text
