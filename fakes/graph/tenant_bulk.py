"""The tenant's bulk paths: a lab's export and SSPR registration of 100k users at one instant.

A cold 100k-user lab exports every user to the tenant and registers each for SSPR. One user
at a time that was ~1.3 s of per-user Python (a lock, an id draw, a frozen dataclass
``__init__`` setting 22 fields, a methods tuple built by a generator). Here a batch of new
users is made column by column in C-level loops (``map``, ``zip``, ``dict.update``, strided
slice assignment) and anything else goes one row at a time, as before.

Both ways leave exactly the same state: the same objects field by field, the same ids (the
seeded RNG ends where it did), the same dict order, the same errors at the same row with the
rows before it stored (``tests/graph/test_tenant_bulk.py`` keeps the one-call-per-user code as
the reference and compares the two with hypothesis).
"""

from __future__ import annotations

import binascii
import dataclasses
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import repeat
from operator import add, attrgetter, itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from fakes.graph import audit as A
from fakes.graph import catalog as C
from fakes.graph.model import AuditEntry, AuthMethod, User

if TYPE_CHECKING:
    from fakes.graph.audit import AuditLog
    from fakes.graph.tenant import Tenant


class SyncedColumns(NamedTuple):
    """:class:`~fakes.graph.tenant.SyncedFields` column by column: row ``i`` of an export is
    item ``i`` of each column (all of one length)."""

    immutable_id: Sequence[str]
    user_principal_name: Sequence[str]
    display_name: Sequence[str]
    sam_account_name: Sequence[str]
    distinguished_name: Sequence[str]
    security_identifier: Sequence[str]
    domain_name: Sequence[str]
    account_enabled: Sequence[bool]
    mail: Sequence[str | None]


# --- ids ---------------------------------------------------------------------------------
_VERSION4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_VERSION4_SET = (0x8000 << 48) | (4 << 76)


def guid4(bits: int) -> str:
    """``str(uuid.UUID(int=bits, version=4))`` without building the UUID."""
    h = ((bits & _VERSION4_CLEAR) | _VERSION4_SET).to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# Byte 6 of a version-4 GUID (big-endian) carries the version nibble, byte 8 the variant bits.
_VERSION_BYTE = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT_BYTE = bytes((b & 0x3F) | 0x80 for b in range(256))
# Where hex digit j of a GUID lands in its 8-4-4-4-12 text (a dash after digits 8, 12, 16, 20).
_DIGIT_PLACES = tuple((j, j + (j >= 8) + (j >= 12) + (j >= 16) + (j >= 20)) for j in range(32))


def guid4_column(bits: int, count: int) -> list[str]:
    """``[guid4(draw) for draw in draws]`` for ``count`` successive ``getrandbits(128)`` draws,
    from ``bits = getrandbits(128 * count)`` (the same RNG words: a wide draw fills 32 bits at a
    time from the low end, so draw ``i`` is bits ``128 i .. 128 i + 127``). Made with a few C-level
    strided copies over all ids at once instead of one ``guid4`` call each."""
    if count == 0:
        return []
    raw = bytearray(bits.to_bytes(16 * count, "big"))  # the last draw first, each big-endian
    raw[6::16] = raw[6::16].translate(_VERSION_BYTE)
    raw[8::16] = raw[8::16].translate(_VARIANT_BYTE)
    digits = binascii.hexlify(raw)
    text = bytearray(b"-" * (37 * count))  # each id's 36 characters and a newline
    for digit, place in _DIGIT_PLACES:
        text[place::37] = digits[digit::32]
    text[36::37] = b"\n" * count
    ids = text.decode("ascii").split("\n")
    ids.pop()  # after the last newline
    ids.reverse()
    return ids


def upn_key(upn: str) -> str:
    """``upn.lower()``, the UPN object itself when it is lower case already (``lower()`` always
    copies: one string less per user, 7 MiB at 100k users)."""
    key = upn.lower()
    return upn if key == upn else key


