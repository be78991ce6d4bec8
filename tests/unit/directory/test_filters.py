"""RFC 4515 parsing/printing and AD matching semantics."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.ad.api import Scope
from fakes.ad.directory import Directory, Entry
from fakes.ad.filters import (
    And,
    Equal,
    Extensible,
    FilterError,
    Not,
    Or,
    Present,
    Substrings,
    evaluate,
    filter_to_string,
    parse_filter,
    sid_from_bytes,
    sid_to_bytes,
)

from .conftest import DOMAIN_SID

Lab = tuple[Directory, dict[str, Entry]]


def names(d: Directory, base: Entry, text: str) -> set[str]:
    return {e.attrs["cn"][0] for e in d.search(base, Scope.SUBTREE, parse_filter(text)) if "cn" in e.attrs}


def test_parse_structure_and_escapes() -> None:
    f = parse_filter(
        "(&(objectClass=user)(|(cn=a\\2ab*)(!(sn=x\\29)))(member:1.2.840.113556.1.4.1941:=CN=G))")
    assert isinstance(f, And) and isinstance(f.filters[1], Or)
    assert f.filters[1].filters[0] == Substrings("cn", b"a*b", (), None)
    assert f.filters[1].filters[1] == Not(Equal("sn", b"x)"))
    assert f.filters[2] == Extensible("1.2.840.113556.1.4.1941", "member", b"CN=G", False)
    assert parse_filter("(objectGUID=\\01\\02)") == Equal("objectGUID", b"\x01\x02")
    assert parse_filter("(cn:dn:2.5.13.5:=x)") == Extensible("2.5.13.5", "cn", b"x", True)
    assert parse_filter("(cn=*)") == Present("cn")
    assert parse_filter("(cn=a*b*c)") == Substrings("cn", b"a", (b"b",), b"c")


@pytest.mark.parametrize(
    "bad", ["(cn=a", "cn=a)", "(&(cn=a)", "(=a)", "(cn=\\zz)", "(cn=a(b)", "((cn=a))", "(cn=a**b)"])
def test_bad_filters(bad: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(bad)


_attr = st.sampled_from(["cn", "sn", "objectClass", "userAccountControl", "member"])
_val = st.binary(max_size=6)
_leaf = st.one_of(
    st.builds(Equal, _attr, _val),
    st.builds(Present, _attr),
    st.builds(Substrings, _attr, st.none() | st.binary(min_size=1, max_size=3),
              st.lists(st.binary(min_size=1, max_size=3), max_size=2).map(tuple),
              st.none() | st.binary(min_size=1, max_size=3)).filter(
        lambda s: s.initial is not None or s.any or s.final is not None),
    st.builds(Extensible, st.none() | st.just("1.2.840.113556.1.4.803"), _attr, _val, st.booleans()),
)
_filters = st.recursive(_leaf, lambda kids: st.one_of(
    st.builds(And, st.lists(kids, max_size=3).map(tuple)),
    st.builds(Or, st.lists(kids, max_size=3).map(tuple)),
    st.builds(Not, kids)), max_leaves=8)


@given(_filters)
def test_string_round_trip(f: object) -> None:
    assert parse_filter(filter_to_string(f)) == f  # type: ignore[arg-type]


def test_sid_round_trip() -> None:
    sid = f"{DOMAIN_SID}-500"
    assert sid_from_bytes(sid_to_bytes(sid)) == sid
    assert sid_to_bytes("S-1-5-32-544").hex() == "01020000000000052000000020020000"


def test_ad_semantics(lab: Lab) -> None:
    d, e = lab
    root = e["root"]
    assert names(d, root, "(objectClass=person)") == {"John Smith", "Jane Doe", "Bob Stone"}
    assert names(d, root, "(objectCategory=person)") == {"John Smith", "Jane Doe", "Bob Stone"}
    assert names(d, root, "(objectCategory=CN=Group,CN=Schema,CN=Configuration,DC=contoso,DC=com)") == {
        "Inner", "Outer", "Loop"}
    assert names(d, root, "(sAMAccountName=JOHN.SMITH)") == {"John Smith"}
    assert names(d, root, "(userAccountControl:1.2.840.113556.1.4.803:=2)") == {"Jane Doe"}
    assert names(d, root, "(groupType:1.2.840.113556.1.4.803:=2147483648)") == {"Inner", "Outer", "Loop"}
    assert names(d, root, "(userAccountControl:1.2.840.113556.1.4.804:=3)") == {"Jane Doe"}
    assert names(d, root, "(&(objectClass=user)(userAccountControl>=513))") == {"Jane Doe"}
    assert names(d, root, "(userAccountControl<=0512)") == {"John Smith", "Bob Stone"}
    assert names(d, root, f"(objectSid={DOMAIN_SID}-1102)") == {"Jane Doe"}
    raw = "".join(f"\\{b:02x}" for b in e["bob"].guid.bytes_le)
    assert names(d, root, f"(objectGUID={raw})") == {"Bob Stone"}
    assert names(d, root, "(manager=cn=JOHN SMITH,ou=staff,dc=contoso,dc=com)") == {"Jane Doe"}
    assert names(d, root, "(cn=j*h)") == {"John Smith"}
    assert names(d, root, "(noSuchAttr=1)") == set()
    assert names(d, root, "(!(noSuchAttr=1))") == set()  # NOT Undefined is Undefined
    assert evaluate(parse_filter("(noSuchAttr=*)"), e["john"], d) is None
    assert evaluate(parse_filter("(objectClass=*)"), e["root"], d) is True
    assert evaluate(parse_filter("(|(noSuchAttr=1)(cn=John Smith))"), e["john"], d) is True
    assert evaluate(parse_filter("(&(noSuchAttr=1)(cn=x))"), e["john"], d) is False


def test_in_chain(lab: Lab) -> None:
    d, e = lab
    root = e["root"]
    outer_dn = e["outer"].dn
    assert names(d, root, f"(memberOf:1.2.840.113556.1.4.1941:={outer_dn})") == {
        "John Smith", "Jane Doe", "Inner", "Loop", "Outer"}  # the cycle makes Outer its own member
    assert names(d, root, f"(memberOf={outer_dn})") == {"John Smith", "Inner"}
    assert names(d, root, f"(member:1.2.840.113556.1.4.1941:={e['jane'].dn})") == {"Inner", "Outer", "Loop"}
    assert names(d, root, f"(manager:1.2.840.113556.1.4.1941:={e['john'].dn})") == {"Jane Doe", "Bob Stone"}


# --- property: evaluate() equals a naive three-valued evaluator ---------------------------

def naive(f: object, entry: Entry) -> bool | None:
    if isinstance(f, And):
        rs = [naive(x, entry) for x in f.filters]
        return False if False in rs else (None if None in rs else True)
    if isinstance(f, Or):
        rs = [naive(x, entry) for x in f.filters]
        return True if True in rs else (None if None in rs else False)
    if isinstance(f, Not):
        r = naive(f.filter, entry)
        return None if r is None else not r
    values = [str(v).lower() for v in entry.attrs.get(f.attr.lower(), [])]  # type: ignore[union-attr]
    if f.attr == "noSuchAttr":  # type: ignore[union-attr]
        return None
    if isinstance(f, Present):
        return True if f.attr == "objectClass" else bool(values)
    if isinstance(f, Substrings):
        if f.attr == "n":
            return None
        import re
        pat = (re.escape((f.initial or b"").decode(errors="surrogateescape").lower()) + ".*"
               + "".join(re.escape(a.decode(errors="surrogateescape").lower()) + ".*" for a in f.any)
               + re.escape((f.final or b"").decode(errors="surrogateescape").lower()))
        return any(re.fullmatch(pat, v, re.S) for v in values)
    try:
        text = f.value.decode().lower()  # type: ignore[union-attr]
    except UnicodeDecodeError:
        return None if f.attr == "n" else False  # type: ignore[union-attr]
    if isinstance(f, Equal):
        if f.attr == "n":
            return int(text) in [int(v) for v in values] if text.lstrip("-").isdigit() else None
        return text in values
    if isinstance(f, Substrings):
        if f.attr == "n":
            return None
        import re
        pat = (re.escape((f.initial or b"").decode(errors="surrogateescape").lower()) + ".*"
               + "".join(re.escape(a.decode(errors="surrogateescape").lower()) + ".*" for a in f.any)
               + re.escape((f.final or b"").decode(errors="surrogateescape").lower()))
        return any(re.fullmatch(pat, v, re.S) for v in values)
    raise AssertionError(f)


_words = st.sampled_from(["ab", "b", "abc", "ba", "c"])
_n_attr = st.sampled_from(["cn", "sn", "n", "noSuchAttr"])
_naive_leaf = st.one_of(
    st.builds(Equal, _n_attr, st.sampled_from([b"ab", b"b", b"5", b"-3", b"x"])),
    st.builds(Present, st.sampled_from(["cn", "sn", "n", "noSuchAttr", "objectClass"])),
    st.builds(Substrings, st.sampled_from(["cn", "sn"]), st.none() | st.sampled_from([b"a", b"b"]),
              st.lists(st.sampled_from([b"b", b"c"]), max_size=2).map(tuple),
              st.none() | st.sampled_from([b"c", b"b"])).filter(
        lambda s: s.initial is not None or s.any or s.final is not None),
)
_naive_filters = st.recursive(_naive_leaf, lambda k: st.one_of(
    st.builds(And, st.lists(k, max_size=3).map(tuple)), st.builds(Or, st.lists(k, max_size=3).map(tuple)),
    st.builds(Not, k)), max_leaves=6)


@settings(max_examples=150, deadline=None)
@given(_naive_filters, st.lists(_words, max_size=2), st.lists(_words, max_size=2),
       st.lists(st.sampled_from(["5", "-3", "7"]), max_size=2))
def test_evaluate_matches_naive(f: object, cn: list[str], sn: list[str], n: list[str]) -> None:
    from uuid import uuid4

    from fakes.ad.schema import default_schema

    d = Directory(default_schema())
    # "n" stands in for an integer attribute: map it to logonCount.
    attrs = {"objectClass": ["top", "organizationalUnit"], "cn": cn, "sn": sn, "logonCount": n}
    entry = d.add(None, f"OU={uuid4().hex}", attrs)
    f2 = _rename(f)
    assert evaluate(f2, entry, d) == naive(f, _alias(entry))  # type: ignore[arg-type]


def _rename(f: object) -> object:
    if isinstance(f, And | Or):
        return type(f)(tuple(_rename(x) for x in f.filters))
    if isinstance(f, Not):
        return Not(_rename(f.filter))  # type: ignore[arg-type]
    if getattr(f, "attr", None) == "n":
        return type(f)(*(("logonCount" if a == "n" else a) for a in _fields(f)))
    return f


def _fields(f: object) -> list:
    return [getattr(f, s) for s in f.__slots__]  # type: ignore[attr-defined]


def _alias(entry: Entry) -> Entry:
    attrs = dict(entry.attrs)
    if "logoncount" in attrs:
        attrs["n"] = attrs["logoncount"]
    return Entry(entry.guid, entry.dn, None, attrs)
