"""The DC renders an attribute-list search straight to wire bytes: the same bytes as before.

The reference is the dict renderer every search used before (``Reader._render_dict``, still
the path for ``*`` and types-only) followed by the generic BER encoder; the fused renderer
(``Reader._render_wire`` + ``encode.EncodedAttributes``) must give the same dict, in the same
order, and the same bytes, for any entry, attribute list and requester (ACL-hidden attributes,
the requester's own object, SYSTEM). Then real clients over a served lab: raw PDUs of a
paged search, ldap3 and ldapsearch with attribute lists, ``*``, ``+``, binary values and
a ranged ``member``. And the equality filter's remembered values decide as a fresh filter does.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import ldap3
import pytest
from _ber_reference import reference_encode_entry
from hypothesis import given, settings
from hypothesis import strategies as st
from ldaptor import ldapfilter
from ldaptor.protocols import pureldap

from fakes.ad import controls as ctl
from fakes.ad import dc_read
from fakes.ad.api import Change, Control, ModOp, Scope
from fakes.ad.filters import And, Not, compile_filter, match_key, parse_filter
from fakes.ad.ldap import DcEndpoints, codec, encode, serve_dc
from fakes.ad.provision import DEFAULT_USER_PASSWORD, provision
from fakes.ad.security import constants as K
from fakes.ad.security.descriptor import Ace, Acl
from fakes.connect.sync import SYNC_ATTRIBUTES, USER_FILTER

SELF = "S-1-5-10"
ANY = "(objectClass=*)"
HIDDEN_FROM_SELF = ("mail", "objectGUID", "distinguishedName")
#: Names a client may ask for: stored (text, binary, multi-valued), computed, secret, unknown,
#: an OID, the special lists, a ranged member, and the same name twice in other cases.
NAMES = [
    "mail", "MAIL", "displayName", "description", "userCertificate", "mS-DS-ConsistencyGuid", "objectSid",
    "sAMAccountName", "cn", "name", "objectClass", "userAccountControl", "pwdLastSet", "uSNChanged",
    "isCriticalSystemObject", "distinguishedName", "objectGUID", "OBJECTGUID", "memberOf",
    "canonicalName", "msDS-User-Account-Control-Computed", "msDS-UserPasswordExpiryTimeComputed",
    "allowedAttributesEffective", "nTSecurityDescriptor", "createTimeStamp", "tokenGroups",
    "unicodePwd", "noSuchAttribute", "2.5.4.3", "member;range=0-*", "+", "1.1", "*", "info",
]
#: Stored attributes a generated example overwrites on the target user (text, binary, multi).
WRITABLE = ["mail", "displayName", "description", "userCertificate", "mS-DS-ConsistencyGuid", "info"]


def _hide_from_self(dc, users) -> None:
    """First ACEs that deny the user itself (PRINCIPAL_SELF) reading mail, objectGUID and
    distinguishedName, ahead of the default allows."""
    guids = [dc.schema.attribute(name).schema_id_guid for name in HIDDEN_FROM_SELF]
    denies = tuple(Ace(K.ACCESS_DENIED_OBJECT_ACE_TYPE, 0, K.RIGHT_DS_READ_PROPERTY, SELF, g) for g in guids)
    for user in users:
        sd = dc.sds.parse(user.sd)
        explicit = tuple(a for a in sd.dacl.aces if not a.inherited)
        user.sd = dc.sds.compute(user.parent.sd, replace(sd, dacl=Acl((*denies, *explicit))),
                                 dc.class_guid("user"))


def _users(dc, department: str) -> list:
    return [e for e in dc.directory.lookup("department", department) if e.object_class == "user"]


@contextmanager
def reference_renderer() -> Iterator[None]:
    """Searches inside render every entry the way they all did before (a plain dict)."""
    fused = dc_read.Reader.render
    dc_read.Reader.render = dc_read.Reader._render_dict  # type: ignore[method-assign]
    try:
        yield
    finally:
        dc_read.Reader.render = fused  # type: ignore[method-assign]


def paged(dc, session, base: str, scope: Scope, flt: str, attrs: list[str], size: int,
          types_only: bool = False) -> list:
    out, cookie = [], b""
    while True:
        r = dc.search(session, base, scope, flt, attrs, types_only=types_only,
                      controls=[Control(ctl.PAGED_RESULTS, False, ctl.encode_paged(size, cookie))])
        out.extend(r.entries)
        cookie = ctl.decode_paged(r.result.controls[0].value)[1]
        if not cookie:
            return out


def assert_same_wire(fused: list, reference: list, msg_id: int, types_only: bool) -> None:
    assert [e.dn for e in fused] == [e.dn for e in reference]
    for new, old in zip(fused, reference, strict=True):
        assert list(new.attributes.items()) == list(old.attributes.items())
        assert encode.encode_entry(msg_id, new.dn, new.attributes, types_only) == \
            reference_encode_entry(msg_id, old.dn, old.attributes, types_only)


# ------------------------------------------------------------------ in-process property


@pytest.fixture(scope="module")
def dc():
    dc = provision(users=24, seed=5)
    _hide_from_self(dc, _users(dc, "Sales"))
    return dc


@pytest.fixture(scope="module")
def sessions(dc) -> dict:
    sales = _users(dc, "Sales")
    return {
        "admin": dc.admin_session(),
        "connector": dc.bind_session(dc.connector_dn, dc.connector_password),
        "self": dc.bind_session(sales[0].dn, DEFAULT_USER_PASSWORD),
        "other": dc.bind_session(_users(dc, "IT")[0].dn, DEFAULT_USER_PASSWORD),
        "system": dc.system_session(),
    }


#: Value sizes around the BER length boundaries (a value, its SET and its PartialAttribute
#: each cross 127/128 and 255/256 at slightly different sizes), and anything up to 300.
sizes = st.one_of(st.integers(0, 300), st.sampled_from([*range(95, 135), 0xFF, 0x100, 0xFFFF, 0x10000]))
values = st.one_of(
    sizes.map(lambda n: "v" * n),
    sizes.map(lambda n: bytes(n)),
    st.text(max_size=140),  # UTF-8 of up to 560 bytes
    st.binary(max_size=300),
)
value_lists = st.one_of(values.map(lambda v: [v]), st.lists(values, max_size=3))  # one value: the fast path


@settings(max_examples=150)
@given(
    attrs=st.lists(st.sampled_from(NAMES + WRITABLE * 2), max_size=12),  # the written ones more often
    overwrite=st.fixed_dictionaries({name: value_lists for name in WRITABLE}),
    big=st.sampled_from([None, 70000]),
    who=st.sampled_from(["admin", "connector", "self", "other", "system"]),
    scope=st.sampled_from([Scope.BASE, Scope.ONELEVEL]),
    types_only=st.booleans(),
    page=st.sampled_from([0, 1, 3]),
    msg_id=st.sampled_from([1, 127, 128, 70000, 2**31 - 1]),
)
def test_fused_rendering_is_the_dict_rendering_byte_for_byte(
    dc, sessions, attrs, overwrite, big, who, scope, types_only, page, msg_id
) -> None:
    target = _users(dc, "Sales")[0]
    saved = dict(target.attrs)
    try:
        for name, vs in overwrite.items():
            target.attrs[name.lower()] = vs
        if big:
            target.attrs["usercertificate"] = [bytes(big), b"\x30\x00"]  # three length octets
        base = target.dn if scope == Scope.BASE else target.parent.dn
        session = sessions[who]

        def run() -> list:
            if page:
                return paged(dc, session, base, scope, "(objectClass=*)", attrs, page, types_only)
            return dc.search(session, base, scope, "(objectClass=*)", attrs, types_only=types_only).entries

        fused = run()
        with reference_renderer():
            reference = run()
    finally:
        target.attrs.clear()
        target.attrs.update(saved)
    assert fused
    assert_same_wire(fused, reference, msg_id, types_only)


def test_every_value_size_around_the_length_boundaries(dc, sessions) -> None:
    target = _users(dc, "IT")[1]
    saved = dict(target.attrs)
    attrs = ["mail", "description", "msDS-User-Account-Control-Computed", "objectGUID", "info"]
    try:
        for n in [*range(0, 300), 0xFFFF, 0x10000, 0x10001]:
            target.attrs["mail"] = ["m" * n]
            target.attrs["description"] = [bytes(n), "d" * (n // 2)]
            target.attrs["info"] = ["\u00e9" * (n // 2)]  # two UTF-8 bytes per character
            fused = dc.search(sessions["admin"], target.dn, Scope.BASE, ANY, attrs).entries
            with reference_renderer():
                reference = dc.search(sessions["admin"], target.dn, Scope.BASE, ANY, attrs).entries
            assert type(fused[0].attributes) is encode.EncodedAttributes
            assert_same_wire(fused, reference, 5, False)
    finally:
        target.attrs.clear()
        target.attrs.update(saved)


def test_an_attribute_list_renders_to_bytes_and_star_to_a_dict(dc, sessions) -> None:
    """The property above would pass if nothing took the fused path: check that it does."""
    target = _users(dc, "IT")[0]
    listed = dc.search(sessions["connector"], target.dn, Scope.BASE, "(objectClass=*)", SYNC_ATTRIBUTES)
    assert type(listed.entries[0].attributes) is encode.EncodedAttributes
    assert listed.entries[0].attributes.wire
    for attrs, types_only in ((["*"], False), (["sAMAccountName"], True)):
        r = dc.search(sessions["connector"], target.dn, Scope.BASE, "(objectClass=*)", attrs,
                      types_only=types_only)
        assert type(r.entries[0].attributes) is dict


def test_acl_hidden_attribute_stays_hidden_on_the_fused_path(dc, sessions) -> None:
    me, other = _users(dc, "Sales")[:2]
    r = dc.search(sessions["self"], me.parent.dn, Scope.ONELEVEL, USER_FILTER, [*HIDDEN_FROM_SELF, "cn"])
    by_dn = {e.dn: e for e in r.entries}
    assert list(by_dn[me.dn].attributes) == ["cn"]
    assert type(by_dn[me.dn].attributes) is encode.EncodedAttributes
    assert sorted(by_dn[other.dn].attributes) == sorted([*HIDDEN_FROM_SELF, "cn"])
    assert by_dn[other.dn].attributes["mail"] == [other.attrs["mail"][0].encode()]


def test_changing_a_rendered_dict_drops_its_bytes(dc, sessions) -> None:
    target = _users(dc, "IT")[0]
    changes = [
        lambda a: a.__setitem__("mail", [b"x@y"]),
        lambda a: a.__delitem__("sAMAccountName"),
        lambda a: a.pop("sAMAccountName"),
        lambda a: a.popitem(),
        lambda a: a.clear(),
        lambda a: a.update({"extra": [b"1"]}),
        lambda a: a.setdefault("extra", [b"2"]),
        lambda a: a.__ior__({"extra": [b"3"]}),
    ]
    for change in changes:
        entry = dc.search(sessions["admin"], target.dn, Scope.BASE, "(objectClass=*)",
                          ["sAMAccountName", "objectGUID", "mail"]).entries[0]
        change(entry.attributes)
        assert entry.attributes.wire is None
        assert encode.encode_entry(9, entry.dn, entry.attributes) == \
            reference_encode_entry(9, entry.dn, dict(entry.attributes))


def _decide(dc, f, entry) -> bool:
    """A stored-attribute equality filter decided value by value (And / Not / Equal only)."""
    if isinstance(f, And):
        return all(_decide(dc, x, entry) for x in f.filters)
    if isinstance(f, Not):
        return not _decide(dc, f.filter, entry)
    at = dc.schema.attribute(f.attr)
    target = match_key(at, f.value)
    return any(match_key(at, v) == target for v in entry.attrs.get(at.name.lower(), ()))


FILTER_VALUES = st.lists(
    st.sampled_from(["user", "User", "computer", "top", "Sales", "sales", "x", "X", "512", "0", b"x"]),
    max_size=4,
)


@settings(max_examples=100)
@given(
    flt=st.sampled_from(["(objectClass=user)", "(!(objectClass=computer))", "(department=SALES)",
                         "(description=x)", "(userAccountControl=0512)", USER_FILTER]),
    rows=st.lists(st.dictionaries(st.sampled_from(["objectclass", "department", "description",
                                                   "useraccountcontrol"]), FILTER_VALUES, max_size=4),
                  min_size=1, max_size=12),
)
def test_equality_filter_with_warm_value_sets_decides_value_by_value(dc, flt, rows) -> None:
    """One compiled filter over many entries (its matched / unmatched value sets filling up)
    decides each entry as comparing every value's equality key does."""
    target = _users(dc, "Sales")[0]
    saved = dict(target.attrs)
    parsed = parse_filter(flt)
    warm = compile_filter(parsed, dc.directory)
    try:
        for row in rows:
            target.attrs.update(row)
            assert warm(target) is _decide(dc, parsed, target)
    finally:
        target.attrs.clear()
        target.attrs.update(saved)


