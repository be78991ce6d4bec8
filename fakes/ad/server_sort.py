"""Server-side sorting of search results (RFC 2891, LDAP_SERVER_SORT_OID) as the DC does it.

Active Directory sorts on one key only (Microsoft Learn, LDAPSortKey: "Active Directory supports
only a single sort key"); a request with more is refused with unwillingToPerform in the sort
result. Values compare as the attribute matches them (the DC's match keys: text without regard
to case, numbers as numbers, DNs normalized). An entry without the attribute sorts after every
value, so last, or first in reverse order; a multi-valued attribute sorts by its least value, or
by its greatest in reverse (RFC 2891 section 2.2). Entries that compare equal keep the search's
order. A key's ordering rule (AD accepts a language's sort OID there) is not applied: the lab has
one collation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fakes.ad.filters import match_key

if TYPE_CHECKING:
    from fakes.ad.controls import SortKey
    from fakes.ad.directory import Entry
    from fakes.ad.schema import Schema

#: SortResult codes (RFC 2891 section 1.2) this DC answers with.
SUCCESS, NO_SUCH_ATTRIBUTE, UNWILLING_TO_PERFORM = 0, 16, 53


class SortRefused(Exception):
    """The entries cannot be sorted as asked: ``code`` is the SortResult to send."""

    def __init__(self, code: int, attribute: str | None = None) -> None:
        super().__init__(code, attribute)
        self.code = code
        self.attribute = attribute


def sorted_entries(entries: list[Entry], keys: list[SortKey], schema: Schema,
                   readable: Callable[[Entry, str], bool]) -> list[Entry]:
    """``entries`` in the order ``keys`` asks for; :class:`SortRefused` if they cannot be.

    ``readable(entry, attribute)``: whether the requester may read the attribute there; a value
    it may not read counts as no value (the order must not tell what the entry hides)."""
    if len(keys) != 1:
        raise SortRefused(UNWILLING_TO_PERFORM)
    key = keys[0]
    attr = schema.find_attribute(key.attribute.split(";", 1)[0])
    if attr is None:
        raise SortRefused(NO_SUCH_ATTRIBUTE, key.attribute)
    name = attr.name.lower()
    pick = max if key.reverse else min

    def values_of(entry: Entry) -> list:
        if not readable(entry, name):
            return []
        if name == "distinguishedname":
            return [entry.dn]
        if name == "objectguid":
            return [entry.guid.bytes_le]
        return entry.attrs.get(name) or []

    def order(entry: Entry) -> tuple:
        keys_ = [k for k in (match_key(attr, v) for v in values_of(entry)) if k is not None]
        return (0, pick(keys_)) if keys_ else (1,)  # no value: after every value

    return sorted(entries, key=order, reverse=key.reverse)


__all__ = ["NO_SUCH_ATTRIBUTE", "SUCCESS", "UNWILLING_TO_PERFORM", "SortRefused", "sorted_entries"]
