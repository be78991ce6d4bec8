"""The DC's NTLM acceptor (MS-NLMP): CHALLENGE out, AUTHENTICATE in, then sign/seal.

The message formats and crypto primitives come from pyspnego's NTLM implementation
(``spnego._ntlm_raw``: message pack/unpack, NTOWFv2, HMAC-MD5, RC4, SIGNKEY/SEALKEY,
MAC with and without extended session security). pyspnego's own acceptor
(``spnego.server``) reads clear-text passwords from an ``NTLM_USER_FILE``, which does
not fit a directory that holds NT hashes and enforces account rules, so this module
keeps only the acceptor's state machine:

1. :meth:`NtlmAcceptor.challenge` answers a NEGOTIATE with a CHALLENGE carrying a fresh
   ``secrets`` server challenge and the DC's names (MsvAvNbDomainName, ...) and a
   timestamp, which makes modern clients add a MIC.
2. :meth:`NtlmAcceptor.authenticate` parses the AUTHENTICATE into :class:`NtlmLogon`;
   the server challenge is consumed there (single use: a replayed AUTHENTICATE, on this
   or any other connection, never matches again).
3. The DC resolves the account and calls :meth:`NtlmLogon.verify` with its NT hash:
   NTLMv2 only (NTLMv1/LM responses are refused like a DC at LmCompatibilityLevel 5);
   the MIC is checked when the client says it sent one (MsvAvFlags bit 0x2).
4. :class:`NtlmSecurity`, built from the exported session key, signs/seals later
   messages (MS-NLMP 3.4).

Everything here is pure (no LDAP, no directory); malformed tokens raise
:class:`NtlmError`.
"""

from __future__ import annotations

import hmac
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

from spnego._ntlm_raw import crypto
from spnego._ntlm_raw import messages as m
from spnego._ntlm_raw import security as sec

NTLMSSP = b"NTLMSSP\x00"
#: The OID of NTLM inside SPNEGO (MS-NLMP 1.9).
NTLM_OID = "1.3.6.1.4.1.311.2.2.10"

F = m.NegotiateFlags
# Flags the acceptor grants when the client asks for them (it never adds SIGN/SEAL itself).
_GRANTABLE = (
    F.unicode | F.oem | F.request_target | F.sign | F.seal | F.lm_key | F.ntlm | F.always_sign
    | F.extended_session_security | F.identity | F.version | F.key_128 | F.key_exch | F.key_56
    | F.anonymous
)
_MIC_PRESENT = 0x2  # MsvAvFlags: the AUTHENTICATE carries a MIC


class NtlmError(ValueError):
    """The token is not an NTLM message this acceptor can use (SEC_E_INVALID_TOKEN)."""


class NtlmSignatureError(ValueError):
    """A wrapped message failed its NTLM signature or sequence check."""


def is_ntlm(token: bytes) -> bool:
    return token.startswith(NTLMSSP)


def filetime_to_pyspnego(filetime: int) -> Any:
    """The CHALLENGE timestamp (MsvAvTimestamp) as pyspnego's FileTime."""
    return m.FileTime.unpack(struct.pack("<Q", filetime))


@dataclass(frozen=True, slots=True)
class ServerNames:
    """How the DC names itself in the CHALLENGE TargetInfo (MS-NLMP 2.2.2.1)."""

    netbios_domain: str
    netbios_computer: str
    dns_domain: str
    dns_computer: str


