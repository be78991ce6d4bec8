"""Cheap lab snapshots: ``snap = lab.snapshot()`` ... ``lab.restore(snap)``, no rebuild and no new ports.

A snapshot holds the lab's mutable state: the DC's directory (``Directory.snapshot``) and counters
(USN, RID pool, seeded RNG, connector credentials, SDProp's state), the tenant (users, groups,
roles, methods, SSPR policy and flows, on-premises integration, licence, audit log, operations,
outbox, Graph fault plan and RNG), the Connect server (configuration, service state, sync engine),
the GPO model, the faults applied, and how long each log was (the operation log, the Connect
Application log and the DC's Security log are cut back to that length on restore).

Not restored, by design: **the clock** (simulated time never goes back; timers such as SDProp,
the sync scheduler and GPO refresh stay armed where they are, so the next sync or SDProp run
may come at a different moment than it would have after the snapshot) and the served
endpoints (same ports, same CA). Open LDAP connections of the writeback agent are closed, so
it binds again as the restored connector account.

The tenant, Connect server and logs have no snapshot API of their own, so their state is copied
attribute by attribute here; a new attribute on those classes is picked up automatically unless
it is a lock, a clock or a wired-in collaborator (see ``_SKIP``).
"""

from __future__ import annotations

import copy
import dataclasses
import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fakes.deferred import DeferredAttributes

if TYPE_CHECKING:
    from simlab.lab import Lab

# Collaborators and plumbing, not state: kept as they are.
_SKIP = frozenset({"lock", "_lock", "clock", "_clock", "relay", "audit", "faults", "oplog", "_signing",
                   "tenant", "eventlog", "_config", "password_source", "_ids"})


@dataclass(frozen=True, slots=True)
class LabSnapshot:
    """Opaque state of one lab at ``taken_at`` (simulated time); restore it with :meth:`Lab.restore`."""

    owner: int  # id() of the DC it was taken from: a snapshot only fits the lab build it came from
    taken_at: datetime
    directory: object
    dc: dict[str, Any]
    tenant: dict[str, Any]
    tenant_faults: dict[str, Any]
    audit: Any  # fakes.graph.audit.AuditState
    connect_config: Any
    connect_running: bool
    sync: dict[str, Any]
    gpo: tuple[Any, Any]
    dc_gpo: tuple[Any, Any, Any]  # Default Domain Controllers Policy: editor, applied, dc.ldap_policy
    applied_faults: tuple[str, ...]
    log_lengths: tuple[int, int, int]  # operation log, Connect Application log, DC Security log


class SnapshotError(RuntimeError):
    """A snapshot that does not belong to this lab (another lab, or taken before a reset)."""


def take_snapshot(lab: Lab, *, copy: bool = True) -> LabSnapshot:
    """Copy everything mutable in ``lab`` (see the module docstring for what is and is not included).

    ``copy=False`` shares the live values instead (for a caller that serialises the snapshot at
    once, such as :mod:`simlab.image`, while the lab stands still): much cheaper on big labs.
    """
    dc, tenant, connect = lab.dc, lab.tenant, lab.connect
    freeze = _freeze if copy else _share
    with dc.lock, tenant.lock:
        directory = dc.directory.snapshot(copy=copy)
        dc_state = {
            "usn": dc.usn, "next_rid": dc.next_rid, "rng": dc.rng.getstate(),
            "replication_delay": dc.replication_delay, "connector_dn": dc.connector_dn,
            "connector_password": dc.connector_password, "admin_dn": dc.admin_dn,
            "admin_password": dc.admin_password,
            "sdprop": (dc.sdprop.runs, dc.sdprop.ds_heuristics) if dc.sdprop is not None else None,
            "attr_stamps": dc.attr_stamps.state(),
        }
        return LabSnapshot(
            owner=id(dc),
            taken_at=lab.clock.now(),
            directory=directory,
            dc=dc_state,
            tenant=freeze(tenant),
            tenant_faults=freeze(tenant.faults),
            audit=tenant.audit.state(),  # entries a loaded image has not decoded yet stay so
            connect_config=connect.config,
            connect_running=connect.service_running,
            sync=freeze(connect.sync),
            gpo=(lab.gpo.settings, lab.gpo.applied),
            dc_gpo=(lab.dc_gpo.settings, lab.dc_gpo.applied, dc.ldap_policy),
            applied_faults=tuple(lab.applied_faults),
            log_lengths=(len(lab.oplog), len(connect.eventlog), len(dc.security_log)),
        )


