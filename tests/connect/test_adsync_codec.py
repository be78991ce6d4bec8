"""AdSyncConfig's ACEs equal the SDDL of FACTS 5.4, and merging them into a DACL behaves like dsacls."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fakes.ad.security.constants import SE_DACL_PROTECTED
from fakes.ad.security.descriptor import SecurityDescriptor
from fakes.ad.security.sddl import format_ace
from fakes.connect.adsyncconfig import _with_explicit, writeback_aces

SID = "S-1-5-21-1004336348-1177238915-682003330-1105"
DOMAIN = "S-1-5-21-1004336348-1177238915-682003330"


def test_writeback_aces_are_the_dsacls_grant() -> None:
    assert [format_ace(a) for a in writeback_aces(SID)] == [
        f"(OA;CIIO;CR;00299570-246d-11d0-a768-00aa006e0529;bf967aba-0de6-11d0-a285-00aa003049e2;{SID})",
        f"(OA;CIIO;WP;28630ebf-41d5-11d1-a9c1-0000f80367c1;bf967aba-0de6-11d0-a285-00aa003049e2;{SID})",
        f"(OA;CIIO;WP;bf967a0a-0de6-11d0-a285-00aa003049e2;bf967aba-0de6-11d0-a285-00aa003049e2;{SID})",
    ]


def test_leaf_object_grant_has_no_class_and_applies_here_and_below() -> None:
    assert (
        format_ace(writeback_aces(SID, leaf=True)[0])
        == f"(OA;CI;CR;00299570-246d-11d0-a768-00aa006e0529;;{SID})"
    )


def test_merge_keeps_protection_drops_inherited_and_is_idempotent() -> None:
    sd = SecurityDescriptor.from_sddl(
        "O:DAG:DAD:PAI(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(OA;CIIOID;CR;00299570-246d-11d0-a768-00aa006e0529;"
        f"bf967aba-0de6-11d0-a285-00aa003049e2;{SID})",
        domain_sid=DOMAIN,
    )
    merged, added = _with_explicit(sd, writeback_aces(SID))
    assert added == 3
    rebuilt = SecurityDescriptor.from_bytes(merged.to_bytes())
    # Only explicit ACEs travel: the DC recomputes the inherited ones.
    assert not any(a.inherited for a in rebuilt.dacl.aces) and len(rebuilt.dacl.aces) == 4
    assert rebuilt.control & SE_DACL_PROTECTED
    again, added_again = _with_explicit(rebuilt, writeback_aces(SID))
    assert added_again == 0 and again.dacl.aces == rebuilt.dacl.aces


@given(st.lists(st.integers(1, 2**31), min_size=1, max_size=5))
def test_merging_grants_for_several_accounts_keeps_every_ace(rids) -> None:
    empty = SecurityDescriptor(owner=None, group=None, dacl=None)
    sd, total = empty, 0
    for rid in rids:
        sd, added = _with_explicit(sd, writeback_aces(f"S-1-5-21-1-2-3-{rid}"))
        total += added
    assert total == 3 * len(set(rids))
    assert SecurityDescriptor.from_bytes(sd.to_bytes()).dacl.aces == sd.dacl.aces
    assert not sd.control & SE_DACL_PROTECTED
