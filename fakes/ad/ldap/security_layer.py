"""The SASL security layer an NTLM bind turns on for plain LDAP (signing and sealing).

After a Sicily or GSS-SPNEGO bind that negotiated NTLMSSP_NEGOTIATE_SIGN or _SEAL, every
later PDU in both directions travels inside SASL buffers (RFC 4422 3.7, RFC 4752 3.3 as
Windows applies it to NTLM): a 4-byte big-endian length, then the 16-byte NTLM message
signature, then the LDAP bytes (RC4-sealed with SEAL, clear with SIGN only). The
signatures carry per-direction sequence numbers, so a replayed, reordered or tampered
buffer fails verification; the caller then drops that client (a Windows DC closes the
connection).

A buffer wraps a slice of the octet stream, not one LDAP message (RFC 4422 3.7), and a DC
sends each response batch (every entry of a search and its SearchResultDone) as one buffer.
Clients rely on that: impacket decrypts "every TCP frame, all at once" and waits for exactly
one buffer per request, so wrapping each entry separately hangs it after the first search.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # fakes.ad.ntlm (pyspnego) loads with the first NTLM bind, not with the DC
    from fakes.ad.ntlm import NtlmSecurity

# The largest buffer a 3-byte RFC 4752 size can announce (OpenLDAP's SASL_MAX_BUFF_SIZE),
# less the 16-byte signature: no SASL client refuses a buffer this size.
SEND_BUFFER_MAX = 0xFFFFFF - 16


class SecurityLayerError(ValueError):
    """A client buffer is not a valid wrapped message; the connection must be closed."""


class SaslSecurityLayer:
    """Wraps outgoing LDAP messages and unwraps the incoming byte stream for one connection."""

    def __init__(self, context: NtlmSecurity, max_buffer: int) -> None:
        self.context = context
        self.max_buffer = max_buffer
        self._buf = bytearray()

    def wrap(self, data: bytes) -> bytes:
        """Outgoing LDAP bytes as one SASL buffer."""
        blob = self.context.wrap(data)
        return len(blob).to_bytes(4, "big") + blob

    def wrap_batch(self, pdus: list[bytes]) -> list[bytes]:
        """One response batch as SASL buffers: one buffer unless it passes ``SEND_BUFFER_MAX``."""
        data = b"".join(pdus)
        return [self.wrap(data[i : i + SEND_BUFFER_MAX]) for i in range(0, len(data), SEND_BUFFER_MAX)]

    def unwrap_stream(self, data: bytes) -> bytes:
        """Feed received bytes; return the LDAP bytes of every complete buffer (maybe b"")."""
        from fakes.ad.ntlm import NtlmSignatureError  # loaded by the NTLM bind that made this layer

        buf = self._buf
        buf += data
        out = []
        pos = 0
        try:
            while len(buf) - pos >= 4:
                size = int.from_bytes(buf[pos : pos + 4], "big")
                if size < 16 or size > self.max_buffer:
                    raise SecurityLayerError(f"SASL buffer of {size} bytes")
                if len(buf) - pos - 4 < size:
                    break
                blob = bytes(buf[pos + 4 : pos + 4 + size])
                pos += 4 + size
                try:
                    out.append(self.context.unwrap(blob))
                except NtlmSignatureError as exc:
                    raise SecurityLayerError(str(exc)) from exc
        finally:
            del buf[:pos]
        return b"".join(out)
