"""Lab images: a built lab saved to one file and loaded back exactly (see docs/images.md).

An image holds everything :func:`simlab.snapshot.take_snapshot` captures (every directory
entry with its security descriptor, the DC's counters, the tenant, the Connect server's
configuration and sync engine including the completed initial sync, the GPO model, the
faults applied) plus what a snapshot leaves out: the full operation, Application and
Security logs, the tenant audit log, and the clock with its timers.

The file's layout, header and checks live in :mod:`simlab.image_file`.

Reading checks, in order: magic, header, format version, simlab version and code fingerprint,
the cache key, the payload length (truncation), its SHA-256, then decodes. Any failure is an
:class:`ImageError` with a clear reason and nothing is applied to a lab (never half-loaded):
the payload is verified whole and its structure decoded and validated before the first lab
object is touched. The directory entries' attribute blobs (:mod:`simlab.image_directory`), the rows
of the big tenant and connector tables and the audit and Application logs (:mod:`simlab.lazy_rows`)
are decoded on demand through safe decoders; one that fails then raises an error naming what.

Loading works on a *skeleton*: the lab is built from the same spec without the seeded
population and its initial sync is over a near-empty directory (cheap), then the image's
state replaces the skeleton's. Served endpoints, CA and ports are the new process's own.
"""

from __future__ import annotations

import dataclasses
import heapq
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zstandard

from fakes.gc_pause import gc_paused
from fakes.graph.audit import AuditState
from fakes.graph.model import User
from simlab import parked_log
from simlab.image_codec import CodecError, Table, decode, decode_stream, encode, packer, tables
from simlab.image_directory import capture_directory, directory_values, read_directory
from simlab.image_file import (
    FORMAT_VERSION,
    MAGIC,
    ImageError,
    ImageInfo,
    code_fingerprint,
    image_key,
    read_info,
    read_payload,
    write_file,
)
from simlab.lazy_rows import LazyDecodeError
from simlab.snapshot import LabSnapshot, restore_snapshot, take_snapshot

if TYPE_CHECKING:
    from simlab.lab import Lab

# --------------------------------------------------------------------------- save
def capture(lab: Lab) -> dict[str, Any]:
    """The image content of a started lab (values shared with the lab: encode it at once)."""
    snap = take_snapshot(lab, copy=False)
    head, columns = capture_directory(lab.dc.directory, snap.directory)  # type: ignore[arg-type]
    clock = lab.clock
    timers = [[name, due] for name, due in clock.pending()]
    dc = lab.dc
    tenant = _indexed_lookups({k: v for k, v in snap.tenant.items() if k not in _PROCESS_CACHES})
    later = [{name: tenant.pop(name) for name in group if name in tenant} for group in _TENANT_LATER]
    sync = _shared_exports(snap.sync)
    sync_tables = {name: sync.pop(name) for name in _SYNC_LATER if name in sync}
    return {
        "directory": {"head": head, "columns": columns},
        "state": {
            "dc": snap.dc, "tenant_faults": snap.tenant_faults,
            "tenant": tables(tenant, lazy=_LAZY),
            "tenant_tables": [_encoded_later(values) for values in later],
            "token_users": [lab.tenant.get_user(lab.tenant.admin_upn), lab.tenant.first_ordinary_user()],
            "audit": tables({"audit": lab.tenant.audit.records()}, minimum=1)["audit"],
            "connect_config": snap.connect_config,
            "connect_running": snap.connect_running,
            "sync": tables(sync, lazy=_LAZY), "sync_tables": _encoded_later(sync_tables),
            "gpo": list(snap.gpo),
            "dc_gpo": list(snap.dc_gpo),
            "applied_faults": list(snap.applied_faults),
            "audit_ds_changes": dc.audit_directory_service_changes,
        },
        "logs": tables({
            "operations": lab.oplog.records(),
            "application": lab.connect.eventlog.records(),
            "security": dc.security_log.records(),
        }, minimum=1),
        "clock": {"now": clock.now(), "timers": timers},
        "marks": [lab.build_mark, lab.event_mark],
    }


