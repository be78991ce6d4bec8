"""The directory store: entries by GUID and DN tree, attribute indexes, link tracking.

No access checks and no AD side effects live here (the DC does those); this module only
keeps the data and every index consistent. Equality lookups on indexed attributes are
O(1) in directory size. Values are ``str`` for text syntaxes (integers as decimal
strings) and ``bytes`` for binary ones; objectGUID is :attr:`Entry.guid` and
nTSecurityDescriptor is :attr:`Entry.sd`.

``add()`` is the bulk path too (no separate bulk_add): it does one dict build and a few
index inserts per entry; see benchmarks/bench_directory.py for measured rates.
"""

from __future__ import annotations

import sys
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from uuid import UUID

from fakes.ad.api import Scope
from fakes.ad.dn import escape_value, normalize_dn, normalize_rdn, parse_dn
from fakes.ad.filters import (
    And,
    Equal,
    Filter,
    Or,
    compile_filter,
    match_key,
    sid_to_bytes,
)
from fakes.ad.schema import AttributeType, Schema, SchemaError

__all__ = ["Directory", "DirectoryError", "Entry", "EntryExists", "NoSuchEntry", "NotLeaf", "Prebuilt"]


class DirectoryError(Exception):
    """Base class of store errors (the DC maps them to Windows result codes)."""


class EntryExists(DirectoryError):
    """An entry with that RDN already exists under the parent."""


class NotLeaf(DirectoryError):
    """remove() on an entry that still has children."""


class NoSuchEntry(DirectoryError):
    """The entry is not (or no longer) in this directory."""


@dataclass(slots=True, eq=False)
class Entry:
    """One object. ``attrs`` keys are lowercased attribute names (interned)."""

    guid: UUID
    dn: str
    parent: Entry | None
    attrs: dict[str, list]
    children: dict[str, Entry] = field(default_factory=dict)
    sd: bytes = b""
    object_class: str = ""
    rdn_key: str = ""  # normalized RDN, the key in parent.children

    def get(self, attr: str) -> list:
        """Values of ``attr`` (any case), ``[]`` when absent."""
        return self.attrs.get(attr.lower(), [])

    def first(self, attr: str) -> object | None:
        values = self.attrs.get(attr.lower())
        return values[0] if values else None

    def __repr__(self) -> str:
        return f"Entry({self.dn!r})"


# Attributes indexed for equality (the DC searches these constantly).
INDEXED = ("samaccountname", "userprincipalname", "objectsid", "objectclass", "objectcategory", "cn",
           "mail", "admincount", "serviceprincipalname")
# DN-valued attributes whose targets are tracked, so memberOf/directReports are O(1) and
# references follow renames: forward attribute -> tracked.
LINKED = ("member", "manager")
_CATEGORY_CN = "~objectcategory.cn"  # secondary index: first RDN value of objectCategory
_INDEX_NAMES = (*INDEXED, _CATEGORY_CN)
_WATCHED = (*INDEXED, *(a for a in LINKED if a not in INDEXED))
_LINKED_SET = frozenset(LINKED)
# Attributes whose value lists bulk creators share between objects.
_SHARED_KEYS = frozenset(("objectclass", "objectcategory"))
# Indexed attributes of Unicode-string syntax, whose equality key is the casefolded value.
_CASEFOLDED = frozenset(("samaccountname", "userprincipalname", "cn", "mail", "serviceprincipalname"))


def _bucket_add(index: dict, key: object, entry: Entry) -> None:
    cur = index.get(key)
    if cur is None:
        index[key] = entry
    elif isinstance(cur, dict):
        cur[entry] = None
    elif cur is not entry:
        index[key] = {cur: None, entry: None}


def _bucket_remove(index: dict, key: object, entry: Entry) -> None:
    cur = index.get(key)
    if cur is entry:
        del index[key]
    elif isinstance(cur, dict):
        cur.pop(entry, None)
        if len(cur) == 1:
            index[key] = next(iter(cur))
        elif not cur:
            del index[key]


def _bucket_items(cur: object) -> list[Entry]:
    if cur is None:
        return []
    if isinstance(cur, dict):
        return list(cur)
    return [cur]  # type: ignore[list-item]


