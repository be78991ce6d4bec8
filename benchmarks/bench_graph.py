"""Requests/second for GET /users/{id} against the Graph fake, in-process and served.

Run: ``python benchmarks/bench_graph.py [--seconds 3]``. Client and server share one process
(and the GIL), as in ldaptor-graph-notes section 3b, so numbers are a floor for a served lab
with an out-of-process client. Prints one line per configuration plus a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx

from fakes.graph.auth import LabCredential, make_token
from fakes.graph.mock import graph_mock, serve_graph
from fakes.graph.tenant import Tenant
from fakes.tls import CertificateAuthority

SCOPES = ["https://graph.microsoft.com/.default"]


def _rate(fn, seconds: float) -> float:
    fn()  # warm-up (imports, first-connection setup)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


async def _arate(fn, seconds: float) -> float:
    await fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        await fn()
        n += 1
    return n / (time.perf_counter() - start)


def _sdk_client(tenant: Tenant, base_url: str | None, verify):
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.graph_request_adapter import options
    from msgraph_core import GraphClientFactory

    cred = LabCredential(tenant, tenant.admin_upn)
    if base_url is None:
        return GraphServiceClient(credentials=cred, scopes=SCOPES)
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=verify), options=options
    )
    adapter = GraphRequestAdapter(AzureIdentityAuthenticationProvider(cred, scopes=SCOPES), client=http)
    adapter.base_url = base_url
    return GraphServiceClient(request_adapter=adapter)


def run(seconds: float) -> dict[str, float]:
    tenant = Tenant.create(seed=1)
    for i in range(1000):
        tenant.add_user(f"bench{i:04d}@contoso.com", f"Bench {i:04d}")
    target = tenant.get_user("bench0500@contoso.com")
    assert target is not None
    headers = {"Authorization": f"Bearer {make_token(tenant, tenant.admin_upn, lifetime=10**8)}"}
    results: dict[str, float] = {}

    with graph_mock(tenant):
        with httpx.Client(headers=headers) as c:
            url = f"https://graph.microsoft.com/v1.0/users/{target.id}"
            results["httpx in-process (respx)"] = _rate(lambda: c.get(url).raise_for_status(), seconds)
        sdk = _sdk_client(tenant, None, None)
        results["msgraph-sdk in-process (respx)"] = asyncio.run(
            _arate(lambda: sdk.users.by_user_id(target.id).get(), seconds)
        )

    ca = CertificateAuthority.create()
    for tls in (False, True):
        scheme = "https" if tls else "http"
        with serve_graph(tenant, ca=ca, tls=tls) as ep:
            verify = ca.client_context() if tls else False
            with httpx.Client(headers=headers, verify=verify) as c:
                url = f"{ep.base_url}/users/{target.id}"
                results[f"httpx served {scheme}"] = _rate(
                    lambda c=c, url=url: c.get(url).raise_for_status(), seconds
                )
            sdk = _sdk_client(tenant, ep.base_url, verify)
            results[f"msgraph-sdk served {scheme}"] = asyncio.run(
                _arate(lambda sdk=sdk: sdk.users.by_user_id(target.id).get(), seconds)
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="measurement time per configuration")
    args = parser.parse_args()
    results = run(args.seconds)
    for name, rate in results.items():
        print(f"{name:34s} {rate:8.1f} req/s")
    print(json.dumps({k: round(v, 1) for k, v in results.items()}))


if __name__ == "__main__":
    main()