_SAME_AS_CONNECTOR_SPACE = "@connector_space"
_LOOKUPS = ("_by_upn", "_by_anchor")
_USER_POSITIONS = "@user-positions"
#: The big tables whose objects a loaded lab decodes when first read (simlab/lazy_rows.py).
_LAZY = frozenset({"users", "methods", "connector_space"})
#: The tenant's and the sync engine's attributes that hold (or index) those tables: kept encoded
#: in the image, a group of them per value, decoded when one of the group is first read (see
#: apply_image). The users with their UPN lookup are one value, their methods another, the anchor
#: lookup (which sync and writeback use) a third: a first Graph read of a user decodes the first
#: only. (The served lab's endpoint line signs tokens for the admin and a first ordinary user:
#: the image saves those two, see Tenant.token_users.)
_TENANT_LATER = (("users", "_by_upn"), ("methods",), ("_by_anchor",))
_SYNC_LATER = ("connector_space", "_exported")
#: Tenant state that only makes sense in the process that made it (tokens signed with that
#: process's key; what a load saved for the endpoint line's tokens): the loading process keeps
#: its own.
_PROCESS_CACHES = frozenset({"_token_cache", "saved_token_users"})


def _indexed_lookups(tenant: dict[str, Any]) -> dict[str, Any]:
    """The tenant with its UPN and anchor lookups stored as their keys plus, for each, the
    position of the user id in ``users``: a msgpack map of 100k strings decodes 3 times slower
    than a list, and the loaded lookups hold the ``users`` keys themselves, as the built ones do.
    ``methods`` (keyed by user id) likewise: the positions of its keys, then its values."""
    users = tenant.get("users")
    if not isinstance(users, dict):
        return tenant
    position = {uid: i for i, uid in enumerate(users)}
    out = dict(tenant)
    for name in _LOOKUPS:
        lookup = tenant.get(name)
        if isinstance(lookup, dict) and all(type(v) is str and v in position for v in lookup.values()):
            out[name] = [_USER_POSITIONS, list(lookup), [position[v] for v in lookup.values()]]
    methods = tenant.get("methods")
    if isinstance(methods, dict) and methods and all(k in position for k in methods):
        values = tables({"methods": list(methods.values())}, lazy=_LAZY)["methods"]
        out["methods"] = [_USER_POSITIONS, [position[k] for k in methods], values]
    return out


def _unindexed_lookups(tenant: dict[str, Any], ids: list[str]) -> None:
    """Inverse of :func:`_indexed_lookups`, in place, for the lookups ``tenant`` holds; ``ids``
    are the keys of the saved ``users`` in their order."""
    for name in _LOOKUPS:
        value = tenant.get(name)
        if isinstance(value, list) and value[:1] == [_USER_POSITIONS]:
            tenant[name] = dict(zip(value[1], [ids[i] for i in value[2]], strict=True))
    methods = tenant.get("methods")
    if isinstance(methods, list) and methods[:1] == [_USER_POSITIONS]:
        tenant["methods"] = dict(zip([ids[i] for i in methods[1]], methods[2], strict=True))


def _shared_exports(sync: dict[str, Any]) -> dict[str, Any]:
    # After a sync, every exported object *is* its connector-space object: store it once.
    exported, space = sync.get("_exported"), sync.get("connector_space")
    if isinstance(exported, dict) and isinstance(space, dict) and exported.keys() == space.keys() \
            and all(space[a] is o for a, o in exported.items()):
        return {**sync, "_exported": _SAME_AS_CONNECTOR_SPACE}
    return sync


def save_image(lab: Lab, path: str | Path, key: str, *, level: int = 1, tmp: Path | None = None) -> Path:
    """Write ``lab`` to ``path`` atomically (temp file + rename: concurrent writers never corrupt it).

    ``tmp`` names the temporary file (default: one unique to this process and thread).

    Raises :class:`ImageError` when the lab holds state an image cannot store (e.g. a pending
    replication timer); the lab itself is untouched either way.
    """
    if any(name.startswith("sd-propagation") for name, _ in lab.clock.pending()):
        raise ImageError("the lab has a pending SD replication timer, which an image cannot hold")
    # Capturing and encoding makes millions of short-lived lists and tuples in a heap of
    # millions of long-lived objects: with the cyclic GC running, its passes over that heap cost
    # a third of the save at 100k users (Lab.start already pauses it around its synchronous save).
    with gc_paused():
        payload, raw_bytes = _payload(lab, level)
    return write_file(path, key, payload, spec_name=lab.spec.name,
                      users=lab.spec.population.users, raw_bytes=raw_bytes, tmp=tmp)