# ------------------------------------------------------------------ real clients, served lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[tuple[object, DcEndpoints, str]]:
    dc = provision(domain="contoso.com", users=30, seed=8)
    sales = _users(dc, "Sales")
    _hide_from_self(dc, sales)
    sales[1].attrs["usercertificate"] = [bytes(range(256)) * 4, b"\x30\x03\x02\x01\x05"]  # binary
    sales[2].attrs["ms-ds-consistencyguid"] = [bytes(range(16))]
    group = f"CN=GG-Sales,OU=Sales,OU=Staff,{dc.domain_dn}"
    everyone = [e.dn.encode() for e in dc.directory.lookup("objectclass", "user") if e.object_class == "user"]
    res = dc.modify(dc.admin_session(), group, [Change(ModOp.REPLACE, "member", everyone)])
    assert res.code == 0, res
    with serve_dc(dc, workdir=tmp_path_factory.mktemp("wire")) as ep:
        yield dc, ep, group


def _request(msg_id: int, op, controls=None) -> bytes:
    return pureldap.LDAPMessage(op, id=msg_id, controls=controls).toWire()


def _pdus_until(sock: socket.socket, last: int) -> list[tuple[bytes, int, int, tuple[Control, ...]]]:
    """(PDU, messageID, protocolOp tag, controls) of each message up to one tagged ``last``."""
    buf, out = b"", []
    while True:
        data = sock.recv(65536)
        assert data, "server closed the connection"
        buf += data
        while (n := codec.frame_length(buf, 0)) is not None and n <= len(buf):
            pdu, buf = buf[:n], buf[n:]
            out.append((pdu, *_parse(pdu)))
            if out[-1][2] == last:
                assert not buf
                return out


