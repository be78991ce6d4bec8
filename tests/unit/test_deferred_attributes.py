"""fakes.deferred.DeferredAttributes: attributes a loader makes when one is first read."""

from __future__ import annotations

import gc
import threading

import pytest

from fakes import deferred
from fakes.deferred import DeferredAttributes


class Holder(DeferredAttributes):
    def __init__(self) -> None:
        self.users = {"old": 1}
        self.index = {"old": "x"}
        self.other = "kept"


def _counting(values: dict, calls: list[int]):
    def load() -> dict:
        calls.append(1)
        return dict(values)
    return load


def test_the_loader_runs_once_on_the_first_read_of_any_of_its_names():
    holder, calls = Holder(), []
    holder.defer(("users", "index"), _counting({"users": {"a": 1}, "index": {"a": "i"}}, calls))
    assert "users" not in vars(holder) and calls == []
    assert holder.other == "kept" and calls == []  # other attributes do not load it
    assert holder.index == {"a": "i"} and calls == [1]
    assert holder.users == {"a": 1} and calls == [1]
    assert "_deferred" not in vars(holder)  # plain attributes from now on


def test_a_name_assigned_before_its_first_read_keeps_the_assigned_value():
    holder, calls = Holder(), []
    holder.defer(("users", "index"), _counting({"users": {"a": 1}, "index": {"a": "i"}}, calls))
    holder.users = {"new": 2}
    assert holder.index == {"a": "i"} and holder.users == {"new": 2} and calls == [1]


def test_load_deferred_runs_every_pending_loader():
    holder, calls = Holder(), []
    holder.defer(("users",), _counting({"users": {"a": 1}}, calls))
    holder.defer(("index",), _counting({"index": {"b": 2}}, calls))
    holder.load_deferred()
    assert calls == [1, 1] and vars(holder)["users"] == {"a": 1} and vars(holder)["index"] == {"b": 2}
    holder.load_deferred()  # nothing pending: nothing runs
    assert calls == [1, 1]


def test_a_failing_loader_raises_on_every_read_and_keeps_its_names_waiting():
    holder, calls = Holder(), []

    def broken() -> dict:
        calls.append(1)
        raise LookupError("the image's bytes are wrong")

    holder.defer(("users",), broken)
    for _ in range(2):
        with pytest.raises(LookupError, match="bytes are wrong"):
            _ = holder.users
    assert calls == [1, 1] and "users" in vars(holder)["_deferred"]


def test_a_loader_that_makes_other_names_is_refused():
    holder = Holder()
    holder.defer(("users",), lambda: {"index": {}})
    with pytest.raises(RuntimeError, match=r"made \['index'\] for \['users'\]"):
        _ = holder.users


def test_a_missing_attribute_is_still_an_attribute_error():
    holder = Holder()
    with pytest.raises(AttributeError, match="'Holder' object has no attribute 'nope'"):
        _ = holder.nope
    holder.defer(("users",), lambda: {"users": {}})
    with pytest.raises(AttributeError, match="'Holder' object has no attribute 'nope'"):
        _ = holder.nope
    assert getattr(holder, "nope", None) is None and not hasattr(holder, "_deferred_nope")


def test_threads_reading_at_once_run_the_loader_once_and_see_the_same_value():
    holder, calls = Holder(), []
    started = threading.Barrier(8)

    def load() -> dict:
        calls.append(1)
        return {"users": {"a": object()}}

    holder.defer(("users",), load)
    seen: list[object] = []

    def read() -> None:
        started.wait()
        seen.append(holder.users["a"])

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and len(seen) == 8 and len({id(x) for x in seen}) == 1


def test_a_load_pauses_the_collector_and_freezes_what_it_made_when_asked(monkeypatch: pytest.MonkeyPatch):
    seen: list[bool] = []

    def load() -> dict:
        seen.append(gc.isenabled())
        return {"users": {i: [i] for i in range(1000)}}

    for freeze in (False, True):
        monkeypatch.setattr(deferred, "freeze_after_load", freeze)
        holder, before = Holder(), gc.get_freeze_count()
        holder.defer(("users",), load)
        try:
            assert len(holder.users) == 1000 and gc.isenabled()
            assert (gc.get_freeze_count() > before + 1000) is freeze
        finally:
            gc.unfreeze()  # (this test process goes on: give the objects back to the collector)
    assert seen == [False, False]  # the collector waited during both loads
