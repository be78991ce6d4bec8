"""LDIF (RFC 2849) as text: reading records and writing lines.

No directory knowledge here; :mod:`simlab.ldif` uses it to save and load labs. Values are raw
bytes; ``base64`` is used where RFC 2849 requires it (non-printable, leading space/colon/<,
trailing space, non-ASCII), and lines fold at 76 characters.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

HEADER = "# simlab LDIF export"
WRAP = 76


class LdifError(ValueError):
    """A malformed or unusable LDIF file; the message starts with ``file:line:``."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.source, self.line, self.message = source, line, message


@dataclass(frozen=True, slots=True)
class LdifRecord:
    """One content record: attribute names as written (options kept), values as raw bytes."""

    dn: str
    attrs: tuple[tuple[str, bytes], ...]
    line: int


@dataclass(frozen=True, slots=True)
class LdifDocument:
    version: int | None
    comments: tuple[str, ...]
    records: tuple[LdifRecord, ...]
    source: str

    @property
    def is_simlab_export(self) -> bool:
        return any(c.startswith(HEADER) for c in self.comments)


# --------------------------------------------------------------------------- RFC 2849 reader
def parse_ldif(data: str | bytes, source: str = "<string>") -> LdifDocument:
    """Parse LDIF content records (``changetype: add`` accepted); folded lines, ``::`` base64."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    if text.startswith("\ufeff"):
        text = text[1:]
    records: list[LdifRecord] = []
    comments: list[str] = []
    version: int | None = None
    block: list[tuple[int, str]] = []
    # Only LF (optionally after CR) ends a line: str.splitlines() would also split on \f, \x1c, \u2028...
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    for number, line in _unfold(lines):
        if line.startswith("#"):
            comments.append(line)
            continue
        if line.strip():
            block.append((number, line))
            continue
        if block:
            version = _take_block(block, records, version, source)
            block = []
    if block:
        version = _take_block(block, records, version, source)
    return LdifDocument(version, tuple(comments), tuple(records), source)


def _unfold(lines: list[str]) -> Iterator[tuple[int, str]]:
    """Logical lines with their first physical line number (a leading space continues a line)."""
    current: list[str] = []
    start = 0
    for i, raw in enumerate(lines, 1):
        if raw.startswith(" ") and current:
            current.append(raw[1:])
            continue
        if current:
            yield start, "".join(current)
        current, start = [raw], i
    if current:
        yield start, "".join(current)


def _take_block(block: list[tuple[int, str]], out: list[LdifRecord], version: int | None,
                source: str) -> int | None:
    pairs = [(n, *_attr_value(n, line, source)) for n, line in block]
    if pairs[0][1].lower() == "version" and not out and version is None:
        n, _, value = pairs[0]
        if value != b"1":
            raise LdifError(source, n, f"unsupported LDIF version {value.decode(errors='replace')!r}")
        version = 1
        pairs = pairs[1:]
        if not pairs:
            return version
    n, name, value = pairs[0]
    if name.lower() != "dn":
        raise LdifError(source, n, f"a record must start with 'dn:', found {name!r}")
    try:
        dn = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LdifError(source, n, "the DN is not valid UTF-8") from exc
    attrs: list[tuple[str, bytes]] = []
    for ln, name, value in pairs[1:]:
        low = name.lower()
        if low == "changetype":
            if value.lower() != b"add":
                raise LdifError(source, ln, f"changetype {value.decode(errors='replace')!r} is not supported "
                                "(only content records and changetype: add)")
            continue
        if low == "control":
            raise LdifError(source, ln, "LDIF controls are not supported")
        attrs.append((name, value))
    out.append(LdifRecord(dn, tuple(attrs), n))
    return version


def _attr_value(number: int, line: str, source: str) -> tuple[str, bytes]:
    name, sep, rest = line.partition(":")
    if not sep or not name or " " in name:
        raise LdifError(source, number, f"expected 'attribute: value', got {line[:40]!r}")
    if rest.startswith(":"):
        try:
            return name, base64.b64decode(rest[1:].strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise LdifError(source, number, f"invalid base64 value for {name}") from exc
    if rest.startswith("<"):
        raise LdifError(source, number, f"URL values ({name}:< ...) are not supported")
    return name, rest.lstrip(" ").encode("utf-8")


# --------------------------------------------------------------------------- RFC 2849 writer
def _safe(value: bytes) -> bool:
    # SAFE-STRING (RFC 2849): ASCII without NUL/CR/LF, not starting with space, ':' or '<'. Other control
    # characters and a trailing space are legal but fragile in other readers, so they are base64 too.
    if not value:
        return True
    if value[0] in b" :<" or value[-1:] == b" ":
        return False
    return all(31 < b < 127 for b in value)


def format_line(name: str, value: bytes | str, *, force_base64: bool = False) -> str:
    """One ``name: value`` (or ``name:: base64``) line, folded at 76 columns."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if force_base64 or not _safe(raw):
        line = f"{name}:: {base64.b64encode(raw).decode('ascii')}"
    else:
        line = f"{name}: {raw.decode('ascii')}" if raw else f"{name}:"
    if len(line) <= WRAP:
        return line + "\n"
    parts = [line[:WRAP]]
    parts.extend(" " + line[i:i + WRAP - 1] for i in range(WRAP, len(line), WRAP - 1))
    return "\n".join(parts) + "\n"


def format_record(dn: str, attrs: Iterable[tuple[str, bytes | str, bool]]) -> str:
    """A content record: ``dn`` then ``(name, value, force_base64)`` lines, then a blank line."""
    out = [format_line("dn", dn)]
    out.extend(format_line(name, value, force_base64=b64) for name, value, b64 in attrs)
    return "".join(out) + "\n"


