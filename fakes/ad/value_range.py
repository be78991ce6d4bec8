"""Range retrieval of attribute values (MS-ADTS 3.1.1.3.1.3.3): the rules, as pure functions.

A DC returns at most MaxValRange values of one attribute in a search result (LDAP policy,
MS-ADTS 3.1.1.3.4.6; 1500 by default). An attribute with more values comes back twice: once
with no values under its plain name and once as ``member;range=0-1499`` with the first 1500
(the pair ldap3 and other AD-aware clients look for). A client then asks for the rest with a
range option on the name, ``member;range=1500-*``, and the answer names the values it holds,
``member;range=1500-2999``, with ``*`` as the high bound once the last value is in it.

Asking for values past the end of a linked attribute (forward links such as ``member``, back
links such as ``memberOf``) is ``operationsError`` unless the request carries
LDAP_SERVER_RANGE_RETRIEVAL_NOERR_OID, which makes it an empty answer instead (MS-ADTS
3.1.1.3.4.1.22). Past the end of any other attribute is an empty answer.

What AD does with a malformed range option is not documented: here the attribute is simply not
returned, as for a name the DC does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: MaxValRange of the Default Query Policy (MS-ADTS 3.1.1.3.4.6): AD's default.
MAX_VAL_RANGE = 1500
#: Attributes whose values are links (MS-ADTS 3.1.1.1.6): forward links and their back links.
LINKED_VALUES = frozenset({"member", "memberof", "manager", "directreports"})

_RANGE_OPTION = re.compile(r"range=([0-9]+)-([0-9]+|\*)", re.ASCII | re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ValueRange:
    """A ``range=low-high`` option: zero-based, inclusive; ``high`` None for ``*``."""

    low: int
    high: int | None


class RangePastEnd(Exception):
    """The asked range starts past the last value of a linked attribute (operationsError)."""


def split_description(description: str) -> tuple[str, ValueRange | None] | None:
    """The attribute type and range of a requested attribute description, lower case:
    ``("member", ValueRange(0, None))`` for ``member;range=0-*``, ``("cn", None)`` for ``cn``.

    A description with other options (``userCertificate;binary``) is returned whole, with no
    range, as the DC treated it before; None for a malformed range option (``range=5``,
    ``range=a-b``, a high bound below the low one): the attribute is then not returned.
    """
    lowered = description.lower()
    name, _, options = lowered.partition(";")
    if not options.startswith("range="):
        return lowered, None
    match = _RANGE_OPTION.fullmatch(options)
    if match is None:
        return None
    low = int(match.group(1))
    high = None if match.group(2) == "*" else int(match.group(2))
    if high is not None and high < low:
        return None
    return name, ValueRange(low, high)


def ranged(shown: str, values: list, wanted: ValueRange | None, limit: int, *, linked: bool,
           past_end_ok: bool = False) -> list[tuple[str, list]]:
    """The ``(attribute description, values)`` a search result holds for an attribute spelled
    ``shown`` with ``values`` (at least one), asked for with range ``wanted`` (None: no range
    option), under a MaxValRange of ``limit``.

    Raises :class:`RangePastEnd` for a range past the end of a ``linked`` attribute unless
    ``past_end_ok`` (the request's LDAP_SERVER_RANGE_RETRIEVAL_NOERR_OID).
    """
    count = len(values)
    if wanted is None:
        if count <= limit:
            return [(shown, values)]
        return [(shown, []), (f"{shown};range=0-{limit - 1}", values[:limit])]
    low = wanted.low
    if low >= count:
        if linked and not past_end_ok:
            raise RangePastEnd(f"{shown};range={low}-")
        return [(f"{shown};range={low}-*", [])]
    last = count - 1 if wanted.high is None else min(wanted.high, count - 1)
    last = min(last, low + limit - 1)
    high = "*" if last == count - 1 else str(last)
    return [(f"{shown};range={low}-{high}", values[low:last + 1])]


__all__ = ["LINKED_VALUES", "MAX_VAL_RANGE", "RangePastEnd", "ValueRange", "ranged", "split_description"]