class NtlmSecurity:
    """The established NTLM context's sign/seal state for one connection (acceptor side).

    Each direction has its own sequence number and, with extended session security,
    its own keys and RC4 stream (MS-NLMP 3.4.4 / 3.4.5).
    """

    def __init__(self, flags: int, session_key: bytes) -> None:
        self.flags = flags
        self.signing = bool(flags & (F.sign | F.seal))
        self.sealing = bool(flags & F.seal)
        self._sign_out = crypto.signkey(flags, session_key, "accept")
        self._sign_in = crypto.signkey(flags, session_key, "initiate")
        if flags & F.extended_session_security:
            self._rc4_out = crypto.rc4init(crypto.sealkey(flags, session_key, "accept"))
            self._rc4_in = crypto.rc4init(crypto.sealkey(flags, session_key, "initiate"))
        else:
            self._rc4_out = self._rc4_in = crypto.rc4init(crypto.sealkey(flags, session_key, "accept"))
        self.seq_in = 0
        self.seq_out = 0

    def sign(self, data: bytes) -> bytes:
        """The 16-byte NTLMSSP_MESSAGE_SIGNATURE of an outgoing message."""
        sig = sec.sign(self.flags, self._rc4_out, self._sign_out, self.seq_out, data)
        self.seq_out += 1
        return sig

    def verify(self, data: bytes, signature: bytes) -> None:
        """Check an incoming signature (and its sequence number); raises NtlmSignatureError."""
        expected = sec.sign(self.flags, self._rc4_in, self._sign_in, self.seq_in, data)
        self.seq_in += 1
        if not hmac.compare_digest(expected, signature):
            raise NtlmSignatureError("NTLM signature or sequence number mismatch")

    def reset_rc4(self) -> None:
        """Restart both RC4 streams (MS-SPNG: after the mechListMIC exchange)."""
        self._rc4_out.reset()
        if self._rc4_in is not self._rc4_out:
            self._rc4_in.reset()

    def wrap(self, data: bytes) -> bytes:
        """signature + (sealed or plain) data, as the SASL layer carries it."""
        if self.sealing:
            sealed, sig = sec.seal(self.flags, self._rc4_out, self._sign_out, self.seq_out, data)
            self.seq_out += 1
            return sig + sealed
        return self.sign(data) + data

    def unwrap(self, blob: bytes) -> bytes:
        """Inverse of :meth:`wrap` for a client message; raises NtlmSignatureError."""
        if len(blob) < 16:
            raise NtlmSignatureError("wrapped message shorter than an NTLM signature")
        sig, body = blob[:16], blob[16:]
        if self.sealing:
            body = self._rc4_in.update(body)
        self.verify(body, sig)
        return body


@dataclass(slots=True)
class NtlmLogon:
    """A parsed AUTHENTICATE waiting for the DC's verdict."""

    user: str
    domain: str
    workstation: str
    flags: int
    anonymous: bool
    ntlm_v2: bool
    channel_binding: bytes | None
    _auth: Any = field(repr=False, default=None)
    _negotiate: bytes = field(repr=False, default=b"")
    _challenge: bytes = field(repr=False, default=b"")
    _server_challenge: bytes = field(repr=False, default=b"")
    _mic_present: bool = False
    session_key: bytes | None = None

    def verify(self, nt_hash: bytes) -> bool:
        """True when the NTLMv2 response (and MIC, when sent) match ``nt_hash``.

        On success the exported session key is kept (for :class:`NtlmSecurity`).
        """
        if not self.ntlm_v2:
            return False
        auth = self._auth
        nt_response: bytes = auth.nt_challenge_response
        proof, blob = nt_response[:16], nt_response[16:]
        key = crypto.ntowfv2(self.user, nt_hash, self.domain)
        if not hmac.compare_digest(crypto.hmac_md5(key, self._server_challenge + blob), proof):
            return False
        base_key = crypto.hmac_md5(key, proof)  # SessionBaseKey = KeyExchangeKey for NTLMv2
        exported = base_key
        # MS-NLMP 3.2.5.1.2: with KEY_EXCH the client's random session key is the exported key.
        # (pyspnego only sends one with SIGN/SEAL; asyauth and Windows send one whenever KEY_EXCH.)
        ersk = auth.encrypted_random_session_key or b""
        if self.flags & F.key_exch and len(ersk) == 16:
            exported = crypto.rc4k(base_key, ersk)
        if self._mic_present:
            sent = auth.mic or b""
            auth.mic = b"\x00" * 16
            mic = crypto.hmac_md5(exported, self._negotiate + self._challenge + auth.pack())
            if not hmac.compare_digest(mic, sent):
                return False
        self.session_key = exported
        return True