def _parse(pdu: bytes) -> tuple[int, int, tuple[Control, ...]]:
    """messageID, protocolOp tag and controls of one LDAPMessage."""
    view = memoryview(pdu)
    _, s, e = codec._tlv(view, 0, len(pdu))
    _, is_, ie = codec._tlv(view, s, e)
    op, _, oe = codec._tlv(view, ie, e)
    controls: tuple[Control, ...] = ()
    if oe < e:
        _, cs, ce = codec._tlv(view, oe, e)
        controls = codec._controls(view, cs, ce)
    return int.from_bytes(view[is_:ie], "big", signed=True), op, controls


@pytest.mark.parametrize("attrs", [SYNC_ATTRIBUTES, ["mail", "userCertificate", "objectSid", "memberOf"],
                                   ["*"], ["+"], ["*", "+", "objectGUID"], []])
def test_raw_paged_search_bytes_are_the_reference_bytes(lab, attrs) -> None:
    """A paged search as the sync makes it, read off the socket PDU by PDU."""
    dc, ep, _ = lab
    session = dc.bind_session(dc.connector_dn, dc.connector_password)
    with reference_renderer():
        reference = paged(dc, session, dc.domain_dn, Scope.SUBTREE, USER_FILTER, attrs, 7)
    assert len(reference) > 30
    flt = ldapfilter.parseFilter(USER_FILTER)
    got: list[bytes] = []
    ids: list[int] = []
    msg_id, cookie = 130, b""  # two-octet messageIDs from the start
    with socket.create_connection((ep.host, ep.ldap_port), timeout=10) as sock:
        bind = pureldap.LDAPBindRequest(dn=dc.connector_dn.encode(), auth=dc.connector_password.encode())
        sock.sendall(_request(1, bind))
        assert _pdus_until(sock, codec.BIND_RESPONSE)[0][0].endswith(b"\x0a\x01\x00\x04\x00\x04\x00")
        while True:
            control = (ctl.PAGED_RESULTS.encode(), False, ctl.encode_paged(7, cookie))
            search = pureldap.LDAPSearchRequest(baseObject=dc.domain_dn.encode(), scope=2, filter=flt,
                                                attributes=[a.encode() for a in attrs])
            sock.sendall(_request(msg_id, search, [control]))
            pdus = _pdus_until(sock, codec.SEARCH_DONE)
            got.extend(p for p, _, op, _ in pdus if op == codec.SEARCH_ENTRY)
            ids.extend(i for _, i, op, _ in pdus if op == codec.SEARCH_ENTRY)
            (done,) = (c for c in pdus[-1][3] if c.oid == ctl.PAGED_RESULTS)
            cookie = ctl.decode_paged(done.value)[1]
            if not cookie:
                break
            msg_id += 1
    assert got == [reference_encode_entry(i, e.dn, e.attributes) for i, e in zip(ids, reference, strict=True)]