def _fill(cls: type, count: int, values: dict[str, Any]) -> list[Any]:
    """``count`` objects of the slots dataclass ``cls``, equal to ``cls(**row)`` for each row of
    ``values`` (a column or a ``repeat`` per field; a field not given keeps its default): each slot
    member descriptor is set over its whole column (no ``__init__`` call per object)."""
    made = list(map(object.__new__, repeat(cls, count)))
    for field in dataclasses.fields(cls):
        column = values.get(field.name)
        if column is None:
            if field.default is dataclasses.MISSING:
                raise TypeError(f"{cls.__name__}.{field.name} has no default")
            column = repeat(field.default)
        deque(map(cls.__dict__[field.name].__set__, made, column), maxlen=0)
    return made


# --- export --------------------------------------------------------------------------------
def upsert_rows(tenant: Tenant, rows: Iterable[tuple]) -> Iterator[User]:
    """:meth:`Tenant.upsert_synced_users` one row at a time, as the result is iterated."""
    now = tenant.clock.now()  # one export happens at one simulated instant
    users, by_anchor, by_upn = tenant.users, tenant._by_anchor, tenant._by_upn
    for (immutable_id, upn, display_name, sam, dn, sid, domain, enabled, mail) in rows:
        with tenant.lock:
            uid = by_anchor.get(immutable_id)
            existing = users.get(uid) if uid is not None else None
            if existing is None:
                if upn.lower() in by_upn:
                    raise ValueError(f"userPrincipalName {upn!r} is used by a cloud object")
                user = User(id=tenant.new_id(), user_principal_name=upn, display_name=display_name,
                            created=now, account_enabled=enabled, mail=mail,
                            on_premises_sync_enabled=True, on_premises_immutable_id=immutable_id,
                            on_premises_sam_account_name=sam, on_premises_distinguished_name=dn,
                            on_premises_security_identifier=sid, on_premises_domain_name=domain,
                            on_premises_user_principal_name=upn, on_premises_last_sync=now)
                users[user.id] = user  # _store() for a new user
                by_upn[upn_key(upn)] = user.id
                by_anchor[immutable_id] = user.id
            else:
                user = dataclasses.replace(
                    existing, user_principal_name=upn, display_name=display_name, account_enabled=enabled,
                    mail=mail, on_premises_sync_enabled=True, on_premises_immutable_id=immutable_id,
                    on_premises_sam_account_name=sam, on_premises_distinguished_name=dn,
                    on_premises_security_identifier=sid, on_premises_domain_name=domain,
                    on_premises_user_principal_name=upn, on_premises_last_sync=now)
                tenant._store(user)
        yield user


def upsert_columns(tenant: Tenant, columns: SyncedColumns) -> Iterator[User]:
    """:meth:`Tenant.upsert_synced_columns`: the leading rows that are new users (an initial
    export: all of them) stored at once when the first user is asked for, the rest one by one."""
    if len(set(map(len, columns))) > 1:
        raise ValueError("the columns of an export must all have one length")
    now = tenant.clock.now()
    with tenant.lock:
        made = _store_new(tenant, columns, now)
    yield from made
    if len(made) < len(columns.immutable_id):
        start = len(made)
        yield from upsert_rows(tenant, zip(*(column[start:] for column in columns)))


def _store_new(tenant: Tenant, columns: SyncedColumns, now: Any) -> list[User]:
    """The users of the leading rows that one-by-one would create (a new anchor and a UPN no
    object holds), made and stored column-wise; the caller holds the tenant lock."""
    anchors, upns = columns.immutable_id, columns.user_principal_name
    by_anchor, by_upn = tenant._by_anchor, tenant._by_upn
    try:
        if not anchors or anchors[0] in by_anchor:  # nothing to do, or a delta export's update
            return []
        lowered = list(map(str.lower, upns))
        count = _new_run(anchors, lowered, by_anchor, by_upn)
    except TypeError:  # a UPN that is not text or an unhashable anchor: the row path fails at its row
        return []
    if count == 0:
        return []
    if count < len(anchors):
        columns = SyncedColumns(*(column[:count] for column in columns))
        anchors, upns, lowered = columns.immutable_id, columns.user_principal_name, lowered[:count]
    # One wide draw: the same RNG words, in the same order, as one new_id() per user.
    ids = guid4_column(tenant._rng.getrandbits(128 * count), count)
    now_column = repeat(now)
    made = _fill(User, count, {
        "id": ids, "user_principal_name": upns, "display_name": columns.display_name, "created": now_column,
        "account_enabled": columns.account_enabled, "mail": columns.mail,
        "on_premises_sync_enabled": repeat(True), "on_premises_immutable_id": anchors,
        "on_premises_sam_account_name": columns.sam_account_name,
        "on_premises_distinguished_name": columns.distinguished_name,
        "on_premises_security_identifier": columns.security_identifier,
        "on_premises_domain_name": columns.domain_name, "on_premises_user_principal_name": upns,
        "on_premises_last_sync": now_column})
    # upn_key() per row: the UPN itself when it is lower case already (the usual case: all are).
    keys = upns if lowered == list(upns) else [u if k == u else k for u, k in zip(upns, lowered)]
    tenant.users.update(zip(ids, made))
    by_upn.update(zip(keys, ids))
    by_anchor.update(zip(anchors, ids))
    return made


