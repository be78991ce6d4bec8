"""The sync engine's lean LDAP reader reads exactly what the ldap3-decoded import read, over the wire."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fakes.ad.ldap.encode import encode_entry
from fakes.connect.ldapconn import connector_connection
from fakes.connect.ldapread import (
    BerError,
    _message,
    first_values_parser,
    paged_search,
    parse_done,
    parse_entry,
)
from fakes.connect.sync import PAGE_SIZE, SYNC_ATTRIBUTES, USER_FILTER
from simlab.lab import Lab
from simlab.spec import LabSpec


@pytest.fixture(scope="module")
def lab():
    spec = LabSpec.model_validate({"seed": 3, "population": {"users": 2 * PAGE_SIZE + 150}})
    with Lab(spec) as built:
        yield built


def _initial(lab: Lab, monkeypatch: pytest.MonkeyPatch, reader: str) -> dict:
    monkeypatch.setenv("SIMLAB_SYNC_READER", reader)
    sync = lab.connect.sync
    sync.connector_space.clear()
    sync._high_usn.clear()
    report = lab.connect.run_sync_cycle("Initial")
    assert report.imported == len(sync.connector_space)
    return dict(sync.connector_space)


def test_lean_and_ldap3_readers_import_the_same_objects(lab: Lab, monkeypatch: pytest.MonkeyPatch):
    lean = _initial(lab, monkeypatch, "lean")
    old = _initial(lab, monkeypatch, "ldap3")
    assert lean == old
    assert len(lean) > 2 * PAGE_SIZE  # several pages, so the paged-results cookie was followed
    alice = next(o for o in lean.values() if o.sam_account_name == "alice")
    assert alice.upn == "alice@contoso.com" and alice.sid.startswith("S-1-5-21-") and alice.enabled


def test_lean_reader_keeps_the_ou_filter_and_the_search_base(lab: Lab, monkeypatch: pytest.MonkeyPatch):
    sales = f"OU=Sales,OU=Staff,{lab.dc.domain_dn}"
    directory = lab.connect.config.directories[0]
    conn = connector_connection(directory)
    assert conn.bind()
    try:
        items = list(paged_search(conn, sales, USER_FILTER, SYNC_ATTRIBUTES, 100))
    finally:
        conn.unbind()
    *entries, done = items
    assert done == (0, "")
    assert entries and all(dn.endswith("," + sales) for dn, _ in entries)
    expected = [e.dn for e in lab.dc.directory.walk(lab.dc.directory.get(sales)) if e.object_class == "user"]
    assert sorted(dn for dn, _ in entries) == sorted(expected)
    _, attrs = entries[0]
    assert set(attrs) <= {a.lower() for a in SYNC_ATTRIBUTES}
    assert len(attrs["objectguid"][0]) == 16  # raw bytes, not text


def test_a_refused_search_ends_with_its_result_code(lab: Lab):
    directory = lab.connect.config.directories[0]
    conn = connector_connection(directory)
    assert conn.bind()
    try:
        items = list(paged_search(conn, f"OU=Nowhere,{lab.dc.domain_dn}", USER_FILTER, SYNC_ATTRIBUTES, 100))
    finally:
        conn.unbind()
    code, message = items[-1]
    assert code == 32 and message.startswith("0000208D")  # noSuchObject, with AD's diagnostic


def test_ber_parsers_read_entries_and_reject_truncated_input():
    entry = (b"\x04\x05cn=a1"  # objectName
             b"\x30\x0c\x30\x0a\x04\x02cn\x31\x04\x04\x02a1")  # one attribute, one value
    assert parse_entry(entry, 0, len(entry)) == ("cn=a1", {"cn": [b"a1"]})
    done = b"\x0a\x01\x20\x04\x00\x04\x03bad"
    assert parse_done(done, 0, len(done)) == (32, "bad")
    with pytest.raises(BerError):
        parse_entry(entry[:-3], 0, len(entry) - 3)


@given(msg_id=st.integers(1, 2**31 - 1), dn=st.text(max_size=200),
       attributes=st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,150}", fullmatch=True),
                                  st.lists(st.binary(max_size=300), max_size=5), max_size=12))
@settings(max_examples=80, deadline=None)
def test_the_reader_reads_back_any_entry_the_dc_encodes(msg_id: int, dn: str,
                                                      attributes: dict[str, list[bytes]]) -> None:
    """Server encoder -> lean reader: the DN and every attribute (lowercased names, raw values),
    short and long BER lengths alike; another message id is not this search's."""
    lowered = {name.lower(): values for name, values in attributes.items()}
    assume(len(lowered) == len(attributes))  # names equal but for case would be one attribute
    raw = encode_entry(msg_id, dn, attributes)
    assert _message(raw, 0, len(raw), msg_id) == ((dn, lowered), b"")
    assert _message(raw, 0, len(raw), msg_id + 1) == (None, b"")
    with pytest.raises(BerError):
        _message(raw, 0, len(raw) - 1, msg_id)  # a frame shorter than its message


_NAMES = ["cn", "mail", "objectGUID", "sAMAccountName", "description"]


@given(dn=st.text(max_size=100),
       attributes=st.lists(st.tuples(st.sampled_from([*_NAMES, *(n.upper() for n in _NAMES), "other"]),
                                     st.lists(st.binary(max_size=300), max_size=4)), max_size=10),
       asked=st.lists(st.sampled_from(_NAMES), unique=True, max_size=5))
@settings(max_examples=150, deadline=None)
def test_the_first_values_parser_reads_what_parse_entry_reads(
        dn: str, attributes: list[tuple[str, list[bytes]]], asked: list[str]) -> None:
    """The sync's parser gives each asked attribute's first value exactly as parse_entry's dict
    holds it: any case, absent or valueless as None, an attribute sent twice as its last form,
    short and long BER lengths alike; a cut entry is a BerError."""
    partials = b"".join(
        _tlv(0x30, _tlv(0x04, name.encode()) + _tlv(0x31, b"".join(_tlv(0x04, v) for v in values)))
        for name, values in attributes)
    content = _tlv(0x04, dn.encode()) + _tlv(0x30, partials)
    _, full = parse_entry(content, 0, len(content))
    parse = first_values_parser(asked)
    expected = [(full.get(a.lower()) or [None])[0] for a in asked]
    assert parse(content, 0, len(content)) == (dn, expected)
    with pytest.raises(BerError):
        parse(content[:-1], 0, len(content) - 1) if attributes else parse(content[:1], 0, 1)


def _tlv(tag: int, value: bytes) -> bytes:
    """A BER element, its length in the short or the long form (written here, not by the DC's codec)."""
    n = len(value)
    size = (n.bit_length() + 7) // 8
    head = bytes((n,)) if n < 0x80 else bytes((0x80 | size,)) + n.to_bytes(size, "big")
    return bytes((tag,)) + head + value
