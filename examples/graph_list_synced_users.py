#!/usr/bin/env python3
"""List the synced users of a served lab's tenant with msgraph-sdk, the way tooling would.

Reads the endpoints `simlab serve` printed (the JSON line, saved in ~/.simlab/last-lab.json,
or a file given as the first argument). The SDK talks HTTPS to the served Graph fake,
verifying it with the lab's CA, and authenticates with the ready-made Global Administrator
token.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
from pathlib import Path

import httpx
from kiota_abstractions.authentication import AccessTokenProvider, AllowedHostsValidator
from kiota_abstractions.authentication.base_bearer_token_authentication_provider import (
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph_core import GraphClientFactory


class StaticToken(AccessTokenProvider):
    """Hands the SDK the token from the endpoints file."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def get_authorization_token(self, uri: str, additional_authentication_context=None) -> str:
        return self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator([])


async def main(endpoints: dict) -> int:
    context = ssl.create_default_context(cafile=endpoints["ca_file"])
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(verify=context))
    auth = BaseBearerTokenAuthenticationProvider(StaticToken(endpoints["tokens"]["global_admin"]))
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = endpoints["graph_base_url"]  # set before building the client
    client = GraphServiceClient(request_adapter=adapter)
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        filter="onPremisesSyncEnabled eq true",
        select=["userPrincipalName", "onPremisesSamAccountName", "onPremisesDistinguishedName"],
        top=50,
    )
    page = await client.users.get(
        request_configuration=UsersRequestBuilder.UsersRequestBuilderGetRequestConfiguration(query_parameters=query)
    )
    for user in page.value:
        print(f"{user.user_principal_name}\t{user.on_premises_sam_account_name}\t{user.on_premises_distinguished_name}")
    return 0


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.home() / ".simlab" / "last-lab.json"
    sys.exit(asyncio.run(main(json.loads(path.read_text()))))
