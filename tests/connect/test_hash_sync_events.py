"""Password hash sync's 656/657 events, made when the Application log is read (a served lab)."""

from __future__ import annotations

import pytest

from fakes.connect import events as ev
from simlab.lab import Lab
from simlab.spec import LabSpec

SPEC = LabSpec.model_validate({"seed": 11, "population": {"users": 600}})
MINIMUM = ev.LATER_MINIMUM


def _build(monkeypatch: pytest.MonkeyPatch, minimum: int) -> Lab:
    monkeypatch.setattr(ev, "LATER_MINIMUM", minimum)
    return Lab(SPEC).start()


def test_an_initial_sync_writes_its_events_for_later_and_they_read_as_written_at_once(monkeypatch) -> None:
    later = _build(monkeypatch, MINIMUM)
    now = _build(monkeypatch, 10**9)
    try:
        log = later.connect.eventlog
        synced = sum(1 for u in later.tenant.users.values() if u.synced)
        assert 2 * synced >= MINIMUM  # so the pairs were written for later
        assert log.in_memory() < synced and now.connect.eventlog.in_memory() > 2 * synced
        assert len(log) == len(now.connect.eventlog)
        records = log.records()
        assert [e.to_dict() for e in records] == [e.to_dict() for e in now.connect.eventlog.records()]
        assert sum(e.event_id == 656 for e in records) == synced == sum(e.event_id == 657 for e in records)
    finally:
        later.close()
        now.close()


@pytest.mark.parametrize("minimum", [0, 10**9])
def test_a_password_that_cannot_be_pushed_stops_the_events_as_one_by_one_would(monkeypatch, minimum) -> None:
    """The pairs of the users before it and its 656, written for later or at once."""
    lab = _build(monkeypatch, minimum)
    try:
        sync = lab.connect.sync
        calls: list[str] = []

        def source(dn: str) -> str | None:
            calls.append(dn)
            if len(calls) == 400:
                raise RuntimeError("the password store is down")
            return None

        sync.password_source = source
        sync.request_full_password_sync()
        mark = lab.connect.eventlog.last_record_id()
        with pytest.raises(RuntimeError, match="password store is down"):
            sync.run("Delta")
        events = lab.connect.eventlog.query(after_record=mark)
        assert [e.event_id for e in events] == [656, 657] * 399 + [656]
        assert [e.data["dn"] for e in events[::2]] == calls
    finally:
        lab.close()
