"""The wizard, the service and the scheduler against the real fake tenant (no DC needed)."""

from __future__ import annotations

import pytest

from fakes.connect import writeback as writeback_module
from fakes.connect.config import express_connector_name
from fakes.connect.server import HYBRID_IDENTITY_ADMINISTRATOR, ConnectServer, WizardError
from fakes.graph.relay import WritebackRequest
from fakes.graph.tenant import Tenant
from tests.connect.helpers import offline_directory, record_connections


def make(clock, licence: str = "P1", **kw) -> tuple[Tenant, ConnectServer]:
    tenant = Tenant.create(clock=clock, licence=licence)
    server = ConnectServer.create(tenant=tenant, clock=clock, directory=offline_directory(), **kw)
    return tenant, server


def ids(server: ConnectServer) -> list[int]:
    return [e.event_id for e in server.eventlog.query()]


def test_enable_onboards_registers_and_logs(clock) -> None:
    tenant, server = make(clock)
    assert not tenant.relay.connected
    result = server.enable_password_writeback(tenant.admin_upn, tenant.admin_password)
    assert result.event_ids == (31004, 31017, 31018, 31005, 31015)
    assert tenant.relay.connected
    assert tenant.onprem.writeback_supported
    assert server.config.features.password_writeback
    assert all(d.password_writeback_enabled for d in server.config.directories)
    assert server.view_configuration()["Optional features"]["Password writeback"] is True


def test_wrong_password_logs_auth_token_error(clock) -> None:
    tenant, server = make(clock)
    with pytest.raises(WizardError) as info:
        server.enable_password_writeback(tenant.admin_upn, "wrong")
    assert info.value.event_ids == (31004, 32009)
    assert "Error getting auth token." in server.eventlog.query(event_ids=[32009])[0].message
    assert not tenant.relay.connected and not tenant.onprem.writeback_supported


def test_non_admin_is_refused_and_hybrid_admin_accepted(clock) -> None:
    tenant, server = make(clock)
    tenant.add_user("bob@contoso.com", "Bob", password="Bob-Passw0rd!")
    with pytest.raises(WizardError) as info:
        server.enable_password_writeback("bob@contoso.com", "Bob-Passw0rd!")
    assert info.value.event_ids == (31004, 31017, 32009)
    tenant.add_user(
        "hia@contoso.com", "Hia", password="Hia-Passw0rd!", roles=(HYBRID_IDENTITY_ADMINISTRATOR,)
    )
    assert server.enable_password_writeback("hia@contoso.com", "Hia-Passw0rd!").password_writeback


def test_no_licence_shows_the_wizard_message(clock) -> None:
    tenant, server = make(clock, licence="none")
    with pytest.raises(WizardError) as info:
        server.enable_password_writeback(tenant.admin_upn, tenant.admin_password)
    assert (
        info.value.message == "Unable to configure password writeback. Ensure you have the required license."
    )
    assert info.value.event_ids[-1] == 32011
    assert not server.config.features.password_writeback


def test_disable_offboards_and_unregisters(clock) -> None:
    tenant, server = make(clock)
    server.enable_password_writeback(tenant.admin_upn, tenant.admin_password)
    mark = server.eventlog.last_record_id()
    result = server.disable_password_writeback(tenant.admin_upn, tenant.admin_password)
    assert result.event_ids == (31012, 31017, 31016, 31013)
    assert not tenant.relay.connected and not tenant.onprem.writeback_supported
    assert [e.event_id for e in server.eventlog.query(after_record=mark)] == list(result.event_ids)


def test_disable_with_bad_credentials_logs_31014(clock) -> None:
    tenant, server = make(clock)
    server.enable_password_writeback(tenant.admin_upn, tenant.admin_password)
    with pytest.raises(WizardError) as info:
        server.disable_password_writeback(tenant.admin_upn, "nope")
    assert info.value.event_ids == (31012, 31014)
    assert tenant.relay.connected  # still enabled


def test_service_stop_makes_relay_unreachable_and_start_restores(clock) -> None:
    tenant, server = make(clock)
    server.enable_password_writeback(tenant.admin_upn, tenant.admin_password)
    server.stop_service()
    assert ids(server)[-1] == 31016
    outcome = tenant.relay.submit(WritebackRequest("reset", "t1", "AAAA", "u@contoso.com", new_password="x"))
    assert outcome.status == "unreachable"
    server.start_service()
    assert ids(server)[-1] == 31015 and tenant.relay.connected


def test_staging_mode_does_not_listen(clock) -> None:
    tenant, server = make(clock)
    server.enable_password_writeback(tenant.admin_upn, tenant.admin_password)
    server.set_staging_mode(True)
    assert not tenant.relay.connected
    server.set_staging_mode(False)
    assert tenant.relay.connected


def test_agent_that_cannot_reach_the_dc_reports_failure_not_success(clock) -> None:
    tenant, server = make(clock)
    server.enable_password_writeback(tenant.admin_upn, tenant.admin_password)
    outcome = tenant.relay.submit(
        WritebackRequest(
            "reset", "t2", "AAAAAAAAAAAAAAAAAAAAAA==", "u@contoso.com", new_password="N3w-Passw0rd!"
        )
    )
    assert outcome.status == "failure"
    assert outcome.event_ids == (31001, 33001, 31003)
    assert outcome.extra["step"] == "connect"


def test_an_unreachable_dc_leaves_the_agent_no_socket(clock, monkeypatch: pytest.MonkeyPatch) -> None:
    # ldap3 keeps the socket of a refused connection; the agent retries on every reset, so each
    # attempt must close its own rather than leave it to the garbage collector.
    tenant, server = make(clock)
    server.enable_password_writeback(tenant.admin_upn, tenant.admin_password)
    opened = record_connections(monkeypatch, writeback_module)
    for n in range(2):
        request = WritebackRequest("reset", f"t{n}", "AAAAAAAAAAAAAAAAAAAAAA==", "u@contoso.com",
                                   new_password="N3w-Passw0rd!")
        assert tenant.relay.submit(request).extra["step"] == "connect"
    assert len(opened) == 2 and all(conn.socket is None for conn in opened)


def test_scheduler_runs_every_30_minutes_while_service_runs(clock) -> None:
    _, server = make(clock)
    assert ("adsync-delta-cycle", clock.now() + server.config.schedule.interval) in clock.pending()
    server.stop_service()
    assert not [n for n, _ in clock.pending() if n == "adsync-delta-cycle"]


def test_express_name() -> None:
    assert express_connector_name("73C8A9AA6173FFFF") == "MSOL_73c8a9aa6173"
    with pytest.raises(ValueError):
        express_connector_name("xyz")
