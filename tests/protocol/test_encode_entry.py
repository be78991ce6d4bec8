"""The fast SearchResultEntry encoder sends exactly the bytes the generic BER helpers make."""

from __future__ import annotations

from _ber_reference import reference_encode_entry
from hypothesis import given
from hypothesis import strategies as st

from fakes.ad.ldap import encode


def test_a_sync_shaped_entry_is_byte_identical() -> None:
    attrs = {
        "objectGUID": [bytes(range(16))],
        "objectSid": [b"\x01\x05" + bytes(26)],
        "sAMAccountName": [b"ann.lee"],
        "distinguishedName": [b"CN=Ann Lee,OU=Sales,OU=Staff," + b"DC=corp," * 20 + b"DC=local"],  # > 127
        "memberOf": [b"CN=G%d,DC=corp,DC=local" % i for i in range(40)],  # a value set > 255 bytes
        "mail": [],
        "thumbnailPhoto": [bytes(70000)],  # three length octets
    }
    for msg_id in (1, 127, 128, 70000):
        for types_only in (False, True):
            assert encode.encode_entry(msg_id, "CN=Ann Lee,OU=Sales", attrs, types_only) == \
                reference_encode_entry(msg_id, "CN=Ann Lee,OU=Sales", attrs, types_only)


@given(
    msg_id=st.integers(min_value=1, max_value=2**31 - 1),
    dn=st.text(max_size=300),
    attributes=st.dictionaries(
        st.text(min_size=1, max_size=200),
        st.lists(st.binary(max_size=400), max_size=6),
        max_size=8,
    ),
    types_only=st.booleans(),
)
def test_any_entry_is_byte_identical(msg_id: int, dn: str, attributes: dict[str, list[bytes]],
                                     types_only: bool) -> None:
    assert encode.encode_entry(msg_id, dn, attributes, types_only) == \
        reference_encode_entry(msg_id, dn, attributes, types_only)
