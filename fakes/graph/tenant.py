"""The fake Entra tenant: users, groups, licences, roles, SSPR policy, writeback settings, audit.

A :class:`Tenant` is plain Python state guarded by one lock; the HTTP app
(:mod:`fakes.graph.app`), the SSPR flows (:mod:`fakes.graph.sspr`) and the simulated
Connect server all act on it. Ids come from one seeded RNG, so the same seed builds the
same tenant; all times come from the lab's :class:`~fakes.clock.SimClock`.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any, NamedTuple

from fakes.clock import SimClock
from fakes.deferred import DeferredAttributes
from fakes.graph import catalog as C
from fakes.graph import tenant_bulk
from fakes.graph.audit import AuditLog
from fakes.graph.errors import (
    AUTH_TOKEN_ERROR,
    WRITEBACK_LICENCE_MESSAGE,
    TenantAuthError,
    TenantLicenceError,
    TenantPermissionError,
)
from fakes.graph.faults import FaultPlan
from fakes.graph.model import (
    AuthMethod,
    Group,
    LongRunningOperation,
    OnPremisesIntegration,
    RoleAssignment,
    SsprPolicy,
    User,
)
from fakes.graph.relay import WritebackRelay
from fakes.graph.tenant_bulk import SyncedColumns, guid4, upn_key
from fakes.oplog import OperationLog

#: The password of the tenant's built-in Global Administrator (a lab, not a secret).
DEFAULT_ADMIN_PASSWORD = "Lab-Admin-Passw0rd!"


class SyncedFields(NamedTuple):
    """One user as Connect's export hands it to :meth:`Tenant.upsert_synced_users`."""

    immutable_id: str
    user_principal_name: str
    display_name: str
    sam_account_name: str
    distinguished_name: str
    security_identifier: str
    domain_name: str
    account_enabled: bool
    mail: str | None = None


def meets_cloud_policy(password: str) -> bool:
    """Entra's cloud password rule: 8-256 characters and 3 of 4 character classes."""
    if not 8 <= len(password) <= 256:
        return False
    classes = [
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    ]
    return sum(classes) >= 3


def _hash(salt: bytes, password: str) -> bytes:
    return hashlib.sha256(salt + password.encode()).digest()