class Directory:
    """The object store of one DC."""

    def __init__(self, schema: Schema, *, guid_factory: Callable[[], UUID] | None = None) -> None:
        self.schema = schema
        self._new_guid = guid_factory or uuid.uuid4
        self._by_dn: dict[str, Entry] = {}
        # entry.dn exactly as stored -> entry: DN values written by the DC itself (member lists of
        # provisioned groups, bases taken from results) are found without normalising them.
        self._by_exact_dn: dict[str, Entry] = {}
        self._by_guid: dict[UUID, Entry] = {}
        self._roots: dict[str, Entry] = {}
        self._index: dict[str, dict[object, object]] = {a: {} for a in _INDEX_NAMES}
        self._index_types: dict[str, AttributeType] = {a: schema.attribute(a) for a in INDEXED}
        self._keymap: dict[str, str] = {}  # caller's attribute spelling -> interned lowercase key
        self._class_keys: dict[tuple, frozenset[str]] = {}  # objectClass values -> indexed keys
        self._category_cn: dict[str, str] = {}  # objectCategory DN -> casefolded first RDN value
        self._category_ndn: dict[str, object] = {}  # objectCategory DN -> its index key
        # id(value list) -> (the list, attribute, its index pairs): identity memo for shared lists
        # (holding the list keeps its id from being reused).
        self._shared_keys: dict[int, tuple[list, str, list[tuple[dict, object]]]] = {}
        self._parent_ndn: dict[Entry, tuple[str, str]] = {}  # parent -> (dn, normalized dn)
        # linked attr -> target entry -> {source entries}
        # (a target's sources are a bucket: one Entry, or a dict of them, like the index buckets;
        # most users have one group, and 100k one-item dicts would cost 20 MB)
        self._links: dict[str, dict[Entry, object]] = {a: {} for a in LINKED}
        # linked attr -> normalized DN not (yet) present -> {source entries}; resolved on add()
        self._pending: dict[str, dict[str, dict[Entry, None]]] = {a: {} for a in LINKED}

    # ------------------------------------------------------------------ basic access
    def __len__(self) -> int:
        return len(self._by_guid)

    def get(self, dn: str) -> Entry | None:
        """The entry named ``dn`` (any case/spacing) or None."""
        hit = self._by_exact_dn.get(dn)
        if hit is not None:
            return hit
        try:
            return self._by_dn.get(normalize_dn(dn))
        except ValueError:
            return None

    def by_guid(self, guid: UUID) -> Entry | None:
        return self._by_guid.get(guid)

    def by_sid(self, sid: str | bytes) -> Entry | None:
        key = sid if isinstance(sid, bytes) else sid_to_bytes(sid)
        found = _bucket_items(self._index["objectsid"].get(key))
        return found[0] if found else None

    def nearest(self, dn: str) -> Entry | None:
        """The closest existing entry at or above ``dn`` (Windows' "best match")."""
        try:
            rdns = parse_dn(dn)
        except ValueError:
            return None
        for i in range(len(rdns)):
            key = ",".join(_norm_rdn_pairs(r) for r in rdns[i:])
            entry = self._by_dn.get(key)
            if entry is not None:
                return entry
        return None

    def roots(self) -> list[Entry]:
        return list(self._roots.values())

    def walk(self, base: Entry | None = None) -> Iterator[Entry]:
        """Pre-order walk of ``base``'s subtree (every root when ``base`` is None)."""
        stack = [base] if base is not None else list(reversed(self._roots.values()))
        while stack:
            e = stack.pop()
            yield e
            if e.children:
                stack.extend(reversed(e.children.values()))

    # ------------------------------------------------------------------ add / modify
    def add(self, parent: Entry | None, rdn: str, attrs: dict[str, list], *, guid: UUID | None = None,
            sd: bytes = b"", object_class: str = "") -> Entry:
        """Create an entry named ``rdn`` under ``parent``.

        With ``parent=None`` the entry is a naming-context root and ``rdn`` may be a whole DN
        (``"DC=contoso,DC=com"``).
        """
        keymap = self._keymap
        clean = {(keymap.get(k) or self.attr_key(k)): list(v) for k, v in attrs.items() if v}
        return self._insert(parent, rdn, clean, guid, sd, object_class)

    def add_prepared(self, parent: Entry, rdn: str, attrs: dict[str, list], *, guid: UUID, sd: bytes,
                     object_class: str, rdn_key: str | None = None) -> Entry:
        """:meth:`add` for bulk creators that already hold store-ready attributes.

        The directory takes ``attrs`` over without copying it, so the caller must build a fresh
        dict per entry whose keys come from :meth:`attr_key`, whose values are non-empty lists
        it will not touch again, and must name the structural ``object_class``. ``rdn_key``, when
        given, must be ``normalize_rdn(rdn)`` (see :func:`fakes.ad.dn.rdn_with_key`). Everything
        else (name clash checks, indexes, links) is exactly as in :meth:`add`.
        """
        return self._insert(parent, rdn, attrs, guid, sd, object_class, rdn_key)

    def attr_key(self, name: str) -> str:
        """The interned lowercase key under which ``name`` is stored in :attr:`Entry.attrs`."""
        key = self._keymap.get(name)
        if key is None:
            key = self._keymap[name] = sys.intern(name.lower())
        return key

    def _insert(self, parent: Entry | None, rdn: str, clean: dict[str, list], guid: UUID | None, sd: bytes,
                object_class: str, rdn_key: str | None = None) -> Entry:
        if rdn_key is None:
            rdn_key = normalize_rdn(rdn) if parent is not None else normalize_dn(rdn)
        siblings = parent.children if parent is not None else self._roots
        if rdn_key in siblings:
            raise EntryExists(f"{rdn},{parent.dn}" if parent else rdn)
        dn = f"{rdn},{parent.dn}" if parent is not None else rdn
        ndn = f"{rdn_key},{self._ndn_of(parent)}" if parent is not None else rdn_key
        if ndn in self._by_dn:
            raise EntryExists(dn)
        if not object_class and "objectclass" in clean:
            object_class = self._structural(clean["objectclass"])
        guid = guid or self._new_guid()
        if guid in self._by_guid:
            raise EntryExists(f"objectGUID {guid} already in use")
        entry = Entry(guid, dn, parent, clean, {}, sd, object_class, rdn_key)
        siblings[rdn_key] = entry
        self._by_dn[ndn] = entry
        self._by_exact_dn[dn] = entry
        self._by_guid[guid] = entry
        self._index_new(entry, clean)
        self._resolve_pending(entry, ndn)
        return entry

    def _index_new(self, entry: Entry, clean: dict[str, list]) -> None:
        # Only a handful of attributes are indexed or linked: visit those, not every attribute.
        # This is _index_values(add=True) unrolled, the per-entry cost of bulk provisioning.
        indexes = self._index
        shared = self._shared_keys
        for attr in _WATCHED:
            values = clean.get(attr)
            if not values:
                continue
            if attr in _CASEFOLDED and len(values) == 1 and type(v := values[0]) is str:
                k = v.casefold()
                pairs: Iterable[tuple[dict, object]] = ((indexes[attr], v if k == v else k),)
            elif attr == "objectsid" and len(values) == 1 and type(v := values[0]) is bytes \
                    and v[:2] not in (b"S-", b"s-"):
                pairs = ((indexes[attr], v),)  # match_key of a binary SID is the SID itself
            elif attr in _LINKED_SET:
                self._index_values(entry, attr, values, add=True)
                continue
            elif attr in _SHARED_KEYS:
                # Bulk creators share one objectClass/objectCategory list per class and parent.
                memo = shared.get(id(values))
                if memo is not None and memo[0] is values and memo[1] == attr:
                    pairs = memo[2]
                else:
                    pairs = self._index_pairs(attr, values)
                    if len(shared) >= 64:
                        shared.clear()
                    shared[id(values)] = (values, attr, pairs)
            else:
                pairs = self._index_pairs(attr, values)
            for index, k in pairs:
                cur = index.get(k)
                if cur is None:
                    index[k] = entry
                elif type(cur) is dict:
                    cur[entry] = None
                elif cur is not entry:
                    index[k] = {cur: None, entry: None}

    def _ndn_of(self, entry: Entry) -> str:
        # Provisioning adds many children to a few parents (one per OU, interleaved): remember
        # their normalized DNs. The dn identity check notices renames.
        hit = self._parent_ndn.get(entry)
        if hit is not None and hit[0] is entry.dn:
            return hit[1]
        ndn = normalize_dn(entry.dn)
        if len(self._parent_ndn) >= 256:
            self._parent_ndn.clear()
        self._parent_ndn[entry] = (entry.dn, ndn)
        return ndn

    def _resolve_pending(self, entry: Entry, ndn: str) -> None:
        # Links written before their target existed (e.g. a group provisioned before its members).
        for attr in LINKED:
            pending = self._pending[attr]
            sources = pending.pop(ndn, None) if pending else None
            if sources:
                links = self._links[attr]
                for source in sources:
                    _bucket_add(links, entry, source)

    def set_values(self, entry: Entry, attr: str, values: list) -> None:
        """Replace ``attr``'s values (``[]`` deletes it), keeping every index right."""
        self._require(entry)
        key = sys.intern(attr.lower())
        old = entry.attrs.get(key)
        if old:
            self._index_values(entry, key, old, add=False)
        if values:
            entry.attrs[key] = list(values)
            self._index_values(entry, key, entry.attrs[key], add=True)
        else:
            entry.attrs.pop(key, None)
        if key == "objectclass" and values:
            entry.object_class = self._structural(values) or entry.object_class

    def remove(self, entry: Entry) -> None:
        """Delete a leaf entry; links pointing at it are removed from their sources (AD link cleanup)."""
        self._require(entry)
        if entry.children:
            raise NotLeaf(entry.dn)
        for attr in _WATCHED:
            values = entry.attrs.get(attr)
            if values:
                self._index_values(entry, attr, values, add=False)
        for attr in LINKED:
            for source in _bucket_items(self._links[attr].get(entry)):
                vals = [v for v in source.attrs.get(attr, []) if self._find_dn(v) is not entry]
                self.set_values(source, attr, vals)
        siblings = entry.parent.children if entry.parent is not None else self._roots
        siblings.pop(entry.rdn_key, None)
        self._by_dn.pop(normalize_dn(entry.dn), None)
        self._by_exact_dn.pop(entry.dn, None)
        self._by_guid.pop(entry.guid, None)

    def move(self, entry: Entry, new_parent: Entry | None, new_rdn: str) -> None:
        """Rename and/or move ``entry`` with its subtree; GUIDs, SIDs and links are kept."""
        self._require(entry)
        p = new_parent
        while p is not None:
            if p is entry:
                raise DirectoryError(f"cannot move {entry.dn} below itself")
            p = p.parent
        rdn_key = normalize_rdn(new_rdn) if new_parent is not None else normalize_dn(new_rdn)
        siblings = new_parent.children if new_parent is not None else self._roots
        clash = siblings.get(rdn_key)
        if clash is not None and clash is not entry:
            raise EntryExists(f"{new_rdn},{new_parent.dn}" if new_parent else new_rdn)
        old_subtree = list(self.walk(entry))
        old_dns = {e: e.dn for e in old_subtree}
        # Sources that reference any moved entry must have their DN values rewritten.
        referrers: dict[tuple[str, Entry], None] = {}
        for e in old_subtree:
            for attr in LINKED:
                for src in _bucket_items(self._links[attr].get(e)):
                    referrers[(attr, src)] = None
            self._by_dn.pop(normalize_dn(e.dn), None)
            self._by_exact_dn.pop(e.dn, None)
        old_siblings = entry.parent.children if entry.parent is not None else self._roots
        old_siblings.pop(entry.rdn_key, None)
        entry.parent = new_parent
        entry.rdn_key = rdn_key
        siblings[rdn_key] = entry
        # The RDN attribute and name follow the new RDN, as on Windows.
        (rdn_attr, rdn_value), = parse_dn(new_rdn)[0][:1]
        for a in {rdn_attr.lower(), "name"}:
            if a in entry.attrs or a == rdn_attr.lower():
                self.set_values(entry, a, [rdn_value])
        for e in old_subtree:  # pre-order: parents get their new DN first
            own = new_rdn if e is entry else _rdn_text(old_dns[e])
            e.dn = f"{own},{e.parent.dn}" if e.parent is not None else own
            self._by_dn[normalize_dn(e.dn)] = e
            self._by_exact_dn[e.dn] = e
        renamed = {normalize_dn(old_dns[e]): e.dn for e in old_subtree}
        for attr, src in referrers:
            vals = src.attrs.get(attr, [])
            self.set_values(src, attr, [renamed.get(_ndn(v), v) for v in vals])

    # ------------------------------------------------------------------ queries
    def lookup(self, attr: str, value: object) -> list[Entry]:
        """Entries whose ``attr`` equals ``value`` (indexed: O(1); otherwise a full scan)."""
        key = attr.lower()
        at = self.schema.find_attribute(key)
        if at is None:
            return []
        key = at.name.lower()
        wanted = match_key(at, value if isinstance(value, bytes | str) else str(value))
        if wanted is None:
            return []
        if key in self._index:
            return _bucket_items(self._index[key].get(wanted))
        if key == "objectguid":
            e = self._by_guid.get(UUID(bytes_le=wanted))  # type: ignore[arg-type]
            return [e] if e else []
        return [e for e in self.walk() if any(match_key(at, v) == wanted for v in e.attrs.get(key, ()))]

    def search(self, base: Entry, scope: Scope, flt: Filter) -> Iterator[Entry]:
        """Entries in ``scope`` under ``base`` for which ``flt`` is True."""
        match = compile_filter(flt, self)
        if scope == Scope.BASE:
            if match(base) is True:
                yield base
            return
        candidates = self._candidates(flt)
        if candidates is None:
            it: Iterable[Entry] = self.walk(base) if scope == Scope.SUBTREE else base.children.values()
            for e in it:
                if match(e) is True:
                    yield e
            return
        for e in candidates:
            if self._in_scope(e, base, scope) and match(e) is True:
                yield e

    def _candidates(self, flt: Filter) -> list[Entry] | None:
        """A superset of the matches from the indexes, or None when a walk is needed."""
        if isinstance(flt, Equal):
            at = self.schema.find_attribute(flt.attr.split(";", 1)[0])
            if at is None:
                return []
            key = at.name.lower()
            if key == "objectcategory" and b"=" not in flt.value:
                cls = self.schema.find_class(flt.value.decode("utf-8", "replace"))
                cn = (cls.default_object_category if cls else flt.value.decode("utf-8", "replace")).casefold()
                return _bucket_items(self._index[_CATEGORY_CN].get(cn))
            if key in self._index:
                wanted = match_key(at, flt.value)
                return [] if wanted is None else _bucket_items(self._index[key].get(wanted))
            return None
        if isinstance(flt, And):
            best: list[Entry] | None = None
            for sub in flt.filters:
                c = self._candidates(sub)
                if c is not None and (best is None or len(c) < len(best)):
                    best = c
            return best
        if isinstance(flt, Or):
            out: dict[Entry, None] = {}
            for sub in flt.filters:
                c = self._candidates(sub)
                if c is None:
                    return None
                out.update(dict.fromkeys(c))
            return list(out)
        return None

    @staticmethod
    def _in_scope(e: Entry, base: Entry, scope: Scope) -> bool:
        if scope == Scope.ONELEVEL:
            return e.parent is base
        p: Entry | None = e
        while p is not None:
            if p is base:
                return True
            p = p.parent
        return False

    def members(self, group: Entry) -> list[Entry]:
        """Entries named in ``group``'s member attribute (that exist here)."""
        out = []
        for v in group.attrs.get("member", ()):
            e = self._find_dn(v)
            if e is not None:
                out.append(e)
        return out

    def member_of(self, entry: Entry) -> list[Entry]:
        """Groups whose member attribute names ``entry`` (the memberOf back link)."""
        return _bucket_items(self._links["member"].get(entry))

    def direct_reports(self, entry: Entry) -> list[Entry]:
        return _bucket_items(self._links["manager"].get(entry))

    def transitive_groups(self, entry: Entry) -> set[Entry]:
        """Every group ``entry`` belongs to, directly or through nesting (cycle-safe)."""
        return self.linked_closure(entry, "memberof")

    def linked_closure(self, entry: Entry, attr: str) -> set[Entry]:
        """Entries reachable from ``entry`` by following DN attribute ``attr`` repeatedly.

        ``memberOf`` and ``directReports`` follow the back links; other DN attributes
        (``member``, ``manager``, ...) follow the forward values. Used by
        LDAP_MATCHING_RULE_IN_CHAIN.
        """
        key = attr.lower()
        if key == "memberof":
            step: Callable[[Entry], Iterable[Entry]] = self.member_of
        elif key == "directreports":
            step = self.direct_reports
        else:
            def step(e: Entry) -> Iterable[Entry]:
                for v in e.attrs.get(key, ()):
                    t = self._find_dn(v) if isinstance(v, str) else None
                    if t is not None:
                        yield t
        seen: set[Entry] = set()
        todo = deque(step(entry))
        while todo:
            e = todo.popleft()
            if e in seen:
                continue
            seen.add(e)
            todo.extend(step(e))
        return seen

    def canonical_name(self, entry: Entry) -> str:
        """canonicalName as AD constructs it: ``contoso.com/Staff/John Smith``."""
        rdns = parse_dn(entry.dn)
        i = len(rdns)
        while i > 0 and len(rdns[i - 1]) == 1 and rdns[i - 1][0][0].lower() == "dc":
            i -= 1
        domain = ".".join(r[0][1] for r in rdns[i:])
        parts = [r[0][1].replace("/", "\\/") for r in reversed(rdns[:i])]
        if not parts:
            return domain + "/"
        return domain + "/" + "/".join(parts)

    # ------------------------------------------------------------------ snapshots
    def snapshot(self, *, copy: bool = True) -> list[tuple]:
        """A copy of every entry's data (cheap relative to rebuilding a lab), parents first.

        Each item is ``(entry, guid, dn, parent guid or None, rdn_key, attrs, sd, object_class)``.
        ``copy=False`` shares each entry's live ``attrs`` dict (for a caller that serialises it at once).
        """
        return [
            (e, e.guid, e.dn, e.parent.guid if e.parent else None, e.rdn_key,
             {k: list(v) for k, v in e.attrs.items()} if copy else e.attrs, e.sd, e.object_class)
            for e in self.walk()
        ]

    def restore(self, snap: object, *, copy: bool = True) -> None:
        """Return to a snapshot; the snapshot's Entry objects are reused, so references stay valid.

        ``copy=False`` takes the snapshot's attribute dicts over as they are (a snapshot built
        from a lab image, used once); the snapshot must then not be restored again. A
        :class:`Prebuilt` (see :meth:`prebuilt`) is installed as it is, nothing recomputed.
        """
        if isinstance(snap, Prebuilt):
            self._by_dn, self._by_exact_dn, self._by_guid = snap.by_dn, snap.by_exact_dn, snap.by_guid
            self._roots, self._index = snap.roots, snap.index
            self._links, self._pending = snap.links, snap.pending
            self._shared_keys = {}
            return
        self._by_dn = {}
        self._by_exact_dn = {}
        self._by_guid = {}
        self._roots = {}
        self._index = {a: {} for a in self._index}
        self._shared_keys = {}  # its pairs point into the old index dicts
        self._links = {a: {} for a in LINKED}
        self._pending = {a: {} for a in LINKED}
        ndns: dict[Entry, str] = {}  # parents come first: a child's normalized DN extends its parent's
        for e, guid, dn, parent_guid, rdn_key, attrs, sd, oc in snap:  # type: ignore[attr-defined]
            parent = self._by_guid[parent_guid] if parent_guid else None
            e.dn, e.parent, e.rdn_key, e.sd, e.object_class = dn, parent, rdn_key, sd, oc
            e.attrs = {k: list(v) for k, v in attrs.items()} if copy else attrs
            e.children = {}
            (parent.children if parent else self._roots)[rdn_key] = e
            parent_ndn = ndns.get(parent) if parent is not None else None
            ndn = f"{rdn_key},{parent_ndn}" if parent_ndn is not None else normalize_dn(dn)
            if oc != "user":
                ndns[e] = ndn  # users rarely have children (normalized above if so): keep the map small
            self._by_dn[ndn] = e
            self._by_exact_dn[dn] = e
            self._by_guid[guid] = e
            self._index_new(e, e.attrs)
            self._resolve_pending(e, ndn)

    def export_prebuilt(self, position: dict[Entry, int]) -> dict[str, object]:
        """Every lookup table as plain data, entries given by ``position`` (their place in
        :meth:`snapshot`'s order): what :meth:`prebuilt` takes back, so a lab image's directory
        loads without recomputing a single normalized DN or index key."""
        ndns: list[str | None] = [None] * len(position)
        for ndn, e in self._by_dn.items():
            ndns[position[e]] = ndn
        seen: dict[tuple, list] = {}
        return {
            "ndns": ndns,
            "index": {a: _export_buckets(t, position, a, seen) for a, t in self._index.items()},
            "links": {a: _export_buckets({position[e]: s for e, s in t.items()}, position, f"links.{a}", seen)
                      for a, t in self._links.items()},
            "pending": {a: _export_buckets(t, position, f"pending.{a}", seen)
                        for a, t in self._pending.items()},
        }

    @staticmethod
    def prebuilt(entries: list[Entry], state: dict) -> Prebuilt:
        """The lookup tables of :meth:`export_prebuilt`'s ``state`` over ``entries`` (fresh, unattached
        Entry objects in the exported order whose ``parent`` is already set; their ``children`` are
        filled here). No directory changes until :meth:`restore` installs the result;
        a malformed ``state`` raises KeyError, IndexError, TypeError or ValueError.
        """
        ndns = state["ndns"]
        if len(ndns) != len(entries):
            raise ValueError(f"{len(ndns)} normalized DNs for {len(entries)} entries")
        roots: dict[str, Entry] = {}
        for e in entries:
            p = e.parent
            (p.children if p is not None else roots)[e.rdn_key] = e
        index, links, pending = state["index"], state["links"], state["pending"]
        done: dict[str, list[dict]] = {}  # table name -> its multi buckets, for copies
        if set(index) != set(_INDEX_NAMES) or set(links) != set(LINKED) or set(pending) != set(LINKED):
            raise ValueError("the saved indexes are not this directory's")
        return Prebuilt(
            by_dn=dict(zip(ndns, entries, strict=True)),
            by_exact_dn={e.dn: e for e in entries},
            by_guid={e.guid: e for e in entries},
            roots=roots,
            index={a: _import_buckets(index[a], entries, a, done) for a in _INDEX_NAMES},
            links={a: _import_buckets(links[a], entries, f"links.{a}", done, keys=entries) for a in LINKED},
            pending={a: _import_buckets(pending[a], entries, f"pending.{a}", done, multi_only=True)  # type: ignore[misc]
                     for a in LINKED},
        )

    # ------------------------------------------------------------------ internals
    def _structural(self, values: list) -> str:
        memo_key = ("~structural", *values)
        name = self._class_keys.get(memo_key)  # type: ignore[arg-type]
        if name is None:
            try:
                name = self.schema.structural_class(values).name
            except SchemaError:
                name = ""
            self._class_keys[memo_key] = name  # type: ignore[assignment]
        return name  # type: ignore[return-value]

    def _class_index_keys(self, values: list) -> frozenset[str]:
        memo_key = tuple(values)
        keys = self._class_keys.get(memo_key)
        if keys is None:
            out = {v.casefold() for v in values if isinstance(v, str)}
            for v in values:
                cls = self.schema.find_class(v) if isinstance(v, str) else None
                if cls is not None:
                    out.update(c.name.casefold() for c in self.schema.class_chain(cls.name))
            keys = self._class_keys[memo_key] = frozenset(out)
        return keys

    def _find_dn(self, value: str) -> Entry | None:
        """The entry a DN-valued attribute value names (exact spelling first, then normalized)."""
        hit = self._by_exact_dn.get(value)
        return hit if hit is not None else self._by_dn.get(_ndn(value))

    def _require(self, entry: Entry) -> None:
        if self._by_guid.get(entry.guid) is not entry:
            raise NoSuchEntry(entry.dn)

    def _index_keys(self, attr: str, values: list) -> Iterable[object]:
        """The index keys of an indexed attribute's values (match_key, with memos for hot cases)."""
        if attr == "objectclass":
            # Index every superclass so (objectClass=person) finds users.
            return self._class_index_keys(values)
        at = self._index_types[attr]
        if attr in _CASEFOLDED:  # match_key's STRING case, inlined: this runs per created user
            keys = [v.casefold() if type(v) is str else match_key(at, v) for v in values]
        elif attr == "objectcategory":  # few distinct values: memoize the DN normalization
            memo = self._category_ndn
            keys = []
            for v in values:
                k = memo.get(v)
                if k is None:
                    k = memo[v] = match_key(at, v)
                keys.append(k)
        else:
            keys = [match_key(at, v) for v in values]
        return [k for k in keys if k is not None] if None in keys else keys

    def _index_pairs(self, attr: str, values: list) -> list[tuple[dict, object]]:
        """(index, key) for every index entry ``values`` of ``attr`` need."""
        index = self._index[attr]
        pairs: list[tuple[dict, object]] = [(index, k) for k in self._index_keys(attr, values)]
        if attr == "objectcategory":
            pairs.extend((self._index[_CATEGORY_CN], cn) for cn in self._category_cns(values))
        return pairs

    def _category_cns(self, values: list) -> list[str]:
        """Casefolded first RDN values of objectCategory DNs (the ``(objectCategory=person)`` form)."""
        out = []
        for v in values:
            if not isinstance(v, str):
                continue
            cn = self._category_cn.get(v)
            if cn is None:
                rdns = parse_dn(v)
                cn = self._category_cn[v] = rdns[0][0][1].casefold() if rdns else ""
            if cn:
                out.append(cn)
        return out

    def _index_values(self, entry: Entry, attr: str, values: list, *, add: bool) -> None:
        index = self._index.get(attr)
        if index is None and attr not in self._links:
            return
        op = _bucket_add if add else _bucket_remove
        if index is not None:
            for k in self._index_keys(attr, values):
                op(index, k, entry)
            if attr == "objectcategory":
                for cn in self._category_cns(values):
                    op(self._index[_CATEGORY_CN], cn, entry)
        links = self._links.get(attr)
        if links is not None:
            for v in values:
                if not isinstance(v, str):
                    continue
                target = self._by_exact_dn.get(v)
                if target is None:
                    nv = _ndn(v)
                    target = self._by_dn.get(nv)
                if target is None:
                    pending = self._pending[attr]
                    if add:
                        pending.setdefault(nv, {})[entry] = None
                    elif nv in pending:
                        pending[nv].pop(entry, None)
                        if not pending[nv]:
                            del pending[nv]
                    continue
                if add:
                    _bucket_add(links, target, entry)
                else:
                    _bucket_remove(links, target, entry)


