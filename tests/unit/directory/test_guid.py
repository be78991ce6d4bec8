"""random_uuid4 makes the same UUID objects as ``UUID(int=..., version=4)``."""

from __future__ import annotations

import pickle
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from fakes.ad.guid import random_uuid4


@given(st.integers(0, 2**128 - 1))
def test_random_uuid4_is_the_constructors_uuid(bits: int) -> None:
    made, expected = random_uuid4(bits), UUID(int=bits, version=4)
    assert made == expected and hash(made) == hash(expected)
    assert (made.int, made.is_safe, made.version, made.variant) == (
        expected.int, expected.is_safe, expected.version, expected.variant)
    assert str(made) == str(expected) and made.bytes_le == expected.bytes_le
    assert pickle.loads(pickle.dumps(made)) == expected
