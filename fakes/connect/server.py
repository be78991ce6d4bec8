"""The simulated Entra Connect server: configuration, wizard, service, scheduler.

:class:`ConnectServer` ties the pieces together the way the real box does: the wizard's
"Customize synchronization options" path enables or disables password writeback
(tenant sign-in as Global Administrator / Hybrid Identity Administrator, licence check,
onboarding events 31004/31017/31018/31005, or 31012/31013 and 31014 on failure); the
ADSync service start/stop registers or unregisters the writeback agent on the tenant's
relay (31015/31016); the scheduler runs a delta sync every 30 simulated minutes.

The tenant is used through its Connect-facing methods only (authenticate, has_role,
onboard/offboard_password_writeback, upsert_synced_user, ...).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any

from fakes.clock import SimClock, TimerHandle
from fakes.connect import events as ev
from fakes.connect.config import (
    ConnectConfig,
    DirectoryConnection,
    OptionalFeatures,
    SyncSchedule,
    WritebackOptions,
)
from fakes.connect.sync import SyncEngine, SyncReport
from fakes.connect.writeback import WritebackService
from fakes.eventlog import EventLog

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
HYBRID_IDENTITY_ADMINISTRATOR = "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2"
WIZARD_ROLES = (GLOBAL_ADMINISTRATOR, HYBRID_IDENTITY_ADMINISTRATOR)


class WizardError(Exception):
    """The wizard refused a change; ``message`` is what it shows, ``event_ids`` what it logged."""

    def __init__(self, message: str, event_ids: tuple[int, ...]) -> None:
        super().__init__(message)
        self.message = message
        self.event_ids = event_ids


class ServiceStopped(RuntimeError):
    """The ADSync service is stopped: a sync cycle (``Start-ADSyncSyncCycle``) cannot run."""

    def __init__(self) -> None:
        super().__init__("the ADSync service is stopped")


@dataclass(frozen=True, slots=True)
class WizardResult:
    """A finished wizard run: the features now configured and the events written."""

    password_writeback: bool
    event_ids: tuple[int, ...]


class ConnectServer:
    """One Entra Connect sync server (computer ``AADCONNECT01`` by default)."""

    def __init__(
        self, config: ConnectConfig, *, tenant: Any, clock: SimClock, eventlog: EventLog | None = None,
        sync_helper: bool = False,
    ):
        self._config = config
        self.tenant = tenant
        self.clock = clock
        self.eventlog = eventlog or EventLog(clock, config.computer_name)
        self._lock = threading.RLock()
        self._running = False
        self._timer: TimerHandle | None = None
        self.sync = SyncEngine(
            tenant=tenant, clock=clock, eventlog=self.eventlog, config=lambda: self._config,
            import_helper=sync_helper,
        )
        self.writeback = WritebackService(
            eventlog=self.eventlog,
            directories=lambda: self._config.directories,
            options=lambda: self._config.writeback,
            on_success=self.sync.note_written_password,
        )

    @classmethod
    def create(
        cls,
        *,
        tenant: Any,
        clock: SimClock,
        directory: DirectoryConnection,
        computer_name: str = "AADCONNECT01",
        features: OptionalFeatures | None = None,
        staging_mode: bool = False,
        writeback: WritebackOptions | None = None,
        start: bool = True,
        sync_helper: bool = False,
    ) -> ConnectServer:
        """An installed server (Express-style settings) with one synchronized directory.

        ``features.password_writeback`` is ignored here: writeback is switched on through
        :meth:`enable_password_writeback`, as in the wizard. ``sync_helper``: full imports read
        in a helper process (:mod:`fakes.connect.import_helper`; for big directories).
        """
        feats = dataclasses.replace(features or OptionalFeatures(), password_writeback=False)
        domain = getattr(tenant, "initial_domain", "contoso.onmicrosoft.com")
        config = ConnectConfig(
            computer_name=computer_name,
            tenant_domain=domain,
            entra_connector_account=f"Sync_{computer_name}_{_short_id(tenant)}@{domain}",
            directories=(directory,),
            features=feats,
            staging_mode=staging_mode,
            writeback=writeback or WritebackOptions(),
        )
        server = cls(config, tenant=tenant, clock=clock, sync_helper=sync_helper)
        if start:
            server.start_service()
        return server

    # -- configuration -----------------------------------------------------------------
    @property
    def config(self) -> ConnectConfig:
        return self._config

    def view_configuration(self) -> dict[str, object]:
        """The wizard's "View current configuration" page."""
        view = self._config.view()
        view["Service"] = "Running" if self._running else "Stopped"
        return view

    def update_config(self, **changes: Any) -> ConnectConfig:
        """Replace top-level configuration fields (features, writeback options, schedule...)."""
        with self._lock:
            self._config = dataclasses.replace(self._config, **changes)
            return self._config

    def update_directory(self, domain: str, **changes: Any) -> DirectoryConnection:
        """Change one connector's settings, e.g. ``sign_and_encrypt=False`` or ``ou_filter=(...)``."""
        with self._lock:
            dirs = list(self._config.directories)
            for i, d in enumerate(dirs):
                if d.domain.lower() == domain.lower():
                    dirs[i] = dataclasses.replace(d, **changes)
                    self._config = dataclasses.replace(self._config, directories=tuple(dirs))
                    return dirs[i]
        raise KeyError(f"no synchronized directory {domain!r}")

    def add_directory(self, directory: DirectoryConnection) -> None:
        """Add a forest. Added after writeback was enabled, its connector lacks the writeback flag."""
        with self._lock:
            added = dataclasses.replace(directory, password_writeback_enabled=False)
            self._config = dataclasses.replace(self._config, directories=(*self._config.directories, added))

    def set_staging_mode(self, enabled: bool) -> None:
        """Staging mode: imports run, exports and writeback do not."""
        with self._lock:
            self._config = dataclasses.replace(self._config, staging_mode=enabled)
            self._refresh_registration()

    # -- wizard: Customize synchronization options -> Optional features ------------------
    def configure_writeback(self, enabled: bool, *, admin_upn: str, admin_password: str) -> WizardResult:
        """Tick or untick "Password writeback" and click Configure."""
        if enabled:
            return self.enable_password_writeback(admin_upn, admin_password)
        return self.disable_password_writeback(admin_upn, admin_password)

    def enable_password_writeback(self, admin_upn: str, admin_password: str) -> WizardResult:
        """Onboard writeback with tenant admin credentials; raises :class:`WizardError` when refused."""
        with self._lock:
            mark = self.eventlog.last_record_id()
            tenant_name = self._config.tenant_domain
            ev.write_event(self.eventlog, 31004, tenant=tenant_name, details=f"Admin: {admin_upn}")
            try:
                self.tenant.authenticate(admin_upn, admin_password)
            except Exception as exc:
                ev.write_event(self.eventlog, 32009, details=f"{admin_upn}: {exc}")
                raise WizardError(str(exc), self._ids_since(mark)) from exc
            ev.write_event(self.eventlog, 31017, admin=admin_upn, details="Onboarding")
            try:
                self.tenant.onboard_password_writeback(admin_upn, admin_password)
            except Exception as exc:
                # Role refusals come back as an auth-token error; the licence as an onboarding error.
                event_id = 32011 if type(exc).__name__ == "TenantLicenceError" else 32009
                ev.write_event(self.eventlog, event_id, details=str(exc))
                raise WizardError(str(exc), self._ids_since(mark)) from exc
            ev.write_event(self.eventlog, 31018, details="RSA 2048")
            self._set_tenant_feature(True)
            dirs = tuple(
                dataclasses.replace(d, password_writeback_enabled=True) for d in self._config.directories
            )
            features = dataclasses.replace(self._config.features, password_writeback=True)
            self._config = dataclasses.replace(self._config, directories=dirs, features=features)
            ev.write_event(self.eventlog, 31005, tenant=tenant_name, details="Password writeback is ready")
            # The tutorial's note: the first cycle after enabling re-syncs every hash (656/657).
            self.sync.request_full_password_sync()
            self._refresh_registration()
            return WizardResult(True, self._ids_since(mark))

    def disable_password_writeback(self, admin_upn: str, admin_password: str) -> WizardResult:
        """Offboard writeback (the wizard's clean-up); raises :class:`WizardError` when refused."""
        with self._lock:
            mark = self.eventlog.last_record_id()
            tenant_name = self._config.tenant_domain
            ev.write_event(self.eventlog, 31012, tenant=tenant_name, details=f"Admin: {admin_upn}")
            try:
                self.tenant.offboard_password_writeback(admin_upn, admin_password)
            except Exception as exc:
                ev.write_event(self.eventlog, 31014, tenant=tenant_name, details=str(exc))
                raise WizardError(str(exc), self._ids_since(mark)) from exc
            ev.write_event(self.eventlog, 31017, admin=admin_upn, details="Offboarding")
            self._set_tenant_feature(False)
            dirs = tuple(
                dataclasses.replace(d, password_writeback_enabled=False) for d in self._config.directories
            )
            features = dataclasses.replace(self._config.features, password_writeback=False)
            self._config = dataclasses.replace(self._config, directories=dirs, features=features)
            self._refresh_registration()
            ev.write_event(self.eventlog, 31013, tenant=tenant_name, details="Password writeback is disabled")
            return WizardResult(False, self._ids_since(mark))

    # -- service and scheduler ---------------------------------------------------------
    @property
    def service_running(self) -> bool:
        return self._running

    def start_service(self) -> None:
        """Start ADSync: the scheduler runs, and the writeback agent listens if enabled."""
        with self._lock:
            if self._running:
                return
            self._running = True
            self._refresh_registration()
            self._start_scheduler()

    def stop_service(self) -> None:
        """Stop ADSync: the agent leaves the relay (cloud requests fail: SSPR_0030)."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._refresh_registration()
            self.writeback.close()

    def run_sync_cycle(self, policy: str = "Delta") -> SyncReport:
        """``Start-ADSyncSyncCycle -PolicyType Delta|Initial``."""
        if not self._running:
            raise ServiceStopped
        return self.sync.run(policy)

    def _start_scheduler(self) -> None:
        schedule: SyncSchedule = self._config.schedule
        if schedule.enabled and self._timer is None:
            self._timer = self.clock.schedule(
                schedule.interval, self._scheduled_cycle, every=schedule.interval, name="adsync-delta-cycle"
            )

    def _scheduled_cycle(self) -> None:
        if self._running:
            self.sync.run("Delta")

    # -- internals ---------------------------------------------------------------------
    def _refresh_registration(self) -> None:
        listening = (
            self._running and self._config.features.password_writeback and not self._config.staging_mode
        )
        relay = self.tenant.relay
        was = getattr(self, "_registered", False)
        if listening and not was:
            relay.register(self.writeback)
            self._registered = True
            ev.write_event(self.eventlog, 31015, details=f"Tenant: {self._config.tenant_domain}")
        elif not listening and was:
            relay.unregister(self.writeback)
            self._registered = False
            ev.write_event(self.eventlog, 31016, details=f"Tenant: {self._config.tenant_domain}")

    def _set_tenant_feature(self, enabled: bool) -> None:
        # onPremisesSynchronization.features.passwordWritebackEnabled: documented as unused
        # (FACTS 4.3) but the wizard still writes it, so readers of the resource see it.
        features = getattr(self.tenant, "sync_features", None)
        if isinstance(features, dict):
            with self.tenant.lock:
                features["passwordWritebackEnabled"] = enabled

    def _ids_since(self, mark: int) -> tuple[int, ...]:
        return tuple(e.event_id for e in self.eventlog.query(after_record=mark))


def _short_id(tenant: Any) -> str:
    return str(getattr(tenant, "id", "00000000")).replace("-", "")[:12]
