"""The directory store: entries by GUID and DN tree, attribute indexes, link tracking.

No access checks and no AD side effects live here (the DC does those); this module only
keeps the data and every index consistent. Equality lookups on indexed attributes are
O(1) in directory size; each attribute's index is made the first time a lookup or search
needs it (:mod:`fakes.ad.indexes`). Values are ``str`` for text syntaxes (integers as decimal
strings) and ``bytes`` for binary ones; objectGUID is :attr:`Entry.guid` and
nTSecurityDescriptor is :attr:`Entry.sd`.

``add()`` is the bulk path too (no separate bulk_add): it does one dict build per entry and
inserts into the indexes that exist already (none while a lab is provisioned); see
benchmarks/bench_directory.py for measured rates.
"""

from __future__ import annotations

import operator
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
from fakes.ad.indexes import (
    CATEGORY_CN,
    INDEX_NAMES,
    INDEXED_SET,
    Indexes,
    SavedLists,
    bucket_add,
    bucket_items,
    bucket_remove,
    export_buckets,
    import_buckets,
    resolve_saved,
)
from fakes.ad.schema import Schema, SchemaError

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


# DN-valued attributes whose targets are tracked, so memberOf/directReports are O(1) and
# references follow renames: forward attribute -> tracked.
LINKED = ("member", "manager")
_LINKED_SET = frozenset(LINKED)
_RDN_KEY = operator.attrgetter("rdn_key")