def _new_run(anchors: Sequence[str], lowered: list[str], by_anchor: dict[str, str],
             by_upn: dict[str, str]) -> int:
    """How many leading rows are new users with free UPNs: no anchor or lower-cased UPN that the
    tenant or an earlier row of the batch holds (a repeated anchor is an update, a repeated UPN
    a refusal: both for the one-by-one path)."""
    count = len(anchors)
    if (by_anchor.keys().isdisjoint(anchors) and by_upn.keys().isdisjoint(lowered)
            and len(set(anchors)) == count and len(set(lowered)) == count):
        return count  # the initial export: checked with set operations only
    seen_anchors: set[str] = set()
    seen_keys: set[str] = set()
    for i, (anchor, key) in enumerate(zip(anchors, lowered)):
        if anchor in by_anchor or key in by_upn or anchor in seen_anchors or key in seen_keys:
            return i
        seen_anchors.add(anchor)
        seen_keys.add(key)
    return count


# --- SSPR registration ---------------------------------------------------------------------
def register_many(tenant: Tenant, users: Iterable[User | str], kinds: tuple[str, ...]) -> int:
    """:meth:`Tenant.register_many_for_sspr` once ``kinds`` are checked."""
    if set(kinds) <= {"phone", "email"} and tenant.audit.draws_ids_from(tenant.new_id):
        return _register_later(tenant, users, kinds)
    audited: list[AuditEntry] = []

    def registered(target: User) -> None:
        # audit.write() draws each entry's ids after the user's methods: keep that order.
        audited.append(tenant.audit.entry(
            A.REGISTERED, initiated_by=target.user_principal_name, target_id=target.id,
            target_upn=target.user_principal_name, category="UserManagement"))

    try:
        with tenant.lock:
            _register_each(tenant, users, kinds, tenant.clock.now(), registered)
    finally:
        # Outside the tenant lock (audit.write takes the audit lock, then the tenant's for
        # ids); on an error, what one call per user would have logged up to there.
        tenant.audit.extend(audited)
    return len(audited)


def _register_later(tenant: Tenant, users: Iterable[User | str], kinds: tuple[str, ...]) -> int:
    """:func:`register_many` whose audit entries are made when the log is next read.

    Phone and email methods draw no ids, so each user's entry draws the RNG's next two ids,
    one user after another: the same bits as one draw for them all after the loop, taken
    here and cut into ids when the entries are made (100k users: 200k ids and entries that
    a lab rarely reads)."""
    now = tenant.clock.now()
    targets: list[tuple[str, str]] = []  # (id, userPrincipalName) of each registered user
    bits = 0
    try:
        with tenant.lock:  # the ids are drawn under the lock that covers the methods, as one by one
            try:
                if not _register_new(tenant, users, kinds, now, targets):
                    _register_each(tenant, users, kinds, now,
                                   lambda user: targets.append((user.id, user.user_principal_name)))
            finally:
                bits = tenant._rng.getrandbits(256 * len(targets)) if targets else 0
    finally:
        # On an error, what one call per user would have logged up to there.
        if targets:
            audit = tenant.audit
            audit.extend_later(len(targets), lambda: _registrations(audit, bits, targets, now))
    return len(targets)


