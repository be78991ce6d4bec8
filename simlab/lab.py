"""A whole lab built from a :class:`~simlab.spec.LabSpec`: DC, tenant, Connect server, clock.

The DC is always served on loopback (the Connect agent reaches it over LDAPS, like the
real one); Graph is reachable in-process through :meth:`Lab.graph_mock` and, when asked,
served over HTTPS. Everything time-based reads the lab's :class:`SimClock`.

    with Lab(LabSpec.load("labs/tutorial.yaml")) as lab:
        attempt = lab.sspr_reset("alice", "N3w-Passw0rd!")
        assert attempt.ok
"""

from __future__ import annotations

import contextlib
import dataclasses
import operator
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fakes.ad.api import Change, ModOp
from fakes.ad.ldap.serve import DcEndpoints, serve_dc
from fakes.ad.provision import OuLayout, provision
from fakes.clock import SimClock
from fakes.connect.config import DirectoryConnection, OptionalFeatures, WritebackOptions
from fakes.connect.server import ConnectServer, WizardError
from fakes.connect.sync import HELPER_MIN_USERS
from fakes.gc_pause import gc_paused
from fakes.graph.tenant import Tenant
from fakes.oplog import OperationLog
from fakes.tls import CertificateAuthority
from simlab.gpo import DcPolicyGpo, DomainPolicyGpo, GpoRefresh
from simlab.lab_admin import DirectoryAdmin
from simlab.lab_image import ImageUnusable, LabImages
from simlab.lab_types import Attempt, BindResult, LabError, Transport, UserRef
from simlab.lab_users import CloudActions
from simlab.progress import BuildProgress

if TYPE_CHECKING:
    from simlab.spec import LabSpec
    from simlab.spec_data import SpecData

__all__ = ["Attempt", "BindResult", "Lab", "LabError", "Transport", "UserRef"]


def _import_graph_server() -> None:
    """Import what :meth:`Lab.serve_graph` will need (uvicorn, Starlette, the Graph app: about
    40 ms), while the initial sync's helper process reads the directory and this process waits
    for it (no other moment of a cold start has this one idle)."""
    import uvicorn.protocols.http.h11_impl  # noqa: F401  (what uvicorn's server loads first)

    import fakes.graph.mock  # noqa: F401