class Directory:
    """The object store of one DC."""

    def __init__(self, schema: Schema, *, guid_factory: Callable[[], UUID] | None = None) -> None:
        self.schema = schema
        self._new_guid = guid_factory or uuid.uuid4
        self._by_dn: dict[str, Entry] = {}
        # entry.dn exactly as stored -> entry: DN values written by the DC itself (member lists of
        # provisioned groups, bases taken from results) are found without normalising them.
        self._by_exact_dn: dict[str, Entry] = {}
        # Keyed by the GUID's 128-bit number: UUID.__hash__ is a Python-level call, int's is not
        # (every page of a search checks each entry here, and a loaded image builds it for 100k).
        self._by_guid: dict[int, Entry] = {}
        self._roots: dict[str, Entry] = {}
        # Equality indexes of INDEXED attributes, each made when first needed (fakes/ad/indexes.py)
        # from the entries in creation order: _by_guid's order.
        self._ix = Indexes(schema, lambda: self._by_guid.values())
        self._keymap: dict[str, str] = {}  # caller's attribute spelling -> interned lowercase key
        self._structural_memo: dict[tuple, str] = {}  # objectClass values -> structural class
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
            return self._exact(dn, self._by_dn.get(normalize_dn(dn)))
        except ValueError:
            return None

    def _exact(self, spelling: str, entry: Entry | None) -> Entry | None:
        """``entry``, remembered under ``spelling`` when that is its DN exactly.

        ``_by_exact_dn`` holds entries by their DN as spelled, which saves normalizing a DN on
        the hot paths. A built directory has every entry in it; a directory loaded from a lab
        image starts it empty (100k names cost 0.1 s to hash) and fills it as names are looked
        up. Only an entry's own DN goes in, so a rename or delete (which drop ``e.dn``) leaves
        nothing stale."""
        if entry is not None and entry.dn == spelling:
            self._by_exact_dn[spelling] = entry
        return entry

    def by_guid(self, guid: UUID) -> Entry | None:
        return self._by_guid.get(guid.int)

    def by_sid(self, sid: str | bytes) -> Entry | None:
        key = sid if isinstance(sid, bytes) else sid_to_bytes(sid)
        found = self._ix.items("objectsid", key)
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
        if guid.int in self._by_guid:
            raise EntryExists(f"objectGUID {guid} already in use")
        entry = Entry(guid, dn, parent, clean, {}, sd, object_class, rdn_key)
        siblings[rdn_key] = entry
        self._by_dn[ndn] = entry
        self._by_exact_dn[dn] = entry
        self._by_guid[guid.int] = entry
        self._ix.added(entry, clean)
        for attr in LINKED:
            values = clean.get(attr)
            if values:
                self._link_values(entry, attr, values, add=True)
        self._resolve_pending(entry, ndn)
        return entry

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
                    bucket_add(links, entry, source)

    def set_values(self, entry: Entry, attr: str, values: list) -> None:
        """Replace ``attr``'s values (``[]`` deletes it), keeping every index right."""
        self._require(entry)
        key = sys.intern(attr.lower())
        self._ix.prepare(key)  # an indexed attribute's tables exist before its values change
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
        attrs = entry.attrs
        self._ix.removed(entry, attrs)
        for attr in LINKED:
            values = attrs.get(attr)
            if values:
                self._link_values(entry, attr, values, add=False)
        for attr in LINKED:
            for source in bucket_items(self._links[attr].get(entry)):
                vals = [v for v in source.attrs.get(attr, []) if self._find_dn(v) is not entry]
                self.set_values(source, attr, vals)
        siblings = entry.parent.children if entry.parent is not None else self._roots
        siblings.pop(entry.rdn_key, None)
        self._by_dn.pop(normalize_dn(entry.dn), None)
        self._by_exact_dn.pop(entry.dn, None)
        self._by_guid.pop(entry.guid.int, None)

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
                for src in bucket_items(self._links[attr].get(e)):
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
        if key in INDEXED_SET:
            return self._ix.items(key, wanted)
        if key == "objectguid":
            e = self._by_guid.get(UUID(bytes_le=wanted).int)  # type: ignore[arg-type]
            return [e] if e else []
        return [e for e in self.walk() if any(match_key(at, v) == wanted for v in e.attrs.get(key, ()))]

    def search(self, base: Entry, scope: Scope, flt: Filter) -> Iterator[Entry]:
        """Entries in ``scope`` under ``base`` for which ``flt`` is True."""
        match = compile_filter(flt, self)
        if scope == Scope.BASE:
            if match(base) is True:
                yield base
            return
        candidates = list(self._by_guid.values()) if self._first_need(flt) else self._candidates(flt)
        if candidates is None:
            # (a copy of the children: a paged search resumes this generator between requests)
            it: Iterable[Entry] = self.walk(base) if scope == Scope.SUBTREE else list(base.children.values())
            for e in it:
                if match(e) is True:
                    yield e
            return
        for e in candidates:
            if self._in_scope(e, base, scope) and match(e) is True:
                yield e

    def _first_need(self, flt: Filter) -> bool:
        """True the first time a search's candidates would come from indexes not made yet: it
        then reads every entry in creation order instead (the same entries in the same order:
        an index not made yet has seen no change of its values, so its buckets are in creation
        order too), and the next search that needs them makes them. A paged search filters page
        by page, so a big directory's first search (Connect's import) starts at once instead of
        first making a 100k-entry objectClass index. Only a lone equality, or an AND whose
        candidates would come from its equalities alone, qualifies (an OR's union has its own
        order)."""
        names = []
        for sub in flt.filters if isinstance(flt, And) else (flt,):
            if isinstance(sub, And | Or):
                return False
            found = self._equal_index(sub) if isinstance(sub, Equal) else None
            if found is None:
                continue
            if found[1] is None:  # nothing can match: the indexes answer at once
                return False
            names.append(found[0])
        return bool(names) and self._ix.first_need(names)

    def _equal_index(self, flt: Equal) -> tuple[str, object] | None:
        """``(index table, key)`` that answers equality ``flt``; the key None when nothing can
        match (an unknown attribute, a value the attribute's syntax refuses); None when no index
        holds the attribute."""
        at = self.schema.find_attribute(flt.attr.split(";", 1)[0])
        if at is None:
            return "", None
        key = at.name.lower()
        if key == "objectcategory" and b"=" not in flt.value:
            value = flt.value.decode("utf-8", "replace")
            cls = self.schema.find_class(value)
            return CATEGORY_CN, (cls.default_object_category if cls else value).casefold()
        if key in INDEXED_SET:
            return key, match_key(at, flt.value)
        return None

    def _candidates(self, flt: Filter) -> list[Entry] | None:
        """A superset of the matches from the indexes, or None when a walk is needed."""
        if isinstance(flt, Equal):
            found = self._equal_index(flt)
            if found is None:
                return None
            table, key = found
            return [] if key is None else self._ix.items(table, key)
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
        return bucket_items(self._links["member"].get(entry))

    def direct_reports(self, entry: Entry) -> list[Entry]:
        return bucket_items(self._links["manager"].get(entry))

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
            self._roots, self._links, self._pending = snap.roots, snap.links, snap.pending
            self._ix.load_saved(snap.entries, snap.index)
            return
        self._by_dn = {}
        self._by_exact_dn = {}
        self._by_guid = {}
        self._roots = {}
        self._ix.reset()  # each index is made again from the restored entries when next needed
        self._links = {a: {} for a in LINKED}
        self._pending = {a: {} for a in LINKED}
        ndns: dict[Entry, str] = {}  # parents come first: a child's normalized DN extends its parent's
        for e, guid, dn, parent_guid, rdn_key, attrs, sd, oc in snap:  # type: ignore[attr-defined]
            parent = self._by_guid[parent_guid.int] if parent_guid else None
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
            self._by_guid[guid.int] = e
            attrs = e.attrs
            for attr in LINKED:
                values = attrs.get(attr)
                if values:
                    self._link_values(e, attr, values, add=True)
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
            "index": {a: export_buckets(self._ix.table(a), position, a, seen) for a in INDEX_NAMES},
            "links": {a: export_buckets({position[e]: s for e, s in t.items()}, position, f"links.{a}", seen)
                      for a, t in self._links.items()},
            "pending": {a: export_buckets(t, position, f"pending.{a}", seen)
                        for a, t in self._pending.items()},
        }

    @staticmethod
    def prebuilt(entries: list[Entry], state: dict, *, guids: list[int], parents: list[int]) -> Prebuilt:
        """The lookup tables of :meth:`export_prebuilt`'s ``state`` over ``entries`` (fresh, unattached
        Entry objects in the exported order whose ``parent`` is already set and whose ``children``
        are empty, filled here); ``guids`` holds each entry's ``guid.int``, ``parents`` the
        position of its parent in ``entries`` (-1: a root). No directory changes until
        :meth:`restore` installs the result; a malformed ``state`` raises KeyError, IndexError,
        TypeError or ValueError.
        """
        ndns = state["ndns"]
        if not len(ndns) == len(guids) == len(parents) == len(entries):
            raise ValueError(f"{len(ndns)} normalized DNs, {len(guids)} GUIDs and {len(parents)} parents "
                             f"for {len(entries)} entries")
        # Each entry into its parent's children (or the roots), in entry order as add() did: the
        # few parents' dicts first, then one C-level pass (position -1 is the roots, last).
        roots: dict[str, Entry] = {}
        homes: list[dict[str, Entry] | None] = [None] * len(entries)
        for at in set(parents) - {-1}:
            homes[at] = entries[at].children
        homes.append(roots)
        deque(map(dict.__setitem__, map(homes.__getitem__, parents), map(_RDN_KEY, entries), entries), 0)
        index, links, pending = state["index"], state["links"], state["pending"]
        if set(index) != set(INDEX_NAMES) or set(links) != set(LINKED) or set(pending) != set(LINKED):
            raise ValueError("the saved indexes are not this directory's")
        # A bucket equal to one saved before names it: resolve those first, in save order.
        earlier = SavedLists()
        saved_index = resolve_saved(index, INDEX_NAMES, earlier)
        saved_links = resolve_saved({f"links.{a}": links[a] for a in LINKED}, [f"links.{a}" for a in LINKED],
                                    earlier)
        saved_pending = resolve_saved({f"pending.{a}": pending[a] for a in LINKED},
                                      [f"pending.{a}" for a in LINKED], earlier)
        if any(saved[0] for saved in saved_pending.values()):
            raise ValueError("a pending-link table with single buckets")
        return Prebuilt(
            entries=entries,
            by_dn=dict(zip(ndns, entries, strict=True)),
            by_exact_dn={},  # filled as names are looked up (see _exact)
            by_guid=dict(zip(guids, entries)),
            roots=roots,
            index=saved_index,  # imported per index when first needed (Indexes.load_saved)
            links={a: import_buckets(saved_links[f"links.{a}"], entries, keys=entries) for a in LINKED},
            pending={a: import_buckets(saved_pending[f"pending.{a}"], entries) for a in LINKED},
        )

    # ------------------------------------------------------------------ internals
    def _structural(self, values: list) -> str:
        memo_key = tuple(values)
        name = self._structural_memo.get(memo_key)
        if name is None:
            try:
                name = self.schema.structural_class(values).name
            except SchemaError:
                name = ""
            self._structural_memo[memo_key] = name
        return name

    def _find_dn(self, value: str) -> Entry | None:
        """The entry a DN-valued attribute value names (exact spelling first, then normalized)."""
        hit = self._by_exact_dn.get(value)
        return hit if hit is not None else self._exact(value, self._by_dn.get(_ndn(value)))

    def _require(self, entry: Entry) -> None:
        if self._by_guid.get(entry.guid.int) is not entry:
            raise NoSuchEntry(entry.dn)

    def _index_values(self, entry: Entry, attr: str, values: list, *, add: bool) -> None:
        if attr in INDEXED_SET:
            self._ix.update(entry, attr, values, add=add)
        if attr in _LINKED_SET:
            self._link_values(entry, attr, values, add=add)

    def _link_values(self, entry: Entry, attr: str, values: list, *, add: bool) -> None:
        """Track (or forget) the targets ``entry``'s DN values of linked ``attr`` name."""
        links = self._links[attr]
        for v in values:
            if not isinstance(v, str):
                continue
            target = self._by_exact_dn.get(v)
            if target is None:
                nv = _ndn(v)
                target = self._exact(v, self._by_dn.get(nv))
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
                bucket_add(links, target, entry)
            else:
                bucket_remove(links, target, entry)


@dataclass(slots=True)
class Prebuilt:
    """A directory's lookup tables made outside it (from a lab image): see :meth:`Directory.prebuilt`."""

    entries: list[Entry]  # in the image's order: the saved index positions name these
    by_dn: dict[str, Entry]
    by_exact_dn: dict[str, Entry]
    by_guid: dict[int, Entry]  # by UUID.int
    roots: dict[str, Entry]
    index: dict[str, list]  # saved index tables, not imported yet (see fakes.ad.indexes.resolve_saved)
    links: dict[str, dict[Entry, object]]
    pending: dict[str, dict[str, dict[Entry, None]]]


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
