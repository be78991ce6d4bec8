"""Standard ports made easy: find a loopback address of the lab's own where 389 and 636 are free.

Many tools hard-code 389/636. Linux routes all of 127.0.0.0/8 to the loopback interface, so
each lab can take its own address (127.0.0.2, 127.0.0.3, ...) and the standard ports there,
and several labs run side by side. "Free" is decided the only reliable way: by binding
both ports (with ``SO_REUSEADDR``, as Twisted's listener does) and letting go again; the
caller still retries on the next address if another process wins the race in between.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterator

LDAP_PORT = 389
LDAPS_PORT = 636
#: How many addresses :func:`candidates` offers (127.0.0.2 upwards; 127.0.0.1 is everyone's).
SEARCH_LIMIT = 4096


class NoFreeLoopbackError(RuntimeError):
    """No loopback address with both standard ports free (or binding 389 is not permitted)."""


def candidates(limit: int = SEARCH_LIMIT) -> Iterator[str]:
    """Loopback addresses to try, in order: 127.0.0.2, 127.0.0.3, ..., 127.0.1.0, ..."""
    first = int(ipaddress.IPv4Address("127.0.0.2"))
    for n in range(limit):
        addr = ipaddress.IPv4Address(first + n)
        if str(addr).endswith(".255") or str(addr).endswith(".0"):
            continue  # broadcast/network-looking addresses confuse some tools
        yield str(addr)


def ports_free(host: str, ports: tuple[int, ...] = (LDAP_PORT, LDAPS_PORT)) -> bool:
    """True if every port in ``ports`` can be bound on ``host`` right now.

    Raises :class:`NoFreeLoopbackError` when the OS refuses for a reason no other address
    will fix (no permission for ports below 1024, or the address is not local).
    """
    held: list[socket.socket] = []
    try:
        for port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
                sock.listen(1)  # a listener in another process only conflicts once we listen too
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return False
                if exc.errno == errno.EACCES:
                    raise NoFreeLoopbackError(
                        f"binding port {port} needs root or CAP_NET_BIND_SERVICE "
                        "(or a lower net.ipv4.ip_unprivileged_port_start)"
                    ) from exc
                if exc.errno == errno.EADDRNOTAVAIL:
                    raise NoFreeLoopbackError(
                        f"{host} is not a local address here (only Linux routes all of 127.0.0.0/8 "
                        "to loopback; elsewhere add the alias first)"
                    ) from exc
                raise
        return True
    finally:
        for sock in held:
            sock.close()


def free_loopback_hosts(ports: tuple[int, ...] = (LDAP_PORT, LDAPS_PORT),
                        limit: int = SEARCH_LIMIT) -> Iterator[str]:
    """Loopback addresses where every port in ``ports`` is free when probed, lowest first."""
    for host in candidates(limit):
        if ports_free(host, ports):
            yield host
