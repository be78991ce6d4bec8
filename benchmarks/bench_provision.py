"""Provisioning, indexed-search and paged-import benchmark for the fake DC.

Run: ``python benchmarks/bench_provision.py [--ldap] [--repeat N] [sizes...]`` (default sizes
1000 10000 100000). Each size runs in a fresh subprocess so RSS is per-size. Prints:

* build time of ``provision(users=N)`` (wall and process CPU: on a shared machine CPU is the
  steadier number; the first build in a process includes importing Faker, about 0.2 s),
* RSS after the build (psutil),
* the median latency of an indexed equality search ``(sAMAccountName=<x>)`` over the whole
  domain via ``dc.search`` as Administrator,
* paged import throughput: the Connect sync's own filter, attribute list and page size, run
  as the connector account (so every entry and attribute goes through access checks), in
  process via ``dc.search`` and, with ``--ldap``, over LDAP with ldap3 as the sync does it
  (client and served DC share the process, as in ``bench_writeback``).

``--repeat N`` runs every size N times and reports the median of each figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Measure this work tree, not whatever copy of the package site-packages holds.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _paged_in_process(dc, session, flt: str, attributes: list[str], page: int) -> int:
    from fakes.ad import controls as ctl
    from fakes.ad.api import Control, Scope

    cookie, total = b"", 0
    while True:
        r = dc.search(session, dc.domain_dn, Scope.SUBTREE, flt, attributes,
                      controls=[Control(ctl.PAGED_RESULTS, False, ctl.encode_paged(page, cookie))])
        total += len(r.entries)
        control = next(c for c in r.result.controls if c.oid == ctl.PAGED_RESULTS)
        _, cookie = ctl.decode_paged(control.value)
        if not cookie:
            return total


def _paged_ldap(dc, flt: str, attributes: list[str], page: int) -> tuple[int, float]:
    import ldap3

    from fakes.ad.ldap.serve import serve_dc

    with serve_dc(dc, ldaps_port=None) as ep:
        conn = ldap3.Connection(ldap3.Server(ep.host, port=ep.ldap_port), user=ep.connector_dn,
                                password=ep.connector_password, auto_bind=True)
        try:
            t = time.perf_counter()
            entries = conn.extend.standard.paged_search(
                dc.domain_dn, flt, ldap3.SUBTREE, attributes=attributes, paged_size=page, generator=True
            )
            total = sum(1 for e in entries if e.get("type") == "searchResEntry")
            return total, time.perf_counter() - t
        finally:
            conn.unbind()


def measure(users: int, ldap: bool, searches: int = 200) -> dict[str, float]:
    import psutil

    from fakes.ad.api import Scope
    from fakes.ad.provision import provision
    from fakes.connect.sync import PAGE_SIZE, SYNC_ATTRIBUTES, USER_FILTER

    t0, c0 = time.perf_counter(), time.process_time()
    dc = provision(users=users, seed=1)
    build, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = psutil.Process().memory_info().rss / 2**20
    admin = dc.admin_session()
    sams = [e.attrs["samaccountname"][0] for e in dc.directory.lookup("objectClass", "user")][:searches]
    times = []
    for sam in sams:
        t = time.perf_counter()
        r = dc.search(admin, dc.domain_dn, Scope.SUBTREE, f"(sAMAccountName={sam})", ["distinguishedName"])
        times.append(time.perf_counter() - t)
        assert len(r.entries) == 1
    connector = dc.bind_session(dc.connector_dn, dc.connector_password)
    t = time.perf_counter()
    imported = _paged_in_process(dc, connector, USER_FILTER, SYNC_ATTRIBUTES, PAGE_SIZE)
    paged_s = time.perf_counter() - t
    assert imported >= users
    out = {
        "users": users,
        "entries": len(dc.directory),
        "build_s": round(build, 2),
        "build_cpu_s": round(build_cpu, 2),
        "rss_mb": round(rss, 1),
        "search_ms_median": round(statistics.median(times) * 1000, 3),
        "paged_per_s": round(imported / paged_s),
        "distinct_sds": len(dc.sds),
    }
    if ldap:
        total, seconds = _paged_ldap(dc, USER_FILTER, SYNC_ATTRIBUTES, PAGE_SIZE)
        assert total == imported
        out["ldap_paged_per_s"] = round(total / seconds)
    return out


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        print(json.dumps(measure(int(argv[1]), ldap=argv[2:] == ["--ldap"])))
        return
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10_000, 100_000])
    parser.add_argument("--ldap", action="store_true", help="also measure paged import over LDAP")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; medians are printed")
    args = parser.parse_args(argv)
    ldap, repeat, sizes = args.ldap, args.repeat, args.sizes
    cols = ["users", "entries", "build_s", "build_cpu_s", "rss_mb", "search_ms_median", "paged_per_s",
            "distinct_sds"] + (["ldap_paged_per_s"] if ldap else [])
    heads = ["users", "entries", "build s", "cpu s", "RSS MB", "search ms", "paged/s", "SDs", "ldap paged/s"]
    print(" ".join(f"{h:>10}" for h in heads[: len(cols)]))
    for n in sizes:
        runs = []
        for _ in range(repeat):
            out = subprocess.run([sys.executable, __file__, "--one", str(n), *(["--ldap"] if ldap else [])],
                                 capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        row = {c: statistics.median(r[c] for r in runs) for c in cols}
        print(" ".join(f"{row[c]:>10}" for c in cols))


if __name__ == "__main__":
    main(sys.argv[1:])
