"""Benchmark: writebacks per second end to end, and a sync cycle at 10k / 100k users.

    python benchmarks/bench_writeback.py [--writebacks 200] [--sync-users 10000 100000]

Writebacks go tenant relay -> Connect agent -> LDAPS (ldap3, policy hints) -> served DC,
each to a different user (so minimum password age never interferes). The sync figure is
an Initial cycle (paged LDAP import as the connector account + export to the tenant +
PHS events) followed by a Delta cycle with nothing changed. Prints one JSON line per
measurement.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

from fakes.ad.ldap.serve import serve_dc
from fakes.ad.provision import provision
from fakes.clock import SimClock
from fakes.connect.config import DirectoryConnection
from fakes.connect.server import ConnectServer
from fakes.graph.relay import WritebackRequest
from fakes.graph.tenant import Tenant


def _lab(users: int):
    clock = SimClock()
    t0 = time.perf_counter()
    dc = provision(domain="contoso.com", users=users, seed=0, clock=clock)
    return clock, dc, time.perf_counter() - t0


def bench_writebacks(count: int) -> dict:
    clock, dc, build = _lab(max(count + 50, 100))
    with serve_dc(dc) as ep:
        tenant = Tenant.create(clock=clock, licence="P1")
        directory = DirectoryConnection.from_endpoints(ep, domain="contoso.com", netbios=dc.netbios_name)
        server = ConnectServer.create(tenant=tenant, clock=clock, directory=directory)
        server.run_sync_cycle("Initial")
        server.enable_password_writeback(tenant.admin_upn, tenant.admin_password)
        users = [u for u in tenant.users.values() if u.synced and u.account_enabled][:count]
        statuses: dict[str, int] = {}
        t0 = time.perf_counter()
        for i, user in enumerate(users):
            outcome = tenant.relay.submit(
                WritebackRequest(
                    "reset",
                    str(uuid.UUID(int=i)),
                    user.on_premises_immutable_id or "",
                    user.user_principal_name,
                    new_password=f"Bench-{i}-Passw0rd!",
                )
            )
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
        elapsed = time.perf_counter() - t0
        server.stop_service()
    return {
        "bench": "writeback",
        "requests": len(users),
        "seconds": round(elapsed, 3),
        "per_second": round(len(users) / elapsed, 1),
        "statuses": statuses,
        "provision_s": round(build, 2),
    }


def bench_sync(users: int) -> dict:
    clock, dc, build = _lab(users)
    with serve_dc(dc) as ep:
        tenant = Tenant.create(clock=clock, licence="P1")
        directory = DirectoryConnection.from_endpoints(ep, domain="contoso.com", netbios=dc.netbios_name)
        server = ConnectServer.create(tenant=tenant, clock=clock, directory=directory)
        initial = server.run_sync_cycle("Initial")
        delta = server.run_sync_cycle("Delta")
        server.stop_service()
    synced = sum(1 for u in tenant.users.values() if u.synced)
    return {
        "bench": "sync",
        "users": users,
        "provision_s": round(build, 2),
        "initial_s": round(initial.seconds, 2),
        "initial_imported": initial.imported,
        "exported": initial.exported,
        "phs_events": initial.passwords_synced,
        "delta_s": round(delta.seconds, 2),
        "delta_imported": delta.imported,
        "tenant_synced": synced,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writebacks", type=int, default=200)
    parser.add_argument("--sync-users", type=int, nargs="*", default=[10_000])
    args = parser.parse_args()
    if args.writebacks:
        print(json.dumps(bench_writebacks(args.writebacks)), flush=True)
    for n in args.sync_users:
        print(json.dumps(bench_sync(n)), flush=True)


if __name__ == "__main__":
    main()
