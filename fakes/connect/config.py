"""The Connect server's configuration, shaped like the wizard's "View current configuration" page.

Frozen dataclasses: the server swaps whole values (``dataclasses.replace``) when the
wizard or a cmdlet changes something, so a configuration read once never changes under
the reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

#: The sync scheduler's default cycle (FACTS 8.3, [S35]).
DEFAULT_SYNC_INTERVAL = timedelta(minutes=30)

#: Policy-hints OIDs (FACTS 6.2). Connect's doc names ...2066 and Samba notes Entra uses
#: it "in practice", so the fake sends 2066 by default; 2239 is the MS-ADTS-preferred one
#: that Windows Server 2012+ also understands. Both carry the same value (Flags = 1).
POLICY_HINTS_DEPRECATED_OID = "1.2.840.113556.1.4.2066"
POLICY_HINTS_OID = "1.2.840.113556.1.4.2239"

ConnectorKind = Literal["express", "custom"]


@dataclass(frozen=True, slots=True)
class ConnectorAccount:
    """The AD DS Connector account (Express ``MSOL_xxxxxxxxxxxx`` or a custom account)."""

    dn: str
    password: str
    sam_account_name: str
    netbios_domain: str
    kind: ConnectorKind = "express"

    @property
    def display_name(self) -> str:
        """``CONTOSO\\MSOL_...`` as the Synchronization Service Manager shows it."""
        return f"{self.netbios_domain}\\{self.sam_account_name}"


@dataclass(frozen=True, slots=True)
class DirectoryConnection:
    """One synchronized directory (forest/domain) and how the AD connector reaches it.

    ``sign_and_encrypt`` is the connector's "Sign and Encrypt LDAP Traffic" setting
    (FACTS 1.2 hr 8023062C): when off, the agent talks plain LDAP and the DC refuses the
    password write. ``ou_filter`` lists the OUs selected in Domain/OU filtering (empty =
    the whole domain). ``password_writeback_enabled`` is the per-management-agent flag
    that enabling writeback sets; a directory added later lacks it (6329 0x8023061f).
    """

    domain: str
    base_dn: str
    host: str
    ldap_port: int
    ldaps_port: int
    ca_file: str | None
    connector: ConnectorAccount
    sign_and_encrypt: bool = True
    ou_filter: tuple[str, ...] = ()
    password_writeback_enabled: bool = False
    name: str = ""

    @property
    def connector_name(self) -> str:
        """The AD connector's name in Synchronization Service Manager (the forest name)."""
        return self.name or self.domain

    @classmethod
    def from_endpoints(
        cls, endpoints: object, *, domain: str, netbios: str, **overrides: object
    ) -> DirectoryConnection:
        """Build from ``serve_dc``'s DcEndpoints (host/ports/ca_file/base_dn/connector_dn/password)."""
        dn = endpoints.connector_dn  # type: ignore[attr-defined]
        sam = dn.split(",", 1)[0].split("=", 1)[1]
        account = ConnectorAccount(
            dn=dn,
            password=endpoints.connector_password,  # type: ignore[attr-defined]
            sam_account_name=sam,
            netbios_domain=netbios,
            kind="express" if sam.upper().startswith("MSOL_") else "custom",
        )
        values: dict[str, object] = dict(
            domain=domain,
            base_dn=endpoints.base_dn,  # type: ignore[attr-defined]
            host=endpoints.host,  # type: ignore[attr-defined]
            ldap_port=endpoints.ldap_port,  # type: ignore[attr-defined]
            ldaps_port=endpoints.ldaps_port,  # type: ignore[attr-defined]
            ca_file=endpoints.ca_file,  # type: ignore[attr-defined]
            connector=account,
        )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class OptionalFeatures:
    """The wizard's "Optional features" page."""

    password_hash_sync: bool = True
    password_writeback: bool = False
    exchange_hybrid: bool = False
    group_writeback: bool = False
    device_writeback: bool = False
    directory_extensions: bool = False


@dataclass(frozen=True, slots=True)
class WritebackOptions:
    """How the writeback agent talks to AD (fake-specific knobs, documented choices).

    ``unexpire_after_reset``: after a reset that does not force a change, write
    ``pwdLastSet = -1`` — the reason the tutorial grants Write pwdLastSet and Unexpire
    Password. ``policy_hints_critical``: send the control critical, so a DC that does not
    know it answers 12 (logged as 6329 "...doesn't contain the LDAP password policy control.").
    """

    policy_hints_oid: str = POLICY_HINTS_DEPRECATED_OID
    policy_hints_critical: bool = True
    unexpire_after_reset: bool = True
    source_anchor: str = "objectGUID"
    timeout_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class SyncSchedule:
    """The scheduler (``Get-ADSyncScheduler``): cycle interval and whether it runs."""

    interval: timedelta = DEFAULT_SYNC_INTERVAL
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class ConnectConfig:
    """Everything "View current configuration" lists, plus the agent's options."""

    computer_name: str
    tenant_domain: str
    entra_connector_account: str
    directories: tuple[DirectoryConnection, ...] = ()
    features: OptionalFeatures = field(default_factory=OptionalFeatures)
    staging_mode: bool = False
    schedule: SyncSchedule = field(default_factory=SyncSchedule)
    writeback: WritebackOptions = field(default_factory=WritebackOptions)
    version: str = "2.4.129.0"

    def directory_for(self, domain: str) -> DirectoryConnection | None:
        """The synchronized directory whose DNS name is ``domain`` (case-insensitive)."""
        for d in self.directories:
            if d.domain.lower() == domain.lower():
                return d
        return None

    def view(self) -> dict[str, object]:
        """The "View current configuration" page as a plain dict (no secrets)."""
        return {
            "Server": self.computer_name,
            "Version": self.version,
            "Microsoft Entra ID": {"Tenant": self.tenant_domain, "Account": self.entra_connector_account},
            "Synchronized directories": [
                {
                    "Directory": d.domain,
                    "Account": d.connector.display_name,
                    "Account type": "Express (MSOL_)" if d.connector.kind == "express" else "Custom",
                    "Sign and Encrypt LDAP Traffic": d.sign_and_encrypt,
                    "OU filtering": list(d.ou_filter) or ["(all)"],
                    "Password writeback on connector": d.password_writeback_enabled,
                }
                for d in self.directories
            ],
            "Optional features": {
                "Password hash synchronization": self.features.password_hash_sync,
                "Password writeback": self.features.password_writeback,
                "Exchange hybrid deployment": self.features.exchange_hybrid,
                "Group writeback": self.features.group_writeback,
                "Device writeback": self.features.device_writeback,
                "Directory extension attribute sync": self.features.directory_extensions,
            },
            "Staging mode": self.staging_mode,
            "Sync schedule": {
                "Interval": _format_interval(self.schedule.interval),
                "Enabled": self.schedule.enabled,
            },
            "Writeback agent": {
                "Policy hints control": self.writeback.policy_hints_oid,
                "Unexpire after reset": self.writeback.unexpire_after_reset,
                "Source anchor": self.writeback.source_anchor,
            },
        }


def _format_interval(delta: timedelta) -> str:
    # Get-ADSyncScheduler prints a TimeSpan: hh:mm:ss.
    total = int(delta.total_seconds())
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def express_connector_name(seed_hex: str) -> str:
    """``MSOL_`` + 12 lowercase hex characters, as Express names the account."""
    tail = seed_hex.lower()[:12]
    if len(tail) != 12 or any(c not in "0123456789abcdef" for c in tail):
        raise ValueError("an Express connector name needs 12 hex characters")
    return f"MSOL_{tail}"
