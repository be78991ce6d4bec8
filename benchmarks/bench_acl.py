"""simlab.acl and doctor's Deny analysis: SDDL/binary codec rates, one LDAP edit, one diagnosis.

Run: ``python benchmarks/bench_acl.py [--repeat N]``. Prints a table of medians over N runs:
SDDL parse and format, binary parse and encode (a user's real ~40-ACE DACL, read from a lab),
one read-edit-write of a DACL over LDAPS with ldap3, and ``diagnose(lab, user=...)`` with a
hand-made Deny in place.
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import time
from collections.abc import Callable


def _rate(fn: Callable[[], object], seconds: float = 0.5) -> float:
    """Calls per second over about ``seconds``."""
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run() -> dict[str, float]:
    import ldap3

    from simlab import acl
    from simlab.doctor import diagnose
    from simlab.lab import Lab
    from simlab.spec import LabSpec

    lab = Lab(LabSpec(population={"users": 10})).start()
    try:
        e = lab.endpoints()
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=e["ca_file"])
        server = ldap3.Server(e["ldaps_url"], use_ssl=True, tls=tls, get_info=ldap3.NONE)
        conn = ldap3.Connection(server, e["admin_dn"], e["admin_password"], auto_bind=True)
        dn = lab.user("alice").dn
        sd = acl.read(conn, dn)
        text, data, sid = acl.to_sddl(sd, lab.dc.domain_sid), acl.to_bytes(sd), lab.connector_sid()
        deny = acl.build_ace(sid, "Write pwdLastSet", deny=True)
        out = {
            "aces in the DACL": float(len(sd.dacl.aces)),
            "SDDL parse /s": _rate(lambda: acl.parse(text, lab.dc.domain_sid)),
            "SDDL format /s": _rate(lambda: acl.to_sddl(sd, lab.dc.domain_sid)),
            "binary parse /s": _rate(lambda: acl.parse(data)),
            "binary encode /s": _rate(lambda: acl.to_bytes(sd)),
            "LDAPS read-edit-write (ms)": 1000 * _timed(
                lambda: acl.write(conn, dn, acl.add_ace(acl.read(conn, dn), deny))),
        }
        out["diagnose(user=) with a Deny (ms)"] = 1000 * _timed(lambda: diagnose(lab, user="alice"))
        conn.unbind()
        return out
    finally:
        lab.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [run() for _ in range(args.repeat)]
    print(f"{'measure':36} median of {args.repeat}")
    for key in runs[0]:
        print(f"{key:36} {statistics.median(r[key] for r in runs):12.1f}")


if __name__ == "__main__":
    main()
