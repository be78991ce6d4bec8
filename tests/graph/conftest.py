"""Fixtures for the Graph fake: a tenant, a scripted writeback agent, a hybrid (synced) setup."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from fakes.clock import SimClock
from fakes.graph.relay import WritebackOutcome, WritebackRequest
from fakes.graph.tenant import Tenant

USER_PASSWORD = "Initial-Passw0rd!"


@dataclass
class ScriptedAgent:
    """A stand-in for Connect's writeback service: answers with ``outcome`` and records requests."""

    outcome: WritebackOutcome = field(
        default_factory=lambda: WritebackOutcome("success", event_ids=(31001, 31002))
    )
    requests: list[WritebackRequest] = field(default_factory=list)

    def handle(self, request: WritebackRequest) -> WritebackOutcome:
        self.requests.append(request)
        return self.outcome


@pytest.fixture
def tenant(clock: SimClock) -> Tenant:
    return Tenant.create(seed=7, clock=clock)


@pytest.fixture
def agent() -> ScriptedAgent:
    return ScriptedAgent()


def add_synced(tenant: Tenant, name: str = "sam", **kw) -> object:
    return tenant.upsert_synced_user(
        immutable_id=kw.get("immutable_id", f"anchor-{name}=="),
        user_principal_name=f"{name}@contoso.com",
        display_name=name.title(),
        sam_account_name=name,
        distinguished_name=f"CN={name.title()},OU=Staff,DC=contoso,DC=com",
        security_identifier="S-1-5-21-1-2-3-1105",
        domain_name="contoso.com",
        account_enabled=True,
    )


@pytest.fixture
def hybrid(tenant: Tenant, agent: ScriptedAgent):
    """Writeback onboarded + enabled, agent registered, a registered synced user and a cloud user."""
    tenant.onboard_password_writeback(tenant.admin_upn, tenant.admin_password)
    tenant.set_onprem(writeback_enabled=True, unlock_enabled=True)
    tenant.relay.register(agent)
    synced = add_synced(tenant)
    tenant.register_for_sspr(synced)
    cloud = tenant.add_user("carol@contoso.com", "Carol", password=USER_PASSWORD)
    tenant.register_for_sspr(cloud)
    return tenant, synced, cloud
