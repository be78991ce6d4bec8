"""The LDAP server protocol: wire messages in, DomainController calls, wire messages out.

:class:`DcLdapServer` is an ldaptor ``LDAPServer`` (so it is a Twisted protocol with
ldaptor's conventions) whose request path is replaced: ldaptor's generic BER decoder
and Deferred chain cost more than the DC itself, so messages are framed and decoded by
:mod:`fakes.ad.ldap.codec` and dispatched synchronously in the reactor thread, which
is the only thread that touches the DC for served requests. No directory semantics
live here: controls are passed through raw, and every answer (rootDSE, errors, paged
cookies) comes from the DC. The protocol's own duties are transport-level: StartTLS,
the ``encrypted`` flag, size caps, and never letting an exception escape into Twisted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ldaptor.protocols.ldap.ldapserver import LDAPServer
from twisted.internet import protocol

from fakes.ad import controls as ctl
from fakes.ad.api import Change, LdapError, LdapResult, ModOp, Scope, SearchResult
from fakes.ad.ldap import codec, encode, messages
from fakes.ad.ldap.filters import to_dc_filter
from fakes.ad.ldap.security_layer import SaslSecurityLayer, SecurityLayerError

if TYPE_CHECKING:  # pyspnego (~0.1 s to import) loads with the first NTLM bind, not with the DC
    from fakes.ad.ldap.ntlm_bind import BindStep, NtlmBinder

log = logging.getLogger("fakes.ad.ldap")


class DcLdapServer(LDAPServer):
    """One client connection to the served DC."""

    factory: DcLdapFactory

    def __init__(self) -> None:
        super().__init__()
        self._buf = bytearray()
        self._out: list[bytes] = []
        self._closing = False
        self.session: Any = None
        self._ntlm: NtlmBinder | None = None
        self._layer: SaslSecurityLayer | None = None  # SASL sign/seal after an NTLM bind

    # ------------------------------------------------------------------ connection
    def connectionMade(self) -> None:
        super().connectionMade()
        # Responses are written once per request batch; Nagle would only add latency.
        set_nodelay = getattr(self.transport, "setTcpNoDelay", None)
        if set_nodelay is not None:
            set_nodelay(True)
        peer = self.transport.getPeer()
        self.session = self.factory.dc.new_session(
            peer=f"{getattr(peer, 'host', '?')}:{getattr(peer, 'port', 0)}", encrypted=self.factory.ldaps
        )
        self.factory.connections.add(self)

    def connectionLost(self, reason: Any = protocol.connectionDone) -> None:
        super().connectionLost(reason)
        self.factory.connections.discard(self)

    def queue(self, id: int, op: Any) -> None:
        """ldaptor's send hook, kept working for inherited code paths (with response controls)."""
        from ldaptor.protocols import pureldap

        ctrls = getattr(op, "_resp_controls", None)
        self.transport.write(pureldap.LDAPMessage(op, id=id, controls=ctrls).toWire())

    def dataReceived(self, data: bytes) -> None:
        if self._closing:
            return
        if self._layer is not None:
            try:
                data = self._layer.unwrap_stream(data)
            except SecurityLayerError as exc:
                # Windows closes a signed/sealed connection on a bad buffer; only this client goes.
                log.info("dropping LDAP client %s: %s", self.session and self.session.peer, exc)
                self._closing = True
                self.transport.abortConnection()
                return
        buf = self._buf
        buf += data
        pos = 0
        try:
            while not self._closing:
                size = codec.frame_length(buf, pos, self.factory.max_message)
                if size is None or pos + size > len(buf):
                    break
                raw = bytes(buf[pos : pos + size])
                pos += size
                try:
                    msg = codec.decode_message(raw)
                except codec.UnknownOperation as exc:
                    # RFC 4511 4.1.1: unknown request tag -> notice of disconnection, then drop.
                    self._disconnect(messages.UNKNOWN_OPERATION, exc)
                    break
                self._dispatch(msg)
        except codec.MessageTooLarge as exc:
            self._disconnect(messages.MESSAGE_TOO_LARGE, exc)
        except codec.DecodeError as exc:
            self._disconnect(messages.DECODING_ERROR, exc)
        except Exception as exc:  # never let a bug kill the reactor or other clients
            log.exception("unexpected error in the LDAP server loop")
            self._disconnect(messages.internal_error(exc), exc)
        finally:
            del buf[:pos]
            self._flush()

    def _flush(self) -> None:
        if self._out:
            out, self._out = self._out, []
            if self._layer is not None:
                out = self._layer.wrap_batch(out)
            self.transport.writeSequence(out)

    def _disconnect(self, result: tuple[int, str], exc: BaseException) -> None:
        log.info("dropping LDAP client %s: %s", self.session and self.session.peer, exc)
        self._out.append(encode.notice_of_disconnection(result[0], result[1]))
        self._flush()
        self._closing = True
        self._buf.clear()
        self.transport.loseConnection()

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, msg: codec.Message) -> None:
        op = msg.op
        if op == codec.UNBIND_REQUEST:
            self._closing = True
            self.transport.loseConnection()
            return
        if op == codec.ABANDON_REQUEST:
            return  # every operation completes before the next is read; nothing to abandon
        try:
            handler = _HANDLERS[op]
            handler(self, msg)
        except LdapError as exc:
            self._result(msg, exc.code, exc.message, exc.matched_dn)
        except NotImplementedError as exc:
            self._result(msg, *messages.not_implemented(exc))
        except Exception as exc:
            log.exception("DC raised while handling %s", type(msg.body).__name__)
            self._result(msg, *messages.internal_error(exc))

    def _result(self, msg: codec.Message, code: int, message: str = "", matched: str = "",
                controls: tuple = ()) -> None:
        rop = codec.RESPONSE_FOR[msg.op]
        if rop == codec.EXTENDED_RESPONSE:
            out = encode.encode_extended(msg.msg_id, int(code), message, matched, controls=controls)
        else:
            out = encode.encode_result(msg.msg_id, rop, int(code), message, matched, controls)
        self._out.append(out)

    def _send(self, msg: codec.Message, res: LdapResult) -> None:
        self._result(msg, res.code, res.message, res.matched_dn, res.controls)

    def _bind(self, msg: codec.Message) -> None:
        body: codec.BindBody = msg.body
        if body.version not in (2, 3):
            self._result(msg, *messages.BAD_VERSION)
            return
        if body.sicily is not None:
            self._bind_step(msg, self._binder().sicily(self.session, body.sicily, body.sicily_token))
            return
        if body.sasl_mechanism is not None:
            if body.sasl_mechanism != codec.GSS_SPNEGO:
                self._reset_ntlm()
                self._result(msg, *messages.SASL_UNSUPPORTED)
                return
            self._bind_step(msg, self._binder().gss_spnego(self.session, body.sasl_credentials))
            return
        self._reset_ntlm()
        password = (body.password or b"").decode("utf-8", errors="surrogateescape")
        self._send(msg, self.factory.dc.bind(self.session, body.name, password))

    def _binder(self) -> NtlmBinder:
        if self._ntlm is None:
            from fakes.ad.ldap.ntlm_bind import NtlmBinder

            self._ntlm = NtlmBinder(self.factory.dc, self.factory.channel_binding)
        return self._ntlm

    def _reset_ntlm(self) -> None:
        """Any other bind abandons a half-finished NTLM exchange (none without an NTLM bind yet)."""
        if self._ntlm is not None:
            self._ntlm.reset()

    def _bind_step(self, msg: codec.Message, step: BindStep) -> None:
        self._out.append(encode.encode_bind_response(msg.msg_id, step.code, step.message, step.matched,
                                                    step.sasl_creds))
        if step.security is not None and not self.session.tls:
            # The bind answer goes out clear; every later PDU is wrapped (both directions).
            self._flush()
            self._layer = SaslSecurityLayer(step.security, self.factory.max_message + 20)

    def _search(self, msg: codec.Message) -> None:
        body: codec.SearchBody = msg.body
        if body.scope not in (0, 1, 2):
            self._result(msg, *messages.BAD_ENUM)
            return
        res: SearchResult = self.factory.dc.search(
            self.session,
            body.base,
            Scope(body.scope),
            to_dc_filter(body.filter),
            body.attributes,
            size_limit=body.size_limit,
            types_only=body.types_only,
            controls=msg.controls,
        )
        out, mid, types_only = self._out, msg.msg_id, body.types_only
        for entry in res.entries:
            out.append(encode.encode_entry(mid, entry.dn, entry.attributes, types_only))
        for uri in res.referrals:
            out.append(encode.encode_reference(mid, [uri]))
        self._send(msg, res.result)

    def _modify(self, msg: codec.Message) -> None:
        dn, raw = msg.body
        try:
            changes = [Change(ModOp(op), attr, values) for op, attr, values in raw]
        except ValueError:
            self._result(msg, *messages.BAD_ENUM)
            return
        self._send(msg, self.factory.dc.modify(self.session, dn, changes, msg.controls))

    def _add(self, msg: codec.Message) -> None:
        dn, raw = msg.body
        attrs: dict[str, list[bytes]] = {}
        for name, values in raw:
            attrs.setdefault(name, []).extend(values)
        self._send(msg, self.factory.dc.add(self.session, dn, attrs, msg.controls))

    def _delete(self, msg: codec.Message) -> None:
        self._send(msg, self.factory.dc.delete(self.session, msg.body, msg.controls))

    def _moddn(self, msg: codec.Message) -> None:
        b: codec.ModDNBody = msg.body
        self._send(msg, self.factory.dc.modify_dn(
            self.session, b.dn, b.new_rdn, b.delete_old_rdn, b.new_superior, msg.controls
        ))

    def _compare(self, msg: codec.Message) -> None:
        dn, attr, value = msg.body
        self._send(msg, self.factory.dc.compare(self.session, dn, attr, value, msg.controls))

    def _extended(self, msg: codec.Message) -> None:
        body: codec.ExtendedBody = msg.body
        if body.name == ctl.STARTTLS:
            self._start_tls(msg)
            return
        res: LdapResult = self.factory.dc.extended(self.session, body.name, body.value, msg.controls)
        self._out.append(encode.encode_extended(
            msg.msg_id, int(res.code), res.message, res.matched_dn, res.name, res.value, res.controls
        ))

    def _start_tls(self, msg: codec.Message) -> None:
        if self._layer is not None:
            self._result(msg, *messages.TLS_AFTER_SASL_LAYER)
            return
        if self.session.encrypted:
            self._result(msg, *messages.TLS_ALREADY)
            return
        if self.factory.tls is None:
            self._result(msg, *messages.TLS_UNAVAILABLE)
            return
        # The response goes out in clear; everything after it is TLS (RFC 4511 4.14.2).
        self._out.append(encode.encode_extended(msg.msg_id, 0, "", "", ctl.STARTTLS))
        self._flush()
        self.transport.startTLS(self.factory.tls)
        self.session.encrypted = True
        self.session.tls = True


