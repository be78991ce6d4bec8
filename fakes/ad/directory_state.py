"""A directory's whole state as data: snapshots, and the lookup tables a lab image saves.

A mixin of :class:`fakes.ad.directory.Directory`. :meth:`DirectoryState.snapshot` copies every
entry (the lab's snapshots, the image's capture); :meth:`DirectoryState.restore` returns to one,
or installs a :class:`Prebuilt`: the tables :meth:`DirectoryState.prebuilt` makes from what
:meth:`DirectoryState.export_prebuilt` saved, so a lab image's directory loads without
recomputing a normalized DN, index key or link (docs/images.md).
"""

from __future__ import annotations

import operator
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fakes.ad.dn import normalize_dn
from fakes.ad.indexes import INDEX_NAMES, Indexes, SavedLists, export_buckets, import_buckets, resolve_saved

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fakes.ad.directory import Entry

#: Attributes whose DN values the directory tracks both ways (memberOf, directReports).
LINKED = ("member", "manager")
_RDN_KEY = operator.attrgetter("rdn_key")


class DirectoryState:
    """Snapshots and prebuilt tables of a :class:`~fakes.ad.directory.Directory` (its fields)."""

    _by_dn: dict[str, Entry]
    _by_exact_dn: dict[str, Entry]
    _by_guid: dict[int, Entry]
    _roots: dict[str, Entry]
    _ix: Indexes
    _links: dict[str, dict[Entry, object]]
    _pending: dict[str, dict[str, dict[Entry, None]]]
    written: dict[Entry, set[str]]

    if TYPE_CHECKING:  # (Directory's own)
        def walk(self, base: Entry | None = None) -> Iterator[Entry]: ...
        def _link_values(self, entry: Entry, attr: str, values: list, *, add: bool) -> None: ...
        def _resolve_pending(self, entry: Entry, ndn: str) -> None: ...

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
        self.written = {}
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


__all__ = ["LINKED", "DirectoryState", "Prebuilt"]
