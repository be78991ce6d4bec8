"""Rights naming: ADUC/dsacls forms and the tutorial's ACEs from FACTS 5.4."""

from __future__ import annotations

from uuid import UUID

import pytest

from fakes.ad.dsacls import format_dsacls, parse_dsacls_grant
from fakes.ad.rights import (
    AppliesTo,
    RightsError,
    applies_to_of,
    describe_ace,
    make_ace,
    right_by_name,
)
from fakes.ad.security import constants as c
from fakes.ad.security.sddl import format_ace

MSOL = "S-1-5-21-1004336348-1177238915-682003330-1105"
DOMAIN = "S-1-5-21-1004336348-1177238915-682003330"
USER = "bf967aba-0de6-11d0-a285-00aa003049e2"


@pytest.mark.parametrize(
    ("kwargs", "sddl"),
    [
        ({"right": "Reset Password"}, f"(OA;CIIO;CR;00299570-246d-11d0-a768-00aa006e0529;{USER};{MSOL})"),
        (
            {"write_property": "lockoutTime"},
            f"(OA;CIIO;WP;28630ebf-41d5-11d1-a9c1-0000f80367c1;{USER};{MSOL})",
        ),
        (
            {"write_property": "pwdLastSet"},
            f"(OA;CIIO;WP;bf967a0a-0de6-11d0-a285-00aa003049e2;{USER};{MSOL})",
        ),
        ({"right": "change password"}, f"(OA;CIIO;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;{USER};{MSOL})"),
    ],
)
def test_tutorial_aces_match_facts_5_4(kwargs: dict, sddl: str) -> None:
    ace = make_ace(MSOL, applies_to=AppliesTo.DESCENDANT_CLASS, descendant_class="user", **kwargs)
    assert format_ace(ace).lower() == sddl.lower()
    assert applies_to_of(ace) == (AppliesTo.DESCENDANT_CLASS, "user")


def test_unexpire_this_object_and_descendants() -> None:
    ace = make_ace(MSOL, right="Unexpire Password", applies_to=AppliesTo.THIS_OBJECT_AND_DESCENDANTS)
    assert format_ace(ace).lower() == f"(oa;ci;cr;ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501;;{MSOL})".lower()
    assert applies_to_of(ace) == (AppliesTo.THIS_OBJECT_AND_DESCENDANTS, None)


def test_describe_like_aduc() -> None:
    ace = make_ace(
        MSOL, right="Reset Password", applies_to=AppliesTo.DESCENDANT_CLASS, descendant_class="user"
    )
    row = describe_ace(ace, DOMAIN, lambda sid: "CONTOSO\\MSOL_1" if sid == MSOL else None)
    assert row["type"] == "Allow" and row["principal"] == "CONTOSO\\MSOL_1"
    assert row["access"] == "Reset password" and row["applies_to"] == "Descendant User objects"
    assert row["inherited"] is False
    full = make_ace(MSOL, mask=c.DS_GENERIC_ALL, applies_to=AppliesTo.THIS_OBJECT_ONLY, deny=True)
    assert (
        describe_ace(full, DOMAIN)["access"] == "Full control"
        and describe_ace(full, DOMAIN)["type"] == "Deny"
    )
    wp = make_ace(MSOL, write_property="lockoutTime", applies_to=AppliesTo.ALL_DESCENDANTS)
    assert describe_ace(wp, DOMAIN)["access"] == "Write lockoutTime"
    assert describe_ace(wp, DOMAIN)["applies_to"] == "All descendant objects"


def test_dsacls_grant_from_adsyncconfig() -> None:
    text = (
        '"CONTOSO\\MSOL_1:CA;Reset Password;user" "CONTOSO\\MSOL_1:WP;lockoutTime;user" '
        '"CONTOSO\\MSOL_1:WP;pwdLastSet;user" /I:S'
    )
    grants = parse_dsacls_grant(text)
    assert [a for a, _ in grants] == ["CONTOSO\\MSOL_1"] * 3
    aces = [t.to_ace(MSOL) for _, t in grants]
    expected = [
        make_ace(
            MSOL, right="Reset Password", applies_to=AppliesTo.DESCENDANT_CLASS, descendant_class="user"
        ),
        make_ace(
            MSOL, write_property="lockoutTime", applies_to=AppliesTo.DESCENDANT_CLASS, descendant_class="user"
        ),
        make_ace(
            MSOL, write_property="pwdLastSet", applies_to=AppliesTo.DESCENDANT_CLASS, descendant_class="user"
        ),
    ]
    assert aces == expected
    assert format_dsacls(aces[0], "CONTOSO\\MSOL_1") == '"CONTOSO\\MSOL_1:CA;Reset Password;user" /I:S'
    again = parse_dsacls_grant(format_dsacls(aces[1], "X\\y"))[0][1].to_ace(MSOL)
    assert again == aces[1]


def test_errors_and_lookups() -> None:
    assert right_by_name("User-Force-Change-Password").guid == UUID("00299570-246d-11d0-a768-00aa006e0529")
    assert right_by_name("replicating directory changes all").guid == UUID(
        "1131f6ad-9c07-11d1-f79f-00c04fc2dcd2"
    )
    with pytest.raises(RightsError):
        make_ace(MSOL, right="Fly", applies_to=AppliesTo.THIS_OBJECT_ONLY)
    with pytest.raises(RightsError):
        make_ace(MSOL, right="Reset Password", applies_to=AppliesTo.DESCENDANT_CLASS)
    with pytest.raises(RightsError):
        parse_dsacls_grant('"X\\y:ZZ" /I:S')
