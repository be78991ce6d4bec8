"""Builders shared by the Connect tests."""

from __future__ import annotations

from types import ModuleType

import ldap3
import pytest

from fakes.connect.config import ConnectorAccount, DirectoryConnection


def offline_directory(**overrides: object) -> DirectoryConnection:
    """A directory whose DC is not running (port 9 on loopback): for wizard/config tests."""
    values: dict[str, object] = dict(
        domain="contoso.com",
        base_dn="DC=contoso,DC=com",
        host="127.0.0.1",
        ldap_port=9,
        ldaps_port=9,
        ca_file=None,
        connector=ConnectorAccount(
            "CN=MSOL_0123456789ab,CN=Users,DC=contoso,DC=com", "pw", "MSOL_0123456789ab", "CONTOSO"
        ),
    )
    values.update(overrides)
    return DirectoryConnection(**values)  # type: ignore[arg-type]


def record_connections(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> list[ldap3.Connection]:
    """Every connection ``module`` makes with ``connector_connection`` from now on, in order."""
    opened: list[ldap3.Connection] = []
    make = module.connector_connection

    def recorded(*args: object) -> ldap3.Connection:
        opened.append(make(*args))
        return opened[-1]

    monkeypatch.setattr(module, "connector_connection", recorded)
    return opened
