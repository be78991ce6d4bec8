"""Provisioning and indexed-search benchmark for the fake DC.

Run: ``python benchmarks/bench_provision.py [sizes...]`` (default 1000 10000 100000). Each size
runs in a fresh subprocess so RSS is per-size. Prints build time, RSS after build (psutil),
and the median latency of an indexed equality search ``(sAMAccountName=<x>)`` over the whole
domain via ``dc.search`` as Administrator.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time


def measure(users: int, searches: int = 200) -> dict[str, float]:
    import psutil

    from fakes.ad.api import Scope
    from fakes.ad.provision import provision

    t0 = time.perf_counter()
    dc = provision(users=users, seed=1)
    build = time.perf_counter() - t0
    rss = psutil.Process().memory_info().rss / 2**20
    admin = dc.admin_session()
    sams = [e.attrs["samaccountname"][0] for e in dc.directory.lookup("objectClass", "user")][:searches]
    times = []
    for sam in sams:
        t = time.perf_counter()
        r = dc.search(admin, dc.domain_dn, Scope.SUBTREE, f"(sAMAccountName={sam})", ["distinguishedName"])
        times.append(time.perf_counter() - t)
        assert len(r.entries) == 1
    return {
        "users": users,
        "entries": len(dc.directory),
        "build_s": round(build, 2),
        "rss_mb": round(rss, 1),
        "search_ms_median": round(statistics.median(times) * 1000, 3),
        "distinct_sds": len(dc.sds),
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        print(json.dumps(measure(int(argv[1]))))
        return
    sizes = [int(a) for a in argv] or [1000, 10_000, 100_000]
    print(f"{'users':>8} {'entries':>8} {'build s':>8} {'RSS MB':>8} {'search ms':>10} {'SDs':>5}")
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['users']:>8} {r['entries']:>8} {r['build_s']:>8} {r['rss_mb']:>8} "
            f"{r['search_ms_median']:>10} {r['distinct_sds']:>5}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
