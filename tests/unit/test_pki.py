"""PKI: certificates must verify in a real TLS handshake, the way clients will use them."""

from __future__ import annotations

import asyncio
import datetime
import os
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hakube.cluster.pki import (
    APISERVER_DNS_NAMES,
    CertKey,
    apiserver_sans,
    create_ca,
    issue_cert,
    load_cert_key,
    write_pem,
)

EXTERNAL_IP = "10.240.0.2"
REPLICA_IP = "127.0.0.42"


@pytest.fixture(scope="module")
def ca() -> CertKey:
    return create_ca("hakube-ca")


@pytest.fixture(scope="module")
def server_cert(ca: CertKey) -> CertKey:
    dns, ips = apiserver_sans(EXTERNAL_IP, REPLICA_IP)
    return issue_cert(ca, common_name="kube-apiserver", dns_names=dns, ip_addresses=ips, server=True)


@pytest.fixture(scope="module")
def client_cert(ca: CertKey) -> CertKey:
    return issue_cert(ca, common_name="alice", organizations=["system:masters", "team-a"], client=True)


@pytest.fixture
def pem_dir(tmp_path: Path, ca: CertKey, server_cert: CertKey, client_cert: CertKey) -> Path:
    write_pem(tmp_path / "ca.crt", ca.cert_pem, private=False)
    for name, pair in (("server", server_cert), ("client", client_cert)):
        write_pem(tmp_path / f"{name}.crt", pair.cert_pem, private=False)
        write_pem(tmp_path / f"{name}.key", pair.key_pem, private=True)
    return tmp_path


def _client_context(ca_file: Path, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file))
    context.verify_flags |= ssl.VERIFY_X509_STRICT  # what Python 3.13+ uses by default
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