def _register_new(tenant: Tenant, users: Iterable[User | str], kinds: tuple[str, ...], now: Any,
                  targets: list[tuple[str, str]]) -> bool:
    """Phone and/or email methods for a list of distinct users the tenant holds (as User objects)
    that have no methods yet (a lab registering its synced users), made column-wise; their
    ``(id, userPrincipalName)`` go to ``targets``. False, with nothing done, for anything else."""
    if not isinstance(users, (list, tuple)) or not kinds or len(set(kinds)) < len(kinds):
        return False
    count = len(users)
    if not all(map(isinstance, users, repeat(User))):
        return False
    ids = list(map(attrgetter("id"), users))
    held = list(map(tenant.users.get, ids))  # the tenant's own copy of each (a stale one counts)
    if not all(held) or len(set(ids)) < count or not tenant.methods.keys().isdisjoint(ids):
        return False
    upns = list(map(attrgetter("user_principal_name"), held))
    per_kind: dict[str, Iterable[AuthMethod]] = {}
    if "phone" in kinds:  # the same for every user: one object
        per_kind["phone"] = repeat(sspr_method(tenant, "phone", "", now), count)
    if "email" in kinds:
        local_parts = map(itemgetter(0), map(str.partition, upns, repeat("@")))  # = split("@")[0]
        per_kind["email"] = _fill(AuthMethod, count, {
            "id": repeat(C.EMAIL_METHOD_ID), "kind": repeat("email"), "created": repeat(now),
            "value": map(add, local_parts, repeat("@alt.example")), "phone_type": repeat("mobile"),
            "secret": repeat("")})
    tenant.methods.update(zip(ids, zip(*(per_kind[kind] for kind in kinds))))
    targets.extend(zip(ids, upns))
    return True


def _register_each(tenant: Tenant, users: Iterable[User | str], kinds: tuple[str, ...], now: Any,
                   registered: Callable[[User], None]) -> None:
    shared: dict[str, AuthMethod] = {}
    methods, stored = tenant.methods, tenant.users
    for user in users:
        # _resolve() in one lookup for a User the tenant holds (the lab passes its own).
        target = stored.get(user.id) if isinstance(user, User) else None
        if target is None:
            target = tenant._resolve(user)
        local = target.user_principal_name.split("@")[0]
        have = methods.get(target.id, ())
        for kind in kinds:
            method = shared.get(kind)
            if method is None:
                method = sspr_method(tenant, kind, local, now)
                if kind == "phone":  # the same for every user: one object
                    shared[kind] = method
            mid = method.id
            have = (*(m for m in have if m.id != mid), method)
        methods[target.id] = have
        registered(target)


def sspr_method(tenant: Tenant, kind: str, local: str, now: Any) -> AuthMethod:
    """The method :meth:`Tenant.register_for_sspr` registers for ``kind`` (as ``add_method`` would)."""
    if kind == "phone":
        return AuthMethod(C.PHONE_METHOD_IDS["mobile"], kind, now, "+1 4255550100", "mobile", "")
    if kind == "email":
        return AuthMethod(C.EMAIL_METHOD_ID, kind, now, f"{local}@alt.example", "mobile", "")
    value = "Lab phone" if kind == "microsoftAuthenticator" else "What is the lab's name?"
    secret = "simlab" if kind == "securityQuestion" else ""
    return AuthMethod(tenant.new_id(), kind, now, value, "mobile", secret)


def _registrations(audit: AuditLog, bits: int, targets: list[tuple[str, str]],
                   now: Any) -> Iterator[AuditEntry]:
    """The audit entries of :func:`_register_later`: two ids per user cut from ``bits``."""
    raw = bits.to_bytes(32 * len(targets), "little")
    for i, (target_id, upn) in enumerate(targets):
        first, second = raw[32 * i:32 * i + 16], raw[32 * i + 16:32 * i + 32]
        yield audit.entry(A.REGISTERED, entry_id=guid4(int.from_bytes(first, "little")),
                          correlation_id=guid4(int.from_bytes(second, "little")), at=now,
                          initiated_by=upn, target_id=target_id, target_upn=upn, category="UserManagement")


__all__ = ["SyncedColumns", "guid4", "guid4_column", "register_many", "sspr_method", "upn_key",
           "upsert_columns", "upsert_rows"]