@dataclass(slots=True)
class Prebuilt:
    """A directory's lookup tables made outside it (from a lab image): see :meth:`Directory.prebuilt`."""

    by_dn: dict[str, Entry]
    by_exact_dn: dict[str, Entry]
    by_guid: dict[UUID, Entry]
    roots: dict[str, Entry]
    index: dict[str, dict[object, object]]
    links: dict[str, dict[Entry, object]]
    pending: dict[str, dict[str, dict[Entry, None]]]


def _export_buckets(table: dict, position: dict[Entry, int], name: str,
                    seen: dict[tuple, list]) -> list[list]:
    """``[single keys, their positions, multi keys, their position lists]`` of a bucket table.

    A multi bucket equal to one exported before (objectClass person/organizationalPerson/user,
    objectCategory and its cn index hold the same 100k entries) is ``[table name, its number]``:
    loading copies that dict, several times faster than filling it again.
    """
    from itertools import compress  # (local: the save side's only use of it here)

    # Column-wise C-level passes: the big tables (sAMAccountName, UPN ...) hold 100k single buckets.
    is_multi = [type(cur) is dict for cur in table.values()]
    is_single = [not multi for multi in is_multi]
    single_keys = list(compress(table, is_single))
    singles = list(map(position.__getitem__, compress(table.values(), is_single)))
    multi_keys, multis = list(compress(table, is_multi)), []
    for cur in compress(table.values(), is_multi):
        bucket = list(map(position.__getitem__, cur))
        if len(bucket) > 64:
            same = seen.setdefault(tuple(bucket), [name, len(multis)])
            if same[0] != name or same[1] != len(multis):
                bucket = same
        multis.append(bucket)
    return [single_keys, singles, multi_keys, multis]


