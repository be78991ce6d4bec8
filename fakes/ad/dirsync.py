"""The DirSync control (LDAP_SERVER_DIRSYNC_OID, MS-ADTS 3.1.1.3.4.1.3): a search that returns
what changed in a naming context since a cookie.

What the DC does with a search that carries the control:

- The base must be the head of a naming context (domain, configuration or schema): otherwise
  50 insufficientAccessRights, or 53 unwillingToPerform with LDAP_DIRSYNC_OBJECT_SECURITY (as
  Samba, whose DirSync follows Windows'). The scope is always the whole NC: subtree, without the
  contents of other NCs below it.
- Without LDAP_DIRSYNC_OBJECT_SECURITY the caller needs DS-Replication-Get-Changes ("Replicating
  Directory Changes") on the NC head, and then reads every object and attribute (secret
  attributes excepted). With the flag no right is needed and the caller's own read access
  applies.
- No cookie: every object that matches the filter. A cookie this DC issued: the objects whose
  uSNChanged is past the cookie's USN, each with only the asked-for attributes written since
  (:mod:`fakes.ad.attr_stamps`), an attribute removed since as one with no values. objectGUID
  and instanceType always come back, parentGUID with ``name``; non-replicated attributes,
  constructed ones, backlinks (memberOf) and the RDN attribute (``cn`` of a CN= object) never.
  An object none of whose asked-for attributes changed is left out. A cookie from another DC
  (another invocation ID) starts over, as a DC without its up-to-dateness vector does.
- Objects come in uSNChanged order (LDAP_DIRSYNC_ANCESTORS_FIRST_ORDER: a parent that is
  returned too comes before its children). When MaxBytes (nonzero) is reached, the response
  says MoreResults and its cookie resumes after the last object sent, still with every change
  since the first cookie (the cookie's two USNs, as a Windows cookie's USN_VECTOR).

What the lab does not do: deleted objects are never returned (the lab keeps no tombstones: a
delete removes the object); LDAP_DIRSYNC_INCREMENTAL_VALUES is accepted but a changed linked
attribute (member) comes back whole, as without the flag (the lab keeps no per-value metadata).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from fakes.ad import controls as ctl
from fakes.ad import errors
from fakes.ad.api import Control, LdapResult, Scope, SearchEntry, SearchResult, Session
from fakes.ad.attr_stamps import NOT_REPLICATED
from fakes.ad.dc_access import lenient_number
from fakes.ad.dc_read import Reader
from fakes.ad.filter_syntax import And, GreaterOrEqual

if TYPE_CHECKING:
    from fakes.ad.dc import DomainController
    from fakes.ad.dc_modify import RequestControls
    from fakes.ad.directory import Entry

#: DS-Replication-Get-Changes ("Replicating Directory Changes"), a control access right.
GET_CHANGES = UUID("1131f6aa-9c07-11d1-f79f-00c04fc2dcd2")
_IT_NC_HEAD = 0x1  # instanceType: the object is the head of a naming context

# The cookie, laid out as a Windows DC's (MS-DRSR 5.115.2.1): signature, version, creation time,
# reserved, up-to-dateness vector size, USN_VECTOR (usnHighObjUpdate, usnReserved,
# usnHighPropUpdate), the source DSA's invocation ID, then the vector (none here: one DC).
_COOKIE = struct.Struct("<4sIqQIqqq16s")
_SIGNATURE = b"MSDS"
_COOKIE_VERSION = 3
# Always returned (and never the reason an object is returned).
_ALWAYS = frozenset(("objectguid", "instancetype", "parentguid"))
# Backlinks and the object's own name: never replicated as attributes (constructed attributes are
# the schema's: AttributeType.constructed).
_NOT_ATTRIBUTES = frozenset(("memberof", "directreports", "distinguishedname"))


def search(dc: DomainController, session: Session, base: str, flt: Any, attributes: Sequence[str],
           control: Control, rc: RequestControls, types_only: bool) -> SearchResult:
    """A search with the DirSync control (see the module docstring)."""
    try:
        flags, max_bytes, cookie = ctl.decode_dirsync(control.value)
    except ValueError as exc:
        raise errors.control_error() from exc
    own_security = bool(flags & ctl.DIRSYNC_OBJECT_SECURITY)
    base_entry = dc.entry_or_error(base)
    if not _is_nc_head(base_entry):
        if own_security:
            raise errors.dirsync_not_nc_head()
        raise errors.insufficient_access()
    reader_session = session
    if not own_security:
        if not dc.is_system(session) and not dc.control_access(session, base_entry, GET_CHANGES):
            raise errors.insufficient_access()
        reader_session = dc.system_session()
    # Objects after ``after``, with the attributes written after ``since``: the two differ while a
    # first or delta DirSync is split by MaxBytes, as a USN_VECTOR's usnHighObjUpdate (how far
    # through the objects) and usnHighPropUpdate (which changes the client has).
    invocation = _invocation_id(dc)
    after, since = _cookie_usns(cookie, invocation)
    lowered = [a.lower() for a in attributes if a]
    star = not lowered or "*" in lowered or lowered == ["1.1"]
    wanted = None if star else dict.fromkeys([*lowered, "objectguid", "instancetype"])
    reader = Reader(dc, reader_session, rc, wanted, star, False, False, types_only, False)
    if after:
        flt = And((flt, GreaterOrEqual("usnchanged", str(after + 1).encode())))
    found = [e for e in dc.directory.search(base_entry, Scope.SUBTREE, flt)
             if _nc_of(e) is base_entry and (e is base_entry or reader.visible(e))]
    found.sort(key=_usn_changed)
    if flags & ctl.DIRSYNC_ANCESTORS_FIRST_ORDER:
        found = list(_ancestors_first(found))
    entries: list[SearchEntry] = []
    size, high, more = 0, after, False
    for entry in found:
        if max_bytes and entries and size >= max_bytes:
            more = True
            break
        shown = _changes(dc, reader, entry, since, None if star else set(lowered), base_entry)
        high = max(high, _usn_changed(entry))
        if shown is not None:
            entries.append(shown)
            size += sum(len(n) + sum(map(len, vs)) for n, vs in shown.attributes.items())
    if more:  # resume after the last object sent, still with every change since ``since``
        cookie = _cookie(dc, high, since, invocation)
    else:  # a complete answer: everything up to now has been seen
        high = max(high, dc.usn)
        cookie = _cookie(dc, high, high, invocation)
    answer = Control(ctl.DIRSYNC, False, ctl.encode_dirsync_response(more, cookie))
    return SearchResult(entries, LdapResult(controls=(answer,)))


def _changes(dc: DomainController, reader: Reader, entry: Entry, since: int, asked: set[str] | None,
             base: Entry) -> SearchEntry | None:
    """``entry`` as DirSync returns it: only what changed since ``since`` (None: nothing to send)."""
    changed = dc.attr_stamps.changed_since(entry, since) if since else None
    rdn_attribute = entry.dn.split("=", 1)[0].strip().lower()

    def never_returned(name: str) -> bool:
        if name in NOT_REPLICATED or name in _NOT_ATTRIBUTES or name == rdn_attribute:
            return True
        attribute = dc.schema.find_attribute(name)
        return attribute is not None and attribute.constructed

    out: dict[str, list[bytes]] = {}
    real = False
    for shown, values in reader.render(entry).attributes.items():
        name = shown.lower()
        if name in _ALWAYS:
            out[shown] = list(values)
        elif not never_returned(name) and (changed is None or name in changed):
            out[shown] = list(values)
            real = True
    if changed:  # attributes written since and gone now: an attribute with no values
        for name in sorted(changed - {k.lower() for k in out}):
            if (name in entry.attrs or name in _ALWAYS or never_returned(name)
                    or (asked is not None and name not in asked)):
                continue
            attribute = dc.schema.find_attribute(name)
            out[attribute.name if attribute is not None else name] = []
            real = True
    if not real:
        return None
    if entry is not base and entry.parent is not None and any(k.lower() == "name" for k in out):
        out["parentGUID"] = [entry.parent.guid.bytes_le]
    return SearchEntry(entry.dn, out)


def _is_nc_head(entry: Entry) -> bool:
    return bool(lenient_number(entry, "instancetype") & _IT_NC_HEAD)


def _nc_of(entry: Entry) -> Entry:
    """The head of the naming context ``entry`` is in."""
    while not _is_nc_head(entry) and entry.parent is not None:
        entry = entry.parent
    return entry


def _usn_changed(entry: Entry) -> int:
    return lenient_number(entry, "usnchanged")


def _ancestors_first(found: list[Entry]) -> Iterator[Entry]:
    """``found`` in its order, except that an object comes after its parent when both are in it."""
    pending = set(found)
    for entry in found:
        chain = []
        node: Entry | None = entry
        while node is not None and node in pending:
            chain.append(node)
            node = node.parent
        for item in reversed(chain):
            pending.discard(item)
            yield item


def _invocation_id(dc: DomainController) -> bytes:
    """This DC's invocationId (its NTDS Settings object), 16 bytes as stored."""
    from fakes.ad.config_nc import SITE

    server = f"CN={dc.dc_name},CN=Servers,CN={SITE},CN=Sites,{dc.config_dn}"
    settings = dc.directory.get(f"CN=NTDS Settings,{server}")
    values = settings.attrs.get("invocationid") if settings is not None else None
    value = values[0] if values else b""
    return value if isinstance(value, bytes) and len(value) == 16 else bytes(16)


def _cookie(dc: DomainController, objects: int, attributes: int, invocation: bytes) -> bytes:
    return _COOKIE.pack(_SIGNATURE, _COOKIE_VERSION, dc.clock.filetime(), 0, 0, objects, 0, attributes,
                        invocation)


def _cookie_usns(cookie: bytes, invocation_id: bytes) -> tuple[int, int]:
    """(the USN of the last object a cookie's client has, the USN its attributes are current to):
    (0, 0) for no cookie, or another DC's (it starts over)."""
    if not cookie:
        return 0, 0
    if len(cookie) < _COOKIE.size:
        raise errors.control_error()
    signature, _, _, _, vector_size, high_object, _, high_property, invocation = _COOKIE.unpack_from(cookie)
    if (signature != _SIGNATURE or _COOKIE.size + vector_size != len(cookie)
            or min(high_object, high_property) < 0):
        raise errors.control_error()
    if invocation != invocation_id:
        return 0, 0
    return high_object, min(high_object, high_property)


__all__ = ["GET_CHANGES", "search"]
