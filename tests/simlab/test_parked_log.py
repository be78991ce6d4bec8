"""A parked event log (simlab/parked_log.py) reads back exactly and keeps counting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.clock import SimClock
from fakes.connect import events as ev
from fakes.eventlog import EventLog
from simlab import parked_log
from simlab.image_codec import packer


def _log(n: int) -> tuple[SimClock, EventLog]:
    clock = SimClock()
    log = EventLog(clock, "CONNECT01")
    for i in range(n):
        ev.write_event(log, 656, anchor=f"anchor{i}", dn=f"CN=U{i},DC=contoso,DC=com", change_date="0")
        ev.write_event(log, 657, anchor=f"anchor{i}", dn=f"CN=U{i},DC=contoso,DC=com", result="Success")
        clock.advance(1)
    log.write("Application", "simlab", 1, "Information", "a plain message", {"k": "v"})
    return clock, log


def test_parked_log_reads_back_every_record_exactly() -> None:
    _, log = _log(50)
    before = log.records()
    kept = parked_log.park(log, minimum=1)
    assert kept > 0
    assert len(log) == len(before) == 101
    assert log.last_record_id() == 101
    after = log.records()
    assert after == before
    assert [e.message for e in after] == [e.message for e in before]
    wanted = [e.to_dict() for e in before if e.event_id == 657]
    assert [e.to_dict() for e in log.query(event_ids=[657])] == wanted


def test_a_write_after_parking_continues_the_record_ids() -> None:
    _, log = _log(5)
    parked_log.park(log, minimum=1)
    event = log.write("Application", "simlab", 2, "Warning", "after parking")
    assert event.record_id == 12
    assert [e.record_id for e in log.records()] == list(range(1, 13))


def test_a_log_below_the_minimum_is_not_parked() -> None:
    _, log = _log(5)
    assert parked_log.park(log, minimum=100) == 0
    assert parked_log.park(EventLog(SimClock(), "X"), minimum=0) == 0
    assert len(log) == 11


def test_an_image_log_is_kept_compressed_and_decodes_to_its_records() -> None:
    _, log = _log(20)
    records = log.records()
    # How a lab image holds the Application log (image._for_later) and decodes it on first read.
    blob = parked_log.compress(packer().pack(records))
    assert parked_log.unpack_events(blob) == records
    assert parked_log.unpack_events(parked_log.pack_events(records)) == records


def test_decoded_values_are_the_strings_the_lab_already_holds() -> None:
    _, log = _log(3)
    held = ["".join(("anchor", str(i))) for i in range(3)]  # equal to the events' anchors, other objects
    parked_log.park(log, minimum=1, shared=lambda: held)
    anchors = [e.data["anchor"] for e in log.query(event_ids=[656])]
    assert anchors == held
    assert all(a is h for a, h in zip(anchors, held, strict=True))


def _write(log: EventLog, values: dict) -> None:
    log.write("Application", "simlab", 3, "Information", "m", values)


_ODD = st.one_of(st.integers(-(2**63), 2**63 - 1), st.none(), st.booleans())  # msgpack-sized values


@given(st.lists(st.one_of(
    st.dictionaries(st.sampled_from(["anchor", "dn", "x"]), st.text(max_size=8), max_size=3),
    st.dictionaries(st.just("n"), _ODD, min_size=1),
), max_size=40), st.lists(st.integers(min_value=-720, max_value=720), min_size=1, max_size=3))
@settings(max_examples=60, deadline=None)
def test_any_parked_log_reads_back_exactly(datas: list[dict], offsets: list[int]) -> None:
    """Whatever a log holds (odd values, equal times in other zones), parking keeps it exactly."""
    clock = SimClock()
    log = EventLog(clock, "CONNECT01")
    for i, data in enumerate(datas):
        zone = timezone(timedelta(minutes=offsets[i % len(offsets)]))
        log._clock = _Fixed(clock.now().astimezone(zone))  # same instant, another zone
        _write(log, data)
    before = log.records()
    parked_log.park(log, minimum=1)
    after = log.records()
    assert after == before
    assert [(e.time.tzinfo, type(e.values)) for e in after] == \
        [(e.time.tzinfo, type(e.values)) for e in before]


class _Fixed:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


def test_a_log_the_fast_form_cannot_hold_is_parked_in_the_image_form() -> None:
    clock = SimClock()
    log = EventLog(clock, "CONNECT01")
    for i in range(300):  # 300 distinct times: more than a one-byte index
        log.write("Application", "simlab", 1 if i % 2 else True, "Information", "m", {"k": str(i)})
        clock.advance(1)
    before = log.records()
    parked_log.park(log, minimum=1)
    assert log.in_memory() == 0 and len(log) == 300  # parked, not decoded yet
    after = log.records()
    assert after == before
    assert [type(e.event_id) for e in after] == [type(e.event_id) for e in before]
