"""The lab spec: what a lab contains, as a validated model (YAML on disk).

Every field has a default that gives a *healthy* tutorial lab: the connector account
holds the tutorial's permissions, minimum password age is 0, writeback is on in
Connect and in the portal, unlock is allowed, SSPR is enabled for all users with a
P1 licence. Faults (:mod:`simlab.faults`) then break it the way an admin would.
See docs/spec.md for the field reference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simlab.specfile import load_model, load_yaml, validate


class _Strict(BaseModel):
    # Unknown keys are typos in a hand-written YAML file: reject them.
    model_config = ConfigDict(extra="forbid")


class DomainSpec(_Strict):
    dns: str = "contoso.com"
    netbios: str | None = None
    dc_name: str = "DC01"
    #: A second DC makes permission changes reach the writeback agent only after replication.
    dcs: int = Field(1, ge=1, le=2)
    replication_delay_minutes: int = Field(15, ge=0, le=24 * 60)

    @field_validator("dns")
    @classmethod
    def _dns(cls, value: str) -> str:
        labels = value.split(".")
        if len(labels) < 2 or not all(label and label.replace("-", "").isalnum() for label in labels):
            raise ValueError("must be a DNS domain name such as contoso.com")
        return value.lower()


class NamedUser(_Strict):
    """A user scenarios can name (``alice``), created after the seeded population."""

    sam: str = Field(pattern=r"^[A-Za-z0-9._-]{1,20}$")
    ou: str | None = None
    display_name: str | None = None
    password: str | None = None
    state: Literal["enabled", "disabled", "locked", "expired"] = "enabled"


def _default_named() -> list[NamedUser]:
    return [
        NamedUser(sam="alice", display_name="Alice Adams"),
        NamedUser(sam="bob", display_name="Bob Baker"),
    ]


class PopulationSpec(_Strict):
    #: Seeded users (faker, deterministic for the lab seed): about 1 % disabled, 0.5 % locked,
    #: 2 % with an expired password, and two IT users in protected groups.
    users: int = Field(25, ge=0, le=200_000)
    departments: list[str] = Field(
        default_factory=lambda: ["Sales", "Engineering", "Finance", "HR", "IT", "Marketing", "Support"],
        min_length=1,
    )
    named: list[NamedUser] = Field(default_factory=_default_named)
    #: Password every seeded and named user starts with (so scenarios can bind as them).
    password: str = "Winter2026!Lab"


class PasswordPolicySpec(_Strict):
    """Default Domain Policy values, in the units the GPO editor shows."""

    min_age_days: int = Field(0, ge=0, le=998)
    max_age_days: int = Field(42, ge=0, le=999)
    min_length: int = Field(7, ge=0, le=256)
    history: int = Field(24, ge=0, le=1024)
    complexity: bool = True
    lockout_threshold: int = Field(0, ge=0, le=999)
    lockout_duration_minutes: int = Field(30, ge=0, le=99_999)
    lockout_window_minutes: int = Field(30, ge=0, le=99_999)

    @model_validator(mode="after")
    def _window(self) -> PasswordPolicySpec:
        if self.lockout_threshold and self.lockout_window_minutes > self.lockout_duration_minutes:
            raise ValueError("lockout_window_minutes must not exceed lockout_duration_minutes")
        return self


class DcPolicySpec(_Strict):
    """Default Domain Controllers Policy > Security Options, as the GPO editor names them.

    ``ldap_server_signing``: *Domain controller: LDAP server signing requirements* (None /
    Require signing). ``ldap_channel_binding``: *Domain controller: LDAP server channel
    binding token requirements* (Never / When supported / Always).
    """

    ldap_server_signing: Literal["none", "require"] = "none"
    ldap_channel_binding: Literal["never", "when_supported", "always"] = "never"


class ProtectedMember(_Strict):
    user: str
    group: Literal[
        "Domain Admins",
        "Enterprise Admins",
        "Schema Admins",
        "Administrators",
        "Account Operators",
        "Server Operators",
        "Print Operators",
        "Backup Operators",
        "Replicator",
    ] = "Domain Admins"


class ConnectSpec(_Strict):
    #: ``custom`` (default): a pre-created account holding only what the lab grants it, as the tutorial
    #: assumes; ``express``: the Express install's MSOL_ account with its default rights (FACTS 8.1),
    #: whose blanket Write all properties hides missing WP lockoutTime/pwdLastSet grants.
    account: Literal["custom", "express"] = "custom"
    #: Apply the tutorial's ADUC grants (Reset, Change, WP lockoutTime/pwdLastSet, Unexpire) at build.
    tutorial_permissions: bool = True
    password_writeback: bool = True
    password_hash_sync: bool = True
    ou_filter: list[str] = Field(default_factory=list)
    staging: bool = False
    sync_interval_minutes: int = Field(30, ge=30)
    service_running: bool = True
    policy_hints_oid: Literal["1.2.840.113556.1.4.2066", "1.2.840.113556.1.4.2239"] = (
        "1.2.840.113556.1.4.2066"
    )


class SsprSpec(_Strict):
    enabled: Literal["none", "selected", "all"] = "all"
    group: str | None = None
    methods_required: int = Field(1, ge=1, le=2)
    #: Synced users with registered methods: ``all``, ``none`` or a list of sAMAccountNames.
    registered: Literal["all", "none"] | list[str] = "all"


class TenantSpec(_Strict):
    licence: Literal["P1", "P2", "none"] = "P1"
    sspr: SsprSpec = Field(default_factory=SsprSpec)
    writeback: bool = True
    cloud_sync_writeback: bool = False
    unlock: bool = True
    #: Share of Graph requests answered 429 (seeded, so deterministic) and their Retry-After.
    throttle_rate: float = Field(0.0, ge=0.0, le=1.0)
    retry_after_seconds: int = Field(1, ge=0, le=120)


class AuditSpec(_Strict):
    directory_service_changes: bool = False


class DirectorySeedSpec(_Strict):
    """Seed the lab's directory from LDIF (docs/spec.md, "Seeding from LDIF")."""

    #: A simlab export (``simlab`` header) or an ldifde / ``ldapsearch -LLL`` export of a real AD.
    #: Relative paths are resolved against the spec file's folder (or the working directory).
    ldif: str
    #: ``merge``: add to the provisioned domain, updating entries that exist; ``replace``: the
    #: directory becomes exactly the file (which must hold the domain NC head).
    mode: Literal["merge", "replace"] = "merge"
    flavor: Literal["auto", "simlab", "foreign"] = "auto"


