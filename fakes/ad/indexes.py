"""The directory's equality indexes, each one made the first time something needs it.

:class:`Indexes` keeps one table per indexed attribute (``INDEX_NAMES``): index key -> bucket,
a bucket being one :class:`~fakes.ad.directory.Entry` or a dict of them (most keys name one
entry, and 100k one-item dicts would cost 20 MB). A table comes into being on its first read
(:meth:`Indexes.table`: a lookup, or a search whose candidates use it), never at insert time:

- cold (a directory being built): one pass over the entries in creation order, which is the
  order the eager per-insert indexing produced, so buckets (and search results) come out in
  the same order as before;
- warm (a directory loaded from a lab image, :meth:`Indexes.load_saved`): the image's saved
  bucket positions of that table only, plus the entries added or removed since loading (a
  small journal). Never the pass: it would decode every entry's lazily decoded attributes.

Adding or removing an entry maintains only the tables that exist. Changing an indexed
attribute's values (:meth:`Indexes.update`) makes that attribute's tables first: the change
then moves the entry to the end of its buckets exactly as eager maintenance did, so a lab
built, loaded or changed in any order answers every search with the same entries in the same
order.

Thread safety: the DC serialises its operations under ``dc.lock``, and nothing changes the
directory outside that lock while others read it. Readers that do not hold it (tests, the lab's
own lookups) may run side by side, so making a table happens under this module's lock and the
finished table is published by replacing the table map, never half made.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from fakes.ad.dn import parse_dn
from fakes.ad.filters import match_key
from fakes.ad.schema import AttributeType, Schema
from fakes.gc_pause import gc_paused

if TYPE_CHECKING:
    from fakes.ad.directory import Entry

#: Lookups a saved table answers from the image's lists before it is imported whole. A served
#: warm lab's first lookups (its sample user, the first UPN or SID binds) each scan one saved key
#: list (about a millisecond at 100k users) instead of making a 100k-key table (20-40 ms).
POINT_LOOKUPS = 16

# Attributes indexed for equality (the DC searches these constantly).
INDEXED = ("samaccountname", "userprincipalname", "objectsid", "objectclass", "objectcategory", "cn",
           "mail", "admincount", "serviceprincipalname")
CATEGORY_CN = "~objectcategory.cn"  # secondary index: first RDN value of objectCategory
INDEX_NAMES = (*INDEXED, CATEGORY_CN)
INDEXED_SET = frozenset(INDEXED)
# Attribute -> the tables its values feed.
TABLES_OF = {**{a: (a,) for a in INDEXED}, "objectcategory": ("objectcategory", CATEGORY_CN)}
_SOURCE = {**{a: a for a in INDEXED}, CATEGORY_CN: "objectcategory"}  # table -> attribute
# Indexed attributes of Unicode-string syntax, whose equality key is the casefolded value.
_CASEFOLDED = frozenset(("samaccountname", "userprincipalname", "cn", "mail", "serviceprincipalname"))
# Tables fed by value lists that bulk creators share between entries (one per class and parent).
_SHARED = frozenset(("objectclass", "objectcategory", CATEGORY_CN))
_ALL_KEYS = object()  # Indexes._replay: every key of the table


def bucket_add(table: dict, key: object, entry: Entry) -> None:
    cur = table.get(key)
    if cur is None:
        table[key] = entry
    elif type(cur) is dict:
        cur[entry] = None
    elif cur is not entry:
        table[key] = {cur: None, entry: None}


def bucket_remove(table: dict, key: object, entry: Entry) -> None:
    cur = table.get(key)
    if cur is entry:
        del table[key]
    elif type(cur) is dict:
        cur.pop(entry, None)
        if len(cur) == 1:
            table[key] = next(iter(cur))
        elif not cur:
            del table[key]


def bucket_items(cur: object) -> list[Entry]:
    if cur is None:
        return []
    if type(cur) is dict:
        return list(cur)
    return [cur]  # type: ignore[list-item]


class Indexes:
    """The equality index tables of one directory (see the module docstring).

    ``entries`` gives the directory's live entries in creation order (what a cold table is made
    from).
    """

    def __init__(self, schema: Schema, entries: Callable[[], Iterable[Entry]]) -> None:
        self.schema = schema
        self._entries = entries
        self._types: dict[str, AttributeType] = {a: schema.attribute(a) for a in INDEXED}
        self._built: dict[str, dict[object, object]] = {}  # replaced, never changed in place
        # Warm: table -> its saved buckets (``[single keys, positions, multi keys, position lists]``,
        # references between tables already resolved), and the entries those positions name.
        self._saved: dict[str, list] = {}
        self._saved_entries: list[Entry] = []
        # Warm, per saved table: entries added since loading (-> None) and saved entries removed
        # since (-> the keys they were saved under), in the order it happened.
        self._journal: dict[str, dict[Entry, tuple | None]] = {}
        self._point_lookups: dict[str, int] = {}  # saved table -> lookups it answered unimported
        self._needed: set[str] = set()  # tables a search went without once (see first_need)
        self._lock = threading.Lock()
        self._class_keys: dict[tuple, frozenset[str]] = {}  # objectClass values -> index keys
        self._category_cn: dict[str, str] = {}  # objectCategory DN -> casefolded first RDN value
        self._category_ndn: dict[str, object] = {}  # objectCategory DN -> its index key

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget every table: each is made from the entries when next needed."""
        self._built, self._saved, self._saved_entries, self._journal = {}, {}, [], {}
        self._point_lookups, self._needed = {}, set()

    def load_saved(self, entries: list[Entry], saved: dict[str, list]) -> None:
        """Take an image's saved tables (see :func:`resolve_saved`) over ``entries`` (their
        positions); each is imported when first needed (decoded then too, when it comes as a
        loader: see :func:`table_of`)."""
        self._built, self._saved, self._saved_entries = {}, dict(saved), entries
        self._journal = {name: {} for name in saved}
        self._point_lookups, self._needed = {}, set()

    def first_need(self, names: list[str]) -> bool:
        """True if no table of ``names`` exists, is saved or was asked for before (they are
        noted as asked for now): the caller reads the entries instead of making them."""
        if any(n in self._built or n in self._saved or n in self._needed for n in names):
            return False
        self._needed.update(names)
        return True

    def built(self) -> tuple[str, ...]:
        """The names of the tables that exist now (in :data:`INDEX_NAMES` order)."""
        return tuple(name for name in INDEX_NAMES if name in self._built)

    def table(self, name: str) -> dict[object, object]:
        """Table ``name`` (one of :data:`INDEX_NAMES`), made now if it does not exist yet."""
        table = self._built.get(name)
        if table is None:
            with self._lock:
                table = self._built.get(name)
                if table is None:
                    # A table is 100k+ new keys and buckets, none in a cycle: a cyclic GC pass
                    # over the lab's heap in the middle would cost more than making it.
                    with gc_paused():
                        table = self._import(name) if name in self._saved else self._scan(name)
                    self._built = {**self._built, name: table}
        return table

    def items(self, name: str, key: object) -> list[Entry]:
        """The entries under ``key`` in table ``name``: ``bucket_items(table(name).get(key))``.

        A saved table not imported yet answers its first :data:`POINT_LOOKUPS` lookups from the
        image's saved lists instead (see :meth:`_saved_items`)."""
        table = self._built.get(name)
        if table is None:
            saved, journal = self._saved.get(name), self._journal.get(name)
            looked_up = self._point_lookups.get(name, 0)
            if saved is not None and journal is not None and looked_up < POINT_LOOKUPS:
                self._point_lookups[name] = looked_up + 1
                return self._saved_items(name, saved, journal, key)
            table = self.table(name)
        return bucket_items(table.get(key))

    def _saved_items(self, name: str, saved: list, journal: dict[Entry, tuple | None],
                     key: object) -> list[Entry]:
        """:meth:`items` from a saved table: the key's saved bucket, then the journal's changes to
        that key in order (what :meth:`_import` does for every key)."""
        single_keys, singles, multi_keys, multis = table_of(saved, name)
        entries = self._saved_entries
        one: dict[object, object] = {}
        try:
            one[key] = entries[singles[single_keys.index(key)]]
        except ValueError:
            with contextlib.suppress(ValueError):
                one[key] = dict.fromkeys(map(entries.__getitem__, multis[multi_keys.index(key)]))
        self._replay(name, journal, one, only=key)
        return bucket_items(one.get(key))

    def _replay(self, name: str, journal: dict[Entry, tuple | None], table: dict[object, object],
                only: object = _ALL_KEYS) -> None:
        """The journal's changes since loading, in order, applied to ``table`` (saved table
        ``name`` imported: every key; or ``only`` that key's bucket)."""
        source = _SOURCE[name]
        for entry, keys in list(journal.items()):
            if keys is None:  # added since loading
                values = entry.attrs.get(source)
                op, keys = bucket_add, self._keys(name, values) if values else ()
            else:  # a saved entry removed since loading
                op = bucket_remove
            for k in keys:
                if only is _ALL_KEYS or k == only:
                    op(table, k, entry)

    # ------------------------------------------------------------------ maintenance
    def added(self, entry: Entry, attrs: dict[str, list]) -> None:
        """``entry`` (with ``attrs``) was just created: index it in the existing tables."""
        self._each_built(entry, attrs, bucket_add)
        if self._journal:
            for name, journal in self._journal.items():
                if attrs.get(_SOURCE[name]):
                    journal[entry] = None

    def removed(self, entry: Entry, attrs: dict[str, list]) -> None:
        """``entry`` (holding ``attrs``) is being deleted: drop it from every table."""
        self._each_built(entry, attrs, bucket_remove)
        if self._journal:
            for name, journal in self._journal.items():
                values = attrs.get(_SOURCE[name])
                if values and journal.pop(entry, _SAVED) is _SAVED:  # (added since loading: forget it)
                    journal[entry] = tuple(self._keys(name, values))

    def _each_built(self, entry: Entry, attrs: dict[str, list],
                    op: Callable[[dict, object, Entry], None]) -> None:
        """``op(table, key, entry)`` for every key of ``attrs`` in every existing table."""
        for name, table in self._built.items():
            values = attrs.get(_SOURCE[name])
            if values:
                for k in self._keys(name, values):
                    op(table, k, entry)

    def prepare(self, attr: str) -> None:
        """Make the tables ``attr`` feeds (before its values change: see :meth:`update`)."""
        for name in TABLES_OF.get(attr, ()):
            self.table(name)

    def update(self, entry: Entry, attr: str, values: list, *, add: bool) -> None:
        """Add (or remove) ``entry`` under the keys of ``values`` of ``attr`` in every table that
        attribute feeds. Those tables must exist before the entry's values change (call
        :meth:`prepare` first): made afterwards, they would already hold the new values, and in
        creation order rather than at the end of their buckets (see the module docstring)."""
        for name in TABLES_OF.get(attr, ()):
            table = self.table(name)
            op = bucket_add if add else bucket_remove
            for k in self._keys(name, values):
                op(table, k, entry)

    # ------------------------------------------------------------------ making a table
    def _scan(self, name: str) -> dict[object, object]:
        """Table ``name`` from one pass over the entries (creation order = eager insert order)."""
        attr = _SOURCE[name]
        table: dict[object, object] = {}
        get = table.get
        keys_of = self._keys
        casefolded = name in _CASEFOLDED
        shared = name in _SHARED
        memo: dict[int, tuple[list, list]] = {}  # id(shared value list) -> (it, its keys)
        for entry in self._entries():
            values = entry.attrs.get(attr)
            if not values:
                continue
            if casefolded and len(values) == 1 and type(v := values[0]) is str:
                k = v.casefold()
                keys: Iterable[object] = (v if k == v else k,)
            elif shared:
                hit = memo.get(id(values))
                if hit is not None and hit[0] is values:
                    keys = hit[1]
                else:
                    keys = list(keys_of(name, values))
                    memo[id(values)] = (values, keys)
            else:
                keys = keys_of(name, values)
            for k in keys:  # bucket_add inlined: this runs for every entry of a 100k directory
                cur = get(k)
                if cur is None:
                    table[k] = entry
                elif type(cur) is dict:
                    cur[entry] = None
                elif cur is not entry:
                    table[k] = {cur: None, entry: None}
        return table

    def _import(self, name: str) -> dict[object, object]:
        """Saved table ``name`` over the loaded entries, then what changed since loading."""
        try:
            saved = self._saved[name]
            table = import_buckets(table_of(saved, name), self._saved_entries)
        except (TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"the lab image's saved {name} index cannot be loaded ({exc!r}); this is a "
                             "simlab bug (the file passed its checksum): run `simlab cache clear`") from exc
        journal = self._journal[name]
        self._journal = {n: j for n, j in self._journal.items() if n != name}  # (replaced: see added())
        self._replay(name, journal, table)
        del self._saved[name]
        if not self._saved:
            self._saved_entries = []
        return table

    # ------------------------------------------------------------------ keys
    def _keys(self, name: str, values: list) -> Iterable[object]:
        """The index keys of ``values`` in table ``name`` (match_key, with memos for hot cases)."""
        if name in _CASEFOLDED:  # match_key's STRING case, inlined; an equal key shares the value
            at = self._types[name]
            keys: list = []
            for v in values:
                if type(v) is str:
                    k = v.casefold()
                    keys.append(v if k == v else k)
                else:
                    keys.append(match_key(at, v))
        elif name == "objectclass":  # every superclass too, so (objectClass=person) finds users
            return self._class_index_keys(values)
        elif name == CATEGORY_CN:
            return self._category_cns(values)
        elif name == "objectcategory":  # few distinct values: memoize the DN normalization
            memo, at = self._category_ndn, self._types[name]
            keys = []
            for v in values:
                k = memo.get(v)
                if k is None:
                    k = memo[v] = match_key(at, v)
                keys.append(k)
        elif name == "objectsid":  # a binary SID is its own key
            at = self._types[name]
            keys = [v if type(v) is bytes and v[:2] not in (b"S-", b"s-") else match_key(at, v)
                    for v in values]
        else:
            at = self._types[name]
            keys = [match_key(at, v) for v in values]
        return [k for k in keys if k is not None] if None in keys else keys

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


