"""Search filters as they come off the wire, handed to the DC without re-parsing text.

The codec (:mod:`fakes.ad.ldap.codec`) decodes a BER filter into a small tuple tree;
ldaptor users may instead hold ``pureldap.LDAPFilter_*`` objects
(:func:`from_pureldap` converts those). :func:`to_dc_filter` gives the DC what it takes:
an RFC 4515 string (the DC's ``search(filter: str | Filter)`` accepts both). Rendering a
tree is a few microseconds; ldaptor's own string parser costs milliseconds, which is why
we never go through text on the ldaptor side.

Tree shapes::

    ("and", [f, ...])  ("or", [f, ...])  ("not", f)
    ("eq" | "ge" | "le" | "approx", attr, value_bytes)
    ("present", attr)
    ("substrings", attr, initial | None, [any, ...], final | None)
    ("ext", rule | None, attr | None, value_bytes, dn_attributes)
"""

from __future__ import annotations

from typing import Any

_OPS = {"eq": "=", "ge": ">=", "le": "<=", "approx": "~="}
_SPECIAL = {0x2A: b"\\2a", 0x28: b"\\28", 0x29: b"\\29", 0x5C: b"\\5c", 0x00: b"\\00"}


def escape(value: bytes) -> str:
    """RFC 4515 assertion-value escaping; non-UTF-8 bytes are hex-escaped too."""
    if not any(b in _SPECIAL for b in value):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            pass
    try:
        value.decode("utf-8")
        out = bytearray()
        for b in value:
            out += _SPECIAL.get(b, bytes((b,)))
        return out.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(f"\\{b:02x}" for b in value)


def to_string(tree: tuple) -> str:
    """Render a filter tree as an RFC 4515 string."""
    kind = tree[0]
    if kind in ("and", "or"):
        return "(" + ("&" if kind == "and" else "|") + "".join(to_string(f) for f in tree[1]) + ")"
    if kind == "not":
        return "(!" + to_string(tree[1]) + ")"
    if kind == "present":
        return f"({tree[1]}=*)"
    if kind == "substrings":
        _, attr, initial, anys, final = tree
        middle = "*".join(escape(a) for a in anys)
        text = (escape(initial) if initial is not None else "") + "*"
        if anys:
            text += middle + "*"
        if final is not None:
            text += escape(final)
        return f"({attr}={text})"
    if kind == "ext":
        _, rule, attr, value, dn_attrs = tree
        left = (attr or "") + (":dn" if dn_attrs else "") + (f":{rule}" if rule else "")
        return f"({left}:={escape(value)})"
    return f"({tree[1]}{_OPS[kind]}{escape(tree[2])})"


def to_ast(tree: tuple) -> Any:
    """Build the DC's own filter AST (:mod:`fakes.ad.filters`) from a tree, no text in between."""
    from fakes.ad import filters as f

    kind = tree[0]
    if kind == "and":
        return f.And(tuple(to_ast(t) for t in tree[1]))
    if kind == "or":
        return f.Or(tuple(to_ast(t) for t in tree[1]))
    if kind == "not":
        return f.Not(to_ast(tree[1]))
    if kind == "present":
        return f.Present(tree[1])
    if kind == "substrings":
        return f.Substrings(tree[1], tree[2], tuple(tree[3]), tree[4])
    if kind == "ext":
        return f.Extensible(tree[1], tree[2], tree[3], tree[4])
    cls = {"eq": f.Equal, "ge": f.GreaterOrEqual, "le": f.LessOrEqual, "approx": f.Approx}[kind]
    return cls(tree[1], tree[2])


def _ast_available() -> bool:
    try:
        from fakes.ad import filters as f

        return hasattr(f, "And") and hasattr(f, "Extensible")
    except ImportError:
        return False


_USE_AST: bool | None = None


def to_dc_filter(tree: tuple) -> Any:
    """What :meth:`DomainController.search` is given for a wire filter: its AST, else RFC 4515 text."""
    global _USE_AST
    if _USE_AST is None:
        _USE_AST = _ast_available()
    return to_ast(tree) if _USE_AST else to_string(tree)


def _b(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def _s(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def from_pureldap(obj: Any) -> tuple:
    """Convert an ldaptor ``pureldap.LDAPFilter_*`` object into the tuple tree."""
    from ldaptor.protocols import pureldap as p

    if isinstance(obj, p.LDAPFilter_and):
        return ("and", [from_pureldap(f) for f in obj])
    if isinstance(obj, p.LDAPFilter_or):
        return ("or", [from_pureldap(f) for f in obj])
    if isinstance(obj, p.LDAPFilter_not):
        return ("not", from_pureldap(obj.value))
    if isinstance(obj, p.LDAPFilter_present):
        return ("present", _s(obj.value))
    if isinstance(obj, p.LDAPFilter_substrings):
        initial, anys, final = None, [], None
        for part in obj.substrings:
            if isinstance(part, p.LDAPFilter_substrings_initial):
                initial = _b(part.value)
            elif isinstance(part, p.LDAPFilter_substrings_final):
                final = _b(part.value)
            else:
                anys.append(_b(part.value))
        return ("substrings", _s(obj.type), initial, anys, final)
    if isinstance(obj, p.LDAPFilter_extensibleMatch):
        rule = _s(obj.matchingRule.value) if obj.matchingRule is not None else None
        attr = _s(obj.type.value) if obj.type is not None else None
        dn_attrs = bool(obj.dnAttributes.value) if obj.dnAttributes is not None else False
        return ("ext", rule, attr, _b(obj.matchValue.value), dn_attrs)
    for cls, kind in (
        (p.LDAPFilter_equalityMatch, "eq"),
        (p.LDAPFilter_greaterOrEqual, "ge"),
        (p.LDAPFilter_lessOrEqual, "le"),
        (p.LDAPFilter_approxMatch, "approx"),
    ):
        if isinstance(obj, cls):
            return (kind, _s(obj.attributeDesc.value), _b(obj.assertionValue.value))
    raise NotImplementedError(f"filter type {type(obj).__name__} is not supported")
