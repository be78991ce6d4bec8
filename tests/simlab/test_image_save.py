"""Saving a lab image: the encoder's shortcuts keep every value's type, and the GC is left as found.

simlab/image_codec.py stores a table column of few distinct values as those values plus indexes,
keyed by value alone when the column holds one type (the usual case, at C speed) and by type and
value otherwise (1 == True == 1.0, and one instant in two time zones compares equal).
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.graph.model import RoleAssignment
from simlab.image import load_image, save_image
from simlab.image_codec import Table, _column, decode, encode
from simlab.lab import Lab
from simlab.spec import LabSpec

MIXED = [0, 1, True, False, 1.0, 0.0, "1", b"1", None]
WHEN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@settings(max_examples=80, deadline=None)
@given(values=st.lists(st.sampled_from(MIXED), min_size=1, max_size=80), lazy=st.booleans())
def test_a_column_of_repeated_mixed_values_comes_back_with_each_type(values, lazy):
    rows = [RoleAssignment(f"id{i}", v, "r") for i, v in enumerate(values)]  # type: ignore[arg-type]
    back = decode(encode(Table(rows, lazy=lazy)))
    got = [r.principal_id for r in back]
    assert got == values and [type(v) for v in got] == [type(v) for v in values]


@pytest.mark.parametrize(("values", "distinct"), [
    ([1, 2] * 8, [1, 2]),                       # one type: the values are the keys
    (["a", "b", "a", "a"] * 4, ["a", "b"]),
    ([1, True, 1.0, 1] * 4, [1, True, 1.0]),    # equal values of three types stay three
    ([WHEN, None, WHEN, None] * 4, [WHEN, None]),  # datetimes of one zone: the values are the keys
    ([WHEN, WHEN.astimezone(timezone(timedelta(hours=1)))] * 8,  # one instant, two zones: two values
     [WHEN, WHEN.astimezone(timezone(timedelta(hours=1)))]),
])
def test_a_column_of_few_distinct_values_is_stored_as_them_plus_indexes(values, distinct):
    kind, stored, indexes = _column(values)
    assert kind == 1 and stored == distinct and [type(v) for v in stored] == [type(v) for v in distinct]
    assert [getattr(v, "tzinfo", None) for v in stored] == [getattr(v, "tzinfo", None) for v in distinct]
    assert [stored[i] for i in indexes] == values


def test_a_column_of_distinct_values_is_stored_plain():
    assert _column(list(range(10))) == [0, list(range(10))]
    assert _column([{"a": 1}] * 8) == [0, [{"a": 1}] * 8]  # unhashable: plain


@pytest.mark.parametrize("enabled", [True, False])
def test_saving_leaves_the_cyclic_gc_as_it_found_it(tmp_path: Path, enabled: bool):
    with Lab(LabSpec.model_validate({"seed": 3, "population": {"users": 20}})) as lab:
        was = gc.isenabled()
        (gc.enable if enabled else gc.disable)()
        try:
            path = save_image(lab, tmp_path / "x.simlab-image", "key")
            assert gc.isenabled() is enabled
        finally:
            (gc.enable if was else gc.disable)()
        assert load_image(path, "key")["entries"].by_guid.keys() == lab.dc.directory._by_guid.keys()