_SAVED = object()  # journal.pop default: the entry was in the image (not added since loading)


def resolve_saved(saved: dict[str, list], names: Iterable[str], earlier: SavedLists) -> dict[str, list]:
    """``names``' saved tables with every ``[table name, number]`` reference (a bucket equal to
    one saved before, see ``export_buckets``) replaced by that position list, so each table
    imports on its own; ``earlier`` (table -> its multi lists) gains these tables' lists.

    A table saved as ``[decode, None, None, None]`` (a lab image keeps each index table encoded
    until something needs it; ``decode()`` gives its four lists as saved) becomes
    ``[loader, None, None, None]``: :func:`table_of` calls the loader, which decodes the table
    and resolves its references then. A reference from another table to it does the same.

    Raises ValueError, TypeError or KeyError on a malformed table (cheap checks only: positions
    are checked when the table is imported).
    """
    out = {}
    for name in names:
        table = saved[name]
        if callable(table[0]):
            loader = functools.partial(_resolved, name, table[0], earlier)
            out[name] = earlier.later[name] = [loader, None, None, None]
        else:
            out[name] = _resolved(name, lambda table=table: table, earlier)
    return out


def _resolved(name: str, decode: Callable[[], list], earlier: SavedLists) -> list:
    single_keys, singles, multi_keys, multis = decode()
    if len(single_keys) != len(singles) or len(multi_keys) != len(multis):
        raise ValueError(f"the saved {name} index has keys without buckets")
    resolved = earlier[name] = []  # (a bucket may name an earlier one of its own table)
    try:
        for m in multis:
            resolved.append(earlier[m[0]][m[1]] if m and type(m[0]) is str else m)
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"the saved {name} index names a bucket not saved before it ({exc})") from exc
    return [single_keys, singles, multi_keys, resolved]


