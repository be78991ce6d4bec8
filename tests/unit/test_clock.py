from datetime import UTC, datetime, timedelta

import pytest

from fakes.clock import (
    SimClock,
    from_filetime,
    interval_to_timedelta,
    timedelta_to_interval,
    to_filetime,
    to_generalized_time,
)


def test_filetime_round_trip_and_known_value():
    # 2000-01-01T00:00:00Z is a well-known FILETIME.
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    assert to_filetime(moment) == 125911584000000000
    assert from_filetime(to_filetime(moment)) == moment


def test_policy_intervals_are_negative_100ns_counts():
    assert timedelta_to_interval(timedelta(days=1)) == -864000000000
    assert interval_to_timedelta(-18000000000) == timedelta(minutes=30)


def test_generalized_time():
    assert to_generalized_time(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)) == "20260105090000.0Z"


def test_advance_fires_timers_in_order_at_their_due_time(clock: SimClock):
    seen = []
    start = clock.now()
    clock.schedule(timedelta(minutes=60), lambda: seen.append(("sdprop", clock.now() - start)), every=3600,
                   name="sdprop")
    clock.schedule(timedelta(minutes=30), lambda: seen.append(("sync", clock.now() - start)), every=1800,
                   name="sync")
    fired = clock.advance(hours=2)
    # Ties fire in the order the timers were (re)armed: SDProp was armed first.
    assert fired == ["sync", "sdprop", "sync", "sync", "sdprop", "sync"]
    assert [name for name, _ in seen] == fired
    assert all(delta <= timedelta(hours=2) for _, delta in seen)
    assert clock.now() - start == timedelta(hours=2)


def test_cancel_and_one_shot(clock: SimClock):
    calls = []
    handle = clock.schedule(10, lambda: calls.append("a"), name="a")
    clock.schedule(20, lambda: calls.append("b"), name="b")
    handle.cancel()
    clock.advance(seconds=30)
    clock.advance(seconds=30)
    assert calls == ["b"]


def test_time_never_goes_back(clock: SimClock):
    with pytest.raises(ValueError):
        clock.advance(seconds=-1)
    with pytest.raises(ValueError):
        SimClock(datetime(2026, 1, 1))