def _payload(lab: Lab, level: int) -> tuple[bytes, int]:
    """The zstd-compressed payload of ``lab``'s image, and its size decompressed."""
    # Payload: the directory head, its columns, then the rest; packed and compressed as a
    # stream (simlab/image_directory.py describes the directory section).
    data = capture(lab)
    # The Application log (two events per user after the initial sync) and the tenant audit log
    # (one entry per user's SSPR registration) are decoded when first read.
    data["logs"]["application"] = _for_later(data["logs"]["application"])
    data["state"]["audit"] = _for_later(data["state"]["audit"])
    buffer = io.BytesIO()
    raw_bytes = 0
    try:
        pack = packer().pack
        with zstandard.ZstdCompressor(level=level).stream_writer(buffer, closefd=False) as out:
            directory = data.pop("directory")
            for value in [*directory_values(directory["head"], directory["columns"]), data]:
                chunk = pack(value)
                out.write(chunk)
                raw_bytes += len(chunk)
    except CodecError as exc:
        raise ImageError(f"this lab cannot be saved as an image: {exc}") from exc
    return buffer.getvalue(), raw_bytes


def _encoded_later(values: dict[str, Any]) -> bytes:
    # One msgpack value of its own (its big tables Table(lazy=True)): loading copies these bytes
    # and decodes nothing until the tenant's users or the connector space are first read.
    return encode(tables(values, lazy=_LAZY))


def _for_later(value: Any) -> dict[str, Any]:
    # Compressed on its own: the loaded lab keeps these bytes as they are until the log is read.
    count = len(value.items if isinstance(value, Table) else value)
    return {"later": count, "packed": parked_log.compress(packer().pack(value))}