def _import_buckets(saved: list[list], entries: list[Entry], name: str, done: dict[str, list[dict]], *,
                    keys: list[Entry] | None = None, multi_only: bool = False) -> dict:
    """The bucket table :func:`_export_buckets` saved (``keys``: positions name entries there too)."""
    single_keys, singles, multi_keys, multis = saved
    if multi_only and single_keys:
        raise ValueError("a pending-link table with single buckets")
    at = entries.__getitem__
    if keys is not None:
        single_keys, multi_keys = map(keys.__getitem__, single_keys), map(keys.__getitem__, multi_keys)
    buckets = done[name] = []
    for m in multis:
        if m and type(m[0]) is str:  # the same entries as an earlier bucket
            buckets.append(done[m[0]][m[1]].copy())
        else:
            buckets.append(dict.fromkeys(map(at, m)))
    table = dict(zip(single_keys, map(at, singles), strict=True))
    table.update(zip(multi_keys, buckets, strict=True))
    return table


def _ndn(value: str) -> str:
    try:
        return normalize_dn(value)
    except ValueError:
        return value


def _norm_rdn_pairs(rdn: tuple[tuple[str, str], ...]) -> str:
    pairs = sorted((a.lower(), escape_value(v.lower())) for a, v in rdn)
    return "+".join(f"{a}={v}" for a, v in pairs)


def _rdn_text(dn: str) -> str:
    """The leftmost RDN exactly as written in ``dn`` (escapes preserved)."""
    i = 0
    while i < len(dn):
        if dn[i] == "\\":
            i += 2
            continue
        if dn[i] == ",":
            return dn[:i]
        i += 1
    return dn
