"""Serve a DomainController over LDAP (with StartTLS) and LDAPS on loopback.

``with serve_dc(dc) as ep:`` starts both listeners in the shared reactor thread
(:mod:`fakes.ad.ldap.reactor`), writes the lab CA to ``<workdir>/ca.pem`` and yields
:class:`DcEndpoints`; leaving the block stops the listeners and drops every client.
Ports default to ephemeral; a lab can take its own loopback address (127.0.0.2, ...)
with the standard 389/636 so tools that hard-code them work side by side.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fakes.ad.ldap import reactor as lab_reactor
from fakes.ad.ldap.protocol import DcLdapFactory
from fakes.hosts import check_host
from fakes.tls import CertificateAuthority


@dataclass(frozen=True, slots=True)
class DcEndpoints:
    """Everything a client needs to reach a served DC."""

    ldap_url: str
    ldaps_url: str | None
    host: str
    ldap_port: int
    ldaps_port: int | None
    ca_file: str
    base_dn: str
    admin_dn: str | None
    admin_upn: str | None
    admin_password: str | None
    connector_dn: str | None
    connector_password: str | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def _first(obj: Any, *names: str) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value() if callable(value) else value
    return None


def tls_options(cert_pem: bytes, key_pem: bytes) -> Any:
    """Twisted server TLS options for a PEM certificate (chain) and key."""
    from twisted.internet import ssl

    return ssl.PrivateCertificate.loadPEM(cert_pem + key_pem).options()


def _first_cert_der(pem: bytes) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


class _Listeners:
    """The two listening ports of one served DC (lives in the reactor thread)."""

    def __init__(self, dc: Any, host: str, ldap_port: int, ldaps_port: int | None, tls: Any,
                 max_message: int | None, tls_cert_der: bytes | None = None) -> None:
        kw: dict[str, Any] = {"tls_cert_der": tls_cert_der}
        if max_message is not None:
            kw["max_message"] = max_message
        self.plain = DcLdapFactory(dc, tls=tls, ldaps=False, **kw)
        self.secure = DcLdapFactory(dc, tls=tls, ldaps=True, **kw)
        self.host, self.ldap_port, self.ldaps_port, self.tls = host, ldap_port, ldaps_port, tls
        self.ports: list[Any] = []

    def start(self) -> tuple[int, int | None]:
        from twisted.internet import reactor

        try:
            plain = reactor.listenTCP(self.ldap_port, self.plain, interface=self.host)
            self.ports.append(plain)
            secure_port = None
            if self.ldaps_port is not None:
                secure = reactor.listenSSL(self.ldaps_port, self.secure, self.tls, interface=self.host)
                self.ports.append(secure)
                secure_port = secure.getHost().port
        except Exception:
            self.stop()
            raise
        return plain.getHost().port, secure_port

    def stop(self) -> Any:
        from twisted.internet import defer

        waits = [defer.maybeDeferred(p.stopListening) for p in self.ports]
        self.ports = []
        for factory in (self.plain, self.secure):
            for conn in list(factory.connections):
                conn.transport.abortConnection()
        return defer.DeferredList(waits)


@contextmanager
def serve_dc(
    dc: Any,
    *,
    host: str = "127.0.0.1",
    ldap_port: int = 0,
    ldaps_port: int | None = 0,
    ca: CertificateAuthority | None = None,
    workdir: str | Path | None = None,
    allow_non_loopback: bool = False,
    max_message: int | None = None,
) -> Iterator[DcEndpoints]:
    """Serve ``dc`` until the block exits; yields its :class:`DcEndpoints`.

    ``ldaps_port=None`` disables the LDAPS listener (StartTLS stays available).
    """
    host = check_host(host, allow_non_loopback)
    own_dir = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="simlab-dc-")) if workdir is None else Path(workdir)
    try:
        ca = ca or CertificateAuthority.create()
        dns = _first(dc, "dns_host_name", "dns_hostname", "host_name") or "localhost"
        # The DC's FQDN and the domain's DNS name, as on a DC's Kerberos/LDAPS certificate.
        domain = _first(dc, "dns_domain")
        names = list(dict.fromkeys(["localhost", str(dns), *([str(domain)] if domain else [])]))
        cert = ca.issue(names, list(dict.fromkeys(["127.0.0.1", host])))
        ca_file = ca.write(wd)
        listeners = _Listeners(dc, host, ldap_port, ldaps_port, tls_options(cert.cert_pem, cert.key_pem),
                               max_message, _first_cert_der(cert.cert_pem))
        plain_port, secure_port = lab_reactor.call(listeners.start)
        try:
            url_host = f"[{host}]" if ":" in host else host
            yield DcEndpoints(
                ldap_url=f"ldap://{url_host}:{plain_port}",
                ldaps_url=f"ldaps://{url_host}:{secure_port}" if secure_port is not None else None,
                host=host,
                ldap_port=plain_port,
                ldaps_port=secure_port,
                ca_file=str(ca_file),
                base_dn=str(_first(dc, "domain_dn", "base_dn") or ""),
                admin_dn=_first(dc, "admin_dn"),
                admin_upn=_first(dc, "admin_upn"),
                admin_password=_first(dc, "admin_password"),
                connector_dn=_first(dc, "connector_dn"),
                connector_password=_first(dc, "connector_password"),
            )
        finally:
            lab_reactor.call(listeners.stop)
    finally:
        if own_dir:
            shutil.rmtree(wd, ignore_errors=True)
