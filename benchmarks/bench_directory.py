"""Directory store benchmark: build time, RSS, indexed equality and non-indexed substring search.

Indexes are made the first time a query needs them (fakes/ad/indexes.py), so the build time no
longer includes them: ``first eq ms`` is the first equality search (which makes the
sAMAccountName index), ``indexes ms`` making every other index, ``eq us`` a search after that.

Run: ``python benchmarks/bench_directory.py [sizes...]`` (default 1000 10000 100000). Each size
runs in a fresh subprocess so RSS numbers do not include earlier runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from uuid import UUID

DOMAIN_SID = "S-1-5-21-1004336348-1177238915-682003330"


def run(n: int) -> dict[str, float]:
    import psutil

    from fakes.ad.api import Scope
    from fakes.ad.directory import Directory
    from fakes.ad.filters import parse_filter, sid_to_bytes
    from fakes.ad.indexes import INDEX_NAMES
    from fakes.ad.schema import default_schema

    proc = psutil.Process()
    schema = default_schema()
    rss0 = proc.memory_info().rss
    t0 = time.perf_counter()
    d = Directory(schema)
    root = d.add(None, "DC=contoso,DC=com",
                 {"objectClass": ["top", "domain", "domainDNS"], "dc": ["contoso"]})
    ou = d.add(root, "OU=Staff", {"objectClass": ["top", "organizationalUnit"], "ou": ["Staff"]})
    classes = schema.object_class_values("user")
    category = ["CN=Person,CN=Schema,CN=Configuration,DC=contoso,DC=com"]
    sd = b"\x01\x00\x04\x9c" + b"\x00" * 200  # one shared (interned) SD, as the DC stores them
    for i in range(n):
        name = f"User {i:06d}"
        sam = f"user{i:06d}"
        d.add(ou, f"CN={name}", {
            "objectClass": classes, "objectCategory": category, "cn": [name], "name": [name],
            "sn": [f"{i:06d}"], "givenName": ["User"], "displayName": [name],
            "sAMAccountName": [sam], "userPrincipalName": [f"{sam}@contoso.com"],
            "mail": [f"{sam}@contoso.com"],
            "objectSid": [sid_to_bytes(f"{DOMAIN_SID}-{1000 + i}")], "userAccountControl": ["512"],
            "pwdLastSet": ["134120000000000000"], "accountExpires": ["9223372036854775807"],
            "primaryGroupID": ["513"], "sAMAccountType": ["805306368"], "instanceType": ["4"],
            "whenCreated": ["20260105090000.0Z"], "uSNCreated": [str(5000 + i)],
        }, guid=UUID(int=i + 10), sd=sd)
    build = time.perf_counter() - t0
    rss = (proc.memory_info().rss - rss0) / 2**20
    eq = parse_filter(f"(sAMAccountName=user{n // 2:06d})")
    t0 = time.perf_counter()
    hits = list(d.search(root, Scope.SUBTREE, eq))
    first_eq_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    for name in INDEX_NAMES:
        d._ix.table(name)
    indexes_ms = (time.perf_counter() - t0) * 1e3
    k = 2000
    t0 = time.perf_counter()
    for _ in range(k):
        hits = list(d.search(root, Scope.SUBTREE, eq))
    eq_us = (time.perf_counter() - t0) / k * 1e6
    assert len(hits) == 1
    sub = parse_filter("(displayName=*r 0000*)")
    t0 = time.perf_counter()
    hits = list(d.search(root, Scope.SUBTREE, sub))
    sub_ms = (time.perf_counter() - t0) * 1e3
    assert len(hits) == min(n, 100)
    return {"n": n, "build_s": build, "per_entry_us": build / n * 1e6, "rss_mb": rss, "eq_us": eq_us,
            "substr_ms": sub_ms, "total_rss_mb": proc.memory_info().rss / 2**20, "first_eq_ms": first_eq_ms,
            "indexes_ms": indexes_ms}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run(int(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sizes", nargs="*", type=int, default=[1_000, 10_000, 100_000])
    sizes = parser.parse_args().sizes
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"{'entries':>8} {'build s':>8} {'us/entry':>9} {'+RSS MB':>8} {'first eq ms':>12} "
          f"{'indexes ms':>11} "
          f"{'RSS MB':>7} {'eq us':>7} {'substr ms':>10}")
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True,
                             cwd=here, env={**os.environ, "PYTHONPATH": here}, check=True)
        r = json.loads(out.stdout)
        print(f"{r['n']:>8} {r['build_s']:>8.2f} {r['per_entry_us']:>9.1f} {r['rss_mb']:>8.1f} "
              f"{r['first_eq_ms']:>12.1f} {r['indexes_ms']:>11.1f} "
              f"{r['total_rss_mb']:>7.1f} {r['eq_us']:>7.1f} {r['substr_ms']:>10.1f}")


if __name__ == "__main__":
    main()