LISTS = [SYNC_ATTRIBUTES, ["*"], ["+"], ["*", "+"],
         ["objectGUID", "objectSid", "userCertificate", "mS-DS-ConsistencyGuid", "memberOf"],
         [*HIDDEN_FROM_SELF, "cn"]]


def _credentials(dc, who: str) -> tuple[str, str]:
    """The connector account's, or the user ``who``'s (a DN)."""
    return (dc.connector_dn, dc.connector_password) if who == "connector" else (who, DEFAULT_USER_PASSWORD)


def _reference(dc, who: str, base: str, flt: str, attrs: list[str]) -> list:
    with reference_renderer():
        return paged(dc, dc.bind_session(*_credentials(dc, who)), base, Scope.SUBTREE, flt, attrs, 5)


@pytest.mark.parametrize("attrs", LISTS)
@pytest.mark.parametrize("who", ["connector", "self"])
def test_ldap3_paged_search_reads_the_reference_entries(lab, attrs, who) -> None:
    dc, ep, _ = lab
    me = _users(dc, "Sales")[0].dn
    who = me if who == "self" else who
    user, password = _credentials(dc, who)
    server = ldap3.Server(ep.host, port=ep.ldap_port, connect_timeout=5)
    with ldap3.Connection(server, user, password, return_empty_attributes=False,
                          receive_timeout=10) as conn:
        entries = _ldap3_paged(conn, dc.domain_dn, USER_FILTER, attrs, 5)
    reference = _reference(dc, who, dc.domain_dn, USER_FILTER, attrs)
    assert [r["dn"] for r in entries] == [e.dn for e in reference]
    for r, e in zip(entries, reference, strict=True):
        assert [(k, list(v)) for k, v in r["raw_attributes"].items()] == list(e.attributes.items())
    if who == me and "mail" in attrs:  # the hidden attributes stay hidden on the wire
        mine = next(r for r in entries if r["dn"] == me)
        assert {k.lower() for k in mine["raw_attributes"]}.isdisjoint(a.lower() for a in HIDDEN_FROM_SELF)


