"""OData query options for collections: $filter (a common subset), $select, $orderby, $top, $skiptoken.

Pure functions over JSON dicts so the same rules apply to every collection. Unsupported
syntax is a 400 in Graph's envelope, never a silent "return everything".
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fakes.graph.errors import GraphError, bad_request

MAX_TOP = 999
DEFAULT_TOP = 100
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)"
    r"|(?P<dt>\d{4}-\d{2}-\d{2}T[0-9:.]+Z?)|(?P<num>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_$][\w./$]*))"
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCS = {"startswith", "endswith", "contains"}

Predicate = Callable[[dict], bool]


def _invalid(detail: str) -> GraphError:
    # Graph answers unsupported/invalid filters with 400; exact wording varies by workload (lab text).
    return GraphError(400, bad_request(f"Invalid filter clause: {detail}"))


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _invalid(f"syntax error at position {pos} in '{text}'.")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, props: Iterable[str], entity: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.props = {p.lower(): p for p in props}
        self.entity = entity

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str | None = None, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (kind and tok[0] != kind) or (value and tok[1].lower() != value):
            raise _invalid(f"expected {value or kind} near token {self.i + 1}.")
        self.i += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.expr()
        if self.peek() is not None:
            raise _invalid(f"unexpected '{self.peek()[1]}'.")  # type: ignore[index]
        return pred

    def expr(self) -> Predicate:
        left = self.term()
        while (t := self.peek()) and t[0] == "word" and t[1].lower() == "or":
            self.i += 1
            right = self.term()
            left = (lambda a, b: lambda o: a(o) or b(o))(left, right)
        return left

    def term(self) -> Predicate:
        left = self.factor()
        while (t := self.peek()) and t[0] == "word" and t[1].lower() == "and":
            self.i += 1
            right = self.factor()
            left = (lambda a, b: lambda o: a(o) and b(o))(left, right)
        return left

    def factor(self) -> Predicate:
        tok = self.peek()
        if tok is None:
            raise _invalid("unexpected end of expression.")
        if tok[0] == "lp":
            self.i += 1
            inner = self.expr()
            self.take("rp")
            return inner
        if tok[0] == "word" and tok[1].lower() == "not":
            self.i += 1
            inner = self.factor()
            return lambda o: not inner(o)
        if tok[0] == "word" and tok[1].lower() in _FUNCS:
            func = tok[1].lower()
            self.i += 1
            self.take("lp")
            prop = self.prop()
            self.take("comma")
            lit = self.literal()
            self.take("rp")
            if not isinstance(lit, str):
                raise _invalid(f"{func} needs a string literal.")
            return lambda o: _text_func(func, o.get(prop), lit)
        prop = self.prop()
        op_tok = self.take("word")
        op = op_tok[1].lower()
        if op == "in":
            self.take("lp")
            values = [self.literal()]
            while (t := self.peek()) and t[0] == "comma":
                self.i += 1
                values.append(self.literal())
            self.take("rp")
            return lambda o: any(_cmp("eq", o.get(prop), v) for v in values)
        if op not in _COMPARE:
            raise _invalid(f"unsupported operator '{op_tok[1]}'.")
        lit = self.literal()
        return lambda o: _cmp(op, o.get(prop), lit)

    def prop(self) -> str:
        _, name = self.take("word")
        real = self.props.get(name.lower())
        if real is None:
            raise _invalid(f"Could not find a property named '{name}' on type '{self.entity}'.")
        return real

    def literal(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "dt":
            return text if text.endswith("Z") else text + "Z"
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "word" and text.lower() == "null":
            return None
        raise _invalid(f"'{text}' is not a literal.")


def _text_func(func: str, value: Any, lit: str) -> bool:
    if not isinstance(value, str):
        return False
    v, lit = value.lower(), lit.lower()
    return v.startswith(lit) if func == "startswith" else v.endswith(lit) if func == "endswith" else lit in v


def _cmp(op: str, value: Any, lit: Any) -> bool:
    if isinstance(value, str) and isinstance(lit, str):
        value, lit = value.lower(), lit.lower()  # directory string comparisons ignore case
    if op == "eq":
        return value == lit
    if op == "ne":
        return value != lit
    if (
        value is None
        or lit is None
        or (
            type(value) is not type(lit)
            and not (isinstance(value, int | float) and isinstance(lit, int | float))
        )
    ):
        return False
    try:
        return {"gt": value > lit, "ge": value >= lit, "lt": value < lit, "le": value <= lit}[op]
    except TypeError:
        return False


def compile_filter(text: str, props: Iterable[str], entity: str) -> Predicate:
    """Parse ``$filter`` into a predicate over JSON dicts whose keys are ``props``."""
    if len(text) > 2000:
        raise _invalid("the expression is too long.")
    return _Parser(text, props, entity).parse()


@dataclass(frozen=True, slots=True)
class Query:
    """The query options of one collection request, validated."""

    filter: Predicate | None
    select: tuple[str, ...] | None
    top: int
    skip: int
    orderby: tuple[str, bool] | None
    count: bool


def parse_query(params: dict[str, str], props: Iterable[str], entity: str) -> Query:
    props = tuple(props)
    lower = {p.lower(): p for p in props}
    flt = params.get("$filter")
    pred = compile_filter(flt, props, entity) if flt else None
    select = parse_select(params.get("$select"), props, entity)
    top_raw = params.get("$top")
    if top_raw is None:
        top = DEFAULT_TOP
    else:
        if not top_raw.strip().isdigit():
            raise GraphError(400, bad_request(f"Invalid value '{top_raw}' for $top query option found."))
        top = int(top_raw)
        if not 1 <= top <= MAX_TOP:
            raise GraphError(
                400,
                bad_request(f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive."),
            )
    skip = decode_skiptoken(params["$skiptoken"]) if "$skiptoken" in params else 0
    orderby = None
    if params.get("$orderby"):
        parts = params["$orderby"].split()
        name = lower.get(parts[0].lower()) if parts else None
        if name is None or len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
            raise GraphError(400, bad_request(f"Invalid $orderby expression '{params['$orderby']}'."))
        orderby = (name, len(parts) == 2 and parts[1].lower() == "desc")
    count = params.get("$count", "").lower() == "true"
    return Query(pred, select, top, skip, orderby, count)


def parse_select(raw: str | None, props: Iterable[str], entity: str) -> tuple[str, ...] | None:
    if not raw:
        return None
    lower = {p.lower(): p for p in props}
    out = []
    for name in (s.strip() for s in raw.split(",")):
        real = lower.get(name.lower())
        if real is None:
            raise GraphError(
                400,
                (
                    "Request_BadRequest",
                    f"Parsing OData Select and Expand failed: Could not find "
                    f"a property named '{name}' on type '{entity}'.",
                ),
            )
        out.append(real)
    return tuple(out)


def project(obj: dict, select: tuple[str, ...] | None, default: tuple[str, ...] | None = None) -> dict:
    keys = select or default
    if not keys:
        return obj
    return {k: obj.get(k) for k in keys if k in obj}


def encode_skiptoken(offset: int) -> str:
    return base64.urlsafe_b64encode(f"RFNwdAIAAQAAA:{offset}".encode()).decode().rstrip("=")


def decode_skiptoken(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, num = raw.rpartition(":")
        if prefix != "RFNwdAIAAQAAA" or not num.isdigit():
            raise ValueError(raw)
        return int(num)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GraphError(400, bad_request("Invalid $skiptoken.")) from exc


def apply(items: Sequence[Any], query: Query,
          shape: Callable[[Any], dict] | None = None) -> tuple[list[dict], int | None, int]:
    """Filter, order and page. Returns (page, next offset or None, total matching).

    ``items`` are dicts, or objects ``shape`` turns into dicts: then only the page is shaped
    when nothing filters or orders (a 100k-user tenant's first page without shaping 100k users).
    """
    if shape is not None:
        if query.filter is None and not query.orderby:
            end = query.skip + query.top
            return [shape(o) for o in items[query.skip:end]], end if end < len(items) else None, len(items)
        items = [shape(o) for o in items]
    matched = [o for o in items if query.filter is None or query.filter(o)]
    if query.orderby:
        name, desc = query.orderby
        matched.sort(key=lambda o: (o.get(name) is None, str(o.get(name) or "").lower()), reverse=desc)
    page = matched[query.skip : query.skip + query.top]
    nxt = query.skip + query.top if query.skip + query.top < len(matched) else None
    return page, nxt, len(matched)
