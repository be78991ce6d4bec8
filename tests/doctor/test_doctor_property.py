"""Doctor names exactly the faults applied: every single fault, random singles and pairs, a healthy lab.

Labs are small (10 seeded users); each example builds a fresh one (~0.3-0.7 s). Faults are
applied one simulated minute apart, as an admin would make them, in the order of
:func:`simlab.doctor.masking.apply_order`. Per-user faults are diagnosed with ``user=`` their
user parameter (one diagnosis per distinct user, findings united); pairs that
:func:`~simlab.doctor.masking.masked` documents as indistinguishable are checked separately
with the weaker property "some of the pair, nothing else".
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simlab.doctor import diagnose
from simlab.doctor.masking import INCLUDES, apply_order, masked
from simlab.faults import FAULTS, apply_fault
from simlab.lab import Lab
from simlab.spec import LabSpec

Item = tuple[str, dict[str, Any]]

#: Parameter variants worth exploring (other faults keep their catalogue defaults).
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "inheritance-disabled": [{"target": "user"}, {"target": "ou"}],
    "explicit-deny": [{"target": "ou"}, {"target": "user"}],
    "reset-wrong-scope": [{"applies_to": "this-object-only"}, {"applies_to": "descendant-computer"}],
    "protected-user": [{"group": "Domain Admins"}, {"group": "Account Operators"}],
}
ITEMS: list[Item] = [(n, p) for n in FAULTS for p in VARIANTS.get(n, [{}])]
PAIRS = [(a, b) for a, b in itertools.combinations(ITEMS, 2) if a[0] != b[0]]
CLEAR = [p for p in PAIRS if not masked(p[0][0], p[1][0], p[0][1], p[1][1])]
MASKED = [p for p in PAIRS if masked(p[0][0], p[1][0], p[0][1], p[1][1])]
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _diagnosed_ids(faults: list[Item]) -> set[str]:
    lab = Lab(LabSpec(population={"users": 10})).start()
    try:
        users: set[str] = set()
        for name, params in sorted(faults, key=lambda item: apply_order(item[0])):
            lab.advance(minutes=1)
            fault = apply_fault(lab, name, **params)
            if fault.per_user:
                users.add({**fault.params, **params}["user"])
        ids: set[str] = set()
        for user in sorted(users) or [None]:
            ids |= diagnose(lab, user=user).ids
        return ids
    finally:
        lab.close()


def test_healthy_lab_has_no_findings():
    lab = Lab(LabSpec(population={"users": 10})).start()
    try:
        for user in (None, "alice", "bob"):
            report = diagnose(lab, user=user)
            assert report.findings == (), report.to_text()
            assert all(c.status == "ok" for c in report.checks), report.to_text()
    finally:
        lab.close()


@pytest.mark.parametrize("name", list(FAULTS))
def test_every_catalogue_fault_alone_is_named_exactly(name):
    assert _diagnosed_ids([(name, {})]) == {name}


def test_masking_rules_are_few_and_symmetric():
    assert len(MASKED) < len(PAIRS) // 10
    for (a, pa), (b, pb) in PAIRS:
        assert masked(a, b, pa, pb) == masked(b, a, pb, pa)


@PROPERTY
@given(faults=st.one_of(st.sampled_from(ITEMS).map(lambda item: [item]),
                        st.sampled_from(CLEAR).map(list)))
def test_random_faults_and_pairs_are_named_exactly(faults):
    assert _diagnosed_ids(faults) == {name for name, _ in faults}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=st.sampled_from(MASKED))
def test_masked_pairs_still_raise_no_false_alarm(pair):
    ids = _diagnosed_ids(list(pair))
    names = {pair[0][0], pair[1][0]}
    allowed = names.union(*(INCLUDES.get(n, frozenset()) for n in names))
    assert ids and ids <= allowed