def _ldap3_paged(conn: ldap3.Connection, base: str, flt: str, attrs: list[str], size: int) -> list[dict]:
    """Every entry of a paged search, in the order they came (ldap3's own paged_search
    generator hands each page out last entry first)."""
    out, cookie = [], None
    while True:
        assert conn.search(base, flt, attributes=attrs, paged_size=size, paged_cookie=cookie) or conn.response
        out.extend(r for r in conn.response if r["type"] == "searchResEntry")
        cookie = conn.result["controls"][ctl.PAGED_RESULTS]["value"]["cookie"]
        if not cookie:
            return out


def test_ldap3_ranged_member_reads_the_reference_entry(lab) -> None:
    """A range option on the wire: the answer names its range (member;range=0-*, every value:
    fewer than MaxValRange), as the in-process search does; ldap3's auto_range folds it back
    into member."""
    dc, ep, group = lab
    attrs = ["member;range=0-*", "member", "cn"]
    server = ldap3.Server(ep.host, port=ep.ldap_port, connect_timeout=5)
    with ldap3.Connection(server, dc.connector_dn, dc.connector_password, auto_range=False,
                          return_empty_attributes=False, receive_timeout=10) as conn:
        assert conn.search(group, "(objectClass=group)", ldap3.BASE, attributes=attrs)
        (got,) = conn.response
    (reference,) = _reference(dc, "connector", group, "(objectClass=group)", attrs)
    assert [(k, list(v)) for k, v in got["raw_attributes"].items()] == list(reference.attributes.items())
    members = reference.attributes["member;range=0-*"]
    assert len(members) > 30
    with ldap3.Connection(server, dc.connector_dn, dc.connector_password,
                          receive_timeout=10) as conn:
        assert conn.search(group, "(objectClass=group)", ldap3.BASE, attributes=attrs)
        assert conn.response[0]["raw_attributes"]["member"] == members


