"""Where doctor reads from: the same surfaces a real admin has, behind one small interface.

* Active Directory over LDAP(S) with ldap3, bound as a Domain Admin.
* The Connect server's "View current configuration" page and its Application event log
  (what the wizard and ``Get-WinEvent`` show) — optional for an endpoint pair.
* The Default Domain Policy GPO as the Group Policy editor shows it (pending edits
  included) — only a lab has one; for endpoints doctor reads the applied values on the
  domain object.
* The tenant through Graph and the portal's SSPR blades over HTTP, with an admin token.

:class:`LabSource` builds all of that from a running :class:`~simlab.lab.Lab` without
touching fake internals (no ``lab.dc.directory``, no ``lab.applied_faults``);
:class:`EndpointSource` from URLs and credentials, so any LDAP + Graph pair can be examined.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

import httpx
import ldap3

from fakes.connect.ldapconn import close_quietly, closed_on_error
from simlab.doctor.bindcheck import BindTargets, endpoint_targets

if TYPE_CHECKING:
    from simlab.lab import Lab

GRAPH_BASE = "https://graph.microsoft.com/v1.0"
PORTAL_BASE = "https://main.iam.ad.ext.azure.com"


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One Application-log event as ``Get-WinEvent`` / ``simlab events --json`` show it."""

    event_id: int
    source: str
    level: str
    time: datetime
    message: str
    record_id: int = 0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EventRecord:
        return cls(
            int(d["event_id"]),
            str(d.get("source", "")),
            str(d.get("level", "")),
            datetime.fromisoformat(str(d["time"])),
            str(d.get("message", "")),
            int(d.get("record_id", 0)),
        )


@dataclass(frozen=True, slots=True)
class GpoView:
    """A GPO's settings as the editor shows them (``pending``: not yet applied; ``applied``: in force)."""

    settings: dict[str, Any]
    pending: bool
    applied: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TenantClient:
    """An httpx client plus the Graph and portal base URLs it should call."""

    http: httpx.Client
    graph_base: str
    portal_base: str


class Source(Protocol):
    """Everything doctor reads. Each method returns None when that surface is not available."""

    name: str

    def ldap(self) -> ldap3.Connection:
        """A bound connection as a Domain Admin (LDAPS or StartTLS)."""

    def base_dn(self) -> str | None:
        """The domain NC head, or None to read it from the rootDSE."""

    def connect_configuration(self) -> dict[str, Any] | None:
        """The Connect wizard's "View current configuration" page."""

    def connect_events(self) -> list[EventRecord] | None:
        """The Connect server's Application log, oldest first."""

    def gpo(self) -> GpoView | None:
        """The Default Domain Policy as the GPO editor shows it."""

    def connector_account(self) -> str | None:
        """The AD DS Connector account (``DOMAIN\\sam``, sam or DN) when Connect's page is not available."""

    def tenant(self) -> contextlib.AbstractContextManager[TenantClient | None]:
        """A client for Graph and the portal blades, authenticated as a tenant admin."""


