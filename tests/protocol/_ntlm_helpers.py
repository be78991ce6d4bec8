"""Shared pieces of the NTLM wire tests: a served lab, an ordinary user, and a raw LDAP client.

The raw client speaks just enough LDAP to drive bind legs with arbitrary tokens and to read
BindResponses (result code, matchedDN, diagnostic, serverSaslCreds) and the SASL-wrapped
traffic after a sealed bind: the things real clients hide.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _opened import track

from fakes.ad.ldap import DcEndpoints, encode, serve_dc
from fakes.ad.provision import DEFAULT_USER_PASSWORD, provision

USER_PASSWORD = DEFAULT_USER_PASSWORD


@contextmanager
def ntlm_lab(tmp_path: Path, **serve_kw: object) -> Iterator[tuple[object, DcEndpoints]]:
    dc = provision(domain="contoso.com", users=4, seed=1)
    with serve_dc(dc, workdir=tmp_path, **serve_kw) as ep:
        yield dc, ep


def ordinary_user(dc) -> tuple[str, str]:
    """(DN, sAMAccountName) of a provisioned staff user (password USER_PASSWORD)."""
    users = [e for e in dc.directory.lookup("objectClass", "user") if ",OU=Staff," in e.dn]
    entry = min(users, key=lambda e: e.dn)
    return entry.dn, entry.attrs["samaccountname"][0]


def set_attr(dc, dn: str, attr: str, value: str) -> None:
    """Arrange an account state directly in the directory (test setup only)."""
    dc.directory.set_values(dc.get_entry(dn), attr.lower(), [value])


# ------------------------------------------------------------------ raw LDAP client


def bind_request(msg_id: int, *, sasl: tuple[str, bytes | None] | None = None,
                 sicily: tuple[int, bytes] | None = None, name: str = "") -> bytes:
    if sasl is not None:
        mech, creds = sasl
        auth = encode.tlv(0x04, mech.encode()) + (encode.tlv(0x04, creds) if creds is not None else b"")
        choice = encode.tlv(0xA3, auth)
    else:
        assert sicily is not None
        choice = encode.tlv(sicily[0], sicily[1])
    body = b"\x02\x01\x03" + encode.tlv(0x04, name.encode()) + choice
    return encode.tlv(0x30, b"\x02\x01" + bytes([msg_id]) + encode.tlv(0x60, body))


def whoami_request(msg_id: int) -> bytes:
    op = encode.tlv(0x77, encode.tlv(0x80, b"1.3.6.1.4.1.4203.1.11.3"))
    return encode.tlv(0x30, b"\x02\x01" + bytes([msg_id]) + op)


def _read_tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    tag, first = buf[pos], buf[pos + 1]
    pos += 2
    if first & 0x80:
        n = first & 0x7F
        length = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    else:
        length = first
    return tag, pos, pos + length


@dataclass
class Response:
    msg_id: int
    op: int
    code: int
    matched: bytes
    message: str
    extra: dict[int, bytes]


def parse_response(pdu: bytes) -> Response:
    _, s, _e = _read_tlv(pdu, 0)
    _, is_, ie = _read_tlv(pdu, s)
    op, os_, oe = _read_tlv(pdu, ie)
    _, cs, ce = _read_tlv(pdu, os_)
    _, ms, me = _read_tlv(pdu, ce)
    _, ds, de = _read_tlv(pdu, me)
    extra, p = {}, de
    while p < oe:
        t, vs, ve = _read_tlv(pdu, p)
        extra[t] = pdu[vs:ve]
        p = ve
    return Response(int.from_bytes(pdu[is_:ie], "big"), op, int.from_bytes(pdu[cs:ce], "big", signed=True),
                    pdu[ms:me], pdu[ds:de].decode("utf-8", "replace"), extra)


class RawClient:
    """A blocking LDAP connection that sends bytes and reads whole LDAPMessages (or SASL buffers)."""

    def __init__(self, ep: DcEndpoints, *, ldaps: bool = False) -> None:
        port = ep.ldaps_port if ldaps else ep.ldap_port
        sock = track(socket.create_connection((ep.host, port), timeout=5))
        if ldaps:
            ctx = ssl.create_default_context(cafile=ep.ca_file)
            sock = track(ctx.wrap_socket(sock, server_hostname=ep.host))
        self.sock = sock
        self._buf = b""

    def peer_certificate(self) -> bytes:
        return self.sock.getpeercert(binary_form=True)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.sock.close()

    def _fill(self, n: int) -> bool:
        while len(self._buf) < n:
            data = self.sock.recv(65536)
            if not data:
                return False
            self._buf += data
        return True

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_pdu(self) -> bytes | None:
        """The next LDAPMessage, or None when the server closed the connection."""
        if not self._fill(2):
            return None
        _, _s, e = _read_tlv(self._buf + b"\x00" * 8, 0)
        if not self._fill(e):
            return None
        pdu, self._buf = self._buf[:e], self._buf[e:]
        return pdu

    def read_sasl(self) -> bytes | None:
        """The next SASL buffer's payload (after the 4-byte length), or None when closed."""
        if not self._fill(4):
            return None
        n = int.from_bytes(self._buf[:4], "big")
        if not self._fill(4 + n):
            return None
        blob, self._buf = self._buf[4:4 + n], self._buf[4 + n:]
        return blob

    def closed_by_server(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, TimeoutError):
            return True

    def bind(self, msg_id: int, **kw: object) -> Response:
        self.send(bind_request(msg_id, **kw))  # type: ignore[arg-type]
        pdu = self.read_pdu()
        assert pdu is not None, "server closed the connection during the bind"
        return parse_response(pdu)
