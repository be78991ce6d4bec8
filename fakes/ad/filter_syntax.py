"""LDAP search filters as text and as a tree (RFC 4515): the AST, the parser and the printer.

The LDAP adapter builds this AST from the wire; :func:`parse_filter` builds it from text.
Matching (with Active Directory's semantics) lives in :mod:`fakes.ad.filters`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

MATCH_BIT_AND = "1.2.840.113556.1.4.803"
MATCH_BIT_OR = "1.2.840.113556.1.4.804"
MATCH_IN_CHAIN = "1.2.840.113556.1.4.1941"


class FilterError(ValueError):
    """Filter text that does not follow RFC 4515."""


@dataclass(frozen=True, slots=True)
class And:
    """``(&...)``: every filter matches."""
    filters: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """``(|...)``: any filter matches."""
    filters: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """``(!...)``: the filter does not match."""
    filter: Filter


@dataclass(frozen=True, slots=True)
class Equal:
    """``(attr=value)``."""
    attr: str
    value: bytes


@dataclass(frozen=True, slots=True)
class Substrings:
    """``(attr=initial*any*final)``: the parts between the stars."""
    attr: str
    initial: bytes | None
    any: tuple[bytes, ...]
    final: bytes | None


@dataclass(frozen=True, slots=True)
class GreaterOrEqual:
    """``(attr>=value)``."""
    attr: str
    value: bytes


@dataclass(frozen=True, slots=True)
class LessOrEqual:
    """``(attr<=value)``."""
    attr: str
    value: bytes


@dataclass(frozen=True, slots=True)
class Present:
    """``(attr=*)``."""
    attr: str


@dataclass(frozen=True, slots=True)
class Approx:
    """``(attr~=value)``."""
    attr: str
    value: bytes


@dataclass(frozen=True, slots=True)
class Extensible:
    """``(attr:dn:rule:=value)``: an extensible match (matching rule OID, bit and chain rules among them)."""
    rule: str | None
    attr: str | None
    value: bytes
    dn_attributes: bool = False


Filter = Union[And, Or, Not, Equal, Substrings, GreaterOrEqual, LessOrEqual, Present, Approx, Extensible]  # noqa: UP007

# --------------------------------------------------------------------------------------
# Parsing and printing

_SPECIAL_OUT = frozenset(b"*()\\\x00")


def _unescape(text: str, whole: str) -> bytes:
    if "\\" not in text:
        return text.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            pair = text[i + 1 : i + 3]
            try:
                if len(pair) != 2:
                    raise ValueError
                out.append(int(pair, 16))
            except ValueError:
                raise FilterError(f"invalid escape in filter {whole!r} near {text[i:i + 3]!r}") from None
            i += 3
        else:
            out += ch.encode("utf-8")
            i += 1
    return bytes(out)


def _escape(value: bytes) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(f"\\{b:02x}" for b in value)
    return "".join(f"\\{ord(c):02x}" if ord(c) < 0x80 and ord(c) in _SPECIAL_OUT else c for c in text)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, why: str) -> FilterError:
        return FilterError(f"bad filter {self.text!r} at offset {self.pos}: {why}")

    def parse(self) -> Filter:
        self.skip_ws()
        if self.pos < len(self.text) and self.text[self.pos] != "(":
            # Tolerate a bare item without parentheses, as OpenLDAP tools do.
            body = self.text[self.pos :].strip()
            if "(" in body or ")" in body:
                raise self.fail("unbalanced parentheses")
            result = self.item(body)
            self.pos = len(self.text)
            return result
        result = self.filter()
        self.skip_ws()
        if self.pos != len(self.text):
            raise self.fail("trailing characters")
        return result

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def filter(self) -> Filter:
        self.skip_ws()
        if self.pos >= len(self.text) or self.text[self.pos] != "(":
            raise self.fail("expected '('")
        self.pos += 1
        self.skip_ws()
        if self.pos >= len(self.text):
            raise self.fail("unexpected end")
        ch = self.text[self.pos]
        if ch in "&|":
            self.pos += 1
            items: list[Filter] = []
            self.skip_ws()
            while self.pos < len(self.text) and self.text[self.pos] == "(":
                items.append(self.filter())
                self.skip_ws()
            result: Filter = And(tuple(items)) if ch == "&" else Or(tuple(items))
        elif ch == "!":
            self.pos += 1
            result = Not(self.filter())
            self.skip_ws()
        else:
            end = self.pos
            while end < len(self.text) and self.text[end] != ")":
                if self.text[end] == "(":
                    raise self.fail("unescaped '(' in value")
                end += 1
            if end >= len(self.text):
                raise self.fail("missing ')'")
            result = self.item(self.text[self.pos : end])
            self.pos = end
        if self.pos >= len(self.text) or self.text[self.pos] != ")":
            raise self.fail("expected ')'")
        self.pos += 1
        return result

    def item(self, body: str) -> Filter:
        eq = body.find("=")
        if eq <= 0:
            raise self.fail(f"no attribute/operator in {body!r}")
        lhs, value = body[:eq], body[eq + 1 :]
        op = lhs[-1]
        if op in "<>~":
            attr = lhs[:-1].strip()
            self._check_attr(attr)
            raw = _unescape(value, self.text)
            return {"<": LessOrEqual, ">": GreaterOrEqual, "~": Approx}[op](attr, raw)
        if op == ":":
            return self.extensible(lhs[:-1], value)
        attr = lhs.strip()
        self._check_attr(attr)
        if value == "*":
            return Present(attr)
        if "*" in value:
            pieces = value.split("*")
            initial = _unescape(pieces[0], self.text) if pieces[0] else None
            final = _unescape(pieces[-1], self.text) if pieces[-1] else None
            middle = tuple(_unescape(p, self.text) for p in pieces[1:-1] if p)
            if any(not p for p in pieces[1:-1]):
                raise self.fail("empty substring component ('**')")
            return Substrings(attr, initial, middle, final)
        return Equal(attr, _unescape(value, self.text))

    def extensible(self, lhs: str, value: str) -> Extensible:
        parts = lhs.split(":")
        attr: str | None = parts[0].strip() or None
        dn_attrs = False
        rule: str | None = None
        for p in parts[1:]:
            p = p.strip()
            if p.lower() == "dn":
                dn_attrs = True
            elif p:
                rule = p
        if attr is None and rule is None:
            raise self.fail("extensible match needs an attribute or a matching rule")
        if attr is not None:
            self._check_attr(attr)
        return Extensible(rule, attr, _unescape(value, self.text), dn_attrs)

    def _check_attr(self, attr: str) -> None:
        if not attr or not all(c.isalnum() or c in "-.;_" for c in attr):
            raise self.fail(f"invalid attribute description {attr!r}")


def parse_filter(text: str) -> Filter:
    """Parse RFC 4515 filter text; assertion values come back as bytes (``\\xx`` decoded)."""
    return _Parser(text).parse()


def filter_to_string(f: Filter) -> str:
    """RFC 4515 text for ``f`` (``parse_filter(filter_to_string(f)) == f``)."""
    if isinstance(f, And):
        return "(&" + "".join(filter_to_string(x) for x in f.filters) + ")"
    if isinstance(f, Or):
        return "(|" + "".join(filter_to_string(x) for x in f.filters) + ")"
    if isinstance(f, Not):
        return "(!" + filter_to_string(f.filter) + ")"
    if isinstance(f, Equal):
        return f"({f.attr}={_escape(f.value)})"
    if isinstance(f, GreaterOrEqual):
        return f"({f.attr}>={_escape(f.value)})"
    if isinstance(f, LessOrEqual):
        return f"({f.attr}<={_escape(f.value)})"
    if isinstance(f, Approx):
        return f"({f.attr}~={_escape(f.value)})"
    if isinstance(f, Present):
        return f"({f.attr}=*)"
    if isinstance(f, Substrings):
        body = _escape(f.initial or b"") + "*" + "".join(_escape(a) + "*" for a in f.any)
        return f"({f.attr}={body}{_escape(f.final or b'')})"
    if isinstance(f, Extensible):
        lhs = (f.attr or "") + (":dn" if f.dn_attributes else "") + (f":{f.rule}" if f.rule else "")
        return f"({lhs}:={_escape(f.value)})"
    raise TypeError(f"not a filter: {f!r}")