class SavedLists(dict):
    """Saved table -> its resolved multi lists (:func:`resolve_saved`'s ``earlier``). A table
    kept encoded (``later``: table -> its saved list) is decoded when a reference names it."""

    def __init__(self) -> None:
        super().__init__()
        self.later: dict[str, list] = {}

    def __missing__(self, name: str) -> list:
        table = self.later.get(name)
        if table is None:
            raise KeyError(f"no saved table {name!r} before this one")
        table_of(table, name)  # (stores the table's lists here)
        return self[name]


def table_of(saved: list, name: str) -> list:
    """A saved table's ``[single keys, their positions, multi keys, their position lists]``; a
    loader in their place (see :func:`resolve_saved`) is called now and the table keeps what it
    gives. Raises ValueError if they do not pair up."""
    if callable(saved[0]):
        # (two threads doing this at once store equal lists)
        saved[:] = saved[0]()
    return saved


def export_buckets(table: dict, position: dict[Entry, int], name: str, seen: dict[tuple, list]) -> list[list]:
    """``[single keys, their positions, multi keys, their position lists]`` of a bucket table.

    A multi bucket equal to one exported before (objectClass person/organizationalPerson/user,
    objectCategory and its cn index hold the same 100k entries) is ``[table name, its number]``:
    loading shares that position list (:func:`resolve_saved`) and copies the bucket made from it.
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


def import_buckets(saved: list[list], entries: list[Entry], *, keys: list[Entry] | None = None) -> dict:
    """The bucket table of a :func:`resolve_saved` table (``keys``: positions name entries there too).

    Raises TypeError, ValueError or IndexError on a malformed table.
    """
    single_keys, singles, multi_keys, multis = saved
    at = entries.__getitem__
    if keys is not None:
        single_keys, multi_keys = map(keys.__getitem__, single_keys), map(keys.__getitem__, multi_keys)
    made: dict[int, dict] = {}  # id(position list) -> its bucket: keys of one table often hold the
    buckets = []                # same entries (person, organizationalPerson, user): copy, several
    for m in multis:            # times faster than filling the dict again
        first = made.get(id(m))
        if first is None:
            first = made[id(m)] = dict.fromkeys(map(at, m))
            buckets.append(first)
        else:
            buckets.append(first.copy())
    table = dict(zip(single_keys, map(at, singles), strict=True))
    table.update(zip(multi_keys, buckets, strict=True))
    return table
