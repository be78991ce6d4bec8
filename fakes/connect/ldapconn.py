"""ldap3 plumbing shared by the agent, the sync engine and the AdSyncConfig helpers.

Connect reaches AD only over the wire, as the real server does: LDAPS with the lab CA
when "Sign and Encrypt LDAP Traffic" is on, plain LDAP otherwise.
"""

from __future__ import annotations

import contextlib
import ssl
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

from fakes.connect.config import DirectoryConnection

if TYPE_CHECKING:
    import ldap3

# ldap3 (about 50 ms to import) is imported where a connection is made: a lab loaded from an
# image serves its endpoints before its Connect server first talks LDAP.

SD_FLAGS_OID = "1.2.840.113556.1.4.801"
PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"


def open_connection(
    host: str,
    *,
    user: str,
    password: str,
    port: int,
    use_ssl: bool,
    ca_file: str | None,
    timeout: float = 10.0,
) -> ldap3.Connection:
    """An unbound ldap3 connection (raise_exceptions off: callers read ``conn.result``)."""
    import ldap3

    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file) if use_ssl else None
    server = ldap3.Server(
        host, port=port, use_ssl=use_ssl, tls=tls, get_info=ldap3.NONE, connect_timeout=timeout
    )
    return ldap3.Connection(
        server,
        user=user,
        password=password,
        raise_exceptions=False,
        receive_timeout=int(timeout),
        auto_bind=False,
    )


def connector_connection(directory: DirectoryConnection, timeout: float = 10.0) -> ldap3.Connection:
    """A connection as the AD DS Connector account, honouring sign-and-encrypt."""
    secure = directory.sign_and_encrypt
    return open_connection(
        directory.host,
        user=directory.connector.dn,
        password=directory.connector.password,
        port=directory.ldaps_port if secure else directory.ldap_port,
        use_ssl=secure,
        ca_file=directory.ca_file,
        timeout=timeout,
    )


def close_quietly(conn: ldap3.Connection) -> None:
    """Unbind ``conn`` and close its socket, whatever state it is in: a refused bind leaves it
    open; a DC that has gone makes ldap3 raise while unbinding; a connection that never opened
    (connection refused, a failed TLS handshake) still holds the socket ldap3 made for it, and
    its unbind does nothing. The socket closes all the same."""
    try:
        conn.unbind()
    except Exception:  # ldap3 raises many types for a dead socket; closing is all that matters here
        pass
    sock = conn.socket
    if sock is not None:
        sock.close()  # (no-op on a closed socket)
        conn.socket = None


@contextlib.contextmanager
def closed_on_error(conn: ldap3.Connection) -> Iterator[ldap3.Connection]:
    """Close ``conn`` (:func:`close_quietly`) if the block raises, then let the error go on.

    For opening, StartTLS and binding: a DC that is unreachable or whose certificate is refused
    leaves the socket ldap3 made for the attempt, and every retry (a sync cycle, a writeback, a
    doctor run) would leave one more behind until the garbage collector."""
    try:
        yield conn
    except BaseException:
        close_quietly(conn)
        raise


def result_of(conn: ldap3.Connection) -> tuple[int, str]:
    """(result code, diagnostic message) of the connection's last operation."""
    r = conn.result or {}
    return int(r.get("result", 80)), str(r.get("message", "") or "")


def ber_integer_sequence(value: int) -> bytes:
    """BER ``SEQUENCE { INTEGER value }`` for small non-negative ints (SD flags, policy hints)."""
    if not 0 <= value < 0x8000_0000:
        raise ValueError("value out of range for this encoder")
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    integer = b"\x02" + bytes([len(body)]) + body
    return b"\x30" + bytes([len(integer)]) + integer


def sd_flags_control(flags: int) -> tuple[str, bool, bytes]:
    """LDAP_SERVER_SD_FLAGS_OID control (FACTS 5.2): which SD parts to read or write."""
    return (SD_FLAGS_OID, True, ber_integer_sequence(flags))


def guid_filter(attribute: str, guid_bytes: bytes) -> str:
    """An equality filter on a binary GUID attribute (``\\xx`` escaped)."""
    from ldap3.utils.conv import escape_bytes

    return f"({attribute}={escape_bytes(guid_bytes)})"


def guid_to_text(guid_bytes: bytes) -> str:
    """objectGUID wire bytes (little-endian fields) as the usual dashed string."""
    return str(uuid.UUID(bytes_le=guid_bytes))


def raw(entry: dict, name: str) -> list[bytes]:
    """Raw values of ``name`` in an ldap3 response entry (case-insensitive)."""
    attrs = entry.get("raw_attributes") or {}
    lowered = name.lower()
    for key, values in attrs.items():
        if key.lower() == lowered:
            return list(values)
    return []


def first_text(entry: dict, name: str) -> str | None:
    values = raw(entry, name)
    return values[0].decode("utf-8") if values else None


def first_int(entry: dict, name: str, default: int = 0) -> int:
    text = first_text(entry, name)
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
