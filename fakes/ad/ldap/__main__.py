"""``python -m fakes.ad.ldap``: provision a DC, serve it, print one JSON line of endpoints.

Runs until SIGINT/SIGTERM, then stops the listeners cleanly. Used by the benchmark to
serve the lab in its own process (like slapd) and handy for poking a lab by hand.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakes.ad.ldap", description=__doc__)
    parser.add_argument("--domain", default="contoso.com")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--ldap-port", type=int, default=0)
    parser.add_argument("--ldaps-port", type=int, default=0)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--allow-non-loopback", action="store_true")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    from fakes.ad.ldap.serve import serve_dc
    from fakes.ad.provision import provision

    dc = provision(domain=args.domain, users=args.users, seed=args.seed)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with serve_dc(dc, host=args.host, ldap_port=args.ldap_port, ldaps_port=args.ldaps_port,
                  workdir=args.workdir, allow_non_loopback=args.allow_non_loopback) as ep:
        line = ep.to_json()[:-1] + f', "startup_seconds": {time.perf_counter() - started:.4f}}}'
        print(line, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
