"""Saving a lab's directory as LDIF (RFC 2849), in simlab's dialect of it.

A simlab export holds every stored attribute, objectGUID, objectSid and nTSecurityDescriptor as
base64, plus the password material AD never exports, under lab-only attribute names (below), so
that :mod:`simlab.ldif` loads the same directory back. The header comment (``ldif_format.HEADER``)
marks the file as one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from simlab.ldif_format import HEADER, format_record

if TYPE_CHECKING:
    from fakes.ad.dc import DomainController
    from fakes.ad.directory import Entry

#: Lab-only attributes carrying what AD keeps secret (MS-ADTS 3.1.1.3.1.5): never in a real export.
PASSWORD_DIGEST = "x-simlab-passwordDigest"
PASSWORD_HISTORY = "x-simlab-passwordHistory"
#: ``x-simlab-secret-<name>`` carries any other secret attribute the store holds.
SECRET_PREFIX = "x-simlab-secret-"
SECRET_NAMES = {"unicodepwd": PASSWORD_DIGEST, "ntpwdhistory": PASSWORD_HISTORY}
#: The secret attributes (stored, never returned by a search).
SECRETS = frozenset({"unicodepwd", "userpassword", "dbcspwd", "ntpwdhistory", "lmpwdhistory",
                     "supplementalcredentials"})
_Line = tuple[str, bytes | str, bool]  # (attribute, value, as base64)


def export_ldif(dc: DomainController, *, secrets: bool = True) -> str:
    """The whole directory as LDIF, parents first (``secrets=False`` omits password material)."""
    with dc.lock:
        entries = list(dc.directory.walk())
        parts = [f"{HEADER} of {dc.domain_dn}: {len(entries)} entries\n"]
        if secrets:
            parts.append(f"# {PASSWORD_DIGEST}/{PASSWORD_HISTORY} are lab-only password digests, "
                         "not AD attributes\n")
        parts.append("version: 1\n\n")
        parts.extend(format_record(e.dn, _entry_lines(dc, e, secrets)) for e in entries)
    return "".join(parts)


def save_ldif(dc: DomainController, path: str | Path, *, secrets: bool = True) -> Path:
    """Write :func:`export_ldif` to ``path`` (UTF-8, LF line ends)."""
    target = Path(path)
    target.write_bytes(export_ldif(dc, secrets=secrets).encode("utf-8"))
    return target


def _entry_lines(dc: DomainController, entry: Entry, secrets: bool) -> Iterator[_Line]:
    schema = dc.schema
    attrs = entry.attrs
    for v in attrs.get("objectclass", ()):
        yield "objectClass", v, False
    for key, values in attrs.items():
        if key == "objectclass" or key in SECRETS:
            continue
        at = schema.find_attribute(key)
        name = at.name if at is not None else key
        for v in values:
            yield name, v, isinstance(v, bytes)
    # Secrets last: a load appends them after the ordinary attributes, so the order round-trips.
    for key, values in attrs.items():
        if secrets and key in SECRETS:
            name = SECRET_NAMES.get(key) or SECRET_PREFIX + schema.canonical_name(key)
            for v in values:
                yield name, v, True
    yield "objectGUID", entry.guid.bytes_le, True
    if entry.sd:
        yield "nTSecurityDescriptor", entry.sd, True


__all__ = ["PASSWORD_DIGEST", "PASSWORD_HISTORY", "SECRETS", "SECRET_NAMES", "SECRET_PREFIX", "export_ldif",
           "save_ldif"]
