"""LDAP search filters (RFC 4515) with Active Directory matching semantics.

The AST and the text parser are in :mod:`fakes.ad.filter_syntax` (re-exported here).
:func:`evaluate` is RFC 4511 three-valued:
``True``, ``False`` or ``None`` (Undefined), with AD's rules layered on top:

* matching follows the attribute's syntax: integers numerically, DNs normalized,
  strings case-insensitively, SIDs/GUIDs/octets as bytes (``objectSid`` also accepts the
  ``S-1-5-...`` text form);
* ``objectClass`` matches every superclass (the DC stores the whole chain), and
  ``objectCategory`` accepts a class name (``(objectCategory=person)``) as AD does;
* an attribute the schema does not know is Undefined, never an error; ``(objectClass=*)``
  is always true;
* extensible rules 1.2.840.113556.1.4.803 (bitwise AND), .804 (bitwise OR) and .1941
  (LDAP_MATCHING_RULE_IN_CHAIN, transitive over member/memberOf/manager or any DN attribute).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING
from uuid import UUID

from fakes.ad.dn import DNError, normalize_dn, parse_dn
from fakes.ad.filter_syntax import (
    MATCH_BIT_AND,
    MATCH_BIT_OR,
    MATCH_IN_CHAIN,
    And,
    Approx,
    Equal,
    Extensible,
    Filter,
    FilterError,
    GreaterOrEqual,
    LessOrEqual,
    Not,
    Or,
    Present,
    Substrings,
    filter_to_string,
    parse_filter,
)
from fakes.ad.schema import AttributeType, Schema, Syntax
from fakes.ad.sid import sid_from_bytes, sid_to_bytes

if TYPE_CHECKING:
    from fakes.ad.directory import Directory, Entry

__all__ = [
    "MATCH_BIT_AND",
    "MATCH_BIT_OR",
    "MATCH_IN_CHAIN",
    "And",
    "Approx",
    "Equal",
    "Extensible",
    "Filter",
    "FilterError",
    "GreaterOrEqual",
    "LessOrEqual",
    "Not",
    "Or",
    "Present",
    "Substrings",
    "compile_filter",
    "evaluate",
    "filter_to_string",
    "match_key",
    "parse_filter",
    "sid_from_bytes",
    "sid_to_bytes",
]

# --------------------------------------------------------------------------------------
# Matching keys: one normalization shared by evaluation and the directory's indexes.


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", errors="surrogateescape") if isinstance(value, bytes) else value


# Syntaxes whose str values reach match_key's final casefold branch unchanged. Tuples, not sets:
# membership then compares identities, while a set would call Enum's Python-level __hash__.
_CASEFOLD_SYNTAXES = (Syntax.STRING, Syntax.OID, Syntax.PRINTABLE, Syntax.GENERALIZED_TIME, Syntax.DN_BINARY)
_NUMERIC_SYNTAXES = (Syntax.INTEGER, Syntax.LARGE_INTEGER)
_BINARY_SYNTAXES = tuple(s for s in Syntax if s.binary)


def match_key(attr: AttributeType, value: bytes | str) -> object:
    """The equality key of ``value`` under ``attr``'s syntax, or None if it cannot match.

    Assertion values arrive as bytes; stored values are str (text syntaxes) or bytes.
    """
    syntax = attr.syntax
    if type(value) is str and syntax in _CASEFOLD_SYNTAXES:
        return value.casefold()  # the common case (the last branch below), kept first for speed
    try:
        if syntax in _NUMERIC_SYNTAXES:
            return int(_text(value).strip())
        if syntax is Syntax.DN:
            return normalize_dn(_text(value))
        if syntax is Syntax.SID:
            if isinstance(value, str) or value[:2].upper() == b"S-":
                return sid_to_bytes(_text(value))
            return bytes(value)
        if syntax is Syntax.GUID:
            if isinstance(value, UUID):
                return value.bytes_le
            if isinstance(value, bytes) and len(value) == 16:
                return value
            return UUID(_text(value)).bytes_le
        if syntax in _BINARY_SYNTAXES:
            return value if isinstance(value, bytes) else value.encode("utf-8")
        if syntax is Syntax.BOOLEAN:
            return _text(value).strip().upper()
        return _text(value).casefold()
    except (ValueError, DNError, struct.error):
        return None


# --------------------------------------------------------------------------------------
# Evaluation (compiled to closures so a subtree walk pays the schema lookups once)

Matcher = Callable[["Entry"], "bool | None"]


# Back-link attributes are not stored on the entry; the directory computes them.
_BACKLINKS = {"memberof": "member_of", "directreports": "direct_reports"}
Values = Callable[["Entry", str], list]


def _bind_values(directory: Directory) -> Values:
    def values(entry: Entry, key: str) -> list:
        if key == "distinguishedname":
            return [entry.dn]
        if key == "objectguid":
            return [entry.guid.bytes_le]
        if key in _BACKLINKS:
            return [g.dn for g in getattr(directory, _BACKLINKS[key])(entry)]
        return entry.attrs.get(key, [])

    return values


def _undefined(_: Entry) -> bool | None:
    return None


def compile_filter(f: Filter, directory: Directory) -> Matcher:
    """Turn ``f`` into a function ``entry -> True | False | None`` bound to ``directory``."""
    schema = directory.schema
    if isinstance(f, And):
        parts = [compile_filter(x, directory) for x in f.filters]

        def match_and(e: Entry) -> bool | None:
            result: bool | None = True
            for p in parts:
                r = p(e)
                if r is False:
                    return False
                if r is None:
                    result = None
            return result

        return match_and
    if isinstance(f, Or):
        parts = [compile_filter(x, directory) for x in f.filters]

        def match_or(e: Entry) -> bool | None:
            result: bool | None = False
            for p in parts:
                r = p(e)
                if r is True:
                    return True
                if r is None:
                    result = None
            return result

        return match_or
    if isinstance(f, Not):
        inner = compile_filter(f.filter, directory)

        def match_not(e: Entry) -> bool | None:
            r = inner(e)
            return None if r is None else not r

        return match_not

    attr_name = getattr(f, "attr", None)
    at = schema.find_attribute(attr_name.split(";", 1)[0]) if attr_name else None
    if isinstance(f, Present):
        if at is None:
            return _undefined
        key = at.name.lower()
        if key == "objectclass":
            return lambda e: True
        if key in ("distinguishedname", "objectguid"):
            return lambda e: True
        if key == "ntsecuritydescriptor":
            return lambda e: bool(e.sd)
        if key in _BACKLINKS:
            values = _bind_values(directory)
            return lambda e: bool(values(e, key))
        return lambda e: bool(e.attrs.get(key))
    if isinstance(f, Extensible):
        return _compile_extensible(f, at, directory)
    if at is None:
        return _undefined
    key = at.name.lower()
    if isinstance(f, Equal | Approx):
        return _compile_equal(at, key, f.value, schema, _bind_values(directory))
    if isinstance(f, GreaterOrEqual | LessOrEqual):
        return _compile_order(at, key, f.value, isinstance(f, GreaterOrEqual), _bind_values(directory))
    if isinstance(f, Substrings):
        return _compile_substrings(at, key, f, _bind_values(directory))
    raise TypeError(f"not a filter: {f!r}")


def _compile_equal(at: AttributeType, key: str, value: bytes, schema: Schema, values: Values) -> Matcher:
    if key == "objectcategory" and b"=" not in value:
        # AD accepts a class name and substitutes that class's defaultObjectCategory.
        name = _text(value)
        cls = schema.find_class(name)
        wanted = (cls.default_object_category if cls else name).casefold()

        def match_category(e: Entry) -> bool | None:
            return any(_category_cn(v) == wanted for v in e.attrs.get("objectcategory", ()))

        return match_category
    target = match_key(at, value)
    if target is None:
        return _undefined
    if key in _COMPUTED_VALUES:

        def match_eq(e: Entry) -> bool | None:
            return any(match_key(at, v) == target for v in values(e, key))

        return match_eq
    # Stored attribute: read it directly, and remember which raw values match and which do not
    # (objectClass chains, flags repeat) so a subtree search over 100k entries normalises each
    # distinct value once and tests an entry's values with two set operations, not a loop.
    hits: set[object] = set()
    misses: set[object] = set()

    def match_stored(e: Entry) -> bool | None:
        values = e.attrs.get(key)
        if not values:
            return False
        if not hits.isdisjoint(values):
            return True
        if misses.issuperset(values):
            return False
        for v in values:  # a value not seen yet
            if v in misses:
                continue
            matched = v in hits or match_key(at, v) == target
            if len(hits) + len(misses) < _MEMO_MAX:
                (hits if matched else misses).add(v)
            if matched:
                return True
        return False

    return match_stored


_COMPUTED_VALUES = frozenset(("distinguishedname", "objectguid", *_BACKLINKS))
_MISSING = object()
_MEMO_MAX = 4096


def _category_cn(dn: str) -> str:
    try:
        rdns = parse_dn(dn)
    except DNError:
        return ""
    return rdns[0][0][1].casefold() if rdns else ""


def _compile_order(at: AttributeType, key: str, value: bytes, greater: bool, values: Values) -> Matcher:
    target = match_key(at, value)
    if target is None or at.syntax in (Syntax.SID, Syntax.GUID, Syntax.SECURITY_DESCRIPTOR):
        return _undefined

    def match_order(e: Entry) -> bool | None:
        for v in values(e, key):
            k = match_key(at, v)
            if k is None:
                continue
            if (k >= target) if greater else (k <= target):  # type: ignore[operator]
                return True
        return False

    return match_order


def _compile_substrings(at: AttributeType, key: str, f: Substrings, values: Values) -> Matcher:
    if at.syntax.numeric or at.syntax in (Syntax.SID, Syntax.GUID, Syntax.SECURITY_DESCRIPTOR):
        return _undefined
    binary = at.syntax.binary
    conv: Callable[[bytes], object] = (lambda b: b) if binary else (lambda b: _text(b).casefold())
    initial = conv(f.initial) if f.initial is not None else None
    middle = [conv(a) for a in f.any]
    final = conv(f.final) if f.final is not None else None

    def one(v: object) -> bool:
        s = (v if isinstance(v, bytes) else str(v).encode()) if binary else _text(v).casefold()  # type: ignore[arg-type]
        pos = 0
        end = len(s)
        if initial is not None:
            if not s.startswith(initial):  # type: ignore[arg-type]
                return False
            pos = len(initial)  # type: ignore[arg-type]
        if final is not None:
            if len(s) - pos < len(final) or not s.endswith(final):  # type: ignore[arg-type]
                return False
            end = len(s) - len(final)  # type: ignore[arg-type]
        for m in middle:
            idx = s.find(m, pos, end)  # type: ignore[arg-type]
            if idx < 0:
                return False
            pos = idx + len(m)  # type: ignore[arg-type]
        return True

    def match_sub(e: Entry) -> bool | None:
        return any(one(v) for v in values(e, key))

    return match_sub


def _compile_extensible(f: Extensible, at: AttributeType | None, directory: Directory) -> Matcher:
    rule = f.rule
    if rule in (MATCH_BIT_AND, MATCH_BIT_OR):
        if at is None or not at.syntax.numeric:
            return _undefined
        try:
            mask = int(_text(f.value))
        except ValueError:
            return _undefined
        key = at.name.lower()
        is_and = rule == MATCH_BIT_AND

        def match_bits(e: Entry) -> bool | None:
            for v in e.attrs.get(key, ()):
                try:
                    n = int(v)
                except ValueError:
                    continue
                # AD compares the 32-bit two's complement pattern (groupType is negative).
                n &= 0xFFFFFFFFFFFFFFFF
                m = mask & 0xFFFFFFFFFFFFFFFF
                if (n & m) == m if is_and else (n & m) != 0:
                    return True
            return False

        return match_bits
    if rule == MATCH_IN_CHAIN:
        if at is None or at.syntax is not Syntax.DN:
            return _undefined
        try:
            target_key = normalize_dn(_text(f.value))
        except DNError:
            return _undefined
        attr_key = at.name.lower()

        def match_chain(e: Entry) -> bool | None:
            target = directory.get(target_key)
            if target is None:
                return False
            return target in directory.linked_closure(e, attr_key)

        return match_chain
    if rule is None or rule.lower() in ("2.5.13.2", "2.5.13.5", "caseignorematch", "caseexactmatch",
                                          "2.5.13.1", "distinguishednamematch", "2.5.13.14", "integermatch"):
        if at is None:
            return _undefined
        base = _compile_equal(at, at.name.lower(), f.value, directory.schema, _bind_values(directory))
        if not f.dn_attributes:
            return base
        wanted = match_key(at, f.value)

        def match_dn_attrs(e: Entry) -> bool | None:
            if base(e):
                return True
            for rdn in parse_dn(e.dn):
                for a, v in rdn:
                    if a.lower() == at.name.lower() and match_key(at, v) == wanted:
                        return True
            return False

        return match_dn_attrs
    return _undefined


def evaluate(f: Filter, entry: Entry, directory: Directory) -> bool | None:
    """Evaluate ``f`` against ``entry``: True, False, or None for Undefined (RFC 4511 4.5.1.7)."""
    return compile_filter(f, directory)(entry)
