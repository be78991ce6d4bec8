"""Per-lab TLS material: a private CA and server certificates it signs.

Clients are given the CA file (``ldap3.Tls(ca_certs_file=...)``, ``LDAPTLS_CACERT`` for
the OpenLDAP tools, an ``ssl.SSLContext`` for httpx), so LDAPS, StartTLS and the served
Graph fake verify like real endpoints. Keys are EC P-256: fast to make, accepted by
OpenSSL, GnuTLS (ldapsearch) and Python's ssl alike.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = timedelta(days=3650)


@dataclass(frozen=True)
class CertificateAuthority:
    """A lab CA: its certificate and key, both PEM."""

    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def create(cls, name: str = "simlab lab CA") -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC) - timedelta(minutes=5)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def issue(self, hostnames: list[str], addresses: list[str]) -> ServerCertificate:
        """A server certificate for these DNS names and IP addresses, signed by this CA."""
        ca_cert = x509.load_pem_x509_certificate(self.cert_pem)
        ca_key = serialization.load_pem_private_key(self.key_pem, password=None)
        key = ec.generate_private_key(ec.SECP256R1())
        common = hostnames[0] if hostnames else addresses[0]
        sans: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        now = datetime.now(UTC) - timedelta(minutes=5)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        return ServerCertificate(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key), self.cert_pem)

    def write(self, directory: Path) -> Path:
        """Write ``ca.pem`` into ``directory`` and return its path."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "ca.pem"
        path.write_bytes(self.cert_pem)
        return path

    def client_context(self) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` that trusts exactly this CA (for httpx, ldap3, ...)."""
        return ssl.create_default_context(cadata=self.cert_pem.decode())


@dataclass(frozen=True)
class ServerCertificate:
    """A server certificate issued by the lab's CA, its key and the CA's certificate (PEM)."""
    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Write ``<stem>.crt`` (leaf + CA chain) and ``<stem>.key``; return both paths."""
        directory.mkdir(parents=True, exist_ok=True)
        crt, key = directory / f"{stem}.crt", directory / f"{stem}.key"
        crt.write_bytes(self.cert_pem + self.ca_pem)
        key.write_bytes(self.key_pem)
        key.chmod(0o600)
        return crt, key

    def server_context(self) -> ssl.SSLContext:
        """A server-side ``ssl.SSLContext`` loaded with this certificate (via temp-free cadata)."""
        import tempfile

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as tmp:
            crt, key = self.write(Path(tmp), "server")
            ctx.load_cert_chain(crt, key)
        return ctx


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
