"""Fixtures for the wire tests: a served DC (the test double, or the real provisioned DC)."""

from __future__ import annotations

import socket
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _double import DoubleDC
from _opened import close_all, track

from fakes.ad.ldap import DcEndpoints, serve_dc


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    close_all()


@pytest.fixture
def double() -> DoubleDC:
    return DoubleDC()


@pytest.fixture
def double_ep(double: DoubleDC, tmp_path: Path) -> Iterator[DcEndpoints]:
    with serve_dc(double, workdir=tmp_path) as ep:
        yield ep


def connect(ep: DcEndpoints, mode: str, user: str | None = None, password: str | None = None,
            **kw: object) -> ldap3.Connection:
    """An ldap3 SYNC connection over ``plain``, ``ldaps`` or ``starttls``, opened (not bound)."""
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ep.ca_file)
    port = ep.ldaps_port if mode == "ldaps" else ep.ldap_port
    server = ldap3.Server(ep.host, port=port, use_ssl=mode == "ldaps", tls=tls, connect_timeout=5)
    conn = ldap3.Connection(server, user=user, password=password, receive_timeout=10, **kw)
    track(conn)
    conn.open()
    if mode == "starttls":
        assert conn.start_tls()
    return conn


def raw_socket(ep: DcEndpoints) -> socket.socket:
    s = socket.create_connection((ep.host, ep.ldap_port), timeout=5)
    track(s)
    return s


def read_all(s: socket.socket, limit: int = 1 << 20) -> bytes:
    """Read until the server closes (or times out); bounded."""
    chunks, total = [], 0
    try:
        while total < limit:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
            total += len(data)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)
