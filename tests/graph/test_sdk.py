"""msgraph-sdk (GraphServiceClient) against the fake: in-process (respx) and served (uvicorn, HTTPS)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.authentication.methods.item.reset_password import (
    reset_password_post_request_body as reset_body,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph.graph_request_adapter import options as SDK_OPTIONS
from msgraph_core import GraphClientFactory

from fakes.graph import catalog as C
from fakes.graph.auth import LabCredential
from fakes.graph.mock import graph_mock, serve_graph
from fakes.graph.relay import WritebackOutcome
from fakes.graph.tenant import Tenant
from fakes.tls import CertificateAuthority
from tests.graph.conftest import ScriptedAgent, add_synced

SCOPES = ["https://graph.microsoft.com/.default"]


def populate(tenant: Tenant, n: int = 6) -> None:
    # Small on purpose: msgraph-sdk spends ~50 ms deserialising each user object (measured).
    for i in range(n):
        tenant.add_user(f"staff{i:02d}@contoso.com", f"Staff {i:02d}", department="Ops" if i < 3 else "Dev")


@contextlib.contextmanager
def sdk_clients(tenant: Tenant, mode: str):
    """Yield a factory ``make(subject) -> GraphServiceClient`` for ``mode`` in-process/http/https."""
    if mode == "inprocess":
        with graph_mock(tenant):
            yield lambda who: GraphServiceClient(credentials=LabCredential(tenant, who), scopes=SCOPES)
        return
    ca = CertificateAuthority.create()
    with serve_graph(tenant, ca=ca, tls=mode == "https") as ep:
        # msgraph-core wraps the client's transport in one whose aclose() does not close the
        # wrapped one: the test keeps its transports and closes them itself (see run_scenario).
        opened: list[httpx.AsyncHTTPTransport] = []

        def make(who):
            verify = ca.client_context() if mode == "https" else False
            opened.append(httpx.AsyncHTTPTransport(verify=verify))
            # The SDK's own options: /users/me-token-to-replace -> /me happens client-side.
            http = GraphClientFactory.create_with_default_middleware(
                client=httpx.AsyncClient(transport=opened[-1]), options=SDK_OPTIONS)
            adapter = GraphRequestAdapter(
                AzureIdentityAuthenticationProvider(LabCredential(tenant, who), scopes=SCOPES), client=http
            )
            adapter.base_url = ep.base_url  # before GraphServiceClient (ldaptor-graph-notes 3b)
            return GraphServiceClient(request_adapter=adapter)

        make.opened = opened  # type: ignore[attr-defined]
        yield make


def run_scenario(scenario, make) -> None:
    """Run ``scenario(make)`` in a fresh event loop, then close the HTTP transports it opened in
    that loop (left open, their connections outlive the loop and the served fake: ResourceWarnings)."""

    async def main() -> None:
        try:
            await scenario(make)
        finally:
            for transport in getattr(make, "opened", ()):
                await transport.aclose()

    asyncio.run(main())


async def walk_users(client: GraphServiceClient, **query) -> list:
    params = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(**query)
    page = await client.users.get(request_configuration=RequestConfiguration(query_parameters=params))
    users = list(page.value)
    hops = 0
    while page.odata_next_link and hops < 20:
        page = await client.users.with_url(page.odata_next_link).get()
        users += page.value
        hops += 1
    return users


@pytest.mark.parametrize("mode", ["inprocess", "https"])
def test_sdk_users_licences_roles(tenant: Tenant, mode: str):
    populate(tenant)

    async def scenario(make):
        client = make(tenant.admin_upn)
        everyone = await walk_users(client, top=3, select=["id", "displayName"])
        assert len(everyone) == 7 == len({u.id for u in everyone})
        ops = await walk_users(
            client, filter="department eq 'Ops'", select=["id", "displayName", "department"]
        )
        assert sorted(u.display_name for u in ops) == ["Staff 00", "Staff 01", "Staff 02"]
        one = await client.users.by_user_id("staff05@contoso.com").get()
        assert one.display_name == "Staff 05"
        skus = await client.subscribed_skus.get()
        assert [s.sku_part_number for s in skus.value] == ["AAD_PREMIUM"]
        roles = await client.directory_roles.get()
        assert [r.role_template_id for r in roles.value] == [C.GLOBAL_ADMINISTRATOR]
        ras = await client.role_management.directory.role_assignments.get()
        assert ras.value[0].role_definition_id == C.GLOBAL_ADMINISTRATOR
        me = await client.me.get()
        assert me.user_principal_name == tenant.admin_upn
        with pytest.raises(ODataError) as exc:
            await client.users.by_user_id("ghost@contoso.com").get()
        assert exc.value.response_status_code == 404 and exc.value.error.code == "Request_ResourceNotFound"

    with sdk_clients(tenant, mode) as make:
        run_scenario(scenario, make)


@pytest.mark.parametrize("mode", ["inprocess", "https"])
def test_sdk_reset_cloud_password_and_poll(tenant: Tenant, mode: str):
    user = tenant.add_user("reset.me@contoso.com", "Reset Me")

    async def scenario(make):
        client = make(tenant.admin_upn)
        methods = client.users.by_user_id(user.id).authentication
        await methods.methods.by_authentication_method_id(C.PASSWORD_METHOD_ID).reset_password.post(
            reset_body.ResetPasswordPostRequestBody(new_password="Sdk-Reset-Passw0rd")
        )
        listed = await methods.operations.get()
        assert [o.status.value for o in listed.value] == ["succeeded"]
        op = await methods.operations.by_long_running_operation_id(listed.value[0].id).get()
        assert op.status.value == "succeeded"
        assert tenant.check_password(user.id, "Sdk-Reset-Passw0rd")

    with sdk_clients(tenant, mode) as make:
        run_scenario(scenario, make)


def test_sdk_reset_synced_user_failed_operation(tenant: Tenant):
    agent = ScriptedAgent(WritebackOutcome("failure", error="PasswordPolicyViolation"))
    tenant.relay.register(agent)
    tenant.onboard_password_writeback(tenant.admin_upn, tenant.admin_password)
    tenant.set_onprem(writeback_enabled=True)
    synced = add_synced(tenant)

    async def scenario(make):
        auth = make(tenant.admin_upn).users.by_user_id(synced.id).authentication
        await auth.methods.by_authentication_method_id(C.PASSWORD_METHOD_ID).reset_password.post(
            reset_body.ResetPasswordPostRequestBody(new_password="Sdk-Reset-Passw0rd")
        )
        op = (await auth.operations.get()).value[0]
        assert op.status.value == "failed" and "PasswordPolicyViolation" in op.status_detail

    with sdk_clients(tenant, "inprocess") as make:
        run_scenario(scenario, make)
    assert agent.requests[0].kind == "admin_reset"


def test_sdk_plain_user_is_denied(tenant: Tenant):
    tenant.add_user("plain@contoso.com", "Plain")
    target = tenant.add_user("victim@contoso.com", "Victim")

    async def scenario(make):
        client = make("plain@contoso.com")
        with pytest.raises(ODataError) as exc:
            await (
                client.users.by_user_id(target.id)
                .authentication.methods.by_authentication_method_id(C.PASSWORD_METHOD_ID)
                .reset_password.post(reset_body.ResetPasswordPostRequestBody(new_password="X-Passw0rd1"))
            )
        assert exc.value.response_status_code == 403
        assert exc.value.error.code == "Authorization_RequestDenied"

    with sdk_clients(tenant, "inprocess") as make:
        run_scenario(scenario, make)


def test_sdk_retry_handler_honours_retry_after(tenant: Tenant):
    """One forced 429 with Retry-After: 1 -> the SDK waits ~1 s, retries once, succeeds."""

    async def scenario(make):
        client = make(tenant.admin_upn)
        tenant.faults.force("throttle", retry_after=1)
        start = time.monotonic()
        org = await client.organization.get()
        waited = time.monotonic() - start
        assert org.value[0].id == tenant.id
        assert 0.9 <= waited < 5
        assert [k for _, k in tenant.faults.injected] == ["throttle"]
        # With retries disabled the 429 surfaces as an ODataError with Graph's code.
        tenant.faults.force("throttle", retry_after=1)
        cfg = RequestConfiguration(options=[RetryHandlerOption(max_retries=0)])
        with pytest.raises(ODataError) as exc:
            await client.organization.get(request_configuration=cfg)
        assert exc.value.response_status_code == 429 and exc.value.error.code == "TooManyRequests"

    with sdk_clients(tenant, "inprocess") as make:
        run_scenario(scenario, make)
