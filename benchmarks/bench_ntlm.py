"""Benchmark: NTLM bind + search pairs/s next to simple bind + search, same ldap3 SYNC client.

The lab DC runs in its own process (``python -m fakes.ad.ldap``, as in bench_ldap.py). One
ldap3 connection on plain 389 rebinds as a different user each round and reads its own
entry: with ``authentication=SIMPLE`` (DN + password) and with ``authentication=NTLM``
(``CONTOSO\\sam``: ldap3's Sicily bind, three round trips and the NTLMv2 check). Prints
pairs per second for both and the ratio. (A Samba column is added by the Samba benchmark.)

ldap3's NTLM needs MD4 (pycryptodome on OpenSSL 3).

Run: ``python benchmarks/bench_ntlm.py [--users 200] [--seconds 3] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import ldap3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ldap import USER_PASSWORD, bindable, start_lab, stop


def staff(port: int, info: dict) -> list[tuple[str, str]]:
    """(DN, sAMAccountName) of the ordinary users."""
    c = ldap3.Connection(ldap3.Server("127.0.0.1", port=port), user=info["admin_dn"],
                         password=info["admin_password"])
    c.bind()
    c.search(info["base_dn"], "(&(objectClass=user)(sAMAccountName=*)(userPrincipalName=*))",
             attributes=["sAMAccountName"])
    out = [(e["dn"], e["attributes"]["sAMAccountName"]) for e in c.response if e["type"] == "searchResEntry"]
    c.unbind()
    return [u for u in out if ",OU=" in u[0]]


def pairs(port: int, names: list[str], dns: list[str], auth: str, seconds: float) -> float:
    c = ldap3.Connection(ldap3.Server("127.0.0.1", port=port), user=names[0], password=USER_PASSWORD,
                         authentication=auth)
    c.open()
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        i = n % len(names)
        if not c.rebind(user=names[i], password=USER_PASSWORD, authentication=auth):
            raise RuntimeError(f"{auth} bind failed for {names[i]}: {c.result}")
        c.search(dns[i], "(objectClass=*)", search_scope=ldap3.BASE, attributes=["sAMAccountName"])
        n += 1
    c.unbind()
    return n / seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, info, _ = start_lab(args.users, Path(tmp))
        try:
            port = info["ldap_port"]
            users = staff(port, info)
            ok = set(bindable(port, [dn for dn, _ in users], USER_PASSWORD))
            users = [u for u in users if u[0] in ok][:100]
            netbios = info["base_dn"].split(",")[0].split("=")[1].upper()
            dns = [dn for dn, _ in users]
            simple = pairs(port, dns, dns, ldap3.SIMPLE, args.seconds)
            ntlm = pairs(port, [f"{netbios}\\{sam}" for _, sam in users], dns, ldap3.NTLM, args.seconds)
        finally:
            stop(proc)
    result = {"users": args.users, "simple_pairs_per_s": round(simple, 1), "ntlm_pairs_per_s": round(ntlm, 1),
              "ntlm_over_simple": round(ntlm / simple, 3)}
    print(f"{'bind+search pairs/s':<28}{'lab':>10}")
    print(f"{'  simple (DN + password)':<28}{simple:>10.1f}")
    print(f"{'  NTLM (Sicily, NTLMv2)':<28}{ntlm:>10.1f}")
    print(f"NTLM / simple = {ntlm / simple:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
