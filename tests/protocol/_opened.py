"""The clients a protocol test opened, closed when it ends (``conftest._close_clients``), whatever
the test did: a failed bind leaves an ldap3 connection open, and so does a failed assertion."""

from __future__ import annotations

import socket
from typing import TypeVar

import ldap3

from fakes.connect.ldapconn import close_quietly

Client = TypeVar("Client", ldap3.Connection, socket.socket)
_opened: list[ldap3.Connection | socket.socket] = []


def track(client: Client) -> Client:
    """Remember ``client`` for :func:`close_all`; returns it."""
    _opened.append(client)
    return client


def close_all() -> None:
    """Unbind every tracked ldap3 connection and close every tracked socket."""
    while _opened:
        client = _opened.pop()
        if isinstance(client, socket.socket):
            client.close()
        else:
            close_quietly(client)  # (the server may be gone already; only the socket matters)
