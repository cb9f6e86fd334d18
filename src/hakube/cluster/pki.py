"""The cluster's public-key infrastructure: CAs, leaf certificates and their files.

A cluster has one CA for the API (serving certificates, client certificates whose
CN is the user and whose O entries are the groups) and one CA for etcd (member
serving/peer certificates and the API servers' etcd client certificates). Every
process here speaks TLS with Go (etcd, kubectl) and Python (ssl) peers, so the
certificates follow what Kubernetes' ``certutil``/kubeadm issue: a critical
BasicConstraints, KeyUsage, ExtendedKeyUsage naming serverAuth and/or
clientAuth, SANs for serving certificates, and Subject/Authority Key Identifiers
so strict X.509 verifiers (OpenSSL's ``X509_STRICT``) accept the chain.

Keys are ECDSA P-256: small, fast to generate (a cluster issues many
certificates), and accepted by every TLS stack involved.

Private key files are written with mode 0600 from the moment they exist and
replaced atomically, so no reader ever sees a half-written or world-readable key.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "APISERVER_DNS_NAMES",
    "CertKey",
    "apiserver_sans",
    "create_ca",
    "create_service_account_key",
    "issue_cert",
    "load_cert_key",
    "write_pem",
]

# The in-cluster names of the API (the `kubernetes` Service in `default`) plus
# localhost, as kubeadm's apiserver certificate carries them
# (cmd/kubeadm/app/phases/certs/certlist.go, GetAPIServerAltNames).
APISERVER_DNS_NAMES: tuple[str, ...] = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "localhost",
)

# Certificates are back-dated a little so a peer whose clock runs slightly
# behind does not reject a certificate issued a moment ago ("not yet valid").
_BACKDATE = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class CertKey:
    """A PEM certificate and its PEM (PKCS#8, unencrypted) private key."""

    cert_pem: bytes
    key_pem: bytes = field(repr=False)  # never in logs or tracebacks

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_signing_key(key_pem: bytes) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"a CA key must be ECDSA or RSA, got {type(key).__name__}")
    return key


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _check_days(days: int) -> None:
    if days < 1:
        raise ValueError(f"certificate lifetime must be at least 1 day, got {days}")


def create_ca(common_name: str, *, days: int = 3650) -> CertKey:
    """Create a self-signed CA that may sign leaf certificates only (path length 0)."""
    if not common_name:
        raise ValueError("a CA needs a common name")
    _check_days(days)
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
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
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertKey(cert_pem=cert.public_bytes(serialization.Encoding.PEM), key_pem=_key_pem(key))


def issue_cert(
    ca: CertKey,
    *,
    common_name: str,
    organizations: Sequence[str] = (),
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    server: bool = False,
    client: bool = False,
    days: int = 365,
) -> CertKey:
    """Issue a leaf certificate signed by ``ca``.

    ``server`` adds serverAuth (and needs at least one SAN: TLS clients check
    the SANs, never the CN); ``client`` adds clientAuth. Both may be set, as
    etcd members need (a peer is a server and a client of its peers). For a
    client certificate the Kubernetes x509 authenticator reads the user from
    the CN and the groups from every O entry (apiserver
    ``pkg/authentication/request/x509/x509.go``, CommonNameUserConversion).
    The lifetime is capped at the CA's own expiry.
    """
    if not (server or client):
        raise ValueError("a certificate must be issued for server use, client use, or both")
    if not common_name:
        raise ValueError("a certificate needs a common name")
    _check_days(days)
    ips = [ipaddress.ip_address(ip) for ip in ip_addresses]  # ValueError on a bad address
    if server and not (dns_names or ips):
        raise ValueError(f"serving certificate {common_name!r} needs at least one DNS name or IP address")

    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = _load_signing_key(ca.key_pem)
    if ca_cert.public_key() != ca_key.public_key():
        raise ValueError("the CA certificate and key do not belong together")
    key = _new_key()
    now = _now()
    not_after = min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)

    subject = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
        + [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # ECDSA keys sign (ECDHE); keyEncipherment only applies to RSA key transport.
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if dns_names or ips:
        sans: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
        sans += [x509.IPAddress(ip) for ip in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return CertKey(cert_pem=cert.public_bytes(serialization.Encoding.PEM), key_pem=_key_pem(key))


def apiserver_sans(external_ip: str, replica_ip: str) -> tuple[list[str], list[str]]:
    """The (DNS names, IP addresses) an API server's serving certificate names.

    Clients reach an API server by the cluster's external IP (the load balancer
    passes TLS through), by the replica's own IP (health checks, the load
    balancer's /readyz probe), on 127.0.0.1, and in-cluster by the
    ``kubernetes`` Service names.
    """
    ips: list[str] = []
    for raw in (external_ip, replica_ip, "127.0.0.1"):
        ip = str(ipaddress.ip_address(raw))  # canonical form, so duplicates compare equal
        if ip not in ips:
            ips.append(ip)
    return list(APISERVER_DNS_NAMES), ips


def write_pem(path: Path, data: bytes, *, private: bool) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same
    directory, fsync, rename over the target, fsync the directory.

    A private file is created with mode 0600 (never wider, not even for an
    instant); a public one ends up 0644 whatever the umask.
    """
    mode = 0o600 if private else 0o644
    directory = path.parent
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask may have narrowed a public file's mode
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_cert_key(cert_path: Path, key_path: Path) -> CertKey:
    """Read a certificate and its key, checking that both parse and belong together."""
    cert_pem = cert_path.read_bytes()
    key_pem = key_path.read_bytes()
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as err:
        raise ValueError(f"{cert_path}: not a PEM certificate ({err})") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{key_path}: not an unencrypted PEM private key ({err})") from None
    if cert.public_key() != key.public_key():
        raise ValueError(f"{key_path} is not the private key of {cert_path}")
    return CertKey(cert_pem=cert_pem, key_pem=key_pem)


def create_service_account_key() -> bytes:
    """A PEM (PKCS#8) RSA-2048 private key for signing service account tokens.

    RSA, as kubeadm's `sa.key`: RS256 is the one algorithm every JWT consumer
    accepts. The API server verifies with its public half.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