_HANDLERS = {
    codec.BIND_REQUEST: DcLdapServer._bind,
    codec.SEARCH_REQUEST: DcLdapServer._search,
    codec.MODIFY_REQUEST: DcLdapServer._modify,
    codec.ADD_REQUEST: DcLdapServer._add,
    codec.DEL_REQUEST: DcLdapServer._delete,
    codec.MODDN_REQUEST: DcLdapServer._moddn,
    codec.COMPARE_REQUEST: DcLdapServer._compare,
    codec.EXTENDED_REQUEST: DcLdapServer._extended,
}


class DcLdapFactory(protocol.ServerFactory):
    """Builds :class:`DcLdapServer` connections for one listener (plain or LDAPS)."""

    protocol = DcLdapServer

    def __init__(self, dc: Any, *, tls: Any = None, ldaps: bool = False,
                 max_message: int = codec.MAX_MESSAGE, channel_binding: bytes | None = None,
                 tls_cert_der: bytes | None = None) -> None:
        """``channel_binding`` is what NTLM clients send over TLS (None: unknown), or give the
        served certificate as ``tls_cert_der`` and it is computed at the first NTLM bind."""
        self.dc = dc
        self.tls = tls  # twisted CertificateOptions for StartTLS (and the LDAPS listener)
        self.ldaps = ldaps
        self.max_message = max_message
        self._channel_binding = channel_binding
        self._tls_cert_der = tls_cert_der
        self.connections: set[DcLdapServer] = set()

    @property
    def channel_binding(self) -> bytes | None:
        """MD5 of the tls-server-end-point channel bindings NTLM clients send over TLS (None: unknown)."""
        if self._channel_binding is None and self._tls_cert_der is not None:
            from fakes.ad.ldap.ntlm_bind import channel_binding_hash

            self._channel_binding = channel_binding_hash(self._tls_cert_der)
        return self._channel_binding