def load_image(path: str | Path, key: str, *, raw: bytes | None = None) -> dict[str, Any]:
    """Read, verify and decode an image written for ``key``; :class:`ImageError` on any mismatch.

    ``raw``: what ``read_raw_payload(path, key)`` returned (verified, decompressed), if the caller
    has it (:func:`simlab.image_cache.prefetch` reads it on another thread).
    """
    name = Path(path).name
    memo: dict[str, str] = {}
    try:
        if raw is not None:
            source: Any = io.BytesIO(raw)
        else:
            # Verified whole before anything is decoded, then decompressed as the decoder reads:
            # a small buffer that stays in cache, where one call into an 80 MiB buffer (100k
            # users) costs page faults on this thread, and more time than it saves.
            source = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(read_payload(path, key)))
        stream = decode_stream(source, memo)  # (the memo shares the logs' repeated strings)
        entries = read_directory(stream)
        data = next(stream)
        if next(stream, None) is not None:
            raise ImageError(f"{name} has data after the lab image")
        data["entries"] = entries
    except (CodecError, zstandard.ZstdError, StopIteration, LookupError, TypeError, ValueError) as exc:
        raise ImageError(f"{name} cannot be decoded: {exc!r}") from exc
    _check_shape(data, name)
    try:
        for later in (data["logs"]["application"], data["state"]["audit"]):
            # Decoded (through the same codec) when the log is first read: see _decoder().
            if type(later["packed"]) is not bytes or type(later["later"]) is not int:
                raise CodecError("a log kept for later is not stored as such")
        tables_later = data["state"]["tenant_tables"]
        if not (len(tables_later) == len(_TENANT_LATER) and type(data["state"]["sync_tables"]) is bytes
                and all(type(blob) is bytes for blob in tables_later)):
            raise CodecError("the tenant's or the connector space's tables are not stored for later")
        token_users = data["state"]["token_users"]
        if len(token_users) != 2 or not all(u is None or isinstance(u, User) for u in token_users):
            raise CodecError("the token users are not two users")
    except (CodecError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise ImageError(f"{name} cannot be decoded: {exc!r}") from exc
    return data


def _check_shape(data: Any, name: str) -> None:
    try:
        ok = (isinstance(data, dict) and {"entries", "state", "logs", "clock", "marks"} <= data.keys()
              and isinstance(data["state"], dict))
    except (KeyError, TypeError):
        ok = False
    if not ok:
        raise ImageError(f"{name} does not hold a lab image")


def apply_image(lab: Lab, data: dict[str, Any]) -> None:
    """Replace a skeleton lab's state with the image's (see the module docstring).

    The directory entries are built and validated before anything in ``lab`` changes, so an
    :class:`ImageError` leaves the skeleton as it was.
    """
    state, entries = data["state"], data["entries"]
    try:
        config = _with_live_endpoints(state["connect_config"], lab.connect.config)
        timers = _matching_timers(lab, data["clock"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ImageError(f"the image is inconsistent: {exc}") from exc
    audit = state["audit"]
    snap = LabSnapshot(
        owner=id(lab.dc), taken_at=data["clock"]["now"], directory=entries, dc=state["dc"],
        tenant=state["tenant"], tenant_faults=state["tenant_faults"],
        audit=AuditState((), _decoder(audit["packed"], "the tenant audit log", _tenant_strings(lab.tenant),
                                      grow=False), audit["later"]),
        connect_config=config, connect_running=state["connect_running"], sync=state["sync"],
        gpo=tuple(state["gpo"]), dc_gpo=tuple(state["dc_gpo"]),
        applied_faults=tuple(state["applied_faults"]),
        log_lengths=(len(lab.oplog), len(lab.connect.eventlog), len(lab.dc.security_log)),
    )
    # Installed before the restore: anything that reads them from here on gets the image's.
    for names, load in zip(_TENANT_LATER, _tenant_loaders(state["tenant_tables"]), strict=True):
        lab.tenant.defer(names, load)
    lab.connect.sync.defer(_SYNC_LATER, _later(state["sync_tables"], "the connector space", _SYNC_LATER,
                                               _separate_exports))
    restore_snapshot(lab, snap, consume=True)
    admin, ordinary = state["token_users"]  # (after the restore, which sets the saved lab's None)
    lab.tenant.saved_token_users = (admin, ordinary) if ordinary is not None else None
    lab.dc.audit_directory_service_changes = state["audit_ds_changes"]
    logs = data["logs"]
    lab.oplog.replace_records(logs["operations"])
    # Kept compressed until first read (simlab/parked_log.py): a few MiB instead of ~20.
    load = _decoder(logs["application"]["packed"], "the Connect Application log",
                    parked_log.connector_strings(lab.connect))
    lab.connect.eventlog.replace_records_later(logs["application"]["later"], load)
    lab.dc.security_log.replace_records(logs["security"])
    _restore_clock(lab, timers, data["clock"]["now"])
    lab.build_mark, lab.event_mark = data["marks"]


def saved_accounts(data: dict[str, Any]) -> tuple[str, str, str, str]:
    """The saved DC's Administrator DN and password, connector account DN and password: what a
    bare skeleton's DC is served with until :func:`apply_image` installs the rest."""
    try:
        dc = data["state"]["dc"]
        accounts = (dc["admin_dn"], dc["admin_password"], dc["connector_dn"], dc["connector_password"])
    except (KeyError, TypeError) as exc:
        raise ImageError(f"the image is inconsistent: no saved accounts ({exc!r})") from exc
    if not all(type(value) is str and value for value in accounts):
        raise ImageError("the image is inconsistent: its saved accounts are not all names and passwords")
    return accounts


def _later(blob: bytes, what: str, names: tuple[str, ...], finish: Any) -> Any:
    """The loader of :func:`_encoded_later`'s ``blob`` for ``DeferredAttributes.defer``: every
    one of ``names`` (what the saved lab had not: a fresh value of the live object's kind),
    ``finish`` applied in place; a failure is a :class:`LazyDecodeError` naming ``what``."""
    def load() -> dict[str, Any]:
        try:
            values = decode(blob)
            if type(values) is not dict or not set(values) <= set(names):
                raise CodecError(f"not a table of {names}")
            finish(values)
        except (CodecError, KeyError, TypeError, ValueError, IndexError) as exc:
            raise LazyDecodeError(f"lab image data for {what} cannot be decoded: {exc!r}") from exc
        return {name: values.get(name, {}) for name in names}
    return load


def _tenant_loaders(blobs: list[bytes]) -> list[Any]:
    """The loaders of :data:`_TENANT_LATER`'s groups. Their lookups' positions name the users in
    their saved order: the users' loader keeps it for the others (each decodes the saved users'
    ids itself if the users were never loaded, e.g. assigned before being read)."""
    saved_ids: list[list[str]] = []
    users_blob = blobs[0]

    def users_done(values: dict[str, Any]) -> None:
        saved_ids.append(list(values["users"]))  # the live dict's own key strings
        _unindexed_lookups(values, saved_ids[0])

    def others_done(values: dict[str, Any]) -> None:
        _unindexed_lookups(values, saved_ids[0] if saved_ids else list(decode(users_blob)["users"]))

    whats = ("the tenant's users", "the tenant's authentication methods", "the tenant's anchor lookup")
    return [_later(blob, what, names, users_done if names[0] == "users" else others_done)
            for blob, what, names in zip(blobs, whats, _TENANT_LATER, strict=True)]


def _separate_exports(sync: dict[str, Any]) -> None:
    """Inverse of :func:`_shared_exports`, in place."""
    if sync.get("_exported") == _SAME_AS_CONNECTOR_SPACE:
        sync["_exported"] = dict(sync["connector_space"])


def _tenant_strings(tenant: Any) -> parked_log.Strings:
    """The user ids the tenant holds when called: the audit entries name them (their UPNs are
    interned, as the tenant users' are: ``image_codec.INTERNED_FIELDS``)."""
    def strings() -> Iterator[str]:
        # No tenant.lock: the audit log calls this under its own lock, which the tenant takes
        # under tenant.lock. list(dict) copies in one C call, so it sees no concurrent change.
        yield from list(tenant.users)
    return strings


def _decoder(blob: bytes, what: str, shared: parked_log.Strings | None = None, grow: bool = True) -> Any:
    """A loader for a log the image keeps compressed (:func:`_for_later`), decoded through the
    image codec on first read; a failure then is a :class:`LazyDecodeError` naming ``what``
    (``grow``: see :func:`parked_log.unpack_events`)."""
    def load() -> Any:
        try:
            return parked_log.unpack_events(blob, shared, grow=grow)
        except (CodecError, zstandard.ZstdError) as exc:
            raise LazyDecodeError(f"lab image data for {what} cannot be decoded: {exc}") from exc
    return load


def _with_live_endpoints(saved: Any, live: Any) -> Any:
    """The image's Connect configuration, pointed at this process's DC endpoints and CA."""
    by_domain = {d.domain.lower(): d for d in live.directories}
    directories = []
    for d in saved.directories:
        now = by_domain.get(d.domain.lower())
        if now is None:
            raise ImageError(f"the image's Connect directory {d.domain} is not in the rebuilt lab")
        directories.append(dataclasses.replace(d, host=now.host, ldap_port=now.ldap_port,
                                               ldaps_port=now.ldaps_port, ca_file=now.ca_file))
    return dataclasses.replace(saved, directories=tuple(directories))


def _matching_timers(lab: Lab, saved: dict[str, Any]) -> list[tuple[Any, Any]]:
    """Pair the skeleton's live timers with the image's (by name); ImageError if they differ."""
    wanted = sorted((str(name), due) for name, due in saved["timers"])
    # The clock has no public "re-arm" API; this and _restore_clock are the places that reach in.
    with lab.clock._lock:
        live = sorted((t for t in lab.clock._timers if not t.cancelled), key=lambda t: t.name)
    if [t.name for t in live] != [name for name, _ in wanted]:
        raise ImageError(f"the rebuilt lab's timers {[t.name for t in live]} differ from the image's "
                         f"{[name for name, _ in wanted]}")
    return [(timer, due) for timer, (_, due) in zip(live, wanted, strict=True)]


def _restore_clock(lab: Lab, timers: list[tuple[Any, Any]], now: Any) -> None:
    """Put the clock at the image's time with its timers due when they were (no callbacks run)."""
    clock = lab.clock
    with clock._lock:
        for timer, due in timers:
            timer.due = due
        heapq.heapify(clock._timers)
        clock._now = now


__all__ = ["FORMAT_VERSION", "MAGIC", "ImageError", "ImageInfo", "apply_image", "capture", "code_fingerprint",
           "image_key", "load_image", "read_info", "save_image", "saved_accounts"]