class NtlmAcceptor:
    """One connection's NTLM exchange (NEGOTIATE -> CHALLENGE -> AUTHENTICATE)."""

    def __init__(self, names: ServerNames, filetime: int) -> None:
        self.names = names
        self.filetime = filetime
        self._negotiate: bytes | None = None
        self._challenge: bytes | None = None
        self._server_challenge: bytes | None = None
        self.flags = 0

    @property
    def waiting_for_authenticate(self) -> bool:
        return self._challenge is not None

    def challenge(self, token: bytes) -> bytes:
        """Answer a NEGOTIATE_MESSAGE with a CHALLENGE_MESSAGE (MS-NLMP 3.2.5.1.1)."""
        try:
            negotiate = m.Negotiate.unpack(token)
            client_flags = int(negotiate.flags)
        except Exception as exc:  # pyspnego raises struct/Value/Index errors on garbage
            raise NtlmError(f"malformed NTLM NEGOTIATE_MESSAGE: {exc}") from exc
        flags = (client_flags & _GRANTABLE) | F.request_target | F.ntlm | F.target_info | F.target_type_domain
        if flags & F.unicode:
            flags &= ~F.oem
        elif not flags & F.oem:
            raise NtlmError("NEGOTIATE_MESSAGE sets neither NTLMSSP_NEGOTIATE_UNICODE nor _OEM")
        if flags & F.extended_session_security:
            flags &= ~F.lm_key
        if client_flags & (F.sign | F.seal) or client_flags & F.always_sign:
            flags |= F.always_sign
        names = self.names
        info = m.TargetInfo()
        info[m.AvId.nb_domain_name] = names.netbios_domain
        info[m.AvId.nb_computer_name] = names.netbios_computer
        info[m.AvId.dns_domain_name] = names.dns_domain
        info[m.AvId.dns_computer_name] = names.dns_computer
        info[m.AvId.dns_tree_name] = names.dns_domain
        info[m.AvId.timestamp] = filetime_to_pyspnego(self.filetime)
        server_challenge = secrets.token_bytes(8)
        kwargs: dict[str, Any] = {}
        if flags & F.version:
            kwargs["version"] = m.Version(10, 0, 14393, 15)  # Windows Server 2016, NTLM revision 15
        challenge = m.Challenge(flags, server_challenge, target_name=names.netbios_domain,
                                target_info=info, **kwargs).pack()
        self._negotiate, self._challenge, self._server_challenge = token, challenge, server_challenge
        self.flags = flags
        return challenge

    def authenticate(self, token: bytes) -> NtlmLogon:
        """Parse an AUTHENTICATE_MESSAGE; the server challenge is consumed whatever happens."""
        if self._challenge is None or self._negotiate is None or self._server_challenge is None:
            raise NtlmError("AUTHENTICATE_MESSAGE without a preceding NEGOTIATE_MESSAGE")
        negotiate, challenge, server_challenge = self._negotiate, self._challenge, self._server_challenge
        self._negotiate = self._challenge = self._server_challenge = None
        try:
            auth = m.Authenticate.unpack(token)
            flags = int(auth.flags)
            user = auth.user_name or ""
            domain = auth.domain_name or ""
            workstation = auth.workstation or ""
            nt = auth.nt_challenge_response or b""
            lm = auth.lm_challenge_response or b""
            av_pairs: Any = {}
            if len(nt) > 24:
                av_pairs = m.NTClientChallengeV2.unpack(nt[16:]).av_pairs
        except Exception as exc:
            raise NtlmError(f"malformed NTLM AUTHENTICATE_MESSAGE: {exc}") from exc
        anonymous = not user and not nt and lm in (b"", b"\x00")
        return NtlmLogon(
            user=user,
            domain=domain,
            workstation=workstation,
            flags=flags,
            anonymous=anonymous,
            ntlm_v2=len(nt) > 24,
            channel_binding=av_pairs.get(m.AvId.channel_bindings),
            _auth=auth,
            _negotiate=negotiate,
            _challenge=challenge,
            _server_challenge=server_challenge,
            _mic_present=bool(int(av_pairs.get(m.AvId.flags, 0)) & _MIC_PRESENT),
        )