class Tenant(DeferredAttributes):
    """One Entra tenant. Build it with :meth:`create`.

    A tenant loaded from a lab image gets its users, their methods and its lookups when first
    read (:class:`~fakes.deferred.DeferredAttributes`)."""

    def __init__(
        self, *, tenant_id: str, domain: str, clock: SimClock, seed: int, licence: str, relay: WritebackRelay
    ) -> None:
        if licence not in C.LICENCES:
            raise ValueError(f"licence must be one of {C.LICENCES}, not {licence!r}")
        self.id = tenant_id
        self.domain = domain.lower()
        self.initial_domain = f"{self.domain.split('.')[0]}.onmicrosoft.com"
        self.display_name = self.domain.split(".")[0].capitalize()
        self.clock = clock
        self.seed = seed
        self.licence = licence
        self.relay = relay
        self.lock = threading.RLock()
        self._rng = random.Random(seed)
        self.audit = AuditLog(clock, self.new_id)
        self.oplog: OperationLog | None = None
        self.faults = FaultPlan(seed=seed)
        self.sspr_policy = SsprPolicy()
        self.onprem = OnPremisesIntegration()
        #: authorizationPolicy.allowedToUseSSPR: governs admins' SSPR (FACTS 2, SSPR_009 variant).
        self.allowed_to_use_sspr = True
        self.on_premises_sync_enabled: bool | None = None
        self.on_premises_last_sync = None
        self.sync_features: dict[str, bool] = {
            "passwordSyncEnabled": False,
            # FACTS 4.3: "isn't in use and updating it isn't supported" -> never the source of truth here.
            "passwordWritebackEnabled": False,
        }
        self.users: dict[str, User] = {}
        self._by_upn: dict[str, str] = {}
        self._by_anchor: dict[str, str] = {}
        self.groups: dict[str, Group] = {}
        self.role_assignments: dict[str, RoleAssignment] = {}
        self.methods: dict[str, tuple[AuthMethod, ...]] = {}
        self.operations: dict[str, LongRunningOperation] = {}
        #: Verification codes "sent" by SSPR: (destination, code), newest last. Tests read them here.
        self.outbox: list[tuple[str, str]] = []
        #: Live end-user SSPR flows by id (fakes.graph.sspr.SsprFlow) and reset attempts per user id.
        self.sspr_flows: dict[str, Any] = {}
        self.sspr_attempts: dict[str, list[Any]] = {}
        self._passwords: dict[str, tuple[bytes, bytes]] = {}
        self._signing: Any = None  # created by fakes.graph.auth on first use
        self.admin_upn = f"admin@{self.initial_domain}"
        self.admin_password = DEFAULT_ADMIN_PASSWORD
        #: (admin, first ordinary user) as a lab image saved them: see :meth:`token_users`.
        self.saved_token_users: tuple[User | None, User] | None = None

    # --- construction ---------------------------------------------------------------
    @classmethod
    def create(
        cls,
        *,
        tenant_id: str | None = None,
        domain: str = "contoso.com",
        clock: SimClock | None = None,
        seed: int = 0,
        licence: str = "P1",
        relay: WritebackRelay | None = None,
    ) -> Tenant:
        """A tenant with a cloud-only Global Administrator ``admin@<name>.onmicrosoft.com``."""
        rng = random.Random(f"tenant-id:{seed}")
        tid = tenant_id or str(uuid.UUID(int=rng.getrandbits(128), version=4))
        tenant = cls(
            tenant_id=tid,
            domain=domain,
            clock=clock or SimClock(),
            seed=seed,
            licence=licence,
            relay=relay or WritebackRelay(),
        )
        tenant.add_user(
            tenant.admin_upn,
            "MOD Administrator",
            password=DEFAULT_ADMIN_PASSWORD,
            roles=(C.GLOBAL_ADMINISTRATOR,),
        )
        return tenant

    def new_id(self) -> str:
        """A deterministic GUID from the tenant's seeded RNG."""
        with self.lock:
            return guid4(self._rng.getrandbits(128))

    def random_password(self) -> str:
        """A deterministic password meeting the cloud policy (for generated passwords)."""
        with self.lock:
            core = "".join(self._rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(10))
        return f"Lab{core}!9"

    @property
    def verified_domains(self) -> tuple[str, ...]:
        return (self.domain, self.initial_domain)

    # --- users ----------------------------------------------------------------------
    def add_user(
        self,
        upn: str,
        display_name: str,
        *,
        password: str | None = None,
        roles: tuple[str, ...] = (),
        account_enabled: bool = True,
        mail: str | None = None,
        **fields: Any,
    ) -> User:
        """A cloud-only user. ``roles`` are template ids or display names; ``fields`` any User field."""
        if "@" not in upn or upn.split("@", 1)[1].lower() not in self.verified_domains:
            raise ValueError(f"{upn!r} is not in a verified domain of the tenant ({self.verified_domains})")
        with self.lock:
            if upn.lower() in self._by_upn:
                raise ValueError(f"a user with userPrincipalName {upn!r} already exists")
            user = User(
                id=self.new_id(),
                user_principal_name=upn,
                display_name=display_name,
                created=self.clock.now(),
                account_enabled=account_enabled,
                mail=mail,
                **fields,
            )
            self._store(user)
            self._set_password(user.id, password or self.random_password())
            for role in roles:
                self.assign_role(user.id, role)
        return self.users[user.id]

    def _store(self, user: User) -> None:
        old = self.users.get(user.id)
        if old is not None:
            self._by_upn.pop(old.user_principal_name.lower(), None)
            if old.on_premises_immutable_id:
                self._by_anchor.pop(old.on_premises_immutable_id, None)
        self.users[user.id] = user
        self._by_upn[upn_key(user.user_principal_name)] = user.id
        if user.on_premises_immutable_id:
            self._by_anchor[user.on_premises_immutable_id] = user.id

    def get_user(self, key: str) -> User | None:
        """By object id or userPrincipalName (case-insensitive), as Graph's /users/{id|upn}."""
        with self.lock:
            user = self.users.get(key)
            if user is None:
                uid = self._by_upn.get(key.lower())
                user = self.users.get(uid) if uid else None
            return user

    def user_by_anchor(self, immutable_id: str) -> User | None:
        with self.lock:
            uid = self._by_anchor.get(immutable_id)
            return self.users.get(uid) if uid else None

    def update_user(self, user_id: str, **changes: Any) -> User:
        with self.lock:
            user = replace(self.users[user_id], **changes)
            self._store(user)
            return user

    def delete_user(self, user_id: str) -> None:
        with self.lock:
            user = self.users.pop(user_id)
            self._by_upn.pop(user.user_principal_name.lower(), None)
            if user.on_premises_immutable_id:
                self._by_anchor.pop(user.on_premises_immutable_id, None)
            self.methods.pop(user_id, None)
            self._passwords.pop(user_id, None)
            for rid in [r.id for r in self.role_assignments.values() if r.principal_id == user_id]:
                del self.role_assignments[rid]
            for g in list(self.groups.values()):
                if user_id in g.members:
                    self.groups[g.id] = replace(g, members=g.members - {user_id})

    def upsert_synced_user(
        self,
        *,
        immutable_id: str,
        user_principal_name: str,
        display_name: str,
        sam_account_name: str,
        distinguished_name: str,
        security_identifier: str,
        domain_name: str,
        account_enabled: bool,
        mail: str | None = None,
    ) -> User:
        """What Entra Connect's export does: create or update the user anchored on ``immutable_id``."""
        row = SyncedFields(immutable_id, user_principal_name, display_name, sam_account_name,
                           distinguished_name, security_identifier, domain_name, account_enabled, mail)
        return next(self.upsert_synced_users((row,)))

    def upsert_synced_users(self, rows: Iterable[SyncedFields]) -> Iterator[User]:
        """:meth:`upsert_synced_user` for each row in order, done as the result is iterated (an
        export of many users: the same users and ids as one call per row). A row whose UPN a
        cloud object holds raises ``ValueError`` there; the rows before it are stored.

        Rows given as a list or tuple go through :meth:`upsert_synced_columns` (the leading new
        users are stored together when the first user is asked for); any other iterable is read
        one row at a time, each row stored when its user is asked for."""
        if not isinstance(rows, (list, tuple)):
            yield from tenant_bulk.upsert_rows(self, rows)
        elif rows:
            yield from self.upsert_synced_columns(SyncedColumns(*zip(*rows, strict=True)))

    def upsert_synced_columns(self, columns: SyncedColumns) -> Iterator[User]:
        """:meth:`upsert_synced_users` for rows given column by column (Connect's export of a
        whole connector space): the same users, ids and errors. The leading rows that are new
        users (an initial export: all of them) are made and stored at once when the first user
        is asked for, the rest one row at a time (:mod:`fakes.graph.tenant_bulk`)."""
        return tenant_bulk.upsert_columns(self, columns)

    def remove_synced_user(self, immutable_id: str) -> None:
        user = self.user_by_anchor(immutable_id)
        if user is None:
            raise KeyError(immutable_id)
        self.delete_user(user.id)

    def mark_directory_synced(self) -> None:
        """organization.onPremisesSyncEnabled = True and lastSync = now (end of a sync cycle)."""
        with self.lock:
            self.on_premises_sync_enabled = True
            self.on_premises_last_sync = self.clock.now()

    # --- passwords ------------------------------------------------------------------
    def _set_password(self, user_id: str, password: str) -> None:
        salt = secrets.token_bytes(8)
        self._passwords[user_id] = (salt, _hash(salt, password))

    def set_cloud_password(self, user_id: str, password: str, *, force_change: bool = False) -> User:
        """Store a new cloud password (cloud-only reset/change); caller has checked policy."""
        with self.lock:
            self._set_password(user_id, password)
            return self.update_user(
                user_id,
                last_password_change=self.clock.now(),
                force_change_password_next_sign_in=force_change,
            )

    def check_password(self, user_id: str, password: str) -> bool:
        with self.lock:
            stored = self._passwords.get(user_id)
        return stored is not None and secrets.compare_digest(stored[1], _hash(stored[0], password))

    def set_password_hash(self, immutable_id: str, password: str) -> None:
        """Password hash sync export: the synced user's cloud password becomes ``password``."""
        user = self.user_by_anchor(immutable_id)
        if user is None:
            raise KeyError(immutable_id)
        with self.lock:
            self._set_password(user.id, password)
            self.update_user(user.id, last_password_change=self.clock.now())
            self.sync_features["passwordSyncEnabled"] = True

    def authenticate(self, upn: str, password: str) -> User:
        """Sign in with a password; raises :class:`TenantAuthError` ("Error getting auth token.")."""
        user = self.get_user(upn)
        if user is None or not user.account_enabled or not self.check_password(user.id, password):
            raise TenantAuthError(AUTH_TOKEN_ERROR)
        return user

    # --- groups, roles, methods ------------------------------------------------------
    def add_group(self, display_name: str, members: tuple[str, ...] = ()) -> Group:
        with self.lock:
            ids = frozenset(self._resolve(m).id for m in members)
            group = Group(
                self.new_id(),
                display_name,
                self.clock.now(),
                ids,
                mail_nickname=display_name.replace(" ", ""),
            )
            self.groups[group.id] = group
            return group

    def add_member(self, group_id: str, user: User | str) -> Group:
        with self.lock:
            group = self.groups[group_id]
            group = replace(group, members=group.members | {self._resolve(user).id})
            self.groups[group_id] = group
            return group

    def _resolve(self, user: User | str) -> User:
        found = self.get_user(user.id if isinstance(user, User) else user)
        if found is None:
            raise KeyError(f"no such user: {user!r}")
        return found

    def assign_role(self, user: User | str, role: str) -> RoleAssignment:
        template = C.ROLE_BY_NAME.get(role.lower(), role)
        if template not in C.ROLE_NAMES:
            raise ValueError(f"unknown directory role {role!r}")
        with self.lock:
            ra = RoleAssignment(self.new_id(), self._resolve(user).id, template)
            self.role_assignments[ra.id] = ra
            return ra

    def roles_of(self, user: User | str) -> frozenset[str]:
        uid = user.id if isinstance(user, User) else user
        with self.lock:
            return frozenset(
                r.role_definition_id for r in self.role_assignments.values() if r.principal_id == uid
            )

    def has_role(self, user: User | str, role_template_id: str) -> bool:
        return role_template_id in self.roles_of(user)

    def first_ordinary_user(self) -> User | None:
        """The first enabled user without an admin role, in creation order (or None)."""
        with self.lock:
            for user in self.users.values():
                if not (self.roles_of(user) & C.ADMIN_ROLES) and user.account_enabled:
                    return user
        return None

    def token_users(self) -> tuple[User | None, User]:
        """Whom a served lab's endpoint line signs tokens for: the global admin (None if it was
        deleted) and :meth:`first_ordinary_user`, added as ``labuser`` if there is none
        (docs/graph.md).

        A tenant loaded from a lab image answers from what the image saved for them
        (:attr:`saved_token_users`) while its users are still undecoded: they are the image's
        users then, and the endpoint line does not decode 100k of them.
        """
        saved = self.saved_token_users
        if saved is not None and self.is_deferred("users"):
            return saved
        with self.lock:
            plain = self.first_ordinary_user() or self.add_user(
                f"labuser@{self.initial_domain}", "Lab User", password="Lab-User-Passw0rd!")
            return self.get_user(self.admin_upn), plain

    def add_method(
        self, user: User | str, kind: str, value: str = "", *, secret: str = "", phone_type: str = "mobile"
    ) -> AuthMethod:
        """Register an authentication method (SSPR registration)."""
        if kind not in C.METHOD_KINDS:
            raise ValueError(f"method kind must be one of {C.METHOD_KINDS}")
        target = self._resolve(user)
        with self.lock:
            if kind == "phone":
                mid = C.PHONE_METHOD_IDS[phone_type]
            elif kind == "email":
                mid = C.EMAIL_METHOD_ID
            else:
                mid = self.new_id()
            method = AuthMethod(mid, kind, self.clock.now(), value, phone_type, secret)
            kept = tuple(m for m in self.methods.get(target.id, ()) if m.id != mid)
            self.methods[target.id] = (*kept, method)
        return method

    def register_for_sspr(self, user: User | str, kinds: tuple[str, ...] = ("phone", "email")) -> None:
        """Convenience: register typical methods and log the registration audit entry."""
        self.register_many_for_sspr((user,), kinds)

    def register_many_for_sspr(self, users: Iterable[User | str],
                               kinds: tuple[str, ...] = ("phone", "email")) -> int:
        """:meth:`register_for_sspr` for each user in order, at one simulated instant (a lab
        registering its synced users): the same methods, ids and audit entries as one call per
        user. A method identical for every user (the lab phone number) is one shared object.
        Returns how many users were registered. At least one kind: registering security info
        registers a method (an empty ``kinds`` is a ValueError, not an audit entry for nothing)."""
        if not kinds:
            raise ValueError("register at least one method kind")
        for kind in kinds:
            if kind not in C.METHOD_KINDS:
                raise ValueError(f"method kind must be one of {C.METHOD_KINDS}")
        return tenant_bulk.register_many(self, users, kinds)

    def methods_of(self, user: User | str) -> tuple[AuthMethod, ...]:
        with self.lock:
            return self.methods.get(self._resolve(user).id, ())

    # --- licences and writeback onboarding -------------------------------------------
    @property
    def licensed(self) -> bool:
        return self.licence in ("P1", "P2")

    def subscribed_skus(self) -> list[C.SkuInfo]:
        return [C.SKUS[self.licence]] if self.licensed else []

    def _wizard_admin(self, admin_upn: str, admin_password: str) -> User:
        user = self.authenticate(admin_upn, admin_password)
        if not self.roles_of(user) & C.WRITEBACK_ONBOARDING_ROLES:
            raise TenantPermissionError(
                f"{AUTH_TOKEN_ERROR} {admin_upn} is not a Global Administrator or Hybrid Identity "
                "Administrator."
            )
        return user

    def onboard_password_writeback(self, admin_upn: str, admin_password: str) -> None:
        """The Connect wizard enabling writeback: role + licence checks, then writeback is *supported*."""
        admin = self._wizard_admin(admin_upn, admin_password)
        if not self.licensed:
            raise TenantLicenceError(WRITEBACK_LICENCE_MESSAGE)
        with self.lock:
            self.onprem = replace(
                self.onprem,
                writeback_supported=True,
                onboarded_by=admin.user_principal_name,
                onboarded_at=self.clock.now(),
            )

    def offboard_password_writeback(self, admin_upn: str, admin_password: str) -> None:
        """The Connect wizard disabling writeback: the portal toggle becomes unusable and off."""
        self._wizard_admin(admin_upn, admin_password)
        with self.lock:
            self.onprem = replace(
                self.onprem,
                writeback_supported=False,
                writeback_enabled=False,
                onboarded_by=None,
                onboarded_at=None,
            )

    def set_sspr_policy(self, **changes: Any) -> SsprPolicy:
        with self.lock:
            self.sspr_policy = replace(self.sspr_policy, **changes)
            return self.sspr_policy

    def set_onprem(self, **changes: Any) -> OnPremisesIntegration:
        with self.lock:
            self.onprem = replace(self.onprem, **changes)
            return self.onprem

    def enable_oplog(self) -> OperationLog:
        """Start recording every HTTP request in an :class:`OperationLog` (protocol ``graph``)."""
        if self.oplog is None:
            self.oplog = OperationLog(self.clock)
        return self.oplog
