"""Property: for any spec, a lab loaded from its image behaves like a freshly built one."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, reject, settings

from simlab.image import capture
from simlab.image_codec import encode
from simlab.lab import Lab, LabError
from simlab.spec import LabSpec
from simlab.strategies import lab_specs


def _scenario(lab: Lab) -> list[object]:
    """A short scenario touching AD, the tenant, Connect and the clock."""
    def attempt(step: Callable[[], object]) -> object:
        # A fault may make a step fail (a password policy that refuses the new user's password, a
        # delta sync under a connector fault): it must fail the same way in both labs.
        try:
            return step()
        except Exception as exc:
            return repr(exc)

    out: list[object] = [attempt(lambda: lab.sspr_reset("alice", "Prop-Reset-Passw0rd!1"))]
    out.append(attempt(lambda: lab.bind("alice", "Prop-Reset-Passw0rd!1")))
    out.append(attempt(lambda: lab.create_user("zoe", display_name="Zoe Zeta").dn))
    out.append(attempt(lambda: lab.advance(minutes=45)))  # a delta sync and a GPO refresh fall due
    out.append(sorted((u.user_principal_name, u.account_enabled) for u in lab.tenant.users.values()))
    out.append([(e.record_id, e.event_id) for e in lab.connect.eventlog.records()])
    out.append([(o.seq, o.op, o.actor, o.target, o.result) for o in lab.oplog.records()])
    out.append((lab.dc.usn, lab.dc.next_rid, lab.clock.pending()))
    return out


def _image_bytes(lab: Lab) -> bytes:
    """The lab's image content, minus what differs between two *fresh* builds of one spec too:
    endpoints (per process), cloud password hashes (randomly salted), sync wall-clock seconds."""
    data = capture(lab)
    state = data["state"]
    state["connect_config"] = None
    state["tenant"] = {**state["tenant"], "_passwords": sorted(state["tenant"]["_passwords"])}
    state["sync"] = {**state["sync"], "history": [(r.policy, r.imported, r.exported, r.deleted)
                                                  for r in state["sync"]["history"]]}
    return encode(data)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=lab_specs(max_users=8, with_faults=True))
def test_image_loaded_lab_behaves_like_a_fresh_one(spec: LabSpec, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CACHE_HOME", tempfile.mkdtemp(dir=tmp_path))  # one cache per example
    monkeypatch.delenv("SIMLAB_NO_CACHE", raising=False)
    try:
        fresh = Lab(spec).start()
    except LabError:  # never a FaultError: a spec that cannot be built is a LabError
        reject()  # a fault combination the lab refuses to build is not this property's business
    with fresh:
        built_bytes = _image_bytes(fresh)
        with Lab(spec, cache=True) as cold:
            assert cold.cache_status == "miss"
        with Lab(spec, cache=True) as loaded:
            assert loaded.cache_status == "hit", loaded.cache_message
            assert _image_bytes(loaded) == built_bytes
            assert _scenario(loaded) == _scenario(fresh)