def _release_freed_memory() -> None:
    """Give the C heap's free pages back to the OS (glibc's ``malloc_trim``; a no-op elsewhere).

    Loading an image frees the decompressed payload, the decoder's string memo and the rows
    it built the entries from; glibc keeps those pages mapped (about 35 MiB at 100k users)
    unless asked. Cheap (milliseconds), so it runs after every build too.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes  # here: only a started lab needs it

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (e.g. musl has no malloc_trim)
        return
    trim(0)


_SYNC_ENABLED = operator.attrgetter("on_premises_sync_enabled")  # truthy exactly when User.synced


class Lab(DirectoryAdmin, CloudActions, LabImages):
    """One lab: build with :meth:`start` (or ``with``), tear down with :meth:`close`."""

    def __init__(
        self,
        spec: LabSpec | SpecData | None = None,
        *,
        host: str = "127.0.0.1",
        ldap_port: int = 0,
        ldaps_port: int = 0,
        workdir: str | Path | None = None,
        apply_faults: bool = True,
        standard_ports: bool = False,
        cache: bool = False,
        progress: BuildProgress | None = None,
        save_in_background: bool | Literal["big"] = False,
    ) -> None:
        """``standard_ports=True`` serves LDAP on 389 and LDAPS on 636 of a loopback address of
        the lab's own (127.0.0.2, 127.0.0.3, ... the first where both are free); ``host`` and
        the ports are then ignored. ``cache=True`` loads the lab from its image in the image
        cache when there is one and saves it there after a cold build (``SIMLAB_NO_CACHE=1``
        overrides; see docs/images.md). ``progress`` reports the build's phases (see
        :mod:`simlab.progress`). ``save_in_background=True`` writes a cold build's image from a
        forked child after :meth:`start` returns (the lab is ready at once; see
        :attr:`image_save`), ``"big"`` only a lab whose save takes a second or more
        (:data:`simlab.image_saver.BACKGROUND_MIN_ENTRIES`); without ``fork`` it saves before
        returning, as by default."""
        if spec is None:
            from simlab.spec import LabSpec

            spec = LabSpec()
        #: The lab's spec: a LabSpec, or in a lab ``simlab serve`` started from the image cache
        #: the :class:`~simlab.spec_data.SpecData` that reads like it (no pydantic on that path).
        self.spec = spec
        self._host, self._ldap_port, self._ldaps_port = host, ldap_port, ldaps_port
        self.standard_ports = standard_ports
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="simlab-"))
        self._apply_faults = apply_faults
        self._cache = cache
        self._progress = progress or BuildProgress()
        #: "off", "hit" (loaded from an image), "miss" (built and saved) or "rejected" (bad image, rebuilt).
        self.cache_status = "off"
        self.cache_message = ""
        self._save_in_background = save_in_background
        #: The background image save (simlab.image_saver.BackgroundSave) of a cold build, if any.
        self.image_save: Any = None
        self._stack = contextlib.ExitStack()
        self.applied_faults: list[str] = []
        self.ldif_import: Any = None  # simlab.ldif.LdifImport when spec.directory seeded the lab
        self.started = False

    # -- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Lab:
        if self.started:
            return self
        try:
            # Building/loading makes millions of long-lived objects: the cyclic GC would rescan the
            # growing heap again and again (superlinear); refcounting still frees acyclic garbage.
            with gc_paused():
                self._build_or_rebuild()
            _release_freed_memory()
        except BaseException:
            self.close()
            raise
        self.started = True
        return self

    def _build_or_rebuild(self) -> None:
        try:
            self._build()
        except ImageUnusable:
            self._teardown()  # the skeleton could not take the image: build it properly
            self._build(use_image=False)

    def _teardown(self) -> None:
        connect = getattr(self, "connect", None)
        if connect is not None:
            connect.stop_service()
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self.applied_faults = []

    def close(self) -> None:
        if self.image_save is not None:
            self.image_save.cancel()  # a lab stopped during its save leaves no partial file
            self.image_save = None
        connect = getattr(self, "connect", None)
        if connect is not None:
            connect.stop_service()
        self._stack.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.started = False

    def release_image_save(self) -> Any:
        """Let this lab's background image save (if any) outlive :meth:`close`: the save, now
        nobody's but :mod:`simlab.image_saver`'s (``finish_all`` waits for it), or None."""
        save, self.image_save = self.image_save, None
        return save

    def reset(self, spec: LabSpec | SpecData | None = None) -> Lab:
        """Throw the lab away and build it again from its spec, or from ``spec`` if given.

        Ports given explicitly are kept; ephemeral ones change, so re-read :meth:`endpoints`.
        """
        self.close()
        if spec is not None:
            self.spec = spec
        if self._own_workdir:
            self.workdir = Path(tempfile.mkdtemp(prefix="simlab-"))
        self._stack = contextlib.ExitStack()
        self.applied_faults = []
        return self.start()

    def _build(self, *, use_image: bool = True) -> None:
        spec = self.spec
        found = self._lookup_image(load=use_image)
        image = found.data if found is not None else None
        # A skeleton without faults skips what the image replaces whole (the sync engine's state,
        # the wizard's configuration and events). Faults act on a synced, configured lab: with
        # them the skeleton does it all, so each fault sees what it sees in a built lab.
        skeleton_only = image is not None and not (self._apply_faults and spec.faults)
        # Without an LDIF to seed either, it makes no directory entry at all (the image brings
        # every one): the DC starts empty, named after the image's accounts (docs/images.md).
        bare = skeleton_only and spec.directory is None
        progress = self._progress
        progress.phase("Building the directory" if image is None else "Building the lab skeleton")
        self.clock = SimClock()
        self.oplog = OperationLog(self.clock)
        self.ldap_endpoints: DcEndpoints | None = None
        self.ca = CertificateAuthority.create(f"simlab {spec.name} CA")
        self.ca_file = str(self.ca.write(self.workdir))
        custom = spec.connect.account != "express"
        layout = OuLayout(departments=tuple(spec.population.departments))
        self.dc = provision(
            domain=spec.domain.dns,
            netbios=spec.domain.netbios,
            dc_name=spec.domain.dc_name,
            clock=self.clock,
            seed=spec.seed,
            users=0 if image is not None else spec.population.users,  # the image brings the population
            user_password=spec.population.password,
            ou_layout=layout,
            oplog=self.oplog,
            connector_rights="none" if custom else "express",
            # Served while the population's helper process starts (it loads Faker meanwhile).
            population_started=self._serve_dc_of,
            bare=bare,
        )
        if bare:
            self._take_accounts(found)
        if spec.domain.dcs > 1:
            # A second DC: the agent's DC sees DACL edits only after replication.
            self.dc.replication_delay = spec.domain.replication_delay_minutes * 60.0
        self.dc.audit_directory_service_changes = spec.audit.directory_service_changes
        self.gpo = DomainPolicyGpo(self.dc, spec.password_policy)
        self.dc_gpo = DcPolicyGpo(self.dc, spec.dc_policy)
        self.gpo_refresh = GpoRefresh(self.dc, self.gpo, self.dc_gpo)
        self.ldif_import = None
        if not bare:
            self.gpo_refresh.apply_now()
            self.ldif_import = self._seed_directory()
            self._named_users()
            self._protected_members()
            if spec.connect.tutorial_permissions:
                self.grant_tutorial_permissions()
            self.dc.sdprop.run()
        progress.phase("Serving LDAP")
        if self.ldap_endpoints is None:  # (a lab without users: the population did not serve it)
            self.ldap_endpoints = self._serve_dc()
        self.tenant = Tenant.create(
            domain=spec.domain.dns, clock=self.clock, seed=spec.seed, licence=spec.tenant.licence
        )
        self.tenant.oplog = self.oplog  # Graph and portal requests join the LDAP ones in one log
        self.tenant.faults.configure(
            throttle_rate=spec.tenant.throttle_rate, retry_after=spec.tenant.retry_after_seconds
        )
        self._sspr_policy()
        directory = DirectoryConnection.from_endpoints(
            self.ldap_endpoints,
            domain=spec.domain.dns,
            netbios=self.dc.netbios_name,
            ou_filter=tuple(spec.connect.ou_filter),
        )
        if spec.connect.account != "express":
            # Same MSOL_-style name, but "View current configuration" must not call it an Express account.
            directory = dataclasses.replace(
                directory, connector=dataclasses.replace(directory.connector, kind="custom")
            )
        self.connect = ConnectServer.create(
            tenant=self.tenant,
            clock=self.clock,
            directory=directory,
            features=OptionalFeatures(password_hash_sync=spec.connect.password_hash_sync),
            staging_mode=spec.connect.staging,
            writeback=WritebackOptions(policy_hints_oid=spec.connect.policy_hints_oid),
            sync_helper=image is None and spec.population.users >= HELPER_MIN_USERS,  # not for a skeleton
        )
        progress.phase("Initial sync")
        if not skeleton_only:
            self.connect.sync.while_helper_reads = _import_graph_server  # (big labs' helper only)
            try:
                self.connect.run_sync_cycle("Initial")
            finally:
                self.connect.sync.while_helper_reads = None
        if spec.connect.password_writeback and not skeleton_only:
            try:
                self.connect.enable_password_writeback(self.tenant.admin_upn, self.tenant.admin_password)
            except WizardError as err:
                raise LabError(f"the Connect wizard could not enable writeback: {err.message}") from err
        self.tenant.set_onprem(
            writeback_enabled=spec.tenant.writeback,
            unlock_enabled=spec.tenant.unlock,
            cloud_sync_writeback_enabled=spec.tenant.cloud_sync_writeback,
        )
        self._register_methods()
        if not spec.connect.service_running:
            self.connect.stop_service()
        if self._apply_faults and spec.faults:
            from simlab.faults import FaultError, apply_fault

            for ref in spec.faults:
                try:
                    apply_fault(self, ref.name, **ref.params)
                except FaultError as err:
                    # A spec the lab cannot be built from is a LabError, whatever step refused it
                    # (e.g. graph-throttled before unlock-off: the portal answers the change 429).
                    raise LabError(f"faults: {ref.name!r} could not be applied: {err}") from err
        self.build_mark = self.oplog.mark()
        self.event_mark = self.connect.eventlog.last_record_id()
        if found is not None:
            self._finish_image(found)
        if image is None:  # after the save (or its fork): an image load parks its log itself
            from simlab import parked_log

            parked_log.park(self.connect.eventlog, shared=parked_log.connector_strings(self.connect))

    def _serve_dc_of(self, dc: Any) -> None:
        """Serve the DC being provisioned, before its users are made (see ``population_started``)."""
        self.dc = dc
        self.ldap_endpoints = self._serve_dc()

    def _serve_dc(self) -> DcEndpoints:
        """Serve the DC on the asked address and ports, or on 389/636 of a free loopback address."""
        def serve(host: str, ldap_port: int, ldaps_port: int) -> DcEndpoints:
            served = serve_dc(self.dc, host=host, ldap_port=ldap_port, ldaps_port=ldaps_port, ca=self.ca,
                              workdir=self.workdir)
            return self._stack.enter_context(served)

        if not self.standard_ports:
            return serve(self._host, self._ldap_port, self._ldaps_port)
        from twisted.internet.error import CannotListenError

        from simlab.loopback import LDAP_PORT, LDAPS_PORT, NoFreeLoopbackError, free_loopback_hosts

        for host in free_loopback_hosts():
            try:
                return serve(host, LDAP_PORT, LDAPS_PORT)
            except (CannotListenError, OSError):
                continue  # another lab took it between the probe and the listen: try the next one
        raise NoFreeLoopbackError("no loopback address with ports 389 and 636 free")

    def _seed_directory(self) -> Any:
        """Load ``spec.directory.ldif`` (after the GPO, so a file's own policy is noticed and overruled)."""
        seed = self.spec.directory
        if seed is None:
            return None
        from simlab.ldif import LdifError, load_ldif

        applied = self.dc.policy()
        try:
            result = load_ldif(self.dc, seed.ldif, mode=seed.mode, flavor=seed.flavor,
                               default_password=self.spec.population.password)
        except LdifError as err:
            raise LabError(f"directory.ldif: {err}") from err
        if self.dc.policy() != applied:  # the file brought other policy values: the GPO wins again
            self.gpo.applied = None
            self.gpo.apply_now()
        return result

    def _named_users(self) -> None:
        for named in self.spec.population.named:
            if self.ldif_import is not None and self.dc.directory.lookup("samaccountname", named.sam):
                continue  # seeded from the LDIF: the file's account wins
            self.create_user(named.sam, ou=named.ou, password=named.password or self.spec.population.password,
                             state=named.state, display_name=named.display_name)

    def _protected_members(self) -> None:
        admin = self.dc.admin_session()
        for member in self.spec.protected:
            user = self.user(member.user)
            group = self.dc.directory.lookup("samaccountname", member.group)
            group_dn = group[0].dn if group else None
            if group_dn is None:
                hits = [e for e in self.dc.directory.lookup("cn", member.group) if e.object_class == "group"]
                if not hits:
                    raise LabError(f"protected: no group named {member.group!r}")
                group_dn = hits[0].dn
            group_entry = self.dc.directory.get(group_dn)
            if group_entry is not None and self.dc.directory.get(user.dn) in self.dc.directory.members(
                    group_entry):
                continue  # already a member (seeded from an LDIF)
            self.dc.modify(admin, group_dn, [Change(ModOp.ADD, "member", (user.dn,))])

    def _sspr_policy(self) -> None:
        sspr_spec = self.spec.tenant.sspr
        group_id = None
        if sspr_spec.enabled == "selected":
            group = self.tenant.add_group(sspr_spec.group or "SSPR Users")
            group_id = group.id
        self.tenant.set_sspr_policy(
            enablement=sspr_spec.enabled, group_id=group_id, methods_required=sspr_spec.methods_required
        )

    def _register_methods(self) -> None:
        registered = self.spec.tenant.sspr.registered
        if registered == "none":
            return
        wanted = None if registered == "all" else {s.lower() for s in registered}
        # One bulk call (100k users at 100k): the same methods, ids and audit entries as one
        # register_for_sspr per user in this order.
        users = list(self.tenant.users.values())
        if wanted is None:  # (User.synced, read without a Python call per user)
            self.tenant.register_many_for_sspr(list(filter(_SYNC_ENABLED, users)))
            return
        self.tenant.register_many_for_sspr([
            user for user in users
            if user.synced and (user.on_premises_sam_account_name or "").lower() in wanted
        ])

    # -- LDIF and snapshots ------------------------------------------------------------------
    def save_ldif(self, path: str | Path, *, secrets: bool = True) -> Path:
        """Write the directory as LDIF (``secrets=False`` leaves out the lab-only password digests)."""
        from simlab.ldif import save_ldif

        return save_ldif(self.dc, path, secrets=secrets)

    def snapshot(self) -> Any:
        """Everything mutable in the lab, to :meth:`restore` later (no rebuild, same ports)."""
        from simlab.snapshot import take_snapshot

        return take_snapshot(self)

    def restore(self, snap: Any) -> None:
        """Return to ``snap`` (taken from this lab). The clock stays where it is."""
        from simlab.snapshot import restore_snapshot

        restore_snapshot(self, snap)

    # -- time ------------------------------------------------------------------------------
    def advance(self, **kwargs: float) -> list[str]:
        """Move simulated time (``minutes=60`` runs SDProp, sync cycles, GPO refresh as they fall due)."""
        return self.clock.advance(**kwargs)

    def gpupdate(self) -> None:
        """``gpupdate /force`` on the DC: pending edits of both GPOs (domain, DCs) take effect now."""
        self.gpo_refresh.apply_now()

    # -- what a lab exposes ------------------------------------------------------------------
    def endpoints(self) -> dict[str, Any]:
        """What clients need: URLs, address and ports, names, credentials (one JSON line in serve).

        ``dns_host_name`` is the DC's dNSHostName (the LDAPS certificate carries it, the
        domain's DNS name and the served address as SANs); ``netbios_domain`` /
        ``dns_domain`` are the domain's two names (``DOMAIN\\user`` and ``user@domain``).
        """
        ep = self.ldap_endpoints
        return {
            "ldap_url": ep.ldap_url,
            "ldaps_url": ep.ldaps_url,
            "host": ep.host,
            "ldap_port": ep.ldap_port,
            "ldaps_port": ep.ldaps_port,
            "ca_file": ep.ca_file,
            "base_dn": ep.base_dn,
            "domain": self.spec.domain.dns,
            "netbios": self.dc.netbios_name,
            "dns_domain": self.dc.dns_domain,
            "netbios_domain": self.dc.netbios_name,
            "dns_host_name": self.dc.dns_host_name,
            "dc_name": self.dc.dc_name,
            "admin_dn": ep.admin_dn,
            "admin_upn": f"Administrator@{self.spec.domain.dns}",
            "admin_password": ep.admin_password,
            "connector_dn": ep.connector_dn,
            "connector_password": ep.connector_password,
            "tenant_id": self.tenant.id,
            "tenant_admin_upn": self.tenant.admin_upn,
            "tenant_admin_password": self.tenant.admin_password,
            "user_password": self.spec.population.password,
        }

    def env(self) -> dict[str, str]:
        """Environment variables handed to external commands in scenarios."""
        env = {f"SIMLAB_{k.upper()}": str(v) for k, v in self.endpoints().items() if v is not None}
        env["LDAPTLS_CACERT"] = self.ldap_endpoints.ca_file
        return env

    @contextlib.contextmanager
    def graph_mock(self) -> Iterator[Any]:
        """Intercept https://graph.microsoft.com (and the portal hosts) for httpx clients."""
        from fakes.graph.mock import graph_mock

        with graph_mock(self.tenant) as router:
            yield router

    def serve_graph(self) -> Any:
        """Serve Graph over HTTPS on loopback for the rest of the lab's life; returns its endpoints."""
        from fakes.graph.mock import serve_graph

        self.graph_endpoints = self._stack.enter_context(
            serve_graph(self.tenant, host=self._host if self._host.startswith("127.") else "127.0.0.1",
                        ca=self.ca)
        )
        return self.graph_endpoints