class FaultRef(_Strict):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class LabSpec(_Strict):
    name: str = "lab"
    seed: int = 0
    domain: DomainSpec = Field(default_factory=DomainSpec)
    population: PopulationSpec = Field(default_factory=PopulationSpec)
    password_policy: PasswordPolicySpec = Field(default_factory=PasswordPolicySpec)
    dc_policy: DcPolicySpec = Field(default_factory=DcPolicySpec)
    protected: list[ProtectedMember] = Field(default_factory=list)
    audit: AuditSpec = Field(default_factory=AuditSpec)
    connect: ConnectSpec = Field(default_factory=ConnectSpec)
    tenant: TenantSpec = Field(default_factory=TenantSpec)
    faults: list[FaultRef] = Field(default_factory=list)
    directory: DirectorySeedSpec | None = None

    @field_validator("faults", mode="before")
    @classmethod
    def _fault_shorthand(cls, value: Any) -> Any:
        # Accept "- name" and "- {name: x, params: {...}}" and "- {x: {...}}".
        if not isinstance(value, list):
            return value
        out = []
        for item in value:
            if isinstance(item, str):
                out.append({"name": item})
            elif isinstance(item, dict) and "name" not in item and len(item) == 1:
                (name, params), = item.items()
                out.append({"name": name, "params": params or {}})
            else:
                out.append(item)
        return out

    @classmethod
    def load(cls, path: Path | str) -> LabSpec:
        """Read a lab spec YAML file (errors name file, line and field)."""
        spec = load_model(cls, path)
        seed = spec.directory
        if seed is not None and not Path(seed.ldif).is_absolute():
            resolved = str(Path(path).parent / seed.ldif)
            spec = spec.model_copy(update={"directory": seed.model_copy(update={"ldif": resolved})})
        return spec

    @classmethod
    def from_yaml(cls, text: str, source: str = "<string>") -> LabSpec:
        data, node = load_yaml(text, source)
        return validate(cls, data, node, source)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return cls.model_json_schema()