def _ldif_entries(text: str) -> list[tuple[str, list[tuple[str, bytes]]]]:
    """(dn, [(attribute, value)]) of ``ldapsearch -LLL -o ldif-wrap=no`` output."""
    out: list[tuple[str, list[tuple[str, bytes]]]] = []
    for block in text.strip().split("\n\n"):
        pairs = []
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            name, sep, rest = line.partition(":")
            assert sep, line
            value = base64.b64decode(rest[2:]) if rest.startswith(": ") else rest[1:].encode()
            pairs.append((name, value))
        if not pairs:  # the paged-results comment after the last page
            continue
        (_, dn), *attributes = pairs
        out.append((dn.decode(), attributes))
    return out


@pytest.mark.needs_tool("ldapsearch")
@pytest.mark.parametrize("attrs", LISTS)
def test_ldapsearch_paged_search_prints_the_reference_entries(lab, attrs) -> None:
    dc, ep, _ = lab
    me = _users(dc, "Sales")[0].dn
    cmd = ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-E", "pr=5/noprompt", "-H", ep.ldap_url,
           "-D", me, "-w", DEFAULT_USER_PASSWORD, "-b", dc.domain_dn, USER_FILTER, *attrs]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env={**os.environ})
    assert r.returncode == 0, r.stderr
    reference = _reference(dc, me, dc.domain_dn, USER_FILTER, attrs)
    assert _ldif_entries(r.stdout) == [
        (e.dn, [(name, v) for name, vs in e.attributes.items() for v in vs]) for e in reference
    ]


@pytest.mark.parametrize("attrs", [
    ["sn", "cn", "givenName", "mail", "sAMAccountName", "objectGUID", "distinguishedName"],
    ["distinguishedName", "sAMAccountName", "objectGUID", "givenName", "mail", "cn", "sn"],
])
def test_attributes_come_back_in_the_asked_order(lab, attrs) -> None:
    """One order, whatever the process's hash seed (the DC used to walk a set of the names)."""
    dc, ep, _ = lab
    me = _users(dc, "IT")[0]
    server = ldap3.Server(ep.host, port=ep.ldap_port, connect_timeout=5)
    with ldap3.Connection(server, ep.admin_dn, ep.admin_password,
                          return_empty_attributes=False, receive_timeout=10) as conn:
        assert conn.search(me.dn, "(objectClass=user)", ldap3.BASE, attributes=attrs)
        assert list(conn.response[0]["raw_attributes"]) == attrs
