"""NTLM binds on the wire: Sicily (MS-ADTS 5.1.1.1.3) and SASL GSS-SPNEGO (MS-SPNG, RFC 4178).

One :class:`NtlmBinder` per connection keeps the multi-leg state. It turns bind legs into
:class:`BindStep` answers (result code, diagnostic, the token for matchedDN or
serverSaslCreds, and the NTLM sign/seal context to switch on after the answer is sent);
the account decision is the DC's (:meth:`DomainController.ntlm_bind`).

- Sicily: ``sicilyPackageDiscovery`` -> success with "NTLM" in matchedDN (AD offers only
  NTLM this way); ``sicilyNegotiate`` (NEGOTIATE) -> success with the CHALLENGE in
  matchedDN; ``sicilyResponse`` (AUTHENTICATE) -> the bind result.
- GSS-SPNEGO: a NegTokenInit (in an InitialContextToken or bare) offering NTLM, or a raw
  NTLMSSP NEGOTIATE (Windows accepts both) -> 14 saslBindInProgress with a NegTokenResp
  (accept-incomplete, NTLM, CHALLENGE) or the raw CHALLENGE; then the AUTHENTICATE (in a
  NegTokenResp or raw) -> 0 with NegTokenResp accept-completed, plus our mechListMIC when
  the client sent one (verified first; MS-SPNG 3.2.5.1), after which both RC4 streams
  restart as Windows does.

SPNEGO/NTLM encodings come from pyspnego (``spnego._spnego``, ``spnego._ntlm_raw``). Loading
pyspnego costs ~0.1 s, so nothing on a lab's start imports this module: the LDAP protocol
(:mod:`fakes.ad.ldap.protocol`) loads it on the first NTLM bind, and computes the served
certificate's channel binding then.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from spnego._spnego import NegState, NegTokenInit, NegTokenResp, pack_mech_type_list, unpack_token

from fakes.ad import errors
from fakes.ad.api import LdapError, ResultCode, Session
from fakes.ad.ldap import codec
from fakes.ad.ldap.codec import GSS_SPNEGO
from fakes.ad.ntlm import NTLM_OID, F, NtlmAcceptor, NtlmError, NtlmSecurity, ServerNames, is_ntlm

log = logging.getLogger("fakes.ad.ldap")
_EPOCH_FILETIME = 116444736000000000  # 1970-01-01 as a FILETIME
_DUMMY_SIGNATURE = b"\x01" + b"\x00" * 15  # MS-NLMP 3.4.2: signature without SIGN (always-sign)

#: What sicilyPackageDiscovery answers (MS-ADTS 5.1.1.1.3: AD exposes only NTLM via Sicily).
SICILY_PACKAGES = b"NTLM"


@dataclass(slots=True)
class BindStep:
    """The answer to one bind leg, and the security context to turn on once it is sent."""

    code: int = ResultCode.SUCCESS
    message: str = ""
    matched: bytes = b""
    sasl_creds: bytes | None = None
    security: NtlmSecurity | None = None


def tls_server_end_point(cert_der: bytes) -> bytes:
    """RFC 5929 tls-server-end-point data: the certificate hashed with its signature hash
    (SHA-256 when that is MD5 or SHA-1)."""
    from cryptography import x509

    algo = x509.load_der_x509_certificate(cert_der).signature_hash_algorithm
    name = (algo.name if algo is not None else "sha256").lower()
    if name in ("md5", "sha1"):
        name = "sha256"
    return b"tls-server-end-point:" + hashlib.new(name, cert_der).digest()


def channel_binding_hash(cert_der: bytes) -> bytes:
    """MD5 of the gss_channel_bindings_struct a client puts in MsvAvChannelBindings (MS-NLMP 2.2.2.1)."""
    from spnego.channel_bindings import GssChannelBindings

    return hashlib.md5(GssChannelBindings(application_data=tls_server_end_point(cert_der)).pack()).digest()


def _invalid_token(detail: str) -> BindStep:
    log.info("refusing NTLM bind leg: %s", detail)
    err = errors.bind_failed(errors.BIND_INVALID_TOKEN, sspi=True)
    return BindStep(err.code, err.message)


def _failure(exc: LdapError) -> BindStep:
    return BindStep(exc.code, exc.message, exc.matched_dn.encode())


class NtlmBinder:
    """The NTLM bind state of one LDAP connection."""

    def __init__(self, dc: Any, channel_binding: bytes | None = None) -> None:
        self.dc = dc
        self.channel_binding = channel_binding  # expected MsvAvChannelBindings over TLS
        self._acceptor: NtlmAcceptor | None = None
        self._spnego: bool = False
        self._mech_types: list[str] = []
        self._await_negotiate = False  # SPNEGO chose NTLM but the client must still send NEGOTIATE

    def reset(self) -> None:
        """Any other bind abandons a half-finished NTLM exchange."""
        self._acceptor = None
        self._spnego = self._await_negotiate = False
        self._mech_types = []

    def _new_acceptor(self) -> NtlmAcceptor:
        dc = self.dc
        names = ServerNames(dc.netbios_name, dc.dc_name.upper(), dc.dns_domain, dc.dns_host_name)
        # MsvAvTimestamp is wall-clock time, not the lab's SimClock: clients on this host compare
        # it with their own clock (gss-ntlmssp refuses a skewed CHALLENGE as "clocks too far apart").
        return NtlmAcceptor(names, _EPOCH_FILETIME + time.time_ns() // 100)

    # ------------------------------------------------------------------ Sicily
    def sicily(self, session: Session, leg: int, token: bytes) -> BindStep:
        if leg == codec.SICILY_DISCOVERY:
            self.reset()
            return BindStep(matched=SICILY_PACKAGES)
        if leg == codec.SICILY_NEGOTIATE:
            self.reset()
            acceptor = self._new_acceptor()
            try:
                challenge = acceptor.challenge(token)
            except NtlmError as exc:
                return _invalid_token(str(exc))
            self._acceptor = acceptor
            return BindStep(matched=challenge)
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is None:
            return _invalid_token("sicilyResponse without sicilyNegotiate")
        return self._finish(session, acceptor, token, "SICILY", mech_list_mic=None)

    # ------------------------------------------------------------------ GSS-SPNEGO
    def gss_spnego(self, session: Session, creds: bytes | None) -> BindStep:
        if not creds:
            self.reset()
            return _invalid_token("GSS-SPNEGO bind without credentials")
        if self._acceptor is not None and self._acceptor.waiting_for_authenticate:
            return self._spnego_authenticate(session, creds)
        if self._await_negotiate:
            return self._spnego_negotiate(self._response_token(creds))
        self.reset()
        if is_ntlm(creds):
            self._spnego = False
            return self._spnego_negotiate(creds)
        try:
            init = unpack_token(creds)
        except Exception as exc:
            return _invalid_token(f"undecodable SPNEGO token: {exc}")
        if not isinstance(init, NegTokenInit) or NTLM_OID not in init.mech_types:
            return _invalid_token("SPNEGO NegTokenInit without the NTLM mechanism")
        self._spnego = True
        self._mech_types = list(init.mech_types)
        if init.mech_types[0] != NTLM_OID or not init.mech_token:
            # The optimistic token is for another mechanism (Kerberos): pick NTLM, ask for its NEGOTIATE.
            self._await_negotiate = True
            out = NegTokenResp(neg_state=NegState.accept_incomplete, supported_mech=NTLM_OID).pack()
            return BindStep(ResultCode.SASL_BIND_IN_PROGRESS, sasl_creds=out)
        return self._spnego_negotiate(init.mech_token)

    def _response_token(self, creds: bytes) -> bytes | None:
        if is_ntlm(creds):
            return creds
        try:
            resp = unpack_token(creds)
        except Exception:
            return None
        return resp.response_token if isinstance(resp, NegTokenResp) else None

    def _spnego_negotiate(self, token: bytes | None) -> BindStep:
        self._await_negotiate = False
        acceptor = self._new_acceptor()
        try:
            if not token:
                raise NtlmError("no NTLM NEGOTIATE_MESSAGE")
            challenge = acceptor.challenge(token)
        except NtlmError as exc:
            self.reset()
            return _invalid_token(str(exc))
        self._acceptor = acceptor
        out = challenge
        if self._spnego:
            out = NegTokenResp(neg_state=NegState.accept_incomplete, supported_mech=NTLM_OID,
                               response_token=challenge).pack()
        return BindStep(ResultCode.SASL_BIND_IN_PROGRESS, sasl_creds=out)

    def _spnego_authenticate(self, session: Session, creds: bytes) -> BindStep:
        acceptor, self._acceptor = self._acceptor, None
        assert acceptor is not None
        mic = None
        token: bytes | None = creds
        if self._spnego and not is_ntlm(creds):
            try:
                resp = unpack_token(creds)
            except Exception as exc:
                return _invalid_token(f"undecodable SPNEGO token: {exc}")
            if not isinstance(resp, NegTokenResp):
                return _invalid_token("expected a NegTokenResp")
            token, mic = resp.response_token, resp.mech_list_mic
        if not token:
            return _invalid_token("NegTokenResp without an NTLM AUTHENTICATE_MESSAGE")
        return self._finish(session, acceptor, token, GSS_SPNEGO, mech_list_mic=mic)

    # ------------------------------------------------------------------ both
    def _finish(self, session: Session, acceptor: NtlmAcceptor, token: bytes, mechanism: str,
                mech_list_mic: bytes | None) -> BindStep:
        spnego = self._spnego
        mech_types = self._mech_types
        self.reset()
        try:
            auth = acceptor.authenticate(token)
        except NtlmError as exc:
            return _invalid_token(str(exc))
        expected = self.channel_binding if session.tls else None
        try:
            self.dc.ntlm_bind(session, auth, mechanism=mechanism, expected_channel_binding=expected)
        except LdapError as exc:
            return _failure(exc)
        context = NtlmSecurity(auth.flags, auth.session_key) if auth.session_key is not None else None
        step = BindStep()
        if spnego:
            out_mic = None
            if mech_list_mic is not None and auth.session_key is not None:
                out_mic = self._mech_list_mic(auth.flags, auth.session_key, context, mech_types,
                                              mech_list_mic)
                if out_mic is None:
                    self._undo(session)
                    return _invalid_token("mechListMIC does not verify")
            step.sasl_creds = NegTokenResp(neg_state=NegState.accept_complete, mech_list_mic=out_mic).pack()
        if context is not None and auth.flags & (F.sign | F.seal):
            step.security = context
        return step

    @staticmethod
    def _mech_list_mic(flags: int, session_key: bytes, context: NtlmSecurity | None, mech_types: list[str],
                       mic: bytes) -> bytes | None:
        """Verify the client's mechListMIC and return ours (None when it does not verify).

        Clients that did not negotiate SIGN still compute a real MAC for the mechListMIC
        once NTLMv2 gave them a session key (asyauth, Samba's "new SPNEGO"), so the MIC is
        checked with signing keys whatever the flags; the NTLMSSP "always sign" dummy
        signature (version 1, zeros) is accepted too when SIGN was not negotiated.
        """
        mech_list = pack_mech_type_list(mech_types)
        signing = context
        if signing is None or not flags & F.sign:
            signing = NtlmSecurity(flags | F.sign, session_key)
        try:
            signing.verify(mech_list, mic)
        except ValueError:
            if flags & F.sign or mic != _DUMMY_SIGNATURE:
                return None
            return _DUMMY_SIGNATURE
        out = signing.sign(mech_list)
        signing.reset_rc4()  # MS-SPNG: the NTLM RC4 state restarts after the mechListMIC exchange
        return out

    @staticmethod
    def _undo(session: Session) -> None:
        from fakes.ad.dc_bind import reset_identity

        reset_identity(session)
        session.signing = session.sealing = False
        session.encrypted = session.tls
