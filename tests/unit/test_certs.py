"""The certificates a replica gets: the right names, usages and key modes."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hakube.cluster.certs import ClusterPKI


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_replica_certificates(tmp_path: Path) -> None:
    cluster = ClusterPKI(tmp_path / "pki")
    cluster.create()
    replica_dir = tmp_path / "replicas" / "r1" / "pki"
    cluster.issue_replica(replica_dir, replica_ip="127.1.2.11", external_ip="127.1.2.1")

    serving = _cert(replica_dir / "apiserver.crt")
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} >= {"127.1.2.1", "127.1.2.11", "127.0.0.1"}
    assert set(sans.get_values_for_type(x509.DNSName)) >= {
        "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}

    etcd = _cert(replica_dir / "etcd.crt")
    usages = etcd.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usages and ExtendedKeyUsageOID.CLIENT_AUTH in usages
    etcd_sans = etcd.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.1.2.11") in etcd_sans.get_values_for_type(x509.IPAddress)
    # etcd certificates come from the etcd CA, not the cluster CA.
    assert etcd.issuer == _cert(tmp_path / "pki" / "etcd-ca.crt").subject
    assert serving.issuer == _cert(tmp_path / "pki" / "ca.crt").subject

    cm = _cert(tmp_path / "pki" / "kube-controller-manager.crt")
    assert cm.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:kube-controller-manager"
    for key in [*replica_dir.glob("*.key"), *(tmp_path / "pki").glob("*.key")]:
        assert key.stat().st_mode & 0o777 == 0o600, key