async def _handshake(
    *,
    server_files: tuple[Path, Path],
    client_context: ssl.SSLContext,
    server_hostname: str,
    client_ca: Path | None = None,
) -> dict[str, Any] | None:
    """Run a TLS handshake on 127.0.0.1; return the client certificate the server saw."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(str(server_files[0]), str(server_files[1]))
    if client_ca is not None:
        server_context.load_verify_locations(cafile=str(client_ca))
        server_context.verify_mode = ssl.CERT_REQUIRED
    seen: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not seen.done():
            seen.set_result(writer.get_extra_info("peercert"))
        writer.write(b"ok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context, server_hostname=server_hostname
        )
        assert await reader.read() == b"ok"
        writer.close()
        return await asyncio.wait_for(seen, 5)
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("name", [*APISERVER_DNS_NAMES, EXTERNAL_IP, REPLICA_IP, "127.0.0.1"])
async def test_server_cert_verifies_for_each_san(pem_dir: Path, name: str) -> None:
    context = _client_context(pem_dir / "ca.crt")
    await _handshake(
        server_files=(pem_dir / "server.crt", pem_dir / "server.key"),
        client_context=context,
        server_hostname=name,
    )


@pytest.mark.parametrize("name", ["evil.example", "10.0.0.1", "kubernetes.default.svc.other"])
async def test_server_cert_rejected_for_other_names(pem_dir: Path, name: str) -> None:
    context = _client_context(pem_dir / "ca.crt")
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        await _handshake(
            server_files=(pem_dir / "server.crt", pem_dir / "server.key"),
            client_context=context,
            server_hostname=name,
        )


async def test_server_cert_rejected_by_another_ca(pem_dir: Path) -> None:
    write_pem(pem_dir / "other-ca.crt", create_ca("other").cert_pem, private=False)
    context = _client_context(pem_dir / "other-ca.crt")
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        await _handshake(
            server_files=(pem_dir / "server.crt", pem_dir / "server.key"),
            client_context=context,
            server_hostname="kubernetes",
        )


async def test_client_cert_authenticates_with_cn_and_every_o(pem_dir: Path) -> None:
    context = _client_context(pem_dir / "ca.crt", (pem_dir / "client.crt", pem_dir / "client.key"))
    peer = await _handshake(
        server_files=(pem_dir / "server.crt", pem_dir / "server.key"),
        client_context=context,
        server_hostname="127.0.0.1",
        client_ca=pem_dir / "ca.crt",
    )
    assert peer is not None
    attributes = [attr for rdn in peer["subject"] for attr in rdn]
    assert ("commonName", "alice") in attributes
    assert [value for key, value in attributes if key == "organizationName"] == ["system:masters", "team-a"]


async def test_client_cert_cannot_serve(pem_dir: Path, ca: CertKey) -> None:
    """clientAuth only: a TLS client refuses it as a server certificate (wrong purpose)."""
    dns, ips = apiserver_sans(EXTERNAL_IP, REPLICA_IP)
    impostor = issue_cert(ca, common_name="x", dns_names=dns, ip_addresses=ips, client=True)
    write_pem(pem_dir / "impostor.crt", impostor.cert_pem, private=False)
    write_pem(pem_dir / "impostor.key", impostor.key_pem, private=True)
    with pytest.raises(ssl.SSLCertVerificationError, match="purpose"):
        await _handshake(
            server_files=(pem_dir / "impostor.crt", pem_dir / "impostor.key"),
            client_context=_client_context(pem_dir / "ca.crt"),
            server_hostname="kubernetes",
        )


def test_client_cert_extensions(client_cert: CertKey, ca: CertKey) -> None:
    cert = client_cert.certificate
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert orgs == ["system:masters", "team-a"]
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and not basic.value.ca
    key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert key_usage.digital_signature and not key_usage.key_cert_sign
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    cert.verify_directly_issued_by(ca.certificate)


def test_server_and_client_cert_has_both_usages(ca: CertKey) -> None:
    pair = issue_cert(ca, common_name="etcd-1", ip_addresses=["127.0.0.5"], server=True, client=True)
    cert = pair.certificate
    usages = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert usages == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]


def test_ca_is_a_ca(ca: CertKey) -> None:
    cert = ca.certificate
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    cert.verify_directly_issued_by(cert)


def test_lifetime_is_capped_by_the_ca() -> None:
    short_ca = create_ca("short", days=10)
    leaf = issue_cert(short_ca, common_name="u", client=True, days=365).certificate
    assert leaf.not_valid_after_utc <= short_ca.certificate.not_valid_after_utc
    assert leaf.not_valid_before_utc <= datetime.datetime.now(datetime.UTC)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"common_name": "x"},  # neither server nor client
        {"common_name": "x", "server": True},  # a serving certificate without SANs
        {"common_name": "x", "server": True, "ip_addresses": ["not-an-ip"]},
        {"common_name": "", "client": True},
        {"common_name": "x", "client": True, "days": 0},
    ],
)
def test_issue_cert_refuses_bad_requests(ca: CertKey, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        issue_cert(ca, **kwargs)


def test_issue_cert_refuses_a_mismatched_ca(ca: CertKey) -> None:
    other = create_ca("other")
    with pytest.raises(ValueError, match="do not belong together"):
        issue_cert(CertKey(cert_pem=ca.cert_pem, key_pem=other.key_pem), common_name="x", client=True)


def test_apiserver_sans() -> None:
    dns, ips = apiserver_sans("10.0.0.9", "127.0.0.3")
    assert dns == [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
    ]
    assert ips == ["10.0.0.9", "127.0.0.3", "127.0.0.1"]
    # One replica: the external IP is the replica's own; duplicates collapse.
    assert apiserver_sans("127.0.0.1", "127.0.0.1")[1] == ["127.0.0.1"]
    assert apiserver_sans("127.0.0.2", "127.0.0.2")[1] == ["127.0.0.2", "127.0.0.1"]
    with pytest.raises(ValueError):
        apiserver_sans("localhost", "127.0.0.2")


def test_certkey_repr_hides_the_key(client_cert: CertKey) -> None:
    assert "PRIVATE" not in repr(client_cert)


@pytest.fixture
def umask_077() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_077")
def test_write_pem_modes(tmp_path: Path, client_cert: CertKey) -> None:
    write_pem(tmp_path / "c.crt", client_cert.cert_pem, private=False)
    write_pem(tmp_path / "c.key", client_cert.key_pem, private=True)
    assert _mode(tmp_path / "c.crt") == 0o644
    assert _mode(tmp_path / "c.key") == 0o600
    assert (tmp_path / "c.key").read_bytes() == client_cert.key_pem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.crt", "c.key"]  # no temporary files left


def test_write_pem_replaces_atomically_and_tightens(tmp_path: Path, client_cert: CertKey) -> None:
    target = tmp_path / "k.key"
    target.write_bytes(b"old")
    target.chmod(0o666)
    inode = target.stat().st_ino
    write_pem(target, client_cert.key_pem, private=True)
    assert target.read_bytes() == client_cert.key_pem
    assert _mode(target) == 0o600
    assert target.stat().st_ino != inode  # a new file renamed into place, not rewritten


def test_private_file_is_never_wider_than_0600(
    tmp_path: Path, client_cert: CertKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mode is set at creation: os.open gets 0600 before any byte is written."""
    modes: list[int] = []
    real_open = os.open

    def spying_open(path: Any, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            modes.append(mode)
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spying_open)
    write_pem(tmp_path / "x.key", client_cert.key_pem, private=True)
    assert modes == [0o600]


def test_write_pem_failure_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError):
        write_pem(tmp_path / "dir", b"data", private=True)  # rename onto a directory fails
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]


def test_load_cert_key_round_trip(pem_dir: Path, client_cert: CertKey) -> None:
    loaded = load_cert_key(pem_dir / "client.crt", pem_dir / "client.key")
    assert loaded == client_cert


def test_load_cert_key_refuses_a_mismatch(pem_dir: Path) -> None:
    with pytest.raises(ValueError, match="is not the private key"):
        load_cert_key(pem_dir / "client.crt", pem_dir / "server.key")
    (pem_dir / "junk.crt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a PEM certificate"):
        load_cert_key(pem_dir / "junk.crt", pem_dir / "server.key")
