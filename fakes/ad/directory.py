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

import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from uuid import UUID

from fakes.ad.api import Scope
from fakes.ad.attr_stamps import NOT_REPLICATED
from fakes.ad.directory_links import DirectoryLinks
from fakes.ad.directory_state import LINKED, DirectoryState, Prebuilt
from fakes.ad.dn import dn_key, escape_value, normalize_dn, normalize_rdn, parse_dn
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
    INDEXED_SET,
    Indexes,
    bucket_items,
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
_LINKED_SET = frozenset(LINKED)


class Directory(DirectoryLinks, DirectoryState):
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
        #: entry -> the replicated attributes written since the DC last stamped it (the DC's
        #: ``stamp`` takes them: fakes/ad/attr_stamps.py). Creation notes nothing.
        self.written: dict[Entry, set[str]] = {}

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

    def set_values(self, entry: Entry, attr: str, values: list) -> None:
        """Replace ``attr``'s values (``[]`` deletes it), keeping every index right."""
        self._require(entry)
        key = sys.intern(attr.lower())
        self._ix.prepare(key)  # an indexed attribute's tables exist before its values change
        if key not in NOT_REPLICATED:
            self.note_written(entry, key)
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

    def note_written(self, entry: Entry, key: str) -> None:
        """Note a write to ``entry``'s attribute ``key`` (lowercase) for the DC's next stamp:
        what :meth:`set_values` does, for a value kept outside ``attrs`` (the SD)."""
        found = self.written.get(entry)
        if found is None:
            self.written[entry] = {key}
        else:
            found.add(key)

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
        self.written.pop(entry, None)

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
            self.set_values(src, attr, [renamed.get(dn_key(v), v) for v in vals])

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
        return hit if hit is not None else self._exact(value, self._by_dn.get(dn_key(value)))

    def _require(self, entry: Entry) -> None:
        if self._by_guid.get(entry.guid.int) is not entry:
            raise NoSuchEntry(entry.dn)

    def _index_values(self, entry: Entry, attr: str, values: list, *, add: bool) -> None:
        if attr in INDEXED_SET:
            self._ix.update(entry, attr, values, add=add)
        if attr in _LINKED_SET:
            self._link_values(entry, attr, values, add=add)

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
