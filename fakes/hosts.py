"""The address check the served DC makes before binding: loopback only, unless asked.

Kept apart from the servers so a command can check its ``--host`` before importing them
(``simlab serve`` reads its lab image while Twisted and uvicorn load).
"""

from __future__ import annotations

import ipaddress


def check_host(host: str, allow_non_loopback: bool = False) -> str:
    """The address to bind; refuses anything but loopback unless explicitly allowed."""
    if host == "localhost":
        host = "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError as exc:
        raise ValueError(f"host must be an IP address, got {host!r}") from exc
    if not addr.is_loopback and not allow_non_loopback:
        raise ValueError(f"refusing to serve the lab DC on non-loopback address {host} "
                         "(pass allow_non_loopback=True to do it anyway)")
    return host


__all__ = ["check_host"]
