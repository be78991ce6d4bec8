"""DN parsing, escaping and normalization (RFC 4514 as AD compares names)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakes.ad.dn import (
    DNError,
    escape_value,
    first_rdn,
    format_dn,
    is_descendant,
    normalize_dn,
    parent_dn,
    parse_dn,
    rdn_string,
)


def test_case_and_separator_spacing_collide() -> None:
    a = normalize_dn("CN=John  Smith,OU=Staff,DC=Contoso,DC=Com")
    assert a == normalize_dn("cn=john  smith, ou=STAFF ,dc=contoso,DC=com")
    # inner whitespace is part of the name
    assert a != normalize_dn("CN=John Smith,OU=Staff,DC=Contoso,DC=Com")


def test_hex_backslash_and_quoted_forms_collide() -> None:
    forms = ['CN=Smith\\, John,DC=x', "CN=Smith\\2C John,DC=x", 'CN="Smith, John",DC=x',
             "cn=SMITH\\2c JOHN,dc=X"]
    assert len({normalize_dn(f) for f in forms}) == 1
    assert parse_dn(forms[2])[0] == (("CN", "Smith, John"),)


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        (" lead", "\\ lead"),
        ("#hash", "\\#hash"),
        ("trail ", "trail\\ "),
        ('a,b+c"d\\e<f>g;h=i', 'a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h\\=i'),
        ("mid#dle and space", "mid#dle and space"),
        ("line\nbreak", "line\\0Abreak"),
        ("Jürgen Ørsted", "Jürgen Ørsted"),
    ],
)
def test_escape_value(value: str, escaped: str) -> None:
    assert escape_value(value) == escaped
    assert parse_dn(rdn_string("OU", value) + ",DC=x")[0] == (("OU", value),)


def test_utf8_hex_escapes_decode() -> None:
    assert parse_dn("CN=J\\C3\\BCrgen,DC=x")[0] == (("CN", "Jürgen"),)


def test_multivalued_rdn_order_does_not_matter() -> None:
    assert parse_dn("CN=a+UID=b,DC=x")[0] == (("CN", "a"), ("UID", "b"))
    assert normalize_dn("CN=a+UID=b,DC=x") == normalize_dn("uid=B+cn=A,dc=x")


def test_hexstring_value() -> None:
    assert parse_dn("CN=#04024869,DC=x")[0] == (("CN", "Hi"),)


@pytest.mark.parametrize("bad", ["CN", "CN=a,", "=a", "CN=a\\", "CN=a\\zz", "C N=a", 'CN="open'])
def test_invalid_dns_raise(bad: str) -> None:
    with pytest.raises(DNError):
        parse_dn(bad)


def test_parent_first_rdn_descendant() -> None:
    dn = "CN=Smith\\, J,OU=Staff,DC=contoso,DC=com"
    assert parent_dn(dn) == "OU=Staff,DC=contoso,DC=com"
    assert first_rdn(dn) == "CN=Smith\\, J"
    assert is_descendant(dn, "dc=CONTOSO,dc=com")
    assert not is_descendant("OU=Staff2,DC=contoso,DC=com", "OU=Staff,DC=contoso,DC=com")
    assert parse_dn("") == ()


_values = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)


@given(st.lists(st.tuples(st.sampled_from(["CN", "OU", "DC", "uid"]), _values), min_size=1, max_size=5))
def test_format_parse_round_trip(pairs: list[tuple[str, str]]) -> None:
    rdns = tuple(((a, v),) for a, v in pairs)
    text = format_dn(rdns)
    assert parse_dn(text) == rdns
    assert normalize_dn(text) == normalize_dn(text.upper() if text.isascii() else text)