class LabSource:
    """Reads a running lab through its public surfaces only."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.name = f"lab {lab.spec.name!r} ({lab.spec.domain.dns})"

    def ldap(self) -> ldap3.Connection:
        conn = self.lab.ldap()
        if not conn.bound:
            result = conn.result
            close_quietly(conn)
            raise ConnectionError(f"cannot bind as the lab's Domain Admin: {result}")
        return conn

    def base_dn(self) -> str | None:
        return str(self.lab.endpoints()["base_dn"])

    def connect_configuration(self) -> dict[str, Any] | None:
        return self.lab.connect.view_configuration()

    def connect_events(self) -> list[EventRecord] | None:
        return [EventRecord.from_dict(e.to_dict()) for e in self.lab.connect.eventlog.query()]

    def gpo(self) -> GpoView | None:
        # The GPO editor shows the configured values, applied or not: an admin reading the GPO.
        gpo = self.lab.gpo
        return GpoView(dict(gpo.settings.model_dump()), bool(gpo.pending))

    def dc_gpo(self) -> GpoView | None:
        """The Default Domain Controllers Policy as the GPO editor shows it."""
        gpo = self.lab.dc_gpo
        applied = gpo.applied.model_dump() if gpo.applied is not None else None
        return GpoView(dict(gpo.settings.model_dump()), bool(gpo.pending), applied)

    def bind_targets(self) -> BindTargets:
        """Where doctor's bind probes go: the lab's served LDAP and LDAPS, NTLM as DOMAIN\\Administrator."""
        ep = self.lab.endpoints()
        return BindTargets(ep["ldap_url"], ep["ldaps_url"], ep["ca_file"], ep["dns_domain"],
                           f"{ep['netbios_domain']}\\{ep['admin_dn'].split(',', 1)[0].split('=', 1)[1]}",
                           ep["admin_password"])

    def connector_account(self) -> str | None:
        return None

    @contextlib.contextmanager
    def tenant(self) -> Iterator[TenantClient | None]:
        from fakes.graph.auth import make_token
        from fakes.graph.mock import graph_mock

        tenant = self.lab.tenant
        # Signing in as the tenant's Global Administrator, as the admin would in a browser.
        token = make_token(tenant, tenant.admin_upn)
        with (
            graph_mock(tenant, pass_through=False),
            httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30.0) as client,
        ):
            yield TenantClient(client, GRAPH_BASE, PORTAL_BASE)


class EndpointSource:
    """Any LDAP + Graph endpoint pair (e.g. the JSON line ``simlab serve`` prints).

    ``graph_url`` ends in ``/v1.0``; the portal blades are looked up at ``portal_url``
    (default: the Graph URL's host root). ``events_file`` is a JSON-lines export of the
    Connect Application log (``simlab events --json``); ``connect_config_file`` a JSON copy
    of "View current configuration". ``connector`` names the AD DS Connector account when
    no Connect configuration is given (default: the single ``MSOL_*`` account, if any).
    ``ldaps_url`` is where the channel binding probe goes when ``ldap_url`` is plain LDAP on a
    non-standard port (see :mod:`simlab.doctor.bindcheck`).
    """

    def __init__(
        self,
        *,
        ldap_url: str,
        admin_dn: str,
        admin_password: str,
        ca_file: str | None = None,
        base_dn: str | None = None,
        graph_url: str | None = None,
        token: str | None = None,
        portal_url: str | None = None,
        graph_ca_file: str | None = None,
        events_file: str | Path | None = None,
        connect_config_file: str | Path | None = None,
        connector: str | None = None,
        ldaps_url: str | None = None,
    ) -> None:
        self.ldap_url, self.admin_dn, self.admin_password = ldap_url, admin_dn, admin_password
        self.ldaps_url = ldaps_url
        self.ca_file, self._base_dn = ca_file, base_dn
        self.graph_url, self.token = (graph_url.rstrip("/") if graph_url else None), token
        if portal_url is None and graph_url:
            parsed = urlparse(graph_url)
            portal_url = f"{parsed.scheme}://{parsed.netloc}"
        self.portal_url = portal_url.rstrip("/") if portal_url else None
        self.graph_ca_file = graph_ca_file or ca_file
        self.events_file, self.connect_config_file = events_file, connect_config_file
        self._connector = connector
        self.name = f"{ldap_url}" + (f" + {graph_url}" if graph_url else "")

    def ldap(self) -> ldap3.Connection:
        url = urlparse(self.ldap_url)
        secure = url.scheme == "ldaps"
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.ca_file) if self.ca_file else None
        port = url.port or (636 if secure else 389)
        server = ldap3.Server(
            url.hostname or "127.0.0.1",
            port=port,
            use_ssl=secure,
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=10,
        )
        conn = ldap3.Connection(
            server,
            user=self.admin_dn,
            password=self.admin_password,
            raise_exceptions=False,
            receive_timeout=30,
        )
        with closed_on_error(conn):
            conn.open()
            if not secure and tls is not None:
                # An admin never sends a password in clear: upgrade plain LDAP with StartTLS.
                conn.start_tls()
        if not conn.bind():
            result = conn.result or {}
            close_quietly(conn)
            hint = ""
            if result.get("result") == 8:  # LDAP signing required: a simple bind needs TLS
                hint = " (the DC requires signing: use an ldaps:// URL, or give the CA file for StartTLS)"
            raise ConnectionError(f"bind as {self.admin_dn} failed: {result.get('message', result)}{hint}")
        return conn

    def base_dn(self) -> str | None:
        return self._base_dn

    def connect_configuration(self) -> dict[str, Any] | None:
        if not self.connect_config_file:
            return None
        return json.loads(Path(self.connect_config_file).read_text(encoding="utf-8"))

    def connect_events(self) -> list[EventRecord] | None:
        if not self.events_file:
            return None
        lines = Path(self.events_file).read_text(encoding="utf-8").splitlines()
        return [EventRecord.from_dict(json.loads(line)) for line in lines if line.strip()]

    def gpo(self) -> GpoView | None:
        return None

    def bind_targets(self) -> BindTargets:
        """Probes go to this LDAP URL and ``ldaps_url`` (default: the other scheme on its standard port)."""
        targets = endpoint_targets(self.ldap_url, self.ca_file, self._base_dn, self.admin_dn,
                                   self.admin_password)
        return replace(targets, ldaps_url=self.ldaps_url) if self.ldaps_url else targets

    def connector_account(self) -> str | None:
        return self._connector

    @contextlib.contextmanager
    def tenant(self) -> Iterator[TenantClient | None]:
        if not self.graph_url or not self.token:
            yield None
            return
        verify: ssl.SSLContext | bool = True
        if self.graph_ca_file:
            verify = ssl.create_default_context(cafile=self.graph_ca_file)
        with httpx.Client(
            headers={"Authorization": f"Bearer {self.token}"}, verify=verify, timeout=30.0
        ) as client:
            yield TenantClient(client, self.graph_url, self.portal_url or self.graph_url)


def as_source(target: Any) -> Source:
    """A :class:`Source` for ``target``: a Source as is, a Lab wrapped in :class:`LabSource`."""
    from simlab.lab import Lab

    if isinstance(target, Lab):
        return LabSource(target)
    if all(hasattr(target, m) for m in ("ldap", "connect_configuration", "tenant")):
        return target
    raise TypeError(f"doctor cannot read {type(target).__name__}: give a Lab or a Source")
