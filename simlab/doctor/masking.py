"""Which pairs of catalogue faults doctor cannot tell apart, and in which order to apply pairs.

Doctor reads configuration, not symptoms, so a fault that makes SSPR fail earlier (no
licence, writeback off) hides nothing from it. A pair is *masked* only when the second
fault overwrites or subsumes the evidence of the first, so that no admin reading the
same surfaces could name both:

* ``same ACE``: the two faults edit the same root ACE (``missing-reset`` removes what
  ``reset-wrong-scope`` wrongly scoped; likewise for Unexpire Password).
* ``same DACL``: ``protected-user`` and ``inheritance-disabled`` on the same user both end
  as a protected DACL on that user (SDProp's AdminSDHolder copy); on the user's OU they
  are told apart.
* ``same attribute``: the connector's pwdLastSet is rewritten by both
  ``connector-password-changed`` and ``connector-password-expired``.
* ``offboarding``: running the Connect wizard without writeback (``writeback-off-connect``,
  ``admin-lacks-role``, ``cloud-sync-writeback-without-agent``) also switches the portal's
  writeback toggle off and greys it out, so ``writeback-off-portal`` leaves no trace, and
  the three Connect-side faults subsume each other where one is contained in the other.
* ``same user``: ``user-not-synced`` creates its user in the first department OU, where
  ``user-outside-ou-filter`` also puts its user by default; the filter explains why the new
  user is missing from the tenant.
* ``throttled``: with ``graph-throttled`` every Graph and portal request answers 429, so
  faults only visible in the tenant cannot be read (doctor reports the throttling and lists
  the tenant checks as skipped).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simlab.faults import FAULTS

#: Faults that change what the portal or the Connect service accept; apply them after the others
#: (with them in force the portal refuses the other faults' changes, faithfully).
APPLY_LAST = ("connect-service-stopped", "no-licence", "graph-throttled")
#: The portal only accepts cloud sync writeback while Connect's writeback is still onboarded.
APPLY_FIRST = ("cloud-sync-writeback-without-agent",)

TENANT_ONLY = frozenset(
    {
        "no-licence",
        "writeback-off-portal",
        "unlock-off",
        "cloud-sync-writeback-without-agent",
        "cloud-only-user",
        "user-not-synced",
    }
)
OFFBOARDING = frozenset({"writeback-off-connect", "admin-lacks-role", "cloud-sync-writeback-without-agent"})
#: Faults whose configuration includes another's: when the evidence that tells them apart is
#: unreadable (a throttled tenant), doctor can only name the included one.
INCLUDES: dict[str, frozenset[str]] = {
    "admin-lacks-role": frozenset({"writeback-off-connect"}),
    "cloud-sync-writeback-without-agent": frozenset({"writeback-off-connect"}),
}
_PAIRS: dict[frozenset[str], str] = {
    frozenset({"missing-reset", "reset-wrong-scope"}): "same ACE",
    frozenset({"missing-unexpire", "unexpire-wrong-scope"}): "same ACE",
    frozenset({"connector-password-changed", "connector-password-expired"}): "same attribute",
    frozenset({"writeback-off-connect", "admin-lacks-role"}): "offboarding",
    frozenset({"writeback-off-connect", "cloud-sync-writeback-without-agent"}): "offboarding",
    frozenset({"user-outside-ou-filter", "user-not-synced"}): "same user",
}


def apply_order(name: str) -> tuple[int, int]:
    """Sort key: the order in which to apply a set of faults to one lab."""
    rank = -1 if name in APPLY_FIRST else (APPLY_LAST.index(name) + 1 if name in APPLY_LAST else 0)
    return rank, list(FAULTS).index(name)


def _params(name: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    return {**FAULTS[name].params, **(params or {})}


def masked(
    a: str, b: str, params_a: Mapping[str, Any] | None = None, params_b: Mapping[str, Any] | None = None
) -> str | None:
    """Why doctor cannot name both ``a`` and ``b`` (see the module docstring), or None."""
    pair = frozenset({a, b})
    if pair in _PAIRS:
        return _PAIRS[pair]
    if "graph-throttled" in pair and pair & TENANT_ONLY:
        return "throttled"
    if "writeback-off-portal" in pair and pair & OFFBOARDING:
        return "offboarding"
    if pair == {"protected-user", "inheritance-disabled"}:
        pa, pb = _params(a, params_a), _params(b, params_b)
        inh = pa if a == "inheritance-disabled" else pb
        prot = pb if a == "inheritance-disabled" else pa
        if inh.get("target") == "user" and inh.get("user") == prot.get("user"):
            return "same DACL"
    return None
