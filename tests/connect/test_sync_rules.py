"""Pure sync rules: scope filter, OU filter, SID text."""

from __future__ import annotations

from fakes.connect.sync import in_ou_filter, in_scope


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


