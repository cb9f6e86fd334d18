"""The certificates of a cluster and of each replica (issue: TLS everywhere).

Cluster level (DIR/pki): the cluster CA, the etcd CA, the admin client
certificate (`system:masters`) and one client certificate per control-plane
component identity. Per replica (DIR/replicas/<name>/pki):
- `etcd.crt|key`: the member's certificate for its IP, used for the client
  port and the peer port, with both serverAuth and clientAuth (members are
  each other's clients; etcd requires client certificates on both ports);
- `apiserver-etcd-client.crt|key`: the API server's client certificate for etcd;
- `apiserver.crt|key`: the serving certificate naming the external IP, the
  replica's IP, 127.0.0.1 and the `kubernetes.*` service names (PEERS.md:
  missing SANs are a classic HA failure).
Keys are 0600 from the moment they exist (pki.write_pem).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hakube.cluster import pki

# Control-plane component → its client identity (kube's bootstrap user names).
COMPONENT_USERS = {
    "kube-controller-manager": "system:kube-controller-manager",
    "kube-scheduler": "system:kube-scheduler",
    "addon-manager": "system:addon-manager",
    "cluster-autoscaler": "system:cluster-autoscaler",
}


@dataclass(frozen=True)
class ClusterPKI:
    root: Path  # DIR/pki

    def path(self, stem: str, ext: str) -> Path:
        return self.root / f"{stem}.{ext}"

    def load(self, stem: str) -> pki.CertKey:
        return pki.load_cert_key(self.path(stem, "crt"), self.path(stem, "key"))

    def save(self, stem: str, ck: pki.CertKey) -> None:
        pki.write_pem(self.path(stem, "crt"), ck.cert_pem, private=False)
        pki.write_pem(self.path(stem, "key"), ck.key_pem, private=True)

    def create(self) -> None:
        """The CAs and cluster-wide client certificates (once, at `up`)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        ca = pki.create_ca("hakube-ca")
        self.save("ca", ca)
        self.save("etcd-ca", pki.create_ca("hakube-etcd-ca"))
        self.save("admin", pki.issue_cert(ca, common_name="kubernetes-admin", organizations=["system:masters"],
                                          client=True))
        for component, user in COMPONENT_USERS.items():
            self.save(component, pki.issue_cert(ca, common_name=user, client=True))

    def issue_replica(self, directory: Path, *, replica_ip: str, external_ip: str) -> None:
        """Every certificate one replica needs, into `directory` (DIR/replicas/<name>/pki)."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        replica = ClusterPKI(directory)
        ca, etcd_ca = self.load("ca"), self.load("etcd-ca")
        dns, ips = pki.apiserver_sans(external_ip, replica_ip)
        replica.save("apiserver", pki.issue_cert(ca, common_name="kube-apiserver", dns_names=dns,
                                                 ip_addresses=ips, server=True))
        replica.save("etcd", pki.issue_cert(etcd_ca, common_name=f"etcd-{replica_ip}",
                                            ip_addresses=[replica_ip, "127.0.0.1"], dns_names=["localhost"],
                                            server=True, client=True))
        replica.save("apiserver-etcd-client", pki.issue_cert(etcd_ca, common_name="kube-apiserver-etcd-client",
                                                             client=True))