def restore_snapshot(lab: Lab, snap: LabSnapshot, *, consume: bool = False) -> None:
    """Put ``lab`` back to ``snap``; the snapshot stays valid and can be restored again.

    ``consume=True`` hands the snapshot's values over without copying them (the snapshot must
    not be used again): :mod:`simlab.image` restores a freshly decoded one this way.
    """
    if not isinstance(snap, LabSnapshot) or snap.owner != id(lab.dc):
        raise SnapshotError("this snapshot was taken from another lab (or before Lab.reset rebuilt this one)")
    dc, tenant, connect = lab.dc, lab.tenant, lab.connect
    thaw = _take_over if consume else _thaw
    with dc.lock, tenant.lock:
        dc.directory.restore(snap.directory, copy=not consume)
        s = snap.dc
        dc.usn, dc.next_rid, dc.replication_delay = s["usn"], s["next_rid"], s["replication_delay"]
        dc.rng.setstate(s["rng"])
        dc.connector_dn, dc.connector_password = s["connector_dn"], s["connector_password"]
        dc.admin_dn, dc.admin_password = s["admin_dn"], s["admin_password"]
        if s["sdprop"] is not None:
            dc.sdprop.runs, dc.sdprop.ds_heuristics = s["sdprop"]
        dc.attr_stamps.load(s["attr_stamps"])
        thaw(tenant, snap.tenant)
        thaw(tenant.faults, snap.tenant_faults)
        tenant.audit.restore(snap.audit)
        lab.gpo.settings, lab.gpo.applied = snap.gpo
        lab.dc_gpo.settings, lab.dc_gpo.applied, dc.ldap_policy = snap.dc_gpo
        lab.applied_faults[:] = snap.applied_faults
    _restore_connect(connect, snap, thaw)
    # Last: starting/stopping the service above writes 31015/31016, which the cut removes again.
    # The logs number records by position (record_id = index + 1), so cutting the tail is enough.
    oplog_len, app_len, sec_len = snap.log_lengths
    lab.oplog.truncate(oplog_len)
    if tenant.oplog is not None and tenant.oplog is not lab.oplog:
        tenant.oplog.truncate(oplog_len)
    connect.eventlog.truncate(app_len)
    dc.security_log.truncate(sec_len)


def _restore_connect(connect: Any, snap: LabSnapshot, thaw: Any) -> None:
    connect.writeback.close()  # cached binds were made with the credentials of the moment
    with connect._lock:
        connect._config = snap.connect_config
        thaw(connect.sync, snap.sync)
    if snap.connect_running and not connect.service_running:
        connect.start_service()
    elif not snap.connect_running and connect.service_running:
        connect.stop_service()
    else:
        connect._refresh_registration()  # writeback on/off or staging may differ from the snapshot's


# --------------------------------------------------------------------------- attribute-level copies
def _freeze(obj: object) -> dict[str, Any]:
    return {k: _copy(v) for k, v in _state(obj).items() if k not in _SKIP}


def _share(obj: object) -> dict[str, Any]:
    # Like _freeze, without copies (random generators still become their state).
    return {k: RngState(v.getstate()) if isinstance(v, random.Random) else v
            for k, v in _state(obj).items() if k not in _SKIP}


def _take_over(obj: object, saved: dict[str, Any]) -> None:
    # The saved dicts become the object's own: refilling the object's dicts instead would copy
    # every entry (five dicts of 100k users in a loaded 100k lab's tenant and sync engine, 33 ms).
    # Safe because no other object keeps a reference to them: the fakes reach them through their
    # owner each time (``tenant.users``), and the lab loads an image before anything serves it.
    dicts = {name: value for name, value in saved.items()
             if type(value) is dict and type(getattr(obj, name, None)) is dict}
    for name, value in dicts.items():
        setattr(obj, name, value)
    _thaw(obj, {name: value for name, value in saved.items() if name not in dicts}, copy=False)


def _thaw(obj: object, saved: dict[str, Any], copy: bool = True) -> None:
    for name, value in saved.items():
        current = getattr(obj, name, None)
        if isinstance(current, random.Random) and isinstance(value, RngState):
            current.setstate(value.state)
            continue
        # Copy again: the snapshot must survive being restored twice (unless it is consumed).
        fresh = _copy(value) if copy else value
        if isinstance(current, dict) and isinstance(fresh, dict):
            current.clear()
            current.update(fresh)
        elif isinstance(current, list | deque) and type(current) is type(fresh):
            current.clear()
            current.extend(fresh)
        elif isinstance(current, set) and isinstance(fresh, set):
            current.clear()
            current.update(fresh)
        else:
            setattr(obj, name, fresh)
    # Attributes that did not exist yet at snapshot time (lazily created) are left alone.


@dataclass(frozen=True, slots=True)
class RngState:
    """A :class:`random.Random`'s ``getstate()``, restored into the live generator."""

    state: object


def _copy(value: Any) -> Any:
    """Containers copied (recursively), frozen values shared, mutable dataclasses deep-copied."""
    if isinstance(value, random.Random):
        return RngState(value.getstate())
    if isinstance(value, RngState):
        return value
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, deque):
        return deque(_copy(v) for v in value)
    if isinstance(value, set):
        return set(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        params = getattr(type(value), "__dataclass_params__", None)
        if params is not None and not params.frozen:
            return copy.deepcopy(value)  # e.g. an SSPR flow: its verified-methods state mutates
    return value


def _state(obj: object) -> dict[str, Any]:
    if isinstance(obj, DeferredAttributes):
        obj.load_deferred()  # a loaded image's tables not read yet: made now, then copied
    if hasattr(obj, "__dict__"):
        return dict(vars(obj))
    return {name: getattr(obj, name) for name in getattr(type(obj), "__slots__", ()) if hasattr(obj, name)}


__all__ = ["LabSnapshot", "RngState", "SnapshotError", "restore_snapshot", "take_snapshot"]
