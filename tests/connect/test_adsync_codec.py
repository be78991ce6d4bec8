"""AdSyncConfig's wire-level ACEs equal the SDDL of FACTS 5.4 (checked with the DC's own SD codec)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fakes.ad.security.descriptor import Ace, SecurityDescriptor
from fakes.ad.security.sddl import format_ace
from fakes.ad.sid import sid_to_bytes
from fakes.connect.adsyncconfig import (
    SE_DACL_PROTECTED,
    _insert_explicit,
    build_dacl_sd,
    parse_dacl,
    writeback_aces,
)

SID = "S-1-5-21-1004336348-1177238915-682003330-1105"


def test_writeback_aces_are_the_dsacls_grant() -> None:
    aces = [format_ace(Ace.from_bytes(a)[0]) for a in writeback_aces(sid_to_bytes(SID))]
    assert aces == [
        f"(OA;CIIO;CR;00299570-246d-11d0-a768-00aa006e0529;bf967aba-0de6-11d0-a285-00aa003049e2;{SID})",
        f"(OA;CIIO;WP;28630ebf-41d5-11d1-a9c1-0000f80367c1;bf967aba-0de6-11d0-a285-00aa003049e2;{SID})",
        f"(OA;CIIO;WP;bf967a0a-0de6-11d0-a285-00aa003049e2;bf967aba-0de6-11d0-a285-00aa003049e2;{SID})",
    ]


def test_leaf_object_grant_has_no_class_and_applies_here_and_below() -> None:
    aces = [format_ace(Ace.from_bytes(a)[0]) for a in writeback_aces(sid_to_bytes(SID), leaf=True)]
    assert aces[0] == f"(OA;CI;CR;00299570-246d-11d0-a768-00aa006e0529;;{SID})"


def test_dacl_round_trip_through_the_dc_codec() -> None:
    sd = SecurityDescriptor.from_sddl(
        "O:DAG:DAD:PAI(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(OA;CIIOID;CR;00299570-246d-11d0-a768-00aa006e0529;"
        f"bf967aba-0de6-11d0-a285-00aa003049e2;{SID})",
        domain_sid="S-1-5-21-1004336348-1177238915-682003330",
    )
    control, aces = parse_dacl(sd.to_bytes())
    assert control & SE_DACL_PROTECTED
    merged, added = _insert_explicit(aces, writeback_aces(sid_to_bytes(SID)))
    assert added == 3
    rebuilt = SecurityDescriptor.from_bytes(build_dacl_sd(control, merged))
    texts = [format_ace(a) for a in rebuilt.dacl.aces]
    # new explicit ACEs go before the inherited one
    assert texts[-1].startswith("(OA;CIIOID;CR;")
    assert rebuilt.control & SE_DACL_PROTECTED
    again, added_again = _insert_explicit(merged, writeback_aces(sid_to_bytes(SID)))
    assert added_again == 0 and again == merged


@given(st.lists(st.integers(1, 2**31), min_size=1, max_size=5))
def test_build_then_parse_keeps_aces(rids) -> None:
    aces = [a for rid in rids for a in writeback_aces(sid_to_bytes(f"S-1-5-21-1-2-3-{rid}"))]
    control, parsed = parse_dacl(build_dacl_sd(0, aces))
    assert parsed == aces and not control & SE_DACL_PROTECTED
