"""The directory's links: the entries a DN-valued attribute names, and the way back.

A mixin of :class:`fakes.ad.directory.Directory`. For the linked attributes (``member`` and
``manager``) the directory keeps, per target entry, the entries whose values name it (memberOf
and directReports are read from there); a value naming a DN that does not exist yet waits in a
pending table until that entry is added.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from fakes.ad.directory_state import LINKED
from fakes.ad.dn import dn_key
from fakes.ad.indexes import bucket_add, bucket_items, bucket_remove

if TYPE_CHECKING:
    from fakes.ad.directory import Entry


class DirectoryLinks:
    """Link queries and link tracking of a :class:`~fakes.ad.directory.Directory` (its fields)."""

    _by_dn: dict[str, Entry]
    _by_exact_dn: dict[str, Entry]
    _links: dict[str, dict[Entry, object]]
    _pending: dict[str, dict[str, dict[Entry, None]]]

    if TYPE_CHECKING:  # (Directory's own)
        def _exact(self, spelling: str, entry: Entry | None) -> Entry | None: ...
        def _find_dn(self, value: str) -> Entry | None: ...

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

    def _resolve_pending(self, entry: Entry, ndn: str) -> None:
        # Links written before their target existed (e.g. a group provisioned before its members).
        for attr in LINKED:
            pending = self._pending[attr]
            sources = pending.pop(ndn, None) if pending else None
            if sources:
                links = self._links[attr]
                for source in sources:
                    bucket_add(links, entry, source)

    def _link_values(self, entry: Entry, attr: str, values: list, *, add: bool) -> None:
        """Track (or forget) the targets ``entry``'s DN values of linked ``attr`` name."""
        links = self._links[attr]
        for v in values:
            if not isinstance(v, str):
                continue
            target = self._by_exact_dn.get(v)
            if target is None:
                nv = dn_key(v)
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


__all__ = ["DirectoryLinks"]
