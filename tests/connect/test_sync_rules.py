"""Pure sync rules: scope filter, OU filter, SID text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fakes.ad.sid import sid_to_bytes
from fakes.connect.sync import in_ou_filter, in_scope, sid_to_text


def test_service_and_system_accounts_are_not_projected() -> None:
    assert in_scope("alice", 0x200, False)
    assert not in_scope("MSOL_0123456789ab", 0x200, False)
    assert not in_scope("krbtgt", 0x202, False)
    assert not in_scope("administrator", 0x200, True)
    assert not in_scope("WS01$", 0x1000, False)


def test_ou_filter() -> None:
    ou = "OU=Sales,OU=Staff,DC=contoso,DC=com"
    assert in_ou_filter("CN=a,OU=Sales,OU=Staff,DC=contoso,DC=com", (ou,))
    assert in_ou_filter("CN=a,OU=x,DC=contoso,DC=com", ())
    assert not in_ou_filter("CN=a,OU=Staff,DC=contoso,DC=com", (ou,))
    assert not in_ou_filter(
        "CN=a,OU=NotSales,OU=Staff,DC=contoso,DC=com", ("OU=Sales,OU=Staff,DC=contoso,DC=com",)
    )


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=5))
def test_sid_text_matches_the_dc_codec(subs) -> None:
    text = "S-1-5-" + "-".join(map(str, subs))
    assert sid_to_text(sid_to_bytes(text)) == text
