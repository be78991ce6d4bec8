"""The Connect event catalogue: IDs, sources, levels, templates, queries and exports."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.clock import SimClock
from fakes.connect import events as ev
from fakes.deferred import LaterError
from fakes.eventlog import EventLog, to_jsonl, to_xml


def test_catalogue_holds_every_facts_id_with_its_source() -> None:
    prs = {
        31001,
        31002,
        31003,
        31004,
        31005,
        31006,
        31007,
        31008,
        31009,
        31010,
        31011,
        31012,
        31013,
        31014,
        31015,
        31016,
        31017,
        31018,
        31019,
        31034,
        31044,
        32000,
        32001,
        32002,
        32003,
        32004,
        32005,
        32007,
        32008,
        32009,
        32010,
        32011,
        32013,
        32014,
        32015,
        *range(33001, 33010),
    }
    for event_id in prs:
        assert ev.definition(event_id).source == "PasswordResetService"
    assert ev.definition(6329).source == "ADSync"
    assert ev.definition(33003).name == "ADMutliMatchError"  # verbatim misspelling
    assert ev.definition(31016).name == "WriteBackServiceStopped"


def test_unknown_id_is_refused() -> None:
    with pytest.raises(KeyError):
        ev.definition(31042)  # not in FACTS' troubleshooting list


def test_verbatim_texts_survive_rendering(clock) -> None:
    log = EventLog(clock, "AADCONNECT01")
    e = ev.write_event(log, 32009, details="x")
    assert e.message.startswith("Error getting auth token.")
    e = ev.write_event(log, 6329, text=ev.ADSYNC_POLICY_RESTRICTION)
    assert '0x80230619: "A restriction prevents the password from being changed' in e.message
    assert e.level == "Error" and e.log == "Application" and e.computer == "AADCONNECT01"


def test_missing_placeholder_is_an_error(clock) -> None:
    log = EventLog(clock, "AADCONNECT01")
    with pytest.raises(KeyError):
        ev.write_event(log, 31001, tracking_id="t")
    assert len(log) == 0


def test_events_command_data_filters_and_exports(clock) -> None:
    log = EventLog(clock, "AADCONNECT01")
    ev.write_event(log, 31015, details="a")
    clock.advance(minutes=5)
    cut = clock.now()
    ev.write_event(log, 31016, details="b")
    ev.write_event(log, 6329, text="t")
    rows = ev.events_command_data(log, since=cut)
    assert [r["event_id"] for r in rows] == [31016, 6329]
    assert rows[0]["name"] == "WriteBackServiceStopped"
    assert [r["event_id"] for r in ev.events_command_data(log, source="ADSync")] == [6329]
    assert [r["event_id"] for r in ev.events_command_data(log, event_ids=[31015])] == [31015]
    lines = to_jsonl(log.query(log="Application")).splitlines()
    assert json.loads(lines[1])["event_id"] == 31016
    assert json.loads(lines[1])["time"] == (cut).isoformat()
    xml = to_xml(log.query())
    assert "<Provider Name='PasswordResetService'/><EventID>31016</EventID><Level>3</Level>" in xml
    assert clock.now() - cut == timedelta(0)


def test_compact_events_read_exactly_like_rendered_ones(clock) -> None:
    """656/657 keep a template and their values; message, data and every export match an
    event written with the message rendered up front."""
    class Kind:  # format() and str() differ: rendered at once, not lazily
        def __str__(self) -> str:
            return "Kind.FULL"

        def __format__(self, spec: str) -> str:
            return "2"

    lazy, eager = EventLog(clock, "CONNECT01"), EventLog(clock, "CONNECT01")
    writes = [(656, {"anchor": "AAEC{x}", "dn": "CN=Ann {0},OU=Staff,DC=corp,DC=local",
                     "change_date": "2026-12-06T11:00:00+00:00"}),
              (657, {"anchor": "AAEC{x}", "dn": "CN=Ann {0},OU=Staff,DC=corp,DC=local", "result": Kind()})]
    for event_id, fields in writes:
        got = ev.write_event(lazy, event_id, **fields)
        d = ev.definition(event_id)
        eager.write(ev.APPLICATION, d.source, event_id, d.level, d.template.format(**fields),
                    {k: str(v) for k, v in fields.items()})
        assert got.message == d.template.format(**fields)
    assert [e.templated for e in lazy.records()] == [True, False]
    assert "Result : 2" in lazy.records()[1].message and lazy.records()[1].data["result"] == "Kind.FULL"
    assert [e.to_dict() for e in lazy.records()] == [e.to_dict() for e in eager.records()]
    assert to_jsonl(lazy.records()) == to_jsonl(eager.records())
    assert to_xml(lazy.records()) == to_xml(eager.records())
    assert ev.events_command_data(lazy) == ev.events_command_data(eager)


_FIELDS = st.fixed_dictionaries({"anchor": st.text(max_size=12), "dn": st.text(max_size=30)})


@given(items=st.lists(st.tuples(st.sampled_from([656, 657]), _FIELDS, st.text(max_size=25)), max_size=30),
       before=st.integers(0, 3))
@settings(max_examples=50, deadline=None)
def test_write_events_writes_what_write_event_writes(items: list, before: int) -> None:
    """The batch path (password hash sync's 656/657) gives the same records, ids and messages."""
    logs = []
    for batch in (False, True):
        log = EventLog(SimClock(), "CONNECT01")
        for _ in range(before):  # record ids continue after what the log already holds
            ev.write_event(log, 6329, text="x")
        rows = [(eid, {**f, "change_date" if eid == 656 else "result": extra}) for eid, f, extra in items]
        if batch:
            assert ev.write_events(log, rows) == len(rows)
        else:
            for eid, fields in rows:
                ev.write_event(log, eid, **fields)
        logs.append(log.records())
    one, bulk = logs
    assert bulk == one
    assert [e.message for e in bulk] == [e.message for e in one]


def test_write_events_keeps_the_events_before_a_bad_one(clock) -> None:
    log = EventLog(clock, "CONNECT01")
    rows = [(656, {"anchor": "a", "dn": "d", "change_date": "0"}), (657, {"anchor": "a", "dn": "d"})]
    with pytest.raises(KeyError, match=r"event 657 needs \['result'\]"):
        ev.write_events(log, rows)
    assert [e.event_id for e in log.records()] == [656]
    with pytest.raises(TypeError, match="string field values"):
        ev.write_events(log, [(657, {"anchor": "a", "dn": "d", "result": 1})])
    assert len(log) == 1


@given(items=st.lists(st.tuples(st.sampled_from([656, 657]), _FIELDS, st.text(max_size=25)), max_size=30),
       before=st.integers(0, 3), after=st.integers(0, 3), pending=st.booleans())
@settings(max_examples=50, deadline=None)
def test_events_written_for_later_are_the_events_written_at_once(items: list, before: int, after: int,
                                                                 pending: bool) -> None:
    """write_events_later makes, on the next read, the records write_events writes: same ids,
    instant and messages, after what the log held (also records still waiting, like an image's)
    and before what is written next."""
    saved = EventLog(SimClock(), "CONNECT01")
    for _ in range(2):
        ev.write_event(saved, 6329, text="saved")
    logs = []
    for later in (False, True):
        clock = SimClock()
        log = EventLog(clock, "CONNECT01")
        if pending:  # a loaded image's records, still undecoded
            log.replace_records_later(2, saved.records)
        for _ in range(before):
            ev.write_event(log, 6329, text="x")
        rows = [(eid, {**f, "change_date" if eid == 656 else "result": extra}) for eid, f, extra in items]
        if later:
            shapes = {(eid, tuple(fields)) for eid, fields in rows}
            ev.write_events_later(log, shapes, len(rows), lambda rows=rows: iter(rows), minimum=0)
            assert len(log) == (2 if pending else 0) + before + len(rows)
        else:
            ev.write_events(log, rows)
        clock.advance(minutes=5)
        for _ in range(after):  # record ids go on after the records still to be made
            ev.write_event(log, 6329, text="y")
        logs.append(log.records())
    now, made_later = logs
    assert made_later == now
    assert [e.message for e in made_later] == [e.message for e in now]
    assert [e.record_id for e in made_later] == list(range(1, len(now) + 1))


def test_events_for_later_are_checked_now_and_made_on_the_next_read(clock) -> None:
    log = EventLog(clock, "CONNECT01")
    with pytest.raises(KeyError, match=r"event 657 needs \['result'\]"):
        ev.write_events_later(log, [(657, ("anchor", "dn"))], 1, lambda: [], minimum=0)
    made: list[int] = []

    def items():
        made.append(1)
        return [(656, {"anchor": "a", "dn": "d", "change_date": "0"})] * 3

    ev.write_events_later(log, [(656, ("anchor", "dn", "change_date"))], 3, items, minimum=0)
    assert made == [] and len(log) == 3 and log.in_memory() == 0
    assert [e.record_id for e in log.records()] == [1, 2, 3] and made == [1]
    assert log.in_memory() == 3


def test_events_for_later_that_break_their_promise_fail_on_read_and_stay_waiting(clock) -> None:
    log = EventLog(clock, "CONNECT01")
    shape = [(656, ("anchor", "dn", "change_date"))]
    row = (656, {"anchor": "a", "dn": "d", "change_date": "0"})
    ev.write_events_later(log, shape, 2, lambda: [row], minimum=0)  # promises 2, makes 1
    with pytest.raises(LaterError, match="2 records were written for later, 1 were made"):
        log.records()
    with pytest.raises(LaterError):  # still waiting: the same answer, nothing half-made
        log.records()
    other = EventLog(clock, "CONNECT01")
    wrong = (657, {"anchor": "a", "dn": "d", "result": "x"})
    ev.write_events_later(other, shape, 1, lambda: [wrong], minimum=0)
    with pytest.raises(LaterError, match=r"event 657 with fields .* was not declared for later"):
        other.records()


def test_many_writes_for_later_without_a_read_make_every_record(clock) -> None:
    """Each write for later is one loader in a flat list: a long-running lab whose log is never
    read does not nest them (no recursion limit), and few events are written at once."""
    log = EventLog(clock, "CONNECT01")
    shape = [(656, ("anchor", "dn", "change_date"))]
    for i in range(3000):
        ev.write_event(log, 6329, text="x")
        row = (656, {"anchor": str(i), "dn": "d", "change_date": "0"})
        ev.write_events_later(log, shape, 1, lambda row=row: [row], minimum=0)
    records = log.records()
    assert len(records) == 6000 and [r.record_id for r in records] == list(range(1, 6001))
    assert [r.data["anchor"] for r in records[1::2]] == [str(i) for i in range(3000)]
    few = EventLog(clock, "CONNECT01")
    ev.write_events_later(few, shape, 1, lambda: [(656, {"anchor": "a", "dn": "d", "change_date": "0"})])
    assert few.in_memory() == 1  # under LATER_MINIMUM: written now
